"""Parsing cells against the field spec: every bad value named with file, line, column and a rule."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gr4vy_nb.tables.files import read_table
from gr4vy_nb.tables.reader import parse_cells

SID = "4d645fa6-d13c-413a-82f8-eda197b1165f"
SID2 = "5e756fb7-e24d-424b-93f9-fea2a8c2276a"


def _text(columns: dict[str, list[str | None]], first_line: int = 2) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    index = pd.Index(range(first_line, first_line + n), name="line")
    return pd.DataFrame({k: pd.array(v, dtype="string[pyarrow]") for k, v in columns.items()}, index=index)


def _one(table: str, column: str, value: str) -> pd.Series:
    frame = _text({"checkout_session_id": [SID], column: [value]} if column != "checkout_session_id"
                  else {column: [value]})
    problems = parse_cells(table, frame, file=f"{table}.csv", mask=False).problems
    assert len(problems) == 1, problems.to_dict("records")
    return problems.iloc[0]


@pytest.mark.parametrize("table,column,value,rule,says", [
    ("cart_items", "quantity", "12.99", "type.integer", "not a whole number"),
    ("cart_items", "unit_amount", "12.99", "type.integer", "12.99 is written 1299"),
    ("cart_items", "unit_amount", "1.23E+12", "type.integer", "scientific notation"),
    ("cart_items", "unit_amount", "1,299", "type.integer", "not a whole number"),
    ("cart_items", "quantity", "0", "minimum", "more than 0"),
    ("sessions", "amount", "100000000", "maximum", "at most 99,999,999"),
    ("sessions", "amount", "99999999999999999999999", "maximum", "far too large"),
    ("passengers", "date_of_birth", "16/07/2013", "date_format", "did you mean 2013-07-16?"),
    ("passengers", "date_of_birth", "2013-02-30", "date_format", "no such day"),
    ("passengers", "date_of_birth", "41471", "date_format", "Excel date serial"),
    ("legs", "stop_over", "yes", "type.boolean", "write true or false"),
    ("legs", "stop_over", "1", "type.boolean", "write true or false"),
    ("sessions", "checkout_session_id", "not-a-uuid", "uuid", "not a UUID"),
    ("sessions", "payment_service_id", "1234", "uuid", "not a UUID"),
    ("sessions", "currency", "eur", "pattern", "three-letter currency code"),
    ("passengers", "phone_number", "+44 1234", "pattern", "E.164"),
    ("cart_items", "product_type", "Physical", "enum", "did you mean 'physical'?"),
    ("cart_items", "product_type", "boat", "enum", "is not one of"),
    ("cart_items", "name", "x" * 256, "max_length", "at most 255"),
    ("cart_items", "name", "", "min_length", "must not be empty"),
    ("legs", "fare_basis_code", "ABCDEFGHI", "max_length", "at most 8"),
    ("legs", "departure_at", "2024-07-16 19:23", "datetime_format", "no UTC offset"),
    ("legs", "departure_at", "16/07/2024 19:23", "datetime_format", "RFC 3339"),
    ("cart_items", "categories", "[oops", "list_format", "not a JSON array"),
    ("cart_items", "categories", "ok|" + "x" * 51, "max_length", "item 2"),
    ("cart_items", "categories", "a||b", "min_length", "item 2"),
    ("sessions", "extra", "[1]", "json", "JSON object"),
    ("legs", "leg_index", "20", "max_items", "limit of 20 items"),
    ("cart_items", "item_index", "-1", "minimum", "at least 0"),
])
def test_bad_cells(table, column, value, rule, says):
    problem = _one(table, column, value)
    assert (problem["file"], problem["line"], problem["column"], problem["rule"], problem["severity"]) == (
        f"{table}.csv", 2, column, rule, "error")
    assert problem["value"] == value
    assert says in problem["message"]


def test_accepted_spellings_and_typed_values():
    frame = _text({
        "checkout_session_id": [SID, SID, SID, SID],
        "leg_index": ["0", " 1 ", "+2", "3"],
        "stop_over": ["TRUE", "false", "True", None],
        "fare_amount": ["1299", "0", "007", None],
        "departure_at": ["2024-07-16T19:23:00Z", "2024-07-16 21:23:00.5+02:00", "2024-07-16t19:23:00.1234567z", None],
        "carrier_name": ["BA", "NA", "Null", None],
    })
    parsed = parse_cells("legs", frame)
    assert parsed.ok and len(parsed.problems) == 0
    df, problems = parsed
    assert df is parsed.frame and problems is parsed.problems
    assert df.index.tolist() == [2, 3, 4, 5]
    assert df["leg_index"].tolist() == [0, 1, 2, 3] and str(df["leg_index"].dtype) == "Int64"
    assert df["stop_over"].tolist()[:3] == [True, False, True] and pd.isna(df["stop_over"].iloc[3])
    assert df["fare_amount"].tolist()[:3] == [1299, 0, 7]
    stamps = df["departure_at"]
    assert str(stamps.dtype) == "datetime64[us, UTC]"
    assert stamps.iloc[0] == stamps.iloc[1] - pd.Timedelta(milliseconds=500)
    assert stamps.iloc[2] == pd.Timestamp("2024-07-16T19:23:00.123456Z")
    assert df["carrier_name"].tolist()[:3] == ["BA", "NA", "Null"]


def test_dates_and_lists_are_typed():
    frame = _text({"checkout_session_id": [SID], "passenger_index": ["0"], "date_of_birth": ["1985-03-04"]})
    assert parse_cells("passengers", frame).frame["date_of_birth"].tolist() == [dt.date(1985, 3, 4)]
    frame = _text({"checkout_session_id": [SID, SID], "item_index": ["0", "1"], "categories": ["a|b\\|c", "[]"]})
    assert parse_cells("cart_items", frame).frame["categories"].tolist() == [["a", "b|c"], []]


def test_problems_are_all_collected_at_once_in_file_coordinates():
    frame = _text({"checkout_session_id": [SID, "bad", SID2], "amount": ["12.5", "1", "x"],
                   "currency": ["GBP", "gbp", "EUR"]}, first_line=5)
    problems = parse_cells("sessions", frame, file="upload/sessions.csv").problems
    assert sorted(zip(problems["line"], problems["column"], problems["rule"], strict=True)) == [
        (5, "amount", "type.integer"), (6, "checkout_session_id", "uuid"), (6, "currency", "pattern"),
        (7, "amount", "type.integer")]
    assert (problems["file"] == "upload/sessions.csv").all()


def test_personal_values_are_masked_in_problems():
    frame = _text({"checkout_session_id": [SID], "passenger_index": ["0"], "phone_number": ["+44 7700 900123"],
                   "date_of_birth": ["04/03/1985"]})
    problems = parse_cells("passengers", frame).problems
    assert len(problems) == 2
    for value in problems["value"]:
        assert "7700" not in value and "1985" not in value[:0] + value.split("#")[-1]
    assert problems.set_index("column").loc["phone_number", "value"].startswith("+44")
    raw = parse_cells("passengers", frame, mask=False).problems
    assert "+44 7700 900123" in raw["value"].tolist()


def test_keys_required_and_unique():
    frame = _text({"checkout_session_id": [SID, None, SID], "amount": ["1", "2", "3"]})
    problems = parse_cells("sessions", frame).problems
    assert problems[["line", "rule"]].values.tolist() == [[3, "required"], [4, "duplicate_key"]]
    assert "already on line 2" in problems["message"].iloc[1]
    frame = _text({"checkout_session_id": [SID, SID, SID2, SID], "item_index": ["0", "1", "0", "1"]})
    problems = parse_cells("cart_items", frame).problems
    assert problems[["line", "column", "rule"]].values.tolist() == [[5, "item_index", "duplicate_key"]]
    assert "already has item_index 1 on line 3" in problems["message"].iloc[0]


def test_a_session_with_21_legs_is_refused_once_at_the_21st_row():
    ids = [SID] * 21 + [SID2] * 20
    frame = _text({"checkout_session_id": ids, "departure_airport": ["LHR"] * 41})
    problems = parse_cells("legs", frame, file="legs.csv").problems
    assert problems[["line", "column", "rule"]].values.tolist() == [[22, "checkout_session_id", "max_items"]]
    assert "has 21 legs; at most 20" in problems["message"].iloc[0]


def test_unknown_columns_are_reported_with_a_hint():
    frame = _text({"checkout_session_id": [SID], "Amount": ["1"], "departure_airport": ["x"], "colour": ["red"]})
    problems = parse_cells("sessions", frame).problems.set_index("column")
    assert set(problems["rule"]) == {"unknown_column"} and (problems["line"] == 1).all()
    assert "did you mean 'amount'" in problems.loc["Amount", "message"]
    assert "belongs in legs.csv" in problems.loc["departure_airport", "message"]
    assert "metadata.colour" not in problems.index  # metadata.<any key> is a column, colour is not
    assert parse_cells("sessions", _text({"checkout_session_id": [SID], "metadata.colour": ["red"]})).ok


def test_cleared_cells_are_skipped():
    table = read_table(f"checkout_session_id,amount,metadata.note\n{SID},#N/A,'#N/A\n".encode())
    parsed = parse_cells("sessions", table.frame, cleared=table.cleared)
    assert parsed.ok and pd.isna(parsed.frame["amount"].iloc[0])
    assert parsed.frame["metadata.note"].tolist() == ["#N/A"]  # written '#N/A: data, not the marker
    unparsed = parse_cells("sessions", table.frame)  # without the mask, #N/A is just bad text
    assert unparsed.problems["rule"].tolist() == ["type.integer"]


def test_a_child_table_without_key_column_is_reported():
    problems = parse_cells("legs", _text({"departure_airport": ["LHR"]})).problems
    assert problems[["column", "rule"]].values.tolist() == [["checkout_session_id", "required"]]


def test_masked_problems_do_not_quote_personal_values_in_their_message() -> None:
    import pandas as pd

    from gr4vy_nb.tables.reader import parse_cells

    frame = pd.DataFrame({"checkout_session_id": ["8d3fe99b-1422-42e6-bbb3-932d95ae5f79"], "passenger_index": ["0"],
                          "phone_number": ["0044-CANARY-PHONE"]}, index=[2]).astype("string")
    masked = parse_cells("passengers", frame).problems
    assert len(masked) == 1 and "CANARY" not in masked.to_string()
    raw = parse_cells("passengers", frame, mask=False).problems
    assert "0044-CANARY-PHONE" in raw["message"].iloc[0]


# ----------------------------------------------------------------------------- fast paths = reference


def _reference_list(f, text):
    """The per-cell way (decode_list on every cell): what the column-wise list parser must equal."""
    import pyarrow as pa

    from gr4vy_nb.tables.cells import _check_text, decode_list

    values, out, owners, numbers, flat = [], [], [], [], []
    for i, v in enumerate(text.to_pylist()):
        if v is None:
            values.append(None)
            continue
        try:
            items = decode_list(v)
        except ValueError as exc:
            out.append((i, "list_format", f"{v!r} {exc}"))
            values.append(None)
            continue
        if f.max_items is not None and len(items) > f.max_items:
            out.append((i, "max_items", f"{len(items)} items; at most {f.max_items} allowed"))
        owners += [i] * len(items)
        numbers += range(1, len(items) + 1)
        flat += items
        values.append(items)
    if flat:
        out += [(owners[j], rule, f"item {numbers[j]}: {m}") for j, rule, m in _check_text(f.item, pa.array(flat))]
    return values, out


_CELL = st.one_of(
    st.none(),
    st.lists(st.sampled_from([*"ab |\\[]\",\t\x1c\x85\u00a0\u3000é", "x" * 49]), max_size=12).map("".join),
    st.lists(st.text(max_size=4), max_size=3).map(json.dumps),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_CELL, max_size=12))
def test_list_cells_parse_column_wise_exactly_as_cell_by_cell(cells):
    import pyarrow as pa

    from gr4vy_nb.tables import spec as F
    from gr4vy_nb.tables.cells import _parse_list

    f = F.field_for("cart_items", "categories")
    for arrow_type in (pa.string(), pa.large_string()):
        typed, found = _parse_list(f, pa.array(cells, pa.string()).cast(arrow_type))
        values, expected = _reference_list(f, pa.array(cells, pa.string()))
        assert typed.to_pylist() == values
        assert found == expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet=st.sampled_from([*"aZ-é€ ", "\U0001f600"]),
                                               max_size=8)), max_size=10),
       st.sampled_from([(None, None), (1, None), (1, 3), (2, 5), (None, 4), (3, 3)]))
def test_text_lengths_are_counted_in_characters(cells, bounds):
    import pyarrow as pa

    from gr4vy_nb.tables import spec as F
    from gr4vy_nb.tables.cells import _check_text

    base = F.field_for("cart_items", "name")
    field = dataclasses.replace(base, min_length=bounds[0], max_length=bounds[1], pattern=None)
    found = _check_text(field, pa.array(cells, pa.string()))
    expected = []
    for i, v in enumerate(cells):
        if v is not None and bounds[0] is not None and len(v) < bounds[0]:
            expected.append((i, "min_length"))
    for i, v in enumerate(cells):
        if v is not None and bounds[1] is not None and len(v) > bounds[1]:
            expected.append((i, "max_length"))
    assert [(i, rule) for i, rule, _ in found] == expected
    for i, rule, message in found:
        if rule == "max_length":
            assert message.startswith(f"is {len(cells[i])} characters long")
