"""Reading users' CSV files exactly, and writing CSV files that spreadsheets cannot weaponise.

Reading (:func:`read_table`):

* UTF-8, with or without a BOM.  Anything else (Windows-1252 from Excel, UTF-16 "Unicode
  text") is refused with the line, column and byte at fault, unless ``encoding=`` is given.
* The delimiter is ``,`` unless the header clearly uses ``;`` (European Excel) or a tab:
  then that is used and reported as a warning.
* Every cell is text: no NA detection (``Null``, ``NA``, ``None``, ``nan`` are data),
  leading zeros kept.  An empty cell is ``<NA>``; a cell holding only ``'`` is the empty
  string (see below).  Rows whose cells are all empty (spreadsheet residue) are skipped.
* The frame's index is the file line on which each row starts (``line``; the header is
  line 1), correct across quoted cells that span lines.
* Refused, with file, line and column: bytes that are not text (an ``.xlsx`` or other binary
  file renamed ``.csv``), an empty file, empty or duplicate header names, rows with more or
  fewer cells than the header, a quote that is never closed, and anything over the size
  caps in :class:`Limits` (checked before or while reading, so a huge file never fills the
  memory).  All problems found are reported at once in ``InputError.problems``.
* A NUL character cannot travel in a CSV file: a file holding one is taken for binary.

Writing (:func:`write_table`): text cells that a spreadsheet would run as a formula
(starting with ``= + - @``, tab, CR or LF) are prefixed with ``'``; so are cells that start
with ``'`` themselves, the empty string (written as a lone ``'``) and the literal text
``#N/A`` (which, unprefixed, is the bulk engine's "clear" marker).  :func:`read_table` strips
exactly one ``'`` from a cell whose rest is empty, ``#N/A`` or starts with one of those
characters, so every text value survives ``write_table -> read_table`` unchanged
(``+441234567890``, ``=HYPERLINK(...)``, ``'quoted``), while a user typing ``'abc`` gets
``'abc``.  Files are written as UTF-8 with a BOM so Excel opens them correctly.

Lists of strings (``categories``) are written as ``a|b|c``, with ``\\`` escaping ``|`` and
``\\`` inside values; a list that would be ambiguous that way (empty, holding an empty or
space-padded value, or whose first value starts with ``[``) is written as a JSON array.
:func:`decode_list` reads both, so the encoding is lossless for any list of strings.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import InputError

__all__ = [
    "CLEAR_TOKEN",
    "DEFAULT_LIMITS",
    "PROBLEM_COLUMNS",
    "CsvTable",
    "Limits",
    "decode_list",
    "encode_list",
    "format_column",
    "problems_frame",
    "read_table",
    "read_text",
    "rfc3339_utc",
    "write_table",
]

CLEAR_TOKEN = "#N/A"
"""The cell that tells the bulk engine to clear a field (written as ``'#N/A`` when it is data)."""

PROBLEM_COLUMNS = ("file", "line", "column", "value", "rule", "message", "severity")

_NEEDS_PREFIX = r"^(?:[=+\-@\t\r\n']|#N/A$|$)"  # a value written with a leading '
_HAS_PREFIX = r"^'(?:[=+\-@\t\r\n']|#N/A$|$)"  # a cell read with a leading ' to strip
_BOM = b"\xef\xbb\xbf"
_CHUNK_ROWS = 50_000
_WRITE_ROWS = 100_000
_MAX_LISTED = 50  # problems of one kind listed before "... and N more"


@dataclass(frozen=True, slots=True)
class Limits:
    """Size caps for files read with :func:`read_table`.

    The defaults: 256 MiB, 1,000,000 data rows, 32,767 characters per cell (Excel's own
    limit: a longer cell cannot have come from a spreadsheet) and 5,000 columns.
    """

    max_bytes: int = 256 << 20
    max_rows: int = 1_000_000
    max_cell_chars: int = 32_767
    max_columns: int = 5_000


DEFAULT_LIMITS = Limits()


@dataclass(slots=True)
class CsvTable:
    """A CSV file read as text.

    ``frame``: one ``string[pyarrow]`` column per header name, ``<NA>`` for empty cells, the
    formula prefix already stripped; its index (named ``line``) is the file line of each row.
    ``cleared``: a boolean frame of the same shape, ``True`` where the cell was exactly
    ``#N/A`` (unprefixed): those cells hold the text ``#N/A`` in ``frame``.
    ``warnings``: a problems frame of things worth telling the user (e.g. ``;`` delimiter).
    """

    file: str
    frame: pd.DataFrame
    cleared: pd.DataFrame
    delimiter: str = ","
    encoding: str = "utf-8"
    bom: bool = False
    warnings: pd.DataFrame = field(default_factory=lambda: problems_frame())

    @property
    def lines(self) -> np.ndarray:
        """The file line of each row (same as ``frame.index``)."""
        return self.frame.index.to_numpy()

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return f"CsvTable({self.file!r}, {len(self.frame)} rows, {self.frame.shape[1]} columns)"


# --------------------------------------------------------------------------- problems


def problems_frame(rows: Iterable[Mapping[str, Any]] = ()) -> pd.DataFrame:
    """A problems table: ``file, line, column, value, rule, message, severity`` (``line`` is ``Int64``)."""
    rows = list(rows)
    df = pd.DataFrame({c: [r.get(c) for r in rows] for c in PROBLEM_COLUMNS})
    return df.astype({"file": "string", "line": "Int64", "column": "string", "value": "string",
                      "rule": "string", "message": "string", "severity": "string"})


def _problem(file: str, line: int | None, column: str | None, value: Any, rule: str, message: str,
             severity: str = "error") -> dict[str, Any]:
    return {"file": file, "line": line, "column": column, "value": None if value is None else str(value),
            "rule": rule, "message": message, "severity": severity}


def _refuse(file: str, problems: list[dict[str, Any]]) -> InputError:
    first = problems[0]
    where = f"{file}" + (f", line {first['line']}" if first.get("line") else "") + (
        f", column {first['column']!r}" if first.get("column") else "")
    more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
    return InputError(f"{where}: {first['message']}{more}", problems_frame(problems))


# --------------------------------------------------------------------------- reading


def _load(source: Any, name: str | None, limits: Limits) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        label = name or "<upload>"
    elif isinstance(source, str | os.PathLike):
        label = name or os.path.basename(os.fspath(source))
        size = os.stat(source).st_size
        if size > limits.max_bytes:
            raise _refuse(label, [_problem(label, None, None, None, "too_large",
                                           f"the file is {size:,} bytes; the limit is {limits.max_bytes:,}")])
        with open(source, "rb") as fh:
            data = _read_capped(fh, limits.max_bytes)
    else:
        label = name or getattr(source, "name", None) or "<upload>"
        label = os.path.basename(str(label))
        data = _read_capped(source, limits.max_bytes)
    if len(data) > limits.max_bytes:
        raise _refuse(label, [_problem(label, None, None, None, "too_large",
                                       f"the file is over the limit of {limits.max_bytes:,} bytes")])
    return data, label


def _read_capped(fh: Any, max_bytes: int) -> bytes:
    """Read at most ``max_bytes + 1`` bytes, a block at a time (a huge cap must not be allocated up front)."""
    parts = []
    total = 0
    while total <= max_bytes:
        block = fh.read(min(16 << 20, max_bytes + 1 - total))
        if not block:
            break
        if isinstance(block, str):
            block = block.encode("utf-8")
        parts.append(block)
        total += len(block)
    return b"".join(parts)


def _sniff(data: bytes, label: str, encoding: str | None) -> None:
    if not data.strip() or data.strip() == _BOM:
        raise _refuse(label, [_problem(label, None, None, None, "empty", "the file is empty")])
    if data.startswith(b"PK\x03\x04"):
        raise _refuse(label, [_problem(label, None, None, None, "binary",
                                       "this is an Excel workbook (.xlsx) or another zip file, not a CSV file; "
                                       "in Excel use File > Save As > 'CSV UTF-8 (Comma delimited)'")])
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise _refuse(label, [_problem(label, None, None, None, "binary",
                                       "this is an old Excel workbook (.xls), not a CSV file; "
                                       "in Excel use File > Save As > 'CSV UTF-8 (Comma delimited)'")])
    if encoding is None and data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise _refuse(label, [_problem(label, 1, None, None, "encoding",
                                       "the file is UTF-16 (Excel's 'Unicode Text'); save it as "
                                       "'CSV UTF-8 (Comma delimited)' or pass encoding='utf-16'")])
    if encoding is None and b"\x00" in data[:65536]:
        at = data.index(b"\x00")
        message = f"the file holds binary data (a NUL byte at offset {at}); it is not a CSV file"
        raise _refuse(label, [_problem(label, data.count(b"\n", 0, at) + 1, None, None, "binary", message)])


def _decode(data: bytes, label: str, encoding: str | None) -> tuple[str, str, bool]:
    """The whole text of a small file (see :func:`read_text`), refused at the first bad byte."""
    bom = data.startswith(_BOM)
    if encoding is None:
        try:
            return data[3:].decode("utf-8") if bom else data.decode("utf-8"), "utf-8", bom
        except UnicodeDecodeError as exc:
            start = exc.start + (3 if bom else 0)
            line = data.count(b"\n", 0, start) + 1
            line_start = data.rfind(b"\n", 0, start) + 1
            column = len(data[line_start:start].decode("utf-8", errors="replace")) + 1
            byte = data[start]
            guess = bytes([byte]).decode("cp1252", errors="replace")
            raise _refuse(label, [_problem(
                label, line, None, None, "encoding",
                f"byte 0x{byte:02X} at character {column} is not UTF-8 (in Windows-1252 it would be {guess!r}); "
                "save the file as 'CSV UTF-8 (Comma delimited)', or pass encoding='cp1252' if that is what it is")]) \
                from None
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise _refuse(label, [_problem(label, None, None, None, "encoding",
                                       f"the file cannot be read as {encoding}: {exc}")]) from None
    return text.removeprefix("\ufeff"), encoding, bom


def _delimiter(text: str) -> str:
    """``,`` unless the header line has no comma outside quotes but does have ``;`` (or a tab)."""
    counts = {",": 0, ";": 0, "\t": 0}
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        elif not quoted:
            if ch in counts:
                counts[ch] += 1
            elif ch in "\r\n":
                break
    if counts[","]:
        return ","
    if counts[";"]:
        return ";"
    return "\t" if counts["\t"] else ","


def _unprefix(arr: pa.Array) -> pa.Array:
    """Strip the formula-neutralising ``'`` exactly where :func:`write_table` would have added it."""
    has = pc.match_substring_regex(arr, _HAS_PREFIX)
    if not pc.any(has).as_py():
        return arr
    return pc.if_else(has, pc.utf8_slice_codeunits(arr, 1), arr)


def read_text(source: Any, *, name: str | None = None, encoding: str | None = None,
              limits: Limits = DEFAULT_LIMITS) -> tuple[str, str]:
    """A text file's content and its display name, with the same checks as :func:`read_table`.

    Refuses binary files, empty files, files over ``limits.max_bytes`` and (unless
    ``encoding`` is given) anything that is not UTF-8, naming the line and byte at fault.
    """
    data, label = _load(source, name, limits)
    _sniff(data, label, encoding)
    return _decode(data, label, encoding)[0], label


def _open(source: Any, name: str | None, limits: Limits) -> tuple[Any, str, bool]:
    """A seekable binary stream over the source, its display name, and whether to close it."""
    if isinstance(source, str | os.PathLike):
        label = name or os.path.basename(os.fspath(source))
        size = os.stat(source).st_size
        if size > limits.max_bytes:
            raise _refuse(label, [_problem(label, None, None, None, "too_large",
                                           f"the file is {size:,} bytes; the limit is {limits.max_bytes:,}")])
        return open(source, "rb"), label, True
    data, label = _load(source, name, limits)
    return io.BytesIO(data), label, True


def _validate_encoding(stream: Any, label: str, encoding: str | None) -> None:
    """Decode the whole stream a block at a time (nothing kept) and refuse it at the first bad byte."""
    decoder = codecs.getincrementaldecoder(encoding or "utf-8")()
    offset = 0
    newlines = 0
    while True:
        block = stream.read(4 << 20)
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(block, final=not block)
        except UnicodeDecodeError as exc:
            at = offset - pending + exc.start
            prefix = exc.object[:exc.start]
            line = newlines + prefix.count(b"\n") + 1
            stream.seek(max(0, at - 65536))
            before = stream.read(at - max(0, at - 65536))
            column = len(before[before.rfind(b"\n") + 1:].decode(encoding or "utf-8", errors="replace")) + 1
            byte = exc.object[exc.start]
            if encoding is None:
                guess = bytes([byte]).decode("cp1252", errors="replace")
                message = (f"byte 0x{byte:02X} at character {column} is not UTF-8 (in Windows-1252 it would be "
                           f"{guess!r}); save the file as 'CSV UTF-8 (Comma delimited)', or pass "
                           "encoding='cp1252' if that is what it is")
            else:
                message = f"byte 0x{byte:02X} at character {column} cannot be read as {encoding}"
            raise _refuse(label, [_problem(label, line, None, None, "encoding", message)]) from None
        if not block:
            return
        offset += len(block)
        newlines += block.count(b"\n")


def read_table(source: Any, *, name: str | None = None, encoding: str | None = None,
               limits: Limits = DEFAULT_LIMITS) -> CsvTable:
    """Read a CSV file (a path, bytes or a binary file object) as text; see the module docstring.

    ``name`` is the file name used in messages (default: the path's base name, or
    ``<upload>``).  Raises :class:`~gr4vy_nb.errors.InputError` with every problem found in
    ``.problems`` (a frame of ``file, line, column, value, rule, message, severity``).  The
    file is streamed: memory holds the resulting Arrow columns and one block of rows.
    """
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"unknown encoding {encoding!r}") from None
    stream, label, close = _open(source, name, limits)
    try:
        head = stream.read(65536)
        _sniff(head, label, encoding)
        stream.seek(0)
        _validate_encoding(stream, label, encoding)
        stream.seek(0)
        bom = head.startswith(_BOM)
        delimiter = _delimiter(head.decode(encoding or "utf-8", errors="replace").removeprefix("\ufeff"))
        text = io.TextIOWrapper(stream, encoding="utf-8-sig" if encoding is None else encoding, newline="")
        try:
            return _parse(csv.reader(text, delimiter=delimiter, strict=True), label, limits,
                          delimiter, encoding or "utf-8", bom)
        finally:
            text.detach()
    finally:
        if close:
            stream.close()


def _parse(reader: Any, label: str, limits: Limits, delimiter: str, encoding: str, bom: bool) -> CsvTable:
    warnings: list[dict[str, Any]] = []
    if delimiter != ",":
        shown = "semicolons (;)" if delimiter == ";" else "tabs"
        warnings.append(_problem(label, 1, None, None, "delimiter",
                                 f"the file is separated by {shown}, not commas; read it that way", "warning"))
    problems: list[dict[str, Any]] = []
    header: list[str] | None = None
    columns: list[list[pa.Array]] = []
    rows: list[list[str]] = []
    lines: list[int] = []
    last = 0
    ragged = 0
    width = 0

    def flush() -> None:
        for position, values in enumerate(zip(*rows, strict=True)):
            columns[position].append(pa.array(values, pa.string()))
        rows.clear()

    try:
        for row in reader:
            start, last = last + 1, reader.line_num
            if not row or (header is not None and not any(row)):
                continue  # blank line or a row of empty cells
            if header is None:
                row[0] = row[0].removeprefix("\ufeff")  # a BOM inside a file read with encoding=
                header = _check_header(row, label, limits, problems)
                width = len(header)
                columns = [[] for _ in header]
                continue
            if len(row) != width:
                ragged += 1
                if ragged <= _MAX_LISTED:
                    problems.append(_problem(
                        label, start, None, None, "ragged_row",
                        f"this row has {len(row)} cells but the header has {width}"
                        + (" (is a value containing a comma or a line break missing its quotes?)"
                           if len(row) > width else "")))
                continue
            if len(lines) >= limits.max_rows:
                problems.append(_problem(label, start, None, None, "too_many_rows",
                                         f"the file has more than {limits.max_rows:,} rows"))
                break
            rows.append(row)
            lines.append(start)
            if len(rows) >= _CHUNK_ROWS and not problems:
                flush()
            elif problems:
                rows.clear()  # the file is refused: keep reading only to find more problems
    except csv.Error as exc:
        message = str(exc)
        if "field larger than field limit" in message:
            problems.append(_problem(label, last + 1, None, None, "cell_too_long",
                                     f"a cell is longer than {limits.max_cell_chars:,} characters"))
        elif "unexpected end of data" in message or "expected after" in message or "EOF" in message:
            problems.append(_problem(label, last + 1, None, None, "unbalanced_quote",
                                     'a quoted cell starting on this line is never closed properly (a stray "?)'))
        else:
            problems.append(_problem(label, last + 1, None, None, "csv", f"the file is not valid CSV: {message}"))
    if ragged > _MAX_LISTED:
        problems.append(_problem(label, None, None, None, "ragged_row",
                                 f"... and {ragged - _MAX_LISTED} more ragged rows"))
    if header is None:
        raise _refuse(label, problems or [_problem(label, None, None, None, "empty", "the file is empty")])
    if problems:
        raise _refuse(label, problems)
    flush()
    index = pd.Index(np.asarray(lines, dtype=np.int64), name="line")
    texts: dict[str, Any] = {}
    cleared: dict[str, np.ndarray] = {}
    for name, arrays in zip(header, columns, strict=True):
        texts[name], cleared[name] = _column(name, arrays, index, label, limits, problems)
    if problems:
        raise _refuse(label, problems)
    frame = pd.DataFrame(texts, index=index)
    return CsvTable(label, frame, pd.DataFrame(cleared, index=index, dtype=bool), delimiter, encoding, bom,
                    problems_frame(warnings))


def _check_header(row: list[str], label: str, limits: Limits, problems: list[dict[str, Any]]) -> list[str]:
    names = [_unprefix(pa.array([c]))[0].as_py() for c in row]
    if len(names) > limits.max_columns:
        problems.append(_problem(label, 1, None, None, "too_many_columns",
                                 f"the file has {len(names):,} columns; the limit is {limits.max_columns:,}"))
    seen: dict[str, int] = {}
    for position, name in enumerate(names, start=1):
        if not name.strip():
            problems.append(_problem(label, 1, None, None, "empty_header",
                                     f"column {position} has no name in the header"))
        elif name in seen:
            problems.append(_problem(label, 1, name, None, "duplicate_header",
                                     f"the header names {name!r} twice (columns {seen[name]} and {position})"))
        else:
            seen[name] = position
    return names


def _column(name: str, arrays: list[pa.Array], index: pd.Index, label: str, limits: Limits,
            problems: list[dict[str, Any]]) -> tuple[Any, np.ndarray]:
    """One column as pandas text (empty -> NA, prefix stripped) and its mask of ``#N/A`` cells."""
    raw = pa.chunked_array(arrays, pa.string())
    if len(raw):
        too_long = pc.greater(pc.utf8_length(raw), limits.max_cell_chars)
        if pc.any(too_long).as_py():
            positions = np.flatnonzero(too_long.to_numpy(zero_copy_only=False))
            for i in positions[:_MAX_LISTED]:
                problems.append(_problem(label, int(index[i]), name, None, "cell_too_long",
                                         f"the cell is {len(raw[int(i)].as_py()):,} characters long; "
                                         f"the limit is {limits.max_cell_chars:,}"))
        raw = pc.if_else(pc.equal(raw, ""), pa.scalar(None, pa.string()), raw)
    cleared = pc.fill_null(pc.equal(raw, CLEAR_TOKEN), False).to_numpy(zero_copy_only=False)
    return pd.arrays.ArrowStringArray(_unprefix(raw).cast(pa.large_string())), np.asarray(cleared, dtype=bool)


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


# --------------------------------------------------------------------------- writing


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


def _native(series: pd.Series) -> pa.Array | None:
    """Integer, boolean and date columns as Arrow arrays, which the CSV writer leaves unquoted."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return pa.array(series.to_numpy())
    if isinstance(dtype, pd.Int64Dtype | pd.BooleanDtype) or (
            isinstance(dtype, pd.ArrowDtype) and (pa.types.is_date32(dtype.pyarrow_dtype)
                                                  or pa.types.is_int64(dtype.pyarrow_dtype))):
        arr = pa.array(series.array)
        return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    return None


def _neutralise(arr: pa.Array) -> pa.Array:
    needs = pc.match_substring_regex(arr, _NEEDS_PREFIX)
    if not pc.any(needs).as_py():
        return arr
    return pc.if_else(needs, pc.binary_join_element_wise("'", arr, ""), arr)


def write_table(df: pd.DataFrame, path: Any, *, bom: bool = True) -> None:
    """Write ``df`` (its columns, not its index) as a CSV file that any spreadsheet opens safely.

    Text cells are neutralised against formula injection as described in the module docstring;
    empty cells are written for missing values.  ``path`` may be a path or a binary file object.
    Rows are formatted and written a slice at a time, so memory stays flat for big tables.
    """
    names = [f"c{i}" for i in range(df.shape[1])]
    header = _neutralise(pa.array([str(c) for c in df.columns], pa.string()))
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    sink = open(path, "wb") if isinstance(path, str | os.PathLike) else path  # noqa: SIM115 - closed below
    try:
        if bom:
            sink.write(_BOM)
        # The header goes through the same writer as the rows, so it is quoted the same way.
        _write_rows(pa.Table.from_arrays([header.slice(i, 1) for i in range(len(names))], names=names), sink,
                    options)
        for start in range(0, len(df) if names else 0, _WRITE_ROWS):
            part = df.iloc[start:start + _WRITE_ROWS]
            columns = []
            for position in range(part.shape[1]):
                series = part.iloc[:, position]
                native = _native(series)
                if native is not None:  # written by Arrow exactly as format_column would, but unquoted
                    columns.append(native)
                    continue
                text, free = format_column(series)
                columns.append(_neutralise(text) if free else text)
            _write_rows(pa.Table.from_arrays(columns, names=names), sink, options)
    finally:
        if sink is not path:
            sink.close()


def _write_rows(table: pa.Table, sink: Any, options: pacsv.WriteOptions) -> None:
    out = io.BytesIO()
    pacsv.write_csv(table, out, options)
    sink.write(out.getbuffer())
