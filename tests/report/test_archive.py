"""The report's summaries of an archive folder, computed by DuckDB out of core, equal the in-memory ones.

The same sessions (the report fixture's edge cases, the sample sessions and a few odd ones) are
flattened in memory and written as an archive; every summary :class:`ArchiveSummaries` computes is
compared, DataFrame for DataFrame (values, dtypes, index, order), with the in-memory function of
the same name.
"""

from __future__ import annotations

import inspect

import orjson
import pandas as pd
import pytest

from gr4vy_nb import report
from gr4vy_nb.report.archive import ArchiveSummaries, is_archive
from gr4vy_nb.tables.archive import write_archive
from gr4vy_nb.tables.frames import flatten_sessions
from tests.paths import SAMPLE
from tests.report.helpers import FIXTURE, NOW

SUMMARIES = sorted(n for n, f in inspect.getmembers(ArchiveSummaries, inspect.isfunction)
                   if not n.startswith("_") and hasattr(report, n))


@pytest.fixture(scope="module")
def sessions() -> list[dict]:
    lines = (FIXTURE / "sessions.jsonl").read_bytes().splitlines() + SAMPLE.read_bytes().splitlines()
    out = [orjson.loads(line) for line in lines if line.strip()]
    out.append({"type": "checkout-session", "id": "00000000-0000-4000-8000-0000000000aa", "currency": " ",
                "metadata": {"channel": "  "}, "cart_items": [{"name": "x", "quantity": 2, "unit_amount": 0}],
                "buyer": {"surprise": 1}})
    out.append({"type": "checkout-session", "id": "00000000-0000-4000-8000-0000000000bb", "amount": 0,
                "airline": {"legs": [{"departure_airport": "LHR"}]}, "payment_method": {"type": "card"}})
    return out


@pytest.fixture(scope="module")
def both(sessions, tmp_path_factory):
    src = tmp_path_factory.mktemp("src") / "s.jsonl"
    src.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in sessions))
    out = tmp_path_factory.mktemp("archive")
    write_archive(src, out, chunk_bytes=1 << 16)
    with ArchiveSummaries(out, memory_limit="256MB") as summaries:
        yield flatten_sessions(sessions), summaries


def test_every_summary_is_compared() -> None:
    assert len(SUMMARIES) >= 20, SUMMARIES
    assert {"sessions_overview", "currencies", "cart_value_by_currency", "routes", "empty_fields"} <= set(SUMMARIES)


@pytest.mark.parametrize("name", SUMMARIES)
def test_summary_equals_the_in_memory_one(both, name) -> None:
    frames, summaries = both
    kw = {"now": NOW} if "now" in inspect.signature(getattr(report, name)).parameters else {}
    expected = getattr(report, name)(frames, **kw)
    got = getattr(summaries, name)(**kw)
    assert len(expected) > 0
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_is_archive(tmp_path, both) -> None:
    assert is_archive(both[1].root)
    assert not is_archive(tmp_path)
    with pytest.raises(FileNotFoundError, match="not an archive"):
        ArchiveSummaries(tmp_path)


def test_build_report_of_an_archive_folder(both, tmp_path) -> None:
    frames, summaries = both
    path = report.build_report(summaries.root, path=tmp_path / "r.html", now=NOW)
    html = path.read_text()
    assert html.count('<img alt="') >= 5  # figures
    assert f"{len(frames):,} sessions" in html
    for section in ("Carts", "Airline", "Payment methods", "Data quality", "Sample of sessions"):
        assert f">{section}<" in html
    # The same tables as the in-memory report: each of these captions' tables is in both pages, cell for cell.
    memory = report.build_report(frames, path=tmp_path / "m.html", now=NOW).read_text()
    for caption in ("Currencies (amounts in minor units)", "Routes", "Carriers", "Top SKUs", "Card schemes"):
        assert _table(html, caption) == _table(memory, caption), caption
    assert "Canaryfirst" not in html  # masked unless raw


def _table(html: str, caption: str) -> str:
    start = html.index(f"<h3>{caption}")
    return html[start: html.index("</table>", start)]
