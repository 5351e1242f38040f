"""The table reader: tables read from files, folders and mappings; table-level problems (columns, keys, masking)."""

from __future__ import annotations

import pandas as pd
import pytest

from gr4vy_nb.errors import InputError
from gr4vy_nb.tables import spec as F
from gr4vy_nb.tables.files import read_table
from gr4vy_nb.tables.frames import SessionFrames
from gr4vy_nb.tables.reader import parse_cells
from tests.tables.helpers import SID, SID2, text_frame

# --------------------------------------------------------------------------- read_frames (SessionFrames.read_csv)


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


# --------------------------------------------------------------------------- parse_cells: the table level


def test_problems_are_all_collected_at_once_in_file_coordinates():
    frame = text_frame({"checkout_session_id": [SID, "bad", SID2], "amount": ["12.5", "1", "x"],
                        "currency": ["GBP", "gbp", "EUR"]}, first_line=5)
    problems = parse_cells("sessions", frame, file="upload/sessions.csv").problems
    assert sorted(zip(problems["line"], problems["column"], problems["rule"], strict=True)) == [
        (5, "amount", "type.integer"), (6, "checkout_session_id", "uuid"), (6, "currency", "pattern"),
        (7, "amount", "type.integer")]
    assert (problems["file"] == "upload/sessions.csv").all()


def test_personal_values_are_masked_in_problems():
    frame = text_frame({"checkout_session_id": [SID], "passenger_index": ["0"], "phone_number": ["+44 7700 900123"],
                        "date_of_birth": ["04/03/1985"]})
    problems = parse_cells("passengers", frame).problems
    assert len(problems) == 2
    for value in problems["value"]:
        assert "7700" not in value and "1985" not in value[:0] + value.split("#")[-1]
    assert problems.set_index("column").loc["phone_number", "value"].startswith("+44")
    raw = parse_cells("passengers", frame, mask=False).problems
    assert "+44 7700 900123" in raw["value"].tolist()


def test_keys_required_and_unique():
    frame = text_frame({"checkout_session_id": [SID, None, SID], "amount": ["1", "2", "3"]})
    problems = parse_cells("sessions", frame).problems
    assert problems[["line", "rule"]].values.tolist() == [[3, "required"], [4, "duplicate_key"]]
    assert "already on line 2" in problems["message"].iloc[1]
    frame = text_frame({"checkout_session_id": [SID, SID, SID2, SID], "item_index": ["0", "1", "0", "1"]})
    problems = parse_cells("cart_items", frame).problems
    assert problems[["line", "column", "rule"]].values.tolist() == [[5, "item_index", "duplicate_key"]]
    assert "already has item_index 1 on line 3" in problems["message"].iloc[0]


def test_a_session_with_21_legs_is_refused_once_at_the_21st_row():
    ids = [SID] * 21 + [SID2] * 20
    frame = text_frame({"checkout_session_id": ids, "departure_airport": ["LHR"] * 41})
    problems = parse_cells("legs", frame, file="legs.csv").problems
    assert problems[["line", "column", "rule"]].values.tolist() == [[22, "checkout_session_id", "max_items"]]
    assert "has 21 legs; at most 20" in problems["message"].iloc[0]


def test_unknown_columns_are_reported_with_a_hint():
    frame = text_frame({"checkout_session_id": [SID], "Amount": ["1"], "departure_airport": ["x"], "colour": ["red"]})
    problems = parse_cells("sessions", frame).problems.set_index("column")
    assert set(problems["rule"]) == {"unknown_column"} and (problems["line"] == 1).all()
    assert "did you mean 'amount'" in problems.loc["Amount", "message"]
    assert "belongs in legs.csv" in problems.loc["departure_airport", "message"]
    assert "metadata.colour" not in problems.index  # metadata.<any key> is a column, colour is not
    assert parse_cells("sessions", text_frame({"checkout_session_id": [SID], "metadata.colour": ["red"]})).ok


def test_cleared_cells_are_skipped():
    table = read_table(f"checkout_session_id,amount,metadata.note\n{SID},#N/A,'#N/A\n".encode())
    parsed = parse_cells("sessions", table.frame, cleared=table.cleared)
    assert parsed.ok and pd.isna(parsed.frame["amount"].iloc[0])
    assert parsed.frame["metadata.note"].tolist() == ["#N/A"]  # written '#N/A: data, not the marker
    unparsed = parse_cells("sessions", table.frame)  # without the mask, #N/A is just bad text
    assert unparsed.problems["rule"].tolist() == ["type.integer"]


def test_a_child_table_without_key_column_is_reported():
    problems = parse_cells("legs", text_frame({"departure_airport": ["LHR"]})).problems
    assert problems[["column", "rule"]].values.tolist() == [["checkout_session_id", "required"]]


def test_masked_problems_do_not_quote_personal_values_in_their_message() -> None:
    import pandas as pd

    from gr4vy_nb.tables.reader import parse_cells

    frame = pd.DataFrame({"checkout_session_id": ["8d3fe99b-1422-42e6-bbb3-932d95ae5f79"], "passenger_index": ["0"],
                          "phone_number": ["0044-CANARY-PHONE"]}, index=[2]).astype("string")
    masked = parse_cells("passengers", frame).problems
    assert len(masked) == 1 and "CANARY" not in masked.to_string()
    raw = parse_cells("passengers", frame, mask=False).problems
    assert "0044-CANARY-PHONE" in raw["message"].iloc[0]


def test_tables_read_two_at_a_time_keep_the_callers_encoding(tmp_path):
    from gr4vy_nb.tables.files import default_encoding

    (tmp_path / "sessions.csv").write_bytes(f"checkout_session_id,buyer.display_name\n{SID},Zoë\n".encode("cp1252"))
    (tmp_path / "passengers.csv").write_bytes(
        f"checkout_session_id,passenger_index,first_name\n{SID},0,René\n".encode("cp1252"))
    with default_encoding("cp1252"):
        frames = SessionFrames.read_csv(tmp_path)
    assert frames.sessions["buyer.display_name"].tolist() == ["Zoë"]
    assert frames.passengers["first_name"].tolist() == ["René"]


def test_tables_read_two_at_a_time_report_as_one_at_a_time(tmp_path, monkeypatch):
    from gr4vy_nb.tables import reader

    (tmp_path / "sessions.csv").write_text(f"checkout_session_id,amount,currency\n{SID},12.5,gbp\nbad,1,EUR\n")
    (tmp_path / "legs.csv").write_text(f"checkout_session_id,leg_index,stop_over\n{SID},0,yes\n{SID},0,no\n")
    (tmp_path / "cart_items.csv").write_text(f"checkout_session_id,item_index,quantity\n{SID},0,x\n")
    (tmp_path / "passengers.csv").write_text("checkout_session_id,passenger_index,age\nnope,0,1\n")
    _frames, together = reader.read_frames(tmp_path, errors="collect")
    monkeypatch.setattr(reader, "_in_parallel", lambda fn, items: [fn(*item) for item in items])
    _frames, alone = reader.read_frames(tmp_path, errors="collect")
    assert len(together) >= 6 and together.equals(alone)
