"""Values as the API compares them: the canonical form and leaf diffs."""

from __future__ import annotations

from gr4vy_nb.updates.compare import canonical, carried_item, carried_value, known_part, leaf_diff


def test_canonical_treats_null_missing_empty_and_defaults_alike():
    assert canonical("metadata", {}) is None and canonical("cart_items", []) is None
    a = canonical("cart_items", [{"name": "a", "quantity": 1, "unit_amount": 5}])
    b = canonical("cart_items", [{"name": "a", "quantity": 1, "unit_amount": 5, "discount_amount": 0, "sku": None}])
    assert a == b
    legs1 = canonical("airline", {"legs": [{"departure_at": "2013-07-16T19:23:00.000+00:00"}]})
    legs2 = canonical("airline", {"legs": [{"departure_at": "2013-07-16T21:23:00+02:00"}]})
    assert legs1 == legs2


def test_canonical_keeps_fields_this_version_does_not_know_at_every_depth():
    """A change in a field the toolkit does not know is a change: nothing unknown is compared away."""
    base = {"legs": [{"departure_at": "2013-07-16T19:23:00+00:00", "x_leg": {"a": 1}}], "x_top": 1,
            "passengers": [{"first_name": "A", "x_p": [1, 2]}]}
    got = canonical("airline", base)
    assert got["x_top"] == 1 and got["legs"][0]["x_leg"] == {"a": 1} and got["passengers"][0]["x_p"] == [1, 2]
    assert got["legs"][0]["departure_at"] == "2013-07-16T19:23:00Z"
    assert canonical("airline", base) != canonical("airline", {**base, "x_top": 2})
    buyer = {"billing_details": {"address": {"city": "X", "x_addr": "y"}}, "x_buyer": True}
    assert canonical("buyer", buyer)["billing_details"]["address"]["x_addr"] == "y"
    assert canonical("buyer", buyer)["x_buyer"] is True


def test_carried_values_keep_every_field_and_the_known_part_names_the_rest():
    airline = {"booking_code": "B", "x_top": None, "x_new": {"deep": [1]},
               "legs": [{"flight_number": "1", "x_leg": 2}], "passengers": [{"title": "Mr.", "x_p": "v"}]}
    carried = carried_value("airline", airline)
    assert carried == {"booking_code": "B", "x_new": {"deep": [1]}, "legs": [{"flight_number": "1", "x_leg": 2}],
                       "passengers": [{"title": "Mr.", "x_p": "v"}]}
    carried["x_new"]["deep"].append(2)
    assert airline["x_new"]["deep"] == [1]  # a copy
    unknown: list[str] = []
    known = known_part("airline", airline, unknown)
    assert known == {"booking_code": "B", "legs": [{"flight_number": "1"}], "passengers": [{"title": "Mr."}]}
    assert sorted(unknown) == ["airline.legs[0].x_leg", "airline.passengers[0].x_p", "airline.x_new"]
    item = {"name": "a", "quantity": 1, "unit_amount": 1, "brand": "B", "subcategories": ["s"], "x_item": 1}
    assert carried_item("cart_items", item) == item


def test_leaf_diff_paths():
    before = {"a": 1, "items": [{"x": 1}, {"x": 2}], "cats": ["p", "q"]}
    after = {"a": 1, "items": [{"x": 1}], "cats": ["p"]}
    assert leaf_diff(before, after, "f") == [("f.items[1].x", 2, None), ("f.cats", ["p", "q"], ["p"])]
