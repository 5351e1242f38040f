"""The app's validation step shows the problems grouped by file, column and rule, expandable to the cells
(issue 22, item 4), and offers the choice of what a plan does with values an editor rewrote (item 1)."""

from __future__ import annotations

from pathlib import Path

from gr4vy_nb.notebook_support import Connection
from gr4vy_nb.updates.reasons import Action
from gr4vy_nb.widgets import BulkUpdateApp
from tests.widgets.helpers import IDS, upload_value


def test_validation_groups_the_problems_and_expands_a_group_to_its_cells(conn: Connection, tmp_path: Path) -> None:
    rows = ["checkout_session_id,metadata.tag,metadata.code"]
    rows += [f"{IDS[i]},#REF!,ok" for i in range(6)] + ["not-a-uuid,x,#NAME?"]
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    app.upload.value = upload_value(("sessions.csv", ("\n".join(rows) + "\n").encode()))
    app.on_validate()
    view = app.problems_view
    groups = view.groups.frame
    shown = groups[["column", "rule", "count", "lines"]].astype(object).values.tolist()
    assert shown[0] == ["metadata.tag", "spreadsheet_rewrite", 6, "lines 2, 3, 4, \u2026 (2\u20137)"]  # by first line
    assert sorted(shown[1:]) == [["checkout_session_id", "uuid", 1, "line 8"],
                                 ["metadata.code", "spreadsheet_rewrite", 1, "line 8"]]
    assert "8 problem(s) in 3 group(s)" in view.groups.note.value
    assert len(app.problems_table.frame) == 8  # every cell until a group is chosen
    assert view.choice.layout.display is None and len(view.choice.options) == 4
    view.choice.value = 0  # the #REF! group
    cells = app.problems_table.frame
    assert cells.line.tolist() == [2, 3, 4, 5, 6, 7] and set(cells.column) == {"metadata.tag"}
    assert "6 cell(s) of the chosen group" in app.problems_table.note.value
    view.choice.value = -1
    assert len(app.problems_table.frame) == 8 and "8 problem(s)" in app.problems_table.note.value


def test_the_rewrites_choice_keeps_by_default(conn: Connection, tmp_path: Path) -> None:
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    assert app.rewrites_mode.value == "keep"
    assert [value for _label, value in app.rewrites_mode.options] == ["keep", "error", "send"]
    assert app.rewrites_mode in app.widget.children


def test_the_rewrites_choice_reaches_the_plan(conn: Connection, tmp_path: Path) -> None:
    """A phone number without its + (a spreadsheet's number): kept by default, refused when the choice says so."""
    sid, phone = next((sid, p["phone_number"]) for sid in IDS
                      for p in (conn.client.get_checkout_session(sid).get("airline") or {}).get("passengers") or []
                      if str(p.get("phone_number") or "").startswith("+"))
    body = f"checkout_session_id,passenger_index,phone_number\n{sid},0,{phone[1:]}\n".encode()
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    app.lists_mode.value = "patch"
    plans = {}
    for choice in ("keep", "error"):
        app.rewrites_mode.value = choice
        app.upload.value = upload_value(("passengers.csv", body))
        app.on_validate()
        # Offline the cell is no phone number; only the live value tells it is one rewritten: Plan is offered.
        assert app.upload_obj.may_be_rewrites and app.why_not(Action.PLAN) is None
        assert "Plan compares them with the sessions as they are" in app.validation_messages.text
        app.on_plan()
        plans[choice] = app.plan
    kept, refused = plans["keep"], plans["error"]
    assert kept.ok and kept.changes == [] and kept.problems.rule.tolist() == ["rewrite_kept"]
    assert not refused.ok and refused.errors.rule.tolist() == ["spreadsheet_rewrite"]
