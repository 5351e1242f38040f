"""ES512 tokens: their shape, least scopes, caching and renewal, key checks; then the sandbox's verdict."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from gr4vy_nb import __version__
from gr4vy_nb.api.auth import (
    READ_SCOPE,
    WRITE_SCOPE,
    TokenSigner,
    generate_private_key_pem,
    load_private_key,
    public_jwk,
    thumbprint,
    write_new_private_key,
)
from gr4vy_nb.errors import ConfigError
from tests.paths import SAMPLE

_PEM_LABEL = "PRIVATE KEY"


def _armoured(body: str) -> str:
    """PEM armour around a body that is no key at all (built here so no key-like text is committed)."""
    return f"-----BEGIN {_PEM_LABEL}-----\n{body}\n-----END {_PEM_LABEL}-----\n"


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return load_private_key(generate_private_key_pem())


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _pem(private_key, encryption=None) -> bytes:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        encryption or serialization.NoEncryption(),
    )


# --------------------------------------------------------------------------- the token


def test_token_header_and_claims(key):
    clock = Clock()
    token = TokenSigner(key, clock=clock).token([WRITE_SCOPE])
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "ES512", "typ": "JWT", "kid": thumbprint(key)}
    claims = jwt.decode(token, key.public_key(), algorithms=["ES512"], options={"verify_exp": False,
                                                                             "verify_nbf": False,
                                                                             "verify_iat": False})
    assert claims["scopes"] == [WRITE_SCOPE]
    assert claims["iss"] == f"gr4vy-nb/{__version__}"
    assert claims["iat"] == claims["nbf"] == int(clock.now)
    assert claims["exp"] == int(clock.now) + 3600
    assert len(claims["jti"]) >= 32
    assert set(claims) == {"scopes", "iss", "iat", "nbf", "exp", "jti"}


def test_token_verifies_only_with_its_own_key(key):
    token = TokenSigner(key).token([READ_SCOPE])
    jwt.decode(token, key.public_key(), algorithms=["ES512"])
    other = load_private_key(generate_private_key_pem())
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, other.public_key(), algorithms=["ES512"])


def test_thumbprint_is_rfc7638(key):
    # Recompute from the public numbers independently of auth.public_jwk's formatting.
    numbers = key.public_key().public_numbers()

    def b64(n: int) -> str:
        return base64.urlsafe_b64encode(n.to_bytes(66, "big")).rstrip(b"=").decode()

    canonical = '{"crv":"P-521","kty":"EC","x":"%s","y":"%s"}' % (b64(numbers.x), b64(numbers.y))  # noqa: UP031
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    assert thumbprint(key) == expected == thumbprint(key.public_key())
    jwk = public_jwk(key)
    assert sorted(jwk) == ["crv", "kty", "x", "y"]
    assert json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))["x"] == jwk["x"]


def test_least_scopes_and_one_token_per_scope_set(key):
    signer = TokenSigner(key)
    read, write = signer.token([READ_SCOPE]), signer.token([WRITE_SCOPE])
    assert read != write
    assert jwt.decode(read, options={"verify_signature": False})["scopes"] == [READ_SCOPE]
    assert signer.token([READ_SCOPE]) is read
    assert signer.token({WRITE_SCOPE}) is write
    both = signer.token([WRITE_SCOPE, READ_SCOPE])
    assert jwt.decode(both, options={"verify_signature": False})["scopes"] == sorted([READ_SCOPE, WRITE_SCOPE])
    assert signer.signed_count == 3
    with pytest.raises(ValueError):
        signer.token([])


def test_tokens_are_renewed_well_before_expiry(key):
    clock = Clock()
    signer = TokenSigner(key, lifetime=3600, renew_before=600, clock=clock)
    first = signer.token([READ_SCOPE])
    clock.now += 2999  # 601 s of life left: still cached
    assert signer.token([READ_SCOPE]) is first
    clock.now += 2  # 599 s left: renewed
    second = signer.token([READ_SCOPE])
    assert second != first
    exp = jwt.decode(second, options={"verify_signature": False})["exp"]
    assert exp - clock.now >= 3599


def test_a_run_of_hours_never_holds_a_token_close_to_expiry(key):
    clock = Clock()
    signer = TokenSigner(key, clock=clock)
    for _ in range(6 * 3600 // 30):  # six hours, one call every 30 s
        token = signer.token([WRITE_SCOPE])
        exp = jwt.decode(token, options={"verify_signature": False})["exp"]
        assert exp - clock.now > signer.renew_before
        clock.now += 30
    assert 6 <= signer.signed_count <= 8


def test_signer_repr_hides_the_key(key):
    signer = TokenSigner(key)
    token = signer.token([READ_SCOPE])
    assert token not in repr(signer)
    assert "PRIVATE" not in repr(signer)
    assert thumbprint(key) in repr(signer)
    with pytest.raises(ValueError):
        TokenSigner(key, lifetime=60, renew_before=60)


# --------------------------------------------------------------------------- key loading


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)), "RSA"),
        (lambda: _pem(ec.generate_private_key(ec.SECP256R1())), "secp256r1"),
        (lambda: _pem(ec.generate_private_key(ec.SECP384R1())), "P-521"),
        (lambda: _pem(ed25519.Ed25519PrivateKey.generate()), "EC key on curve P-521"),
        (
            lambda: _pem(ec.generate_private_key(ec.SECP521R1()), serialization.BestAvailableEncryption(b"secret")),
            "encrypted",
        ),
        (lambda: _armoured("TUlJQkNBS0JnUUNxR0tn").encode(), "not a readable"),
        (lambda: b"", "not a readable"),
        (lambda: "just text, not PEM at all", "not a readable"),
    ],
)
def test_unusable_keys_are_refused_without_echo(make, words):
    material = make()
    with pytest.raises(ConfigError) as info:
        load_private_key(material, source="the key file 'k.pem'")
    text = str(info.value)
    assert words in text and "k.pem" in text
    raw = material.decode() if isinstance(material, bytes) else material
    for line in raw.splitlines():
        if line and not line.startswith("-----"):
            assert line not in text


def test_write_new_private_key_is_private_and_never_overwrites(tmp_path: Path):
    path = write_new_private_key(tmp_path / "keys" / "gr4vy.pem")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert isinstance(load_private_key(path.read_bytes()), ec.EllipticCurvePrivateKey)
    with pytest.raises(FileExistsError):
        write_new_private_key(path)


# --------------------------------------------------------------------------- against the sandbox


@pytest.fixture
def sandbox_settings(sandbox_clean):
    from gr4vy_nb.config import Settings

    return Settings.for_sandbox(sandbox_clean)


@pytest.fixture(scope="module")
def sample_id() -> str:
    sample = SAMPLE
    return json.loads(sample.read_text().splitlines()[0])["id"]


@pytest.fixture
def sandbox_key(sandbox) -> ec.EllipticCurvePrivateKey:
    return load_private_key(sandbox.private_key_file.read_bytes())


def test_sandbox_accepts_our_token(sandbox_settings, sample_id):
    from gr4vy_nb.api.client import Gr4vyClient

    with Gr4vyClient(sandbox_settings) as client:
        session = client.get_checkout_session(sample_id)
    assert session["id"] == sample_id


def test_sandbox_refuses_another_keys_token(sandbox_clean, sample_id):
    from gr4vy_nb.api.client import Gr4vyClient
    from gr4vy_nb.config import Settings
    from gr4vy_nb.errors import AuthError

    other_key = generate_private_key_pem().decode()
    stranger = Settings.for_sandbox(sandbox_clean, private_key=other_key, private_key_file=None)
    with Gr4vyClient(stranger) as client, pytest.raises(AuthError) as info:
        client.get_checkout_session(sample_id)
    assert info.value.status == 401 and info.value.attempts == 1


def test_sandbox_refuses_an_expired_token(sandbox_clean, sandbox_key, sample_id):
    from gr4vy_nb.api.client import Gr4vyClient
    from gr4vy_nb.config import Settings
    from gr4vy_nb.errors import AuthError

    expired = TokenSigner(sandbox_key, clock=Clock(1_600_000_000.0)).token([READ_SCOPE])
    settings = Settings.for_sandbox(sandbox_clean.base_url, token=expired)
    with Gr4vyClient(settings) as client, pytest.raises(AuthError) as info:
        client.get_checkout_session(sample_id)
    assert info.value.status == 401
    assert expired not in str(info.value) and expired not in repr(info.value)


def test_sandbox_refuses_a_token_lacking_the_scope(sandbox_clean, sandbox_key, sample_id):
    from gr4vy_nb.api.client import Gr4vyClient
    from gr4vy_nb.config import Settings
    from gr4vy_nb.errors import PermissionDenied

    read_only = TokenSigner(sandbox_key).token([READ_SCOPE])
    with Gr4vyClient(Settings.for_sandbox(sandbox_clean.base_url, token=read_only)) as client:
        assert client.get_checkout_session(sample_id)["id"] == sample_id
        with pytest.raises(PermissionDenied) as info:
            client.update_checkout_session(sample_id, {"metadata": {"k": "v"}})
    assert info.value.status == 403
    assert info.value.missing_scope == WRITE_SCOPE
    assert info.value.attempts == 1
    write_only = TokenSigner(sandbox_key).token([WRITE_SCOPE])
    settings = Settings.for_sandbox(sandbox_clean.base_url, token=write_only)
    with Gr4vyClient(settings) as client, pytest.raises(PermissionDenied) as info:
        client.get_checkout_session(sample_id)
    assert info.value.missing_scope == READ_SCOPE
