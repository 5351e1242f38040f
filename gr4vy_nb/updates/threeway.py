"""Edits made in the notebook (pandas, the grid), judged three ways: base, edit, live (DESIGN.md, update semantics 8).

Frames that remember the state they were fetched in (:meth:`SessionFrames.remember
<gr4vy_nb.tables.frames.SessionFrames.remember>`: the fetch path and ``read_jsonl`` do) are an upload of their
*edits*, never of their whole content:

* :func:`compare_frames` compares the edited tables with their base **on the key columns** (the session id, and
  the ``*_index`` of a cart item, leg or passenger), never by position or by replaying events: which cells
  changed, which rows were added (no index, or an index the base did not have) and which were removed;
* :func:`edits_upload` turns them into the same upload a CSV would be: ``sessions.csv`` with the key and the
  changed cells only (a cell emptied is ``#N/A``), and, for each session whose list changed, its complete list
  (kept elements by index, their unedited cells empty so that they keep the current values; new elements with
  their cells; removed elements absent, a destructive change needing consent). The upload carries the base
  (:attr:`Upload.base <gr4vy_nb.updates.upload.Upload.base>`);
* at plan time, once the sessions are read again, :func:`judge` compares base and live: a cell someone else
  changed since the fetch and not edited here keeps its new value (its cell is empty in the upload); a cell
  edited here and changed there to something else is a **conflict** (rule ``stale``, an error naming table,
  session, element and column: nothing is sent for that session; ``ignore_stale`` makes it a warning and sends
  the edit); an element edited here but removed there is a conflict, one removed here but changed there too;
  elements added there are kept, elements removed there and untouched here stay removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..problems import Problems, Rule, Severity
from ..tables import spec as F
from ..tables.cells import format_column
from ..tables.columns import conform_frame
from ..tables.files import CLEAR_TOKEN
from ..tables.masking import mask_value
from ..tables.reader import UploadTable
from ..tables.versions import row_texts
from .stale import StaleCheck
from .upload import Upload, read_upload, refuse_masked

__all__ = ["Edits", "TableEdits", "compare_frames", "edits_upload", "judge"]

_NOUNS = {"cart_items": ("cart item", "cart items"), "legs": ("leg", "legs"), "passengers": ("passenger", "passengers")}


def _index_column(table: str) -> str | None:
    return None if table == "sessions" else F.CHILD_TABLES[table].index


def _keys(table: str, df: pd.DataFrame) -> pa.Array:
    """One text key per row: the lower-case session id, and ``/index`` for a child row (null: no index)."""
    sid = pc.utf8_lower(_chunk(pa.array(df[F.KEY].astype("string[pyarrow]").array)).cast(pa.string()))
    column = _index_column(table)
    if column is None:
        return sid
    index = _chunk(pa.array(df[column].astype("Int64").array)).cast(pa.string())
    return pc.binary_join_element_wise(sid, index, "/")


def _chunk(arr: pa.Array | pa.ChunkedArray) -> pa.Array:
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _arrow(series: pd.Series) -> pa.Array | None:
    try:
        arr = pa.array(series.array, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return None
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    if pa.types.is_list(arr.type) or pa.types.is_large_list(arr.type) or pa.types.is_struct(arr.type):
        return None
    return arr


def _same(before: pd.Series, after: pd.Series) -> bool:
    """Whether two whole columns are equal (checked at once in Arrow: most columns of an edit are untouched)."""
    if before.array is after.array:
        return True
    if before.dtype != after.dtype:
        return False
    try:
        a, b = pa.array(before.array, from_pandas=True), pa.array(after.array, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return False
    return bool(a.equals(b))


def _differ(before: pd.Series, after: pd.Series) -> np.ndarray:
    """Whether each cell differs (both empty: equal); typed values compared where they can be, else their text."""
    a, b = (_arrow(before), _arrow(after)) if before.dtype == after.dtype else (None, None)
    if a is None or b is None:
        a, b = format_column(before.reset_index(drop=True))[0], format_column(after.reset_index(drop=True))[0]
    same = pc.fill_null(pc.equal(a, b), False)
    both_null = pc.and_(pc.is_null(a), pc.is_null(b))
    return ~np.asarray(pc.or_(same, both_null), dtype=bool)


@dataclass
class TableEdits:
    """One table compared with its base: rows matched on their key, the changed cells, rows added and removed.

    ``positions[r]``: the base row of edited row ``r`` (``-1``: added); ``changed``: ``{column: bool per edited
    row}`` for the columns with a change; ``removed``: the base rows no edited row matches.
    """

    table: str
    edited: pd.DataFrame
    base: pd.DataFrame
    positions: np.ndarray
    changed: dict[str, np.ndarray]
    removed: np.ndarray

    @property
    def added(self) -> np.ndarray:
        return np.flatnonzero(self.positions < 0)

    def cell_count(self) -> int:
        return int(sum(int(m.sum()) for m in self.changed.values()))

    def changed_rows(self) -> np.ndarray:
        """Edited rows with at least one changed cell."""
        out = np.zeros(len(self.edited), dtype=bool)
        for m in self.changed.values():
            out |= m
        return out

    def sessions(self) -> set[str]:
        """The sessions (lower-case ids) this table's edits touch."""
        ids = self.edited[F.KEY].astype("string").str.lower()
        rows = self.changed_rows()
        rows[self.added] = True
        found = set(ids[rows].dropna().tolist())
        if len(self.removed):
            found |= set(self.base[F.KEY].astype("string").str.lower().iloc[self.removed].dropna().tolist())
        return found

    def cells(self) -> pd.DataFrame:
        """Each changed cell: ``checkout_session_id``, ``index``, ``column``, ``before``, ``after`` (text)."""
        index_column = _index_column(self.table)
        parts = []
        for column, mask in self.changed.items():
            rows = np.flatnonzero(mask)
            if not len(rows):
                continue
            after = format_column(self.edited[column].iloc[rows].reset_index(drop=True))[0].to_pylist()
            before = format_column(self.base[column].iloc[self.positions[rows]].reset_index(drop=True))[0] \
                .to_pylist() if column in self.base else [None] * len(rows)
            parts.append(pd.DataFrame({
                F.KEY: self.edited[F.KEY].iloc[rows].astype(object).tolist(),
                "index": self.edited[index_column].iloc[rows].astype(object).tolist() if index_column
                else [None] * len(rows),
                "column": column, "before": before, "after": after}))
        columns = [F.KEY, "index", "column", "before", "after"]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame({c: [] for c in columns}, dtype=object)


def _compare_table(table: str, base: pd.DataFrame, edited: pd.DataFrame) -> TableEdits:
    edited = conform_frame(table, edited)
    base_keys, edited_keys = _keys(table, base), _keys(table, edited)
    if len(base_keys) == len(edited_keys) and base_keys.equals(edited_keys):
        positions = np.arange(len(edited), dtype=np.int64)  # the common case: same rows, same order
    else:
        index = pd.Index(base_keys.to_pandas())
        positions = index.get_indexer(pd.Index(edited_keys.to_pandas())).astype(np.int64)
        positions[np.asarray(pc.is_null(edited_keys), dtype=bool)] = -1
        # the same key twice: the second row is new
        seen = pd.Series(positions).duplicated().to_numpy() & (positions >= 0)
        positions[seen] = -1
    kept = np.flatnonzero(positions >= 0)
    keys = {F.KEY, _index_column(table)}
    aligned = len(kept) == len(base) == len(edited) and bool((positions == np.arange(len(edited))).all())
    changed = {}
    for column in edited.columns:
        if column in keys or (aligned and column in base.columns and _same(base[column], edited[column])):
            continue
        after = edited[column].iloc[kept]
        if column in base.columns:
            before = base[column].iloc[positions[kept]]
            differ = _differ(before.reset_index(drop=True), after.reset_index(drop=True))
        else:  # a column added since (a new metadata key): every non-empty cell is an edit
            differ = after.notna().to_numpy(dtype=bool)
        if differ.any():
            mask = np.zeros(len(edited), dtype=bool)
            mask[kept[differ]] = True
            changed[str(column)] = mask
    for column in base.columns:  # a column dropped from the edited table: its cells were emptied
        if column not in edited.columns and column not in keys:
            was = base[column].iloc[positions[kept]].notna().to_numpy(dtype=bool)
            if was.any():
                raise ValueError(f"{table}: column {column!r} was dropped; to empty its cells set them to None")
    removed = np.setdiff1d(np.arange(len(base), dtype=np.int64), positions[kept], assume_unique=False)
    return TableEdits(table, edited, base, positions, changed, removed)


@dataclass
class Edits:
    """The edits of frames against their base, by table (:func:`compare_frames`)."""

    tables: dict[str, TableEdits] = field(default_factory=dict)

    def __len__(self) -> int:
        """The number of changed cells."""
        return sum(t.cell_count() for t in self.tables.values())

    @property
    def sessions(self) -> set[str]:
        """The sessions (lower-case ids) with at least one edit."""
        out: set[str] = set()
        for t in self.tables.values():
            out |= t.sessions()
        return out

    @property
    def empty(self) -> bool:
        return not any(t.changed or len(t.added) or len(t.removed) for t in self.tables.values())

    def cells(self) -> pd.DataFrame:
        """Every changed cell: ``table``, ``checkout_session_id``, ``index``, ``column``, ``before``, ``after``."""
        parts = [t.cells().assign(table=name) for name, t in self.tables.items()]
        out = pd.concat(parts, ignore_index=True)
        return out[["table", F.KEY, "index", "column", "before", "after"]]

    def summary(self) -> str:
        """``14 cells changed in 9 sessions; 1 passenger added; 1 cart item removed`` (or ``no edits``)."""
        if self.empty:
            return "no edits"
        n, s = len(self), len(self.sessions)
        parts = [f"{n:,} cell{'s' if n != 1 else ''} changed in {s:,} session{'s' if s != 1 else ''}"]
        for name, t in self.tables.items():
            if name == "sessions":
                continue
            one, many = _NOUNS[name]
            if len(t.added):
                parts.append(f"{len(t.added)} {one if len(t.added) == 1 else many} added")
            if len(t.removed):
                parts.append(f"{len(t.removed)} {one if len(t.removed) == 1 else many} removed")
        return "; ".join(parts)


def compare_frames(base: Any, edited: Any) -> Edits:
    """The edits of ``edited`` against ``base`` (both SessionFrames), rows matched on their key columns."""
    return Edits({t: _compare_table(t, base[t], edited[t]) for t in F.TABLES})


def _text_column(series: pd.Series, rows: np.ndarray, changed: np.ndarray | None) -> list[str | None]:
    """The column's text at ``rows``; ``#N/A`` where a changed cell is now empty; ``None`` where not changed."""
    text = format_column(series.iloc[rows].reset_index(drop=True))[0].to_pylist()
    if changed is None:
        return text
    return [(CLEAR_TOKEN if t is None or t == "" else t) if c else None
            for t, c in zip(text, changed[rows], strict=True)]


def _sessions_table(t: TableEdits) -> pd.DataFrame | None:
    rows = np.flatnonzero(t.changed_rows())
    if not len(rows):
        return None
    out = {F.KEY: t.edited[F.KEY].iloc[rows].astype(object).tolist()}
    for column, mask in t.changed.items():
        out[column] = _text_column(t.edited[column], rows, mask)
    return pd.DataFrame(out, dtype=object)


def _child_table(t: TableEdits) -> pd.DataFrame | None:
    touched = t.sessions()
    if not touched:
        return None
    index_column = _index_column(t.table)
    assert index_column is not None
    ids = t.edited[F.KEY].astype("string").str.lower()
    rows = np.flatnonzero(ids.isin(touched).fillna(False).to_numpy(dtype=bool))
    added = np.zeros(len(t.edited), dtype=bool)
    added[t.added] = True
    columns = list(t.changed)
    for column in t.edited.columns:  # a new element's non-empty cells
        if column not in columns and column not in (F.KEY, index_column) \
                and t.edited[column].iloc[t.added].notna().any():
            columns.append(str(column))
    index_text = format_column(t.edited[index_column].iloc[rows].reset_index(drop=True))[0].to_pylist()
    out: dict[str, list[Any]] = {
        F.KEY: t.edited[F.KEY].iloc[rows].astype(object).tolist(),
        index_column: [None if added[r] else i for r, i in zip(rows, index_text, strict=True)],
    }
    for column in [c for c in t.edited.columns if c in columns]:
        mask = t.changed.get(column, np.zeros(len(t.edited), dtype=bool))
        kept = _text_column(t.edited[column], rows, mask)
        whole = _text_column(t.edited[column], rows, None)
        out[column] = [w if added[r] else k for r, k, w in zip(rows, kept, whole, strict=True)]
    if not len(rows):  # every element of the touched sessions removed: cleared from sessions.csv (_emptied)
        return None
    return pd.DataFrame(out, dtype=object)


def _emptied(t: TableEdits) -> dict[str, str]:
    """``{session id: list column}`` of the sessions whose every element of this table was removed.

    A child table cannot say "no rows" for a session; ``sessions.csv`` clears the list with ``#N/A`` in the
    column named after it (``cart_items``, ``airline.legs``, ``airline.passengers``), as a file would.
    """
    if not len(t.removed):
        return {}
    left = set(t.edited[F.KEY].astype("string").str.lower().dropna().tolist())
    column = ".".join(F.CHILD_TABLES[t.table].path)
    gone = t.base[F.KEY].iloc[t.removed].astype(str)
    return {sid: column for sid in dict.fromkeys(gone.tolist()) if sid.lower() not in left}


def _with_clears(sessions: pd.DataFrame | None, emptied: dict[str, list[str]]) -> pd.DataFrame | None:
    """The sessions table with ``#N/A`` in the list columns of the sessions whose lists were emptied."""
    if not emptied:
        return sessions
    rows = [] if sessions is None else sessions.to_dict("records")
    by_id = {str(r[F.KEY]).lower(): r for r in rows}
    for sid, columns in emptied.items():
        row = by_id.get(sid.lower())
        if row is None:
            row = by_id[sid.lower()] = {F.KEY: sid}
            rows.append(row)
        row.update(dict.fromkeys(columns, CLEAR_TOKEN))
    columns = list(dict.fromkeys(c for r in rows for c in r))
    return pd.DataFrame({c: [r.get(c) for r in rows] for c in columns}, dtype=object)


def edits_upload(frames: Any) -> Upload:
    """The edits of ``frames`` against ``frames.base`` as an :class:`~gr4vy_nb.updates.upload.Upload`.

    The same upload a CSV with exactly those edits makes (see the module docstring), carrying the base of the
    sessions it names for :func:`judge`. Frames with no edit make an upload naming every session with no
    change (a plan of zero changes). Masked frames are refused (:class:`~gr4vy_nb.errors.InputError`).

    Raises:
        ValueError: ``frames`` remember no base.
    """
    if getattr(frames, "base", None) is None:
        raise ValueError("these frames remember no base (fetch them, or call frames.remember() before editing)")
    refuse_masked(frames)
    edits = compare_frames(frames.base, frames)
    tables: dict[str, pd.DataFrame] = {}
    if edits.empty:
        tables["sessions"] = pd.DataFrame({F.KEY: frames.sessions[F.KEY].astype(object).tolist()}, dtype=object)
    else:
        emptied: dict[str, list[str]] = {}
        for name, t in edits.tables.items():
            df = _sessions_table(t) if name == "sessions" else _child_table(t)
            if df is not None:
                tables[name] = df
            if name != "sessions":
                for sid, column in _emptied(t).items():
                    emptied.setdefault(sid, []).append(column)
        if (sessions := _with_clears(tables.get("sessions"), emptied)) is not None:
            tables = {"sessions": sessions, **{k: v for k, v in tables.items() if k != "sessions"}}
    upload = read_upload(tables)
    upload.base = frames.base.select(sorted(edits.sessions) if not edits.empty else frames.base.sessions[F.KEY],
                                     missing="ignore")
    return upload


# --------------------------------------------------------------------------- plan time


def _positions(table: str, df: pd.DataFrame) -> dict[tuple[str, int | None], int]:
    index_column = _index_column(table)
    ids = df[F.KEY].astype("string").str.lower().tolist()
    if index_column is None:
        return {(i, None): p for p, i in enumerate(ids)}
    return {(i, int(x)): p for p, (i, x) in enumerate(zip(ids, df[index_column].tolist(), strict=True))
            if x is not None and x is not pd.NA}


def _what(table: str, index: int | None) -> str:
    return "the session" if table == "sessions" else f"{_NOUNS[table][0]} #{index}"


def _shown(table: str, column: str, text: str | None) -> str:
    return "(empty)" if text is None else repr(str(mask_value(column, text, table)))


@dataclass
class _Judged:
    drop: list[int] = field(default_factory=list)
    add: list[tuple[str, int]] = field(default_factory=list)


def _subset_texts(table: str, df: pd.DataFrame, sids: set[str]) -> tuple[dict[tuple[str, int | None], int],
                                                                           list[dict[str, str]]]:
    ids = df[F.KEY].astype("string").str.lower()
    sub = df[ids.isin(sids).fillna(False).to_numpy(dtype=bool)].reset_index(drop=True)
    return _positions(table, sub), row_texts(table, sub)


def _judge_table(t: UploadTable, base: pd.DataFrame, live: pd.DataFrame, found: Problems, conflicts: set[str],
                 ignore: bool) -> _Judged:
    """Conflicts of one uploaded table; which rows to drop (removed there, untouched here) and add (added there)."""
    assert t.typed is not None
    table = t.table
    index_column = _index_column(table)
    ids = [str(i).lower() for i in t.typed[F.KEY].tolist()]
    indexes = [None] * len(ids) if index_column is None else \
        [None if x is None or x is pd.NA else int(x) for x in t.typed[index_column].tolist()]
    sids = set(ids)
    base_pos, base_text = _subset_texts(table, base, sids)
    live_pos, live_text = _subset_texts(table, live, sids)
    columns = [c for c in t.columns if c not in (F.KEY, index_column)]
    text = {c: [None if v is None or v is pd.NA or v == "" else str(v) for v in t.text[c].tolist()] for c in columns}
    cleared = {c: t.cleared[c].to_numpy(dtype=bool) for c in columns}
    out = _Judged()
    severity = Severity.WARNING if ignore else Severity.ERROR
    advice = ("; your edit is sent as asked (conflicts ignored)" if ignore else
              "; nothing is sent for this session: fetch it again and redo your edit there")

    def conflict(r: int, column: str, message: str) -> None:
        found.add(Rule.STALE, f"conflict in {table}, session {ids[r]}, {message}{advice}", file=t.file,
                  line=int(t.text.index[r]), column=column, session_id=ids[r], severity=severity, table=table)
        if not ignore:
            conflicts.add(ids[r])

    for r, (sid, index) in enumerate(zip(ids, indexes, strict=True)):
        key = (sid, index)
        if index_column is not None and index is None:
            continue  # a new element: nothing to judge
        b = base_pos.get(key)
        if b is None:
            continue  # not fetched here (no base): the merge treats it as a new element
        edited = [c for c in columns if cleared[c][r] or text[c][r] is not None]
        p = live_pos.get(key)
        if p is None:
            if edited:
                conflict(r, edited[0], f"{_what(table, index)}: you edited it ({', '.join(edited[:5])}) but it was "
                         "removed since the fetch")
            elif index_column is not None:
                out.drop.append(r)  # removed there, untouched here: it stays removed
            continue
        was, now = base_text[b], live_text[p]
        for c in edited:
            new = None if cleared[c][r] else text[c][r]
            if was.get(c) != now.get(c) and now.get(c) != new:
                conflict(r, c, f"{_what(table, index)}, column {c}: you changed {_shown(table, c, was.get(c))} to "
                         f"{_shown(table, c, new)}, but since the fetch it became {_shown(table, c, now.get(c))}")
    if index_column is not None:
        listed = set(zip(ids, indexes, strict=True))
        for key, b in base_pos.items():  # removed here: did it change there?
            p = live_pos.get(key)
            if key not in listed and p is not None and base_text[b] != live_text[p]:
                r = ids.index(key[0])
                conflict(r, index_column, f"{_what(table, key[1])}: you removed it, but it changed since the fetch")
        for key in live_pos:  # added there: kept
            if key not in base_pos and key not in listed:
                out.add.append((key[0], int(key[1])))  # type: ignore[arg-type]
    return out


def _rebuilt(t: UploadTable, judged: _Judged) -> UploadTable:
    """``t`` without the rows ``judged.drop`` and with an index-only row for each element ``judged.add``."""
    if not judged.drop and not judged.add:
        return t
    assert t.typed is not None
    keep = np.ones(len(t.text), dtype=bool)
    keep[judged.drop] = False
    text, cleared, typed = t.text[keep], t.cleared[keep], t.typed[keep]
    clears = {c: a[keep] for c, a in t.clears.items()}
    if judged.add:
        index_column = _index_column(t.table)
        assert index_column is not None
        start = int(t.text.index.max()) + 1 if len(t.text) else 2
        lines = pd.Index(range(start, start + len(judged.add)), name=t.text.index.name)
        extra_text = t.text.iloc[:0].reindex(lines)
        extra_text[F.KEY] = [k[0] for k in judged.add]
        extra_text[index_column] = [str(k[1]) for k in judged.add]
        extra_typed = t.typed.iloc[:0].reindex(lines)
        extra_typed[F.KEY] = pd.array([k[0] for k in judged.add], dtype=t.typed[F.KEY].dtype)
        extra_typed[index_column] = pd.array([k[1] for k in judged.add], dtype=t.typed[index_column].dtype)
        text = pd.concat([text, extra_text.astype(text.dtypes.to_dict())])
        cleared = pd.concat([cleared, pd.DataFrame(False, index=lines, columns=cleared.columns, dtype=bool)])
        typed = pd.concat([typed, extra_typed.astype(typed.dtypes.to_dict())])
        clears = {c: np.concatenate([a, np.zeros(len(lines), dtype=a.dtype)]) for c, a in clears.items()}
    return UploadTable(t.table, t.file, text, cleared, t.digest, typed, clears)


def _judge_cleared_lists(t: UploadTable, base: Any, live: Any, found: Problems, conflicts: set[str],
                         ignore: bool) -> None:
    """A list emptied here (``#N/A`` in its column) that someone else changed since the fetch is a conflict."""
    lists = {".".join(c.path): name for name, c in F.CHILD_TABLES.items()}
    ids = [str(i).lower() for i in t.typed[F.KEY].tolist()] if t.typed is not None else []
    for column, table in lists.items():
        if column not in t.cleared.columns:
            continue
        for r in np.flatnonzero(t.cleared[column].to_numpy(dtype=bool)).tolist():
            sid = ids[r]
            was, now = (_subset_texts(table, frames[table], {sid}) for frames in (base, live))
            if sorted(map(sorted, (d.items() for d in was[1]))) == sorted(map(sorted, (d.items() for d in now[1]))):
                continue
            found.add(Rule.STALE, f"conflict in {table}, session {sid}: you removed every {_NOUNS[table][0]}, but "
                      f"the {_NOUNS[table][1]} changed since the fetch (now {len(now[1])})" + (
                          "; your edit is sent as asked (conflicts ignored)" if ignore else
                          "; nothing is sent for this session: fetch it again and redo your edit there"),
                      file=t.file, line=int(t.text.index[r]), column=column, session_id=sid,
                      severity=Severity.WARNING if ignore else Severity.ERROR, table="sessions")
            if not ignore:
                conflicts.add(sid)


def judge(upload: Upload, live: Any, *, ignore: bool = False) -> tuple[Upload, StaleCheck]:
    """Judge a checked upload of edits three ways against the sessions as read now (``live``, SessionFrames).

    Returns the upload to merge (rows of elements removed there and untouched here dropped, elements added
    there kept) and a :class:`~gr4vy_nb.updates.stale.StaleCheck`: the conflicts (rule ``stale``) and the
    sessions not to merge. An upload without a base is returned as it is, with nothing found.
    """
    base = upload.base
    if base is None:
        return upload, StaleCheck()
    found = Problems()
    conflicts: set[str] = set()
    tables = {}
    for name, t in upload.tables.items():
        if t.typed is None or F.KEY not in t.typed or not len(t.text):
            tables[name] = t
            continue
        tables[name] = _rebuilt(t, _judge_table(t, base[name], live[name], found, conflicts, ignore))
        if name == "sessions":
            _judge_cleared_lists(t, base, live, found, conflicts, ignore)
    out = Upload(tables, upload.problems, checked=upload.checked)
    return out, StaleCheck(problems=found.frame(), sessions=conflicts)

