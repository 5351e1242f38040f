"""Display for notebooks: a standalone HTML document (a report) shown inside a sandboxed iframe, and
problems tables as people read them (severity first, sorted by file, line and column, messages whole)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["InlineHTML", "problems_in_order", "show_problems"]

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
_PROBLEM_FIRST = ("severity", "file", "line", "column", "message")


def problems_in_order(df: pd.DataFrame) -> pd.DataFrame:
    """A problems table as people read it: severity first, then where; sorted by file, line, column.

    Errors come before warnings at the same place; the order is otherwise stable. The index is
    renumbered from 0 (every column is kept).
    """
    first = [c for c in _PROBLEM_FIRST if c in df.columns]
    out = df[first + [c for c in df.columns if c not in first]]
    keys = [c for c in ("file", "line", "column") if c in out.columns]
    if not len(out) or not keys:
        return out.reset_index(drop=True)
    order = pd.DataFrame({
        "file": out["file"].astype("string").fillna("") if "file" in out else "",
        "line": pd.to_numeric(out["line"], errors="coerce").fillna(-1) if "line" in out else 0,
        "column": out["column"].astype("string").fillna("") if "column" in out else "",
        "severity": out["severity"].astype("string").map(lambda v: _SEVERITY_ORDER.get(str(v), 9))
        if "severity" in out else 0,
    }, index=out.index)
    ranked = order.sort_values(["file", "line", "column", "severity"], kind="stable").index
    return out.loc[ranked].reset_index(drop=True)


def show_problems(df: pd.DataFrame) -> Any:
    """A problems table for a notebook cell: in reading order, messages whole and wrapped, or a sentence if none."""
    if not len(df):
        return _Sentence("No problems: every cell passed the checks.")
    shown = problems_in_order(df)
    wrap = [c for c in ("message", "value") if c in shown.columns]
    return (shown.style.hide(axis="index")
            .set_properties(subset=wrap, **{"white-space": "pre-wrap", "text-align": "left", "min-width": "24em"})
            .set_properties(subset=[c for c in shown.columns if c not in wrap], **{"white-space": "nowrap"}))


class _Sentence:
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        import html

        return f"<p><i>{html.escape(self.text)}</i></p>"


class InlineHTML:
    """A standalone HTML document shown inside a notebook, in a sandboxed ``iframe``.

    The report's own Content-Security-Policy then applies to the frame only, never to the
    notebook page around it. The frame is the report package's
    (:func:`gr4vy_nb.report.document.iframe_html`), the one place a document is wrapped.
    """

    def __init__(self, document: str, *, height: int = 720) -> None:
        self.document = document
        self.height = height

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, height: int = 720) -> InlineHTML:
        return cls(Path(path).read_text(encoding="utf-8"), height=height)

    def _repr_html_(self) -> str:
        # Imported here: the report package loads matplotlib, which a notebook only needs once it shows one.
        from ..report.document import iframe_html

        return iframe_html(self.document, height=self.height)
