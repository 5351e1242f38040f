"""Parsing and checking CSV cells against the field spec: text in, typed columns and problems out.

:func:`parse_cells` is what :meth:`SessionFrames.read_csv <gr4vy_nb.tables.frames.SessionFrames.read_csv>`
and the bulk engine use to turn a table read by :func:`gr4vy_nb.tables.files.read_table` into typed
columns, collecting every problem at once (STYLE.md item 10) as rows of a problems frame
(``file, line, column, value, rule, message, severity``), the value masked when personal.

What a cell may hold, by kind (surrounding spaces are ignored for all but text):

=========  ===========================================================  ==================
kind       accepted                                                     rule when not
=========  ===========================================================  ==================
int        digits with an optional sign: ``1299``, ``-3``, ``+5``       ``type.integer``
           (not ``12.99``, ``1,299``, ``1.23E+12``), within the         ``minimum`` /
           field's bounds                                               ``maximum``
bool       ``true`` or ``false``, any case (Excel writes ``TRUE``);     ``type.boolean``
           not ``yes``/``no``/``1``/``0``, which are ambiguous
datetime   RFC 3339 with seconds and an offset: ``2024-07-16T19:23:00Z``, ``datetime_format``
           ``2024-07-16 21:23:00.5+02:00`` (stored in UTC)
date       ``YYYY-MM-DD``, a real calendar date                         ``date_format``
str        anything, within the field's lengths and pattern             ``min_length``,
           (IDs must be UUIDs)                                          ``max_length``,
                                                                        ``pattern``, ``uuid``
enum       one of the field's values, exactly (case matters)            ``enum``
list       ``a|b|c`` or a JSON array (see :func:`csvio.decode_list`)    ``list_format``,
           each item checked like a str                                 ``max_items``
json       a JSON object (the ``extra`` column)                         ``json``
=========  ===========================================================  ==================

Table checks: a missing ``checkout_session_id`` (``required``), a session twice in
``sessions`` or an index twice for a session (``duplicate_key``), more legs or passengers
than ``maxItems`` (``max_items``), and columns the spec does not know (``unknown_column``).
Whether required fields of a model are present is not checked here: that needs the merged
session, and is the models' job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import spec as F
from .files import decode_list, problems_frame
from .masking import mask_value

__all__ = ["ParsedCells", "parse_cells", "parse_dates", "parse_datetimes", "typed_array"]

DATETIME_RE = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
_INT_RE = r"^[+-]?\d+$"
_SCIENTIFIC_RE = r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$"
_DECIMAL_RE = r"^[+-]?\d*[.,]\d+$"

_TEXT_KINDS = frozenset({"str", "enum", "json"})
# What Python's str.strip() removes from ASCII text (decode_list strips items with it).
_ASCII_SPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"

_PATTERN_HINTS = {
    r"^[A-Z]{2}$": "a two-letter country code in capitals, e.g. GB",
    r"^[A-Z]{3}$": "a three-letter currency code in capitals, e.g. EUR",
    r"^\+[1-9]\d{1,14}$": "a phone number in E.164 form: + and up to 15 digits, no spaces, e.g. +441234567890",
    r"^[A-Z]{2}-[A-Z0-9]{1,3}$": "an ISO 3166-2 subdivision code, e.g. US-CA",
}


@dataclass(slots=True)
class ParsedCells:
    """Typed columns (same index as the input: file lines) and the problems found."""

    frame: pd.DataFrame
    problems: pd.DataFrame

    @property
    def ok(self) -> bool:
        """True when no problem is an error (warnings allowed)."""
        return not (self.problems["severity"] == "error").any()

    def __iter__(self) -> Any:
        """Unpacks as ``typed, problems = parse_cells(...)``."""
        return iter((self.frame, self.problems))


# --------------------------------------------------------------------------- shared parsers


def parse_datetimes(text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """RFC 3339 text -> ``timestamp[us, UTC]``; also a mask of non-null values that did not parse.

    More than six fractional digits are truncated (as pydantic does); lower-case ``t``/``z``
    and a space instead of ``T`` are accepted.
    """
    return _parse_temporal(text, DATETIME_RE, pa.timestamp("us", tz="UTC"))


def parse_dates(text: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """``YYYY-MM-DD`` text -> ``date32``; also a mask of non-null values that did not parse."""
    return _parse_temporal(text, DATE_RE, pa.date32())


def _parse_temporal(text: pa.Array, pattern: str, target: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    n = len(text)
    if pa.types.is_null(text.type) or text.null_count == n:
        return pa.nulls(n, target), np.zeros(n, bool)
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
            if a > 12 >= b:
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
    for i, v in enumerate(text.to_pylist()):
        if v is None:
            continue
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


# --------------------------------------------------------------------------- tables


def parse_cells(table: str, frame: pd.DataFrame, *, file: str | None = None, cleared: pd.DataFrame | None = None,
                mask: bool = True) -> ParsedCells:
    """Parse every cell of a text table for ``table`` (``sessions``, ``cart_items``, ``legs``, ``passengers``).

    ``frame`` is a table of text as :func:`gr4vy_nb.tables.files.read_table` returns it (its index
    holds the file lines reported); ``cleared`` marks cells that are the ``#N/A`` clear marker
    (left ``<NA>`` and unchecked).  The result keeps the known columns, in the input's order,
    typed per the field spec; unparseable cells are ``<NA>`` and reported.  Personal values
    are masked in the problems unless ``mask=False``.
    """
    file = file or f"{table}.csv"
    lines = frame.index.to_numpy()
    problems: list[dict[str, Any]] = []
    columns: dict[str, Any] = {}

    def report(position: int | None, column: str | None, value: Any, rule: str, message: str,
               severity: str = "error") -> None:
        line = int(lines[position]) if position is not None and len(lines) else (1 if column else None)
        if mask and column is not None and value is not None:
            masked = mask_value(column, value, table)
            if masked != value:
                # Messages quote the offending value: a personal one must not survive there either.
                message = message.replace(repr(value), repr(masked)).replace(str(value), str(masked))
            value = masked
        problems.append({"file": file, "line": line, "column": column, "value": value, "rule": rule,
                         "message": message, "severity": severity})

    for column in frame.columns:
        name = str(column)
        f = F.field_for(table, name)
        if f is None:
            report(None, name, None, "unknown_column", _unknown_column_message(table, name))
            continue
        text = pa.array(frame[column].array)
        if isinstance(text, pa.ChunkedArray):
            text = text.combine_chunks()
        if not pa.types.is_string(text.type) and not pa.types.is_large_string(text.type):
            text = text.cast(pa.string())
        if cleared is not None and column in cleared and cleared[column].any():
            text = pc.if_else(pa.array(cleared[column].to_numpy(dtype=bool)), pa.scalar(None, text.type), text)
        typed, found = typed_array(f, text)
        for position, rule, message in found:
            report(position, name, text[position].as_py(), rule, message)
        if f.role == "key":
            for position in _positions(pc.is_null(text)):
                report(int(position), name, None, "required", "every row needs a checkout_session_id")
        columns[name] = pd.Series(F.to_pandas_array(typed, f.kind), index=frame.index, name=name)
    typed_frame = pd.DataFrame(columns, index=frame.index)
    _check_keys(table, typed_frame, report)
    return ParsedCells(typed_frame, problems_frame(problems))


def _unknown_column_message(table: str, name: str) -> str:
    known = [f.column for f in F.table_fields(table)]
    close = [c for c in known if c.lower() == name.strip().lower() or c.endswith("." + name.strip())]
    if close:
        return f"{name!r} is not a column of {table}.csv (did you mean {close[0]!r}?)"
    for other in F.TABLES:
        if other != table and F.field_for(other, name) is not None:
            return f"{name!r} is not a column of {table}.csv; it belongs in {other}.csv"
    return f"{name!r} is not a column of {table}.csv"


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """For each row, the position of the first row with the same code (``-1`` where the code is ``-1``)."""
    n = len(codes)
    valid = codes >= 0
    first = np.full(int(codes.max()) + 1 if n and valid.any() else 0, n, dtype=np.int64)
    np.minimum.at(first, codes[valid], np.flatnonzero(valid))
    return np.where(valid, first[np.maximum(codes, 0)] if len(first) else -1, -1)


def _check_keys(table: str, frame: pd.DataFrame, report: Any) -> None:
    if F.KEY not in frame.columns:
        if len(frame.columns):
            report(None, F.KEY, None, "required", f"{table}.csv needs a {F.KEY} column")
        return
    ids = frame[F.KEY]
    # Keys are compared as codes (one hash pass each); only the duplicates found go through Python.
    codes = pd.factorize(ids, use_na_sentinel=True)[0].astype(np.int64) if len(ids) else np.array([], np.int64)
    positions = np.arange(len(ids))
    lines = frame.index
    if table == "sessions":
        first = _first_rows(codes)
        for position in np.flatnonzero((first >= 0) & (first != positions)).tolist():
            value = ids.iloc[position]
            report(int(position), F.KEY, value, "duplicate_key",
                   f"session {value} is already on line {lines[first[position]]}")
        return
    child = F.CHILD_TABLES[table]
    if child.index in frame.columns:
        index_codes = pd.factorize(frame[child.index], use_na_sentinel=True)[0].astype(np.int64) if len(ids) \
            else np.array([], np.int64)
        both = np.where((codes >= 0) & (index_codes >= 0), codes * (int(index_codes.max(initial=0)) + 1) + index_codes,
                        -1)
        first = _first_rows(both)
        for position in np.flatnonzero((first >= 0) & (first != positions)).tolist():
            sid, idx = ids.iloc[position], frame[child.index].iloc[position]
            report(int(position), child.index, idx, "duplicate_key",
                   f"session {sid} already has {child.index} {idx} on line {lines[first[position]]}")
    if child.max_items is not None and len(ids):
        valid = codes >= 0
        order = np.argsort(np.where(valid, codes, -1), kind="stable")
        sorted_codes = codes[order]
        starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
        rank = np.empty(len(codes), dtype=np.int64)
        rank[order] = positions - np.repeat(starts, np.diff(np.r_[starts, len(codes)]))
        counts = np.bincount(codes[valid], minlength=int(codes.max(initial=-1)) + 1)
        for position in np.flatnonzero(valid & (rank == child.max_items)).tolist():
            # each session once, on its first excess row
            report(int(position), F.KEY, ids.iloc[position], "max_items",
                   f"session {ids.iloc[position]} has {int(counts[codes[position]])} {table}; "
                   f"at most {child.max_items} are allowed")
