"""The upload merged onto each session's current state: the desired values, the update bodies, the diff.

:func:`build_changes` takes a checked upload and the current sessions and, per session,
applies the edits :mod:`gr4vy_nb.updates.edits` found, as DESIGN.md says:

* ``sessions.csv``: a non-empty cell sets its field, an empty cell keeps it, ``#N/A``
  clears it (a ``metadata.<key>`` column removes the key). A column named after an object or
  list (``cart_items``, ``airline``, ``buyer``, ``metadata``, ``airline.legs``, ...) may hold
  ``#N/A`` to clear it whole. Read-only columns (``expires_at``, ``payment_method.…``,
  ``extra``) must equal the current value (or be empty).
* ``cart_items.csv``, ``legs.csv``, ``passengers.csv``: for each session present, its rows are
  the complete new list, in ``*_index`` order (rows without an index after those with one,
  in file order). A row whose index is a position of the current list starts from that
  element: its empty or absent columns keep the current values.
* Legs and passengers are merged into the session's current ``airline``: the API replaces
  ``airline`` as a whole, so everything else in it is sent back unchanged.

Only the top-level fields whose value actually changes are sent; a session with no change is
not sent. Every body is validated against :class:`~gr4vy_nb.schema.CheckoutSessionUpdate`,
its errors reported in file, line and column (:func:`~gr4vy_nb.updates.upload.locate`).
"""

from __future__ import annotations

import gc
import re
import threading
from collections import defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pydantic

from ..pointers import encode, path_text
from ..problems import Problems, Rule, Severity, api_rule, concat
from ..schema import EXPIRES_IN_DEFAULT, EXPIRES_IN_MAX, EXPIRES_IN_MIN, CheckoutSessionUpdate
from ..tables import spec as F
from ..tables.files import CLEAR_TOKEN
from ..tables.masking import is_personal, mask_value
from .checks import CLEAR_COLUMNS, check_upload, with_sessions
from .compare import canonical, carried_item, carried_value, diff_parts, get_path, known_body, prune
from .edits import Current, SessionEdits, TableRows, field_of, find_edits
from .states import ItemStatus
from .upload import Upload, locate

__all__ = ["DIFF_COLUMNS", "Changeset", "PlanItem", "build_changes"]

DIFF_COLUMNS = ["checkout_session_id", "path", "before", "after", "file", "line", "column", "personal"]
"""Columns of a plan's diff: one row per changed value."""

_OBJECTS = ("airline", "cart_items", "buyer", "metadata")


@dataclass
class PlanItem:
    """One session of a plan.

    Attributes:
        session_id: the checkout session.
        status: an :class:`~gr4vy_nb.updates.states.ItemStatus`: ``change`` (a body will be
            sent), ``unchanged`` (nothing to send), ``not_found`` (the API answered 404: unknown
            or expired) or ``invalid`` (the upload has errors for it; the plan cannot be applied).
        before: the session as fetched when planning (``None`` when not found).
        body: the PUT body: the changed top-level fields plus ``expires_in`` (only for ``change``).
        desired: the new value of each changed top-level field (the body without ``expires_in``).
        source: ``rows`` (``[table, line]`` of each uploaded row: the cells are in the plan's
            ``uploads``) and ``where`` (the locator of :func:`~gr4vy_nb.updates.upload.locate`).
        message: why a session is not sent, or what its change does in words.
    """

    session_id: str
    status: str
    before: dict[str, Any] | None = None
    body: dict[str, Any] | None = None
    desired: dict[str, Any] | None = None
    source: dict[str, Any] = field(default_factory=dict)
    message: str | None = None

    @property
    def fields(self) -> list[str]:
        """The top-level fields this item changes."""
        return list(self.desired or ())

    def to_dict(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "status": str(self.status), "before": self.before, "body": self.body,
                "desired": self.desired, "source": self.source, "message": self.message}


@dataclass
class Changeset:
    """What :func:`build_changes` returns: items, problems, diff and plan-wide notes."""

    items: list[PlanItem]
    problems: pd.DataFrame
    diff: pd.DataFrame
    notes: list[str]


def _set(obj: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        nxt = obj.get(key)
        if not isinstance(nxt, dict):
            nxt = obj[key] = {}
        obj = nxt
    obj[path[-1]] = value


def _unset(obj: dict[str, Any] | None, path: tuple[str, ...]) -> None:
    for key in path[:-1]:
        if not isinstance(obj, dict):
            return
        obj = obj.get(key)
    if isinstance(obj, dict):
        obj.pop(path[-1], None)


class _Context:
    """What every session's merge reads: the upload, the current state, the rows, the problems."""

    def __init__(self, upload: Upload, current: Current, rows: dict[str, TableRows], found: Problems,
                 expires_in: int) -> None:
        self.upload = upload
        self.current = current
        self.rows = rows
        self.found = found
        self.expires_in = expires_in
        errors = upload.problems[upload.problems["severity"] == Severity.ERROR]
        self.bad = set(errors["checkout_session_id"].dropna().tolist())

    def anchor(self, sid: str) -> tuple[str, int | None]:
        """``(file, line)`` of the session's first uploaded row."""
        for table in F.TABLES:
            rows = self.rows.get(table)
            at = rows.anchor(sid) if rows is not None else None
            if at is not None:
                return at
        return "?", None

    def source_rows(self, sid: str) -> list[list[Any]]:
        """``[table, line]`` of every uploaded row of a session (the cells stay in the upload's tables)."""
        out: list[list[Any]] = []
        for table in F.TABLES:
            rows = self.rows.get(table)
            if rows is not None:
                lines = rows.lines
                out += [[table, lines[r]] for r in rows.groups.rows(sid)]
        return out


class _Session:
    """The merge of one touched session: desired values, then the item and its diff rows."""

    def __init__(self, ctx: _Context, sid: str, edits: SessionEdits) -> None:
        self.ctx = ctx
        self.sid = sid
        self.edits = edits
        self.cur: dict[str, Any] = ctx.current.sessions[sid]
        self.names = sorted(edits.fields)
        self.desired: dict[str, Any] = {}
        self.where: dict[str, Any] = {}
        self.notes: list[str] = []
        self.unknown: list[str] = []  # paths in the body of fields this version does not know (sent unchanged)

    # -- building the desired values

    def _start(self) -> None:
        """Each touched field starts as its current value, whole: fields this version does not know included."""
        for name in self.names:
            self.desired[name] = carried_value(name, self.cur.get(name))

    def _element(self, table: str, r: int) -> dict[str, Any]:
        """The element of a desired list that row ``r`` of ``table`` describes (its index is its place)."""
        holder: Any = self.desired
        for key in F.CHILD_TABLES[table].path:
            holder = holder.get(key) if isinstance(holder, dict) else None
        position = int(self.ctx.rows[table].index_list[r])
        if not isinstance(holder, list) or position >= len(holder) or not isinstance(holder[position], dict):
            return {}  # not there (a contradiction reported elsewhere): nothing to update
        return holder[position]

    def _apply_cells(self) -> None:
        desired = self.desired
        for table, r, column, cleared, _before, after in self.edits.cells:
            f = field_of(table, column)
            assert f is not None
            if table != "sessions":  # a cell of an element that keeps its place in its list
                element = self._element(table, r)
                if cleared:
                    _unset(element, f.path)
                else:
                    _set(element, f.path, after)
            elif cleared:
                if len(f.path) == 1:
                    desired[f.path[0]] = None
                else:
                    _unset(desired[f.path[0]], f.path[1:])
            else:
                value = self.ctx.rows["sessions"].value(r, column)
                if len(f.path) == 1:
                    desired[f.path[0]] = value
                else:
                    if not isinstance(desired.get(f.path[0]), dict):
                        desired[f.path[0]] = {}
                    _set(desired[f.path[0]], f.path[1:], value)

    def _apply_clears(self) -> None:
        sessions = self.ctx.upload.tables.get("sessions")
        for column, r in self.edits.clears:
            path = CLEAR_COLUMNS[column].path
            if len(path) == 1:
                self.desired[path[0]] = None
            else:
                _unset(self.desired.get(path[0]), path[1:])
            for table, child in F.CHILD_TABLES.items():
                rows = self.ctx.rows.get(table)
                if column == ".".join(child.path[: len(column.split("."))]) and rows is not None \
                        and self.sid in rows.groups:
                    self.ctx.found.add(Rule.CONTRADICTION, f"{column} is cleared here but {table}.csv gives rows for "
                                       "this session", file=sessions.file if sessions else "?",
                                       line=sessions.text.index[r] if sessions else None, column=column,
                                       value=CLEAR_TOKEN, session_id=self.sid)

    def _rebuild(self, table: str) -> tuple[list[dict[str, Any]], list[int]]:
        """A child table's new list from the session's rows, each starting from the element its index names."""
        rows = self.ctx.rows[table]
        child = F.CHILD_TABLES[table]
        index = rows.index
        order = sorted(rows.groups.rows(self.sid), key=lambda r: (index[r], r))
        current_list = get_path(self.cur, child.path) or []
        out = []
        for r in order:
            i = index[r]
            base = {}
            if np.isfinite(i) and int(i) < len(current_list) and isinstance(current_list[int(i)], dict):
                base = carried_item(table, current_list[int(i)])
            for column, f in rows.value_columns:
                if rows.cleared(column)[r]:
                    _unset(base, f.path)
                    continue
                value = rows.value(r, column)
                if value is not None:
                    _set(base, f.path, value)
            out.append(base)
        return out, order

    def _apply_lists(self) -> None:
        for table in F.TABLES[1:]:
            rows = self.ctx.rows.get(table)
            if rows is not None and table in {c[0] for c in self.edits.cells}:
                ordered = sorted(rows.groups.rows(self.sid), key=rows.index_list.__getitem__)
                self.where[table] = [[rows.t.file, rows.lines[r]] for r in ordered]
        for table in F.TABLES[1:]:
            if table not in self.edits.lists:
                continue
            new_list, positions = self._rebuild(table)
            child = F.CHILD_TABLES[table]
            rows = self.ctx.rows[table]
            self.where[table] = [[rows.t.file, rows.lines[p]] for p in positions]
            before_n = len(get_path(self.cur, child.path) or [])
            if before_n != len(new_list):
                self.notes.append(f"replaces {before_n} {table.replace('_', ' ')} with {len(new_list)}")
            if len(child.path) == 1:
                self.desired[child.path[0]] = new_list
            else:
                holder = self.desired.get(child.path[0])
                if not isinstance(holder, dict):
                    holder = self.desired[child.path[0]] = {}
                holder[child.path[1]] = new_list

    def _tidy(self) -> None:
        for name in list(self.desired):
            value = self.desired[name]
            self.desired[name] = prune(value) if isinstance(value, dict) else value
            if name == "cart_items" and self.desired[name] == []:
                self.desired[name] = None

    def _compared(self) -> set[str]:
        """Fields whose change must be found by comparing: lists rebuilt and objects cleared.

        A field changed only by cells of ``sessions.csv`` changed for sure (each such cell holds a
        value other than the current one, or clears one that is set): no comparison needed, and
        its diff is those cells.
        """
        lists = {F.CHILD_TABLES[t].path[0] for t in self.edits.lists}
        cleared = {CLEAR_COLUMNS[col].path[0] for col, _ in self.edits.clears}
        return {n for n in self.names if n in lists or n in cleared}

    # -- the item

    def _validate(self, body: dict[str, Any]) -> bool:
        """Whether the models accept the body; the fields they do not know are the server's to judge."""
        known = known_body(body, self.unknown)
        try:
            CheckoutSessionUpdate.model_validate({**known, "expires_in": float(self.ctx.expires_in)})
        except pydantic.ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = tuple(err["loc"])
                file, line, column = locate(encode(loc), self.where)
                value = err.get("input")
                shown = value if isinstance(value, str | int | float | bool) else None
                self.ctx.found.add(api_rule(err["type"]), f"{path_text(loc)}: {err['msg']}", file=file or "?",
                                   line=line, column=column, value=shown, session_id=self.sid)
            return False
        return True

    def _cell_diff(self, changed: list[str], compared: set[str]) -> list[dict[str, Any]]:
        """The diff of fields changed by cells: those cells, before and after."""
        out = []
        anchor = self.where.get("sessions") or [None, None]
        for table, r, column, _cleared, before, after in self.edits.cells:
            f = field_of(table, column)
            if f is None or (table == "sessions" and (f.path[0] not in changed or f.path[0] in compared)):
                continue
            if table == "sessions":
                path, file, line = ".".join(f.path), anchor[0], anchor[1]
            else:
                child = F.CHILD_TABLES[table]
                if child.path[0] not in changed or child.path[0] in compared:
                    continue
                rows = self.ctx.rows[table]
                path = f"{'.'.join(child.path)}[{int(rows.index_list[r])}].{'.'.join(f.path)}"
                file, line = rows.t.file, rows.lines[r]
            out.append({"checkout_session_id": self.sid, "path": path, "before": before, "after": after,
                        "file": file, "line": line, "column": column, "personal": f.personal})
        return out

    def _compared_diff(self, changed: list[str], compared: set[str], desired: dict[str, Any]) -> list[dict[str, Any]]:
        """The diff of fields changed whole (lists rebuilt, objects cleared): leaf by leaf."""
        out = []
        for n in changed:
            if n not in compared:
                continue
            leaves: list[tuple[tuple[Any, ...], Any, Any]] = []
            diff_parts(canonical(n, self.cur.get(n)), canonical(n, desired[n]), (n,), leaves)
            for parts, before, after in leaves:
                file, line, column = locate(encode(parts), self.where)
                out.append({"checkout_session_id": self.sid, "path": path_text(parts), "before": before,
                            "after": after, "file": file, "line": line, "column": column,
                            "personal": is_personal(".".join(str(p) for p in parts))})
        return out

    def build(self) -> tuple[PlanItem, list[dict[str, Any]]]:
        """The item of this session and its diff rows."""
        self._start()
        sessions = self.ctx.rows.get("sessions")
        if sessions is not None and (at := sessions.anchor(self.sid)) is not None:
            self.where["sessions"] = list(at)
        self._apply_cells()
        self._apply_clears()
        self._apply_lists()
        self._tidy()
        compared = self._compared()
        changed = [n for n in self.names
                   if n not in compared or canonical(n, self.desired.get(n)) != canonical(n, self.cur.get(n))]
        source = {"rows": self.ctx.source_rows(self.sid), "where": self.where}
        if not changed:
            return PlanItem(self.sid, ItemStatus.UNCHANGED, before=self.cur, source=source, message="no change"), []
        for n in changed:
            if self.desired.get(n) is None and self.cur.get(n) is not None and n in _OBJECTS:
                self.notes.append(f"clears {n.replace('_', ' ')}")

        if self.sid in self.ctx.bad:  # its rows have errors already: the models would only repeat them
            return PlanItem(self.sid, ItemStatus.INVALID, before=self.cur, source=source,
                            message="the upload has errors for it"), []
        body = {n: self.desired.get(n) for n in changed}
        if not self._validate(body):
            return PlanItem(self.sid, ItemStatus.INVALID, before=self.cur, source=source,
                            message="refused by the update schema"), []
        if carried := _carried_text(self.unknown):
            self.notes.append(carried)
        # Valid: the body is sent as built (JSON values only), not re-serialised.
        sent = {**body, "expires_in": float(self.ctx.expires_in)}
        desired = {n: sent.get(n) for n in changed}
        rows = self._cell_diff(changed, compared) + self._compared_diff(changed, compared, desired)
        return PlanItem(self.sid, ItemStatus.CHANGE, before=self.cur, body=sent, desired=desired, source=source,
                        message="; ".join(self.notes) or None), rows


def _carried_text(paths: list[str]) -> str | None:
    """``keeps 2 field(s) this version does not know, …: cart_items[].x_new, …`` (paths in a body)."""
    sent = sorted({re.sub(r"\[\d+\]", "[]", p) for p in paths})
    if not sent:
        return None
    n = len(set(paths))
    shown = ", ".join(sent[:4]) + (f" and {len(sent) - 4} more" if len(sent) > 4 else "")
    return f"keeps {n} field(s) this version does not know, sent back unchanged: {shown}"


# --------------------------------------------------------------------------- all sessions


def build_changes(upload: Upload, current: Mapping[str, Any], *, expires_in: int = EXPIRES_IN_DEFAULT,
                  frames: Any = None) -> Changeset:
    """Merge a checked upload onto the current sessions: items, problems, diff, notes.

    ``current`` maps each session id named to its current state (a dict as the API returns
    it), or to ``None`` / an exception when it was not found. Sessions missing from
    ``current`` count as not found. ``frames`` may give the current sessions already
    flattened (:func:`~gr4vy_nb.tables.frames.flatten_sessions` of exactly the found ones), to
    save flattening them again.
    """
    if not upload.checked:
        check_upload(upload)
    if not EXPIRES_IN_MIN <= expires_in <= EXPIRES_IN_MAX:
        raise ValueError(f"expires_in must be between {EXPIRES_IN_MIN} and {EXPIRES_IN_MAX} seconds")
    with _young_collections_only():
        return _build_changes(upload, current, expires_in, frames)


_GC_LOCK = threading.Lock()
_GC_STATE: list[Any] = [0, None]  # callers inside, thresholds to restore


@contextmanager
def _young_collections_only() -> Iterator[None]:
    """Defer full (generation 2) garbage collections while a changeset is built.

    Building one creates many long-lived objects (bodies, diff rows, items) next to the
    fetched sessions; each full collection CPython triggers on the way walks all of them
    again (measured: half the time of a 20k-session merge). Young collections still run, so
    cycles made meanwhile are still found; the thresholds are put back when the last caller
    leaves (several threads may build at once).
    """
    with _GC_LOCK:
        if _GC_STATE[0] == 0:
            _GC_STATE[1] = gc.get_threshold()
            first, second = _GC_STATE[1][:2]
            gc.set_threshold(first, second, 1 << 30)
        _GC_STATE[0] += 1
    try:
        yield
    finally:
        with _GC_LOCK:
            _GC_STATE[0] -= 1
            if _GC_STATE[0] == 0:
                gc.set_threshold(*_GC_STATE[1])


def _build_changes(upload: Upload, current: Mapping[str, Any], expires_in: int, frames: Any) -> Changeset:
    state = Current(current, frames)
    found = Problems(mask=mask_value)
    edits, rows = find_edits(upload, state, found)
    ctx = _Context(upload, state, rows, found, expires_in)
    items: list[PlanItem] = []
    diff: list[dict[str, Any]] = []
    for sid in upload.session_ids():
        if sid not in state.sessions:
            items.append(PlanItem(sid, ItemStatus.NOT_FOUND, source={"rows": ctx.source_rows(sid)},
                                  message="not found or expired"))
        elif sid not in edits:
            items.append(PlanItem(sid, ItemStatus.UNCHANGED, before=state.sessions[sid], message="no change"))
        else:
            item, item_diff = _Session(ctx, sid, edits[sid]).build()
            items.append(item)
            diff.extend(item_diff)
    # A session with any error is not sendable: say so in its item, whatever step found it.
    flawed = ctx.bad | {p["checkout_session_id"] for p in found.rows if p["severity"] == Severity.ERROR}
    for item in items:
        if item.status == ItemStatus.CHANGE and item.session_id in flawed:
            item.status, item.message = ItemStatus.INVALID, "the upload has errors for it"
    problems = with_sessions(concat([found.frame()]), upload)
    return Changeset(items, problems, _diff_frame(diff), _notes(items, expires_in))


def _diff_frame(diff: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series([d[c] for d in diff], dtype=object) for c in DIFF_COLUMNS})
    frame["line"] = pd.array(frame["line"].tolist(), dtype="Int64")
    frame["personal"] = frame["personal"].astype(bool)
    return frame


def _later_expiries(changed: list[PlanItem], expires_in: int) -> int:
    """How many of the sessions to update now expire later than an update would make them."""
    later = 0
    horizon = datetime.now(UTC) + timedelta(seconds=expires_in)
    for item in changed:
        text = (item.before or {}).get("expires_at")
        try:
            when = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        except ValueError:
            continue
        if when > horizon:
            later += 1
    return later


def _notes(items: list[PlanItem], expires_in: int) -> list[str]:
    notes = []
    changed = [i for i in items if i.status == ItemStatus.CHANGE]
    if changed:
        later = _later_expiries(changed, expires_in)
        notes.append(f"expiry reset: the API sets each updated session to expire {expires_in / 3600:g} h after its "
                     f"update (expires_in={expires_in})" + (f"; {later} of the {len(changed)} now expire later than "
                                                            "that and will expire sooner" if later else ""))
    kinds: dict[str, int] = defaultdict(int)
    for item in changed:
        for part in (item.message or "").split("; "):
            if part:
                kinds[re.sub(r"\d+", "N", part)] += 1
    for text, n in sorted(kinds.items()):
        examples = [i.message for i in changed if i.message and re.sub(r"\d+", "N", i.message).find(text) >= 0][:1]
        notes.append(f"{n} session(s): {text}" + (f" (e.g. {examples[0]})" if examples and "N" in text else ""))
    return notes
