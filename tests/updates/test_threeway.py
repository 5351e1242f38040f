"""Edits made with pandas on fetched frames (issue 23, item 2): only the edits are planned, judged three ways.

Each test fetches sessions from the sandbox (the frames remember their base), edits them in code, lets "another
writer" change a session with a direct PUT, then plans.
"""

from __future__ import annotations

import copy

import pandas as pd
import pytest

from gr4vy_nb.errors import InputError
from gr4vy_nb.export import fetch_sessions
from gr4vy_nb.tables.frames import SessionFrames
from gr4vy_nb.updates.plan import plan_updates
from gr4vy_nb.updates.runs import apply_plan
from gr4vy_nb.updates.threeway import compare_frames, edits_upload
from tests.updates.helpers import S0, S1, WITH_CART, writing_client

client = pytest.fixture(name="client")(writing_client)


def _fetch(client, ids=(S0, S1)) -> SessionFrames:
    return fetch_sessions(client, list(ids)).frames


def _other_writer(client, sid, change):
    session = client.get_checkout_session(sid)
    airline, cart = copy.deepcopy(session.get("airline")), copy.deepcopy(session.get("cart_items"))
    client.update_checkout_session(sid, change(airline=airline, cart_items=cart,
                                               metadata=dict(session.get("metadata") or {})))
    return client.get_checkout_session(sid)


def _rename_passenger_2(airline, **_):
    """Another writer renames passenger #2 (the edits here touch passenger #1)."""
    airline["passengers"][2]["first_name"] = "Theirs"
    return {"airline": airline}


def _row(df, sid, index_column=None, index=None):
    mask = df.checkout_session_id.str.lower() == sid.lower()
    if index_column is not None:
        mask &= df[index_column] == index
    return df.index[mask.fillna(False).to_numpy(dtype=bool)][0]


def test_fetched_frames_remember_their_base_and_an_unedited_plan_changes_nothing(client):
    frames = _fetch(client)
    assert frames.base is not None and frames.base.equals(frames)
    assert compare_frames(frames.base, frames).empty
    plan = plan_updates(frames, client=client)
    assert plan.ok and plan.changes == [] and plan.diff.empty


def test_only_the_edited_cells_are_uploaded_and_planned(client):
    frames = _fetch(client)
    p = frames.passengers
    frames.passengers.loc[_row(p, S0, "passenger_index", 1), "first_name"] = "Edited"
    frames.sessions.loc[_row(frames.sessions, S1), "metadata.tag"] = "q4"
    edits = compare_frames(frames.base, frames)
    assert len(edits) == 2 and edits.sessions == {S0.lower(), S1.lower()}
    assert edits.summary() == "2 cells changed in 2 sessions"
    upload = edits_upload(frames)
    assert set(upload.tables) == {"sessions", "passengers"}
    assert upload.tables["sessions"].columns == ["checkout_session_id", "metadata.tag"]
    plan = plan_updates(frames, client=client)
    assert plan.ok, plan.problems
    assert sorted(plan.diff.path.tolist()) == ["airline.passengers[1].first_name", "metadata.tag"]
    assert plan.destructive.empty


def test_a_cell_emptied_with_pandas_is_cleared(client):
    frames = _fetch(client, [S1])
    column = next(c for c in frames.sessions.columns if c.startswith("metadata."))
    frames.sessions.loc[0, column] = None
    plan = plan_updates(frames, client=client)
    assert plan.diff.path.tolist() == [column] and plan.diff.after.tolist() == [None]


def test_a_cell_changed_by_someone_else_and_not_edited_here_keeps_its_new_value(client):
    frames = _fetch(client)
    frames.passengers.loc[_row(frames.passengers, S0, "passenger_index", 1), "first_name"] = "Mine"

    _other_writer(client, S0, _rename_passenger_2)
    plan = plan_updates(frames, client=client)
    assert plan.ok, plan.problems
    assert plan.diff.path.tolist() == ["airline.passengers[1].first_name"]
    run = apply_plan(plan, client=client)
    assert run.ok
    now = client.get_checkout_session(S0)["airline"]["passengers"]
    assert now[1]["first_name"] == "Mine" and now[2]["first_name"] == "Theirs"


def test_a_cell_changed_on_both_sides_is_a_named_conflict_and_nothing_is_sent(client):
    frames = _fetch(client)
    frames.passengers.loc[_row(frames.passengers, S0, "passenger_index", 1), "first_name"] = "Mine"
    frames.sessions.loc[_row(frames.sessions, S1), "metadata.tag"] = "q4"

    def rename(airline, **_):
        airline["passengers"][1]["first_name"] = "Theirs"
        return {"airline": airline}

    _other_writer(client, S0, rename)
    plan = plan_updates(frames, client=client)
    conflicts = plan.problems[plan.problems.rule == "stale"]
    assert not plan.ok and len(conflicts) == 1
    message = conflicts.message.iloc[0]
    assert message.startswith(f"conflict in passengers, session {S0.lower()}, passenger #1, column first_name")
    assert "Theirs" not in message and "Mine" not in message  # personal values masked
    assert plan.item(S0).status == "invalid"
    assert [i.session_id.lower() for i in plan.changes] == [S1.lower()]
    ignored = plan_updates(frames, client=client, ignore_stale=True)
    assert ignored.ok and "airline.passengers[1].first_name" in ignored.diff.path.tolist()


def test_an_element_added_by_someone_else_is_kept_and_one_removed_there_stays_removed(client):
    frames = _fetch(client)
    before = len(client.get_checkout_session(S0)["airline"]["passengers"])
    frames.passengers.loc[_row(frames.passengers, S0, "passenger_index", 0), "first_name"] = "Mine"

    def drop_last_add_one(airline, **_):
        last = airline["passengers"].pop()
        airline["passengers"].append(dict(last, first_name="Newcomer"))
        airline["passengers"].append(dict(last, first_name="Another"))
        return {"airline": airline}

    _other_writer(client, S0, drop_last_add_one)
    plan = plan_updates(frames, client=client)
    assert plan.ok, plan.problems
    assert plan.destructive.empty
    apply_plan(plan, client=client)
    now = client.get_checkout_session(S0)["airline"]["passengers"]
    assert len(now) == before + 1
    assert now[0]["first_name"] == "Mine" and [p["first_name"] for p in now[-2:]] == ["Newcomer", "Another"]


def test_a_passenger_added_and_one_removed_with_pandas(client):
    frames = _fetch(client)
    p = frames.passengers
    s0 = p[p.checkout_session_id.str.lower() == S0.lower()]
    new = s0.iloc[[0]].assign(passenger_index=pd.array([None], dtype="Int64"), first_name="Added")
    frames.passengers = pd.concat([p.drop(index=s0.index[-1]), new], ignore_index=True)
    assert compare_frames(frames.base, frames).summary() == "0 cells changed in 1 session; 1 passenger added; " \
        "1 passenger removed"
    plan = plan_updates(frames, client=client)
    assert plan.ok, plan.problems
    assert plan.consent and len(plan.destructive) == 1


def test_a_pandas_rule_plans_exactly_its_rows(client):
    frames = _fetch(client, WITH_CART[:6])
    items = frames.cart_items
    rule = items.tax_amount.isna() & (items.quantity > 1)
    frames.cart_items.loc[rule, "tax_amount"] = (items.loc[rule, "unit_amount"] * items.loc[rule, "quantity"]
                                                  * 0.2).round().astype("Int64")
    plan = plan_updates(frames, client=client)
    assert plan.ok, plan.problems
    expected = {(sid.lower(), f"cart_items[{i}].tax_amount") for sid, i in
                zip(items.loc[rule, "checkout_session_id"], items.loc[rule, "item_index"], strict=True)}
    assert {(s.lower(), p) for s, p in zip(plan.diff.checkout_session_id, plan.diff.path, strict=True)} == expected


def test_masked_frames_are_refused_even_with_a_base(client):
    frames = _fetch(client)
    masked = frames.masked()
    masked.base = frames.base
    with pytest.raises(InputError):
        plan_updates(masked, client=client)


def test_an_untouched_export_read_with_pandas_remembers_its_base(client, tmp_path):
    from gr4vy_nb.export import export_sessions
    from gr4vy_nb.tables.files import read_table, write_table

    export_sessions([S0, S1], client, tmp_path / "export")
    frames = SessionFrames.read_csv(tmp_path / "export")
    assert frames.base is not None and frames.base.equals(frames)
    frames.passengers.loc[_row(frames.passengers, S0, "passenger_index", 1), "first_name"] = "Mine"

    _other_writer(client, S0, _rename_passenger_2)
    plan = plan_updates(frames, client=client)
    assert plan.ok and plan.diff.path.tolist() == ["airline.passengers[1].first_name"]
    # a file an editor changed: no base (its rows are planned as files are)
    path = tmp_path / "export" / "passengers.csv"
    table = read_table(path).frame.copy()
    table.iloc[0, table.columns.get_loc("first_name")] = "Edited"
    write_table(table, path)
    assert SessionFrames.read_csv(tmp_path / "export").base is None


def test_every_element_of_a_list_removed_clears_the_list_with_consent(client):
    frames = _fetch(client)
    p = frames.passengers
    frames.passengers = p[p.checkout_session_id.str.lower() != S0.lower()].reset_index(drop=True)
    upload = edits_upload(frames)
    assert upload.tables["sessions"].text["airline.passengers"].tolist() == ["#N/A"]
    plan = plan_updates(frames, client=client)
    assert plan.ok, plan.problems
    assert plan.consent and plan.item(S0).destructive
    apply_plan(plan, client=client, allow_destructive=True)
    assert not (client.get_checkout_session(S0)["airline"] or {}).get("passengers")


def test_a_list_emptied_here_and_changed_there_is_a_conflict(client):
    frames = _fetch(client)
    p = frames.passengers
    frames.passengers = p[p.checkout_session_id.str.lower() != S0.lower()].reset_index(drop=True)

    def add_one(airline, **_):
        airline["passengers"].append(dict(airline["passengers"][0], first_name="Newcomer"))
        return {"airline": airline}

    _other_writer(client, S0, add_one)
    plan = plan_updates(frames, client=client)
    conflicts = plan.problems[plan.problems.rule == "stale"]
    assert not plan.ok and len(conflicts) == 1
    assert "you removed every passenger, but the passengers changed since the fetch" in conflicts.message.iloc[0]
    assert plan.changes == []


def test_an_export_an_editor_changed_read_with_pandas_is_checked_as_its_files(client, tmp_path):
    from gr4vy_nb.export import export_sessions
    from gr4vy_nb.tables.files import read_table, write_table

    export_sessions([S0, S1], client, tmp_path / "export")
    path = tmp_path / "export" / "passengers.csv"
    table = read_table(path).frame.copy()
    table.iloc[0, table.columns.get_loc("first_name")] = "Edited in a spreadsheet"
    write_table(table, path)
    frames = SessionFrames.read_csv(tmp_path / "export")
    assert frames.base is None and frames.versions

    def rename(airline, **_):
        airline["passengers"][0]["first_name"] = "Theirs"
        return {"airline": airline}

    _other_writer(client, S0, rename)
    plan = plan_updates(frames, client=client)
    stale = plan.problems[plan.problems.rule == "stale"]
    assert not plan.ok and len(stale) >= 1 and set(stale.column) == {"row_version"}
