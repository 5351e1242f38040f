"""What every summary shares: empty inputs, currencies never mixed, the presence rule."""

from __future__ import annotations

import pytest

from gr4vy_nb import report
from gr4vy_nb.tables.frames import SessionFrames, flatten_sessions
from tests.paths import SAMPLE
from tests.report.helpers import NOW, S1, S2


def test_every_summary_handles_empty_frames():
    empty = SessionFrames()
    for name in ("sessions_overview", "currencies", "metadata_keys", "card_schemes", "items_per_session",
                 "cart_values", "cart_value_by_currency", "discount_tax_totals", "by_product_type", "by_brand",
                 "by_category", "top_skus", "seller_countries", "routes", "legs_per_booking", "passengers_per_booking",
                 "carriers", "airline_totals", "age_groups", "route_types", "legs_out_of_order", "bookings"):
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
