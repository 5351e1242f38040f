"""The sandbox reads its rules from the OpenAPI document: request schemas, formats, pointers, response shapes, keys.

Responses are checked with the tests' own reading of the document (``helpers.document_errors``:
jsonschema's stock format checker), not with the sandbox's, and never with the toolkit's models.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import uuid
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec

from gr4vy_nb._data import api_document, sample_sessions_path
from gr4vy_nb.api.auth import thumbprint
from gr4vy_nb.sandbox import Sandbox
from gr4vy_nb.sandbox.document import FORMAT_CHECKER, contract, encode_pointer, is_date, is_date_time, is_uuid
from gr4vy_nb.sandbox.keys import jwk_of, kid_of
from tests.sandbox.helpers import (
    PAYMENT_METHOD,
    Headers,
    assert_gr4vy_error,
    assert_session_shape,
    document_errors,
    seeded_session,
    session_url,
    writes,
)
from tests.sandbox.test_app import AIRLINE_FULL, BUYER_FULL, CART_ITEM_FULL, FULL_UPDATE

# ---------------------------------------------------------------------- where the rules come from


def test_request_schemas_are_the_documents() -> None:
    paths = api_document()["paths"]
    put = paths["/checkout/sessions/{session_id}"]["put"]["requestBody"]["content"]["application/json"]["schema"]
    post = paths["/checkout/sessions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert put == {"$ref": "#/components/schemas/CheckoutSessionUpdate"}
    assert {"$ref": "#/components/schemas/CheckoutSessionUpdate"} in post["anyOf"]
    rules = contract()
    assert rules.update_validator.schema["$ref"].endswith("/put/requestBody/content/application~1json/schema")
    assert rules.create_validator.schema["$ref"].endswith("/post/requestBody/content/application~1json/schema")
    assert rules.update_only_fields == {"expires_in", "country", "is_subsequent_payment", "merchant_initiated",
                                        "payment_source", "intent"}
    assert rules.read_only_fields == {"type", "id", "expires_at", "payment_method"}


def _formats(node: Any) -> set[str]:
    if isinstance(node, dict):
        own = {node["format"]} if isinstance(node.get("format"), str) else set()
        return own.union(*(_formats(v) for v in node.values()))
    if isinstance(node, list):
        return set().union(*(_formats(v) for v in node))
    return set()


def test_every_format_of_the_document_is_checked() -> None:
    assert _formats(api_document()) <= set(FORMAT_CHECKER.checkers)
    assert {"uuid", "date-time", "date", "email"} <= set(FORMAT_CHECKER.checkers)


@pytest.mark.parametrize(("text", "ok"), [
    ("2024-07-16T19:23:00+00:00", True), ("2024-07-16T19:23:00Z", True), ("2024-07-16t19:23:00.123456z", True),
    ("2024-07-16T19:23:00.5-05:30", True), ("2016-12-31T23:59:60Z", True),
    ("2024-07-16T19:23:00", False), ("2024-07-16 19:23:00Z", False), ("2024-02-30T00:00:00Z", False),
    ("2024-07-16T24:00:00Z", False), ("2024-07-16T19:23:00+24:00", False), ("2024-07-16", False),
    ("2024-07-16T19:23Z", False), ("20240716T192300Z", False), ("2024-07-16T19:23:00+0000", False), (1700000000, False),
])
def test_date_time_format(text: Any, ok: bool) -> None:
    assert is_date_time(text) is ok
    if isinstance(text, str):  # a format says nothing of other types (the schema's "type" does)
        assert FORMAT_CHECKER.conforms(text, "date-time") is ok


@pytest.mark.parametrize(("text", "ok"), [
    ("1980-07-16", True), ("2024-02-29", True), ("2023-02-29", False), ("1980-7-16", False),
    ("1980-07-16T00:00:00Z", False), ("19800716", False), ("1980-13-01", False),
])
def test_date_format(text: str, ok: bool) -> None:
    assert is_date(text) is ok
    assert FORMAT_CHECKER.conforms(text, "date") is ok


@pytest.mark.parametrize(("text", "ok"), [
    ("8d3fe99b-1422-42e6-bbb3-932d95ae5f79", True), ("8D3FE99B-1422-42E6-BBB3-932D95AE5F79", True),
    ("8d3fe99b142242e6bbb3932d95ae5f79", False), ("{8d3fe99b-1422-42e6-bbb3-932d95ae5f79}", False),
    ("urn:uuid:8d3fe99b-1422-42e6-bbb3-932d95ae5f79", False), ("8d3fe99b-1422-42e6-bbb3-932d95ae5f79\n", False),
    ("8d3fe99b-1422-42e6-bbb3-932d95ae5f7", False),
])
def test_uuid_format(text: str, ok: bool) -> None:
    assert is_uuid(text) is ok
    assert FORMAT_CHECKER.conforms(text, "uuid") is ok


def test_email_format_is_checked() -> None:
    assert FORMAT_CHECKER.conforms("ada@example.com", "email")
    assert not FORMAT_CHECKER.conforms("ada.example.com", "email")


@pytest.mark.parametrize(("parts", "pointer"), [
    ((), ""), (("a/b~c",), "/a~1b~0c"), (("cart_items", 0, "tax_amount"), "/cart_items/0/tax_amount"),
    (("metadata", "~/"), "/metadata/~0~1"), (("",), "/"),
])
def test_pointer_encoding(parts: tuple[Any, ...], pointer: str) -> None:
    assert encode_pointer(parts) == pointer


def test_kid_is_the_rfc7638_thumbprint() -> None:
    key = ec.generate_private_key(ec.SECP521R1())
    # Computed a third way: PyJWT's JWK, serialised canonically.
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, sort_keys=True, separators=(",", ":"))
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    assert kid_of(key) == kid_of(key.public_key()) == expected == thumbprint(key)
    assert {k: jwk[k] for k in ("crv", "kty", "x", "y")} == jwk_of(key)


# ---------------------------------------------------------------------- validation details


@pytest.mark.parametrize(("payload", "pointers"), [
    ({"cart_items": [{"name": "x", "quantity": 1, "unit_amount": 1, "tax_amount": -1}]}, ["/cart_items/0/tax_amount"]),
    ({"airline": {"passengers": [{"first_name": "A"}, {"first_name": ""}]}}, ["/airline/passengers/1/first_name"]),
    ({"airline": {"legs": [{}, {}, {"departure_at": "tomorrow"}]}}, ["/airline/legs/2/departure_at"]),
    ({"buyer": {"shipping_details": {"address": {"state_code": "London"}}}},
     ["/buyer/shipping_details/address/state_code"]),
    ({"buyer": {"billing_details": {"tax_id": {"value": "1"}}}}, ["/buyer/billing_details/tax_id/kind"]),
    ({"metadata": {"a/b": 1, "ok": "x", "n~": None}}, ["/metadata/a~1b", "/metadata/n~0"]),
    ({"cart_items": [{"name": "x", "quantity": 1, "unit_amount": 1, "brand": 5, "subcategories": ["a", 1]}]},
     ["/cart_items/0/brand", "/cart_items/0/subcategories/1"]),
    ({"intent": "refund", "payment_source": "pos", "country": "gb", "merchant_initiated": "no"},
     ["/intent", "/payment_source", "/country", "/merchant_initiated"]),
    ({"type": "checkout-session", "expires_at": "2099-01-01T00:00:00Z"}, ["/type", "/expires_at"]),
])
def test_details_point_at_each_bad_field_in_body_order(payload: dict[str, Any], pointers: list[str]) -> None:
    details = contract().update_problems(payload)
    assert [d["pointer"] for d in details] == pointers
    assert all(d["location"] == "body" and d["message"] and d["type"] for d in details)
    assert contract().update_problems(copy.deepcopy(payload)) == details  # deterministic


def test_body_order_of_details_follows_the_body() -> None:
    first = {"currency": "x", "amount": -1, "cart_items": [{"quantity": 0, "unit_amount": 1, "name": ""}]}
    second = {"cart_items": [{"name": "", "unit_amount": 1, "quantity": 0}], "amount": -1, "currency": "x"}
    assert [d["pointer"] for d in contract().update_problems(first)] == [
        "/currency", "/amount", "/cart_items/0/quantity", "/cart_items/0/name"]
    assert [d["pointer"] for d in contract().update_problems(second)] == [
        "/cart_items/0/name", "/cart_items/0/quantity", "/amount", "/currency"]


def test_the_overlay_fields_are_accepted() -> None:
    item = {**CART_ITEM_FULL, "brand": "GoPro", "subcategories": ["action", "4k"]}
    assert contract().update_problems({"cart_items": [item]}) == []
    assert contract().session_problems({**seeded_session(), "cart_items": [item]}) == []


def test_full_bodies_are_valid_and_messages_never_echo_values() -> None:
    assert contract().update_problems(FULL_UPDATE) == []
    secret = "SECRET-VALUE-123"
    bad = {"currency": secret, "buyer": {"billing_details": {"phone_number": secret}}, "airline": {"issued_at": secret},
           "cart_items": [{"name": "x", "quantity": 1, "unit_amount": 1, "product_type": secret}]}
    details = contract().update_problems(bad)
    assert len(details) == 4 and secret not in json.dumps(details)


# ---------------------------------------------------------------------- every response shape


def _check(response: requests.Response, status: int, *, relaxed: bool = False) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert_session_shape(body, relaxed=relaxed)
    assert body["type"] == "checkout-session"
    return body


def test_every_response_shape_validates_against_the_document(sandbox_clean: Sandbox, http: requests.Session,
                                                             auth_headers: Headers) -> None:
    headers = auth_headers()
    # create: empty, full, a list of empty objects, null
    for payload in (b"", json.dumps(FULL_UPDATE).encode(), b"[{}]", b"null", b'{"amount": 5.0}'):
        _check(http.post(session_url(sandbox_clean), data=payload, headers={**headers,
                         "content-type": "application/json"}, timeout=10), 201)
    # seeded: with a card lacking its constants, with every nested object, with integral floats
    card = {k: v for k, v in PAYMENT_METHOD.items() if k not in ("type", "method")}
    seeded = [seeded_session(payment_method=card), seeded_session(amount=7.0, buyer=BUYER_FULL, airline=AIRLINE_FULL,
                                                                  cart_items=[CART_ITEM_FULL]),
              seeded_session(payment_method={"id": None, "details": None}, metadata={})]
    sandbox_clean.seed(seeded)
    for s in seeded:
        body = _check(http.get(session_url(sandbox_clean, s["id"]), headers=headers, timeout=10), 200)
        if s.get("payment_method"):
            assert body["payment_method"]["type"] == "payment-method" and body["payment_method"]["method"] == "card"
    assert http.get(session_url(sandbox_clean, seeded[1]["id"]), headers=headers, timeout=10).json()["amount"] == 7
    # updated: full, clearing, expiry only
    for payload in (FULL_UPDATE, {k: None for k in ("cart_items", "metadata", "buyer", "airline", "amount")},
                    {"expires_in": 86400}):
        _check(http.put(session_url(sandbox_clean, seeded[0]["id"]), json=payload, headers=headers, timeout=10), 200)
    # every sample session (the default seed, with real lifetimes)
    ids = [json.loads(line)["id"] for line in sample_sessions_path().read_text().splitlines() if line.strip()]
    for sid in ids:
        _check(http.get(session_url(sandbox_clean, sid), headers=headers, timeout=10), 200)
    # unknown_fields and newer_api answers: valid by the relaxed document (unknown fields allowed)
    sandbox_clean.configure(unknown_fields=True)
    _check(http.get(session_url(sandbox_clean, ids[0]), headers=headers, timeout=10), 200, relaxed=True)
    _check(http.post(session_url(sandbox_clean), json={}, headers=headers, timeout=10), 201, relaxed=True)
    sandbox_clean.configure(unknown_fields=False, newer_api=True)
    _check(http.put(session_url(sandbox_clean, ids[1]), json={"future": {"x": 1}, "buyer": {"nick": "A"}},
                    headers=headers, timeout=10), 200, relaxed=True)


@pytest.mark.parametrize(("method", "with_id", "payload", "status"), [
    ("GET", "unknown", None, 404), ("PUT", "bad", {}, 400), ("PUT", "known", {"amount": -1}, 400),
    ("POST", None, b"{", 400), ("PATCH", "known", {}, 405), ("GET", "known", None, 401),
])
def test_error_bodies_validate_against_the_document(existing: dict[str, Any], sandbox_clean: Sandbox,
                                                    http: requests.Session, auth_headers: Headers, method: str,
                                                    with_id: str | None, payload: Any, status: int) -> None:
    sid = {"unknown": str(uuid.uuid4()), "bad": "nope", "known": existing["id"], None: None}[with_id]
    headers = {} if status == 401 else auth_headers()
    data = payload if isinstance(payload, bytes) else (json.dumps(payload) if payload is not None else None)
    r = http.request(method, session_url(sandbox_clean, sid), data=data,
                     headers={**headers, "content-type": "application/json"}, timeout=10)
    body = assert_gr4vy_error(r, status)
    assert document_errors(body, f"Error{status}") == []
    assert writes(sandbox_clean) == {}
