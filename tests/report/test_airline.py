"""Airline summaries against values worked out by hand."""

from __future__ import annotations

from gr4vy_nb import report
from gr4vy_nb.tables.frames import SessionFrames
from tests.report.helpers import S3, S4, col


def test_routes_and_carriers(frames):
    t = report.routes(frames)
    assert list(t.index) == ["AMS → CDG", "CDG → MAD", "JFK → LHR", "LHR → JFK"]
    assert t["legs"].tolist() == [1, 1, 1, 1] and t["sessions"].tolist() == [1, 1, 1, 1]
    c = report.carriers(frames)
    assert list(c.index) == ["BA", "AF", "KL"]
    assert c.loc["BA"].tolist() == ["British Airways", 2, 1]


def test_per_booking_distributions(frames):
    assert report.bookings(frames).tolist() == [S3, S4]
    assert col(report.legs_per_booking(frames), "bookings") == {2: 2}
    assert col(report.passengers_per_booking(frames), "bookings") == {2: 2}


def test_airline_totals(frames):
    t = report.airline_totals(frames)
    assert t.loc["USD"].tolist() == [1, 2, 50000, 1500, 8500, 1300]
    assert t.loc["EUR"].tolist() == [1, 2, 25000, 2500, 2500, 0]
    assert list(t.columns) == ["bookings", "legs", "fare", "fee", "tax", "departure_tax"]


def test_age_groups_and_route_types(frames):
    assert col(report.age_groups(frames), "passengers") == {"adult": 2, "(missing)": 1, "infant": 1}
    assert col(report.route_types(frames), "legs") == {"one_way": 2, "round_trip": 2}


def test_legs_out_of_order(frames):
    t = report.legs_out_of_order(frames)
    assert t[["checkout_session_id", "leg_index", "problem"]].values.tolist() == [
        [S4, 0, "arrives before it departs"],
        [S4, 1, "departs before the previous leg"],
    ]


def test_leg_order_uses_index_not_row_order(frames):
    # The same legs listed in reverse row order are judged by leg_index, so nothing changes.
    legs = frames.legs.iloc[::-1].reset_index(drop=True)
    shuffled = SessionFrames(frames.sessions, frames.cart_items, legs, frames.passengers, conform=False)
    assert report.legs_out_of_order(shuffled)["leg_index"].tolist() == [0, 1]
