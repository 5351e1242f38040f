"""Editor rewrites caught against the current value: kept by default (issue 22), refused or sent (issue 13)."""

from __future__ import annotations

import io

import pytest

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.config import Settings
from gr4vy_nb.tables.masking import unmasked
from gr4vy_nb.updates.plan import plan_updates
from tests.updates.helpers import S0, S1, errors_of, write


@pytest.fixture
def fresh(sandbox_clean):
    """A client on a freshly seeded sandbox (the tests change sessions' metadata)."""
    with Gr4vyClient(Settings.for_sandbox(sandbox_clean), workers=4) as c:
        yield c


def _rules(plan):
    return {(r.file, r.line, r.column, r.rule, r.severity) for r in plan.problems.itertuples()}


def test_a_rewrite_is_kept_by_default_once_per_column_masked(tmp_path, client):
    write(tmp_path, "passengers.csv", f"checkout_session_id,passenger_index,phone_number\n{S0},0,44509409120\n")
    plan = plan_updates(tmp_path, client=client, lists="patch")
    assert _rules(plan) == {("passengers.csv", 2, "phone_number", "rewrite_kept", "warning")}
    message = plan.problems.message.iloc[0]
    assert message.startswith("passengers.csv phone_number: 1 cell holds the current value as an editor rewrote it")
    assert "44509409120" not in plan.problems.to_string() and "+44*******20 #" in message
    assert plan.ok and plan.changes == [] and plan.diff.empty


def test_rewrites_error_refuses_naming_both_values_masked(tmp_path, client):
    write(tmp_path, "passengers.csv", f"checkout_session_id,passenger_index,phone_number\n{S0},0,44509409120\n")
    plan = plan_updates(tmp_path, client=client, rewrites="error")
    rewrite = plan.problems[plan.problems.rule == "spreadsheet_rewrite"]
    assert [(r.file, r.line, r.column, r.severity) for r in rewrite.itertuples()] == [
        ("passengers.csv", 2, "phone_number", "error")]
    message = rewrite.message.iloc[0]
    # A phone number is personal: neither the new nor the current value in clear, anywhere in the problems.
    assert "44509409120" not in plan.problems.to_string() and "+44*******20 #" in message
    assert "Text" in message and "XLSX" in message and "sending rewrites as written" in message
    assert "pd.read_csv" not in message  # nothing here looks like pandas: the spreadsheet advice
    assert not plan.ok and plan.changes == []


def test_raw_unmasks_every_message(tmp_path, client):
    write(tmp_path, "passengers.csv", f"checkout_session_id,passenger_index,phone_number\n{S0},0,44509409120\n")
    with unmasked():
        plan = plan_updates(tmp_path, client=client, rewrites="error")
        kept = plan_updates(tmp_path, client=client)
    rewrite = plan.problems[plan.problems.rule == "spreadsheet_rewrite"].iloc[0]
    assert rewrite.value == "44509409120" and "'+44509409120'" in rewrite.message
    assert "'44509409120' for '+44509409120'" in kept.problems.message.iloc[0]


def test_rewrites_keep_error_send(tmp_path, client):
    write(tmp_path, "cart_items.csv", f"checkout_session_id,item_index,sku\n{S0},0,21464\n{S0},1,\n{S0},2,\n")
    kept = plan_updates(tmp_path, client=client)
    assert _rules(kept) == {("cart_items.csv", 2, "sku", "rewrite_kept", "warning")}
    assert kept.ok and kept.changes == []
    assert ("cart_items.csv", 2, "sku", "spreadsheet_rewrite", "error") in _rules(
        plan_updates(tmp_path, client=client, rewrites="error"))
    for plan in (plan_updates(tmp_path, client=client, rewrites="send"),
                 plan_updates(tmp_path, client=client, allow_spreadsheet_rewrites=True)):  # the old name
        assert ("cart_items.csv", 2, "sku", "spreadsheet_rewrite", "warning") in _rules(plan)
        assert plan.ok and "21464" in plan.diff.after.astype(str).tolist()


def test_pandas_rewrites_get_pandas_advice(tmp_path, client):
    write(tmp_path, "cart_items.csv", f"checkout_session_id,item_index,sku,quantity\n{S0},0,21464.0,1.0\n"
          f"{S0},1,,\n{S0},2,,\n")
    plan = plan_updates(tmp_path, client=client, rewrites="error")
    rewrite = plan.errors[plan.errors.rule == "spreadsheet_rewrite"]
    assert rewrite.column.tolist() == ["sku"]  # 1.0 is the quantity 1: the same integer, nothing to refuse
    assert "SessionFrames.read_csv" in rewrite.message.iloc[0] and "LibreOffice" not in rewrite.message.iloc[0]
    kept = plan_updates(tmp_path, client=client)
    assert kept.ok and kept.changes == []
    assert sorted(kept.warnings.column) == ["quantity", "sku"]  # the quantity too: the same value written otherwise


def test_an_integral_decimal_is_that_integer_and_an_exponent_is_not(tmp_path, client):
    write(tmp_path, "cart_items.csv", f"checkout_session_id,item_index,quantity,tax_amount\n{S0},0,7.0,123.0\n"
          f"{S0},1,,1.23E+2\n{S0},2,,12.5\n")
    plan = plan_updates(tmp_path, client=client)
    assert errors_of(plan) == [["cart_items.csv", 3, "tax_amount", "type.integer"],
                               ["cart_items.csv", 4, "tax_amount", "type.integer"]]
    write(tmp_path, "cart_items.csv", f"checkout_session_id,item_index,quantity,tax_amount\n{S0},0,7.0,123.0\n"
          f"{S0},1,,\n{S0},2,,\n")
    plan = plan_updates(tmp_path, client=client)
    assert plan.ok and plan.warnings.empty
    after = {(r.path, r.after) for r in plan.diff.itertuples()}
    assert after == {("cart_items[0].quantity", 7), ("cart_items[0].tax_amount", 123)}, after


def test_damage_warnings_only_on_cells_that_change(tmp_path, fresh):
    fresh.update_checkout_session(S0, {"metadata": {"sku": "1E06", "big": "1234567890123450000"}})
    write(tmp_path, "sessions.csv", f"checkout_session_id,metadata.sku,metadata.big\n{S0},1E06,1234567890123450000\n")
    plan = plan_updates(tmp_path, client=fresh)
    assert plan.ok and plan.changes == [] and plan.problems.empty  # an unedited value: no warning
    write(tmp_path, "sessions.csv", f"checkout_session_id,metadata.sku,metadata.big\n{S0},1000000,1.2E+18\n")
    plan = plan_updates(tmp_path, client=fresh, rewrites="error")
    assert {("sessions.csv", 2, "metadata.sku", "spreadsheet_rewrite", "error"),
            ("sessions.csv", 2, "metadata.big", "spreadsheet_rewrite", "error"),  # its digits past the 2nd lost
            ("sessions.csv", 2, "metadata.big", "scientific_notation", "warning")} <= _rules(plan)
    kept = plan_updates(tmp_path, client=fresh)  # by default: both kept, their damage warnings gone
    assert _rules(kept) == {("sessions.csv", 2, "metadata.sku", "rewrite_kept", "warning"),
                            ("sessions.csv", 2, "metadata.big", "rewrite_kept", "warning")}
    assert kept.ok and kept.changes == []
    write(tmp_path, "sessions.csv", f"checkout_session_id,metadata.sku\n{S0},2E06\n")
    assert plan_updates(tmp_path, client=fresh, rewrites="error").errors.empty  # another number: an edit


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
    plan = plan_updates(tmp_path, client=client, rewrites="error")  # a folder holding one workbook
    rules = _rules(plan)
    assert ("edits.xlsx:cart_items", 2, "sku", "spreadsheet_rewrite", "error") in rules  # a number cell for '021464'
    assert ("edits.xlsx:sessions", 4, "metadata.channel", "spreadsheet_rewrite", "error") in rules  # row 4: #REF!
    notes = plan.problems[plan.problems.file == "edits.xlsx:notes"]
    assert notes[["rule", "severity"]].values.tolist() == [["not_a_table", "warning"]]
    assert [(r.path, r.after, r.line) for r in plan.diff.itertuples()] == [("metadata.channel", "kiosk", 2)]
    # The same bytes given in memory (the widget's upload).
    again = plan_updates({"edits.xlsx": data}, client=client, rewrites="error")
    assert len(again.diff) == 1 and len(again.errors) == len(plan.errors)
    kept = plan_updates({"edits.xlsx": data}, client=client)  # by default the number cell keeps '021464'
    assert ("edits.xlsx:cart_items", 2, "sku", "rewrite_kept", "warning") in _rules(kept)
    assert len(kept.diff) == 1 and len(kept.errors) == 1  # #REF! is still refused
