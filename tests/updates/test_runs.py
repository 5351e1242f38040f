"""Applying plans against the sandbox over HTTP: outcomes, conflicts, faults, stops, cancel, resume, rollback.

Every test uses real SQLite journals and real result files; the sandbox's per-session write
counters prove what was (and was not) written.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pandas as pd
import pytest

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.api.retry import RetryPolicy
from gr4vy_nb.config import Settings
from gr4vy_nb.errors import InputError, RunError
from gr4vy_nb.sandbox.seeding import default_seed_path
from gr4vy_nb.tables.files import read_table
from gr4vy_nb.updates.compare import same_fields
from gr4vy_nb.updates.journal import Journal
from gr4vy_nb.updates.plan import Plan, plan_updates
from gr4vy_nb.updates.runs import apply_plan, resume_run, rollback_run
from gr4vy_nb.updates.states import RESULT_STATUSES

SEED = [json.loads(line) for line in Path(default_seed_path()).read_text().splitlines() if line.strip()]
IDS = [s["id"] for s in SEED]
S0 = IDS[0]
WITH_CART = [s["id"] for s in SEED if s.get("cart_items")]
FAST = RetryPolicy(max_attempts=12, backoff_base=0.02, backoff_cap=0.2, max_retry_after=0.3, total_time=60)


@pytest.fixture
def client(sandbox_clean):
    with Gr4vyClient(Settings.for_sandbox(sandbox_clean, retry=FAST), workers=8) as c:
        yield c


def tag_upload(folder: Path, ids: list[str], tag: str = "q4") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["checkout_session_id,metadata.tag", *(f"{i},{tag}" for i in ids)]
    (folder / "sessions.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def assert_desired(client, plan: Plan) -> None:
    for item in plan.changes:
        current = client.get_checkout_session(item.session_id)
        assert same_fields(current, item.desired, item.fields) == [], item.session_id


def assert_consistent(run) -> None:
    counts = run.counts
    assert sum(counts[s] for s in RESULT_STATUSES) == counts["total"] == len(run.results)
    with Journal.open(run.journal, readonly=True) as j:
        assert j.integrity_check() == "ok"
        assert j.counts()["sending"] == 0


def test_apply_writes_each_session_once_and_hands_back_result_files(tmp_path, client, sandbox_clean):
    plan = plan_updates(tag_upload(tmp_path / "up", IDS[:20]), client=client)
    run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs", workers=4)
    assert run.state == "finished" and run.ok and run.exit_code == 0
    assert run.counts["succeeded"] == 20
    assert_consistent(run)
    assert_desired(client, plan)
    writes = sandbox_clean.stats()["writes"]
    assert {k: v for k, v in writes.items() if v} == dict.fromkeys(IDS[:20], 1)
    assert run.requests == {"GET": 20, "PUT": 20}  # one re-read and one write each
    ok = read_table(run.files["succeeded"]).frame
    assert sorted(ok["checkout_session_id"]) == sorted(IDS[:20])
    assert ok["fields"].unique().tolist() == ["metadata"]
    assert len(read_table(run.files["errors"]).frame) == 0
    # The journal records the run's settings and every session's before-state and body.
    with Journal.open(run.journal, readonly=True) as j:
        meta = j.meta
        assert meta["kind"] == "apply" and meta["state"] == "finished" and meta["target"] == "local sandbox emulator"
        assert meta["inputs"][0]["sha256"] and meta["toolkit_version"]
        row = j.row(IDS[0])
        assert row["before"]["id"] == IDS[0] and row["body"]["metadata"]["tag"] == "q4"
        assert row["response"]["metadata"]["tag"] == "q4" and row["attempts"] == 2
    # Every status column of results is one of the five, and new expiries are reported.
    assert run.results["expires_at"].notna().all()


def test_unchanged_and_not_found_sessions_are_skipped_and_failed(tmp_path, client, sandbox_clean):
    folder = tmp_path / "up"
    folder.mkdir()
    current = SEED[1]["metadata"]["channel"]
    missing = "00000000-0000-4000-8000-000000000000"
    (folder / "sessions.csv").write_text(f"checkout_session_id,metadata.channel\n{S0},web\n{IDS[1]},{current}\n"
                                         f"{missing},web\n")
    run = apply_plan(plan_updates(folder, client=client), client=client, runs_dir=tmp_path / "runs")
    status = dict(zip(run.results.checkout_session_id, run.results.status, strict=True))
    assert status == {S0: "succeeded", IDS[1]: "skipped", missing: "failed"}
    assert run.exit_code == 1
    errors = read_table(run.files["errors"]).frame
    assert errors[["checkout_session_id", "metadata.channel"]].values.tolist() == [[missing, "web"]]
    assert errors["error"].iloc[0] == "failed: not found or expired"


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


def test_server_validation_error_is_mapped_to_file_line_and_column(tmp_path, client, sandbox_clean):
    folder = tmp_path / "up"
    folder.mkdir()
    (folder / "cart_items.csv").write_text(
        f"checkout_session_id,item_index,tax_amount\n{S0},0,10\n{S0},1,20\n{S0},2,30\n{WITH_CART[1]},0,5\n")
    plan = plan_updates(folder, client=client)
    # The API refuses S0's body with FastAPI's 422 pointing at /cart_items/0/name.
    sandbox_clean.set_faults([{"method": "PUT", "session_id": S0, "action": "status", "status": 422,
                               "body": "fastapi"}])
    run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs")
    row = run.results.set_index("checkout_session_id").loc[S0]
    assert row["status"] == "failed" and row["http_status"] == 422
    assert "cart_items.csv line 2, column name: Field required" in row["message"]
    with Journal.open(run.journal, readonly=True) as j:
        details = j.row(S0)["error_details"]
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


def test_canary_sends_the_first_n_then_resume_sends_the_rest(tmp_path, client, sandbox_clean):
    ids = IDS[:6]
    plan = plan_updates(tag_upload(tmp_path / "up", ids), client=client)
    run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs", first=2)
    assert run.state == "paused"
    assert run.results.status.tolist() == ["succeeded"] * 2 + ["unprocessed"] * 4
    assert "canary" in run.results.message.iloc[3]
    rest = resume_run(run.journal, client=client)
    assert rest.state == "finished" and rest.counts["succeeded"] == 6
    assert rest.requests == {"GET": 4, "PUT": 4}


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


def test_plan_with_errors_or_changed_inputs_or_another_target_is_refused(tmp_path, client, sandbox_clean):
    folder = tmp_path / "up"
    folder.mkdir()
    (folder / "sessions.csv").write_text(f"checkout_session_id,amount\n{S0},-1\n")
    with pytest.raises(InputError):
        apply_plan(plan_updates(folder, client=client), client=client, runs_dir=tmp_path / "runs")
    plan = plan_updates(tag_upload(folder, IDS[:1]), client=client)
    (folder / "sessions.csv").write_text(f"checkout_session_id,metadata.tag\n{S0},other\n")
    with pytest.raises(RunError, match="changed since the plan was made"):
        apply_plan(plan, client=client, runs_dir=tmp_path / "runs")
    plan = plan_updates(folder, client=client)
    plan.target = {**plan.target, "base_url": "https://api.sandbox.acme.gr4vy.app", "target": "Gr4vy sandbox (acme)"}
    with pytest.raises(RunError, match="refusing to mix targets"):
        apply_plan(plan, client=client, runs_dir=tmp_path / "runs")
    assert sum(sandbox_clean.stats()["writes"].values()) == 0


def test_saved_plan_applies_like_the_original_and_a_tampered_one_is_refused(tmp_path, client, sandbox_clean):
    plan = plan_updates(tag_upload(tmp_path / "up", IDS[:3]), client=client)
    loaded = Plan.load(plan.save(tmp_path / "plan.json"))
    loaded.changes[1].body["amount"] = -1  # as if the JSON had been edited by hand
    with pytest.raises(InputError, match="refused by the update schema") as exc:
        apply_plan(loaded, client=client, journal=tmp_path / "bad.sqlite")
    assert exc.value.problems.iloc[0]["column"] == "amount"
    assert sum(sandbox_clean.stats()["writes"].values()) == 0
    run = apply_plan(Plan.load(tmp_path / "plan.json"), client=client, journal=tmp_path / "my-run.sqlite")
    assert run.counts["succeeded"] == 3
    assert run.journal == tmp_path / "my-run.sqlite" and run.results_dir == tmp_path / "my-run"


# ----------------------------------------------------------------------------- rollback


def test_rollback_restores_the_before_state_and_refuses_to_clobber_a_later_change(tmp_path, client,
                                                                                  sandbox_clean):
    folder = tmp_path / "up"
    folder.mkdir()
    ids = WITH_CART[:3]
    (folder / "cart_items.csv").write_text(f"checkout_session_id,item_index,tax_amount\n{ids[0]},0,1\n"
                                           f"{ids[1]},0,2\n{ids[2]},0,3\n")
    before = {i: client.get_checkout_session(i) for i in ids}
    plan = plan_updates(folder, client=client)
    run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs")
    assert run.counts["succeeded"] == 3
    client.update_checkout_session(ids[2], {"cart_items": None})  # someone changes one afterwards
    back = rollback_run(run.journal, client=client)
    status = dict(zip(back.results.checkout_session_id, back.results.status, strict=True))
    assert status == {ids[0]: "succeeded", ids[1]: "succeeded", ids[2]: "conflict"}
    for sid in ids[:2]:
        assert same_fields(client.get_checkout_session(sid), before[sid], ["cart_items", "metadata", "airline"]) == []
    assert client.get_checkout_session(ids[2])["cart_items"] is None  # left alone
    with Journal.open(back.journal, readonly=True) as j:
        assert j.meta["kind"] == "rollback" and j.meta["parent"] == str(run.journal)
    # Forcing overwrites the later change; the rollback run is itself resumable and listed.
    forced = rollback_run(run.journal, client=client, force=True)
    assert forced.counts["succeeded"] == 3
    assert same_fields(client.get_checkout_session(ids[2]), before[ids[2]], ["cart_items"]) == []


def test_rollback_of_a_rollback_reapplies(tmp_path, client, sandbox_clean):
    plan = plan_updates(tag_upload(tmp_path / "up", IDS[:2]), client=client)
    run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs")
    back = rollback_run(run.journal, client=client)
    assert all("tag" not in (client.get_checkout_session(i)["metadata"] or {}) for i in IDS[:2])
    again = rollback_run(back.journal, client=client)
    assert again.counts["succeeded"] == 2
    assert_desired(client, plan)


# ----------------------------------------------------------------------------- resume guards


def test_resume_refuses_changed_inputs_and_a_held_journal(tmp_path, client, sandbox_clean):
    folder = tag_upload(tmp_path / "up", IDS[:3])
    run = apply_plan(plan_updates(folder, client=client), client=client, runs_dir=tmp_path / "runs", first=1)
    (folder / "sessions.csv").write_text("checkout_session_id,metadata.tag\n")
    with pytest.raises(RunError, match="input files changed since the run started"):
        resume_run(run.journal, client=client)
    with Journal.open(run.journal), pytest.raises(RunError, match="in use by another process"):
        resume_run(run.journal, client=client, check_inputs=False)
    done = resume_run(run.journal, client=client, check_inputs=False)
    assert done.counts["succeeded"] == 3


def test_results_frame_counts_unfinished_rows_as_unprocessed(tmp_path, client, sandbox_clean):
    plan = plan_updates(tag_upload(tmp_path / "up", IDS[:3]), client=client)
    run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs", first=0)
    assert run.results.status.tolist() == ["unprocessed"] * 3
    with Journal.open(run.journal) as j:  # as a kill -9 between "sending" and the answer leaves it
        j.mark(IDS[0], "sending")
    from gr4vy_nb.updates.results import results_frame

    with Journal.open(run.journal, readonly=True) as j:
        frame = results_frame(j)
    assert frame.status.tolist() == ["unprocessed"] * 3 and "resume" in frame.message.iloc[0]
    done = resume_run(run.journal, client=client)
    assert done.counts["succeeded"] == 3
    assert isinstance(done.results, pd.DataFrame)


def test_differences_never_show_personal_values_in_clear(tmp_path, sandbox_clean):
    """D7: a passenger name the server did not keep as sent is masked in the message and results.csv."""
    from gr4vy_nb.updates.engine import difference_text as _difference_text

    assert _difference_text({"path": "airline.passengers[0].first_name", "sent": "Alice", "got": "ALICE"}) \
        .startswith("airline.passengers[0].first_name sent 'A*** #")
    whole = _difference_text({"path": "buyer", "sent": {"billing_details": {"first_name": "Bob"}}, "got": None},
                             colon=True)
    assert "Bob" not in whole and whole.startswith("buyer: sent {'billing_details': {'first_name': 'B*** #")
    assert _difference_text({"path": "metadata.tag", "sent": "q4", "got": "Q4"}) == "metadata.tag sent 'q4', kept 'Q4'"

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
        plan = plan_updates(folder, client=client)
        assert plan.ok, plan.problems
        run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs", conflict_check=False)
    row = run.results.iloc[0]
    assert row["status"] == "succeeded" and bool(row["applied_with_differences"])
    assert "airline.passengers[0].first_name sent 'Z*** #" in row["message"]
    assert "Zebedee" not in row["message"] and "ZEBEDEE" not in row["message"]
    assert "Zebedee" not in row["differences"] and "ZEBEDEE" not in row["differences"]
    written = (Path(run.results_dir) / "results.csv").read_text(encoding="utf-8")
    assert "first_name sent 'Z*** #" in written and "Zebedee" not in written and "ZEBEDEE" not in written
