"""Values as the API compares them: the canonical form and leaf diffs."""

from __future__ import annotations

from gr4vy_nb.updates.compare import canonical, leaf_diff


def test_canonical_treats_null_missing_empty_and_defaults_alike():
    assert canonical("metadata", {}) is None and canonical("cart_items", []) is None
    a = canonical("cart_items", [{"name": "a", "quantity": 1, "unit_amount": 5}])
    b = canonical("cart_items", [{"name": "a", "quantity": 1, "unit_amount": 5, "discount_amount": 0, "sku": None}])
    assert a == b
    legs1 = canonical("airline", {"legs": [{"departure_at": "2013-07-16T19:23:00.000+00:00"}]})
    legs2 = canonical("airline", {"legs": [{"departure_at": "2013-07-16T21:23:00+02:00"}], "unknown": 1})
    assert legs1 == legs2


def test_leaf_diff_paths():
    before = {"a": 1, "items": [{"x": 1}, {"x": 2}], "cats": ["p", "q"]}
    after = {"a": 1, "items": [{"x": 1}], "cats": ["p"]}
    assert leaf_diff(before, after, "f") == [("f.items[1].x", 2, None), ("f.cats", ["p", "q"], ["p"])]
