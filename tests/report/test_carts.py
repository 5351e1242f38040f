"""Cart summaries against values worked out by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from gr4vy_nb import report
from tests.report.helpers import S1, S2, S5, S6, col


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


def test_cart_lines_and_reuse(frames):
    lines = report.cart_lines(frames)
    assert list(lines.columns) == ["checkout_session_id", "currency", "quantity", "gross", "discount", "tax", "value"]
    assert lines["value"].tolist() == [2100, 400, 6000, 9500, 0, 100, 300]
    assert lines["currency"].tolist() == ["GBP", "GBP", "EUR", "EUR", "EUR", "usd", "(missing)"]
    # The summaries give the same answer from precomputed lines.
    pd.testing.assert_frame_equal(report.by_category(frames, lines=lines), report.by_category(frames))
    pd.testing.assert_frame_equal(report.cart_values(frames, lines=lines), report.cart_values(frames))


def test_by_brand_counts_the_overlay_field():
    from gr4vy_nb.tables.frames import flatten_sessions

    item = {"name": "a", "quantity": 2, "unit_amount": 100}
    f = flatten_sessions([
        {"id": S1, "expires_at": "2030-01-01T13:00:00Z", "currency": "GBP",
         "cart_items": [{**item, "brand": "Acme"}, {**item, "brand": "Acme"}, item]},
        {"id": S2, "expires_at": "2030-01-01T13:00:00Z", "currency": "GBP", "cart_items": [{**item, "brand": "Zed"}]},
    ])
    t = report.by_brand(f)
    assert col(t, "items") == {"Acme": 2, "(missing)": 1, "Zed": 1}
    assert col(t, "sessions") == {"Acme": 1, "(missing)": 1, "Zed": 1}
    assert t.loc["Acme", "value_GBP"] == 400
