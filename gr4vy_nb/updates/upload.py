"""The uploaded tables, read once: the first stage of an update (upload -> checks -> merge -> plan -> run).

An upload is any subset of ``sessions.csv``, ``cart_items.csv``, ``legs.csv`` and
``passengers.csv`` (a folder, paths, uploaded bytes, DataFrames or a
:class:`~gr4vy_nb.tables.frames.SessionFrames`), read as text with file line numbers by the
one table reader (:func:`gr4vy_nb.tables.reader.read_tables`). What this module adds is what
an upload means to the pipeline:

* the input files' digests, so that a run refuses files changed since its plan
  (:func:`changed_inputs`);
* the sessions an upload names (:meth:`Upload.session_ids`);
* :func:`locate`: a JSON pointer into a planned body (the models' or the server's error)
  mapped back to the file, line and column the value came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..ids import UUID_PATTERN
from ..pointers import decode
from ..problems import Problems, Rule, Severity, concat, has_errors, refuse
from ..problems import frame as problems_frame
from ..tables import spec as F
from ..tables.files import file_digest
from ..tables.idlists import trimmed_ids
from ..tables.masking import masked_columns
from ..tables.reader import UploadTable, read_tables, table_from_records, table_records

__all__ = [
    "Upload",
    "UploadTable",
    "changed_inputs",
    "locate",
    "read_upload",
    "refuse_masked",
    "table_from_records",
    "table_records",
    "upload_from_records",
]

_REWRITABLE = frozenset({Rule.TYPE_INTEGER, Rule.TYPE_NUMBER, Rule.TYPE_BOOLEAN, Rule.DATETIME_FORMAT,
                         Rule.DATE_FORMAT, Rule.MIN_LENGTH, Rule.MAX_LENGTH, Rule.PATTERN, Rule.ENUM})
"""The cell rules an editor's rewrite of a valid value can break (see :attr:`Upload.may_be_rewrites`)."""

_LIST_TABLES = {child.path: (name, child.index) for name, child in F.CHILD_TABLES.items()}


@dataclass
class Upload:
    """The tables of one upload and the problems found reading and checking them."""

    tables: dict[str, UploadTable]
    problems: pd.DataFrame = field(default_factory=problems_frame)
    checked: bool = False
    base: Any = None
    """Edits made in the notebook: the sessions as fetched (SessionFrames), to judge them three ways at plan time
    (:mod:`gr4vy_nb.updates.threeway`); ``None`` for files."""

    @property
    def inputs(self) -> list[dict[str, Any]]:
        """File digests of the inputs read from files (for the run journal)."""
        return [t.digest for t in self.tables.values() if t.digest is not None]

    @property
    def ok(self) -> bool:
        return not has_errors(self.problems)

    @property
    def may_be_rewrites(self) -> bool:
        """Whether every error is one that the live sessions may clear: a value cell of a named session breaking a
        cell rule, as an editor's rewrite of the current value does (``44509409120`` for ``+44509409120``).

        Planning compares such cells with the sessions as they are: a rewrite keeps the current value (its
        error dropped), anything else stays an error. ``False`` without errors, or with any other error.
        """
        found = self.problems
        bad = found[found["severity"] == Severity.ERROR]
        if bad.empty:
            return False
        keys = {F.KEY, *F.INDEX_COLUMNS.values()}
        return bool(bad["rule"].isin(_REWRITABLE).all() and bad["checkout_session_id"].notna().all()
                    and not bad["column"].isin(keys).any())

    def session_ids(self) -> list[str]:
        """Every session named by a valid id, once, in order of first appearance (sessions table first)."""
        keys = []
        for table in F.TABLES:
            t = self.tables.get(table)
            if t is not None and t.typed is not None and F.KEY in t.typed and len(t.typed):
                column = pa.array(t.typed[F.KEY].array).cast(pa.large_string())
                column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
                keys.append(column.filter(pc.fill_null(pc.match_substring_regex(column, UUID_PATTERN), False)))
        if not keys:
            return []
        # Arrow's unique keeps the order of first appearance.
        return pc.unique(pa.chunked_array(keys, pa.large_string())).to_pylist()


def read_upload(source: Any, *, encoding: str | None = None,
                errors: Literal["raise", "collect"] = "collect") -> Upload:
    """Read an upload: a folder, a path, a list of paths, ``{name: path | bytes | DataFrame}``, or SessionFrames.

    See :func:`gr4vy_nb.tables.reader.read_tables` for how files are found and which table
    each holds. With ``errors="collect"`` (default) files that cannot be read are reported in
    ``problems`` and the rest is read; with ``errors="raise"`` they refuse the upload
    (:class:`~gr4vy_nb.errors.InputError` carrying every problem). An :class:`Upload` is
    returned as it is.
    """
    if isinstance(source, Upload):
        return source
    if errors not in ("raise", "collect"):
        raise ValueError("errors must be 'raise' or 'collect'")
    refuse_masked(source)
    if getattr(source, "base", None) is not None:  # frames that remember their fetch: their edits, three ways
        from .threeway import edits_upload

        return edits_upload(source)
    if getattr(source, "versions", None):  # frames read from an export an editor changed: checked as its files
        source = _with_row_versions(source)
    tables, problems = read_tables(source, encoding=encoding)
    if errors == "raise" and has_errors(problems):
        raise refuse(problems)
    return Upload(tables, concat([problems, _trim_ids(tables)]))


def _trim_ids(tables: Mapping[str, UploadTable]) -> pd.DataFrame:
    """Trim the spaces around session ids in the key columns, as the id-list reader does; a warning for each."""
    found = Problems()
    for t in tables.values():
        if F.KEY not in t.text.columns:
            continue
        padded = trimmed_ids(t.text[F.KEY])
        if not padded.any():
            continue
        values = t.text[F.KEY]
        for line, value in zip(t.text.index[padded.to_numpy()].tolist(), values[padded].tolist(), strict=True):
            found.add(Rule.SPACES_TRIMMED, "spaces around this id were trimmed", file=t.file, line=int(line),
                      column=F.KEY, value=value, severity=Severity.WARNING, session_id=value.strip().lower())
        t.text[F.KEY] = values.str.strip().where(padded, values)
    return found.frame()


def _masked_tables(source: Any) -> dict[str, list[str]]:
    """``{table: masked columns}`` of the frames in ``source`` made by masking (SessionFrames, DataFrames)."""
    if hasattr(source, "tables") and callable(source.tables):  # SessionFrames
        items: list[tuple[str, Any]] = list(source.tables().items())
    elif isinstance(source, Mapping):
        items = [(str(k), v) for k, v in source.items()]
    elif isinstance(source, pd.DataFrame):
        items = [("table", source)]
    elif isinstance(source, list | tuple):
        items = [(f"table {i + 1}", v) for i, v in enumerate(source)]
    else:
        return {}
    return {name: cols for name, df in items if isinstance(df, pd.DataFrame) and (cols := masked_columns(df))}


def refuse_masked(source: Any) -> None:
    """Masked frames (``frames.masked()``, a displayed table) are refused whole: a masked value is never data."""
    masked = _masked_tables(source)
    if not masked:
        return
    found = Problems()
    for table, columns in masked.items():
        shown = ", ".join(columns[:8]) + (f" and {len(columns) - 8} more" if len(columns) > 8 else "")
        found.add(Rule.MASKED_VALUE, f"{table} is a masked display of the sessions (its columns {shown} hold masked "
                  "values, not the values): plan from the frames themselves or from an export, never from a "
                  "masked copy", file=table, column=columns[0])
    raise refuse(found.frame())


def _with_row_versions(frames: Any) -> dict[str, pd.DataFrame]:
    """The frames' tables, each row with the ``row_version`` its export gave its key (none for rows added since)."""
    from ..tables.versions import VERSION_COLUMN

    out = {}
    for table, df in frames.tables().items():
        if not len(df):
            continue
        known = frames.versions.get(table, {})
        index = None if table == "sessions" else F.CHILD_TABLES[table].index
        ids = df[F.KEY].astype(str).str.lower().tolist()
        at = [None] * len(df) if index is None else [None if i is None or i is pd.NA else int(i)
                                                     for i in df[index].tolist()]
        out[table] = df.assign(**{VERSION_COLUMN: pd.array([known.get(k) for k in zip(ids, at, strict=True)],
                                                           dtype="string")})
    return out


def upload_from_records(records: list[Mapping[str, Any]]) -> dict[str, UploadTable]:
    """The uploaded tables stored in a plan or a journal (:func:`table_records`), by table."""
    return {t["table"]: table_from_records(t) for t in records}


def changed_inputs(inputs: list[dict[str, Any]]) -> list[str]:
    """The recorded input files whose content differs now (or that are gone)."""
    changed = []
    for rec in inputs:
        path = rec.get("path")
        if not path or rec.get("sha256") is None or rec.get("in_memory"):
            continue
        try:
            now = file_digest(path)
        except OSError:
            changed.append(f"{path} (missing)")
            continue
        if now["sha256"] != rec["sha256"]:
            changed.append(str(path))
    return changed


def locate(pointer: str | None, where: Mapping[str, Any] | None) -> tuple[str | None, int | None, str]:
    """Map a JSON pointer into a body (``/cart_items/0/quantity``) to ``(file, line, column)``.

    ``where`` is a session's locator, as built when planning: ``{"sessions": [file, line]}``
    and, for each child table uploaded for the session, ``{"cart_items": [[file, line], ...]}``
    giving the row of each position of the new list. A pointer into a list or a field that
    was not uploaded maps to the session's row in ``sessions.csv`` when there is one (else
    its first uploaded row), with the field's column name.
    """
    where = where or {}
    parts = decode(pointer)
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

