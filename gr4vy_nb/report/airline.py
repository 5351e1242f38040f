"""Airline summaries: routes, legs and passengers per booking, carriers, amounts, age groups.

A *booking* is a session with an airline addendum (any ``airline.*`` value, leg or
passenger: :meth:`SessionFrames.presence`). Leg amounts (fare, fee, tax, departure tax) are added up per currency only.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .common import ID, MISSING, count_table, empty_mask, item_currency, present
from .figures import bar_figure, fit_margins, new_figure, no_data, style_axes

__all__ = [
    "age_groups",
    "airline_totals",
    "bookings",
    "carriers",
    "legs_out_of_order",
    "legs_per_booking",
    "passengers_per_booking",
    "plot_legs_per_booking",
    "plot_routes",
    "route_types",
    "routes",
]

_ARROW = " → "


def bookings(frames: Any) -> pd.Series:
    """The ids of the sessions with an airline addendum, in session order."""
    ids = frames.sessions[ID]
    return ids[present(frames, "airline").to_numpy()].drop_duplicates().reset_index(drop=True).rename(ID)


def _text(df: pd.DataFrame, col: str) -> pd.Series:
    values = df[col] if col in df else pd.Series(pd.NA, index=df.index, dtype="str")
    return values.astype("str").where(~empty_mask(values), MISSING)


def routes(frames: Any, top: int | None = None) -> pd.DataFrame:
    """Legs per route (departure -> arrival airport), most flown first, with the sessions flying it."""
    legs = frames.legs
    df = pd.DataFrame({"departure_airport": _text(legs, "departure_airport"),
                       "arrival_airport": _text(legs, "arrival_airport"), ID: legs[ID]})
    g = df.groupby(["departure_airport", "arrival_airport"], sort=False)
    out = pd.DataFrame({"legs": g.size().astype("int64"), "sessions": g[ID].nunique().astype("int64")}).reset_index()
    out.insert(0, "route", out["departure_airport"] + _ARROW + out["arrival_airport"])
    out = out.sort_values(["legs", "route"], ascending=[False, True], kind="stable")
    out = out.set_index("route")
    return out.head(top) if top is not None else out


def _per_booking(frames: Any, table: pd.DataFrame, label: str) -> pd.DataFrame:
    ids = bookings(frames)
    counts = table.groupby(ID, sort=False).size().reindex(ids, fill_value=0).value_counts().sort_index()
    out = pd.DataFrame({"bookings": counts.to_numpy(dtype="int64")},
                       index=pd.Index(counts.index.astype("int64"), name=label))
    out["share"] = out["bookings"] / max(len(ids), 1)
    return out


def legs_per_booking(frames: Any) -> pd.DataFrame:
    """How many bookings have 0, 1, 2, ... legs; index ``legs``."""
    return _per_booking(frames, frames.legs, "legs")


def passengers_per_booking(frames: Any) -> pd.DataFrame:
    """How many bookings have 0, 1, 2, ... passengers; index ``passengers``."""
    return _per_booking(frames, frames.passengers, "passengers")


def carriers(frames: Any) -> pd.DataFrame:
    """Legs per carrier code, with its most common name and the sessions flying it."""
    legs = frames.legs
    df = pd.DataFrame({"carrier_code": _text(legs, "carrier_code"), "carrier_name": _text(legs, "carrier_name"),
                       ID: legs[ID]})
    g = df.groupby("carrier_code", sort=False)
    out = pd.DataFrame({"legs": g.size().astype("int64"), "sessions": g[ID].nunique().astype("int64")})
    names = df.groupby(["carrier_code", "carrier_name"], sort=False).size().rename("n").reset_index()
    names = names.sort_values(["n", "carrier_name"], ascending=[False, True], kind="stable")
    names = names.drop_duplicates("carrier_code").set_index("carrier_code")["carrier_name"]
    out.insert(0, "carrier_name", names.reindex(out.index).astype("str"))
    out.index = out.index.astype("str")
    out.index.name = "carrier_code"
    return out.reset_index().sort_values(["legs", "carrier_code"], ascending=[False, True],
                                         kind="stable").set_index("carrier_code")


def airline_totals(frames: Any) -> pd.DataFrame:
    """Per currency: bookings with legs, legs, and the totals of fare, fee, tax and departure tax."""
    legs = frames.legs
    amounts = ["fare_amount", "fee_amount", "tax_amount", "departure_tax_amount"]
    df = pd.DataFrame({c: pd.to_numeric(legs[c]).astype("Int64") if c in legs else pd.array([pd.NA] * len(legs),
                                                                                           dtype="Int64")
                       for c in amounts})
    df["currency"] = item_currency(frames, legs)
    df[ID] = legs[ID]
    g = df.groupby("currency", sort=True)
    out = pd.DataFrame({"bookings": g[ID].nunique().astype("int64"), "legs": g.size().astype("int64")})
    for c in amounts:
        out[c.removesuffix("_amount")] = g[c].sum().astype("Int64")
    return out


def age_groups(frames: Any) -> pd.DataFrame:
    """Passengers per age group (``adult``, ``infant``, ``(missing)``)."""
    return count_table(frames.passengers["age_group"], label="age_group", count="passengers")


def route_types(frames: Any) -> pd.DataFrame:
    """Legs per route type (``one_way``, ``round_trip``, ``(missing)``)."""
    return count_table(frames.legs["route_type"], label="route_type", count="legs")


def legs_out_of_order(frames: Any) -> pd.DataFrame:
    """Legs whose times are out of order: a data-quality flag, one row per offending leg.

    ``problem`` is ``arrives before it departs`` (``arrival_at < departure_at``) or
    ``departs before the previous leg`` (its ``departure_at`` is earlier than the previous
    leg's arrival, or than its departure when that arrival is unknown), legs taken in
    ``leg_index`` order. Legs without times are not judged.
    """
    legs = frames.legs
    cols = [ID, "leg_index", "departure_at", "arrival_at", "departure_airport", "arrival_airport"]
    df = legs[cols].sort_values([ID, "leg_index"], kind="stable")
    dep = pd.to_datetime(df["departure_at"], utc=True)
    arr = pd.to_datetime(df["arrival_at"], utc=True)
    same = df[ID].eq(df[ID].shift())
    prev_end = arr.shift().where(arr.shift().notna(), dep.shift()).where(same)
    backwards = (arr < dep).fillna(False).astype(bool)
    overlap = (dep < prev_end).fillna(False).astype(bool)
    problem = pd.Series(pd.NA, index=df.index, dtype="str")
    problem[overlap] = "departs before the previous leg"
    problem[backwards] = "arrives before it departs"
    out = df.assign(problem=problem)[backwards | overlap]
    return out.reset_index(drop=True)


def plot_routes(frames: Any, table: pd.DataFrame | None = None, top: int = 15) -> Figure:
    """Horizontal bars of the ``top`` most flown routes."""
    t = (routes(frames) if table is None else table).head(top)
    return bar_figure(t.index.tolist(), t["legs"].tolist(), title=f"Most flown routes (top {top})", xlabel="legs",
                      ylabel="route", horizontal=True)


def plot_legs_per_booking(frames: Any, legs: pd.DataFrame | None = None,
                          passengers: pd.DataFrame | None = None) -> Figure:
    """Grouped bars: bookings by number of legs and by number of passengers."""
    lt = legs_per_booking(frames) if legs is None else legs
    pt = passengers_per_booking(frames) if passengers is None else passengers
    fig = new_figure()
    ax = fig.add_subplot()
    style_axes(ax, "Legs and passengers per booking", "legs or passengers in the booking", "bookings")
    if lt.empty and pt.empty:
        no_data(ax, "no bookings")
        return fig
    xs = sorted(set(lt.index.tolist()) | set(pt.index.tolist()))
    width = 0.4
    ax.bar([x - width / 2 for x in xs], lt["bookings"].reindex(xs, fill_value=0).tolist(), width, label="legs",
           color="#2f6f9f")
    ax.bar([x + width / 2 for x in xs], pt["bookings"].reindex(xs, fill_value=0).tolist(), width,
           label="passengers", color="#e3a33b")
    ax.set_xticks(xs, [str(x) for x in xs])
    top = max(lt["bookings"].max() if len(lt) else 0, pt["bookings"].max() if len(pt) else 0)
    fit_margins(fig, y_chars=len(f"{top:,}"))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(axis="y", color="#e5e5e5")
    ax.set_axisbelow(True)
    ax.legend(frameon=False, fontsize=8)
    return fig
