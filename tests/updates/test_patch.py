"""Patch mode for child tables (issue 13, item 3): a row with an index patches that element, the others are kept,
rows without an index are appended; nothing is ever removed."""

from __future__ import annotations

import pytest

from gr4vy_nb.updates.compare import same_fields
from gr4vy_nb.updates.plan import plan_updates
from gr4vy_nb.updates.runs import apply_plan
from tests.updates.helpers import S0, SEED, write, writing_client

client = pytest.fixture(name="client")(writing_client)

PASSENGERS = SEED[0]["airline"]["passengers"]


def patch_plan(folder, client, **files):
    for name, text in files.items():
        write(folder, f"{name}.csv", text)
    return plan_updates(folder, client=client, lists="patch")


def test_a_one_row_patch_changes_that_element_only(tmp_path, client):
    plan = patch_plan(tmp_path, client, passengers=f"checkout_session_id,passenger_index,first_name\n{S0},1,Hanna\n")
    assert plan.ok and plan.consent == "" and plan.destructive.empty
    item = plan.item(S0)
    names = [p["first_name"] for p in item.body["airline"]["passengers"]]
    assert names == [PASSENGERS[0]["first_name"], "Hanna", PASSENGERS[2]["first_name"], PASSENGERS[3]["first_name"]]
    assert plan.diff[["path", "before", "after", "line", "column"]].values.tolist() == [
        ["airline.passengers[1].first_name", "Hana", "Hanna", 2, "first_name"]]
    assert plan.warnings.empty


def test_rows_without_an_index_are_appended_and_nothing_is_removed(tmp_path, client):
    plan = patch_plan(tmp_path, client, cart_items=f"""\
        checkout_session_id,item_index,name,quantity,unit_amount,tax_amount
        {S0},2,,,,1900
        {S0},,Gift wrap,1,300,
    """)
    assert plan.ok, plan.problems
    item = plan.item(S0)
    skus = [c.get("sku") for c in item.body["cart_items"]]
    assert skus == [c["sku"] for c in SEED[0]["cart_items"]] + [None]
    assert item.body["cart_items"][2]["tax_amount"] == 1900
    assert item.body["cart_items"][3] == {"name": "Gift wrap", "quantity": 1, "unit_amount": 300}
    assert item.message == "adds 1 cart item (new #3)" and plan.consent == ""
    diff = plan.diff.set_index("path")
    assert diff.loc["cart_items[2].tax_amount", "after"] == 1900
    assert diff.loc["cart_items[3].name", ["after", "line"]].tolist() == ["Gift wrap", 3]
    # Fields this version does not know are kept on every element carried back.
    assert item.body["cart_items"][2]["subcategories"] == SEED[0]["cart_items"][2]["subcategories"]


def test_the_same_file_in_replace_mode_removes_what_patch_mode_keeps(tmp_path, client):
    write(tmp_path, "passengers.csv", f"checkout_session_id,passenger_index,first_name\n{S0},1,Hanna\n")
    replace = plan_updates(tmp_path, client=client)
    assert replace.consent == "remove 3 passengers in 1 session"
    assert plan_updates(tmp_path, client=client, lists="patch").consent == ""
    with pytest.raises(ValueError, match="lists must be one of"):
        plan_updates(tmp_path, client=client, lists="merge")


def test_a_clear_in_patch_mode_is_still_destructive(tmp_path, client):
    plan = patch_plan(tmp_path, client, passengers=f"checkout_session_id,passenger_index,title\n{S0},1,#N/A\n")
    assert plan.destructive["path"].tolist() == ["airline.passengers[1].title"]
    assert plan.consent == "clear 1 field in 1 session"


def test_applying_a_patch_twice_the_second_is_a_no_op(tmp_path, client, sandbox_clean):
    files = {"passengers": f"checkout_session_id,passenger_index,first_name\n{S0},1,Hanna\n{S0},,Nova\n"}
    first = patch_plan(tmp_path / "a", client, **files)
    assert first.item(S0).message == "adds 1 passenger (new #4)"
    run = apply_plan(first, client=client, runs_dir=tmp_path / "runs")
    assert run.counts["succeeded"] == 1
    after = client.get_checkout_session(S0)
    assert [p["first_name"] for p in after["airline"]["passengers"]] == [
        PASSENGERS[0]["first_name"], "Hanna", PASSENGERS[2]["first_name"], PASSENGERS[3]["first_name"], "Nova"]
    # The same patch again: the indexed row is now no change, but the unindexed row appends again -- so the
    # idempotent patch is the one that names its new element by index.
    files = {"passengers": f"checkout_session_id,passenger_index,first_name\n{S0},1,Hanna\n{S0},4,Nova\n"}
    second = patch_plan(tmp_path / "b", client, **files)
    assert second.changes == [] and second.item(S0).status == "unchanged"
    puts_before = sum((sandbox_clean.stats()["requests"].get("PUT") or {}).values())
    again = apply_plan(second, client=client, runs_dir=tmp_path / "runs")
    assert again.counts["succeeded"] == 0
    assert sum((sandbox_clean.stats()["requests"].get("PUT") or {}).values()) == puts_before
    assert same_fields(client.get_checkout_session(S0), after, ["airline"]) == []


def test_applying_an_indexed_patch_twice_the_second_is_a_no_op(tmp_path, client):
    files = {"passengers": f"checkout_session_id,passenger_index,first_name\n{S0},1,Hanna\n"}
    first = patch_plan(tmp_path / "a", client, **files)
    assert apply_plan(first, client=client, runs_dir=tmp_path / "runs").counts["succeeded"] == 1
    second = patch_plan(tmp_path / "b", client, **files)
    assert second.changes == [] and second.diff.empty
