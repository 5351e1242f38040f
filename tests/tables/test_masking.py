"""Masking: personal data hidden, values still distinguishable, nothing reversible without the key."""

from __future__ import annotations

import datetime as dt
import re

import orjson
import pandas as pd
import pytest

from gr4vy_nb.tables import masking
from gr4vy_nb.tables.frames import flatten_sessions
from gr4vy_nb.tables.masking import is_personal, mask_frame, mask_style, mask_value

TAG = r"#[a-z2-7]{6}"


@pytest.fixture(autouse=True)
def fixed_key():
    masking.set_mask_key("test-key")
    yield
    masking.set_mask_key(None)


@pytest.mark.parametrize("column,value,pattern", [
    ("first_name", "Jürgen", rf"^J\*\*\* {TAG}$"),
    ("buyer.billing_details.last_name", "O'Brien", rf"^O\*\*\* {TAG}$"),
    ("email_address", "ana.silva@example.co.uk", rf"^a\*\*\*@\*\*\*\.uk {TAG}$"),
    ("phone_number", "+441234567890", rf"^\+44\*{{8}}90 {TAG}$"),
    ("passport_number", "P12345678", rf"^\*\*\*78 {TAG}$"),
    ("buyer.billing_details.address.postal_code", "EC1A 1BB", rf"^EC\*\*\* {TAG}$"),
    ("buyer.billing_details.address.line1", "1 High Street", rf"^1\*\*\* {TAG}$"),
    ("date_of_birth", "1985-03-04", rf"^1985-\*\*-\*\* {TAG}$"),
    ("payment_method.fingerprint", "a1b2c3d4e5f6", rf"^{TAG}$"),
    ("payment_method.details.bin", "411111", rf"^4\*\*\*\*\* {TAG}$"),
    ("payment_method.label", "1111", rf"^\*\*\* {TAG}$"),
    ("buyer.billing_details.tax_id.value", "GB123456789", rf"^\*\*\*89 {TAG}$"),
    ("airline.ticket_number", "125-1234567890", rf"^\*\*\*90 {TAG}$"),
    ("frequent_flyer_number", "FF1234567", rf"^\*\*\*67 {TAG}$"),
])
def test_styles(column, value, pattern):
    masked = mask_value(column, value)
    assert re.match(pattern, masked), masked
    assert value not in masked


def test_masks_are_stable_distinct_and_keyed():
    a1, a2, b = mask_value("last_name", "Smith"), mask_value("last_name", "Smith"), mask_value("last_name", "Smyth")
    assert a1 == a2 and a1 != b and a1[:4] == b[:4]
    masking.set_mask_key("another key")
    assert mask_value("last_name", "Smith") != a1
    tags = {mask_value("passport_number", f"P{i:08d}").split()[-1] for i in range(5000)}
    assert len(tags) == 5000  # 30-bit tags: no collision among thousands of values


def test_short_values_reveal_nothing():
    assert re.match(rf"^\*\*\* {TAG}$", mask_value("first_name", "A"))
    assert mask_value("passport_number", "P1").startswith("*** ")
    assert mask_value("phone_number", "+4412").startswith("*** ")


def test_non_personal_and_missing_values_pass_through():
    assert mask_value("currency", "GBP") == "GBP"
    assert mask_value("metadata.order_ref", "ORD-1") == "ORD-1"
    assert mask_value("last_name", None) is None and mask_value("last_name", pd.NA) is pd.NA
    assert mask_value("date_of_birth", dt.date(1990, 1, 2)).startswith("1990-**-**")


@pytest.mark.parametrize("column,table,style", [
    ("/airline/passengers/3/first_name", None, "name"), ("airline.passengers.0.passport_number", None, "id"),
    ("passengers.email_address", None, "email"), ("buyer.billing_details.phone_number", None, "phone"),
    ("/buyer/shipping_details/address/city", None, "text"), ("first_name", "passengers", "name"),
    ("ticket_number", "passengers", "id"), ("airline.ticket_number", "sessions", "id"),
    ("departure_airport", "legs", None), ("cart_items.0.name", None, None), ("extra", "legs", "json"),
])
def test_columns_and_paths_resolve_to_their_style(column, table, style):
    assert mask_style(column, table) == style
    assert is_personal(column, table) == (style is not None)


def test_extra_is_masked_keeping_its_keys():
    text = orjson.dumps({"middle_name": "Maria", "loyalty": {"tier": "gold", "points": 12}, "ok": True}).decode()
    masked = orjson.loads(mask_value("extra", text, "passengers"))
    assert set(masked) == {"middle_name", "loyalty", "ok"} and masked["ok"] is True
    assert "Maria" not in str(masked) and "gold" not in str(masked)
    assert re.match(rf"^\*\*\* {TAG}$", masked["loyalty"]["points"])


def test_mask_frame_masks_every_personal_column_and_nothing_else():
    x = {"id": "4d645fa6-d13c-413a-82f8-eda197b1165f", "expires_at": "2030-01-01T00:00:00Z", "amount": 5,
         "buyer": {"display_name": "Ana Silva", "billing_details": {"email_address": "ana@example.com",
                                                                     "address": {"city": "Lisbon", "country": "PT"}}},
         "airline": {"passengers": [{"first_name": "Ana", "date_of_birth": "1985-03-04", "age_group": "adult"},
                                    {"first_name": "Ana", "date_of_birth": "1990-05-06"}]}}
    frames = flatten_sessions([x])
    masked = frames.masked()
    for table, df in frames.tables().items():
        out = mask_frame(table, df)
        for column in df.columns:
            if is_personal(column, table) and df[column].notna().any():
                assert out[column].dtype == "string"
                for raw, hidden in zip(df[column].dropna(), out[column].dropna(), strict=True):
                    assert str(raw) not in hidden
            elif column != "extra":
                assert out[column].equals(df[column])
        assert out.equals(masked[table])
    names = masked.passengers["first_name"]
    assert names.iloc[0] == names.iloc[1]  # same value, same mask: still groups and joins
    assert masked.sessions["buyer.billing_details.address.country"].tolist() == ["PT"]
    assert masked.passengers["age_group"].tolist()[0] == "adult"


def test_unmasked_turns_mask_value_off_for_a_block_only():
    from gr4vy_nb.problems import Problems
    from gr4vy_nb.tables.masking import mask_value, masking_on, unmasked

    assert mask_value("first_name", "Zoltan", "passengers") != "Zoltan"
    with unmasked():
        assert not masking_on() and mask_value("first_name", "Zoltan", "passengers") == "Zoltan"
        found = Problems(mask=mask_value)
        found.add("pattern", "'Zoltan' is wrong", column="first_name", value="Zoltan", table="passengers")
        assert found.rows[0]["message"] == "'Zoltan' is wrong" and found.rows[0]["value"] == "Zoltan"
    with unmasked(False):
        assert masking_on()
    assert masking_on() and mask_value("first_name", "Zoltan", "passengers") != "Zoltan"


def test_a_personal_date_in_the_wrong_order_is_not_quoted_reordered():
    import pyarrow as pa

    from gr4vy_nb.tables import spec as F
    from gr4vy_nb.tables.cells import typed_array

    _, problems = typed_array(F.field_for("passengers", "date_of_birth"), pa.array(["14/03/2062"]))
    assert "2062-03-14" not in problems[0][2] and "year first" in problems[0][2]
