"""Helpers shared by the report modules: counting, emptiness, list cells, currencies."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..ids import ID_COLUMN
from ..tables.columns import isin

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
    "session_codes",
    "session_currency",
    "shared_masks",
]

ID = ID_COLUMN
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


_MEMO: ContextVar[dict[tuple[str, int], tuple[Any, Any]] | None] = ContextVar("gr4vy_nb_report_memo", default=None)


@contextmanager
def shared_masks() -> Iterator[None]:
    """Within this block, :func:`empty_mask` and :func:`session_codes` compute each column's answer
    once (a report asks for the same column's emptiness, or sessions, in several summaries). The
    frames must not change inside the block."""
    token = _MEMO.set({})
    try:
        yield
    finally:
        _MEMO.reset(token)


def _remembered(tag: str, values: pd.Series, compute: Callable[[pd.Series], np.ndarray]) -> np.ndarray:
    memo = _MEMO.get()
    if memo is None:
        return compute(values)
    array = values.array
    hit = memo.get((tag, id(array)))
    if hit is None or hit[0] is not array:  # the array is kept in the memo, so its id cannot be reused
        hit = memo[(tag, id(array))] = (array, compute(values))
    return hit[1]


def empty_mask(values: pd.Series) -> pd.Series:
    """True where a cell is empty: missing, blank text, or an empty list."""
    return pd.Series(_remembered("empty", values, lambda v: _empty_mask(v).to_numpy()), index=values.index)


def session_codes(ids: pd.Series) -> np.ndarray:
    """Each row's session as an integer code (``pd.factorize``), so distinct sessions are counted on integers."""
    return _remembered("codes", ids, lambda v: pd.factorize(v)[0])


def _empty_mask(values: pd.Series) -> pd.Series:
    dtype = values.dtype
    is_text = isinstance(dtype, pd.StringDtype) or (
        isinstance(dtype, pd.ArrowDtype) and pa.types.is_string(dtype.pyarrow_dtype))
    if is_text and len(values):
        arr = _arrow(values.astype("string[pyarrow]") if not isinstance(dtype, pd.ArrowDtype) else values)
        if arr.null_count == len(arr):  # an unused column: common, and free to answer
            return pd.Series(np.ones(len(arr), dtype=bool), index=values.index)
        # Blank: no characters, or only white space (computed by Arrow, no Python strings made).
        blank = pc.or_(pc.equal(pc.binary_length(arr), 0), pc.utf8_is_space(arr))  # bytes: O(1) a value
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


def present(frames: Any, container: str) -> pd.Series:
    """Per session (aligned with ``frames.sessions``): is the object or list ``container`` present?

    :func:`gr4vy_nb.tables.frames.presence`'s rule, for one container.
    """
    from ..tables.frames import presence

    return pd.Series(presence(frames, [container])[container].to_numpy(), index=frames.sessions.index)
