"""Every report figure renders to PNG without a warning, with its title and labels, and leaks nothing.

pytest runs with ``filterwarnings = error``, so any matplotlib warning fails these tests.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from io import BytesIO

import pandas as pd
import pytest
from matplotlib.figure import Figure

from gr4vy_nb import report
from gr4vy_nb.report import figures as report_figures
from gr4vy_nb.report.document import figure_png, figure_svg
from gr4vy_nb.tables.frames import SessionFrames
from tests.paths import FIXTURES

FIXTURE = FIXTURES / "report_fixture"
NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n"

SESSION_PLOTS = {
    "plot_expiry": lambda f: report.plot_expiry(f, now=NOW),
    "plot_items_per_session": report.plot_items_per_session,
    "plot_cart_values": report.plot_cart_values,
    "plot_product_types": report.plot_product_types,
    "plot_categories": report.plot_categories,
    "plot_routes": report.plot_routes,
    "plot_legs_per_booking": report.plot_legs_per_booking,
    "plot_card_schemes": report.plot_card_schemes,
    "plot_empty_fields": report.plot_empty_fields,
}
RUN_PLOTS = {
    "plot_run_status": report.plot_run_status,
    "plot_run_latency": report.plot_run_latency,
    "plot_run_throughput": report.plot_run_throughput,
}


def _check(fig: Figure) -> None:
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert ax.get_title(loc="left"), "every figure has a title"
    assert ax.get_xlabel() and ax.get_ylabel(), "and axis labels"
    assert fig.get_facecolor()[:3] == (1.0, 1.0, 1.0)
    width, height = fig.get_size_inches()
    assert 5 <= width <= 9 and 3 <= height <= 9, "notebook-sized"
    buffer = BytesIO()
    fig.savefig(buffer, format="png")  # straight matplotlib: a warning here fails the test
    assert buffer.getvalue().startswith(PNG) and len(buffer.getvalue()) > 5000


@pytest.mark.parametrize("name", SESSION_PLOTS)
def test_session_plots_render(frames, name):
    _check(SESSION_PLOTS[name](frames))


@pytest.mark.parametrize("name", RUN_PLOTS)
def test_run_plots_render(run, name):
    _check(RUN_PLOTS[name](run))


@pytest.mark.parametrize("name", SESSION_PLOTS)
def test_session_plots_render_with_no_data(name):
    _check(SESSION_PLOTS[name](SessionFrames()))


@pytest.mark.parametrize("name", RUN_PLOTS)
def test_run_plots_render_with_no_data(name):
    _check(RUN_PLOTS[name](pd.DataFrame({"checkout_session_id": ["a"], "status": ["unprocessed"]})))


def test_no_pyplot_state_is_touched(frames, run):
    for make in SESSION_PLOTS.values():
        make(frames)
    for make in RUN_PLOTS.values():
        make(run)
    pyplot = sys.modules.get("matplotlib.pyplot")
    # The report never imports pyplot; if another test did, no figure of ours is registered there.
    assert pyplot is None or pyplot.get_fignums() == []


def test_awkward_labels_render(frames):
    # "$...$" would be read as mathtext; an emoji has no glyph in the default font.
    items = frames.cart_items.copy()
    items["categories"] = pd.array([["$5 off $10"], ["🎁 gifts"], ["a" * 300], None, None, ["x"], ["y"]],
                                   dtype=items["categories"].dtype)
    odd = SessionFrames(frames.sessions, items, frames.legs, frames.passengers, conform=False)
    fig = report.plot_categories(odd)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert r"\$5 off \$10" in labels and any(len(t) <= 42 and t.endswith("…") for t in labels)
    assert figure_png(fig).startswith(PNG)  # the report's renderers tolerate the missing glyph
    svg = figure_svg(fig).decode("utf-8")
    assert svg.startswith("<?xml") and "<!DOCTYPE" not in svg and "🎁 gifts" in svg  # text kept as text


def test_svg_text_is_escaped_and_deterministic():
    fig = report_figures.bar_figure(['<script>alert(1)</script>', 'a & b "c"'], [1, 2], title="t", xlabel="x",
                                    ylabel="y", horizontal=True)
    svg = figure_svg(fig)
    assert b"<script" not in svg and b"&lt;script&gt;" in svg and b"a &amp; b" in svg
    assert svg == figure_svg(fig)  # no date, fixed ids: the same report twice is the same file


def test_importing_the_report_never_imports_pyplot():
    import subprocess

    code = "import sys, gr4vy_nb.report; assert 'matplotlib.pyplot' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
