"""SessionFrames: the sample data, len, repr, select, masked, and the CSV, JSONL and Excel files."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from gr4vy_nb.schema import CheckoutSession
from gr4vy_nb.tables import spec as F
from gr4vy_nb.tables.frames import SessionFrames, flatten_sessions
from gr4vy_nb.tables.unflatten import normalize_session, unflatten_sessions
from tests.paths import SAMPLE
from tests.strategies import sessions
from tests.tables.helpers import HYP, SID, make_session

# --------------------------------------------------------------------------- files round trip


@settings(HYP, max_examples=30)
@given(sessions(unknown=True))
def test_csv_round_trip_is_lossless(tmp_path_factory, xs):
    frames = flatten_sessions(xs)
    folder = tmp_path_factory.mktemp("csv")
    frames.to_csv(folder)
    again = SessionFrames.read_csv(folder)
    assert again.equals(frames)
    assert unflatten_sessions(again) == [normalize_session(x) for x in xs]


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


def test_read_csv_keeps_delimiter_warning(tmp_path):
    (tmp_path / "sessions.csv").write_text(f"checkout_session_id;amount\n{SID};1299\n")
    frames = SessionFrames.read_csv(tmp_path)
    assert frames.sessions["amount"].tolist() == [1299]
    assert frames.warnings["rule"].tolist() == ["delimiter"]


def test_to_excel_one_sheet_per_table_and_no_formulas(tmp_path):
    from openpyxl import load_workbook

    x = make_session(buyer={"display_name": '=HYPERLINK("http://evil.example","x")'}, amount=1299,
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
    # Numbers as numbers; date-times as the CSV's text, so the workbook read back plans no change.
    assert row["amount"].value == 1299 and row["expires_at"].value == "2030-01-01T00:00:00Z"
    assert row["expires_at"].data_type == "s"
    items = book["cart_items"]
    assert [c.value for c in items[2]][[c.value for c in items[1]].index("categories")] == "a|b"


def test_jsonl_file_round_trip(sample_frames, tmp_path):
    path = tmp_path / "out.jsonl"
    sample_frames.to_jsonl(path)
    assert SessionFrames.read_jsonl(path).equals(sample_frames)
