"""Helpers shared by the report modules: counting, emptiness, list cells, currencies."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

__all__ = [
    "ID",
    "MISSING",
    "any_filled",
    "count_table",
    "empty_mask",
    "explode_list",
    "isin",
    "item_currency",
    "object_columns",
    "present",
    "session_currency",
]

ID = "checkout_session_id"
MISSING = "(missing)"
"""The label counts use for an empty value, so the missing are counted, not dropped."""


def count_table(values: pd.Series, *, label: str, count: str = "sessions", top: int | None = None,
                total: int | None = None) -> pd.DataFrame:
    """How often each value occurs, most frequent first, missing values counted as ``(missing)``.

    Columns ``count`` (named by ``count``) and ``share`` (of ``total``, by default of all
    values). Ties are ordered by label so the output is deterministic. ``top`` keeps the
    first rows only (shares stay relative to everything).
    """
    text = values.astype("str").where(~empty_mask(values), MISSING)
    counts = text.value_counts(sort=False)
    out = pd.DataFrame({label: counts.index.astype("str"), count: counts.to_numpy(dtype="int64")})
    out = out.sort_values([count, label], ascending=[False, True], kind="stable")
    out["share"] = out[count] / (total if total is not None else max(len(values), 1))
    if top is not None:
        out = out.head(top)
    return out.set_index(label)


def _arrow(values: pd.Series) -> pa.Array:
    arr = pa.array(values.array)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def empty_mask(values: pd.Series) -> pd.Series:
    """True where a cell is empty: missing, blank text, or an empty list."""
    dtype = values.dtype
    is_text = isinstance(dtype, pd.StringDtype) or (
        isinstance(dtype, pd.ArrowDtype) and pa.types.is_string(dtype.pyarrow_dtype))
    if is_text and len(values):
        arr = _arrow(values.astype("string[pyarrow]") if not isinstance(dtype, pd.ArrowDtype) else values)
        if arr.null_count == len(arr):  # an unused column: common, and free to answer
            return pd.Series(np.ones(len(arr), dtype=bool), index=values.index)
        # Blank: no characters, or only white space (computed by Arrow, no Python strings made).
        blank = pc.or_(pc.equal(pc.utf8_length(arr), 0), pc.utf8_is_space(arr))
        return pd.Series(pc.fill_null(blank, True).to_numpy(zero_copy_only=False), index=values.index)
    mask = values.isna().to_numpy(dtype=bool)
    if isinstance(dtype, pd.ArrowDtype) and pa.types.is_list(dtype.pyarrow_dtype):
        mask = mask | (values.list.len() == 0).fillna(False).to_numpy(dtype=bool)
    elif dtype == np.dtype("O"):
        blank = values.map(lambda v: (isinstance(v, str) and not v.strip())
                           or (isinstance(v, list | tuple | np.ndarray) and len(v) == 0))
        mask = mask | blank.to_numpy(dtype=bool)
    return pd.Series(mask, index=values.index)


def object_columns(df: pd.DataFrame, prefix: str) -> list[str]:
    """Columns of ``df`` holding the fields of a nested object (``buyer.`` -> ``buyer.…``)."""
    return [c for c in df.columns if c.startswith(prefix)]


def any_filled(df: pd.DataFrame, prefix: str) -> pd.Series:
    """Per row: does any column under ``prefix`` hold a value?"""
    cols = object_columns(df, prefix)
    if not cols:
        return pd.Series(False, index=df.index)
    filled = np.zeros(len(df), dtype=bool)
    for col in cols:
        filled |= ~empty_mask(df[col]).to_numpy()
    return pd.Series(filled, index=df.index)


def explode_list(values: pd.Series) -> pd.Series:
    """One row per list element, keeping the index of the cell it came from; empty lists drop out."""
    exploded = values.dropna().explode()
    return exploded[~empty_mask(exploded)].astype("str")


def session_currency(sessions: pd.DataFrame) -> pd.Series:
    """Each session's currency (aligned with ``sessions``), ``(missing)`` when unknown."""
    currency = sessions["currency"] if "currency" in sessions else pd.Series(pd.NA, index=sessions.index, dtype="str")
    return currency.astype("str").where(~empty_mask(currency), MISSING).rename("currency")


def item_currency(frames: Any, table: pd.DataFrame) -> pd.Series:
    """The currency of each row of a child table (cart items, legs), aligned with its index."""
    sessions = frames.sessions
    # Arrow's index_in finds each row's session by hashing in C++, and the text never leaves Arrow.
    where = pc.index_in(_arrow(table[ID].astype("string[pyarrow]")),
                        value_set=_arrow(sessions[ID].astype("string[pyarrow]")))
    found = pc.take(_arrow(session_currency(sessions).astype("string[pyarrow]")), where)
    return pd.Series(pc.fill_null(found, MISSING), index=table.index, name="currency", dtype="str")


def isin(values: pd.Series, candidates: pd.Series) -> np.ndarray:
    """``values.isin(candidates)`` as a boolean array, computed by Arrow (missing: ``False``).

    pandas' own ``isin`` on Arrow-backed text walks the values in Python; this is ~50x faster.
    """
    left = _arrow(values.astype("string[pyarrow]"))
    right = pc.unique(_arrow(candidates.astype("string[pyarrow]")).drop_null())
    return pc.fill_null(pc.is_in(left, value_set=right), False).to_numpy(zero_copy_only=False)


def present(frames: Any, container: str) -> pd.Series:
    """Per session (aligned with ``frames.sessions``): is the object or list ``container`` present?

    The rule of :meth:`SessionFrames.presence`, for one container and vectorised: one of its
    columns holds a value, one of its child tables has a row for the session, or ``extra``
    holds something under it. (``presence()`` computes every container at once; a report
    needs two or three.)
    """
    from ..tables import spec as fields

    s = frames.sessions
    prefix = container + "."
    mask = np.zeros(len(s), dtype=bool)
    for column in s.columns:
        if column.startswith(prefix):
            mask |= s[column].notna().to_numpy(dtype=bool)
    for table, child in fields.CHILD_TABLES.items():
        if ".".join(child.path) == container or ".".join(child.path).startswith(prefix):
            mask |= isin(s[ID], frames[table][ID])
    if fields.EXTRA in s:
        extra = s[fields.EXTRA]
        for i in np.flatnonzero(extra.notna().to_numpy(dtype=bool)).tolist():
            data = orjson.loads(extra.iloc[i])
            for key in container.split("."):
                data = data.get(key) if isinstance(data, dict) else None
            if data is not None:
                mask[i] = True
    return pd.Series(mask, index=s.index)
