"""The full tier of the reliability suite: run it, gather its figures, write ``RELIABILITY.md``.

Usage (from the repository root; ``make reliability`` runs exactly this)::

    .venv/bin/python -m tests.reliability.run_full [--out RELIABILITY.md] [--keep DIR] [-- PYTEST ARGS]

It runs ``pytest tests/reliability tests/stateful`` with ``GR4VY_NB_RELIABILITY=full`` (every bad
input as a real process, the whole fault grid, 20 kill -9 runs, the notebooks executed with
canaries, the long profile of the run-workflow state machine),
collects the figures the tests record plus pytest's JUnit report, and writes the table of
figures to ``RELIABILITY.md`` (generated: commit it as written).  The exit code is 0 only when
every test passed and every figure is at its target.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ._support import OUT_ENV, REPO, git_commit

TIME_LIMIT = 15 * 60  # the whole tier must finish within 15 minutes on 2 cores


def _records(out: Path, section: str) -> list[dict[str, Any]]:
    path = out / f"{section}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _junit(path: Path) -> dict[str, Any]:
    """Per test module: counts and the failing tests (name and first line of the failure)."""
    modules: dict[str, Counter[str]] = defaultdict(Counter)
    failures: list[tuple[str, str]] = []
    if not path.exists():
        return {"modules": {}, "failures": [("pytest", "no JUnit report: pytest did not run to the end")]}
    for case in ET.parse(path).getroot().iter("testcase"):
        module = (case.get("classname") or "?").split(".")[-1]
        outcome = "passed"
        for tag in ("failure", "error", "skipped"):
            found = case.find(tag)
            if found is not None:
                outcome = {"failure": "failed", "error": "failed", "skipped": "skipped"}[tag]
                if tag != "skipped":
                    first = (found.get("message") or "").strip().splitlines()
                    failures.append((f"{module}::{case.get('name')}", first[0][:200] if first else tag))
                break
        modules[module][outcome] += 1
    return {"modules": {k: dict(v) for k, v in modules.items()}, "failures": failures}


def _mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def build_report(out: Path, junit: dict[str, Any], *, started: datetime, seconds: float, pytest_code: int,
                 ) -> tuple[str, bool]:
    """The Markdown of RELIABILITY.md and whether every figure is at its target."""
    modules = junit["modules"]
    bad = _records(out, "bad_inputs")
    storm = _records(out, "storm")
    down = _records(out, "down_then_up")
    unknown = _records(out, "outcome_unknown")
    crash = _records(out, "crash")
    lock = _records(out, "crash_lock")
    rolled = _records(out, "crash_rollback")
    leaks = _records(out, "leaks")

    def module(name: str) -> dict[str, int]:
        return {k: int(v) for k, v in modules.get(name, {}).items()}

    rows: list[tuple[str, str, str, bool]] = []  # (area, figure, value, at target)

    # Bad inputs
    rejects = [b for b in bad if b["outcome"] == "reject"]
    flagged = [b for b in bad if b["outcome"] == "warn"]
    kept = [b for b in bad if b["outcome"] == "accept"]
    rejected_ok = [b for b in rejects if b["exit_code"] == 2 and b["precise"]]
    flagged_ok = [b for b in flagged if b["exit_code"] == 0 and b["precise"] and b["survived"]]
    kept_ok = [b for b in kept if b["exit_code"] == 0 and b["survived"]]
    crashes = sum(1 for b in bad if b["crashed"])
    writes = sum(int(b["writes"]) for b in bad)
    rows += [
        ("Bad inputs", "cases tried through `gr4vy-nb plan` (as real processes)",
         f"{len(bad)} ({sum(1 for b in bad if b['mode'] == 'subprocess')})", len(bad) >= 40),
        ("Bad inputs", "rejected (exit 2) with a message naming file, line and column",
         f"{len(rejected_ok)} / {len(rejects)}", bool(rejects) and len(rejected_ok) == len(rejects)),
        ("Bad inputs", "spreadsheet damage flagged (warning naming the cell): value kept as written, or the current "
         "value kept where an editor rewrote it (nothing sent)",
         f"{len(flagged_ok)} / {len(flagged)}", len(flagged_ok) == len(flagged)),
        ("Bad inputs", "data that must survive planned intact (Null/NA/None, formulas, unicode, 255 chars)",
         f"{len(kept_ok)} / {len(kept)}", len(kept_ok) == len(kept)),
        ("Bad inputs", "crashes (traceback or unexpected exit code)", str(crashes), crashes == 0),
        ("Bad inputs", "writes sent", str(writes), writes == 0),
    ]

    # Faults
    fm = module("test_fault_matrix")
    fm_total = sum(fm.values()) - fm.get("skipped", 0)
    rows.append(("Faults", "fault cases passed (status/reset/timeout × count × {get, update}, Retry-After, "
                 "bodies, budgets, storms, outages, outcome unknown)", f"{fm.get('passed', 0)} / {fm_total}",
                 fm_total > 0 and fm.get("passed", 0) == fm_total))
    extra_unknown = max((u["extra_writes"] for u in unknown), default=0)
    rows.append(("Faults", "outcome unknown (applied, answer lost): most extra writes per session after "
                 "reconciling", str(extra_unknown), bool(unknown) and extra_unknown <= 1))
    for s in storm:
        label = "429 storm, unpaced" if s["mode"] == "unpaced" else "same load paced at 90% of the limit"
        rows.append(("Faults", f"{label}: {s['rows']} updates, {s['workers']} workers, limit {s['limit_rps']:g}/s: "
                     "drain time (ideal)", f"{s['drain_s']:.1f} s ({s['ideal_s']:.1f} s)", True))
        rows.append(("Faults", f"{label}: attempts per row, mean / max; 429s answered",
                     f"{s['attempts_mean']:.2f} / {s['attempts_max']}; {s['answered_429']}",
                     s["mode"] == "unpaced" or s["answered_429"] == 0))
    for u in _records(out, "unreachable"):
        rows.append(("Faults", "`gr4vy-nb plan` with nothing listening at the target: exit code (3: cannot reach "
                     "the API)", str(u["exit_code"]), u["exit_code"] == 3))
    for d in down:
        rows.append(("Faults", f"API refusing connections for {d['down_s']:g} s, then back: {d['method']} "
                     "attempts until it went through (requests that reached it)",
                     f"{d['attempts']} (1)", True))

    # Crash safety
    runs = [c for c in crash if c.get("killed")]
    lost = sum(c["lost"] for c in crash)
    unplanned = sum(c["unplanned_writes"] for c in crash)
    unexplained = sum(c["extra_writes_unexplained"] for c in crash)
    histogram: Counter[str] = Counter()
    for c in crash:
        histogram.update({str(k): int(v) for k, v in c["extra_writes_histogram"].items()})
    sessions = sum(c["sessions"] for c in crash)
    second = sum(c["second_resume_requests"] for c in crash)
    caught = sum(c["caught_sending"] for c in crash)
    rows += [
        ("Crash safety", "kill -9 runs of `gr4vy-nb apply --workers 8` (faults on), then resumed; "
         "sessions in all", f"{len(runs)}; {sessions}", len(runs) >= 20),
        ("Crash safety", "sessions lost (not in the desired state after resume)", str(lost), lost == 0),
        ("Crash safety", "unplanned writes (to sessions outside the plan)", str(unplanned), unplanned == 0),
        ("Crash safety", "writes per session: histogram (writes: sessions)",
         ", ".join(f"{k}: {v}" for k, v in sorted(histogram.items(), key=lambda kv: int(kv[0]))) or "-", True),
        ("Crash safety", f"extra writes not explained by a session caught `sending` ({caught} caught in all)",
         str(unexplained), unexplained == 0),
        ("Crash safety", "requests sent by a second resume", str(second), second == 0),
        ("Crash safety", "journals passing PRAGMA integrity_check, status counts adding up",
         f"{sum(1 for c in crash if c['final']['total'] == c['sessions'])} / {len(crash)}",
         bool(crash) and all(c["final"]["total"] == c["sessions"] for c in crash)),
        ("Crash safety", "kill -9 runs (faults on) rolled back without resuming; sessions `sending` at the kill; "
         "sessions the runs wrote", f"{sum(1 for r in rolled if r['killed'])}; "
         f"{sum(r['sending_at_kill'] for r in rolled)}; {sum(r['written_by_run'] for r in rolled)}",
         sum(1 for r in rolled if r["killed"]) >= 20),
        ("Crash safety", "sessions keeping a value of the run after its rollback (every other one back to its "
         "before-state)", str(sum(r["kept_run_values"] for r in rolled)),
         bool(rolled) and sum(r["kept_run_values"] for r in rolled) == 0),
        ("Crash safety", "two processes resuming one journal: the second refused",
         "yes" if lock and lock[0]["refused_exit"] != 0 and lock[0]["winner_exit"] == 0 else "no",
         bool(lock) and lock[0]["refused_exit"] != 0 and lock[0]["winner_exit"] == 0),
    ]

    # Run workflows (the state machine of tests/stateful, long profile)
    for m in _records(out, "stateful"):
        rules = m.get("rules") or {}
        rows += [
            ("Run workflows", "state machine over the sandbox and the CLI (apply, re-apply, errors.csv, resume, "
             "cancel, kill -9, rollback of a run / a rollback / a partly failed run / nothing, another writer, "
             f"expiry, runs, report): sequences; steps ({m['max_examples']} × up to {m['step_count']})",
             f"{m['sequences']}; {m['steps']}", m["steps"] > 0),
            ("Run workflows", f"distinct rule pairs reached ({len(rules)} rules reached)", str(m["pairs"]),
             m["pairs"] > 0),
            ("Run workflows", "failures (traceback, undocumented exit code, broken journal, a session not as the "
             "model says)", str(m["failures"]), m["failures"] == 0),
        ]

    # Leaks
    searched = [x for x in leaks if "leaked" in x and "refused" not in x]
    hits = sum(int(x["leaked"]) for x in searched)
    controls = [x for x in searched if x.get("raw_allowed")]
    controls_hit = [x for x in controls if x["hits"].get("passport") or x["hits"].get("email")]
    bind = [x for x in leaks if x.get("refused")]
    rows += [
        ("Leaks", f"canary hits (key, tokens, passport numbers, emails) in {len(searched) - len(controls)} outputs: "
         "commands' output and logs, exceptions, journals' non-data columns, result CSVs, reports, widgets, "
         "notebooks", str(hits), bool(searched) and hits == 0),
        ("Leaks", "positive controls where raw data was asked for (--raw, exports, errors.csv, 'show personal "
         "data'): canaries found", f"{len(controls_hit)} / {len(controls)}",
         bool(controls) and len(controls_hit) == len(controls)),
        ("Leaks", "the sandbox refuses a non-loopback bind", "yes" if bind else "no", bool(bind)),
    ]

    total_tests = {k: sum(m.get(k, 0) for m in modules.values()) for k in ("passed", "failed", "skipped")}
    all_ok = all(ok for *_, ok in rows) and total_tests["failed"] == 0 and pytest_code == 0 \
        and seconds <= TIME_LIMIT
    commit = git_commit()
    lines = [
        "# Reliability and security figures",
        "",
        "Generated by `make reliability` (`python -m tests.reliability.run_full`): the full tier of",
        "`tests/reliability/`, run against the local sandbox emulator. Do not edit by hand.",
        "",
        f"- run: {started.strftime('%Y-%m-%d %H:%M UTC')}, commit `{commit}`, {seconds / 60:.1f} min "
        f"on {os.cpu_count()} CPU(s), Python {platform.python_version()}",
        f"- tests: {total_tests['passed']} passed, {total_tests['failed']} failed, {total_tests['skipped']} skipped",
        f"- every figure at its target: **{'yes' if all_ok else 'NO'}**",
        "",
        "| area | figure | value | at target |",
        "|---|---|---|---|",
    ]
    lines += [f"| {area} | {figure} | {value} | {_mark(ok)} |" for area, figure, value, ok in rows]
    lines += [
        "",
        "## What the figures mean",
        "",
        "- **Bad inputs**: the corpus in `tests/reliability/bad_inputs/` (written by `make_corpus.py` from the",
        "  sample sessions), each case's `expected.json` giving the exit code and the problems that must be named",
        "  (file, line, column, rule, words). A message is *precise* when one line of the output names all of",
        "  them; `line`/`column` are left out only where the whole file is at fault (empty, binary) or the",
        "  fault is in a line's bytes (encoding, quotes, ragged rows: the position is in the message).",
        "- **Faults**: `test_fault_matrix.py`, against the sandbox's scripted faults over real HTTP, with the",
        "  exact number of requests the sandbox saw and the writes it applied.",
        "- **Crash safety**: `test_crash_safety.py`; a session may be written twice only when the process was",
        "  killed while it was `sending` (the write may have landed; PUT is idempotent). The histogram counts",
        "  writes the sandbox applied per session over all runs. The rolled-back runs are killed the same way,",
        "  then `gr4vy-nb rollback` (no resume) re-reads the sessions left in flight and restores those the run",
        "  wrote; the sandbox's state is compared with the state before the run.",
        "- **Leaks**: `test_leaks.py`; raw personal data is expected only where the user asked for it, and",
        "  those places are the positive controls that prove the search works.",
        "- **Run workflows**: `tests/stateful/` (hypothesis `RuleBasedStateMachine`, the long profile), holding a",
        "  model of every session and run; after every step no traceback, exit codes as documented, every",
        "  journal passing `PRAGMA integrity_check` with counts adding up, and the sandbox as the model says.",
    ]
    if junit["failures"]:
        lines += ["", "## Failing tests", ""]
        lines += [f"- `{name}`: {message}" for name, message in junit["failures"]]
    lines += ["", "## Tests per module", "", "| module | passed | failed | skipped |", "|---|---|---|---|"]
    for name, counts in sorted(modules.items()):
        lines.append(f"| {name} | {counts.get('passed', 0)} | {counts.get('failed', 0)} | {counts.get('skipped', 0)} |")
    return "\n".join(lines) + "\n", all_ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.run_full", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "RELIABILITY.md", help="where to write the figures")
    parser.add_argument("--keep", type=Path, help="keep the raw figures (JSONL) and the JUnit report in this folder")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    args = parser.parse_args(argv)

    work = args.keep or Path(tempfile.mkdtemp(prefix="gr4vy-nb-reliability-"))
    work.mkdir(parents=True, exist_ok=True)
    for old in work.glob("*.jsonl"):
        old.unlink()
    junit_path = work / "junit.xml"
    env = {**os.environ, "GR4VY_NB_RELIABILITY": "full", OUT_ENV: str(work)}
    env.pop("GR4VY_BASE_URL", None)
    started = datetime.now(UTC)
    t0 = time.monotonic()
    cmd = [sys.executable, "-m", "pytest", "tests/reliability", "tests/stateful", "-q", "-p", "no:cacheprovider", "-o",
           "junit_family=xunit2", f"--junitxml={junit_path}", *args.pytest_args]
    print("running:", " ".join(cmd), flush=True)
    try:
        code = subprocess.run(cmd, cwd=REPO, env=env, timeout=TIME_LIMIT + 300, check=False).returncode
    except subprocess.TimeoutExpired:
        code = -1
    seconds = time.monotonic() - t0
    text, ok = build_report(work, _junit(junit_path), started=started, seconds=seconds, pytest_code=code)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    print(f"wrote {args.out} ({seconds / 60:.1f} min); figures in {work}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
