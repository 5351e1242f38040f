"""The whole report: masked by default, raw on request with the same counts, its sections, the notebook frame."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gr4vy_nb import report
from gr4vy_nb.tables.frames import SessionFrames
from tests.report.helpers import CANARIES, NOW, RAW_SHOWN, S1


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


def test_inline_html_is_a_sandboxed_frame(frames):
    frame = report.inline_html(frames, now=NOW, height=500)
    assert frame.startswith("<iframe sandbox ") and frame.endswith("></iframe>")
    assert "height:500px" in frame
    srcdoc = re.search(r'srcdoc="([^"]*)"', frame).group(1)  # no raw quote ends the attribute early
    assert "<" not in srcdoc and "&lt;!DOCTYPE html&gt;" in srcdoc
    import html as html_module

    inner = html_module.unescape(srcdoc)
    assert "<h2>Carts</h2>" in inner and "Longcanaryname" not in inner
