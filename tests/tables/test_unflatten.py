"""Unflattening: the exact inverse of flattening, the canonical form it gives, and presence."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings

from gr4vy_nb.tables.frames import SessionFrames, flatten_sessions
from gr4vy_nb.tables.unflatten import normalize_session, presence, unflatten_sessions
from tests.strategies import sessions
from tests.tables.helpers import HYP, SID, SID2, make_session

# --------------------------------------------------------------------------- the round trip


@settings(HYP, max_examples=100)
@given(sessions(unknown=True))
def test_unflatten_inverts_flatten(xs):
    assert unflatten_sessions(flatten_sessions(xs)) == [normalize_session(x) for x in xs]


# --------------------------------------------------------------------------- canonical form


@pytest.mark.parametrize("given_fields,canonical", [
    ({"cart_items": None}, {}), ({"cart_items": []}, {}), ({"metadata": {}}, {}), ({"metadata": None}, {}),
    ({"buyer": None}, {}), ({"buyer": {}}, {}), ({"buyer": {"billing_details": {"address": {}}}}, {}),
    ({"airline": {}}, {}), ({"airline": {"legs": [], "passengers": None}}, {}),
    ({"payment_method": {"type": "payment-method", "method": "card"}}, {}),
    ({"payment_method": {"label": "1111"}},
     {"payment_method": {"label": "1111", "type": "payment-method", "method": "card"}}),
    ({"airline": {"legs": [{}]}}, {"airline": {"legs": [{}]}}),
    ({"metadata": {"empty": ""}}, {"metadata": {"empty": ""}}),
    ({"cart_items": [{"name": "x", "quantity": 1, "unit_amount": 0, "categories": []}]},
     {"cart_items": [{"name": "x", "quantity": 1, "unit_amount": 0}]}),
    ({"expires_at": "2030-01-01T02:00:00.250+02:00"}, {"expires_at": "2030-01-01T00:00:00.250000Z"}),
    ({"type": "checkout-session", "amount": 0}, {"amount": 0}),
])
def test_canonical_form(given_fields, canonical):
    x = make_session(**given_fields)
    expected = {"id": SID, "expires_at": "2030-01-01T00:00:00Z", "type": "checkout-session", **canonical}
    assert normalize_session(x) == expected
    assert unflatten_sessions(flatten_sessions([x])) == [expected]


def test_presence_tells_objects_apart():
    xs = [make_session(airline={"legs": [{"departure_airport": "LHR"}]}),
          {**make_session(buyer={"display_name": "Ana"}, metadata={"k": ""}), "id": SID2}]
    marks = presence(flatten_sessions(xs))
    assert marks.loc[SID, "airline"] and marks.loc[SID, "airline.legs"] and not marks.loc[SID, "buyer"]
    assert not marks.loc[SID, "airline.passengers"] and not marks.loc[SID, "metadata"]
    assert marks.loc[SID2, "buyer"] and marks.loc[SID2, "metadata"] and not marks.loc[SID2, "airline"]
    assert not marks.loc[SID2, "buyer.billing_details"]


# --------------------------------------------------------------------------- unflatten input


def test_unflatten_orders_children_by_index_and_checks_ids():
    frames = flatten_sessions([make_session(cart_items=[{"name": n, "quantity": 1, "unit_amount": 1} for n in "abc"])])
    shuffled = SessionFrames(frames.sessions, frames.cart_items.iloc[[2, 0, 1]].reset_index(drop=True))
    assert [i["name"] for i in unflatten_sessions(shuffled)[0]["cart_items"]] == ["a", "b", "c"]
    orphan = frames.cart_items.copy()
    orphan.loc[0, "checkout_session_id"] = SID2
    with pytest.raises(ValueError, match=f"rows for session {SID2}, which is not in sessions"):
        unflatten_sessions(SessionFrames(frames.sessions, orphan))
    doubled = pd.concat([frames.sessions, frames.sessions], ignore_index=True)
    with pytest.raises(ValueError, match="more than once"):
        unflatten_sessions(SessionFrames(doubled))
