"""The official Python SDK (``gr4vy`` 2.4.27) as a judge of the sandbox.

The SDK signs its own ES512 tokens with the sandbox's key, sends its own serialisation of the
request models and parses the answers into its own typed models and error classes; nothing
of the toolkit (client, auth, schema) takes part.  Bodies come from Gr4vy's API page and from
the vendored document (see :mod:`tests.oracles.bodies`).

Fields the SDK's generator skips (``x-speakeasy-ignore`` in the document: ``country``,
``is_subsequent_payment``, ``merchant_initiated``, ``payment_source``, ``intent``) cannot be
sent through the SDK; ``test_sdk_lacks_speakeasy_ignored_field`` pins that, and the
schemathesis judge (``test_schemathesis.py``) covers those fields.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from gr4vy import Gr4vy, auth, errors, models
from gr4vy.auth import JWTScope
from gr4vy.types import UNSET_SENTINEL
from gr4vy.utils import RetryConfig

from gr4vy_nb.sandbox import Sandbox
from tests.oracles import bodies
from tests.oracles.support import MERCHANT, SdkFactory

UPDATE = bodies.schemas()["CheckoutSessionUpdate"]["properties"]
SDK_CREATE_FIELDS = set(models.CheckoutSessionCreate.model_fields)
SPEAKEASY_IGNORED = sorted(name for name, prop in UPDATE.items() if prop.get("x-speakeasy-ignore"))
SDK_FIELDS = [name for name in UPDATE if name not in SPEAKEASY_IGNORED]
"""The top-level body fields the SDK can send, in document order."""
NULLABLE_SDK_FIELDS = [name for name in SDK_FIELDS if bodies.nullable(UPDATE[name])]
RESPONSE_FIELDS = set(bodies.schemas()["CheckoutSession"]["properties"])
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
MALFORMED_ID = "not-a-uuid"


# ---------------------------------------------------------------------- helpers


def sdk_body(body: dict[str, Any]) -> dict[str, Any]:
    """``body`` without the fields the SDK cannot send."""
    return {key: value for key, value in body.items() if key in SDK_CREATE_FIELDS}


def prune(value: Any) -> Any:
    """A typed model's JSON with the unset and null entries dropped (absent and null mean the same here)."""
    if isinstance(value, dict):
        return {k: prune(v) for k, v in value.items() if v is not None and v != UNSET_SENTINEL}
    if isinstance(value, list):
        return [prune(v) for v in value]
    return value


def typed_sent(body: dict[str, Any]) -> dict[str, Any]:
    """What the SDK's typed request model makes of ``body``, as JSON."""
    return prune(models.CheckoutSessionCreate.model_validate(body).model_dump(mode="json", by_alias=True))


def typed_received(session: models.CheckoutSession) -> dict[str, Any]:
    return prune(session.model_dump(mode="json", by_alias=True))


def at(document: Any, pointer: str) -> Any:
    for part in pointer.strip("/").split("/"):
        document = document[int(part)] if isinstance(document, list) else document[part]
    return document


def leaf_pointers(value: Any, prefix: str = "") -> list[str]:
    if isinstance(value, dict) and value:
        return [p for k, v in value.items() for p in leaf_pointers(v, f"{prefix}/{k}")]
    if isinstance(value, list) and value:
        return [p for i, v in enumerate(value) for p in leaf_pointers(v, f"{prefix}/{i}")]
    return [prefix]


def last_body(sent: list[httpx.Request]) -> dict[str, Any]:
    return json.loads(sent[-1].content)  # type: ignore[no-any-return]


FULL = bodies.full_body()
FULL_SDK = sdk_body(FULL)
ROUND_TRIP_POINTERS = [p for p in leaf_pointers(typed_sent(FULL_SDK)) if p.split("/")[1] in RESPONSE_FIELDS]
"""Every leaf of the full body that ``CheckoutSession`` answers with (all but ``expires_in``)."""


@pytest.fixture(scope="module")
def full_created(sdk: Gr4vy) -> models.CheckoutSession:
    return sdk.checkout_sessions.create(checkout_session_create=FULL_SDK)


@pytest.fixture(scope="module")
def full_fetched(sdk: Gr4vy, full_created: models.CheckoutSession) -> models.CheckoutSession:
    return sdk.checkout_sessions.get(session_id=full_created.id)


# ---------------------------------------------------------------------- the bodies themselves


def test_page_example_is_valid_per_document() -> None:
    body = bodies.page_example_body()
    assert set(body) == {"cart_items", "metadata", "airline"}
    assert bodies.validate_against("CheckoutSessionUpdate", body) == []


def test_full_body_is_valid_per_document() -> None:
    assert bodies.validate_against("CheckoutSessionUpdate", FULL) == []


@pytest.mark.parametrize("pointer", ["/cart_items/0/description", "/cart_items/0/brand", "/cart_items/0/subcategories",
                                     "/airline/passengers/0/title", "/buyer/billing_details/tax_id/kind",
                                     "/buyer/shipping_details/address/line2", "/airline/legs/0/seat_class"])
def test_full_body_has_field(pointer: str) -> None:
    at(FULL, pointer)


@pytest.mark.parametrize("field", SPEAKEASY_IGNORED)
def test_sdk_lacks_speakeasy_ignored_field(field: str) -> None:
    assert field not in SDK_CREATE_FIELDS


# ---------------------------------------------------------------------- create and read back


def test_create_page_example(sdk: Gr4vy, sent: list[httpx.Request]) -> None:
    body = bodies.page_example_body()
    created = sdk.checkout_sessions.create(checkout_session_create=body)
    assert sent[-1].method == "POST" and sent[-1].headers["x-gr4vy-merchant-account-id"] == MERCHANT
    assert created.TYPE == "checkout-session"
    uuid.UUID(created.id)
    fetched = sdk.checkout_sessions.get(session_id=created.id)
    expected = typed_sent(body)
    expected.pop("expires_in")
    for answer in (created, fetched):
        got = typed_received(answer)
        assert {k: got.get(k) for k in expected} == expected


def test_create_full_answers_201_typed(full_created: models.CheckoutSession) -> None:
    assert isinstance(full_created, models.CheckoutSession)
    assert full_created.TYPE == "checkout-session"
    uuid.UUID(full_created.id)


@pytest.mark.parametrize("pointer", ROUND_TRIP_POINTERS)
def test_create_full_round_trips(pointer: str, full_created: models.CheckoutSession,
                                 full_fetched: models.CheckoutSession) -> None:
    expected = at(typed_sent(FULL_SDK), pointer)
    assert at(typed_received(full_created), pointer) == expected, "in the create answer"
    assert at(typed_received(full_fetched), pointer) == expected, "in the get answer"


def test_create_full_expires_in(full_created: models.CheckoutSession, full_fetched: models.CheckoutSession) -> None:
    expected = datetime.now(UTC) + timedelta(seconds=FULL["expires_in"])
    assert abs((full_created.expires_at - expected).total_seconds()) < 120
    assert full_fetched.expires_at == full_created.expires_at


def test_create_without_body(sdk: Gr4vy) -> None:
    created = sdk.checkout_sessions.create()
    assert sdk.checkout_sessions.get(session_id=created.id).id == created.id


# ---------------------------------------------------------------------- update, one field at a time


def _alternative(field: str) -> Any:
    """A valid value for ``field`` different from the full body's."""
    page = bodies.page_example_body()
    if field in page:
        return page[field]
    if field == "buyer":
        buyer = copy.deepcopy(FULL["buyer"])
        buyer["display_name"] = "Jane Roe"
        buyer["billing_details"]["address"]["city"] = "Leeds"
        return buyer
    if field == "amount":
        return FULL["amount"] + 1
    if field == "currency":
        return next(c for c in bodies.non_null_branch(UPDATE["currency"])["examples"] if c != FULL["currency"])
    if field == "payment_service_id":
        return str(uuid.UUID(int=uuid.UUID(FULL["payment_service_id"]).int + 1))
    if field == "expires_in":
        return 7200
    raise AssertionError(f"no alternative value for {field}")


@pytest.mark.parametrize("field", SDK_FIELDS)
def test_update_field_changes_it(field: str, sdk: Gr4vy, sent: list[httpx.Request]) -> None:
    created = sdk.checkout_sessions.create(checkout_session_create=FULL_SDK)
    value = _alternative(field)
    updated = sdk.checkout_sessions.update(session_id=created.id, **{field: value})
    assert sent[-1].method == "PUT" and field in last_body(sent)
    fetched = sdk.checkout_sessions.get(session_id=created.id)
    if field == "expires_in":
        expected = datetime.now(UTC) + timedelta(seconds=value)
        assert abs((updated.expires_at - expected).total_seconds()) < 120
        assert fetched.expires_at == updated.expires_at
        return
    expected = typed_sent({field: value})[field]
    assert expected != typed_sent(FULL_SDK)[field]
    assert typed_received(updated).get(field) == expected, "in the update answer"
    assert typed_received(fetched).get(field) == expected, "in the get answer"


@pytest.mark.parametrize("field", NULLABLE_SDK_FIELDS)
def test_update_null_clears_field(field: str, sdk: Gr4vy, sent: list[httpx.Request]) -> None:
    created = sdk.checkout_sessions.create(checkout_session_create=FULL_SDK)
    assert getattr(created, field) is not None
    # None (not UNSET) is an explicit null: the SDK puts "field": null on the wire.
    updated = sdk.checkout_sessions.update(session_id=created.id, **{field: None})
    body = last_body(sent)
    assert field in body and body[field] is None
    assert set(body) == {field, "expires_in"}, "UNSET fields are left out"
    assert getattr(updated, field) is None
    assert getattr(sdk.checkout_sessions.get(session_id=created.id), field) is None


# ---------------------------------------------------------------------- typed errors


BAD_BODIES: dict[str, tuple[dict[str, Any], str]] = {
    "currency-lowercase": ({"currency": "usd"}, "/currency"),
    "amount-too-big": ({"amount": 100_000_000}, "/amount"),
    "amount-negative": ({"amount": -1}, "/amount"),
    "expires_in-too-short": ({"expires_in": 60}, "/expires_in"),
    "expires_in-too-long": ({"expires_in": 86401}, "/expires_in"),
    "cart-quantity-zero": ({"cart_items": [{"name": "Mug", "quantity": 0, "unit_amount": 100}]},
                           "/cart_items/0/quantity"),
    "cart-name-empty": ({"cart_items": [{"name": "", "quantity": 1, "unit_amount": 100}]}, "/cart_items/0/name"),
    "payment_service_id-not-uuid": ({"payment_service_id": "not-a-uuid"}, "/payment_service_id"),
    "address-country-lowercase": ({"buyer": {"billing_details": {"address": {"country": "usa"}}}},
                                  "/buyer/billing_details/address/country"),
    "too-many-legs": ({"airline": {"legs": [{"flight_number": "101"}] * 21}}, "/airline/legs"),
}


@pytest.mark.parametrize("operation", ["create", "update"])
@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_body_is_error400(case: str, operation: str, sdk: Gr4vy) -> None:
    body, pointer = BAD_BODIES[case]
    assert bodies.validate_against("CheckoutSessionUpdate", body), "the document itself must reject the body"
    with pytest.raises(errors.Error400) as caught:
        if operation == "create":
            sdk.checkout_sessions.create(checkout_session_create=body)
        else:
            created = sdk.checkout_sessions.create()
            sdk.checkout_sessions.update(session_id=created.id, **body)
    data = caught.value.data
    assert caught.value.status_code == 400
    assert (data.TYPE, data.code, data.status) == ("error", "bad_request", 400)
    assert data.details, "a 400 names what was wrong"
    assert [(d.location, d.pointer) for d in data.details if d.pointer == pointer] == [("body", pointer)], \
        [d.model_dump() for d in data.details]


def _call(sdk: Gr4vy, operation: str, session_id: str) -> Any:
    if operation == "create":
        return sdk.checkout_sessions.create(checkout_session_create={"metadata": {"k": "v"}})
    if operation == "get":
        return sdk.checkout_sessions.get(session_id=session_id)
    if operation == "update":
        return sdk.checkout_sessions.update(session_id=session_id, metadata={"k": "v"})
    return sdk.checkout_sessions.delete(session_id=session_id)


@pytest.fixture
def existing_id(sdk: Gr4vy) -> str:
    return sdk.checkout_sessions.create(checkout_session_create={"metadata": {"k": "v"}}).id


@pytest.mark.parametrize("operation", ["create", "get", "update", "delete"])
def test_wrong_key_is_error401(operation: str, sdk_client: SdkFactory, other_key_pem: str, existing_id: str) -> None:
    with pytest.raises(errors.Error401) as caught:
        _call(sdk_client(key=other_key_pem), operation, existing_id)
    assert caught.value.status_code == 401
    assert (caught.value.data.TYPE, caught.value.data.code, caught.value.data.status) == ("error", "unauthorized", 401)


@pytest.mark.parametrize("operation", ["create", "get", "update", "delete"])
def test_expired_token_is_error401(operation: str, oracle_sandbox: Sandbox, private_key_pem: str,
                                   existing_id: str) -> None:
    with httpx.Client(trust_env=False) as client:
        sdk = Gr4vy(server_url=oracle_sandbox.base_url, merchant_account_id=MERCHANT, client=client,
                    bearer_auth=auth.get_token(private_key_pem, expires_in=-3600))
        with pytest.raises(errors.Error401) as caught:
            _call(sdk, operation, existing_id)
    assert caught.value.data.code == "unauthorized"


READ_ONLY = [JWTScope.CHECKOUT_SESSIONS_READ]
WRITE_ONLY = [JWTScope.CHECKOUT_SESSIONS_WRITE]


@pytest.mark.parametrize("operation", ["create", "update", "delete"])
def test_read_only_token_cannot_write_error403(operation: str, sdk_client: SdkFactory, existing_id: str) -> None:
    with pytest.raises(errors.Error403) as caught:
        _call(sdk_client(scopes=READ_ONLY), operation, existing_id)
    assert caught.value.status_code == 403
    assert (caught.value.data.TYPE, caught.value.data.code, caught.value.data.status) == ("error", "forbidden", 403)


def test_read_only_token_can_read(sdk_client: SdkFactory, existing_id: str) -> None:
    assert sdk_client(scopes=READ_ONLY).checkout_sessions.get(session_id=existing_id).id == existing_id


def test_write_only_token_cannot_read_error403(sdk_client: SdkFactory, existing_id: str) -> None:
    with pytest.raises(errors.Error403):
        sdk_client(scopes=WRITE_ONLY).checkout_sessions.get(session_id=existing_id)


@pytest.mark.parametrize("operation", ["get", "update", "delete"])
def test_unknown_id_is_error404(operation: str, sdk: Gr4vy) -> None:
    with pytest.raises(errors.Error404) as caught:
        _call(sdk, operation, UNKNOWN_ID)
    assert caught.value.status_code == 404
    assert (caught.value.data.TYPE, caught.value.data.code, caught.value.data.status) == ("error", "not_found", 404)


@pytest.mark.parametrize("operation", ["get", "update", "delete"])
def test_malformed_id_is_error400(operation: str, sdk: Gr4vy) -> None:
    # Gr4vy answers its own 400 shape for a path that fails validation (the document's 422 is
    # FastAPI's default and never Gr4vy's answer; see test_schemathesis.py).
    with pytest.raises(errors.Error400) as caught:
        _call(sdk, operation, MALFORMED_ID)
    data = caught.value.data
    assert (data.code, data.status) == ("bad_request", 400)
    assert [(d.location, d.pointer) for d in data.details or []] == [("path", "/session_id")]


@pytest.mark.parametrize("then", ["get", "update", "delete"])
def test_delete_then_error404(then: str, sdk: Gr4vy, existing_id: str) -> None:
    assert sdk.checkout_sessions.delete(session_id=existing_id) is None
    with pytest.raises(errors.Error404):
        _call(sdk, then, existing_id)


def test_expired_session_is_error404(sdk: Gr4vy, oracle_sandbox: Sandbox, existing_id: str) -> None:
    oracle_sandbox.expire(existing_id, merchant_account_id=MERCHANT)
    with pytest.raises(errors.Error404):
        sdk.checkout_sessions.get(session_id=existing_id)


def test_other_merchant_cannot_see_session(sdk: Gr4vy, existing_id: str) -> None:
    # Another merchant account must not see the session; the document does not say which of
    # its errors the real API picks for a merchant the caller has no session under.
    with pytest.raises((errors.Error403, errors.Error404)):
        sdk.checkout_sessions.get(session_id=existing_id, merchant_account_id="another-merchant")
    assert sdk.checkout_sessions.get(session_id=existing_id).id == existing_id


def test_no_merchant_header_means_default(oracle_sandbox: Sandbox, private_key_pem: str, sent: list[httpx.Request],
                                          sdk: Gr4vy, monkeypatch: pytest.MonkeyPatch) -> None:
    # The header is optional in the document (required: false); without it the default merchant acts.
    monkeypatch.delenv("GR4VY_MERCHANT_ACCOUNT_ID", raising=False)
    with httpx.Client(trust_env=False, event_hooks={"request": [sent.append]}) as client:
        bare = Gr4vy(server_url=oracle_sandbox.base_url, client=client, bearer_auth=auth.with_token(private_key_pem))
        created = bare.checkout_sessions.create(checkout_session_create={"metadata": {"k": "v"}})
        assert "x-gr4vy-merchant-account-id" not in sent[-1].headers
    assert sdk.checkout_sessions.get(session_id=created.id).id == created.id  # sdk acts for "default"


@pytest.mark.parametrize(("field", "empty"), [("cart_items", []), ("metadata", {})])
def test_update_empty_collection_is_kept(field: str, empty: Any, sdk: Gr4vy) -> None:
    created = sdk.checkout_sessions.create(checkout_session_create=FULL_SDK)
    updated = sdk.checkout_sessions.update(session_id=created.id, **{field: empty})
    assert getattr(updated, field) == empty
    assert getattr(sdk.checkout_sessions.get(session_id=created.id), field) == empty


def _sample_sessions(n: int) -> list[dict[str, Any]]:
    from gr4vy_nb._data import sample_sessions_path

    lines = [json.loads(line) for line in sample_sessions_path().read_text(encoding="utf-8").splitlines() if line]
    with_card = [s for s in lines if s.get("payment_method")][: n // 2]
    without = [s for s in lines if not s.get("payment_method")][: n - len(with_card)]
    return with_card + without


SAMPLES = _sample_sessions(8)


@pytest.fixture(scope="module")
def seeded_samples(oracle_sandbox: Sandbox) -> list[dict[str, Any]]:
    oracle_sandbox.seed(SAMPLES, merchant_account_id=MERCHANT)
    return SAMPLES


@pytest.mark.parametrize("index", range(len(SAMPLES)), ids=[s["id"][:8] for s in SAMPLES])
def test_seeded_session_reads_typed(index: int, seeded_samples: list[dict[str, Any]], sdk: Gr4vy) -> None:
    record = seeded_samples[index]
    fetched = sdk.checkout_sessions.get(session_id=record["id"])
    expected = prune(models.CheckoutSession.model_validate(record).model_dump(mode="json", by_alias=True))
    assert typed_received(fetched) == expected
    if record.get("payment_method"):
        assert isinstance(fetched.payment_method, models.CheckoutSessionPaymentMethod)


ERROR_STATUSES = sorted(int(code) for code in
                        bodies.document()["paths"]["/checkout/sessions/{session_id}"]["get"]["responses"]
                        if code.startswith(("4", "5")) and code != "422")
"""The error statuses the document gives ``GET``, each with an ``ErrorNNN`` schema (422 is FastAPI's, not Gr4vy's)."""


@pytest.fixture
def faults_cleared(oracle_sandbox: Sandbox) -> Iterator[Sandbox]:
    oracle_sandbox.clear_faults()
    yield oracle_sandbox
    oracle_sandbox.clear_faults()


@pytest.mark.parametrize("status", ERROR_STATUSES)
def test_scripted_error_is_typed(status: int, faults_cleared: Sandbox, sdk: Gr4vy, existing_id: str) -> None:
    """The sandbox's emulated error answers (its fault rules) parse into the SDK's error class of that status."""
    faults_cleared.set_faults([{"method": "GET", "session_id": existing_id, "times": 1, "action": "status",
                                "status": status, "body": "gr4vy"}])
    error_class = getattr(errors, f"Error{status}")
    with pytest.raises(error_class) as caught:
        # GET retries 5XX by default (backoff); "none" takes the first answer.
        sdk.checkout_sessions.get(session_id=existing_id, retries=RetryConfig("none", None, False))
    code = bodies.schemas()[f"Error{status}"]["properties"]["code"]["default"]
    assert (caught.value.data.TYPE, caught.value.data.code, caught.value.data.status) == ("error", code, status)
