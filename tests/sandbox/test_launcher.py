"""Starting the sandbox and its handle: :func:`start_sandbox` in process mode, its lifetime, the admin helpers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from gr4vy_nb.sandbox import UNKNOWN_FIELD, Sandbox, start_sandbox
from tests.sandbox.helpers import (
    Headers,
    a_session,
    bearer,
    local,
    local_get,
    seed_file,
    seeded_session,
    session_url,
    signer_for,
)

# ---------------------------------------------------------------------- admin helpers


def test_seed_from_a_file_path(sandbox_clean: Sandbox, tmp_path: Any, http: requests.Session,
                               auth_headers: Headers) -> None:
    s = seeded_session()
    path = seed_file(tmp_path, s)
    assert sandbox_clean.seed(path) == [s["id"]]
    assert http.get(session_url(sandbox_clean, s["id"]), headers=auth_headers(), timeout=10).status_code == 200


# ---------------------------------------------------------------------- process mode


def test_process_mode_with_every_flag(tmp_path: Path) -> None:
    session = a_session()
    seed = seed_file(tmp_path, session)
    key_file = tmp_path / "key.pem"
    with start_sandbox(mode="process", seed=seed, private_key_file=key_file, db=tmp_path / "s.db", rate_limit=1000,
                       fail_rate=0.5, latency_ms=30, unknown_fields=True, random_seed=3, newer_api=True,
                       put_semantics="replace", expiry_reset=False) as sb:
        health = sb.health()
        assert health["pid"] != os.getpid()
        assert health["config"] == {"rate_limit": 1000.0, "fail_rate": 0.5, "latency_ms": 30.0,
                                    "unknown_fields": True, "random_seed": 3, "newer_api": True,
                                    "put_semantics": "replace", "expiry_reset": False}
        assert health["seed"]["loaded"] == 1
        headers = bearer(signer_for(sb))
        statuses = []
        with local() as http:
            started = time.monotonic()
            for _ in range(10):
                r = http.get(session_url(sb, session["id"]), headers=headers, timeout=10)
                statuses.append(r.status_code)
                assert UNKNOWN_FIELD in r.json()
            assert time.monotonic() - started >= 0.3  # 10 x 30 ms
        assert set(statuses) <= {200, 500, 502, 504} and 200 in statuses and len(set(statuses)) > 1
        assert sb.stats()["total_requests"] == 10
        log = sb.log_file
        assert log is not None
        output = log.read_text()
        assert sb.base_url in output and str(key_file) in output
        assert "PRIVATE KEY" not in output and key_file.read_text().splitlines()[1] not in output
    with pytest.raises(requests.ConnectionError):
        local_get(f"{sb.base_url}/_sandbox/health", timeout=2)


def test_process_sandbox_dies_with_the_process_that_started_it(tmp_path: Path) -> None:
    url_file = tmp_path / "url.txt"
    script = (
        "import sys, time\n"
        "from gr4vy_nb.sandbox import start_sandbox\n"
        "sb = start_sandbox(mode='process', seed=None)\n"
        f"open({str(url_file)!r}, 'w').write(sb.base_url)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not url_file.exists() and parent.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        base_url = url_file.read_text()
        assert local_get(f"{base_url}/_sandbox/health", timeout=10).status_code == 200
        parent.kill()  # kill -9: no chance to stop the sandbox
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                local_get(f"{base_url}/_sandbox/health", timeout=1)
            except requests.ConnectionError:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the orphaned sandbox kept running")
    finally:
        if parent.poll() is None:
            parent.kill()
        parent.wait(timeout=10)
        if parent.stderr is not None:
            parent.stderr.close()
