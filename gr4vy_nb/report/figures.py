"""Figure building blocks for reports: matplotlib ``Figure`` objects on the Agg canvas.

Figures are made with :class:`matplotlib.figure.Figure` directly, never through
``pyplot``: nothing is registered in pyplot's global state, so nothing leaks between calls,
no GUI backend is touched, and ``plt.show()`` is never called. In a notebook, a returned
figure displays itself (its ``_repr_png_``); elsewhere, save it with ``fig.savefig``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

__all__ = ["bar_figure", "fit_margins", "histogram_figure", "label_text", "new_figure", "no_data", "stacked_time_bars",
           "style_axes"]

_COLOR = "#2f6f9f"
_PALETTE = ["#2e7d32", "#c62828", "#ef6c00", "#6a1b9a", "#1565c0", "#757575", "#00838f"]
_LABEL_MAX = 42
_CHAR_PX = 8.3  # generous mean width of a 10-point DejaVu Sans character at 100 dpi
WIDTH, HEIGHT = 7.0, 3.8
"""Default figure size in inches (at 100 dpi: 700 x 380 pixels, a notebook cell's width)."""


def new_figure(width: float = WIDTH, height: float = HEIGHT) -> Figure:
    """A white figure attached to an Agg canvas (no pyplot involved); see :func:`fit_margins`."""
    fig = Figure(figsize=(width, height), dpi=100, facecolor="white")
    FigureCanvasAgg(fig)
    fit_margins(fig)
    return fig


def fit_margins(fig: Figure, *, y_chars: int = 7, x_rot_chars: int = 0, x_lines: int = 1) -> None:
    """Set the margins from the longest tick label (in characters) instead of measuring text.

    A layout engine (constrained or tight) measures every text twice per save, which is half
    of a figure's rendering time; the labels here are short and of known length, so an
    estimate from their character counts fits them as well at no cost.
    """
    width, height = fig.get_size_inches() * fig.dpi
    left = 36 + max(3, min(y_chars, _LABEL_MAX)) * _CHAR_PX + 10
    bottom = 24 + 15 * x_lines + x_rot_chars * _CHAR_PX * 0.5 + 6  # a 30-degree label rises by half its length
    fig.subplots_adjust(left=min(left / width, 0.6), right=1 - 18 / width, bottom=min(bottom / height, 0.6),
                        top=1 - 30 / height)


def _count_chars(maximum: float) -> int:
    """Characters of the longest tick label of an axis running from 0 to ``maximum``."""
    return len(f"{maximum * 1.15:,.0f}") + (0 if float(maximum).is_integer() else 2)


def label_text(value: Any, *, keep_end: bool = False) -> str:
    """A tick label: shortened (keeping the end when ``keep_end``, for dotted field paths), and
    with ``$`` escaped so matplotlib never reads it as math."""
    text = "(missing)" if value is None or value != value else str(value)
    text = " ".join(text.split())
    if len(text) > _LABEL_MAX:
        text = "…" + text[-(_LABEL_MAX - 1):] if keep_end else text[: _LABEL_MAX - 1] + "…"
    return text.replace("$", r"\$")


def no_data(ax: Any, message: str = "no data") -> None:
    """Write ``message`` in the middle of an empty plot, without ticks."""
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#666")
    ax.set_xticks([])
    ax.set_yticks([])


def style_axes(ax: Any, title: str, xlabel: str, ylabel: str) -> None:
    """The report's look for a plot: title on the left, labels (``$`` escaped), no top or right spine."""
    # y given: matplotlib then skips measuring every tick label to lift the title clear of a top
    # axis (there is none here), a fifth of a figure's drawing time.
    ax.set_title(title.replace("$", r"\$"), loc="left", fontsize=11, y=1.0)
    ax.set_xlabel(xlabel.replace("$", r"\$"))
    ax.set_ylabel(ylabel.replace("$", r"\$"))
    ax.set_facecolor("white")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def bar_figure(labels: Sequence[Any], values: Sequence[float], *, title: str, xlabel: str, ylabel: str,
               horizontal: bool = False, annotate: bool = True, keep_end: bool = False) -> Figure:
    """Bars, one per label, in the order given (horizontal bars list the first at the top).

    Horizontal bars suit long labels (routes, categories, SKUs); the value is written at the
    end of each bar when ``annotate``.
    """
    n = len(labels)
    height = max(HEIGHT, 0.8 + 0.26 * n) if horizontal else HEIGHT
    fig = new_figure(height=min(height, 9.0))
    ax = fig.add_subplot()
    style_axes(ax, title, xlabel, ylabel)
    if n == 0:
        no_data(ax)
        return fig
    texts = [label_text(v, keep_end=keep_end) for v in labels]
    vals = np.asarray([float(v) for v in values], dtype="float64")
    pos = np.arange(n)
    if horizontal:
        bars = ax.barh(pos, vals, color=_COLOR)
        ax.set_yticks(pos, texts)
        ax.invert_yaxis()
        ax.grid(axis="x", color="#e5e5e5")
        fit_margins(fig, y_chars=max(len(t) for t in texts))
    else:
        bars = ax.bar(pos, vals, color=_COLOR)
        rotate = max(len(t) for t in texts) > 6 and n > 4
        ax.set_xticks(pos, texts, rotation=30 if rotate else 0, ha="right" if rotate else "center")
        ax.grid(axis="y", color="#e5e5e5")
        fit_margins(fig, y_chars=_count_chars(vals.max()), x_rot_chars=max(len(t) for t in texts) if rotate else 0)
    ax.set_axisbelow(True)
    whole = all(float(v).is_integer() for v in vals)
    if whole:  # counts: no 0.5 ticks
        (ax.xaxis if horizontal else ax.yaxis).set_major_locator(MaxNLocator(integer=True))
    if annotate and n <= 40:
        ax.bar_label(bars, labels=[f"{v:,.0f}" if whole else f"{v:,.1f}" for v in vals], padding=2, fontsize=8)
        if horizontal:
            ax.set_xlim(0, vals.max() * 1.15 if vals.max() > 0 else 1)
        else:
            ax.set_ylim(0, vals.max() * 1.15 if vals.max() > 0 else 1)
    return fig


def histogram_figure(values: Sequence[float], *, title: str, xlabel: str, ylabel: str, bins: int | Sequence[float] = 30,
                     vline: float | None = None, vline_label: str = "", log_x: bool = False) -> Figure:
    """A histogram of ``values`` (missing values dropped), with an optional vertical marker."""
    fig = new_figure()
    ax = fig.add_subplot()
    style_axes(ax, title, xlabel, ylabel)
    vals = np.asarray([v for v in values if v is not None and v == v], dtype="float64")
    if vals.size == 0:
        no_data(ax)
        return fig
    if log_x:
        positive = vals[vals > 0]
        if positive.size == 0:
            no_data(ax, "no positive values")
            return fig
        lo, hi = positive.min(), positive.max()
        edges = np.geomspace(lo, hi if hi > lo else lo * 10, (bins if isinstance(bins, int) else 30) + 1)
        counts, _, _ = ax.hist(positive, bins=edges, color=_COLOR, edgecolor="white")
        ax.set_xscale("log")
        fit_margins(fig, y_chars=_count_chars(float(np.max(counts))))
    else:
        if isinstance(bins, int) and vals.min() == vals.max():
            bins = 1
        counts, _, _ = ax.hist(vals, bins=bins, color=_COLOR, edgecolor="white")
        fit_margins(fig, y_chars=_count_chars(float(np.max(counts))))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts
    ax.grid(axis="y", color="#e5e5e5")
    ax.set_axisbelow(True)
    if vline is not None:
        ax.axvline(vline, color="#c0392b", linestyle="--", linewidth=1.2, label=vline_label or None)
        if vline_label:
            ax.legend(loc="upper right", frameon=False, fontsize=8)
    return fig


def stacked_time_bars(x: Sequence[Any], series: dict[str, Sequence[float]], *, width: Any, title: str,
                      xlabel: str, ylabel: str, colors: dict[str, str] | None = None) -> Figure:
    """Stacked bars over time: one bar per interval starting at ``x`` (``width`` a ``Timedelta``).

    ``colors`` maps series names to colours (others take the palette's, in order).
    """
    from matplotlib import dates as mdates

    fig = new_figure()
    ax = fig.add_subplot()
    style_axes(ax, title, xlabel, ylabel)
    if len(x) == 0 or not series:
        no_data(ax)
        return fig
    starts = mdates.date2num([t.to_pydatetime() if hasattr(t, "to_pydatetime") else t for t in x])
    span = width.total_seconds() / 86400  # matplotlib dates count days
    bottom = np.zeros(len(starts))
    palette = iter(_PALETTE * (1 + len(series) // len(_PALETTE)))
    for name, ys in series.items():
        vals = np.asarray(ys, dtype="float64")
        color = (colors or {}).get(name) or next(palette)
        ax.bar(starts, vals, width=span * 0.9, bottom=bottom, align="edge", label=label_text(name), color=color)
        bottom += vals
    ax.xaxis_date(tz="UTC")
    fit_margins(fig, y_chars=_count_chars(float(bottom.max())), x_lines=2)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator(), tz="UTC"))
    ax.grid(axis="y", color="#e5e5e5")
    ax.set_axisbelow(True)
    ax.legend(loc="best", frameon=False, fontsize=8)
    return fig
