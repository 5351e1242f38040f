"""The fault matrix: every fault the sandbox can script × {get, update} × how often it happens,
with the exact number of requests the sandbox saw and the writes it applied.

``tests/test_client_faults.py`` proves the client's behaviour per status, body and method; this
grid sweeps the *count* axis (a fault once, up to the budget, past it, forever) for GET and
PUT, so that every "retried until the budget is spent" and "not retried at all" boundary is
pinned to an exact request count, and adds what that file does not: ``Retry-After`` variants on
updates and 503s, success statuses with broken bodies, a 429 storm with real waits, the time
budget of the default policy, a server that is down and comes back, and outcome-unknown writes
reconciled by the bulk engine with at most one extra write per lost answer.

Waits between attempts go through an injected sleep that records them, except in the storm
and the down-then-up tests, which measure real time.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from gr4vy_nb.api.auth import write_new_private_key
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
from gr4vy_nb.sandbox import start_sandbox
from gr4vy_nb.updates.journal import Journal
from gr4vy_nb.updates.plan import Plan, PlanItem
from gr4vy_nb.updates.runs import apply_plan, resume_run

from ._support import (
    FULL,
    JWT_RE,
    REPO,
    TRACEBACK,
    generated_sessions,
    pick,
    record,
    run_cli,
    sample_sessions,
    settle,
)

MAX = 3
POLICY = RetryPolicy(max_attempts=MAX, backoff_base=0.001, backoff_cap=0.002, retry_after_jitter=0)
READ_TIMEOUT = 0.25
STALL = 0.5
FOREVER = 1000

RETRIED = frozenset({429, 500, 502, 503, 504})
STATUS_CLASS: dict[int, type[ApiError]] = {
    400: ValidationFailed, 401: AuthError, 403: PermissionDenied, 404: NotFound, 405: ApiError, 409: Conflict,
    410: ApiError, 413: ApiError, 422: ValidationFailed, 429: RateLimited, 500: ServerError, 501: ServerError,
    502: ServerError, 503: ServerError, 504: ServerError,
}
OPS = ("GET", "PUT")


@pytest.fixture(scope="module")
def sid() -> str:
    return str(sample_sessions()[0]["id"])


class Waits:
    """Injected sleep: records each wait instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def call(client: Gr4vyClient, method: str, sid: str, tag: str = "matrix") -> dict[str, Any]:
    if method == "GET":
        return client.get_checkout_session(sid)
    return client.update_checkout_session(sid, {"metadata": {"reliability": tag}})


# --------------------------------------------------------------------------- the grid


@dataclass(frozen=True)
class Fault:
    """One scripted fault kind: the rule the sandbox applies, and what it means to a client."""

    name: str
    rule: dict[str, Any]
    retried: bool  # whether the client retries it (for GET and PUT alike)
    applies: bool = False  # the sandbox applies the write before failing to answer
    lost: bool = False  # no answer reaches the client (timeout or reset)
    patient: bool = True  # a client with the normal read timeout (else the short one)

    def error(self, method: str) -> type[ApiError]:
        if self.lost:
            return OutcomeUnknown if method == "PUT" else TransportError
        status = self.rule["status"]
        return STATUS_CLASS.get(status, ServerError if status >= 500 else ApiError)


def _faults() -> list[Fault]:
    out = [Fault(f"status {s}", {"action": "status", "status": s}, s in RETRIED) for s in sorted(STATUS_CLASS)]
    bodies = ("html", "truncated", "empty", "fastapi") if FULL else ("html", "truncated")
    out += [Fault(f"status {s} {body} body", {"action": "status", "status": s, "body": body}, s in RETRIED)
            for s in (400, 404, 502, 503) for body in bodies]
    out += [
        Fault("connection reset", {"action": "reset"}, True, lost=True),
        Fault("stall past the read timeout", {"action": "stall", "seconds": STALL}, True, lost=True, patient=False),
        Fault("applied, then stall past the read timeout", {"action": "apply_then_stall", "seconds": STALL}, True,
              applies=True, lost=True, patient=False),
    ]
    return out


FAULTS = _faults()
# How often the fault happens: once, up to the last allowed retry, exactly the budget, forever.
# The fast tier keeps the two boundary counts (and, for the faults that cost real seconds of
# timeout, once and forever); the full tier runs all four everywhere.
TIMES_ALL = (1, MAX - 1, MAX, FOREVER)
TIMES_FAST = (MAX - 1, MAX)
TIMES_FAST_SLOW = (1, FOREVER)


def _grid() -> list[Any]:
    cases = []
    for fault in FAULTS:
        if not fault.retried:
            counts: tuple[int, ...] = (1,)  # never retried: once is the whole story
        elif FULL:
            counts = TIMES_ALL
        else:
            counts = TIMES_FAST if fault.patient else TIMES_FAST_SLOW
        for method in OPS:
            for times in counts:
                shown = "forever" if times == FOREVER else f"x{times}"
                cases.append(pytest.param(fault, method, times, id=f"{method}-{fault.name}-{shown}"))
    return cases


@pytest.fixture
def clients(sandbox_clean):
    waits = Waits()
    patient = Gr4vyClient(Settings.for_sandbox(sandbox_clean, timeouts=(2, 10), retry=POLICY), sleep=waits)
    impatient = Gr4vyClient(Settings.for_sandbox(sandbox_clean, timeouts=(2, READ_TIMEOUT), retry=POLICY),
                            sleep=waits)
    with patient, impatient:
        yield patient, impatient, waits


@pytest.mark.parametrize(("fault", "method", "times"), _grid())
def test_grid(clients, sandbox_clean, sid, fault: Fault, method: str, times: int):
    patient, impatient, waits = clients
    client = patient if fault.patient else impatient
    sandbox_clean.set_faults([{**fault.rule, "method": method, "session_id": sid, "times": times}])
    before = sandbox_clean.stats()
    assert before["total_requests"] == 0

    faulted = min(times, MAX) if fault.retried else 1
    succeeds = fault.retried and times < MAX
    expected_requests = faulted + (1 if succeeds else 0)
    expected_writes = 0
    if method == "PUT":
        expected_writes = (faulted if fault.applies else 0) + (1 if succeeds else 0)

    error: ApiError | None = None
    try:
        result = call(client, method, sid)
    except ApiError as exc:
        error = exc
    info = client.last_call
    if succeeds:
        assert error is None, f"expected success after {faulted} fault(s), got {error!r}"
        assert result["id"] == sid
        assert info.ok and info.attempts == expected_requests
    else:
        assert error is not None, "expected an error"
        assert type(error) is fault.error(method), repr(error)
        assert error.attempts == expected_requests
        assert error.session_id == sid and error.method == method
        assert str(error) and error.message
        assert not JWT_RE.search(str(error)) and "Bearer" not in str(error)
        if fault.lost:
            assert error.status is None
        else:
            assert error.status == fault.rule["status"]
    assert info.unknown_attempts == (faulted if fault.lost else 0)
    assert info.outcome_unknown is (not succeeds and fault.lost and method == "PUT")
    assert len(waits.waits) == expected_requests - 1
    stats = settle(sandbox_clean, expected_requests)
    assert stats["total_requests"] == expected_requests
    assert sum(stats["requests"][method].values()) == expected_requests
    assert stats["writes"] == ({sid: expected_writes} if expected_writes else {})
    # Each write beyond the first is the cost of an answer that was lost, never of anything else.
    if method == "PUT":
        assert max(0, expected_writes - 1) <= (faulted if fault.lost else 0)


# --------------------------------------------------------------------------- success statuses, broken bodies


@pytest.mark.parametrize("body", ["html", "truncated", "empty"])
@pytest.mark.parametrize("method", OPS)
def test_success_status_with_a_broken_body_is_an_error_not_a_crash(clients, sandbox_clean, sid, method, body):
    """A proxy answering 200 with an HTML page, or a cut-off JSON body: a typed error, one request."""
    patient, _, waits = clients
    sandbox_clean.set_faults([{"method": method, "session_id": sid, "action": "status", "status": 200,
                               "body": body}])
    with pytest.raises(ApiError) as info:
        call(patient, method, sid)
    error = info.value
    assert error.status == 200 and error.code == "invalid_response" and error.attempts == 1
    assert "Traceback" not in str(error)
    assert waits.waits == []
    stats = settle(sandbox_clean, 1)
    assert stats["total_requests"] == 1 and stats["writes"] == {}


# --------------------------------------------------------------------------- Retry-After


RETRY_AFTER = [
    ("2", 2.0, 2.0),
    ("0", 0.0, 0.0),
    ("1.5", 1.5, 1.5),
    ("<date +30 s>", 25.0, 30.0),
    ("<date -30 s>", 0.0, 0.0),
    ("86400", 40.0, 40.0),  # huge: capped at max_retry_after
    ("99999999999999999999", 40.0, 40.0),
    ("1e400", 0.0, 0.001),  # infinite: ignored, backoff instead
    ("soon", 0.0, 0.001),  # garbage: backoff
    ("-3", 0.0, 0.001),
    ("Wed, 99 Foo 2024 99:99:99 GMT", 0.0, 0.001),
]


def _header(text: str) -> str:
    if text.startswith("<date"):
        offset = 30 if "+" in text else -30
        return format_datetime(datetime.now(UTC) + timedelta(seconds=offset), usegmt=True)
    return text


@pytest.mark.parametrize(("header", "low", "high"), RETRY_AFTER, ids=[r[0] for r in RETRY_AFTER])
@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("method", OPS)
def test_retry_after_variants(sandbox_clean, sid, method, status, header, low, high):
    waits = Waits()
    policy = RetryPolicy(max_attempts=MAX, backoff_base=0.001, backoff_cap=0.002, retry_after_jitter=0,
                         max_retry_after=40.0)
    sandbox_clean.set_faults([{"method": method, "session_id": sid, "times": 1, "action": "status",
                               "status": status, "retry_after": _header(header)}])
    with Gr4vyClient(Settings.for_sandbox(sandbox_clean, retry=policy), sleep=waits) as client:
        call(client, method, sid)
        assert client.last_call.attempts == 2
    assert len(waits.waits) == 1 and low <= waits.waits[0] <= high, waits.waits
    stats = settle(sandbox_clean, 2)
    assert stats["requests"][method] == {str(status): 1, "200": 1}
    assert stats["writes"] == ({sid: 1} if method == "PUT" else {})


@pytest.mark.parametrize("method", OPS)
def test_retry_after_on_a_refusal_is_not_a_reason_to_retry(clients, sandbox_clean, sid, method):
    patient, _, waits = clients
    sandbox_clean.set_faults([{"method": method, "session_id": sid, "action": "status", "status": 400,
                               "retry_after": "1"}])
    with pytest.raises(ValidationFailed):
        call(patient, method, sid)
    assert waits.waits == [] and settle(sandbox_clean, 1)["total_requests"] == 1


# --------------------------------------------------------------------------- the default policy's budget


class FakeTime:
    """A clock that only moves when the client sleeps: the default policy's budget without waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize("method", OPS)
def test_persistent_5xx_with_the_default_policy(sandbox_clean, sid, method, status):
    fake = FakeTime()
    policy = RetryPolicy()
    sandbox_clean.set_faults([{"method": method, "times": FOREVER, "action": "status", "status": status}])
    client = Gr4vyClient(Settings.for_sandbox(sandbox_clean), sleep=fake.sleep, clock=fake.clock,
                         rng=random.Random(status))
    with client, pytest.raises(ServerError) as info:
        call(client, method, sid)
    assert info.value.attempts == policy.max_attempts
    assert len(fake.waits) == policy.max_attempts - 1
    assert all(0 <= w <= policy.ceiling(n) for n, w in enumerate(fake.waits, start=1))
    assert sum(fake.waits) <= policy.total_time
    stats = settle(sandbox_clean, policy.max_attempts)
    assert stats["total_requests"] == policy.max_attempts and stats["writes"] == {}


@pytest.mark.parametrize("method", OPS)
def test_persistent_429_honours_retry_after_within_the_time_budget(sandbox_clean, sid, method):
    fake = FakeTime()
    sandbox_clean.set_faults([{"method": method, "times": FOREVER, "action": "status", "status": 429,
                               "retry_after": "30"}])
    client = Gr4vyClient(Settings.for_sandbox(sandbox_clean), sleep=fake.sleep, clock=fake.clock,
                         rng=random.Random(7))
    with client, pytest.raises(RateLimited) as info:
        call(client, method, sid)
    # 30 s (+ up to 10% jitter) per wait: a fourth wait would end past the 120 s budget.
    assert all(30.0 <= w <= 33.0 for w in fake.waits)
    assert len(fake.waits) == 3 and info.value.attempts == 4
    assert settle(sandbox_clean, 4)["total_requests"] == 4


# --------------------------------------------------------------------------- a 429 storm, real time


def _storm(sandbox: Any, ids: list[str], *, limit: float, workers: int, rate: float | None) -> dict[str, Any]:
    sandbox.configure(rate_limit=limit)
    policy = RetryPolicy(max_attempts=12, total_time=120)
    attempts: dict[str, int] = {}
    errors: list[ApiError] = []
    settings = Settings.for_sandbox(sandbox, retry=policy)
    with Gr4vyClient(settings, workers=workers, rate=rate) as client:
        def one(session_id: str) -> None:
            try:
                client.update_checkout_session(session_id, {"metadata": {"storm": "1"}})
            except ApiError as exc:
                errors.append(exc)
            attempts[session_id] = client.last_call.attempts

        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(one, ids))
        drain = time.monotonic() - started
    stats = sandbox.stats()
    sandbox.configure(rate_limit=None)
    return {"drain": drain, "attempts": attempts, "errors": errors, "stats": stats}


def test_429_storm_drains_with_exactly_one_write_per_row(sandbox_clean):
    n, limit, workers = pick((80, 40.0, 8), (400, 50.0, 8))
    sessions = generated_sessions(n, seed=777)
    sandbox_clean.seed(sessions)
    distinct = [s["id"] for s in sessions]
    result = _storm(sandbox_clean, distinct, limit=limit, workers=workers, rate=None)
    stats = result["stats"]
    assert result["errors"] == []
    assert stats["writes"] == {i: 1 for i in distinct}  # a 429 applies nothing; each row written once
    put = stats["requests"]["PUT"]
    assert put.get("200") == len(distinct)
    assert sum(result["attempts"].values()) == sum(put.values())
    rate_limited = put.get("429", 0)
    assert rate_limited > 0, "the storm did not hit the limit: the test proves nothing"
    ideal = len(distinct) / limit
    assert result["drain"] < 3 * ideal + 10, result["drain"]
    per_row = [result["attempts"][i] for i in distinct]
    record("storm", mode="unpaced", rows=len(distinct), limit_rps=limit, workers=workers,
           drain_s=round(result["drain"], 2), ideal_s=round(ideal, 2), answered_429=rate_limited,
           attempts_mean=round(sum(per_row) / len(per_row), 3), attempts_max=max(per_row))


def test_paced_below_the_limit_meets_no_429(sandbox_clean):
    n, limit, workers = pick((60, 40.0, 8), (300, 50.0, 8))
    distinct = [s["id"] for s in sample_sessions()][:n]
    # A server bucket holds one second's worth; pace a little under the limit.
    result = _storm(sandbox_clean, distinct, limit=limit, workers=workers, rate=limit * 0.9)
    put = result["stats"]["requests"]["PUT"]
    assert result["errors"] == []
    assert put == {"200": len(distinct)}
    per_row = [result["attempts"][i] for i in distinct]
    record("storm", mode="paced", rows=len(distinct), limit_rps=limit, workers=workers,
           drain_s=round(result["drain"], 2), ideal_s=round(len(distinct) / (limit * 0.9), 2), answered_429=0,
           attempts_mean=round(sum(per_row) / len(per_row), 3), attempts_max=max(per_row))


# --------------------------------------------------------------------------- down for a while, then back


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("method", OPS)
def test_connection_refused_for_a_while_then_back(tmp_path: Path, sid, method):
    key = tmp_path / "key.pem"
    write_new_private_key(key)
    port = _free_port()
    down_for = pick(1.0, 2.5)
    holder: dict[str, Any] = {}

    def come_up() -> None:
        time.sleep(down_for)
        holder["sandbox"] = start_sandbox(port=port, private_key_file=key, mode="thread")

    outcomes: list[Any] = []
    policy = RetryPolicy(max_attempts=60, backoff_base=0.05, backoff_cap=0.2, total_time=30)
    settings = Settings.for_sandbox(f"http://127.0.0.1:{port}", private_key_file=key, retry=policy,
                                    timeouts=(1, 10))
    starter = threading.Thread(target=come_up, daemon=True)
    try:
        with Gr4vyClient(settings, on_attempt=lambda m, s, a, o, d: outcomes.append(o)) as client:
            starter.start()
            started = time.monotonic()
            result = call(client, method, sid, tag="came-back")
            elapsed = time.monotonic() - started
            info = client.last_call
        starter.join(30)
        sandbox = holder["sandbox"]
        assert result["id"] == sid and info.ok
        refused = [o for o in outcomes if isinstance(o, ApiError)]
        assert refused and all(o.code == "connect" for o in refused)
        assert info.attempts == len(refused) + 1 and info.unknown_attempts == 0
        assert elapsed >= down_for * 0.8
        stats = sandbox.stats()
        # Refused connections never reached a server: exactly one request, one write for an update.
        assert stats["total_requests"] == 1
        assert stats["writes"] == ({sid: 1} if method == "PUT" else {})
        record("down_then_up", method=method, down_s=down_for, attempts=info.attempts, elapsed_s=round(elapsed, 2))
    finally:
        starter.join(30)
        if "sandbox" in holder:
            holder["sandbox"].stop()


# --------------------------------------------------------------------------- outcome unknown, reconciled by the engine


def _plan(client: Gr4vyClient, ids: list[str], tag: str) -> Plan:
    items = []
    for session_id in ids:
        before = client.get_checkout_session(session_id)
        desired = {"metadata": {**(before.get("metadata") or {}), "reconciled": tag}}
        items.append(PlanItem(session_id=session_id, status="change", before=before, desired=desired,
                              body={**desired, "expires_in": 3600}, source={}))
    s = client.settings
    return Plan(items=items, target={"target": s.target, "base_url": s.base_url,
                                     "merchant_account_id": s.merchant_account_id, "is_production": False})


UNKNOWN_CASES = [
    # (name, rules for the first session's PUTs, final status after apply, writes after apply, after resume)
    ("applied, answer lost once: retried", [{"action": "apply_then_stall", "seconds": STALL, "times": 1}],
     "succeeded", 2, 2),
    ("applied, answer lost, then 503 until the budget is spent: re-read shows it applied",
     [{"action": "apply_then_stall", "seconds": STALL, "times": 1},
      {"action": "status", "status": 503, "times": FOREVER}], "succeeded", 1, 1),
    ("never applied, answers lost until the budget is spent: re-read shows it not applied; resume sends it",
     [{"action": "stall", "seconds": STALL, "times": MAX}], "failed", 0, 1),
    ("connection reset until the budget is spent: resume sends it",
     [{"action": "reset", "times": MAX}], "failed", 0, 1),
]


@pytest.mark.parametrize(("name", "rules", "status", "writes", "writes_after_resume"), UNKNOWN_CASES,
                         ids=[c[0].split(":")[0] for c in UNKNOWN_CASES])
def test_outcome_unknown_is_reconciled_with_at_most_one_extra_write(
        sandbox_clean, sid, tmp_path, name, rules, status, writes, writes_after_resume):
    others = [s["id"] for s in sample_sessions()[1:4]]
    settings = Settings.for_sandbox(sandbox_clean, timeouts=(2, READ_TIMEOUT), retry=POLICY)
    with Gr4vyClient(settings) as client:
        plan = _plan(client, [sid, *others], tag=name[:20])
        sandbox_clean.reset(reseed=True)  # zero the counters (the planning GETs); same sessions
        sandbox_clean.set_faults([{**r, "method": "PUT", "session_id": sid} for r in rules])
        run = apply_plan(plan, client=client, journal=tmp_path / "run.sqlite", workers=4)
        row = run.results.set_index("checkout_session_id").loc[sid]
        assert row["status"] == status, row["message"]
        stats = settle(sandbox_clean, 0)
        assert stats["writes"].get(sid, 0) == writes
        assert all(stats["writes"].get(o) == 1 for o in others)
        assert set(stats["writes"]) <= {sid, *others}
        sandbox_clean.clear_faults()
        again = resume_run(run.journal, client=client)
        assert again.counts["succeeded"] == 1 + len(others) == again.counts["total"]
        stats = sandbox_clean.stats()
        assert stats["writes"].get(sid, 0) == writes_after_resume <= 2
        assert all(stats["writes"].get(o) == 1 for o in others)
        current = client.get_checkout_session(sid)
        assert current["metadata"]["reconciled"] == name[:20]
    with Journal.open(run.journal, readonly=True) as journal:
        assert journal.integrity_check() == "ok"
    record("outcome_unknown", case=name, writes=writes_after_resume, extra_writes=max(0, writes_after_resume - 1))


# --------------------------------------------------------------------------- a target that is down


@pytest.mark.skipif(not FULL, reason="full tier: the client spends ~20 s retrying before it gives up")
def test_plan_against_an_unreachable_api_is_a_configuration_error(tmp_path):
    """Nothing listens: ``plan`` must say it cannot reach the API (exit 3), not blame the CSV (exit 2)
    nor count the sessions as "not found or expired"."""
    ids = [s["id"] for s in sample_sessions()[:3]]
    (tmp_path / "upload").mkdir()
    (tmp_path / "upload" / "sessions.csv").write_text(
        "checkout_session_id,metadata.channel\n" + "".join(f"{i},web\n" for i in ids), encoding="utf-8")
    key = write_new_private_key(tmp_path / "key.pem")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GR4VY_")}
    env.update({"GR4VY_BASE_URL": f"http://127.0.0.1:{_free_port()}", "GR4VY_PRIVATE_KEY_FILE": str(key),
                "PYTHONPATH": str(REPO)})
    done = run_cli(["plan", str(tmp_path / "upload")], env, cwd=tmp_path, timeout=180)
    output = done.stdout + done.stderr
    record("unreachable", exit_code=done.returncode)
    assert TRACEBACK not in output
    assert done.returncode == 3, output[-2000:]
    assert "cannot reach the API" in output and "not found" not in output.lower()
