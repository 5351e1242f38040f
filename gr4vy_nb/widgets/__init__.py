"""The notebook apps: thin ipywidgets shells over the engine (the only place that imports ipywidgets).

* :class:`ConnectionPanel`: which target, which key (``kid``), and a connection test.
* :class:`SessionExplorer`: fetch sessions by id (or load an export), browse the four tables.
* :class:`BulkUpdateApp`: upload CSVs -> validate -> plan (diff) -> apply (progress, Cancel) ->
  results (downloads, retry the failed rows, roll back).
* :class:`RunsBrowser`: past runs; open, resume or roll back one.
* :class:`EditGrid`: edit the four tables in the notebook (an ipydatagrid), then plan, consent and apply
  through the same :class:`~gr4vy_nb.updates.workflow.BulkUpdate` as files.

Each app displays itself when it is the last expression of a cell, takes an optional
:class:`~gr4vy_nb.notebook_support.Connection` (the configured target, or the embedded sandbox
when none is configured), and exposes its handlers (``on_validate``, ``on_plan``, ...) so that
scripts and tests can drive it without a browser. Personal data is masked unless the app's
"show personal data" box is ticked. Errors appear in the app's message area.
"""

from .bulk_app import BulkUpdateApp
from .connection import ConnectionPanel
from .explorer import SessionExplorer
from .results import ResultsView
from .runs import RunsBrowser

__all__ = ["BulkUpdateApp", "ConnectionPanel", "EditGrid", "ResultsView", "RunsBrowser", "SessionExplorer"]


def __getattr__(name: str) -> object:
    # EditGrid loads ipydatagrid (and bqplot): only when it is used.
    if name == "EditGrid":
        from .grid import EditGrid

        return EditGrid
    raise AttributeError(name)
