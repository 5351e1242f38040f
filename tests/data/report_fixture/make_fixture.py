"""Write ``sessions.jsonl`` and ``run.csv``: the small hand-made fixture of the report tests.

Every number the report tests expect is worked out by hand from the values below (see the
comments); run this file to rewrite the fixture after editing them.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The tests take "now" as 2030-01-01T12:00:00+00:00.
S1, S2, S3, S4, S5, S6, S7 = (f"{d * 8}-{d * 4}-4{d * 3}-8{d * 3}-{d * 12}" for d in "1234567")

SESSIONS = [
    {  # S1: GBP retail, expires in 30 min; cart 2100 + 400 = 2500 == amount.
        "type": "checkout-session", "id": S1, "expires_at": "2030-01-01T12:30:00+00:00",
        "amount": 2500, "currency": "GBP", "metadata": {"channel": "web"},
        "cart_items": [
            {"name": "Mug", "quantity": 2, "unit_amount": 1000, "discount_amount": 100, "tax_amount": 200,
             "sku": "SKU-1", "categories": ["home", "kitchen"], "product_type": "physical", "seller_country": "GB"},
            {"name": "Shipping", "quantity": 1, "unit_amount": 400, "discount_amount": 0, "tax_amount": 0,
             "sku": "SHIP", "categories": ["shipping"], "product_type": "shipping_fee", "seller_country": "GB"},
        ],
        "buyer": {"display_name": "Canaryfirst Zzcanarylast",
                  "billing_details": {"first_name": "Canaryfirst", "last_name": "Zzcanarylast",
                                      "email_address": "canary.buyer@example.com", "phone_number": "+441632960123"}},
        "payment_method": {"type": "payment-method", "method": "card", "scheme": "visa", "label": "4242",
                           "details": {"card_type": "credit", "card_country": "GB",
                                       "card_issuer_name": "Example Bank"}},
    },
    {  # S2: EUR, amount 0; cart 6000 + 9500 + 0 = 15500; SKU-2 twice; a zero unit amount; a <script> name.
        "type": "checkout-session", "id": S2, "expires_at": "2030-01-01T15:00:00+00:00",
        "amount": 0, "currency": "EUR",
        "metadata": {"channel": "<img src=x onerror=alert(2)>", "campaign": "winter"},
        "cart_items": [
            {"name": "Lamp", "quantity": 1, "unit_amount": 5000, "discount_amount": 0, "tax_amount": 1000,
             "sku": "SKU-2", "categories": ["home"], "product_type": "physical", "seller_country": "DE"},
            {"name": "Lamp", "quantity": 2, "unit_amount": 5000, "discount_amount": 500, "tax_amount": 0,
             "sku": "SKU-2", "categories": ["home"], "product_type": "physical", "seller_country": "DE"},
            {"name": "<script>alert(1)</script>", "quantity": 1, "unit_amount": 0, "sku": "SKU-3",
             "product_type": "digital", "seller_country": "DE"},
        ],
        "payment_method": {"type": "payment-method", "method": "card", "scheme": "mastercard",
                           "details": {"card_type": "debit", "card_country": "NL",
                                       "card_issuer_name": "Demo Card Co"}},
    },
    {  # S3: USD airline round trip LHR->JFK->LHR, expires in 12 h; 2 legs, 2 passengers; legs in order.
        "type": "checkout-session", "id": S3, "expires_at": "2030-01-02T00:00:00+00:00",
        "amount": 60000, "currency": "USD",
        "airline": {
            "booking_code": "ABC123", "passenger_name_record": "ABC123",
            "legs": [
                {"departure_airport": "LHR", "arrival_airport": "JFK", "carrier_code": "BA",
                 "carrier_name": "British Airways", "departure_at": "2030-02-01T10:00:00+00:00",
                 "arrival_at": "2030-02-01T18:00:00+00:00", "fare_amount": 40000, "fee_amount": 1500,
                 "tax_amount": 5000, "departure_tax_amount": 1300, "route_type": "round_trip"},
                {"departure_airport": "JFK", "arrival_airport": "LHR", "carrier_code": "BA",
                 "carrier_name": "British Airways", "departure_at": "2030-02-10T20:00:00+00:00",
                 "arrival_at": "2030-02-11T08:00:00+00:00", "fare_amount": 10000, "fee_amount": 0,
                 "tax_amount": 3500, "route_type": "round_trip"},
            ],
            "passengers": [
                {"first_name": "Paxcanary", "last_name": "Travellerzz", "age_group": "adult",
                 "date_of_birth": "1980-05-05", "passport_number": "CANARYPP123456",
                 "email_address": "canary.pax@example.com", "phone_number": "+15551234567"},
                {"first_name": "Baby", "last_name": "Travellerzz", "age_group": "infant",
                 "date_of_birth": "2029-01-01", "passport_number": "CANARYPP654321"},
            ],
        },
        "buyer": {"billing_details": {"first_name": "Paxcanary", "last_name": "Travellerzz"}},
    },
    {  # S4: EUR airline, expired an hour ago; legs out of time order; a 256-character first name.
        "type": "checkout-session", "id": S4, "expires_at": "2030-01-01T11:00:00+00:00",
        "amount": 30000, "currency": "EUR",
        "airline": {
            "legs": [
                {"departure_airport": "AMS", "arrival_airport": "CDG", "carrier_code": "KL", "carrier_name": "KLM",
                 "departure_at": "2030-03-01T10:00:00+00:00", "arrival_at": "2030-03-01T09:00:00+00:00",
                 "fare_amount": 20000, "fee_amount": 2500, "tax_amount": 1000, "route_type": "one_way"},
                {"departure_airport": "CDG", "arrival_airport": "MAD", "carrier_code": "AF",
                 "carrier_name": "Air France", "departure_at": "2030-03-01T08:00:00+00:00",
                 "arrival_at": "2030-03-01T11:00:00+00:00", "fare_amount": 5000, "fee_amount": 0,
                 "tax_amount": 1500, "route_type": "one_way"},
            ],
            "passengers": [
                {"first_name": "Longcanaryname" + "x" * 242, "last_name": "Example", "age_group": "adult"},
                {"first_name": "Kid", "last_name": "Example"},
            ],
        },
    },
    {  # S5: rule breakers: currency "usd", amount as text, seller "gb", an empty category, a bad phone.
        "type": "checkout-session", "id": S5, "expires_at": "2030-01-03T12:00:00+00:00",
        "amount": "100", "currency": "usd",
        "cart_items": [
            {"name": "Gift card", "quantity": 1, "unit_amount": 100, "discount_amount": 0, "tax_amount": 0,
             "sku": "GC", "categories": ["gifts", ""], "product_type": "gift_card", "seller_country": "gb"},
        ],
        "buyer": {"billing_details": {"phone_number": "0044-CANARY-PHONE"}},
        "metadata": {"channel": "web"},
    },
    {  # S6: no expiry, no currency, no amount; one line of 3 x 100 (no discount, no tax) = 300.
        "type": "checkout-session", "id": S6,
        "cart_items": [{"name": "Socks", "quantity": 3, "unit_amount": 100, "sku": "SKU-1", "categories": ["home"]}],
    },
    {  # S7: bare JPY session expiring in 100 days, with a field from a newer API version.
        "type": "checkout-session", "id": S7, "expires_at": "2030-04-11T12:00:00+00:00", "currency": "JPY",
        "new_api_field": "tolerated",
    },
]

# The run fixture (run frame contract), timings in seconds after 2030-01-01T12:00:00Z.
RUN = [
    # id, status, attempts, http, code, message, field, started, finished
    (S1, "succeeded", 1, 200, "", "", "", 0.0, 0.5),
    (S2, "succeeded", 3, 200, "", "", "", 0.2, 4.2),
    (S3, "failed", 1, 400, "bad_request", "Request failed validation", "cart_items.name", 1.0, 1.25),
    (S4, "failed", 2, 422, "bad_request", "Request failed validation",
     "airline.passengers.first_name,currency", 1.5, 3.5),
    (S5, "conflict", 1, "", "", "changed since the plan", "", 2.0, 2.1),
    (S6, "failed", 4, 503, "service_unavailable", "Request could not be processed", "", 2.0, 12.0),
    (S7, "unprocessed", 0, "", "", "", "", "", ""),
]


def main() -> None:
    with (HERE / "sessions.jsonl").open("w", encoding="utf-8", newline="\n") as fh:
        for s in SESSIONS:
            fh.write(json.dumps(s, ensure_ascii=False, separators=(",", ":")) + "\n")
    with (HERE / "run.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["checkout_session_id", "status", "attempts", "http_status", "error_code", "error_message",
                    "error_field", "started_at", "finished_at"])
        base = 1893499200  # 2030-01-01T12:00:00Z
        for sid, status, attempts, http, code, msg, fld, start, end in RUN:
            def ts(x: object) -> str:
                return "" if x == "" else datetime.fromtimestamp(base + float(x), UTC).isoformat()  # type: ignore[arg-type]
            w.writerow([sid, status, attempts, http, code, msg, fld, ts(start), ts(end)])


if __name__ == "__main__":
    main()
