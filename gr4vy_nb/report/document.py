"""Standalone HTML for reports: escaped tables, figures as embedded SVG images, one file with no network.

Everything that comes from data goes through :func:`html.escape` here, in one place: cell
values, index labels, column names, captions and figure descriptions. Figures are SVG
images in ``data:`` URIs (their text escaped by matplotlib's SVG writer). The document carries
a Content-Security-Policy that allows no script and no network request at all (images only
as ``data:`` URIs, styles only inline), so even a value that slipped through could not run
or phone home.
"""

from __future__ import annotations

import base64
import html
import math
import re
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from io import BytesIO
from typing import Any

import matplotlib
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["Section", "figure_html", "figure_png", "figure_svg", "grid_html", "iframe_html", "note_html",
           "render_document", "table_html"]

_DOCTYPE = re.compile(rb"<!DOCTYPE[^>]*>\s*")
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0 auto;
max-width:1100px;padding:1.5rem;color:#1a1a1a;background:#fff;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.3rem;border-bottom:2px solid #d0d7de;padding-bottom:.2rem;
margin-top:2.2rem}h3{font-size:1.05rem;margin:1.4rem 0 .4rem}
.meta{color:#555;font-size:.9rem}.note{color:#555;font-size:.85rem;margin:.3rem 0}
.badge{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;font-size:.85rem;font-weight:600}
.masked{background:#dff5e1;color:#14532d}.raw{background:#fde2e1;color:#7f1d1d}
table{border-collapse:collapse;font-size:.85rem;margin:.3rem 0 .8rem}
th,td{border:1px solid #d0d7de;padding:.2rem .5rem;text-align:left;vertical-align:top}
thead th{background:#f3f5f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:nth-child(even){background:#fafbfc}
figure{margin:.5rem 0 1rem}figure img{max-width:100%;height:auto;border:1px solid #eee;box-sizing:border-box}
figcaption{font-size:.85rem;color:#555}.scroll{overflow-x:auto;max-width:100%}nav ul{columns:2;font-size:.9rem}
.grid{display:flex;flex-wrap:wrap;gap:0 2.5rem;align-items:flex-start}
.grid>div{flex:0 1 auto;max-width:100%;overflow-x:auto}
"""


@dataclass
class Section:
    """A titled part of a report: a list of HTML fragments already rendered by this module."""

    title: str
    blocks: list[str] = field(default_factory=list)
    anchor: str = ""

    def add(self, *blocks: str) -> Section:
        self.blocks.extend(b for b in blocks if b)
        return self


def _cell(value: Any) -> tuple[str, bool]:
    """Text of a cell and whether it is numeric (right-aligned)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return "", False
    if isinstance(value, bool):
        return ("yes" if value else "no"), False
    if isinstance(value, int):
        return f"{value:,}", True
    if isinstance(value, float):
        if math.isnan(value):
            return "", False
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}", True
        return f"{value:,.3f}".rstrip("0").rstrip("."), True
    if isinstance(value, pd.Timestamp | datetime):
        whole = value.microsecond == 0 and getattr(value, "nanosecond", 0) == 0
        return value.isoformat(timespec="seconds" if whole else "milliseconds"), False
    if isinstance(value, date):
        return value.isoformat(), False
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        # numpy scalars: format them as their Python counterparts.
        return _cell(value.item())
    return str(value), False


def _share(value: Any) -> tuple[str, bool]:
    text, numeric = _cell(value)
    if numeric:
        return f"{float(value) * 100:.1f}%", True
    return text, numeric


def table_html(df: pd.DataFrame, *, caption: str = "", index: bool = True, max_rows: int = 50,
               empty: str = "none") -> str:
    """One DataFrame as an escaped HTML table (first ``max_rows`` rows, a note says how many more).

    Columns named ``share`` or ending in ``_share`` are shown as percentages; integers get
    thousands separators; missing values are blank. An empty frame renders as a short note.
    """
    parts = [f"<h3>{html.escape(caption)}</h3>"] if caption else []
    if df is None or len(df) == 0:
        parts.append(f'<p class="note">{html.escape(empty)}</p>')
        return "".join(parts)
    shown = df.head(max_rows)
    index_names = [n for n in shown.index.names] if index else []
    head = "".join(f"<th>{html.escape('' if n is None else str(n))}</th>" for n in index_names)
    head += "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    formatters = [_share if str(c) == "share" or str(c).endswith("_share") else _cell for c in shown.columns]
    rows = []
    columns = [shown[c].tolist() for c in shown.columns]
    labels = shown.index.tolist()
    for i, label in enumerate(labels):
        cells = []
        if index:
            for part in label if isinstance(label, tuple) else (label,):
                cells.append(f"<th>{html.escape(_cell(part)[0])}</th>")
        for fmt, col in zip(formatters, columns, strict=True):
            text, numeric = fmt(col[i])
            cells.append(f'<td class="num">{html.escape(text)}</td>' if numeric else f"<td>{html.escape(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    body = "".join(rows)
    parts.append(f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>')
    if len(df) > max_rows:
        parts.append(f'<p class="note">… and {len(df) - max_rows:,} more rows (first {max_rows:,} shown).</p>')
    return "".join(parts)


@contextmanager
def _quiet_glyphs() -> Iterator[None]:
    """A glyph missing from the font (an emoji in a category name, say) draws as a box instead
    of warning: a report must not fail on a label's character."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font", category=UserWarning)
        warnings.filterwarnings("ignore", message=r"Matplotlib currently does not support", category=UserWarning)
        yield


def figure_png(fig: Figure, *, dpi: int = 100) -> bytes:
    """The figure as PNG bytes, rendered with Agg (missing glyphs drawn as boxes, not warned about)."""
    buffer = BytesIO()
    with _quiet_glyphs():
        # Light compression: these small flat-colour images barely shrink more, and it halves the time.
        fig.savefig(buffer, format="png", dpi=dpi, facecolor="white", pil_kwargs={"compress_level": 1})
    return buffer.getvalue()


def figure_svg(fig: Figure) -> bytes:
    """The figure as SVG with its text kept as text (drawn by the browser, selectable, searchable).

    Text is XML-escaped by matplotlib; the output is deterministic (no date, fixed ids) and
    carries no DOCTYPE (so not even a DTD address). About 40% cheaper than PNG, and smaller.
    """
    buffer = BytesIO()
    with _quiet_glyphs(), matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "gr4vy-nb"}):
        fig.savefig(buffer, format="svg", facecolor="white", metadata={"Date": None})
    return _DOCTYPE.sub(b"", buffer.getvalue(), count=1)


def figure_html(fig: Figure, *, alt: str, caption: str = "") -> str:
    """The figure as an ``<img>`` of an SVG ``data:`` URI (no file, no network, and an image
    cannot run script even if it held any)."""
    data = base64.b64encode(figure_svg(fig)).decode("ascii")
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{html.escape(alt)}" src="data:image/svg+xml;base64,{data}">{cap}</figure>'


def note_html(text: str) -> str:
    """A short escaped paragraph."""
    return f'<p class="note">{html.escape(text)}</p>'


def grid_html(blocks: Iterable[str]) -> str:
    """Blocks side by side where the page is wide enough (small tables read better so)."""
    return '<div class="grid">' + "".join(f"<div>{b}</div>" for b in blocks if b) + "</div>"


def render_document(title: str, sections: list[Section], *, subtitle: str = "", masked: bool = True) -> str:
    """The whole report: head with CSP and CSS, a badge saying whether personal data is masked,
    a table of contents and the sections."""
    for i, section in enumerate(sections):
        section.anchor = section.anchor or f"s{i + 1}"
    badge = ('<span class="badge masked">personal data masked</span>' if masked
             else '<span class="badge raw">RAW: contains personal data, do not share</span>')
    toc = "".join(f'<li><a href="#{s.anchor}">{html.escape(s.title)}</a></li>' for s in sections)
    body = "".join(
        f'<section id="{s.anchor}"><h2>{html.escape(s.title)}</h2>{"".join(s.blocks)}</section>' for s in sections
    )
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class=\"meta\">{html.escape(subtitle)} {badge}</p>"
        f"<nav><ul>{toc}</ul></nav>{body}</body></html>\n"
    )


def iframe_html(document: str, *, height: int = 900, title: str = "") -> str:
    """A whole HTML document inside a sandboxed ``<iframe>`` (given through ``srcdoc``, escaped).

    The frame can run nothing and its styles (and Content-Security-Policy) apply to it alone,
    never to the page around it: how a report is shown in a notebook.
    """
    label = f' title="{html.escape(title)}"' if title else ""
    return (f'<iframe sandbox{label} style="width:100%;height:{int(height)}px;border:1px solid #d0d7de" '
            f'srcdoc="{html.escape(document, quote=True)}"></iframe>')
