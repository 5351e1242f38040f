"""Seeding the sandbox: JSONL or JSON lists, validated with pointers, ids and expiry kept as given; the default seed."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from gr4vy_nb.sandbox import DEFAULT_SEED, Sandbox, start_sandbox
from gr4vy_nb.sandbox.seeding import default_seed_path, resolve_seed, with_real_lifetimes
from tests.sandbox.helpers import (
    FAR_FUTURE,
    PAYMENT_METHOD,
    Headers,
    assert_gr4vy_error,
    assert_session_shape,
    bearer,
    local,
    parse_time,
    seed_file,
    seeded_session,
    session_url,
    signer_for,
    writes,
)

# ---------------------------------------------------------------------- the seed endpoint


def test_seed_accepts_jsonl_and_json_lists_and_keeps_ids_and_expiry(sandbox_clean: Sandbox, http: requests.Session,
                                                                    auth_headers: Headers) -> None:
    a = seeded_session(expires_at="2999-01-01T00:00:00.000+00:00")
    b = seeded_session(expires_at="2099-06-01T12:00:00Z")
    jsonl = "\n".join(json.dumps(s) for s in (a, b)) + "\n\n"
    r = http.post(f"{sandbox_clean.base_url}/_sandbox/seed", data=jsonl.encode(), timeout=10)
    assert r.status_code == 200 and r.json()["seeded"] == 2
    for s in (a, b):
        got = http.get(session_url(sandbox_clean, s["id"]), headers=auth_headers(), timeout=10).json()
        assert got["id"] == s["id"] and got["expires_at"] == s["expires_at"]
    c = seeded_session()
    assert sandbox_clean.seed([c]) == [c["id"]]
    assert http.get(session_url(sandbox_clean, c["id"]), headers=auth_headers(), timeout=10).status_code == 200
    assert writes(sandbox_clean) == {}  # seeding is not an API write


def test_seed_drops_unknown_top_level_keys(sandbox_clean: Sandbox, http: requests.Session,
                                           auth_headers: Headers) -> None:
    s = seeded_session()
    sandbox_clean.seed([{**s, "merchant_note": "ignored"}])
    body = http.get(session_url(sandbox_clean, s["id"]), headers=auth_headers(), timeout=10).json()
    assert "merchant_note" not in body
    assert_session_shape(body)


def test_seeded_session_already_expired_is_404(sandbox_clean: Sandbox, http: requests.Session,
                                                auth_headers: Headers) -> None:
    old = seeded_session(expires_at="2001-01-01T00:00:00+00:00")
    sandbox_clean.seed([old])
    assert_gr4vy_error(http.get(session_url(sandbox_clean, old["id"]), headers=auth_headers(), timeout=10), 404)


@pytest.mark.parametrize(("bad", "pointer"), [
    ({"expires_at": FAR_FUTURE}, "/1/id"),
    ({"id": "nope", "expires_at": FAR_FUTURE}, "/1/id"),
    ({"id": str(uuid.uuid4())}, "/1/expires_at"),
    ({"id": str(uuid.uuid4()), "expires_at": FAR_FUTURE, "amount": -5}, "/1/amount"),
    ({"id": str(uuid.uuid4()), "expires_at": FAR_FUTURE, "buyer": {"x": 1}}, "/1/buyer/x"),
])
def test_invalid_seed_is_400_and_seeds_nothing(sandbox_clean: Sandbox, http: requests.Session, bad: dict[str, Any],
                                               pointer: str) -> None:
    good = seeded_session()
    before = sandbox_clean.health()["sessions"]
    r = http.post(f"{sandbox_clean.base_url}/_sandbox/seed", data=json.dumps([good, bad]), timeout=10)
    body = assert_gr4vy_error(r, 400)
    assert [d["pointer"] for d in body["details"]] == [pointer]
    assert sandbox_clean.health()["sessions"] == before  # all or nothing
    with pytest.raises(ValueError, match="invalid"):
        sandbox_clean.seed([good, bad])


def test_seed_with_malformed_jsonl_names_the_line(sandbox_clean: Sandbox, http: requests.Session) -> None:
    text = json.dumps(seeded_session()) + "\n{broken\n"
    body = assert_gr4vy_error(http.post(f"{sandbox_clean.base_url}/_sandbox/seed", data=text, timeout=10), 400)
    assert "line 2" in body["message"]


# ---------------------------------------------------------------------- the default seed and seed files


def test_default_seed_is_the_sample_file(sandbox: Sandbox) -> None:
    seed = sandbox.health()["seed"]
    path = default_seed_path()
    assert seed["source"] == str(path)
    if path.is_file():
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        assert seed["loaded"] == len(lines) > 0
    else:  # an installed package: nothing seeded, and the health says why
        assert seed["loaded"] == 0 and "does not exist" in seed["note"]


def test_sample_sessions_come_back_verbatim_with_real_lifetimes(sandbox_clean: Sandbox, http: requests.Session,
                                                                auth_headers: Headers) -> None:
    # Everything as in the file but expires_at: the default seed gets real lifetimes (2099 in the file).
    path = default_seed_path()
    if not path.is_file():
        pytest.skip("no data/sample_sessions.jsonl in this tree")
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    now = time.time()
    for session in lines[:: max(1, len(lines) // 20)]:
        got = http.get(session_url(sandbox_clean, session["id"]), headers=auth_headers(), timeout=10)
        assert got.status_code == 200
        body = got.json()
        assert_session_shape(body)
        expected = {k: v for k, v in session.items() if v is not None and k != "expires_at"}
        assert {k: v for k, v in body.items() if v is not None and k != "expires_at"} == expected
        left = parse_time(body["expires_at"]) - now
        assert 14 * 60 <= left <= (3600 if session.get("payment_method") else 86400) + 1


def test_resolve_seed_variants(tmp_path: Any) -> None:
    records, info = resolve_seed(None)
    assert records == [] and info["note"] == "seeding disabled"
    records, info = resolve_seed(DEFAULT_SEED)
    assert info["source"] == str(default_seed_path())
    assert info["loaded"] == len(records)
    from gr4vy_nb.errors import ConfigError

    with pytest.raises(ConfigError, match="does not exist"):
        resolve_seed(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid"):
        resolve_seed(bad)


# ---------------------------------------------------------------------- real lifetimes


def test_real_lifetimes_are_fixed_by_id_and_in_range() -> None:
    records, _ = resolve_seed(DEFAULT_SEED)
    if not records:
        pytest.skip("no sample sessions in this install")
    first = with_real_lifetimes(records, 1_000_000.0)
    second = with_real_lifetimes(records, 2_000_000.0)
    left = [r["expires_ts"] - 1_000_000.0 for r in first]
    assert left == [r["expires_ts"] - 2_000_000.0 for r in second]  # the same spread whenever seeded
    for record, seconds in zip(records, left, strict=True):
        assert 15 * 60 <= seconds <= (3600 if record.get("payment_method") else 86400)
        assert parse_time(first[records.index(record)]["expires_at"]) == pytest.approx(1_000_000.0 + seconds)
    assert max(left) > 3600 and len(set(left)) > len(left) * 0.9  # spread over the day, not one instant
    assert records[0]["expires_at"].startswith("2099")  # the parsed records themselves are untouched


def test_explicit_seeds_opt_in_to_real_lifetimes(sandbox_clean: Sandbox, http: requests.Session,
                                                 auth_headers: Headers) -> None:
    kept, rebased = seeded_session(), seeded_session(payment_method=PAYMENT_METHOD)
    sandbox_clean.seed([kept])
    sandbox_clean.seed([rebased], real_lifetimes=True)
    now = time.time()
    assert http.get(session_url(sandbox_clean, kept["id"]), headers=auth_headers(), timeout=10).json()[
        "expires_at"] == FAR_FUTURE
    got = http.get(session_url(sandbox_clean, rebased["id"]), headers=auth_headers(), timeout=10).json()
    assert 14 * 60 <= parse_time(got["expires_at"]) - now <= 3600
    assert sandbox_clean.health()["seed"]["real_lifetimes"] is True  # the default seed of the shared sandbox


def test_start_sandbox_real_lifetimes_switch(tmp_path: Path) -> None:
    session = seeded_session()
    with start_sandbox(seed=seed_file(tmp_path, session), real_lifetimes=True, db=tmp_path / "a.db") as sb, \
            local() as http:
        got = http.get(session_url(sb, session["id"]), headers=bearer(signer_for(sb)), timeout=10).json()
        assert parse_time(got["expires_at"]) - time.time() <= 86400
    with start_sandbox(real_lifetimes=False, db=tmp_path / "b.db") as sb, local() as http:
        first = json.loads(default_seed_path().read_text(encoding="utf-8").splitlines()[0])
        got = http.get(session_url(sb, first["id"]), headers=bearer(signer_for(sb)), timeout=10).json()
        assert got["expires_at"] == first["expires_at"]
        assert sb.health()["seed"]["real_lifetimes"] is False
