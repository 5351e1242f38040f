"""The one boundary where foreign exceptions (``requests``, ``urllib3``, sockets, TLS) become gr4vy-nb errors.

:func:`classify_failure` says how an attempt failed without an answer (never sent, sent
without answer, unsendable), which decides whether a retry is safe; :func:`transport_error`
turns the exception into a :class:`~gr4vy_nb.errors.TransportError` (or
:class:`~gr4vy_nb.errors.OutcomeUnknown` for a write that may have been applied) whose
message names the failure, never the request (URLs may carry secrets through proxies).
"""

from __future__ import annotations

import http.client
import socket
import ssl

import requests.exceptions as rexc
import urllib3.exceptions as uexc

from ..errors import ApiError, OutcomeUnknown, TransportError
from .retry import Failure

__all__ = ["WRITE_METHODS", "classify_failure", "is_foreign", "transport_error"]

WRITE_METHODS = frozenset({"POST", "PUT", "DELETE", "PATCH"})
"""Methods whose lost answer leaves the outcome unknown."""

_CONNECT_TYPES: tuple[type[BaseException], ...] = (
    rexc.ConnectTimeout,
    rexc.SSLError,
    rexc.ProxyError,
    uexc.ConnectTimeoutError,  # NewConnectionError and NameResolutionError derive from it
    uexc.SSLError,
    uexc.ProxyError,
    uexc.EmptyPoolError,
    ssl.SSLError,
    ConnectionRefusedError,
    socket.gaierror,
)
_READ_TIMEOUT_TYPES: tuple[type[BaseException], ...] = (
    rexc.Timeout,  # ReadTimeout; a bare Timeout is assumed to have been sent
    uexc.ReadTimeoutError,
    uexc.TimeoutError,
    TimeoutError,
)
_INVALID_TYPES: tuple[type[BaseException], ...] = (
    rexc.URLRequired,
    rexc.MissingSchema,
    rexc.InvalidSchema,
    rexc.InvalidURL,
    rexc.InvalidHeader,
    rexc.InvalidJSONError,
    rexc.StreamConsumedError,
    rexc.UnrewindableBodyError,
    rexc.TooManyRedirects,
    uexc.LocationValueError,
    uexc.ProxySchemeUnsupported,
    uexc.ClosedPoolError,
    uexc.UnrewindableBodyError,
    uexc.BodyNotHttplibCompatible,
    uexc.InvalidHeader,
    uexc.HostChangedError,
)
_FOREIGN_MODULES = ("requests", "urllib3", "http.client", "ssl", "socket")
_FOREIGN_TYPES = (rexc.RequestException, uexc.HTTPError, uexc.ProxySchemeUnsupported, http.client.HTTPException)


def is_foreign(exc: BaseException) -> bool:
    """Whether an exception comes from the HTTP stack (and so must be translated)."""
    if isinstance(exc, ApiError):
        return False
    if isinstance(exc, _FOREIGN_TYPES):
        return True
    if isinstance(exc, OSError):
        return True
    module = type(exc).__module__ or ""
    return any(module == m or module.startswith(m + ".") for m in _FOREIGN_MODULES)


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps (args, ``reason``, causes), outermost first, bounded."""
    seen: list[BaseException] = []
    queue: list[BaseException] = [exc]
    while queue and len(seen) < 16:
        current = queue.pop(0)
        if any(current is s for s in seen):
            continue
        seen.append(current)
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            queue.append(reason)
        queue.extend(a for a in getattr(current, "args", ()) if isinstance(a, BaseException))
        for linked in (current.__cause__, current.__context__):
            if linked is not None:
                queue.append(linked)
    return seen


def classify_failure(exc: BaseException) -> Failure:
    """How a foreign exception failed: never sent (CONNECT), sent without answer, or unsendable.

    Anything not recognised counts as :attr:`Failure.DROPPED` (it may have been sent), the safe
    assumption: an idempotent call is retried, a create is never sent twice.
    """
    chain = _chain(exc)
    if any(isinstance(e, _CONNECT_TYPES) for e in chain):
        return Failure.CONNECT
    if any(isinstance(e, _READ_TIMEOUT_TYPES) for e in chain):
        return Failure.READ_TIMEOUT
    if any(isinstance(e, _INVALID_TYPES) for e in chain):
        return Failure.INVALID
    return Failure.DROPPED


def _reason_text(exc: BaseException) -> str:
    # The type of the innermost error and, for OS errors, its errno text; never str(exc), which
    # may carry URLs with query strings or, through proxies, credentials.
    chain = _chain(exc)
    inner = chain[-1]
    for e in reversed(chain):
        if isinstance(e, OSError) and e.strerror:
            return f"{type(e).__name__}: {e.strerror}"
    return type(inner).__name__


def transport_error(
    exc: BaseException,
    *,
    method: str,
    session_id: str | None = None,
    attempts: int = 1,
    failure: Failure | None = None,
    read_timeout: float | None = None,
) -> TransportError:
    """Translate a foreign exception into :class:`TransportError` (or :class:`OutcomeUnknown`).

    A write that was sent (read timeout, dropped connection) becomes ``OutcomeUnknown``: it may
    or may not have been applied.  The message names the failure, never the request.
    """
    failure = failure or classify_failure(exc)
    method = method.upper()
    reason = _reason_text(exc)
    if failure is Failure.CONNECT:
        message = f"could not connect to the API; the request was not sent ({reason})"
    elif failure is Failure.READ_TIMEOUT:
        limit = f" within {read_timeout:g} s" if read_timeout else ""
        message = f"no answer{limit} (read timeout)"
    elif failure is Failure.DROPPED:
        message = f"the connection broke before an answer came ({reason})"
    else:
        message = f"the request could not be sent ({reason})"
    cls: type[TransportError] = TransportError
    if failure.sent and method in WRITE_METHODS:
        cls = OutcomeUnknown
        message += "; the write may or may not have been applied"
    return cls(message, status=None, code=failure.value, attempts=attempts, session_id=session_id, method=method)
