"""Body composition: only the changed fields where the target merges, else each session's full writable state."""

from __future__ import annotations

from pathlib import Path

import pytest

from gr4vy_nb.api.probe import ProbeResult, save_probe, saved_probe
from gr4vy_nb.config import Settings
from gr4vy_nb.updates.bodies import CHANGED, FULL, UPDATE_ONLY_FIELDS, body_mode, full_body, rollback_body

SID = "9f8a1c2e-3b4d-4e5f-8a6b-7c8d9e0f1a2b"
CURRENT = {
    "type": "checkout-session", "id": SID, "expires_at": "2026-12-01T12:00:00.000+00:00",
    "cart_items": [{"name": "A", "quantity": 1, "unit_amount": 100, "x_new_item": 1, "sku": None}],
    "metadata": {"tag": "old"}, "buyer": {"display_name": "B"}, "airline": {"booking_code": "X"},
    "amount": 100, "currency": "USD", "payment_service_id": None, "payment_method": {"type": "card"},
    "x_new_top": {"a": 1},
}


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("GR4VY_NB_CONFIG_DIR", str(tmp_path / "config"))
    return Settings(base_url="http://127.0.0.1:8787", token="abc.def.ghi")


def _probe(settings: Settings, semantics: str) -> None:
    target = {"gr4vy_id": None, "environment": "sandbox", "merchant_account_id": "default",
              "base_url": settings.base_url, "target": settings.target}
    save_probe(ProbeResult(target=target, probed_at="2026-12-01T00:00:00Z", put_semantics=semantics), settings)


def test_full_body_carries_every_writable_field_and_unknown_ones_but_not_read_only():
    unknown: list[str] = []
    body = full_body(CURRENT, {"metadata": {"tag": "new"}, "buyer": None, "expires_in": 3600.0}, unknown)
    assert body == {"cart_items": [{"name": "A", "quantity": 1, "unit_amount": 100, "x_new_item": 1}],
                    "metadata": {"tag": "new"}, "buyer": None, "airline": {"booking_code": "X"}, "amount": 100,
                    "currency": "USD", "x_new_top": {"a": 1}, "expires_in": 3600.0}
    assert unknown == ["x_new_top"]
    assert body["cart_items"] is not CURRENT["cart_items"]  # a copy


def test_mode_not_probed_is_full_with_the_reason(settings):
    mode, why = body_mode(saved_probe(settings))
    assert mode == FULL and why.startswith("not probed: sending the full state of each session")


def test_mode_follows_the_probe_result_given(settings):
    """The probe result is an input: looked up once by the shell (saved_probe) and passed in."""
    _probe(settings, "merge")
    assert body_mode(saved_probe(settings))[0] == CHANGED
    assert body_mode(saved_probe(Settings(base_url="http://127.0.0.1:8788", token="abc.def.ghi")))[0] == FULL
    _probe(settings, "replace")
    mode, why = body_mode(saved_probe(settings))
    assert mode == FULL and "PUT replaces the session" in why


def test_update_only_fields_are_named():
    assert set(UPDATE_ONLY_FIELDS) == {"country", "is_subsequent_payment", "merchant_initiated", "payment_source",
                                       "intent"}


def test_rollback_body():
    restore = {"metadata": {"tag": "old"}}
    assert rollback_body(CURRENT, None, restore, 3600.0, CHANGED) == {**restore, "expires_in": 3600.0}
    full = rollback_body(CURRENT, None, restore, 3600.0, FULL)
    assert full["metadata"] == {"tag": "old"} and full["airline"] == {"booking_code": "X"}
    assert "payment_method" not in full and "id" not in full
