"""The gr4vy-nb command on run workflows found by the state machine (issue 15) and on real lifetimes (issue 12).

* rolling back a run that changed nothing (the second apply of ``data/examples/02_tax_fix``) exits 0 and says so;
* ``gr4vy-nb … | head`` exits quietly: no ``BrokenPipeError`` traceback, and the run still completes;
* the plan says how many sessions will likely expire before the run reaches them;
* rollback names expired sessions and says it cannot restore ``expires_at``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from gr4vy_nb.cli import main
from gr4vy_nb.updates.journal import Journal
from tests.paths import ENV_VARS, REPO

TAX_FIX = REPO / "data" / "examples" / "02_tax_fix"
TRACEBACK = "Traceback (most recent call last)"


def _sessions(n, *, seconds=20 * 3600):
    expires = (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")
    return [{"id": str(uuid.uuid4()), "expires_at": expires, "currency": "GBP", "amount": 100,
             "metadata": {"ref": str(i)}, "cart_items": [{"name": "Mug", "quantity": 1, "unit_amount": 100}]}
            for i in range(n)]


def _tags(folder, ids, tag="t"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sessions.csv").write_text("checkout_session_id,metadata.tag\n" + "".join(f"{i},{tag}\n" for i in ids))
    return folder


def test_rollback_of_a_run_that_changed_nothing_exits_0_and_says_so(env, tmp_path, capsys):
    # Regression (issue 15): this exact sequence ended in numpy's _UFuncNoLoopError from _write_error_files.
    assert main(["apply", str(TAX_FIX), "--journal", "runs/first.sqlite"]) == 0
    assert main(["apply", str(TAX_FIX), "--journal", "runs/second.sqlite"]) == 0
    with Journal.open(tmp_path / "runs" / "second.sqlite", readonly=True) as j:
        counts = j.counts()
        assert counts["skipped"] == counts["total"] > 0
    capsys.readouterr()
    assert main(["rollback", "runs/second.sqlite"]) == 0
    captured = capsys.readouterr()
    assert TRACEBACK not in captured.out + captured.err
    assert "nothing to roll back: the run changed no session" in captured.out
    assert main(["runs", "runs"]) == 0


@pytest.mark.parametrize("command", ["apply", "help"])
def test_a_command_piped_into_a_closed_reader_exits_quietly(env, tmp_path, command):
    # Regression (issue 15): `gr4vy-nb apply … | head` ended in a BrokenPipeError traceback.
    ids = env.seed(_sessions(12))
    _tags(tmp_path / "up", ids)
    cli_env = {k: v for k, v in os.environ.items() if k not in ENV_VARS}
    cli_env.update(GR4VY_BASE_URL=env.base_url, GR4VY_PRIVATE_KEY_FILE=str(env.private_key_file),
                   PYTHONPATH=str(REPO))
    args = ["apply", "up", "--journal", "runs/piped.sqlite", "--limit", "200"] if command == "apply" else ["--help"]
    proc = subprocess.Popen([sys.executable, "-m", "gr4vy_nb.cli", *args], cwd=tmp_path, env=cli_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()  # like `head -1`: read a line, then close the pipe
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    code = proc.wait(timeout=120)
    assert TRACEBACK not in err and "BrokenPipeError" not in err, err
    assert code == 0, (code, err)
    if command == "apply":  # the run was not abandoned half-way: it finished, journaled
        with Journal.open(tmp_path / "runs" / "piped.sqlite", readonly=True) as j:
            assert j.meta["state"] == "finished" and j.counts()["succeeded"] == 12


def test_plan_says_how_many_sessions_will_expire_before_the_run_reaches_them(env, tmp_path, capsys):
    soon = env.seed(_sessions(5, seconds=5))
    later = env.seed(_sessions(3))
    _tags(tmp_path / "up", soon + later)
    assert main(["plan", "up", "--rate", "1"]) == 0
    out = capsys.readouterr().out
    # At 1 req/s with a re-read and a write each, session k is reached after 2(k + 1) s: the 3rd on expires first.
    assert "note: 3 of 8 sessions expire before the run is likely to reach them (at 1 req/s)" in out
    assert soon[2] in out
    assert main(["plan", "up"]) == 0  # unpaced and local: nothing expires before it is reached
    assert "expire before the run" not in capsys.readouterr().out


def test_rollback_names_expired_sessions_and_when_the_restored_ones_now_expire(env, tmp_path, capsys):
    ids = env.seed(_sessions(4))
    _tags(tmp_path / "up", ids)
    assert main(["apply", "up", "--journal", "runs/a.sqlite"]) == 0
    env.expire(ids[0])
    capsys.readouterr()
    assert main(["rollback", "runs/a.sqlite"]) == 1
    out = capsys.readouterr().out
    assert f"1 session(s) had expired (the API answers 404) and could not be restored: {ids[0]}" in out
    assert "a rollback cannot restore expires_at" in out and "the 3 restored session(s) now expire" in out


def test_runs_after_a_kill_add_up_count_in_flight_and_say_to_resume_and_apply_says_so_too(env, tmp_path, capsys):
    from tests.updates.helpers import IDS

    folder = _tags(tmp_path / "up", IDS[:6])
    assert main(["apply", str(folder), "--first", "2", "--journal", "runs/killed.sqlite"]) == 1  # paused
    with Journal.open(tmp_path / "runs" / "killed.sqlite") as j:  # as kill -9 leaves a run: running, one in flight
        j.set_meta(state="running")
        j.mark(IDS[2], "sending")
    capsys.readouterr()
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    header, _rule, row = out.splitlines()[:3]
    assert header.split()[5:13] == ["succeeded", "failed", "conflict", "skipped", "unprocessed", "in", "flight",
                                    "total"]
    cells = row.split()
    assert cells[4] == "interrupted" and cells[5:12] == ["2", "0", "0", "0", "3", "1", "6"]  # 2+3+1 == 6
    journal = os.path.join("runs", "killed.sqlite")
    assert (f"interrupted with 1 session(s) in flight: resume it (gr4vy-nb resume {journal}) or roll it back "
            f"(gr4vy-nb rollback {journal})") in out
    # Applying the same files again says their last run was interrupted, and how to resume it.
    assert main(["apply", str(folder), "--first", "0"]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert (f"the last run of these files, {cells[0]}, was interrupted (3 session(s) not sent, 1 in flight): to "
            f"finish it, resume it with `gr4vy-nb resume {journal}`") in out
    _tags(tmp_path / "other", IDS[:6], tag="u")  # other files: no such note
    assert main(["apply", str(tmp_path / "other"), "--first", "0"]) == 1
    assert "was interrupted" not in capsys.readouterr().out


def test_a_clean_run_offers_no_errors_file_and_one_with_failures_does(env, tmp_path, capsys):
    from tests.updates.helpers import IDS, MISSING

    assert main(["apply", str(_tags(tmp_path / "clean", IDS[:2]))]) == 0
    out = capsys.readouterr().out
    assert "succeeded: " in out and "errors.csv" not in out
    assert main(["apply", str(_tags(tmp_path / "failing", [IDS[2], MISSING]))]) == 1
    assert "errors:    " in capsys.readouterr().out
