"""Display for notebooks: a standalone HTML document (a report) shown inside a sandboxed iframe."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["InlineHTML"]


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
