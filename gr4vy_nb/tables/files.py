"""Reading users' CSV files exactly, and writing CSV and Excel files that spreadsheets cannot weaponise.

Reading (:func:`read_table`):

* UTF-8, with or without a BOM, and UTF-16 with a BOM (Excel's "Unicode text").  Anything else
  (Windows-1252 from Excel) is refused with the line, column and byte at fault, unless
  ``encoding=`` (``--encoding NAME``) is given; :func:`default_encoding` sets it for a block.
* The delimiter is ``,`` unless the header clearly uses ``;`` (European Excel) or a tab:
  then that is used and reported as a warning.
* Every cell is text: no NA detection (``Null``, ``NA``, ``None``, ``nan`` are data),
  leading zeros kept.  An empty cell is ``<NA>``; a cell holding only ``'`` is the empty
  string (see below).  Rows whose cells are all empty and trailing header cells with no name
  whose column is empty (spreadsheet residue) are skipped.
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
``#N/A`` (which, unprefixed, is the bulk engine's "clear" marker; cells marked ``cleared``
are written as that bare marker).  :func:`read_table` strips exactly one ``'`` from a cell
whose rest is empty, ``#N/A`` or starts with one of those characters, so every text value
survives ``write_table -> read_table`` unchanged (``+441234567890``, ``=HYPERLINK(...)``,
``'quoted``), while a user typing ``'abc`` gets ``'abc``.  Files are written as UTF-8 with a
BOM so Excel opens them correctly.

Typed columns become text as :func:`gr4vy_nb.tables.cells.format_column` writes them (lists
as ``a|b|c``, date-times in UTC). Excel workbooks, both ways, are :mod:`gr4vy_nb.tables.workbooks`.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..errors import InputError
from ..problems import Problems, Rule, Severity, refuse
from ..problems import frame as problems_frame
from .cells import format_column

__all__ = [
    "CLEAR_TOKEN",
    "DEFAULT_LIMITS",
    "CsvTable",
    "Limits",
    "default_encoding",
    "file_digest",
    "load_source",
    "neutralise",
    "read_table",
    "read_text",
    "refusal",
    "write_table",
]

CLEAR_TOKEN = "#N/A"
"""The cell that tells the bulk engine to clear a field (written as ``'#N/A`` when it is data)."""

_NEEDS_PREFIX = r"^(?:[=+\-@\t\r\n']|#N/A$|$)"  # a value written with a leading '
_HAS_PREFIX = r"^'(?:[=+\-@\t\r\n']|#N/A$|$)"  # a cell read with a leading ' to strip
_BOM = b"\xef\xbb\xbf"
_CHUNK_ROWS = 50_000
_WRITE_ROWS = 100_000
_MAX_LISTED = 50  # problems of one kind listed before "... and N more"


@dataclass(frozen=True, slots=True)
class Limits:
    """Size caps for files read with :func:`read_table`.

    The defaults: 256 MiB, 1,000,000 data rows, 131,072 characters per cell and 5,000 columns.
    A cell may be longer than a spreadsheet's (32,767 characters): a file that went through no
    spreadsheet holds a value as long as the API accepts (a value cut at 32,767 is what a spreadsheet
    made of a longer current one, see :mod:`gr4vy_nb.tables.rewrites`).
    """

    max_bytes: int = 256 << 20
    max_rows: int = 1_000_000
    max_cell_chars: int = 131_072  # csv.field_size_limit()'s default
    max_columns: int = 5_000


DEFAULT_LIMITS = Limits()


@dataclass(slots=True)
class CsvTable:
    """A CSV file read as text.

    ``frame``: one ``string[pyarrow]`` column per header name, ``<NA>`` for empty cells, the
    formula prefix already stripped; its index (named ``line``) is the file line of each row.
    ``cleared``: a boolean frame of the same shape, ``True`` where the cell was exactly
    ``#N/A`` (unprefixed): those cells hold the text ``#N/A`` in ``frame``.
    ``warnings``: a problems table of things worth telling the user (e.g. ``;`` delimiter).
    """

    file: str
    frame: pd.DataFrame
    cleared: pd.DataFrame
    delimiter: str = ","
    encoding: str = "utf-8"
    bom: bool = False
    warnings: pd.DataFrame = field(default_factory=problems_frame)

    @property
    def lines(self) -> np.ndarray:
        """The file line of each row (same as ``frame.index``)."""
        return self.frame.index.to_numpy()

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return f"CsvTable({self.file!r}, {len(self.frame)} rows, {self.frame.shape[1]} columns)"


def refusal(file: str, rule: str, message: str, *, line: int | None = None) -> InputError:
    """The refusal of a whole file for one reason (no cell, no personal value)."""
    found = Problems()
    found.add(rule, message, file=file, line=line)
    return refuse(found.frame())


# --------------------------------------------------------------------------- reading


def _too_large(label: str, size: int, limits: Limits) -> InputError:
    return refusal(label, Rule.TOO_LARGE, f"the file is {size:,} bytes; the limit is {limits.max_bytes:,}")


def load_source(source: Any, name: str | None, limits: Limits) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        label = name or "<upload>"
    elif isinstance(source, str | os.PathLike):
        label = name or os.path.basename(os.fspath(source))
        size = os.stat(source).st_size
        if size > limits.max_bytes:
            raise _too_large(label, size, limits)
        with open(source, "rb") as fh:
            data = _read_capped(fh, limits.max_bytes)
    else:
        label = name or getattr(source, "name", None) or "<upload>"
        label = os.path.basename(str(label))
        data = _read_capped(source, limits.max_bytes)
    if len(data) > limits.max_bytes:
        raise refusal(label, Rule.TOO_LARGE, f"the file is over the limit of {limits.max_bytes:,} bytes")
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


_SAVE_AS = "in Excel use File > Save As > 'CSV UTF-8 (Comma delimited)'"
_ENCODING: ContextVar[str | None] = ContextVar("gr4vy_nb_encoding", default=None)


@contextmanager
def default_encoding(encoding: str | None) -> Iterator[None]:
    """Within the block, files read without ``encoding=`` are read as ``encoding`` (``--encoding NAME``)."""
    _check_encoding(encoding)
    token = _ENCODING.set(encoding)
    try:
        yield
    finally:
        _ENCODING.reset(token)


def _encoding(encoding: str | None) -> str | None:
    return encoding if encoding is not None else _ENCODING.get()


def _utf16(data: bytes) -> str | None:
    """``utf-16`` when the data starts with a UTF-16 byte order mark."""
    return "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else None


def _sniff(data: bytes, label: str, encoding: str | None) -> None:
    if not data.strip() or data.strip() == _BOM:
        raise refusal(label, Rule.EMPTY, "the file is empty")
    if data.startswith(b"PK\x03\x04"):
        raise refusal(label, Rule.BINARY,
                       f"this is an Excel workbook (.xlsx) or another zip file, not a CSV file; {_SAVE_AS}")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise refusal(label, Rule.BINARY, f"this is an old Excel workbook (.xls), not a CSV file; {_SAVE_AS}")
    if encoding is None and _utf16(data) is None and b"\x00" in data[:65536]:
        at = data.index(b"\x00")
        head = data[:4096]
        if len(head) >= 8 and (head[1::2].count(0) > len(head) // 4 or head[0::2].count(0) > len(head) // 4):
            order = "utf-16-le" if head[1::2].count(0) > head[0::2].count(0) else "utf-16-be"
            raise refusal(label, Rule.ENCODING, "the file looks like UTF-16 text without a byte order mark; save "
                           f"it as 'CSV UTF-8 (Comma delimited)' or pass --encoding {order} (encoding={order!r} in "
                           "Python)", line=1)
        raise refusal(label, Rule.BINARY, f"the file holds binary data (a NUL byte at offset {at}); it is not a "
                       "CSV file", line=data.count(b"\n", 0, at) + 1)


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


def _check_encoding(encoding: str | None) -> None:
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"unknown encoding {encoding!r}") from None


def read_text(source: Any, *, name: str | None = None, encoding: str | None = None,
              limits: Limits = DEFAULT_LIMITS) -> tuple[str, str]:
    """A text file's content and its display name, with the same checks as :func:`read_table`.

    Refuses binary files, empty files, files over ``limits.max_bytes`` and (unless
    ``encoding`` is given) anything that is not UTF-8, naming the line and byte at fault.
    """
    encoding = _encoding(encoding)
    _check_encoding(encoding)
    data, label = load_source(source, name, limits)
    _sniff(data, label, encoding)
    encoding = encoding or _utf16(data)
    _validate_encoding(io.BytesIO(data), label, encoding)
    return data.decode(encoding or "utf-8-sig").removeprefix("\ufeff"), label


def _open(source: Any, name: str | None, limits: Limits) -> tuple[Any, str]:
    """A seekable binary stream over the source (the caller closes it) and its display name."""
    if isinstance(source, str | os.PathLike):
        label = name or os.path.basename(os.fspath(source))
        size = os.stat(source).st_size
        if size > limits.max_bytes:
            raise _too_large(label, size, limits)
        return open(source, "rb"), label
    data, label = load_source(source, name, limits)
    return io.BytesIO(data), label


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
            line = newlines + exc.object[:exc.start].count(b"\n") + 1
            stream.seek(max(0, at - 65536))
            before = stream.read(at - max(0, at - 65536))
            column = len(before[before.rfind(b"\n") + 1:].decode(encoding or "utf-8", errors="replace")) + 1
            byte = exc.object[exc.start]
            if encoding is None:
                guess = bytes([byte]).decode("cp1252", errors="replace")
                message = (f"byte 0x{byte:02X} at character {column} is not UTF-8 (in Windows-1252 it would be "
                           f"{guess!r}); save the file as 'CSV UTF-8 (Comma delimited)', or pass --encoding cp1252 "
                           "(encoding='cp1252' in Python) if that is what it is")
            else:
                message = (f"byte 0x{byte:02X} at character {column} cannot be read as {encoding} (--encoding "
                           f"{encoding}); pass the file's encoding with --encoding NAME")
            raise refusal(label, Rule.ENCODING, message, line=line) from None
        if not block:
            return
        offset += len(block)
        newlines += block.count(b"\n")


def read_table(source: Any, *, name: str | None = None, encoding: str | None = None,
               limits: Limits = DEFAULT_LIMITS) -> CsvTable:
    """Read a CSV file (a path, bytes or a binary file object) as text; see the module docstring.

    ``name`` is the file name used in messages (default: the path's base name, or
    ``<upload>``).  Raises :class:`~gr4vy_nb.errors.InputError` with every problem found in
    ``.problems`` (see :mod:`gr4vy_nb.problems`).  The file is streamed: memory holds the
    resulting Arrow columns and one block of rows.
    """
    encoding = _encoding(encoding)
    _check_encoding(encoding)
    stream, label = _open(source, name, limits)
    with stream:
        head = stream.read(65536)
        _sniff(head, label, encoding)
        encoding = encoding or _utf16(head)
        stream.seek(0)
        _validate_encoding(stream, label, encoding)
        stream.seek(0)
        bom = head.startswith(_BOM)
        delimiter = _delimiter(head.decode(encoding or "utf-8", errors="replace").removeprefix("\ufeff"))
        text = io.TextIOWrapper(stream, encoding="utf-8-sig" if encoding is None else encoding, newline="")
        try:
            return _Parser(label, limits, delimiter).parse(csv.reader(text, delimiter=delimiter, strict=True),
                                                             encoding or "utf-8", bom)
        finally:
            text.detach()


class _Parser:
    """Rows of a CSV reader into text columns, every problem of the file collected on the way."""

    def __init__(self, label: str, limits: Limits, delimiter: str) -> None:
        self.label = label
        self.limits = limits
        self.delimiter = delimiter
        self.problems = Problems()
        self.columns: list[list[pa.Array]] = []
        self.rows: list[list[str]] = []
        self.lines: list[int] = []
        self.ragged = 0
        self.unnamed: set[int] = set()

    def _flush(self) -> None:
        for position, values in enumerate(zip(*self.rows, strict=True)):
            self.columns[position].append(pa.array(values, pa.string()))
        self.rows.clear()

    def _read(self, reader: Any) -> list[str] | None:
        """Read every row; the header, or ``None`` when the file has none."""
        header: list[str] | None = None
        last = 0
        try:
            for row in reader:
                start, last = last + 1, reader.line_num
                if not row or (header is not None and not any(row)):
                    continue  # blank line or a row of empty cells
                if header is None:
                    row[0] = row[0].removeprefix("\ufeff")  # a BOM inside a file read with encoding=
                    full = len(row)
                    while row and not row[-1].strip():  # unnamed trailing columns a spreadsheet added
                        row = row[:-1]
                    header = self._header(row or [""])
                    self.columns = [[] for _ in header]
                    continue
                if len(row) > len(header):
                    extra = [i for i, v in enumerate(row[len(header):], start=len(header) + 1) if v]
                    if not extra:
                        row = row[:len(header)]  # the empty cells of those columns
                    elif extra[0] <= full:  # a value in an unnamed column: the header lacks a name
                        if extra[0] not in self.unnamed:
                            self.unnamed.add(extra[0])
                            self.problems.add(Rule.EMPTY_HEADER, f"column {extra[0]} has no name in the header "
                                              f"(line {start} has a value in it)", file=self.label, line=1)
                        continue
                if not self._row(row, start, len(header)):
                    break
        except csv.Error as exc:
            self._csv_error(str(exc), last + 1)
        if self.ragged > _MAX_LISTED:
            self.problems.add(Rule.RAGGED_ROW, f"... and {self.ragged - _MAX_LISTED} more ragged rows",
                              file=self.label)
        return header

    def _row(self, row: list[str], start: int, width: int) -> bool:
        """Take one data row; ``False`` to stop reading."""
        if len(row) != width:
            self.ragged += 1
            if self.ragged <= _MAX_LISTED:
                hint = " (is a value containing a comma or a line break missing its quotes?)" if len(row) > width \
                    else ""
                self.problems.add(Rule.RAGGED_ROW, f"this row has {len(row)} cells but the header has {width}{hint}",
                                  file=self.label, line=start)
            return True
        if len(self.lines) >= self.limits.max_rows:
            self.problems.add(Rule.TOO_MANY_ROWS, f"the file has more than {self.limits.max_rows:,} rows",
                              file=self.label, line=start)
            return False
        self.rows.append(row)
        self.lines.append(start)
        if len(self.rows) >= _CHUNK_ROWS and not len(self.problems):
            self._flush()
        elif len(self.problems):
            self.rows.clear()  # the file is refused: keep reading only to find more problems
        return True

    def _csv_error(self, message: str, line: int) -> None:
        if "field larger than field limit" in message:
            self.problems.add(Rule.CELL_TOO_LONG, f"a cell is longer than {self.limits.max_cell_chars:,} characters",
                              file=self.label, line=line)
        elif "unexpected end of data" in message or "expected after" in message or "EOF" in message:
            self.problems.add(Rule.UNBALANCED_QUOTE, 'a quoted cell starting on this line is never closed properly '
                              '(a stray "?)', file=self.label, line=line)
        else:
            self.problems.add(Rule.CSV, f"the file is not valid CSV: {message}", file=self.label, line=line)

    def _header(self, row: list[str]) -> list[str]:
        names = [_unprefix(pa.array([c]))[0].as_py() for c in row]
        if len(names) > self.limits.max_columns:
            self.problems.add(Rule.TOO_MANY_COLUMNS, f"the file has {len(names):,} columns; the limit is "
                              f"{self.limits.max_columns:,}", file=self.label, line=1)
        seen: dict[str, int] = {}
        for position, name in enumerate(names, start=1):
            if not name.strip():
                self.problems.add(Rule.EMPTY_HEADER, f"column {position} has no name in the header",
                                  file=self.label, line=1)
            elif name in seen:
                self.problems.add(Rule.DUPLICATE_HEADER, f"the header names {name!r} twice (columns {seen[name]} "
                                  f"and {position})", file=self.label, line=1, column=name)
            else:
                seen[name] = position
        return names

    def parse(self, reader: Any, encoding: str, bom: bool) -> CsvTable:
        header = self._read(reader)
        if header is None and not len(self.problems):
            self.problems.add(Rule.EMPTY, "the file is empty", file=self.label)
        if header is None or len(self.problems):
            raise refuse(self.problems.frame())
        self._flush()
        index = pd.Index(np.asarray(self.lines, dtype=np.int64), name="line")
        texts: dict[str, Any] = {}
        cleared: dict[str, np.ndarray] = {}
        for name, arrays in zip(header, self.columns, strict=True):
            texts[name], cleared[name] = self._column(name, arrays, index)
        if len(self.problems):
            raise refuse(self.problems.frame())
        warnings = Problems()
        if self.delimiter != ",":
            shown = "semicolons (;)" if self.delimiter == ";" else "tabs"
            warnings.add(Rule.DELIMITER, f"the file is separated by {shown}, not commas; read it that way",
                         file=self.label, line=1, severity=Severity.WARNING)
        return CsvTable(self.label, pd.DataFrame(texts, index=index), pd.DataFrame(cleared, index=index, dtype=bool),
                        self.delimiter, encoding, bom, warnings.frame())

    def _column(self, name: str, arrays: list[pa.Array], index: pd.Index) -> tuple[Any, np.ndarray]:
        """One column as pandas text (empty -> NA, prefix stripped) and its mask of ``#N/A`` cells."""
        raw = pa.chunked_array(arrays, pa.string())
        if len(raw):
            too_long = pc.greater(pc.utf8_length(raw), self.limits.max_cell_chars)
            if pc.any(too_long).as_py():
                positions = np.flatnonzero(too_long.to_numpy(zero_copy_only=False))
                for i in positions[:_MAX_LISTED]:
                    self.problems.add(Rule.CELL_TOO_LONG, f"the cell is {len(raw[int(i)].as_py()):,} characters "
                                      f"long; the limit is {self.limits.max_cell_chars:,}", file=self.label,
                                      line=int(index[i]), column=name)
            raw = pc.if_else(pc.equal(raw, ""), pa.scalar(None, pa.string()), raw)
        cleared = pc.fill_null(pc.equal(raw, CLEAR_TOKEN), False).to_numpy(zero_copy_only=False)
        return pd.arrays.ArrowStringArray(_unprefix(raw).cast(pa.large_string())), np.asarray(cleared, dtype=bool)


def file_digest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Path (absolute), size and SHA-256 of a file, as recorded in a journal's ``inputs``."""
    p = Path(path)
    h = hashlib.sha256()
    with p.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return {"path": str(p.resolve()), "size": p.stat().st_size, "sha256": h.hexdigest()}


# --------------------------------------------------------------------------- writing


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


def neutralise(text: str) -> str:
    """One text cell as :func:`write_table` writes it (``'`` before what a spreadsheet would run or misread)."""
    return _neutralise(pa.array([text], pa.string()))[0].as_py()


def _cells(part: pd.DataFrame, cleared: pd.DataFrame | None) -> list[pa.Array]:
    columns = []
    for position in range(part.shape[1]):
        series = part.iloc[:, position]
        native = _native(series)
        if native is not None:  # written by Arrow exactly as format_column would, but unquoted
            columns.append(native)
            continue
        text, free = format_column(series)
        text = _neutralise(text) if free else text
        if cleared is not None:
            marks = cleared.iloc[:, position].to_numpy(dtype=bool)
            if marks.any():  # the clear marker, bare, so that it still clears when uploaded again
                text = pc.if_else(pa.array(marks), pa.scalar(CLEAR_TOKEN, pa.string()), text)
        columns.append(text)
    return columns


def write_table(df: pd.DataFrame, path: Any, *, bom: bool = True, cleared: pd.DataFrame | None = None) -> None:
    """Write ``df`` (its columns, not its index) as a CSV file that any spreadsheet opens safely.

    Text cells are neutralised against formula injection as described in the module docstring;
    empty cells are written for missing values; where ``cleared`` (a boolean frame of the same
    shape) is true, the bare ``#N/A`` clear marker is written.  ``path`` may be a path or a
    binary file object.  Rows are formatted and written a slice at a time, so memory stays
    flat for big tables.
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
            marks = None if cleared is None else cleared.iloc[start:start + _WRITE_ROWS]
            _write_rows(pa.Table.from_arrays(_cells(part, marks), names=names), sink, options)
    finally:
        if sink is not path:
            sink.close()


def _write_rows(table: pa.Table, sink: Any, options: pacsv.WriteOptions) -> None:
    out = io.BytesIO()
    pacsv.write_csv(table, out, options)
    sink.write(out.getbuffer())
