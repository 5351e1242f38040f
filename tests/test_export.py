"""Export by id against the sandbox over real HTTP, and reading id files."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from gr4vy_nb.api.auth import generate_private_key_pem
from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.api.retry import RetryPolicy
from gr4vy_nb.config import Settings
from gr4vy_nb.errors import AuthError, InputError, NotFound
from gr4vy_nb.export import export_sessions, read_ids, write_export
from gr4vy_nb.sandbox import UNKNOWN_FIELD
from gr4vy_nb.tables.files import read_table
from gr4vy_nb.tables.frames import SessionFrames, flatten_sessions, normalize_session, unflatten_sessions
from tests.paths import SAMPLE

FAST = RetryPolicy(max_attempts=2, backoff_base=0.001, backoff_cap=0.002)
ABSENT = ["00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"]


@pytest.fixture(scope="module")
def sample_ids() -> list[str]:
    return [json.loads(line)["id"] for line in SAMPLE.read_text().splitlines() if line.strip()]


# --------------------------------------------------------------------------- read_ids


def test_text_file_of_ids(tmp_path, sample_ids):
    path = tmp_path / "ids.txt"
    path.write_text("# sessions to fix\n" + f"{sample_ids[0]}\n\n  {sample_ids[1]}  \n{sample_ids[0]}\n")
    assert read_ids(path) == sample_ids[:2]
    path.write_text(f"checkout_session_id\n{sample_ids[2]}\n")
    assert read_ids(path) == [sample_ids[2]]


def test_csv_with_a_checkout_session_id_column(tmp_path, sample_ids):
    path = tmp_path / "errors.csv"
    path.write_bytes(("\ufeffamount,checkout_session_id,error\n"
                      f"1,{sample_ids[3]},x\n2,,y\n3,{sample_ids[4]},\"a,b\"\n").encode())
    assert read_ids(path) == [sample_ids[3], sample_ids[4]]
    path.write_text(f"checkout_session_id;amount\n{sample_ids[5]};1\n")
    assert read_ids(path) == [sample_ids[5]]


def test_an_export_is_a_valid_id_file(tmp_path, sample_ids):
    frames = flatten_sessions([{"id": i, "expires_at": "2030-01-01T00:00:00Z"} for i in sample_ids[:3]])
    paths = frames.to_csv(tmp_path)
    assert read_ids(paths["sessions"]) == sample_ids[:3]


@pytest.mark.parametrize("content,rule,line", [
    ("4d645fa6-d13c-413a-82f8-eda197b1165f\nnot-an-id\n12345\n", "uuid", 2),
    ("checkout_session_id,x\nabc,1\n", "uuid", 2),
    ("id,amount\n4d645fa6-d13c-413a-82f8-eda197b1165f,1\n", "required", 1),
    ("# nothing here\n\n", "empty", None),
])
def test_bad_id_files(tmp_path, content, rule, line):
    path = tmp_path / "ids.csv"
    path.write_text(content)
    with pytest.raises(InputError) as info:
        read_ids(path)
    problems = info.value.problems
    assert problems["rule"].iloc[0] == rule and (problems["file"] == "ids.csv").all()
    assert (problems["line"].iloc[0] == line) if line else pd.isna(problems["line"].iloc[0])
    if rule == "uuid" and "12345" in content:
        assert problems["line"].tolist() == [2, 3]


@pytest.mark.parametrize("header", ['"checkout_session_id"', "Checkout Session ID", "checkout_session_id"])
def test_id_lists_take_their_own_quoted_header_and_a_human_one(tmp_path, sample_ids, header):
    path = tmp_path / "ids.csv"
    path.write_text(f'{header}\n"{sample_ids[0]}"\n {sample_ids[1]}\n{sample_ids[0]}\n')
    assert read_ids(path) == sample_ids[:2]


def test_an_xlsx_id_list_is_read_as_a_csv_one(tmp_path, sample_ids):
    from openpyxl import Workbook

    book = Workbook()
    for row in (["Checkout Session ID", "note"], [sample_ids[2], "a"], [f" {sample_ids[3]} ", "b"]):
        book.active.append(row)
    book.save(tmp_path / "ids.xlsx")
    assert read_ids(tmp_path / "ids.xlsx") == sample_ids[2:4]


def test_export_command_says_what_it_trimmed_and_dropped(env, tmp_path, capsys, sample_ids):
    from gr4vy_nb.cli import main

    (tmp_path / "ids.txt").write_text(f"checkout_session_id\n{sample_ids[0]}\n  {sample_ids[1]}\n{sample_ids[0]}\n")
    assert main(["export", "ids.txt", "--out", "out"]) == 0
    out = capsys.readouterr().out
    assert "note: ids.txt: 1 id(s) had spaces around them, trimmed (line 3)" in out
    assert "note: ids.txt: 1 id(s) listed again, dropped (line 4)" in out and "exported 2 of 2" in out


def test_binary_id_file_is_refused(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_bytes(b"PK\x03\x04binary")
    with pytest.raises(InputError, match="Excel workbook"):
        read_ids(path)


# --------------------------------------------------------------------------- export


def test_export_against_the_sandbox(sandbox_clean, tmp_path, sample_ids):
    wanted = [*sample_ids[:25], *ABSENT]
    calls = []
    with Gr4vyClient(Settings.for_sandbox(sandbox_clean, retry=FAST), workers=4) as client:
        result = export_sessions([*wanted, sample_ids[0]], client, tmp_path / "out",
                                 progress=lambda done, total: calls.append((done, total)))
        fetched = [client.get_checkout_session(i) for i in sample_ids[:25]]
    assert (result.requested, result.exported, result.failed, result.exit_code) == (27, 25, 2, 1)
    assert calls[-1] == (27, 27)
    assert {p.name for p in (tmp_path / "out").iterdir()} == {
        "sessions.csv", "cart_items.csv", "legs.csv", "passengers.csv", "not_found.csv"}
    assert result.frames.equals(flatten_sessions(fetched))
    assert SessionFrames.read_csv(tmp_path / "out").equals(result.frames)
    assert result.frames.sessions["checkout_session_id"].tolist() == sample_ids[:25]
    missing = read_table(result.files["not_found"]).frame
    assert missing["checkout_session_id"].tolist() == ABSENT
    assert missing["status"].tolist() == ["404", "404"] and missing["reason"].notna().all()
    assert "25 of 27 sessions exported" in result.summary() and "not_found.csv" in result.summary()


def test_export_with_nothing_failed_writes_an_empty_not_found(sandbox_clean, tmp_path, sample_ids):
    with Gr4vyClient(Settings.for_sandbox(sandbox_clean, retry=FAST)) as client:
        result = export_sessions(sample_ids[:3], client, tmp_path)
    assert result.exit_code == 0 and result.failed == 0
    assert read_table(result.files["not_found"]).frame.columns.tolist() == [
        "checkout_session_id", "status", "code", "reason"]


def test_bad_credentials_raise_and_write_nothing(sandbox, tmp_path, sample_ids):
    key = tmp_path / "other.pem"
    key.write_bytes(generate_private_key_pem())
    settings = Settings.for_sandbox(sandbox.base_url, private_key_file=key, retry=FAST)
    with Gr4vyClient(settings) as client, pytest.raises(AuthError):
        export_sessions(sample_ids[:2], client, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_write_export_from_results(tmp_path):
    sid = "4d645fa6-d13c-413a-82f8-eda197b1165f"
    results = {sid: {"id": sid, "expires_at": "2030-01-01T00:00:00Z", "amount": 5},
               ABSENT[0]: NotFound(status=404, code="not_found", session_id=ABSENT[0])}
    result = write_export(results, tmp_path)
    assert result.failures.to_dict("records") == [
        {"checkout_session_id": ABSENT[0], "status": 404, "code": "not_found",
         "reason": "session not found or expired"}]
    assert result.frames.sessions["amount"].tolist() == [5]
    assert repr(result) == f"ExportResult(2 requested, 1 exported, 1 failed -> {tmp_path})"


def test_fields_unknown_to_this_version_survive_an_export(sandbox_clean, tmp_path, sample_ids):
    sandbox_clean.configure(unknown_fields=True)
    with Gr4vyClient(Settings.for_sandbox(sandbox_clean, retry=FAST)) as client:
        result = export_sessions(sample_ids[:10], client, tmp_path)
        fetched = [client.get_checkout_session(i) for i in sample_ids[:10]]
    assert any(UNKNOWN_FIELD in s for s in fetched)
    assert result.frames.sessions["extra"].str.contains(UNKNOWN_FIELD).all()
    again = SessionFrames.read_csv(tmp_path)
    assert unflatten_sessions(again) == [normalize_session(s) for s in fetched]


# --------------------------------------------------------------------------- XLSX and long values (issue 13)


def test_export_as_xlsx_round_trips_to_zero_changes(sandbox_clean, tmp_path, sample_ids):
    from openpyxl import load_workbook

    from gr4vy_nb.updates.plan import plan_updates

    with Gr4vyClient(Settings.for_sandbox(sandbox_clean), workers=4) as client:
        result = export_sessions(sample_ids[:20], client, tmp_path / "out", format="xlsx")
        assert set(result.files) == {"workbook", "not_found"} and result.files["workbook"].name == "export.xlsx"
        book = load_workbook(result.files["workbook"])
        assert book.sheetnames == ["sessions", "cart_items", "legs", "passengers"]
        items = book["cart_items"]
        header = [c.value for c in items[1]]
        sku = items.cell(row=2, column=header.index("sku") + 1)
        assert sku.data_type == "s" and sku.value == "021464"  # a text cell: the leading zero survives Excel
        plan = plan_updates(result.files["workbook"], client=client)
        assert plan.ok and plan.changes == [] and plan.diff.empty, plan.problems.to_string()
        assert plan.problems.empty


def test_export_warns_about_values_a_spreadsheet_cell_cannot_hold(tmp_path):
    sid = "4d645fa6-d13c-413a-82f8-eda197b1165f"
    results = {sid: {"id": sid, "expires_at": "2030-01-01T00:00:00Z", "metadata": {"note": "T" * 40_000}}}
    result = write_export(results, tmp_path)
    warnings = result.warnings
    assert [(r.file, r.line, r.column, r.rule, r.severity) for r in warnings.itertuples()] == [
        ("sessions.csv", 2, "metadata.note", "cell_too_long", "warning")]
    assert "40,000 characters" in warnings.message.iloc[0] and "32,767" in warnings.message.iloc[0]
    assert write_export(results, tmp_path / "x", format="xlsx").warnings.file.tolist() == ["export.xlsx:sessions"]
    with pytest.raises(ValueError):
        write_export(results, tmp_path, format="ods")
