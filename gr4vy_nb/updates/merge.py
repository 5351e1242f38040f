"""The upload merged onto each session's current state: the desired values, the update bodies, the diff.

:func:`build_changes` takes a checked upload and the current sessions and, per session,
applies the edits :mod:`gr4vy_nb.updates.edits` found, as the README's update semantics say:

* ``sessions.csv``: a non-empty cell sets its field, an empty cell keeps it, ``#N/A``
  clears it (a ``metadata.<key>`` column removes the key). A column named after an object or
  list (``cart_items``, ``airline``, ``buyer``, ``metadata``, ``airline.legs``, ...) may hold
  ``#N/A`` to clear it whole. Read-only columns (``expires_at``, ``payment_method.…``,
  ``extra``) must equal the current value (or be empty).
* ``cart_items.csv``, ``legs.csv``, ``passengers.csv``: for each session present, its rows are
  the complete new list, in ``*_index`` order (rows without an index after those with one,
  in file order); in patch mode (``lists="patch"``) each row patches the element it indexes,
  the others are kept, rows without an index are appended. A row whose index is an index of
  the current list starts from that element: its empty or absent columns keep the current
  values. Elements are matched by that index, never by position: the plan's message says what
  each list keeps, removes and adds, and the diff names elements by their current index.
* Destructive changes (list elements or ``categories`` entries removed, a field, key, object
  or list cleared) are warnings (rule ``destructive``) in the file's coordinates, and listed
  in each item's ``destructive``: applying them needs consent.
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
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
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
from .compare import canonical, carried_item, carried_value, diff_parts, get_path, keyed_lists, known_body, prune
from .destructive import noun
from .edits import Current, SessionEdits, TableRows, field_of, find_edits
from .notes import PlanNote, change_notes
from .states import ItemStatus, ListMode
from .upload import Upload, locate

__all__ = ["DIFF_COLUMNS", "LIST_MODES", "Changeset", "PlanItem", "build_changes"]

DIFF_COLUMNS = ["checkout_session_id", "path", "before", "after", "file", "line", "column", "personal"]
"""Columns of a plan's diff: one row per changed value."""

_OBJECTS = ("airline", "cart_items", "buyer", "metadata")

LIST_MODES = ("replace", "patch")
"""How a child table's rows change a session's list: ``replace`` (the rows are the complete new list: elements
not listed are removed) or ``patch`` (each row patches the element it indexes, the others are kept, rows without an
index are appended; nothing is removed)."""

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
        message: why a session is not sent, or what its change does in words (its ``notes`` joined).
        destructive: the removals and clears the change makes (they need consent).
        notes: what the change does, one record each (``code``, ``text``), grouped by code in the plan's notes.
    """

    session_id: str
    status: ItemStatus
    before: dict[str, Any] | None = None
    body: dict[str, Any] | None = None
    desired: dict[str, Any] | None = None
    source: dict[str, Any] = field(default_factory=dict)
    message: str | None = None
    destructive: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.status = ItemStatus(self.status)

    @property
    def fields(self) -> list[str]:
        """The top-level fields this item changes."""
        return list(self.desired or ())

    def to_dict(self) -> dict[str, Any]:
        return {"session_id": self.session_id, "status": str(self.status), "before": self.before, "body": self.body,
                "desired": self.desired, "source": self.source, "message": self.message,
                "destructive": self.destructive, "notes": self.notes}


@dataclass
class Changeset:
    """What :func:`build_changes` returns: items, problems, diff and plan-wide notes."""

    items: list[PlanItem]
    problems: pd.DataFrame
    diff: pd.DataFrame
    notes: list[PlanNote]


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


@dataclass
class _Context:
    """What every session's merge reads: the upload, the current state, the rows, the problems."""

    upload: Upload
    current: Current
    rows: dict[str, TableRows]
    found: Problems
    expires_in: int
    lists: str = ListMode.REPLACE
    bad: set[str] = field(init=False)
    """Sessions with an error in the upload: not merged."""

    def __post_init__(self) -> None:
        errors = self.upload.problems[self.upload.problems["severity"] == Severity.ERROR]
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
        self.notes: list[dict[str, str]] = []  # {code, text}: what the change does, by kind
        self.unknown: list[str] = []  # paths in the body of fields this version does not know (sent unchanged)
        # child table -> (current index or None for a new element, row or None) of each position of its new list
        self.keyed: dict[str, list[tuple[int | None, int | None]]] = {}
        self.destructive: list[dict[str, Any]] = []
        self.harm_notes: list[dict[str, str]] = []

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

    def _rebuild(self, table: str) -> tuple[list[Any], list[tuple[int | None, int | None]]]:
        """A child table's new list from the session's rows, each starting from the element its index names.

        Returns the list and, for each of its positions, ``(current index, row)``: the current
        element it starts from (``None``: a new one) and the row that edits it (``None``: an element
        kept as it is, in patch mode). Replace mode: the rows, in index order, are the list. Patch
        mode: the current elements in their order, each patched by the row indexing it, then the
        rows that index no current element.
        """
        rows = self.ctx.rows[table]
        child = F.CHILD_TABLES[table]
        index = rows.index
        order = sorted(rows.groups.rows(self.sid), key=lambda r: (index[r], r))
        current_list = get_path(self.cur, child.path) or []
        n = len(current_list)
        slots: list[tuple[int | None, int | None]] = []
        taken: set[int] = set()
        if self.ctx.lists == "patch":
            by_index: dict[int, int] = {}
            for r in order:
                i = index[r]
                if np.isfinite(i) and 0 <= int(i) < n and int(i) not in by_index:
                    by_index[int(i)] = r
            slots = [(i, by_index.get(i)) for i in range(n)]
            slots += [(None, r) for r in order if r not in set(by_index.values())]
        else:
            for r in order:
                i = index[r]
                known = np.isfinite(i) and 0 <= int(i) < n and int(i) not in taken \
                    and isinstance(current_list[int(i)], dict)
                if known:
                    taken.add(int(i))
                slots.append((int(i) if known else None, r))
        out: list[Any] = []
        for i, r in slots:
            element = current_list[i] if i is not None else {}
            if not isinstance(element, dict):  # not an object (kept as it is, in patch mode)
                out.append(element)
                continue
            base = carried_item(table, element) if i is not None else {}
            if r is not None:
                for column, f in rows.value_columns:
                    if rows.cleared(column)[r]:
                        _unset(base, f.path)
                        continue
                    value = rows.value(r, column)
                    if value is not None:
                        _set(base, f.path, value)
            out.append(base)
        return out, slots

    def _apply_lists(self) -> None:
        for table in F.TABLES[1:]:
            rows = self.ctx.rows.get(table)
            if rows is not None and table in {c[0] for c in self.edits.cells}:
                ordered = sorted(rows.groups.rows(self.sid), key=rows.index_list.__getitem__)
                self.where[table] = [[rows.t.file, rows.lines[r]] for r in ordered]
        for table in F.TABLES[1:]:
            if table not in self.edits.lists:
                continue
            new_list, slots = self._rebuild(table)
            child = F.CHILD_TABLES[table]
            rows = self.ctx.rows[table]
            first = rows.lines[rows.groups.rows(self.sid)[0]]
            self.where[table] = [[rows.t.file, rows.lines[r] if r is not None else first] for _i, r in slots]
            self.keyed[table] = slots
            self._list_notes(table, slots, len(get_path(self.cur, child.path) or []))
            if len(child.path) == 1:
                self.desired[child.path[0]] = new_list
            else:
                holder = self.desired.get(child.path[0])
                if not isinstance(holder, dict):
                    holder = self.desired[child.path[0]] = {}
                holder[child.path[1]] = new_list

    def _list_notes(self, table: str, slots: list[tuple[int | None, int | None]], before_n: int) -> None:
        """What a rebuilt list keeps, removes and adds, by current index: ``keeps passengers #1 (now at position 0);
        removes passengers #0, #2, #3 of 4; adds 1 passenger (new #4)``."""
        what = table.replace("_", " ")
        kept = [(i, p) for p, (i, _r) in enumerate(slots) if i is not None]
        kept_set = {i for i, _p in kept}
        removed = [i for i in range(before_n) if i not in kept_set]
        added = [p for p, (i, _r) in enumerate(slots) if i is None]
        moved = any(i != p for i, p in kept)
        if kept and (removed or moved):
            self.notes.append(_note(f"keeps.{table}", f"keeps {what} " + ", ".join(
                f"#{i}" + (f" (now at position {p})" if i != p else "") for i, p in kept)))
        elif removed:
            self.notes.append(_note(f"keeps.{table}", f"keeps no {what}"))
        if removed:
            self.notes.append(_note(f"removes.{table}", f"removes {what} " + ", ".join(f"#{i}" for i in removed)
                                    + f" of {before_n}"))
            self._removed(table, removed, before_n)
        if added:
            numbers = ", ".join(f"#{before_n + k}" for k in range(len(added)))
            self.notes.append(_note(f"adds.{table}", f"adds {noun(table, len(added))} (new {numbers})"))

    # -- destructive changes: counted, named, warned about (they need consent)

    def _harm(self, kind: str, what: str, path: str, message: str, *, file: Any, line: Any, column: Any,
              count: int = 1) -> None:
        self.destructive.append({"checkout_session_id": self.sid, "kind": kind, "what": what, "path": path,
                                 "count": count, "file": file, "line": line, "column": column, "message": message})

    def _warn(self, message: str, *, file: Any, line: Any, column: Any, table: str | None = None) -> None:
        self.ctx.found.warn(Rule.DESTRUCTIVE, message + ": applying it needs consent", file=file, line=line,
                            column=column, session_id=self.sid, table=table)

    def _removed(self, table: str, removed: list[int], before_n: int) -> None:
        rows = self.ctx.rows[table]
        child = F.CHILD_TABLES[table]
        file, line = rows.t.file, rows.lines[rows.groups.rows(self.sid)[0]]
        text = f"removes {table.replace('_', ' ')} " + ", ".join(f"#{i}" for i in removed) + f" of {before_n}"
        for i in removed:
            self._harm("remove", table, f"{'.'.join(child.path)}[{i}]", text, file=file, line=line,
                       column=child.index)
        hint = "" if self.ctx.lists == "patch" else (
            f" (their rows are not in {file}: list them to keep them, or plan in patch mode)")
        self._warn(text + hint, file=file, line=line, column=child.index, table=table)

    def _cleared(self, path: str, *, file: Any, line: Any, column: Any, table: str | None, extra: str = "") -> None:
        text = f"clears {path}{extra}"
        self._harm("clear", "field", path, text, file=file, line=line, column=column)
        self.harm_notes.append(_note("clears", text))
        self._warn(text, file=file, line=line, column=column, table=table)

    def _entries_removed(self, path: str, what: str, before: Any, after: Any, *, file: Any, line: Any,
                         column: Any, table: str) -> None:
        """Entries of a list of plain values (``categories``) that the new list no longer holds."""
        if not isinstance(before, list) or not isinstance(after, list):
            return
        left = list(after)
        gone = []
        for v in before:
            if v in left:
                left.remove(v)
            else:
                gone.append(v)
        if gone:
            text = f"removes {noun(what, len(gone))} from {path}: " + ", ".join(repr(v) for v in gone)
            self._harm("remove", what, path, text, file=file, line=line, column=column, count=len(gone))
            self.harm_notes.append(_note(f"removes.{what}", text))
            self._warn(text, file=file, line=line, column=column, table=table)

    def _find_destructive(self) -> None:
        """Every clear and removal this session's change makes (the removed list elements are found by
        :meth:`_list_notes`)."""
        sessions = self.ctx.rows.get("sessions")
        for table, r, column, cleared, before, after in self.edits.cells:
            f = field_of(table, column)
            if f is None:
                continue
            if table == "sessions":
                assert sessions is not None
                file, line, path = sessions.t.file, sessions.lines[r], column
            else:
                rows = self.ctx.rows[table]
                child = F.CHILD_TABLES[table]
                file, line = rows.t.file, rows.lines[r]
                path = f"{'.'.join(child.path)}[{int(rows.index_list[r])}].{'.'.join(f.path)}"
            if cleared:
                self._cleared(path, file=file, line=line, column=column, table=table)
            elif f.kind == "list":
                self._entries_removed(path, f.path[-1], before, after, file=file, line=line, column=column,
                                      table=table)
        for column, r in self.edits.clears:
            current = get_path(self.cur, CLEAR_COLUMNS[column].path)
            extra = ""
            for table, child in F.CHILD_TABLES.items():
                if ".".join(child.path) == column and isinstance(current, list):
                    extra = f" ({noun(table, len(current))})"
            assert sessions is not None
            self._cleared(column, file=sessions.t.file, line=sessions.lines[r], column=column, table="sessions",
                          extra=extra)
        for table, slots in self.keyed.items():
            rows = self.ctx.rows[table]
            child = F.CHILD_TABLES[table]
            current_list = get_path(self.cur, child.path) or []
            for i, r in slots:
                if i is None or r is None or not isinstance(current_list[i], dict):
                    continue
                element = current_list[i]
                file, line = rows.t.file, rows.lines[r]
                for column, f in rows.value_columns:
                    path = f"{'.'.join(child.path)}[{i}].{'.'.join(f.path)}"
                    before = get_path(element, f.path)
                    if rows.cleared(column)[r]:
                        if before is not None and before != []:
                            self._cleared(path, file=file, line=line, column=column, table=table)
                    elif f.kind == "list":
                        after = rows.value(r, column)
                        if after is not None:
                            self._entries_removed(path, f.path[-1], before, after, file=file, line=line,
                                                  column=column, table=table)

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
            before_n, after_n = canonical(n, self.cur.get(n)), canonical(n, desired[n])
            places = []  # (path of a rebuilt list, its new position by element key)
            for table, slots in self.keyed.items():
                child = F.CHILD_TABLES[table]
                if child.path[0] == n:
                    before_n, after_n, place = keyed_lists(before_n, after_n, child.path[1:],
                                                           [i for i, _r in slots])
                    places.append((child.path, place))
            leaves: list[tuple[tuple[Any, ...], Any, Any]] = []
            diff_parts(before_n, after_n, (n,), leaves)
            for parts, before, after in leaves:
                located = parts
                for path, place in places:
                    k = len(path)
                    if tuple(parts[:k]) == path and len(parts) > k:  # a removed element: the table's first row
                        located = (*parts[:k], place.get(parts[k], 1 << 30), *parts[k + 1:])
                file, line, column = locate(encode(located), self.where)
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
        self._find_destructive()
        self._tidy()
        compared = self._compared()
        changed = [n for n in self.names
                   if n not in compared or canonical(n, self.desired.get(n)) != canonical(n, self.cur.get(n))]
        source = {"rows": self.ctx.source_rows(self.sid), "where": self.where}
        if not changed:
            return PlanItem(self.sid, ItemStatus.UNCHANGED, before=self.cur, source=source, message="no change"), []
        self.notes += self.harm_notes
        harm = self.destructive
        if self.sid in self.ctx.bad:  # its rows have errors already: the models would only repeat them
            return PlanItem(self.sid, ItemStatus.INVALID, before=self.cur, source=source,
                            message="the upload has errors for it", destructive=harm), []
        body = {n: self.desired.get(n) for n in changed}
        if not self._validate(body):
            return PlanItem(self.sid, ItemStatus.INVALID, before=self.cur, source=source,
                            message="refused by the update schema", destructive=harm), []
        if carried := _carried_text(self.unknown):
            self.notes.append(_note("carries_unknown", carried))
        # Valid: the body is sent as built (JSON values only), not re-serialised.
        sent = {**body, "expires_in": float(self.ctx.expires_in)}
        desired = {n: sent.get(n) for n in changed}
        rows = self._cell_diff(changed, compared) + self._compared_diff(changed, compared, desired)
        return PlanItem(self.sid, ItemStatus.CHANGE, before=self.cur, body=sent, desired=desired, source=source,
                        message="; ".join(n["text"] for n in self.notes) or None, destructive=harm,
                        notes=list(self.notes)), rows


def _note(code: str, text: str) -> dict[str, str]:
    """One thing a session's change does: ``code`` (``removes.passengers``, ``clears``, ...) to group by, ``text``."""
    return {"code": code, "text": text}


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
                  frames: Any = None, lists: str = "replace") -> Changeset:
    """Merge a checked upload onto the current sessions: items, problems, diff, notes.

    ``current`` maps each session id named to its current state (a dict as the API returns
    it), or to ``None`` / an exception when it was not found. Sessions missing from
    ``current`` count as not found. ``frames`` may give the current sessions already
    flattened (:func:`~gr4vy_nb.tables.frames.flatten_sessions` of exactly the found ones), to
    save flattening them again. ``lists``: one of :data:`LIST_MODES` (``replace``: a session's rows of
    a child table are its complete new list; ``patch``: each row patches the element it indexes,
    the others are kept, rows without an index are appended).

    Destructive changes (list elements removed, entries of ``categories`` removed, a field, key,
    object or list cleared) are warnings with rule ``destructive`` and listed in each item's
    ``destructive`` (see :data:`~gr4vy_nb.updates.destructive.DESTRUCTIVE_COLUMNS`); applying them needs consent.
    """
    if lists not in LIST_MODES:
        raise ValueError(f"lists must be one of {', '.join(LIST_MODES)}, not {lists!r}")
    if not upload.checked:
        check_upload(upload)
    if not EXPIRES_IN_MIN <= expires_in <= EXPIRES_IN_MAX:
        raise ValueError(f"expires_in must be between {EXPIRES_IN_MIN} and {EXPIRES_IN_MAX} seconds")
    with _young_collections_only():
        return _build_changes(upload, current, expires_in, frames, lists)


_GC_LOCK = threading.Lock()
_GC_STATE: list[Any] = [0, None]  # callers inside, thresholds to restore


@contextmanager
def _young_collections_only() -> Iterator[None]:
    """Defer full (generation 2) garbage collections while a changeset is built.

    Building one creates many long-lived objects (bodies, diff rows, items) next to the fetched
    sessions; each full collection on the way walks all of them again (``bench/merge_gc.py``: a
    20k-session merge in 0.32x the time). Young collections still run; the thresholds are put
    back when the last caller leaves (several threads may build at once).
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


def _build_changes(upload: Upload, current: Mapping[str, Any], expires_in: int, frames: Any,
                   lists: str) -> Changeset:
    state = Current(current, frames)
    found = Problems(mask=mask_value)
    edits, rows = find_edits(upload, state, found, lists)
    ctx = _Context(upload, state, rows, found, expires_in, lists)
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
    return Changeset(items, problems, _diff_frame(diff), change_notes(items, expires_in))


def _diff_frame(diff: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series([d[c] for d in diff], dtype=object) for c in DIFF_COLUMNS})
    frame["line"] = pd.array(frame["line"].tolist(), dtype="Int64")
    frame["personal"] = frame["personal"].astype(bool)
    return frame
