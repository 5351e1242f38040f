"""Excel workbooks, both ways: the four tables as sheets, read and written as the CSV files are.

* :func:`write_workbook`: one sheet a table; text fields as text cells (leading zeros and long
  digit strings survive Excel), numbers and booleans native, date-times as the CSV's text.
* :func:`read_workbook` / :func:`is_workbook`: ``.xlsx`` uploads wherever CSVs are accepted:
  sheets by name, rows by their row number, text cells as text, numbers, dates and booleans as
  the text a CSV would hold (then checked against the current value like CSV cells), formula
  cells by their cached value, error cells other than ``#N/A`` refused.

The CSV side (limits, refusals, :class:`~gr4vy_nb.tables.files.CsvTable`) is
:mod:`gr4vy_nb.tables.files`.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from ..problems import Problems, Rule
from .cells import format_column
from .files import CLEAR_TOKEN, DEFAULT_LIMITS, CsvTable, Limits, load_source, refusal

__all__ = ["is_workbook", "read_workbook", "write_workbook"]

_EXCEL_MAX_ROWS = 1_048_575  # plus the header row


# --------------------------------------------------------------------------- writing


def write_workbook(tables: Mapping[str, pd.DataFrame], path: str | os.PathLike[str]) -> None:
    """Write an Excel workbook with one sheet per table (named by its key).

    Integers, floats and booleans are written as numbers and booleans; everything else (text,
    lists, dates, date-times in UTC) as text cells holding what the CSV files hold, so leading
    zeros and long digit strings survive a spreadsheet, a value starting with ``=`` is never run
    as a formula, and the workbook uploaded again (:func:`read_workbook`) plans no change.

    Raises:
        ValueError: a table has more rows than an Excel sheet holds.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    workbook = Workbook(write_only=True)
    for table, df in tables.items():
        if len(df) > _EXCEL_MAX_ROWS:
            raise ValueError(f"{table} has {len(df):,} rows; an Excel sheet holds at most {_EXCEL_MAX_ROWS:,}")
        sheet = workbook.create_sheet(table)
        sheet.append([_text_cell(sheet, WriteOnlyCell, str(c)) for c in df.columns])
        columns = [_excel_values(df[c]) for c in df.columns]
        for row in zip(*columns, strict=True) if columns else ():
            sheet.append([_text_cell(sheet, WriteOnlyCell, v) if isinstance(v, str) else v for v in row])
    workbook.save(path)


def _text_cell(sheet: Any, cell_class: Any, value: str) -> Any:
    cell = cell_class(sheet, value=value)
    cell.data_type = "s"  # openpyxl would otherwise store "=..." as a formula
    return cell


def _excel_values(series: pd.Series) -> list[Any]:
    """Python values for openpyxl: ``None`` for missing; integers, floats and booleans as themselves;
    everything else (text, lists, dates, date-times) as the text the CSV file holds, so that the
    workbook read back (:func:`read_workbook`) gives the same text; text ``#N/A`` as ``'#N/A``."""
    dtype = series.dtype
    numeric = (isinstance(dtype, np.dtype) and dtype.kind in "iufb") or isinstance(
        dtype, pd.Int64Dtype | pd.BooleanDtype | pd.Float64Dtype) or (
        isinstance(dtype, pd.ArrowDtype) and (pa.types.is_integer(dtype.pyarrow_dtype)
                                              or pa.types.is_floating(dtype.pyarrow_dtype)
                                              or pa.types.is_boolean(dtype.pyarrow_dtype)))
    if numeric:
        values = pa.array(series.array, from_pandas=True).to_pylist()
        # Floats beyond 15 significant digits would lose digits in a spreadsheet: those go as text.
        return [v if not isinstance(v, float) or len(repr(v).replace("-", "").replace(".", "")) <= 15 else repr(v)
                for v in values]
    text, _free = format_column(series)
    return [("'" + CLEAR_TOKEN if v == CLEAR_TOKEN else v) for v in text.to_pylist()]


# --------------------------------------------------------------------------- reading Excel workbooks

_WORKBOOK_SUFFIXES = (".xlsx", ".xlsm")


def is_workbook(source: Any, name: str | None = None) -> bool:
    """Whether ``source`` (a path, or bytes named ``name``) is an Excel workbook to read as tables."""
    if isinstance(source, str | os.PathLike):
        return Path(source).suffix.lower() in _WORKBOOK_SUFFIXES
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source[:4]) == b"PK\x03\x04" and (name is None or Path(name).suffix.lower() in
                                                        (*_WORKBOOK_SUFFIXES, ""))
    return False


def _cell_text(cell: Any) -> tuple[str | None, bool]:
    """One workbook cell as the text a CSV would hold, and whether it is the ``#N/A`` clear marker.

    Text as text (a text ``#N/A`` or an ``#N/A`` error cell is the marker; ``'#N/A`` is that text as
    data), numbers as their shortest decimal form, booleans ``true``/``false``, dates and times in
    ISO 8601, formula cells by their cached value, other error cells as their error text (refused
    by the checks).
    """
    import datetime as dt

    value = cell.value
    if value is None:
        return None, False
    if getattr(cell, "data_type", None) == "e" or (isinstance(value, str) and value == CLEAR_TOKEN):
        text = str(value)
        return text, text == CLEAR_TOKEN
    if isinstance(value, str):
        if value == "'" + CLEAR_TOKEN:
            return CLEAR_TOKEN, False
        return (value if value != "" else None), False
    if isinstance(value, bool):
        return ("true" if value else "false"), False
    if isinstance(value, int):
        return str(value), False
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value)), False
        return repr(value), False
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0) and value.tzinfo is None:
            return value.date().isoformat(), False
        return value.isoformat(), False
    if isinstance(value, dt.date | dt.time):
        return value.isoformat(), False
    if isinstance(value, dt.timedelta):
        return str(value), False
    return str(value), False


def read_workbook(source: Any, *, name: str | None = None,
                  limits: Limits = DEFAULT_LIMITS) -> tuple[list[tuple[str, CsvTable]], pd.DataFrame]:
    """The sheets of an Excel workbook as text tables: ``([(sheet, CsvTable), ...], problems)``.

    Each sheet's first non-empty row is its header; the frame's index is the sheet's row number
    (the header's is 1 when it is the first row), as a CSV file's line. Cells become the text a
    CSV export holds (see :func:`_cell_text`); empty rows and trailing unnamed empty columns are
    skipped; empty sheets are left out. Each table's ``file`` is ``book.xlsx:sheet``.

    Raises:
        InputError: the file is not a workbook openpyxl can read, or a sheet breaks a limit.
    """
    from openpyxl import load_workbook

    data, label = load_source(source, name, limits)
    try:
        with warnings.catch_warnings():  # Gnumeric's workbooks carry no default style: openpyxl applies its own
            warnings.filterwarnings("ignore", message="Workbook contains no default style", category=UserWarning)
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken file
        raise refusal(label, Rule.BINARY, f"this is not an Excel workbook openpyxl can read ({exc})") from None
    out: list[tuple[str, CsvTable]] = []
    found = Problems()
    try:
        for sheet in book.worksheets:
            table = _sheet_table(sheet, f"{label}:{sheet.title}", limits, found)
            if table is not None:
                out.append((sheet.title, table))
    finally:
        book.close()
    return out, found.frame()


def _sheet_table(sheet: Any, label: str, limits: Limits, found: Problems) -> CsvTable | None:
    header: list[str] | None = None
    columns: list[list[str | None]] = []
    marks: list[list[bool]] = []
    lines: list[int] = []
    before = len(found)
    for number, row in enumerate(sheet.iter_rows(), start=1):
        cells = [_cell_text(c) for c in row]
        if header is None:
            names = [t or "" for t, _ in cells]
            while names and not names[-1].strip():
                names.pop()
            if not names:
                continue
            header = names
            seen: dict[str, int] = {}
            for position, column in enumerate(header, start=1):
                if not column.strip():
                    found.add(Rule.EMPTY_HEADER, f"column {position} has no name in the header", file=label,
                              line=number)
                elif column in seen:
                    found.add(Rule.DUPLICATE_HEADER, f"the header names {column!r} twice (columns {seen[column]} and "
                              f"{position})", file=label, line=number, column=column)
                seen.setdefault(column, position)
            columns = [[] for _ in header]
            marks = [[] for _ in header]
            continue
        if not any(t is not None for t, _ in cells):
            continue
        extra = [i for i, (t, _) in enumerate(cells[len(header):], start=len(header) + 1) if t is not None]
        if extra:
            found.add(Rule.RAGGED_ROW, f"this row has a value in column {extra[0]}, which has no name in the header",
                      file=label, line=number)
            continue
        if len(lines) >= limits.max_rows:
            found.add(Rule.TOO_MANY_ROWS, f"the sheet has more than {limits.max_rows:,} rows", file=label,
                      line=number)
            break
        lines.append(number)
        for position in range(len(header)):
            text, cleared = cells[position] if position < len(cells) else (None, False)
            columns[position].append(text)
            marks[position].append(cleared)
    if header is None or len(found) > before:
        return None
    index = pd.Index(np.asarray(lines, dtype=np.int64), name="line")
    frame = pd.DataFrame({n: pd.arrays.ArrowStringArray(pa.array(v, pa.large_string()))
                          for n, v in zip(header, columns, strict=True)}, index=index)
    cleared = pd.DataFrame({n: np.asarray(m, dtype=bool) for n, m in zip(header, marks, strict=True)}, index=index,
                           dtype=bool)
    return CsvTable(label, frame, cleared, delimiter=",", encoding="xlsx")
