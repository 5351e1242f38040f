"""The retry policy decides without sleeping, so its whole schedule is checked here in microseconds."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from gr4vy_nb.api.retry import RETRY_STATUSES, Failure, RetryPolicy, parse_retry_after


class MaxRng(random.Random):
    """Jitter always at its ceiling, to read the schedule's upper bounds."""

    def uniform(self, a: float, b: float) -> float:
        return b


class MinRng(random.Random):
    def uniform(self, a: float, b: float) -> float:
        return a


def test_policy_is_an_immutable_hashable_value():
    policy = RetryPolicy()
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.max_attempts = 3  # type: ignore[misc]
    assert policy == RetryPolicy()
    assert hash(policy) == hash(RetryPolicy())
    assert dataclasses.replace(policy, max_attempts=2).max_attempts == 2
    assert RetryPolicy(statuses=[503]).statuses == frozenset({503})
    with pytest.raises(TypeError):
        RetryPolicy(3)  # type: ignore[misc]  # keyword-only


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": 0}, {"total_time": -1}, {"backoff_cap": float("inf")}, {"backoff_base": float("nan")}]
)
def test_bad_policy_values_are_refused(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


def test_backoff_ceiling_doubles_up_to_the_cap():
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=5.0, max_attempts=8)
    assert [policy.ceiling(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert policy.schedule(MaxRng()) == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert policy.schedule(MinRng()) == [0.0] * 7
    assert policy.ceiling(10_000) == 5.0  # no overflow on absurd attempt numbers


def test_full_jitter_spreads_over_the_whole_interval():
    policy = RetryPolicy(backoff_base=1.0, backoff_cap=8.0)
    rng = random.Random(7)
    samples = [policy.backoff(3, rng) for _ in range(2000)]
    assert all(0.0 <= s <= 4.0 for s in samples)
    # Full jitter: uniform over [0, ceiling], so both ends are reached and the mean is central.
    assert min(samples) < 0.1 and max(samples) > 3.9
    assert 1.8 < sum(samples) / len(samples) < 2.2


def test_same_seed_same_schedule():
    policy = RetryPolicy()
    assert policy.schedule(random.Random(1)) == policy.schedule(random.Random(1))


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "POST"])
@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 422, 425, 429, 500, 502, 503, 504])
def test_which_statuses_are_retried(method, status):
    delay = RetryPolicy().delay(method=method, attempt=1, elapsed=0.0, status=status, rng=MaxRng())
    # A create is re-sent only when the server proves it did nothing (429).
    expected = status == 429 if method == "POST" else status in RETRY_STATUSES
    assert (delay is not None) is expected


@pytest.mark.parametrize(
    ("method", "failure", "retried"),
    [
        ("GET", Failure.CONNECT, True),
        ("PUT", Failure.CONNECT, True),
        ("POST", Failure.CONNECT, True),  # never left the machine: safe to send
        ("DELETE", Failure.CONNECT, True),
        ("GET", Failure.READ_TIMEOUT, True),
        ("PUT", Failure.READ_TIMEOUT, True),  # idempotent: outcome unknown, retried
        ("DELETE", Failure.READ_TIMEOUT, True),
        ("POST", Failure.READ_TIMEOUT, False),  # could create a second session
        ("GET", Failure.DROPPED, True),
        ("PUT", Failure.DROPPED, True),
        ("POST", Failure.DROPPED, False),
        ("GET", Failure.INVALID, False),
        ("PUT", Failure.INVALID, False),
    ],
)
def test_transport_failures_by_method(method, failure, retried):
    delay = RetryPolicy().delay(method=method, attempt=1, elapsed=0.0, failure=failure)
    assert (delay is not None) is retried
    assert failure.sent is (failure in (Failure.READ_TIMEOUT, Failure.DROPPED))


def test_attempt_budget():
    policy = RetryPolicy(max_attempts=4, backoff_base=0.001)
    delays = [policy.delay(method="GET", attempt=n, elapsed=0.0, status=503) for n in range(1, 6)]
    assert [d is not None for d in delays] == [True, True, True, False, False]
    assert RetryPolicy.none().delay(method="GET", attempt=1, elapsed=0.0, status=503) is None


def test_time_budget_stops_a_retry_that_would_start_too_late():
    policy = RetryPolicy(total_time=10.0, backoff_base=4.0, backoff_cap=4.0)
    assert policy.delay(method="GET", attempt=1, elapsed=5.0, status=503, rng=MaxRng()) == 4.0
    assert policy.delay(method="GET", attempt=1, elapsed=6.5, status=503, rng=MaxRng()) is None
    # A Retry-After longer than what is left of the budget also ends the call.
    assert policy.delay(method="GET", attempt=1, elapsed=1.0, status=429, retry_after="30") is None


def test_retry_after_seconds_is_honoured_with_bounded_jitter():
    policy = RetryPolicy(retry_after_jitter=0.1)
    assert policy.delay(method="PUT", attempt=1, elapsed=0, status=429, retry_after="3", rng=MinRng()) == 3.0
    high = policy.delay(method="PUT", attempt=1, elapsed=0, status=429, retry_after="3", rng=MaxRng())
    assert high == pytest.approx(3.3)
    exact = RetryPolicy(retry_after_jitter=0)
    assert exact.delay(method="GET", attempt=2, elapsed=0, status=503, retry_after="7", rng=MaxRng()) == 7.0
    # Already-parsed seconds are accepted too.
    assert exact.delay(method="GET", attempt=1, elapsed=0, status=503, retry_after=1.5) == 1.5


def test_retry_after_is_capped():
    policy = RetryPolicy(max_retry_after=5.0, retry_after_jitter=0, total_time=1000)
    assert policy.delay(method="GET", attempt=1, elapsed=0, status=429, retry_after="3600") == 5.0
    future = format_datetime(datetime.now(UTC) + timedelta(hours=2), usegmt=True)
    assert policy.delay(method="GET", attempt=1, elapsed=0, status=503, retry_after=future) == 5.0


@pytest.mark.parametrize("garbage", ["soon", "-5", "nan", "inf", "1e309", "", "   ", "Wed, 99 Foo 2015", "x" * 500])
def test_garbage_retry_after_falls_back_to_backoff(garbage):
    policy = RetryPolicy(backoff_base=0.25, backoff_cap=0.25)
    delay = policy.delay(method="GET", attempt=1, elapsed=0, status=429, retry_after=garbage, rng=MaxRng())
    assert delay == 0.25


def test_retry_after_ignored_without_a_retryable_status():
    policy = RetryPolicy()
    assert policy.delay(method="GET", attempt=1, elapsed=0, status=400, retry_after="1") is None


def test_parse_retry_after_forms():
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now=now) == 120.0
    assert parse_retry_after(" 1.5 ", now=now) == 1.5
    assert parse_retry_after("0", now=now) == 0.0
    assert parse_retry_after("Wed, 01 May 2024 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", now=now) == 0.0  # in the past: go now
    assert parse_retry_after(None) is None
    assert parse_retry_after("-1") is None
    assert parse_retry_after("tomorrow") is None
