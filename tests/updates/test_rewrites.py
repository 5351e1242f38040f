"""Spreadsheet rewrites caught against the current value, masking in messages, friendlier files (issue 13)."""

from __future__ import annotations

import io

import pytest

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.config import Settings
from gr4vy_nb.tables.masking import unmasked
from gr4vy_nb.updates.plan import plan_updates
from tests.updates.helpers import S0, S1, write


@pytest.fixture
def fresh(sandbox_clean):
    """A client on a freshly seeded sandbox (the tests change sessions' metadata)."""
    with Gr4vyClient(Settings.for_sandbox(sandbox_clean), workers=4) as c:
        yield c


def _rules(plan):
    return {(r.file, r.line, r.column, r.rule, r.severity) for r in plan.problems.itertuples()}


def test_a_spreadsheet_rewrite_is_an_error_naming_both_values_masked(tmp_path, client):
    write(tmp_path, "passengers.csv", f"checkout_session_id,passenger_index,phone_number\n{S0},0,44509409120\n")
    plan = plan_updates(tmp_path, client=client)
    rewrite = plan.problems[plan.problems.rule == "spreadsheet_rewrite"]
    assert [(r.file, r.line, r.column, r.severity) for r in rewrite.itertuples()] == [
        ("passengers.csv", 2, "phone_number", "error")]
    message = rewrite.message.iloc[0]
    # A phone number is personal: neither the new nor the current value in clear, anywhere in the problems.
    assert "44509409120" not in plan.problems.to_string() and "+44*******20 #" in message
    assert "Text" in message and "XLSX" in message and "sending rewrites as written" in message
    assert not plan.ok and plan.changes == []


def test_raw_unmasks_every_message(tmp_path, client):
    write(tmp_path, "passengers.csv", f"checkout_session_id,passenger_index,phone_number\n{S0},0,44509409120\n")
    with unmasked():
        plan = plan_updates(tmp_path, client=client)
    rewrite = plan.problems[plan.problems.rule == "spreadsheet_rewrite"].iloc[0]
    assert rewrite.value == "44509409120" and "'+44509409120'" in rewrite.message


def test_allow_spreadsheet_rewrites_sends_them_with_a_warning(tmp_path, client):
    write(tmp_path, "cart_items.csv", f"checkout_session_id,item_index,sku\n{S0},0,21464\n{S0},1,\n{S0},2,\n")
    assert ("cart_items.csv", 2, "sku", "spreadsheet_rewrite", "error") in _rules(plan_updates(tmp_path, client=client))
    plan = plan_updates(tmp_path, client=client, allow_spreadsheet_rewrites=True)
    assert ("cart_items.csv", 2, "sku", "spreadsheet_rewrite", "warning") in _rules(plan)
    assert plan.ok and "21464" in plan.diff.after.astype(str).tolist()


def test_damage_warnings_only_on_cells_that_change(tmp_path, fresh):
    fresh.update_checkout_session(S0, {"metadata": {"sku": "1E06", "big": "1234567890123450000"}})
    write(tmp_path, "sessions.csv", f"checkout_session_id,metadata.sku,metadata.big\n{S0},1E06,1234567890123450000\n")
    plan = plan_updates(tmp_path, client=fresh)
    assert plan.ok and plan.changes == [] and plan.problems.empty  # an unedited value: no warning
    write(tmp_path, "sessions.csv", f"checkout_session_id,metadata.sku,metadata.big\n{S0},1000000,1.2E+18\n")
    plan = plan_updates(tmp_path, client=fresh)
    assert {("sessions.csv", 2, "metadata.sku", "spreadsheet_rewrite", "error"),
            ("sessions.csv", 2, "metadata.big", "spreadsheet_rewrite", "error"),  # its digits past the 2nd lost
            ("sessions.csv", 2, "metadata.big", "scientific_notation", "warning")} <= _rules(plan)
    write(tmp_path, "sessions.csv", f"checkout_session_id,metadata.sku\n{S0},2E06\n")
    assert plan_updates(tmp_path, client=fresh).errors.empty  # another number: an edit


def test_spreadsheet_error_values_are_refused_and_na_still_clears(tmp_path, fresh):
    client = fresh
    write(tmp_path, "sessions.csv", f"checkout_session_id,metadata.channel,metadata.campaign\n{S0},#REF!,#N/A\n"
          f"{S1},#DIV/0!,\n")
    plan = plan_updates(tmp_path, client=client)
    errors = {(r.line, r.column, r.rule) for r in plan.errors.itertuples()}
    assert errors == {(2, "metadata.channel", "spreadsheet_rewrite"), (3, "metadata.channel", "spreadsheet_rewrite")}
    write(tmp_path, "sessions.csv", f"checkout_session_id,metadata.campaign\n{S0},#N/A\n")
    plan = plan_updates(tmp_path, client=client)
    assert plan.ok and [(r.path, r.after) for r in plan.diff.itertuples()] == [("metadata.campaign", None)]


def test_a_header_only_file_is_nothing_to_do(tmp_path, client):
    write(tmp_path, "sessions.csv", "checkout_session_id,metadata.channel\n")
    plan = plan_updates(tmp_path, client=client)
    assert plan.ok and plan.items == [] and "nothing to do" in plan.warnings.message.iloc[0]


def test_a_file_that_is_not_a_table_is_refused_as_such(tmp_path, client):
    write(tmp_path, "notes.txt", "call the bank, then\nupload, the, files\n")
    plan = plan_updates(tmp_path / "notes.txt", client=client)
    assert [(r.file, r.rule) for r in plan.errors.itertuples()] == [("notes.txt", "not_a_table")]


def _book(sheets: dict[str, list[list]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def test_xlsx_upload_cells_checked_like_csv(tmp_path, client):
    data = _book({
        "sessions": [["checkout_session_id", "metadata.channel"], [S1, "kiosk"], [], [S0, "#REF!"]],
        "cart_items": [["checkout_session_id", "item_index", "sku", None], [S0, 0, 21464], [S0, 1, None],
                       [S0, 2, None]],
        "notes": [["anything", "else"], ["not", "a table"]],
    })
    (tmp_path / "edits.xlsx").write_bytes(data)
    plan = plan_updates(tmp_path, client=client)  # a folder holding one workbook
    rules = _rules(plan)
    assert ("edits.xlsx:cart_items", 2, "sku", "spreadsheet_rewrite", "error") in rules  # a number cell for '021464'
    assert ("edits.xlsx:sessions", 4, "metadata.channel", "spreadsheet_rewrite", "error") in rules  # row 4: #REF!
    notes = plan.problems[plan.problems.file == "edits.xlsx:notes"]
    assert notes[["rule", "severity"]].values.tolist() == [["not_a_table", "warning"]]
    assert [(r.path, r.after, r.line) for r in plan.diff.itertuples()] == [("metadata.channel", "kiosk", 2)]
    # The same bytes given in memory (the widget's upload).
    again = plan_updates({"edits.xlsx": data}, client=client)
    assert len(again.diff) == 1 and len(again.errors) == len(plan.errors)
