"""Report summaries of sessions, carts, airline and payment, against values worked out by hand.

The fixture (``tests/data/report_fixture/sessions.jsonl``, written by ``make_fixture.py``
there) is seven sessions S1..S7 whose comments give the arithmetic; "now" is 2030-01-01 12:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from gr4vy_nb import report
from gr4vy_nb.tables.frames import SessionFrames, flatten_sessions
from tests.paths import FIXTURES, SAMPLE

FIXTURE = FIXTURES / "report_fixture"
NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
S1, S2, S3, S4, S5, S6, S7 = (f"{d * 8}-{d * 4}-4{d * 3}-8{d * 3}-{d * 12}" for d in "1234567")


@pytest.fixture(scope="module")
def frames() -> SessionFrames:
    return flatten_sessions(FIXTURE / "sessions.jsonl")


def col(df: pd.DataFrame, name: str) -> dict:
    """A column as {index label: value} with NA as None, for exact comparisons."""
    return {k: (None if pd.isna(v) else v) for k, v in df[name].items()}


# --------------------------------------------------------------------------- sessions


def test_sessions_overview(frames):
    t = report.sessions_overview(frames)
    assert col(t, "sessions") == {
        "sessions": 7, "with cart items": 4, "without cart items": 3, "with airline addendum": 2,
        "with buyer": 3, "with payment method": 2, "with amount": 4, "with metadata": 3,
    }
    assert t.loc["with cart items", "share"] == pytest.approx(4 / 7)


def test_expiry_timeline_windows_are_cumulative(frames):
    t = report.expiry_timeline(frames, now=NOW)
    # S4 expired an hour ago; S1 in 30 min; S2 in 3 h; S3 in 12 h; S5 in 48 h, S7 in 100 days; S6 none.
    assert col(t, "sessions") == {"already expired": 1, "within 1 h": 1, "within 6 h": 2, "within 24 h": 3,
                                  "after 24 h": 2, "unknown": 1}


def test_expiry_timeline_boundaries(frames):
    # At S1's exact expiry it counts as expired; S2 is then 2.5 h away, S3 11.5 h.
    t = report.expiry_timeline(frames, now=NOW + timedelta(minutes=30))
    assert col(t, "sessions") == {"already expired": 2, "within 1 h": 0, "within 6 h": 1, "within 24 h": 2,
                                  "after 24 h": 2, "unknown": 1}
    # Exactly one hour before S2's expiry: inside "within 1 h".
    t = report.expiry_timeline(frames, now=NOW + timedelta(hours=2))
    assert t.loc["within 1 h", "sessions"] == 1


def test_expiry_timeline_needs_an_aware_now(frames):
    with pytest.raises(ValueError, match="timezone-aware"):
        report.expiry_timeline(frames, now=datetime(2030, 1, 1))


def test_currencies(frames):
    t = report.currencies(frames)
    assert col(t, "sessions") == {"EUR": 2, "(missing)": 1, "GBP": 1, "JPY": 1, "USD": 1, "usd": 1}
    # S5's amount is the text "100": not an amount, so not counted.
    assert col(t, "with_amount") == {"EUR": 2, "(missing)": 0, "GBP": 1, "JPY": 0, "USD": 1, "usd": 0}
    assert col(t, "total_amount") == {"EUR": 30000, "(missing)": None, "GBP": 2500, "JPY": None, "USD": 60000,
                                      "usd": None}
    assert t.loc["EUR", "min_amount"] == 0 and t.loc["EUR", "max_amount"] == 30000
    assert t.loc["EUR", "mean_amount"] == 15000


def test_metadata_keys(frames):
    t = report.metadata_keys(frames)
    assert col(t, "sessions") == {"channel": 3, "campaign": 1}
    assert col(t, "distinct_values") == {"channel": 2, "campaign": 1}


@pytest.mark.parametrize(("fn", "expected"), [
    (report.card_schemes, {"mastercard": 1, "visa": 1}),
    (report.card_types, {"credit": 1, "debit": 1}),
    (report.card_countries, {"GB": 1, "NL": 1}),
    (report.card_issuers, {"Demo Card Co": 1, "Example Bank": 1}),
])
def test_payment_breakdowns(frames, fn, expected):
    t = fn(frames)
    assert col(t, "sessions") == expected
    assert t["share"].tolist() == [0.5, 0.5]


# --------------------------------------------------------------------------- carts


def test_items_per_session(frames):
    t = report.items_per_session(frames)
    # S3, S4, S7 have none; S5, S6 one line; S1 two; S2 three.
    assert col(t, "sessions") == {0: 3, 1: 2, 2: 1, 3: 1}


def test_cart_values(frames):
    t = report.cart_values(frames).set_index("checkout_session_id")
    assert list(t.index) == [S1, S2, S5, S6]
    assert col(t, "cart_value") == {S1: 2500, S2: 15500, S5: 100, S6: 300}
    assert col(t, "gross") == {S1: 2400, S2: 15000, S5: 100, S6: 300}
    assert col(t, "discount") == {S1: 100, S2: 500, S5: 0, S6: 0}
    assert col(t, "tax") == {S1: 200, S2: 1000, S5: 0, S6: 0}
    assert col(t, "units") == {S1: 3, S2: 4, S5: 1, S6: 3}
    assert col(t, "items") == {S1: 2, S2: 3, S5: 1, S6: 1}
    assert col(t, "currency") == {S1: "GBP", S2: "EUR", S5: "usd", S6: "(missing)"}
    assert col(t, "matches_amount") == {S1: True, S2: False, S5: None, S6: None}


def test_cart_value_by_currency_and_totals(frames):
    t = report.cart_value_by_currency(frames)
    assert col(t, "total") == {"(missing)": 300, "EUR": 15500, "GBP": 2500, "usd": 100}
    assert col(t, "not_matching_amount") == {"(missing)": 0, "EUR": 1, "GBP": 0, "usd": 0}
    totals = report.discount_tax_totals(frames)
    assert totals.loc["EUR"].tolist() == [3, 4, 15000, 500, 1000, 15500]
    assert totals.loc["GBP"].tolist() == [2, 3, 2400, 100, 200, 2500]
    assert list(totals.columns) == ["items", "units", "gross", "discount", "tax", "net"]


def test_by_product_type(frames):
    t = report.by_product_type(frames)
    assert col(t, "items") == {"physical": 3, "(missing)": 1, "digital": 1, "gift_card": 1, "shipping_fee": 1}
    assert col(t, "units") == {"physical": 5, "(missing)": 3, "digital": 1, "gift_card": 1, "shipping_fee": 1}
    assert t.loc["physical", "value_EUR"] == 15500 and t.loc["physical", "value_GBP"] == 2100
    assert t.loc["shipping_fee", "value_GBP"] == 400 and t.loc["digital", "value_EUR"] == 0
    assert pd.isna(t.loc["physical", "value_usd"])  # never added across currencies


def test_by_category_explodes_lists(frames):
    t = report.by_category(frames)
    # home: S1 mug, S2 two lamps, S6 socks; the mug is in kitchen too; S5's empty category is dropped.
    assert col(t, "items") == {"home": 4, "(missing)": 1, "gifts": 1, "kitchen": 1, "shipping": 1}
    assert col(t, "units") == {"home": 8, "(missing)": 1, "gifts": 1, "kitchen": 2, "shipping": 1}
    assert col(t, "sessions") == {"home": 3, "(missing)": 1, "gifts": 1, "kitchen": 1, "shipping": 1}
    assert t.loc["home", "value_EUR"] == 15500 and t.loc["home", "value_(missing)"] == 300
    assert t.loc["kitchen", "value_GBP"] == 2100


def test_top_skus(frames):
    t = report.top_skus(frames)
    assert list(t.index) == ["SKU-1", "SKU-2", "GC", "SHIP", "SKU-3"]
    assert t.loc["SKU-1"].tolist() == ["Mug", 2, 5, 2]  # name tie Mug/Socks: alphabetical
    assert t.loc["SKU-2"].tolist() == ["Lamp", 2, 3, 1]
    assert list(report.top_skus(frames, n=2).index) == ["SKU-1", "SKU-2"]


def test_seller_countries(frames):
    t = report.seller_countries(frames)
    assert col(t, "items") == {"DE": 3, "GB": 2, "(missing)": 1, "gb": 1}
    assert col(t, "sessions") == {"DE": 1, "GB": 1, "(missing)": 1, "gb": 1}
    assert t.loc["DE", "share"] == pytest.approx(3 / 7)


# --------------------------------------------------------------------------- airline


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


# --------------------------------------------------------------------------- empty and edge inputs


def test_every_summary_handles_empty_frames():
    empty = SessionFrames()
    for name in ("sessions_overview", "currencies", "metadata_keys", "card_schemes", "items_per_session",
                 "cart_values", "cart_value_by_currency", "discount_tax_totals", "by_product_type", "by_category",
                 "top_skus", "seller_countries", "routes", "legs_per_booking", "passengers_per_booking", "carriers",
                 "airline_totals", "age_groups", "route_types", "legs_out_of_order", "bookings"):
        out = getattr(report, name)(empty)
        assert len(out) in (0, 8), name  # the overview lists its 8 metrics, all zero
    assert report.expiry_timeline(empty, now=NOW)["sessions"].sum() == 0


def test_amounts_never_mix_currencies():
    sessions = [
        {"id": S1, "expires_at": "2030-01-01T13:00:00Z", "currency": "JPY",
         "cart_items": [{"name": "a", "quantity": 1, "unit_amount": 100, "product_type": "physical"}]},
        {"id": S2, "expires_at": "2030-01-01T13:00:00Z", "currency": "EUR",
         "cart_items": [{"name": "b", "quantity": 2, "unit_amount": 100, "product_type": "physical"}]},
    ]
    f = flatten_sessions(sessions)
    t = report.by_product_type(f)
    assert t.loc["physical", "value_JPY"] == 100 and t.loc["physical", "value_EUR"] == 200
    assert "value" not in t.columns


@pytest.mark.parametrize("source", ["fixture", "sample"])
def test_presence_rule_matches_the_frames(frames, source):
    from gr4vy_nb.report.common import present

    f = frames if source == "fixture" else flatten_sessions(SAMPLE)
    expected = f.presence()
    for container in expected.columns:
        assert present(f, container).tolist() == expected[container].tolist(), container


def test_cart_lines_and_reuse(frames):
    lines = report.cart_lines(frames)
    assert list(lines.columns) == ["checkout_session_id", "currency", "quantity", "gross", "discount", "tax", "value"]
    assert lines["value"].tolist() == [2100, 400, 6000, 9500, 0, 100, 300]
    assert lines["currency"].tolist() == ["GBP", "GBP", "EUR", "EUR", "EUR", "usd", "(missing)"]
    # The summaries give the same answer from precomputed lines.
    pd.testing.assert_frame_equal(report.by_category(frames, lines=lines), report.by_category(frames))
    pd.testing.assert_frame_equal(report.cart_values(frames, lines=lines), report.cart_values(frames))


def test_public_names_exist_and_are_documented():
    for name in report.__all__:
        obj = getattr(report, name)
        if callable(obj):
            assert obj.__doc__ and obj.__doc__.strip(), f"report.{name} has no docstring"
