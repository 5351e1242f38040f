"""Data-quality summaries: empty fields, schema rule failures, duplicate SKUs, zero amounts, personal data.

:func:`schema_failures` checks every cell against the constraints of the schema models —
taken from the field spec (:mod:`gr4vy_nb.tables.spec`), which derives them from
:mod:`gr4vy_nb.schema` — column by column, vectorised: required fields (within the objects
that are present), lengths, patterns, numeric bounds, enums, list item rules, ``maxItems``
of legs and passengers, and values that the typed columns could not hold (kept in
``extra``). ``exact=True`` instead rebuilds each session and validates it with the pydantic
model itself: about 10x slower, and the reference the fast path is tested against.

Values shown in failure rows are raw: mask them before display (:func:`mask_failures`),
as :func:`gr4vy_nb.report.build_report` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pandas as pd
from matplotlib.figure import Figure

from ..tables import spec as fields
from .airline import legs_out_of_order
from .carts import cart_values
from .common import ID, any_filled, empty_mask, session_codes
from .figures import bar_figure

__all__ = [
    "FAILURE_COLUMNS",
    "duplicate_skus",
    "empty_fields",
    "mask_failures",
    "personal_data",
    "plot_empty_fields",
    "quality_overview",
    "schema_failure_counts",
    "schema_failures",
    "zero_amounts",
]

FAILURE_COLUMNS = [ID, "table", "row_index", "column", "rule", "value"]
"""Columns of :func:`schema_failures`: ``row_index`` is ``item_index``/``leg_index``/``passenger_index``."""


def _value_columns(frames: Any, table: str) -> list[fields.Field]:
    df = getattr(frames, table)
    out = [f for f in fields.table_fields(table) if f.role == "value" and f.column in df]
    if table == "sessions":
        out += [fl for c in df.columns if c.startswith(fields.METADATA_PREFIX)
                if (fl := fields.field_for("sessions", c)) is not None]
    return out


def empty_fields(frames: Any) -> pd.DataFrame:
    """Every field column of the four tables with how often it is empty, most often empty first.

    Columns ``table``, ``column``, ``rows``, ``empty``, ``filled``, ``empty_share``. Blank
    text and empty lists count as empty. Key, index and ``extra`` columns are not listed.
    """
    records = []
    for table in fields.TABLES:
        df = getattr(frames, table)
        for f in _value_columns(frames, table):
            empty = int(empty_mask(df[f.column]).sum())
            records.append((table, f.column, len(df), empty, len(df) - empty))
    out = pd.DataFrame(records, columns=["table", "column", "rows", "empty", "filled"])
    out["empty_share"] = np.where(out["rows"] > 0, out["empty"] / out["rows"].clip(lower=1), 0.0)
    out = out.sort_values(["empty_share", "table", "column"], ascending=[False, True, True], kind="stable")
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- schema rules


def _text_rules(f: fields.Field, values: pd.Series) -> list[tuple[str, pd.Series]]:
    rules: list[tuple[str, pd.Series]] = []
    present = values.notna()
    if not present.any():
        return rules
    text = values[present].astype("str")
    if f.min_length is not None or f.max_length is not None:
        length = text.str.len()
        if f.min_length is not None:
            rules.append((f"min_length {f.min_length}", length < f.min_length))
        if f.max_length is not None:
            rules.append((f"max_length {f.max_length}", length > f.max_length))
    if f.pattern is not None:
        rules.append((f"pattern {f.pattern}", ~text.str.contains(f.pattern, regex=True)))
    if f.choices is not None:
        rules.append(("one of " + ", ".join(f.choices), ~text.isin(f.choices)))
    return rules


def _number_rules(f: fields.Field, values: pd.Series) -> list[tuple[str, pd.Series]]:
    rules: list[tuple[str, pd.Series]] = []
    num = pd.to_numeric(values).dropna()
    if num.empty:
        return rules
    if f.minimum is not None:
        rules.append((f">= {f.minimum}", num < f.minimum))
    if f.exclusive_minimum is not None:
        rules.append((f"> {f.exclusive_minimum}", num <= f.exclusive_minimum))
    if f.maximum is not None:
        rules.append((f"<= {f.maximum}", num > f.maximum))
    return rules


def _list_rules(f: fields.Field, values: pd.Series) -> list[tuple[str, pd.Series]]:
    rules: list[tuple[str, pd.Series]] = []
    lists = values.dropna()
    if lists.empty or f.item is None:
        return rules
    items = lists.explode()
    items = items[items.notna()]
    for rule, bad in _text_rules(f.item, items):
        # A list fails when any element fails; report the list once per rule.
        failing = bad[bad.to_numpy()].index.unique()
        rules.append((f"each item: {rule}", pd.Series(lists.index.isin(failing), index=lists.index)))
    if f.max_items is not None:
        rules.append((f"max_items {f.max_items}", lists.map(len) > f.max_items))
    return rules


def _required(frames: Any, table: str, f: fields.Field) -> pd.Series | None:
    """Rows where a required field is missing although its object is present."""
    if not f.required or f.role != "value":
        return None
    df = getattr(frames, table)
    missing = df[f.column].isna()
    if table == "sessions" and len(f.path) > 1:
        prefix = ".".join(f.path[:-1]) + "."
        missing &= any_filled(df, prefix)
    return missing


def _failures(frames: Any, table: str, f: fields.Field, rule: str, mask: pd.Series) -> pd.DataFrame:
    df = getattr(frames, table)
    idx = mask.index[mask.to_numpy(dtype=bool)]
    index_col = fields.INDEX_COLUMNS.get(table)
    values = df.loc[idx, f.column]
    return pd.DataFrame({
        ID: df.loc[idx, ID].astype("str").to_numpy(),
        "table": table,
        "row_index": (df.loc[idx, index_col].astype("Int64").to_numpy() if index_col
                      else pd.array([pd.NA] * len(idx), dtype="Int64")),
        "column": f.column,
        "rule": rule,
        "value": [_show(v) for v in values.tolist()],
    })


def _show(value: Any) -> str | None:
    if isinstance(value, list | tuple | np.ndarray):
        return orjson.dumps([str(v) for v in value]).decode()
    if value is None or pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _extra_failures(frames: Any, table: str) -> list[pd.DataFrame]:
    """Values the typed columns could not hold: ``extra`` entries at a known field or object.

    Entries at unknown names are fields of a newer API, tolerated as the response model does.
    """
    df = getattr(frames, table)
    if fields.EXTRA not in df:
        return []
    extra = df[fields.EXTRA].dropna()
    extra = extra[extra.astype("str").str.len() > 2]
    if extra.empty:
        return []
    known = {c.column for c in fields.containers(table)}
    index_col = fields.INDEX_COLUMNS.get(table)
    records = []
    for i, text in extra.items():
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            continue
        for column, value in _flat_items(table, data, known):
            records.append((str(df.at[i, ID]), table, df.at[i, index_col] if index_col else pd.NA, column, "type",
                            _show(value) if not isinstance(value, dict) else orjson.dumps(value).decode()))
    return [pd.DataFrame(records, columns=FAILURE_COLUMNS)] if records else []


def _flat_items(table: str, data: Any, known: set[str], prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted name, value) of the known fields and objects in an ``extra`` object."""
    items: list[tuple[str, Any]] = []
    if not isinstance(data, dict):
        return items
    for key, value in data.items():
        name = f"{prefix}{key}"
        is_field = fields.field_for(table, name) is not None
        if is_field or (name in known and not isinstance(value, dict)):
            items.append((name, value))
        elif isinstance(value, dict):
            items.extend(_flat_items(table, value, known, name + "."))
    return items


def schema_failures(frames: Any, *, exact: bool = False) -> pd.DataFrame:
    """Every cell breaking a schema rule: one row per (cell, rule), see :data:`FAILURE_COLUMNS`.

    ``rule`` names the constraint (``max_length 50``, ``pattern ^[A-Z]{3}$``, ``required``,
    ``one of ...``, ``max_items 20``, ``type``). ``exact=True`` validates rebuilt sessions with
    :class:`gr4vy_nb.schema.CheckoutSession` instead and reports pydantic's error types.
    """
    if exact:
        return _exact_failures(frames)
    parts: list[pd.DataFrame] = []
    for table in fields.TABLES:
        df = getattr(frames, table)
        if df.empty:
            continue
        for f in _value_columns(frames, table):
            required = _required(frames, table, f)
            if required is not None and required.any():
                parts.append(_failures(frames, table, f, "required", required))
            values = df[f.column]
            if f.kind in ("str", "enum"):
                rules = _text_rules(f, values)
            elif f.kind in ("int", "float"):
                rules = _number_rules(f, values)
            elif f.kind == "list":
                rules = _list_rules(f, values)
            else:
                rules = []
            for rule, bad in rules:
                bad = bad.fillna(False).astype(bool)
                if bad.any():
                    parts.append(_failures(frames, table, f, rule, bad))
        parts.extend(_extra_failures(frames, table))
    for table, child in fields.CHILD_TABLES.items():
        if child.max_items is None:
            continue
        counts = getattr(frames, table).groupby(ID, sort=False).size()
        over = counts[counts > child.max_items]
        if len(over):
            # The list is the session's (``airline.legs``), so the failure is reported there.
            parts.append(pd.DataFrame({ID: over.index.astype("str"), "table": "sessions",
                                       "row_index": pd.array([pd.NA] * len(over), dtype="Int64"),
                                       "column": ".".join(child.path), "rule": f"max_items {child.max_items}",
                                       "value": [str(n) for n in over.tolist()]}))
    return _finish(parts)


def _finish(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame({ID: pd.Series(dtype="str"), "table": pd.Series(dtype="str"),
                             "row_index": pd.Series(dtype="Int64"), "column": pd.Series(dtype="str"),
                             "rule": pd.Series(dtype="str"), "value": pd.Series(dtype="str")})
    out = pd.concat(parts, ignore_index=True)
    out = out.astype({ID: "str", "table": "str", "row_index": "Int64", "column": "str", "rule": "str",
                      "value": "str"})
    order = {t: i for i, t in enumerate(fields.TABLES)}
    out["_t"] = out["table"].map(order)
    out = out.sort_values([ID, "_t", "row_index", "column", "rule"], kind="stable", na_position="first")
    return out.drop(columns="_t").reset_index(drop=True)


def _exact_failures(frames: Any) -> pd.DataFrame:
    from pydantic import ValidationError

    from ..schema import CheckoutSession
    from ..tables.frames import unflatten_sessions

    records = []
    for session in unflatten_sessions(frames):
        try:
            CheckoutSession.model_validate(session)
        except ValidationError as exc:
            for err in exc.errors():
                table, row_index, column = _locate(err["loc"])
                records.append((str(session.get("id")), table, row_index, column, err["type"],
                                _show(err.get("input")) if not isinstance(err.get("input"), dict) else None))
    parts = [pd.DataFrame(records, columns=FAILURE_COLUMNS)] if records else []
    return _finish(parts)


def _locate(loc: tuple[Any, ...]) -> tuple[str, Any, str]:
    """(table, row index, column) of a pydantic error location in a session."""
    path = [p for p in loc]
    for table, child in fields.CHILD_TABLES.items():
        n = len(child.path)
        if tuple(path[:n]) == child.path and len(path) > n and isinstance(path[n], int):
            rest = [str(p) for p in path[n + 1:] if not isinstance(p, int)]
            return table, path[n], ".".join(rest)
    column = ".".join(str(p) for p in path if not isinstance(p, int))
    return "sessions", pd.NA, "checkout_session_id" if column == "id" else column


def schema_failure_counts(failures: pd.DataFrame) -> pd.DataFrame:
    """Failures grouped by table, column and rule: cells failing and sessions affected."""
    if failures.empty:
        return pd.DataFrame({"table": pd.Series(dtype="str"), "column": pd.Series(dtype="str"),
                             "rule": pd.Series(dtype="str"), "cells": pd.Series(dtype="int64"),
                             "sessions": pd.Series(dtype="int64")})
    g = failures.groupby(["table", "column", "rule"], sort=False)
    out = pd.DataFrame({"cells": g.size().astype("int64"), "sessions": g[ID].nunique().astype("int64")}).reset_index()
    return out.sort_values(["sessions", "table", "column"], ascending=[False, True, True],
                           kind="stable").reset_index(drop=True)


def mask_failures(failures: pd.DataFrame) -> pd.DataFrame:
    """:func:`schema_failures` with the values of personal columns masked (:mod:`~gr4vy_nb.tables.masking`)."""
    from ..tables.masking import mask_value

    out = failures.copy()
    out["value"] = pd.array([None if v is None or v != v else mask_value(c, v, table=t)
                             for t, c, v in zip(out["table"], out["column"], out["value"].tolist(), strict=True)],
                            dtype="str")
    return out


# --------------------------------------------------------------------------- other checks


def _id_codes(df: pd.DataFrame) -> np.ndarray:
    """The session of each row as an integer code, so distinct sessions are counted on integers."""
    return session_codes(df[ID])


def _distinct(codes: np.ndarray, mask: np.ndarray) -> int:
    """Distinct sessions among the rows where ``mask`` is true (a scatter: no sort, no hash)."""
    seen = np.zeros(int(codes.max()) + 2 if codes.size else 1, dtype=bool)
    seen[codes[mask]] = True  # code -1 (no id) lands in the last slot
    return int(seen[:-1].sum()) if codes.size else 0


def duplicate_skus(frames: Any) -> pd.DataFrame:
    """SKUs appearing on more than one line of the same cart: session, SKU and how many lines."""
    items = frames.cart_items
    df = items.loc[~empty_mask(items["sku"]), [ID, "sku"]]
    counts = df.groupby([ID, "sku"], sort=False).size().rename("lines").reset_index()
    counts = counts[counts["lines"] > 1].astype({ID: "str", "sku": "str", "lines": "int64"})
    return counts.sort_values([ID, "sku"], kind="stable").reset_index(drop=True)


def zero_amounts(frames: Any) -> pd.DataFrame:
    """Per amount column (``amount``, ``*_amount``): values equal to zero, values present, sessions affected."""
    records = []
    for table in fields.TABLES:
        df = getattr(frames, table)
        codes = _id_codes(df)
        for f in _value_columns(frames, table):
            leaf = f.column.rsplit(".", 1)[-1]
            if f.kind != "int" or not (leaf == "amount" or leaf.endswith("_amount")):
                continue
            values = pd.to_numeric(df[f.column])
            zero = (values == 0).fillna(False).to_numpy(dtype=bool)
            records.append((table, f.column, int(zero.sum()), int(values.notna().sum()), _distinct(codes, zero)))
    return pd.DataFrame(records, columns=["table", "column", "zero", "filled", "sessions"])


def personal_data(frames: Any) -> pd.DataFrame:
    """Counts only: per personal or card-data column, the values present and the sessions holding them."""
    records = []
    for table in fields.TABLES:
        df = getattr(frames, table)
        codes = _id_codes(df)
        for column in fields.personal_columns(table):
            if column not in df:
                continue
            filled = ~empty_mask(df[column]).to_numpy()
            records.append((table, column, int(filled.sum()), _distinct(codes, filled)))
    out = pd.DataFrame(records, columns=["table", "column", "values", "sessions"])
    return out.sort_values(["values", "table", "column"], ascending=[False, True, True], kind="stable").reset_index(
        drop=True)


def _sessions_with_personal_data(frames: Any) -> int:
    ids = []
    for table in fields.TABLES:
        df = getattr(frames, table)
        cols = [c for c in fields.personal_columns(table) if c in df]
        if not cols or df.empty:
            continue
        filled = np.zeros(len(df), dtype=bool)
        for c in cols:
            filled |= ~empty_mask(df[c]).to_numpy()
        ids.append(df[ID].astype("str")[filled])
    return int(pd.concat(ids).nunique()) if ids else 0


def quality_overview(frames: Any, *, failures: pd.DataFrame | None = None, values: pd.DataFrame | None = None,
                     out_of_order: pd.DataFrame | None = None, duplicates: pd.DataFrame | None = None) -> pd.DataFrame:
    """Sessions flagged by each data-quality check (``sessions`` and ``share``, indexed by ``check``).

    The keyword arguments take already computed :func:`schema_failures`,
    :func:`~gr4vy_nb.report.carts.cart_values`, :func:`~gr4vy_nb.report.airline.legs_out_of_order`
    and :func:`duplicate_skus`, so a report computes each once.
    """
    failures = schema_failures(frames) if failures is None else failures
    values = cart_values(frames) if values is None else values
    out_of_order = legs_out_of_order(frames) if out_of_order is None else out_of_order
    duplicates = duplicate_skus(frames) if duplicates is None else duplicates
    s, items = frames.sessions, frames.cart_items
    amount = pd.to_numeric(s["amount"])
    zero_unit = (pd.to_numeric(items["unit_amount"]) == 0).fillna(False).to_numpy(dtype=bool)
    rows = {
        "failing schema rules": failures[ID].nunique(),
        "legs out of time order": out_of_order[ID].nunique(),
        "duplicate SKUs in the cart": duplicates[ID].nunique(),
        "amount of zero": int((amount == 0).fillna(False).sum()),
        "cart item with a zero unit amount": items.loc[zero_unit, ID].nunique(),
        "amount differs from cart value": int(values["matches_amount"].eq(False).fillna(False).sum()),
        "holding personal data": _sessions_with_personal_data(frames),
    }
    out = pd.DataFrame({"sessions": pd.Series(rows, dtype="int64")})
    out["share"] = out["sessions"] / max(len(s), 1)
    out.index.name = "check"
    return out


def plot_empty_fields(frames: Any, table: pd.DataFrame | None = None, top: int = 20) -> Figure:
    """Horizontal bars of the fields most often empty among those filled at least once."""
    t = empty_fields(frames) if table is None else table
    t = t[t["filled"] > 0].head(top)
    return bar_figure([b if a == "sessions" else f"{a}.{b}" for a, b in zip(t["table"], t["column"], strict=True)],
                      (t["empty_share"] * 100).round(1).tolist(), keep_end=True,
                      title=f"Fields most often empty (top {top})",
                      xlabel="rows where the field is empty (%)", ylabel="field", horizontal=True)
