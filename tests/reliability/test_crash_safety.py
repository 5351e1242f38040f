"""Crash safety: ``gr4vy-nb apply`` killed with SIGKILL at a random moment, then resumed.

Each run seeds a process-mode sandbox with a few hundred generated sessions, writes an update
upload for all of them, starts ``gr4vy-nb apply --workers 8`` with faults on (a share of
500/502/504 answers and added latency), kills it with ``kill -9`` once a random share of the
sessions has moved past ``planned`` in the journal, then runs ``gr4vy-nb resume``.  Checked,
against the sandbox's own write counters and state (not the toolkit's word):

* every session ends in the desired state (nothing lost);
* no session outside the plan was written (nothing unplanned);
* a session written more than once was caught ``sending`` when the process died;
* a second resume sends nothing;
* the journal passes ``PRAGMA integrity_check`` right after the kill and after the resume, and
  its status counts add up to the total.

And two processes resuming the same journal: one is refused, the other finishes.

And killed runs rolled back *without* resuming (``test_kill_9_then_rollback``): the run is
killed mid-write the same way, then ``gr4vy-nb rollback`` re-reads the sessions left in flight
and restores every session the run wrote, those included; checked against the sandbox's state:
every session holds its before-state again, none keeps a value of the run.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.config import Settings
from gr4vy_nb.sandbox import Sandbox, start_sandbox
from gr4vy_nb.updates.journal import Journal
from gr4vy_nb.updates.states import RESULT_STATUSES, STATUSES

from ._support import REPO, TRACEBACK, cli_command, cli_env, generated_sessions, pick, put_count, record, run_cli

RUNS = pick(3, 20)
SESSIONS = pick(200, 300)
WORKERS = 8
FAIL_RATE = 0.1
LATENCY_MS = pick(10, 15)
RUN_TIMEOUT = 240.0


@pytest.fixture(scope="module")
def crash_sandbox(tmp_path_factory) -> Any:
    """A sandbox in its own process (a killed client cannot take it down), empty at start."""
    folder = tmp_path_factory.mktemp("crash-sandbox")
    with start_sandbox(mode="process", seed=None, db=folder / "sandbox.db",
                       private_key_file=folder / "key.pem") as sandbox:
        yield sandbox


def _upload(folder: Path, sessions: list[dict[str, Any]], run: int) -> dict[str, dict[str, Any]]:
    """Write sessions.csv changing every session; return the desired value of each changed field."""
    folder.mkdir(parents=True)
    desired: dict[str, dict[str, Any]] = {}
    lines = ["checkout_session_id,metadata.reliability,amount"]
    for i, s in enumerate(sessions):
        tag = f"crash-{run}-{i}"
        amount = int(s.get("amount") or 0) + 1 + run
        lines.append(f"{s['id']},{tag},{amount}")
        desired[s["id"]] = {"metadata": {**(s.get("metadata") or {}), "reliability": tag}, "amount": amount}
    (folder / "sessions.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return desired


def _progress(journal: Path) -> dict[str, int] | None:
    """Status counts of a journal another process is writing (read-only; ``None`` before it exists)."""
    if not journal.exists():
        return None
    try:
        conn = sqlite3.connect(f"{journal.resolve().as_uri()}?mode=ro", uri=True, timeout=1)
        try:
            return dict(conn.execute("SELECT status, COUNT(*) FROM sessions GROUP BY status").fetchall())
        finally:
            conn.close()
    except sqlite3.Error:
        return None  # created but not yet committed


def _kill_at(proc: subprocess.Popen[str], journal: Path, total: int, share: float) -> dict[str, Any]:
    """SIGKILL ``proc`` once ``share`` of the sessions moved past ``planned``; what was seen then."""
    deadline = time.monotonic() + RUN_TIMEOUT
    seen: dict[str, int] | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return {"killed": False, "seen": seen}
        seen = _progress(journal)
        # (Until the journal's rows are committed it reads as empty: that moment is tested apart.)
        if seen and sum(seen.values()) == total and total - seen.get("planned", 0) >= share * total:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            return {"killed": True, "seen": seen}
        time.sleep(0.005)
    proc.kill()
    raise AssertionError("the apply run neither progressed nor finished in time")


def _state(sandbox: Sandbox, ids: list[str]) -> dict[str, dict[str, Any]]:
    settings = Settings.for_sandbox(sandbox)
    with Gr4vyClient(settings, workers=8) as client:
        found = client.get_checkout_sessions(ids)
    bad = {k: v for k, v in found.items() if not isinstance(v, dict)}
    assert not bad, f"sessions unreadable after the run: {list(bad.items())[:3]}"
    return found  # type: ignore[return-value]


def _seeded(sandbox: Sandbox, sessions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sandbox emptied, faults off, and seeded with ``sessions`` (returned)."""
    sandbox.reset(reseed=False)
    sandbox.configure(fail_rate=0.0, latency_ms=0, random_seed=None)
    sandbox.seed(sessions)
    return sessions


def _apply_killed(sandbox: Sandbox, workdir: Path, total: int, share: float,
                  fault_seed: int) -> tuple[Path, dict[str, str], dict[str, Any]]:
    """``gr4vy-nb apply workdir/upload`` with faults on, SIGKILLed once ``share`` moved past planned.

    Returns the journal, the CLI's environment and what :func:`_kill_at` saw; the process printed no traceback.
    """
    journal = workdir / "run.sqlite"
    env = cli_env(sandbox)
    sandbox.configure(fail_rate=FAIL_RATE, latency_ms=LATENCY_MS, random_seed=fault_seed)
    proc = subprocess.Popen(cli_command("apply", str(workdir / "upload"), "--journal", str(journal),
                                        "--workers", str(WORKERS), "--yes"),
                            env=env, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        kill = _kill_at(proc, journal, total, share)
    finally:
        if proc.poll() is None:
            proc.kill()
        output = proc.stdout.read() if proc.stdout else ""
        if proc.stdout:
            proc.stdout.close()
    assert TRACEBACK not in output, output[-3000:]
    return journal, env, kill


def crash_run(sandbox: Sandbox, workdir: Path, run: int, rng: random.Random) -> dict[str, Any]:
    """One kill -9 + resume cycle; returns its figures (assertions inside)."""
    sessions = _seeded(sandbox, generated_sessions(SESSIONS, seed=9000 + run))
    ids = [s["id"] for s in sessions]
    desired = _upload(workdir / "upload", sessions, run)
    share = rng.uniform(0.02, 0.98)
    journal, env, kill = _apply_killed(sandbox, workdir, len(ids), share, fault_seed=run)
    # Requests the dead process had in flight still reach the server: let them land.
    time.sleep(max(0.3, 4 * LATENCY_MS / 1000))

    with Journal.open(journal) as j:  # the lock died with the process: opening it proves that
        assert j.integrity_check() == "ok"
        counts = j.counts()
        rows = j.rows(fields=("status",))
    assert counts["total"] == len(ids) == sum(counts[s] for s in STATUSES)
    caught_sending = {r.session_id for r in rows if r.status == "sending"}
    written_before = dict(sandbox.stats()["writes"])
    planned_unsent = {r.session_id for r in rows if r.status == "planned"}
    # A session still "planned" in the journal was never sent: "sending" is committed first.
    assert not (planned_unsent & set(written_before)), "a write went out before the journal said so"

    resumed = run_cli(["resume", str(journal)], env, cwd=workdir, timeout=RUN_TIMEOUT)
    assert TRACEBACK not in resumed.stdout + resumed.stderr, resumed.stderr[-3000:]
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]

    sandbox.configure(fail_rate=0.0, latency_ms=0)
    stats = sandbox.stats()
    writes: dict[str, int] = stats["writes"]
    unplanned = sorted(set(writes) - set(ids))
    state = _state(sandbox, ids)
    lost = [sid for sid in ids
            if state[sid].get("amount") != desired[sid]["amount"]
            or state[sid].get("metadata") != desired[sid]["metadata"]]
    extra = {sid: n - 1 for sid, n in writes.items() if n > 1}
    unexplained = sorted(set(extra) - caught_sending)

    with Journal.open(journal) as j:
        assert j.integrity_check() == "ok"
        final = j.counts()
    assert final["total"] == len(ids) == sum(final[s] for s in STATUSES)
    # The result file the user gets: succeeded + failed + conflict + skipped + unprocessed == total.
    results = pd.read_csv(workdir / "run" / "results.csv", dtype=str, keep_default_na=False)
    assert len(results) == len(ids) and set(results["status"]) <= set(RESULT_STATUSES)
    assert sorted(results["checkout_session_id"]) == sorted(ids)

    before_second = sandbox.stats()
    again = run_cli(["resume", str(journal)], env, cwd=workdir, timeout=RUN_TIMEOUT)
    after_second = sandbox.stats()
    second_requests = after_second["total_requests"] - before_second["total_requests"]
    second_puts = put_count(after_second) - put_count(before_second)

    figures = {
        "run": run, "sessions": len(ids), "kill_share": round(share, 3), "killed": kill["killed"],
        "seen_at_kill": kill["seen"], "caught_sending": len(caught_sending), "lost": len(lost),
        "unplanned_writes": len(unplanned), "extra_writes": sum(extra.values()),
        "extra_writes_sessions": len(extra), "extra_writes_unexplained": len(unexplained),
        "extra_writes_histogram": dict(Counter(writes.values())), "final": final,
        "second_resume_requests": second_requests, "second_resume_exit": again.returncode,
        "resume_exit": resumed.returncode,
    }
    record("crash", **figures)
    assert lost == [], f"{len(lost)} session(s) not in the desired state, e.g. {lost[:3]}"
    assert unplanned == [], f"writes to sessions outside the plan: {unplanned[:3]}"
    assert unexplained == [], f"sessions written twice without being caught sending: {unexplained[:3]}"
    assert all(writes.get(sid, 0) >= 1 for sid in ids)
    assert final["succeeded"] == len(ids), final
    assert again.returncode == 0 and second_puts == 0 and second_requests == 0, (second_requests, again.stdout)
    return figures


@pytest.mark.parametrize("run", range(RUNS))
def test_kill_9_then_resume(crash_sandbox, tmp_path, run):
    crash_run(crash_sandbox, tmp_path, run, random.Random(20261127 + run))


def _quiet(sandbox: Sandbox, still: float = 0.5, timeout: float = 30.0) -> None:
    """Wait until the sandbox has answered no request for ``still`` seconds (a dead client's writes have landed)."""
    deadline = time.monotonic() + timeout
    last, since = sandbox.stats()["total_requests"], time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.05)
        now = sandbox.stats()["total_requests"]
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since >= still:
            return
    raise AssertionError("the sandbox kept answering requests after the client was killed")


def crash_rollback_run(sandbox: Sandbox, workdir: Path, run: int, rng: random.Random) -> dict[str, Any]:
    """One kill -9 mid-write, then a rollback without resuming; returns its figures (assertions inside)."""
    sessions = _seeded(sandbox, generated_sessions(SESSIONS, seed=7000 + run))
    ids = [s["id"] for s in sessions]
    before = _state(sandbox, ids)
    _upload(workdir / "upload", sessions, run)
    share = rng.uniform(0.02, 0.9)
    journal, env, kill = _apply_killed(sandbox, workdir, len(ids), share, fault_seed=1000 + run)
    _quiet(sandbox)
    with Journal.open(journal, readonly=True) as j:
        at_kill = Counter(str(r.status) for r in j.rows(fields=("status",)))
    written_by_run = set(sandbox.stats()["writes"])

    rolled = run_cli(["rollback", str(journal)], env, cwd=workdir, timeout=RUN_TIMEOUT)
    assert TRACEBACK not in rolled.stdout + rolled.stderr, rolled.stderr[-3000:]
    sandbox.configure(fail_rate=0.0, latency_ms=0)
    after = _state(sandbox, ids)
    kept = [sid for sid in ids if after[sid].get("amount") != before[sid].get("amount")
            or after[sid].get("metadata") != before[sid].get("metadata")]
    figures = {
        "run": run, "sessions": len(ids), "kill_share": round(share, 3), "killed": kill["killed"],
        "sending_at_kill": at_kill.get("sending", 0), "written_by_run": len(written_by_run),
        "kept_run_values": len(kept), "rollback_exit": rolled.returncode,
    }
    record("crash_rollback", **figures)
    assert kept == [], (f"{len(kept)} session(s) keep a value of the run after its rollback, e.g. {kept[:3]}",
                        rolled.stdout[-2000:])
    assert rolled.returncode == 0, rolled.stdout[-2000:] + rolled.stderr[-2000:]
    if at_kill.get("sending"):
        assert "in flight when the run stopped" in rolled.stdout, rolled.stdout[-2000:]
    return figures


@pytest.mark.parametrize("run", range(RUNS))
def test_kill_9_then_rollback(crash_sandbox, tmp_path, run):
    crash_rollback_run(crash_sandbox, tmp_path, run, random.Random(20261204 + run))


def test_two_processes_resuming_one_journal_one_is_refused(crash_sandbox, tmp_path):
    sandbox = crash_sandbox
    sessions = generated_sessions(30, seed=4242)
    sandbox.reset(reseed=False)
    sandbox.configure(fail_rate=0.0, latency_ms=0, random_seed=None)
    sandbox.seed(sessions)
    _upload(tmp_path / "upload", sessions, 99)
    journal = tmp_path / "run.sqlite"
    env = cli_env(sandbox)
    # A canary run leaves most sessions for the resume to send.
    first = run_cli(["apply", str(tmp_path / "upload"), "--journal", str(journal), "--first", "5", "--yes"], env,
                    cwd=tmp_path, timeout=RUN_TIMEOUT)
    assert first.returncode in (0, 1), first.stdout + first.stderr
    sandbox.configure(latency_ms=120)  # slow enough that the first resume is still running
    started = time.time()
    a = subprocess.Popen(cli_command("resume", str(journal), "--workers", "2"), env=env, cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with Journal.open(journal, readonly=True) as j:
                if (j.meta.get("last_started_at") or 0) >= started and j.meta.get("state") == "running":
                    break
            assert a.poll() is None, "the first resume ended before the second could start"
            time.sleep(0.02)
        b = run_cli(["resume", str(journal)], env, cwd=tmp_path, timeout=60)
        assert a.poll() is None, "the first resume ended too early for the test to mean anything"
        out_b = b.stdout + b.stderr
        assert b.returncode != 0, out_b
        assert "in use" in out_b and TRACEBACK not in out_b, out_b
        out_a, _ = a.communicate(timeout=RUN_TIMEOUT)
    finally:
        if a.poll() is None:
            a.kill()
            a.wait(30)
    assert a.returncode == 0, out_a[-3000:]
    sandbox.configure(latency_ms=0)
    with Journal.open(journal) as j:
        assert j.counts()["succeeded"] == len(sessions)
    assert all(n == 1 for n in sandbox.stats()["writes"].values())
    record("crash_lock", refused_exit=b.returncode, winner_exit=a.returncode)


def test_kill_9_before_the_journal_exists_sends_nothing(crash_sandbox, tmp_path):
    """Killed while planning (reads only): no journal, no write; a new apply then does it all once."""
    sandbox = crash_sandbox
    sessions = generated_sessions(40, seed=5151)
    sandbox.reset(reseed=False)
    sandbox.configure(fail_rate=0.0, latency_ms=0, random_seed=None)
    sandbox.seed(sessions)
    _upload(tmp_path / "upload", sessions, 7)
    journal = tmp_path / "run.sqlite"
    env = cli_env(sandbox)
    sandbox.configure(latency_ms=100)
    proc = subprocess.Popen(cli_command("apply", str(tmp_path / "upload"), "--journal", str(journal), "--yes"),
                            env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while sandbox.stats()["total_requests"] == 0 and time.monotonic() < deadline:
            assert proc.poll() is None
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    time.sleep(0.5)
    assert sandbox.stats()["writes"] == {}
    sandbox.configure(latency_ms=0)
    if journal.exists():  # killed after the plan: the resume finishes it
        result = run_cli(["resume", str(journal)], env, cwd=tmp_path, timeout=RUN_TIMEOUT)
    else:
        result = run_cli(["apply", str(tmp_path / "upload"), "--journal", str(journal), "--yes"], env,
                         cwd=tmp_path, timeout=RUN_TIMEOUT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sandbox.stats()["writes"] == {s["id"]: 1 for s in sessions}


_CREATE_AND_DIE = """
import os, signal, sys
from gr4vy_nb.updates.journal import Journal

def items():
    for i in range(200):
        if i == 100:
            os.kill(os.getpid(), signal.SIGKILL)  # kill -9 halfway through writing the rows
        yield {"session_id": f"00000000-0000-4000-8000-{i:012d}", "status": "planned", "body": {"amount": i}}

Journal.create(sys.argv[1], meta={"run_id": "killed-while-created", "kind": "apply"}, items=items())
"""


def test_kill_9_while_the_journal_is_created_leaves_no_half_journal(tmp_path):
    """A run killed while its journal is being created must leave either no journal or a whole one.

    Otherwise ``resume`` refuses the half-made file ("not a gr4vy-nb run journal") and ``apply``
    refuses to overwrite it ("a journal already exists"): the user is stuck with a file that
    nothing will open or replace.
    """
    journal = tmp_path / "run.sqlite"
    died = subprocess.run([sys.executable, "-c", _CREATE_AND_DIE, str(journal)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    assert died.returncode == -signal.SIGKILL, died.stderr
    if journal.exists():
        with Journal.open(journal) as j:  # RunError here: a half-made journal was left behind
            assert j.counts()["total"] == 200
    # Either way, a new journal can be created at the same path.
    with Journal.create(journal if not journal.exists() else tmp_path / "other.sqlite", meta={"run_id": "again"},
                        items=[{"session_id": "00000000-0000-4000-8000-000000000001"}]) as j:
        assert j.counts()["total"] == 1
