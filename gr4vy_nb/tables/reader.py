"""The four tables read from files, folders or DataFrames: text first, then typed, every problem collected.

This is the one reader of ``sessions.csv``, ``cart_items.csv``, ``legs.csv`` and
``passengers.csv``; :meth:`SessionFrames.read_csv <gr4vy_nb.tables.frames.SessionFrames.read_csv>`,
the bulk engine's uploads (:mod:`gr4vy_nb.updates.upload`) and the reports all read through it:

* :func:`read_tables`: any subset of the four tables as text (:class:`UploadTable`, cells by
  file line, ``#N/A`` marks kept), from a folder, a path, a list of paths,
  ``{name: path | bytes | DataFrame}`` or a :class:`~gr4vy_nb.tables.frames.SessionFrames`;
* :func:`parse_cells`: one table's text typed per the field spec, with its problems;
* :func:`read_frames`: both, with ``errors="raise"`` (refuse the input at the first error)
  or ``errors="collect"`` (bad cells left empty, every problem listed).

A CSV file is read by :func:`gr4vy_nb.tables.fastcsv.read_regular` when it is regular (Arrow's
CSV reader, the same table), else by :func:`gr4vy_nb.tables.files.read_table`; several tables
are read and typed two at a time.

Table checks done here, beyond each cell's own: a missing ``checkout_session_id``
(``required``), a session twice in ``sessions`` or an index twice for a session
(``duplicate_key``), more legs or passengers than ``maxItems`` (``max_items``), and columns
the spec does not know (``unknown_column``). Whether required fields of a model are present
needs the merged session, and is the models' job. Ids are kept as written (the tables are
lossless); an upload compares them in lower case. Problems quote personal values masked
(:mod:`gr4vy_nb.tables.masking`).
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from ..problems import Problems, Rule, concat, has_errors, refuse
from ..problems import frame as problems_frame
from . import spec as F
from .cells import format_column, typed_array
from .columns import pandas_arrays
from .fastcsv import read_regular
from .files import CLEAR_TOKEN, DEFAULT_LIMITS, Limits, file_digest, read_table
from .masking import mask_value
from .versions import VERSION_COLUMN
from .workbooks import is_workbook, read_workbook

__all__ = [
    "ParsedCells",
    "UploadTable",
    "detect_table",
    "known_table",
    "parse_cells",
    "read_frames",
    "read_tables",
    "table_from_records",
    "table_records",
]

_CANONICAL_NAMES = {f"{t}.csv": t for t in F.TABLES}
Errors = Literal["raise", "collect"]
_T = TypeVar("_T")


@dataclass
class UploadTable:
    """One table as the user wrote it, and (once parsed) typed.

    ``text``: the cells as read (index: file line); ``cleared``: ``True`` where a cell is the
    ``#N/A`` clear marker; ``digest``: path, size and SHA-256 of the file it was read from;
    ``typed``: the cells parsed per the field spec (an upload's ids in lower case); ``clears``: for the
    columns named after an object or list, where they hold ``#N/A`` (an upload's business).
    """

    table: str
    file: str
    text: pd.DataFrame
    cleared: pd.DataFrame
    digest: dict[str, Any] | None = None
    typed: pd.DataFrame | None = None
    clears: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return [str(c) for c in self.text.columns]

    def __repr__(self) -> str:
        return f"UploadTable({self.table!r}, {self.file!r}, {len(self.text)} rows)"


@dataclass(slots=True)
class ParsedCells:
    """Typed columns (same index as the input: file lines) and the problems found."""

    frame: pd.DataFrame
    problems: pd.DataFrame

    @property
    def ok(self) -> bool:
        """True when no problem is an error (warnings allowed)."""
        return not has_errors(self.problems)

    def __iter__(self) -> Any:
        """Unpacks as ``typed, problems = parse_cells(...)``."""
        return iter((self.frame, self.problems))


# --------------------------------------------------------------------------- records


def table_records(t: UploadTable) -> dict[str, Any]:
    """An uploaded table as plain JSON-ready data: ``file``, ``columns``, ``lines``, ``values``, ``cleared``.

    ``values`` holds each column's cells (``None`` when empty); ``cleared`` the positions of
    the cells of each column that are the ``#N/A`` marker. :func:`table_from_records` inverts it.
    """
    return {
        "table": t.table,
        "file": t.file,
        "columns": t.columns,
        "lines": t.text.index.to_numpy().tolist(),
        "values": {c: t.text[c].to_numpy(dtype=object, na_value=None).tolist() for c in t.columns},
        "cleared": {c: np.flatnonzero(t.cleared[c].to_numpy(dtype=bool)).tolist() for c in t.columns
                    if t.cleared[c].any()},
    }


def table_from_records(data: Mapping[str, Any]) -> UploadTable:
    """The :class:`UploadTable` (text and marks, not yet parsed) of :func:`table_records` data."""
    lines = pd.Index(np.asarray(data["lines"], dtype=np.int64), name="line")
    text = pd.DataFrame({c: pd.array(data["values"][c], dtype="string[pyarrow]") for c in data["columns"]},
                        index=lines)
    cleared = pd.DataFrame(False, index=lines, columns=list(data["columns"]), dtype=bool)
    for c, positions in (data.get("cleared") or {}).items():
        cleared.iloc[positions, cleared.columns.get_loc(c)] = True
    return UploadTable(data["table"], data["file"], text, cleared)


# --------------------------------------------------------------------------- finding and reading the files


def detect_table(label: str, columns: Iterable[str]) -> str:
    """Which table a file holds: by its name (``*cart_items.csv``), else its index column, else its columns."""
    stem = Path(label).stem.lower()
    for table in F.TABLES:
        if stem == table or stem.endswith(("_" + table, "-" + table, " " + table)):
            return table
    cols = set(columns)
    for table, child in F.CHILD_TABLES.items():
        if child.index in cols:
            return table
    scores = {t: sum(F.field_for(t, c) is not None for c in cols) for t in F.TABLES}
    best = max(scores.values())
    return "sessions" if scores["sessions"] == best else max(scores, key=scores.__getitem__)


def _frame_as_text(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A DataFrame given in memory as text cells (as if read from CSV) and its ``#N/A`` mask."""
    lines = pd.Index(np.arange(2, len(df) + 2, dtype=np.int64), name="line")
    text, cleared = {}, {}
    for column in df.columns:
        arr, _free = format_column(df[column].reset_index(drop=True))
        arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr) if len(arr) else arr
        text[str(column)] = pd.arrays.ArrowStringArray(arr.cast(pa.large_string()))
        cleared[str(column)] = np.asarray(pc.fill_null(pc.equal(arr, CLEAR_TOKEN), False), dtype=bool)
    return pd.DataFrame(text, index=lines), pd.DataFrame(cleared, index=lines, dtype=bool)


def known_table(label: str, columns: Iterable[str]) -> bool:
    """Whether a file is one of the four tables: named after one, or with a column of one (``error`` aside)."""
    stem = Path(label).stem.lower()
    if any(stem == t or stem.endswith(("_" + t, "-" + t, " " + t)) for t in F.TABLES):
        return True
    return any(F.field_for(t, str(c).strip()) is not None for t in F.TABLES for c in columns)


def _not_a_table(label: str, columns: list[str]) -> str:
    shown = ", ".join(repr(c) for c in columns[:6]) + (", ..." if len(columns) > 6 else "")
    return (f"this is not one of the four tables (sessions, cart_items, legs, passengers): none of its columns "
            f"({shown or 'none'}) is theirs; upload an export's files, or name the file after its table")


def _header_cells(item: Any, encoding: str | None) -> list[str]:
    """The first line's cells of a file (best effort, for telling what it is)."""
    import csv
    import io

    try:
        if isinstance(item, str | os.PathLike):
            with open(item, "rb") as fh:
                head = fh.read(65536)
        else:
            head = bytes(item[:65536]) if isinstance(item, bytes | bytearray | memoryview) else b""
        text = head.decode(encoding or "utf-8-sig", errors="replace").removeprefix("\ufeff")
        first = text.splitlines()[0] if text.strip() else ""
        delimiter = ";" if "," not in first and ";" in first else "\t" if "," not in first and "\t" in first else ","
        return next(csv.reader(io.StringIO(first), delimiter=delimiter), [])
    except (OSError, csv.Error, StopIteration, TypeError):
        return []


def _folder_files(folder: Path) -> list[Path]:
    files = [p for p in sorted(folder.iterdir()) if p.is_file() and p.name.lower() in _CANONICAL_NAMES]
    if not files:  # a workbook: an export's, or the four tables as sheets
        files = [p for p in sorted(folder.iterdir()) if p.is_file() and is_workbook(p) and not p.name.startswith("~$")]
    if not files:  # a results folder: its errors files are uploaded again
        files = [p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() == ".csv"
                 and p.stem.lower().startswith("errors")]
    if not files:  # whatever else is there, to be told what it is (a .txt is not one of the tables)
        files = [p for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith((".", "~$"))]
    return files


def _entries(source: Any) -> list[tuple[str | None, Any]]:
    """``(name or table, item)`` for each table of a source (see :func:`read_tables`)."""
    if hasattr(source, "tables") and callable(source.tables):  # SessionFrames
        return [(t, df) for t, df in source.tables().items() if len(df)]
    if isinstance(source, Mapping):
        return [(str(k), v) for k, v in source.items()]
    if isinstance(source, str | os.PathLike):
        p = Path(source)
        if p.is_dir():
            found = _folder_files(p)
            if not found:
                raise InputError(f"{p}: no sessions.csv, cart_items.csv, legs.csv or passengers.csv (nor an .xlsx "
                                 "workbook) in this folder")
            return [(None, f) for f in found]
        return [(None, p)]
    return [(None, item) for item in source]


def _read_workbook_entry(name: str | None, item: Any, found: Problems, limits: Limits) -> list[UploadTable]:
    """The tables of a workbook (a sheet each); sheets that are not one of the four are skipped with a warning."""
    digest = None
    if isinstance(item, str | os.PathLike):
        if not Path(item).is_file():
            found.add(Rule.MISSING_FILE, f"no such file ({item})", file=Path(item).name)
            return []
        digest = file_digest(item)
        label = Path(item).name
    else:
        label = name or "<upload>.xlsx"
    try:
        sheets, problems = read_workbook(item, name=label, limits=limits)
    except InputError as exc:
        if exc.problems is not None and len(exc.problems):
            found.extend(exc.problems)
        else:
            found.add(Rule.UNREADABLE, str(exc), file=label)
        return []
    found.extend(problems)
    out = []
    for sheet, read in sheets:
        columns = [str(c) for c in read.frame.columns]
        if not known_table(sheet, columns):
            found.warn(Rule.NOT_A_TABLE, f"sheet {sheet!r} is not one of the four tables: it is ignored",
                       file=read.file)
            continue
        table = sheet if sheet in F.TABLES else detect_table(sheet, columns)
        sheet_digest = None if digest is None else {**digest, "table": table}
        out.append(UploadTable(table, read.file, read.frame, read.cleared, sheet_digest))
    if not sheets and not len(problems):
        found.add(Rule.EMPTY, "the workbook has no sheet with a header", file=label)
    return out


def _read_entry(name: str | None, item: Any, found: Problems, encoding: str | None,
                limits: Limits) -> UploadTable | list[UploadTable] | None:
    """One table as text (a workbook: its tables), or ``None`` (its problems added to ``found``)."""
    if not isinstance(item, pd.DataFrame) and is_workbook(item, name):
        return _read_workbook_entry(name, item, found, limits)
    digest = None
    if isinstance(item, pd.DataFrame):
        label = name if name and name.endswith(".csv") else f"{name or 'table'}.csv"
        text, cleared = _frame_as_text(item)
    else:
        if isinstance(item, str | os.PathLike):
            if not Path(item).is_file():
                found.add(Rule.MISSING_FILE, f"no such file ({item})", file=Path(item).name)
                return None
            digest = file_digest(item)
            label = Path(item).name
        else:
            label = name if name and name.lower().endswith(".csv") else f"{name}.csv" if name else "<upload>"
        try:
            read = (read_regular(item, name=label, limits=limits, encoding=encoding)
                    or read_table(item, name=label, encoding=encoding, limits=limits))
        except InputError as exc:
            header = _header_cells(item, encoding)
            problems = exc.problems
            if header and not known_table(label, header) and (problems is None or not (
                    problems["rule"].isin([Rule.ENCODING, Rule.BINARY, Rule.EMPTY, Rule.TOO_LARGE]).any())):
                found.add(Rule.NOT_A_TABLE, _not_a_table(label, header), file=label, line=1)
            elif problems is not None and len(problems):
                found.extend(problems)
            else:
                found.add(Rule.UNREADABLE, str(exc), file=label)
            return None
        if len(read.warnings):
            found.extend(read.warnings)
        text, cleared, label = read.frame, read.cleared, read.file
    columns = [str(c) for c in text.columns]
    if name not in F.TABLES and not known_table(label, columns):
        found.add(Rule.NOT_A_TABLE, _not_a_table(label, columns), file=label, line=1)
        return None
    table = name if name in F.TABLES else detect_table(label, columns)
    if digest is not None:
        digest["table"] = table
    return UploadTable(table, label, text, cleared, digest)


def read_tables(source: Any, *, encoding: str | None = None,
                limits: Limits = DEFAULT_LIMITS) -> tuple[dict[str, UploadTable], pd.DataFrame]:
    """Read the tables of a source as text: ``({table: UploadTable}, problems)``.

    ``source``: a folder (its ``sessions.csv``, ``cart_items.csv``, ``legs.csv`` and
    ``passengers.csv``, or, when there are none, the ``errors*.csv`` files of a run's
    results), a path, a list of paths, ``{name: path | bytes | DataFrame}`` or a
    :class:`~gr4vy_nb.tables.frames.SessionFrames`. Files other than the four tell their
    table by name (``..._cart_items.csv``), by their index column, or by their columns.
    Files that cannot be read are reported in ``problems`` (nothing raised for them).

    Raises:
        InputError: a folder holds none of the tables.
    """
    def read(name: str | None, item: Any) -> tuple[Problems, UploadTable | list[UploadTable] | None]:
        own = Problems()
        return own, _read_entry(name, item, own, encoding, limits)

    found = Problems()
    tables: dict[str, UploadTable] = {}
    for own, read_ in _in_parallel(read, _entries(source)):
        found.extend(own)
        for t in read_ if isinstance(read_, list) else [read_] if read_ is not None else []:
            if t.table in tables:
                found.add(Rule.DUPLICATE_FILE, f"two files hold {t.table}: {tables[t.table].file} and {t.file}; "
                          "upload one file per table", file=t.file)
                continue
            tables[t.table] = t
    return tables, found.frame()


def _in_parallel(fn: Callable[..., _T], items: Sequence[tuple[Any, ...]]) -> list[_T]:
    """``fn(*item)`` of each item, two at a time (Arrow's work releases the GIL), the answers in order.

    Each call runs in a copy of the caller's context, so :func:`~gr4vy_nb.tables.files.default_encoding`
    still applies; an exception is raised as the item's answer is reached.
    """
    if len(items) < 2:
        return [fn(*item) for item in items]
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(contextvars.copy_context().run, fn, *item) for item in items]
        return [f.result() for f in futures]


# --------------------------------------------------------------------------- typing the cells


def parse_cells(table: str, frame: pd.DataFrame, *, file: str | None = None, cleared: pd.DataFrame | None = None,
                mask: bool = True) -> ParsedCells:
    """Parse every cell of a text table for ``table`` (``sessions``, ``cart_items``, ``legs``, ``passengers``).

    ``frame`` is a table of text as :func:`read_tables` gives it (its index holds the file
    lines reported); ``cleared`` marks cells that are the ``#N/A`` clear marker (left
    ``<NA>`` and unchecked). The result keeps the known columns, in the input's order, typed
    per the field spec; unparseable cells are ``<NA>`` and reported. Personal values are
    masked in the problems (value and message) unless ``mask=False``.
    """
    file = file or f"{table}.csv"
    lines = frame.index.to_numpy()
    found = Problems(mask=mask_value if mask else None)
    columns: dict[str, Any] = {}

    def line_of(position: int | None, column: str | None) -> int | None:
        return int(lines[position]) if position is not None and len(lines) else (1 if column else None)

    for column in frame.columns:
        name = str(column)
        f = F.field_for(table, name)
        if f is None and name == VERSION_COLUMN:  # an export's row versions: checked by the plan, not typed
            continue
        if f is None:
            found.add(Rule.UNKNOWN_COLUMN, _unknown_column_message(table, name), file=file, line=1, column=name)
            continue
        text = pa.array(frame[column].array)
        if isinstance(text, pa.ChunkedArray):
            text = text.combine_chunks()
        if not pa.types.is_string(text.type) and not pa.types.is_large_string(text.type):
            text = text.cast(pa.string())
        if cleared is not None and column in cleared and cleared[column].any():
            text = pc.if_else(pa.array(cleared[column].to_numpy(dtype=bool)), pa.scalar(None, text.type), text)
        typed, problems = typed_array(f, text)
        for position, rule, message in problems:
            found.add(rule, message, file=file, line=line_of(position, name), column=name,
                      value=text[position].as_py(), table=table)
        if f.role == "key":
            for position in np.flatnonzero(pc.is_null(text).to_numpy(zero_copy_only=False)).tolist():
                found.add(Rule.REQUIRED, "every row needs a checkout_session_id", file=file,
                          line=line_of(position, name), column=name)
        columns[name] = (typed, f)
    typed_frame = pd.DataFrame(pandas_arrays(columns), index=frame.index)
    _check_keys(table, typed_frame, found, file)
    return ParsedCells(typed_frame, found.frame())


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


def _codes(values: pd.Series) -> np.ndarray:
    """An integer per distinct value (``-1`` where missing); equal values, equal codes."""
    if not len(values):
        return np.array([], np.int64)
    arr = pa.array(values.array)
    encoded = pc.dictionary_encode(arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr)
    return np.asarray(pc.fill_null(encoded.indices, -1), dtype=np.int64)


def _check_keys(table: str, frame: pd.DataFrame, found: Problems, file: str) -> None:
    if F.KEY not in frame.columns:
        if len(frame.columns):
            found.add(Rule.REQUIRED, f"{table}.csv needs a {F.KEY} column", file=file, line=1, column=F.KEY)
        return
    ids = frame[F.KEY]
    # Keys are compared as codes (one hash pass each); only the duplicates found go through Python.
    codes = _codes(ids)
    positions = np.arange(len(ids))
    lines = frame.index
    if table == "sessions":
        first = _first_rows(codes)
        for position in np.flatnonzero((first >= 0) & (first != positions)).tolist():
            value = ids.iloc[position]
            found.add(Rule.DUPLICATE_KEY, f"session {value} is already on line {lines[first[position]]}", file=file,
                      line=lines[position], column=F.KEY, value=value, table=table)
        return
    child = F.CHILD_TABLES[table]
    if child.index in frame.columns:
        index_codes = _codes(frame[child.index])
        both = np.where((codes >= 0) & (index_codes >= 0), codes * (int(index_codes.max(initial=0)) + 1) + index_codes,
                        -1)
        first = _first_rows(both)
        for position in np.flatnonzero((first >= 0) & (first != positions)).tolist():
            sid, idx = ids.iloc[position], frame[child.index].iloc[position]
            found.add(Rule.DUPLICATE_KEY, f"session {sid} already has {child.index} {idx} on line "
                      f"{lines[first[position]]}", file=file, line=lines[position], column=child.index, value=idx,
                      table=table)
    if child.max_items is not None and len(ids):
        _check_max_items(table, child.max_items, ids, codes, found, file)


def _check_max_items(table: str, max_items: int, ids: pd.Series, codes: np.ndarray, found: Problems,
                     file: str) -> None:
    """Each session with more than ``max_items`` rows, once, on its first excess row."""
    positions = np.arange(len(ids))
    valid = codes >= 0
    order = np.argsort(np.where(valid, codes, -1), kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    rank = np.empty(len(codes), dtype=np.int64)
    rank[order] = positions - np.repeat(starts, np.diff(np.r_[starts, len(codes)]))
    counts = np.bincount(codes[valid], minlength=int(codes.max(initial=-1)) + 1)
    for position in np.flatnonzero(valid & (rank == max_items)).tolist():
        found.add(Rule.MAX_ITEMS, f"session {ids.iloc[position]} has {int(counts[codes[position]])} {table}; "
                  f"at most {max_items} are allowed", file=file, line=ids.index[position], column=F.KEY,
                  value=ids.iloc[position], table=table)


# --------------------------------------------------------------------------- both


def read_frames(source: Any, *, encoding: str | None = None, limits: Limits = DEFAULT_LIMITS,
                errors: Errors = "raise", versions: dict[str, list[Any]] | None = None,
                ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Read and type the tables of ``source`` (see :func:`read_tables`): ``({table: typed frame}, problems)``.

    With ``errors="raise"`` an input with any error is refused (:class:`InputError` carrying
    every problem of every file); with ``errors="collect"`` cells that break a rule are left
    empty and listed in ``problems``, but a file that cannot be read at all (encoding, quoting,
    size, missing) is still refused. ``problems`` holds the warnings either way. ``versions``: a dict
    to fill with each table's ``row_version`` cells, in row order, for the tables whose file has them.
    """
    if errors not in ("raise", "collect"):
        raise ValueError("errors must be 'raise' or 'collect'")
    tables, problems = read_tables(source, encoding=encoding, limits=limits)
    if versions is not None:
        versions.update({table: t.text[VERSION_COLUMN].tolist() for table, t in tables.items()
                         if VERSION_COLUMN in t.text.columns})
    unreadable = has_errors(problems)
    parts = [problems]
    frames: dict[str, pd.DataFrame] = {}
    typed = _in_parallel(lambda table, t: parse_cells(table, t.text, file=t.file), list(tables.items()))
    for table, parsed in zip(tables, typed, strict=True):
        parts.append(parsed.problems)
        frames[table] = parsed.frame.reset_index(drop=True)
    found = concat(parts)
    if (errors == "raise" or unreadable) and has_errors(found):
        raise refuse(found)
    return frames, found if len(found) else problems_frame()
