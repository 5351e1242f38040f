"""Runs against the sandbox over HTTP: apply, canary, refusals, saved plans, rollback and resume.

Every test uses real SQLite journals and real result files; the sandbox's per-session write
counters prove what was (and was not) written.
"""

from __future__ import annotations

import pytest

from gr4vy_nb.errors import InputError, RunError
from gr4vy_nb.tables.files import read_table
from gr4vy_nb.updates.compare import same_fields
from gr4vy_nb.updates.journal import Journal
from gr4vy_nb.updates.plan import Plan, plan_updates
from gr4vy_nb.updates.runs import apply_plan, resume_run, rollback_run
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
    assert run.requests_text == "20 write attempt(s), 20 re-read(s) of sessions (not counted in attempts)"
    assert "  requests: 20 write attempt(s), 20 re-read(s)" in run.describe()
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
        assert row.before["id"] == IDS[0] and row.body["metadata"]["tag"] == "q4"
        assert row.response["metadata"]["tag"] == "q4" and row.attempts == 1  # writes only
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
    # An id never seen is not said to have expired: the plan never read it either.
    assert not any("expired (the API" in n for n in run.notes)
    assert next(n for n in run.notes if missing in n).startswith("1 session(s) were not found (404, and never read")


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


def test_a_resume_from_another_folder_writes_its_results_next_to_the_journal(tmp_path, client, sandbox_clean,
                                                                             monkeypatch):
    """Regression: the journal recorded its results folder relative to where the run was started, so a
    resume started elsewhere wrote results.csv under that other folder's runs/ (found as stray folders)."""
    ids = IDS[:4]
    plan = plan_updates(tag_upload(tmp_path / "up", ids), client=client)
    started, elsewhere = tmp_path / "started-here", tmp_path / "elsewhere"
    started.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(started)
    run = apply_plan(plan, client=client, runs_dir="runs", first=1)  # a relative runs folder
    journal = (started / run.journal).resolve()
    monkeypatch.chdir(elsewhere)
    rest = resume_run(journal, client=client)
    assert rest.state == "finished" and rest.counts["succeeded"] == 4
    assert rest.results_dir == journal.with_suffix("")
    assert (journal.with_suffix("") / "results.csv").is_file()
    assert not any(elsewhere.iterdir()), sorted(elsewhere.rglob("*"))


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
    plan = plan_updates(folder, client=client, lists="patch")  # item 0's tax; the other items kept
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


# ----------------------------------------------------------------------------- a rollback with nothing to undo


def test_rollback_of_a_run_that_changed_nothing_writes_empty_result_files(tmp_path, client, sandbox_clean):
    # Regression (issue 15): the second run of the same upload is all `skipped`; rolling it back crashed in
    # _write_error_files (string arithmetic on an empty results frame).
    folder = tag_upload(tmp_path / "up", IDS[:3])
    apply_plan(plan_updates(folder, client=client), client=client, runs_dir=tmp_path / "runs")
    second = apply_plan(plan_updates(folder, client=client), client=client, runs_dir=tmp_path / "runs")
    assert second.counts["skipped"] == 3 and second.counts["succeeded"] == 0
    rb = rollback_run(second.journal, client=client)
    assert rb.state == "finished" and rb.ok and rb.exit_code == 0 and rb.counts["total"] == 0
    assert rb.notes == ["nothing to roll back: the run changed no session"]
    assert "nothing to roll back" in rb.describe()
    assert len(read_table(rb.files["errors"]).frame) == 0 and len(read_table(rb.files["succeeded"]).frame) == 0
    assert_consistent(rb)
    assert sandbox_clean.stats()["requests"].get("PUT", {}).get("200") == 3  # the first run only


# ----------------------------------------------------------------------------- real lifetimes: expiry mid-run


def _sessions(n: int, *, expires_in_s: float = 20 * 3600) -> list[dict]:
    import uuid
    from datetime import UTC, datetime, timedelta

    expires = (datetime.now(UTC) + timedelta(seconds=expires_in_s)).isoformat(timespec="milliseconds")
    return [{"id": str(uuid.uuid4()), "expires_at": expires, "currency": "GBP", "amount": 100,
             "metadata": {"ref": str(i)}, "cart_items": [{"name": "Mug", "quantity": 1, "unit_amount": 100}]}
            for i in range(n)]


def test_mass_expiry_mid_run_fails_the_expired_sessions_with_errors_rows(tmp_path, client, sandbox_clean):
    ids = sandbox_clean.seed(_sessions(30))
    plan = plan_updates(tag_upload(tmp_path / "up", ids), client=client)
    doomed = ids[10:]
    expired_once = []

    def progress(p):  # a third of the way in, 20 sessions not yet reached expire at once
        if p.done >= 4 and not expired_once:
            expired_once.append(True)
            for sid in doomed:
                sandbox_clean.expire(sid)

    sandbox_clean.configure(latency_ms=30)
    run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs", workers=2, progress=progress)
    assert_consistent(run)
    r = run.results.set_index("checkout_session_id")
    failed = r.index[r["status"] == "failed"].tolist()
    assert failed and set(failed) <= set(doomed) and len(failed) >= 14  # the few re-read ahead may have gone through
    assert r.loc[failed, "message"].str.contains("expired").all()
    assert (r.loc[failed, "http_status"] == 404).all()
    assert run.counts["succeeded"] + run.counts["failed"] == 30 and run.exit_code == 1
    assert set(run.expired) == set(failed)
    assert any(f"{len(failed)} session(s) had expired" in n and "could not be sent" in n for n in run.notes)
    errors = read_table(run.files["errors"]).frame
    assert sorted(errors["checkout_session_id"]) == sorted(failed)
    assert errors["error"].str.contains("expired").all()


def test_a_session_that_expires_naturally_before_the_write_says_expired_at(tmp_path, client, sandbox_clean):
    ids = sandbox_clean.seed(_sessions(2, expires_in_s=1.5))
    plan = plan_updates(tag_upload(tmp_path / "up", ids), client=client)
    assert len(plan.changes) == 2
    import time

    time.sleep(1.7)
    run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs")
    assert run.counts["failed"] == 2
    assert run.results["message"].str.startswith("expired at ").all(), run.results["message"].tolist()
    assert len(read_table(run.files["errors"]).frame) == 2


def test_sessions_expiring_before_a_resume_are_named(tmp_path, client, sandbox_clean):
    ids = sandbox_clean.seed(_sessions(10))
    canary = apply_plan(plan_updates(tag_upload(tmp_path / "up", ids), client=client), client=client,
                        runs_dir=tmp_path / "runs", first=4)
    assert canary.state == "paused" and canary.counts["unprocessed"] == 6
    for sid in ids[6:]:
        sandbox_clean.expire(sid)
    run = resume_run(canary.journal, client=client)
    assert_consistent(run)
    assert run.counts["succeeded"] == 6 and run.counts["failed"] == 4 and run.exit_code == 1
    assert sorted(run.expired) == sorted(ids[6:])
    note = next(n for n in run.notes if "had expired" in n)
    assert all(sid in note for sid in ids[6:]) and "could not be sent" in note
    assert sorted(read_table(run.files["errors"]).frame["checkout_session_id"]) == sorted(ids[6:])


def test_rollback_names_expired_sessions_and_says_it_cannot_restore_expiry(tmp_path, client, sandbox_clean):
    ids = sandbox_clean.seed(_sessions(8))
    run = apply_plan(plan_updates(tag_upload(tmp_path / "up", ids), client=client), client=client,
                     runs_dir=tmp_path / "runs")
    assert run.ok
    for sid in ids[:3]:
        sandbox_clean.expire(sid)
    rb = rollback_run(run.journal, client=client)
    assert_consistent(rb)
    assert rb.counts["succeeded"] == 5 and rb.counts["failed"] == 3 and rb.exit_code == 1
    failed = rb.results[rb.results["status"] == "failed"]
    assert sorted(failed["checkout_session_id"]) == sorted(ids[:3])
    assert failed["message"].str.contains("expired").all()
    expired_note = next(n for n in rb.notes if "had expired" in n)
    assert "could not be restored" in expired_note and all(sid in expired_note for sid in ids[:3])
    expiry_note = next(n for n in rb.notes if "expires_at" in n)
    assert "cannot restore expires_at" in expiry_note and "the 5 restored session(s) now expire" in expiry_note
    for sid in ids[3:]:
        assert client.get_checkout_session(sid)["metadata"] == {"ref": str(ids.index(sid))}


def test_rollback_of_a_killed_run_re_reads_what_it_left_in_flight(tmp_path, client, sandbox_clean):
    """Two sessions left 'sending' (as kill -9 leaves them): one write had reached the server, one had not."""
    from gr4vy_nb.updates.runs import rollback_preview
    from gr4vy_nb.updates.states import SessionStatus

    plan = plan_updates(tag_upload(tmp_path / "up", IDS[:4], tag="inflight"), client=client)
    run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs", first=1)  # a canary: 3 left planned
    landed, lost = IDS[1], IDS[2]
    with Journal.open(run.journal) as j:
        for sid in (landed, lost):
            j.mark(sid, SessionStatus.SENDING, started=True)  # committed before the PUT, as the engine does
        client.update_checkout_session(landed, j.row(landed).body)  # the write that landed; its answer lost
    preview = rollback_preview(run.journal)
    assert sorted(preview.in_flight) == sorted([landed, lost])
    assert "2 session(s) were in flight when the run stopped" in preview.describe()

    rolled = rollback_run(run.journal, client=client)
    assert rolled.counts["succeeded"] == 2 and rolled.ok  # the canary's session and the one that landed
    assert rolled.in_flight.written == [landed] and rolled.in_flight.not_written == [lost]
    text = rolled.describe()
    assert "1 of them held the run's values" in text and f"not written by the run, left as they are: {lost}" in text
    for sid in IDS[:4]:
        assert "inflight" not in str((client.get_checkout_session(sid).get("metadata") or {}).get("tag"))
    with Journal.open(run.journal, readonly=True) as j:  # nothing is left in flight in the run's journal
        assert j.row(landed).status == "succeeded" and j.row(lost).status == "unprocessed"
