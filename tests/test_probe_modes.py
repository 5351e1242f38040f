"""Bulk runs against each plausible PUT behaviour, probed and not: a metadata tag loses nothing, anywhere.

The sandbox runs with ``put_semantics`` merge or replace (and expiry reset on or off); each test
uses a private config folder, so "not probed" really is not probed. A run (``gr4vy-nb apply``,
a canary plus ``resume``, a ``rollback``) must leave cart items, airline addendum and buyer of
every session exactly as they were.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.api.probe import probe_target, saved_probe
from gr4vy_nb.cli import main
from gr4vy_nb.config import Settings
from gr4vy_nb.sandbox import Sandbox, start_sandbox
from gr4vy_nb.sandbox.seeding import default_seed_path
from gr4vy_nb.tables.frames import flatten_sessions
from gr4vy_nb.updates.plan import plan_updates
from gr4vy_nb.updates.runs import apply_plan, resume_run, rollback_run

SEED = [json.loads(line) for line in Path(default_seed_path()).read_text().splitlines() if line.strip()]
FULL = [s["id"] for s in SEED if s.get("cart_items") and s.get("airline") and s.get("buyer")
        and not s.get("payment_method")][:6]
KEPT = ("cart_items", "airline", "buyer", "amount", "currency", "payment_service_id")
ENV_VARS = ("GR4VY_ID", "GR4VY_ENVIRONMENT", "GR4VY_PRIVATE_KEY_FILE", "GR4VY_PRIVATE_KEY",
            "GR4VY_MERCHANT_ACCOUNT_ID", "GR4VY_BASE_URL")


@pytest.fixture(scope="module", params=["merge", "replace"])
def moded(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    with start_sandbox(put_semantics=request.param) as running:
        running.semantics = request.param  # type: ignore[attr-defined]
        yield running


@pytest.fixture(params=[False, True], ids=["not-probed", "probed"])
def target(request: pytest.FixtureRequest, moded: Sandbox, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Sandbox, Settings, bool]]:
    monkeypatch.setenv("GR4VY_NB_CONFIG_DIR", str(tmp_path / "config"))
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GR4VY_BASE_URL", moded.base_url)
    monkeypatch.setenv("GR4VY_PRIVATE_KEY_FILE", str(moded.private_key_file))
    monkeypatch.chdir(tmp_path)
    moded.reset(reseed=True)
    settings = Settings.for_sandbox(moded)
    if request.param:
        with Gr4vyClient(settings) as client:
            assert probe_target(client).merges == (moded.semantics == "merge")  # type: ignore[attr-defined]
    else:
        assert saved_probe(settings) is None
    yield moded, settings, request.param


def _state(settings: Settings) -> dict[str, dict[str, Any]]:
    with Gr4vyClient(settings) as client:
        got = client.get_checkout_sessions(FULL)
    return {sid: {k: s.get(k) for k in (*KEPT, "metadata")} for sid, s in got.items()}


def _kept(state: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {sid: {k: v for k, v in s.items() if k != "metadata"} for sid, s in state.items()}


def _tag(folder: Path, tag: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sessions.csv").write_text("checkout_session_id,metadata.tag\n" + "".join(f"{i},{tag}\n" for i in FULL))
    return folder


def test_the_sample_has_sessions_holding_everything():
    assert len(FULL) >= 3


def test_cli_apply_of_a_metadata_tag_loses_nothing_then_rollback_restores(target, tmp_path, capsys):
    sandbox, settings, probed = target
    before = _state(settings)
    code = main(["apply", str(_tag(tmp_path / "up", "probe-mode")), "--journal", str(tmp_path / "run.sqlite")])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    assert "Traceback" not in out.out + out.err
    full = not (probed and sandbox.semantics == "merge")  # type: ignore[attr-defined]
    assert ("sending the full state" in out.out) == full
    after = _state(settings)
    assert _kept(after) == _kept(before)
    assert all(s["metadata"]["tag"] == "probe-mode" for s in after.values())
    code = main(["rollback", str(tmp_path / "run.sqlite")])
    out = capsys.readouterr()
    assert code == 0, out.out + out.err
    assert _state(settings) == before


def test_canary_then_resume_loses_nothing(target, tmp_path):
    sandbox, settings, probed = target
    before = _state(settings)
    with Gr4vyClient(settings) as client:
        plan = plan_updates(_tag(tmp_path / "up", "canary"), client=client, probe=saved_probe(settings))
        assert plan.body_mode == ("changed" if probed and sandbox.semantics == "merge" else "full")  # type: ignore[attr-defined]
        assert [d for d in plan.diff["path"]] == ["metadata.tag"] * len(FULL)  # the diff: changed values only
        run = apply_plan(plan, client=client, journal=tmp_path / "run.sqlite", first=2)
        assert run.state == "paused"
        run = resume_run(run.journal, client=client)
        assert run.ok
        after = _state(settings)
        assert _kept(after) == _kept(before)
        assert rollback_run(run.journal, client=client).ok
    assert _state(settings) == before


def test_an_unedited_export_plans_zero_changes_in_every_mode(target, tmp_path):
    _, settings, _ = target
    with Gr4vyClient(settings) as client:
        flatten_sessions(list(client.get_checkout_sessions(FULL).values())).to_csv(tmp_path / "export")
        plan = plan_updates(tmp_path / "export", client=client, probe=saved_probe(settings))
    assert plan.ok and plan.summary["changed"] == 0 and not plan.changes


def test_expiry_reset_off_is_reported_and_runs_still_work(tmp_path, monkeypatch):
    monkeypatch.setenv("GR4VY_NB_CONFIG_DIR", str(tmp_path / "config"))
    with start_sandbox(expiry_reset=False) as sb, Gr4vyClient(Settings.for_sandbox(sb)) as client:
        result = probe_target(client)
        assert not result.ok and result.merges
        assert "an update does not reset expires_at" in result.failures
        before = client.get_checkout_session(FULL[0])
        plan = plan_updates(_tag(tmp_path / "up", "x"), client=client, probe=saved_probe(client.settings))
        assert plan.body_mode == "changed"
        run = apply_plan(plan, client=client, journal=tmp_path / "run.sqlite")
        assert run.ok
        after = client.get_checkout_session(FULL[0])
        assert after["expires_at"] == before["expires_at"]
        assert {k: after[k] for k in KEPT} == {k: before[k] for k in KEPT}


def test_a_full_state_body_never_undoes_another_writers_change(target, tmp_path):
    """Full-state bodies carry unchanged fields too: one changed since the plan is a conflict, not overwritten."""
    _, settings, _ = target
    with Gr4vyClient(settings) as client:
        plan = plan_updates(_tag(tmp_path / "up", "late"), client=client, probe=saved_probe(settings))
        other = FULL[0]
        current = client.get_checkout_session(other)
        items = [{**current["cart_items"][0], "name": "changed by someone else"}, *current["cart_items"][1:]]
        client.update_checkout_session(other, {"cart_items": items})  # another writer, after the plan
        run = apply_plan(plan, client=client, journal=tmp_path / "run.sqlite")
        after = client.get_checkout_session(other)
    assert after["cart_items"][0]["name"] == "changed by someone else"  # never undone, in any mode
    status = run.results.set_index("checkout_session_id").loc[other, "status"]
    assert status == ("succeeded" if plan.body_mode == "changed" else "conflict")
