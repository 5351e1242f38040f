"""Cart summaries: items per session, cart values per currency, product types, categories, SKUs.

A cart item's value is ``quantity * unit_amount - discount_amount + tax_amount`` (an empty
discount or tax counts as 0), in the minor unit of its session's currency; values are only
ever added up within one currency. Sessions without a currency are grouped as ``(missing)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .common import ID, MISSING, count_table, empty_mask, explode_list, item_currency, session_codes
from .figures import bar_figure, fit_margins, new_figure, no_data, style_axes

__all__ = [
    "by_brand",
    "by_category",
    "by_product_type",
    "cart_lines",
    "cart_value_by_currency",
    "cart_values",
    "discount_tax_totals",
    "items_per_session",
    "plot_cart_values",
    "plot_categories",
    "plot_items_per_session",
    "plot_product_types",
    "seller_countries",
    "top_skus",
]


def _int(df: pd.DataFrame, col: str, fill: int | None = None) -> pd.Series:
    values = pd.to_numeric(df[col]).astype("Int64") if col in df else pd.Series(pd.NA, index=df.index, dtype="Int64")
    return values.fillna(fill) if fill is not None else values


def cart_lines(frames: Any) -> pd.DataFrame:
    """One row per cart item (index as ``cart_items``) with its session's currency and its money.

    Columns ``checkout_session_id``, ``currency``, ``quantity``, ``gross`` (quantity x unit
    amount), ``discount``, ``tax`` and ``value`` (gross - discount + tax), all ``Int64``
    minor units. The other cart summaries accept it as ``lines=`` so a report computes it once.
    """
    items = frames.cart_items
    quantity, unit = _int(items, "quantity"), _int(items, "unit_amount")
    discount, tax = _int(items, "discount_amount", 0), _int(items, "tax_amount", 0)
    gross = quantity * unit
    # Series, not .to_numpy(): text columns stay in Arrow instead of becoming Python strings.
    return pd.DataFrame({ID: items[ID], "currency": item_currency(frames, items), "quantity": quantity,
                         "gross": gross, "discount": discount, "tax": tax, "value": gross - discount + tax})


def items_per_session(frames: Any) -> pd.DataFrame:
    """How many sessions have 0, 1, 2, ... cart items (lines, not units); index ``items``."""
    per_session = frames.cart_items.groupby(ID, sort=False).size()
    counts = per_session.reindex(frames.sessions[ID].drop_duplicates(), fill_value=0).value_counts().sort_index()
    out = pd.DataFrame({"sessions": counts.to_numpy(dtype="int64")},
                       index=pd.Index(counts.index.astype("int64"), name="items"))
    out["share"] = out["sessions"] / max(int(out["sessions"].sum()), 1)
    return out


def cart_values(frames: Any, *, lines: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per session with cart items: items, units, gross, discount, tax and cart value.

    ``amount`` is the session's own amount, and ``matches_amount`` says whether it equals
    the cart value (NA when the session has no amount) — a quick check of cart arithmetic.
    """
    lines = cart_lines(frames) if lines is None else lines
    g = lines.groupby(ID, sort=False)
    out = pd.DataFrame({
        "currency": g["currency"].first(),
        "items": g.size().astype("int64"),
        "units": g["quantity"].sum(min_count=1),
        "gross": g["gross"].sum(min_count=1),
        "discount": g["discount"].sum(),
        "tax": g["tax"].sum(),
        "cart_value": g["value"].sum(min_count=1),
    })
    amount = _int(frames.sessions, "amount")
    amount = pd.Series(amount.array, index=pd.Index(frames.sessions[ID]))
    out["amount"] = amount[~amount.index.duplicated()].reindex(out.index).astype("Int64")
    out["matches_amount"] = (out["amount"] == out["cart_value"]).astype("boolean")
    out.index.name = ID
    return out.reset_index()


def cart_value_by_currency(frames: Any, values: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per currency: sessions with cart items and their cart value's total, mean, median, min and max.

    ``values`` may be a precomputed :func:`cart_values` to avoid computing it twice.
    """
    v = cart_values(frames) if values is None else values
    g = v.groupby("currency", sort=True)["cart_value"]
    out = pd.DataFrame({
        "sessions": g.size().astype("int64"),
        "total": g.sum(min_count=1).astype("Int64"),
        "mean": g.mean().astype("Float64").round(1),
        "median": g.median().astype("Float64"),
        "min": g.min().astype("Int64"),
        "max": g.max().astype("Int64"),
    })
    bad = v["matches_amount"].eq(False).fillna(False).astype(bool)
    out["not_matching_amount"] = bad.groupby(v["currency"]).sum().reindex(out.index, fill_value=0).astype("int64")
    return out.sort_values("sessions", ascending=False, kind="stable")


def discount_tax_totals(frames: Any, *, lines: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per currency: items, units, gross (quantity x unit amount), discount, tax and net value totals."""
    lines = cart_lines(frames) if lines is None else lines
    g = lines.groupby("currency", sort=True)
    out = pd.DataFrame({
        "items": g.size().astype("int64"),
        "units": g["quantity"].sum().astype("Int64"),
        "gross": g["gross"].sum().astype("Int64"),
        "discount": g["discount"].sum().astype("Int64"),
        "tax": g["tax"].sum().astype("Int64"),
        "net": g["value"].sum().astype("Int64"),
    })
    return out


def _sessions_per(df: pd.DataFrame, label: str, ids: np.ndarray | None = None) -> pd.Series:
    """Distinct sessions per ``label`` value, counted on integer codes (no string pairs built).

    ``ids``: the rows' session codes when known (:func:`session_codes` of a larger table, taken).
    """
    labels, uniques = pd.factorize(df[label])
    ids = session_codes(df[ID]) if ids is None else ids
    keep = labels >= 0
    counts = _distinct_sessions(labels[keep], len(uniques), ids[keep])
    return pd.Series(counts, index=pd.Index(uniques, name=label))


def _by(lines: pd.DataFrame, key: pd.Series, label: str) -> pd.DataFrame:
    """Items, units, sessions and value per currency for each ``key`` (aligned with ``lines``).

    Computed on integer codes (labels, currencies, sessions) with numpy: no groupby over text.
    Sums are exact (int64, missing values left out); a currency a label never occurs with is <NA>.
    """
    labels, uniques = pd.factorize(key.array)
    rows = lines.index.get_indexer(key.index)
    if (labels < 0).any():  # a missing label is left out, as groupby does
        rows, labels = rows[labels >= 0], labels[labels >= 0]
    currencies, currency_names = pd.factorize(lines["currency"].array)
    currencies = currencies[rows]
    n = len(uniques)
    items = np.bincount(labels, minlength=n).astype("int64")
    quantity = lines["quantity"].array
    units = _sums(labels, n, quantity.to_numpy(dtype="int64", na_value=0)[rows])
    out = pd.DataFrame({"items": items, "units": pd.array(units, dtype="Int64")},
                       index=pd.Index(pd.Index(uniques).astype("str"), name=label))
    out["sessions"] = _distinct_sessions(labels, n, session_codes(lines[ID])[rows])
    width = len(currency_names)
    pair = labels.astype("int64") * width + currencies
    value = lines["value"].array.to_numpy(dtype="int64", na_value=0)[rows]
    pair, value = pair[currencies >= 0], value[currencies >= 0]  # no currency: in no value column
    seen = np.bincount(pair, minlength=n * width).reshape(n, width) > 0
    totals = _sums(pair, n * width, value).reshape(n, width)
    for j in sorted(range(width), key=lambda j: str(currency_names[j])):
        column = pd.array(totals[:, j], dtype="Int64")
        column[~seen[:, j]] = pd.NA
        out[f"value_{currency_names[j]}"] = column
    return out.reset_index().sort_values(["items", label], ascending=[False, True], kind="stable").set_index(label)


def _sums(codes: np.ndarray, n: int, values: np.ndarray) -> np.ndarray:
    """Exact int64 sums of ``values`` per code ``0..n-1`` (``np.bincount`` would sum in float64)."""
    out = np.zeros(n, dtype="int64")
    np.add.at(out, codes, values)
    return out


def _distinct_sessions(labels: np.ndarray, n: int, ids: np.ndarray) -> np.ndarray:
    """Distinct sessions per label code (rows with no session left out)."""
    keep = ids >= 0
    width = int(ids.max()) + 1 if len(ids) else 1
    pairs = labels[keep].astype(np.int64) * width + ids[keep]
    if n * width <= 4 * len(pairs) + (1 << 22):  # a scatter into a (label, session) table: no sort, no hash
        seen = np.zeros(n * width, dtype=bool)
        seen[pairs] = True
        return seen.reshape(n, width).sum(axis=1).astype("int64")
    distinct = np.unique(pairs)
    return np.bincount(distinct // width, minlength=n).astype("int64")


def _by_field(frames: Any, column: str, lines: pd.DataFrame | None) -> pd.DataFrame:
    """:func:`_by` over one cart-item column, items without a value counted under ``(missing)``."""
    lines = cart_lines(frames) if lines is None else lines
    values = frames.cart_items[column]
    return _by(lines, values.astype("str").where(~empty_mask(values), MISSING), column)


def by_product_type(frames: Any, *, lines: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per ``product_type``: items, units, sessions, and value per currency (``value_<CUR>``)."""
    return _by_field(frames, "product_type", lines)


def by_brand(frames: Any, *, lines: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per ``brand`` (a field the official SDK knows beyond the document): items, units, sessions, value per currency.

    Items without a brand are counted under ``(missing)``.
    """
    return _by_field(frames, "brand", lines)


def by_category(frames: Any, *, lines: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per category (an item in several categories counts in each): items, units, sessions, value per currency.

    Items without a category are counted under ``(missing)``.
    """
    lines = cart_lines(frames) if lines is None else lines
    cats = frames.cart_items["categories"]
    exploded = explode_list(cats)
    uncategorised = cats.index.difference(exploded.index.unique())
    key = pd.concat([exploded, pd.Series(MISSING, index=uncategorised, dtype="str")])
    return _by(lines, key, "category")


def top_skus(frames: Any, n: int = 20) -> pd.DataFrame:
    """The ``n`` SKUs on most cart lines: name (the most common one), items, units and sessions."""
    items = frames.cart_items
    df = items.loc[~empty_mask(items["sku"]), [ID, "sku", "name", "quantity"]]
    if df.empty:
        return pd.DataFrame({"name": pd.Series(dtype="str"), "items": pd.Series(dtype="int64"),
                             "units": pd.Series(dtype="Int64"), "sessions": pd.Series(dtype="int64")},
                            index=pd.Index([], name="sku", dtype="str"))
    g = df.groupby("sku", sort=False)
    out = pd.DataFrame({"items": g.size().astype("int64"), "units": g["quantity"].sum().astype("Int64")})
    out.index = out.index.astype("str")
    out.index.name = "sku"
    out = out.reset_index().sort_values(["items", "units", "sku"], ascending=[False, False, True], kind="stable")
    out = out.head(n).set_index("sku")
    # Names and sessions only for the SKUs kept: a handful, whatever the cart count.
    top = df[df["sku"].isin(out.index)]
    out["sessions"] = _sessions_per(top, "sku").reindex(out.index).astype("int64")
    names = top.groupby(["sku", "name"], sort=False).size().rename("count").reset_index()
    names = names.sort_values(["count", "name"], ascending=[False, True], kind="stable").drop_duplicates("sku")
    out.insert(0, "name", names.set_index("sku")["name"].reindex(out.index).astype("str"))
    return out


def seller_countries(frames: Any) -> pd.DataFrame:
    """Cart items per seller country, with the number of sessions selling from it."""
    items = frames.cart_items
    table = count_table(items["seller_country"], label="seller_country", count="items")
    key = items["seller_country"].astype("str").where(~empty_mask(items["seller_country"]), MISSING)
    sessions = _sessions_per(items.assign(_k=key.array), "_k")
    table.insert(1, "sessions", sessions.reindex(table.index).astype("int64").to_numpy())
    return table


def plot_items_per_session(frames: Any, table: pd.DataFrame | None = None) -> Figure:
    """Bar chart of :func:`items_per_session`."""
    t = items_per_session(frames) if table is None else table
    return bar_figure(t.index.tolist(), t["sessions"].tolist(), title="Cart items per session",
                      xlabel="cart items (lines)", ylabel="sessions")


def plot_product_types(frames: Any, table: pd.DataFrame | None = None) -> Figure:
    """Horizontal bars of cart items per product type."""
    t = by_product_type(frames) if table is None else table
    return bar_figure(t.index.tolist(), t["items"].tolist(), title="Cart items by product type",
                      xlabel="cart items", ylabel="product type", horizontal=True)


def plot_categories(frames: Any, table: pd.DataFrame | None = None, top: int = 15) -> Figure:
    """Horizontal bars of cart items per category (the ``top`` most frequent)."""
    t = (by_category(frames) if table is None else table).head(top)
    return bar_figure(t.index.tolist(), t["items"].tolist(), title=f"Cart items by category (top {top})",
                      xlabel="cart items", ylabel="category", horizontal=True)


def plot_cart_values(frames: Any, values: pd.DataFrame | None = None, top: int = 6) -> Figure:
    """Box plots of cart value per session, one per currency (the ``top`` most frequent), log scale.

    Boxes span the quartiles, whiskers 1.5 x the interquartile range; outliers are not drawn.
    """
    v = cart_values(frames) if values is None else values
    fig = new_figure()
    ax = fig.add_subplot()
    style_axes(ax, "Cart value per session, by currency", "currency", "cart value (minor units, log scale)")
    v = v[v["cart_value"].notna() & (v["cart_value"] > 0)]
    order = v["currency"].value_counts().head(top).index.tolist()
    data = [v.loc[v["currency"] == c, "cart_value"].to_numpy(dtype=np.float64) for c in order]
    if not data:
        no_data(ax, "no data")
        return fig
    ax.boxplot(data, tick_labels=[f"{c}\n(n={len(d):,})" for c, d in zip(order, data, strict=True)],
               showfliers=False)  # 100k outlier markers would cost more than they tell
    ax.set_yscale("log")
    ax.grid(axis="y", color="#e5e5e5")
    fit_margins(fig, y_chars=4, x_lines=3)  # log ticks like 10^4; labels "EUR" over "(n=...)"
    return fig
