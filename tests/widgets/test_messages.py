"""Every message from the state it describes (issue 20, item 5): the apps show what the workflow says now and
clear what no longer holds; runs, resumes and rollbacks say their kind and an ETA; the plan's summary carries
its destructive counts in red; a cancelled run, a failed 404 session, a header-only upload, a bad id and an
amount are each said as an analyst needs them; labels and key columns are never cut off."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd
import pytest

from gr4vy_nb.notebook_support import Connection
from gr4vy_nb.sandbox import Sandbox
from gr4vy_nb.updates.reasons import Action, ReasonCode
from gr4vy_nb.widgets import BulkUpdateApp, ConnectionPanel, RunsBrowser, SessionExplorer
from gr4vy_nb.widgets._common import amount_text, plain
from gr4vy_nb.widgets._plan_view import DESTRUCTIVE, EXPIRY
from tests.widgets.helpers import IDS, SAMPLE, WITH_PASSENGERS, planned_app, upload_value, writes

MISSING = "00000000-0000-4000-8000-000000000000"


def _until(check: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _seen(widget: w.HTML) -> list[str]:
    seen: list[str] = []
    widget.observe(lambda change: seen.append(plain(change["new"])), names="value")
    return seen


def test_cancel_note_goes_with_the_run_and_each_kind_says_itself_with_an_eta(
        conn: Connection, sandbox_clean: Sandbox, tmp_path: Path) -> None:
    ids = IDS[:30]
    app = planned_app(conn, tmp_path, ids)
    sandbox_clean.configure(latency_ms=40)
    app.workers.value = 2
    seen = _seen(app.runner.counters)
    app.on_apply()
    _until(lambda: app.runner.last_progress is not None and app.runner.last_progress.done >= 4)
    app.on_cancel()
    assert "cancelling" in plain(app.runner.note.value)
    run = app.wait(60)
    assert run.state == "cancelled", run.describe()
    # The run has ended: "cancelling" is gone from under Apply and from every message area.
    assert app.runner.note.value == ""
    assert "cancelling" not in app.apply_messages.text and "cancelling" not in app.messages.text
    assert any(t.startswith("applying:") and "left" in t for t in seen), seen
    # A cancelled run with no failure: no errors.csv, and its title says what is left, in words.
    unsent = run.counts["unprocessed"]
    assert run.counts["failed"] == 0 and unsent > 0
    assert "download='errors.csv'" not in app.results.downloads.value
    assert f"{unsent} not sent yet (Resume run sends them)" in plain(app.results.downloads.value)
    title = plain(app.results.title.value)
    assert "cancelled before it was sent" not in title
    assert f"{unsent} session(s) not sent yet: Resume run sends them" in title
    assert "Stopped" not in app.messages.text
    assert app.results.status_filter.value == "not succeeded"  # open on what needs attention

    seen.clear()
    app.on_resume()
    resumed = app.wait(60)
    assert resumed.state == "finished", resumed.describe()
    assert any(t.startswith("resuming:") and "left" in t for t in seen), seen
    # The engine says it is resuming (the panel reads it from the progress, not from its own label).
    assert app.runner.last_progress.resumed and app.runner.last_progress.kind == "apply"
    assert plain(app.runner.counters.value).startswith("resume finished")
    assert "resume finished" in app.apply_messages.text and "cancelling" not in app.apply_messages.text

    seen.clear()
    app.on_rollback()
    app.on_confirm_rollback()
    back = app.wait(60)
    assert back.kind == "rollback" and back.counts["succeeded"] == len(ids), back.describe()
    assert any(t.startswith("rolling back:") and "left" in t for t in seen), seen
    assert app.apply_messages.text.splitlines()[-1].startswith("rollback finished")


def test_a_run_in_progress_refusal_goes_when_the_run_ends(conn: Connection, sandbox_clean: Sandbox,
                                                          tmp_path: Path) -> None:
    ids = IDS[:12]
    app = planned_app(conn, tmp_path, ids)
    sandbox_clean.configure(latency_ms=60)
    app.workers.value = 1
    app.on_apply()
    app.on_rollback()  # refused while the run goes on: nothing sent
    app.on_apply()
    assert app.why_not(Action.ROLLBACK).code == ReasonCode.RUN_IN_PROGRESS
    assert sum("a run is in progress" in e for e in app.messages.errors) == 2, app.messages.text
    app.wait(60)
    assert "a run is in progress" not in app.messages.text
    assert "a run is in progress" not in app.apply_messages.text
    assert writes(sandbox_clean) == dict.fromkeys(ids, 1)


def _destructive_app(conn: Connection, tmp_path: Path) -> tuple[BulkUpdateApp, str]:
    target = next(s for s in WITH_PASSENGERS if len(s["airline"]["passengers"]) == 4)
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    csv = f"checkout_session_id,passenger_index,first_name\n{target['id']},1,Hanna\n".encode()
    app.upload.value = upload_value(("passengers.csv", csv))
    app.on_validate()
    app.on_plan()
    return app, target["id"]


def test_the_plan_says_what_run_waits_for_and_its_summary_names_the_removal_in_red(
        conn: Connection, sandbox_clean: Sandbox, tmp_path: Path) -> None:
    app, _sid = _destructive_app(conn, tmp_path)
    assert app.plan.consent == "remove 3 passengers in 1 session"
    # Not "plan ready ... then Run" while Run waits for the consent box: the status says what it waits for.
    status = plain(app.plan_status.value)
    assert "plan ready" not in status and "before Run: tick the consent box" in status
    assert "plan ready" not in app.plan_messages.text and app.plan_messages.kind != "ok"
    app.consent_box.value = True
    assert plain(app.plan_status.value).startswith("plan ready: 1 session(s) to update")
    app.consent_box.value = False
    assert "before Run" in plain(app.plan_status.value)
    # The summary line itself names the removal, in red; the body notes are folded away as technical notes.
    first_line = app.plan_summary.value.split("<br>")[0]
    assert "destructive: would remove 3 passengers in 1 session" in plain(first_line)
    assert f"color:{DESTRUCTIVE}" in first_line
    shown, _, folded = app.plan_summary.value.partition("<details")
    assert "bodies:" not in plain(shown) and "bodies:" in folded and "technical notes" in plain(folded)
    assert "note:" not in plain(shown) and f"color:{EXPIRY}" not in shown.split("<br>")[0]
    # The expiry warning next to Run is never the destructive red.
    assert f"color:{DESTRUCTIVE}" not in app.expiry_note.value


def test_a_header_only_upload_says_nothing_to_do(conn: Connection, sandbox_clean: Sandbox, tmp_path: Path) -> None:
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    app.upload.value = upload_value(("sessions.csv", b"checkout_session_id,metadata.review\n"))
    app.on_validate()
    assert app.upload_obj is not None and app.upload_obj.ok
    assert "nothing to do: the files name no session" in app.validation_messages.text
    assert "validation passed" not in app.validation_messages.text
    assert app.plan_button.disabled and app.why_not(Action.PLAN).code == ReasonCode.NOTHING_TO_PLAN
    assert plain(app.plan_reason.value) == "nothing to do: the files name no session"
    app.on_plan()
    assert app.plan is None and sandbox_clean.stats()["total_requests"] == 0


def test_retry_failed_leaves_out_sessions_that_can_never_succeed(conn: Connection, sandbox_clean: Sandbox,
                                                                 tmp_path: Path) -> None:
    ids = [*IDS[:4], MISSING]
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    rows = "\n".join(f"{i},q4" for i in ids)
    app.upload.value = upload_value(("sessions.csv", f"checkout_session_id,metadata.review\n{rows}\n".encode()))
    app.on_validate()
    app.on_plan()
    sandbox_clean.set_faults([{"method": "PUT", "session_id": ids[1], "action": "status", "status": 422,
                               "message": "refused for the test"}])
    app.on_apply()
    run = app.wait(60)
    assert run.counts["failed"] == 2, run.describe()
    # Opened on what needs attention: the two failures, not the succeeded rows.
    assert app.results.status_filter.value == "not succeeded"
    assert sorted(app.results.table.frame["checkout_session_id"]) == sorted([ids[1], MISSING])
    sandbox_clean.set_faults([])
    app.on_retry_failed()
    assert app.plan is not None, app.messages.text
    assert [i.session_id for i in app.plan.items] == [ids[1]]  # the 404 session is not planned again
    assert "the files changed" not in app.messages.text and "retrying 1 session(s)" in app.messages.text
    app.on_apply()
    assert app.wait(60).counts["succeeded"] == 1

    # A run whose only failure is a 404 offers no retry at all.
    only = BulkUpdateApp(conn, runs_dir=tmp_path / "runs2")
    only.upload.value = upload_value(("sessions.csv", f"checkout_session_id,metadata.review\n{IDS[5]},a\n"
                                                      f"{MISSING},a\n".encode()))
    only.on_validate()
    only.on_plan()
    only.on_apply()
    assert only.wait(60).counts["failed"] == 1
    assert only.results.retry_button.disabled and "not found" in only.results.retry_button.tooltip


def test_the_problems_table_quotes_the_id_as_written_and_shows_it_before_the_message(
        conn: Connection, tmp_path: Path) -> None:
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    app.upload.value = upload_value(("sessions.csv", b"checkout_session_id,metadata.tag\nORD-000042,x\n"))
    app.on_validate()
    frame = app.problems_table.frame
    assert frame["checkout_session_id"].tolist() == ["ORD-000042"] and frame["value"].tolist() == ["ORD-000042"]
    columns = list(frame.columns)
    assert columns.index("checkout_session_id") < columns.index("message")


def test_the_results_table_shows_short_columns_before_sentences(conn: Connection, tmp_path: Path) -> None:
    app = planned_app(conn, tmp_path, IDS[:2])
    app.on_apply()
    app.wait(60)
    columns = list(app.results.table.itable.df.columns)
    assert columns[:4] == ["checkout_session_id", "status", "attempts", "http_status"]
    assert columns.index("message") > columns.index("attempts")


@pytest.mark.parametrize(("minor", "currency", "shown"), [
    (1299, "EUR", "12.99 EUR"), (1299, "jpy", "1,299 JPY"), (1299, "KWD", "1.299 KWD"), (-5, "USD", "-0.05 USD"),
    (123456789, "GBP", "1,234,567.89 GBP"), (pd.NA, "EUR", ""), (None, "EUR", ""), (1299, None, "1299"),
])
def test_amounts_are_shown_in_their_currency_units(minor: Any, currency: Any, shown: str) -> None:
    assert amount_text(minor, currency) == shown


def test_the_explorer_shows_amounts_in_their_currency_and_keeps_them_exact(conn: Connection) -> None:
    first = SAMPLE[0]
    explorer = SessionExplorer(conn)
    explorer.ids_box.value = first["id"]
    explorer.on_fetch()
    sessions = explorer.tables["sessions"].itable.df
    assert sessions["amount"].tolist() == [amount_text(first["amount"], first["currency"])]
    assert "<NA>" not in explorer.tables["sessions"].itable._dt_args["data_json"]
    items = explorer.tables["cart_items"].itable.df
    assert items["unit_amount"].tolist()[0] == amount_text(first["cart_items"][0]["unit_amount"], first["currency"])
    assert explorer.frames.sessions["amount"].tolist() == [first["amount"]]  # the data stays exact
    assert explorer.tables["sessions"].frame["amount"].tolist() == [first["amount"]]


def _widgets(root: w.Widget) -> list[w.Widget]:
    out = [root]
    for child in getattr(root, "children", ()) or ():
        out.extend(_widgets(child))
    return out


def test_no_button_label_is_cut(conn: Connection, tmp_path: Path) -> None:
    """The default button width (about 148 px) cuts a label of more than about 14 characters."""
    apps = [BulkUpdateApp(conn, runs_dir=tmp_path / "runs"), RunsBrowser(conn, runs_dir=tmp_path / "runs"),
            SessionExplorer(conn), ConnectionPanel(conn)]
    checked = 0
    for app in apps:
        for widget in _widgets(app.widget):
            if isinstance(widget, w.Button | w.FileUpload) and len(widget.description) > 12:
                checked += 1
                assert widget.layout.width == "auto" or widget.layout.min_width, widget.description
    assert checked >= 6


def test_the_plan_shows_amounts_in_their_currency_and_keeps_them_exact(conn: Connection, tmp_path: Path) -> None:
    first = SAMPLE[0]
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    app.upload.value = upload_value(("sessions.csv", f"checkout_session_id,amount\n{first['id']},60000\n".encode()))
    app.on_validate()
    app.on_plan()
    row = app.diff_table.itable.df.iloc[0]
    assert (row["path"], row["before"], row["after"]) == (
        "amount", amount_text(first["amount"], first["currency"]), amount_text(60000, first["currency"]))
    assert amount_text(60000, first["currency"]) in plain(app.diff_view.value)
    assert app.plan.diff[["before", "after"]].iloc[0].tolist() == [first["amount"], 60000]  # exact
    assert app.diff_table.frame["after"].tolist() == [60000]
