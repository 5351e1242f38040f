"""Fault injection of the sandbox: the knobs (rate limit, failure share, latency, unknown
fields, newer API), the token bucket, and the scripted fault queue.

Two kinds of fault:

* **Knobs** (:class:`FaultConfig`), set by CLI flags, ``start_sandbox(...)`` arguments or
  ``PUT /_sandbox/config``: a token-bucket rate limit (excess answered 429 with
  ``Retry-After``), a share of 500/502/504 answers with the write not applied, latency
  added to every request (an async sleep: other requests proceed meanwhile), unknown
  fields added to responses, and ``newer_api`` (behave as a newer API version that accepts,
  stores and returns fields the document does not know, at any depth; see
  :mod:`~gr4vy_nb.sandbox.document`), ``put_semantics`` (``merge``: a ``PUT`` keeps the fields its
  body leaves out; ``replace``: it clears them) and ``expiry_reset`` (``False``: an update leaves
  ``expires_at`` alone, ``expires_in`` included).  Random draws come from one ``random.Random(random_seed)``,
  so a sequential client sees the same faults on every run with the same seed.
* **Scripted rules** (:class:`FaultRule`), set with ``POST /_sandbox/faults``: precise,
  one-off faults for client tests.  Each request takes the first rule that matches its
  method and session id, and consumes one of its ``times``; see :class:`FaultRule`.

Scripted rules win over the knobs; latency is added before either (it models the network).
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .document import encode_pointer, error_body

__all__ = [
    "BODY_KINDS",
    "UNKNOWN_FIELD",
    "ErrorDetail",
    "FaultConfig",
    "FaultQueue",
    "FaultRule",
    "RandomFaults",
    "TokenBucket",
    "add_unknown_fields",
    "pydantic_details",
    "render_body",
]

UNKNOWN_FIELD = "sandbox_future_field"
"""Name of the field ``unknown_fields`` adds to responses (top level and nested objects)."""

BODY_KINDS = ("gr4vy", "fastapi", "html", "empty", "truncated")

_FAILURE_STATUSES = (500, 502, 504)


PUT_SEMANTICS = ("merge", "replace")
"""What a ``PUT`` does with the fields its body leaves out: ``merge`` keeps them, ``replace`` clears them."""

BEHAVIOUR_KNOBS = ("newer_api", "put_semantics", "expiry_reset")
"""The knobs that choose how the API behaves (not faults)."""


@dataclass(frozen=True)
class FaultConfig:
    """The fault knobs.  ``rate_limit`` is requests per second (``None``: unlimited).

    ``newer_api``, ``put_semantics`` and ``expiry_reset`` choose how the API behaves (see the module docstring).
    """

    rate_limit: float | None = None
    fail_rate: float = 0.0
    latency_ms: float = 0.0
    unknown_fields: bool = False
    random_seed: int | None = None
    newer_api: bool = False
    put_semantics: str = "merge"
    expiry_reset: bool = True

    def __post_init__(self) -> None:
        if self.put_semantics not in PUT_SEMANTICS:
            raise ValueError("put_semantics must be 'merge' (absent fields kept) or 'replace' (absent fields cleared)")
        if not isinstance(self.expiry_reset, bool):
            raise ValueError("expiry_reset must be true or false")
        if self.rate_limit is not None and not (self.rate_limit > 0 and math.isfinite(self.rate_limit)):
            raise ValueError("rate_limit must be a positive number of requests per second (or None)")
        if not 0.0 <= self.fail_rate <= 1.0:
            raise ValueError("fail_rate must be between 0 and 1")
        if not 0.0 <= self.latency_ms <= 600_000:
            raise ValueError("latency_ms must be between 0 and 600000")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, changes: dict[str, Any]) -> FaultConfig:
        """A copy with ``changes`` applied (unknown names raise ``ValueError``)."""
        unknown = set(changes) - set(self.as_dict())
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **changes)


class TokenBucket:
    """A token bucket: ``rate`` tokens per second, holding at most ``burst`` (default: one second's worth)."""

    def __init__(self, rate: float, burst: float | None = None, clock: Any = time.monotonic) -> None:
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate)
        self._clock = clock
        self._tokens = self.burst
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> float:
        """Take a token: 0.0 when granted, else the seconds until one is available."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return 0.0
            return (1.0 - self._tokens) / self.rate


def pydantic_details(exc: ValidationError) -> list[dict[str, Any]]:
    """Gr4vy error ``details`` for the admin endpoints' own (pydantic) inputs; inputs are never echoed."""
    return [{"location": "body", "pointer": encode_pointer(err["loc"]), "message": err["msg"], "type": err["type"]}
            for err in exc.errors(include_url=False, include_input=False, include_context=False)]


class ErrorDetail(BaseModel):
    """One entry of a Gr4vy error body's ``details`` (the document's ``ErrorDetail``)."""

    model_config = ConfigDict(extra="forbid")

    location: Literal["query", "body", "path", "header", "unknown"]
    pointer: str = Field(..., max_length=1000)
    message: str = Field(..., max_length=1000)
    type: str = Field(..., max_length=100)


class FaultRule(BaseModel):
    """One scripted fault.

    * ``method``: ``GET``, ``PUT``, ``POST``, ``DELETE`` or ``*`` (default);
    * ``session_id``: only requests for this session match (``None``: any request, creates included);
    * ``times``: how many matching requests the rule answers (default 1);
    * ``action``:

      - ``status``: answer ``status`` at once, nothing applied; ``body`` is ``gr4vy``
        (default), ``fastapi`` (FastAPI's ``{"detail": ...}``), ``html`` (a proxy page),
        ``empty`` or ``truncated`` (JSON cut in half); ``retry_after`` sets that header;
        ``message`` overrides the Gr4vy message; ``details`` (a list of
        ``{location, pointer, message, type}``) fills the Gr4vy body's ``details``, e.g. a
        400 locating a bad field the way the real API would;
      - ``reset``: drop the TCP connection without any response, nothing applied;
      - ``stall``: wait ``seconds`` before handling, then answer 504 without applying
        anything (a client whose read timeout is shorter sees a timeout);
      - ``apply_then_stall``: apply the request, then wait ``seconds`` before answering
        (the outcome-unknown case: the write happened, the client may never hear of it).
    """

    model_config = ConfigDict(extra="forbid")

    method: Literal["GET", "PUT", "POST", "DELETE", "*"] = "*"
    session_id: str | None = None
    times: int = Field(1, ge=1, le=10_000_000)
    action: Literal["status", "reset", "stall", "apply_then_stall"]
    status: int | None = Field(None, ge=100, le=599)
    retry_after: str | None = Field(None, max_length=100)
    body: Literal["gr4vy", "fastapi", "html", "empty", "truncated"] = "gr4vy"
    message: str | None = Field(None, max_length=1000)
    details: list[ErrorDetail] | None = Field(None, max_length=100)
    seconds: float = Field(0.0, ge=0.0, le=600.0)

    @field_validator("method", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("session_id")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.lower() if value is not None else None

    @model_validator(mode="after")
    def _check_action(self) -> FaultRule:
        if self.action == "status" and self.status is None:
            raise ValueError("action 'status' needs a 'status' (an HTTP status code)")
        if self.action in ("stall", "apply_then_stall") and self.seconds <= 0:
            raise ValueError(f"action {self.action!r} needs 'seconds' > 0")
        return self

    def matches(self, method: str, session_id: str | None) -> bool:
        if self.method != "*" and self.method != method:
            return False
        return self.session_id is None or self.session_id == session_id


class FaultQueue:
    """The scripted rules, consumed in order by matching requests."""

    def __init__(self) -> None:
        self._rules: list[tuple[FaultRule, int]] = []  # (rule, remaining times)
        self._lock = threading.Lock()

    def set(self, rules: list[FaultRule], *, append: bool = False) -> None:
        with self._lock:
            if not append:
                self._rules = []
            self._rules.extend((r, r.times) for r in rules)

    def clear(self) -> None:
        with self._lock:
            self._rules = []

    def pending(self) -> list[dict[str, Any]]:
        """The rules not yet used up, each with its ``remaining`` count."""
        with self._lock:
            return [{**r.model_dump(exclude_none=True), "remaining": n} for r, n in self._rules]

    def take(self, method: str, session_id: str | None) -> FaultRule | None:
        """The first rule matching the request, with one of its uses consumed."""
        if not self._rules:  # the common case, without the lock
            return None
        with self._lock:
            for i, (rule, remaining) in enumerate(self._rules):
                if rule.matches(method, session_id):
                    if remaining <= 1:
                        del self._rules[i]
                    else:
                        self._rules[i] = (rule, remaining - 1)
                    return rule
        return None


class RandomFaults:
    """The random part of the knobs: the failure share and the choice of failure status."""

    def __init__(self, config: FaultConfig) -> None:
        self.config = config
        self._rng = random.Random(config.random_seed)
        self._lock = threading.Lock()
        self.bucket = TokenBucket(config.rate_limit) if config.rate_limit else None

    def failure_status(self) -> int | None:
        """A 500/502/504 to answer instead of handling the request, or ``None``."""
        if self.config.fail_rate <= 0.0:
            return None
        with self._lock:
            if self._rng.random() >= self.config.fail_rate:
                return None
            return self._rng.choice(_FAILURE_STATUSES)


# ---------------------------------------------------------------------- bodies

_HTML = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Time-out"}


def render_body(kind: str, status: int, message: str | None = None,
                unknown_fields: bool = False, details: list[dict[str, Any]] | None = None) -> tuple[bytes, str | None]:
    """The bytes and content type of a fault's body of ``kind`` (see :data:`BODY_KINDS`)."""
    if kind == "empty":
        return b"", None
    if kind == "html":
        return _HTML.format(status=status, reason=_REASONS.get(status, "Error")).encode(), "text/html"
    if kind == "fastapi":
        if status == 422:
            detail: Any = [{"type": "missing", "loc": ["body", "cart_items", 0, "name"], "msg": "Field required",
                            "input": {}}]
        else:
            detail = message or _REASONS.get(status, "Error")
        return orjson.dumps({"detail": detail}), "application/json"
    body = error_body(status, message, details)
    if unknown_fields:
        body[UNKNOWN_FIELD] = "added by the sandbox"
    data = orjson.dumps(body)
    if kind == "truncated":
        return data[: len(data) // 2], "application/json"
    return data, "application/json"


def add_unknown_fields(session: dict[str, Any]) -> dict[str, Any]:
    """Add :data:`UNKNOWN_FIELD` at the top level and to every nested object present (in place)."""
    session[UNKNOWN_FIELD] = {"note": "a field this client version does not know", "nested": True}
    stack: list[Any] = [v for k, v in session.items() if k != UNKNOWN_FIELD and k != "metadata"]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
            value[UNKNOWN_FIELD] = "added by the sandbox"
        elif isinstance(value, list):
            stack.extend(value)
    return session
