"""gr4vy_nb.widgets.connection: the ConnectionPanel names the target and proves the key works (or says why not)."""

from __future__ import annotations

import time
from pathlib import Path

from gr4vy_nb.api.auth import generate_private_key_pem
from gr4vy_nb.notebook_support import Connection
from gr4vy_nb.sandbox import Sandbox
from gr4vy_nb.widgets import ConnectionPanel
from gr4vy_nb.widgets._common import plain
from tests.widgets.helpers import sandbox_connection


def test_connection_panel_reports_latency_and_never_the_key(conn: Connection, sandbox_clean: Sandbox) -> None:
    panel = ConnectionPanel(conn)
    check = panel.on_test()
    assert check is not None and check.ok, panel.messages.text
    assert "round trip" in panel.messages.text and check.latency_ms is not None
    banner = plain(panel.banner.value)
    assert "local sandbox emulator" in banner and conn.settings.kid in banner and "'default'" not in banner
    key_text = sandbox_clean.private_key_file.read_text()
    body = key_text.splitlines()[1]
    assert body not in panel.widget.children[0].value and body not in panel.messages.widget.value
    # The probe is one read of a session that does not exist: nothing is written.
    assert sandbox_clean.stats()["requests"] == {"GET": {"404": 1}}


def test_connection_panel_names_a_key_the_sandbox_does_not_know(sandbox_clean: Sandbox, tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    other.write_bytes(generate_private_key_pem())
    conn = sandbox_connection(sandbox_clean, private_key_file=other)
    check = ConnectionPanel(conn).on_test()
    assert check is not None and not check.ok and check.problem == "credentials"
    assert "not the sandbox's key" in check.message


def _token(sandbox: Sandbox, *, scopes: list[str], exp_offset: int) -> str:
    import uuid

    import jwt

    from gr4vy_nb.api.auth import load_private_key, thumbprint

    key = load_private_key(sandbox.private_key_file.read_bytes(), source="test")
    now = int(time.time())
    claims = {"scopes": scopes, "iss": "test", "iat": now - 600, "nbf": now - 600, "exp": now + exp_offset,
              "jti": str(uuid.uuid4())}
    return jwt.encode(claims, key, algorithm="ES512", headers={"kid": thumbprint(key)})


def test_connection_panel_explains_expired_token_and_missing_scope(sandbox_clean: Sandbox) -> None:
    expired = sandbox_connection(sandbox_clean, token=_token(sandbox_clean, scopes=["checkout-sessions.read"],
                                                      exp_offset=-300))
    check = ConnectionPanel(expired).on_test()
    assert check is not None and check.status == 401 and check.problem == "credentials", check
    assert "authentication refused" in check.message

    write_only = sandbox_connection(sandbox_clean, token=_token(sandbox_clean, scopes=["checkout-sessions.write"],
                                                         exp_offset=600))
    check = ConnectionPanel(write_only).on_test()
    assert check is not None and check.status == 403 and check.problem == "scope", check
    assert "checkout-sessions.read" in check.message


def test_production_settings_get_a_red_banner(sandbox_clean: Sandbox) -> None:
    conn = sandbox_connection(sandbox_clean, environment="production")
    html = ConnectionPanel(conn).banner.value
    assert "gr4vy-target-production" in html and "#b91c1c" in html and "PRODUCTION" in html


def test_check_api_behaviour_button_shows_the_probe_table(conn: Connection, sandbox_clean: Sandbox, tmp_path: Path,
                                                          monkeypatch) -> None:
    monkeypatch.setenv("GR4VY_NB_CONFIG_DIR", str(tmp_path / "config"))
    panel = ConnectionPanel(conn)
    check = panel.on_probe()
    assert check is not None and check.ok, panel.messages.text
    assert "every assumption holds" in panel.messages.text
    table = plain(panel.probe_table.value)
    assert "PUT merges" in table and "what the toolkit does about it" in table
    assert sandbox_clean.stats()["requests"]["DELETE"] == {"204": 1}


def test_check_api_behaviour_names_a_replacing_put(tmp_path: Path, monkeypatch) -> None:
    from gr4vy_nb.sandbox import start_sandbox

    monkeypatch.setenv("GR4VY_NB_CONFIG_DIR", str(tmp_path / "config"))
    with start_sandbox(seed=None, put_semantics="replace") as sb:
        conn = sandbox_connection(sb)
        panel = ConnectionPanel(conn)
        check = panel.on_probe()
        conn.close()
    assert check is not None and not check.ok and check.problem == "assumption"
    assert "PUT replaces the session" in panel.messages.text
    assert "NO" in plain(panel.probe_table.value)
