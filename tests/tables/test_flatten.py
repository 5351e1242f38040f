"""Flattening: JSON sessions to typed tables, the fast path equal to the reference path, nothing lost, JSONL."""

from __future__ import annotations

import copy
import json

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gr4vy_nb.tables import flatten as _flatten
from gr4vy_nb.tables import spec as F
from gr4vy_nb.tables.frames import flatten_sessions
from gr4vy_nb.tables.unflatten import normalize_session, unflatten_sessions
from tests.strategies import session, sessions
from tests.tables.helpers import HYP, SID2, make_session, reference_tables

# --------------------------------------------------------------------------- fast path = reference path


@settings(HYP, max_examples=60)
@given(sessions(unknown=True))
def test_fast_path_and_reference_path_agree(xs):
    fast = next(_flatten.chunks_from_objects(xs)) if xs else None
    if fast is None:
        return
    reference = reference_tables(copy.deepcopy(xs))
    for table in F.TABLES:
        assert fast[table].equals(reference[table]), table


@settings(HYP, max_examples=20)
@given(sessions(unknown=True, max_size=6), st.integers(1, 3))
def test_jsonl_and_chunked_objects_give_the_same_frames(tmp_path_factory, xs, chunk):
    path = tmp_path_factory.mktemp("jsonl") / "s.jsonl"
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in xs))
    whole = flatten_sessions(xs)
    assert flatten_sessions(path).equals(whole)
    assert flatten_sessions(iter(xs), chunk_size=chunk).equals(whole)


def test_metadata_columns_follow_the_scalars(sample_frames):
    names = list(sample_frames.sessions.columns)
    first = names.index("metadata." + sample_frames.metadata_keys[0])
    assert names[first - 1] == "payment_service_id" and names[first + len(sample_frames.metadata_keys)].startswith(
        "buyer.")


@settings(HYP, max_examples=20)
@given(session())
def test_twenty_legs_fit_and_round_trip(x):
    x = {**x, "airline": {"legs": [{"flight_number": f"{i:04d}"} for i in range(20)]}}
    frames = flatten_sessions([x])
    assert frames.legs["leg_index"].tolist() == list(range(20))
    assert unflatten_sessions(frames) == [normalize_session(x)]


def test_date_like_metadata_stays_text_on_the_fast_path():
    xs = [make_session(metadata={"shipped": "2024-05-01", "at": "2024-05-01T10:00:00"}),
          {**make_session(metadata={"other": "x"}), "id": SID2}]
    arr = _flatten._fast_chunk(b"\n".join(orjson.dumps(x) for x in xs))  # no fallback to the slow path
    assert pa.types.is_large_string(arr.type.field("metadata").type.field("shipped").type)
    assert unflatten_sessions(flatten_sessions(xs)) == [normalize_session(x) for x in xs]
    with pytest.raises(_flatten._Fallback):
        _flatten._fast_chunk(orjson.dumps(make_session(metadata={"n": 5})))


# --------------------------------------------------------------------------- nothing is lost


def test_unknown_fields_are_kept_in_extra_at_every_depth():
    x = make_session(status="pending", buyer={"display_name": "Ana", "nickname": {"a": 1, "b": None}},
                     cart_items=[{"name": "x", "quantity": 1, "unit_amount": 5, "gift": True}],
                     airline={"legs": [{"gate": "B7"}], "loyalty_tier": "gold"})
    frames = flatten_sessions([x])
    assert orjson.loads(frames.sessions["extra"][0]) == {"status": "pending", "buyer": {"nickname": {"a": 1}},
                                                        "airline": {"loyalty_tier": "gold"}}
    assert orjson.loads(frames.cart_items["extra"][0]) == {"gift": True}
    assert orjson.loads(frames.legs["extra"][0]) == {"gate": "B7"}
    expected = {**x, "type": "checkout-session", "buyer": {"display_name": "Ana", "nickname": {"a": 1}}}
    assert unflatten_sessions(frames) == [expected]


@pytest.mark.parametrize("bad", [
    {"amount": "12"}, {"amount": 12.5}, {"amount": True}, {"amount": 2**70}, {"zz_big": -(2**80)}, {"currency": 123},
    {"metadata": {"k": 5, "ok": "v"}}, {"buyer": "Ana"}, {"cart_items": {"name": "x"}},
    {"cart_items": [{"name": "x", "quantity": "2", "unit_amount": 1}]}, {"cart_items": ["x"]},
    {"airline": {"legs": [{"stop_over": "yes", "departure_at": "2024-07-16 19:23"}]}},
    {"airline": {"passengers": [{"date_of_birth": "16/07/2013"}]}},
    {"airline": {"issued_at": "2024-13-01T00:00:00Z"}},
    {"expires_at": "2030-01-01T00:00:00"}, {"type": "something-else"},
    {"payment_method": {"type": "other", "label": "x"}},
])
def test_values_of_the_wrong_type_are_kept_exactly(bad):
    x = make_session(**bad)
    frames = flatten_sessions([x])
    assert frames.sessions["extra"].notna().any() or frames.cart_items["extra"].notna().any() or \
        frames.legs["extra"].notna().any() or frames.passengers["extra"].notna().any()
    back = unflatten_sessions(frames)[0]
    for key, value in bad.items():
        got = back[key]
        if isinstance(value, dict) and isinstance(got, dict):
            got = {k: v for k, v in got.items() if k not in ("type", "method") or k in value}
        assert got == value
    # and the same through the reference path directly
    assert reference_tables([x])["sessions"].equals(next(_flatten.chunks_from_objects([x]))["sessions"])


# --------------------------------------------------------------------------- JSONL


def test_jsonl_errors_name_the_line(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(orjson.dumps(make_session()) + b"\n\n{not json}\n")
    with pytest.raises(ValueError, match="line 3: not valid JSON"):
        flatten_sessions(path)
    path.write_bytes(orjson.dumps(make_session()) + b"\n[1, 2]\n")
    with pytest.raises(ValueError, match="line 2: a session must be a JSON object"):
        flatten_sessions(path)
    with pytest.raises(TypeError, match="not a single session"):
        flatten_sessions(make_session())


def test_jsonl_keeps_integers_beyond_64_bits(tmp_path):
    x = make_session(zz_big=-(2**80), buyer={"zz_n": 2**64 + 1})
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps(x) + "\n")
    assert unflatten_sessions(flatten_sessions(path)) == [{**x, "type": "checkout-session"}]


def test_big_jsonl_is_read_in_chunks(tmp_path, sample):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in sample))
    chunks = list(_flatten.chunks_from_jsonl(path, chunk_bytes=20_000))
    assert len(chunks) > 5
    assert flatten_sessions(path).equals(flatten_sessions(sample))
    assert sum(len(c["sessions"]) for c in chunks) == len(sample)
    # The pieces' text buffers are reused: no table may still point into one.
    pieces = _flatten._assemble(_flatten.chunks_from_jsonl(path, chunk_bytes=20_000))
    expected = flatten_sessions(sample)
    assert all(pieces[t].equals(expected[t]) for t in pieces)


def test_a_bad_line_in_a_later_chunk_is_named_by_its_line(tmp_path, sample):
    lines = [orjson.dumps(s) for s in sample]
    lines[len(lines) - 3] = b'{"id": "broken'
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with pytest.raises(ValueError, match=f"line {len(lines) - 2}: not valid JSON"):
        list(_flatten.chunks_from_jsonl(path, chunk_bytes=20_000))


def test_a_line_longer_than_a_chunk_is_read_whole(tmp_path, sample):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in sample[:5]))
    chunks = list(_flatten.chunks_from_jsonl(path, chunk_bytes=100))
    assert sum(len(c["sessions"]) for c in chunks) == 5
    assert flatten_sessions(path).equals(flatten_sessions(sample[:5]))
