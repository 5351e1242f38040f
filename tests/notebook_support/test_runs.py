"""gr4vy_nb.notebook_support.runs: the runs of a target, the latest one, and example runs on a local sandbox only."""

from __future__ import annotations

from pathlib import Path

import pytest

from gr4vy_nb import report, rollback_run
from gr4vy_nb.config import Settings
from gr4vy_nb.errors import ConfigError, RunError
from gr4vy_nb.notebook_support import NoRun, NotRun, allow_writes, connect, example_run, latest_run, runs_for_target
from gr4vy_nb.sandbox import Sandbox
from tests.notebook_support.helpers import remote_connection


def test_examples_never_touch_a_real_instance(key_file: Path, tmp_path: Path) -> None:
    remote = remote_connection(key_file)
    with pytest.raises(ConfigError, match="local sandbox only"):
        example_run(remote, runs_dir=tmp_path)
    with pytest.raises(RunError, match="no apply run against Gr4vy sandbox"):
        latest_run(remote, runs_dir=tmp_path)


def test_latest_run_is_per_target_and_makes_an_example_on_the_sandbox(sandbox_clean: Sandbox, key_file: Path,
                                                                       tmp_path: Path) -> None:
    conn = connect(Settings.for_sandbox(sandbox_clean), announce=False)
    # Never an example unasked (issue 14: running a notebook's cells writes nothing)
    with pytest.raises(RunError, match="Make an example run"):
        latest_run(conn, runs_dir=tmp_path)
    placeholder = latest_run(conn, runs_dir=tmp_path, placeholder=True)
    assert isinstance(placeholder, NoRun) and "no apply run against" in placeholder.describe()
    assert len(placeholder.results) == 0 and placeholder.counts["total"] == 0
    assert report.run_summary(placeholder).loc["sessions", "value"] == 0
    assert sandbox_clean.stats()["writes"] == {} or len(sandbox_clean.stats()["writes"]) == 0
    run = latest_run(conn, runs_dir=tmp_path, example_on_sandbox=True)
    assert run.counts["succeeded"] == 20 and run.kind == "apply"
    assert len(sandbox_clean.stats()["writes"]) == 20
    again = latest_run(conn, runs_dir=tmp_path)
    assert again.run_id == run.run_id and len(sandbox_clean.stats()["writes"]) == 20
    assert len(runs_for_target(conn, tmp_path)) == 1
    assert len(runs_for_target(remote_connection(key_file), tmp_path)) == 0


def test_the_write_gate_is_closed_unless_apply_and_says_why(sandbox_clean: Sandbox, tmp_path: Path) -> None:
    conn = connect(Settings.for_sandbox(sandbox_clean), announce=False)
    run = example_run(conn, runs_dir=tmp_path)
    before = dict(sandbox_clean.stats()["writes"])
    closed = allow_writes(conn, False)
    assert not closed.open and "APPLY is False, so nothing is sent" in repr(closed)
    skipped = closed.run(rollback_run, run.journal, client=conn.client)
    assert isinstance(skipped, NotRun) and "rollback_run not run: APPLY is False" in skipped.describe()
    # what follows a step that did not run shows the same sentence, and does not run either
    assert isinstance(skipped.results.head(10), NotRun)
    assert isinstance(allow_writes(conn, True).run(rollback_run, skipped.journal, client=conn.client), NotRun)
    assert dict(sandbox_clean.stats()["writes"]) == before
    undone = allow_writes(conn, True).run(rollback_run, run.journal, client=conn.client)
    assert undone.kind == "rollback" and undone.counts["succeeded"] == 20


def test_the_write_gate_on_production_needs_the_merchant_id_and_never_raises(sandbox_clean: Sandbox) -> None:
    settings = Settings(base_url=sandbox_clean.base_url, private_key_file=sandbox_clean.private_key_file,
                        environment="production", merchant_account_id="acme")
    conn = connect(settings, announce=False)
    try:
        gate = allow_writes(conn, True, "")
        assert not gate.open and "set CONFIRM_PRODUCTION to the merchant account id 'acme'" in repr(gate)
        assert "Traceback" not in gate._repr_html_()
        assert isinstance(gate.run(rollback_run, "x.sqlite", client=conn.client), NotRun)
        assert allow_writes(conn, True, " acme ").open
        assert not allow_writes(conn, False, "acme").open
    finally:
        conn.close()


def test_run_frames_are_the_sessions_as_the_run_left_them_read_without_a_request(sandbox_clean: Sandbox,
                                                                                  tmp_path: Path) -> None:
    from gr4vy_nb.export import fetch_sessions
    from gr4vy_nb.notebook_support import run_frames

    conn = connect(Settings.for_sandbox(sandbox_clean), announce=False)
    run = example_run(conn, runs_dir=tmp_path, n=5)
    gets = sum((sandbox_clean.stats()["requests"].get("GET") or {}).values())
    frames = run_frames(run)
    assert sum((sandbox_clean.stats()["requests"].get("GET") or {}).values()) == gets  # nothing read remotely
    ids = list(run.results["checkout_session_id"])
    fetched = fetch_sessions(conn.client, ids).frames  # the same sessions, read now: nobody wrote since
    assert frames.select(ids).equals(fetched.select(ids)) and len(frames) == 5
    assert len(run_frames(NoRun("none yet"))) == 0
