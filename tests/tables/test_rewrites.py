"""What a spreadsheet makes of a value (:mod:`gr4vy_nb.tables.rewrites`): rewrites told from edits."""

from __future__ import annotations

from datetime import date

import pytest

from gr4vy_nb.tables.rewrites import CELL_LIMIT, is_error_value, rewrite_of

YEAR = date.today().year % 100

REWRITES = [
    # the cases measured on main with LibreOffice Calc 7.4 (issue 13)
    ("1E06", "1000000", "number"), ("0.50", "0.5", "number"), ("0901.21", "901.21", "number"),
    ("00000000", "0", "number"), ("1e3", "1000", "number"), ("1.50", "1.5", "number"),
    ("3.14159265358979323846", "3.14159265358979", "15th"), ("1E5", "100000", "number"),
    ("1/2", f"01/02/{YEAR:02d}", "date"), ("12:30", "12:30:00 PM", "date"), ("true", "TRUE", "boolean"),
    ("$5", "$5.00", "currency"), ("(123)", "-123", "currency"), ("50%", "50.00%", "currency"),
    # more of the same
    ("021464", "21464", "number"), ("816017752891", "8.16018E+11", "number"),
    ("1234567890123456789", "1234567890123460000", "15th"), ("1000000", "1,000,000", "number"),
    ("1.5", "1,5", "number"), ("+44509409120", "44509409120", "number"), ("50%", "0.5", "currency"),
    ("2026-12-01T10:00:00Z", "2026-12-01 10:00:00", "date"), ("1985-03-02", "02/03/1985", "date"),
    ("1985-03-02", "31108", "date"), ("2026-12-01", "2026-12-01 00:00:00", "date"),
    ("2026-12-01T10:00:00+01:00", "12/1/26 9:00", "date"), ("FALSE", "false", "boolean"),
    ("x" * (CELL_LIMIT + 10), "x" * CELL_LIMIT, "cut"),
    # pandas' defaults (issue 22): integers with blanks around them as floats, Python's booleans, long integers
    # as the 64-bit floats they become
    ("795", "795.0", "number"), ("816017752891", "816017752891.0", "number"), ("0", "0.0", "number"),
    ("true", "True", "boolean"), ("false", "False", "boolean"), ("9007199254740993", "9007199254740992.0", "15th"),
    ("12345678901234567890", "1.2345678901234568e+19", "15th"),
]
EDITS = [("abc", "ABC"), ("10", "10.5"), ("1/2", "1/3"), ("Smith", "Smyth"), ("1.2.3", "123"), ("4200", "4300"),
         ("true", "false"), ("12", "12:00"), ("1.5", "1.05"), ("021464", "021465"), ("2026-12-01", "2026-12-02"),
         ("x" * (CELL_LIMIT + 10), "y" * CELL_LIMIT), ("ios", "web"), ("1E06", "1E07"), ("same", "same"),
         ("795", "795.5"), ("9007199254740993", "9007199254740994.0"), ("1234567890123456", "1234567890123457.0")]


@pytest.mark.parametrize(("current", "new", "kind"), REWRITES, ids=[f"{c[:12]}->{n[:12]}" for c, n, _ in REWRITES])
def test_what_a_spreadsheet_makes_of_a_value_is_a_rewrite(current, new, kind):
    how = rewrite_of(current, new)
    assert how is not None and kind in how


@pytest.mark.parametrize(("current", "new"), EDITS, ids=[f"{c[:12]}->{n[:12]}" for c, n in EDITS])
def test_an_edit_is_not_a_rewrite(current, new):
    assert rewrite_of(current, new) is None


@pytest.mark.parametrize("text", ["#VALUE!", "#REF!", "#NAME?", "#DIV/0!", "#NUM!", "#NULL!", "#SPILL!", "#CALC!",
                                  "Err:502", " #ref! "])
def test_spreadsheet_error_values(text):
    assert is_error_value(text)


@pytest.mark.parametrize("text", ["#N/A", "#hashtag", "REF!", "Err:", "#VALUE"])
def test_not_error_values(text):
    assert not is_error_value(text)
