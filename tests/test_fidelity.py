"""Nothing the user did not type changes on the server, and nothing is dropped: checked end to end.

Each test seeds a sandbox, reads every session back over plain HTTP (not with the toolkit's
client), exports with the CLI, edits one cell of the exported files as a user would, applies
with the CLI, reads every session again and compares the two raw JSON documents: the one
value typed must have changed, ``expires_at`` may have moved (an update resets it), and every
other byte of every session must be as it was.

The sessions hold the fields the first version of the toolkit lost (``CartItem.description``,
``AirlinePassenger.title``, the overlay's ``CartItem.brand`` and ``subcategories``), and, on
a sandbox started with ``newer_api=True`` (a newer API version), fields no version of the
toolkit knows, at every depth.
"""

from __future__ import annotations

import copy
import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from gr4vy_nb import plan_updates
from gr4vy_nb.api.auth import READ_SCOPE, TokenSigner, load_private_key
from gr4vy_nb.cli import main
from gr4vy_nb.sandbox import Sandbox, start_sandbox
from tests.conftest import point_env_at

A = "11111111-1111-4111-8111-111111111111"
B = "22222222-2222-4222-8222-222222222222"
C = "33333333-3333-4333-8333-333333333333"
EXPIRES = "2099-01-01T00:00:00+00:00"

_ADDRESS = {"city": "London", "country": "GB", "postal_code": "SW1A 1AA", "line1": "1 Main St"}
_CONTACT = {"first_name": "Ada", "last_name": "Lovelace", "email_address": "ada@example.com",
            "phone_number": "+441234567890"}


def _session(sid: str) -> dict[str, Any]:
    """A session holding every part an update may replace, and the four fields the first version lost."""
    return {
        "id": sid, "type": "checkout-session", "expires_at": EXPIRES,
        "metadata": {"order": "o-1", "cohort": "a"},
        "cart_items": [
            {"name": "Camera", "quantity": 1, "unit_amount": 10000, "tax_amount": 2000, "sku": "000123",
             "description": "A camera, as ordered", "brand": "Acme", "categories": ["camera", "gear"],
             "subcategories": ["camera-premium"]},
            {"name": "Strap", "quantity": 2, "unit_amount": 500, "description": "A strap", "brand": "Globex"},
        ],
        "buyer": {
            "display_name": "Ada L", "external_identifier": "buyer-1",
            "billing_details": {**_CONTACT, "address": dict(_ADDRESS),
                                "tax_id": {"value": "12345678", "kind": "gb.vat"}},
            "shipping_details": {**_CONTACT, "address": dict(_ADDRESS)},
        },
        "airline": {
            "passenger_name_record": "ABC123", "booking_code": "ABC123",
            "legs": [{"departure_airport": "LHR", "arrival_airport": "JFK", "carrier_code": "BA",
                      "flight_number": "117", "departure_at": "2099-02-01T10:00:00+00:00"}],
            "passengers": [
                {"title": "Dr.", "first_name": "Ada", "last_name": "Lovelace", "passport_number": "X1234567"},
                {"title": "Mr.", "first_name": "Charles", "last_name": "Babbage"},
            ],
        },
    }


def _with_unknown_fields(session: dict[str, Any]) -> dict[str, Any]:
    """The session as a newer API might return it: a field no toolkit version knows at every depth."""
    s = copy.deepcopy(session)
    s["x_top"] = {"nested": [1, "two", None, {"deep": True}]}
    for i, item in enumerate(s["cart_items"]):
        item["x_item"] = f"item-{i}"
    s["buyer"]["x_buyer"] = 1
    for part in ("billing_details", "shipping_details"):
        s["buyer"][part]["x_contact"] = part
        s["buyer"][part]["address"]["x_address"] = [part]
    s["buyer"]["billing_details"]["tax_id"]["x_tax"] = "t"
    s["airline"]["x_airline"] = {"a": 1}
    s["airline"]["legs"][0]["x_leg"] = 3.5
    for i, pax in enumerate(s["airline"]["passengers"]):
        pax["x_passenger"] = {"n": i}
    return s


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    monkeypatch.chdir(tmp_path)
    yield lambda sandbox: point_env_at(monkeypatch, sandbox)


@pytest.fixture(scope="module")
def newer_sandbox() -> Iterator[Sandbox]:
    with start_sandbox(mode="thread", seed=None, newer_api=True) as running:
        yield running


def _raw(sandbox: Sandbox, http: requests.Session, ids: list[str]) -> dict[str, Any]:
    """The sessions as the server holds them: plain GETs, the JSON as it came."""
    key = load_private_key(sandbox.private_key_file.read_bytes(), source="sandbox")
    headers = {"Authorization": f"Bearer {TokenSigner(key).token([READ_SCOPE])}"}
    out = {}
    for sid in ids:
        answer = http.get(f"{sandbox.base_url}/checkout/sessions/{sid}", headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
        out[sid] = answer.json()
    return out


def _edit(path: Path, match: dict[str, str], column: str, value: str) -> None:
    """Change one cell of an exported CSV, keeping every other byte of it as written."""
    text = path.read_text(encoding="utf-8-sig")
    rows = list(csv.reader(text.splitlines()))
    header = rows[0]
    hits = [r for r in rows[1:] if all(r[header.index(k)] == v for k, v in match.items())]
    assert len(hits) == 1, (match, len(hits))
    hits[0][header.index(column)] = value
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        csv.writer(fh).writerows(rows)


def _export_edit_apply(tmp_path: Path, ids: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    assert main(["export", str(tmp_path / "ids.txt"), "--out", str(tmp_path / "edit")]) == 0
    _edit(tmp_path / "edit" / "cart_items.csv", {"checkout_session_id": A, "item_index": "0"}, "tax_amount", "2100")
    _edit(tmp_path / "edit" / "passengers.csv", {"checkout_session_id": B, "passenger_index": "1"}, "first_name",
          "Charlie")
    capsys.readouterr()
    code = main(["apply", str(tmp_path / "edit"), "--yes", "--journal", str(tmp_path / "run.sqlite")])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    assert "Traceback" not in out.out + out.err
    return out.out


def _expect(before: dict[str, Any]) -> dict[str, Any]:
    want = copy.deepcopy(before)
    want[A]["cart_items"][0]["tax_amount"] = 2100
    want[B]["airline"]["passengers"][1]["first_name"] = "Charlie"
    return want


def _without_expiry(sessions: dict[str, Any]) -> dict[str, Any]:
    return {sid: {k: v for k, v in s.items() if k != "expires_at"} for sid, s in sessions.items()}


def test_a_tax_fix_and_a_name_fix_keep_every_documented_field(sandbox_clean, cli_env, http, tmp_path, capsys):
    sandbox_clean.seed([_session(A), _session(B), _session(C)])
    cli_env(sandbox_clean)
    before = _raw(sandbox_clean, http, [A, B, C])
    assert before[A]["cart_items"][0]["brand"] == "Acme"  # the sandbox stores the four fields
    assert before[B]["airline"]["passengers"][0]["title"] == "Dr."
    _export_edit_apply(tmp_path, [A, B, C], capsys)
    after = _raw(sandbox_clean, http, [A, B, C])
    assert _without_expiry(after) == _without_expiry(_expect(before))
    assert after[C] == before[C]  # not sent at all: even its expiry is as it was


def test_fields_no_version_knows_survive_at_every_depth_on_a_newer_api(newer_sandbox, cli_env, http, tmp_path, capsys):
    newer_sandbox.reset()
    newer_sandbox.seed([_with_unknown_fields(_session(s)) for s in (A, B, C)])
    cli_env(newer_sandbox)
    before = _raw(newer_sandbox, http, [A, B, C])
    assert before[A]["buyer"]["billing_details"]["address"]["x_address"] == ["billing_details"]
    out = _export_edit_apply(tmp_path, [A, B, C], capsys)
    assert "this version does not know" in out
    after = _raw(newer_sandbox, http, [A, B, C])
    assert _without_expiry(after) == _without_expiry(_expect(before))


def test_the_plan_names_the_unknown_fields_it_carries(newer_sandbox, cli_env, tmp_path):
    newer_sandbox.reset()
    newer_sandbox.seed([_with_unknown_fields(_session(A))])
    cli_env(newer_sandbox)
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "passengers.csv").write_text(
        f"checkout_session_id,passenger_index,first_name\n{A},0,Augusta\n{A},1,\n")
    plan = plan_updates(tmp_path / "up")
    item = plan.item(A)
    assert plan.ok and plan.warnings.empty
    assert ("keeps 4 field(s) this version does not know, sent back unchanged: "
            "airline.legs[].x_leg, airline.passengers[].x_passenger, airline.x_airline") in (item.message or "")
    assert item.body["airline"]["x_airline"] == {"a": 1}
    assert [p["x_passenger"] for p in item.body["airline"]["passengers"]] == [{"n": 0}, {"n": 1}]


def test_a_server_that_refuses_a_carried_field_fails_that_session_with_its_message(
        sandbox_clean, cli_env, tmp_path, capsys):
    """Fields the server returned but will not take back are not dropped to make the write pass."""
    sandbox_clean.seed([_session(A)])
    sandbox_clean.configure(unknown_fields=True)  # responses carry a field the sandbox's requests refuse
    cli_env(sandbox_clean)
    (tmp_path / "up").mkdir()
    (tmp_path / "up" / "cart_items.csv").write_text(
        f"checkout_session_id,item_index,tax_amount\n{A},0,2100\n{A},1,\n")
    code = main(["apply", str(tmp_path / "up"), "--yes", "--journal", str(tmp_path / "run.sqlite")])
    out = capsys.readouterr()
    assert code == 1, out.out + out.err
    errors = list(csv.DictReader((tmp_path / "run" / "errors.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert errors and "sandbox_future_field" in json.dumps(errors)
    sandbox_clean.configure(unknown_fields=False)
