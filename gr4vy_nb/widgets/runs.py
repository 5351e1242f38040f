"""RunsBrowser: past runs with their totals; open one into the results view, resume it or roll it back."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd

from ..errors import InputError
from ..notebook_support import Connection, connect, open_run
from ._common import Confirmation, Messages, Table, busy
from ._runner import RunActions, RunPanel
from .results import ResultsView

__all__ = ["RunsBrowser"]


class RunsBrowser(RunActions):
    """Every run journal under a folder, newest first; open, resume or roll back the one chosen.

    Args:
        connection: the target resume and rollback write to (see
            :func:`~gr4vy_nb.notebook_support.connect`). A run made against another target is
            refused by the engine, with a message, before anything is sent.
        runs_dir: the folder of the journals (``runs/`` of the working folder).

    Handlers: :meth:`on_refresh`, :meth:`on_open` (the run chosen in :attr:`choice`),
    :meth:`on_resume`, :meth:`on_rollback` (both in the background: :meth:`wait`,
    :meth:`on_cancel`). After a resume or rollback the results view shows the new state and the
    list is refreshed.
    """

    _NO_RUN = "open a run first"

    def __init__(self, connection: Connection | None = None, *, runs_dir: str | Path = "runs") -> None:
        self.connection = connection if connection is not None else connect(announce=False)
        self.client = self.connection.client
        self.messages = Messages()
        self.runs = pd.DataFrame()
        self.dir_box = w.Text(value=str(runs_dir), description="runs folder", layout=w.Layout(width="60%"))
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.refresh_button.add_class("gr4vy-runs-refresh")
        self.table = Table(page_length=10)
        self.choice = w.Dropdown(options=[], description="run", layout=w.Layout(width="90%"))
        self.choice.add_class("gr4vy-runs-choice")
        self.open_button = w.Button(description="Open", icon="folder-open", button_style="primary")
        self.open_button.add_class("gr4vy-runs-open")
        self.results = ResultsView()
        # Retrying failed rows means a new plan: that is the bulk-update app's job.
        self.results.retry_button.layout.display = "none"
        self.confirmation = Confirmation(self.connection.settings, on_change=self._refresh)
        self.runner = RunPanel(self.messages, on_state=self._refresh)
        self.refresh_button.on_click(self.on_refresh)
        self.open_button.on_click(self.on_open)
        self.results.resume_button.on_click(self.on_resume)
        self.results.rollback_button.on_click(self.on_rollback)
        self.widget = w.VBox([
            w.HTML(self.connection.banner_html()),
            w.HBox([self.dir_box, self.refresh_button]),
            self.table.widget,
            w.HBox([self.choice, self.open_button]),
            self.messages.widget,
            *self.confirmation.widgets,
            self.runner.widget,
            self.results.widget,
        ])
        self.on_refresh()

    def _buttons(self) -> list[w.Button]:
        return [self.refresh_button, self.open_button, *self.results.buttons]

    def _refresh(self) -> None:
        running = self.runner.running
        self.refresh_button.disabled = running
        self.open_button.disabled = running or not self.choice.options
        self.results.refresh_buttons(busy=running)
        if not self.confirmation.ok:
            self.results.resume_button.disabled = True
            self.results.rollback_button.disabled = True

    def on_refresh(self, _button: Any = None) -> None:
        """List the journals under the runs folder (newest first)."""
        from ..updates.results import list_runs

        with busy(self._buttons(), self.messages, on_done=self._refresh):
            folder = Path(self.dir_box.value.strip() or "runs").expanduser()
            self.runs = list_runs(folder)
            shown = self.runs.drop(columns=[c for c in ("message",) if c in self.runs.columns])
            self.table.show(shown, note=f"{len(self.runs)} run(s) in {folder}")
            previous = self.choice.value
            self.choice.options = [(_label(r), str(r["journal"])) for _, r in self.runs.iterrows()]
            values = [v for _, v in self.choice.options]
            if values:
                self.choice.value = previous if previous in values else values[0]  # newest first

    def on_open(self, _button: Any = None) -> None:
        """Show the chosen run in the results view."""
        with busy(self._buttons(), self.messages, on_done=self._refresh):
            if not self.choice.value:
                raise InputError("no run chosen (press Refresh, then pick one)")
            run = open_run(self.choice.value)
            self.results.show(run)
            self.messages.info(f"opened run {run.run_id}: {run.state}")

    def _finished(self, run: Any) -> None:
        c = run.counts
        text = f"{run.kind} {run.state}: {c['succeeded']} succeeded, {c['failed']} failed, {c['conflict']} conflict"
        self._show_finished(run, text)
        self.on_refresh()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def _label(row: pd.Series) -> str:
    def num(key: str) -> int:
        value = row.get(key)
        return 0 if value is None or pd.isna(value) else int(value)

    created = row.get("created_at")
    when = created.strftime("%Y-%m-%d %H:%M") if isinstance(created, pd.Timestamp) else "?"
    return html.unescape(
        f"{when} · {row.get('run_id')} · {row.get('kind')} · {row.get('state')} · "
        f"{num('succeeded')}/{num('total')} succeeded, {num('failed')} failed"
    )
