"""The problems table: one column set, one builder that masks values and messages, one formatter."""

from __future__ import annotations

import pandas as pd
import pytest

from gr4vy_nb.errors import InputError
from gr4vy_nb.problems import (
    COLUMNS,
    Problems,
    Rule,
    Severity,
    api_rule,
    concat,
    errors,
    first_problem,
    frame,
    has_errors,
    mask_message,
    ordered,
    refuse,
)


def _mask(column, value, table):
    return f"masked({table}.{column})" if column == "last_name" else value


def test_an_empty_table_has_the_columns_and_dtypes():
    df = frame()
    assert tuple(df.columns) == COLUMNS and len(df) == 0
    assert str(df["line"].dtype) == "Int64" and all(str(df[c].dtype) == "string" for c in COLUMNS if c != "line")


def test_the_builder_masks_the_value_and_every_quotation_of_it():
    found = Problems(mask=_mask)
    found.add(Rule.MAX_LENGTH, "'Smith\\n' is too long; Smith\n is not allowed", file="passengers.csv", line=3,
              column="last_name", value="Smith\n", table="passengers", session_id="s1")
    found.warn(Rule.LEADING_ZEROS, "'0012' lost zeros", file="cart_items.csv", line=2, column="sku", value="12")
    df = found.frame()
    first = df.iloc[0]
    assert first["value"] == "masked(passengers.last_name)"
    assert "Smith" not in first["message"] and first["message"].count("masked(passengers.last_name)") == 2
    assert (first["rule"], first["severity"], first["checkout_session_id"], first["line"]) == (
        "max_length", "error", "s1", 3)
    assert df.iloc[1]["value"] == "12" and df.iloc[1]["severity"] == Severity.WARNING
    assert found.error_count == 1 and len(found) == 2


def test_mask_message_leaves_a_message_alone_when_nothing_is_masked():
    assert mask_message("'x' is bad", "x", "x") == "'x' is bad"
    assert mask_message("'' is bad", "", "***") == "'' is bad"
    assert mask_message("no value", None, "***") == "no value"


def test_first_problem_names_file_line_and_column_and_counts_the_rest():
    df = frame([
        {"file": "a.csv", "line": 4, "column": "amount", "rule": "type.integer", "message": "not a number",
         "severity": "error"},
        {"file": "a.csv", "line": 5, "rule": "ragged_row", "message": "ragged", "severity": "error"},
        {"file": "a.csv", "rule": "delimiter", "message": "semicolons", "severity": "warning"},
    ])
    assert first_problem(df) == "a.csv, line 4, column 'amount': not a number (and 1 more problem)"
    assert first_problem(df.iloc[2:]) == "a.csv: semicolons"
    assert first_problem(frame()) == "no problems"
    error = refuse(df)
    assert isinstance(error, InputError) and str(error).startswith("a.csv, line 4") and len(error.problems) == 3


def test_ordered_puts_errors_first_and_keeps_one_error_per_cell():
    rows = [
        {"file": "b.csv", "line": 2, "column": "x", "rule": "r1", "message": "w", "severity": "warning"},
        {"file": "b.csv", "line": 3, "column": "x", "rule": "r2", "message": "e1", "severity": "error"},
        {"file": "a.csv", "line": 9, "column": "y", "rule": "r3", "message": "e2", "severity": "error"},
        {"file": "b.csv", "line": 3, "column": "x", "rule": api_rule("string_too_long"), "message": "again",
         "severity": "error"},
    ]
    df = ordered(frame(rows))
    assert df["message"].tolist() == ["e2", "e1", "w"]
    assert api_rule("missing") == "api.missing"


def test_concat_errors_and_has_errors():
    a = frame([{"file": "a", "rule": Rule.EMPTY, "message": "m", "severity": Severity.ERROR}])
    b = frame([{"file": "b", "rule": Rule.DELIMITER, "message": "m", "severity": Severity.WARNING}])
    both = concat([a, frame(), b])
    assert both["file"].tolist() == ["a", "b"] and has_errors(both) and not has_errors(b) and not has_errors(None)
    assert errors(both)["file"].tolist() == ["a"]
    assert concat([]).equals(frame())


@pytest.mark.parametrize("line", [None, pd.NA, float("nan"), 7])
def test_lines_are_nullable_integers(line):
    df = frame([{"file": "a", "line": line, "rule": "r", "message": "m", "severity": "error"}])
    assert str(df["line"].dtype) == "Int64"
    if isinstance(line, int):
        assert df["line"].iloc[0] == line
    else:
        assert pd.isna(df["line"].iloc[0])


def test_rule_codes_are_unique_text():
    values = [r.value for r in Rule]
    assert len(values) == len(set(values)) and all(v == v.strip().lower() for v in values)


def test_problems_frame_shape():
    # Moved from the CSV reader's tests: its problems table is this one.
    df = frame([{"file": "f", "line": 3, "rule": "r", "message": "m", "severity": "error"}])
    assert tuple(df.columns) == COLUMNS and str(df["line"].dtype) == "Int64"
    assert len(frame()) == 0
