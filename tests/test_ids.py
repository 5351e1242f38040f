"""Session ids: one pattern, one canonical form, one parser of pasted or file text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gr4vy_nb.ids import UUID_RE, canonical_id, is_id_header, is_session_id, parse_session_ids, split_ids

SID = "4d645fa6-d13c-413a-82f8-eda197b1165f"


@pytest.mark.parametrize(("value", "expected"), [
    (SID, SID),
    (SID.upper(), SID),
    (f"  {SID}\t", SID),
    (f'"{SID}"', SID),
    (f"{{{SID}}}", SID),
    (f"{SID}\n", SID),
    ("4d645fa6d13c413a82f8eda197b1165f", None),  # no dashes
    (SID[:-1], None),
    (SID + "0", None),
    ("", None),
    (None, None),
    (123, None),
])
def test_canonical_id(value, expected):
    assert canonical_id(value) == expected


def test_is_session_id_is_exact():
    assert is_session_id(SID) and is_session_id(SID.upper())
    # Python's $ matches before a final newline; an id goes into a URL path, so it must not.
    assert not is_session_id(SID + "\n")
    assert not is_session_id(" " + SID)
    assert not is_session_id(None)


@pytest.mark.parametrize(("text", "ids", "rejected"), [
    (f"{SID}\n{SID.upper()}\n", [SID], []),
    (f"{SID}, nope; 'x' | {{{SID}}}", [SID], ["nope", "x"]),
    (f"checkout_session_id\n{SID}\n", [SID], []),
    (f"\ufeffcheckout_session_id,amount\n{SID},1\nbad,2\n", [SID], ["bad"]),
    (f"checkout_session_id;amount\n{SID};1\n", [SID], []),
    (f"Checkout Session ID\n{SID}\n", [SID], []),  # a header as a person types it: not three values
    (f'"checkout_session_id"\n"{SID}"\n', [SID], []),
    ("", [], []),
])
def test_parse_session_ids(text, ids, rejected):
    assert parse_session_ids(text) == (ids, rejected)


def test_split_ids_skips_the_header_and_empty_tokens():
    assert list(split_ids(f"  checkout_session_id  \n\n{SID} ,, ")) == [SID]


@given(st.uuids())
def test_every_uuid_round_trips(value):
    text = str(value)
    assert UUID_RE.fullmatch(text) and canonical_id(text.upper()) == text
    assert parse_session_ids(f"{text.upper()}\n{text}") == ([text], [])


@pytest.mark.parametrize(("text", "expected"), [
    ("checkout_session_id", True), ('"checkout_session_id"', True), ("Checkout Session ID", True),
    (" CHECKOUT-SESSION-ID ", True), ("session_id", False), ("id", False), (SID, False), (None, False),
])
def test_is_id_header(text, expected):
    assert is_id_header(text) is expected
