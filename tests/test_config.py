"""Settings: built in one place, frozen, keyword-only, and never showing a secret."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gr4vy_nb.api.auth import READ_SCOPE, TokenSigner, generate_private_key_pem, load_private_key, thumbprint
from gr4vy_nb.api.retry import RetryPolicy
from gr4vy_nb.config import HOW_TO_CONFIGURE, Settings, Timeouts
from gr4vy_nb.errors import ConfigError


@pytest.fixture(scope="module")
def pem() -> bytes:
    return generate_private_key_pem()


@pytest.fixture
def key_file(tmp_path: Path, pem: bytes) -> Path:
    path = tmp_path / "private_key.pem"
    path.write_bytes(pem)
    path.chmod(0o600)
    return path


def pem_body_lines(pem: bytes) -> list[str]:
    return [line for line in pem.decode().splitlines() if line and not line.startswith("-----")]


# --------------------------------------------------------------------------- construction


def test_urls_are_derived_from_id_and_environment(key_file):
    sandbox = Settings(gr4vy_id="acme", private_key_file=key_file)
    assert sandbox.base_url == "https://api.sandbox.acme.gr4vy.app"
    assert sandbox.target == "Gr4vy sandbox (acme)"
    assert not sandbox.is_production and not sandbox.is_local
    prod = Settings(gr4vy_id="Acme", environment="PRODUCTION", private_key_file=key_file)
    assert prod.base_url == "https://api.acme.gr4vy.app"
    assert prod.gr4vy_id == "acme" and prod.environment == "production"
    assert prod.target == "Gr4vy PRODUCTION (acme)"
    assert prod.is_production


def test_base_url_override_and_local_target(key_file):
    local = Settings(gr4vy_id="acme", base_url="http://127.0.0.1:8787/", private_key_file=key_file)
    assert local.base_url == "http://127.0.0.1:8787"
    assert local.is_local and local.target == "local sandbox emulator"
    # A loopback URL never lowers a guard: production reached through a local tunnel or proxy is production.
    tunnel = Settings(environment="production", base_url="http://localhost:1", private_key_file=key_file)
    assert tunnel.is_production and not tunnel.is_local and tunnel.is_loopback
    assert tunnel.target == "Gr4vy PRODUCTION (localhost:1)"
    with pytest.raises(ConfigError, match="not a local sandbox"):
        Settings.for_sandbox("http://127.0.0.1:8787", key_file, environment="production")
    assert Settings(base_url="http://[::1]:8787", private_key_file=key_file).is_local
    assert Settings(base_url="https://proxy.example.com", private_key_file=key_file).target.startswith("Gr4vy sandbox")


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"environment": "staging"}, "sandbox' or 'production"),
        ({"gr4vy_id": "acme.evil.com/x"}, "not a Gr4vy instance id"),
        ({"gr4vy_id": "-acme"}, "not a Gr4vy instance id"),
        ({"base_url": "ftp://127.0.0.1"}, "http(s) URL"),
        ({"base_url": "http://api.example.com"}, "plain http on a non-local host"),
        ({"base_url": "https://user:pw@api.example.com"}, "must not contain credentials"),
        ({"merchant_account_id": ""}, "must not be empty"),
        ({"merchant_account_id": "a\r\nX-Injected: 1"}, "single line"),
        ({"timeouts": (0, 5)}, "timeouts.connect"),
        ({"timeouts": (1, float("inf"))}, "timeouts.read"),
        ({"retry": 3}, "RetryPolicy"),
    ],
)
def test_invalid_values_raise_config_error(kwargs, words):
    with pytest.raises(ConfigError) as info:
        Settings(**kwargs)
    assert words in str(info.value)


def test_settings_are_frozen_and_keyword_only(key_file):
    settings = Settings(gr4vy_id="acme", private_key_file=key_file)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.gr4vy_id = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        Settings("acme")  # type: ignore[misc]
    assert settings == Settings(gr4vy_id="acme", private_key_file=key_file)
    assert hash(settings) == hash(Settings(gr4vy_id="acme", private_key_file=key_file))
    changed = dataclasses.replace(settings, merchant_account_id="eu")
    assert changed.merchant_account_id == "eu" and changed.kid == settings.kid


def test_timeouts_and_retry_policy(key_file):
    settings = Settings(gr4vy_id="acme", private_key_file=key_file, timeouts=(2, 7), retry=RetryPolicy(max_attempts=2))
    assert settings.timeouts == Timeouts(connect=2, read=7)
    assert settings.timeouts.as_tuple() == (2.0, 7.0)
    assert settings.retry.max_attempts == 2
    assert Settings().timeouts.as_tuple() == (5.0, 30.0)


# --------------------------------------------------------------------------- credentials


def test_kid_is_the_key_thumbprint(key_file, pem):
    settings = Settings(gr4vy_id="acme", private_key_file=key_file)
    assert settings.kid == thumbprint(load_private_key(pem))
    assert Settings(gr4vy_id="acme", private_key=pem.decode()).kid == settings.kid


def test_signer_is_shared_and_signs_with_the_key(key_file):
    settings = Settings(gr4vy_id="acme", private_key_file=key_file)
    signer = settings.signer()
    assert isinstance(signer, TokenSigner)
    assert settings.signer() is signer
    assert signer.kid == settings.kid
    assert signer.token([READ_SCOPE]) == settings.signer().token([READ_SCOPE])


def test_ready_token(pem):
    token = TokenSigner(load_private_key(pem)).token([READ_SCOPE])
    settings = Settings(base_url="http://127.0.0.1:9", token=f"Bearer {token}")
    assert settings.token == token
    assert settings.configured
    assert settings.kid == thumbprint(load_private_key(pem))  # read from the token's header
    with pytest.raises(ConfigError, match="ready token"):
        settings.signer()
    assert Settings(base_url="http://127.0.0.1:9", token="not-a-jwt").kid is None
    with pytest.raises(ConfigError, match="single bearer token"):
        Settings(token="two words")
    with pytest.raises(ConfigError, match="not both"):
        Settings(token=token, private_key=pem.decode())


def test_key_problems_are_reported_without_the_key(tmp_path, pem):
    missing = tmp_path / "nope.pem"
    with pytest.raises(ConfigError, match="does not exist"):
        Settings(gr4vy_id="acme", private_key_file=missing)
    with pytest.raises(ConfigError, match="is a directory"):
        Settings(gr4vy_id="acme", private_key_file=tmp_path)
    rsa_pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    p256_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    encrypted = load_private_key(pem).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.BestAvailableEncryption(b"pw")
    )
    garbage = pem.replace(b"M", b"#", 3)
    for bad, words in [(rsa_pem, "RSA"), (p256_pem, "P-521"), (encrypted, "encrypted"), (garbage, "not a readable")]:
        path = tmp_path / "bad.pem"
        path.write_bytes(bad)
        with pytest.raises(ConfigError) as info:
            Settings(gr4vy_id="acme", private_key_file=path)
        text = str(info.value)
        assert words in text and "bad.pem" in text
        for line in pem_body_lines(bad)[:3]:
            assert line not in text
        with pytest.raises(ConfigError) as info:
            Settings(gr4vy_id="acme", private_key=bad.decode())
        for line in pem_body_lines(bad):
            assert line not in str(info.value)


def test_secrets_never_in_repr_or_str(key_file, pem):
    settings = Settings(gr4vy_id="acme", private_key=pem.decode())
    token = settings.signer().token([READ_SCOPE])
    with_token = Settings(gr4vy_id="acme", token=token)
    for s in (settings, with_token, Settings(gr4vy_id="acme", private_key_file=key_file)):
        shown = repr(s) + str(s) + f"{s}" + repr([s]) + repr(dataclasses.asdict(s)["timeouts"])
        assert token not in shown
        assert token.split(".")[2] not in shown
        for line in pem_body_lines(pem):
            assert line not in shown
        assert s.kid in shown
    assert "Gr4vy sandbox (acme)" in str(settings)


def test_pickle_round_trip_keeps_the_key_usable(pem):
    settings = Settings(gr4vy_id="acme", private_key=pem.decode(), retry=RetryPolicy(max_attempts=2))
    copy = pickle.loads(pickle.dumps(settings))
    assert copy == settings
    assert copy.kid == settings.kid
    assert copy.signer().kid == settings.kid


# --------------------------------------------------------------------------- from_env


def test_from_env_reads_every_variable(key_file):
    env = {
        "GR4VY_ID": "acme",
        "GR4VY_ENVIRONMENT": "production",
        "GR4VY_PRIVATE_KEY_FILE": str(key_file),
        "GR4VY_MERCHANT_ACCOUNT_ID": "eu-store",
        "GR4VY_BASE_URL": "https://gateway.example.com/",
        "UNRELATED": "x",
    }
    settings = Settings.from_env(env, dotenv_path=None)
    assert settings.gr4vy_id == "acme"
    assert settings.environment == "production"
    assert settings.merchant_account_id == "eu-store"
    assert settings.base_url == "https://gateway.example.com"
    assert settings.private_key_file == key_file
    assert settings.configured and settings.is_production


def test_from_env_private_key_text_with_escaped_newlines(pem):
    env = {"GR4VY_ID": "acme", "GR4VY_PRIVATE_KEY": pem.decode().replace("\n", "\\n")}
    settings = Settings.from_env(env, dotenv_path=None)
    assert settings.kid == thumbprint(load_private_key(pem))
    with pytest.raises(ConfigError, match="not both"):
        Settings.from_env({**env, "GR4VY_PRIVATE_KEY_FILE": "x.pem"}, dotenv_path=None)


def test_dotenv_file_is_read_and_real_environment_wins(tmp_path, key_file):
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        f"GR4VY_ID=from-dotenv\nGR4VY_ENVIRONMENT=sandbox\nGR4VY_PRIVATE_KEY_FILE={key_file}\n"
        "GR4VY_MERCHANT_ACCOUNT_ID=dotenv-account\n"
    )
    only_file = Settings.from_env({}, dotenv_path=dotenv)
    assert only_file.gr4vy_id == "from-dotenv" and only_file.merchant_account_id == "dotenv-account"
    both = Settings.from_env({"GR4VY_ID": "from-env"}, dotenv_path=dotenv)
    assert both.gr4vy_id == "from-env"
    assert both.merchant_account_id == "dotenv-account"
    assert Settings.from_env({}, dotenv_path=tmp_path / "absent.env").configured is False


def test_nothing_configured_is_not_an_error_until_required(monkeypatch, tmp_path):
    for name in ("GR4VY_ID", "GR4VY_BASE_URL", "GR4VY_PRIVATE_KEY_FILE", "GR4VY_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    settings = Settings.from_env()
    assert settings.configured is False
    assert settings.target == "no target configured"
    with pytest.raises(ConfigError) as info:
        Settings.from_env(required=True)
    text = str(info.value)
    assert HOW_TO_CONFIGURE in text
    assert "GR4VY_ID" in text and "GR4VY_PRIVATE_KEY_FILE" in text and "gr4vy-nb sandbox" in text
    with pytest.raises(ConfigError, match="gr4vy-nb sandbox"):
        settings.signer()
    with pytest.raises(ConfigError):
        settings.require()


def test_target_without_credentials_says_what_is_missing():
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"GR4VY_ID": "acme"}, dotenv_path=None)
    assert "Gr4vy sandbox (acme)" in str(info.value) and "GR4VY_PRIVATE_KEY_FILE" in str(info.value)
    with pytest.raises(ConfigError, match="sandbox' or 'production"):
        Settings.from_env({"GR4VY_ID": "acme", "GR4VY_ENVIRONMENT": "live"}, dotenv_path=None)


def test_from_env_overrides(key_file):
    settings = Settings.from_env(
        {"GR4VY_ID": "acme", "GR4VY_PRIVATE_KEY_FILE": str(key_file)}, dotenv_path=None, timeouts=(1, 2)
    )
    assert settings.timeouts.as_tuple() == (1.0, 2.0)


# --------------------------------------------------------------------------- for_sandbox


def test_for_sandbox_from_object_or_url(key_file):
    sandbox = SimpleNamespace(base_url="http://127.0.0.1:8787", private_key_file=str(key_file))
    settings = Settings.for_sandbox(sandbox)
    assert settings.base_url == "http://127.0.0.1:8787"
    assert settings.private_key_file == key_file
    assert settings.target == "local sandbox emulator" and settings.configured
    other = Settings.for_sandbox("http://localhost:9000", key_file, merchant_account_id="m2", timeouts=(1, 1))
    assert other.merchant_account_id == "m2" and other.is_local
    with pytest.raises(ConfigError, match="not a local sandbox"):
        Settings.for_sandbox("https://api.sandbox.acme.gr4vy.app", key_file)
