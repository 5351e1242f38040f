"""JSON pointers and paths: one encoder, one decoder, and the forms people read."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gr4vy_nb.pointers import decode, encode, field_of_path, field_of_pointer, path_text


@pytest.mark.parametrize(("parts", "pointer"), [
    ((), ""),
    (("cart_items", 0, "name"), "/cart_items/0/name"),
    (("metadata", "a/b~c"), "/metadata/a~1b~0c"),
    (("metadata", ""), "/metadata/"),
])
def test_encode(parts, pointer):
    assert encode(parts) == pointer


def test_decode_unescapes_in_the_right_order():
    assert decode("/metadata/a~01") == ["metadata", "a~1"]  # ~01 is "~1", not "/"
    assert decode("/cart_items/0/name") == ["cart_items", "0", "name"]
    assert decode("") == decode(None) == []
    assert decode("cart_items//0") == ["cart_items", "0"]


@given(st.lists(st.text(min_size=1), max_size=6))
def test_decode_inverts_encode(parts):
    assert decode(encode(parts)) == parts


def test_paths_and_fields():
    parts = ("airline", "passengers", 1, "first_name")
    assert path_text(parts) == "airline.passengers[1].first_name"
    assert field_of_path(path_text(parts)) == "airline.passengers.first_name"
    assert field_of_pointer(encode(parts)) == "airline.passengers.first_name"
    assert path_text(("cart_items", 0)) == "cart_items[0]"
    assert field_of_pointer("") == ""
