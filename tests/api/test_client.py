"""Gr4vyClient against the sandbox over real HTTP: endpoints, headers, bodies, bulk fetch, logs, secrets.

The fault matrix (every status, timeouts, resets, Retry-After) is in ``test_client_faults.py``;
the error boundary without a server in ``test_client_errors.py``.
"""

from __future__ import annotations

import http.server
import json
import logging
import threading
import time

import pytest
import requests

from gr4vy_nb import __version__
from gr4vy_nb.api.auth import READ_SCOPE, WRITE_SCOPE, generate_private_key_pem
from gr4vy_nb.api.client import USER_AGENT, CallInfo, Gr4vyClient
from gr4vy_nb.api.retry import RetryPolicy
from gr4vy_nb.config import Settings
from gr4vy_nb.errors import ApiError, ConfigError, NotFound, TransportError, ValidationFailed
from gr4vy_nb.sandbox import UNKNOWN_FIELD
from gr4vy_nb.schema import CheckoutSessionUpdate
from tests.paths import SAMPLE

FAST = RetryPolicy(max_attempts=3, backoff_base=0.001, backoff_cap=0.002)


@pytest.fixture(scope="module")
def sample_ids() -> list[str]:
    return [json.loads(line)["id"] for line in SAMPLE.read_text().splitlines() if line.strip()]


@pytest.fixture
def settings(sandbox_clean) -> Settings:
    return Settings.for_sandbox(sandbox_clean, timeouts=(2, 5), retry=FAST)


@pytest.fixture
def client(settings):
    with Gr4vyClient(settings, workers=8) as c:
        yield c


class RecordingServer:
    """A plain HTTP server on 127.0.0.1 that records each request and answers with a session.

    Used where the sandbox cannot help: to see the bytes on the wire, and to serve a response
    that breaks the schema (the sandbox never would).
    """

    def __init__(self, answer=None) -> None:
        self.seen: list[tuple[str, dict[str, str], bytes]] = []
        answer = answer or (lambda sid: {"type": "checkout-session", "id": sid,
                                         "expires_at": "2099-01-01T00:00:00+00:00"})
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.seen.append((f"{self.command} {self.path}", dict(self.headers), body))
                data = json.dumps(answer(self.path.rsplit("/", 1)[-1])).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = _answer

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> RecordingServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------- endpoints


def test_create_get_update_delete(client, sandbox_clean):
    created = client.create_checkout_session({"metadata": {"run": "t1"}, "amount": 1200, "currency": "EUR"})
    sid = created["id"]
    assert created["type"] == "checkout-session" and created["metadata"] == {"run": "t1"}
    assert client.last_call == CallInfo("POST", sid, 1, client.last_call.elapsed, 201,
                                        client.last_call.request_id, 0, False, True, client.last_call.headers)
    assert client.last_call.headers["content-type"].startswith("application/json")  # lower-case names
    assert client.get_checkout_session(sid)["amount"] == 1200
    updated = client.update_checkout_session(sid, {"metadata": {"run": "t2"}})
    assert updated["metadata"] == {"run": "t2"} and updated["amount"] == 1200  # absent fields kept
    assert client.delete_checkout_session(sid) is None
    assert client.last_call.status == 204
    with pytest.raises(NotFound) as info:
        client.get_checkout_session(sid)
    assert info.value.session_id == sid and "not found or expired" in str(info.value)
    stats = sandbox_clean.stats()
    assert stats["writes"][sid] == 3  # create, update, delete
    assert stats["requests"]["GET"] == {"200": 1, "404": 1}


def test_bodies_as_models_send_only_what_was_set(client, sample_ids):
    sid = sample_ids[0]
    before = client.get_checkout_session(sid)
    after = client.update_checkout_session(sid, CheckoutSessionUpdate(metadata={"model": "yes"}))
    assert after["metadata"] == {"model": "yes"}
    assert after["cart_items"] == before["cart_items"]
    assert after["buyer"] == before["buyer"]
    # The create body may be a model too.
    assert client.create_checkout_session(CheckoutSessionUpdate(amount=5, currency="GBP"))["amount"] == 5


def test_server_validation_error_carries_pointers(client, sample_ids):
    bad = {"cart_items": [{"name": "x", "quantity": 0, "unit_amount": 1}], "currency": "euro"}
    with pytest.raises(ValidationFailed) as info:
        client.update_checkout_session(sample_ids[1], bad)
    error = info.value
    assert error.status == 400 and error.attempts == 1
    pointers = {d["pointer"] for d in error.details}
    assert "/cart_items/0/quantity" in pointers and "/currency" in pointers
    assert all(d["location"] == "body" for d in error.details)


def test_ids_are_checked_before_anything_is_sent(client, sandbox_clean):
    for bad in ["../../_sandbox/reset", "", "not-a-uuid", "4d645fa6-d13c-413a-82f8-eda197b1165f/x", None, 42]:
        with pytest.raises(ValidationFailed) as info:
            client.get_checkout_session(bad)  # type: ignore[arg-type]
        assert info.value.attempts == 0
        assert client.last_call.attempts == 0 and not client.last_call.ok
    with pytest.raises(ValidationFailed, match="JSON"):
        client.update_checkout_session("4d645fa6-d13c-413a-82f8-eda197b1165f", {"when": {1, 2}})
    assert sandbox_clean.stats()["total_requests"] == 0


def test_headers_on_the_wire(tmp_path):
    """What actually goes over the socket, seen by a plain HTTP server that records it."""
    key = tmp_path / "k.pem"
    key.write_bytes(generate_private_key_pem())
    sid = "00000000-0000-4000-8000-000000000001"
    with RecordingServer() as server:
        settings = Settings.for_sandbox(server.url, key, merchant_account_id="eu-store", retry=FAST)
        with Gr4vyClient(settings) as client:
            client.get_checkout_session(sid)
            client.update_checkout_session(sid, {"metadata": {"h": "1"}})
    (get_line, get_headers, _), (put_line, put_headers, put_body) = server.seen
    assert get_line == f"GET /checkout/sessions/{sid}" and put_line == f"PUT /checkout/sessions/{sid}"
    for headers in (get_headers, put_headers):
        assert headers["User-Agent"] == USER_AGENT
        assert headers["User-Agent"].startswith(f"gr4vy-nb/{__version__} ")
        assert headers["x-gr4vy-merchant-account-id"] == "eu-store"
        assert headers["Authorization"].startswith("Bearer ")
    token_scopes = [
        json.loads(_b64json(h["Authorization"].split()[1].split(".")[1]))["scopes"] for h in (get_headers, put_headers)
    ]
    assert token_scopes == [[READ_SCOPE], [WRITE_SCOPE]]  # least scope per call
    assert put_headers["Content-Type"] == "application/json"
    assert "Content-Type" not in get_headers
    assert json.loads(put_body) == {"metadata": {"h": "1"}}  # the dict, serialised once, as given


def test_a_session_passed_in_is_used_and_left_open(sandbox_clean, sample_ids):
    with requests.Session() as http:
        http.trust_env = False
        settings = Settings.for_sandbox(sandbox_clean, retry=FAST)
        with Gr4vyClient(settings, session=http) as client:
            assert client.get_checkout_session(sample_ids[0])["id"] == sample_ids[0]
        # Still usable: the client did not close what it did not create.
        assert http.get(f"{sandbox_clean.base_url}/_sandbox/health", timeout=5).status_code == 200


def _b64json(part: str) -> str:
    import base64

    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()


def test_merchant_accounts_are_separate(sandbox_clean, sample_ids):
    other = Settings.for_sandbox(sandbox_clean, merchant_account_id="eu-store", retry=FAST)
    with Gr4vyClient(other) as client:
        created = client.create_checkout_session({"metadata": {"m": "eu"}})
        assert client.get_checkout_session(created["id"])["metadata"] == {"m": "eu"}
        with pytest.raises(NotFound):
            client.get_checkout_session(sample_ids[0])  # belongs to "default"
    with Gr4vyClient(Settings.for_sandbox(sandbox_clean, retry=FAST)) as client, pytest.raises(NotFound):
        client.get_checkout_session(created["id"])


def test_unknown_fields_are_kept_and_not_warned_about(client, sandbox_clean, sample_ids, caplog):
    sandbox_clean.configure(unknown_fields=True)
    with caplog.at_level(logging.WARNING, logger="gr4vy_nb.api.client"):
        session = client.get_checkout_session(sample_ids[0])
        updated = client.update_checkout_session(sample_ids[0], {"metadata": {"u": "1"}})
    assert UNKNOWN_FIELD in session and UNKNOWN_FIELD in updated
    if session.get("cart_items"):
        assert UNKNOWN_FIELD in session["cart_items"][0]
    assert not caplog.records


def test_responses_breaking_the_schema_are_kept_and_warned_once_per_path(tmp_path, caplog):
    key = tmp_path / "k.pem"
    key.write_bytes(generate_private_key_pem())
    ids = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(3)]

    def off_schema(sid: str) -> dict:
        return {
            "type": "checkout-session", "id": sid, "expires_at": "2099-01-01T00:00:00+00:00",
            "currency": "eu" + sid[-1], "amount": -5, "brand_new_field": {"x": 1},
            "cart_items": [{"name": "a", "quantity": 1, "unit_amount": 1},
                           {"name": "b", "quantity": -2, "unit_amount": 1}],
        }

    with RecordingServer(off_schema) as server:
        settings = Settings.for_sandbox(server.url, key, retry=FAST)
        with caplog.at_level(logging.WARNING, logger="gr4vy_nb.api.client"), Gr4vyClient(settings) as client:
            got = [client.get_checkout_session(sid) for sid in ids]
    assert [g["currency"] for g in got] == ["eu0", "eu1", "eu2"]  # returned exactly as received
    assert all(g["brand_new_field"] == {"x": 1} and g["amount"] == -5 for g in got)
    warned = sorted(r.getMessage().split()[2] for r in caplog.records)
    assert warned == ["amount", "cart_items[].quantity", "currency"]
    assert all(r.levelno == logging.WARNING for r in caplog.records)
    assert all("eu0" not in r.getMessage() and "-5" not in r.getMessage() for r in caplog.records)


# --------------------------------------------------------------------------- bulk fetch


def test_get_checkout_sessions_keeps_order_and_isolates_failures(client, sandbox_clean, sample_ids):
    expired = sample_ids[5]
    sandbox_clean.expire(expired)
    missing = "00000000-0000-4000-8000-000000000000"
    wanted = [*sample_ids[:40], missing, "garbage", expired, sample_ids[0]]  # a duplicate too
    seen: list[tuple[int, int]] = []
    infos: dict[str, CallInfo] = {}
    results = client.get_checkout_sessions(wanted, workers=6, progress=lambda d, t: seen.append((d, t)), infos=infos)
    assert list(results) == list(dict.fromkeys(wanted))
    assert isinstance(results[missing], NotFound) and isinstance(results[expired], NotFound)
    assert isinstance(results["garbage"], ValidationFailed)
    ok = [sid for sid, r in results.items() if isinstance(r, dict)]
    assert ok == [s for s in sample_ids[:40] if s != expired]
    assert all(results[sid]["id"] == sid for sid in ok)
    total = len(results)
    assert seen[0] == (0, total) and seen[-1] == (total, total)
    assert [d for d, _ in seen] == list(range(total + 1))
    assert set(infos) == set(results) and infos[ok[0]].ok and not infos[missing].ok
    assert sandbox_clean.stats()["requests"]["GET"] == {"200": len(ok), "404": 2}


def test_get_checkout_sessions_empty_and_sequential(client, sample_ids):
    assert client.get_checkout_sessions([]) == {}
    results = client.get_checkout_sessions(sample_ids[:3], workers=1)
    assert [r["id"] for r in results.values()] == sample_ids[:3]


def test_concurrent_callers_share_one_pool_and_one_token(settings, sample_ids, sandbox_clean):
    with Gr4vyClient(settings, workers=8) as client:
        errors: list[BaseException] = []
        infos: list[CallInfo] = []

        def work(chunk: list[str]) -> None:
            try:
                for sid in chunk:
                    client.update_checkout_session(sid, {"metadata": {"w": sid[:8]}})
                    infos.append(client.last_call)  # per thread: always this thread's call
                    assert client.last_call.session_id == sid
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(sample_ids[i::8][:10],)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors
        assert len(infos) == 80 and all(i.ok and i.attempts == 1 for i in infos)
        assert settings.signer().signed_count == 1  # one write token, cached for everyone
        pool = client._session.get_adapter(settings.base_url).poolmanager
        assert pool.connection_pool_kw["maxsize"] == 8
    assert sum(sandbox_clean.stats()["writes"].values()) == 80


# --------------------------------------------------------------------------- configuration


def test_client_needs_configured_settings():
    with pytest.raises(ConfigError, match="gr4vy-nb sandbox"):
        Gr4vyClient(Settings())
    with pytest.raises(ConfigError):
        Gr4vyClient("http://127.0.0.1:1")  # type: ignore[arg-type]


def test_connection_refused_is_a_transport_error(tmp_path):
    key = tmp_path / "k.pem"
    key.write_bytes(generate_private_key_pem())
    settings = Settings.for_sandbox("http://127.0.0.1:9", key, retry=FAST, timeouts=(1, 1))
    delays: list[float] = []
    with Gr4vyClient(settings, sleep=delays.append) as client, pytest.raises(TransportError) as info:
        client.create_checkout_session({})
    # Never sent, so even a create is retried; the budget is spent.
    assert type(info.value) is TransportError and info.value.code == "connect"
    assert info.value.attempts == 3 and len(delays) == 2
    assert "not sent" in str(info.value)


# --------------------------------------------------------------------------- logs and secrets


def test_one_info_line_per_request_and_no_secrets_anywhere(sandbox_clean, sample_ids, caplog):
    """A canary key, its token and personal data are planted; none shows up in logs, reprs or errors."""
    pem = sandbox_clean.private_key_file.read_text()
    settings = Settings.for_sandbox(sandbox_clean.base_url, private_key=pem, retry=FAST, timeouts=(2, 0.3))
    canary_pii = "CANARY-PASSPORT-93812"
    texts: list[str] = [repr(settings), str(settings)]
    with caplog.at_level(logging.DEBUG), Gr4vyClient(settings) as client:
        texts.append(repr(client))
        client.get_checkout_session(sample_ids[0])
        client.update_checkout_session(sample_ids[0], {"metadata": {"passport": canary_pii}})
        sandbox_clean.set_faults([
            {"method": "PUT", "times": 1, "action": "status", "status": 422, "body": "fastapi"},
            {"method": "PUT", "times": 1, "action": "status", "status": 403},
            {"method": "PUT", "times": 3, "action": "status", "status": 500, "body": "html"},
            {"method": "PUT", "times": 3, "action": "reset"},
            {"method": "PUT", "times": 3, "action": "stall", "seconds": 0.5},
        ])
        for _ in range(5):
            with pytest.raises(ApiError) as info:
                client.update_checkout_session(sample_ids[0], {"metadata": {"passport": canary_pii}})
            err = info.value
            texts += [str(err), repr(err), repr(err.details), repr(err.args), repr(vars(err))]
        with pytest.raises(ValidationFailed) as info:
            client.update_checkout_session(sample_ids[0], {"buyer": {"billing_details": {"email_address": canary_pii,
                                                                                         "phone_number": "x"}}})
        texts += [str(info.value), repr(vars(info.value))]
        token = settings.signer().token([WRITE_SCOPE])
        read_token = settings.signer().token([READ_SCOPE])
    texts += [r.getMessage() for r in caplog.records] + [caplog.text]
    blob = "\n".join(texts)
    for secret in (token, read_token, token.split(".")[2]):
        assert secret not in blob
    for line in pem.splitlines():
        if line and not line.startswith("-----"):
            assert line not in blob
    assert "Bearer" not in blob and "Authorization" not in blob
    assert canary_pii not in blob
    ours = [r for r in caplog.records if r.name == "gr4vy_nb.api.client"]
    # GET, PUT, 422, 403, 3 x 500, 3 x reset, 3 x stall, 400: one INFO line per attempt.
    assert len(ours) == 14
    deadline = time.monotonic() + 5  # the stalled requests are counted when the sandbox answers them
    while sandbox_clean.stats()["total_requests"] < 14 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sandbox_clean.stats()["total_requests"] == 14
    assert all(r.levelno == logging.INFO for r in ours)
    assert any("retry in" in r.getMessage() for r in ours)


def test_on_attempt_reports_every_attempt(sandbox_clean, sample_ids):
    calls: list[tuple] = []
    settings = Settings.for_sandbox(sandbox_clean, retry=FAST)
    sandbox_clean.set_faults([{"method": "PUT", "times": 2, "action": "status", "status": 503}])
    with Gr4vyClient(settings, on_attempt=lambda *a: calls.append(a), sleep=lambda s: None) as client:
        client.update_checkout_session(sample_ids[0], {"metadata": {"a": "1"}})
    assert [(m, s, n, st) for m, s, n, st, _ in calls] == [
        ("PUT", sample_ids[0], 1, 503), ("PUT", sample_ids[0], 2, 503), ("PUT", sample_ids[0], 3, 200)
    ]
    assert calls[0][4] is not None and calls[1][4] is not None and calls[2][4] is None


def test_rate_pacing_avoids_429(sandbox_clean, sample_ids):
    sandbox_clean.configure(rate_limit=40)
    settings = Settings.for_sandbox(sandbox_clean, retry=FAST)
    # Start after the server's bucket has refilled, then send 30 requests from 4 threads at 40/s.
    with Gr4vyClient(settings, workers=4, rate=40) as client:
        results = client.get_checkout_sessions(sample_ids[:30], workers=4)
    assert all(isinstance(r, dict) for r in results.values())
    assert sandbox_clean.stats()["requests"]["GET"] == {"200": 30}
