"""BulkUpdateApp's plan runs off the main thread: progress (done/total, rate, ETA), Cancel within about a second
(no plan, nothing sent), ``wait_plan`` for scripts; each step shows its own messages, new files clear the old
validation and plan, a disabled button says why, and Roll back shows a preview before anything is sent."""

from __future__ import annotations

import time
from pathlib import Path

from gr4vy_nb.notebook_support import Connection
from gr4vy_nb.sandbox import Sandbox
from gr4vy_nb.updates.notes import NoteCode
from gr4vy_nb.updates.reasons import Action, ReasonCode
from gr4vy_nb.widgets import BulkUpdateApp
from gr4vy_nb.widgets._common import plain
from tests.widgets.helpers import IDS, planned_app, puts, sandbox_connection, tag_csv, upload_value, writes


def _validated(conn: Connection, tmp_path: Path, ids: list[str]) -> BulkUpdateApp:
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    app.upload.value = upload_value(("sessions.csv", tag_csv(ids, "q4")))
    app.on_validate()
    assert app.upload_obj is not None and app.upload_obj.ok, app.messages.text
    return app


def test_cancel_during_a_plan_stops_within_a_second_and_sends_nothing(conn: Connection, sandbox_clean: Sandbox,
                                                                       tmp_path: Path) -> None:
    app = _validated(conn, tmp_path, IDS[:30])
    sandbox_clean.configure(latency_ms=200)
    app.on_plan(wait=False)  # as a click does: returns at once, the fetch goes on in the background
    assert app.planning and app.plan_button.disabled and not app.plan_cancel_button.disabled
    assert "planning" in plain(app.plan_reason.value)
    deadline = time.monotonic() + 5
    while app.plan_progress.value == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert 0 < app.plan_progress.value < 30, app.plan_progress.value
    started = time.monotonic()
    app.on_cancel_plan()
    assert app.wait_plan(5) is None
    assert time.monotonic() - started < 1.2
    assert not app.planning and app.plan is None
    assert "plan cancelled: nothing was sent" in app.plan_messages.text
    assert writes(sandbox_clean) == {} and puts(sandbox_clean) == 0
    assert app.apply_button.disabled and plain(app.apply_reason.value) == "plan first"
    assert not app.plan_button.disabled and app.plan_reason.value == ""  # plan again


def test_cancel_stops_the_reads_queued_too(conn: Connection, sandbox_clean: Sandbox, tmp_path: Path) -> None:
    """200 sessions at 200 ms each take seconds to read: Cancel still ends the plan within about a second."""
    app = _validated(conn, tmp_path, IDS[:200])
    sandbox_clean.configure(latency_ms=200)
    gets_before = sum(sandbox_clean.stats()["requests"].get("GET", {}).values())
    app.on_plan(wait=False)
    deadline = time.monotonic() + 5
    while app.plan_progress.value == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    app.on_cancel_plan()
    app.wait_plan(5)
    assert time.monotonic() - started < 1.2
    gets = sum(sandbox_clean.stats()["requests"].get("GET", {}).values()) - gets_before
    assert gets < 100, gets  # the queued reads were not sent
    assert app.plan is None and writes(sandbox_clean) == {}


def test_plan_in_the_background_shows_done_total_rate_and_eta(conn: Connection, sandbox_clean: Sandbox,
                                                              tmp_path: Path) -> None:
    app = _validated(conn, tmp_path, IDS[:40])
    sandbox_clean.configure(latency_ms=50)
    seen: list[str] = []
    app.plan_counters.observe(lambda change: seen.append(plain(change["new"])), names="value")
    app.on_plan(wait=False)
    assert app.apply_button.disabled and plain(app.apply_reason.value) == "wait for the plan"
    plan = app.wait_plan(30)
    assert plan is not None and len(plan.changes) == 40 and app.plan is plan
    assert any("/ 40" in t and "/s" in t and "left" in t for t in seen), seen
    assert "fetched 40 session(s)" in plain(app.plan_counters.value)
    assert "plan ready" in plain(app.plan_status.value) and not app.apply_button.disabled
    assert app.plan_progress.layout.display == "none"  # the fetch is over: no full "fetching" bar left behind
    assert writes(sandbox_clean) == {}


def test_choosing_new_files_clears_validation_plan_and_diff(conn: Connection, sandbox_clean: Sandbox,
                                                            tmp_path: Path) -> None:
    app = planned_app(conn, tmp_path, IDS[:3])
    assert app.validation_summary.value and app.plan_summary.value and app.diff_view.value
    app.upload.value = upload_value(("sessions.csv", tag_csv(IDS[3:5], "q5")))
    assert app.upload_obj is None and app.plan is None
    assert app.validation_summary.value == "" and app.problems_download.value == ""
    assert app.plan_summary.value == "" and app.diff_view.value == "" and app.diff_session.options == ()
    assert len(app.diff_table.frame) == 0 and app.expiry_note.value == ""
    assert "the files changed: validate them again" in app.validation_messages.text
    assert plain(app.plan_reason.value) == "validate the files first" and app.plan_button.disabled
    assert plain(app.apply_reason.value) == "plan first" and app.apply_button.disabled


def test_a_refusal_shows_in_its_own_step_and_clears_the_old_result(conn: Connection, sandbox_clean: Sandbox,
                                                                   tmp_path: Path) -> None:
    app = _validated(conn, tmp_path, IDS[:2])
    assert "validation passed" in app.validation_messages.text and "#15803d" in app.validation_summary.value
    app.upload.value = upload_value(*[(f"f{i}.csv", tag_csv(IDS[:1], "x")) for i in range(5)])
    app.on_validate()
    assert "5 files uploaded; upload at most 4" in app.validation_messages.errors[-1]
    assert "validation passed" not in app.validation_messages.text  # not the previous file's green result
    assert app.validation_summary.value == ""
    assert "upload at most 4" in app.messages.text  # the app's log at the top has it too
    assert plain(app.plan_reason.value) == "validate the files first"


def test_disabled_buttons_say_why(conn: Connection, sandbox_clean: Sandbox, tmp_path: Path) -> None:
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    assert app.plan_button.disabled and plain(app.plan_reason.value) == "validate the files first"
    assert app.apply_button.disabled and plain(app.apply_reason.value) == "plan first"
    app.upload.value = upload_value(("sessions.csv", b"checkout_session_id,metadata.x\nnot-a-uuid,1\n"))
    app.on_validate()
    assert plain(app.plan_reason.value) == "fix the validation errors and validate again"
    app.upload.value = upload_value(("sessions.csv", tag_csv(IDS[:2], "q4")))
    app.on_validate()
    assert not app.plan_button.disabled and app.plan_reason.value == ""
    app.on_plan()
    assert not app.apply_button.disabled and app.apply_reason.value == ""
    app.on_apply()
    app.wait(60)
    assert app.apply_button.disabled and "applied" in plain(app.apply_reason.value)


def test_production_run_and_consent_reasons(sandbox_clean: Sandbox, tmp_path: Path) -> None:
    conn = sandbox_connection(sandbox_clean, environment="production", merchant_account_id="default")
    try:
        app = planned_app(conn, tmp_path, IDS[:2])
        assert app.apply_button.disabled and "confirm PRODUCTION" in plain(app.apply_reason.value)
        # The button's words are the app's; the reason is the workflow's (the CLI refuses with the same code).
        assert app.why_not(Action.APPLY).code == app.workflow.why_not(Action.APPLY).code == \
            ReasonCode.PRODUCTION_NOT_CONFIRMED
        app.on_apply()
        assert "confirm PRODUCTION" in app.apply_messages.errors[-1] and puts(sandbox_clean) == 0
        app.confirm_box.value = True
        app.confirm_text.value = "default"
        assert not app.apply_button.disabled and app.apply_reason.value == ""
        assert app.workflow.confirmed and app.why_not(Action.APPLY) is None
        # the PRODUCTION confirmation label and the typed id are never cut
        assert app.confirm_box.layout.width == "auto" and app.confirm_box.style.description_width == "initial"
    finally:
        conn.close()


def test_rollback_in_the_bulk_app_previews_then_restores_on_confirm(conn: Connection, sandbox_clean: Sandbox,
                                                                     tmp_path: Path) -> None:
    ids = IDS[:4]
    before = {i: conn.client.get_checkout_session(i).get("metadata") or {} for i in ids}
    app = planned_app(conn, tmp_path, ids)
    app.on_apply()
    run = app.wait(60)
    assert run.counts["succeeded"] == 4
    assert writes(sandbox_clean) == dict.fromkeys(ids, 1)

    app.on_rollback()  # the preview: nothing sent
    prompt = app.rollback_prompt
    assert prompt.preview is not None and prompt.widget.layout.display is None
    text = plain(prompt.html.value)
    assert "4 session(s) get back the values" in text and "cannot be restored" in text
    assert prompt.confirm_button.description == "Confirm rollback of 4 session(s)"
    assert not prompt.confirm_button.disabled
    app.on_dismiss_rollback()
    assert prompt.preview is None and "nothing was sent" in app.messages.text
    app.on_confirm_rollback()  # without a preview: refused
    assert "press Roll back this run first" in app.messages.errors[-1]
    assert writes(sandbox_clean) == dict.fromkeys(ids, 1)

    app.on_rollback()
    app.on_confirm_rollback()
    back = app.wait(60)
    assert back.kind == "rollback" and back.counts["succeeded"] == 4, back.describe()
    assert writes(sandbox_clean) == dict.fromkeys(ids, 2)
    after = {i: conn.client.get_checkout_session(i).get("metadata") or {} for i in ids}
    assert after == before


def test_production_rollback_needs_the_confirmation_and_re_arms(sandbox_clean: Sandbox, tmp_path: Path) -> None:
    conn = sandbox_connection(sandbox_clean, environment="production", merchant_account_id="default")
    try:
        app = planned_app(conn, tmp_path, IDS[:2])
        app.confirm_box.value, app.confirm_text.value = True, "default"
        app.on_apply()
        app.wait(60)
        assert not app.confirm_box.value and app.confirm_text.value == ""  # re-armed after the run
        app.on_rollback()
        assert app.rollback_prompt.confirm_button.disabled  # the PRODUCTION confirmation first
        app.on_confirm_rollback()
        assert "PRODUCTION" in app.messages.errors[-1] and writes(sandbox_clean) == dict.fromkeys(IDS[:2], 1)
        app.confirm_box.value, app.confirm_text.value = True, "default"
        app.on_rollback()
        assert not app.rollback_prompt.confirm_button.disabled
        app.on_confirm_rollback()
        assert not app.confirm_box.value and app.confirm_text.value == ""  # re-armed at once
        assert app.wait(60).counts["succeeded"] == 2
        assert writes(sandbox_clean) == dict.fromkeys(IDS[:2], 2)
    finally:
        conn.close()


def test_the_diff_header_is_a_coloured_before_after_table(conn: Connection, sandbox_clean: Sandbox,
                                                          tmp_path: Path) -> None:
    app = planned_app(conn, tmp_path, IDS[:1])
    view = app.diff_view.value
    assert "<th" in view and ">before</th>" in view and ">after</th>" in view
    assert "gr4vy-diff-before" in view and "<del>" in view and "#b91c1c" in view
    assert "gr4vy-diff-after" in view and "#15803d" in view


def test_a_removed_passenger_reads_removed_in_the_diff_and_the_notes_carry_no_placeholders(
        conn: Connection, sandbox_clean: Sandbox, tmp_path: Path) -> None:
    import json

    from gr4vy_nb.sandbox.seeding import default_seed_path

    first = json.loads(Path(default_seed_path()).read_text().splitlines()[0])
    sid = first["id"]
    assert len(first["airline"]["passengers"]) == 4
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    app.upload.value = upload_value(("passengers.csv",
                                     f"checkout_session_id,passenger_index,first_name\n{sid},1,Hanna\n".encode()))
    app.on_validate()
    app.on_plan()
    assert app.plan is not None and app.plan.consent
    [removal] = [n for n in app.plan.notes if n.kind == "removes.passengers"]
    assert (removal.code, removal.count, removal.text) == (NoteCode.SESSION_CHANGES, 1,
                                                           "1 session(s): removes passengers #0, #2, #3 of 4")
    assert not [n for n in app.plan.notes if "#N" in n.text or " of N" in n.text]
    app.diff_session.value = sid
    view = app.diff_view.value
    rows = [r for r in view.split("<tr>") if "airline.passengers[" in r]
    removed = [r for r in rows if "(removed)" in r]
    kept = [r for r in rows if "airline.passengers[1].first_name" in r]
    assert removed and all("passengers[1]" not in r for r in removed)
    assert all(p in "".join(removed) for p in ("passengers[0].", "passengers[2].", "passengers[3]."))
    assert kept and "(removed)" not in kept[0]
    assert writes(sandbox_clean) == {}


def test_idle_cancel_buttons_and_actions_without_a_run_are_not_shown(conn: Connection, sandbox_clean: Sandbox,
                                                                     tmp_path: Path) -> None:
    app = _validated(conn, tmp_path, IDS[:3])
    hidden = "none"
    # Before any plan or run: no progress bars, no Cancel, no run actions; only "no run yet".
    assert app.plan_progress.layout.display == hidden and app.plan_cancel_button.layout.display == hidden
    assert app.runner.widget.layout.display == hidden and app.runner.cancel_button.layout.display == hidden
    assert app.results.actions.layout.display == hidden and app.results.status_filter.layout.display == hidden
    assert "no run yet" in app.results.title.value
    sandbox_clean.configure(latency_ms=100)
    try:
        app.on_plan(wait=False)
        assert app.plan_cancel_button.layout.display is None and app.plan_progress.layout.display is None
        app.wait_plan(30)
    finally:
        sandbox_clean.configure(latency_ms=0)
    assert app.plan_cancel_button.layout.display == hidden  # the plan is made: its Cancel goes
    sandbox_clean.configure(latency_ms=100)
    try:
        app.on_apply()
        assert app.runner.running and app.runner.cancel_button.layout.display is None
        assert app.runner.widget.layout.display is None
        run = app.wait(60)
    finally:
        sandbox_clean.configure(latency_ms=0)
    assert run.counts["succeeded"] == 3
    assert app.runner.cancel_button.layout.display == hidden and app.runner.widget.layout.display is None
    assert app.results.actions.layout.display is None and not app.results.rollback_button.disabled


def test_stale_rows_are_refused_unless_the_ignore_stale_box_is_ticked(conn: Connection, sandbox_clean: Sandbox,
                                                                      tmp_path: Path) -> None:
    from gr4vy_nb.export import export_sessions

    sid = IDS[0]
    export_sessions([sid], conn.client, tmp_path / "export")
    session = conn.client.get_checkout_session(sid)
    cart = session["cart_items"]
    cart[0]["quantity"] += 1  # another writer's change since the export
    conn.client.update_checkout_session(sid, {"cart_items": cart})
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    app.upload.value = upload_value(("cart_items.csv", (tmp_path / "export" / "cart_items.csv").read_bytes()))
    app.on_validate()
    app.on_plan()
    assert app.plan is not None and not app.plan.ok and app.plan.changes == []
    assert app.plan.errors.rule.tolist() == ["stale"]
    app.ignore_stale.value = True
    app.on_plan()
    assert app.plan is not None and app.plan.ok and len(app.plan.changes) == 1
    assert app.plan.warnings[app.plan.warnings.rule == "stale"].line.tolist() == [2]
