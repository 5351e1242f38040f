"""The standalone HTML report: self-contained, escaped, masked by default, opens in a real browser.

Canaries are planted in the fixture (names, emails, a passport number, a phone number,
an over-long name); the masked report must contain none of them, the raw one must show
the ones it displays (so the check can fail). The browser test needs ``/usr/bin/chromium``
(skipped with the reason when absent, failed instead when ``CI=true``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from gr4vy_nb import report
from gr4vy_nb.errors import InputError
from gr4vy_nb.tables.frames import SessionFrames, flatten_sessions
from tests.paths import FIXTURES, SAMPLE

FIXTURE = FIXTURES / "report_fixture"
NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
S1 = "11111111-1111-4111-8111-111111111111"
# Planted personal data: none may appear in a masked report.
CANARIES = ["Canaryfirst", "Zzcanarylast", "canary.buyer@example.com", "+441632960123", "Paxcanary",
            "CANARYPP123456", "CANARYPP654321", "canary.pax@example.com", "Longcanaryname", "CANARY-PHONE",
            "1980-05-05"]
# Those a raw report shows (the sample of sessions and the failing values).
RAW_SHOWN = ["Canaryfirst", "Zzcanarylast", "canary.buyer@example.com", "Longcanaryname", "0044-CANARY-PHONE"]
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def frames() -> SessionFrames:
    return flatten_sessions(FIXTURE / "sessions.jsonl")


@pytest.fixture(scope="module")
def run() -> pd.DataFrame:
    return pd.read_csv(FIXTURE / "run.csv", dtype="str")


@pytest.fixture(scope="module")
def html_masked(frames, run, tmp_path_factory) -> Path:
    return report.build_report(frames, run=run, path=tmp_path_factory.mktemp("r") / "report.html", now=NOW)


@pytest.fixture(scope="module")
def html_raw(frames, run, tmp_path_factory) -> Path:
    return report.build_report(frames, run=run, path=tmp_path_factory.mktemp("r") / "raw.html", now=NOW, raw=True)


def test_masked_report_has_no_planted_personal_data(html_masked):
    text = html_masked.read_text(encoding="utf-8")
    leaked = [c for c in CANARIES if c.lower() in text.lower()]
    assert not leaked, f"unmasked personal data in the report: {leaked}"
    assert "personal data masked" in text
    assert re.search(r"C\*\*\* #[a-z2-7]{6}", text), "masked values are shown in their masked form"


def test_raw_report_shows_personal_data_and_says_so(html_raw):
    text = html_raw.read_text(encoding="utf-8")
    missing = [c for c in RAW_SHOWN if c not in text]
    assert not missing, f"raw report should show {missing}"
    assert "RAW: contains personal data" in text


def test_counts_are_the_same_masked_or_raw(html_masked, html_raw):
    def numbers(path: Path) -> list[str]:
        text = path.read_text(encoding="utf-8")
        return re.findall(r'<td class="num">([^<]*)</td>', text)

    assert numbers(html_masked) == numbers(html_raw)


def test_values_are_escaped_and_nothing_runs(html_masked, html_raw):
    for path in (html_masked, html_raw):
        text = path.read_text(encoding="utf-8")
        assert "<script" not in text.lower(), "no script element, not even from data"
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # the product name, shown as text
        assert "<img src=x" not in text and "&lt;img src=x onerror=alert(2)&gt;" in text  # a metadata value
        assert "onerror=" not in re.sub(r"&lt;.*?&gt;", "", text)


def test_report_is_self_contained(html_masked):
    text = html_masked.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    sources = re.findall(r'<img [^>]*src="([^"]*)"', text)
    assert len(sources) == 8 and all(s.startswith("data:image/svg+xml;base64,") for s in sources)
    # No attribute points anywhere but inside the page.
    links = re.findall(r'\s(?:src|href|action|srcset)\s*=\s*"([^"]*)"', text)
    assert all(link.startswith(("data:", "#")) for link in links), links
    assert "<link" not in text and "@import" not in text and "url(" not in text


def test_sections_and_headline_numbers(html_masked):
    text = html_masked.read_text(encoding="utf-8")
    for title in ("Sessions", "Carts", "Airline", "Payment methods", "Data quality", "Sample of sessions", "Run"):
        assert f"<h2>{title}</h2>" in text
    assert "7 sessions" in text and "2030-01-01 12:00 UTC" in text
    assert "AMS → CDG" in text and "departs before the previous leg" in text
    assert "15,500" in text  # S2's cart value


def test_run_only_and_empty_reports(run, tmp_path):
    path = report.build_report(run=run, path=tmp_path / "run.html", now=NOW)
    text = path.read_text(encoding="utf-8")
    assert "<h2>Run</h2>" in text and "<h2>Carts</h2>" not in text
    empty = report.build_report(SessionFrames(), path=tmp_path / "empty.html", now=NOW)
    assert "No session has cart items." in empty.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="nothing to report"):
        report.render_report()


def test_report_from_a_journal_path(frames, tmp_path):
    from gr4vy_nb.updates.journal import Journal

    journal = tmp_path / "run.sqlite"
    Journal.create(journal, meta={"run_id": "x"}, items=[{"session_id": S1, "status": "skipped"}]).close()
    path = report.build_report(frames, run=journal, path=tmp_path / "out" / "r.html", now=NOW)
    assert path.parent.name == "out" and "skipped" in path.read_text(encoding="utf-8")


# --------------------------------------------------------------------------- sources and report_command


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


# --------------------------------------------------------------------------- a real browser


def test_report_opens_in_headless_chromium(html_masked, tmp_path):
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        if os.environ.get("CI") == "true":
            pytest.fail("/usr/bin/chromium is required in CI (apt-get install chromium)")
        pytest.skip("/usr/bin/chromium is not installed")
    base = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'p'}"]
    url = html_masked.as_uri()
    dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True).stdout
    assert "<h1>Checkout sessions report</h1>" in dom
    assert "Schema rule failures" in dom and "By status" in dom
    assert "<script" not in dom.lower()
    shot = tmp_path / "shot.png"
    subprocess.run([*base, "--window-size=1200,2400", f"--screenshot={shot}", url], capture_output=True,
                   timeout=120, check=True)
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 50_000  # a page, not a blank


def test_inline_html_is_a_sandboxed_frame(frames):
    frame = report.inline_html(frames, now=NOW, height=500)
    assert frame.startswith("<iframe sandbox ") and frame.endswith("></iframe>")
    assert "height:500px" in frame
    srcdoc = re.search(r'srcdoc="([^"]*)"', frame).group(1)  # no raw quote ends the attribute early
    assert "<" not in srcdoc and "&lt;!DOCTYPE html&gt;" in srcdoc
    import html as html_module

    inner = html_module.unescape(srcdoc)
    assert "<h2>Carts</h2>" in inner and "Longcanaryname" not in inner
