"""Destructive changes need consent (issue 13, items 1 and 2): removals and clears are named, counted and warned
about; ``apply_plan`` refuses them unless ``allow_destructive=True``; list diffs are keyed by the current index."""

from __future__ import annotations

import pytest

from gr4vy_nb.errors import InputError
from gr4vy_nb.updates.compare import same_fields
from gr4vy_nb.updates.plan import Plan
from gr4vy_nb.updates.runs import apply_plan, rollback_run
from tests.updates.helpers import S0, SEED, plan_of, writing_client

client = pytest.fixture(name="client")(writing_client)

PASSENGERS = SEED[0]["airline"]["passengers"]  # 4 passengers


def puts(sandbox) -> int:
    return sum((sandbox.stats()["requests"].get("PUT") or {}).values())


def test_a_one_row_passengers_csv_keeps_that_passenger_by_index_and_removes_the_others(tmp_path, client):
    plan = plan_of(tmp_path, client, passengers=f"checkout_session_id,passenger_index,first_name\n{S0},1,\n")
    item = plan.item(S0)
    assert [p["first_name"] for p in item.body["airline"]["passengers"]] == [PASSENGERS[1]["first_name"]]
    assert item.message == "keeps passengers #1 (now at position 0); removes passengers #0, #2, #3 of 4"
    # Keyed diff: passenger 1 is diffed against itself (no change), the others are removed, named by current index.
    paths = set(plan.diff.path)
    assert not any(p.startswith("airline.passengers[1].") for p in paths)
    assert {p.split(".")[1] for p in paths} == {"passengers[0]", "passengers[2]", "passengers[3]"}
    assert all(a is None for a in plan.diff["after"])
    # Named, counted, a warning at file, line and column.
    assert plan.destructive[["kind", "what", "path"]].values.tolist() == [
        ["remove", "passengers", f"airline.passengers[{i}]"] for i in (0, 2, 3)]
    assert plan.summary["destructive"] == {"sessions": 1, "removes": {"passengers": 3}, "clears": 0}
    assert plan.consent == "remove 3 passengers in 1 session"
    w = plan.warnings
    assert w[["file", "line", "column", "rule"]].astype(object).values.tolist() == [
        ["passengers.csv", 2, "passenger_index", "destructive"]]
    assert "removes passengers #0, #2, #3 of 4" in w.loc[0, "message"]
    assert plan.ok  # a warning: the plan can be applied, with consent
    assert "DESTRUCTIVE: would remove 3 passengers in 1 session" in plan.describe()


def test_kept_elements_are_diffed_against_themselves_and_new_ones_are_numbered_after_the_current(tmp_path, client):
    plan = plan_of(tmp_path, client, passengers=f"""\
        checkout_session_id,passenger_index,first_name,last_name,age_group
        {S0},2,Eunji,,
        {S0},,Nova,Star,adult
    """)
    item = plan.item(S0)
    assert "keeps passengers #2 (now at position 0)" in item.message
    assert "removes passengers #0, #1, #3 of 4" in item.message and "adds 1 passenger (new #4)" in item.message
    diff = plan.diff.set_index("path")
    assert diff.loc["airline.passengers[2].first_name", ["before", "after"]].tolist() == ["Eun-ji", "Eunji"]
    assert diff.loc["airline.passengers[2].first_name", "line"] == 2  # located at the row that edits it
    assert diff.loc["airline.passengers[4].first_name", ["before", "after", "line"]].tolist() == [None, "Nova", 3]
    assert "airline.passengers[2].last_name" not in diff.index  # kept: same element, same value


def test_clears_are_destructive_per_kind_and_session(tmp_path, client):
    plan = plan_of(tmp_path, client, sessions=f"""\
        checkout_session_id,amount,metadata.campaign
        {S0},#N/A,#N/A
        {SEED[1]['id']},#N/A,
    """)
    assert plan.ok
    d = plan.destructive
    assert sorted(zip(d.checkout_session_id, d.path, strict=True)) == sorted(
        [(S0, "amount"), (S0, "metadata.campaign"), (SEED[1]["id"], "amount")])
    assert set(d.kind) == {"clear"} and plan.consent == "clear 3 fields in 2 sessions"
    assert "clears amount" in plan.item(S0).message
    w = plan.warnings
    assert sorted(w[["line", "column"]].astype(object).values.tolist()) == [[2, "amount"], [2, "metadata.campaign"],
                                                                            [3, "amount"]]


def test_a_cleared_child_cell_and_removed_categories_entries_are_destructive(tmp_path, client):
    items = SEED[0]["cart_items"]
    rows = "".join(f"{S0},{i},,\n" for i in range(1, len(items)))
    plan = plan_of(tmp_path, client,
                   cart_items=f"checkout_session_id,item_index,sku,categories\n{S0},0,#N/A,electronics\n{rows}")
    assert plan.ok, plan.problems
    d = plan.destructive
    assert d[["kind", "what", "path", "count"]].values.tolist() == [
        ["clear", "field", "cart_items[0].sku", 1], ["remove", "categories", "cart_items[0].categories", 1]]
    assert plan.consent == "remove 1 categories entry and clear 1 field in 1 session"


def test_apply_refuses_destructive_changes_without_consent_and_sends_nothing(tmp_path, client, sandbox_clean):
    plan = plan_of(tmp_path, client, passengers=f"checkout_session_id,passenger_index,first_name\n{S0},1,\n")
    before = puts(sandbox_clean)
    with pytest.raises(InputError, match="remove 3 passengers in 1 session") as caught:
        apply_plan(plan, client=client, runs_dir=tmp_path / "runs")
    assert caught.value.problems["rule"].tolist() == ["destructive"]
    # The advice fits the call refused: apply_plan takes the consent; patch mode means planning again.
    assert "apply it with allow_destructive=True, or plan again in patch mode (lists='patch')" in str(caught.value)
    assert "--" not in str(caught.value)
    assert puts(sandbox_clean) == before and not (tmp_path / "runs").exists()
    assert len(client.get_checkout_session(S0)["airline"]["passengers"]) == 4


def test_consent_applies_and_rollback_restores_everything(tmp_path, client):
    before = client.get_checkout_session(S0)
    plan = plan_of(tmp_path, client, passengers=f"checkout_session_id,passenger_index,first_name\n{S0},1,\n",
                   sessions=f"checkout_session_id,amount\n{S0},#N/A\n")
    assert plan.consent == "remove 3 passengers and clear 1 field in 1 session"
    run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs", allow_destructive=True)
    assert run.counts["succeeded"] == 1
    now = client.get_checkout_session(S0)
    assert [p["first_name"] for p in now["airline"]["passengers"]] == [PASSENGERS[1]["first_name"]]
    assert now.get("amount") is None
    back = rollback_run(run.journal, client=client)
    assert back.counts["succeeded"] == 1
    assert same_fields(client.get_checkout_session(S0), before, ["airline", "amount", "cart_items", "metadata"]) == []


def test_destructive_changes_survive_saving_the_plan(tmp_path, client):
    plan = plan_of(tmp_path / "up", client, passengers=f"checkout_session_id,passenger_index\n{S0},1\n")
    loaded = Plan.load(plan.save(tmp_path / "plan.json"))
    assert loaded.consent == plan.consent == "remove 3 passengers in 1 session"
    assert loaded.destructive["path"].tolist() == plan.destructive["path"].tolist()
    with pytest.raises(InputError):
        apply_plan(loaded, client=client, runs_dir=tmp_path / "runs")


def test_an_unedited_full_list_is_not_destructive(tmp_path, client):
    rows = "".join(f"{S0},{i},\n" for i in range(len(PASSENGERS)))
    plan = plan_of(tmp_path, client, passengers=f"checkout_session_id,passenger_index,first_name\n{rows}")
    assert plan.changes == [] and plan.destructive.empty and plan.consent == ""
