"""Workbooks read as the four tables (:func:`gr4vy_nb.tables.workbooks.read_workbook`), as CSV files are."""

from __future__ import annotations

import datetime as dt
import io

import pandas as pd

from gr4vy_nb.tables.reader import read_tables
from gr4vy_nb.tables.workbooks import read_workbook, write_workbook


def _book(rows: list[list], title: str = "sessions", errors: dict[str, str] | None = None) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    for ref, text in (errors or {}).items():
        sheet[ref].value = text
        sheet[ref].data_type = "e"
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def test_cells_become_the_text_a_csv_holds_with_sheet_rows_as_lines():
    data = _book([["checkout_session_id", "a", "b", "c", None, None], [], ["x", 1, 0.5, True, None, None],
                  ["y", "0012", dt.datetime(2026, 12, 1, 10, 30), dt.datetime(2026, 12, 1), None, None],
                  ["z", "#N/A", "'#N/A", None]],
                 errors={"C5": "#REF!"})
    (sheet, table), = read_workbook(data, name="book.xlsx")[0]
    assert sheet == "sessions" and table.file == "book.xlsx:sessions"
    assert table.lines.tolist() == [3, 4, 5]  # the empty row 2 skipped; the header is row 1
    assert list(table.frame.columns) == ["checkout_session_id", "a", "b", "c"]  # trailing unnamed columns dropped
    rows = table.frame.astype(object).where(table.frame.notna(), None).values.tolist()
    assert rows == [["x", "1", "0.5", "true"], ["y", "0012", "2026-12-01T10:30:00", "2026-12-01"],
                    ["z", "#N/A", "#REF!", None]]
    assert table.cleared["a"].tolist() == [False, False, True]  # text #N/A is the clear marker; '#N/A is data
    assert table.cleared["b"].tolist() == [False, False, False]


def test_a_value_in_an_unnamed_column_and_duplicate_names_are_reported():
    data = _book([["checkout_session_id", "a", "a"], ["x", 1, 2, 3]])
    sheets, problems = read_workbook(data, name="book.xlsx")
    assert sheets == [] and sorted(problems.rule) == ["duplicate_header", "ragged_row"]


def test_write_workbook_then_read_tables_gives_back_the_same_text(tmp_path):
    df = pd.DataFrame({"checkout_session_id": ["4d645fa6-d13c-413a-82f8-eda197b1165f"], "metadata.code": ["00123"],
                       "metadata.big": ["1234567890123456789"], "metadata.na": ["#N/A"], "amount": [1299],
                       "metadata.f": ["=1+1"]})
    write_workbook({"sessions": df}, tmp_path / "b.xlsx")
    tables, problems = read_tables(tmp_path / "b.xlsx")
    assert problems.empty
    t = tables["sessions"]
    assert t.file == "b.xlsx:sessions" and t.digest is not None and t.digest["table"] == "sessions"
    assert t.text.iloc[0].tolist() == ["4d645fa6-d13c-413a-82f8-eda197b1165f", "00123", "1234567890123456789",
                                       "#N/A", "1299", "=1+1"]
    assert not t.cleared.values.any()  # the text #N/A was data, and still is


def test_a_folder_holding_a_workbook_is_read(tmp_path):
    (tmp_path / "edits.xlsx").write_bytes(_book([["checkout_session_id", "metadata.channel"], ["x", "web"]]))
    tables, problems = read_tables(tmp_path)
    assert list(tables) == ["sessions"] and problems.empty
