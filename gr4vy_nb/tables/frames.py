"""Checkout sessions as four related DataFrames, the exact inverse, and their CSV and Excel files.

::

    >>> frames = flatten_sessions(sessions)          # dicts, models, or a JSONL path
    >>> frames
    SessionFrames(200 sessions, 543 cart_items, 221 legs, 229 passengers)
    >>> frames.sessions["buyer.billing_details.address.city"]
    >>> frames.to_csv("export/")                      # sessions.csv, cart_items.csv, legs.csv, passengers.csv
    >>> SessionFrames.read_csv("export/").equals(frames)
    True
    >>> unflatten_sessions(frames) == [normalize_session(s) for s in sessions]
    True

The tables, their columns and dtypes come from the field spec (:mod:`gr4vy_nb.tables.spec`).

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

import os
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError
from ..schema import CheckoutSession
from . import flatten as _flatten
from . import spec as F
from .cells import ParsedCells, parse_cells
from .files import DEFAULT_LIMITS, Limits, encode_list, problems_frame, read_table, rfc3339_utc, write_table
from .masking import mask_frame

__all__ = [
    "ParsedCells",
    "SessionFrames",
    "flatten_sessions",
    "normalize_session",
    "parse_cells",
    "presence",
    "unflatten_sessions",
]

_EXCEL_MAX_ROWS = 1_048_575  # plus the header row


class SessionFrames:
    """Sessions as four related tables: ``sessions``, ``cart_items``, ``legs``, ``passengers``.

    Construct with :func:`flatten_sessions`, :meth:`read_csv` or :meth:`read_jsonl`; the
    constructor also accepts DataFrames built by hand, which it conforms to the spec (every
    column present, in order, with its dtype; an unknown column is a :class:`ValueError`).
    ``len(frames)`` is the number of sessions.  ``warnings`` holds non-fatal problems found
    when reading files (e.g. a ``;`` delimiter).
    """

    def __init__(self, sessions: pd.DataFrame | None = None, cart_items: pd.DataFrame | None = None,
                 legs: pd.DataFrame | None = None, passengers: pd.DataFrame | None = None, *,
                 conform: bool = True) -> None:
        given = {"sessions": sessions, "cart_items": cart_items, "legs": legs, "passengers": passengers}
        for table, df in given.items():
            if df is None:
                df = _empty(table)
            elif conform:
                df = _conform(table, df)
            setattr(self, table, df)
        self.warnings: pd.DataFrame = problems_frame()

    sessions: pd.DataFrame
    cart_items: pd.DataFrame
    legs: pd.DataFrame
    passengers: pd.DataFrame

    # ----------------------------------------------------------------- basics

    def tables(self) -> dict[str, pd.DataFrame]:
        """The four tables by name, in order."""
        return {t: getattr(self, t) for t in F.TABLES}

    def __getitem__(self, table: str) -> pd.DataFrame:
        if table not in F.TABLES:
            raise KeyError(table)
        return getattr(self, table)

    def __len__(self) -> int:
        return len(self.sessions)

    def __repr__(self) -> str:
        counts = ", ".join(f"{len(df):,} {t}" for t, df in self.tables().items())
        return f"SessionFrames({counts})"

    def equals(self, other: SessionFrames) -> bool:
        """Whether every table equals the other's (values, dtypes and column order; index ignored)."""
        return all(a.reset_index(drop=True).equals(b.reset_index(drop=True))
                   and list(a.columns) == list(b.columns)
                   and list(a.dtypes) == list(b.dtypes)
                   for a, b in zip(self.tables().values(), other.tables().values(), strict=True))

    @property
    def metadata_keys(self) -> list[str]:
        """The metadata keys that have a column, sorted."""
        return [c[len(F.METADATA_PREFIX):] for c in self.sessions.columns if c.startswith(F.METADATA_PREFIX)]

    def select(self, ids: Iterable[str], *, missing: str = "raise") -> SessionFrames:
        """The sessions with these ids (in table order) and their rows in the other tables.

        ``missing="raise"`` (default) raises :class:`KeyError` naming ids not in ``sessions``;
        ``missing="ignore"`` skips them.
        """
        wanted = pd.Index(list(ids), dtype="string[pyarrow]")
        if missing == "raise":
            absent = wanted.difference(self.sessions[F.KEY].dropna())
            if len(absent):
                shown = ", ".join(absent[:5]) + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
                raise KeyError(f"not in these frames: {shown}")
        elif missing != "ignore":
            raise ValueError("missing must be 'raise' or 'ignore'")
        out = {t: df[df[F.KEY].isin(wanted).fillna(False).to_numpy(dtype=bool)].reset_index(drop=True)
               for t, df in self.tables().items()}
        return SessionFrames(**out, conform=False)

    def masked(self) -> SessionFrames:
        """A copy with personal and card data masked (:mod:`~gr4vy_nb.tables.masking`); masked columns become text."""
        return SessionFrames(**{t: mask_frame(t, df) for t, df in self.tables().items()}, conform=False)

    def presence(self) -> pd.DataFrame:
        """Which objects and lists each session has (see :func:`presence`)."""
        return presence(self)

    def to_sessions(self) -> list[dict[str, Any]]:
        """The sessions as JSON-ready dicts: :func:`unflatten_sessions`."""
        return unflatten_sessions(self)

    # ----------------------------------------------------------------- files

    def to_csv(self, directory: str | os.PathLike[str]) -> dict[str, Path]:
        """Write ``sessions.csv``, ``cart_items.csv``, ``legs.csv``, ``passengers.csv`` into ``directory``.

        The directory is created if needed; existing files are replaced.  Returns the paths.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        for table, df in self.tables().items():
            paths[table] = out / f"{table}.csv"
            write_table(df, paths[table])
        return paths

    @classmethod
    def read_csv(cls, source: Any, *, encoding: str | None = None, limits: Limits = DEFAULT_LIMITS) -> SessionFrames:
        """Read any subset of the four CSV files: a directory, a list of paths, or ``{table: path or bytes}``.

        Each file is read with :func:`gr4vy_nb.tables.files.read_table` and its cells parsed with
        :func:`parse_cells`; tables without a file are empty, columns missing from a file
        are empty.  Every problem in every file is collected, then raised at once as an
        :class:`~gr4vy_nb.errors.InputError` carrying the problems frame.
        """
        sources = _csv_sources(source)
        problems: list[pd.DataFrame] = []
        frames: dict[str, pd.DataFrame] = {}
        for table, item in sources.items():
            name = f"{table}.csv" if isinstance(item, bytes | bytearray) else None
            try:
                raw = read_table(item, name=name, encoding=encoding, limits=limits)
            except InputError as exc:
                problems.append(exc.problems if exc.problems is not None else problems_frame())
                continue
            parsed = parse_cells(table, raw.frame, file=raw.file)
            problems.extend([raw.warnings, parsed.problems])
            frames[table] = parsed.frame.reset_index(drop=True)
        found = pd.concat([p for p in problems if len(p)], ignore_index=True) if any(len(p) for p in problems) \
            else problems_frame()
        errors = found[found["severity"] == "error"]
        if len(errors):
            first = errors.iloc[0]
            where = f"{first['file']}" + (f", line {first['line']}" if pd.notna(first["line"]) else "") + (
                f", column {first['column']!r}" if pd.notna(first["column"]) else "")
            more = f" ({len(errors) - 1} more problems in .problems)" if len(errors) > 1 else ""
            raise InputError(f"{where}: {first['message']}{more}", found.reset_index(drop=True))
        result = cls(**frames)
        result.warnings = found.reset_index(drop=True)
        return result

    @classmethod
    def read_jsonl(cls, path: str | os.PathLike[str]) -> SessionFrames:
        """Flatten a JSONL file of sessions (one JSON object per line): :func:`flatten_sessions`."""
        return flatten_sessions(path)

    def to_jsonl(self, path: str | os.PathLike[str]) -> None:
        """Write the sessions, unflattened, as JSONL (one JSON object per line)."""
        with open(path, "wb") as fh:
            for session in unflatten_sessions(self):
                fh.write(orjson.dumps(session) + b"\n")

    def to_excel(self, path: str | os.PathLike[str]) -> None:
        """Write an Excel workbook with one sheet per table.

        Date-times are written in UTC (Excel has no time zones), lists as in the CSV files,
        and text always as text, so a value starting with ``=`` is never run as a formula.
        """
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell

        workbook = Workbook(write_only=True)
        for table, df in self.tables().items():
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
    """Python values for openpyxl: ``None`` for missing, naive UTC date-times, lists as CSV text."""
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        return [None if pd.isna(v) else v.to_pydatetime() for v in series]
    values = pa.array(series.array, from_pandas=True).to_pylist()
    if isinstance(dtype, pd.ArrowDtype) and pa.types.is_list(dtype.pyarrow_dtype):
        return [None if v is None else encode_list(v) for v in values]
    return values


def _csv_sources(source: Any) -> dict[str, Any]:
    names = {f"{t}.csv": t for t in F.TABLES}
    if isinstance(source, Mapping):
        unknown = [k for k in source if k not in F.TABLES]
        if unknown:
            raise InputError(f"unknown tables {unknown}; expected some of {', '.join(F.TABLES)}")
        return dict(source)
    if isinstance(source, str | os.PathLike) and Path(source).is_dir():
        found = {names[p.name.lower()]: p for p in sorted(Path(source).iterdir())
                 if p.is_file() and p.name.lower() in names}
        if not found:
            raise InputError(f"{source}: no sessions.csv, cart_items.csv, legs.csv or passengers.csv in this folder")
        return {t: found[t] for t in F.TABLES if t in found}
    paths = [source] if isinstance(source, str | os.PathLike) else list(source)
    out: dict[str, Any] = {}
    for p in paths:
        table = names.get(Path(p).name.lower())
        if table is None:
            raise InputError(f"{Path(p).name}: cannot tell which table this is; name the file "
                             f"sessions.csv, cart_items.csv, legs.csv or passengers.csv")
        if table in out:
            raise InputError(f"two files for {table}: {out[table]} and {p}")
        if not Path(p).exists():
            raise InputError(f"{p}: no such file")
        out[table] = p
    return out


# --------------------------------------------------------------------------- conforming


def _empty(table: str) -> pd.DataFrame:
    return pd.DataFrame({f.column: pd.Series([], dtype=f.dtype) for f in F.table_fields(table)})


def _conform(table: str, df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the spec's columns, order and dtypes (missing columns added empty)."""
    unknown = [c for c in df.columns if F.field_for(table, str(c)) is None]
    if unknown:
        raise ValueError(f"{table}: unknown columns {unknown[:10]}")
    keys = [str(c)[len(F.METADATA_PREFIX):] for c in df.columns if str(c).startswith(F.METADATA_PREFIX)]
    order = F.columns(table, keys)
    out = {}
    for column in order:
        f = F.field_for(table, column)
        assert f is not None
        if column not in df.columns:
            out[column] = pd.Series(pd.array([None] * len(df), dtype=f.dtype), index=df.index)
        elif df[column].dtype != f.dtype:
            out[column] = _cast(df[column], f)
        else:
            out[column] = df[column]
    return pd.DataFrame(out, index=df.index)


def _cast(series: pd.Series, f: F.Field) -> pd.Series:
    if f.kind == "datetime":
        if pd.api.types.is_datetime64_any_dtype(series.dtype):
            if getattr(series.dt, "tz", None) is None:
                series = series.dt.tz_localize("UTC")
            return series.dt.tz_convert("UTC").astype(f.dtype)
        return pd.to_datetime(series, utc=True, format="ISO8601").astype(f.dtype)
    if f.kind in ("date", "list"):
        values = [None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v for v in series]
        if f.kind == "date":
            values = [datetime.fromisoformat(v).date() if isinstance(v, str) else v for v in values]
        return pd.Series(pd.array(pa.array(values, f.arrow_type), dtype=f.dtype), index=series.index)
    return series.astype(f.dtype)


# --------------------------------------------------------------------------- flatten


def flatten_sessions(sessions: Any, *, chunk_size: int = _flatten.CHUNK_SESSIONS) -> SessionFrames:
    """Flatten sessions into :class:`SessionFrames`.

    ``sessions``: an iterable of session dicts (as the API returns them) or schema models,
    consumed in chunks of ``chunk_size`` (a generator is fine), or the path of a JSONL file.
    Null objects and lists, empty lists and missing keys are all fine; fields unknown to this
    version and values of the wrong type are kept in ``extra``.  A line of a JSONL file that
    is not a JSON object raises :class:`ValueError` naming the line.
    """
    if isinstance(sessions, str | os.PathLike):
        chunks = _flatten.chunks_from_jsonl(sessions)
    elif isinstance(sessions, Mapping) or hasattr(sessions, "model_dump"):
        raise TypeError("flatten_sessions takes a list (or iterable) of sessions, not a single session")
    else:
        chunks = _flatten.chunks_from_objects(sessions, chunk_size)
    return _assemble(chunks)


def _assemble(chunks: Iterable[dict[str, pa.Table]]) -> SessionFrames:
    parts: dict[str, list[pa.Table]] = {t: [] for t in F.TABLES}
    for chunk in chunks:
        for table, arrow in chunk.items():
            parts[table].append(arrow)
    frames = {}
    for table in F.TABLES:
        tables = parts.pop(table)
        if not tables:
            frames[table] = _empty(table)
            continue
        arrow = pa.concat_tables(tables, promote_options="default") if len(tables) > 1 else tables[0]
        del tables
        keys = [c[len(F.METADATA_PREFIX):] for c in arrow.column_names if c.startswith(F.METADATA_PREFIX)]
        data = {}
        for column in F.columns(table, keys):
            f = F.field_for(table, column)
            assert f is not None
            data[column] = F.to_pandas_array(arrow.column(column), f.kind)
        del arrow
        frames[table] = pd.DataFrame(data, copy=False)
    return SessionFrames(**frames, conform=False)


# --------------------------------------------------------------------------- unflatten


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
            _flatten.merge_into(records[i], _flatten.loads_json(text))
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


def unflatten_sessions(frames: SessionFrames) -> list[dict[str, Any]]:
    """The sessions of ``frames`` as JSON-ready dicts: the exact inverse of :func:`flatten_sessions`.

    ``unflatten_sessions(flatten_sessions(xs)) == [normalize_session(x) for x in xs]`` for
    every valid session (see the module docstring for what "canonical" means).  Child rows
    are ordered by their index (rows without one last, in table order).  Raises
    :class:`ValueError` if a session id is missing or repeated in ``sessions``, or a child row
    names a session that is not there.
    """
    tables = {t: _conform(t, df) for t, df in frames.tables().items()}
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
    extras = _flatten._Extras()
    _flatten._clean(dict(session), _flatten._node("sessions"), extras, "sessions", 0, ())
    _flatten.merge_into(known, extras.rows["sessions"].get(0, {}))
    for table, child in F.CHILD_TABLES.items():
        items = _get(known, child.path) or []
        for (_row, i), extra in extras.rows[table].items():
            _flatten.merge_into(items[i], extra)
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


def presence(frames: SessionFrames) -> pd.DataFrame:
    """For each session (index: ``checkout_session_id``), whether each object or list is present.

    One boolean column per container (``metadata``, ``cart_items``, ``buyer``,
    ``buyer.billing_details``, ..., ``airline``, ``airline.legs``, ``payment_method``, ...),
    exactly as :func:`unflatten_sessions` decides: an object is present when one of its
    leaves is non-null, one of its lists has rows, or ``extra`` holds something under it.
    """
    sessions = frames.sessions
    ids = sessions[F.KEY]
    out: dict[str, np.ndarray] = {}
    extra_paths = _extra_paths(sessions)
    child_ids = {c.path: set(frames[t][F.KEY].dropna()) for t, c in F.CHILD_TABLES.items()}
    for c in F.containers("sessions"):
        present = np.zeros(len(sessions), dtype=bool)
        prefix = c.column + "."
        for column in sessions.columns:
            if column.startswith(prefix):
                present |= sessions[column].notna().to_numpy(dtype=bool)
        for path, owners in child_ids.items():
            if path[: len(c.path)] == c.path and owners:
                present |= ids.isin(owners).fillna(False).to_numpy(dtype=bool)
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
        stack: list[tuple[tuple[str, ...], Any]] = [((), _flatten.loads_json(column.iloc[i]))]
        while stack:
            path, value = stack.pop()
            if isinstance(value, dict) and value:
                stack.extend(((*path, k), v) for k, v in value.items())
            else:
                paths.append(path)
        out[i] = paths
    return out

