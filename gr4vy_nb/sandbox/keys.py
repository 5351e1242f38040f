"""The sandbox's own key handling: its EC P-521 key file, the public JWK and the ``kid``.

Written here, apart from the toolkit's :mod:`gr4vy_nb.api.auth`, so that a mistake there
(a wrong thumbprint, a wrong curve) shows up as refused tokens instead of being shared:

* ``kid`` is the RFC 7638 thumbprint of the public key: the base64url (no padding) SHA-256
  of the JWK's required members ``crv``, ``kty``, ``x``, ``y``, in that (lexicographic)
  order, without whitespace; ``x`` and ``y`` are the big-endian coordinates padded to
  66 bytes (521 bits), as RFC 7518 section 6.2.1.2 requires;
* the key file is an unencrypted PEM private key on curve P-521, created with mode 0600
  when missing; anything else is refused with a message that never echoes the file.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import ConfigError

__all__ = ["READ_SCOPE", "WRITE_SCOPE", "jwk_of", "kid_of", "load_key", "load_or_create_key"]

READ_SCOPE = "checkout-sessions.read"
"""The scope a read of checkout sessions needs (``*.read`` grants it too)."""
WRITE_SCOPE = "checkout-sessions.write"
"""The scope a write of checkout sessions needs (``*.write`` grants it too)."""

_P521_BYTES = 66


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def jwk_of(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The public JWK of a P-521 key: ``{"crv", "kty", "x", "y"}`` (never the private part)."""
    public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    numbers = public.public_numbers()
    return {"crv": "P-521", "kty": "EC", "x": _b64url(numbers.x.to_bytes(_P521_BYTES, "big")),
            "y": _b64url(numbers.y.to_bytes(_P521_BYTES, "big"))}


def kid_of(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str:
    """The RFC 7638 thumbprint of the key (the ``kid`` tokens must carry)."""
    jwk = jwk_of(key)
    # Written out by hand (not json.dumps) so the canonical form is visible: members sorted, no spaces.
    canonical = f'{{"crv":"{jwk["crv"]}","kty":"{jwk["kty"]}","x":"{jwk["x"]}","y":"{jwk["y"]}"}}'
    return _b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def load_key(data: bytes, *, source: str) -> ec.EllipticCurvePrivateKey:
    """Load an unencrypted PEM P-521 private key; :class:`ConfigError` (naming ``source``, not the content) else."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise ConfigError(f"{source} is encrypted; the sandbox needs an unencrypted P-521 key") from None
    except Exception as exc:  # cryptography raises several types for garbage
        raise ConfigError(f"{source} is not a readable PEM private key ({type(exc).__name__}); expected an EC "
                          "P-521 key") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP521R1):
        raise ConfigError(f"{source} is not an EC key on curve P-521 (ES512)")
    return key


def load_or_create_key(path: str | os.PathLike[str]) -> ec.EllipticCurvePrivateKey:
    """Load the sandbox's key from ``path``, creating a new one (mode 0600) when the file is missing."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = ec.generate_private_key(ec.SECP521R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        with contextlib.suppress(FileExistsError):  # another process created it meanwhile: use that one
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
    return load_key(path.read_bytes(), source=f"the sandbox key file {path}")
