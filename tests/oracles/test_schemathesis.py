"""Schemathesis as a judge of the sandbox: cases generated from the vendored document.

The document is :func:`gr4vy_nb._data.api_document` (Gr4vy's published checkout-session
document plus the SDK overlay).  Every operation gets a bounded, derandomised run of
generated requests against a running sandbox, each sent with a valid ES512 bearer token
made by the official SDK's ``gr4vy.auth.get_token`` (both checkout-session scopes) and the
merchant header, and judged by: no 5xx, status code documented, content type documented,
body conforming to the documented schema of that status, invalid input refused with a 4xx
and valid input not refused.

One deliberate narrowing, explained at :func:`_documented_422_is_not_gr4vys`: the document
lists FastAPI's 422 beside Gr4vy's 400; Gr4vy (and the sandbox) answer validation failures
with the 400 shape, so a 422 is never a right answer and is no excuse either.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from gr4vy import auth
from gr4vy.auth import JWTScope
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.config import SchemathesisConfig

from gr4vy_nb.sandbox import Sandbox
from tests.oracles import bodies
from tests.oracles.support import MERCHANT

DOCUMENT = bodies.document()
MAX_EXAMPLES = 25
"""Per operation and phase that takes a budget (examples, fuzzing).  The coverage phase has no
budget: it sends each boundary and each missing/unexpected value the document defines once
(about 1,500 requests per operation with a body).  The module takes about 15 s on two busy cores."""
CONFIG = SchemathesisConfig.from_dict({
    # Explicit, so a schemathesis.toml found in a parent directory cannot change the run.
    "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
})
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)

EXAMPLE_ID = next(p for p in DOCUMENT["paths"]["/checkout/sessions/{session_id}"]["get"]["parameters"]
                  if p["name"] == "session_id")["schema"]["examples"][0]
"""The document's example session id: seeded before each case, so the example phase finds a session."""
EXAMPLE_SESSION = {"id": EXAMPLE_ID, "expires_at": "2099-12-31T23:59:59+00:00", **bodies.page_example_body()}

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          # Beyond the three asked for: a request the document forbids must get a 4xx, and one it
          # allows must not be refused (2xx, or 401/403/404 for an unknown session).
          negative_data_rejection, positive_data_acceptance]


@pytest.fixture(scope="session")
def bearer_headers(private_key_pem: str) -> dict[str, str]:
    token = auth.get_token(private_key_pem, scopes=[JWTScope.CHECKOUT_SESSIONS_READ, JWTScope.CHECKOUT_SESSIONS_WRITE])
    return {"Authorization": f"Bearer {token}", "x-gr4vy-merchant-account-id": MERCHANT}


@pytest.fixture(scope="session")
def http() -> Iterator[requests.Session]:
    """One connection pool for every case; ``trust_env=False``: proxy settings must not catch loopback requests."""
    with requests.Session() as session:
        session.trust_env = False
        yield session


def _documented_422_is_not_gr4vys(response: Any) -> None:
    """The document (FastAPI-generated) lists ``422 HTTPValidationError`` for every operation,
    so ``status_code_conformance`` would accept a FastAPI-style 422.  Gr4vy never answers it:
    bad input is its own ``400 Error400`` (``code: bad_request``, ``details`` with pointers).
    Rather than let the document excuse a 422, fail on it here."""
    assert response.status_code != 422, f"FastAPI-shaped 422 instead of Gr4vy's 400: {response.text[:300]}"


@schema.parametrize()
@hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                     suppress_health_check=list(hypothesis.HealthCheck))
def test_operation_conforms(case: schemathesis.Case, oracle_sandbox: Sandbox, bearer_headers: dict[str, str],
                            http: requests.Session) -> None:
    if (case.path_parameters or {}).get("session_id") == EXAMPLE_ID:
        oracle_sandbox.seed([EXAMPLE_SESSION], merchant_account_id=MERCHANT)  # (again: a DELETE case removes it)
    response = case.call_and_validate(base_url=oracle_sandbox.base_url, session=http, headers=bearer_headers,
                                      checks=CHECKS, timeout=15)
    _documented_422_is_not_gr4vys(response)
