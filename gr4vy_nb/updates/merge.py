"""CSV tables -> per-session changes merged onto the current state -> validated update bodies + diff.

The steps, as :func:`gr4vy_nb.updates.plan.plan_updates` runs them:

1. :func:`read_upload`: any subset of ``sessions.csv``, ``cart_items.csv``, ``legs.csv``,
   ``passengers.csv`` (a folder, paths, uploaded bytes, DataFrames or a
   :class:`~gr4vy_nb.tables.frames.SessionFrames`) read as text with file line numbers.
2. :func:`check_upload`: every cell checked offline against the field spec, all problems
   collected at once (unknown columns, types, bounds, patterns, duplicate keys, too many
   legs, ``#N/A`` where nothing can be cleared), plus warnings for spreadsheet damage
   (scientific notation, digits lost past the 15th, Excel date serials).
3. :func:`build_changes`: the upload merged onto the current sessions, as DESIGN.md says:

   * ``sessions.csv``: a non-empty cell sets its field, an empty cell keeps it, ``#N/A``
     clears it (a ``metadata.<key>`` column removes the key). A column named after an
     object or list (``cart_items``, ``airline``, ``buyer``, ``metadata``,
     ``airline.legs``, ...) may hold ``#N/A`` to clear it whole. Read-only columns
     (``expires_at``, ``payment_method.…``, ``extra``) must equal the current value (or be
     empty).
   * ``cart_items.csv``, ``legs.csv``, ``passengers.csv``: for each session present, its rows
     are the complete new list, in ``*_index`` order (rows without an index after those with
     one, in file order). A row whose index is a position of the current list starts from that
     element: its empty or absent columns keep the current values.
   * Legs and passengers are merged into the session's current ``airline``: the API
     replaces ``airline`` as a whole, so everything else in it is sent back unchanged.

   Only the top-level fields whose value actually changes are sent; a session with no
   change is not sent. Every body is validated against
   :class:`~gr4vy_nb.schema.CheckoutSessionUpdate`, errors reported in file/line/column.

Finding what changed is column-wise: the current sessions are flattened into the same
tables as the upload and compared cell by cell, so an untouched session costs no Python
work per cell, and an unedited export uploaded again is exactly "no change".
"""

from __future__ import annotations

import copy
import gc
import os
import re
import threading
import types
import typing
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pydantic
from pydantic import TypeAdapter

from ..errors import InputError
from ..schema import EXPIRES_IN_MAX, EXPIRES_IN_MIN, UUID_PATTERN, CheckoutSessionUpdate
from ..tables import spec as F
from ..tables.cells import parse_cells
from ..tables.files import CLEAR_TOKEN, format_column, problems_frame, read_table, rfc3339_utc
from ..tables.masking import is_personal, mask_value
from .journal import file_digest

__all__ = [
    "CLEAR_TOKEN",
    "IGNORED_COLUMNS",
    "Changeset",
    "PlanItem",
    "Upload",
    "UploadTable",
    "build_changes",
    "canonical",
    "check_upload",
    "leaf_diff",
    "locate",
    "mask_value",
    "read_upload",
    "same_fields",
    "table_from_records",
    "table_records",
]

IGNORED_COLUMNS = frozenset({"error"})
"""Columns read and ignored: ``error`` is what ``errors.csv`` adds, so it can be uploaded again."""

_CLEAR_COLUMNS = {c.column: c for c in F.containers("sessions")}
_CANONICAL_NAMES = {f"{t}.csv": t for t in F.TABLES}
_SCIENTIFIC = re.compile(r"^[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+$")
_LONG_ZEROS = re.compile(r"^\d{15}0+$")
_RESET = "; every update resets it"
_UUID = re.compile(UUID_PATTERN)
_UUID_RE2 = UUID_PATTERN[:-1] + r"\n?$"  # what _UUID.match accepts (Python's $ also matches before a final \n)
_SERIAL = re.compile(r"^\d{5}(?:[.,]\d+)?$")
# Either of the two patterns above with any space around (a superset of what utf8_trim_whitespace
# trims: Unicode separators, ASCII controls \t-\r and \x1c-\x1f, \x85): one pass over a column
# finds the few cells worth trimming and matching exactly.
_SPACE_CLASS = r"[\s\x0b\x1c-\x1f\x85\x{180E}\p{Z}]*"
_DAMAGE_LOOSE = rf"^{_SPACE_CLASS}(?:{_SCIENTIFIC.pattern[1:-1]}|{_LONG_ZEROS.pattern[1:-1]}){_SPACE_CLASS}$"


# =========================================================================== canonical values


@cache
def _adapter(name: str) -> TypeAdapter[Any]:
    info = CheckoutSessionUpdate.model_fields[name]
    annotation = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
    return TypeAdapter(annotation)


def _prune(value: Any) -> Any:
    """Drop ``None`` members; an empty object or list becomes ``None``."""
    if isinstance(value, dict):
        out = {k: p for k, v in value.items() if (p := _prune(v)) is not None}
        return out or None
    if isinstance(value, list):
        return [_prune(v) for v in value] or None
    return value


@cache
def _datetime_paths() -> dict[str, tuple[tuple[str, ...], ...]]:
    """Top-level field -> paths of the date-times inside it (``*``: every element of a list)."""
    out: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for f in F.table_fields("sessions"):
        if f.kind == "datetime" and not f.read_only:
            out[f.path[0]].append(f.path[1:])
    for table, child in F.CHILD_TABLES.items():
        for f in F.table_fields(table):
            if f.kind == "datetime":
                out[child.path[0]].append((*child.path[1:], "*", *f.path))
    return {k: tuple(v) for k, v in out.items()}


def _utc_text(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        when = datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return value
    if when.tzinfo is None:
        return value
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _to_utc(holder: Any, key: Any, path: tuple[str, ...]) -> None:
    """Rewrite the date-time at ``holder[key]`` then ``path`` in UTC, in place."""
    value = holder[key] if isinstance(holder, list) or (isinstance(holder, dict) and key in holder) else None
    if value is None:
        return
    if not path:
        holder[key] = _utc_text(value)
    elif path[0] == "*":
        if isinstance(value, list):
            for i in range(len(value)):
                _to_utc(value, i, path[1:])
    elif isinstance(value, dict) and path[0] in value:
        _to_utc(value, path[0], path[1:])


def canonical(name: str, value: Any) -> Any:
    """The comparable form of a top-level session field's value.

    Values the API treats alike compare equal: ``null``, a missing key, ``{}`` and ``[]``; a
    schema default given or not (``discount_amount`` 0); ``2013-07-16T19:23:00.000+00:00`` and
    ``2013-07-16T19:23:00Z``. Keys unknown to this version are dropped (they are never sent).
    A value the models refuse is compared as given (minus ``None`` members).
    """
    if value is None:
        return None
    if name in CheckoutSessionUpdate.model_fields:
        adapter = _adapter(name)
        try:
            parsed = adapter.validate_python(value, context={"lenient": True})
        except pydantic.ValidationError:
            return _prune(value)
        dumped = adapter.dump_python(parsed, mode="json", exclude_none=True)
        if name in _datetime_paths():
            box = {name: dumped}
            for path in _datetime_paths()[name]:
                _to_utc(box, name, path)
            dumped = box[name]
        return _prune(dumped)
    return _prune(value)


def _unwrap(annotation: Any) -> Any:
    """``Optional[Annotated[X, ...]]`` -> ``X``."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _shape_of(annotation: Any) -> tuple[str, Any]:
    """``("model", cls)``, ``("models", cls)`` (a list of models) or ``("value", None)``."""
    inner = _unwrap(annotation)
    if isinstance(inner, type) and issubclass(inner, pydantic.BaseModel):
        return "model", inner
    if typing.get_origin(inner) is list:
        item = _unwrap(typing.get_args(inner)[0])
        if isinstance(item, type) and issubclass(item, pydantic.BaseModel):
            return "models", item
    return "value", None


@cache
def _fields_of(model: type[pydantic.BaseModel]) -> dict[str, tuple[str, Any]]:
    return {name: _shape_of(info.annotation) for name, info in model.model_fields.items()}


@cache
def _model_keys(model: type[pydantic.BaseModel]) -> tuple[frozenset[str], dict[str, tuple[str, Any]]]:
    """A model's field names, and the shapes of those that hold models (the others hold plain values)."""
    fields = _fields_of(model)
    return frozenset(fields), {k: v for k, v in fields.items() if v[0] != "value"}


def _plain_copy(v: Any) -> Any:
    return list(v) if isinstance(v, list) else dict(v) if isinstance(v, dict) else v


def _filter(value: Any, kind: str, model: Any, path: str, dropped: list[str], index: int | None = None) -> Any:
    """A copy of ``value`` keeping only what ``model`` knows (no nulls); unknown keys go to ``dropped``.

    ``index``: the position of ``value`` in the list at ``path`` (a list element).
    """
    if value is None:
        return None
    if kind == "models":
        if not isinstance(value, list):
            return copy.deepcopy(value)
        return [_filter(v, "model", model, path, dropped, i) for i, v in enumerate(value)]
    if kind == "model":
        if not isinstance(value, dict):
            return copy.deepcopy(value)
        known, nested = _model_keys(model)
        if not nested and known.issuperset(value):  # the common case: one flat copy
            return {k: _plain_copy(v) if isinstance(v, list | dict) else v for k, v in value.items() if v is not None}
        here = path if index is None else f"{path}[{index}]"
        out = {}
        for key, v in value.items():
            if v is None:
                continue
            if key not in known:
                dropped.append(f"{here}.{key}")
                continue
            shape = nested.get(key)
            out[key] = _plain_copy(v) if shape is None else _filter(v, shape[0], shape[1], f"{here}.{key}", dropped)
        return out
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if v is not None}
    return list(value) if isinstance(value, list) else value


def _known(name: str, value: Any, dropped: list[str] | None = None) -> Any:
    """A top-level field's current value as it may be sent back: known keys only, no nulls (a copy)."""
    kind, model = _fields_of(CheckoutSessionUpdate).get(name, ("value", None))
    return _filter(value, kind, model, name, [] if dropped is None else dropped)


def same_fields(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None, names: Iterable[str]) -> list[str]:
    """The top-level fields among ``names`` whose canonical values differ between sessions ``a`` and ``b``."""
    a = a or {}
    b = b or {}
    return [n for n in names if canonical(n, a.get(n)) != canonical(n, b.get(n))]


# =========================================================================== field-level diff


def _is_scalar_list(value: Any) -> bool:
    return isinstance(value, list) and all(not isinstance(v, dict | list) for v in value)


def _diff_parts(before: Any, after: Any, parts: tuple[Any, ...], out: list[tuple[tuple[Any, ...], Any, Any]]) -> None:
    if before == after:
        return
    if isinstance(before, dict) or isinstance(after, dict):
        if (before is not None and not isinstance(before, dict)) or (after is not None and not isinstance(after, dict)):
            out.append((parts, before, after))
            return
        b = before or {}
        a = after or {}
        for k in list(a) + [k for k in b if k not in a]:
            _diff_parts(b.get(k), a.get(k), (*parts, k), out)
        return
    if (isinstance(before, list) or isinstance(after, list)) and not (
        _is_scalar_list(before or []) and _is_scalar_list(after or [])
    ):
        b = before if isinstance(before, list) else []
        a = after if isinstance(after, list) else []
        for i in range(max(len(a), len(b))):
            _diff_parts(b[i] if i < len(b) else None, a[i] if i < len(a) else None, (*parts, i), out)
        return
    out.append((parts, before, after))


def _path_text(parts: tuple[Any, ...]) -> str:
    text = ""
    for p in parts:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text


def _pointer(parts: tuple[Any, ...]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def leaf_diff(before: Any, after: Any, path: str = "") -> list[tuple[str, Any, Any]]:
    """``(path, before, after)`` for every leaf that differs between two canonical values.

    Paths read like ``metadata.tag``, ``cart_items[0].tax_amount``,
    ``airline.passengers[1].first_name``; a list of plain values (``categories``) is one leaf.
    """
    out: list[tuple[tuple[Any, ...], Any, Any]] = []
    _diff_parts(before, after, (path,) if path else (), out)
    return [(_path_text(p), b, a) for p, b, a in out]


# =========================================================================== locating pointers


def _unescape(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


_OBJECTS = ("airline", "cart_items", "buyer", "metadata")
_LIST_TABLES = {child.path: (name, child.index) for name, child in F.CHILD_TABLES.items()}


def locate(pointer: str | None, where: Mapping[str, Any] | None) -> tuple[str | None, int | None, str]:
    """Map a JSON pointer into a body (``/cart_items/0/quantity``) to ``(file, line, column)``.

    ``where`` is a session's locator, as built when planning: ``{"sessions": [file, line]}``
    and, for each child table uploaded for the session, ``{"cart_items": [[file, line], ...]}``
    giving the row of each position of the new list. A pointer into a list or a field that
    was not uploaded maps to the session's row in ``sessions.csv`` when there is one (else
    its first uploaded row), with the field's column name.
    """
    where = where or {}
    parts = [_unescape(p) for p in (pointer or "").split("/") if p != ""]
    if parts and parts[0] == "body":  # FastAPI-style locations start with "body"
        parts = parts[1:]
    for prefix, (table, index_column) in _LIST_TABLES.items():
        n = len(prefix)
        if tuple(parts[:n]) == prefix and where.get(table):
            rows = where[table]
            if len(parts) > n and parts[n].isdigit() and int(parts[n]) < len(rows):
                file, line = rows[int(parts[n])]
                rest = [p for p in parts[n + 1:] if not p.isdigit()]
                return file, line, rest[0] if rest else index_column
            file, line = rows[0]
            return file, line, index_column
    if len(parts) >= 2 and parts[0] == "metadata":
        column = F.METADATA_PREFIX + "/".join(parts[1:])
    else:
        column = ".".join(p for p in parts if not p.isdigit()) or "(body)"
    if where.get("sessions"):
        file, line = where["sessions"]
        return file, line, column
    for table in F.CHILD_TABLES:
        if where.get(table):
            file, line = where[table][0]
            return file, line, column
    return None, None, column


# =========================================================================== reading an upload


@dataclass
class UploadTable:
    """One uploaded table, as text and (after :func:`check_upload`) typed.

    ``text``: the cells as read (index: file line); ``cleared``: ``True`` where a cell is the
    ``#N/A`` clear marker; ``typed``: the cells parsed per the field spec (keys lower-cased);
    ``clears``: for the columns named after an object or list, where they hold ``#N/A``.
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


@dataclass
class Upload:
    """The tables of one upload and the problems found reading and checking them."""

    tables: dict[str, UploadTable]
    problems: pd.DataFrame = field(default_factory=problems_frame)
    checked: bool = False

    @property
    def inputs(self) -> list[dict[str, Any]]:
        """File digests of the inputs read from files (for the run journal)."""
        return [t.digest for t in self.tables.values() if t.digest is not None]

    @property
    def ok(self) -> bool:
        return not bool((self.problems["severity"] == "error").any())

    def session_ids(self) -> list[str]:
        """Every session named by a valid id, once, in order of first appearance (sessions table first)."""
        keys = []
        for table in F.TABLES:
            t = self.tables.get(table)
            if t is not None and t.typed is not None and F.KEY in t.typed and len(t.typed):
                column = _arrow(t.typed[F.KEY]).cast(pa.large_string())
                keys.append(column.filter(pc.fill_null(pc.match_substring_regex(column, _UUID_RE2), False)))
        if not keys:
            return []
        # Arrow's unique keeps the order of first appearance.
        return pc.unique(pa.chunked_array(keys, pa.large_string())).to_pylist()


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
    """The :class:`UploadTable` (text and marks, not yet checked) of :func:`table_records` data."""
    lines = pd.Index(np.asarray(data["lines"], dtype=np.int64), name="line")
    text = pd.DataFrame({c: pd.array(data["values"][c], dtype="string[pyarrow]") for c in data["columns"]},
                        index=lines)
    cleared = pd.DataFrame(False, index=lines, columns=list(data["columns"]), dtype=bool)
    for c, positions in (data.get("cleared") or {}).items():
        cleared.iloc[positions, cleared.columns.get_loc(c)] = True
    return UploadTable(data["table"], data["file"], text, cleared)


def _detect_table(label: str, columns: Iterable[str]) -> str:
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


def _folder_files(folder: Path) -> list[Path]:
    files = [p for p in sorted(folder.iterdir()) if p.is_file() and p.name.lower() in _CANONICAL_NAMES]
    if not files:  # a results folder: upload its errors files again
        files = [p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() == ".csv"
                 and p.stem.lower().startswith("errors")]
    return files


def read_upload(source: Any, *, encoding: str | None = None) -> Upload:
    """Read an upload: a folder, a path, a list of paths, ``{name: path | bytes | DataFrame}``, or SessionFrames.

    In a folder, the files ``sessions.csv``, ``cart_items.csv``, ``legs.csv`` and
    ``passengers.csv`` are read (or, when there are none, the ``errors*.csv`` files of a
    run's results). Other files tell their table by name (``..._cart_items.csv``), by their
    index column, or by their columns. Files that cannot be read are reported in
    ``problems``; nothing is raised for them.
    """
    from ..tables.frames import SessionFrames

    if isinstance(source, Upload):
        return source
    entries: list[tuple[str | None, Any]] = []  # (name or table, item)
    problems: list[pd.DataFrame] = []
    if isinstance(source, SessionFrames):
        entries = [(t, df) for t, df in source.tables().items() if len(df)]
    elif isinstance(source, Mapping):
        entries = [(str(k), v) for k, v in source.items()]
    elif isinstance(source, str | os.PathLike):
        p = Path(source)
        if p.is_dir():
            entries = [(None, f) for f in _folder_files(p)]
            if not entries:
                raise InputError(f"{p}: no sessions.csv, cart_items.csv, legs.csv or passengers.csv in this folder")
        else:
            entries = [(None, p)]
    else:
        entries = [(None, item) for item in source]
    tables: dict[str, UploadTable] = {}
    for name, item in entries:
        digest = None
        if isinstance(item, pd.DataFrame):
            label = name if name and name.endswith(".csv") else f"{name or 'table'}.csv"
            text, cleared = _frame_as_text(item)
        else:
            if isinstance(item, str | os.PathLike):
                if not Path(item).is_file():
                    problems.append(problems_frame([{"file": str(item), "rule": "missing_file", "severity": "error",
                                                     "message": f"{item}: no such file"}]))
                    continue
                digest = file_digest(item)
                label = Path(item).name
            else:
                label = name if name and name.lower().endswith(".csv") else f"{name}.csv" if name else "<upload>"
            try:
                read = read_table(item, name=label, encoding=encoding)
            except InputError as exc:
                problems.append(exc.problems if exc.problems is not None else problems_frame(
                    [{"file": label, "rule": "unreadable", "message": str(exc), "severity": "error"}]))
                continue
            problems.append(read.warnings)
            text, cleared, label = read.frame, read.cleared, read.file
        table = name if name in F.TABLES else _detect_table(label, [str(c) for c in text.columns])
        if digest is not None:
            digest["table"] = table
        if table in tables:
            problems.append(problems_frame([{"file": label, "rule": "duplicate_file", "severity": "error",
                                             "message": f"two files hold {table}: {tables[table].file} and {label}; "
                                                        "upload one file per table"}]))
            continue
        tables[table] = UploadTable(table, label, text, cleared, digest)
    found = [p for p in problems if len(p)]
    return Upload(tables, pd.concat(found, ignore_index=True) if found else problems_frame())


# =========================================================================== offline checks


def _problem(file: str, line: Any, column: str | None, value: Any, rule: str, message: str,
             severity: str = "error", table: str | None = None, session_id: str | None = None) -> dict[str, Any]:
    if value is not None and column is not None:
        value = mask_value(column, value, table)
    return {"file": file, "line": None if line is None else int(line), "column": column,
            "value": None if value is None else str(value), "rule": rule, "message": message, "severity": severity,
            "checkout_session_id": session_id}


def _excel_serial(text: str) -> str:
    serial = float(text.replace(",", "."))
    when = datetime(1899, 12, 30, tzinfo=UTC) + timedelta(days=serial)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if serial % 1 else when.strftime("%Y-%m-%d")


def _damage_warnings(t: UploadTable, column: str, f: F.Field, found: list[dict[str, Any]]) -> None:
    """Warnings for text a spreadsheet has probably mangled (regexes run column-wise, in Arrow).

    Only the cells that can match are looked at closely: for text, those a single loose
    pattern finds (any surrounding space allowed); for dates, those that did not parse (a
    date or date-time that parses never looks like a serial number).
    """
    raw = _arrow(t.text[column])
    if f.kind == "str":
        patterns = [("scientific_notation", _SCIENTIFIC.pattern), ("precision_loss", _LONG_ZEROS.pattern)]
        rows = np.flatnonzero(np.asarray(pc.fill_null(pc.match_substring_regex(raw, _DAMAGE_LOOSE), False),
                                         dtype=bool))
    else:
        patterns = [("excel_date_serial", _SERIAL.pattern)]
        assert t.typed is not None
        rows = np.flatnonzero(t.text[column].notna().to_numpy(dtype=bool) & t.typed[column].isna().to_numpy(dtype=bool))
    cleared = t.cleared[column].to_numpy(dtype=bool)
    rows = rows[~cleared[rows]]
    if not len(rows):
        return
    text = pc.utf8_trim_whitespace(raw.take(pa.array(rows)).cast(pa.string()))
    for rule, pattern in patterns:
        hits = rows[np.asarray(pc.fill_null(pc.match_substring_regex(text, pattern), False), dtype=bool)]
        for r in hits.tolist():
            line, value = t.text.index[r], t.text[column].iloc[r]
            v = value.strip()
            if rule == "scientific_notation":
                message = (f"{value!r} looks like a long number a spreadsheet turned into scientific notation "
                           "(digits are lost); format the column as Text and type the full value")
            elif rule == "precision_loss":
                message = (f"{value!r} has more than 15 digits ending in zeros: a spreadsheet keeps only 15 "
                           "significant digits, so the last ones may have been lost")
            else:
                # The date itself is not shown for personal columns (a date of birth).
                would = "" if f.personal else f" (it would be {_excel_serial(v)})"
                shown = "this" if f.personal else repr(value)
                message = (f"{shown} looks like an Excel date serial number{would}; format the column as Text "
                           "and write the date as text")
            found.append(_problem(t.file, line, column, value, rule, message, "warning", t.table))


def check_upload(upload: Upload) -> Upload:
    """Check every cell of every table offline; fill ``typed`` and ``problems`` (returned for chaining).

    Nothing is fetched or sent. Problems carry file, line, column, the value (masked when
    personal), the rule broken, a message and a severity (``error`` blocks, ``warning`` not).
    """
    if upload.checked:
        return upload
    found: list[dict[str, Any]] = []
    frames = [upload.problems]
    for t in upload.tables.values():
        keep = []
        for column in t.columns:
            if column in IGNORED_COLUMNS:
                continue
            if t.table == "sessions" and column in _CLEAR_COLUMNS:
                cells = t.text[column]
                cleared = t.cleared[column].to_numpy(dtype=bool)
                bad = cells.notna().to_numpy(dtype=bool) & ~cleared
                for line, value in zip(t.text.index[bad], cells[bad], strict=True):
                    found.append(_problem(t.file, line, column, value, "clear_only",
                                          f"{column} is a whole object or list: only {CLEAR_TOKEN} (clear it) or an "
                                          "empty cell is accepted here; set its fields in their own columns",
                                          table=t.table))
                t.clears[column] = cleared
                continue
            keep.append(column)
        parsed = parse_cells(t.table, t.text[keep], file=t.file, cleared=t.cleared[keep])
        frames.append(parsed.problems)
        typed = parsed.frame
        if F.KEY in typed:
            typed[F.KEY] = pd.Series(pd.arrays.ArrowStringArray(pc.utf8_lower(_arrow(typed[F.KEY])).cast(
                pa.large_string())), index=typed.index, name=F.KEY)
        t.typed = typed
        for column in keep:
            f = F.field_for(t.table, column)
            if f is None:
                continue
            cleared = t.cleared[column].to_numpy(dtype=bool)
            if cleared.any():
                reason = None
                if f.role in ("key", "index"):
                    reason = f"{column} identifies the row; it cannot be {CLEAR_TOKEN}"
                elif f.required:
                    reason = f"{column} is required for each {t.table[:-1].replace('_', ' ')}; it cannot be cleared"
                elif f.role == "extra":
                    reason = "extra is read-only; it cannot be cleared"
                if reason:
                    for line in t.text.index[cleared]:
                        found.append(_problem(t.file, line, column, CLEAR_TOKEN, "clear_not_allowed", reason,
                                              table=t.table))
            if f.kind in ("str", "datetime", "date"):
                _damage_warnings(t, column, f, found)
    frames.append(problems_frame(found) if found else problems_frame())
    upload.problems = _with_sessions(_concat(frames), upload)
    upload.checked = True
    return upload


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        out = problems_frame()
        out["checkout_session_id"] = pd.Series([], dtype="string")
        return out
    out = pd.concat(frames, ignore_index=True)
    if "checkout_session_id" not in out:
        out["checkout_session_id"] = pd.NA
    return out


def _with_sessions(problems: pd.DataFrame, upload: Upload) -> pd.DataFrame:
    """Fill ``checkout_session_id`` of problems from the row they are on."""
    if not len(problems):
        return problems
    ids = problems["checkout_session_id"].astype(object).tolist()
    files = problems["file"].tolist()
    lines = problems["line"].tolist()
    wanted: dict[str, list[int]] = defaultdict(list)  # file -> problems to look up
    for i, line in enumerate(lines):
        if not isinstance(ids[i], str) and line is not pd.NA and line is not None:
            wanted[files[i]].append(i)
    tables = {t.file: t for t in upload.tables.values() if t.typed is not None and F.KEY in t.typed}
    for file, positions in wanted.items():
        t = tables.get(file)
        if t is None:
            continue
        assert t.typed is not None
        # Only the rows with problems are looked up (line numbers are unique in a file).
        rows = t.typed.index.get_indexer([int(lines[i]) for i in positions])
        keys = t.typed[F.KEY].to_numpy(dtype=object)
        for i, r in zip(positions, rows.tolist(), strict=True):
            if r >= 0 and isinstance(keys[r], str):
                ids[i] = keys[r]
    problems = problems.copy()
    problems["checkout_session_id"] = pd.array(ids, dtype="string")
    return problems


# =========================================================================== merging


@dataclass
class PlanItem:
    """One session of a plan.

    Attributes:
        session_id: the checkout session.
        status: ``"change"`` (a body will be sent), ``"unchanged"`` (nothing to send),
            ``"not_found"`` (the API answered 404: unknown or expired) or ``"invalid"`` (the
            upload has errors for it; the plan cannot be applied).
        before: the session as fetched when planning (``None`` when not found).
        body: the PUT body: the changed top-level fields plus ``expires_in`` (only for ``change``).
        desired: the new value of each changed top-level field (the body without ``expires_in``).
        source: ``rows`` (``[table, line]`` of each uploaded row: the cells are in the plan's
            ``uploads``) and ``where`` (the locator of :func:`locate`).
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
        return {"session_id": self.session_id, "status": self.status, "before": self.before, "body": self.body,
                "desired": self.desired, "source": self.source, "message": self.message}


@dataclass
class Changeset:
    """What :func:`build_changes` returns: items, problems, diff and plan-wide notes."""

    items: list[PlanItem]
    problems: pd.DataFrame
    diff: pd.DataFrame
    notes: list[str]


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


def _json_values(arr: pa.Array, kind: str) -> list[Any]:
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
def _field(table: str, column: str) -> F.Field | None:
    return F.field_for(table, column)


def _with_default(c: pa.Array, f: F.Field) -> pa.Array:
    """Current values with the schema default where none is stored (a default given explicitly is no change)."""
    if f.has_default and f.default is not None and f.kind in ("int", "bool", "str", "enum") and c.null_count:
        return pc.fill_null(c, pa.scalar(f.default, c.type))
    return c


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


def _lower_keys(series: pd.Series) -> np.ndarray:
    """Session ids lower-cased (UUIDs compare case-insensitively), as an object array."""
    if not len(series):
        return np.array([], dtype=object)
    return np.asarray(pc.utf8_lower(_arrow(series).cast(pa.string())).to_pylist(), dtype=object)


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

    def get(self, key: str, default: Any = None) -> Any:
        code = self._code.get(key)
        if code is None:
            return default
        return self._order[self._bounds[code]:self._bounds[code + 1]]

    def __getitem__(self, key: str) -> np.ndarray:
        rows = self.get(key)
        if rows is None:
            raise KeyError(key)
        return rows


class _Merge:
    """The state of one :func:`build_changes` call (kept together to keep the steps small)."""

    def __init__(self, upload: Upload, current: Mapping[str, Any], expires_in: int, frames: Any = None) -> None:
        from ..tables.frames import flatten_sessions

        self.upload = upload
        self.current = {k.lower(): v for k, v in current.items() if isinstance(v, Mapping)}
        self.expires_in = expires_in
        self.found: list[dict[str, Any]] = []
        self.frames = frames if frames is not None else flatten_sessions(list(self.current.values()))
        self.index = pd.Index(_lower_keys(self.frames.sessions[F.KEY]))
        self._presence: pd.DataFrame | None = None  # built on first use: only clears need it
        self._index_arrow: pa.Array | None = None
        # session -> top-level fields touched; session -> [(table, position, column, cleared)]
        self.touched: dict[str, set[str]] = defaultdict(set)
        self.cells: dict[str, list[tuple[str, int, str, bool, Any, Any]]] = defaultdict(list)
        self.clears: dict[str, list[tuple[str, int]]] = defaultdict(list)
        self.lists: dict[str, set[str]] = defaultdict(set)  # session -> child tables to rebuild
        self.groups: dict[str, _Groups] = {}  # table -> session -> row positions
        self._values: dict[tuple[str, str], list[Any]] = {}  # (table, column) -> JSON values, built on demand
        self._columns: dict[str, list[tuple[str, F.Field]]] = {}
        self._text: dict[str, tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] = {}
        self._index: dict[str, np.ndarray] = {}
        self._lines: dict[str, list[int]] = {}
        self._plists: dict[str, list[float]] = {}
        errors = upload.problems[upload.problems["severity"] == "error"]
        self.bad = set(errors["checkout_session_id"].dropna().tolist()) if "checkout_session_id" in errors else set()

    def _session_positions(self, ids: pd.Series) -> np.ndarray:
        """The position of each id's session in the current sessions (``-1``: none), column-wise."""
        if not len(ids) or not len(self.index):
            return np.full(len(ids), -1, dtype=np.int64)
        if self._index_arrow is None:
            self._index_arrow = pa.array(self.index.to_numpy(dtype=object), pa.string())
        lowered = pc.utf8_lower(_arrow(ids).cast(pa.string()))
        found = pc.index_in(lowered, value_set=self._index_arrow)
        return np.asarray(pc.fill_null(found, -1), dtype=np.int64)

    def presence(self) -> pd.DataFrame | None:
        """Which objects and lists each current session holds (:func:`~gr4vy_nb.tables.frames.presence`), built once."""
        from ..tables.frames import presence

        if self._presence is None and len(self.frames):
            self._presence = presence(self.frames)
        return self._presence

    # ---------------------------------------------------------------- finding changes

    def scan(self) -> None:
        for t in self.upload.tables.values():
            assert t.typed is not None
            keys = t.typed[F.KEY].to_numpy(dtype=object) if F.KEY in t.typed else np.array([], dtype=object)
            self.groups[t.table] = _Groups(keys)
            if F.KEY not in t.typed:  # no row names a session (reported as "required" already)
                continue
            if t.table == "sessions":
                self._scan_sessions(t, keys)
            else:
                self._scan_child(t, keys)

    def _scan_sessions(self, t: UploadTable, keys: np.ndarray) -> None:
        typed = t.typed
        assert typed is not None
        pos = self.index.get_indexer(keys) if len(self.index) else np.full(len(keys), -1)
        found_rows = pos >= 0
        current = self.frames.sessions
        lines = typed.index.to_numpy()
        for column in typed.columns:
            f = F.field_for("sessions", column)
            if f is None or f.role == "key":
                continue
            target = f.arrow_type
            u = _arrow(typed[column])
            c = _take(current.get(column), pos, target)
            changed = _changed_cells(u, _with_default(c, f), f.kind)
            cleared = t.cleared[column].to_numpy(dtype=bool) & np.asarray(c.is_valid(), dtype=bool)
            rows = np.flatnonzero((changed | cleared) & found_rows)
            if not len(rows):
                continue
            if f.read_only or f.role == "extra":
                now = c.take(pa.array(rows)).to_pylist()
                for r, value in zip(rows.tolist(), now, strict=True):
                    self.found.append(_problem(
                        t.file, lines[r], column, t.text[column].iloc[r], "read_only",
                        f"{column} is read-only (the API sets it{_RESET if column == 'expires_at' else ''}); "
                        f"this cell differs from the current value {mask_value(column, value, 'sessions')!s}: "
                        "leave it as exported, empty it, or delete the column", table="sessions",
                        session_id=keys[r]))
                continue
            if f.kind == "str":
                self._leading_zeros(t, column, u, c, rows, keys)
            # The cell-level diff of these rows, column-wise: before and after as JSON values.
            taken = pa.array(rows)
            befores = _json_values(c.take(taken), f.kind)
            afters = _json_values(u.take(taken), f.kind)
            for r, before, after in zip(rows.tolist(), befores, afters, strict=True):
                sid = keys[r]
                self.touched[sid].add(f.path[0])
                self.cells[sid].append(("sessions", r, column, bool(cleared[r]), before,
                                        None if cleared[r] else after))
        for column, mask in t.clears.items():
            container = _CLEAR_COLUMNS[column]
            presence = self.presence() if mask.any() else None
            if presence is not None and column in presence:
                present = np.zeros(len(keys), dtype=bool)
                present[found_rows] = presence[column].to_numpy(dtype=bool)[pos[found_rows]]
            else:
                present = np.zeros(len(keys), dtype=bool)
            for r in np.flatnonzero(mask & present).tolist():
                sid = keys[r]
                if container.read_only:
                    self.found.append(_problem(t.file, lines[r], column, CLEAR_TOKEN, "read_only",
                                               f"{column} is read-only; it cannot be cleared", session_id=sid))
                    continue
                self.touched[sid].add(container.path[0])
                self.clears[sid].append((column, r))

    def _scan_child(self, t: UploadTable, keys: np.ndarray) -> None:
        typed = t.typed
        assert typed is not None
        child = F.CHILD_TABLES[t.table]
        current = self.frames[t.table]
        n = len(keys)
        index = typed[child.index].to_numpy(dtype="float64", na_value=np.nan) if child.index in typed \
            else np.full(n, np.nan)
        has_index = ~np.isnan(index)
        cidx = current[child.index].to_numpy(dtype="float64", na_value=np.nan)
        # The current row of each uploaded (session, index): both sides keyed by one integer,
        # session position x width + index (a current list holds indexes 0..width-1 only).
        csession = self._session_positions(current[F.KEY])
        width = int(np.nanmax(cidx)) + 1 if len(cidx) and not np.isnan(cidx).all() else 0
        pos = np.full(n, -1)
        ours = (csession >= 0) & ~np.isnan(cidx)
        if width and has_index.any() and ours.any():
            lookup = pd.Index(csession[ours] * width + cidx[ours].astype(np.int64))
            session = self.index.get_indexer(keys) if n else np.array([], dtype=np.int64)
            wanted = has_index & (session >= 0) & (index >= 0) & (index < width)
            found = lookup.get_indexer(session[wanted] * width + index[wanted].astype(np.int64))
            pos[wanted] = np.where(found >= 0, np.flatnonzero(ours)[found], -1)
        changed_rows = np.zeros(n, dtype=bool)
        cells: dict[int, list[tuple[str, bool, Any, Any]]] = defaultdict(list)  # row -> changed cells
        for column in typed.columns:
            f = F.field_for(t.table, column)
            if f is None or f.role in ("key", "index"):
                continue
            u = _arrow(typed[column])
            c = _take(current.get(column), pos, f.arrow_type)
            changed = _changed_cells(u, _with_default(c, f), f.kind)
            cleared = t.cleared[column].to_numpy(dtype=bool) & np.asarray(c.is_valid(), dtype=bool)
            if f.role == "extra":
                for r in np.flatnonzero((changed | cleared) & (pos >= 0)).tolist():
                    self.found.append(_problem(t.file, typed.index[r], column, t.text[column].iloc[r], "read_only",
                                               "extra holds fields this toolkit does not know and is read-only; "
                                               "leave it as exported or empty it", table=t.table, session_id=keys[r]))
                continue
            if f.kind == "str":
                self._leading_zeros(t, column, u, c, np.flatnonzero(changed & (pos >= 0)), keys)
            hit = changed | cleared
            changed_rows |= hit
            rows = np.flatnonzero(hit & (pos >= 0))
            if len(rows):
                taken = pa.array(rows)
                befores = _json_values(c.take(taken), f.kind)
                afters = _json_values(u.take(taken), f.kind)
                for r, before, after in zip(rows.tolist(), befores, afters, strict=True):
                    cells[r].append((column, bool(cleared[r]), before, None if cleared[r] else after))
        # Structure: the same elements (indexes 0..n-1 of the current list, every row indexed)?
        # Then only the changed cells are applied; otherwise the list is rebuilt from the rows.
        valid = pd.notna(keys)
        if not valid.any():
            return
        groups = self.groups[t.table]  # the rows of each session, in order of first appearance
        rows_n = np.diff(groups._bounds)
        indexed = groups.reduce(np.add, (~np.isnan(index)).astype(np.int64))
        low = groups.reduce(np.fmin, index)  # NaN (unindexed rows) skipped, as pandas' min does
        high = groups.reduce(np.fmax, index)
        changed_any = groups.reduce(np.logical_or, changed_rows)
        counts = np.bincount(csession[csession >= 0], minlength=len(self.index)) if len(csession) else \
            np.zeros(len(self.index), dtype=np.int64)
        session = self.index.get_indexer(groups.keys) if len(self.index) else np.full(len(groups.keys), -1)
        current_n = np.where(session >= 0, counts[np.maximum(session, 0)] if len(counts) else 0, 0)
        same = (indexed == rows_n) & (rows_n == current_n) & (low == 0) & (high == rows_n - 1)
        sids = groups.keys
        for sid in sids[~same].tolist():
            if sid in self.current:
                self.touched[sid].add(child.path[0])
                self.lists[sid].add(t.table)
        for sid in sids[same & changed_any].tolist():
            if sid in self.current:
                self.touched[sid].add(child.path[0])
                for r in self.groups[t.table].rows(sid):
                    for column, cleared, before, after in cells.get(r, ()):
                        self.cells[sid].append((t.table, r, column, cleared, before, after))

    def _leading_zeros(self, t: UploadTable, column: str, u: pa.Array, c: pa.Array, rows: np.ndarray,
                       keys: np.ndarray) -> None:
        if not len(rows):
            return
        take = pa.array(rows)
        for r, new, old in zip(rows.tolist(), u.take(take).to_pylist(), c.take(take).to_pylist(), strict=True):
            if new and old and old.startswith("0") and old.lstrip("0") == new and new.isdigit():
                self.found.append(_problem(
                    t.file, t.typed.index[r], column, new, "leading_zeros",  # type: ignore[union-attr]
                    f"{new!r} looks like {mask_value(column, old, t.table)!s} with its leading zeros lost (a "
                    "spreadsheet read it as a number); format the column as Text", "warning", t.table, keys[r]))

    # ---------------------------------------------------------------- building one session

    def _row_value(self, table: str, r: int, column: str) -> Any:
        values = self._values.get((table, column))
        if values is None:
            t = self.upload.tables[table]
            assert t.typed is not None
            f = F.field_for(table, column)
            assert f is not None
            values = self._values[(table, column)] = _json_values(_arrow(t.typed[column]), f.kind)
        return values[r]

    def build(self, sid: str) -> tuple[PlanItem, list[dict[str, Any]]]:
        """The item of one touched session and its diff rows."""
        cur = self.current[sid]
        names = sorted(self.touched[sid])
        desired: dict[str, Any] = {}
        for name in names:
            lost: list[str] = []
            desired[name] = _known(name, cur.get(name), lost)
            if lost:
                self.found.append(_problem(*self._anchor(sid), name, None, "unknown_fields_dropped",
                                           f"{name} holds fields this toolkit does not know ({', '.join(lost[:5])}); "
                                           f"the API replaces {name} as a whole, so the update would drop them",
                                           "warning", session_id=sid))
        where: dict[str, Any] = {}
        sessions = self.upload.tables.get("sessions")
        rows = self.groups.get("sessions", {}).get(sid)
        if sessions is not None and rows is not None and len(rows):
            where["sessions"] = [sessions.file, self._line_list("sessions")[rows[0]]]
        for table, r, column, cleared, _before, after in self.cells.get(sid, ()):
            f = _field(table, column)
            assert f is not None
            if table != "sessions":  # a cell of an element that keeps its place in its list
                element = self._element(desired, table, r)
                if cleared:
                    _unset(element, f.path)
                else:
                    _set(element, f.path, after)
                continue
            if cleared:
                if len(f.path) == 1:
                    desired[f.path[0]] = None
                else:
                    _unset(desired[f.path[0]], f.path[1:])
            else:
                value = self._row_value(table, r, column)
                if len(f.path) == 1:
                    desired[f.path[0]] = value
                else:
                    if not isinstance(desired.get(f.path[0]), dict):
                        desired[f.path[0]] = {}
                    _set(desired[f.path[0]], f.path[1:], value)
        cleared_lists: set[str] = set()
        for column, r in self.clears.get(sid, ()):
            path = _CLEAR_COLUMNS[column].path
            if len(path) == 1:
                desired[path[0]] = None
            else:
                _unset(desired.get(path[0]), path[1:])
            cleared_lists.add(column)
            for table, child in F.CHILD_TABLES.items():
                if column == ".".join(child.path[: len(column.split("."))]) and sid in self.groups.get(table, {}):
                    self.found.append(_problem(sessions.file if sessions else "?",
                                               sessions.text.index[r] if sessions else None, column,
                                               CLEAR_TOKEN, "contradiction",
                                               f"{column} is cleared here but {table}.csv gives rows for this session",
                                               session_id=sid))
        notes = []
        for table in {c[0] for c in self.cells.get(sid, ()) if c[0] != "sessions"}:
            t = self.upload.tables[table]
            rows = sorted(self.groups[table].rows(sid), key=self._position_list(table).__getitem__)
            lines = self._line_list(table)
            where[table] = [[t.file, lines[r]] for r in rows]
        for table in F.TABLES[1:]:
            if table not in self.lists.get(sid, ()):
                continue
            new_list, positions = self._rebuild(sid, table)
            child = F.CHILD_TABLES[table]
            t = self.upload.tables[table]
            lines = self._line_list(table)
            where[table] = [[t.file, lines[p]] for p in positions]
            before_n = len(_get(cur, child.path) or [])
            if before_n != len(new_list):
                notes.append(f"replaces {before_n} {table.replace('_', ' ')} with {len(new_list)}")
            if len(child.path) == 1:
                desired[child.path[0]] = new_list
            else:
                holder = desired.get(child.path[0])
                if not isinstance(holder, dict):
                    holder = desired[child.path[0]] = {}
                holder[child.path[1]] = new_list
        for name in list(desired):
            desired[name] = _prune(desired[name]) if isinstance(desired[name], dict) else desired[name]
            if name == "cart_items" and desired[name] == []:
                desired[name] = None
        # A field changed only by cells of sessions.csv changed for sure (each such cell holds a
        # value other than the current one, or clears one that is set): no comparison needed,
        # and its diff is those cells. Lists rebuilt and objects cleared are compared.
        compared = {n for n in names if n in self._fields_of_lists(sid) or any(
            _CLEAR_COLUMNS[col].path[0] == n for col, _ in self.clears.get(sid, ()))}
        changed = [n for n in names if n not in compared or canonical(n, desired.get(n)) != canonical(n, cur.get(n))]
        source = {"rows": self._source_rows(sid), "where": where}
        if not changed:
            return PlanItem(sid, "unchanged", before=cur, source=source, message="no change"), []
        for n in changed:
            if desired.get(n) is None and cur.get(n) is not None and n in _OBJECTS:
                notes.append(f"clears {n.replace('_', ' ')}")
        if sid in self.bad:  # its rows have errors already: the models would only repeat them
            return PlanItem(sid, "invalid", before=cur, source=source, message="the upload has errors for it"), []
        body = {n: desired.get(n) for n in changed}
        try:
            model = CheckoutSessionUpdate.model_validate({**body, "expires_in": float(self.expires_in)})
        except pydantic.ValidationError as exc:
            for err in exc.errors(include_url=False):
                loc = tuple(err["loc"])
                file, line, column = locate(_pointer(loc), where)
                value = err.get("input")
                shown = value if isinstance(value, str | int | float | bool) else None
                self.found.append(_problem(file or "?", line, column, shown, f"api.{err['type']}",
                                           f"{_path_text(loc)}: {err['msg']}", session_id=sid))
            return PlanItem(sid, "invalid", before=cur, source=source, message="refused by the update schema"), []
        del model  # valid: the body is sent as built (JSON values only), not re-serialised
        sent = {**body, "expires_in": float(self.expires_in)}
        desired_out = {n: sent.get(n) for n in changed}
        diff: list[dict[str, Any]] = []
        anchor = where.get("sessions") or [None, None]
        for table, r, column, _cleared, before, after in self.cells.get(sid, ()):
            f = _field(table, column)
            if f is None or (table == "sessions" and (f.path[0] not in changed or f.path[0] in compared)):
                continue
            if table == "sessions":
                path, file, line = ".".join(f.path), anchor[0], anchor[1]
            else:
                child = F.CHILD_TABLES[table]
                if child.path[0] not in changed or child.path[0] in compared:
                    continue
                t = self.upload.tables[table]
                path = f"{'.'.join(child.path)}[{int(self._position_list(table)[r])}].{'.'.join(f.path)}"
                file, line = t.file, self._line_list(table)[r]
            diff.append({"checkout_session_id": sid, "path": path, "before": before, "after": after,
                         "file": file, "line": line, "column": column, "personal": f.personal})
        for n in changed:
            if n not in compared:
                continue
            out: list[tuple[tuple[Any, ...], Any, Any]] = []
            _diff_parts(canonical(n, cur.get(n)), canonical(n, desired_out[n]), (n,), out)
            for parts, before, after in out:
                file, line, column = locate(_pointer(parts), where)
                diff.append({"checkout_session_id": sid, "path": _path_text(parts), "before": before,
                             "after": after, "file": file, "line": line, "column": column,
                             "personal": is_personal(".".join(str(p) for p in parts))})
        item = PlanItem(sid, "change", before=cur, body=sent, desired=desired_out, source=source,
                        message="; ".join(notes) or None)
        return item, diff

    def _line_list(self, table: str) -> list[int]:
        """The file line of each row of a table, as Python ints (fast row access), built once."""
        lines = self._lines.get(table)
        if lines is None:
            lines = self._lines[table] = [int(v) for v in self.upload.tables[table].text.index.tolist()]
        return lines

    def _position_list(self, table: str) -> list[float]:
        """:meth:`_positions` as a Python list (fast row access), built once."""
        key = f"{table}:list"
        cached = self._plists.get(key)
        if cached is None:
            cached = self._plists[key] = self._positions(table).tolist()
        return cached

    def _positions(self, table: str) -> np.ndarray:
        """The index column of a child table as floats (``inf`` where empty), built once."""
        index = self._index.get(table)
        if index is None:
            typed = self.upload.tables[table].typed
            assert typed is not None
            name = F.CHILD_TABLES[table].index
            index = self._index[table] = (typed[name].to_numpy(dtype="float64", na_value=np.inf)
                                          if name in typed else np.full(len(typed), np.inf))
        return index

    def _element(self, desired: dict[str, Any], table: str, r: int) -> dict[str, Any]:
        """The element of a desired list that row ``r`` of ``table`` describes (its index is its place)."""
        holder: Any = desired
        for key in F.CHILD_TABLES[table].path:
            holder = holder.get(key) if isinstance(holder, dict) else None
        position = int(self._position_list(table)[r])
        if not isinstance(holder, list) or position >= len(holder) or not isinstance(holder[position], dict):
            return {}  # not there (a contradiction reported elsewhere): nothing to update
        return holder[position]

    def _fields_of_lists(self, sid: str) -> set[str]:
        return {F.CHILD_TABLES[t].path[0] for t in self.lists.get(sid, ())}

    def _value_columns(self, table: str) -> list[tuple[str, F.Field]]:
        """The uploaded columns of a child table that hold values (not key, index or extra)."""
        cached = self._columns.get(table)
        if cached is None:
            typed = self.upload.tables[table].typed
            assert typed is not None
            cached = self._columns[table] = [
                (c, f) for c in typed.columns
                if (f := F.field_for(table, c)) is not None and f.role not in ("key", "index", "extra")]
        return cached

    def _cells(self, table: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """A table's text cells and ``#N/A`` marks as NumPy columns (fast row access), built once."""
        cached = self._text.get(table)
        if cached is None:
            t = self.upload.tables[table]
            text = {c: t.text[c].to_numpy(dtype=object, na_value=None) for c in t.columns}
            cleared = {c: t.cleared[c].to_numpy(dtype=bool) for c in t.columns}
            cached = self._text[table] = (text, cleared)
        return cached

    def _rebuild(self, sid: str, table: str) -> tuple[list[dict[str, Any]], list[int]]:
        t = self.upload.tables[table]
        typed = t.typed
        assert typed is not None
        child = F.CHILD_TABLES[table]
        rows = self.groups[table].get(sid, np.array([], dtype=np.int64))
        index = self._positions(table)
        order = sorted(rows.tolist(), key=lambda r: (index[r], r))
        current_list = _get(self.current[sid], child.path) or []
        columns = self._value_columns(table)
        _text, cleared = self._cells(table)
        out = []
        for r in order:
            i = index[r]
            base = {}
            if np.isfinite(i) and int(i) < len(current_list) and isinstance(current_list[int(i)], dict):
                base = _known_item(table, current_list[int(i)])
            for column, f in columns:
                if cleared[column][r]:
                    _unset(base, f.path)
                    continue
                value = self._row_value(table, r, column)
                if value is not None:
                    _set(base, f.path, value)
            out.append(base)
        return out, order

    def _anchor(self, sid: str) -> tuple[str, int | None]:
        for table in F.TABLES:
            rows = self.groups.get(table, {}).get(sid)
            if rows is not None and len(rows):
                t = self.upload.tables[table]
                return t.file, self._line_list(table)[rows[0]]
        return "?", None

    def _source_rows(self, sid: str) -> list[list[Any]]:
        """``[table, line]`` of every uploaded row of a session (the cells stay in the upload's tables)."""
        out: list[list[Any]] = []
        for table in F.TABLES:
            groups = self.groups.get(table)
            if groups is None:
                continue
            lines = self._line_list(table)
            out += [[table, lines[r]] for r in groups.rows(sid)]
        return out


_ITEM_MODELS = {"cart_items": "CartItem", "legs": "AirlineLeg", "passengers": "AirlinePassenger"}


def _known_item(table: str, value: Mapping[str, Any]) -> dict[str, Any]:
    from .. import schema

    return _filter(value, "model", getattr(schema, _ITEM_MODELS[table]), table, [])


def _get(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def build_changes(upload: Upload, current: Mapping[str, Any], *, expires_in: int = 3600,
                  frames: Any = None) -> Changeset:
    """Merge a checked upload onto the current sessions: items, problems, diff, notes.

    ``current`` maps each session id named to its current state (a dict as the API returns
    it), or to ``None`` / an exception when it was not found. Sessions missing from
    ``current`` count as not found. ``frames`` may give the current sessions already
    flattened (:func:`~gr4vy_nb.tables.frames.flatten_sessions` of exactly the found ones), to save
    flattening them again.
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
    merge = _Merge(upload, current, expires_in, frames)
    merge.scan()
    items: list[PlanItem] = []
    diff: list[dict[str, Any]] = []
    for sid in upload.session_ids():
        if sid not in merge.current:
            items.append(PlanItem(sid, "not_found", source={"rows": merge._source_rows(sid)},
                                  message="not found or expired"))
            continue
        if sid not in merge.touched:
            items.append(PlanItem(sid, "unchanged", before=merge.current[sid], message="no change"))
            continue
        item, rows = merge.build(sid)
        items.append(item)
        diff.extend(rows)
    # A session with any error is not sendable: say so in its item, whatever step found it.
    flawed = merge.bad | {p["checkout_session_id"] for p in merge.found if p["severity"] == "error"}
    for item in items:
        if item.status == "change" and item.session_id in flawed:
            item.status, item.message = "invalid", "the upload has errors for it"
    problems = _with_sessions(_concat([problems_frame(merge.found)]), upload)
    if "checkout_session_id" in problems and merge.found:
        problems["checkout_session_id"] = pd.array(
            [r.get("checkout_session_id") or s for r, s in zip(merge.found, problems["checkout_session_id"],
                                                               strict=True)], dtype="string")
    columns = ["checkout_session_id", "path", "before", "after", "file", "line", "column", "personal"]
    diff_frame = pd.DataFrame({c: pd.Series([d[c] for d in diff], dtype=object) for c in columns})
    diff_frame["line"] = pd.array(diff_frame["line"].tolist(), dtype="Int64")
    diff_frame["personal"] = diff_frame["personal"].astype(bool)
    return Changeset(items, problems, diff_frame, _notes(items, expires_in))


def _notes(items: list[PlanItem], expires_in: int) -> list[str]:
    notes = []
    changed = [i for i in items if i.status == "change"]
    if changed:
        hours = expires_in / 3600
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
        notes.append(f"expiry reset: the API sets each updated session to expire {hours:g} h after its update "
                     f"(expires_in={expires_in})" + (f"; {later} of the {len(changed)} now expire later than that "
                                                    "and will expire sooner" if later else ""))
    kinds: dict[str, int] = defaultdict(int)
    for item in changed:
        for part in (item.message or "").split("; "):
            if part:
                kinds[re.sub(r"\d+", "N", part)] += 1
    for text, n in sorted(kinds.items()):
        examples = [i.message for i in changed if i.message and re.sub(r"\d+", "N", i.message).find(text) >= 0][:1]
        notes.append(f"{n} session(s): {text}" + (f" (e.g. {examples[0]})" if examples and "N" in text else ""))
    return notes
