"""Bearer-token checks of the sandbox over real HTTP: every refused token is a Gr4vy-shaped
401 (403 for a missing scope) and changes nothing."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gr4vy_nb.api.auth import READ_SCOPE, WRITE_SCOPE, TokenSigner, load_private_key, thumbprint
from gr4vy_nb.sandbox import Sandbox, start_sandbox
from gr4vy_nb.schema import ErrorBody
from tests.sandbox.helpers import FAR_FUTURE, local


@pytest.fixture
def session_id(sandbox_clean: Sandbox) -> str:
    sid = str(uuid.uuid4())
    sandbox_clean.seed([{"id": sid, "expires_at": FAR_FUTURE, "amount": 500, "currency": "EUR"}])
    return sid


@pytest.fixture(scope="module")
def sandbox_key(sandbox: Sandbox) -> ec.EllipticCurvePrivateKey:
    return load_private_key(sandbox.private_key_file.read_bytes())


def claims(scopes: list[str] | None = None, *, offset: int = 0, lifetime: int = 3600, **extra: Any) -> dict[str, Any]:
    now = int(time.time()) + offset
    body: dict[str, Any] = {"iss": "tests", "iat": now, "nbf": now, "exp": now + lifetime, "jti": str(uuid.uuid4())}
    if scopes is not None:
        body["scopes"] = scopes
    body.update(extra)
    return {k: v for k, v in body.items() if v is not None}


def es512(key: ec.EllipticCurvePrivateKey, body: dict[str, Any], *, kid: str | None = "auto") -> str:
    headers = {"kid": thumbprint(key) if kid == "auto" else kid} if kid is not None else {}
    return jwt.encode(body, key, algorithm="ES512", headers=headers)


def unsigned(body: dict[str, Any], kid: str) -> str:
    return jwt.encode(body, None, algorithm="none", headers={"kid": kid})


def assert_refused(r: requests.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"type", "code", "status", "message", "details"}
    ErrorBody.model_validate(body)
    assert body["status"] == status
    assert body["code"] == ("unauthorized" if status == 401 else "forbidden")
    return body


def send(http: requests.Session, sandbox: Sandbox, method: str, session_id: str | None,
         headers: dict[str, str]) -> requests.Response:
    target = f"{sandbox.base_url}/checkout/sessions" + (f"/{session_id}" if session_id else "")
    body = {"amount": 1} if method in ("PUT", "POST") else None
    return http.request(method, target, json=body, headers=headers, timeout=10)


def assert_unchanged(http: requests.Session, sandbox: Sandbox, session_id: str, signer: TokenSigner) -> None:
    stats = sandbox.stats()
    assert stats["writes"] == {}
    r = http.get(f"{sandbox.base_url}/checkout/sessions/{session_id}",
                 headers={"Authorization": f"Bearer {signer.token([READ_SCOPE])}"}, timeout=10)
    assert r.json()["amount"] == 500
    assert sandbox.health()["sessions"] == sandbox.health()["seed"]["loaded"] + 1


def _rsa_token(body: dict[str, Any], kid: str) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


_BAD_TOKENS: dict[str, Callable[[ec.EllipticCurvePrivateKey], str]] = {
    "other-key": lambda k: es512(ec.generate_private_key(ec.SECP521R1()), claims([READ_SCOPE, WRITE_SCOPE])),
    "other-key-same-kid": lambda k: es512(ec.generate_private_key(ec.SECP521R1()), claims([READ_SCOPE, WRITE_SCOPE]),
                                          kid=thumbprint(k)),
    "rs256": lambda k: _rsa_token(claims([READ_SCOPE, WRITE_SCOPE]), thumbprint(k)),
    "hs256": lambda k: jwt.encode(claims([READ_SCOPE, WRITE_SCOPE]), "secret-secret-secret-secret-32by",
                                  algorithm="HS256", headers={"kid": thumbprint(k)}),
    "alg-none": lambda k: unsigned(claims([READ_SCOPE, WRITE_SCOPE]), thumbprint(k)),
    "expired": lambda k: es512(k, claims([READ_SCOPE, WRITE_SCOPE], offset=-7200, lifetime=3600)),
    "expired-past-leeway": lambda k: es512(k, claims([READ_SCOPE, WRITE_SCOPE], offset=-100, lifetime=60)),
    "not-yet-valid": lambda k: es512(k, claims([READ_SCOPE, WRITE_SCOPE], offset=600)),
    "no-exp": lambda k: es512(k, claims([READ_SCOPE, WRITE_SCOPE], exp=None)),
    "no-kid": lambda k: es512(k, claims([READ_SCOPE, WRITE_SCOPE]), kid=None),
    "wrong-kid": lambda k: es512(k, claims([READ_SCOPE, WRITE_SCOPE]), kid="not-the-thumbprint"),
    "garbage": lambda k: "not.a.jwt",
    "tampered": lambda k: _tamper(es512(k, claims([READ_SCOPE]))),
}


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    forged = jwt.utils.base64url_encode(jwt.utils.base64url_decode(payload).replace(
        b'"checkout-sessions.read"', b'"checkout-sessions.write"')).decode()
    return ".".join((header, forged, signature))


@pytest.mark.parametrize("kind", list(_BAD_TOKENS))
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_bad_token_is_401_and_changes_nothing(sandbox_clean: Sandbox, http: requests.Session,
                                              sandbox_key: ec.EllipticCurvePrivateKey, signer: TokenSigner,
                                              session_id: str, kind: str, method: str) -> None:
    token = _BAD_TOKENS[kind](sandbox_key)
    r = send(http, sandbox_clean, method, session_id, {"Authorization": f"Bearer {token}"})
    body = assert_refused(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"
    assert token not in r.text and token[-20:] not in body["message"]
    assert_unchanged(http, sandbox_clean, session_id, signer)


def test_bad_token_on_create_is_401_and_creates_nothing(sandbox_clean: Sandbox, http: requests.Session,
                                                        sandbox_key: ec.EllipticCurvePrivateKey,
                                                        signer: TokenSigner, session_id: str) -> None:
    for kind in ("rs256", "alg-none", "expired", "no-kid"):
        r = send(http, sandbox_clean, "POST", None, {"Authorization": f"Bearer {_BAD_TOKENS[kind](sandbox_key)}"})
        assert_refused(r, 401)
    assert_unchanged(http, sandbox_clean, session_id, signer)


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc"])
def test_missing_or_malformed_authorization_is_401(sandbox_clean: Sandbox, http: requests.Session,
                                                   signer: TokenSigner, session_id: str, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    for method in ("GET", "PUT"):
        assert_refused(send(http, sandbox_clean, method, session_id, headers), 401)
    assert_unchanged(http, sandbox_clean, session_id, signer)


@pytest.mark.parametrize(("reason", "expected"), [
    ("expired", "expired"), ("no-kid", "kid"), ("wrong-kid", "kid"), ("rs256", "ES512"), ("alg-none", "ES512"),
    ("other-key", "kid"), ("other-key-same-kid", "signature"), ("not-yet-valid", "not valid yet"),
])
def test_401_messages_say_what_is_wrong(sandbox_clean: Sandbox, http: requests.Session,
                                        sandbox_key: ec.EllipticCurvePrivateKey, session_id: str, reason: str,
                                        expected: str) -> None:
    r = send(http, sandbox_clean, "GET", session_id, {"Authorization": f"Bearer {_BAD_TOKENS[reason](sandbox_key)}"})
    assert expected in assert_refused(r, 401)["message"]


def test_expiry_within_the_leeway_is_accepted(sandbox_clean: Sandbox, http: requests.Session,
                                              sandbox_key: ec.EllipticCurvePrivateKey, session_id: str) -> None:
    # Expired 10 s ago, issued 20 s in the future: both within the 30 s clock-skew leeway.
    for body in (claims([READ_SCOPE], offset=-70, lifetime=60), claims([READ_SCOPE], offset=20)):
        r = send(http, sandbox_clean, "GET", session_id, {"Authorization": f"Bearer {es512(sandbox_key, body)}"})
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_read_only_token_writing_is_403_naming_the_scope(sandbox_clean: Sandbox, http: requests.Session,
                                                         signer: TokenSigner, session_id: str, method: str) -> None:
    r = send(http, sandbox_clean, method, session_id if method != "POST" else None,
             {"Authorization": f"Bearer {signer.token([READ_SCOPE])}"})
    body = assert_refused(r, 403)
    assert WRITE_SCOPE in body["message"]
    assert body["details"][0]["type"] == "missing_scope"
    assert_unchanged(http, sandbox_clean, session_id, signer)


def test_write_only_token_reading_is_403_naming_the_scope(sandbox_clean: Sandbox, http: requests.Session,
                                                          signer: TokenSigner, session_id: str) -> None:
    r = send(http, sandbox_clean, "GET", session_id, {"Authorization": f"Bearer {signer.token([WRITE_SCOPE])}"})
    assert READ_SCOPE in assert_refused(r, 403)["message"]


@pytest.mark.parametrize("scopes", [None, [], "checkout-sessions.write", ["transactions.write", "*.read"],
                                    ["checkout-sessions.writer"]])
def test_tokens_without_the_write_scope_cannot_write(sandbox_clean: Sandbox, http: requests.Session,
                                                     sandbox_key: ec.EllipticCurvePrivateKey, signer: TokenSigner,
                                                     session_id: str, scopes: Any) -> None:
    body = claims(None)
    if scopes is not None:
        body["scopes"] = scopes
    r = send(http, sandbox_clean, "PUT", session_id, {"Authorization": f"Bearer {es512(sandbox_key, body)}"})
    assert WRITE_SCOPE in assert_refused(r, 403)["message"]
    assert_unchanged(http, sandbox_clean, session_id, signer)


@pytest.mark.parametrize(("scopes", "method", "status"), [
    (["*.read"], "GET", 200),
    (["*.write"], "PUT", 200),
    (["*.write"], "GET", 403),
    ([READ_SCOPE, WRITE_SCOPE], "PUT", 200),
    (["embed", READ_SCOPE], "GET", 200),
])
def test_wildcard_and_combined_scopes(sandbox_clean: Sandbox, http: requests.Session,
                                      sandbox_key: ec.EllipticCurvePrivateKey, session_id: str,
                                      scopes: list[str], method: str, status: int) -> None:
    r = send(http, sandbox_clean, method, session_id, {"Authorization": f"Bearer {es512(sandbox_key, claims(scopes))}"})
    assert r.status_code == status, r.text


def test_auth_comes_before_validation_and_lookup(sandbox_clean: Sandbox, http: requests.Session) -> None:
    # A request with no token learns nothing about bodies or ids.
    r = http.put(f"{sandbox_clean.base_url}/checkout/sessions/not-a-uuid", data=b"{bad", timeout=10)
    assert_refused(r, 401)


def test_admin_endpoints_need_no_token(sandbox: Sandbox, http: requests.Session) -> None:
    assert http.get(f"{sandbox.base_url}/_sandbox/health", timeout=10).status_code == 200


# ---------------------------------------------------------------------- another sandbox's tokens


def test_tokens_of_one_sandbox_do_not_open_another(tmp_path: Path, sandbox: Sandbox, signer: TokenSigner) -> None:
    with start_sandbox(db=tmp_path / "other.db", seed=None) as other, local() as http:
        r = http.post(f"{other.base_url}/checkout/sessions", json={},
                      headers={"Authorization": f"Bearer {signer.token([WRITE_SCOPE])}"}, timeout=10)
        assert_refused(r, 401)
        assert other.stats()["writes"] == {}
