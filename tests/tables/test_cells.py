"""Cells: text to typed values against the field spec, each bad value named with a rule; typed columns back to text."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gr4vy_nb.tables.cells import decode_list, encode_list
from gr4vy_nb.tables.reader import parse_cells
from tests.tables.helpers import SID, roundtrip, text_frame


def _one(table: str, column: str, value: str) -> pd.Series:
    frame = text_frame({"checkout_session_id": [SID], column: [value]} if column != "checkout_session_id"
                       else {column: [value]})
    problems = parse_cells(table, frame, file=f"{table}.csv", mask=False).problems
    assert len(problems) == 1, problems.to_dict("records")
    return problems.iloc[0]


@pytest.mark.parametrize("table,column,value,rule,says", [
    ("cart_items", "quantity", "12.99", "type.integer", "not a whole number"),
    ("cart_items", "quantity", "12.50", "type.integer", "not a whole number"),
    ("cart_items", "quantity", "12.", "type.integer", "not a whole number"),
    ("cart_items", "unit_amount", "12.99", "type.integer", "12.99 is written 1299"),
    ("cart_items", "unit_amount", "1.23E+12", "type.integer", "scientific notation"),
    ("cart_items", "unit_amount", "1,299", "type.integer", "not a whole number"),
    ("cart_items", "quantity", "0", "minimum", "more than 0"),
    ("sessions", "amount", "100000000", "maximum", "at most 99,999,999"),
    ("sessions", "amount", "99999999999999999999999", "maximum", "far too large"),
    ("passengers", "date_of_birth", "16/07/2013", "date_format", "write the year first"),  # personal: not reordered
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
    frame = text_frame({
        "checkout_session_id": [SID, SID, SID, SID],
        "leg_index": ["0", " 1 ", "+2", "3"],
        "stop_over": ["TRUE", "false", "True", None],
        "fare_amount": ["1299", "0.0", "007.00", None],  # an integral decimal (pandas' 1299.0) is that integer
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
    frame = text_frame({"checkout_session_id": [SID], "passenger_index": ["0"], "date_of_birth": ["1985-03-04"]})
    assert parse_cells("passengers", frame).frame["date_of_birth"].tolist() == [dt.date(1985, 3, 4)]
    frame = text_frame({"checkout_session_id": [SID, SID], "item_index": ["0", "1"], "categories": ["a|b\\|c", "[]"]})
    assert parse_cells("cart_items", frame).frame["categories"].tolist() == [["a", "b|c"], []]


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


# --------------------------------------------------------------------------- typed columns as text


def test_typed_columns_are_written_as_plain_values():
    df = pd.DataFrame({
        "i": pd.array([1, None, -3], dtype="Int64"),
        "b": pd.array([True, None, False], dtype="boolean"),
        "t": pd.to_datetime(["2024-07-16T21:23:00+02:00", None, "2024-01-01T00:00:00.5Z"], utc=True,
                            format="ISO8601").astype("datetime64[us, UTC]"),
        "l": pd.Series([["a", "b|c"], None, []], dtype=pd.ArrowDtype(pa.list_(pa.string()))),
        "f": [1.5, float("nan"), 2.0],
        "o": ["x", None, 3],
    })
    raw, table = roundtrip(df)
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[1] == '1,true,"2024-07-16T19:23:00Z","a|b\\|c","1.5","x"'
    assert lines[3] == '-3,false,"2024-01-01T00:00:00.500000Z","[]","2","3"'
    assert lines[2] == ",,,,,"  # an all-empty row is written, and skipped on reading
    assert table.frame.index.tolist() == [2, 4]
    assert table.frame.loc[4].tolist() == ["-3", "false", "2024-01-01T00:00:00.500000Z", "[]", "2", "3"]


# --------------------------------------------------------------------------- lists


@pytest.mark.parametrize("values,text", [
    (["travel", "flights"], "travel|flights"), (["a|b", "c\\d"], "a\\|b|c\\\\d"), (["solo"], "solo"),
    ([], "[]"), ([""], '[""]'), (["a", ""], '["a",""]'), (["[x", "y"], '["[x","y"]'), ([" pad"], '[" pad"]'),
])
def test_list_encoding_is_readable_and_exact(values, text):
    assert encode_list(values) == text
    assert decode_list(text) == values


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text()))
def test_list_encoding_is_lossless_for_any_list_of_strings(values):
    assert decode_list(encode_list(values)) == values


def test_hand_typed_lists():
    assert decode_list("travel | flights") == ["travel", "flights"]
    assert decode_list("C:\\path") == ["C:\\path"]
    with pytest.raises(ValueError, match="not a JSON array"):
        decode_list("[oops")
    with pytest.raises(ValueError, match="array of strings"):
        decode_list("[1, 2]")


_DATE_TIME_PIECES = ["2024", "-07", "-16", "-02-30", "T", "t", " ", "19:23", ":00", ".5", ".1234567", "Z", "z",
                     "+02:00", "-05:30", "x", "2013-02-30T00:00:00Z", "9999-12-31T23:59:59.999999Z"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.none(), st.lists(st.sampled_from(_DATE_TIME_PIECES), max_size=8).map("".join)),
                max_size=8))
def test_date_times_already_canonical_skip_the_normalising_with_the_same_result(cells):
    from gr4vy_nb.tables.cells import DATETIME_RE, _parse_temporal, parse_datetimes

    text = pa.array(cells, pa.string())
    typed, bad = parse_datetimes(text)
    slow_typed, slow_bad = _parse_temporal(text, DATETIME_RE, pa.timestamp("us", tz="UTC"))
    assert typed.equals(slow_typed) and bad.tolist() == slow_bad.tolist()


def test_canonical_date_times_take_the_short_way():
    import pyarrow.compute as pc

    from gr4vy_nb.tables.cells import _CANONICAL_DATETIME_RE, parse_datetimes

    text = pa.array(["2024-07-16T19:23:00Z", "2024-07-16T21:23:00.5+02:00", None])
    assert pc.all(pc.match_substring_regex(text, _CANONICAL_DATETIME_RE)).as_py()
    typed, bad = parse_datetimes(text)
    assert typed.to_pylist() == [dt.datetime(2024, 7, 16, 19, 23, tzinfo=dt.UTC),
                                 dt.datetime(2024, 7, 16, 19, 23, 0, 500000, tzinfo=dt.UTC), None]
    assert not bad.any()


@pytest.mark.parametrize("arrow_type", [pa.string(), pa.large_string()])
def test_an_empty_column_is_typed_as_its_parser_would(arrow_type):
    from gr4vy_nb.tables import spec as F
    from gr4vy_nb.tables.cells import _PARSERS, _check_text, typed_array

    kinds = {f.kind: f for t in F.TABLES for f in F.table_fields(t) if f.role != "metadata"}
    assert {"str", "enum", "int", "bool", "datetime", "date", "list", "json"} <= set(kinds)
    for kind, f in kinds.items():
        text = pa.array([None, None, None], arrow_type)
        typed, problems = typed_array(f, text)
        cast = text if arrow_type == pa.string() or kind in ("str", "enum", "json") else text.cast(pa.string())
        expected, expected_problems = _PARSERS[kind](f, cast)
        if kind in ("str", "enum"):
            expected_problems += _check_text(f, cast)
        assert typed.type == expected.type and typed.equals(expected), kind
        assert problems == expected_problems == [], kind
