"""Session summaries (counts, expiry, currencies, metadata, payment methods) against values worked out by hand."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from gr4vy_nb import report
from tests.report.helpers import NOW, col


def test_sessions_overview(frames):
    t = report.sessions_overview(frames)
    assert col(t, "sessions") == {
        "sessions": 7, "with cart items": 4, "without cart items": 3, "with airline addendum": 2,
        "with buyer": 3, "with payment method": 2, "with amount": 4, "with metadata": 3,
    }
    assert t.loc["with cart items", "share"] == pytest.approx(4 / 7)


def test_expiry_timeline_windows_are_cumulative(frames):
    t = report.expiry_timeline(frames, now=NOW)
    # S4 expired an hour ago; S1 in 30 min; S2 in 3 h; S3 in 12 h; S5 in 48 h, S7 in 100 days; S6 none.
    assert col(t, "sessions") == {"already expired": 1, "within 1 h": 1, "within 6 h": 2, "within 24 h": 3,
                                  "after 24 h": 2, "unknown": 1}


def test_expiry_timeline_boundaries(frames):
    # At S1's exact expiry it counts as expired; S2 is then 2.5 h away, S3 11.5 h.
    t = report.expiry_timeline(frames, now=NOW + timedelta(minutes=30))
    assert col(t, "sessions") == {"already expired": 2, "within 1 h": 0, "within 6 h": 1, "within 24 h": 2,
                                  "after 24 h": 2, "unknown": 1}
    # Exactly one hour before S2's expiry: inside "within 1 h".
    t = report.expiry_timeline(frames, now=NOW + timedelta(hours=2))
    assert t.loc["within 1 h", "sessions"] == 1


def test_expiry_timeline_needs_an_aware_now(frames):
    with pytest.raises(ValueError, match="timezone-aware"):
        report.expiry_timeline(frames, now=datetime(2030, 1, 1))


def test_currencies(frames):
    t = report.currencies(frames)
    assert col(t, "sessions") == {"EUR": 2, "(missing)": 1, "GBP": 1, "JPY": 1, "USD": 1, "usd": 1}
    # S5's amount is the text "100": not an amount, so not counted.
    assert col(t, "with_amount") == {"EUR": 2, "(missing)": 0, "GBP": 1, "JPY": 0, "USD": 1, "usd": 0}
    assert col(t, "total_amount") == {"EUR": 30000, "(missing)": None, "GBP": 2500, "JPY": None, "USD": 60000,
                                      "usd": None}
    assert t.loc["EUR", "min_amount"] == 0 and t.loc["EUR", "max_amount"] == 30000
    assert t.loc["EUR", "mean_amount"] == 15000


def test_metadata_keys(frames):
    t = report.metadata_keys(frames)
    assert col(t, "sessions") == {"channel": 3, "campaign": 1}
    assert col(t, "distinct_values") == {"channel": 2, "campaign": 1}


@pytest.mark.parametrize(("fn", "expected"), [
    (report.card_schemes, {"mastercard": 1, "visa": 1}),
    (report.card_types, {"credit": 1, "debit": 1}),
    (report.card_countries, {"GB": 1, "NL": 1}),
    (report.card_issuers, {"Demo Card Co": 1, "Example Bank": 1}),
])
def test_payment_breakdowns(frames, fn, expected):
    t = fn(frames)
    assert col(t, "sessions") == expected
    assert t["share"].tolist() == [0.5, 0.5]


def _clustered(frames, n=200):
    """``frames`` with ``n`` sessions that all expire within seconds of NOW + 59 min (a run just updated them)."""
    import pandas as pd

    base = frames.sessions.iloc[[0] * n].reset_index(drop=True)
    base["checkout_session_id"] = [f"s{i}" for i in range(n)]
    base["expires_at"] = pd.Timestamp(NOW + timedelta(minutes=59)) + pd.to_timedelta(
        [i % 7 for i in range(n)], unit="s")
    return type(frames)(sessions=base, cart_items=frames.cart_items.iloc[0:0], legs=frames.legs.iloc[0:0],
                        passengers=frames.passengers.iloc[0:0])


def test_the_expiry_figure_stays_readable_when_expiries_cluster(frames):
    # Regression (issue 14): with every session expiring within the same minute the histogram was blank
    # (30 bins narrower than a pixel next to the "now" line).
    fig = report.plot_expiry(_clustered(frames), now=NOW)
    ax = fig.axes[0]
    heights = [p.get_height() for p in ax.patches]
    widths = [p.get_width() for p in ax.patches]
    assert sum(heights) == 200
    lo, hi = ax.get_xlim()
    tallest = widths[heights.index(max(heights))]
    assert tallest / (hi - lo) >= 0.02  # a bar a reader can see
    assert "minutes" in ax.get_xlabel() and "within" in ax.get_title("left")


def test_a_report_after_an_update_says_that_updates_reset_expiry(frames, tmp_path):
    clustered = _clustered(frames)
    note = report.expiry_note(clustered, now=NOW)
    assert note is not None and "200 of 200" in note and "resets its expiry" in note
    assert report.expiry_note(frames, now=NOW - timedelta(days=30)) is None
    page = report.build_report(clustered, path=tmp_path / "r.html", now=NOW).read_text(encoding="utf-8")
    assert "resets its expiry" in page
    assert f"as of {NOW:%Y-%m-%d %H:%M} UTC" in page and NOW.isoformat() not in page
