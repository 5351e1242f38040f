"""Data-quality summaries against hand-worked values, and the fast schema check against pydantic."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from gr4vy_nb import report
from gr4vy_nb.tables.frames import SessionFrames, flatten_sessions
from tests.paths import FIXTURES, SAMPLE

FIXTURE = FIXTURES / "report_fixture"
S1, S2, S3, S4, S5, S6, S7 = (f"{d * 8}-{d * 4}-4{d * 3}-8{d * 3}-{d * 12}" for d in "1234567")


def _keys(failures: pd.DataFrame) -> set[tuple]:
    return {(r.checkout_session_id, r.table, None if pd.isna(r.row_index) else int(r.row_index), r.column)
            for r in failures.itertuples()}


def test_schema_failures_fixture(frames):
    f = report.schema_failures(frames)
    rows = [(r.checkout_session_id, r.table, None if pd.isna(r.row_index) else int(r.row_index), r.column, r.rule)
            for r in f.itertuples()]
    assert rows == [
        (S4, "passengers", 0, "first_name", "max_length 255"),
        (S5, "sessions", None, "amount", "type"),
        (S5, "sessions", None, "buyer.billing_details.phone_number", r"pattern ^\+[1-9]\d{1,14}$"),
        (S5, "sessions", None, "currency", "pattern ^[A-Z]{3}$"),
        (S5, "cart_items", 0, "categories", "each item: min_length 1"),
        (S5, "cart_items", 0, "seller_country", "pattern ^[A-Z]{2}$"),
        (S6, "sessions", None, "expires_at", "required"),
    ]
    values = dict(zip(f["column"], f["value"], strict=True))
    assert values["amount"] == "100" and values["currency"] == "usd" and values["categories"] == '["gifts",""]'
    assert pd.isna(values["expires_at"])
    # S7's field from a newer API is tolerated, as the response model tolerates it.
    assert S7 not in set(f["checkout_session_id"])


def test_fast_schema_check_agrees_with_pydantic(frames):
    assert _keys(report.schema_failures(frames)) == _keys(report.schema_failures(frames, exact=True))


def test_fast_schema_check_agrees_with_pydantic_on_broken_sample_data():
    sessions = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines()[:60]]
    assert report.schema_failures(flatten_sessions(sessions)).empty  # the sample data is valid
    # Break one rule of each kind, in a different session each time.
    sessions[0]["currency"] = "eur"                                        # pattern
    sessions[1]["metadata"] = {"k": "v", "n": 5}                           # type (metadata values are text)
    sessions[2].setdefault("buyer", {})["display_name"] = "x" * 201        # max_length
    sessions[3]["amount"] = 100_000_000                                    # maximum
    sessions[4]["cart_items"] = [{"name": "", "quantity": 0, "unit_amount": -1, "product_type": "toy"}]
    sessions[5]["airline"] = {"legs": [{"route_type": "one_way"}] * 21}    # max_items
    sessions[6].setdefault("buyer", {}).setdefault("billing_details", {})["tax_id"] = {"kind": "gb.vat"}  # required
    sessions[7]["cart_items"] = [{"name": "a", "quantity": 1, "unit_amount": 1, "categories": ["x" * 51]}]
    sessions[8]["expires_at"] = "tomorrow"                                 # not a date-time
    f = flatten_sessions(sessions)
    fast = report.schema_failures(f)
    exact = report.schema_failures(f, exact=True)
    assert _keys(fast) == _keys(exact)
    assert set(fast["checkout_session_id"]) == {s["id"] for s in sessions[:9]}
    assert "max_items 20" in set(fast["rule"])


def test_schema_failure_counts(frames):
    counts = report.schema_failure_counts(report.schema_failures(frames))
    assert len(counts) == 7 and counts["cells"].sum() == 7
    assert counts[["cells", "sessions"]].max().tolist() == [1, 1]


def test_mask_failures_masks_personal_values_only(frames):
    masked = report.mask_failures(report.schema_failures(frames))
    values = dict(zip(masked["column"], masked["value"], strict=True))
    assert "CANARY" not in values["buyer.billing_details.phone_number"]
    assert "canary" not in values["first_name"].lower()
    assert values["first_name"].startswith("L***")  # the masking keeps a first letter and a tag
    assert values["currency"] == "usd"  # not personal: shown as is


def test_empty_fields(frames):
    t = report.empty_fields(frames).set_index(["table", "column"])
    assert t.loc[("sessions", "currency")].tolist() == [7, 1, 6, pytest.approx(1 / 7)]
    assert t.loc[("passengers", "age_group")].tolist() == [4, 1, 3, 0.25]
    assert t.loc[("cart_items", "sku"), "empty"] == 0
    assert t.loc[("cart_items", "categories"), "empty"] == 1  # the <script> item has none
    assert t.loc[("sessions", "metadata.campaign"), "empty"] == 6
    assert ("cart_items", "checkout_session_id") not in t.index  # keys are not fields
    shares = report.empty_fields(frames)["empty_share"].tolist()
    assert shares == sorted(shares, reverse=True)


def test_duplicate_skus(frames):
    t = report.duplicate_skus(frames)
    assert t.values.tolist() == [[S2, "SKU-2", 2]]  # SKU-1 is in two carts, once each: not a duplicate


def test_zero_amounts(frames):
    t = report.zero_amounts(frames).set_index(["table", "column"])
    assert t.loc[("sessions", "amount")].tolist() == [1, 4, 1]
    assert t.loc[("cart_items", "unit_amount")].tolist() == [1, 7, 1]
    assert t.loc[("cart_items", "discount_amount")].tolist() == [3, 5, 3]
    assert t.loc[("legs", "fee_amount")].tolist() == [2, 4, 2]
    assert t.loc[("legs", "departure_tax_amount")].tolist() == [0, 1, 0]


def test_personal_data_counts_only(frames):
    t = report.personal_data(frames).set_index(["table", "column"])
    assert t.loc[("passengers", "first_name")].tolist() == [4, 2]
    assert t.loc[("passengers", "passport_number")].tolist() == [2, 1]
    assert t.loc[("sessions", "buyer.billing_details.phone_number")].tolist() == [2, 2]
    assert t.loc[("sessions", "buyer.billing_details.email_address")].tolist() == [1, 1]
    assert t.loc[("sessions", "payment_method.label")].tolist() == [1, 1]
    assert list(t.columns) == ["values", "sessions"]  # counts, never values
    text = t.to_string()
    assert "canary" not in text.lower()


def test_quality_overview(frames):
    t = report.quality_overview(frames)
    assert dict(t["sessions"]) == {
        "failing schema rules": 3, "legs out of time order": 1, "duplicate SKUs in the cart": 1,
        "amount of zero": 1, "cart item with a zero unit amount": 1, "amount differs from cart value": 1,
        "holding personal data": 4,
    }


def test_quality_checks_on_empty_frames():
    empty = SessionFrames()
    assert report.schema_failures(empty).empty
    assert report.schema_failures(empty, exact=True).empty
    assert report.duplicate_skus(empty).empty
    assert report.quality_overview(empty)["sessions"].sum() == 0
    assert report.personal_data(empty)["values"].sum() == 0
