"""Row versions (issue 21, item 1): the text, and every round trip an export takes keeps it.

The column is text no editor takes for a number, a date or a formula: LibreOffice (both import settings), Gnumeric
(``ssconvert``), XLSX (written by the export, and saved by LibreOffice and Gnumeric), pandas' defaults
(tests/updates/test_stale.py) and patch mode keep every version as exported, and a saved file still finds a stale row.
The spreadsheet programs are skipped where not installed (``.ci/run`` installs both).
"""

from __future__ import annotations

import copy
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.config import Settings
from gr4vy_nb.export import export_sessions
from gr4vy_nb.tables.files import read_table
from gr4vy_nb.tables.frames import SessionFrames, flatten_sessions
from gr4vy_nb.tables.reader import read_tables
from gr4vy_nb.tables.versions import VERSION_COLUMN, VERSION_PATTERN, row_texts, row_versions, version_of, with_versions
from gr4vy_nb.updates.plan import plan_updates
from tests.updates.helpers import S0, SEED

TABLES = ("sessions", "cart_items", "legs", "passengers")
IDS = [s["id"] for s in SEED[:3]]
LIBREOFFICE_IMPORTS = {"default": "CSV:44,34,76,1", "special_numbers": "CSV:44,34,76,1,,1033,false,true"}
needs_soffice = pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) is not installed")
needs_gnumeric = pytest.mark.skipif(shutil.which("ssconvert") is None, reason="Gnumeric (ssconvert) is not installed")


@pytest.fixture
def client(sandbox_clean):
    with Gr4vyClient(Settings.for_sandbox(sandbox_clean), workers=4) as c:
        yield c


def _versions(folder: Path) -> dict[str, list[str]]:
    """Each table's versions as a reader gets them, from the four CSVs or one workbook in ``folder``."""
    tables, problems = read_tables(folder)
    assert not (problems["severity"] == "error").any(), problems
    return {t: table.text[VERSION_COLUMN].tolist() for t, table in tables.items()}


def _version_problems(plan) -> list[str]:
    """What the plan says about versions: stale rows and the "could not be checked" notes."""
    return [*plan.problems[plan.problems.rule == "stale"].message,
            *(n.text for n in plan.notes if VERSION_COLUMN in n.text)]


def _rename_passenger(client, sid: str = S0) -> None:
    """Another writer renames passenger #1 of ``sid``."""
    airline = copy.deepcopy(client.get_checkout_session(sid)["airline"])
    airline["passengers"][1]["first_name"] = "Other"
    client.update_checkout_session(sid, {"airline": airline})


def _check_saved(client, exported: dict[str, list[str]], saved: Path) -> None:
    """The saved files hold the exported versions, plan no version problem, and still find a stale row."""
    versions = _versions(saved)
    assert versions == {t: v for t, v in exported.items() if t in versions} and versions
    plan = plan_updates(saved, client=client, allow_spreadsheet_rewrites=True)
    assert _version_problems(plan) == []
    if "passengers" in versions:
        _rename_passenger(client)
        stale = plan_updates(saved, client=client, allow_spreadsheet_rewrites=True)
        rows = stale.problems[stale.problems.rule == "stale"]
        assert rows.line.tolist() == [3] and "first_name" in rows.message.iloc[0], rows


# ----------------------------------------------------------------------------- the text itself


def test_versions_look_like_no_number_date_or_formula_and_ignore_volatile_and_empty_cells():
    frames = flatten_sessions(SEED[:20])
    for table, df in frames.tables().items():
        versions = row_versions(table, df)
        assert len(versions) == len(df) and all(VERSION_PATTERN.match(v) for v in versions)
        assert len(set(versions)) == len(versions)  # every row (its key and index included) differs
    sessions = frames.sessions
    moved = sessions.assign(expires_at=sessions["expires_at"] + pd.Timedelta(hours=5))
    assert row_versions("sessions", moved) == row_versions("sessions", sessions)  # expires_at is left out
    # An export of fewer sessions has fewer metadata columns: the versions are the same.
    assert row_versions("sessions", flatten_sessions(SEED[:1]).sessions) == row_versions("sessions", sessions)[:1]
    assert list(with_versions(frames.tables())["legs"].columns)[-1] == VERSION_COLUMN


@given(st.dictionaries(st.sampled_from(["a", "b", "metadata.x:y", "c"]), st.text(max_size=8)))
def test_version_of_is_deterministic_and_empty_cells_do_not_count(cells):
    assert version_of(cells) == version_of(dict(reversed(list(cells.items()))))
    assert version_of(cells) == version_of({k: v for k, v in cells.items() if v})
    assert re.fullmatch(r"v[a-z2-7]{16}", version_of(cells))


def test_same_row_hashes_the_same_as_version_of():
    df = flatten_sessions(SEED[:2]).passengers
    assert [version_of(cells) for cells in row_texts("passengers", df)] == row_versions("passengers", df)


# ----------------------------------------------------------------------------- round trips


def test_export_csv_and_xlsx_carry_versions_and_frames_read_back_equal(client, tmp_path):
    csv = export_sessions(IDS, client, tmp_path / "csv")
    xlsx = export_sessions(IDS, client, tmp_path / "xlsx", format="xlsx")
    assert _versions(tmp_path / "csv") == _versions(tmp_path / "xlsx")
    assert all(VERSION_PATTERN.match(v) for vs in _versions(tmp_path / "csv").values() for v in vs)
    assert SessionFrames.read_csv(tmp_path / "csv").equals(csv.frames)  # the frames keep the spec's columns
    assert SessionFrames.read_csv(tmp_path / "xlsx").equals(xlsx.frames)
    plan = plan_updates(tmp_path / "xlsx", client=client)
    assert plan.ok and plan.diff.empty and _version_problems(plan) == []
    _rename_passenger(client)
    plan = plan_updates(tmp_path / "xlsx", client=client)
    assert plan.problems[plan.problems.rule == "stale"].file.tolist() == ["export.xlsx:passengers"]


def test_patch_mode_checks_versions_too(client, tmp_path):
    export_sessions(IDS, client, tmp_path / "export")
    folder = tmp_path / "patch"
    folder.mkdir()
    frame = read_table(tmp_path / "export" / "passengers.csv").frame
    frame.iloc[[0, 2]].to_csv(folder / "passengers.csv", index=False)  # two rows of S0: #0 and #2
    plan = plan_updates(folder, client=client, lists="patch")
    assert plan.ok and plan.diff.empty and _version_problems(plan) == []
    airline = copy.deepcopy(client.get_checkout_session(S0)["airline"])
    airline["passengers"][2]["last_name"] = "Changed"
    client.update_checkout_session(S0, {"airline": airline})
    plan = plan_updates(folder, client=client, lists="patch")
    stale = plan.problems[plan.problems.rule == "stale"]
    assert stale.line.tolist() == [3] and "passenger #2 has changed since this file was exported: last_name" in \
        stale.message.iloc[0]
    assert plan.changes == [] and not plan.ok


@needs_soffice
@pytest.mark.parametrize("infilter", list(LIBREOFFICE_IMPORTS.values()), ids=list(LIBREOFFICE_IMPORTS))
def test_libreoffice_keeps_the_versions(client, tmp_path, infilter):
    export = tmp_path / "export"
    export_sessions(IDS, client, export)
    exported = _versions(export)
    saved = tmp_path / "saved"
    subprocess.run(["soffice", "--headless", f"--infilter={infilter}", "--convert-to",
                    "csv:Text - txt - csv (StarCalc):44,34,76,1", "--outdir", str(saved),
                    *(str(export / f"{t}.csv") for t in TABLES)], check=True, capture_output=True, timeout=240)
    _check_saved(client, exported, saved)
    book = tmp_path / "book"
    subprocess.run(["soffice", "--headless", f"--infilter={infilter}", "--convert-to", "xlsx", "--outdir", str(book),
                    str(export / "legs.csv")], check=True, capture_output=True, timeout=240)
    assert _versions(book) == {"legs": exported["legs"]}


@needs_gnumeric
def test_gnumeric_keeps_the_versions(client, tmp_path):
    export = tmp_path / "export"
    export_sessions(IDS, client, export)
    exported = _versions(export)
    saved, book = tmp_path / "saved", tmp_path / "book"
    saved.mkdir()
    book.mkdir()
    for t in TABLES:
        subprocess.run(["ssconvert", str(export / f"{t}.csv"), str(saved / f"{t}.csv")], check=True,
                       capture_output=True, timeout=120)
    subprocess.run(["ssconvert", str(export / "cart_items.csv"), str(book / "cart_items.xlsx")], check=True,
                   capture_output=True, timeout=120)
    assert _versions(book) == {"cart_items": exported["cart_items"]}
    _check_saved(client, exported, saved)
