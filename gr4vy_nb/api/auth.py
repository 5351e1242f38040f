"""ES512 bearer tokens for Gr4vy, signed with the merchant's EC P-521 private key.

Gr4vy authenticates API calls with a JWT signed by the merchant's private key:

* header: ``alg`` ``ES512``, ``typ`` ``JWT``, ``kid`` = the key's RFC 7638 thumbprint
  (base64url SHA-256 of the public JWK ``{"crv","kty","x","y"}``, keys sorted, no spaces);
* claims: ``scopes`` (a list), ``iss``, ``iat``, ``nbf``, ``exp``, ``jti``.

:class:`TokenSigner` signs with the *least* scopes a call needs (``checkout-sessions.read``
for reads, ``checkout-sessions.write`` for writes), caches one token per scope set and renews
it well before it expires.  Keys are checked when loaded: RSA, encrypted, malformed or
non-P-521 keys are refused with a message that never echoes the key.  Neither the key nor a
token appears in any ``repr``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from .._version import __version__
from ..errors import ConfigError

__all__ = [
    "READ_SCOPE",
    "WRITE_SCOPE",
    "TokenSigner",
    "generate_private_key_pem",
    "load_private_key",
    "public_jwk",
    "thumbprint",
    "write_new_private_key",
]

READ_SCOPE = "checkout-sessions.read"
WRITE_SCOPE = "checkout-sessions.write"

_COORD_BYTES = 66  # P-521 coordinates are 521 bits, padded to 66 bytes in a JWK


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def load_private_key(pem: str | bytes, *, source: str = "the private key") -> ec.EllipticCurvePrivateKey:
    """Load an unencrypted PEM EC P-521 private key, refusing anything else.

    ``source`` names where the key came from in error messages (e.g. the file name);
    the key's content is never echoed.

    Raises:
        ConfigError: the key is malformed, encrypted, not EC, or not on curve P-521.
    """
    data = pem.encode("utf-8") if isinstance(pem, str) else pem
    if b"ENCRYPTED" in data:
        raise ConfigError(
            f"{source} is encrypted; Gr4vy keys are used unencrypted: export it without a passphrase "
            "and protect the file with permissions (chmod 600) instead"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ConfigError(f"{source} is encrypted; export it without a passphrase") from None
    except (ValueError, Exception) as exc:  # cryptography raises several types for garbage
        kind = type(exc).__name__
        raise ConfigError(
            f"{source} is not a readable PEM private key ({kind}); expected the EC P-521 key "
            "downloaded from the Gr4vy dashboard (a PEM file whose first line names a PRIVATE KEY)"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        algo = type(key).__name__.removeprefix("_").replace("PrivateKey", "") or "non-EC"
        raise ConfigError(f"{source} is an {algo} key; Gr4vy needs an EC key on curve P-521 (ES512)")
    if not isinstance(key.curve, ec.SECP521R1):
        raise ConfigError(f"{source} is on curve {key.curve.name}; Gr4vy needs curve P-521 (secp521r1, ES512)")
    return key


def generate_private_key_pem() -> bytes:
    """Return a new EC P-521 private key as unencrypted PKCS#8 PEM."""
    key = ec.generate_private_key(ec.SECP521R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def write_new_private_key(path: str | os.PathLike[str]) -> Path:
    """Create a new P-521 key file at ``path`` with mode 0600 (refuses to overwrite)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(generate_private_key_pem())
    return path


def public_jwk(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The public JWK (``crv``, ``kty``, ``x``, ``y``) of a P-521 key."""
    pub = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    numbers = pub.public_numbers()
    return {
        "crv": "P-521",
        "kty": "EC",
        "x": _b64url(numbers.x.to_bytes(_COORD_BYTES, "big")),
        "y": _b64url(numbers.y.to_bytes(_COORD_BYTES, "big")),
    }


def thumbprint(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str:
    """The RFC 7638 thumbprint of the key, used as the token's ``kid``."""
    canonical = json.dumps(public_jwk(key), sort_keys=True, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


class TokenSigner:
    """Signs and caches ES512 tokens for sets of scopes.

    Args:
        key: the merchant's P-521 private key (see :func:`load_private_key`).
        lifetime: seconds a token is valid (default one hour).
        renew_before: a cached token is replaced once fewer than this many seconds of its
            lifetime remain (default 10 minutes), so a request never carries a token about to
            expire, even after retries and a slow network.
        clock: returns the current Unix time; injectable for tests.

    Example::

        signer = TokenSigner(load_private_key(Path("key.pem").read_bytes()))
        headers = {"Authorization": f"Bearer {signer.token([READ_SCOPE])}"}
    """

    def __init__(
        self,
        key: ec.EllipticCurvePrivateKey,
        *,
        lifetime: int = 3600,
        renew_before: int = 600,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if renew_before >= lifetime:
            raise ValueError("renew_before must be shorter than lifetime")
        self._key = key
        self.kid = thumbprint(key)
        self.lifetime = lifetime
        self.renew_before = renew_before
        self._clock = clock
        self._cache: dict[frozenset[str], tuple[str, float]] = {}
        self._lock = threading.Lock()
        self.signed_count = 0

    def __repr__(self) -> str:
        return f"TokenSigner(kid={self.kid!r}, lifetime={self.lifetime})"

    def token(self, scopes: Iterable[str]) -> str:
        """A valid token for exactly ``scopes``, from the cache when still fresh."""
        wanted = frozenset(scopes)
        if not wanted:
            raise ValueError("a token needs at least one scope")
        now = self._clock()
        with self._lock:
            cached = self._cache.get(wanted)
            if cached is not None and cached[1] - now > self.renew_before:
                return cached[0]
            token, exp = self._sign(sorted(wanted), now)
            self._cache[wanted] = (token, exp)
            return token

    def _sign(self, scopes: list[str], now: float) -> tuple[str, float]:
        iat = int(now)
        exp = iat + self.lifetime
        claims: dict[str, Any] = {
            "scopes": scopes,
            "iss": f"gr4vy-nb/{__version__}",
            "iat": iat,
            "nbf": iat,
            "exp": exp,
            "jti": str(uuid.uuid4()),
        }
        self.signed_count += 1
        token = jwt.encode(claims, self._key, algorithm="ES512", headers={"kid": self.kid, "typ": "JWT"})
        return token, float(exp)
