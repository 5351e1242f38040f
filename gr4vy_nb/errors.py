"""The exceptions of gr4vy-nb, one tree under :class:`Gr4vyError`.

::

    Gr4vyError                      base; never carries a key or a token
    ├── ConfigError                 settings or credentials unusable (CLI exit 3, nothing sent)
    ├── InputError                  a bad CSV/upload; carries the problems table (CLI exit 2)
    │   └── Refused                 a step of a bulk update may not run now; carries its typed ``reason``
    ├── RunError                    a run cannot start or continue (journal locked, inputs changed)
    └── ApiError                    the API answered with an error (status, code, message, details)
        ├── AuthError               401: no valid authentication (bad key, expired token, clock skew)
        ├── PermissionDenied        403: the token lacks a scope (named in ``missing_scope``)
        ├── NotFound                404: session not found or expired
        ├── ValidationFailed        400/422: the body was refused; ``details`` locate each field
        ├── Conflict                409
        ├── RateLimited             429 after the retry budget was spent
        ├── ServerError             5xx after the retry budget was spent
        └── TransportError          no answer: connection refused/reset, timeout, bad TLS, ...
            └── OutcomeUnknown      a write may or may not have been applied (read timeout)

Every :class:`ApiError` carries ``status`` (``None`` when no answer arrived), ``code``,
``message``, ``details`` (a list of dicts with ``location``, ``pointer``, ``message``,
``type``), ``request_id`` when the server sent one, ``attempts`` and the ``session_id`` it
concerns.  Foreign exceptions (``requests``, ``urllib3``) are translated in one place, the
client (:mod:`gr4vy_nb.api.transport`); error answers become these classes in
:mod:`gr4vy_nb.api.answers`; nothing else raises them.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "AuthError",
    "ConfigError",
    "Conflict",
    "Gr4vyError",
    "InputError",
    "NotFound",
    "OutcomeUnknown",
    "PermissionDenied",
    "RateLimited",
    "Refused",
    "RunError",
    "ServerError",
    "TransportError",
    "ValidationFailed",
]


class Gr4vyError(Exception):
    """Base of every error raised by gr4vy-nb."""


class ConfigError(Gr4vyError):
    """Settings or credentials are missing or unusable; nothing was sent."""


class InputError(Gr4vyError):
    """The input files have errors; ``problems`` is a DataFrame of them. Nothing was sent."""

    def __init__(self, message: str, problems: Any = None) -> None:
        super().__init__(message)
        self.problems = problems


class Refused(InputError):
    """A step of a bulk update (:class:`~gr4vy_nb.updates.workflow.BulkUpdate`) may not run now; nothing was sent.

    ``reason`` is the typed :class:`~gr4vy_nb.updates.reasons.Reason` (a code and neutral text) that
    ``BulkUpdate.why_not`` gives for the same step; shells render it in their own words.
    """

    def __init__(self, reason: Any, problems: Any = None) -> None:
        super().__init__(str(getattr(reason, "text", reason)), problems)
        self.reason = reason


class RunError(Gr4vyError):
    """A run cannot start or continue (journal locked by another process, inputs changed, ...)."""


class ApiError(Gr4vyError):
    """The API answered with an error, or did not answer at all."""

    default_message = "the API returned an error"

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
        details: list[dict[str, Any]] | None = None,
        request_id: str | None = None,
        attempts: int = 1,
        session_id: str | None = None,
        method: str | None = None,
    ) -> None:
        self.message = message or self.default_message
        self.status = status
        self.code = code
        self.details = list(details or [])
        self.request_id = request_id
        self.attempts = attempts
        self.session_id = session_id
        self.method = method
        super().__init__(self.message)

    def __str__(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(str(self.status))
        if self.code:
            parts.append(self.code)
        head = " ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.details:
            text += " (" + "; ".join(
                f"{d.get('pointer') or d.get('location') or '?'}: {d.get('message', '')}" for d in self.details[:5]
            ) + (f"; +{len(self.details) - 5} more" if len(self.details) > 5 else "") + ")"
        if self.session_id:
            text += f" [session {self.session_id}]"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, message={self.message!r})"


class AuthError(ApiError):
    default_message = "no valid API authentication (check the key, the Gr4vy id and the clock)"


class PermissionDenied(ApiError):
    default_message = "the token lacks a required scope"

    def __init__(self, message: str | None = None, *, missing_scope: str | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.missing_scope = missing_scope


class NotFound(ApiError):
    default_message = "session not found or expired"


class ValidationFailed(ApiError):
    default_message = "the request body was refused"


class Conflict(ApiError):
    default_message = "conflict"


class RateLimited(ApiError):
    default_message = "rate limited (429) and the retry budget is spent"


class ServerError(ApiError):
    default_message = "the server failed and the retry budget is spent"


class TransportError(ApiError):
    default_message = "no answer from the API"


class OutcomeUnknown(TransportError):
    """A write was sent but no answer came back: it may or may not have been applied."""

    default_message = "the write was sent but no answer came back; it may or may not have been applied"
