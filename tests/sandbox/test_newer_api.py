"""``--newer-api``: fields the document does not know are accepted, stored and returned at any depth;
without it they are refused (the document says ``additionalProperties: false``)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests

from gr4vy_nb.sandbox import Sandbox, start_sandbox
from gr4vy_nb.sandbox.server import main
from tests.sandbox.helpers import (
    FAR_FUTURE,
    PAYMENT_METHOD,
    Headers,
    assert_gr4vy_error,
    assert_session_shape,
    bearer,
    local,
    seed_file,
    session_url,
    signer_for,
    writes,
)
from tests.sandbox.test_app import AIRLINE_FULL, BUYER_FULL, CART_ITEM_FULL


def _with_unknowns() -> tuple[dict[str, Any], list[str]]:
    """An update body holding an unknown field at every depth, and the pointers of those fields."""
    buyer = json.loads(json.dumps(BUYER_FULL))  # not deepcopy: billing and shipping share one address dict
    buyer["loyalty_tier"] = "gold"
    buyer["billing_details"]["middle_name"] = "B"
    buyer["billing_details"]["address"]["door_code"] = "1234"
    buyer["billing_details"]["tax_id"]["issued_by"] = "HMRC"
    buyer["shipping_details"]["instructions"] = "back door"
    buyer["shipping_details"]["address"]["what3words"] = "a.b.c"
    airline = json.loads(json.dumps(AIRLINE_FULL))
    airline["co2_grams"] = 1200
    airline["legs"][0]["gate"] = {"terminal": "5", "gate": "A10"}
    airline["passengers"][0]["seat"] = "12A"
    body = {"cart_items": [{**CART_ITEM_FULL, "warranty_months": 24}], "buyer": buyer, "airline": airline,
            "amount": 1000, "future_top_level": {"nested": [1, 2]}}
    pointers = ["/cart_items/0/warranty_months", "/buyer/loyalty_tier", "/buyer/billing_details/middle_name",
                "/buyer/billing_details/address/door_code", "/buyer/billing_details/tax_id/issued_by",
                "/buyer/shipping_details/instructions", "/buyer/shipping_details/address/what3words",
                "/airline/co2_grams", "/airline/legs/0/gate", "/airline/passengers/0/seat", "/future_top_level"]
    return body, pointers


def _at(body: Any, pointer: str) -> Any:
    for part in pointer.split("/")[1:]:
        body = body[int(part)] if isinstance(body, list) else body[part]
    return body


@pytest.fixture
def newer(sandbox_clean: Sandbox) -> Sandbox:
    sandbox_clean.configure(newer_api=True)
    return sandbox_clean  # the reset of the next sandbox_clean restores the starting (strict) mode


def test_without_newer_api_unknown_fields_are_refused_at_every_depth(existing: dict[str, Any],
                                                                     sandbox_clean: Sandbox, http: requests.Session,
                                                                     auth_headers: Headers) -> None:
    body, pointers = _with_unknowns()
    r = http.put(session_url(sandbox_clean, existing["id"]), json=body, headers=auth_headers(), timeout=10)
    details = assert_gr4vy_error(r, 400)["details"]
    assert sorted(d["pointer"] for d in details) == sorted(pointers)
    assert {d["type"] for d in details} == {"extra_forbidden"}
    assert writes(sandbox_clean) == {}


def test_newer_api_accepts_stores_and_returns_unknown_fields_at_every_depth(existing: dict[str, Any], newer: Sandbox,
                                                                           http: requests.Session,
                                                                           auth_headers: Headers) -> None:
    body, pointers = _with_unknowns()
    r = http.put(session_url(newer, existing["id"]), json=body, headers=auth_headers(), timeout=10)
    assert r.status_code == 200, r.text
    answered = r.json()
    assert_session_shape(answered, relaxed=True)
    got = http.get(session_url(newer, existing["id"]), headers=auth_headers(), timeout=10).json()
    assert got == answered
    for pointer in pointers:
        assert _at(got, pointer) == _at(body, pointer), pointer
    assert list(got)[-1] == "future_top_level"  # after the documented fields
    created = http.post(session_url(newer), json=body, headers=auth_headers(), timeout=10)
    assert created.status_code == 201 and created.json()["future_top_level"] == {"nested": [1, 2]}
    assert writes(newer) == {existing["id"]: 1, created.json()["id"]: 1}


def test_newer_api_still_validates_known_fields(existing: dict[str, Any], newer: Sandbox, http: requests.Session,
                                                auth_headers: Headers) -> None:
    body, _ = _with_unknowns()
    body["amount"] = -1
    body["airline"]["passengers"][0]["first_name"] = ""
    r = http.put(session_url(newer, existing["id"]), json=body, headers=auth_headers(), timeout=10)
    details = assert_gr4vy_error(r, 400)["details"]
    assert [d["pointer"] for d in details] == ["/airline/passengers/0/first_name", "/amount"]
    for read_only in ({"id": str(uuid.uuid4())}, {"payment_method": PAYMENT_METHOD}, {"expires_at": FAR_FUTURE}):
        r = http.put(session_url(newer, existing["id"]), json=read_only, headers=auth_headers(), timeout=10)
        assert [d["pointer"] for d in assert_gr4vy_error(r, 400)["details"]] == ["/" + next(iter(read_only))]
    assert writes(newer) == {}


def test_newer_api_null_clears_an_unknown_field_and_update_only_fields_are_not_stored(
        existing: dict[str, Any], newer: Sandbox, http: requests.Session, auth_headers: Headers) -> None:
    url = session_url(newer, existing["id"])
    http.put(url, json={"future": 1, "country": "GB", "expires_in": 7200}, headers=auth_headers(), timeout=10)
    got = http.get(url, headers=auth_headers(), timeout=10).json()
    assert got["future"] == 1 and "country" not in got and "expires_in" not in got
    http.put(url, json={"future": None}, headers=auth_headers(), timeout=10)
    assert "future" not in http.get(url, headers=auth_headers(), timeout=10).json()


def test_newer_api_seeds_unknown_fields_at_every_depth(newer: Sandbox, http: requests.Session,
                                                      auth_headers: Headers) -> None:
    body, pointers = _with_unknowns()
    card = {**PAYMENT_METHOD, "wallet": "apple-pay", "details": {**PAYMENT_METHOD["details"], "network_token": True}}
    session = {"id": str(uuid.uuid4()), "expires_at": FAR_FUTURE, **body, "payment_method": card}
    assert newer.seed([session]) == [session["id"]]
    got = http.get(session_url(newer, session["id"]), headers=auth_headers(), timeout=10).json()
    assert_session_shape(got, relaxed=True)
    for pointer in [*pointers, "/payment_method/wallet", "/payment_method/details/network_token"]:
        assert _at(got, pointer) == _at(session, pointer), pointer
    # Known fields of a seed are still checked.
    with pytest.raises(ValueError, match="invalid"):
        newer.seed([{**session, "id": str(uuid.uuid4()), "amount": "lots"}])


def test_switching_newer_api_off_hides_the_unknown_fields(existing: dict[str, Any], newer: Sandbox,
                                                          http: requests.Session, auth_headers: Headers) -> None:
    body, _ = _with_unknowns()
    http.put(session_url(newer, existing["id"]), json=body, headers=auth_headers(), timeout=10)
    newer.configure(newer_api=False)
    got = http.get(session_url(newer, existing["id"]), headers=auth_headers(), timeout=10).json()
    assert_session_shape(got)  # strict: exactly the documented fields at every depth
    assert got["buyer"]["billing_details"]["address"]["city"] == BUYER_FULL["billing_details"]["address"]["city"]


def test_newer_api_flag_of_the_command_and_of_start_sandbox(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    shown = capsys.readouterr().out
    assert "--newer-api" in shown and "--real-lifetimes" in shown
    body, _ = _with_unknowns()
    session = {"id": str(uuid.uuid4()), "expires_at": FAR_FUTURE, **body}
    seed = seed_file(tmp_path, session)
    for mode in ("thread", "process"):
        with start_sandbox(newer_api=True, seed=seed, db=tmp_path / f"{mode}.db", mode=mode) as sb, local() as http:
            assert sb.health()["config"]["newer_api"] is True
            got = http.get(session_url(sb, session["id"]), headers=bearer(signer_for(sb)), timeout=10).json()
            assert json.dumps(_at(got, "/airline/legs/0/gate")) == json.dumps(body["airline"]["legs"][0]["gate"])
            assert got["future_top_level"] == {"nested": [1, 2]}
            assert got["expires_at"] == FAR_FUTURE  # an explicit seed keeps its expiry
