"""Plans: summary, diff views, persistence and the errors= policy."""

from __future__ import annotations

import pytest

from gr4vy_nb.errors import InputError, RunError
from gr4vy_nb.problems import COLUMNS as PROBLEM_COLUMNS
from gr4vy_nb.updates.merge import DIFF_COLUMNS
from gr4vy_nb.updates.notes import Audience, NoteCode
from gr4vy_nb.updates.plan import Plan, plan_updates
from tests.updates.helpers import MISSING, S0, S1, SEED


@pytest.fixture
def plan(tmp_path, client):
    (tmp_path / "sessions.csv").write_text(f"checkout_session_id,metadata.tag,amount\n{S0},x,\n{S1},,\n{MISSING},y,\n"
                                           f"{SEED[2]['id']},z,1.5\n")
    (tmp_path / "passengers.csv").write_text(
        "checkout_session_id,passenger_index,last_name\n"
        + "".join(f"{S0},{i},{'Nul' if i == 0 else ''}\n" for i in range(len(SEED[0]["airline"]["passengers"]))))
    return plan_updates(tmp_path, client=client)


def test_summary_and_views(plan):
    s = plan.summary
    assert (s["sessions_named"], s["changed"], s["unchanged"], s["not_found"], s["invalid"]) == (4, 1, 1, 1, 1)
    assert s["fields_changed"] == {"airline": 1, "metadata": 1}
    assert s["errors"] == 1 and not plan.ok
    assert tuple(plan.problems.columns) == PROBLEM_COLUMNS and list(plan.diff.columns) == DIFF_COLUMNS
    assert plan.errors.iloc[0]["checkout_session_id"] == SEED[2]["id"]
    sessions = plan.sessions.set_index("checkout_session_id")
    assert sessions.loc[S0, "fields"] == "metadata, airline" or sessions.loc[S0, "fields"] == "airline, metadata"
    assert repr(plan).startswith("<Plan 4 session(s): 1 to update")
    text = plan.describe()
    assert "Nul" not in text and "airline.passengers[0].last_name" in text
    assert "Nul" in plan.describe(raw=True)


def test_errors_policy(tmp_path, client):
    (tmp_path / "sessions.csv").write_text(f"checkout_session_id,amount\n{S0},-5\n")
    with pytest.raises(InputError) as exc:
        plan_updates(tmp_path, client=client, errors="raise")
    assert exc.value.problems.iloc[0]["rule"] == "minimum"
    with pytest.raises(ValueError):
        plan_updates(tmp_path, client=client, errors="ignore")


def test_save_and_load_round_trip(plan, tmp_path):
    path = plan.save(tmp_path / "saved" / "plan.json")
    loaded = Plan.load(path)
    assert [i.to_dict() for i in loaded.items] == [i.to_dict() for i in plan.items]
    assert loaded.summary == plan.summary
    assert loaded.diff.astype(object).fillna("").values.tolist() == plan.diff.astype(object).fillna("").values.tolist()
    assert loaded.problems["message"].tolist() == plan.problems["message"].tolist()
    assert loaded.target == plan.target and loaded.inputs == plan.inputs and loaded.tables == plan.tables
    (tmp_path / "junk.json").write_text("{}")
    with pytest.raises(RunError, match="not a gr4vy-nb plan"):
        Plan.load(tmp_path / "junk.json")


def test_changed_inputs_are_detected(plan, tmp_path):
    assert plan.changed_inputs() == []
    (tmp_path / "passengers.csv").write_text("checkout_session_id\n")
    assert plan.changed_inputs() == [str((tmp_path / "passengers.csv").resolve())]
    (tmp_path / "sessions.csv").unlink()
    assert len(plan.changed_inputs()) == 2


def test_nothing_to_plan(tmp_path, client):
    with pytest.raises(InputError, match=r"no sessions\.csv"):
        plan_updates(tmp_path, client=client)


# ----------------------------------------------------------------------------- expiry before the run reaches a session


def test_expiry_forecast_counts_sessions_due_before_the_run_reaches_them():
    from gr4vy_nb.updates.merge import PlanItem
    from gr4vy_nb.updates.plan import expiry_forecast
    from gr4vy_nb.updates.states import utc_text

    now = 1_800_000_000.0

    def at(seconds):
        return utc_text(now + seconds).replace(" UTC", "+00:00").replace(" ", "T")

    items = [PlanItem(session_id=f"s{k}", status="change", before={"expires_at": at(5)},
                      desired={"metadata": {}}, body={"metadata": {}}) for k in range(5)]
    items.append(PlanItem(session_id="late", status="change", before={"expires_at": at(3600)},
                          desired={"metadata": {}}, body={"metadata": {}}))
    plan = Plan(items=items)
    # 1 req/s, a re-read and a write each: session k is reached after 2(k + 1) s.
    assert expiry_forecast(plan, rate=1, now=now) == ["s2", "s3", "s4"]
    # Without the re-read: one request each, reached after k + 1 s (the 5th just as it expires).
    assert expiry_forecast(plan, rate=1, conflict_check=False, now=now) == ["s4"]
    # Unpaced: 4 workers, 0.5 s a request -> 4 sessions a second.
    assert expiry_forecast(plan, workers=4, seconds_per_request=0.5, now=now) == []
    assert expiry_forecast(plan, workers=1, seconds_per_request=0.5, now=now) == ["s4"]


def test_plan_notes_the_sessions_likely_to_expire_and_keeps_them_when_saved(tmp_path, client, sandbox):
    import uuid
    from datetime import UTC, datetime, timedelta

    expires = (datetime.now(UTC) + timedelta(seconds=5)).isoformat()
    ids = sandbox.seed([{"id": str(uuid.uuid4()), "expires_at": expires, "metadata": {"k": "v"}} for _ in range(4)])
    (tmp_path / "sessions.csv").write_text("checkout_session_id,metadata.k\n" + "".join(f"{i},w\n" for i in ids))
    plan = plan_updates(tmp_path, client=client, rate=1)
    assert plan.likely_to_expire == ids[2:] and plan.summary["likely_to_expire"] == 2
    [warned] = [n for n in plan.notes if n.code == NoteCode.LIKELY_TO_EXPIRE]
    assert warned.text.startswith("2 of 4 sessions expire before the run is likely to reach them (at 1 req/s)")
    assert warned.audience == Audience.WARNING and warned.count == 2 and warned.sessions == tuple(ids[2:])
    again = Plan.load(plan.save(tmp_path / "plan.json"))
    assert again.notes == plan.notes  # the records survive a saved plan
    assert again.likely_to_expire == ids[2:] and again.seconds_per_request == plan.seconds_per_request
