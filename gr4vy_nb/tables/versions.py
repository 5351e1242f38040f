"""Row versions: a short hash of the state each exported row was exported from (optimistic concurrency for files).

Every export (``gr4vy-nb export``, :func:`~gr4vy_nb.export.export_sessions`, CSV and XLSX) ends each row of
``sessions.csv``, ``cart_items.csv``, ``legs.csv`` and ``passengers.csv`` with a :data:`VERSION_COLUMN` cell::

    checkout_session_id,passenger_index,first_name,...,row_version
    4d645fa6-...,0,John,...,vq3x7kfa2mzp4c5dh

At plan time the version is compared with the version of the same element as it is now
(:mod:`gr4vy_nb.updates.stale`): a row whose element has changed since the export is ``stale``.

**What is hashed.** The row's cells as the export writes them (:func:`~gr4vy_nb.tables.cells.format_column`:
the same text the CSV holds, before the formula guard), as ``(column, text)`` pairs of the non-empty cells,
sorted by column name, each length-prefixed, through SHA-256. So the same live state always has the same
version, in any process on any machine (no Python ``hash()``), whichever other sessions the export held (the
``metadata.<key>`` columns an export has depend on all its sessions; empty cells are left out) and in
whatever order the columns stand. The key and index columns are hashed too: the row of passenger #1 is
stale when another passenger now stands at #1. Left out: :data:`VOLATILE` columns, which change without
anybody editing the row (``expires_at``: every update by anyone resets it, so hashing it would make a
session's row stale after a change to one of its lists). A ``sessions.csv`` row holds no child-list data,
so a change to a session's cart items, legs or passengers leaves its ``sessions.csv`` row fresh.

**The text.** ``v`` and 16 lower-case base32 letters and digits (80 bits), e.g. ``vq3x7kfa2mzp4c5dh``: it
starts with a letter, so no editor takes it for a number (``1E5``), a date, a boolean or a formula, and
LibreOffice, Gnumeric, Excel, pandas' defaults and XLSX keep it as it is.

**Where the column lives.** Not in the field spec (:mod:`gr4vy_nb.tables.spec`), so :class:`SessionFrames`
keep exactly the spec's columns (``flatten_sessions(x)`` equals ``SessionFrames.read_csv`` of its export, and
the round-trip tests stand): the export appends the column when it writes the files (:func:`with_versions`),
the one table reader skips it when typing cells (no ``unknown_column``), and the upload keeps it in its text
(:class:`~gr4vy_nb.tables.reader.UploadTable`), so the plan can check it and ``errors.csv`` carries it back.
A version is the state a row was *fetched* in, so :meth:`SessionFrames.to_csv` (frames that may hold edits)
writes none.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from . import spec as F
from .cells import format_column

__all__ = ["VERSION_COLUMN", "VERSION_PATTERN", "VOLATILE", "hashed_columns", "is_version", "row_texts",
           "row_versions", "version_of", "with_versions"]

VERSION_COLUMN = "row_version"
"""The column an export appends to each table: the version of the row's state when exported."""

VERSION_PATTERN = re.compile(r"^v[a-z2-7]{16}$")
"""What a version looks like: ``v`` and 16 base32 characters (lower case)."""

VOLATILE: Mapping[str, frozenset[str]] = {"sessions": frozenset({"expires_at"})}
"""Columns left out of a table's versions: they change without anyone editing the row."""


def is_version(text: object) -> bool:
    """Whether ``text`` is a version this toolkit writes."""
    return isinstance(text, str) and VERSION_PATTERN.match(text) is not None


def hashed_columns(table: str, columns: Iterable[str]) -> list[str]:
    """The columns among ``columns`` that a row's version covers (spec columns, volatile ones left out)."""
    volatile = VOLATILE.get(table, frozenset())
    return [str(c) for c in columns if str(c) not in volatile and F.field_for(table, str(c)) is not None]


def version_of(cells: Mapping[str, str | None]) -> str:
    """The version of one row given as ``{column: text as exported}`` (empty and missing cells alike)."""
    h = hashlib.sha256()
    for column in sorted(cells):
        text = cells[column]
        if text is None or text == "":
            continue
        name, value = column.encode(), text.encode()
        h.update(b"%d:%s%d:%s" % (len(name), name, len(value), value))
    return _text(h.digest())


def _text(digest: bytes) -> str:
    return "v" + base64.b32encode(digest[:10]).decode("ascii").lower()


def _formatted(table: str, df: pd.DataFrame) -> dict[str, pa.Array]:
    """The hashed columns of ``df`` as the export writes them (text; ``None`` for empty cells), sorted by name."""
    out = {}
    for column in sorted(hashed_columns(table, df.columns)):
        text, _free = format_column(df[column].reset_index(drop=True))
        out[column] = text.cast(pa.string()) if len(text) else pa.nulls(len(df), pa.string())
    return out


def row_versions(table: str, df: pd.DataFrame) -> list[str]:
    """The version of each row of a typed table (``sessions``, ``cart_items``, ``legs``, ``passengers``).

    Column-wise in Arrow: each non-empty cell becomes its length-prefixed ``(column, text)`` piece,
    the pieces of a row are joined, and each row is hashed once (what :func:`version_of` computes
    for one row).
    """
    if not len(df):
        return []
    pieces = []
    for column, text in _formatted(table, df).items():
        name = column.encode()
        head = pa.scalar(b"%d:%s" % (len(name), name), pa.binary())
        length = pc.cast(pc.binary_length(text), pa.string())
        piece = pc.binary_join_element_wise(head, pc.cast(length, pa.binary()), pa.scalar(b":"),
                                            pc.cast(text, pa.binary()), pa.scalar(b""))
        empty = pc.fill_null(pc.equal(text, ""), True)
        pieces.append(pc.if_else(empty, pa.scalar(b"", pa.binary()), piece))
    if not pieces:
        return [version_of({})] * len(df)
    joined = pc.binary_join_element_wise(*pieces, pa.scalar(b"")) if len(pieces) > 1 else pieces[0]
    # 10 bytes are exactly 16 base32 characters: all rows' digests are encoded at once, then cut.
    digests = b"".join(hashlib.sha256(row).digest()[:10] for row in joined.to_pylist())
    text = base64.b32encode(digests).decode("ascii").lower()
    return ["v" + text[i:i + 16] for i in range(0, len(text), 16)]


def row_texts(table: str, df: pd.DataFrame) -> list[dict[str, str]]:
    """Each row's hashed cells as exported (``{column: text}``, empty cells left out): what a version covers."""
    formatted = _formatted(table, df)
    columns = {c: a.to_pylist() for c, a in formatted.items()}
    return [{c: v[r] for c, v in columns.items() if v[r] not in (None, "")} for r in range(len(df))]


def with_versions(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables, each with :data:`VERSION_COLUMN` appended (text): what an export writes."""
    out = {}
    for table, df in tables.items():
        versions = pd.array(np.asarray(row_versions(table, df), dtype=object), dtype="string[pyarrow]") if len(df) \
            else pd.array([], dtype="string[pyarrow]")
        out[table] = df.assign(**{VERSION_COLUMN: pd.Series(versions, index=df.index)})
    return out
