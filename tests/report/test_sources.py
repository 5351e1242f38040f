"""Where report data comes from: a JSONL export, a folder of CSVs (rule breakers listed), ids fetched."""

from __future__ import annotations

import pandas as pd
import pytest

from gr4vy_nb import report
from gr4vy_nb.errors import InputError
from gr4vy_nb.tables.frames import flatten_sessions
from tests.paths import SAMPLE
from tests.report.helpers import CANARIES, FIXTURE, NOW


def test_report_command_from_jsonl(tmp_path):
    out = report.report_command(str(FIXTURE / "sessions.jsonl"), str(tmp_path / "a.html"), now=NOW)
    assert out == (tmp_path / "a.html").resolve() and out.stat().st_size > 10_000
    assert not list(tmp_path.glob("*.part")), "written atomically"


def test_report_command_from_a_folder_of_csvs(tmp_path):
    sample = flatten_sessions(SAMPLE)
    sample.to_csv(tmp_path / "export")
    loaded, notes = report.load_frames(tmp_path / "export")
    assert notes == []
    for summary in (report.sessions_overview, report.by_category, report.routes, report.empty_fields):
        pd.testing.assert_frame_equal(summary(loaded), summary(sample))
    out = report.report_command(str(tmp_path / "export"), str(tmp_path / "b.html"), raw=False, now=NOW)
    assert "<h2>Data quality</h2>" in out.read_text(encoding="utf-8")


def test_csv_cells_breaking_rules_are_reported_not_fatal(frames, tmp_path):
    frames.to_csv(tmp_path / "export")  # the fixture's rule breakers: an upload would refuse these files
    loaded, notes = report.load_frames(tmp_path / "export")
    assert len(notes) == 1 and "break the rules" in notes[0]
    assert len(loaded) == 7 and "currency" in set(loaded.warnings["column"])
    text = report.build_report(loaded, path=tmp_path / "b.html", now=NOW, notes=notes).read_text(encoding="utf-8")
    assert "Problems found reading the files" in text and "three-letter currency code" in text
    assert not [c for c in CANARIES if c.lower() in text.lower()]


def test_report_command_from_ids_fetched_from_the_sandbox(sandbox, tmp_path):
    from gr4vy_nb.api.client import Gr4vyClient
    from gr4vy_nb.config import Settings

    sample = flatten_sessions(SAMPLE)
    ids = sample.sessions["checkout_session_id"].head(5).tolist()
    unknown = "00000000-0000-4000-8000-000000000000"
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join([*ids, unknown]) + "\n", encoding="utf-8")
    with Gr4vyClient(Settings.for_sandbox(sandbox, timeouts=(2, 5))) as client:
        frames, notes = report.load_frames(ids_file, client=client)
        out = report.report_command(str(ids_file), str(tmp_path / "c.html"), client=client, now=NOW)
    assert sorted(frames.sessions["checkout_session_id"]) == sorted(ids)
    assert len(notes) == 1 and unknown in notes[0] and "1 of 6" in notes[0]
    assert unknown in out.read_text(encoding="utf-8")
    # The list is read as export reads it: a human header, spaces trimmed and a repeat dropped, said in the notes.
    ids_file.write_text("Checkout Session ID\n" + "\n".join([f" {ids[0]} ", *ids[1:], ids[1]]) + "\n")
    with Gr4vyClient(Settings.for_sandbox(sandbox, timeouts=(2, 5))) as client:
        frames, notes = report.load_frames(ids_file, client=client)
    assert sorted(frames.sessions["checkout_session_id"]) == sorted(ids)
    assert notes == ["ids.txt: 1 id(s) had spaces around them, trimmed (line 2)",
                     "ids.txt: 1 id(s) listed again, dropped (line 7)"]


def test_ids_without_a_configured_target_is_a_config_error(tmp_path, monkeypatch):
    from gr4vy_nb.config import ENV_VARS
    from gr4vy_nb.errors import ConfigError

    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # and no .env file here
    ids = tmp_path / "ids.txt"
    ids.write_text("00000000-0000-4000-8000-000000000000\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no Gr4vy target"):
        report.report_command(str(ids), str(tmp_path / "x.html"))
    assert not (tmp_path / "x.html").exists()


def test_bad_sources(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        report.load_frames(tmp_path / "nope")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x"}\nnot json\n', encoding="utf-8")
    with pytest.raises(InputError, match="line 2"):
        report.load_frames(bad)
