"""The sandbox's outer ASGI layer: the loopback guard of the admin endpoints, and the request counters."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from gr4vy_nb.sandbox import Sandbox
from gr4vy_nb.sandbox.asgi import is_loopback_address
from tests.sandbox.helpers import Headers, session_url

# ---------------------------------------------------------------------- the admin guard


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True), ("localhost", True),
    ("::ffff:127.0.0.1", True), ("0.0.0.0", False), ("10.0.0.1", False), ("192.168.1.5", False), ("::", False),
    ("example.com", False), ("", False),
])
def test_loopback_predicate(host: str, loopback: bool) -> None:
    # The admin guard and the bind check both rest on it; a non-loopback client cannot be
    # produced over loopback-only networking, so the predicate is tested directly.
    assert is_loopback_address(host) is loopback


def test_admin_requests_are_neither_faulted_nor_counted(sandbox_clean: Sandbox) -> None:
    sandbox_clean.set_faults([{"action": "reset", "times": 100}])
    sandbox_clean.configure(fail_rate=1.0, rate_limit=1, latency_ms=1)
    for _ in range(5):
        sandbox_clean.health()
    assert sandbox_clean.stats()["total_requests"] == 0


# ---------------------------------------------------------------------- counters


def test_stats_count_requests_by_method_and_status(existing: dict[str, Any], sandbox_clean: Sandbox,
                                                   http: requests.Session, auth_headers: Headers) -> None:
    for _ in range(3):
        http.get(session_url(sandbox_clean, existing["id"]), headers=auth_headers(), timeout=10)
    http.put(session_url(sandbox_clean, existing["id"]), json={"amount": 1}, headers=auth_headers(), timeout=10)
    http.put(session_url(sandbox_clean, existing["id"]), json={"amount": -1}, headers=auth_headers(), timeout=10)
    http.get(session_url(sandbox_clean, str(uuid.uuid4())), headers=auth_headers(), timeout=10)
    stats = sandbox_clean.stats()
    assert stats["requests"] == {"GET": {"200": 3, "404": 1}, "PUT": {"200": 1, "400": 1}}
    assert stats["total_requests"] == 6
    assert stats["writes"] == {existing["id"]: 1}
    assert stats["faults"] == {"scripted": 0, "rate_limited": 0, "failed": 0}
