"""The bad-input corpus (``bad_inputs/<case>/``) through ``gr4vy-nb plan`` against the sandbox.

For every case: the exit code of ``expected.json``; every expected problem printed on one line
naming its file, line and column with the expected words; no traceback; zero writes seen by
the sandbox.  Data that must survive (``accept``/``warn``) reaches the plan's diff exactly as
written.  The same cases also go through :func:`gr4vy_nb.updates.plan.plan_updates` to pin each problem
to its exact ``(severity, rule, file, line, column)``.

The fast tier runs the CLI in this process (``gr4vy_nb.cli.main``) for every case and as a real
subprocess for a few; the full tier runs a real subprocess for every case, including the one
written at run time (a million rows).
"""

from __future__ import annotations

import filecmp
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.config import Settings
from gr4vy_nb.updates.plan import plan_updates

from . import make_corpus
from ._support import CORPUS, FULL, TRACEBACK, cli_env, put_count, record, run_cli, run_cli_in_process

CASES = sorted(p for p in CORPUS.iterdir() if p.is_dir() and (p / "expected.json").is_file())
SUBPROCESS_IN_FAST_TIER = {"file_cp1252", "rule_max_items", "survive_formulas", "file_xlsx_renamed"}


def expected_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "expected.json").read_text(encoding="utf-8"))


def _runnable(folder: Path) -> bool:
    return FULL or not expected_of(folder).get("generated")


def _ids(folders: list[Path]) -> list[Any]:
    return [pytest.param(f, id=f.name, marks=() if _runnable(f) else pytest.mark.skip(reason="full tier only"))
            for f in folders]


@pytest.fixture
def case_dir(request, tmp_path) -> Path:
    """The case's files in a scratch folder (with any file written at run time)."""
    return make_corpus.materialise(request.param, tmp_path / request.param.name)


# --------------------------------------------------------------------------- the corpus itself


def test_the_corpus_is_big_enough_and_covers_every_kind():
    assert len(CASES) >= 40
    outcomes = {expected_of(c)["outcome"] for c in CASES}
    assert outcomes == {"reject", "warn", "accept"}
    prefixes = {c.name.split("_")[0] for c in CASES}
    assert {"file", "id", "damage", "rule", "columns", "clear", "survive"} <= prefixes


def test_the_committed_corpus_is_what_make_corpus_writes(tmp_path):
    make_corpus.write_corpus(tmp_path)
    written = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(CORPUS) for p in CORPUS.rglob("*") if p.is_file())
    assert written == committed, "run `python -m tests.reliability.make_corpus` and commit the result"
    _, mismatch, errors = filecmp.cmpfiles(tmp_path, CORPUS, [str(p) for p in written], shallow=False)
    assert mismatch == [] and errors == []


# --------------------------------------------------------------------------- the API, exactly


def _same(a: Any, b: Any) -> bool:
    return (None if a is pd.NA or a is None else a) == b


def _any(want: str | list[str]) -> list[str]:
    """An expected rule or message: one text, or a list of acceptable ones."""
    return [want] if isinstance(want, str) else list(want)


def _matches(problems: pd.DataFrame, want: dict[str, Any]) -> bool:
    for r in problems.itertuples(index=False):
        line = None if r.line is pd.NA or r.line is None else int(r.line)
        if (r.severity == want["severity"] and r.rule in _any(want["rule"]) and r.file == want["file"]
                and line == want["line"] and _same(r.column, want["column"])
                and any(m in str(r.message) for m in _any(want["message"]))):
            return True
    return False


@pytest.mark.parametrize("case_dir", _ids(CASES), indirect=True)
def test_plan_updates_reports_each_problem_exactly(sandbox_clean, case_dir):
    expected = expected_of(case_dir)
    with Gr4vyClient(Settings.for_sandbox(sandbox_clean)) as client:
        plan = plan_updates(case_dir, client=client, rewrites=expected.get("rewrites", "keep"))
    problems = plan.problems
    for want in expected["problems"]:
        assert _matches(problems, want), f"not reported: {want}\nreported:\n{problems.to_string()}"
    has_errors = bool((problems["severity"] == "error").any())
    assert has_errors is (expected["outcome"] == "reject"), problems.to_string()
    if expected["outcome"] != "reject":
        diff = plan.diff
        for keep in expected["diff"]:
            rows = diff[(diff["checkout_session_id"] == keep["session"]) & (diff["path"] == keep["path"])]
            assert len(rows) == 1, f"{keep['path']} not in the diff:\n{diff[['path', 'after']].to_string()}"
            assert rows.iloc[0]["after"] == keep["after"]  # byte for byte: no trimming, no normalisation
            body = plan.item(keep["session"]).body
            assert body is not None
        for kept in expected.get("kept", []):  # a value an editor rewrote: the current one stays, nothing sent
            diff = plan.diff
            rows = diff[(diff["checkout_session_id"] == kept["session"]) & (diff["path"] == kept["path"])]
            assert rows.empty, f"{kept['path']} is in the diff:\n{rows.to_string()}"
    else:
        assert not plan.ok  # apply refuses it: nothing can be sent
    stats = sandbox_clean.stats()
    assert put_count(stats) == 0 and stats["writes"] == {}


# --------------------------------------------------------------------------- the command


def _named(output: str, want: dict[str, Any]) -> bool:
    """Whether one line of the output names the problem: file, line, column and the message words."""
    for text in output.splitlines():
        if want["file"] not in text or not any(m in text for m in _any(want["message"])):
            continue
        if want["line"] is not None and not re.search(rf"(?<![\d,.]){want['line']}(?![\d,.])", text):
            continue
        if want["column"] is not None and want["column"] not in text:
            continue
        return True
    return False


@pytest.mark.parametrize("case_dir", _ids(CASES), indirect=True)
def test_gr4vy_nb_plan(sandbox_clean, case_dir, tmp_path):
    expected = expected_of(case_dir)
    env = cli_env(sandbox_clean)
    args = ["plan", str(case_dir), "--raw", "--limit", "1000", *(["--rewrites", expected["rewrites"]]
                                                                 if expected.get("rewrites") else [])]
    if FULL or case_dir.name in SUBPROCESS_IN_FAST_TIER:
        done = run_cli(args, env, cwd=tmp_path)
        code, out, err = done.returncode, done.stdout, done.stderr
        mode = "subprocess"
    else:
        ran = run_cli_in_process(args, env, cwd=tmp_path)
        code, out, err = ran.returncode, ran.stdout, ran.stderr + ran.logs
        mode = "in-process"
    output = out + "\n" + err
    stats = sandbox_clean.stats()
    crashed = code is None or TRACEBACK in output or code not in (0, 1, 2, 3)
    precise = all(_named(output, want) for want in expected["problems"])
    survived = all(keep["after"] in out for keep in expected["diff"]
                   if isinstance(keep["after"], str) and len(keep["after"]) < 60 and "\n" not in keep["after"])
    record("bad_inputs", case=case_dir.name, outcome=expected["outcome"], mode=mode, exit_code=code,
           expected_exit_code=expected["exit_code"], precise=precise, crashed=crashed,
           survived=survived if expected["outcome"] != "reject" else None,
           writes=put_count(stats), requests=stats["total_requests"])
    assert not crashed, output[-4000:]
    assert code == expected["exit_code"], output[-4000:]
    missing = [w for w in expected["problems"] if not _named(output, w)]
    assert not missing, f"not named on one line: {missing}\n{output[-4000:]}"
    if expected["outcome"] != "reject":
        assert survived, output[-4000:]
    assert put_count(stats) == 0 and stats["writes"] == {}, stats
