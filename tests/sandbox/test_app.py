"""The sandbox's checkout-session endpoints and admin endpoints, over real HTTP.

Every rejected write is checked twice: the write counter of ``/_sandbox/stats`` did not
move, and a GET returns exactly the session as before.  How the store keeps sessions
(expiry, merchant accounts, concurrent writers) is in ``test_store.py``, seeding in
``test_seeding.py``, resets in ``test_state.py``, counters in ``test_asgi.py``.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import requests

from gr4vy_nb.sandbox import Sandbox
from gr4vy_nb.sandbox.app import MAX_BODY_BYTES
from gr4vy_nb.sandbox.store import RESPONSE_FIELDS
from tests.sandbox.helpers import (
    FAR_FUTURE,
    PAYMENT_METHOD,
    Headers,
    assert_gr4vy_error,
    assert_session_shape,
    parse_time,
    session_url,
    writes,
)

CART_ITEM_FULL = {
    "name": "GoPro HERO9 Camcorder", "quantity": 2, "unit_amount": 37999, "discount_amount": 100, "tax_amount": 250,
    "external_identifier": "item-789123", "sku": "sku-789123", "upc": "012345678905",
    "product_url": "https://example.com/items/gopro", "image_url": "https://example.com/images/gopro.png",
    "categories": ["cameras", "outdoor"], "product_type": "physical", "seller_country": "US", "tax_exempt": False,
    "unit_of_measure": "each", "commodity_code": "43211500", "duty_amount": 0, "shipping_amount": 500,
}


ADDRESS = {"city": "Fictionville", "country": "GB", "postal_code": "ZZ1 1ZZ", "state": "Greater Example",
           "state_code": "GB-LND", "house_number_or_name": "1", "line1": "1 Example Street", "line2": "Flat 2",
           "organization": "Example Ltd"}


BUYER_FULL = {
    "display_name": "Ada Example", "external_identifier": "buyer-1", "account_number": "ACC-1",
    "billing_details": {"first_name": "Ada", "last_name": "Example", "email_address": "ada@example.com",
                        "phone_number": "+441234567890", "address": ADDRESS,
                        "tax_id": {"value": "GB123456789", "kind": "gb.vat"}},
    "shipping_details": {"first_name": "Ada", "last_name": "Example", "email_address": "ada@example.com",
                         "phone_number": "+441234567890", "address": ADDRESS},
}


LEG_FULL = {
    "arrival_airport": "LAX", "arrival_at": "2099-01-01T10:00:00+00:00", "arrival_city": "Los Angeles",
    "arrival_country": "US", "carrier_code": "BA", "carrier_name": "British Airways", "iata_designator": "BA",
    "icao_code": "BAW", "coupon_number": "1", "departure_airport": "LHR",
    "departure_at": "2099-01-01T00:00:00.000+00:00", "departure_city": "London", "departure_country": "GB",
    "departure_tax_amount": 1000, "fare_amount": 50000, "fare_basis_code": "Y26", "fee_amount": 0, "flight_class": "E",
    "flight_number": "BA283", "route_type": "round_trip", "seat_class": "Y", "stop_over": False, "tax_amount": 2000,
}


PASSENGER_FULL = {
    "age_group": "adult", "date_of_birth": "1980-07-16", "email_address": "ada@example.com", "first_name": "Ada",
    "frequent_flyer_number": "BA1234567", "last_name": "Example", "passport_number": "X1234567",
    "phone_number": "+441234567890", "ticket_number": "125-1234567890", "country_code": "GB",
}


AIRLINE_FULL = {
    "booking_code": "X36Q9C", "is_cardholder_traveling": True, "issued_address": "1 Example Plaza",
    "issued_at": "2098-07-16T19:23:00.000+00:00", "issuing_carrier_code": "BA",
    "issuing_carrier_name": "British Airways", "issuing_iata_designator": "BA", "issuing_icao_code": "BAW",
    "legs": [LEG_FULL], "passenger_name_record": "JOHN L",
    "passengers": [PASSENGER_FULL], "reservation_system": "Amadeus", "restricted_ticket": False,
    "ticket_delivery_method": "other", "ticket_number": "125-1234567890", "travel_agency_code": "12345",
    "travel_agency_invoice_number": "EG15555155", "travel_agency_name": "Example Travel",
    "travel_agency_plan_name": "B733",
}


FULL_UPDATE = {
    "cart_items": [CART_ITEM_FULL], "metadata": {"order_ref": "ORD-1", "Null": "None"}, "buyer": BUYER_FULL,
    "airline": AIRLINE_FULL, "amount": 76248, "currency": "GBP",
    "payment_service_id": "fffd152a-9532-4087-9a4f-de58754210f0", "expires_in": 3600.0, "country": "GB",
    "is_subsequent_payment": False, "merchant_initiated": False, "payment_source": "ecommerce", "intent": "authorize",
}


# ---------------------------------------------------------------------- happy paths


def test_create_returns_201_with_documented_shape(sandbox_clean: Sandbox, http: requests.Session,
                                                  auth_headers: Headers) -> None:
    before = time.time()
    r = http.post(session_url(sandbox_clean), json={"amount": 100, "currency": "USD", "metadata": {"a": "b"}},
                  headers=auth_headers(), timeout=10)
    assert r.status_code == 201, r.text
    body = r.json()
    assert_session_shape(body)
    assert body["type"] == "checkout-session"
    assert uuid.UUID(body["id"]).version == 4
    assert body["amount"] == 100 and body["metadata"] == {"a": "b"}
    assert body["cart_items"] is None and body["buyer"] is None and body["payment_method"] is None
    assert before + 3600 - 1 <= parse_time(body["expires_at"]) <= time.time() + 3600 + 1
    assert r.headers["x-request-id"]
    got = http.get(session_url(sandbox_clean, body["id"]), headers=auth_headers(), timeout=10)
    assert got.status_code == 200 and got.json() == body
    assert writes(sandbox_clean) == {body["id"]: 1}


@pytest.mark.parametrize("payload", [None, b"", b"null", b"[]", b"[{}]"], ids=["no-body", "empty", "null", "list",
                                                                            "list-of-empty"])
def test_create_accepts_an_empty_body(sandbox_clean: Sandbox, http: requests.Session, auth_headers: Headers,
                                      payload: bytes | None) -> None:
    r = http.post(session_url(sandbox_clean), data=payload,
                  headers={**auth_headers(), "content-type": "application/json"}, timeout=10)
    assert r.status_code == 201, r.text
    body = r.json()
    assert_session_shape(body)
    assert all(body[f] is None for f in RESPONSE_FIELDS[3:])


def test_get_returns_the_seeded_session_verbatim(existing: dict[str, Any], sandbox_clean: Sandbox,
                                                 http: requests.Session, auth_headers: Headers) -> None:
    r = http.get(session_url(sandbox_clean, existing["id"]), headers=auth_headers(), timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert_session_shape(body)
    assert body["expires_at"] == FAR_FUTURE  # exactly as seeded
    assert body["payment_method"] == PAYMENT_METHOD
    assert {k: v for k, v in body.items() if v is not None} == {"type": "checkout-session", **existing}
    assert writes(sandbox_clean) == {}


def test_get_accepts_upper_case_ids(existing: dict[str, Any], sandbox_clean: Sandbox, http: requests.Session,
                                    auth_headers: Headers) -> None:
    r = http.get(session_url(sandbox_clean, existing["id"].upper()), headers=auth_headers(), timeout=10)
    assert r.status_code == 200 and r.json()["id"] == existing["id"]


def test_update_replaces_present_fields_clears_nulls_keeps_absent(existing: dict[str, Any], sandbox_clean: Sandbox,
                                                                  http: requests.Session,
                                                                  auth_headers: Headers) -> None:
    before = time.time()
    r = http.put(session_url(sandbox_clean, existing["id"]),
                 json={"metadata": {"ref": "B-2"}, "cart_items": None, "amount": 0}, headers=auth_headers(), timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert_session_shape(body)
    assert body["metadata"] == {"ref": "B-2"}  # replaced as a whole
    assert body["cart_items"] is None  # cleared
    assert body["amount"] == 0
    assert body["currency"] == "GBP"  # absent: kept
    assert body["payment_method"] == PAYMENT_METHOD  # read-only: kept
    # expires_in defaults to 3600: the update resets the expiry to one hour from now.
    assert before + 3600 - 1 <= parse_time(body["expires_at"]) <= time.time() + 3600 + 1
    assert http.get(session_url(sandbox_clean, existing["id"]), headers=auth_headers(), timeout=10).json() == body
    assert writes(sandbox_clean) == {existing["id"]: 1}


@pytest.mark.parametrize("expires_in", [3600.0, 3600, 7200.5, 86400])
def test_update_expires_in_sets_expires_at(existing: dict[str, Any], sandbox_clean: Sandbox, http: requests.Session,
                                           auth_headers: Headers, expires_in: float) -> None:
    before = time.time()
    r = http.put(session_url(sandbox_clean, existing["id"]), json={"expires_in": expires_in}, headers=auth_headers(),
                 timeout=10)
    assert r.status_code == 200, r.text
    assert before + expires_in - 1 <= parse_time(r.json()["expires_at"]) <= time.time() + expires_in + 1
    assert r.json()["metadata"] == existing["metadata"]


def test_create_with_expires_in(sandbox_clean: Sandbox, http: requests.Session, auth_headers: Headers) -> None:
    before = time.time()
    r = http.post(session_url(sandbox_clean), json={"expires_in": 86400.0}, headers=auth_headers(), timeout=10)
    assert r.status_code == 201
    assert before + 86400 - 1 <= parse_time(r.json()["expires_at"]) <= time.time() + 86400 + 1


def test_generated_client_style_full_update_round_trips(existing: dict[str, Any], sandbox_clean: Sandbox,
                                                        http: requests.Session, auth_headers: Headers) -> None:
    # A client generated from the OpenAPI document sends every field, expires_in as a float.
    r = http.put(session_url(sandbox_clean, existing["id"]), data=json.dumps(FULL_UPDATE),
                 headers={**auth_headers(), "content-type": "application/json", "accept": "application/json"},
                 timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert_session_shape(body)
    for name in ("cart_items", "metadata", "buyer", "airline", "amount", "currency", "payment_service_id"):
        assert body[name] == FULL_UPDATE[name], name
    # Update-only fields are accepted but are not session fields.
    assert "country" not in body and "intent" not in body
    created = http.post(session_url(sandbox_clean), json=FULL_UPDATE, headers=auth_headers(), timeout=10)
    assert created.status_code == 201
    assert_session_shape(created.json())


def test_delete_then_404(existing: dict[str, Any], sandbox_clean: Sandbox, http: requests.Session,
                         auth_headers: Headers) -> None:
    r = http.delete(session_url(sandbox_clean, existing["id"]), headers=auth_headers(), timeout=10)
    assert r.status_code == 204 and r.content == b""
    assert_gr4vy_error(http.get(session_url(sandbox_clean, existing["id"]), headers=auth_headers(), timeout=10), 404)
    assert_gr4vy_error(http.delete(session_url(sandbox_clean, existing["id"]), headers=auth_headers(), timeout=10), 404)
    assert writes(sandbox_clean) == {existing["id"]: 1}


# ---------------------------------------------------------------------- not found


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_unknown_session_is_404(sandbox_clean: Sandbox, http: requests.Session, auth_headers: Headers,
                                method: str) -> None:
    r = http.request(method, session_url(sandbox_clean, str(uuid.uuid4())), json={"amount": 1}, headers=auth_headers(),
                     timeout=10)
    assert_gr4vy_error(r, 404)
    assert writes(sandbox_clean) == {}


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1234", "8d3fe99b-1422-42e6-bbb3-932d95ae5f7", "%20"])
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_non_uuid_id_is_400_naming_the_path(sandbox_clean: Sandbox, http: requests.Session, auth_headers: Headers,
                                            bad_id: str, method: str) -> None:
    r = http.request(method, session_url(sandbox_clean, bad_id), json={"amount": 1}, headers=auth_headers(), timeout=10)
    body = assert_gr4vy_error(r, 400)
    assert "UUID" in body["message"]
    assert body["details"][0]["location"] == "path" and body["details"][0]["pointer"] == "/session_id"
    assert writes(sandbox_clean) == {}


# ---------------------------------------------------------------------- bad bodies


_BAD_BODIES: list[tuple[str, Any, list[str]]] = [
    # malformed JSON and non-objects
    ("malformed-json", b'{"amount": 1,', [""]),
    ("not-json", b"amount=1", [""]),
    ("empty-body", b"", [""]),
    ("null-body", b"null", [""]),
    ("list-body", b"[]", [""]),
    ("string-body", b'"hello"', [""]),
    # wrong types
    ("amount-as-text", {"amount": "100"}, ["/amount"]),
    ("amount-as-float", {"amount": 1.5}, ["/amount"]),
    ("amount-as-bool", {"amount": True}, ["/amount"]),
    ("cart-items-object", {"cart_items": {"name": "x"}}, ["/cart_items"]),
    ("quantity-float", {"cart_items": [{"name": "x", "quantity": 1.5, "unit_amount": 1}]}, ["/cart_items/0/quantity"]),
    ("metadata-number-value", {"metadata": {"k": 1}}, ["/metadata/k"]),
    ("bool-as-text", {"airline": {"is_cardholder_traveling": "yes"}}, ["/airline/is_cardholder_traveling"]),
    ("expires-in-text", {"expires_in": "3600"}, ["/expires_in"]),
    ("expires-in-null", {"expires_in": None}, ["/expires_in"]),
    ("datetime-as-number", {"airline": {"issued_at": 1700000000}}, ["/airline/issued_at"]),
    # constraints, one of each kind
    ("quantity-zero", {"cart_items": [{"name": "x", "quantity": 0, "unit_amount": 1}]}, ["/cart_items/0/quantity"]),
    ("amount-negative", {"cart_items": [{"name": "x", "quantity": 1, "unit_amount": -1}]},
     ["/cart_items/0/unit_amount"]),
    ("amount-over-max", {"amount": 100_000_000}, ["/amount"]),
    ("name-empty", {"cart_items": [{"name": "", "quantity": 1, "unit_amount": 1}]}, ["/cart_items/0/name"]),
    ("name-too-long", {"cart_items": [{"name": "x" * 256, "quantity": 1, "unit_amount": 1}]}, ["/cart_items/0/name"]),
    ("name-missing", {"cart_items": [{"quantity": 1, "unit_amount": 1}]}, ["/cart_items/0/name"]),
    ("category-too-long", {"cart_items": [{"name": "x", "quantity": 1, "unit_amount": 1, "categories": ["c" * 51]}]},
     ["/cart_items/0/categories/0"]),
    ("currency-pattern", {"currency": "usd"}, ["/currency"]),
    ("country-pattern", {"cart_items": [{"name": "x", "quantity": 1, "unit_amount": 1, "seller_country": "USA"}]},
     ["/cart_items/0/seller_country"]),
    ("phone-pattern", {"buyer": {"billing_details": {"phone_number": "01234 567890"}}},
     ["/buyer/billing_details/phone_number"]),
    ("email-too-long", {"buyer": {"billing_details": {"email_address": "a" * 321}}},
     ["/buyer/billing_details/email_address"]),
    ("uuid-pattern", {"payment_service_id": "not-a-uuid"}, ["/payment_service_id"]),
    ("product-type-enum", {"cart_items": [{"name": "x", "quantity": 1, "unit_amount": 1, "product_type": "food"}]},
     ["/cart_items/0/product_type"]),
    ("tax-id-kind-enum", {"buyer": {"billing_details": {"tax_id": {"value": "1", "kind": "xx.vat"}}}},
     ["/buyer/billing_details/tax_id/kind"]),
    ("flight-number-too-short", {"airline": {"legs": [{"flight_number": "AB"}]}}, ["/airline/legs/0/flight_number"]),
    ("fare-basis-too-long", {"airline": {"legs": [{"fare_basis_code": "ABCDEFGHI"}]}},
     ["/airline/legs/0/fare_basis_code"]),
    ("naive-datetime", {"airline": {"legs": [{"arrival_at": "2099-01-01T00:00:00"}]}}, ["/airline/legs/0/arrival_at"]),
    ("date-of-birth-datetime", {"airline": {"passengers": [{"date_of_birth": "1980-01-01T00:00:00Z"}]}},
     ["/airline/passengers/0/date_of_birth"]),
    ("expires-in-too-small", {"expires_in": 3599}, ["/expires_in"]),
    ("expires-in-too-large", {"expires_in": 86400.5}, ["/expires_in"]),
    ("21-legs", {"airline": {"legs": [{"carrier_code": "BA"}] * 21}}, ["/airline/legs"]),
    ("21-passengers", {"airline": {"passengers": [{"first_name": "A"}] * 21}}, ["/airline/passengers"]),
    # extra and read-only fields
    ("extra-top-level", {"amount": 1, "amount_cents": 1}, ["/amount_cents"]),
    ("extra-nested", {"buyer": {"nickname": "x"}}, ["/buyer/nickname"]),
    ("extra-in-list-item", {"cart_items": [{"name": "x", "quantity": 1, "unit_amount": 1, "colour": "red"}]},
     ["/cart_items/0/colour"]),
    ("read-only-payment-method", {"payment_method": PAYMENT_METHOD}, ["/payment_method"]),
    ("read-only-id", {"id": str(uuid.uuid4())}, ["/id"]),
    ("pointer-escaping", {"a/b~c": 1}, ["/a~1b~0c"]),
    # several problems at once are all reported
    ("two-errors", {"amount": -1, "currency": "x"}, ["/amount", "/currency"]),
]


@pytest.mark.parametrize(("payload", "pointers"), [(p, ptrs) for _, p, ptrs in _BAD_BODIES],
                         ids=[name for name, _, _ in _BAD_BODIES])
def test_bad_update_body_is_400_with_pointers_and_changes_nothing(existing: dict[str, Any], sandbox_clean: Sandbox,
                                                                  http: requests.Session, auth_headers: Headers,
                                                                  payload: Any, pointers: list[str]) -> None:
    headers = {**auth_headers(), "content-type": "application/json"}
    before = http.get(session_url(sandbox_clean, existing["id"]), headers=headers, timeout=10).json()
    data = payload if isinstance(payload, bytes) else json.dumps(payload)
    r = http.put(session_url(sandbox_clean, existing["id"]), data=data, headers=headers, timeout=10)
    body = assert_gr4vy_error(r, 400)
    assert body["code"] == "bad_request"
    assert sorted(d["pointer"] for d in body["details"]) == sorted(pointers)
    for detail in body["details"]:
        assert detail["location"] == "body" and detail["message"] and detail["type"]
    assert writes(sandbox_clean) == {}
    assert http.get(session_url(sandbox_clean, existing["id"]), headers=headers, timeout=10).json() == before


def test_bad_error_messages_do_not_echo_the_input(existing: dict[str, Any], sandbox_clean: Sandbox,
                                                  http: requests.Session, auth_headers: Headers) -> None:
    secret = "+44 SECRET-PHONE"
    r = http.put(session_url(sandbox_clean, existing["id"]),
                 json={"buyer": {"billing_details": {"phone_number": secret}}}, headers=auth_headers(), timeout=10)
    assert r.status_code == 400 and secret not in r.text


@pytest.mark.parametrize("payload", [{"amount": -1}, {"surprise": True}, b"{not json", b"[1]"],
                         ids=["constraint", "extra", "malformed", "list-of-non-empty"])
def test_bad_create_body_is_400_and_creates_nothing(sandbox_clean: Sandbox, http: requests.Session,
                                                    auth_headers: Headers, payload: Any) -> None:
    sessions_before = sandbox_clean.health()["sessions"]
    data = payload if isinstance(payload, bytes) else json.dumps(payload)
    r = http.post(session_url(sandbox_clean), data=data, headers={**auth_headers(), "content-type": "application/json"},
                  timeout=10)
    assert_gr4vy_error(r, 400)
    assert writes(sandbox_clean) == {}
    assert sandbox_clean.health()["sessions"] == sessions_before


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_oversized_body_is_413_and_changes_nothing(existing: dict[str, Any], sandbox_clean: Sandbox,
                                                   http: requests.Session, auth_headers: Headers,
                                                   method: str) -> None:
    headers = {**auth_headers(), "content-type": "application/json"}
    before = http.get(session_url(sandbox_clean, existing["id"]), headers=headers, timeout=10).json()
    sessions_before = sandbox_clean.health()["sessions"]
    # Valid JSON, just too big: the limit is on size, whatever the content.
    payload = json.dumps({"metadata": {"blob": "x" * MAX_BODY_BYTES}}).encode()
    target = session_url(sandbox_clean, existing["id"] if method == "PUT" else None)
    body = assert_gr4vy_error(http.request(method, target, data=payload, headers=headers, timeout=30), 413)
    assert "1 MiB" in body["message"]
    # Without a Content-Length (chunked upload), the limit holds too.
    chunks = (payload[i:i + 65536] for i in range(0, len(payload), 65536))
    assert_gr4vy_error(http.request(method, target, data=chunks, headers=headers, timeout=30), 413)
    assert writes(sandbox_clean) == {}
    assert sandbox_clean.health()["sessions"] == sessions_before
    assert http.get(session_url(sandbox_clean, existing["id"]), headers=headers, timeout=10).json() == before


def test_body_just_under_the_limit_is_accepted(existing: dict[str, Any], sandbox_clean: Sandbox,
                                               http: requests.Session, auth_headers: Headers) -> None:
    filler = "x" * (MAX_BODY_BYTES - 100)
    payload = json.dumps({"metadata": {"blob": filler}}).encode()
    assert len(payload) <= MAX_BODY_BYTES
    r = http.put(session_url(sandbox_clean, existing["id"]), data=payload,
                 headers={**auth_headers(), "content-type": "application/json"}, timeout=30)
    assert r.status_code == 200


# ---------------------------------------------------------------------- methods and paths


@pytest.mark.parametrize(("method", "with_id", "allowed"), [
    ("PATCH", True, {"GET", "PUT", "DELETE"}),
    ("POST", True, {"GET", "PUT", "DELETE"}),
    ("GET", False, {"POST"}),
    ("PUT", False, {"POST"}),
    ("DELETE", False, {"POST"}),
])
def test_wrong_method_is_405_gr4vy_shaped(existing: dict[str, Any], sandbox_clean: Sandbox, http: requests.Session,
                                          auth_headers: Headers, method: str, with_id: bool,
                                          allowed: set[str]) -> None:
    r = http.request(method, session_url(sandbox_clean, existing["id"] if with_id else None), json={},
                     headers=auth_headers(), timeout=10)
    body = assert_gr4vy_error(r, 405)
    assert body["code"] == "method_not_allowed"
    assert {m.strip() for m in r.headers["allow"].split(",")} == allowed
    assert writes(sandbox_clean) == {}


@pytest.mark.parametrize("path", ["/", "/checkout", "/checkout/sessions/", "/v1/checkout/sessions",
                                  "/checkout/sessions/8d3fe99b-1422-42e6-bbb3-932d95ae5f79/extra"])
def test_unknown_path_is_404_gr4vy_shaped(sandbox_clean: Sandbox, http: requests.Session, auth_headers: Headers,
                                          path: str) -> None:
    assert_gr4vy_error(http.get(sandbox_clean.base_url + path, headers=auth_headers(), timeout=10), 404)


def test_no_fastapi_422_or_docs_leak(sandbox_clean: Sandbox, http: requests.Session, auth_headers: Headers) -> None:
    for path in ("/docs", "/openapi.json", "/redoc"):
        assert_gr4vy_error(http.get(sandbox_clean.base_url + path, timeout=10), 404)
    r = http.put(session_url(sandbox_clean, str(uuid.uuid4())), data=b"\xff\xfe", headers=auth_headers(), timeout=10)
    assert_gr4vy_error(r, 400)


# ---------------------------------------------------------------------- admin endpoints


def test_expire_unknown_session_is_404(sandbox_clean: Sandbox, http: requests.Session) -> None:
    r = http.post(f"{sandbox_clean.base_url}/_sandbox/expire", json={"session_id": str(uuid.uuid4())}, timeout=10)
    assert_gr4vy_error(r, 404)
    assert_gr4vy_error(http.post(f"{sandbox_clean.base_url}/_sandbox/expire", json={}, timeout=10), 400)
    with pytest.raises(ValueError, match="404"):
        sandbox_clean.expire(str(uuid.uuid4()))


def test_health_and_public_key(sandbox: Sandbox, http: requests.Session, signer: Any) -> None:
    health = sandbox.health()
    assert health["status"] == "ok" and health["kid"] == signer.kid
    assert health["key_file"] == str(sandbox.private_key_file)
    assert health["max_body_bytes"] == MAX_BODY_BYTES
    key = http.get(f"{sandbox.base_url}/_sandbox/public-key", timeout=10).json()
    assert key["kid"] == signer.kid and set(key["jwk"]) == {"crv", "kty", "x", "y"}
    assert "d" not in key["jwk"] and "PRIVATE" not in json.dumps(health)
