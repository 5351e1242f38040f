"""BulkUpdate through every state, with why_not asked for every action in each (a table of expected reasons).

Real sandbox over HTTP, real files and journals. The state of a run in progress (``running``) and
of a plan being made (``planning``) is observed from inside the progress callbacks, where the
work really is under way.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.config import Settings
from gr4vy_nb.errors import Refused, RunError
from gr4vy_nb.updates.options import PlanOptions, RunOptions
from gr4vy_nb.updates.reasons import Action
from gr4vy_nb.updates.reasons import ReasonCode as R
from gr4vy_nb.updates.workflow import BulkUpdate, State
from tests.updates.helpers import FAST, IDS, MISSING, S0, SEED, tag_upload, write

ACTIONS = list(Action)


def codes(bulk: BulkUpdate) -> dict[Action, R | None]:
    """why_not of every action, as codes."""
    return {a: (why.code if (why := bulk.why_not(a)) is not None else None) for a in ACTIONS}


def table(**given: R | None) -> dict[Action, R | None]:
    """The expected codes: every action not named may run (None)."""
    return {a: given.get(str(a)) for a in ACTIONS}


def _client(sandbox: Any, **settings: Any) -> Gr4vyClient:
    if settings.get("environment") == "production":
        s = Settings(base_url=sandbox.base_url, private_key_file=sandbox.private_key_file, retry=FAST, **settings)
    else:
        s = Settings.for_sandbox(sandbox, retry=FAST, **settings)
    return Gr4vyClient(s, workers=8)


@pytest.fixture
def client(sandbox_clean):
    with _client(sandbox_clean) as c:
        yield c


def one_passenger(folder: Path) -> Path:
    """Keeps passenger #1 of S0 only: a plan removing three passengers (destructive)."""
    return write(folder, "passengers.csv", f"checkout_session_id,passenger_index,first_name\n{S0},1,\n").parent


NOT_PLANNED = {"consent": R.NOT_PLANNED, "apply": R.NOT_PLANNED}
NO_RUN = {"cancel": R.NOTHING_RUNNING, "resume": R.NO_RUN, "retry_failed": R.NO_RUN, "rollback": R.NO_RUN}


def test_every_state_and_every_reason(tmp_path, client, sandbox_clean):
    bulk = BulkUpdate(client, runs_dir=tmp_path / "runs")
    assert bulk.state == State.EMPTY
    assert codes(bulk) == table(plan=R.NOTHING_LOADED, **NOT_PLANNED, **NO_RUN)
    with pytest.raises(Refused) as refused:
        bulk.plan()
    assert refused.value.reason.code == R.NOTHING_LOADED

    bulk.load(tag_upload(tmp_path / "up", [*IDS[:3], MISSING]))
    assert bulk.state == State.LOADED
    assert codes(bulk) == table(**NOT_PLANNED, **NO_RUN)
    with pytest.raises(Refused) as refused:
        bulk.apply()
    assert refused.value.reason.code == R.NOT_PLANNED

    seen: dict[str, Any] = {}

    def plan_progress(done: int, total: int) -> None:
        seen.setdefault("planning", (bulk.state, codes(bulk)))

    plan = bulk.plan(PlanOptions(expires_in=7200), progress=plan_progress)
    state, during = seen["planning"]
    busy_plan = {str(a): R.PLAN_IN_PROGRESS for a in ACTIONS if a != Action.CANCEL}
    assert state == State.PLANNING and during == table(**busy_plan)
    assert bulk.state == State.PLANNED and plan is bulk.current_plan and len(plan.changes) == 3
    assert codes(bulk) == table(consent=R.NO_DESTRUCTIVE_CHANGE, **NO_RUN)

    def run_progress(progress: Any) -> None:
        seen.setdefault("running", (bulk.state, codes(bulk)))

    # Another writer changes the third session after the plan: the run leaves it alone (a conflict).
    other = client.get_checkout_session(IDS[2])
    client.update_checkout_session(IDS[2], {"metadata": {**(other.get("metadata") or {}), "by": "someone else"}})
    run = bulk.apply(RunOptions(workers=2), progress=run_progress)
    state, during = seen["running"]
    busy_run = {str(a): R.RUN_IN_PROGRESS for a in ACTIONS if a != Action.CANCEL}
    assert state == State.RUNNING and during == table(**busy_run)
    assert bulk.state == State.FINISHED and run is bulk.run
    assert (run.counts["succeeded"], run.counts["conflict"], run.counts["failed"]) == (2, 1, 1)
    assert run.journal.parent == tmp_path / "runs"
    # Applied once: the same plan is stale; the run can be resumed (to nothing), retried (the conflict), rolled back.
    assert codes(bulk) == table(consent=R.NO_DESTRUCTIVE_CHANGE, apply=R.PLAN_STALE, cancel=R.NOTHING_RUNNING)
    with pytest.raises(Refused) as refused:
        bulk.apply()
    assert refused.value.reason.code == R.PLAN_STALE
    assert sum(sandbox_clean.stats()["writes"].values()) == 3  # two of the run's, one of the other writer

    again = bulk.resume()
    assert again.counts["succeeded"] == 2 and bulk.state == State.FINISHED
    assert bulk.rollback_preview().sessions.shape[0] == 2
    rolled = bulk.rollback()
    assert rolled.kind == "rollback" and rolled.counts["succeeded"] == 2 and bulk.run is rolled
    assert codes(bulk) == table(consent=R.NO_DESTRUCTIVE_CHANGE, apply=R.PLAN_STALE, cancel=R.NOTHING_RUNNING,
                                retry_failed=R.NOTHING_TO_RETRY)

    # Retry what did not go through: the conflict comes back as new input, the missing id (404) does not.
    bulk.attach(run.journal)
    assert bulk.why_not(Action.RETRY_FAILED) is None
    upload = bulk.retry_failed()
    assert bulk.state == State.LOADED and bulk.current_plan is None and upload.session_ids() == [IDS[2]]


def test_consent_is_per_plan_and_re_armed_by_a_new_plan_or_new_input(tmp_path, client, sandbox_clean):
    bulk = BulkUpdate(client, runs_dir=tmp_path / "runs")
    bulk.load(one_passenger(tmp_path / "up"))
    plan = bulk.plan()
    assert plan.consent == "remove 3 passengers in 1 session"
    assert codes(bulk)[Action.APPLY] == R.DESTRUCTIVE_NEEDS_CONSENT
    assert "remove 3 passengers in 1 session" in bulk.why_not(Action.APPLY).text
    with pytest.raises(Refused) as refused:
        bulk.apply()
    assert refused.value.reason.code == R.DESTRUCTIVE_NEEDS_CONSENT
    assert sum(sandbox_clean.stats()["writes"].values()) == 0
    bulk.consent()
    assert bulk.why_not(Action.APPLY) is None
    bulk.plan()  # a new plan asks again
    assert codes(bulk)[Action.APPLY] == R.DESTRUCTIVE_NEEDS_CONSENT
    bulk.consent()
    bulk.consent(False)  # withdrawn
    assert codes(bulk)[Action.APPLY] == R.DESTRUCTIVE_NEEDS_CONSENT
    bulk.consent()
    run = bulk.apply()
    assert run.counts["succeeded"] == 1 and bulk.state == State.FINISHED
    bulk.load(one_passenger(tmp_path / "up2"))  # new input: no consent carried over
    assert codes(bulk)[Action.CONSENT] == R.NOT_PLANNED


def test_production_needs_the_merchant_id_confirmed_for_each_write(tmp_path, sandbox_clean):
    with _client(sandbox_clean, environment="production", merchant_account_id="default") as prod:
        bulk = BulkUpdate(prod, runs_dir=tmp_path / "runs")
        bulk.load(tag_upload(tmp_path / "up", IDS[:2]))
        bulk.plan()
        assert codes(bulk)[Action.APPLY] == R.PRODUCTION_NOT_CONFIRMED
        bulk.confirm("defaul")  # one letter short
        assert codes(bulk)[Action.APPLY] == R.PRODUCTION_NOT_CONFIRMED
        bulk.confirm("default")
        assert bulk.why_not(Action.APPLY) is None
        bulk.plan()  # planning again re-arms it
        assert codes(bulk)[Action.APPLY] == R.PRODUCTION_NOT_CONFIRMED
        bulk.confirm("default")
        run = bulk.apply()
        assert run.counts["succeeded"] == 2
        # Every write asks again: rollback and resume need a new confirmation.
        assert codes(bulk)[Action.ROLLBACK] == R.PRODUCTION_NOT_CONFIRMED
        assert codes(bulk)[Action.RESUME] == R.PRODUCTION_NOT_CONFIRMED
        with pytest.raises(Refused):
            bulk.rollback()
        bulk.confirm("default")
        assert bulk.rollback().counts["succeeded"] == 2
    assert sum(sandbox_clean.stats()["writes"].values()) == 4


def test_errors_remain_paused_cancelled_stopped_and_failed(tmp_path, client, sandbox_clean):
    bulk = BulkUpdate(client, runs_dir=tmp_path / "runs")
    write(tmp_path / "bad", "sessions.csv", f"checkout_session_id,amount\n{S0},12.5\n")
    bulk.load(tmp_path / "bad")
    assert not bulk.upload.ok and bulk.why_not(Action.PLAN) is None  # planned anyway: every problem at once
    bulk.plan()
    assert bulk.state == State.PLANNED
    assert codes(bulk) == table(consent=R.NO_DESTRUCTIVE_CHANGE, apply=R.ERRORS_REMAIN, **NO_RUN)

    bulk.load(tag_upload(tmp_path / "up", IDS[:6]))
    bulk.plan()
    paused = bulk.apply(RunOptions(first=2))
    assert bulk.state == State.PAUSED and paused.counts["unprocessed"] == 4
    after_run = table(consent=R.NO_DESTRUCTIVE_CHANGE, apply=R.PLAN_STALE, cancel=R.NOTHING_RUNNING,
                      retry_failed=R.NOTHING_TO_RETRY)
    assert codes(bulk) == after_run
    assert bulk.resume().counts["succeeded"] == 6 and bulk.state == State.FINISHED

    bulk.load(tag_upload(tmp_path / "up2", IDS[6:12], tag="q5"))
    bulk.plan()
    stop = threading.Event()
    cancelled = bulk.apply(RunOptions(workers=1), cancel=stop, progress=lambda p: stop.set())
    assert bulk.state == State.CANCELLED and cancelled.counts["unprocessed"] >= 1
    assert codes(bulk) == after_run

    bulk.load(tag_upload(tmp_path / "up3", IDS[12:14], tag="q6"))
    bulk.plan()
    sandbox_clean.set_faults([{"method": "GET", "times": 50, "action": "status", "status": 401}])
    stopped = bulk.apply()
    sandbox_clean.clear_faults()
    assert bulk.state == State.STOPPED and stopped.state == "stopped"
    assert codes(bulk) == after_run

    bulk.load(tag_upload(tmp_path / "up4", IDS[14:16], tag="q7"))
    bulk.plan()
    taken = tmp_path / "taken.sqlite"
    taken.write_bytes(b"")
    with pytest.raises(RunError):
        bulk.apply(RunOptions(journal=taken))
    assert bulk.state == State.FAILED and isinstance(bulk.error, RunError)
    # Nothing was sent: the plan may be applied elsewhere; the last run (the 401-stopped one) is still at hand.
    assert codes(bulk) == table(consent=R.NO_DESTRUCTIVE_CHANGE, cancel=R.NOTHING_RUNNING,
                                retry_failed=R.NOTHING_TO_RETRY)
    assert bulk.apply().counts["succeeded"] == 2


def test_a_plan_can_be_cancelled_without_impersonating_the_client(tmp_path, client, sandbox_clean):
    bulk = BulkUpdate(client)
    bulk.load(tag_upload(tmp_path / "up", [s["id"] for s in SEED]))
    stop = threading.Event()
    from gr4vy_nb.updates.plan import PlanCancelled

    with pytest.raises(PlanCancelled):
        bulk.plan(PlanOptions(workers=1), cancel=stop, progress=lambda done, total: stop.set())
    gets = sum((sandbox_clean.stats()["requests"].get("GET") or {}).values())
    assert gets < len(SEED) and bulk.state == State.LOADED and bulk.current_plan is None


def test_options_are_frozen_validated_and_printable():
    options = PlanOptions(lists="patch", expires_in=7200)
    assert str(options) == "PlanOptions(lists=patch, expires_in=7200)"
    with pytest.raises(AttributeError):
        options.expires_in = 3600  # type: ignore[misc]
    for bad in ({"lists": "merge"}, {"rewrites": "maybe"}, {"workers": 0}):
        with pytest.raises(ValueError):
            PlanOptions(**bad)
    with pytest.raises(ValueError):
        RunOptions(rate=0)
    assert RunOptions(workers=8).replace(first=10) == RunOptions(workers=8, first=10)


def test_old_keywords_still_work_and_unknown_ones_are_refused_by_name(tmp_path, client):
    from gr4vy_nb.updates.plan import plan_updates
    from gr4vy_nb.updates.runs import apply_plan

    folder = tag_upload(tmp_path / "up", IDS[:1])
    plan = plan_updates(folder, client=client, expires_in=7200, lists="patch", allow_spreadsheet_rewrites=True,
                        rate=5.0, run_workers=2)
    assert plan.expires_in == 7200
    with pytest.raises(TypeError, match="plan_updates\\(\\) got an unexpected keyword argument 'expire_in'"):
        plan_updates(folder, client=client, expire_in=7200)
    with pytest.raises(TypeError, match="apply_plan\\(\\) got an unexpected keyword argument 'worker'"):
        apply_plan(plan, client=client, worker=2)
    run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs", workers=2, first=1)
    assert run.counts["succeeded"] == 1
