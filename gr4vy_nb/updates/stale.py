"""Stale rows: an uploaded row whose element has changed since it was exported.

The README tells it under "Checks before anything is sent".

Each exported row carries the version of the state it was exported from (:mod:`gr4vy_nb.tables.versions`).
Once the sessions are fetched, :func:`check_stale` compares each uploaded row's ``row_version`` with the
version of the same element now: the session (``sessions.csv``), or the element at the row's index
(``cart_items.csv``, ``legs.csv``, ``passengers.csv``):

* equal: the row is fresh; whatever differs from the current state is the user's edit;
* different, or the element is gone, and the row would change something (a row whose every cell is as
  it is now reverts nothing: re-uploading a file after applying it is no conflict): the row is **stale**,
  an error (rule ``stale``) at its file and line, column ``row_version``, naming what changed since the
  export (exported value -> current value, personal values masked). Its session is not merged and nothing
  is sent for it (:attr:`StaleCheck.sessions`), so an old export can never revert another writer's change,
  nor move a removed passenger's data onto the one who now stands at its index;
* with ``ignore=True`` the same finding is a warning on each such row, and the row is merged as today.

What changed is worked out from the row itself: its unedited cells still hold the exported values, so of the
cells that differ from the current state, the ones whose exported value explains the version are the other
writer's changes and the rest are the user's edits (:func:`changed_since_export`).

Rows without a version (a hand-made file, the column deleted, a row added by hand) are planned as before;
each file with such rows gets one note saying how many could not be checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..problems import Problems, Rule, Severity
from ..problems import frame as problems_frame
from ..tables import spec as F
from ..tables.masking import mask_value
from ..tables.reader import UploadTable
from ..tables.versions import VERSION_COLUMN, hashed_columns, is_version, row_texts, row_versions, version_of
from .merge import PlanItem
from .notes import NoteCode, PlanNote
from .states import ItemStatus
from .upload import Upload

__all__ = ["MAX_EXPLAINED", "MAX_TRIES", "StaleCheck", "changed_since_export", "check_stale", "with_stale_items",
           "without_sessions"]

MAX_EXPLAINED = 12
"""At most this many differing cells are sorted into edits and changes (2**n versions are tried)."""
MAX_TRIES = 200_000
"""At most this many versions are computed to explain the stale rows of one plan (then they are named, unexplained)."""

_NOUNS = {"cart_items": "cart item", "legs": "leg", "passengers": "passenger"}


@dataclass
class StaleCheck:
    """What :func:`check_stale` found: the problems, the sessions not to merge, the plan-wide notes."""

    problems: pd.DataFrame = field(default_factory=problems_frame)
    sessions: set[str] = field(default_factory=set)
    notes: list[PlanNote] = field(default_factory=list)


def _text(value: Any) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value) or value == "":
        return None
    return str(value)


def changed_since_export(table: str, version: str, uploaded: dict[str, str | None], now: dict[str, str],
                         budget: list[int] | None = None) -> list[tuple[str, str | None, str | None]] | None:
    """``(column, exported, current)`` of each cell that changed since the row was exported, or ``None``.

    ``uploaded``: the row's cells as uploaded (``{column: text}``); ``now``: the element's cells as an
    export would write them now. A cell that differs from ``now`` is either the user's edit (exported as
    it is now) or another writer's change (exported as it is in the file): the split whose exported row
    has ``version`` is the answer. Columns not in the upload are taken as they are now, or else as empty
    (new since the export). ``None`` when no split explains the version (a cell both edited and changed, a
    change in a column not uploaded), more than :data:`MAX_EXPLAINED` cells differ, or ``budget`` (``[n]``:
    how many versions may still be computed, counted down) runs out. Fewer edits are tried first.
    """
    budget = [MAX_TRIES] if budget is None else budget
    keys = {F.KEY, *(c.index for c in F.CHILD_TABLES.values())}
    columns = [c for c in hashed_columns(table, uploaded) if c not in keys]
    differ = {c: _text(uploaded.get(c)) for c in columns if _text(uploaded.get(c)) != now.get(c)}
    found = _split(version, now, differ, budget)
    # A column the file does not hold may be new since the export (a metadata key added): exported empty.
    absent = {c: None for c in now if c not in keys and c not in uploaded}
    if found is None and absent and len(differ) + len(absent) <= MAX_EXPLAINED:
        found = _split(version, now, {**differ, **absent}, budget)
    return found


def _split(version: str, now: dict[str, str], candidates: dict[str, str | None],
           budget: list[int]) -> list[tuple[str, str | None, str | None]] | None:
    """The cells among ``candidates`` (``{column: exported value if changed}``) whose change explains ``version``."""
    if len(candidates) > MAX_EXPLAINED:
        return None
    names = list(candidates)
    # bit set: as it is now (the user's edit); clear: changed since the export. Fewest edits first.
    for mask in sorted(range(1 << len(names)), key=int.bit_count):
        if budget[0] <= 0:
            return None
        budget[0] -= 1
        cells: dict[str, str | None] = dict(now)
        changed = []
        for i, column in enumerate(names):
            if not mask >> i & 1:
                cells[column] = candidates[column]
                changed.append((column, candidates[column], now.get(column)))
        if version_of(cells) == version:
            return changed
    return None


def _shown(table: str, column: str, text: str | None) -> str:
    return "(empty)" if text is None else repr(str(mask_value(column, text, table)))


def _what(table: str, index: Any) -> str:
    return "this session" if table == "sessions" else f"{_NOUNS[table]} #{index}"


def _message(table: str, index: Any, changes: list[tuple[str, str | None, str | None]] | None,
             differ: list[tuple[str, str | None, str | None]], ignore: bool) -> str:
    what = _what(table, index)
    if changes:
        shown = ", ".join(f"{c} {_shown(table, c, b)} -> {_shown(table, c, a)}" for c, b, a in changes[:8])
        more = f" and {len(changes) - 8} more" if len(changes) > 8 else ""
        text = f"{what} has changed since this file was exported: {shown}{more}"
    elif differ:
        shown = ", ".join(f"{c} (now {_shown(table, c, a)})" for c, _b, a in differ[:8])
        text = (f"{what} has changed since this file was exported, in cells you may also have edited or in columns "
                f"this file does not hold; it now differs from this row in {shown}")
    else:
        text = f"{what} has changed since this file was exported, in columns this file does not hold"
    return text + _advice(ignore)


def _advice(ignore: bool) -> str:
    if ignore:
        return "; stale rows are ignored as asked: this row is merged and may overwrite that change"
    return ("; nothing is sent for this session: export it again and redo your edit there (or ignore stale rows "
            "to overwrite the change)")


@dataclass
class _Live:
    """One table of the current state: the position of each element, its version and (on demand) its cells."""

    table: str
    frame: pd.DataFrame
    positions: dict[tuple[str, Any], int]
    versions: list[str]
    _texts: list[dict[str, str]] | None = None

    @classmethod
    def of(cls, table: str, frame: pd.DataFrame) -> _Live:
        ids = [str(v).lower() for v in frame[F.KEY].tolist()]
        if table == "sessions":
            keys: list[tuple[str, Any]] = [(i, None) for i in ids]
        else:
            keys = list(zip(ids, frame[F.CHILD_TABLES[table].index].tolist(), strict=True))
        return cls(table, frame, {k: p for p, k in enumerate(keys)}, row_versions(table, frame))

    def fresh(self, ids: list[Any], indexes: list[Any], versions: list[Any]) -> np.ndarray:
        """Whether each uploaded row's version is its element's now (``False`` where there is no such element)."""
        index = [0 if self.table == "sessions" else -1 if i is None or i is pd.NA else int(i) for i in indexes]
        up = pd.DataFrame({"sid": pd.Series(ids, dtype="string").str.lower(), "idx": pd.array(index, dtype="Int64")})
        keys = list(self.positions)
        live = pd.DataFrame({"sid": pd.array([k[0] for k in keys], dtype="string"),
                             "idx": pd.array([0 if k[1] is None else int(k[1]) for k in keys], dtype="Int64"),
                             "pos": np.asarray([self.positions[k] for k in keys], dtype=np.int64)})
        pos = up.merge(live, how="left", on=["sid", "idx"])["pos"].to_numpy(dtype=float, na_value=np.nan)
        found = ~np.isnan(pos)
        expected = np.full(len(up), None, dtype=object)
        expected[found] = np.asarray(self.versions, dtype=object)[pos[found].astype(np.int64)]
        given = np.asarray(versions, dtype=object)
        return found & np.asarray([a is not None and a == b for a, b in zip(given, expected, strict=True)], dtype=bool)

    def texts(self, position: int) -> dict[str, str]:
        if self._texts is None:
            self._texts = row_texts(self.table, self.frame)
        return self._texts[position]


def _table_check(t: UploadTable, live: _Live, sessions: dict[str, int], ignore: bool, found: Problems,
                 stale: set[str]) -> int:
    """Check one uploaded table's versioned rows; returns how many rows could not be checked."""
    assert t.typed is not None
    table = t.table
    index_column = None if table == "sessions" else F.CHILD_TABLES[table].index
    ids = t.typed[F.KEY].tolist() if F.KEY in t.typed else [None] * len(t.text)
    indexes = t.typed[index_column].tolist() if index_column and index_column in t.typed else [None] * len(t.text)
    versions = t.text[VERSION_COLUMN].tolist()
    columns = [c for c in t.columns if c != VERSION_COLUMN]
    budget = [MAX_TRIES]
    unchecked = 0
    for r in np.flatnonzero(~live.fresh(ids, indexes, versions)).tolist():  # fresh rows are done column-wise
        sid, index, version = _text(ids[r]), indexes[r], versions[r]
        if sid is None or sid.lower() not in sessions:  # no id, or not found: reported for its own reason
            continue
        sid = sid.lower()
        version = _text(version)
        index = None if index is None or index is pd.NA else int(index)
        if version is None or (index_column is not None and index is None):
            unchecked += 1
            continue
        position = live.positions.get((sid, index))
        if position is not None and version == live.versions[position]:
            continue
        line = int(t.text.index[r])
        differ: list[tuple[str, str | None, str | None]] = []
        if position is not None:
            cells = t.text.iloc[r]
            uploaded = {c: _text(cells[c]) for c in columns}
            now = live.texts(position)
            differ = [(c, uploaded.get(c), now.get(c)) for c in hashed_columns(table, columns)
                      if c not in (F.KEY, index_column) and _text(uploaded.get(c)) != now.get(c)]
            if not differ and is_version(version):  # every cell as it is now: the row can revert nothing
                continue
        if not is_version(version):
            message = (f"{version!r} is not a row_version an export writes: this row cannot be checked for changes "
                       f"made since the export (leave the column as exported)") + _advice(ignore)
        elif position is None:
            n = sum(1 for k in live.positions if k[0] == sid)
            message = (f"{_what(table, index)} is no longer in the session: it was removed since this file was "
                       f"exported (the session has {n} {_NOUNS[table]}{'s' if n != 1 else ''} now)") + _advice(ignore)
        else:
            message = _message(table, index, changed_since_export(table, version, uploaded, now, budget), differ,
                               ignore)
        found.add(Rule.STALE, message, file=t.file, line=line, column=VERSION_COLUMN, value=version,
                  severity=Severity.WARNING if ignore else Severity.ERROR, session_id=sid)
        if not ignore:
            stale.add(sid)
    return unchecked


def check_stale(upload: Upload, current: Any, *, ignore: bool = False) -> StaleCheck:
    """Compare each uploaded row's ``row_version`` with its element's version now (see the module docstring).

    ``upload``: a checked upload (its ``typed`` tables filled); ``current``: the fetched sessions flattened
    (:class:`~gr4vy_nb.tables.frames.SessionFrames`). Returns the ``stale`` problems (errors, or warnings
    with ``ignore``), the sessions not to merge (lower-case ids; none with ``ignore``) and one note per file
    whose rows (some or all) carry no version.
    """
    found = Problems()
    out = StaleCheck()
    sessions = {str(v).lower(): p for p, v in enumerate(current.sessions[F.KEY].tolist())}
    for table in F.TABLES:
        t = upload.tables.get(table)
        if t is None or t.typed is None or not len(t.text):
            continue
        if VERSION_COLUMN not in t.text.columns:
            unchecked = len(t.text)
        else:
            unchecked = _table_check(t, _Live.of(table, current[table]), sessions, ignore, found, out.sessions)
        if unchecked:
            whole = "its" if unchecked == len(t.text) else f"{unchecked} of its"
            out.notes.append(PlanNote(NoteCode.UNVERSIONED_ROWS, f"{t.file}: {whole} {unchecked:,} row(s) carry no "
                                      f"{VERSION_COLUMN} (a hand-made file, the column deleted, or rows added by "
                                      "hand): they could not be checked for changes made since an export",
                                      count=unchecked))
    out.problems = found.frame()
    return out


def without_sessions(upload: Upload, sessions: set[str]) -> Upload:
    """A copy of a checked upload without the rows of ``sessions`` (lower-case ids): what is merged."""
    if not sessions:
        return upload
    tables = {}
    for name, t in upload.tables.items():
        if t.typed is None or F.KEY not in t.typed:
            tables[name] = t
            continue
        ids = t.typed[F.KEY].astype(object).tolist()
        keep = np.asarray([not (isinstance(i, str) and i.lower() in sessions) for i in ids], dtype=bool)
        tables[name] = UploadTable(t.table, t.file, t.text[keep], t.cleared[keep], t.digest, t.typed[keep],
                                   {c: a[keep] for c, a in t.clears.items()})
    return Upload(tables, upload.problems, checked=upload.checked)


def with_stale_items(upload: Upload, items: list[PlanItem], sessions: set[str],
                     current: dict[str, Any]) -> list[PlanItem]:
    """``items`` (the merged sessions' plan items) with an ``invalid`` item for each stale session, in upload order."""
    if not sessions:
        return items
    by_id = {i.session_id: i for i in items}
    for sid in sessions:
        rows = [[t.table, int(line)] for t in upload.tables.values() if t.typed is not None and F.KEY in t.typed
                for line, i in zip(t.text.index, t.typed[F.KEY].tolist(), strict=True)
                if isinstance(i, str) and i.lower() == sid]
        by_id[sid] = PlanItem(sid, ItemStatus.INVALID, before=current.get(sid), source={"rows": rows},
                              message="stale: changed since the export (not merged, nothing sent)")
    order = [*upload.session_ids(), *(i.session_id for i in items)]
    return [by_id.pop(sid) for sid in dict.fromkeys(order) if sid in by_id]
