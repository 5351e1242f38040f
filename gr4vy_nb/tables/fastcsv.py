"""The fast path of reading a CSV file: regular files parsed by Arrow, or ``None`` to read them the exact way.

:func:`gr4vy_nb.tables.files.read_table` reads a file with Python's ``csv`` module, which
gives the exact line of every row and refuses every malformed file precisely, at ~1 µs a
cell.  Most files are regular (our own exports, a spreadsheet saved as CSV UTF-8); for
them :func:`read_regular` gives the same :class:`~gr4vy_nb.tables.files.CsvTable`, cell for
cell and line for line, about five times faster, and for anything else it answers ``None``
and the caller reads the file the exact way.  A file is regular when:

* it is UTF-8 (a BOM allowed), holds no NUL byte and no ``\\r`` outside a ``\\r\\n`` line end,
  and its header is a comma-separated line of distinct non-empty names that need no ``'``
  stripped (the delimiter :func:`read_table` would pick is ``,``), with at least two of them;
* every line is a record of well-formed fields, checked by one RE2 match over the whole
  text: a field is either unquoted (no ``"``, no delimiter, no line break) or quoted with
  only doubled quotes inside and no line break, and is followed by a comma or the end of
  the line.  On such lines Arrow's CSV parser and Python's (strict) ``csv`` module read
  exactly the same cells, and each record is one line, so row ``i`` is on line ``i + 2``;
* Arrow finds as many rows as there are lines (so no blank line was skipped and no row is
  ragged), within ``limits``, and no line is longer than the cell limits (so no cell is).

Rows whose cells are all empty are skipped, as :func:`read_table` skips them.
"""

from __future__ import annotations

import csv
import io
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from ..problems import frame as problems_frame
from .files import CLEAR_TOKEN, CsvTable, Limits, _delimiter, _encoding, _unprefix

__all__ = ["read_regular"]

_BOM = b"\xef\xbb\xbf"
_FIELD = r'(?:"(?:[^"\r\n]|"")*"|[^",\r\n]*)'
_LINE = _FIELD + r"(?:," + _FIELD + r")*\r?"
_REGULAR = r"\A(?:" + _LINE + r"\n)*(?:" + _LINE + r")?\z"


def read_regular(source: Any, *, name: str | None, limits: Limits, encoding: str | None = None) -> CsvTable | None:
    """The :class:`CsvTable` :func:`read_table` would give for a regular file (see the module), else ``None``.

    ``source``: a path or bytes (anything else: ``None``).  Never raises for a bad file: a
    file that would be refused, warned about or read in any special way is not regular.
    """
    if _encoding(encoding) is not None:
        return None
    if isinstance(source, str | os.PathLike):
        label = name or os.path.basename(os.fspath(source))
        try:
            if os.stat(source).st_size > limits.max_bytes:
                return None
            with open(source, "rb") as fh:
                data = fh.read()  # within the cap, as its size says (checked again below)
        except OSError:
            return None
    elif isinstance(source, bytes | bytearray | memoryview):
        label = name or "<upload>"
        data = bytes(source)
    else:
        return None
    if len(data) > limits.max_bytes:
        return None
    try:
        return _parse(data, label, limits)
    except (pa.ArrowException, ValueError, csv.Error):  # anything Arrow or the header cannot take: not regular
        return None


def _parse(data: bytes, label: str, limits: Limits) -> CsvTable | None:
    bom = data.startswith(_BOM)
    start = len(_BOM) if bom else 0
    if b"\x00" in data or (b"\r" in data and data.count(b"\r") != data.count(b"\r\n")):
        return None
    first_end = data.find(b"\n", start)
    head = data[start:] if first_end < 0 else data[start:first_end]
    names = _header(head.decode("utf-8"), limits)
    if names is None:
        return None
    lines, longest = _lines(data, start)
    if lines - 1 > limits.max_rows or longest > min(limits.max_cell_chars, csv.field_size_limit()):
        return None
    body = pa.py_buffer(data).slice(start)
    whole = pa.LargeStringArray.from_buffers(1, pa.py_buffer(np.array([0, len(body)], np.int64)), body)
    with ThreadPoolExecutor(1) as pool:  # the check runs while Arrow parses (both release the GIL)
        regular = pool.submit(lambda: pc.all(pc.match_substring_regex(whole, _REGULAR)).as_py())
        table = _read_rows(body.slice(len(head) + 1) if first_end >= 0 else body.slice(len(body)), len(names))
        if not regular.result():  # also refuses text that is not UTF-8
            return None
    if table.num_rows != lines - 1:
        return None
    line_numbers = np.arange(2, table.num_rows + 2, dtype=np.int64)
    if table.num_rows and table.column(0).null_count:  # rows of empty cells are skipped (their first cell is empty)
        blank = table.column(0).is_null()
        for column in table.columns[1:]:
            blank = pc.and_(blank, column.is_null())
        if pc.any(blank).as_py():
            keep = pc.invert(blank)
            table = table.filter(keep)
            line_numbers = line_numbers[np.asarray(keep)]
    index = pd.Index(line_numbers, name="line")
    clears = CLEAR_TOKEN.encode() in data
    quotes = b"'" in data
    texts: dict[str, Any] = {}
    cleared: dict[str, np.ndarray] = {}
    for name, raw in zip(names, table.columns, strict=True):
        cleared[name] = (np.asarray(pc.fill_null(pc.equal(raw, CLEAR_TOKEN), False), dtype=bool) if clears
                         else np.zeros(len(raw), dtype=bool))
        if quotes and pc.any(pc.starts_with(raw, "'")).as_py():
            raw = _unprefix(raw)
        texts[name] = pd.arrays.ArrowStringArray(raw)
    return CsvTable(label, pd.DataFrame(texts, index=index), pd.DataFrame(cleared, index=index, dtype=bool), ",",
                    "utf-8", bom, problems_frame())


def _read_rows(rows: pa.Buffer, width: int) -> pa.Table:
    """The rows (after the header) as large_string columns ``c0``...; empty cells, quoted or not, are null."""
    columns = [f"c{i}" for i in range(width)]
    if not rows.size:
        return pa.table({c: pa.array([], pa.large_string()) for c in columns})
    return pacsv.read_csv(
        pa.BufferReader(rows),
        read_options=pacsv.ReadOptions(column_names=columns, block_size=1 << 20),
        parse_options=pacsv.ParseOptions(delimiter=",", quote_char='"', double_quote=True, escape_char=False,
                                         newlines_in_values=False, ignore_empty_lines=True),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(columns, pa.large_string()), check_utf8=True,
                                             null_values=[""], strings_can_be_null=True,
                                             quoted_strings_can_be_null=True))


def _header(text: str, limits: Limits) -> list[str] | None:
    """The header's names when :func:`read_table` would take them as they are (and split on commas)."""
    if _delimiter(text) != ",":
        return None
    names = next(csv.reader(io.StringIO(text), strict=True), [])
    if not 2 <= len(names) <= limits.max_columns or len(set(names)) != len(names):
        return None
    if any(not n.strip() or n.startswith(("'", "\ufeff")) for n in names):
        return None
    return names


def _lines(data: bytes, start: int, window: int = 16 << 20) -> tuple[int, int]:
    """How many lines the text from ``start`` has, and the length of the longest (its line end included)."""
    view = np.frombuffer(data, np.uint8, offset=start)
    lines = longest = 0
    previous = -1  # position of the last line end seen
    for at in range(0, len(view), window):
        ends = np.flatnonzero(view[at:at + window] == 10) + at
        if len(ends):
            longest = max(longest, int(ends[0] - previous), int(np.diff(ends).max(initial=0)))
            previous = int(ends[-1])
            lines += len(ends)
    if previous < len(view) - 1:  # a last line without a line end
        lines += 1
        longest = max(longest, len(view) - previous)
    return lines, longest
