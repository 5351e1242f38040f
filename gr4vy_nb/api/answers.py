"""Error answers of the API, whatever their body, become the right :class:`~gr4vy_nb.errors.ApiError`.

:func:`error_from_response` reads Gr4vy's body ``{type, code, status, message, details[]}``,
FastAPI's ``{detail: [{loc, msg, type}]}`` (``loc`` becomes ``location`` + JSON ``pointer``),
an HTML page, an empty body or truncated JSON, without ever raising while parsing, and picks
the class by status (:func:`error_for_status`). Values the server echoes back are never
kept: they may be personal data.
"""

from __future__ import annotations

import http.client
import re
from collections.abc import Mapping
from typing import Any

import orjson

from ..errors import (
    ApiError,
    AuthError,
    Conflict,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    ValidationFailed,
)
from ..pointers import encode

__all__ = ["error_for_status", "error_from_response", "parse_error_body", "request_id_from"]

_BY_STATUS: dict[int, type[ApiError]] = {
    400: ValidationFailed,
    401: AuthError,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    422: ValidationFailed,
    429: RateLimited,
}


def error_for_status(status: int) -> type[ApiError]:
    """The exception class for an HTTP error status."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return ApiError


_SCOPE_RE = re.compile(r"(?<![\w.*-])((?:[a-z*][a-z0-9*-]*)\.(?:read|write))(?![\w-]|\.\w)")
_TITLE_RE = re.compile(rb"<title[^>]*>(.{0,200}?)</title>", re.IGNORECASE | re.DOTALL)
_REQUEST_ID_HEADERS = ("x-request-id", "x-gr4vy-request-id", "request-id", "x-correlation-id")
_LOCATIONS = frozenset({"body", "query", "path", "header"})
_MAX_DETAILS = 200
_UNREADABLE = object()


def _clip(value: Any, limit: int = 500) -> str:
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _gr4vy_details(raw: Any) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        return []
    details = []
    for item in raw[:_MAX_DETAILS]:
        if isinstance(item, Mapping):
            location = item.get("location")
            details.append(
                {
                    "location": location if isinstance(location, str) and location else "unknown",
                    "pointer": _clip(item.get("pointer") or ""),
                    "message": _clip(item.get("message") or ""),
                    "type": _clip(item.get("type") or ""),
                }
            )
    return details


def _fastapi_details(raw: list[Any]) -> list[dict[str, Any]]:
    details = []
    for item in raw[:_MAX_DETAILS]:
        if not isinstance(item, Mapping):
            continue
        loc = item.get("loc")
        loc = list(loc) if isinstance(loc, list | tuple) else []
        located = bool(loc) and loc[0] in _LOCATIONS
        # The offending "input" is deliberately dropped: it may be personal data.
        details.append(
            {
                "location": loc[0] if located else "unknown",
                "pointer": encode(loc[1:] if located else loc),
                "message": _clip(item.get("msg") or ""),
                "type": _clip(item.get("type") or ""),
            }
        )
    return details


def parse_error_body(content: bytes | None, content_type: str = "") -> tuple[str | None, str | None, list[dict]]:
    """``(code, message, details)`` read from any error body; never raises.

    ``message`` is ``None`` when the body says nothing usable (empty); ``details`` are dicts
    with ``location``, ``pointer``, ``message`` and ``type``.
    """
    if not content or not content.strip():
        return None, None, []
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError:
        data = _UNREADABLE
    if isinstance(data, Mapping):
        code = data.get("code")
        code = _clip(code, 100) if isinstance(code, str) and code else None
        message = data.get("message")
        message = _clip(message) if isinstance(message, str) and message else None
        detail = data.get("detail")
        if message is None and isinstance(detail, list):
            details = _fastapi_details(detail)
            first = f": {details[0]['pointer'] or details[0]['location']} {details[0]['message']}" if details else ""
            more = f" (+{len(details) - 1} more)" if len(details) > 1 else ""
            return code, f"the request was refused{first}{more}", details
        if message is None and isinstance(detail, str) and detail:
            return code, _clip(detail), []
        return code, message, _gr4vy_details(data.get("details"))
    if data is not _UNREADABLE:
        return None, f"an unexpected error body (JSON {type(data).__name__})", []
    kind = content_type.split(";")[0].strip().lower() if content_type else ""
    head = content.lstrip()[:1]
    if "html" in kind or head == b"<":
        match = _TITLE_RE.search(content[:8192])
        title = " ".join(match.group(1).decode("utf-8", "replace").split()) if match else ""
        return None, "an HTML page instead of an API answer" + (f" ({_clip(title, 120)})" if title else ""), []
    if kind.endswith("json") or head in (b"{", b"["):
        return None, "an unreadable (truncated?) JSON error body", []
    return None, f"a non-JSON error body ({_clip(kind or 'no content type', 60)})", []


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by lower-case name from a case-insensitive mapping, or from a plain dict."""
    if type(headers) is dict:
        return next((v for k, v in headers.items() if k.lower() == name), None)
    return headers.get(name)


def request_id_from(headers: Mapping[str, str] | None) -> str | None:
    """The server's request id from the usual headers (``x-request-id`` ...), if any."""
    if not headers:
        return None
    for name in _REQUEST_ID_HEADERS:
        value = _header(headers, name)
        if value:
            return _clip(value, 200)
    return None


def error_from_response(
    status: int,
    content: bytes | None,
    headers: Mapping[str, str] | None = None,
    *,
    method: str | None = None,
    session_id: str | None = None,
    attempts: int = 1,
    needed_scope: str | None = None,
) -> ApiError:
    """The typed error for an HTTP error answer, whatever its body.

    ``needed_scope`` names the scope the call needed; a 403 becomes :class:`PermissionDenied`
    whose ``missing_scope`` is the scope the server's message names, or else ``needed_scope``.
    A 404 always says "session not found or expired" (with the server's words in brackets).
    """
    headers = headers or {}
    code, message, details = parse_error_body(content, _header(headers, "content-type") or "")
    cls = error_for_status(status)
    if message is None:
        if cls is ApiError:
            message = f"HTTP {status} {http.client.responses.get(status, '')}".strip()
        else:
            message = cls.default_message
    elif cls is NotFound and "expired" not in message.lower():
        message = f"{NotFound.default_message} ({message})"
    kwargs: dict[str, Any] = {
        "status": status,
        "code": code,
        "details": details,
        "request_id": request_id_from(headers),
        "attempts": attempts,
        "session_id": session_id,
        "method": method,
    }
    if cls is PermissionDenied:
        named = [m.group(1) for m in _SCOPE_RE.finditer(message)]
        # The specific scope rather than a wildcard such as "*.write" when both are named.
        scope = next((n for n in named if "*" not in n), named[0] if named else needed_scope)
        if not named and scope:
            message = f"{message}; this call needs the {scope} scope"
        return PermissionDenied(message, missing_scope=scope, **kwargs)
    return cls(message, **kwargs)
