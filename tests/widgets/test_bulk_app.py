"""gr4vy_nb.widgets.bulk_app: the BulkUpdateApp, step by step, against the sandbox (helpers: ``helpers.py``)."""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from gr4vy_nb.notebook_support import Connection
from gr4vy_nb.sandbox import Sandbox
from gr4vy_nb.tables.frames import flatten_sessions
from gr4vy_nb.updates.journal import Journal
from gr4vy_nb.updates.reasons import Action, ReasonCode
from gr4vy_nb.widgets import BulkUpdateApp
from gr4vy_nb.widgets._common import MAX_UPLOAD_BYTES, plain
from tests.widgets.helpers import (
    IDS,
    WITH_PASSENGERS,
    csv_bytes,
    planned_app,
    puts,
    sandbox_connection,
    tag_csv,
    upload_value,
    writes,
)


def test_full_flow_upload_validate_plan_apply_results_rollback(conn: Connection, sandbox_clean: Sandbox,
                                                               tmp_path: Path) -> None:
    ids = IDS[:6]
    target = next(s for s in WITH_PASSENGERS if s["id"] not in ids)
    before_name = target["airline"]["passengers"][0]["last_name"]
    current = flatten_sessions([conn.client.get_checkout_session(target["id"])])
    passengers = current.passengers.copy()
    passengers.loc[passengers["passenger_index"] == 0, "last_name"] = "Quackenbush"
    passengers_csv = passengers.to_csv(index=False).encode()

    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    assert app.plan_button.disabled and app.apply_button.disabled
    app.upload.value = upload_value(("sessions.csv", tag_csv(ids, "q4")), ("passengers.csv", passengers_csv))
    assert "sessions.csv" in app.files_label.value and "passengers.csv" in app.files_label.value
    app.on_validate()
    assert app.upload_obj.ok, app.messages.text
    assert "<b data-count='errors'>0</b>" in app.validation_summary.value
    assert not app.plan_button.disabled
    saved = list((tmp_path / "runs" / "uploads").rglob("*.csv"))
    assert sorted(p.name for p in saved) == ["passengers.csv", "sessions.csv"]

    app.expires_in.value = 6 * 3600
    app.on_plan()
    assert app.plan is not None and app.plan.expires_in == 6 * 3600
    assert {i.session_id for i in app.plan.changes} == {*ids, target["id"]}
    assert "<b data-count='changed'>7</b>" in app.plan_summary.value
    assert app.plan_progress.value == app.plan_progress.max == 7
    # Nothing written by planning.
    assert puts(sandbox_clean) == 0
    # The per-session diff: masked by default, raw on request.
    app.diff_session.value = target["id"]
    assert "airline.passengers[0].last_name" in plain(app.diff_view.value) or "last_name" in app.diff_view.value
    assert "Quackenbush" not in app.diff_view.value and before_name not in app.diff_view.value
    assert "Quackenbush" not in app.diff_table.itable._dt_args["data_json"]
    app.show_raw.value = True
    assert "Quackenbush" in app.diff_view.value
    assert "Quackenbush" in app.diff_table.itable._dt_args["data_json"]
    app.show_raw.value = False
    assert not app.apply_button.disabled

    app.workers.value = 3
    app.on_apply()
    run = app.wait(60)
    assert run.state == "finished" and run.counts["succeeded"] == 7, run.describe()
    assert "data-status='succeeded'" in app.results.counts.value and "succeeded <b>7</b>" in app.results.counts.value
    assert "download" in app.results.downloads.value and "errors.csv" in app.results.downloads.value
    assert "succeeded.csv" in app.results.downloads.value
    assert writes(sandbox_clean) == dict.fromkeys([*ids, target["id"]], 1)
    after = conn.client.get_checkout_session(target["id"])
    assert after["airline"]["passengers"][0]["last_name"] == "Quackenbush"
    assert conn.client.get_checkout_session(ids[0])["metadata"]["campaign_review"] == "q4"
    app.results.status_filter.value = "failed"
    assert len(app.results.filtered()) == 0
    app.results.status_filter.value = "succeeded"
    assert len(app.results.filtered()) == 7
    assert app.results.retry_button.disabled and not app.results.rollback_button.disabled

    app.on_rollback()  # the preview first: nothing is sent yet
    assert app.rollback_prompt.preview is not None and app.rollback_prompt.widget.layout.display is None
    assert app.rollback_prompt.confirm_button.description == "Confirm rollback of 7 session(s)"
    assert writes(sandbox_clean) == dict.fromkeys([*ids, target["id"]], 1)
    app.on_confirm_rollback()
    back = app.wait(60)
    assert app.rollback_prompt.preview is None
    assert back.kind == "rollback" and back.counts["succeeded"] == 7, back.describe()
    restored = conn.client.get_checkout_session(target["id"])
    assert restored["airline"]["passengers"][0]["last_name"] == before_name
    assert "campaign_review" not in (conn.client.get_checkout_session(ids[0]).get("metadata") or {})
    assert writes(sandbox_clean) == dict.fromkeys([*ids, target["id"]], 2)


def test_a_file_with_errors_sends_nothing(conn: Connection, sandbox_clean: Sandbox, tmp_path: Path) -> None:
    bad = csv_bytes(pd.DataFrame({
        "checkout_session_id": [IDS[0], "not-a-uuid", IDS[2]],
        "cart_items": ["", "", "oops"],
    }))
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    app.upload.value = upload_value(("sessions.csv", bad))
    app.on_validate()
    assert not app.upload_obj.ok
    problems = app.problems_table.frame
    assert set(problems["file"]) == {"sessions.csv"}
    assert {(int(r.line), r.column) for r in problems.itertuples() if r.severity == "error"} >= {
        (3, "checkout_session_id"), (4, "cart_items")}
    assert "download" in app.problems_download.value and "problems.csv" in app.problems_download.value
    assert app.plan_button.disabled and app.apply_button.disabled
    assert "validation found" in app.messages.errors[-1]
    assert app.why_not(Action.PLAN).code == ReasonCode.INPUT_ERRORS  # the app plans only clean input
    app.on_plan()
    assert "fix the validation errors" in app.messages.errors[-1]
    assert app.why_not(Action.APPLY).code == ReasonCode.NOT_PLANNED
    app.on_apply()
    assert "plan first; nothing was sent" in app.messages.errors[-1]
    assert sandbox_clean.stats()["total_requests"] == 0


def test_too_big_an_upload_points_to_the_path_box(conn: Connection, tmp_path: Path) -> None:
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    app.upload.value = upload_value(("sessions.csv", b"x" * (MAX_UPLOAD_BYTES + 1)))
    app.on_validate()
    assert "path box" in app.messages.errors[-1] and app.upload_obj is None


def test_files_by_path_and_no_files(conn: Connection, sandbox_clean: Sandbox, tmp_path: Path) -> None:
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    app.on_validate()
    assert "choose files first" in app.messages.errors[-1]
    folder = tmp_path / "edits"
    folder.mkdir()
    (folder / "sessions.csv").write_bytes(tag_csv(IDS[:3], "by-path"))
    app.paths_box.value = str(folder)
    app.on_validate()
    app.on_plan()
    assert len(app.plan.changes) == 3
    assert puts(sandbox_clean) == 0


def test_cancel_mid_run_leaves_a_consistent_journal_and_resume_finishes(
        conn: Connection, sandbox_clean: Sandbox, tmp_path: Path) -> None:
    ids = IDS[:30]
    app = planned_app(conn, tmp_path, ids)
    sandbox_clean.configure(latency_ms=40)
    app.workers.value = 2
    app.on_apply()
    assert app.busy and app.apply_button.disabled and app.validate_button.disabled
    assert not app.runner.cancel_button.disabled
    deadline = time.monotonic() + 30
    while (app.runner.last_progress is None or app.runner.last_progress.done < 4) and time.monotonic() < deadline:
        time.sleep(0.01)
    app.on_cancel()
    run = app.wait(60)
    assert run.state == "cancelled", run.describe()
    c = run.counts
    assert 4 <= c["succeeded"] < len(ids) and c["succeeded"] + c["unprocessed"] == len(ids)
    with Journal.open(run.journal, readonly=True) as j:
        assert j.integrity_check() == "ok"
        assert j.counts().get("sending", 0) == 0
    # Exactly the sessions the journal says succeeded were written, once each.
    succeeded = set(run.results.loc[run.results["status"] == "succeeded", "checkout_session_id"])
    assert writes(sandbox_clean) == dict.fromkeys(succeeded, 1)
    # The plan was applied: Run stays off (resume the run instead, or plan again).
    assert app.apply_button.disabled and not app.results.resume_button.disabled
    app.on_apply()
    assert "applied already" in app.messages.errors[-1]

    sandbox_clean.configure(latency_ms=0)
    app.on_resume()
    resumed = app.wait(60)
    assert resumed.state == "finished" and resumed.counts["succeeded"] == len(ids), resumed.describe()
    assert writes(sandbox_clean) == dict.fromkeys(ids, 1)


def test_production_needs_typed_confirmation(sandbox_clean: Sandbox, tmp_path: Path) -> None:
    conn = sandbox_connection(sandbox_clean, environment="production", merchant_account_id="default")
    try:
        app = planned_app(conn, tmp_path, IDS[:3])
        assert app.confirmation.required and app.apply_button.disabled
        app.on_apply()
        assert "PRODUCTION" in app.messages.errors[-1] and "nothing was sent" in app.messages.errors[-1]
        app.confirm_box.value = True
        app.confirm_text.value = "defaul"
        assert app.apply_button.disabled
        app.on_apply()
        assert puts(sandbox_clean) == 0 and not app.busy
        app.confirm_text.value = "default"
        assert not app.apply_button.disabled
        app.on_apply()
        run = app.wait(60)
        assert run.counts["succeeded"] == 3
    finally:
        conn.close()


def test_a_401_mid_run_stops_with_a_clear_message(conn: Connection, sandbox_clean: Sandbox,
                                                  tmp_path: Path) -> None:
    ids = IDS[:10]
    app = planned_app(conn, tmp_path, ids)
    sandbox_clean.set_faults([{"method": "PUT", "session_id": ids[4], "action": "status", "status": 401}])
    app.workers.value = 1
    app.on_apply()
    run = app.wait(60)
    assert run.state == "stopped", run.describe()
    c = run.counts
    assert c["succeeded"] == 4 and c["unprocessed"] == len(ids) - 4 - c["failed"], run.describe()
    assert "401" in app.messages.errors[-1] and "credentials" in app.messages.errors[-1]
    assert writes(sandbox_clean) == dict.fromkeys(ids[:4], 1)
    assert app.runner.bar.bar_style == "danger"


def test_retry_failed_plans_again_from_errors_csv(conn: Connection, sandbox_clean: Sandbox,
                                                  tmp_path: Path) -> None:
    ids = IDS[:5]
    app = planned_app(conn, tmp_path, ids)
    sandbox_clean.set_faults([{"method": "PUT", "session_id": ids[1], "action": "status", "status": 422,
                               "message": "refused for the test"}])
    app.on_apply()
    run = app.wait(60)
    assert run.counts["failed"] == 1 and run.counts["succeeded"] == 4, run.describe()
    assert not app.results.retry_button.disabled
    app.results.status_filter.value = "failed"
    assert app.results.filtered()["checkout_session_id"].tolist() == [ids[1]]

    app.on_retry_failed()
    assert app.plan is not None, app.messages.text
    assert [i.session_id for i in app.plan.changes] == [ids[1]]
    assert "errors.csv" in app.paths_box.value
    app.on_apply()
    second = app.wait(60)
    assert second.counts["succeeded"] == 1
    assert writes(sandbox_clean) == dict.fromkeys(ids, 1)


def test_the_production_confirmation_re_arms_after_a_run_and_for_a_new_plan(sandbox_clean: Sandbox,
                                                                           tmp_path: Path) -> None:
    conn = sandbox_connection(sandbox_clean, environment="production", merchant_account_id="default")
    try:
        app = planned_app(conn, tmp_path, IDS[:2])
        app.confirm_box.value, app.confirm_text.value = True, "default"
        assert not app.apply_button.disabled
        app.on_apply()
        assert app.wait(60).counts["succeeded"] == 2
        assert not app.confirm_box.value and app.confirm_text.value == ""  # cleared after the run
        app.confirm_box.value, app.confirm_text.value = True, "default"
        app.on_plan()
        assert not app.confirm_box.value and app.confirm_text.value == ""  # and for every new plan
        assert app.apply_button.disabled
    finally:
        conn.close()


def test_the_expiry_reset_is_told_next_to_run(conn: Connection, sandbox_clean: Sandbox, tmp_path: Path) -> None:
    app = planned_app(conn, tmp_path, IDS[:4])
    text = plain(app.expiry_note.value)
    assert text.startswith("Each updated session will expire 1 h after its update;")
    sooner = sum(1 for i in app.plan.changes
                 if pd.Timestamp(i.before["expires_at"]).timestamp() > time.time() + 3600)
    assert f"{sooner} of 4 expire sooner than they do now" in text


def test_nothing_to_send_says_why(conn: Connection, sandbox_clean: Sandbox, tmp_path: Path) -> None:
    missing = "0f0e0d0c-0b0a-4909-8807-060504030201"
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    app.upload.value = upload_value(("sessions.csv", tag_csv([missing], "q4")))
    app.on_validate()
    app.on_plan()
    assert app.plan is not None and not app.plan.changes
    assert "1 session(s) not found or expired" in app.messages.text
    assert "already hold" not in app.messages.text


def test_problems_csv_does_not_double_a_quote(conn: Connection, tmp_path: Path) -> None:
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    app.upload.value = upload_value(("sessions.csv", b"checkout_session_id,metadata.tag\nORD-000042,x\n"))
    app.on_validate()
    written = next((tmp_path / "runs" / "problems").glob("*-problems.csv")).read_text(encoding="utf-8-sig")
    assert "'ORD-000042' is not a UUID" in written and "''ORD-000042'" not in written
