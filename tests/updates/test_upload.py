"""The upload: read from bytes, DataFrames and paths, each file told its table, pointers located in its rows."""

from __future__ import annotations

import pandas as pd
import pytest

from gr4vy_nb.updates.plan import plan_updates
from gr4vy_nb.updates.upload import locate, read_upload
from tests.updates.helpers import S0, write


def test_uploads_as_bytes_dataframes_and_paths(tmp_path, client):
    text = f"checkout_session_id,metadata.tag\n{S0},x\n"
    as_bytes = plan_updates({"sessions.csv": text.encode()}, client=client)
    as_frame = plan_updates({"sessions": pd.DataFrame({"checkout_session_id": [S0], "metadata.tag": ["x"]})},
                            client=client)
    as_path = plan_updates([write(tmp_path, "my edits.csv", text)], client=client)
    assert as_bytes.item(S0).body == as_frame.item(S0).body == as_path.item(S0).body
    assert as_path.inputs[0]["sha256"] and as_bytes.inputs == []


def test_table_is_told_by_name_then_index_column_then_columns(tmp_path):
    write(tmp_path, "x_cart_items.csv", f"checkout_session_id,name\n{S0},a\n")
    write(tmp_path, "legs_fix.csv", f"checkout_session_id,leg_index\n{S0},0\n")
    write(tmp_path, "people.csv", f"checkout_session_id,first_name,age_group\n{S0},a,adult\n")
    upload = read_upload([tmp_path / "x_cart_items.csv", tmp_path / "legs_fix.csv", tmp_path / "people.csv"])
    assert sorted(upload.tables) == ["cart_items", "legs", "passengers"]


@pytest.mark.parametrize("pointer,expected", [
    ("/cart_items/1/quantity", ("cart_items.csv", 7, "quantity")),
    ("/cart_items/1/categories/0", ("cart_items.csv", 7, "categories")),
    ("/cart_items", ("cart_items.csv", 5, "item_index")),
    ("/airline/legs/0/flight_number", ("sessions.csv", 2, "airline.legs.flight_number")),
    ("/metadata/tag", ("sessions.csv", 2, "metadata.tag")),
    ("/buyer/billing_details/address/city", ("sessions.csv", 2, "buyer.billing_details.address.city")),
    ("/body/amount", ("sessions.csv", 2, "amount")),
])
def test_locate_maps_pointers_to_rows(pointer, expected):
    where = {"sessions": ["sessions.csv", 2], "cart_items": [["cart_items.csv", 5], ["cart_items.csv", 7]]}
    assert locate(pointer, where) == expected
    assert locate("/amount", {}) == (None, None, "amount")


def test_ids_with_spaces_around_them_are_trimmed_as_the_id_lists_are_with_a_warning(tmp_path, client):
    from tests.updates.helpers import S1

    write(tmp_path, "sessions.csv", f"checkout_session_id,metadata.tag\n {S0} ,x\n{S1.upper()},y\n")
    write(tmp_path, "cart_items.csv", f"checkout_session_id,item_index,quantity\n{S0}\t,0,3\n")
    plan = plan_updates(tmp_path, client=client, lists="patch")
    assert plan.ok and {i.session_id for i in plan.changes} == {S0, S1}
    trimmed = plan.problems[plan.problems["rule"] == "spaces_trimmed"]
    assert sorted(trimmed[["file", "line", "severity"]].values.tolist()) == [["cart_items.csv", 2, "warning"],
                                                                               ["sessions.csv", 2, "warning"]]
    assert read_upload(tmp_path).tables["sessions"].text["checkout_session_id"].tolist() == [S0, S1.upper()]
    write(tmp_path, "sessions.csv", f"checkout_session_id,metadata.tag\n {S0}x ,x\n")  # not an id: refused as it is
    assert plan_updates(tmp_path, client=client, lists="patch").errors["value"].tolist() == [f" {S0}x "]
