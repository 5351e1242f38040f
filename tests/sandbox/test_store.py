"""The sandbox's session store: expiry, merchant accounts, and atomic writes under concurrent clients.

Over real HTTP where the store's behaviour shows at the API, directly on a
:class:`~gr4vy_nb.sandbox.store.SessionStore` for its transactions.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from gr4vy_nb.sandbox import Sandbox
from gr4vy_nb.sandbox.store import SessionStore
from tests.sandbox.helpers import (
    FAR_FUTURE,
    Headers,
    assert_gr4vy_error,
    local,
    seeded_session,
    session_url,
    writes,
)

# ---------------------------------------------------------------------- expiry


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_expired_session_is_404_and_stays_unchanged(existing: dict[str, Any], sandbox_clean: Sandbox,
                                                    http: requests.Session, auth_headers: Headers,
                                                    method: str) -> None:
    sandbox_clean.expire(existing["id"])
    r = http.request(method, session_url(sandbox_clean, existing["id"]), json={"amount": 1}, headers=auth_headers(),
                     timeout=10)
    assert_gr4vy_error(r, 404)
    assert writes(sandbox_clean) == {}
    assert sandbox_clean.health()["sessions"] == sandbox_clean.health()["seed"]["loaded"]


# ---------------------------------------------------------------------- merchant accounts


def test_other_merchants_session_is_404(sandbox_clean: Sandbox, http: requests.Session,
                                        auth_headers: Headers) -> None:
    mine = seeded_session()
    sandbox_clean.seed([mine], merchant_account_id="merchant-a")
    ok = http.get(session_url(sandbox_clean, mine["id"]), headers=auth_headers(merchant="merchant-a"), timeout=10)
    assert ok.status_code == 200
    for headers in (auth_headers(merchant="merchant-b"), auth_headers()):  # absent header = "default"
        assert_gr4vy_error(http.get(session_url(sandbox_clean, mine["id"]), headers=headers, timeout=10), 404)
        assert_gr4vy_error(http.put(session_url(sandbox_clean, mine["id"]), json={"amount": 5}, headers=headers,
                                    timeout=10), 404)
        assert_gr4vy_error(http.delete(session_url(sandbox_clean, mine["id"]), headers=headers, timeout=10), 404)
    assert writes(sandbox_clean) == {}
    again = http.get(session_url(sandbox_clean, mine["id"]), headers=auth_headers(merchant="merchant-a"), timeout=10)
    assert again.json() == ok.json()


def test_created_session_belongs_to_its_merchant(sandbox_clean: Sandbox, http: requests.Session,
                                                 auth_headers: Headers) -> None:
    r = http.post(session_url(sandbox_clean), json={}, headers=auth_headers(merchant="m-1"), timeout=10)
    sid = r.json()["id"]
    assert http.get(session_url(sandbox_clean, sid), headers=auth_headers(merchant="m-1"),
                    timeout=10).status_code == 200
    assert_gr4vy_error(http.get(session_url(sandbox_clean, sid), headers=auth_headers(), timeout=10), 404)


def test_expire_one_merchant_only(sandbox_clean: Sandbox, http: requests.Session, auth_headers: Headers) -> None:
    s = seeded_session()
    sandbox_clean.seed([s], merchant_account_id="m-a")
    sandbox_clean.seed([s], merchant_account_id="m-b")
    sandbox_clean.expire(s["id"], merchant_account_id="m-a")
    assert http.get(session_url(sandbox_clean, s["id"]), headers=auth_headers(merchant="m-a"),
                    timeout=10).status_code == 404
    assert http.get(session_url(sandbox_clean, s["id"]), headers=auth_headers(merchant="m-b"),
                    timeout=10).status_code == 200


# ---------------------------------------------------------------------- concurrency


def test_sixteen_concurrent_clients_get_exact_write_counts(sandbox_clean: Sandbox, auth_headers: Headers) -> None:
    sessions = [seeded_session() for _ in range(8)]
    sandbox_clean.seed(sessions)
    workers, per_worker = 16, 12
    headers = auth_headers()
    failures: list[str] = []
    last_amount: dict[str, set[int]] = {s["id"]: set() for s in sessions}

    def work(n: int) -> None:
        with local() as http:
            for i in range(per_worker):
                s = sessions[(n + i) % len(sessions)]
                amount = n * 1000 + i
                r = http.put(session_url(sandbox_clean, s["id"]), json={"amount": amount, "metadata": {"w": str(n)}},
                             headers=headers, timeout=30)
                if r.status_code != 200 or r.json()["amount"] != amount:
                    failures.append(f"{r.status_code} {r.text[:100]}")
                last_amount[s["id"]].add(amount)
                g = http.get(session_url(sandbox_clean, s["id"]), headers=headers, timeout=30)
                if g.status_code != 200:
                    failures.append(f"GET {g.status_code}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures
    stats = sandbox_clean.stats()
    assert sum(stats["writes"].values()) == workers * per_worker
    for s in sessions:
        assert stats["writes"][s["id"]] == sum(1 for n in range(workers) for i in range(per_worker)
                                               if (n + i) % len(sessions) == sessions.index(s))
    assert stats["requests"] == {"PUT": {"200": workers * per_worker}, "GET": {"200": workers * per_worker}}
    with local() as http:
        for s in sessions:
            final = http.get(session_url(sandbox_clean, s["id"]), headers=headers, timeout=10).json()
            assert final["amount"] in last_amount[s["id"]]  # one of the writes, whole
            assert final["metadata"] == {"w": str(final["amount"] // 1000)}


# ---------------------------------------------------------------------- transactions

_LATER = 4102444799.0  # 2099-12-31T23:59:59Z


def _record(session_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": session_id, "expires_at": FAR_FUTURE, "expires_ts": _LATER, "amount": 1, **fields}


def test_a_seed_failing_part_way_is_rolled_back_whole(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.db")
    try:
        first, second = str(uuid.uuid4()), str(uuid.uuid4())
        with pytest.raises(sqlite3.IntegrityError):
            store.seed("m", [_record(first), _record(second, expires_at=None)])  # NOT NULL fails on the second
        assert store.count(0.0) == 0 and store.get("m", first, 0.0) is None
        # No transaction was left open: the store takes the next write.
        assert store.seed("m", [_record(first)]) == 1
        assert store.get("m", first, 0.0) is not None
    finally:
        store.close()


def test_update_of_an_unknown_or_expired_session_writes_nothing(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "s.db")
    try:
        sid = str(uuid.uuid4())
        assert store.update("m", sid, {"amount": 2}, _LATER, 0.0) is None
        store.seed("m", [_record(sid, currency="EUR")])
        assert store.update("other", sid, {"amount": 2}, _LATER, 0.0) is None
        assert store.update("m", sid, {"amount": 2}, _LATER, _LATER) is None  # not live at that instant
        kept = store.get("m", sid, 0.0)
        assert kept is not None and kept["doc"] == {"amount": 1, "currency": "EUR"}
        updated = store.update("m", sid, {"amount": 2, "currency": None, "country": "GB"}, _LATER, 0.0)
        assert updated is not None and updated["doc"] == {"amount": 2}  # null clears; update-only fields not kept
        again = store.get("m", sid, 0.0)
        assert again is not None and again["doc"] == {"amount": 2}
    finally:
        store.close()
