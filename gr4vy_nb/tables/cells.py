"""Cells: text to typed values, checked against the field spec, and typed columns back to text.

Reading (:func:`typed_array`): one column of text becomes the field's Arrow type, with a
``(position, rule, message)`` for every cell that breaks a rule (the table-level reader,
:mod:`gr4vy_nb.tables.reader`, puts them in the problems table). What a cell may hold, by
kind (surrounding spaces are ignored for all but text):

=========  ===========================================================  ==================
kind       accepted                                                     rule when not
=========  ===========================================================  ==================
int        digits with an optional sign: ``1299``, ``-3``, ``+5``;      ``type.integer``
           an integral decimal (``123.0``, what pandas writes of an     ``minimum`` /
           integer column with blanks) is that integer; not ``12.99``,  ``maximum``
           ``1,299``, ``1.23E+12``; within the field's bounds
bool       ``true`` or ``false``, any case (Excel writes ``TRUE``);     ``type.boolean``
           not ``yes``/``no``/``1``/``0``, which are ambiguous
datetime   RFC 3339 with seconds and an offset: ``2024-07-16T19:23:00Z``, ``datetime_format``
           ``2024-07-16 21:23:00.5+02:00`` (stored in UTC)
date       ``YYYY-MM-DD``, a real calendar date                         ``date_format``
str        anything, within the field's lengths and pattern             ``min_length``,
           (IDs must be UUIDs)                                          ``max_length``,
                                                                        ``pattern``, ``uuid``
enum       one of the field's values, exactly (case matters)            ``enum``
list       ``a|b|c`` or a JSON array (see :func:`decode_list`)          ``list_format``,
           each item checked like a str                                 ``max_items``
json       a JSON object (the ``extra`` column)                         ``json``
=========  ===========================================================  ==================

Writing (:func:`format_column`): integers as digits, booleans as ``true``/``false``,
date-times as RFC 3339 UTC text (:func:`rfc3339_utc`), dates as ``YYYY-MM-DD``, lists of
strings (``categories``) as ``a|b|c`` with ``\\`` escaping ``|`` and ``\\`` inside values; a
list that would be ambiguous that way (empty, holding an empty or space-padded value, or
whose first value starts with ``[``) is written as a JSON array. :func:`decode_list` reads
both, so the encoding is lossless for any list of strings.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import spec as F

__all__ = [
    "decode_list",
    "encode_list",
    "format_column",
    "parse_dates",
    "parse_datetimes",
    "rfc3339_utc",
    "typed_array",
]

DATETIME_RE = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
# The date-times DATETIME_RE accepts that need no normalising: upper-case T and Z, at most six fractional digits.
_CANONICAL_DATETIME_RE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
_INT_RE = r"^[+-]?\d+(?:\.0+)?$"  # 123.0: pandas writes an integer column with blanks as floats
_SCIENTIFIC_RE = r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$"
_DECIMAL_RE = r"^[+-]?\d*[.,]\d+$"

_TEXT_KINDS = frozenset({"str", "enum", "json"})
_NULL_TYPES = {"list": pa.list_(pa.string())}  # the type a parser gives when it is not the field's Arrow type
# What Python's str.strip() removes from ASCII text (decode_list strips items with it).
_ASCII_SPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"

_PATTERN_HINTS = {
    r"^[A-Z]{2}$": "a two-letter country code in capitals, e.g. GB",
    r"^[A-Z]{3}$": "a three-letter currency code in capitals, e.g. EUR",
    r"^\+[1-9]\d{1,14}$": "a phone number in E.164 form: + and up to 15 digits, no spaces, e.g. +441234567890",
    r"^[A-Z]{2}-[A-Z0-9]{1,3}$": "an ISO 3166-2 subdivision code, e.g. US-CA",
}


# --------------------------------------------------------------------------- shared parsers


def parse_datetimes(text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """RFC 3339 text -> ``timestamp[us, UTC]``; also a mask of non-null values that did not parse.

    More than six fractional digits are truncated (as pydantic does); lower-case ``t``/``z``
    and a space instead of ``T`` are accepted.
    """
    return _parse_temporal(text, DATETIME_RE, pa.timestamp("us", tz="UTC"), _CANONICAL_DATETIME_RE)


def parse_dates(text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """``YYYY-MM-DD`` text -> ``date32``; also a mask of non-null values that did not parse."""
    return _parse_temporal(text, DATE_RE, pa.date32())


def _parse_temporal(text: pa.Array, pattern: str, target: pa.DataType,
                    canonical: str | None = None) -> tuple[pa.Array, np.ndarray]:
    n = len(text)
    if pa.types.is_null(text.type) or text.null_count == n:
        return pa.nulls(n, target), np.zeros(n, bool)
    if canonical is not None and pc.all(pc.match_substring_regex(text, canonical)).as_py():
        # Every value is already as Arrow reads it (what the normalising below would leave as it is).
        try:
            return text.cast(target), np.zeros(n, bool)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass  # an impossible date: found below
    ok = pc.fill_null(pc.match_substring_regex(text, pattern), True)
    bad = ~ok.to_numpy(zero_copy_only=False).astype(bool)
    if bad.any():
        text = pc.if_else(ok, text, pa.scalar(None, pa.string()))
    if pa.types.is_timestamp(target):
        text = pc.replace_substring_regex(pc.utf8_upper(text), r"(\.\d{6})\d+", r"\1")
    try:
        return text.cast(target), bad
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    values = text.to_pylist()  # some value is impossible (2013-02-30): find which, one by one
    parsed: list[Any] = []
    for i, v in enumerate(values):
        try:
            parsed.append(None if v is None else pa.scalar(v).cast(target).as_py())
        except (pa.ArrowInvalid, ValueError, OverflowError):
            parsed.append(None)
            bad[i] = True
    return pa.array(parsed, target), bad


def typed_array(f: F.Field, text: pa.Array) -> tuple[pa.Array, list[tuple[int, str, str]]]:
    """Parse one column of text for field ``f``: the typed array and ``(position, rule, message)`` problems."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    # Text kinds come back as they went in: keeping a large_string column spares two copies of it.
    if not pa.types.is_string(text.type) and not (pa.types.is_large_string(text.type) and f.kind in _TEXT_KINDS):
        text = text.cast(pa.string())
    if text.null_count == len(text):  # no cell to check (a column nobody filled in)
        return text if f.kind in _TEXT_KINDS else pa.nulls(len(text), _NULL_TYPES.get(f.kind) or f.arrow_type), []
    parser = _PARSERS[f.kind]
    typed, problems = parser(f, text)
    if f.kind in ("str", "enum"):
        problems.extend(_check_text(f, text))
    return typed, problems


def _positions(mask: Any) -> np.ndarray:
    return np.flatnonzero(pc.fill_null(mask, False).to_numpy(zero_copy_only=False).astype(bool))


def _parse_str(f: F.Field, text: pa.Array) -> tuple[pa.Array, list[tuple[int, str, str]]]:
    return text, []


def _parse_enum(f: F.Field, text: pa.Array) -> tuple[pa.Array, list[tuple[int, str, str]]]:
    assert f.choices is not None
    bad = _positions(pc.and_(pc.is_valid(text), pc.invert(pc.is_in(text, value_set=pa.array(f.choices, pa.string())))))
    out = []
    values = text.take(pa.array(bad)).to_pylist() if len(bad) else []
    for i, v in zip(bad, values, strict=True):
        close = [c for c in f.choices if c.lower() == v.strip().lower().replace(" ", "_").replace("-", "_")
                 or c.lower() == v.strip().lower()]
        listed = ", ".join(f.choices[:12]) + (", ..." if len(f.choices) > 12 else "")
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        out.append((int(i), "enum", f"{v!r} is not one of: {listed}{hint}"))
    return text, out


def _parse_int(f: F.Field, text: pa.Array) -> tuple[pa.Array, list[tuple[int, str, str]]]:
    stripped = pc.utf8_trim_whitespace(text)
    ok = pc.match_substring_regex(stripped, _INT_RE)
    out: list[tuple[int, str, str]] = []
    bad = _positions(pc.invert(ok))
    if len(bad):
        for i, v in zip(bad, stripped.take(pa.array(bad)).to_pylist(), strict=True):
            if re.match(_SCIENTIFIC_RE, v):
                msg = (f"{v!r} is in scientific notation: a spreadsheet has turned a long number into a rounded "
                       "one; format the column as Text and enter the full number")
            elif re.match(_DECIMAL_RE, v):
                msg = f"{v!r} is not a whole number" + (
                    " (amounts are in the currency's minor unit: 12.99 is written 1299)" if "amount" in f.column
                    else "")
            else:
                msg = f"{v!r} is not a whole number"
            out.append((int(i), "type.integer", msg))
        stripped = pc.if_else(ok, stripped, pa.scalar(None, pa.string()))
    if pc.any(pc.match_substring(stripped, ".")).as_py():
        stripped = pc.replace_substring_regex(stripped, r"\.0+$", "")
    try:
        typed = stripped.cast(pa.int64())
    except pa.ArrowInvalid:  # overflows int64
        values = []
        for i, v in enumerate(stripped.to_pylist()):
            if v is not None and not (-(2**63) <= int(v) < 2**63):
                out.append((i, "maximum", f"{v!r} is far too large"))
                v = None
            values.append(None if v is None else int(v))
        typed = pa.array(values, pa.int64())
    out.extend(_check_bounds(f, typed))
    return typed, out


def _check_bounds(f: F.Field, typed: pa.Array) -> list[tuple[int, str, str]]:
    out: list[tuple[int, str, str]] = []
    index = f.role == "index"
    for bound, op, rule, words in (
        (f.minimum, pc.less, "minimum", "at least"),
        (f.exclusive_minimum, pc.less_equal, "minimum", "more than"),
        (f.maximum, pc.greater, "max_items" if index else "maximum", "at most"),
    ):
        if bound is None:
            continue
        for i in _positions(op(typed, bound)):
            value = typed[int(i)].as_py()
            if index and rule == "max_items":
                msg = f"index {value} is beyond the limit of {int(bound) + 1} items per session (0 to {int(bound)})"
            else:
                msg = f"{value} is out of range: must be {words} {bound:,}"
            out.append((int(i), rule, msg))
    return out


def _parse_float(f: F.Field, text: pa.Array) -> tuple[pa.Array, list[tuple[int, str, str]]]:
    stripped = pc.utf8_trim_whitespace(text)
    ok = pc.match_substring_regex(stripped, r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
    out = [(int(i), "type.number", f"{stripped[int(i)].as_py()!r} is not a number") for i in _positions(pc.invert(ok))]
    typed = pc.if_else(ok, stripped, pa.scalar(None, pa.string())).cast(pa.float64())
    return typed, out + _check_bounds(f, typed)


def _parse_bool(f: F.Field, text: pa.Array) -> tuple[pa.Array, list[tuple[int, str, str]]]:
    lowered = pc.utf8_lower(pc.utf8_trim_whitespace(text))
    is_true = pc.equal(lowered, "true")
    ok = pc.or_(is_true, pc.equal(lowered, "false"))
    out = [(int(i), "type.boolean", f"{text[int(i)].as_py()!r} is not a boolean: write true or false")
           for i in _positions(pc.invert(ok))]
    return pc.if_else(ok, is_true, pa.scalar(None, pa.bool_())), out


def _parse_datetime(f: F.Field, text: pa.Array) -> tuple[pa.Array, list[tuple[int, str, str]]]:
    typed, bad = parse_datetimes(pc.utf8_trim_whitespace(text))
    out = []
    for i in np.flatnonzero(bad):
        v = text[int(i)].as_py()
        if re.match(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$", v.strip()):
            msg = f"{v!r} has no UTC offset: add Z for UTC (e.g. {v.strip()}Z) or an offset such as +01:00"
        else:
            msg = f"{v!r} is not an RFC 3339 date-time such as 2024-07-16T19:23:00Z"
        out.append((int(i), "datetime_format", msg))
    return typed, out


def _parse_date(f: F.Field, text: pa.Array) -> tuple[pa.Array, list[tuple[int, str, str]]]:
    typed, bad = parse_dates(pc.utf8_trim_whitespace(text))
    out = []
    for i in np.flatnonzero(bad):
        v = text[int(i)].as_py()
        hint = ""
        if m := re.match(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\s*$", v):
            a, b, year = int(m[1]), int(m[2]), m[3]
            if f.personal and (a > 12 >= b or b > 12 >= a):  # a date of birth: not even reordered in a message
                hint = " (write the year first, then the month and the day)"
            elif a > 12 >= b:
                hint = f" (did you mean {year}-{b:02d}-{a:02d}?)"
            elif b > 12 >= a:
                hint = f" (did you mean {year}-{a:02d}-{b:02d}?)"
            else:
                hint = " (day and month are ambiguous here)"
        elif re.match(r"^\s*\d{5}\s*$", v):
            hint = " (this looks like an Excel date serial number: format the column as Text)"
        elif re.match(DATE_RE, v.strip()):
            hint = " (no such day in the calendar)"
        out.append((int(i), "date_format", f"{v!r} is not a date in the form YYYY-MM-DD{hint}"))
    return typed, out


def _parse_list(f: F.Field, text: pa.Array) -> tuple[pa.Array, list[tuple[int, str, str]]]:
    assert f.item is not None
    out: list[tuple[int, str, str]] = []
    # The common cell (ASCII, no escape, not JSON) is split and stripped column-wise, exactly as
    # decode_list does it; the others are decoded one by one.
    valid = pc.is_valid(text)
    simple = pc.and_(pc.and_(pc.string_is_ascii(text), pc.invert(pc.starts_with(text, "["))),
                     pc.invert(pc.match_substring(text, "\\")))
    odd = _positions(pc.and_(valid, pc.invert(pc.fill_null(simple, False))))
    split = pc.split_pattern(text, "|")
    typed: pa.Array = pa.ListArray.from_arrays(split.offsets, pc.utf8_trim(split.flatten(), _ASCII_SPACE),
                                               mask=pc.invert(valid))
    if len(odd):
        values: list[list[str] | None] = typed.to_pylist()
        for i in odd.tolist():
            v = text[i].as_py()
            try:
                values[i] = decode_list(v)
            except ValueError as exc:
                out.append((i, "list_format", f"{v!r} {exc}"))
                values[i] = None
        typed = pa.array(values, pa.list_(pa.string()))
    if typed.type != pa.list_(pa.string()):
        typed = typed.cast(pa.list_(pa.string()))
    if f.max_items is not None:
        counts = pc.list_value_length(typed)
        for i in _positions(pc.greater(counts, f.max_items)):
            out.append((int(i), "max_items", f"{counts[int(i)].as_py()} items; at most {f.max_items} allowed"))
        out.sort(key=lambda p: p[0])  # row order, as the cells are read
    items = typed.flatten()
    if len(items):
        owners = np.asarray(pc.list_parent_indices(typed), dtype=np.int64)
        numbers = np.arange(len(owners)) - np.searchsorted(owners, owners) + 1
        for j, rule, message in _check_text(f.item, items):
            out.append((int(owners[j]), rule, f"item {int(numbers[j])}: {message}"))
    return typed, out


def _parse_json(f: F.Field, text: pa.Array) -> tuple[pa.Array, list[tuple[int, str, str]]]:
    out = []
    present = np.flatnonzero(pc.is_valid(text).to_numpy(zero_copy_only=False))
    for i, v in zip(present.tolist(), text.take(pa.array(present)).to_pylist() if len(present) else [], strict=True):
        try:
            ok = isinstance(orjson.loads(v), dict)
        except orjson.JSONDecodeError:
            ok = False
        if not ok:
            out.append((i, "json", "must be a JSON object such as {\"field\": \"value\"}"))
    return text, out


_PARSERS = {"str": _parse_str, "enum": _parse_enum, "int": _parse_int, "float": _parse_float, "bool": _parse_bool,
            "datetime": _parse_datetime, "date": _parse_date, "list": _parse_list, "json": _parse_json}


def _min_max(values: pa.Array) -> tuple[Any, Any]:
    both = pc.min_max(values)
    return both["min"].as_py(), both["max"].as_py()


def _check_text(f: F.Field, text: pa.Array) -> list[tuple[int, str, str]]:
    """Length and pattern checks of a text column (lengths in characters, as the API counts them)."""
    out: list[tuple[int, str, str]] = []
    if f.min_length is not None or f.max_length is not None:
        # Lengths in bytes settle most columns at once (a character is at least one byte; only an
        # empty text has zero bytes); characters are counted only when bytes cannot decide.
        lengths = pc.binary_length(text)
        low, high = _min_max(lengths)
        if low is not None and ((f.min_length is not None and f.min_length > 1)
                                or (f.max_length is not None and high > f.max_length)):
            lengths = pc.utf8_length(text)
            low, high = _min_max(lengths)
        if low is not None and f.min_length is not None and low < f.min_length:
            for i in _positions(pc.less(lengths, f.min_length)):
                out.append((int(i), "min_length", f"must be at least {f.min_length} characters long"
                            if f.min_length > 1 else "must not be empty"))
        if high is not None and f.max_length is not None and high > f.max_length:
            for i in _positions(pc.greater(lengths, f.max_length)):
                out.append((int(i), "max_length", f"is {lengths[int(i)].as_py()} characters long; "
                            f"at most {f.max_length} allowed"))
    if f.pattern is not None:
        matched = pc.match_substring_regex(text, f.pattern)
        if matched.false_count:
            for i in _positions(pc.invert(matched)):
                v = text[int(i)].as_py()
                if f.is_uuid:
                    out.append((int(i), "uuid", f"{v!r} is not a UUID (8-4-4-4-12 hexadecimal digits, "
                                "e.g. 4d645fa6-d13c-413a-82f8-eda197b1165f)"))
                else:
                    hint = _PATTERN_HINTS.get(f.pattern)
                    out.append((int(i), "pattern",
                                f"{v!r} is not {hint}" if hint else f"{v!r} does not match {f.pattern}"))
    return out


# --------------------------------------------------------------------------- lists


def encode_list(values: Iterable[str]) -> str:
    """Encode a list of strings as one cell: ``a|b|c``, or a JSON array when that would be ambiguous."""
    values = list(values)
    if not values or values[0].startswith("[") or any(not v or v != v.strip() for v in values):
        return orjson.dumps(values).decode()
    return "|".join(v.replace("\\", "\\\\").replace("|", "\\|") for v in values)


def decode_list(text: str) -> list[str]:
    """Decode a cell written by :func:`encode_list` (or typed by a user as ``a|b|c`` or ``a | b``).

    Raises :class:`ValueError` for a cell that starts with ``[`` but is not a JSON array of strings.
    """
    if "\\" not in text and not text.startswith("["):  # the common case: no escapes
        return [part.strip() for part in text.split("|")]
    if text.startswith("["):
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ValueError("starts with [ but is not a JSON array (write a|b|c, or [\"a\", \"b\"])") from None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("must be a JSON array of strings")
        return value
    out: list[str] = []
    current: list[str] = []
    chars = iter(text)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, None)
            if nxt in ("\\", "|"):
                current.append(nxt)
            else:  # a lone backslash (typed by a user) is kept as it is
                current.append(ch)
                if nxt is not None:
                    current.append(nxt)
        elif ch == "|":
            out.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    out.append("".join(current).strip())
    return out


# --------------------------------------------------------------------------- text of typed columns


def rfc3339_utc(values: pa.Array) -> pa.Array:
    """RFC 3339 text in UTC, as pydantic writes it: seconds, ``.ffffff`` only when non-zero, ``Z``."""
    values = values.cast(pa.timestamp("us", tz="UTC"))
    whole = pc.strftime(values.cast(pa.timestamp("s", tz="UTC"), safe=False), format="%Y-%m-%dT%H:%M:%SZ")
    micros = pc.not_equal(pc.cast(values, pa.int64()), pc.multiply(pc.divide(pc.cast(values, pa.int64()), 1_000_000),
                                                                   1_000_000))
    if not pc.any(micros).as_py():
        return whole
    fine = pc.strftime(values, format="%Y-%m-%dT%H:%M:%SZ")
    return pc.if_else(micros, fine, whole)


def _object_text(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple):
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return str(value)


def format_column(series: pd.Series) -> tuple[pa.Array, bool]:
    """A column as CSV text (``None`` for empty cells) and whether it is free text (to be neutralised).

    Integers as digits, booleans as ``true``/``false``, date-times as RFC 3339 UTC text with
    ``Z``, dates as ``YYYY-MM-DD``, lists with :func:`encode_list`, anything else as text.
    """
    dtype = series.dtype
    if isinstance(dtype, pd.ArrowDtype) and pa.types.is_list(dtype.pyarrow_dtype):
        values = [None if v is None else encode_list(v) for v in pa.array(series.array).to_pylist()]
        return pa.array(values, pa.string()), True
    if isinstance(dtype, pd.DatetimeTZDtype):
        return rfc3339_utc(pa.array(series.array)), False
    if pd.api.types.is_bool_dtype(dtype):
        arr = pa.array(series.array)
        return pc.if_else(arr, "true", "false"), False
    arrow_type = dtype.pyarrow_dtype if isinstance(dtype, pd.ArrowDtype) else None
    if isinstance(dtype, pd.StringDtype) or (arrow_type is not None and pa.types.is_string(arrow_type)):
        return pa.array(series.array).cast(pa.string()), True
    if pd.api.types.is_integer_dtype(dtype) or (isinstance(dtype, pd.ArrowDtype) and (
            pa.types.is_date(dtype.pyarrow_dtype) or pa.types.is_integer(dtype.pyarrow_dtype))):
        return pa.array(series.array).cast(pa.string()), False
    if pd.api.types.is_float_dtype(dtype):
        arr = pa.array(series.array, from_pandas=True)
        return arr.cast(pa.string()), False
    return pa.array([_object_text(v) for v in series.tolist()], pa.string()), True
