"""Flattening: JSON sessions -> typed Arrow tables -> the four pandas tables (:func:`flatten_tables`).

Sessions are processed in chunks.  Each chunk is parsed by Arrow's JSON reader against an
explicit schema derived from the field spec (the fast path: C++, multithreaded, strict about
types); a chunk holding anything that schema cannot represent exactly (a field unknown to
this version, a value of the wrong type, a const with another value) is redone by the
reference path, which walks each session in Python, keeps what does not fit in ``extra``
and hands Arrow only clean values.  Both paths end in :func:`_build_tables`, and a test
checks that they produce the same tables.

Exactness notes:

* Date-times are parsed to UTC microseconds (an offset such as ``+02:00`` is converted,
  more than six fractional digits are truncated, as pydantic does); a value that is not an
  RFC 3339 date-time with an offset is kept, as text, in ``extra``.  Likewise dates.
* In ``extra``, object members whose value is ``null`` are dropped (null and missing are
  the same thing everywhere in the tables).
"""

from __future__ import annotations

import json
import os
import re
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from . import spec as F
from .cells import parse_dates, parse_datetimes
from .columns import empty_frame, pandas_arrays

__all__ = [
    "CHUNK_BYTES",
    "CHUNK_SESSIONS",
    "chunks_from_jsonl",
    "chunks_from_objects",
    "dumps_json",
    "flatten_tables",
    "loads_json",
    "merge_into",
    "prune_nulls",
    "record_type",
    "unknown_parts",
]

CHUNK_SESSIONS = 20_000
CHUNK_BYTES = 48 << 20
_BLOCK_BYTES = 4 << 20  # Arrow parses blocks in parallel; 4 MiB measured fastest here
_WORKERS = 2  # chunks flattened at once
_MIN_PIECE = 1 << 20

_STRING = pa.large_string()  # text as pandas stores it, so columns pass to pandas without a copy
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_LONG_DIGITS = re.compile(rb"\d{19,}")


class _Fallback(Exception):
    """The fast path cannot represent this chunk exactly."""


# --------------------------------------------------------------------------- record types


def _raw_type(f: F.Field) -> pa.DataType:
    """Arrow type of a field as it appears in JSON (date-times and dates are still text)."""
    if f.kind in ("datetime", "date"):
        return _STRING
    if f.kind == "list":
        return pa.list_(pa.string())
    return f.arrow_type


def _insert(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    tree[path[-1]] = value


def _to_struct(tree: dict[str, Any]) -> pa.StructType:
    return pa.struct([(k, _to_struct(v) if isinstance(v, dict) else v) for k, v in tree.items()])


@cache
def record_type(table: str) -> pa.StructType:
    """Arrow struct of one record of ``table`` as JSON (known fields only, metadata left out)."""
    tree: dict[str, Any] = {}
    for f in F.table_fields(table):
        if f.path:
            _insert(tree, f.path, _raw_type(f))
    for (t, path), consts in F.CONSTS.items():
        if t == table:
            for key in consts:
                _insert(tree, (*path, key), _STRING)
    if table == "sessions":
        for child in F.CHILD_TABLES.values():
            _insert(tree, child.path, pa.list_(record_type(child.table)))
    return _to_struct(tree)


# Node of the reference walker: key -> ("leaf", Field) | ("obj", node) | ("list", table) | ("map",) | ("const", v)
_Node = dict[str, tuple[Any, ...]]


@cache
def _node(table: str) -> _Node:
    root: _Node = {}

    def at(path: tuple[str, ...]) -> _Node:
        node = root
        for key in path:
            entry = node.setdefault(key, ("obj", {}))
            node = entry[1]
        return node

    for c in F.containers(table):
        if c.kind == "object":
            at(c.path)
        elif c.kind == "list":
            child = next(t for t in F.CHILD_TABLES.values() if t.path == c.path)
            at(c.path[:-1])[c.path[-1]] = ("list", child.table)
        else:
            at(c.path[:-1])[c.path[-1]] = ("map",)
    for f in F.table_fields(table):
        if f.path:
            at(f.path[:-1])[f.path[-1]] = ("leaf", f)
    for (t, path), consts in F.CONSTS.items():
        if t == table:
            for key, value in consts.items():
                at(path)[key] = ("const", value)
    return root


# --------------------------------------------------------------------------- extras


def dumps_json(value: Any) -> str:
    """Compact JSON with sorted keys (integers beyond 64 bits included, which orjson refuses)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def loads_json(data: bytes | str) -> Any:
    """Parse JSON exactly: orjson, unless a long digit run hints at an integer orjson would turn into a float."""
    if _LONG_DIGITS.search(data if isinstance(data, bytes) else data.encode()):
        return json.loads(data)
    return orjson.loads(data)


def prune_nulls(value: Any) -> Any:
    """Drop object members whose value is null, recursively (list elements are kept as they are)."""
    if isinstance(value, dict):
        return {k: prune_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [prune_nulls(v) for v in value]
    return value


def merge_into(target: dict[str, Any], extra: dict[str, Any]) -> None:
    """Deep-merge ``extra`` into ``target`` (objects merge, anything else from ``extra`` wins)."""
    for key, value in extra.items():
        current = target.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            merge_into(current, value)
        else:
            target[key] = value


class _Extras:
    """What the columns cannot hold, per table: sessions by row, child records by (session row, index)."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[Any, dict[str, Any]]] = {t: {} for t in F.TABLES}

    def add(self, table: str, key: Any, path: tuple[str, ...], value: Any) -> None:
        record = self.rows[table].setdefault(key, {})
        for part in path[:-1]:
            record = record.setdefault(part, {})
        record[path[-1]] = value

    def merge(self, table: str, key: Any, extra: dict[str, Any]) -> None:
        if extra:
            merge_into(self.rows[table].setdefault(key, {}), extra)

    def column(self, table: str, n: int, row_of: Any = None) -> pa.Array:
        rows = self.rows[table]
        if not rows:
            return pa.nulls(n, _STRING)
        out: list[str | None] = [None] * n
        for key, extra in rows.items():
            if extra:
                out[key if row_of is None else row_of(key)] = dumps_json(extra)
        return pa.array(out, _STRING)


def unknown_parts(session: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, dict[int, dict[str, Any]]]]:
    """What the columns cannot hold in one session (what ``extra`` keeps), nulls dropped.

    Returns the part of the session itself, and for each child table ``{position: part}``
    of its elements (positions in the session's list).
    """
    extras = _Extras()
    _clean(dict(session), _node("sessions"), extras, "sessions", 0, ())
    children = {t: {int(i): extra for (_row, i), extra in extras.rows[t].items()} for t in F.CHILD_TABLES}
    return extras.rows["sessions"].get(0, {}), children


# --------------------------------------------------------------------------- reference path


def _leaf_ok(f: F.Field, value: Any) -> bool:
    kind = f.kind
    if kind in ("str", "enum", "datetime", "date"):
        return isinstance(value, str)
    if kind == "int":
        return type(value) is int and _INT64_MIN <= value <= _INT64_MAX
    if kind == "float":
        return type(value) in (int, float)
    if kind == "bool":
        return type(value) is bool
    if kind == "list":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return False


def _clean(obj: dict[str, Any], node: _Node, extras: _Extras, table: str, key: Any,
           path: tuple[str, ...]) -> dict[str, Any]:
    """The part of ``obj`` the columns can hold; everything else goes to ``extras``."""
    out: dict[str, Any] = {}
    for name, value in obj.items():
        if value is None:
            continue
        entry = node.get(name)
        where = (*path, name)
        if entry is None:
            extras.add(table, key, where, prune_nulls(value))
            continue
        tag = entry[0]
        if tag == "leaf":
            if _leaf_ok(entry[1], value):
                out[name] = value
            else:
                extras.add(table, key, where, prune_nulls(value))
        elif tag == "obj":
            if isinstance(value, dict):
                out[name] = _clean(value, entry[1], extras, table, key, where)
            else:
                extras.add(table, key, where, prune_nulls(value))
        elif tag == "const":
            if value != entry[1]:
                extras.add(table, key, where, prune_nulls(value))
        elif tag == "map":
            if isinstance(value, dict):
                good = {k: v for k, v in value.items() if isinstance(v, str)}
                for k, v in value.items():
                    if v is not None and not isinstance(v, str):
                        extras.add(table, key, (*where, k), prune_nulls(v))
                out[name] = good
            else:
                extras.add(table, key, where, prune_nulls(value))
        else:  # a child table
            if isinstance(value, list) and all(isinstance(v, dict) for v in value):
                child_table = entry[1]
                child_node = _node(child_table)
                items = []
                for i, item in enumerate(value):
                    items.append(_clean(item, child_node, extras, child_table, (key, i), ()))
                out[name] = items
            else:
                extras.add(table, key, where, prune_nulls(value))
    return out


def _reference_chunk(sessions: list[Any], extras: _Extras) -> tuple[pa.StructArray, list[Any]]:
    """The clean sessions as Arrow, and their metadata dicts (kept apart: Arrow has no JSON maps)."""
    node = _node("sessions")
    clean = []
    metadata = []
    for row, session in enumerate(sessions):
        if not isinstance(session, dict):
            raise TypeError(f"a session must be a JSON object (a dict), not {type(session).__name__}")
        record = _clean(session, node, extras, "sessions", row, ())
        metadata.append(record.pop("metadata", None))
        clean.append(record)
    return pa.array(clean, type=record_type("sessions")), metadata


# --------------------------------------------------------------------------- fast path


def _read_json(data: Any, schema: pa.Schema) -> pa.Table:
    try:
        return pj.read_json(pa.BufferReader(pa.py_buffer(data)), read_options=pj.ReadOptions(block_size=_BLOCK_BYTES),
                            parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise _Fallback(str(exc)) from None


def _fast_chunk(data: Any) -> pa.ChunkedArray:
    expected = record_type("sessions")
    schema = pa.schema(list(expected))
    table = _read_json(data, schema)
    meta = table.schema.field("metadata").type if "metadata" in table.schema.names else pa.null()
    if pa.types.is_struct(meta) and not all(pa.types.is_string(c.type) or pa.types.is_null(c.type) for c in meta):
        # Arrow inferred a type for some metadata values (a date-like text becomes a timestamp): read the
        # chunk again with every metadata key seen declared as text, so the values stay exactly as written.
        keys = pa.struct([(c.name, _STRING) for c in meta])
        table = _read_json(data, schema.append(pa.field("metadata", keys)))
    for fld in table.schema:
        if fld.name == "metadata":
            t = fld.type
            if not (pa.types.is_null(t) or (pa.types.is_struct(t) and all(
                    pa.types.is_string(c.type) or pa.types.is_large_string(c.type) or pa.types.is_null(c.type)
                    for c in t))):
                raise _Fallback("metadata values that are not text")
        elif expected.get_field_index(fld.name) < 0 or fld.type != expected.field(fld.name).type:
            raise _Fallback(f"unknown field or type at {fld.name}")
    if table.num_rows == 0:
        return pa.array([], type=expected)
    arr = table.to_struct_array()  # chunked (one chunk per parsed block): no copy
    leaves = _leaves(arr, ())
    for (t, path), consts in F.CONSTS.items():
        if t != "sessions":
            continue
        for key, value in consts.items():
            col = leaves.get((*path, key))
            if col is not None and col.null_count < len(col) and not pc.all(
                    pc.or_kleene(pc.is_null(col), pc.equal(col, value))).as_py():
                raise _Fallback(f"{'.'.join((*path, key))} is not {value!r}")
    return arr


# --------------------------------------------------------------------------- building tables


def _leaves(arr: pa.Array, prefix: tuple[str, ...], stop: frozenset[tuple[str, ...]] = frozenset()) -> dict:
    """Every non-struct array under ``arr`` by path; a null parent makes its children null."""
    out: dict[tuple[str, ...], pa.Array] = {}
    if not pa.types.is_struct(arr.type) or prefix in stop:
        out[prefix] = arr
        return out
    for fld, child in zip(arr.type, arr.flatten(), strict=True):
        out.update(_leaves(child, (*prefix, fld.name), stop))
    return out


def _typed(f: F.Field, raw: pa.Array | None, n: int, on_bad: Any) -> pa.Array:
    if raw is None:
        return pa.nulls(n, f.arrow_type)
    if f.kind in ("datetime", "date"):
        typed, bad = (parse_datetimes if f.kind == "datetime" else parse_dates)(raw)
        if bad.any():
            originals = raw.to_pylist()
            for i in np.flatnonzero(bad):
                on_bad(int(i), f.path, originals[i])
        return typed
    if raw.type != f.arrow_type:
        return raw.cast(f.arrow_type)
    return raw


def _metadata_columns(meta: pa.Array | None, metadata: list[Any] | None) -> dict[str, pa.Array]:
    """``metadata.<key>`` columns from an inferred struct (fast path) or from dicts (reference path)."""
    if metadata is not None:
        keys = sorted({k for m in metadata if m for k in m})
        return {F.METADATA_PREFIX + k: pa.array([m.get(k) if m else None for m in metadata], _STRING) for k in keys}
    if meta is None or pa.types.is_null(meta.type):
        return {}
    return {F.METADATA_PREFIX + fld.name: col.cast(_STRING) for fld, col in zip(meta.type, meta.flatten(), strict=True)}


def _build_tables(arr: pa.StructArray | pa.ChunkedArray, extras: _Extras,
                  metadata: list[Any] | None = None) -> dict[str, pa.Table]:
    """Typed Arrow tables (spec columns, in order) from a chunk of sessions."""
    n = len(arr)
    stops = frozenset({("metadata",)})
    leaves = _leaves(arr, (), stops)
    ids = leaves[("id",)]
    tables: dict[str, pa.Table] = {}

    def bad_session(row: int, path: tuple[str, ...], value: Any) -> None:
        extras.add("sessions", row, path, value)

    cols: dict[str, pa.Array] = {}
    for f in F.table_fields("sessions"):
        if f.role == "extra":
            continue
        cols[f.column] = _typed(f, leaves.get(f.path), n, bad_session)
    meta = _metadata_columns(leaves.get(("metadata",)), metadata)
    cols.update(dict(sorted(meta.items())))
    cols[F.EXTRA] = extras.column("sessions", n)
    tables["sessions"] = pa.table(cols)

    for child in F.CHILD_TABLES.values():
        lists = leaves.get(child.path)
        if lists is None or pa.types.is_null(lists.type):
            lists = pa.nulls(n, pa.list_(record_type(child.table)))
        lengths = np.asarray(pc.fill_null(pc.list_value_length(lists), 0), dtype=np.int64)
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1])) if n else np.zeros(0, np.int64)
        values = pc.list_flatten(lists)
        total = len(values)
        parents = np.repeat(np.arange(n, dtype=np.int64), lengths)
        index = np.arange(total, dtype=np.int64) - np.repeat(starts, lengths)
        child_leaves = _leaves(values, ())

        def bad_child(row: int, path: tuple[str, ...], value: Any, _t: str = child.table,
                      _p: np.ndarray = parents, _i: np.ndarray = index) -> None:
            extras.add(_t, (int(_p[row]), int(_i[row])), path, value)

        ccols: dict[str, pa.Array] = {}
        for f in F.table_fields(child.table):
            if f.role == "key":
                ccols[f.column] = ids.take(pa.array(parents))
            elif f.role == "index":
                ccols[f.column] = pa.array(index)
            elif f.role == "extra":
                ccols[f.column] = extras.column(child.table, total,
                                                lambda k, _s=starts: int(_s[k[0]]) + k[1])
            else:
                ccols[f.column] = _typed(f, child_leaves.get(f.path), total, bad_child)
        tables[child.table] = pa.table(ccols)
    return tables


# --------------------------------------------------------------------------- sources


def _as_dict(session: Any) -> Any:
    dump = getattr(session, "model_dump", None)
    if dump is not None:
        return dump(mode="json", exclude_unset=True)
    return session


def chunks_from_objects(sessions: Iterable[Any], chunk_size: int = CHUNK_SESSIONS) -> Iterator[dict[str, pa.Table]]:
    """Typed tables for each chunk of an iterable of session dicts (or models)."""
    batch: list[Any] = []
    for session in sessions:
        batch.append(_as_dict(session))
        if len(batch) >= chunk_size:
            yield _objects_chunk(batch)
            batch = []
    if batch:
        yield _objects_chunk(batch)


def _objects_chunk(batch: list[Any]) -> dict[str, pa.Table]:
    extras = _Extras()
    try:
        if not all(isinstance(s, dict) for s in batch):
            raise _Fallback("not all dicts")
        data = b"\n".join(orjson.dumps(s) for s in batch)
        arr = _fast_chunk(data)
        if len(arr) != len(batch):
            raise _Fallback("row count")
    except (_Fallback, TypeError, orjson.JSONEncodeError):
        extras = _Extras()
        arr, metadata = _reference_chunk(batch, extras)
        return _build_tables(arr, extras, metadata)
    return _build_tables(arr, extras)


def chunks_from_jsonl(path: Any, chunk_bytes: int = CHUNK_BYTES) -> Iterator[dict[str, pa.Table]]:
    """Typed tables for each chunk of a JSONL file of sessions (one JSON object per line).

    The file is read ``chunk_bytes`` at a time, cut at line ends; two chunks are flattened at
    once (Arrow releases the GIL, so one's parsing runs while the other's columns are built),
    so memory holds a few chunks of text at a time whatever the size of the file.
    """
    # A file smaller than two chunks is cut in two halves (a little more, for the line cut at the
    # end of the first), so that both workers have a share.
    chunk_bytes = min(chunk_bytes, max(_MIN_PIECE, -(-os.path.getsize(path) // _WORKERS) + (256 << 10)))
    with ThreadPoolExecutor(_WORKERS) as pool:
        pending: deque[Future[dict[str, pa.Table]]] = deque()
        # The text is read into _WORKERS + 1 buffers in turn: a buffer is read into again only once
        # the piece it held has been flattened (its answer taken below), and reusing them spares
        # the page faults of a fresh allocation for every piece.
        for offset, data in _jsonl_blocks(path, chunk_bytes, _WORKERS + 1):
            pending.append(pool.submit(_jsonl_chunk, data, path, offset))
            if len(pending) > _WORKERS:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _jsonl_blocks(path: Any, chunk_bytes: int, buffers: int = 1) -> Iterator[tuple[int, memoryview]]:
    """``(offset, text)`` of consecutive pieces of the file, each ending at a line end (or the file's end).

    The pieces are views of ``buffers`` buffers used in turn: a piece's text is overwritten
    ``buffers`` pieces later, so the caller must be done with it by then.
    """
    ring = [bytearray(0) for _ in range(buffers)]
    size = chunk_bytes
    offset = 0
    turn = 0
    with open(path, "rb") as fh:
        while True:
            if len(ring[turn]) < size:
                ring[turn] = bytearray(size)
            fh.seek(offset)
            view = memoryview(ring[turn])
            read = fh.readinto(view[:size])
            if not read:
                return
            cut = read if read < size else ring[turn].rfind(b"\n", 0, read) + 1
            if not cut:  # a line longer than a chunk: read more at once
                size *= 2
                continue
            yield offset, view[:cut]  # the partial last line is read again with the next piece
            offset += cut
            size = chunk_bytes
            turn = (turn + 1) % buffers


def _line_at(path: Any, offset: int) -> int:
    """The line number at byte ``offset`` of a file (counted only when a line's error must be reported)."""
    line = 1
    with open(path, "rb") as fh:
        while offset > 0:
            block = fh.read(min(offset, 16 << 20))
            if not block:
                break
            line += block.count(b"\n")
            offset -= len(block)
    return line


def _jsonl_chunk(data: Any, path: Any, offset: int) -> dict[str, pa.Table]:
    extras = _Extras()
    try:
        arr = _fast_chunk(data)
    except _Fallback:
        objs = []
        first_line = None
        for position, line in enumerate(bytes(data).split(b"\n")):
            if not line.strip():
                continue
            try:
                obj = loads_json(line)
                if not isinstance(obj, dict):
                    raise TypeError("not an object")
            except (ValueError, TypeError) as exc:  # orjson's and json's decode errors are both ValueErrors
                first_line = _line_at(path, offset) if first_line is None else first_line
                what = (f"not valid JSON ({exc})" if isinstance(exc, ValueError)
                        else "a session must be a JSON object")
                raise ValueError(f"{path}: line {first_line + position}: {what}") from None
            objs.append(obj)
        arr, metadata = _reference_chunk(objs, extras)
        return _build_tables(arr, extras, metadata)
    return _build_tables(arr, extras)


# --------------------------------------------------------------------------- the tables


def flatten_tables(sessions: Any, *, chunk_size: int = CHUNK_SESSIONS) -> dict[str, pd.DataFrame]:
    """Flatten sessions into the four tables, typed per the spec (``SessionFrames`` wraps them).

    ``sessions``: an iterable of session dicts (as the API returns them) or schema models,
    consumed in chunks of ``chunk_size`` (a generator is fine), or the path of a JSONL file.
    Null objects and lists, empty lists and missing keys are all fine; fields unknown to this
    version and values of the wrong type are kept in ``extra``.  A line of a JSONL file that
    is not a JSON object raises :class:`ValueError` naming the line.
    """
    if isinstance(sessions, str | os.PathLike):
        chunks = chunks_from_jsonl(sessions)
    elif isinstance(sessions, Mapping) or hasattr(sessions, "model_dump"):
        raise TypeError("flatten_sessions takes a list (or iterable) of sessions, not a single session")
    else:
        chunks = chunks_from_objects(sessions, chunk_size)
    return _assemble(chunks)


def _assemble(chunks: Iterable[dict[str, pa.Table]]) -> dict[str, pd.DataFrame]:
    parts: dict[str, list[pa.Table]] = {t: [] for t in F.TABLES}
    for chunk in chunks:
        for table, arrow in chunk.items():
            parts[table].append(arrow)
    frames = {}
    for table in F.TABLES:
        tables = parts.pop(table)
        if not tables:
            frames[table] = empty_frame(table)
            continue
        arrow = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
        del tables
        keys = [c[len(F.METADATA_PREFIX):] for c in arrow.column_names if c.startswith(F.METADATA_PREFIX)]
        data = {}
        for column in F.columns(table, keys):
            f = F.field_for(table, column)
            assert f is not None
            data[column] = (arrow.column(column), f)
        del arrow
        frames[table] = pd.DataFrame(pandas_arrays(data), copy=False)
    return frames
