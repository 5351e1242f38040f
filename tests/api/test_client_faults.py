"""The fault matrix, Stripe-style: every status, a timeout and a dropped connection, per method,
against the sandbox over real HTTP, with the exact number of requests the sandbox saw.

Waits between attempts go through an injected sleep that records them (no real backoff
sleeping), so the matrix runs in a few seconds; timeouts are real (a 0.2 s read timeout
against a sandbox told to stall).
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.api.retry import RetryPolicy
from gr4vy_nb.config import Settings
from gr4vy_nb.errors import (
    ApiError,
    AuthError,
    Conflict,
    NotFound,
    OutcomeUnknown,
    PermissionDenied,
    RateLimited,
    ServerError,
    TransportError,
    ValidationFailed,
)
from tests.paths import SAMPLE

MAX_ATTEMPTS = 3
POLICY = RetryPolicy(max_attempts=MAX_ATTEMPTS, backoff_base=0.001, backoff_cap=0.002, retry_after_jitter=0)
READ_TIMEOUT = 0.3  # for the stall tests only; the others wait up to 5 s (a loaded CI box is slow)
STALL = 0.6

RETRIED = {429, 500, 502, 503, 504}
STATUS_CLASS = {
    400: ValidationFailed, 401: AuthError, 403: PermissionDenied, 404: NotFound, 405: ApiError, 409: Conflict,
    422: ValidationFailed, 425: ApiError, 429: RateLimited, 500: ServerError, 502: ServerError, 503: ServerError,
    504: ServerError,
}


@pytest.fixture(scope="module")
def sid() -> str:
    return json.loads(SAMPLE.read_text().splitlines()[0])["id"]


class Recorder:
    """Injected sleep: records each wait instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def waits() -> Recorder:
    return Recorder()


@pytest.fixture
def client(sandbox_clean, waits):
    settings = Settings.for_sandbox(sandbox_clean, timeouts=(2, 5), retry=POLICY)
    with Gr4vyClient(settings, sleep=waits) as c:
        yield c


@pytest.fixture
def impatient(sandbox_clean, waits):
    """A client whose read timeout is shorter than the sandbox's stall.

    On teardown it waits until the sandbox has answered every stalled request, even when the
    test failed early, so that no late answer is counted in the next test's stats.
    """
    answered_by = [0.0]  # when the sandbox will have answered the last stalled request

    def track(method, session_id, attempt, outcome, delay) -> None:
        if isinstance(outcome, TransportError) and outcome.code == "read_timeout":
            answered_by[0] = time.monotonic() - READ_TIMEOUT + STALL + 0.1

    settings = Settings.for_sandbox(sandbox_clean, timeouts=(2, READ_TIMEOUT), retry=POLICY)
    with Gr4vyClient(settings, sleep=waits, on_attempt=track) as c:
        yield c
    time.sleep(max(0.0, answered_by[0] - time.monotonic()))


def call(client: Gr4vyClient, method: str, sid: str):
    if method == "GET":
        return client.get_checkout_session(sid)
    if method == "PUT":
        return client.update_checkout_session(sid, {"metadata": {"matrix": "1"}})
    if method == "POST":
        return client.create_checkout_session({"metadata": {"matrix": "1"}})
    return client.delete_checkout_session(sid)


def settle(sandbox, expected: int, timeout: float = 5.0) -> dict:
    """The sandbox's stats once it has answered ``expected`` requests (stalled ones answer late)."""
    deadline = time.monotonic() + timeout
    stats = sandbox.stats()
    while stats["total_requests"] < expected and time.monotonic() < deadline:
        time.sleep(0.02)
        stats = sandbox.stats()
    # The client has finished, so nothing more is on its way: the count is final.
    return stats


def retried(method: str, status: int) -> bool:
    return status == 429 if method == "POST" else status in RETRIED


# --------------------------------------------------------------------------- statuses


@pytest.mark.parametrize("status", sorted(STATUS_CLASS))
@pytest.mark.parametrize("method", ["GET", "PUT", "POST", "DELETE"])
def test_persistent_status(client, sandbox_clean, waits, sid, method, status):
    sandbox_clean.set_faults([{"method": method, "times": 100, "action": "status", "status": status}])
    with pytest.raises(ApiError) as info:
        call(client, method, sid)
    error = info.value
    expected_requests = MAX_ATTEMPTS if retried(method, status) else 1
    assert type(error) is STATUS_CLASS[status]
    assert error.status == status and error.attempts == expected_requests
    assert error.method == method
    assert len(waits.waits) == expected_requests - 1
    info_ = client.last_call
    assert info_.attempts == expected_requests and info_.status == status and not info_.ok
    assert not info_.outcome_unknown and info_.unknown_attempts == 0
    stats = settle(sandbox_clean, expected_requests)
    assert stats["total_requests"] == expected_requests
    assert stats["requests"][method] == {str(status): expected_requests}
    assert stats["writes"] == {}  # a refused request applies nothing
    if status == 403:
        assert error.missing_scope == ("checkout-sessions.read" if method == "GET" else "checkout-sessions.write")


@pytest.mark.parametrize("status", sorted(RETRIED))
@pytest.mark.parametrize("method", ["GET", "PUT", "POST"])
def test_transient_status_then_success(client, sandbox_clean, sid, method, status):
    sandbox_clean.set_faults([{"method": method, "times": 2, "action": "status", "status": status}])
    if not retried(method, status):
        with pytest.raises(ServerError):
            call(client, method, sid)
        assert settle(sandbox_clean, 1)["total_requests"] == 1
        return
    result = call(client, method, sid)
    assert isinstance(result, dict)
    assert client.last_call.attempts == 3 and client.last_call.ok and client.last_call.status in (200, 201)
    stats = settle(sandbox_clean, 3)
    assert stats["total_requests"] == 3
    assert stats["requests"][method] == {str(status): 2, "201" if method == "POST" else "200": 1}
    if method != "GET":
        assert sum(stats["writes"].values()) == 1  # exactly once


# --------------------------------------------------------------------------- timeouts and resets


@pytest.mark.parametrize(
    ("method", "error_class", "requests_seen"),
    [
        ("GET", TransportError, MAX_ATTEMPTS),
        ("PUT", OutcomeUnknown, MAX_ATTEMPTS),  # idempotent: retried, but the outcome is unknown
        ("DELETE", OutcomeUnknown, MAX_ATTEMPTS),
        ("POST", OutcomeUnknown, 1),  # never re-sent: it could create a second session
    ],
)
def test_persistent_read_timeout(impatient, sandbox_clean, sid, method, error_class, requests_seen):
    sandbox_clean.set_faults([{"method": method, "times": 100, "action": "stall", "seconds": STALL}])
    started = time.monotonic()
    with pytest.raises(TransportError) as info:
        call(impatient, method, sid)
    assert type(info.value) is error_class
    assert info.value.code == "read_timeout" and info.value.status is None
    assert info.value.attempts == requests_seen
    assert time.monotonic() - started < requests_seen * READ_TIMEOUT + 1.0
    last = impatient.last_call
    assert last.unknown_attempts == requests_seen
    assert last.outcome_unknown is (method != "GET")
    stats = settle(sandbox_clean, requests_seen)
    assert stats["total_requests"] == requests_seen
    assert stats["writes"] == {}  # the sandbox's stall applies nothing


@pytest.mark.parametrize(
    ("method", "error_class", "requests_seen"),
    [("GET", TransportError, MAX_ATTEMPTS), ("PUT", OutcomeUnknown, MAX_ATTEMPTS), ("POST", OutcomeUnknown, 1)],
)
def test_persistent_connection_reset(client, sandbox_clean, sid, method, error_class, requests_seen):
    sandbox_clean.set_faults([{"method": method, "times": 100, "action": "reset"}])
    with pytest.raises(TransportError) as info:
        call(client, method, sid)
    assert type(info.value) is error_class
    assert info.value.code == "dropped" and info.value.attempts == requests_seen
    stats = settle(sandbox_clean, requests_seen)
    assert stats["requests"][method] == {"reset": requests_seen}
    assert stats["total_requests"] == requests_seen


@pytest.mark.parametrize("action", ["stall", "reset"])
@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_one_lost_answer_then_success(impatient, sandbox_clean, sid, method, action):
    sandbox_clean.set_faults([{"method": method, "times": 1, "action": action, "seconds": STALL}])
    result = call(impatient, method, sid)
    assert isinstance(result, dict) and result["id"] == sid
    last = impatient.last_call
    assert last.ok and last.attempts == 2 and last.status == 200
    assert last.unknown_attempts == 1 and not last.outcome_unknown
    stats = settle(sandbox_clean, 2)
    assert stats["total_requests"] == 2
    if method == "PUT":
        assert stats["writes"] == {sid: 1}


def test_put_applied_then_stalled_is_retried_and_written_twice(impatient, sandbox_clean, sid):
    """The outcome-unknown case: the first PUT applied but its answer was lost; PUT is idempotent."""
    sandbox_clean.set_faults([{"method": "PUT", "times": 1, "action": "apply_then_stall", "seconds": STALL}])
    result = impatient.update_checkout_session(sid, {"metadata": {"twice": "ok"}})
    assert result["metadata"] == {"twice": "ok"}
    assert impatient.last_call.attempts == 2 and impatient.last_call.unknown_attempts == 1
    stats = settle(sandbox_clean, 2)
    assert stats["writes"] == {sid: 2}  # the one extra write the retry costs, and no more


def test_post_applied_then_stalled_is_not_sent_again(impatient, sandbox_clean):
    sandbox_clean.set_faults([{"method": "POST", "times": 1, "action": "apply_then_stall", "seconds": STALL}])
    with pytest.raises(OutcomeUnknown) as info:
        impatient.create_checkout_session({"metadata": {"once": "only"}})
    assert info.value.attempts == 1 and "may or may not" in str(info.value)
    stats = settle(sandbox_clean, 1)
    assert stats["total_requests"] == 1
    assert sum(stats["writes"].values()) == 1  # created once, never twice


def test_delete_applied_then_stalled_counts_as_done(impatient, sandbox_clean, sid):
    sandbox_clean.set_faults([{"method": "DELETE", "times": 1, "action": "apply_then_stall", "seconds": STALL}])
    assert impatient.delete_checkout_session(sid) is None
    last = impatient.last_call
    assert last.ok and last.attempts == 2 and last.status == 404 and last.unknown_attempts == 1
    stats = settle(sandbox_clean, 2)
    assert stats["requests"]["DELETE"] == {"204": 1, "404": 1}


def test_lost_answer_then_budget_spent_on_5xx_is_outcome_unknown(impatient, sandbox_clean, sid):
    sandbox_clean.set_faults([
        {"method": "PUT", "times": 1, "action": "apply_then_stall", "seconds": STALL},
        {"method": "PUT", "times": 10, "action": "status", "status": 503},
    ])
    with pytest.raises(OutcomeUnknown) as info:
        impatient.update_checkout_session(sid, {"metadata": {"maybe": "1"}})
    assert info.value.attempts == MAX_ATTEMPTS and info.value.status == 503
    assert impatient.last_call.outcome_unknown
    assert settle(sandbox_clean, MAX_ATTEMPTS)["writes"] == {sid: 1}


# --------------------------------------------------------------------------- Retry-After


@pytest.mark.parametrize(
    ("header", "low", "high"),
    [
        ("2", 2.0, 2.0),
        ("0", 0.0, 0.0),
        ("<HTTP date in 30 s>", 25.0, 30.0),
        ("86400", 40.0, 40.0),  # capped at max_retry_after
        ("soon", 0.0, 0.001),  # garbage: backoff (ceiling 0.001 on attempt 1)
        ("-3", 0.0, 0.001),
    ],
)
def test_retry_after_is_honoured(sandbox_clean, waits, sid, header, low, high):
    if header.startswith("<HTTP date"):
        header = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    policy = RetryPolicy(max_attempts=3, backoff_base=0.001, backoff_cap=0.002, retry_after_jitter=0,
                         max_retry_after=40.0)
    settings = Settings.for_sandbox(sandbox_clean, retry=policy)
    sandbox_clean.set_faults([{"method": "GET", "times": 1, "action": "status", "status": 429, "retry_after": header}])
    with Gr4vyClient(settings, sleep=waits) as client:
        client.get_checkout_session(sid)
    assert len(waits.waits) == 1
    assert low <= waits.waits[0] <= high
    assert settle(sandbox_clean, 2)["requests"]["GET"] == {"429": 1, "200": 1}


class FakeTime:
    """A clock that only moves when the client sleeps: the time budget without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def test_time_budget_ends_the_retries(sandbox_clean, sid):
    fake = FakeTime()
    policy = RetryPolicy(max_attempts=50, total_time=10.0, max_retry_after=60, retry_after_jitter=0)
    settings = Settings.for_sandbox(sandbox_clean, retry=policy)
    sandbox_clean.set_faults([{"method": "GET", "times": 100, "action": "status", "status": 503, "retry_after": "3"}])
    with Gr4vyClient(settings, sleep=fake.sleep, clock=fake.clock) as client, pytest.raises(ServerError) as info:
        client.get_checkout_session(sid)
    assert fake.waits == [3.0, 3.0, 3.0]  # a fourth wait would end past 10 s
    assert info.value.attempts == 4
    assert settle(sandbox_clean, 4)["total_requests"] == 4


def test_backoff_schedule_over_http_with_seeded_jitter(sandbox_clean, sid):
    fake = FakeTime()
    policy = RetryPolicy(max_attempts=5, backoff_base=0.5, backoff_cap=1.5)
    settings = Settings.for_sandbox(sandbox_clean, retry=policy)
    sandbox_clean.set_faults([{"method": "PUT", "times": 100, "action": "status", "status": 502}])
    client = Gr4vyClient(settings, sleep=fake.sleep, clock=fake.clock, rng=random.Random(42))
    with client, pytest.raises(ServerError):
        client.update_checkout_session(sid, {"metadata": {"b": "1"}})
    assert fake.waits == policy.schedule(random.Random(42))
    assert [w <= c for w, c in zip(fake.waits, [0.5, 1.0, 1.5, 1.5], strict=True)] == [True] * 4


# --------------------------------------------------------------------------- odd bodies over HTTP


@pytest.mark.parametrize("body", ["gr4vy", "fastapi", "html", "empty", "truncated"])
@pytest.mark.parametrize("status", [400, 403, 404, 422, 503])
def test_every_error_body_kind_is_parsed(client, sandbox_clean, sid, status, body):
    sandbox_clean.set_faults([{"method": "GET", "times": 10, "action": "status", "status": status, "body": body}])
    with pytest.raises(ApiError) as info:
        client.get_checkout_session(sid)
    error = info.value
    assert type(error) is STATUS_CLASS[status] and error.status == status
    assert error.message and str(error)
    assert error.request_id  # the sandbox sends x-request-id on faults too
    if body == "html":
        assert "HTML page" in error.message or status in (403, 404)
    if body == "fastapi" and status == 422:
        assert error.details[0]["pointer"] == "/cart_items/0/name" and error.details[0]["location"] == "body"


# --------------------------------------------------------------------------- pacing


def test_rate_spaces_attempts_evenly_retries_included(sandbox_clean, sid):
    fake = FakeTime()
    settings = Settings.for_sandbox(sandbox_clean, retry=POLICY)
    sandbox_clean.set_faults([{"method": "GET", "times": 1, "action": "status", "status": 503}])
    with Gr4vyClient(settings, rate=10, sleep=fake.sleep, clock=fake.clock, rng=random.Random(0)) as client:
        for _ in range(4):
            client.get_checkout_session(sid)
    backoff = fake.waits[0]  # the 503's backoff, then each attempt waits for its 0.1 s slot
    assert backoff <= POLICY.ceiling(1)
    assert fake.waits[1:] == pytest.approx([0.1 - backoff, 0.1, 0.1, 0.1])
    assert settle(sandbox_clean, 5)["requests"]["GET"] == {"503": 1, "200": 4}


def test_a_shared_limiter_is_asked_before_every_attempt(client, sandbox_clean, sid):
    class CountingLimiter:
        def __init__(self) -> None:
            self.calls = 0

        def acquire(self) -> bool:
            self.calls += 1
            return True

    limiter = CountingLimiter()
    client.set_rate(limiter)
    sandbox_clean.set_faults([{"method": "PUT", "times": 2, "action": "status", "status": 429}])
    client.update_checkout_session(sid, {"metadata": {"limited": "1"}})
    assert limiter.calls == 3 == client.last_call.attempts
    client.set_rate(None)
    client.get_checkout_session(sid)
    assert limiter.calls == 3
