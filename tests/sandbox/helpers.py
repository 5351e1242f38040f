"""What the sandbox's tests share: sessions to seed, URLs, a proxy-free HTTP session, tokens and the body checks.

The fixtures (``sandbox``, ``sandbox_clean``, ``signer``, ``auth_headers``, ``http``) are in
``tests/conftest.py``; ``existing`` is in ``tests/sandbox/conftest.py``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import requests
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from gr4vy_nb._data import api_document
from gr4vy_nb.api.auth import READ_SCOPE, WRITE_SCOPE, TokenSigner, load_private_key
from gr4vy_nb.sandbox import Sandbox
from gr4vy_nb.sandbox.store import RESPONSE_FIELDS

Headers = Callable[..., dict[str, str]]
"""The type of the ``auth_headers`` fixture: ``auth_headers(*scopes, merchant=None)`` -> request headers."""
FAR_FUTURE = "2099-12-31T23:59:59+00:00"
PAYMENT_METHOD = {"type": "payment-method", "id": "77a76f7e-d2de-4bbc-ada9-d6a0015e6bd5", "method": "card",
                  "label": "1111", "scheme": "visa", "fingerprint": "fp-1",
                  "details": {"bin": "411111", "card_country": "US", "card_type": "credit", "card_issuer_name": "Bank"}}


# ---------------------------------------------------------------------- sessions to seed


def seeded_session(**fields: Any) -> dict[str, Any]:
    """A small valid session with a fresh id, far in the future."""
    return {"id": str(uuid.uuid4()), "expires_at": FAR_FUTURE, "cart_items": [{"name": "Mug", "quantity": 1,
            "unit_amount": 1200}], "metadata": {"ref": "A-1"}, "amount": 1200, "currency": "GBP", **fields}


def a_session(**fields: Any) -> dict[str, Any]:
    """A valid session with a fresh id, far in the future, ``amount`` 500 and nested objects (buyer, address)."""
    return {"id": str(uuid.uuid4()), "expires_at": FAR_FUTURE, "amount": 500, "currency": "EUR",
            "cart_items": [{"name": "Mug", "quantity": 1, "unit_amount": 500}],
            "buyer": {"display_name": "Ada", "billing_details": {"first_name": "Ada", "address": {"city": "X"}}},
            **fields}


def seed_file(tmp_path: Path, *sessions: dict[str, Any]) -> Path:
    """``tmp_path/seed.jsonl`` holding ``sessions``, one a line: a seed for ``start_sandbox(seed=...)``."""
    path = tmp_path / "seed.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in sessions), encoding="utf-8")
    return path


# ---------------------------------------------------------------------- talking to a sandbox


def local() -> requests.Session:
    """A requests session that ignores proxy settings (the sandbox is on loopback)."""
    session = requests.Session()
    session.trust_env = False
    return session


def local_get(url: str, **kwargs: Any) -> requests.Response:
    """One GET through a fresh :func:`local` session (a connection of its own)."""
    with local() as session:
        return session.get(url, **kwargs)


def session_url(sandbox: Sandbox, session_id: str | None = None) -> str:
    """``/checkout/sessions`` of ``sandbox``, or ``/checkout/sessions/{session_id}``."""
    return f"{sandbox.base_url}/checkout/sessions" + (f"/{session_id}" if session_id else "")


def signer_for(sandbox: Sandbox) -> TokenSigner:
    """A token signer for ``sandbox``'s own key (for sandboxes started by a test, not the shared one)."""
    return TokenSigner(load_private_key(sandbox.private_key_file.read_bytes()))


def bearer(signer: TokenSigner) -> dict[str, str]:
    """Headers with a read and write token of ``signer``."""
    return {"Authorization": f"Bearer {signer.token([READ_SCOPE, WRITE_SCOPE])}"}


def writes(sandbox: Sandbox) -> dict[str, int]:
    """The sandbox's write counters: applied API writes per session id."""
    return sandbox.stats()["writes"]


def amount_of(http: requests.Session, sandbox: Sandbox, session_id: str, headers: dict[str, str]) -> int:
    """The session's current ``amount``, read with a GET that must succeed."""
    r = http.get(session_url(sandbox, session_id), headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    return int(r.json()["amount"])


def parse_time(text: str) -> float:
    """An RFC 3339 time as a Unix time."""
    return datetime.fromisoformat(text).timestamp()


# ---------------------------------------------------------------------- the document, as the tests read it

# The tests' own reading of the OpenAPI document: jsonschema's stock format checker (its
# date-time check is rfc3339-validator's), not the sandbox's checkers, so the two can disagree.
_URI = "urn:tests:openapi"


def _relaxed(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _relaxed(v) for k, v in node.items() if not (k == "additionalProperties" and v is False)}
    if isinstance(node, list):
        return [_relaxed(v) for v in node]
    return node


def document_validator(schema_name: str, *, relaxed: bool = False) -> Draft202012Validator:
    """A validator of the document's ``components.schemas[schema_name]``.

    ``relaxed``: with every ``additionalProperties: false`` removed.
    """
    document = api_document()
    if relaxed:
        document = _relaxed(document)
    registry: Registry[Any] = Registry().with_resource(_URI, Resource.from_contents(document,
                                                                                   default_specification=DRAFT202012))
    checker = Draft202012Validator.FORMAT_CHECKER
    assert {"uuid", "date-time", "date"} <= set(checker.checkers), "jsonschema cannot check the document's formats"
    return Draft202012Validator({"$ref": f"{_URI}#/components/schemas/{schema_name}"}, registry=registry,
                                format_checker=checker)


_VALIDATORS: dict[tuple[str, bool], Draft202012Validator] = {}


def document_errors(instance: Any, schema_name: str, *, relaxed: bool = False) -> list[str]:
    """What is wrong with ``instance`` by the document's ``schema_name`` (``[]``: valid)."""
    key = (schema_name, relaxed)
    if key not in _VALIDATORS:
        _VALIDATORS[key] = document_validator(schema_name, relaxed=relaxed)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in _VALIDATORS[key].iter_errors(instance)]


# ---------------------------------------------------------------------- checks of answers


def assert_gr4vy_error(response: requests.Response, status: int) -> dict[str, Any]:
    """Assert that ``response`` is Gr4vy's error body, exactly, with ``status``; return the body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"type", "code", "status", "message", "details"}
    # The document's Error<status> schema when it has one (they differ only in defaults), else Error400's shape.
    schemas = api_document()["components"]["schemas"]
    assert document_errors(body, f"Error{status}" if f"Error{status}" in schemas else "Error400") == []
    assert body["type"] == "error" and body["status"] == status and body["message"]
    return body


def assert_session_shape(body: dict[str, Any], *, relaxed: bool = False) -> None:
    """Assert that ``body`` has the documented fields of a session, in order, and validates against the
    document's ``CheckoutSession`` at every depth (``relaxed``: unknown fields allowed, after the documented ones)."""
    assert list(body)[: len(RESPONSE_FIELDS)] == list(RESPONSE_FIELDS)
    if not relaxed:
        assert list(body) == list(RESPONSE_FIELDS)
    assert document_errors(body, "CheckoutSession", relaxed=relaxed) == []
    # Date-times always carry an offset (the document says RFC 3339), never naive.
    assert body["expires_at"][-1] == "Z" or body["expires_at"][-6] in "+-", body["expires_at"]
