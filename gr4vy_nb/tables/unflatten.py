"""Tables back to sessions: :func:`unflatten_sessions`, the exact inverse of flattening, and what it implies.

What the flat form cannot tell apart, and the canonical form :func:`unflatten_sessions`
produces (the same as :func:`normalize_session`):

* a missing key and ``null`` (both absent), and a schema default given explicitly or not
  (a value is kept exactly when it was given);
* an empty object or list and ``null``: ``metadata: {}``, ``cart_items: []``, ``buyer: {}``,
  ``airline: {}``, ``payment_method: {"type": "payment-method", "method": "card"}`` are all
  absent.  An object is present exactly when one of its leaves is (for ``airline``: or it
  has legs or passengers rows), which :func:`presence` computes per session;
* a date-time's offset: all are stored, and written back, in UTC (``...Z``).

A list element is never dropped, even an empty leg ``{}`` (its row exists).  The ``const``
fields (``type``) are not columns: they are written back wherever their object is present.
Anything the columns cannot hold (unknown fields, wrongly typed values) is kept in ``extra``
and merged back, so nothing is lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..schema import CheckoutSession
from . import spec as F
from .cells import rfc3339_utc
from .columns import conform_frame, isin
from .flatten import loads_json, merge_into, unknown_parts

__all__ = ["normalize_session", "presence", "unflatten_sessions"]


def _python_values(f: F.Field, series: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Positions of the non-null cells of a column and their JSON-ready values."""
    arr = pa.array(series.array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count == len(arr):
        return np.zeros(0, np.int64), []
    valid = arr.is_valid()
    if f.kind == "list":  # an empty list is the same as no list (the canonical form drops it)
        valid = pc.and_(valid, pc.greater(pc.fill_null(pc.list_value_length(arr), 0), 0))
    positions = np.flatnonzero(np.asarray(valid, dtype=bool))
    values = arr.filter(valid) if len(positions) < len(arr) else arr
    if f.kind == "datetime":
        values = rfc3339_utc(values)
    elif f.kind == "date":
        values = values.cast(pa.string())
    return positions, values.to_pylist()


def _records(table: str, df: pd.DataFrame) -> list[dict[str, Any]]:
    """The records of one table as nested dicts (no child lists yet), extras merged, consts set."""
    n = len(df)
    records: list[dict[str, Any]] = [{} for _ in range(n)]
    holders: dict[tuple[str, ...], list[Any]] = {(): records}
    extra_column = None
    for column in df.columns:
        f = F.field_for(table, str(column))
        if f is None:
            raise ValueError(f"{table}: unknown column {column!r}")
        if f.role == "extra":
            extra_column = column
            continue
        if not f.path:
            continue  # key and index columns of child tables: used for grouping
        positions, values = _python_values(f, df[column])
        if not values:
            continue
        parent, key = f.path[:-1], f.path[-1]
        if not parent:
            for i, v in zip(positions.tolist(), values, strict=True):
                records[i][key] = v
            continue
        objs = holders.get(parent)
        if objs is None:
            objs = holders[parent] = [None] * n
        for i, v in zip(positions.tolist(), values, strict=True):
            obj = objs[i]
            if obj is None:
                obj = objs[i] = {}
            obj[key] = v
    _link(holders, n)
    if extra_column is not None:
        positions, values = _python_values(F.field_for(table, F.EXTRA), df[extra_column])  # type: ignore[arg-type]
        for i, text in zip(positions.tolist(), values, strict=True):
            merge_into(records[i], loads_json(text))
    return records


def _link(holders: dict[tuple[str, ...], list[Any]], n: int) -> None:
    """Attach each object to its parent (creating parents as needed), deepest first."""
    paths = {p[:depth] for p in holders for depth in range(1, len(p) + 1)}
    for path in paths:
        holders.setdefault(path, [None] * n)
    for path in sorted(paths, key=len, reverse=True):
        objs = holders[path]
        parents = holders[path[:-1]]
        key = path[-1]
        for i, obj in enumerate(objs):
            if obj is not None:
                parent = parents[i]
                if parent is None:
                    parent = parents[i] = {}
                parent[key] = obj


def _set_consts(table: str, records: list[dict[str, Any]]) -> None:
    for (t, path), consts in F.CONSTS.items():
        if t != table:
            continue
        for record in records:
            obj: Any = record
            for key in path:
                obj = obj.get(key) if isinstance(obj, dict) else None
            if isinstance(obj, dict):
                for key, value in consts.items():
                    obj.setdefault(key, value)


def unflatten_sessions(frames: Any) -> list[dict[str, Any]]:
    """The sessions of ``frames`` as JSON-ready dicts: the exact inverse of :func:`flatten_sessions`.

    ``unflatten_sessions(flatten_sessions(xs)) == [normalize_session(x) for x in xs]`` for
    every valid session (see the module docstring for what "canonical" means).  Child rows
    are ordered by their index (rows without one last, in table order).  Raises
    :class:`ValueError` if a session id is missing or repeated in ``sessions``, or a child row
    names a session that is not there.
    """
    tables = {t: conform_frame(t, df) for t, df in frames.tables().items()}
    sessions = tables["sessions"]
    ids = sessions[F.KEY]
    if ids.isna().any():
        raise ValueError("a row of sessions has no checkout_session_id")
    if ids.duplicated().any():
        raise ValueError(f"session {ids[ids.duplicated()].iloc[0]} is in sessions more than once")
    records = _records("sessions", sessions)
    index = pd.Index(ids.to_numpy(dtype=object))
    for table, child in F.CHILD_TABLES.items():
        df = tables[table]
        if not len(df):
            continue
        items = _records(table, df)
        _set_consts(table, items)
        owner = index.get_indexer(df[F.KEY].to_numpy(dtype=object))
        if (owner < 0).any():
            missing = df[F.KEY].iloc[int(np.flatnonzero(owner < 0)[0])]
            raise ValueError(f"{table} has rows for session {missing}, which is not in sessions")
        position = df[child.index].to_numpy(dtype="float64", na_value=np.inf)
        order = np.lexsort((position, owner))
        grouped: dict[int, list[dict[str, Any]]] = {}
        for j in order.tolist():
            grouped.setdefault(int(owner[j]), []).append(items[j])
        for i, values in grouped.items():
            obj = records[i]
            for key in child.path[:-1]:
                obj = obj.setdefault(key, {})
            obj[child.path[-1]] = values
    _set_consts("sessions", records)
    return records


# --------------------------------------------------------------------------- canonical form


def _utc(text: str) -> str:
    value = datetime.fromisoformat(text.replace("z", "Z")).astimezone(UTC).replace(tzinfo=None)
    return value.isoformat() + "Z"


def _prune(value: Any) -> Any:
    """Drop empty objects and lists that are values of keys (list elements are kept)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = _prune(v)
            if v in ({}, []):
                continue
            out[k] = v
        return out
    if isinstance(value, list):
        return [_prune(v) if isinstance(v, dict) else v for v in value]
    return value


def normalize_session(session: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical form of a valid session: what ``unflatten_sessions(flatten_sessions([s]))[0]`` is.

    Validates with :class:`~gr4vy_nb.schema.CheckoutSession` (raising pydantic's
    ``ValidationError`` if invalid); keeps the fields given (defaults are not added), drops
    nulls, empty objects and empty lists, writes date-times in UTC as pydantic does (``Z``),
    keeps fields unknown to the models as they are (members that are null dropped), and sets
    the ``type`` constants wherever their object is present.
    """
    model = CheckoutSession.model_validate(dict(session))
    known = model.model_dump(mode="json", exclude_unset=True, exclude_none=True)
    for (table, path), consts in F.CONSTS.items():
        if table == "sessions":
            obj = _get(known, path)
            if isinstance(obj, dict):
                for key in consts:
                    obj.pop(key, None)
    for f in F.table_fields("sessions"):
        if f.kind == "datetime" and isinstance(value := _get(known, f.path), str):
            _get(known, f.path[:-1])[f.path[-1]] = _utc(value)
    for table, child in F.CHILD_TABLES.items():
        stamps = [f.path for f in F.table_fields(table) if f.kind == "datetime"]
        for item in _get(known, child.path) or []:
            for path in stamps:
                if isinstance(value := _get(item, path), str):
                    _get(item, path[:-1])[path[-1]] = _utc(value)
    known = _prune(known)
    top, children = unknown_parts(session)
    merge_into(known, top)
    for table, child in F.CHILD_TABLES.items():
        items = _get(known, child.path) or []
        for i, extra in children[table].items():
            merge_into(items[i], extra)
    records = [known]
    _set_consts("sessions", records)
    return known


def _get(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


# --------------------------------------------------------------------------- presence


def presence(frames: Any, containers: Iterable[str] | None = None) -> pd.DataFrame:
    """For each session (index: ``checkout_session_id``), whether each object or list is present.

    One boolean column per container (``metadata``, ``cart_items``, ``buyer``,
    ``buyer.billing_details``, ..., ``airline``, ``airline.legs``, ``payment_method``, ...), or
    only those named in ``containers``, exactly as :func:`unflatten_sessions` decides: an
    object is present when one of its leaves is non-null, one of its lists has rows, or
    ``extra`` holds something under it.
    """
    sessions = frames.sessions
    ids = sessions[F.KEY]
    wanted = None if containers is None else set(containers)
    unknown = (wanted or set()) - {c.column for c in F.containers("sessions")}
    if unknown:
        raise KeyError(f"not containers of a session: {sorted(unknown)}")
    out: dict[str, np.ndarray] = {}
    extra_paths = _extra_paths(sessions)
    owners = {c.path: frames[t][F.KEY] for t, c in F.CHILD_TABLES.items()}
    for c in F.containers("sessions"):
        if wanted is not None and c.column not in wanted:
            continue
        present = np.zeros(len(sessions), dtype=bool)
        prefix = c.column + "."
        for column in sessions.columns:
            if column.startswith(prefix):
                present |= sessions[column].notna().to_numpy(dtype=bool)
        for path, owner_ids in owners.items():
            if path[: len(c.path)] == c.path and len(owner_ids):
                present |= isin(ids, owner_ids)
        for i, paths in extra_paths.items():
            if any(p[: len(c.path)] == c.path for p in paths):
                present[i] = True
        out[c.column] = present
    return pd.DataFrame(out, index=pd.Index(ids, name=F.KEY))


def _extra_paths(sessions: pd.DataFrame) -> dict[int, list[tuple[str, ...]]]:
    column = sessions[F.EXTRA]
    out: dict[int, list[tuple[str, ...]]] = {}
    for i in np.flatnonzero(column.notna().to_numpy(dtype=bool)).tolist():
        paths: list[tuple[str, ...]] = []
        stack: list[tuple[tuple[str, ...], Any]] = [((), loads_json(column.iloc[i]))]
        while stack:
            path, value = stack.pop()
            if isinstance(value, dict) and value:
                stack.extend(((*path, k), v) for k, v in value.items())
            else:
                paths.append(path)
        out[i] = paths
    return out

