"""The gr4vy-nb command: every command's help, exit codes, output, and crash safety under kill -9.

Most tests call :func:`gr4vy_nb.cli.main` in-process with the target in the environment; the
crash tests run ``python -m gr4vy_nb.cli`` as a subprocess against a sandbox in its own
process and kill it with SIGKILL at random moments.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.api.retry import RetryPolicy
from gr4vy_nb.cli import main
from gr4vy_nb.config import Settings
from gr4vy_nb.sandbox import start_sandbox
from gr4vy_nb.sandbox.seeding import default_seed_path
from gr4vy_nb.tables.files import read_table
from gr4vy_nb.updates.compare import same_fields
from gr4vy_nb.updates.journal import Journal
from gr4vy_nb.updates.plan import plan_updates
from gr4vy_nb.updates.results import list_runs
from gr4vy_nb.updates.runs import resume_run
from tests.paths import ENV_VARS, REPO

SEED = [json.loads(line) for line in Path(default_seed_path()).read_text().splitlines() if line.strip()]
IDS = [s["id"] for s in SEED]
S0 = IDS[0]
FAST = RetryPolicy(max_attempts=12, backoff_base=0.02, backoff_cap=0.2, max_retry_after=0.3, total_time=60)


def tag_upload(folder: Path, ids: list[str], tag: str = "q4") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sessions.csv").write_text("checkout_session_id,metadata.tag\n" + "".join(f"{i},{tag}\n" for i in ids))
    return folder


@pytest.mark.parametrize("command", ["", "export", "plan", "apply", "resume", "rollback", "runs", "report"])
def test_every_command_has_help(command, capsys):
    assert main([command, "--help"] if command else ["--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: gr4vy-nb" in out


def test_sandbox_command_delegates_to_the_emulator(capsys):
    assert main(["sandbox", "--help"]) == 0
    assert "usage: gr4vy-nb sandbox" in capsys.readouterr().out


def test_usage_errors_exit_2(capsys):
    assert main(["apply"]) == 2
    assert main(["apply", "x", "--expires-in", "60"]) == 2
    assert main([]) == 2


def test_nothing_configured_exits_3_saying_how_to_configure(monkeypatch, tmp_path, capsys):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    tag_upload(tmp_path / "up", [S0])
    assert main(["plan", "up"]) == 3
    err = capsys.readouterr().err
    assert "GR4VY_BASE_URL" in err and "gr4vy-nb sandbox" in err


def test_production_apply_refuses_without_yes_and_shouts_the_target(monkeypatch, tmp_path, capsys, sandbox):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GR4VY_ID", "acme")
    monkeypatch.setenv("GR4VY_ENVIRONMENT", "production")
    monkeypatch.setenv("GR4VY_PRIVATE_KEY_FILE", str(sandbox.private_key_file))
    monkeypatch.chdir(tmp_path)
    tag_upload(tmp_path / "up", [S0])
    assert main(["apply", "up"]) == 2
    err = capsys.readouterr().err
    assert "GR4VY PRODUCTION (ACME)" in err and "--yes" in err
    assert not (tmp_path / "runs").exists()


def test_production_through_a_loopback_url_keeps_every_guard(env, monkeypatch, tmp_path, capsys):
    """GR4VY_ENVIRONMENT=production wins over a loopback URL (a local tunnel or proxy to production)."""
    tag_upload(tmp_path / "up", [S0])
    assert main(["apply", "up"]) == 0  # on the sandbox environment: a run to try rolling back
    journal = next((tmp_path / "runs").glob("*.sqlite"))
    writes = sum(env.stats()["writes"].values())
    capsys.readouterr()
    monkeypatch.setenv("GR4VY_ENVIRONMENT", "production")
    for argv, words in ((["apply", "up"], "REFUSING TO WRITE"), (["rollback", str(journal)], "REFUSING TO WRITE"),
                        (["probe"], "REFUSING TO PROBE")):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert words in err and "--yes" in err and "[production_not_confirmed]" in err, argv
        assert f"GR4VY PRODUCTION (127.0.0.1:{env.base_url.rsplit(':', 1)[1]}) AT {env.base_url}" in err
        assert "local sandbox emulator" not in err
    assert sum(env.stats()["writes"].values()) == writes  # nothing written
    assert env.stats()["requests"].get("POST", {}) == {}  # the probe created no session


def test_plan_prints_summary_and_masked_diff_and_exits_0(env, tmp_path, capsys):
    folder = tmp_path / "up"
    folder.mkdir()
    (folder / "passengers.csv").write_text(
        "checkout_session_id,passenger_index,first_name\n" + f"{S0},0,Zebedee\n"
        + "".join(f"{S0},{i},\n" for i in range(1, len(SEED[0]["airline"]["passengers"]))))
    assert main(["plan", "up"]) == 0
    captured = capsys.readouterr()
    assert "to update:         1" in captured.out
    assert "airline.passengers[0].first_name" in captured.out and "Zebedee" not in captured.out
    assert main(["plan", "up", "--raw", "--save", "plan.json"]) == 0
    out = capsys.readouterr().out
    assert "Zebedee" in out and (tmp_path / "plan.json").is_file()
    assert sum(env.stats()["writes"].values()) == 0  # planning writes nothing
    key_text = Path(env.private_key_file).read_text()
    assert key_text.splitlines()[1] not in captured.out + captured.err + out  # no secret printed


def test_plan_with_errors_exits_2_listing_every_problem(env, tmp_path, capsys):
    folder = tmp_path / "up"
    folder.mkdir()
    (folder / "sessions.csv").write_text(f"checkout_session_id,amount,colour\n{S0},12.99,red\nnope,1,blue\n")
    assert main(["plan", "up", "--problems", "problems.csv"]) == 2
    out = capsys.readouterr().out
    for expected in ("unknown_column", "type.integer", "uuid", "Nothing can be sent"):
        assert expected in out
    assert len(read_table(tmp_path / "problems.csv").frame) == 3


def test_apply_then_runs_resume_and_rollback(env, tmp_path, capsys):
    tag_upload(tmp_path / "up", IDS[:5])
    assert main(["apply", "up", "--workers", "2", "--first", "2"]) == 1  # a canary leaves the rest unprocessed
    out = capsys.readouterr().out
    assert "unprocessed  3" in out and "Resume with: gr4vy-nb resume" in out
    journal = next((tmp_path / "runs").glob("*.sqlite"))
    assert main(["runs"]) == 0
    listing = capsys.readouterr().out
    assert journal.stem in listing and "paused" in listing
    assert main(["resume", str(journal)]) == 0
    assert "succeeded    5" in capsys.readouterr().out
    assert main(["rollback", str(journal)]) == 0
    out = capsys.readouterr().out
    assert "rollback" in out and "succeeded    5" in out
    client = Gr4vyClient(Settings.for_sandbox(env))
    assert all("tag" not in (client.get_checkout_session(i)["metadata"] or {}) for i in IDS[:5])
    kinds = sorted(list_runs(tmp_path / "runs").kind)
    assert kinds == ["apply", "rollback"]


def test_export_then_apply_of_the_unedited_export_sends_nothing(env, tmp_path, capsys):
    (tmp_path / "ids.txt").write_text("\n".join(IDS[:10]) + "\n")
    assert main(["export", "ids.txt", "--out", "export"]) == 0
    assert main(["apply", "export"]) == 0
    out = capsys.readouterr().out
    assert "Nothing to send" in out and "skipped      10" in out
    assert sum(env.stats()["writes"].values()) == 0


def test_report_command_writes_html(env, tmp_path, capsys):
    (tmp_path / "ids.txt").write_text("\n".join(IDS[:5]) + "\n")
    assert main(["export", "ids.txt", "--out", "export"]) == 0
    assert main(["report", "export", "--out", "report.html"]) == 0
    assert (tmp_path / "report.html").read_text().lstrip().lower().startswith("<!doctype html")


def test_credentials_refused_mid_run_exit_3(env, tmp_path, capsys):
    tag_upload(tmp_path / "up", IDS[:4])
    env.set_faults([{"method": "PUT", "session_id": IDS[1], "action": "status", "status": 401}])
    assert main(["apply", "up", "--workers", "1"]) == 3
    out = capsys.readouterr().out
    assert "stopped" in out and "GR4VY_PRIVATE_KEY_FILE" in out


def test_two_processes_on_one_journal_one_is_refused_and_ctrl_c_cancels_cleanly(tmp_path, sandbox_clean):
    env = _subprocess_env(sandbox_clean)
    tag_upload(tmp_path / "up", IDS[:100])
    assert subprocess.run([sys.executable, "-m", "gr4vy_nb.cli", "apply", "up", "--first", "0"], cwd=tmp_path,
                          env=env, capture_output=True, timeout=120).returncode == 1
    journal = next((tmp_path / "runs").glob("*.sqlite"))
    sandbox_clean.configure(latency_ms=50)
    first = subprocess.Popen([sys.executable, "-m", "gr4vy_nb.cli", "resume", str(journal), "--workers", "1"],
                             cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not _lock_held(journal) and time.monotonic() < deadline:
            time.sleep(0.05)
        second = subprocess.run([sys.executable, "-m", "gr4vy_nb.cli", "resume", str(journal)], cwd=tmp_path,
                                env=env, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2 and "in use by another process" in second.stderr
        # Ctrl-C: no new requests, in-flight ones finish, the journal is left consistent.
        first.send_signal(signal.SIGINT)
        out, _ = first.communicate(timeout=60)
    finally:
        sandbox_clean.configure(latency_ms=0)
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 1 and "cancelled" in out
    with Journal.open(journal) as j:
        counts = j.counts()
        assert j.meta["state"] == "cancelled" and counts["sending"] == counts["planned"] == 0
        assert counts["succeeded"] + counts["unprocessed"] == 100 and 0 < counts["succeeded"] < 100
    assert sum(sandbox_clean.stats()["writes"].values()) == counts["succeeded"]


def _lock_held(journal: Path) -> bool:
    from gr4vy_nb.updates.journal import _Lock

    return _Lock.held(journal)


def _subprocess_env(sandbox) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    env["GR4VY_BASE_URL"] = sandbox.base_url
    env["GR4VY_PRIVATE_KEY_FILE"] = str(sandbox.private_key_file)
    env["PYTHONPATH"] = str(REPO)
    return env


# ----------------------------------------------------------------------------- kill -9


@pytest.fixture(scope="module")
def process_sandbox():
    with start_sandbox(mode="process", latency_ms=30, fail_rate=0.1, random_seed=11) as running:
        yield running


@pytest.mark.parametrize("attempt", range(3))
def test_killed_apply_resumes_to_the_desired_state_with_nothing_lost(tmp_path, process_sandbox, attempt):
    sandbox = process_sandbox
    sandbox.reset(reseed=True)
    ids = IDS[:120]
    folder = tmp_path / "up"
    cart = [s["id"] for s in SEED if len(s.get("cart_items") or []) >= 1][:40]
    tag_upload(folder, ids, f"kill-{attempt}")
    (folder / "cart_items.csv").write_text("checkout_session_id,item_index,tax_amount\n"
                                           + "".join(f"{i},0,{100 + attempt}\n" for i in cart))
    settings = Settings.for_sandbox(sandbox, retry=FAST)
    with Gr4vyClient(settings, workers=8) as client:  # one row per cart: patch mode (the others kept)
        plan = plan_updates(folder, client=client, lists="patch")
    assert plan.ok and len(plan.changes) == len(set(ids) | set(cart))
    env = _subprocess_env(sandbox)
    proc = subprocess.Popen([sys.executable, "-m", "gr4vy_nb.cli", "apply", "up", "--workers", "8", "--lists", "patch"],
                            cwd=tmp_path,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rng = random.Random(attempt)
    deadline = time.monotonic() + 60
    journal = None
    while journal is None and time.monotonic() < deadline and proc.poll() is None:
        journal = next((tmp_path / "runs").glob("*.sqlite"), None) if (tmp_path / "runs").exists() else None
        time.sleep(0.01)
    assert journal is not None, "the apply never created its journal"
    time.sleep(rng.uniform(0.05, 1.0))
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL
    with Journal.open(journal, readonly=True) as j:
        assert j.integrity_check() == "ok"
        at_kill = {r.session_id: r.status for r in j.rows(fields=("status",))}
    caught_sending = {s for s, status in at_kill.items() if status == "sending"}
    with Gr4vyClient(settings, workers=8) as client:
        run = resume_run(journal, client=client)
        if not run.ok:  # a session whose every retry met a 5xx: the next resume finishes it
            run = resume_run(journal, client=client)
        assert run.state == "finished" and run.counts["succeeded"] == len(plan.changes)
        final = client.get_checkout_sessions([i.session_id for i in plan.changes])
        for item in plan.changes:  # the final state equals the desired state
            assert same_fields(final[item.session_id], item.desired, item.fields) == []
        again = resume_run(journal, client=client)
    assert again.requests == {}, "a finished run resumed must send nothing"
    writes = {k: v for k, v in sandbox.stats()["writes"].items() if v}
    planned = {i.session_id for i in plan.changes}
    assert set(writes) == planned  # no write outside the plan, none lost
    extra = {k: v for k, v in writes.items() if v > 1}
    assert set(extra) <= caught_sending and all(v == 2 for v in extra.values())
    with Journal.open(journal, readonly=True) as j:
        assert j.integrity_check() == "ok"
        counts = j.counts()
    assert counts["succeeded"] == counts["total"] == len(plan.changes)
