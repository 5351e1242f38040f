"""Shared fixtures: one sandbox emulator for the whole test session, and a token signer.

Fixtures (reuse them; do not start a sandbox per test unless the test needs its own
start-up options):

``sandbox`` (session scope)
    A :class:`gr4vy_nb.sandbox.Sandbox` in thread mode on 127.0.0.1 (free port), seeded
    with the default seed (``data/sample_sessions.jsonl``; nothing when that file is
    absent), no fault knobs.  ``sandbox.base_url``, ``sandbox.private_key_file``,
    ``sandbox.stats()``, ``.reset()``, ``.seed(sessions)``, ``.set_faults(rules)``,
    ``.clear_faults()``, ``.expire(id)``, ``.configure(**knobs)``.  Stopped at the end.

``sandbox_clean`` (function scope)
    The same sandbox, reset before the test (store reseeded, counters zeroed, scripted
    faults dropped, knobs back to none) and with faults and knobs cleared after it.  Use it
    whenever a test writes, counts requests, or sets faults.

The whole session uses a private config folder (``GR4VY_NB_CONFIG_DIR``), so no test reads or
writes the user's ``~/.gr4vy-nb``; the shared ``sandbox`` is probed once (``gr4vy-nb probe``: it
merges), so plans against it send only the changed fields, as they did before probing existed.
Sandboxes a test starts itself are not probed: their plans send each session's full state.

``signer`` (session scope)
    A :class:`gr4vy_nb.api.auth.TokenSigner` for the sandbox key:
    ``{"Authorization": f"Bearer {signer.token([READ_SCOPE])}"}``.

``auth_headers`` (session scope)
    ``auth_headers(*scopes, merchant=None)`` → request headers with a bearer token for
    ``scopes`` (default: read and write) and, if given, ``x-gr4vy-merchant-account-id``.

``env`` (function scope)
    ``sandbox_clean`` with the ``GR4VY_*`` environment pointing the CLI at it, run from an
    empty folder (``tmp_path``).

``http`` (session scope)
    A plain ``requests.Session`` with ``trust_env=False`` (proxy settings would otherwise
    catch loopback requests), for tests that speak to the sandbox without the client.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest
import requests

from gr4vy_nb.api.auth import READ_SCOPE, WRITE_SCOPE, TokenSigner, load_private_key
from gr4vy_nb.sandbox import Sandbox, start_sandbox
from tests.paths import ENV_VARS


@pytest.fixture(scope="session", autouse=True)
def _private_config_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """``GR4VY_NB_CONFIG_DIR`` set to a temporary folder for the whole session (saved probe results go there)."""
    previous = os.environ.get("GR4VY_NB_CONFIG_DIR")
    os.environ["GR4VY_NB_CONFIG_DIR"] = str(tmp_path_factory.mktemp("gr4vy-nb-config"))
    yield
    if previous is None:
        os.environ.pop("GR4VY_NB_CONFIG_DIR", None)
    else:
        os.environ["GR4VY_NB_CONFIG_DIR"] = previous


@pytest.fixture(scope="session")
def sandbox(_private_config_dir: None) -> Iterator[Sandbox]:
    from gr4vy_nb.api.client import Gr4vyClient
    from gr4vy_nb.api.probe import probe_target
    from gr4vy_nb.config import Settings

    with start_sandbox(mode="thread") as running:
        with Gr4vyClient(Settings.for_sandbox(running)) as client:
            assert probe_target(client).merges
        running.reset(reseed=True)
        yield running


@pytest.fixture
def sandbox_clean(sandbox: Sandbox) -> Iterator[Sandbox]:
    sandbox.reset(reseed=True)
    yield sandbox
    sandbox.clear_faults()
    sandbox.configure(rate_limit=None, fail_rate=0.0, latency_ms=0, unknown_fields=False, random_seed=None)


@pytest.fixture(scope="session")
def signer(sandbox: Sandbox) -> TokenSigner:
    key = load_private_key(sandbox.private_key_file.read_bytes(), source=str(sandbox.private_key_file))
    return TokenSigner(key)


@pytest.fixture(scope="session")
def auth_headers(signer: TokenSigner) -> Callable[..., dict[str, str]]:
    def make(*scopes: str, merchant: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {signer.token(scopes or (READ_SCOPE, WRITE_SCOPE))}"}
        if merchant is not None:
            headers["x-gr4vy-merchant-account-id"] = merchant
        return headers

    return make


@pytest.fixture(scope="session")
def http() -> Iterator[requests.Session]:
    """A plain ``requests`` session that ignores proxy settings (the sandbox is on loopback)."""
    with requests.Session() as session:
        session.trust_env = False
        yield session


def point_env_at(monkeypatch: pytest.MonkeyPatch, sandbox: Sandbox) -> None:
    """The ``GR4VY_*`` environment of this process pointed at ``sandbox``, nothing else of it kept."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GR4VY_BASE_URL", sandbox.base_url)
    monkeypatch.setenv("GR4VY_PRIVATE_KEY_FILE", str(sandbox.private_key_file))


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path, sandbox_clean: Sandbox) -> Sandbox:
    """The environment pointing at the test sandbox, run from an empty folder."""
    point_env_at(monkeypatch, sandbox_clean)
    monkeypatch.chdir(tmp_path)
    return sandbox_clean
