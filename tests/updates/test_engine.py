"""The engine, through runs against the sandbox: re-reads, conflicts, retries, pacing, stops, lost answers, differences.

The sandbox's per-session write counters prove what was (and was not) written.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.api.retry import RetryPolicy
from gr4vy_nb.config import Settings
from gr4vy_nb.tables.files import read_table
from gr4vy_nb.updates.engine import difference_text
from gr4vy_nb.updates.journal import Journal
from gr4vy_nb.updates.plan import plan_updates
from gr4vy_nb.updates.runs import apply_plan, resume_run
from tests.updates.helpers import (
    IDS,
    S0,
    SEED,
    WITH_CART,
    assert_consistent,
    assert_desired,
    tag_upload,
    writing_client,
)

client = pytest.fixture(name="client")(writing_client)


# ----------------------------------------------------------------------------- re-read


def test_conflict_is_detected_and_not_written_and_can_be_switched_off(tmp_path, client, sandbox_clean):
    plan = plan_updates(tag_upload(tmp_path / "up", IDS[:3]), client=client)
    client.update_checkout_session(IDS[1], {"metadata": {"changed": "by someone else"}})
    run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs")
    status = dict(zip(run.results.checkout_session_id, run.results.status, strict=True))
    assert status == {IDS[0]: "succeeded", IDS[1]: "conflict", IDS[2]: "succeeded"}
    assert "changed since it was planned (metadata)" in run.results.set_index("checkout_session_id").loc[
        IDS[1], "message"]
    assert sandbox_clean.stats()["writes"][IDS[1]] == 1  # only the other writer's
    assert client.get_checkout_session(IDS[1])["metadata"] == {"changed": "by someone else"}
    assert_consistent(run)
    # Without the re-read, the session is written as planned (and nothing is read).
    blind = apply_plan(plan, client=client, runs_dir=tmp_path / "runs", conflict_check=False)
    assert blind.counts["succeeded"] == 3 and blind.requests == {"PUT": 3}
    assert client.get_checkout_session(IDS[1])["metadata"]["tag"] == "q4"


def test_a_session_already_in_the_desired_state_is_not_written_again(tmp_path, client, sandbox_clean):
    plan = plan_updates(tag_upload(tmp_path / "up", IDS[:2]), client=client)
    client.update_checkout_session(IDS[0], plan.item(IDS[0]).body)
    run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs")
    assert run.counts["succeeded"] == 2
    assert sandbox_clean.stats()["writes"][IDS[0]] == 1
    assert "nothing sent" in run.results.set_index("checkout_session_id").loc[IDS[0], "message"]


# ----------------------------------------------------------------------------- sending


def test_server_validation_error_is_mapped_to_file_line_and_column(tmp_path, client, sandbox_clean):
    folder = tmp_path / "up"
    folder.mkdir()
    (folder / "cart_items.csv").write_text(
        f"checkout_session_id,item_index,tax_amount\n{S0},0,10\n{S0},1,20\n{S0},2,30\n{WITH_CART[1]},0,5\n")
    plan = plan_updates(folder, client=client, lists="patch")  # WITH_CART[1]'s other items are kept
    # The API refuses S0's body with FastAPI's 422 pointing at /cart_items/0/name.
    sandbox_clean.set_faults([{"method": "PUT", "session_id": S0, "action": "status", "status": 422,
                               "body": "fastapi"}])
    run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs")
    row = run.results.set_index("checkout_session_id").loc[S0]
    assert row["status"] == "failed" and row["http_status"] == 422
    assert "cart_items.csv line 2, column name: Field required" in row["message"]
    with Journal.open(run.journal, readonly=True) as j:
        details = j.row(S0).error_details
    assert details[0]["file"] == "cart_items.csv" and details[0]["line"] == 2 and details[0]["column"] == "name"
    assert sandbox_clean.stats()["writes"].get(S0, 0) == 0
    # errors.csv is the user's cart rows of the failed session, plus the error: fix and upload again.
    errors = read_table(run.files["errors"]).frame
    assert errors["tax_amount"].tolist() == ["10", "20", "30"] and errors["error"].str.startswith("failed").all()
    again = plan_updates([run.files["errors"]], client=client)
    assert again.ok and [i.session_id for i in again.changes] == [S0]


def test_storm_of_429_and_30_percent_5xx_ends_in_the_desired_state_with_one_write_each(tmp_path, client,
                                                                                      sandbox_clean):
    ids = IDS[:40]
    plan = plan_updates(tag_upload(tmp_path / "up", ids, "storm"), client=client)
    sandbox_clean.configure(rate_limit=40, fail_rate=0.3, random_seed=7)
    run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs", workers=8)
    if not run.ok:  # a session whose retries all failed: resume finishes it
        run = resume_run(run.journal, client=client)
    stats = sandbox_clean.stats()
    sandbox_clean.configure(rate_limit=None, fail_rate=0.0)
    assert run.counts["succeeded"] == 40
    assert stats["faults"]["failed"] > 0 and stats["faults"]["rate_limited"] > 0  # the storm happened
    assert_desired(client, plan)
    # A refused or failed request applies nothing: exactly one write per planned session, none elsewhere.
    assert {k: v for k, v in stats["writes"].items() if v} == dict.fromkeys(ids, 1)
    assert_consistent(run)


def test_rate_limit_paces_the_run(tmp_path, client, sandbox_clean):
    plan = plan_updates(tag_upload(tmp_path / "up", IDS[:10]), client=client)
    run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs", workers=8, rate=20, conflict_check=False)
    assert run.counts["succeeded"] == 10
    assert run.elapsed >= 9 / 20 * 0.9  # 10 requests at 20/s, evenly spaced
    assert client._pacer is None  # the client's own setting is restored


@pytest.mark.parametrize("status,expect", [(401, "GR4VY_PRIVATE_KEY_FILE"), (403, "checkout-sessions.write")])
def test_credentials_refused_mid_run_stop_it_with_the_rest_unprocessed(tmp_path, client, sandbox_clean, status,
                                                                      expect):
    ids = IDS[:8]
    plan = plan_updates(tag_upload(tmp_path / "up", ids), client=client)
    message = "missing scope checkout-sessions.write" if status == 403 else None
    sandbox_clean.set_faults([{"method": "PUT", "session_id": ids[3], "action": "status", "status": status,
                               **({"message": message} if message else {})}])
    run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs", workers=1)
    assert run.state == "stopped" and run.exit_code == 3
    assert expect in run.stop_reason
    status_of = dict(zip(run.results.checkout_session_id, run.results.status, strict=True))
    assert [status_of[i] for i in ids] == ["succeeded"] * 3 + ["unprocessed"] * 5
    assert all(expect in m for m in run.results.message[3:])
    assert sum(sandbox_clean.stats()["writes"].values()) == 3
    assert_consistent(run)
    # Once the key is fixed, resuming sends the rest; a second resume sends nothing.
    again = resume_run(run.journal, client=client)
    assert again.state == "finished" and again.counts["succeeded"] == 8
    assert {k: v for k, v in sandbox_clean.stats()["writes"].items() if v} == dict.fromkeys(ids, 1)
    third = resume_run(run.journal, client=client)
    assert third.requests == {} and third.counts["succeeded"] == 8


def test_cancel_mid_run_leaves_a_consistent_journal_and_resume_finishes(tmp_path, client, sandbox_clean):
    ids = IDS[:30]
    plan = plan_updates(tag_upload(tmp_path / "up", ids), client=client)
    sandbox_clean.configure(latency_ms=20)
    cancel = threading.Event()
    seen = []

    def progress(p):
        seen.append(p)
        if p.done >= 5:
            cancel.set()

    run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs", workers=2, progress=progress, cancel=cancel)
    sandbox_clean.configure(latency_ms=0)
    assert run.state == "cancelled" and run.exit_code == 1
    done = run.counts["succeeded"]
    assert 5 <= done <= 8 and run.counts["unprocessed"] == 30 - done  # in-flight ones finished, no more
    assert sum(sandbox_clean.stats()["writes"].values()) == done
    assert_consistent(run)
    assert seen[-1].succeeded == done and seen[-1].total == 30
    finished = resume_run(run.journal, client=client)
    assert finished.state == "finished" and finished.counts["succeeded"] == 30
    assert {k: v for k, v in sandbox_clean.stats()["writes"].items() if v} == dict.fromkeys(ids, 1)


def test_ctrl_c_during_a_slow_write_waits_for_it_so_no_session_is_left_sending(tmp_path, client, sandbox_clean):
    """Regression (CI): on CPython 3.11 a Ctrl-C landing inside Thread.join() marks the joined thread,
    still running, as stopped; the run was then settled with its write in flight, leaving one session
    ``sending`` in a run recorded as cancelled. The pool now waits on its own per-thread events."""
    import _thread

    ids = IDS[:4]
    plan = plan_updates(tag_upload(tmp_path / "up", ids), client=client)
    # The first write is applied at once and answered 1.5 s later: in flight when Ctrl-C comes.
    sandbox_clean.set_faults([{"method": "PUT", "session_id": ids[0], "action": "apply_then_stall",
                               "seconds": 1.5}])
    timers: list[threading.Timer] = []

    def progress(p):
        if not timers:  # the run's first report, just before its threads start
            timers.append(threading.Timer(0.5, _thread.interrupt_main))
            timers[0].start()

    started = time.monotonic()
    run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs", workers=1, progress=progress)
    assert time.monotonic() - started >= 1.4  # it waited for the answer
    assert run.state == "cancelled" and run.exit_code == 1
    with Journal.open(run.journal, readonly=True) as j:
        counts = j.counts()
    assert counts["sending"] == counts["planned"] == 0, counts
    assert counts["succeeded"] >= 1 and counts["succeeded"] + counts["unprocessed"] == len(ids)
    assert sum(sandbox_clean.stats()["writes"].values()) == counts["succeeded"]
    assert_consistent(run)


# ----------------------------------------------------------------------------- comparing the answer


def test_lost_answer_is_settled_by_reading_the_session(tmp_path, sandbox_clean):
    settings = Settings.for_sandbox(sandbox_clean, retry=RetryPolicy(max_attempts=1), timeouts=(2, 0.5))
    with Gr4vyClient(settings, workers=2) as client:
        plan = plan_updates(tag_upload(tmp_path / "up", IDS[:2]), client=client)
        sandbox_clean.set_faults([{"method": "PUT", "session_id": IDS[0], "action": "apply_then_stall",
                                   "seconds": 1.5}])
        run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs")
    row = run.results.set_index("checkout_session_id").loc[IDS[0]]
    assert row["status"] == "succeeded" and "re-reading shows the update applied" in row["message"]
    assert sandbox_clean.stats()["writes"][IDS[0]] == 1


def test_applied_with_differences_is_reported_not_silently_counted(tmp_path, sandbox_clean):
    class Normalising(Gr4vyClient):
        """A server that keeps metadata values in capitals (the response tells what it kept)."""

        def update_checkout_session(self, session_id, body):
            response = super().update_checkout_session(session_id, body)
            response["metadata"] = {k: v.upper() for k, v in response["metadata"].items()}
            return response

    with Normalising(Settings.for_sandbox(sandbox_clean), workers=2) as client:
        plan = plan_updates(tag_upload(tmp_path / "up", IDS[:1], "lower"), client=client)
        run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs", conflict_check=False)
    row = run.results.iloc[0]
    assert row["status"] == "succeeded" and bool(row["applied_with_differences"])
    assert "metadata.tag sent 'lower', kept 'LOWER'" in row["message"]
    assert not run.ok and run.exit_code == 1
    assert "applied with differences" in run.describe()


def test_differences_never_show_personal_values_in_clear(tmp_path, sandbox_clean):
    """D7: a passenger name the server did not keep as sent is masked in the message and results.csv."""
    assert difference_text({"path": "airline.passengers[0].first_name", "sent": "Alice", "got": "ALICE"}) \
        .startswith("airline.passengers[0].first_name sent 'A*** #")
    whole = difference_text({"path": "buyer", "sent": {"billing_details": {"first_name": "Bob"}}, "got": None},
                            colon=True)
    assert "Bob" not in whole and whole.startswith("buyer: sent {'billing_details': {'first_name': 'B*** #")
    assert difference_text({"path": "metadata.tag", "sent": "q4", "got": "Q4"}) == "metadata.tag sent 'q4', kept 'Q4'"

    session = next(s for s in SEED if (s.get("airline") or {}).get("passengers"))

    class Normalising(Gr4vyClient):
        """A server that keeps passenger first names in capitals."""

        def update_checkout_session(self, session_id, body):
            response = super().update_checkout_session(session_id, body)
            for p in (response.get("airline") or {}).get("passengers") or []:
                p["first_name"] = p["first_name"].upper()
            return response

    folder = tmp_path / "up"
    folder.mkdir()
    (folder / "passengers.csv").write_text(
        f"checkout_session_id,passenger_index,first_name\n{session['id']},0,Zebedee\n", encoding="utf-8")
    with Normalising(Settings.for_sandbox(sandbox_clean), workers=2) as client:
        plan = plan_updates(folder, client=client, lists="patch")  # one passenger renamed, the others kept
        assert plan.ok, plan.problems
        run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs", conflict_check=False)
    row = run.results.iloc[0]
    assert row["status"] == "succeeded" and bool(row["applied_with_differences"])
    assert "airline.passengers[0].first_name sent 'Z*** #" in row["message"]
    assert "Zebedee" not in row["message"] and "ZEBEDEE" not in row["message"]
    assert "Zebedee" not in row["differences"] and "ZEBEDEE" not in row["differences"]
    written = (Path(run.results_dir) / "results.csv").read_text(encoding="utf-8")
    assert "first_name sent 'Z*** #" in written and "Zebedee" not in written and "ZEBEDEE" not in written


def test_not_found_message_says_expired_at_when_the_known_expiry_has_passed():
    from gr4vy_nb.updates.engine import not_found_message

    assert not_found_message(None) == "not found or expired"
    assert not_found_message("2026-12-01T10:00:00Z", now=1e10).startswith("expired at 2026-12-01 10:00:00 UTC")
    future = not_found_message("2026-12-01T12:00:00+02:00", now=0)
    assert future == "not found or expired (404; it was due to expire at 2026-12-01 10:00:00 UTC)"
    assert not_found_message("garbage") == "not found or expired"


# ----------------------------------------------------------------------------- truthful counts (issue 14)


def test_attempts_count_writes_and_resume_progress_counts_the_whole_run(tmp_path, client, sandbox_clean):
    plan = plan_updates(tag_upload(tmp_path / "up", IDS[:8]), client=client)
    canary = apply_plan(plan, client=client, runs_dir=tmp_path / "runs", first=3)
    # no faults: one write each, the conflict re-read not counted as an attempt
    sent = canary.results[canary.results["status"] == "succeeded"]
    assert sent["attempts"].tolist() == [1, 1, 1]
    snaps = []
    run = resume_run(canary.journal, client=client, progress=snaps.append)
    assert run.counts["succeeded"] == 8
    assert snaps[0].total == 8 and snaps[0].done == 3 and snaps[0].succeeded == 3 and snaps[0].already == 3
    assert snaps[-1].done == 8 and snaps[-1].succeeded == 8 and snaps[-1].retries == 0
    assert run.results["attempts"].tolist() == [1] * 8
    # a conflict is re-read, never written: 0 write attempts, and the message says it was re-read
    plan2 = plan_updates(tag_upload(tmp_path / "up2", IDS[:2], tag="q5"), client=client)
    client.update_checkout_session(IDS[1], {"metadata": {"changed": "by someone else"}})
    again = apply_plan(plan2, client=client, runs_dir=tmp_path / "runs")
    row = again.results.set_index("checkout_session_id").loc[IDS[1]]
    assert row["status"] == "conflict" and row["attempts"] == 0 and row["message"].startswith("re-read")
