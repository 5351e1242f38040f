"""The editing model behind :class:`~gr4vy_nb.widgets.grid.EditGrid`: no widget here, only frames and rules.

:class:`EditModel` holds the sessions as fetched (the base, never edited) and a working copy. Every change
goes through it, by table, row position in the working table and column, and is checked before it lands:

* locked columns (ids, ``*_index``, read-only fields such as ``expires_at`` and ``payment_method.…``,
  ``extra``) refuse every change; personal columns are masked and locked until personal data is shown,
  and a value that is a mask token is refused wherever it is typed: **a masked value never becomes an edit**;
* a value is parsed and checked by the same cell rules as an uploaded file
  (:func:`~gr4vy_nb.tables.reader.parse_cells`); a refused value changes nothing and comes back as a
  :class:`Refusal` (table, session, element, column, value, reason: no file line, there is no file);
* tools: find & replace within a column, set a value on rows, fill down, add or remove a cart item, leg
  or passenger; undo, redo and reset (snapshots of a table: pandas copy-on-write makes them cheap).

What was edited is never recorded from the events: :meth:`EditModel.edits` compares the working copy with
the base on the key columns (:func:`~gr4vy_nb.updates.threeway.compare_frames`), and :meth:`EditModel.upload`
is the upload of those edits (:func:`~gr4vy_nb.updates.threeway.edits_upload`), judged three ways at plan time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..tables import spec as F
from ..tables.cells import format_column
from ..tables.frames import SessionFrames
from ..tables.masking import HASH_TOKEN_PATTERN, TOKEN_PATTERN, mask_frame
from ..tables.reader import parse_cells
from ..updates.threeway import Edits, compare_frames, edits_upload

__all__ = ["EditModel", "Refusal", "lock_reason"]

_TOKEN = re.compile(TOKEN_PATTERN)
_HASH_TOKEN = re.compile(HASH_TOKEN_PATTERN)
_NOUNS = {"cart_items": "cart item", "legs": "leg", "passengers": "passenger"}
MAX_UNDO = 100


def lock_reason(table: str, column: str, *, show_personal: bool = False) -> str | None:
    """Why a column cannot be edited in the grid, or ``None`` when it can."""
    f = F.field_for(table, column)
    if f is None:
        return f"{column} is not a column of {table}"
    if f.role in ("key", "index"):
        return f"{column} identifies the row: it cannot be edited"
    if f.role == "extra":
        return "extra holds fields this version does not know: it is read-only"
    if f.read_only or column == "expires_at":
        return f"{column} is read-only"
    if f.personal and not show_personal:
        return f"{column} is personal data, masked: tick show personal data to edit it"
    return None


@dataclass(frozen=True)
class Refusal:
    """A change refused: where (table, session, element index, column), the value tried, and why."""

    table: str
    session_id: str
    index: int | None
    column: str
    value: Any
    reason: str

    def __str__(self) -> str:
        where = "" if self.index is None and self.table == "sessions" else \
            f", {_NOUNS.get(self.table, 'row')} #{'new' if self.index is None else self.index}"
        return f"{self.table}, session {self.session_id}{where}, {self.column}: {self.reason}"


def _text_of(value: Any) -> str | None:
    """A value typed in the grid as cell text (``None``: empty)."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    return None if text == "" else text


def _is_token(table: str, column: str, text: str) -> bool:
    f = F.field_for(table, column)
    return bool(_TOKEN.search(text) or (f is not None and f.personal and _HASH_TOKEN.search(text)))


class EditModel:
    """The sessions at hand, as fetched (:attr:`base`) and as edited (:attr:`work`); see the module docstring.

    Args:
        frames: :class:`~gr4vy_nb.tables.frames.SessionFrames`; their :attr:`base` when they remember one (the
            state they were fetched in), else their content as it is now. Masked frames are refused.
    """

    def __init__(self, frames: SessionFrames) -> None:
        if frames.masked_columns:
            raise ValueError("these frames are a masked display, not data: give the frames themselves")
        base = frames.base if frames.base is not None else SessionFrames(
            **{t: df.copy(deep=False) for t, df in frames.tables().items()}, conform=False)
        self.base: SessionFrames = base
        self.work = SessionFrames(**{t: df.reset_index(drop=True) for t, df in frames.tables().items()})
        self.work.base = base
        self.show_personal = False
        self._undo: list[tuple[str, pd.DataFrame]] = []
        self._redo: list[tuple[str, pd.DataFrame]] = []

    # ------------------------------------------------------------------ reading

    def locked(self, table: str, column: str) -> str | None:
        return lock_reason(table, column, show_personal=self.show_personal)

    def display(self, table: str) -> pd.DataFrame:
        """The working table as shown: personal columns masked unless shown (masked text never flows back)."""
        df = self.work[table]
        return df if self.show_personal else mask_frame(table, df)

    def edits(self) -> Edits:
        """The edits: the working copy compared with the base on the key columns."""
        return compare_frames(self.base, self.work)

    def summary(self) -> str:
        return self.edits().summary()

    def changed(self, table: str, edits: Edits | None = None) -> dict[str, np.ndarray]:
        """``{column: bool per working row}`` of the changed cells of a table (added rows: every non-empty cell).

        ``edits``: :meth:`edits` when already at hand (else computed).
        """
        t = (edits or self.edits()).tables[table]
        out = dict(t.changed)
        if len(t.added):
            for column in self.work[table].columns:
                mask = out.get(column, np.zeros(len(t.edited), dtype=bool)).copy()
                mask[t.added] = self.work[table][column].iloc[t.added].notna().to_numpy(dtype=bool)
                out[str(column)] = mask
        return out

    def upload(self) -> Any:
        """The edits as the upload a CSV would be (:func:`~gr4vy_nb.updates.threeway.edits_upload`)."""
        return edits_upload(self.work)

    def where(self, table: str, row: int) -> tuple[str, int | None]:
        """``(session id, element index)`` of a working row (``None``: a new element, or a session row)."""
        df = self.work[table]
        sid = str(df[F.KEY].iloc[row])
        if table == "sessions":
            return sid, None
        index = df[F.CHILD_TABLES[table].index].iloc[row]
        return sid, None if index is None or index is pd.NA else int(index)

    # ------------------------------------------------------------------ changing

    def _snapshot(self, table: str) -> None:
        self._undo.append((table, self.work[table].copy(deep=False)))
        del self._undo[:-MAX_UNDO]
        self._redo.clear()

    def _put(self, table: str, df: pd.DataFrame) -> None:
        setattr(self.work, table, df.reset_index(drop=True))

    def set_texts(self, table: str, column: str, rows: Sequence[int], values: Sequence[Any]) -> list[Refusal]:
        """Set ``column`` of working ``rows`` to ``values`` (text or typed, ``None`` empties), checked first.

        Each value is parsed and checked by the cell rules; refused ones change nothing and are returned.
        One undo step for the whole batch.
        """
        rows = [int(r) for r in rows]
        refusals: list[Refusal] = []

        def refuse(r: int, value: Any, reason: str) -> None:
            sid, index = self.where(table, r)
            refusals.append(Refusal(table, sid, index, column, value, reason))

        locked = self.locked(table, column)
        if locked is not None:
            for r, v in zip(rows, values, strict=True):
                refuse(r, v, locked)
            return refusals
        texts = [_text_of(v) for v in values]
        f = F.field_for(table, column)
        required = f is not None and f.required and table != "sessions"
        keep = []
        for r, v, t in zip(rows, values, texts, strict=True):
            if t is not None and _is_token(table, column, t):
                refuse(r, v, "this is a masked value, not data: type the value itself")
            elif t is None and required and self.where(table, r)[1] is not None:
                refuse(r, v, f"{column} is required for each {_NOUNS[table]}: it cannot be emptied")
            else:
                keep.append(r)
        if not keep:
            return refusals
        by_row = dict(zip(rows, texts, strict=True))
        lines = pd.Index(np.arange(len(keep), dtype=np.int64) + 2, name="line")
        ids = self.work[table][F.KEY].iloc[keep].astype("string[pyarrow]").array
        text = pd.DataFrame({F.KEY: ids, column: pd.array([by_row[r] for r in keep], dtype="string[pyarrow]")},
                            index=lines)
        parsed = parse_cells(table, text, file=table, mask=not self.show_personal)
        bad: dict[int, str] = {}
        problems = parsed.problems
        problems = problems[(problems["severity"] == "error") & (problems["column"] == column)]
        for p in problems.itertuples(index=False):
            if p.line is not None and not pd.isna(p.line) and 0 <= int(p.line) - 2 < len(keep):
                bad.setdefault(int(p.line) - 2, str(p.message))
        good = [i for i in range(len(keep)) if i not in bad]
        for i, message in bad.items():
            refuse(keep[i], by_row[keep[i]], message)
        if good:
            df = self.work[table].copy(deep=False)
            typed = parsed.frame[column].iloc[good]
            positions = np.asarray([keep[i] for i in good], dtype=np.int64)
            series = df[column].copy()
            series.iloc[positions] = typed.to_numpy(dtype=object) if series.dtype == object else typed.array
            if not series.equals(df[column]):  # the same value typed again is no change (and no undo step)
                self._snapshot(table)
                df[column] = series
                self._put(table, df)
        return refusals

    def set_cell(self, table: str, row: int, column: str, value: Any) -> Refusal | None:
        """Set one cell (see :meth:`set_texts`); the refusal, or ``None`` when it was taken."""
        found = self.set_texts(table, column, [row], [value])
        return found[0] if found else None

    def texts(self, table: str, column: str, rows: Iterable[int]) -> list[str | None]:
        """The cells' text as an export writes it."""
        rows = list(rows)
        return format_column(self.work[table][column].iloc[rows].reset_index(drop=True))[0].to_pylist()

    def find_replace(self, table: str, column: str, find: str, replace: str,
                     rows: Iterable[int] | None = None) -> tuple[int, list[Refusal]]:
        """Replace ``find`` by ``replace`` within the cells of ``column`` (at ``rows``: default all); the count."""
        rows = list(range(len(self.work[table]))) if rows is None else [int(r) for r in rows]
        if not find:
            return 0, []
        current = self.texts(table, column, rows)
        hits = [(r, t.replace(find, replace)) for r, t in zip(rows, current, strict=True)
                if t is not None and find in t]
        if not hits:
            return 0, []
        refused = self.set_texts(table, column, [r for r, _ in hits], [t for _, t in hits])
        return len(hits) - len(refused), refused

    def set_value(self, table: str, column: str, value: Any, rows: Iterable[int]) -> tuple[int, list[Refusal]]:
        """Set the same value on ``rows`` (the selected or filtered ones); the count."""
        rows = [int(r) for r in rows]
        refused = self.set_texts(table, column, rows, [value] * len(rows))
        return len(rows) - len(refused), refused

    def fill_down(self, table: str, column: str, rows: Iterable[int]) -> tuple[int, list[Refusal]]:
        """The first of ``rows``' value copied to the others (in the order given); the count."""
        rows = [int(r) for r in rows]
        if len(rows) < 2:
            return 0, []
        first = self.texts(table, column, rows[:1])[0]
        return self.set_value(table, column, first, rows[1:])

    def add_row(self, table: str, session_id: str) -> int:
        """A new cart item, leg or passenger for ``session_id`` (empty, no index yet), after its others; its row."""
        if table == "sessions":
            raise ValueError("sessions cannot be added here: they are created at checkout")
        ids = self.base.sessions[F.KEY].astype(str)
        if session_id.lower() not in {i.lower() for i in ids}:
            raise ValueError(f"{session_id} is not one of the sessions at hand")
        df = self.work[table]
        same = np.flatnonzero(df[F.KEY].astype("string").str.lower().eq(session_id.lower()).fillna(False))
        at = int(same[-1]) + 1 if len(same) else len(df)
        new = df.iloc[:0].reindex([0])
        new[F.KEY] = pd.array([session_id], dtype=df[F.KEY].dtype)
        new = new.astype(df.dtypes.to_dict())
        self._snapshot(table)
        self._put(table, pd.concat([df.iloc[:at], new, df.iloc[at:]], ignore_index=True))
        return at

    def remove_rows(self, table: str, rows: Iterable[int]) -> int:
        """Remove cart items, legs or passengers (a destructive change: the plan asks for consent); the count."""
        if table == "sessions":
            raise ValueError("sessions cannot be removed here")
        rows = sorted({int(r) for r in rows})
        if not rows:
            return 0
        self._snapshot(table)
        df = self.work[table]
        keep = np.ones(len(df), dtype=bool)
        keep[rows] = False
        self._put(table, df[keep])
        return len(rows)

    def undo(self) -> str | None:
        """Undo the last change; the table it touched (``None``: nothing to undo)."""
        return self._step(self._undo, self._redo)

    def redo(self) -> str | None:
        return self._step(self._redo, self._undo)

    def _step(self, back: list[tuple[str, pd.DataFrame]], forth: list[tuple[str, pd.DataFrame]]) -> str | None:
        """Put back the table state last pushed on ``back``, the current one pushed on ``forth``."""
        if not back:
            return None
        table, df = back.pop()
        forth.append((table, self.work[table]))
        self._put(table, df)
        return table

    def reset(self) -> None:
        """Back to the sessions as fetched (one undo step per table)."""
        for table in F.TABLES:
            self._undo.append((table, self.work[table]))
            self._put(table, self.base[table].copy(deep=False))
        self._redo.clear()

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)
