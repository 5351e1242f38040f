"""Fault injection of the sandbox: the knobs and the scripted rules.

Every fault that refuses a write is checked against ``/_sandbox/stats``: the write
counter does not move and a later GET shows the session unchanged.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from gr4vy_nb.sandbox import UNKNOWN_FIELD, Sandbox, start_sandbox
from gr4vy_nb.schema import CheckoutSession, ErrorBody, HTTPValidationError
from tests.sandbox.helpers import (
    Headers,
    a_session,
    amount_of,
    assert_gr4vy_error,
    bearer,
    local,
    local_get,
    seed_file,
    session_url,
    signer_for,
)


@pytest.fixture
def sid(sandbox_clean: Sandbox) -> str:
    session = a_session()
    sandbox_clean.seed([session])
    return str(session["id"])


# ---------------------------------------------------------------------- knobs from start_sandbox()


def test_rate_limit_answers_429_with_retry_after_and_applies_nothing(tmp_path: Path) -> None:
    session = a_session()
    seed = seed_file(tmp_path, session)
    with start_sandbox(rate_limit=5, seed=seed, db=tmp_path / "s.db") as sb, local() as http:
        headers = bearer(signer_for(sb))
        statuses = []
        for _ in range(20):
            r = http.put(session_url(sb, session["id"]), json={"amount": 1}, headers=headers, timeout=10)
            statuses.append(r.status_code)
            if r.status_code == 429:
                body = assert_gr4vy_error(r, 429)
                assert body["code"] == "too_many_requests"
                assert int(r.headers["retry-after"]) >= 1
        accepted = statuses.count(200)
        assert 5 <= accepted <= 7 and statuses.count(429) == 20 - accepted  # a burst of one second's worth
        stats = sb.stats()
        assert stats["writes"] == {session["id"]: accepted}
        assert stats["requests"]["PUT"] == {"200": accepted, "429": 20 - accepted}
        assert stats["faults"]["rate_limited"] == 20 - accepted
        time.sleep(1.1)  # the bucket refills at 5 per second
        assert http.get(session_url(sb, session["id"]), headers=headers, timeout=10).status_code == 200


def test_fail_rate_one_fails_everything_and_applies_nothing(tmp_path: Path) -> None:
    session = a_session()
    seed = seed_file(tmp_path, session)
    with start_sandbox(fail_rate=1.0, seed=seed, db=tmp_path / "s.db") as sb, local() as http:
        headers = bearer(signer_for(sb))
        seen = set()
        for method in ("PUT", "DELETE", "POST", "GET") * 5:
            target = session_url(sb, None if method == "POST" else session["id"])
            r = http.request(method, target, json={"amount": 1}, headers=headers, timeout=10)
            assert r.status_code in (500, 502, 504)
            seen.add(assert_gr4vy_error(r, r.status_code)["code"])
        assert seen <= {"server_error", "bad_gateway", "gateway_timeout"} and len(seen) >= 2
        stats = sb.stats()
        assert stats["writes"] == {} and stats["faults"]["failed"] == 20
        assert sb.health()["sessions"] == 1
        sb.configure(fail_rate=0.0)
        assert amount_of(http, sb, session["id"], headers) == 500


def _statuses(sb: Sandbox, n: int) -> list[int]:
    headers = bearer(signer_for(sb))
    with local() as http:
        return [http.get(session_url(sb, str(uuid.uuid4())), headers=headers, timeout=10).status_code
                for _ in range(n)]


def test_fail_rate_is_deterministic_under_a_random_seed(tmp_path: Path) -> None:
    runs = []
    for n, random_seed in enumerate((7, 7, 8)):
        with start_sandbox(fail_rate=0.4, random_seed=random_seed, seed=None, db=tmp_path / f"{n}.db") as sb:
            runs.append(_statuses(sb, 40))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]
    failures = sum(s != 404 for s in runs[0])
    assert 5 <= failures <= 30  # about 40% of 40
    assert set(runs[0]) <= {404, 500, 502, 504}


def test_latency_is_added_without_blocking_other_requests(tmp_path: Path) -> None:
    with start_sandbox(latency_ms=300, seed=None, db=tmp_path / "s.db") as sb:
        headers = bearer(signer_for(sb))
        started = time.monotonic()
        r = local_get(session_url(sb, str(uuid.uuid4())), headers=headers, timeout=10)
        single = time.monotonic() - started
        assert r.status_code == 404 and 0.3 <= single < 1.5
        statuses: list[int] = []

        def one() -> None:
            statuses.append(local_get(session_url(sb, str(uuid.uuid4())), headers=headers, timeout=10).status_code)

        threads = [threading.Thread(target=one) for _ in range(8)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=20)
        elapsed = time.monotonic() - started
        assert statuses == [404] * 8
        assert 0.3 <= elapsed < 1.2  # 8 x 300 ms in parallel, not 2.4 s in series
        # Admin endpoints are not slowed down.
        started = time.monotonic()
        sb.stats()
        assert time.monotonic() - started < 0.25


def test_unknown_fields_are_added_to_every_response(tmp_path: Path) -> None:
    session = a_session(airline={"legs": [{"carrier_code": "BA"}], "passengers": [{"first_name": "A"}]})
    seed = seed_file(tmp_path, session)
    with start_sandbox(unknown_fields=True, seed=seed, db=tmp_path / "s.db") as sb, local() as http:
        headers = bearer(signer_for(sb))
        for r in (http.get(session_url(sb, session["id"]), headers=headers, timeout=10),
                  http.put(session_url(sb, session["id"]), json={"amount": 7}, headers=headers, timeout=10)):
            assert r.status_code == 200
            body = r.json()
            assert UNKNOWN_FIELD in body
            assert UNKNOWN_FIELD in body["cart_items"][0]
            assert UNKNOWN_FIELD in body["buyer"] and UNKNOWN_FIELD in body["buyer"]["billing_details"]["address"]
            assert UNKNOWN_FIELD in body["airline"]["legs"][0] and UNKNOWN_FIELD in body["airline"]["passengers"][0]
            assert UNKNOWN_FIELD not in body["metadata"] if body["metadata"] else True
            CheckoutSession.model_validate(body)  # a lenient reader still copes
            with pytest.raises(ValueError):
                CheckoutSession.model_validate(body, context={"lenient": False})
        created = http.post(session_url(sb), json={}, headers=headers, timeout=10)
        assert created.status_code == 201 and UNKNOWN_FIELD in created.json()
        error = http.get(session_url(sb, str(uuid.uuid4())), headers=headers, timeout=10)
        assert error.status_code == 404 and UNKNOWN_FIELD in error.json()
        ErrorBody.model_validate(error.json())
        # The stored session holds no unknown field: switching the knob off shows it clean.
        sb.configure(unknown_fields=False)
        clean = http.get(session_url(sb, session["id"]), headers=headers, timeout=10).json()
        CheckoutSession.model_validate(clean, context={"lenient": False})


def test_knob_values_are_checked() -> None:
    for bad in ({"fail_rate": 1.5}, {"rate_limit": 0}, {"latency_ms": -1}):
        with pytest.raises(ValueError):
            start_sandbox(seed=None, **bad)


def test_configure_at_runtime_and_reset_restores(sandbox_clean: Sandbox, http: requests.Session,
                                                 auth_headers: Headers, sid: str) -> None:
    assert sandbox_clean.configure(fail_rate=1.0)["fail_rate"] == 1.0
    assert http.get(session_url(sandbox_clean, sid), headers=auth_headers(), timeout=10).status_code >= 500
    with pytest.raises(ValueError, match="unknown setting"):
        sandbox_clean.configure(nonsense=1)
    with pytest.raises(ValueError, match="fail_rate"):
        sandbox_clean.configure(fail_rate=3)
    sandbox_clean.reset()
    assert sandbox_clean.health()["config"]["fail_rate"] == 0.0


# ---------------------------------------------------------------------- scripted faults


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 409, 425])
def test_scripted_status_is_answered_and_nothing_applied(sandbox_clean: Sandbox, http: requests.Session,
                                                         auth_headers: Headers, sid: str, status: int) -> None:
    sandbox_clean.set_faults([{"method": "PUT", "action": "status", "status": status, "retry_after": "2"}])
    r = http.put(session_url(sandbox_clean, sid), json={"amount": 9}, headers=auth_headers(), timeout=10)
    assert_gr4vy_error(r, status)
    assert r.headers["retry-after"] == "2"
    stats = sandbox_clean.stats()
    assert stats["writes"] == {} and stats["requests"]["PUT"] == {str(status): 1}
    assert stats["faults"]["scripted"] == 1 and stats["faults_pending"] == 0
    assert amount_of(http, sandbox_clean, sid, auth_headers()) == 500
    # Used up: the next PUT goes through.
    assert http.put(session_url(sandbox_clean, sid), json={"amount": 9}, headers=auth_headers(),
                    timeout=10).status_code == 200


def test_scripted_body_kinds(sandbox_clean: Sandbox, http: requests.Session, auth_headers: Headers, sid: str) -> None:
    sandbox_clean.set_faults([
        {"action": "status", "status": 422, "body": "fastapi"},
        {"action": "status", "status": 404, "body": "fastapi"},
        {"action": "status", "status": 502, "body": "html"},
        {"action": "status", "status": 503, "body": "empty"},
        {"action": "status", "status": 500, "body": "truncated"},
        {"action": "status", "status": 400, "body": "gr4vy", "message": "custom message"},
    ])
    target = session_url(sandbox_clean, sid)
    r = http.put(target, json={"amount": 1}, headers=auth_headers(), timeout=10)
    assert r.status_code == 422
    HTTPValidationError.model_validate(r.json())
    assert r.json()["detail"][0]["loc"][0] == "body"
    r = http.get(target, headers=auth_headers(), timeout=10)
    assert r.status_code == 404 and r.json() == {"detail": "Not Found"}
    r = http.get(target, headers=auth_headers(), timeout=10)
    assert r.status_code == 502 and r.headers["content-type"] == "text/html" and r.text.startswith("<html>")
    r = http.get(target, headers=auth_headers(), timeout=10)
    assert r.status_code == 503 and r.content == b"" and "content-type" not in r.headers
    r = http.get(target, headers=auth_headers(), timeout=10)
    assert r.status_code == 500 and r.headers["content-type"] == "application/json"
    with pytest.raises(ValueError):
        r.json()
    r = http.get(target, headers=auth_headers(), timeout=10)
    assert assert_gr4vy_error(r, 400)["message"] == "custom message"
    assert sandbox_clean.stats()["writes"] == {}
    assert sandbox_clean.faults() == []


def test_scripted_gr4vy_400_carries_details_with_pointers(sandbox_clean: Sandbox, http: requests.Session,
                                                          auth_headers: Headers, sid: str) -> None:
    detail = {"location": "body", "pointer": "/cart_items/1/tax_amount", "message": "too high", "type": "value_error"}
    sandbox_clean.set_faults([{"method": "PUT", "action": "status", "status": 400, "details": [detail]}])
    r = http.put(session_url(sandbox_clean, sid), json={"amount": 1}, headers=auth_headers(), timeout=10)
    assert assert_gr4vy_error(r, 400)["details"] == [detail]
    assert sandbox_clean.stats()["writes"] == {}
    with pytest.raises(ValueError):
        sandbox_clean.set_faults([{"action": "status", "status": 400, "details": [{"pointer": "/x"}]}])


def test_rules_match_method_and_session_and_are_consumed_in_order(sandbox_clean: Sandbox, http: requests.Session,
                                                                  auth_headers: Headers, sid: str) -> None:
    other = a_session()
    sandbox_clean.seed([other])
    pending = sandbox_clean.set_faults([
        {"method": "PUT", "session_id": sid.upper(), "action": "status", "status": 503, "times": 2},
        {"method": "*", "action": "status", "status": 500},
        {"method": "GET", "action": "status", "status": 502},
    ])
    assert [p["remaining"] for p in pending] == [2, 1, 1]
    h = auth_headers()
    assert http.put(session_url(sandbox_clean, sid), json={"amount": 1}, headers=h, timeout=10).status_code == 503
    # The other session skips rule 1 and takes rule 2 (any method).
    assert http.put(session_url(sandbox_clean, other["id"]), json={"amount": 1}, headers=h,
                    timeout=10).status_code == 500
    assert [p["remaining"] for p in sandbox_clean.faults()] == [1, 1]
    assert http.get(session_url(sandbox_clean, sid), headers=h, timeout=10).status_code == 502
    assert http.put(session_url(sandbox_clean, sid), json={"amount": 2}, headers=h, timeout=10).status_code == 503
    assert sandbox_clean.faults() == []
    assert http.put(session_url(sandbox_clean, sid), json={"amount": 3}, headers=h, timeout=10).status_code == 200
    stats = sandbox_clean.stats()
    assert stats["writes"] == {sid: 1}
    assert stats["faults"]["scripted"] == 4


def test_a_rule_with_a_session_id_never_matches_create(sandbox_clean: Sandbox, http: requests.Session,
                                                       auth_headers: Headers, sid: str) -> None:
    sandbox_clean.set_faults([{"method": "POST", "session_id": sid, "action": "status", "status": 500}])
    assert http.post(session_url(sandbox_clean), json={}, headers=auth_headers(), timeout=10).status_code == 201
    assert len(sandbox_clean.faults()) == 1


def test_append_and_clear_rules(sandbox_clean: Sandbox, http: requests.Session) -> None:
    sandbox_clean.set_faults([{"action": "status", "status": 500}])
    sandbox_clean.set_faults([{"action": "reset"}], append=True)
    assert [r["action"] for r in sandbox_clean.faults()] == ["status", "reset"]
    sandbox_clean.set_faults([{"action": "stall", "seconds": 1}])
    assert [r["action"] for r in sandbox_clean.faults()] == ["stall"]
    r = http.delete(f"{sandbox_clean.base_url}/_sandbox/faults", timeout=10)
    assert r.status_code == 200 and r.json() == {"rules": []}
    sandbox_clean.set_faults([{"action": "status", "status": 500}])
    sandbox_clean.clear_faults()
    assert sandbox_clean.faults() == []


@pytest.mark.parametrize("rule", [
    {},
    {"action": "explode"},
    {"action": "status"},
    {"action": "status", "status": 99},
    {"action": "stall"},
    {"action": "apply_then_stall", "seconds": 0},
    {"action": "reset", "method": "PATCH"},
    {"action": "reset", "times": 0},
    {"action": "reset", "colour": "red"},
    {"action": "status", "status": 500, "body": "xml"},
])
def test_bad_rules_are_refused(sandbox_clean: Sandbox, http: requests.Session, rule: dict[str, Any]) -> None:
    r = http.post(f"{sandbox_clean.base_url}/_sandbox/faults", json=[rule], timeout=10)
    body = assert_gr4vy_error(r, 400)
    assert body["details"] and body["details"][0]["pointer"].startswith("/0")
    with pytest.raises(ValueError):
        sandbox_clean.set_faults([rule])
    assert sandbox_clean.faults() == []


@pytest.mark.parametrize("method", ["PUT", "GET", "POST", "DELETE"])
def test_reset_drops_the_connection_and_applies_nothing(sandbox_clean: Sandbox, auth_headers: Headers, sid: str,
                                                        method: str) -> None:
    sandbox_clean.set_faults([{"method": method, "action": "reset"}])
    target = session_url(sandbox_clean, None if method == "POST" else sid)
    with local() as http, pytest.raises(requests.ConnectionError):
        http.request(method, target, json={"amount": 1}, headers=auth_headers(), timeout=10)
    stats = sandbox_clean.stats()
    assert stats["writes"] == {} and stats["requests"] == {method: {"reset": 1}}
    with local() as http:  # the server itself is fine
        assert amount_of(http, sandbox_clean, sid, auth_headers()) == 500
    assert sandbox_clean.health()["sessions"] == sandbox_clean.health()["seed"]["loaded"] + 1


def test_reset_on_a_kept_alive_connection(sandbox_clean: Sandbox, http: requests.Session, auth_headers: Headers,
                                          sid: str) -> None:
    h = auth_headers()
    assert http.get(session_url(sandbox_clean, sid), headers=h, timeout=10).status_code == 200
    sandbox_clean.set_faults([{"method": "GET", "action": "reset"}])
    with pytest.raises(requests.ConnectionError):
        http.get(session_url(sandbox_clean, sid), headers=h, timeout=10)
    assert http.get(session_url(sandbox_clean, sid), headers=h, timeout=10).status_code == 200


def test_stall_times_the_client_out_and_applies_nothing(sandbox_clean: Sandbox, http: requests.Session,
                                                        auth_headers: Headers, sid: str) -> None:
    sandbox_clean.set_faults([{"method": "PUT", "action": "stall", "seconds": 0.8}])
    with local() as client, pytest.raises(requests.ReadTimeout):
        client.put(session_url(sandbox_clean, sid), json={"amount": 9}, headers=auth_headers(), timeout=(5, 0.3))
    time.sleep(0.8)  # past the stall: still nothing applied
    assert sandbox_clean.stats()["writes"] == {}
    assert amount_of(http, sandbox_clean, sid, auth_headers()) == 500
    assert sandbox_clean.stats()["requests"]["PUT"] == {"504": 1}


def test_stall_answers_504_to_a_patient_client(sandbox_clean: Sandbox, http: requests.Session,
                                               auth_headers: Headers, sid: str) -> None:
    sandbox_clean.set_faults([{"method": "PUT", "action": "stall", "seconds": 0.2}])
    started = time.monotonic()
    r = http.put(session_url(sandbox_clean, sid), json={"amount": 9}, headers=auth_headers(), timeout=10)
    assert time.monotonic() - started >= 0.2
    assert "nothing was applied" in assert_gr4vy_error(r, 504)["message"]
    assert sandbox_clean.stats()["writes"] == {}


def test_apply_then_stall_applies_the_write_the_client_never_hears_of(sandbox_clean: Sandbox,
                                                                      http: requests.Session,
                                                                      auth_headers: Headers, sid: str) -> None:
    sandbox_clean.set_faults([{"method": "PUT", "session_id": sid, "action": "apply_then_stall", "seconds": 0.8}])
    with local() as client, pytest.raises(requests.ReadTimeout):
        client.put(session_url(sandbox_clean, sid), json={"amount": 9}, headers=auth_headers(), timeout=(5, 0.3))
    assert sandbox_clean.stats()["writes"] == {sid: 1}
    assert amount_of(http, sandbox_clean, sid, auth_headers()) == 9


def test_apply_then_stall_answers_late_to_a_patient_client(sandbox_clean: Sandbox, http: requests.Session,
                                                           auth_headers: Headers, sid: str) -> None:
    sandbox_clean.set_faults([{"method": "PUT", "action": "apply_then_stall", "seconds": 0.2}])
    started = time.monotonic()
    r = http.put(session_url(sandbox_clean, sid), json={"amount": 11}, headers=auth_headers(), timeout=10)
    assert time.monotonic() - started >= 0.2
    assert r.status_code == 200 and r.json()["amount"] == 11
    assert sandbox_clean.stats()["requests"]["PUT"] == {"200": 1}
