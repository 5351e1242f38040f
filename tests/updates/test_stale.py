"""Row versions at plan time (issue 21, item 1): an old export cannot revert another writer's change.

Every test exports from the sandbox, lets "another writer" change a session with a direct PUT through the
client, then plans (and applies) the morning's files.
"""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from gr4vy_nb.errors import InputError
from gr4vy_nb.export import export_sessions
from gr4vy_nb.tables.files import read_table, write_table
from gr4vy_nb.tables.versions import VERSION_COLUMN, version_of
from gr4vy_nb.updates.notes import NoteCode
from gr4vy_nb.updates.plan import plan_updates
from gr4vy_nb.updates.runs import apply_plan
from gr4vy_nb.updates.stale import changed_since_export
from tests.updates.helpers import S0, S1, writing_client

client = pytest.fixture(name="client")(writing_client)


def _export(client, folder, ids=(S0, S1)):
    export_sessions(list(ids), client, folder)
    return folder


def _edit(path, row, column, value):
    """Change one cell of an exported CSV as a spreadsheet user would (the rest of the file as it is)."""
    frame = read_table(path).frame.copy()
    if column not in frame.columns:  # a new column: empty elsewhere
        frame.insert(len(frame.columns) - 1, column, pd.array([None] * len(frame), dtype="string"))
    frame.iloc[row, frame.columns.get_loc(column)] = value
    write_table(frame, path)


def _other_writer(client, sid, change):
    """Another writer's update: read the session, change it, PUT its writable fields back."""
    session = client.get_checkout_session(sid)
    airline, cart = copy.deepcopy(session.get("airline")), copy.deepcopy(session.get("cart_items"))
    body = change(airline=airline, cart_items=cart, metadata=dict(session.get("metadata") or {}))
    client.update_checkout_session(sid, body)
    return client.get_checkout_session(sid)


def _stale(plan):
    return plan.problems[plan.problems.rule == "stale"]


def test_the_passenger_scenario_is_refused_and_the_other_writers_changes_survive(tmp_path, client):
    export = _export(client, tmp_path / "export")
    passengers = export / "passengers.csv"

    def remove_and_rename(airline, **_):
        del airline["passengers"][0]
        airline["passengers"][0]["first_name"] = "Renamed"
        return {"airline": airline}

    after = _other_writer(client, S0, remove_and_rename)
    mine = tmp_path / "mine"
    mine.mkdir()
    frame = read_table(passengers).frame.copy()
    frame.loc[frame.index[3], "first_name"] = "Edited"  # S0's passenger #3 (the morning's #3)
    write_table(frame, mine / "passengers.csv")

    plan = plan_updates(mine, client=client)
    stale = _stale(plan)
    assert not plan.ok and plan.changes == [] and plan.diff.empty
    assert set(stale.severity) == {"error"} and set(stale.column) == {VERSION_COLUMN}
    assert stale.line.tolist() == [2, 3, 4, 5] and set(stale.checkout_session_id) == {S0}
    assert plan.item(S0).status == "invalid" and "stale" in plan.item(S0).message
    assert plan.item(S1).status == "unchanged"
    # The first row: the morning's passenger #0, now the renamed former #1: every changed field named, masked.
    first = stale.message.iloc[0]
    assert first.startswith("passenger #0 has changed since this file was exported: ")
    assert "first_name 'Z*** #" in first and "-> 'R*** #" in first and "passport_number" in first
    assert "Renamed" not in first and "Zoltan" not in first
    assert "removed since this file was exported (the session has 3 passengers now)" in stale.message.iloc[3]
    assert "DESTRUCTIVE" not in plan.describe() and not (plan.problems.rule == "destructive").any()
    with pytest.raises(InputError):
        apply_plan(plan, client=client, allow_destructive=True, journal=tmp_path / "run.sqlite")
    now = client.get_checkout_session(S0)
    assert now["airline"]["passengers"] == after["airline"]["passengers"]
    assert [p["passport_number"] for p in now["airline"]["passengers"]] == [
        p["passport_number"] for p in after["airline"]["passengers"]]


def test_a_stale_cart_item_leg_and_sessions_row_are_refused_the_same_way(tmp_path, client):
    export = _export(client, tmp_path / "export")

    def change(airline, cart_items, metadata):
        cart_items[1]["quantity"] += 5
        airline["legs"][1]["flight_number"] = "9999"
        return {"cart_items": cart_items, "airline": airline, "metadata": {**metadata, "desk": "b"}}

    _other_writer(client, S0, change)
    _edit(export / "cart_items.csv", 1, "name", "Edited name")
    _edit(export / "legs.csv", 1, "departure_city", "Edited city")
    _edit(export / "sessions.csv", 0, "currency", "EUR")
    plan = plan_updates(export, client=client)
    stale = _stale(plan)
    assert not plan.ok and plan.diff.empty
    assert sorted(zip(stale.file, stale.line, strict=True)) == [("cart_items.csv", 3), ("legs.csv", 3),
                                                                 ("sessions.csv", 2)]
    messages = dict(zip(stale.file, stale.message, strict=True))
    assert "cart item #1 has changed since this file was exported: quantity" in messages["cart_items.csv"]
    assert "leg #1 has changed since this file was exported: flight_number" in messages["legs.csv"]
    assert "'9999'" in messages["legs.csv"] and "Edited" not in messages["legs.csv"]
    assert "this session has changed since this file was exported: metadata.desk (empty) -> 'b'" in messages[
        "sessions.csv"]
    assert plan.item(S0).status == "invalid" and plan.item(S1).status == "unchanged"


def test_a_sessions_row_does_not_go_stale_when_only_a_list_or_the_expiry_changed(tmp_path, client):
    export = _export(client, tmp_path / "export")

    def change(airline, **_):
        airline["passengers"][1]["first_name"] = "Other"
        return {"airline": airline}

    _other_writer(client, S0, change)  # resets S0's expiry too
    _edit(export / "sessions.csv", 0, "metadata.note", "mine")
    (export / "passengers.csv").unlink()
    plan = plan_updates(export, client=client)
    assert plan.ok, plan.problems
    assert _stale(plan).empty and plan.diff.path.tolist() == ["metadata.note"]
    # The exported expires_at differs from the current one (the update reset it): ignored, said once.
    read_only = plan.warnings[plan.warnings.rule == "read_only"]
    assert read_only.column.tolist() == ["expires_at"] and "ignored" in read_only.message.iloc[0]


def test_a_fresh_export_plans_nothing_and_one_edit_plans_exactly_that_edit(tmp_path, client):
    export = _export(client, tmp_path / "export")
    plan = plan_updates(export, client=client)
    assert plan.ok and plan.changes == [] and plan.diff.empty and plan.problems.empty
    assert not [n for n in plan.notes if n.code == NoteCode.UNVERSIONED_ROWS]
    _edit(export / "passengers.csv", 2, "first_name", "Hanne")
    plan = plan_updates(export, client=client)
    assert plan.ok and plan.problems.empty
    assert plan.diff[["checkout_session_id", "path", "after", "file", "line"]].values.tolist() == [
        [S0, "airline.passengers[2].first_name", "Hanne", "passengers.csv", 4]]


def test_ignore_stale_sends_with_a_warning_on_each_row(tmp_path, client):
    export = _export(client, tmp_path / "export", ids=(S0,))

    def change(cart_items, **_):
        cart_items[0]["quantity"] += 1
        return {"cart_items": cart_items}

    _other_writer(client, S0, change)
    _edit(export / "cart_items.csv", 0, "name", "Mine")
    plan = plan_updates(export / "cart_items.csv", client=client, ignore_stale=True)
    assert plan.ok, plan.problems
    stale = _stale(plan)
    assert stale.severity.tolist() == ["warning"] and stale.line.tolist() == [2]
    assert "ignored as asked" in stale.message.iloc[0]
    paths = sorted(plan.diff.path)
    assert paths == ["cart_items[0].name", "cart_items[0].quantity"]  # the old quantity is sent back, as asked
    run = apply_plan(plan, client=client, journal=tmp_path / "run.sqlite")
    assert run.counts["succeeded"] == 1
    assert client.get_checkout_session(S0)["cart_items"][0]["name"] == "Mine"


def test_a_file_without_versions_plans_as_before_with_one_note(tmp_path, client):
    export = _export(client, tmp_path / "export", ids=(S0,))

    def change(airline, **_):
        airline["passengers"][1]["first_name"] = "Other"
        return {"airline": airline}

    _other_writer(client, S0, change)
    frame = read_table(export / "passengers.csv").frame.drop(columns=[VERSION_COLUMN])
    frame.loc[frame.index[2], "first_name"] = "Mine"
    write_table(frame, export / "passengers.csv")
    plan = plan_updates(export / "passengers.csv", client=client)
    assert plan.ok and _stale(plan).empty
    notes = [n.text for n in plan.notes if n.code == NoteCode.UNVERSIONED_ROWS]
    assert notes == ["passengers.csv: its 4 row(s) carry no row_version (a hand-made file, the column deleted, or "
                     "rows added by hand): they could not be checked for changes made since an export"]
    # As before versions: the file's rows are the list (the other writer's rename is reverted).
    assert sorted(plan.diff.path) == ["airline.passengers[1].first_name", "airline.passengers[2].first_name"]


def test_pandas_defaults_keep_the_versions(tmp_path, client):
    export = _export(client, tmp_path / "export")
    for table in ("sessions", "cart_items", "legs", "passengers"):
        path = export / f"{table}.csv"
        df = pd.read_csv(path)
        assert df[VERSION_COLUMN].map(type).eq(str).all()
        df.to_csv(path, index=False)
    plan = plan_updates(export, client=client, allow_spreadsheet_rewrites=True)
    assert _stale(plan).empty and not [n for n in plan.notes if n.code == NoteCode.UNVERSIONED_ROWS]


def test_the_same_file_again_after_applying_it_is_no_conflict(tmp_path, client):
    export = _export(client, tmp_path / "export", ids=(S0,))
    _edit(export / "legs.csv", 0, "flight_number", "4321")
    run = apply_plan(plan_updates(export, client=client), client=client, journal=tmp_path / "run.sqlite")
    assert run.counts["succeeded"] == 1
    # The leg's version is now not the exported one, but the row holds what the leg holds: it reverts nothing.
    again = plan_updates(export, client=client)
    assert again.ok and again.changes == [] and _stale(again).empty


EXPORTED = {"checkout_session_id": "s", "passenger_index": "1", "first_name": "Ann", "last_name": "Lee", "title": "Ms"}


@pytest.mark.parametrize(("now", "uploaded", "changed"), [
    # another writer renamed her; the user fixed the title: only the rename is a change since the export
    ({**EXPORTED, "first_name": "Anna"}, {**EXPORTED, "title": "Dr"}, [("first_name", "Ann", "Anna")]),
    # another writer cleared the title; the user left the row alone
    ({**EXPORTED, "title": None}, dict(EXPORTED), [("title", "Ms", None)]),
    # a column new since the export (the file does not hold it): exported empty
    ({**EXPORTED, "country_code": "GB"}, dict(EXPORTED), [("country_code", None, "GB")]),
    # the same cell edited by both: no split explains the version
    ({**EXPORTED, "first_name": "Anna"}, {**EXPORTED, "first_name": "Annie"}, None),
], ids=["change_and_edit", "cleared", "new_column", "both_edited"])
def test_changed_since_export_tells_changes_from_edits(now, uploaded, changed):
    now = {k: v for k, v in now.items() if v is not None}
    assert changed_since_export("passengers", version_of(EXPORTED), uploaded, now) == changed


def test_changed_since_export_gives_up_when_its_budget_is_spent():
    now = {**EXPORTED, "first_name": "Anna"}
    uploaded = {**EXPORTED, "title": "Dr"}
    assert changed_since_export("passengers", version_of(EXPORTED), uploaded, now, budget=[1]) is None
    budget = [10]
    assert changed_since_export("passengers", version_of(EXPORTED), uploaded, now, budget=budget) is not None
    assert 0 < budget[0] < 10
