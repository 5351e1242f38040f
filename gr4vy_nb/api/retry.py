"""The retry policy: an immutable value that decides whether and when to retry, and never sleeps.

:class:`RetryPolicy` answers one question, "after this attempt, retry, and after how long?",
from facts the client hands it (method, attempt number, time spent, HTTP status or the kind
of transport failure, the ``Retry-After`` header).  It holds no state and does no I/O, so its
whole schedule is tested without waiting; the client does the sleeping.

What is retried:

* HTTP ``429``, ``500``, ``502``, ``503``, ``504`` for ``GET``, ``PUT`` and ``DELETE``;
  ``POST`` (create) only on ``429``, which means the request was refused unprocessed
  (``post_statuses``), because a 5xx may come after the session was created.
* :attr:`Failure.CONNECT` (the request never left: refused, DNS, connect timeout, TLS): every
  method, POST included.
* :attr:`Failure.READ_TIMEOUT` and :attr:`Failure.DROPPED` (the request was sent, no answer
  came back): the idempotent methods only (``GET``, ``PUT``, ``DELETE``).  For a write the
  client reports the attempt's outcome as unknown.  A ``POST`` is never re-sent: it could
  create a second session.
* :attr:`Failure.INVALID` (a bad URL or header, a closed client): never.

When: ``Retry-After`` (seconds or an HTTP date) is honoured, capped at ``max_retry_after``,
plus a little jitter so that many workers told "1 second" do not return in one burst; a
missing or garbage header falls back to exponential backoff with full jitter,
``uniform(0, min(backoff_cap, backoff_base * 2 ** (attempt - 1)))``.  No retry starts once
``max_attempts`` attempts were made or the next attempt would begin after ``total_time``
seconds.

Example::

    >>> policy = RetryPolicy(retry_after_jitter=0)
    >>> policy.delay(method="PUT", attempt=1, elapsed=0.2, status=503, retry_after="2")
    2.0
    >>> policy.delay(method="POST", attempt=1, elapsed=0.2, failure=Failure.READ_TIMEOUT) is None
    True
"""

from __future__ import annotations

import enum
import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["IDEMPOTENT_METHODS", "RETRY_STATUSES", "Failure", "RetryPolicy", "parse_retry_after"]

RETRY_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})
IDEMPOTENT_METHODS: frozenset[str] = frozenset({"GET", "PUT", "DELETE", "HEAD", "OPTIONS"})


class Failure(enum.StrEnum):
    """How an attempt failed without an HTTP answer; decides whether a retry is safe."""

    CONNECT = "connect"
    """The request was never sent (connection refused, DNS, connect timeout, TLS handshake)."""
    READ_TIMEOUT = "read_timeout"
    """The request was sent and no answer came in time: it may or may not have been applied."""
    DROPPED = "dropped"
    """The connection broke after the request was sent: it may or may not have been applied."""
    INVALID = "invalid"
    """The request could not be built (bad URL, bad header, closed client): retrying cannot help."""

    @property
    def sent(self) -> bool:
        """Whether the request may have reached the server."""
        return self in (Failure.READ_TIMEOUT, Failure.DROPPED)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header, or ``None`` when absent or unreadable.

    Accepts delay-seconds (``"120"``, leniently ``"1.5"``) and an HTTP date
    (``"Wed, 21 Oct 2015 07:28:00 GMT"``); a date in the past gives ``0``.  Negative,
    non-finite and garbage values give ``None`` so that the caller falls back to backoff.
    """
    if value is None:
        return None
    text = value.strip()
    if not text or len(text) > 64:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if not math.isfinite(seconds) or seconds < 0:
            return None
        return seconds
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    now = now or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """When to retry a Gr4vy API call, as an immutable value (see the module docstring).

    Args:
        max_attempts: attempts per call, the first included (``1`` disables retries).
        total_time: seconds a call may spend in total; no retry starts past it.
        backoff_base: seconds of the first backoff ceiling; doubles per attempt.
        backoff_cap: the largest backoff ceiling, in seconds.
        max_retry_after: a server's ``Retry-After`` is honoured up to this many seconds.
        retry_after_jitter: a share of the ``Retry-After`` delay added at random (0.1 = up to +10%).
        statuses: HTTP statuses retried for idempotent methods.
        post_statuses: HTTP statuses retried for ``POST`` (only those that prove nothing was done).
    """

    max_attempts: int = 6
    total_time: float = 120.0
    backoff_base: float = 0.5
    backoff_cap: float = 20.0
    max_retry_after: float = 60.0
    retry_after_jitter: float = 0.1
    statuses: frozenset[int] = field(default=RETRY_STATUSES)
    post_statuses: frozenset[int] = field(default=frozenset({429}))

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        for name in ("total_time", "backoff_base", "backoff_cap", "max_retry_after", "retry_after_jitter"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number >= 0")
        # Accept any iterable of statuses but keep the value hashable and immutable.
        object.__setattr__(self, "statuses", frozenset(self.statuses))
        object.__setattr__(self, "post_statuses", frozenset(self.post_statuses))

    @classmethod
    def none(cls) -> RetryPolicy:
        """A policy that never retries."""
        return cls(max_attempts=1)

    def is_retryable(self, method: str, *, status: int | None = None, failure: Failure | None = None) -> bool:
        """Whether an attempt that ended this way may be repeated at all (budget aside)."""
        method = method.upper()
        if failure is not None:
            if failure is Failure.CONNECT:
                return True
            if failure.sent:
                return method in IDEMPOTENT_METHODS
            return False
        if status is None:
            return False
        if method == "POST":
            return status in self.post_statuses
        return status in self.statuses

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """The full-jitter backoff after ``attempt`` (1-based): ``uniform(0, ceiling)``."""
        return (rng or random).uniform(0.0, self.ceiling(attempt))

    def ceiling(self, attempt: int) -> float:
        """The upper bound of the backoff after ``attempt``: ``min(cap, base * 2 ** (attempt - 1))``."""
        exponent = max(0, attempt - 1)
        if exponent > 60:  # 2**60 * base is past any cap; avoid float overflow
            return self.backoff_cap
        return min(self.backoff_cap, self.backoff_base * (2**exponent))

    def delay(
        self,
        *,
        method: str,
        attempt: int,
        elapsed: float,
        status: int | None = None,
        failure: Failure | None = None,
        retry_after: str | float | None = None,
        rng: random.Random | None = None,
    ) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to stop now.

        Args:
            method: the HTTP method of the call.
            attempt: the number of the attempt that just ended (1 for the first).
            elapsed: seconds since the call started, this attempt included.
            status: the HTTP status answered, or ``None`` when there was no answer.
            failure: how the attempt failed when there was no answer.
            retry_after: the ``Retry-After`` header as received (text) or already in seconds.
            rng: the random source for jitter (``random`` when not given); inject it in tests.
        """
        if attempt >= self.max_attempts or not self.is_retryable(method, status=status, failure=failure):
            return None
        wait: float | None = None
        if retry_after is not None and status is not None:
            server_wait = (
                parse_retry_after(retry_after) if isinstance(retry_after, str) else float(retry_after)
            )
            if server_wait is not None and math.isfinite(server_wait) and server_wait >= 0:
                server_wait = min(server_wait, self.max_retry_after)
                wait = server_wait + (rng or random).uniform(0.0, server_wait * self.retry_after_jitter)
        if wait is None:
            wait = self.backoff(attempt, rng)
        if elapsed + wait > self.total_time:
            return None
        return wait

    def schedule(self, rng: random.Random | None = None) -> list[float]:
        """The backoff delays a call failing every attempt would wait (for docs and tests)."""
        return [self.backoff(n, rng) for n in range(1, self.max_attempts)]
