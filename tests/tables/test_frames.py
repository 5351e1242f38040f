"""SessionFrames: flatten, the exact inverse, CSV/Excel/JSONL files, select, masked, presence."""

from __future__ import annotations

import copy
import datetime as dt
import json

import orjson
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gr4vy_nb.errors import InputError
from gr4vy_nb.schema import CheckoutSession
from gr4vy_nb.tables import flatten as _flatten
from gr4vy_nb.tables import spec as F
from gr4vy_nb.tables.frames import SessionFrames, flatten_sessions, normalize_session, presence, unflatten_sessions
from tests.paths import SAMPLE
from tests.strategies import session, sessions

SID = "4d645fa6-d13c-413a-82f8-eda197b1165f"
SID2 = "5e756fb7-e24d-424b-93f9-fea2a8c2276a"
HYP = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def sample() -> list[dict]:
    return [orjson.loads(line) for line in SAMPLE.read_bytes().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def sample_frames(sample) -> SessionFrames:
    return flatten_sessions(sample)


def _session(**fields) -> dict:
    return {"id": SID, "expires_at": "2030-01-01T00:00:00Z", **fields}


def _reference_tables(xs: list[dict]) -> dict[str, pa.Table]:
    extras = _flatten._Extras()
    arr, metadata = _flatten._reference_chunk(xs, extras)
    return _flatten._build_tables(arr, extras, metadata)


# --------------------------------------------------------------------------- the round trip


@settings(HYP, max_examples=100)
@given(sessions(unknown=True))
def test_unflatten_inverts_flatten(xs):
    assert unflatten_sessions(flatten_sessions(xs)) == [normalize_session(x) for x in xs]


@settings(HYP, max_examples=60)
@given(sessions(unknown=True))
def test_fast_path_and_reference_path_agree(xs):
    fast = next(_flatten.chunks_from_objects(xs)) if xs else None
    if fast is None:
        return
    reference = _reference_tables(copy.deepcopy(xs))
    for table in F.TABLES:
        assert fast[table].equals(reference[table]), table


@settings(HYP, max_examples=30)
@given(sessions(unknown=True))
def test_csv_round_trip_is_lossless(tmp_path_factory, xs):
    frames = flatten_sessions(xs)
    folder = tmp_path_factory.mktemp("csv")
    frames.to_csv(folder)
    again = SessionFrames.read_csv(folder)
    assert again.equals(frames)
    assert unflatten_sessions(again) == [normalize_session(x) for x in xs]


@settings(HYP, max_examples=20)
@given(sessions(unknown=True, max_size=6), st.integers(1, 3))
def test_jsonl_and_chunked_objects_give_the_same_frames(tmp_path_factory, xs, chunk):
    path = tmp_path_factory.mktemp("jsonl") / "s.jsonl"
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in xs))
    whole = flatten_sessions(xs)
    assert flatten_sessions(path).equals(whole)
    assert flatten_sessions(iter(xs), chunk_size=chunk).equals(whole)


def test_sample_data(sample, sample_frames, tmp_path):
    frames = sample_frames
    assert len(frames) == len(sample) == 200
    assert len(frames.cart_items) == sum(len(s.get("cart_items") or []) for s in sample)
    assert len(frames.legs) == sum(len((s.get("airline") or {}).get("legs") or []) for s in sample)
    assert len(frames.passengers) == sum(len((s.get("airline") or {}).get("passengers") or []) for s in sample)
    assert unflatten_sessions(frames) == [normalize_session(s) for s in sample]
    assert flatten_sessions(SAMPLE).equals(frames)
    assert flatten_sessions([CheckoutSession.model_validate(s) for s in sample]).equals(frames)
    frames.to_csv(tmp_path)
    assert SessionFrames.read_csv(tmp_path).equals(frames)
    keys = {k for s in sample for k in (s.get("metadata") or {})}
    assert frames.metadata_keys == sorted(keys)


def test_columns_and_dtypes_are_fixed_even_when_empty():
    for frames in (flatten_sessions([]), SessionFrames(), flatten_sessions([_session()])):
        for table, df in frames.tables().items():
            assert list(df.columns) == F.columns(table)
            assert [str(d) for d in df.dtypes] == [str(f.dtype) for f in F.table_fields(table)]


def test_metadata_columns_follow_the_scalars(sample_frames):
    names = list(sample_frames.sessions.columns)
    first = names.index("metadata." + sample_frames.metadata_keys[0])
    assert names[first - 1] == "payment_service_id" and names[first + len(sample_frames.metadata_keys)].startswith(
        "buyer.")


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
    x = _session(**given_fields)
    expected = {"id": SID, "expires_at": "2030-01-01T00:00:00Z", "type": "checkout-session", **canonical}
    assert normalize_session(x) == expected
    assert unflatten_sessions(flatten_sessions([x])) == [expected]


def test_presence_tells_objects_apart():
    xs = [_session(airline={"legs": [{"departure_airport": "LHR"}]}),
          {**_session(buyer={"display_name": "Ana"}, metadata={"k": ""}), "id": SID2}]
    marks = presence(flatten_sessions(xs))
    assert marks.loc[SID, "airline"] and marks.loc[SID, "airline.legs"] and not marks.loc[SID, "buyer"]
    assert not marks.loc[SID, "airline.passengers"] and not marks.loc[SID, "metadata"]
    assert marks.loc[SID2, "buyer"] and marks.loc[SID2, "metadata"] and not marks.loc[SID2, "airline"]
    assert not marks.loc[SID2, "buyer.billing_details"]


# --------------------------------------------------------------------------- nothing is lost


def test_unknown_fields_are_kept_in_extra_at_every_depth():
    x = _session(status="pending", buyer={"display_name": "Ana", "nickname": {"a": 1, "b": None}},
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
    x = _session(**bad)
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
    assert _reference_tables([x])["sessions"].equals(next(_flatten.chunks_from_objects([x]))["sessions"])


def test_jsonl_errors_name_the_line(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(orjson.dumps(_session()) + b"\n\n{not json}\n")
    with pytest.raises(ValueError, match="line 3: not valid JSON"):
        flatten_sessions(path)
    path.write_bytes(orjson.dumps(_session()) + b"\n[1, 2]\n")
    with pytest.raises(ValueError, match="line 2: a session must be a JSON object"):
        flatten_sessions(path)
    with pytest.raises(TypeError, match="not a single session"):
        flatten_sessions(_session())


def test_jsonl_keeps_integers_beyond_64_bits(tmp_path):
    x = _session(zz_big=-(2**80), buyer={"zz_n": 2**64 + 1})
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps(x) + "\n")
    assert unflatten_sessions(flatten_sessions(path)) == [{**x, "type": "checkout-session"}]


def test_big_jsonl_is_read_in_chunks(tmp_path, sample):
    path = tmp_path / "s.jsonl"
    path.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in sample))
    chunks = list(_flatten.chunks_from_jsonl(path, chunk_bytes=20_000))
    assert len(chunks) > 5
    assert flatten_sessions(path).equals(flatten_sessions(sample))


# --------------------------------------------------------------------------- unflatten input


def test_unflatten_orders_children_by_index_and_checks_ids():
    frames = flatten_sessions([_session(cart_items=[{"name": n, "quantity": 1, "unit_amount": 1} for n in "abc"])])
    shuffled = SessionFrames(frames.sessions, frames.cart_items.iloc[[2, 0, 1]].reset_index(drop=True))
    assert [i["name"] for i in unflatten_sessions(shuffled)[0]["cart_items"]] == ["a", "b", "c"]
    orphan = frames.cart_items.copy()
    orphan.loc[0, "checkout_session_id"] = SID2
    with pytest.raises(ValueError, match=f"rows for session {SID2}, which is not in sessions"):
        unflatten_sessions(SessionFrames(frames.sessions, orphan))
    doubled = pd.concat([frames.sessions, frames.sessions], ignore_index=True)
    with pytest.raises(ValueError, match="more than once"):
        unflatten_sessions(SessionFrames(doubled))


def test_hand_built_frames_are_conformed():
    sessions_df = pd.DataFrame({"checkout_session_id": [SID], "expires_at": ["2030-01-01T00:00:00Z"],
                                "amount": [1299], "metadata.tag": ["q4"]})
    passengers = pd.DataFrame({"checkout_session_id": [SID], "passenger_index": [0],
                               "date_of_birth": ["1985-03-04"], "first_name": ["Ana"]})
    frames = SessionFrames(sessions_df, passengers=passengers)
    assert frames.sessions["expires_at"].dtype == F.field_for("sessions", "expires_at").dtype
    assert frames.passengers["date_of_birth"].tolist() == [dt.date(1985, 3, 4)]
    assert list(frames.sessions.columns) == F.columns("sessions", ["tag"])
    assert unflatten_sessions(frames) == [{
        "id": SID, "expires_at": "2030-01-01T00:00:00Z", "amount": 1299, "metadata": {"tag": "q4"},
        "type": "checkout-session", "airline": {"passengers": [{"date_of_birth": "1985-03-04", "first_name": "Ana"}]}}]
    with pytest.raises(ValueError, match="unknown columns"):
        SessionFrames(pd.DataFrame({"checkout_session_id": [SID], "colour": ["red"]}))


# --------------------------------------------------------------------------- SessionFrames


def test_len_repr_select(sample_frames, sample):
    assert len(sample_frames) == 200
    assert repr(sample_frames) == (f"SessionFrames(200 sessions, {len(sample_frames.cart_items)} cart_items, "
                                   f"{len(sample_frames.legs)} legs, {len(sample_frames.passengers)} passengers)")
    ids = [sample[5]["id"], sample[2]["id"]]
    picked = sample_frames.select(ids)
    assert picked.sessions["checkout_session_id"].tolist() == [sample[2]["id"], sample[5]["id"]]
    assert set(picked.cart_items["checkout_session_id"]) <= set(ids)
    assert unflatten_sessions(picked) == [normalize_session(sample[2]), normalize_session(sample[5])]
    absent = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(KeyError, match=absent):
        sample_frames.select([absent])
    assert len(sample_frames.select([absent, ids[0]], missing="ignore")) == 1


def test_masked_frames_hide_personal_data(sample_frames):
    masked = sample_frames.masked()
    assert masked.sessions["checkout_session_id"].equals(sample_frames.sessions["checkout_session_id"])
    raw = sample_frames.passengers["last_name"].dropna()
    hidden = masked.passengers["last_name"].dropna()
    assert not set(raw) & set(hidden) and raw.nunique() == hidden.nunique()
    assert masked.passengers["date_of_birth"].dropna().str.match(r"^\d{4}-\*\*-\*\* #[a-z2-7]{6}$").all()
    assert masked.sessions["currency"].equals(sample_frames.sessions["currency"])
    assert "SessionFrames(200 sessions" in repr(masked)


def test_read_csv_subsets_and_errors(sample_frames, tmp_path):
    paths = sample_frames.to_csv(tmp_path / "all")
    only_legs = SessionFrames.read_csv([paths["legs"]])
    assert only_legs.legs.equals(sample_frames.legs) and len(only_legs) == 0
    assert list(only_legs.sessions.columns) == F.columns("sessions")
    by_table = SessionFrames.read_csv({"passengers": paths["passengers"].read_bytes()})
    assert by_table.passengers.equals(sample_frames.passengers)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "legs.csv").write_text("checkout_session_id,leg_index,stop_over\nnot-a-uuid,0,yes\n")
    (bad / "sessions.csv").write_bytes(f"checkout_session_id,buyer.display_name\n{SID},Zoë\n".encode("cp1252"))
    with pytest.raises(InputError) as info:
        SessionFrames.read_csv(bad)
    problems = info.value.problems
    assert sorted(zip(problems["file"], problems["rule"], strict=True)) == [
        ("legs.csv", "type.boolean"), ("legs.csv", "uuid"), ("sessions.csv", "encoding")]
    with pytest.raises(InputError, match=r"no sessions\.csv"):
        SessionFrames.read_csv(tmp_path)
    with pytest.raises(InputError, match=r"orders\.csv: no such file"):
        SessionFrames.read_csv([tmp_path / "orders.csv"])
    # A file of another name tells its table by its columns, as an upload does.
    (tmp_path / "orders.csv").write_text(f"checkout_session_id,amount\n{SID},1299\n")
    assert SessionFrames.read_csv([tmp_path / "orders.csv"]).sessions["amount"].tolist() == [1299]


def test_read_csv_keeps_delimiter_warning(tmp_path):
    (tmp_path / "sessions.csv").write_text(f"checkout_session_id;amount\n{SID};1299\n")
    frames = SessionFrames.read_csv(tmp_path)
    assert frames.sessions["amount"].tolist() == [1299]
    assert frames.warnings["rule"].tolist() == ["delimiter"]


def test_to_excel_one_sheet_per_table_and_no_formulas(tmp_path):
    from openpyxl import load_workbook

    x = _session(buyer={"display_name": '=HYPERLINK("http://evil.example","x")'}, amount=1299,
                 airline={"passengers": [{"date_of_birth": "1985-03-04"}]},
                 cart_items=[{"name": "x", "quantity": 1, "unit_amount": 1, "categories": ["a", "b"]}])
    path = tmp_path / "s.xlsx"
    flatten_sessions([x]).to_excel(path)
    book = load_workbook(path)
    assert book.sheetnames == list(F.TABLES)
    sheet = book["sessions"]
    header = [c.value for c in sheet[1]]
    row = {h: c for h, c in zip(header, sheet[2], strict=True)}
    assert row["buyer.display_name"].data_type == "s" and row["buyer.display_name"].value.startswith("=HYPERLINK")
    assert row["amount"].value == 1299 and row["expires_at"].value == dt.datetime(2030, 1, 1)
    items = book["cart_items"]
    assert [c.value for c in items[2]][[c.value for c in items[1]].index("categories")] == "a|b"


def test_jsonl_file_round_trip(sample_frames, tmp_path):
    path = tmp_path / "out.jsonl"
    sample_frames.to_jsonl(path)
    assert SessionFrames.read_jsonl(path).equals(sample_frames)


@settings(HYP, max_examples=20)
@given(session())
def test_twenty_legs_fit_and_round_trip(x):
    x = {**x, "airline": {"legs": [{"flight_number": f"{i:04d}"} for i in range(20)]}}
    frames = flatten_sessions([x])
    assert frames.legs["leg_index"].tolist() == list(range(20))
    assert unflatten_sessions(frames) == [normalize_session(x)]


def test_date_like_metadata_stays_text_on_the_fast_path():
    xs = [_session(metadata={"shipped": "2024-05-01", "at": "2024-05-01T10:00:00"}),
          {**_session(metadata={"other": "x"}), "id": SID2}]
    arr = _flatten._fast_chunk(b"\n".join(orjson.dumps(x) for x in xs))  # no fallback to the slow path
    assert pa.types.is_large_string(arr.type.field("metadata").type.field("shipped").type)
    assert unflatten_sessions(flatten_sessions(xs)) == [normalize_session(x) for x in xs]
    with pytest.raises(_flatten._Fallback):
        _flatten._fast_chunk(orjson.dumps(_session(metadata={"n": 5})))
