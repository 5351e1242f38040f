"""Session-level summaries: counts, expiry timeline, currencies, metadata keys, payment methods.

Pure functions of a :class:`~gr4vy_nb.tables.frames.SessionFrames`; each returns a DataFrame or a
matplotlib figure (never shown). Amounts are integers in the currency's minor unit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from .common import MISSING, any_filled, count_table, empty_mask, present
from .figures import bar_figure, histogram_figure

__all__ = [
    "EXPIRY_WINDOWS",
    "card_countries",
    "card_issuers",
    "card_schemes",
    "card_types",
    "currencies",
    "expiry_note",
    "expiry_timeline",
    "metadata_keys",
    "plot_card_schemes",
    "plot_expiry",
    "sessions_overview",
]

EXPIRY_WINDOWS: tuple[tuple[str, pd.Timedelta], ...] = (
    ("within 1 h", pd.Timedelta(hours=1)),
    ("within 6 h", pd.Timedelta(hours=6)),
    ("within 24 h", pd.Timedelta(hours=24)),
)


def _now(now: datetime | pd.Timestamp | None) -> pd.Timestamp:
    ts = pd.Timestamp(now if now is not None else datetime.now(UTC))
    if ts.tzinfo is None:
        raise ValueError("now must be timezone-aware (e.g. datetime.now(UTC))")
    return ts.tz_convert("UTC")


def sessions_overview(frames: Any) -> pd.DataFrame:
    """How many sessions there are and what they carry: cart items, airline, buyer, payment method.

    Index ``metric``; columns ``sessions`` and ``share`` (of all sessions). A session has an
    object exactly when :meth:`SessionFrames.presence` would say so (one of its fields holds
    a value; for the airline, also when it has legs or passengers; for cart items, when it
    has at least one row in ``cart_items``).
    """
    s = frames.sessions
    n = len(s)
    has = {c: present(frames, c) for c in ("cart_items", "airline", "buyer", "payment_method", "metadata")}
    with_items = int(has["cart_items"].sum())
    amount = ~empty_mask(s["amount"]) if "amount" in s else pd.Series(False, index=s.index)
    rows = {
        "sessions": n,
        "with cart items": with_items,
        "without cart items": n - with_items,
        "with airline addendum": int(has["airline"].sum()),
        "with buyer": int(has["buyer"].sum()),
        "with payment method": int(has["payment_method"].sum()),
        "with amount": int(amount.sum()),
        "with metadata": int(has["metadata"].sum()),
    }
    out = pd.DataFrame({"sessions": pd.Series(rows, dtype="int64")})
    out["share"] = out["sessions"] / max(n, 1)
    out.index.name = "metric"
    return out


def _expires_at(frames: Any) -> pd.Series:
    return pd.to_datetime(frames.sessions["expires_at"], utc=True)


def expiry_timeline(frames: Any, now: datetime | pd.Timestamp | None = None) -> pd.DataFrame:
    """Sessions already expired, expiring within 1 h / 6 h / 24 h of ``now``, later, or unknown.

    The ``within`` rows are cumulative (``within 6 h`` includes ``within 1 h``) and exclude
    the expired; ``already expired`` means ``expires_at <= now``. ``now`` defaults to the
    current time and must be timezone-aware (pass it for reproducible numbers).
    """
    t = _now(now)
    expires = _expires_at(frames)
    left = expires - t
    known = expires.notna()
    rows = {"already expired": int((known & (left <= pd.Timedelta(0))).sum())}
    for label, window in EXPIRY_WINDOWS:
        rows[label] = int(((left > pd.Timedelta(0)) & (left <= window)).sum())
    rows["after 24 h"] = int((left > EXPIRY_WINDOWS[-1][1]).sum())
    rows["unknown"] = int((~known).sum())
    out = pd.DataFrame({"sessions": pd.Series(rows, dtype="int64")})
    out["share"] = out["sessions"] / max(len(expires), 1)
    out.index.name = "expiry"
    return out


def plot_expiry(frames: Any, now: datetime | pd.Timestamp | None = None) -> Figure:
    """Histogram of time until expiry, ``now`` marked; readable however the expiries are spread.

    The unit follows the spread (minutes when everything is within 3 h of now, hours within two
    days, else days) and the bins span the values and ``now`` alike, so sessions that all expire
    within the same minute (after a bulk update, which resets expiry) still show as one clear bar;
    the title then says how tightly they cluster.
    """
    t = _now(now)
    left = (_expires_at(frames) - t).dropna()
    hours = left.dt.total_seconds() / 3600
    span = float(hours.abs().max()) if len(hours) else 0.0
    if span <= 3:
        values, unit, scale = hours * 60, "minutes", 60.0
    elif span <= 48:
        values, unit, scale = hours, "hours", 1.0
    else:
        values, unit, scale = hours / 24, "days", 1 / 24
    title = "Session expiry"
    bins: Any = 30
    if len(values):
        low, high = float(min(values.min(), 0.0)), float(max(values.max(), 0.0))
        if high - low <= 0:
            low, high = low - 1.0, high + 1.0
        bins = [low + (high - low) * i / 30 for i in range(31)]
        spread_min = float(values.max() - values.min()) / scale * 60  # in minutes
        if len(values) > 1 and spread_min <= 10:
            title += f" — all {len(values):,} within {max(spread_min, 1):.0f} min of each other"
    return histogram_figure(values.tolist(), title=title, xlabel=f"{unit} until expiry (negative: expired)",
                            ylabel="sessions", bins=bins, vline=0.0, vline_label="now")


def expiry_note(frames: Any, now: datetime | pd.Timestamp | None = None) -> str | None:
    """A sentence when most sessions expire within the hour: updates reset expiry (``None`` otherwise).

    After a bulk update every session updated expires ``expires_in`` (1 h by default) after its
    update; a report that shows "within 1 h: 100%" must say why.
    """
    t = _now(now)
    expires = _expires_at(frames)
    n = int(expires.notna().sum())
    left = expires - t
    soon = int(((left > pd.Timedelta(0)) & (left <= EXPIRY_WINDOWS[0][1])).sum())
    if not n or soon < max(1, int(0.5 * n)):
        return None
    return (f"{soon:,} of {n:,} sessions ({soon / n:.0%}) expire within 1 h. Every update of a checkout session "
            "resets its expiry (expires_in, 1 h unless chosen longer), so sessions a run updated — even a "
            "metadata tag only — expire about an hour after that update.")


def currencies(frames: Any) -> pd.DataFrame:
    """Per currency: sessions, sessions with an amount, and the amount's total, mean, min and max."""
    s = frames.sessions
    cur = s["currency"].astype("str").where(~empty_mask(s["currency"]), MISSING)
    amount = pd.to_numeric(s["amount"]).astype("Int64")
    df = pd.DataFrame({"currency": cur, "amount": amount})
    g = df.groupby("currency", sort=True)["amount"]
    out = pd.DataFrame({
        "sessions": g.size().astype("int64"),
        "with_amount": g.count().astype("int64"),
        "total_amount": g.sum(min_count=1).astype("Int64"),
        "mean_amount": g.mean().astype("Float64").round(1),
        "min_amount": g.min().astype("Int64"),
        "max_amount": g.max().astype("Int64"),
    })
    return out.sort_values(["sessions"], ascending=False, kind="stable")


def metadata_keys(frames: Any) -> pd.DataFrame:
    """Per metadata key: sessions that have it, its share, and its number of distinct values."""
    s = frames.sessions
    rows = []
    for col in (c for c in s.columns if c.startswith("metadata.")):
        filled = s[col][~empty_mask(s[col])]
        rows.append((col.removeprefix("metadata."), len(filled), filled.nunique()))
    out = pd.DataFrame(rows, columns=["key", "sessions", "distinct_values"]).astype(
        {"key": "str", "sessions": "int64", "distinct_values": "int64"})
    out["share"] = out["sessions"] / max(len(s), 1)
    out = out.sort_values(["sessions", "key"], ascending=[False, True], kind="stable")
    return out.set_index("key")


def _payment(frames: Any, column: str, label: str) -> pd.DataFrame:
    s = frames.sessions
    has_pm = any_filled(s, "payment_method.")
    values = s[column] if column in s else pd.Series(pd.NA, index=s.index, dtype="str")
    return count_table(values[has_pm], label=label)


def card_schemes(frames: Any) -> pd.DataFrame:
    """Card schemes of the sessions that have a payment method (``payment_method.scheme``)."""
    return _payment(frames, "payment_method.scheme", "scheme")


def card_types(frames: Any) -> pd.DataFrame:
    """Card types (credit, debit, prepaid) of the sessions that have a payment method."""
    return _payment(frames, "payment_method.details.card_type", "card_type")


def card_countries(frames: Any) -> pd.DataFrame:
    """Issuing countries of the cards of the sessions that have a payment method."""
    return _payment(frames, "payment_method.details.card_country", "card_country")


def card_issuers(frames: Any) -> pd.DataFrame:
    """Card issuers (``payment_method.details.card_issuer_name``) of the sessions with a payment method."""
    return _payment(frames, "payment_method.details.card_issuer_name", "card_issuer_name")


def plot_card_schemes(frames: Any, table: pd.DataFrame | None = None) -> Figure:
    """Bar chart of card schemes (``table``: a precomputed :func:`card_schemes`)."""
    t = card_schemes(frames) if table is None else table
    return bar_figure(t.index.tolist(), t["sessions"].tolist(), title="Card schemes", xlabel="scheme",
                      ylabel="sessions")
