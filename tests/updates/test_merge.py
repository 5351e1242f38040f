"""Merging an upload onto the current sessions (DESIGN.md "Update semantics"), rule by rule, over HTTP.

Each test writes a small upload (real CSV files), plans it against the seeded sandbox and
checks the bodies, the diff and the notes. The seed's first session (``S0``) has 3 cart
items (SKUs with leading zeros), metadata ``channel/order_ref/campaign``, an airline with 2
legs and 4 passengers, and a card payment method.
"""

from __future__ import annotations

import pytest

from gr4vy_nb.errors import InputError
from gr4vy_nb.tables.frames import flatten_sessions
from gr4vy_nb.updates.notes import NoteCode
from gr4vy_nb.updates.plan import plan_updates
from tests.updates.helpers import MISSING, NO_AIRLINE, S0, S1, SEED, errors_of, plan_of, write

# ----------------------------------------------------------------------------- sessions.csv


def test_a_cell_sets_a_field_and_only_changed_top_level_fields_are_sent(tmp_path, client):
    plan = plan_of(tmp_path, client, sessions=f"checkout_session_id,metadata.tag\n{S0},q4-review\n")
    assert plan.ok and plan.summary["changed"] == 1
    item = plan.item(S0)
    assert set(item.body) == {"metadata", "expires_in"}
    assert item.body["metadata"] == {"channel": "ios", "order_ref": "ORD-000000", "campaign": "winter-sale",
                                     "tag": "q4-review"}
    assert item.body["expires_in"] == 3600
    assert plan.diff[["path", "before", "after"]].values.tolist() == [["metadata.tag", None, "q4-review"]]
    assert plan.diff.loc[0, ["file", "line", "column"]].tolist() == ["sessions.csv", 2, "metadata.tag"]


def test_empty_cell_is_unchanged_and_a_session_with_no_change_is_not_sent(tmp_path, client):
    plan = plan_of(tmp_path, client, sessions=f"""\
        checkout_session_id,metadata.channel,amount,currency
        {S0},,,
        {S1},{SEED[1]['metadata']['channel']},{SEED[1]['amount']},
    """)
    assert plan.ok
    assert [i.status for i in plan.items] == ["unchanged", "unchanged"]
    assert plan.changes == [] and plan.diff.empty


def test_na_marker_clears_a_metadata_key_and_a_scalar(tmp_path, client):
    plan = plan_of(tmp_path, client, sessions=f"checkout_session_id,metadata.campaign,amount\n{S0},#N/A,#N/A\n")
    body = plan.item(S0).body
    assert body["metadata"] == {"channel": "ios", "order_ref": "ORD-000000"}
    assert body["amount"] is None
    assert sorted(plan.diff.path) == ["amount", "metadata.campaign"]


def test_quoted_na_is_the_literal_text_not_a_clear(tmp_path, client):
    plan = plan_of(tmp_path, client, sessions=f"checkout_session_id,metadata.campaign,metadata.note\n{S0},'#N/A,NA\n")
    assert plan.item(S0).body["metadata"]["campaign"] == "#N/A"
    assert plan.item(S0).body["metadata"]["note"] == "NA"  # no NA detection: NA is data


@pytest.mark.parametrize("column", ["cart_items", "airline", "buyer", "metadata"])
def test_na_in_an_object_or_list_column_clears_it_whole(tmp_path, client, column):
    sid = S0 if column != "buyer" else S1
    plan = plan_of(tmp_path, client, sessions=f"checkout_session_id,{column}\n{sid},#N/A\n")
    assert plan.ok, plan.problems
    item = plan.item(sid)
    assert item.body[column] is None and set(item.body) == {column, "expires_in"}
    assert f"clears {column}" in item.message  # a destructive change: named, warned about, counted
    assert [d["path"] for d in item.destructive] == [column]
    assert plan.warnings["rule"].tolist() == ["destructive"]


def test_clearing_legs_inside_airline_keeps_the_rest_of_airline(tmp_path, client):
    plan = plan_of(tmp_path, client, sessions=f"checkout_session_id,airline.legs\n{S0},#N/A\n")
    airline = plan.item(S0).body["airline"]
    assert "legs" not in airline and len(airline["passengers"]) == 4
    assert airline["booking_code"] == SEED[0]["airline"]["booking_code"]


def test_not_found_sessions_are_listed_not_sent(tmp_path, client):
    plan = plan_of(tmp_path, client, sessions=f"checkout_session_id,metadata.tag\n{MISSING},x\n{S0},x\n")
    assert [i.status for i in plan.items] == ["not_found", "change"]
    assert plan.summary["not_found"] == 1
    assert plan.item(MISSING).source["rows"] == [["sessions", 2]]


# ----------------------------------------------------------------------------- child tables


def test_child_rows_are_the_complete_new_list_and_keep_current_values(tmp_path, client):
    plan = plan_of(tmp_path, client, cart_items=f"""\
        checkout_session_id,item_index,tax_amount
        {S0},2,1900
        {S0},0,
    """)
    item = plan.item(S0)
    current = SEED[0]["cart_items"]
    assert [c["sku"] for c in item.body["cart_items"]] == ["021464", "022148"]  # index order, item 1 dropped
    assert item.body["cart_items"][0]["categories"] == current[0]["categories"]  # empty cell: current value
    assert item.body["cart_items"][1]["tax_amount"] == 1900
    # keyed by the current index: item 2 is kept (now at position 1), item 1 removed (a destructive change)
    assert item.message == "keeps cart items #0, #2 (now at position 1); removes cart items #1 of 3"
    assert [d["path"] for d in item.destructive] == ["cart_items[1]"]
    assert set(item.body) == {"cart_items", "expires_in"}
    paths = dict(zip(plan.diff.path, zip(plan.diff.line, plan.diff.column, strict=True), strict=True))
    assert paths["cart_items[2].tax_amount"] == (2, "tax_amount")  # the row that set it, named by current index
    assert paths["cart_items[1].sku"] == (3, "item_index")  # removed: the session's first row, by index column


def test_rows_without_index_are_new_elements_after_the_indexed_ones(tmp_path, client):
    plan = plan_of(tmp_path, client, cart_items=f"""\
        checkout_session_id,item_index,name,quantity,unit_amount
        {S0},,Gift wrap,1,300
        {S0},0,,,
        {S0},1,,,
        {S0},2,,,
    """)
    items = plan.item(S0).body["cart_items"]
    assert [c["name"] for c in items] == ["Travel adapter", "Trail running shoes", "Trail running shoes", "Gift wrap"]
    assert items[3] == {"name": "Gift wrap", "quantity": 1, "unit_amount": 300}


def test_a_new_row_missing_a_required_field_is_located_by_file_line_column(tmp_path, client):
    plan = plan_of(tmp_path, client, cart_items=f"""\
        checkout_session_id,item_index,name,quantity,unit_amount
        {S0},0,,,
        {S0},,Gift wrap,1,
    """)
    assert errors_of(plan) == [["cart_items.csv", 3, "unit_amount", "api.missing"]]


def test_na_in_a_child_cell_clears_that_field_and_is_refused_for_required_ones(tmp_path, client):
    plan = plan_of(tmp_path / "a", client, cart_items=f"""\
        checkout_session_id,item_index,sku
        {S0},0,#N/A
        {S0},1,
        {S0},2,
    """)
    assert "sku" not in plan.item(S0).body["cart_items"][0]
    bad = plan_of(tmp_path / "b", client, cart_items=f"checkout_session_id,item_index,name\n{S0},0,#N/A\n")
    assert errors_of(bad) == [["cart_items.csv", 2, "name", "clear_not_allowed"]]


def test_passengers_are_merged_into_the_current_airline(tmp_path, client):
    passengers = SEED[0]["airline"]["passengers"]
    rows = "".join(f"{S0},{i},\n" for i in range(1, len(passengers)))
    plan = plan_of(tmp_path, client, passengers=f"checkout_session_id,passenger_index,last_name\n{S0},0,Nul\n{rows}")
    airline = plan.item(S0).body["airline"]
    assert airline["passengers"][0]["last_name"] == "Nul"
    assert airline["passengers"][0]["first_name"] == passengers[0]["first_name"]
    assert len(airline["legs"]) == 2 and airline["booking_code"] == SEED[0]["airline"]["booking_code"]
    diff = plan.diff
    assert diff.path.tolist() == ["airline.passengers[0].last_name"]
    assert bool(diff.personal.iloc[0])
    masked = plan.masked_diff()
    assert "Nul" not in str(masked.after.iloc[0]) and "Null" not in str(masked.before.iloc[0])


def test_legs_for_a_session_without_airline_create_one(tmp_path, client):
    plan = plan_of(tmp_path, client, legs=f"""\
        checkout_session_id,leg_index,carrier_code,flight_number,departure_at
        {NO_AIRLINE},0,BA,BA123,2099-01-01T10:00:00+01:00
    """)
    airline = plan.item(NO_AIRLINE).body["airline"]
    assert airline == {"legs": [{"carrier_code": "BA", "flight_number": "BA123",
                                 "departure_at": "2099-01-01T09:00:00Z"}]}


def test_clearing_airline_while_giving_legs_is_a_contradiction(tmp_path, client):
    plan = plan_of(tmp_path, client, sessions=f"checkout_session_id,airline\n{S0},#N/A\n",
                   legs=f"checkout_session_id,leg_index,flight_number\n{S0},0,IB1234\n{S0},1,\n")
    assert [r[3] for r in errors_of(plan)] == ["contradiction"]


# ----------------------------------------------------------------------------- plan-level


def test_expiry_reset_is_shown_and_expires_in_is_checked(tmp_path, client):
    write(tmp_path, "sessions.csv", f"checkout_session_id,metadata.tag\n{S0},x\n")
    plan = plan_updates(tmp_path, client=client, expires_in=7200)
    assert plan.item(S0).body["expires_in"] == 7200
    assert any("expire 2 h after its update" in n.text for n in plan.notes if n.code == NoteCode.EXPIRY_RESET)
    with pytest.raises(InputError, match="expires_in"):
        plan_updates(tmp_path, client=client, expires_in=60)


# ----------------------------------------------------------------------------- a newer API


def test_fields_unknown_to_this_version_are_sent_back_unchanged_and_named(tmp_path, client, sandbox_clean):
    sandbox_clean.configure(unknown_fields=True)  # every response carries fields this version does not know
    got = client.get_checkout_sessions([S0, S1])
    flatten_sessions(list(got.values())).to_csv(tmp_path / "export")
    assert plan_updates(tmp_path / "export", client=client).summary["changed"] == 0  # still a no-op
    plan = plan_of(tmp_path / "edit", client, sessions=f"checkout_session_id,airline.booking_code\n{S0},NEW123\n")
    assert plan.ok
    item = plan.item(S0)
    airline = item.body["airline"]
    current = got[S0]["airline"]
    assert airline["booking_code"] == "NEW123"
    assert airline["sandbox_future_field"] == current["sandbox_future_field"]
    assert [leg["sandbox_future_field"] for leg in airline["legs"]] == [
        leg["sandbox_future_field"] for leg in current["legs"]]
    assert plan.warnings.empty  # nothing is dropped, so there is nothing to warn about
    assert "this version does not know, sent back unchanged: airline.legs[].sandbox_future_field" in item.message
    assert any("sent back unchanged" in n.text for n in plan.notes if n.kind == "carries_unknown")
