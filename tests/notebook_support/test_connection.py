"""gr4vy_nb.notebook_support.connection: the target named in words and colour, the embedded sandbox, the write guard."""

from __future__ import annotations

from pathlib import Path

import pytest

from gr4vy_nb.config import Settings
from gr4vy_nb.errors import ConfigError
from gr4vy_nb.notebook_support import confirm_writes, connect, needs_confirmation, read_sessions_jsonl, target_style
from gr4vy_nb.sandbox import Sandbox
from tests.notebook_support.helpers import remote_connection
from tests.paths import SAMPLE

IDS = [s["id"] for s in read_sessions_jsonl(SAMPLE)]


def test_target_styles(sandbox: Sandbox, key_file: Path) -> None:
    local = Settings.for_sandbox(sandbox)
    assert target_style(local)[:2] == ("emulator", "local sandbox emulator")
    remote = Settings(gr4vy_id="acme", environment="sandbox", private_key_file=key_file)
    assert target_style(remote)[:2] == ("sandbox", "Gr4vy sandbox (acme)") and not needs_confirmation(remote)
    prod = Settings(gr4vy_id="acme", environment="production", private_key_file=key_file)
    assert target_style(prod) == ("production", "GR4VY PRODUCTION (ACME)", "#b91c1c") and needs_confirmation(prod)
    assert target_style(Settings())[0] == "none"


def test_confirm_writes_guards_production_only(sandbox: Sandbox, key_file: Path) -> None:
    confirm_writes(connect(Settings.for_sandbox(sandbox), announce=False), None)
    prod = remote_connection(key_file, "production")
    with pytest.raises(ConfigError, match=r"PRODUCTION.*nothing was sent"):
        confirm_writes(prod, "")
    with pytest.raises(ConfigError):
        confirm_writes(prod, "someone-else")
    confirm_writes(prod, " default ")


def test_connect_without_configuration_starts_the_embedded_sandbox() -> None:
    conn = connect(env={}, announce=False)
    try:
        assert conn.embedded and conn.settings.is_local
        assert "embedded sandbox emulator" in conn.note and "200 sample sessions" in conn.note
        assert conn.client.get_checkout_session(IDS[0])["id"] == IDS[0]
        again = connect(env={}, announce=False)
        assert again.sandbox is conn.sandbox and "reusing" in again.note
        again.close()
    finally:
        conn.close()


def test_check_api_behaviour_needs_confirmation_on_production(tmp_path, monkeypatch) -> None:
    from gr4vy_nb.api.auth import generate_private_key_pem
    from gr4vy_nb.api.client import Gr4vyClient
    from gr4vy_nb.config import Settings
    from gr4vy_nb.notebook_support.connection import Connection, check_api_behaviour

    key = tmp_path / "k.pem"
    key.write_bytes(generate_private_key_pem())
    settings = Settings(gr4vy_id="acme", environment="production", private_key_file=key)
    conn = Connection(settings=settings, client=Gr4vyClient(settings))
    check = check_api_behaviour(conn)
    conn.close()
    assert not check.ok and check.problem == "confirmation" and "PRODUCTION" in check.message
