"""gr4vy-nb probe: what the target's PUT does, on each behaviour the sandbox can emulate; saved per target."""

from __future__ import annotations

from pathlib import Path

import pytest

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.api.probe import ProbeResult, probe_path, probe_target, saved_probe
from gr4vy_nb.cli import main
from gr4vy_nb.config import Settings, config_dir
from gr4vy_nb.errors import AuthError
from gr4vy_nb.sandbox import start_sandbox

ENV_VARS = ("GR4VY_ID", "GR4VY_ENVIRONMENT", "GR4VY_PRIVATE_KEY_FILE", "GR4VY_PRIVATE_KEY",
            "GR4VY_MERCHANT_ACCOUNT_ID", "GR4VY_BASE_URL")


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "config"
    monkeypatch.setenv("GR4VY_NB_CONFIG_DIR", str(folder))
    return folder


def _point(monkeypatch: pytest.MonkeyPatch, sb) -> None:
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GR4VY_BASE_URL", sb.base_url)
    monkeypatch.setenv("GR4VY_PRIVATE_KEY_FILE", str(sb.private_key_file))


def test_config_dir_is_overridable(config):
    assert config_dir() == config


def test_merge_sandbox_every_assumption_holds_and_is_saved(config, sandbox_clean):
    settings = Settings.for_sandbox(sandbox_clean)
    with Gr4vyClient(settings) as client:
        result = probe_target(client)
    assert result.ok and result.merges and result.expiry_reset is True and result.exit_code == 0
    assert {c.key for c in result.checks} >= {"put_merges", "null_clears", "lists_replaced", "expiry_reset",
                                              "expires_in_sets", "documented_fields", "bad_body_400", "deleted_404",
                                              "headers"}
    assert "x-request-id" in result.headers
    assert result.session_deleted
    stats = sandbox_clean.stats()
    assert stats["requests"]["POST"] == {"201": 1} and stats["requests"]["DELETE"] == {"204": 1}
    saved = saved_probe(settings)
    assert saved is not None and saved.merges and saved.path == probe_path(settings)
    assert str(saved.path).startswith(str(config))
    # per target: another merchant account is another target, never probed
    assert saved_probe(Settings.for_sandbox(sandbox_clean, merchant_account_id="other")) is None
    assert ProbeResult.from_dict(saved.to_dict()).failures == []


def test_cli_probe_exits_0_on_merge_and_1_on_replace_naming_it(config, tmp_path, monkeypatch, capsys):
    with start_sandbox(seed=None) as merge, start_sandbox(seed=None, put_semantics="replace") as replace:
        _point(monkeypatch, merge)
        assert main(["probe"]) == 0
        out = capsys.readouterr()
        assert "every assumption holds" in out.out and "Traceback" not in out.out + out.err
        _point(monkeypatch, replace)
        assert main(["probe"]) == 1
        out = capsys.readouterr()
        assert "DOES NOT HOLD: PUT replaces the session" in out.out
        assert "updates to this target send the full writable state" in out.out
        assert saved_probe(Settings.for_sandbox(replace)).put_semantics == "replace"
        assert replace.stats()["writes"] and replace.health()["sessions"] == 0  # the probe session is gone


def test_cli_probe_unreachable_or_refused_exits_3(config, tmp_path, monkeypatch, capsys, sandbox):
    _point(monkeypatch, sandbox)
    monkeypatch.setenv("GR4VY_BASE_URL", "http://127.0.0.1:9")
    assert main(["probe"]) == 3
    other_key = tmp_path / "other.pem"
    with start_sandbox(seed=None, private_key_file=other_key):
        pass
    _point(monkeypatch, sandbox)
    monkeypatch.setenv("GR4VY_PRIVATE_KEY_FILE", str(other_key))
    assert main(["probe"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err


def test_cli_probe_refuses_production_without_yes(config, monkeypatch, capsys, sandbox):
    _point(monkeypatch, sandbox)
    monkeypatch.delenv("GR4VY_BASE_URL")
    monkeypatch.setenv("GR4VY_ID", "acme")
    monkeypatch.setenv("GR4VY_ENVIRONMENT", "production")
    assert main(["probe"]) == 2
    assert "REFUSING TO PROBE" in capsys.readouterr().err


def test_a_failure_midway_still_deletes_the_session(config, sandbox_clean):
    sandbox_clean.set_faults([{"method": "PUT", "times": 1, "action": "status", "status": 401}])
    with Gr4vyClient(Settings.for_sandbox(sandbox_clean)) as client, pytest.raises(AuthError):
        probe_target(client)
    assert sandbox_clean.stats()["requests"]["DELETE"] == {"204": 1}
    assert saved_probe(Settings.for_sandbox(sandbox_clean)) is None


def test_a_server_error_on_one_check_fails_that_check_only(config, sandbox_clean):
    sandbox_clean.set_faults([{"method": "PUT", "times": 20, "action": "status", "status": 409}])
    with Gr4vyClient(Settings.for_sandbox(sandbox_clean)) as client:
        result = probe_target(client)
    assert not result.ok and not result.merges and result.session_deleted
    assert any("could not tell" in f for f in result.failures)
