"""The run journal: durable transitions, the exclusive lock, what is and is not a journal."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import pytest

from gr4vy_nb.errors import RunError, ValidationFailed
from gr4vy_nb.updates.journal import Journal, JournalRow
from gr4vy_nb.updates.results import list_runs
from gr4vy_nb.updates.states import OUTCOME_UNKNOWN, SessionStatus
from tests.updates.helpers import ITEMS, create_journal


def test_rows_are_typed_records_and_a_partial_read_leaves_the_rest_unread(tmp_path):
    with create_journal(tmp_path / "r.sqlite") as j:
        j.mark("s1", "sending", started=True)
        j.mark("s1", "failed", http_status=None, error={"code": OUTCOME_UNKNOWN, "message": "lost"}, finished=True)
        full = j.row("s1")
        assert isinstance(full, JournalRow) and full.status is SessionStatus.FAILED and full.transient
        assert full.before == {"metadata": {"a": "1"}} and full.error_code == OUTCOME_UNKNOWN
        slim = j.rows(fields=("status",))
        assert [(r.session_id, r.status) for r in slim] == [("s1", "failed"), ("s2", "planned"), ("s3", "skipped")]
        assert all(r.before is None and r.body is None for r in slim)  # not read
        assert [r.session_id for r in j.rows(("skipped",))] == ["s3"]
        with pytest.raises(ValueError, match="no such journal field: bogus"):
            j.rows(fields=("bogus",))
        j.mark("s2", "sending")
        j.mark("s2", "failed", http_status=422, error={"code": "bad_request", "message": "no"})
        assert not j.row("s2").transient  # a refusal is final; the typed code decides, never the message
        picked = j.select("session_id, json_extract(before, '$.metadata.a') AS a, body", ("failed",))
        assert [(p["session_id"], p["a"]) for p in picked] == [("s1", "1"), ("s2", None)]
        assert picked[1]["body"] == {"metadata": None}  # a JSON column named whole is decoded


def test_create_reopen_and_json_round_trip(tmp_path):
    path = tmp_path / "runs" / "r1.sqlite"
    with create_journal(path, inputs=[{"path": "x", "sha256": "ab"}]) as j:
        assert j.counts() == {"planned": 2, "sending": 0, "succeeded": 0, "failed": 0, "conflict": 0,
                              "skipped": 1, "unprocessed": 0, "total": 3}
    with Journal.open(path) as j:
        assert j.meta["kind"] == "apply" and j.meta["state"] == "running"
        assert j.meta["inputs"] == [{"path": "x", "sha256": "ab"}]
        row = j.row("s1")
        assert row.before == {"metadata": {"a": "1"}}
        assert row.source["rows"][0]["line"] == 2
        assert [r.session_id for r in j.rows()] == ["s1", "s2", "s3"]
        assert j.row("s2").body == {"metadata": None}
        assert j.integrity_check() == "ok"
        # WAL and synchronous=FULL (2) are what make each commit durable.
        assert j._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert j._conn.execute("PRAGMA synchronous").fetchone()[0] == 2


def test_create_refuses_an_existing_journal(tmp_path):
    path = tmp_path / "r.sqlite"
    create_journal(path).close()
    with pytest.raises(RunError, match="already exists"):
        create_journal(path)


def test_transitions_record_attempts_errors_and_events(tmp_path):
    with create_journal(tmp_path / "r.sqlite") as j:
        j.mark("s1", "sending", started=True)
        err = ValidationFailed("bad", status=400, code="bad_request",
                               details=[{"pointer": "/metadata/a", "message": "too long"}])
        j.mark("s1", "failed", attempts=2, http_status=400, error=err, finished=True)
        row = j.row("s1")
        assert (row.status, row.attempts, row.http_status, row.error_code) == ("failed", 2, 400,
                                                                                          "bad_request")
        assert row.error_details == [{"pointer": "/metadata/a", "message": "too long"}]
        assert row.started_at <= row.finished_at
        j.mark("s1", "sending")
        j.mark("s1", "succeeded", attempts=1, http_status=200, response={"id": "s1"}, finished=True)
        row = j.row("s1")
        assert row.attempts == 3 and row.error_code is None and row.response == {"id": "s1"}
        events = j.events()
        assert list(events[events.session_id == "s1"].status) == ["planned", "sending", "failed", "sending",
                                                                  "succeeded"]
        assert str(events["at"].dt.tz) == "UTC"


@pytest.mark.parametrize("final", ["succeeded", "skipped"])
def test_a_final_status_never_moves(tmp_path, final):
    with create_journal(tmp_path / "r.sqlite") as j:
        sid = "s3" if final == "skipped" else "s1"
        if final == "succeeded":
            j.mark(sid, "succeeded")
        with pytest.raises(RunError, match=f"already {final}"):
            j.mark(sid, "sending")
        # mark_many leaves final rows alone instead of failing the batch.
        assert j.mark_many(["s1", "s2", "s3"], "unprocessed", message="cancelled") == (1 if final == "succeeded"
                                                                                         else 2)
        assert j.row(sid).status == final


def test_unknown_status_and_session_are_refused(tmp_path):
    with create_journal(tmp_path / "r.sqlite") as j:
        with pytest.raises(ValueError):
            j.mark("s1", "done")
        with pytest.raises(RunError, match="not part of this run"):
            j.mark("nope", "sending")


def test_second_opener_in_the_same_process_is_refused(tmp_path):
    path = tmp_path / "r.sqlite"
    with create_journal(path):
        with pytest.raises(RunError, match="in use by another process"):
            Journal.open(path)
        # A read-only view takes no lock and works while the run is held.
        with Journal.open(path, readonly=True) as ro:
            assert ro.counts()["total"] == 3
            with pytest.raises(RunError, match="read-only"):
                ro.mark("s1", "sending")
    with Journal.open(path) as j:  # released on close
        j.mark("s1", "sending")


def test_second_process_is_refused_and_lock_dies_with_its_holder(tmp_path):
    path = tmp_path / "r.sqlite"
    create_journal(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from gr4vy_nb.updates.journal import Journal
            j = Journal.open({str(path)!r})
            print("locked", flush=True)
            time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunError, match=rf"process {holder.pid}"):
            Journal.open(path)
        assert list_runs(tmp_path).loc[0, "state"] == "running"
    finally:
        holder.kill()
        holder.wait(10)
        holder.stdout.close()
    # SIGKILL released the lock: the run can be resumed, and is listed as interrupted.
    assert list_runs(tmp_path).loc[0, "state"] == "interrupted"
    with Journal.open(path) as j:
        assert j.integrity_check() == "ok"


def test_committed_transitions_survive_sigkill(tmp_path):
    path = tmp_path / "r.sqlite"
    create_journal(path).close()
    code = textwrap.dedent(f"""
        import os, signal
        from gr4vy_nb.updates.journal import Journal
        j = Journal.open({str(path)!r})
        j.mark("s1", "sending")
        j.mark("s1", "succeeded", attempts=1)
        j.mark("s2", "sending")
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code], timeout=30)
    assert proc.returncode == -9
    with Journal.open(path) as j:
        assert j.row("s1").status == "succeeded"
        assert j.row("s2").status == "sending"
        assert j.integrity_check() == "ok"


def test_open_refuses_what_is_not_a_journal(tmp_path):
    with pytest.raises(RunError, match="no run journal"):
        Journal.open(tmp_path / "none.sqlite")
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE meta (key TEXT, value TEXT)").connection.commit()
    with pytest.raises(RunError, match="not a gr4vy-nb run journal"):
        Journal.open(other)


def test_memory_journal_for_benchmarks():
    j = Journal.create(":memory:", meta={"kind": "apply"}, items=ITEMS)
    j.mark("s1", "sending")
    assert j.counts()["sending"] == 1
