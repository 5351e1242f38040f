"""Fixtures of the outside judges of the sandbox (the official SDK, schemathesis).

``oracle_sandbox`` (session scope)
    A sandbox of its own (thread mode, loopback, empty store), so the oracles neither see
    nor disturb the shared ``sandbox`` of ``tests/conftest.py``.
``private_key_pem`` (session scope)
    The sandbox's EC P-521 private key as PEM text: what the SDK signs its ES512 tokens with.
``sdk_client`` (session scope)
    ``sdk_client(scopes=None, key=None)`` -> a :class:`gr4vy.Gr4vy` on the sandbox, with the
    merchant account :data:`MERCHANT`, signing its own tokens (``gr4vy.auth.with_token``) with
    ``key`` (default: the sandbox key) for ``scopes`` (default: the SDK's read-all and write-all).
``sdk`` (session scope)
    ``sdk_client()``: full access.
``other_key_pem`` (session scope)
    A fresh P-521 key the sandbox does not know.
``sent`` (session scope)
    The requests the SDK clients made, newest last (``httpx.Request``; ``json.loads(r.content)``
    is the body the SDK serialised).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from gr4vy import Gr4vy, auth

from gr4vy_nb import start_sandbox
from gr4vy_nb.sandbox import Sandbox
from tests.oracles.support import MERCHANT, TIMEOUT_MS, SdkFactory


@pytest.fixture(scope="session")
def oracle_sandbox() -> Iterator[Sandbox]:
    with start_sandbox(mode="thread", seed=None) as running:
        yield running


@pytest.fixture(scope="session")
def private_key_pem(oracle_sandbox: Sandbox) -> str:
    return oracle_sandbox.private_key_file.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def other_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP521R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture(scope="session")
def sent() -> list[httpx.Request]:
    return []


@pytest.fixture(scope="session")
def sdk_client(oracle_sandbox: Sandbox, private_key_pem: str, sent: list[httpx.Request]) -> Iterator[SdkFactory]:
    clients: list[httpx.Client] = []

    def record(request: httpx.Request) -> None:
        sent.append(request)

    def make(scopes: list[str] | None = None, key: str | None = None) -> Gr4vy:
        # trust_env=False: proxy settings must not catch requests to the loopback sandbox.
        client = httpx.Client(trust_env=False, follow_redirects=True, event_hooks={"request": [record]})
        clients.append(client)
        return Gr4vy(server_url=oracle_sandbox.base_url, merchant_account_id=MERCHANT, client=client,
                     bearer_auth=auth.with_token(key or private_key_pem, scopes=scopes), timeout_ms=TIMEOUT_MS)

    yield make
    for client in clients:
        client.close()


@pytest.fixture(scope="session")
def sdk(sdk_client: SdkFactory) -> Gr4vy:
    return sdk_client()
