"""Bearer-token checks of the sandbox: ES512 JWTs verified against the sandbox's P-521 key.

The checks, in order, each failing with 401 (403 for a missing scope):

1. an ``Authorization: Bearer <token>`` header is present;
2. the token's header says ``alg: ES512`` (RS256, HS256, ``none`` and the rest are refused)
   and carries a ``kid`` equal to the RFC 7638 thumbprint of the sandbox key (computed by
   :mod:`~gr4vy_nb.sandbox.keys`, independently of the toolkit's signer);
3. the signature verifies with the sandbox's public key; ``exp`` is required, ``exp``,
   ``nbf`` and ``iat`` are checked with :data:`LEEWAY_SECONDS` of leeway for clock skew;
4. the ``scopes`` claim holds the operation's scope (``checkout-sessions.read`` or
   ``*.read`` for reads, ``checkout-sessions.write`` or ``*.write`` for writes).

A token whose signature was verified once is remembered (by its exact text) so that a
client reusing its token costs one dictionary lookup per request, not one P-521
verification; its ``exp``/``nbf`` are still checked on every request.  Error messages say
what is wrong without ever echoing the token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from .keys import READ_SCOPE, WRITE_SCOPE, kid_of

__all__ = ["LEEWAY_SECONDS", "AuthProblem", "TokenVerifier", "required_scope"]

LEEWAY_SECONDS = 30
"""Clock skew tolerated on ``exp``, ``nbf`` and ``iat``."""

_CACHE_MAX = 4096
_NO_AUTH = "No valid API authentication found"


@dataclass
class AuthProblem(Exception):
    """A refused token: ``status`` 401 or 403, a message, and error ``details``."""

    status: int
    message: str
    details: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(self.message)


def required_scope(method: str) -> str:
    """The scope an HTTP method needs on checkout sessions."""
    return READ_SCOPE if method in ("GET", "HEAD") else WRITE_SCOPE


def _unauthorized(reason: str) -> AuthProblem:
    return AuthProblem(401, f"{_NO_AUTH}: {reason}")


class TokenVerifier:
    """Verifies bearer tokens against one P-521 key (see the module docstring)."""

    def __init__(self, key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey,
                 *, leeway: int = LEEWAY_SECONDS) -> None:
        self._public = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
        self.kid = kid_of(self._public)
        self.leeway = leeway
        self._verified: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"TokenVerifier(kid={self.kid!r})"

    def authorize(self, authorization: str | None, scope: str, now: float) -> dict[str, Any]:
        """Return the token's claims if it is valid and grants ``scope``; raise :class:`AuthProblem`."""
        claims = self._claims(authorization, now)
        scopes = claims.get("scopes")
        if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
            scopes = []
        wildcard = "*." + scope.rsplit(".", 1)[1]
        if scope not in scopes and wildcard not in scopes:
            raise AuthProblem(
                403,
                f"Missing required scope: {scope}",
                [{"location": "header", "pointer": "/authorization", "message": f"the token lacks the scope {scope}",
                  "type": "missing_scope"}],
            )
        return claims

    def _claims(self, authorization: str | None, now: float) -> dict[str, Any]:
        if not authorization:
            raise _unauthorized("send an 'Authorization: Bearer <token>' header")
        kind, _, token = authorization.partition(" ")
        token = token.strip()
        if kind.lower() != "bearer" or not token:
            raise _unauthorized("the Authorization header must be 'Bearer <token>'")
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token)
            if len(self._verified) >= _CACHE_MAX:
                self._verified.clear()
            self._verified[token] = claims
        self._check_times(claims, now)
        return claims

    def _verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _unauthorized("the token is not a well-formed JWT") from None
        alg = header.get("alg")
        if alg != "ES512":
            raise _unauthorized(f"token algorithm {str(alg)[:20]!r} is not accepted; tokens must be signed ES512")
        kid = header.get("kid")
        if not kid:
            raise _unauthorized("the token header has no 'kid' (the key's thumbprint)")
        if kid != self.kid:
            raise _unauthorized("the token's 'kid' does not match this sandbox's key")
        try:
            # Times are checked by _check_times (same rules for cached tokens); here only
            # the signature and the presence of exp.
            claims = jwt.decode(
                token, self._public, algorithms=["ES512"],
                options={"require": ["exp"], "verify_exp": False, "verify_nbf": False, "verify_iat": False,
                         "verify_aud": False, "verify_iss": False},
            )
        except jwt.InvalidSignatureError:
            raise _unauthorized("the token's signature does not verify with this sandbox's key") from None
        except jwt.MissingRequiredClaimError:
            raise _unauthorized("the token has no 'exp' claim") from None
        except jwt.PyJWTError as exc:
            raise _unauthorized(f"the token is invalid ({type(exc).__name__})") from None
        for name in ("exp", "nbf", "iat"):
            if name in claims and (not isinstance(claims[name], int | float) or isinstance(claims[name], bool)):
                raise _unauthorized(f"the token's '{name}' claim must be a number")
        return claims

    def _check_times(self, claims: dict[str, Any], now: float) -> None:
        if now > claims["exp"] + self.leeway:
            raise _unauthorized("the token has expired (check the clock, or sign a new token)")
        nbf = claims.get("nbf")
        if nbf is not None and now < nbf - self.leeway:
            raise _unauthorized("the token is not valid yet ('nbf' is in the future; check the clock)")
        iat = claims.get("iat")
        if iat is not None and now < iat - self.leeway:
            raise _unauthorized("the token was issued in the future ('iat'; check the clock)")
