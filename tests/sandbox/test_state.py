"""The sandbox's state: a reset (store, counters, rules, knobs, seed) and the key file it loads or creates."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
import requests

from gr4vy_nb.api.auth import load_private_key, thumbprint
from gr4vy_nb.sandbox import Sandbox, start_sandbox
from tests.sandbox.helpers import Headers, assert_gr4vy_error, session_url

# ---------------------------------------------------------------------- reset


def test_reset_empties_the_store_and_zeroes_counters(existing: dict[str, Any], sandbox_clean: Sandbox,
                                                     http: requests.Session, auth_headers: Headers) -> None:
    http.put(session_url(sandbox_clean, existing["id"]), json={"amount": 1}, headers=auth_headers(), timeout=10)
    sandbox_clean.set_faults([{"action": "status", "status": 500, "times": 5}])
    sandbox_clean.reset(reseed=False)
    assert sandbox_clean.health()["sessions"] == 0
    assert sandbox_clean.stats()["total_requests"] == 0 and sandbox_clean.stats()["writes"] == {}
    assert sandbox_clean.faults() == []
    assert_gr4vy_error(http.get(session_url(sandbox_clean, existing["id"]), headers=auth_headers(), timeout=10), 404)
    sandbox_clean.reset(reseed=True)
    assert sandbox_clean.health()["sessions"] == sandbox_clean.health()["seed"]["loaded"]


def test_reset_over_http_without_reseed_by_default(sandbox_clean: Sandbox, http: requests.Session) -> None:
    r = http.post(f"{sandbox_clean.base_url}/_sandbox/reset", timeout=10)
    assert r.status_code == 200 and r.json()["sessions"] == 0
    r = http.post(f"{sandbox_clean.base_url}/_sandbox/reset?reseed=true", timeout=10)
    assert r.json()["sessions"] == sandbox_clean.health()["seed"]["loaded"]


# ---------------------------------------------------------------------- the key file


def test_key_file_is_created_with_mode_0600_and_reused(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "sandbox.pem"
    with start_sandbox(private_key_file=key_file, db=tmp_path / "s.db", seed=None) as first:
        assert first.private_key_file == key_file
        assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
        kid = first.health()["kid"]
    content = key_file.read_bytes()
    with start_sandbox(private_key_file=key_file, db=tmp_path / "s.db", seed=None) as second:
        assert second.health()["kid"] == kid == thumbprint(load_private_key(content))
    assert key_file.read_bytes() == content


def test_unusable_key_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    from gr4vy_nb.errors import ConfigError

    key_file = tmp_path / "bad.pem"
    label = "PRIVATE KEY"  # armour built at run time: no key-like text is committed
    key_file.write_text(f"-----BEGIN {label}-----\nTOPSECRETMATERIAL\n-----END {label}-----\n")
    with pytest.raises(ConfigError) as info:
        start_sandbox(private_key_file=key_file, db=tmp_path / "s.db", seed=None)
    assert "TOPSECRETMATERIAL" not in str(info.value)
