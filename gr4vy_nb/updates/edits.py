"""The edits an upload makes: every cell that differs from the session's current value, found column-wise.

The current sessions are flattened into the same tables as the upload (:class:`Current`) and
compared with it one column at a time, in Arrow, so an untouched session costs no Python
work per cell and an unedited export uploaded again is exactly "no edit". What is found, per
session, is a :class:`SessionEdits`: the top-level fields touched, the changed cells (with
their before and after values), the whole objects or lists cleared with ``#N/A``, and the
child tables whose list is rebuilt from the rows (when the rows are not exactly the current
elements 0..n-1). :mod:`gr4vy_nb.updates.merge` turns them into bodies.

Read-only cells that differ from the current value are errors (``read_only``); a changed
text that is the current one with its leading zeros lost is a warning (``leading_zeros``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..problems import Problems, Rule
from ..tables import spec as F
from ..tables.cells import rfc3339_utc
from ..tables.files import CLEAR_TOKEN
from ..tables.masking import mask_value
from ..tables.reader import UploadTable
from .checks import CLEAR_COLUMNS
from .upload import Upload

__all__ = ["Cell", "Current", "SessionEdits", "TableRows", "field_of", "find_edits", "json_values"]

Cell = tuple[str, int, str, bool, Any, Any]
"""A changed cell: ``(table, row position, column, cleared, before, after)`` (values as JSON)."""

_RESET = "; every update resets it"


@dataclass
class SessionEdits:
    """What an upload changes in one session (see the module docstring)."""

    fields: set[str] = field(default_factory=set)
    cells: list[Cell] = field(default_factory=list)
    clears: list[tuple[str, int]] = field(default_factory=list)  # (container column, row in sessions.csv)
    lists: set[str] = field(default_factory=set)  # child tables whose list is rebuilt whole


# --------------------------------------------------------------------------- column helpers


def _arrow(series: pd.Series) -> pa.Array:
    arr = pa.array(series.array)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _take(series: pd.Series | None, positions: np.ndarray, arrow_type: pa.DataType) -> pa.Array:
    """``series`` at ``positions`` (``-1``: null) as an Arrow array."""
    if series is None or not len(series):
        return pa.nulls(len(positions), arrow_type)
    arr = _arrow(series)
    if len(arr) == len(positions) and np.array_equal(positions, np.arange(len(positions))):
        return arr  # the upload lists the sessions in the order they were read: nothing to reorder
    return arr.take(pa.array(positions, mask=positions < 0))


def json_values(arr: pa.Array, kind: str) -> list[Any]:
    """A typed column's cells as JSON values (date-times as RFC 3339 UTC text, dates as ``YYYY-MM-DD``)."""
    if kind == "datetime":
        arr = rfc3339_utc(arr)
    elif kind == "date":
        arr = arr.cast(pa.string())
    return arr.to_pylist()


def _changed_cells(u: pa.Array, c: pa.Array, kind: str) -> np.ndarray:
    """Where a cell has a value that differs from the current one."""
    if kind == "list":  # compare lists as their items joined by a separator that text cannot hold
        u = pc.binary_join(u, "\x1f")
        c = pc.binary_join(c.cast(pa.list_(pa.string())), "\x1f")
    if u.type != c.type:
        c = c.cast(u.type)
    equal = pc.fill_null(pc.equal(u, c), False)
    return np.asarray(pc.and_(pc.is_valid(u), pc.invert(equal)), dtype=bool)


@cache
def field_of(table: str, column: str) -> F.Field | None:
    """:func:`gr4vy_nb.tables.spec.field_for`, cached (asked once per changed cell)."""
    return F.field_for(table, column)


def _with_default(c: pa.Array, f: F.Field) -> pa.Array:
    """Current values with the schema default where none is stored (a default given explicitly is no change)."""
    if f.has_default and f.default is not None and f.kind in ("int", "bool", "str", "enum") and c.null_count:
        return pc.fill_null(c, pa.scalar(f.default, c.type))
    return c


# --------------------------------------------------------------------------- the current state


class Current:
    """The current state of the sessions named: the dicts by id, and the same flattened (once)."""

    def __init__(self, current: Mapping[str, Any], frames: Any = None) -> None:
        from ..tables.frames import flatten_sessions

        self.sessions: dict[str, Any] = {k.lower(): v for k, v in current.items() if isinstance(v, Mapping)}
        self.frames = frames if frames is not None else flatten_sessions(list(self.sessions.values()))
        ids = self.frames.sessions[F.KEY]
        lowered = pc.utf8_lower(_arrow(ids).cast(pa.string())).to_pylist() if len(ids) else []
        self.index = pd.Index(np.asarray(lowered, dtype=object))
        self._index_arrow: pa.Array | None = None
        self._presence: pd.DataFrame | None = None

    def positions(self, ids: pd.Series) -> np.ndarray:
        """The position of each id's session in the current sessions (``-1``: none), column-wise."""
        if not len(ids) or not len(self.index):
            return np.full(len(ids), -1, dtype=np.int64)
        if self._index_arrow is None:
            self._index_arrow = pa.array(self.index.to_numpy(dtype=object), pa.string())
        lowered = pc.utf8_lower(_arrow(ids).cast(pa.string()))
        return np.asarray(pc.fill_null(pc.index_in(lowered, value_set=self._index_arrow), -1), dtype=np.int64)

    def presence(self) -> pd.DataFrame | None:
        """Which objects and lists each current session holds, built on first use (only clears need it)."""
        from ..tables.frames import presence

        if self._presence is None and len(self.frames):
            self._presence = presence(self.frames)
        return self._presence


# --------------------------------------------------------------------------- rows of one uploaded table


class _Groups:
    """Row positions of each key, in file order (built at once, sliced on demand)."""

    def __init__(self, keys: np.ndarray) -> None:
        codes, uniques = pd.factorize(keys, use_na_sentinel=True) if len(keys) else (np.array([], int), [])
        valid = codes >= 0
        self._order = np.flatnonzero(valid)[np.argsort(codes[valid], kind="stable")]
        self._bounds = np.concatenate([[0], np.cumsum(np.bincount(codes[valid], minlength=len(uniques)))])
        self.keys = np.asarray(uniques, dtype=object)  # in order of first appearance
        self._code = {k: i for i, k in enumerate(self.keys.tolist())}
        self._lists: tuple[list[int], list[int]] | None = None

    def sizes(self) -> np.ndarray:
        """How many rows each key has, keys in :attr:`keys` order."""
        return np.diff(self._bounds)

    def reduce(self, ufunc: np.ufunc, values: np.ndarray) -> np.ndarray:
        """``ufunc`` over the rows of each key (e.g. ``np.fmin``, ``np.logical_or``), keys in :attr:`keys` order."""
        return ufunc.reduceat(values[self._order], self._bounds[:-1]) if len(self._order) else values[:0]

    def __contains__(self, key: object) -> bool:
        return key in self._code

    def rows(self, key: str) -> list[int]:
        """The row positions of ``key`` as a Python list (``[]`` when absent): fast for one key at a time."""
        code = self._code.get(key)
        if code is None:
            return []
        if self._lists is None:
            self._lists = (self._order.tolist(), self._bounds.tolist())
        order, bounds = self._lists
        return order[bounds[code]:bounds[code + 1]]


class TableRows:
    """Fast row access to one uploaded (checked) table, each part built on first use and kept."""

    def __init__(self, t: UploadTable) -> None:
        assert t.typed is not None
        self.t = t
        self.typed: pd.DataFrame = t.typed
        keys = t.typed[F.KEY].to_numpy(dtype=object) if F.KEY in t.typed else np.array([], dtype=object)
        self.keys = keys
        self.groups = _Groups(keys)
        self._lines: list[int] | None = None
        self._index: np.ndarray | None = None
        self._index_list: list[float] | None = None
        self._values: dict[str, list[Any]] = {}
        self._columns: list[tuple[str, F.Field]] | None = None
        self._cleared: dict[str, np.ndarray] = {}

    @property
    def lines(self) -> list[int]:
        """The file line of each row, as Python ints."""
        if self._lines is None:
            self._lines = [int(v) for v in self.t.text.index.tolist()]
        return self._lines

    @property
    def index(self) -> np.ndarray:
        """The index column of a child table as floats (``inf`` where empty)."""
        if self._index is None:
            name = F.CHILD_TABLES[self.t.table].index
            self._index = (self.typed[name].to_numpy(dtype="float64", na_value=np.inf) if name in self.typed
                           else np.full(len(self.typed), np.inf))
        return self._index

    @property
    def index_list(self) -> list[float]:
        """:attr:`index` as a Python list (fast row access)."""
        if self._index_list is None:
            self._index_list = self.index.tolist()
        return self._index_list

    def value(self, r: int, column: str) -> Any:
        """The typed cell at row ``r`` as a JSON value."""
        values = self._values.get(column)
        if values is None:
            f = field_of(self.t.table, column)
            assert f is not None
            values = self._values[column] = json_values(_arrow(self.typed[column]), f.kind)
        return values[r]

    @property
    def value_columns(self) -> list[tuple[str, F.Field]]:
        """The uploaded columns that hold values (not key, index or extra), with their fields."""
        if self._columns is None:
            self._columns = [(c, f) for c in self.typed.columns
                             if (f := F.field_for(self.t.table, c)) is not None
                             and f.role not in ("key", "index", "extra")]
        return self._columns

    def cleared(self, column: str) -> np.ndarray:
        """Where the column holds the ``#N/A`` clear marker."""
        marks = self._cleared.get(column)
        if marks is None:
            marks = self._cleared[column] = self.t.cleared[column].to_numpy(dtype=bool)
        return marks

    def anchor(self, sid: str) -> tuple[str, int] | None:
        """``(file, line)`` of the session's first row in this table, if it has one."""
        rows = self.groups.rows(sid)
        return (self.t.file, self.lines[rows[0]]) if rows else None


# --------------------------------------------------------------------------- the scan


def _cell_diffs(rows: np.ndarray, c: pa.Array, u: pa.Array, kind: str) -> list[tuple[int, Any, Any]]:
    """``(row, before, after)`` of these rows, column-wise: before and after as JSON values."""
    taken = pa.array(rows)
    return list(zip(rows.tolist(), json_values(c.take(taken), kind), json_values(u.take(taken), kind), strict=True))


class _Scan:
    """One pass over an upload's tables: the edits of every session, the problems met on the way."""

    def __init__(self, upload: Upload, current: Current, found: Problems, lists: str = "replace") -> None:
        self.upload = upload
        self.current = current
        self.found = found
        self.lists = lists
        self.edits: dict[str, SessionEdits] = defaultdict(SessionEdits)
        self.rows: dict[str, TableRows] = {}

    def run(self) -> tuple[dict[str, SessionEdits], dict[str, TableRows]]:
        for t in self.upload.tables.values():
            rows = self.rows[t.table] = TableRows(t)
            if F.KEY not in rows.typed:  # no row names a session (reported as "required" already)
                continue
            if t.table == "sessions":
                self._sessions(rows)
            else:
                self._child(rows)
        return dict(self.edits), self.rows

    # -- sessions.csv

    def _sessions(self, rows: TableRows) -> None:
        keys, typed = rows.keys, rows.typed
        pos = self.current.index.get_indexer(keys) if len(self.current.index) else np.full(len(keys), -1)
        found_rows = pos >= 0
        current = self.current.frames.sessions
        for column in typed.columns:
            f = F.field_for("sessions", column)
            if f is None or f.role == "key":
                continue
            u = _arrow(typed[column])
            c = _take(current.get(column), pos, f.arrow_type)
            cleared = rows.cleared(column) & np.asarray(c.is_valid(), dtype=bool)
            hit = np.flatnonzero((_changed_cells(u, _with_default(c, f), f.kind) | cleared) & found_rows)
            if not len(hit):
                continue
            if f.read_only or f.role == "extra":
                self._read_only_cells(rows, column, c, hit)
                continue
            if f.kind == "str":
                self._leading_zeros(rows, column, u, c, hit)
            for r, before, after in _cell_diffs(hit, c, u, f.kind):
                edits = self.edits[keys[r]]
                edits.fields.add(f.path[0])
                edits.cells.append(("sessions", r, column, bool(cleared[r]), before, None if cleared[r] else after))
        self._clears(rows, pos, found_rows)

    def _read_only_cells(self, rows: TableRows, column: str, c: pa.Array, hit: np.ndarray) -> None:
        t = rows.t
        if column == "expires_at":
            # Every update by anyone resets it: a different expiry is no edit and no guard (row versions are,
            # see updates/stale.py). Ignored, said once per file.
            self.found.warn(Rule.READ_ONLY, f"expires_at is read-only (the API sets it{_RESET}): {len(hit):,} cell(s) "
                            "differ from the current expiry and are ignored; the plan's expires_in sets the expiry "
                            "of the sessions it updates", file=t.file, line=rows.lines[int(hit[0])], column=column)
            return
        now = c.take(pa.array(hit)).to_pylist()
        for r, value in zip(hit.tolist(), now, strict=True):
            self.found.add(Rule.READ_ONLY, f"{column} is read-only (the API sets it); this cell differs from "
                           f"the current value {mask_value(column, value, 'sessions')!s}: leave it as exported, "
                           "or empty it", file=t.file, line=rows.lines[r], column=column,
                           value=t.text[column].iloc[r], table="sessions", session_id=rows.keys[r])

    def _clears(self, rows: TableRows, pos: np.ndarray, found_rows: np.ndarray) -> None:
        """``#N/A`` in a column named after an object or list: clear it whole (if the session has it)."""
        t, keys = rows.t, rows.keys
        for column, mask in t.clears.items():
            container = CLEAR_COLUMNS[column]
            presence = self.current.presence() if mask.any() else None
            present = np.zeros(len(keys), dtype=bool)
            if presence is not None and column in presence:
                present[found_rows] = presence[column].to_numpy(dtype=bool)[pos[found_rows]]
            for r in np.flatnonzero(mask & present).tolist():
                sid = keys[r]
                if container.read_only:
                    self.found.add(Rule.READ_ONLY, f"{column} is read-only; it cannot be cleared", file=t.file,
                                   line=rows.lines[r], column=column, value=CLEAR_TOKEN, session_id=sid)
                    continue
                self.edits[sid].fields.add(container.path[0])
                self.edits[sid].clears.append((column, r))

    def _leading_zeros(self, rows: TableRows, column: str, u: pa.Array, c: pa.Array, hit: np.ndarray) -> None:
        if not len(hit):
            return
        take = pa.array(hit)
        t = rows.t
        for r, new, old in zip(hit.tolist(), u.take(take).to_pylist(), c.take(take).to_pylist(), strict=True):
            if new and old and old.startswith("0") and old.lstrip("0") == new and new.isdigit():
                self.found.warn(Rule.LEADING_ZEROS, f"{new!r} looks like {mask_value(column, old, t.table)!s} with "
                                "its leading zeros lost (a spreadsheet read it as a number); format the column as Text",
                                file=t.file, line=rows.lines[r], column=column, value=new, table=t.table,
                                session_id=rows.keys[r])

    # -- cart_items.csv, legs.csv, passengers.csv

    def _child_positions(self, rows: TableRows) -> np.ndarray:
        """The current row of each uploaded (session, index), ``-1`` when there is none."""
        keys, typed = rows.keys, rows.typed
        child = F.CHILD_TABLES[rows.t.table]
        current = self.current.frames[rows.t.table]
        n = len(keys)
        index = np.where(np.isinf(rows.index), np.nan, rows.index) if child.index in typed else np.full(n, np.nan)
        cidx = current[child.index].to_numpy(dtype="float64", na_value=np.nan)
        # Both sides keyed by one integer, session position x width + index (a current list holds
        # indexes 0..width-1 only).
        csession = self.current.positions(current[F.KEY])
        width = int(np.nanmax(cidx)) + 1 if len(cidx) and not np.isnan(cidx).all() else 0
        pos = np.full(n, -1)
        ours = (csession >= 0) & ~np.isnan(cidx)
        has_index = ~np.isnan(index)
        if width and has_index.any() and ours.any():
            lookup = pd.Index(csession[ours] * width + cidx[ours].astype(np.int64))
            session = self.current.index.get_indexer(keys) if n else np.array([], dtype=np.int64)
            wanted = has_index & (session >= 0) & (index >= 0) & (index < width)
            hit = lookup.get_indexer(session[wanted] * width + index[wanted].astype(np.int64))
            pos[wanted] = np.where(hit >= 0, np.flatnonzero(ours)[hit], -1)
        return pos

    def _child(self, rows: TableRows) -> None:
        t, keys, typed = rows.t, rows.keys, rows.typed
        current = self.current.frames[t.table]
        pos = self._child_positions(rows)
        changed_rows = np.zeros(len(keys), dtype=bool)
        cells: dict[int, list[tuple[str, bool, Any, Any]]] = defaultdict(list)  # row -> changed cells
        for column in typed.columns:
            f = F.field_for(t.table, column)
            if f is None or f.role in ("key", "index"):
                continue
            u = _arrow(typed[column])
            c = _take(current.get(column), pos, f.arrow_type)
            changed = _changed_cells(u, _with_default(c, f), f.kind)
            cleared = rows.cleared(column) & np.asarray(c.is_valid(), dtype=bool)
            if f.role == "extra":
                for r in np.flatnonzero((changed | cleared) & (pos >= 0)).tolist():
                    self.found.add(Rule.READ_ONLY, "extra holds fields this toolkit does not know and is read-only; "
                                   "leave it as exported or empty it", file=t.file, line=rows.lines[r],
                                   column=column, value=t.text[column].iloc[r], table=t.table, session_id=keys[r])
                continue
            if f.kind == "str":
                self._leading_zeros(rows, column, u, c, np.flatnonzero(changed & (pos >= 0)))
            changed_rows |= changed | cleared
            for r, before, after in _cell_diffs(np.flatnonzero((changed | cleared) & (pos >= 0)), c, u, f.kind):
                cells[r].append((column, bool(cleared[r]), before, None if cleared[r] else after))
        self._child_structure(rows, changed_rows, cells, pos)

    def _child_structure(self, rows: TableRows, changed_rows: np.ndarray,
                         cells: dict[int, list[tuple[str, bool, Any, Any]]], pos: np.ndarray) -> None:
        """Same elements (indexes 0..n-1 of the current list, every row indexed)? Then only the
        changed cells are applied; otherwise the session's list is rebuilt from its rows.

        In patch mode (``lists="patch"``) the rows need not name every element: when every row
        indexes a current element, only the changed cells are applied (the other elements stay
        as they are); a row without an index (or with a new one) makes the list rebuilt, the
        current elements kept and the new ones appended.
        """
        if not pd.notna(rows.keys).any():
            return
        table = rows.t.table
        child = F.CHILD_TABLES[table]
        groups = rows.groups  # the rows of each session, in order of first appearance
        index = np.where(np.isinf(rows.index), np.nan, rows.index)
        size = groups.sizes()
        indexed = groups.reduce(np.add, (~np.isnan(index)).astype(np.int64))
        low = groups.reduce(np.fmin, index)  # NaN (unindexed rows) skipped, as pandas' min does
        high = groups.reduce(np.fmax, index)
        changed_any = groups.reduce(np.logical_or, changed_rows)
        csession = self.current.positions(self.current.frames[table][F.KEY])
        counts = np.bincount(csession[csession >= 0], minlength=len(self.current.index)) if len(csession) else \
            np.zeros(len(self.current.index), dtype=np.int64)
        session = self.current.index.get_indexer(groups.keys) if len(self.current.index) else \
            np.full(len(groups.keys), -1)
        current_n = np.where(session >= 0, counts[np.maximum(session, 0)] if len(counts) else 0, 0)
        if self.lists == "patch":
            same = (indexed == size) & groups.reduce(np.logical_and, pos >= 0).astype(bool)
        else:
            same = (indexed == size) & (size == current_n) & (low == 0) & (high == size - 1)
        for sid in groups.keys[~same].tolist():
            if sid in self.current.sessions:
                self.edits[sid].fields.add(child.path[0])
                self.edits[sid].lists.add(table)
        for sid in groups.keys[same & changed_any].tolist():
            if sid in self.current.sessions:
                edits = self.edits[sid]
                edits.fields.add(child.path[0])
                for r in groups.rows(sid):
                    for column, cleared, before, after in cells.get(r, ()):
                        edits.cells.append((table, r, column, cleared, before, after))


def find_edits(upload: Upload, current: Current, found: Problems,
               lists: str = "replace") -> tuple[dict[str, SessionEdits], dict[str, TableRows]]:
    """The edits of every session a checked upload touches, and row access to its tables.

    ``lists``: ``"replace"`` (a session's rows of a child table are its complete new list) or
    ``"patch"`` (each row patches the element it indexes, the others are kept, rows without an
    index are appended). Problems met on the way (read-only cells changed, leading zeros lost)
    go to ``found``.
    """
    return _Scan(upload, current, found, lists).run()
