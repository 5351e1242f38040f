"""RunsBrowser: past runs with their totals; open one into the results view, resume it or roll it back.

Rolling back asks twice: *Roll back this run* shows a preview (the sessions, the fields put back,
how conflicts are handled, and what cannot be restored: the expiry, expired sessions), and only
*Confirm rollback* sends anything. On PRODUCTION the confirmation (box + merchant id) is needed as
well, and it is cleared after every action, so the next one asks again.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd

from ..errors import InputError
from ..notebook_support import Connection, connect, example_run, open_run
from ..updates.reasons import Action, ReasonCode
from ..updates.workflow import BulkUpdate
from ._common import Confirmation, Messages, Table, busy
from ._runner import RollbackPrompt, RunActions, RunPanel
from .results import ResultsView

__all__ = ["RunsBrowser"]

# The runs table: the run's id, state and totals first (what one looks for, visible without scrolling
# sideways), the long paths last; a rolled-back run says so in its state too.
_FIRST = ("run_id", "state", "total", "succeeded", "failed", "conflict", "unprocessed", "skipped", "kind",
          "created_at", "rolled_back_by")
_HIDDEN = ("message", "parent_run_id")


class RunsBrowser(RunActions):
    """Every run journal under a folder, newest first; open, resume or roll back the one chosen.

    Args:
        connection: the target resume and rollback write to (see
            :func:`~gr4vy_nb.notebook_support.connect`). A run made against another target is
            refused by the engine, with a message, before anything is sent.
        runs_dir: the folder of the journals (``runs/`` of the working folder).

    Handlers: :meth:`on_refresh`, :meth:`on_open` (the run chosen in :attr:`choice`),
    :meth:`on_resume`, :meth:`on_rollback` (shows the preview), :meth:`on_confirm_rollback`
    (sends it; both in the background: :meth:`wait`, :meth:`on_cancel`), :meth:`on_example`
    (an example run, local sandbox only). After a resume or rollback the results view shows the
    new state and the list is refreshed.
    """

    _NO_RUN = "open a run first"

    def __init__(self, connection: Connection | None = None, *, runs_dir: str | Path = "runs") -> None:
        self.connection = connection if connection is not None else connect(announce=False)
        self.client = self.connection.client
        self.workflow = BulkUpdate(self.client, runs_dir=runs_dir)  # resumes and rollbacks go through it
        self.messages = Messages()
        self.runs = pd.DataFrame()
        self.preview: Any = None
        self.dir_box = w.Text(value=str(runs_dir), description="runs folder", layout=w.Layout(width="60%"))
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.refresh_button.add_class("gr4vy-runs-refresh")
        self.table = Table(page_length=10, empty="No runs yet.")
        self.example_button = w.Button(description="Make an example run (local sandbox)", icon="flask",
                                       layout=w.Layout(width="auto", min_width="290px", flex="0 0 auto"),
                                       tooltip="tag 20 sample sessions with metadata.review on the local sandbox")
        self.example_button.add_class("gr4vy-runs-example")
        self.example_box = w.HBox([
            w.HTML("No run here yet: apply one in notebook 02, or make a small example run on the local sandbox "
                   "(a <code>metadata.review</code> tag on 20 sample sessions) to have something to review."),
            self.example_button,
        ])
        self.example_box.layout.display = "none"
        self.choice = w.Dropdown(options=[], description="run", layout=w.Layout(width="90%"))
        self.choice.add_class("gr4vy-runs-choice")
        self.open_button = w.Button(description="Open", icon="folder-open", button_style="primary")
        self.open_button.add_class("gr4vy-runs-open")
        self.results = ResultsView()
        # Retrying failed rows means a new plan: that is the bulk-update app's job.
        self.results.retry_button.layout.display = "none"
        self.confirmation = Confirmation(self.connection.settings, on_change=self._refresh)
        self.runner = RunPanel(self.messages, on_state=self._refresh)
        # Roll back shows this first; only its Confirm sends (the PRODUCTION confirmation sits just above it).
        self.rollback_prompt = RollbackPrompt()
        self.confirm_rollback_button = self.rollback_prompt.confirm_button
        self.refresh_button.on_click(self.on_refresh)
        self.open_button.on_click(self.on_open)
        self.example_button.on_click(self.on_example)
        self.results.resume_button.on_click(self.on_resume)
        self.results.rollback_button.on_click(self.on_rollback)
        self.confirm_rollback_button.on_click(self.on_confirm_rollback)
        self.rollback_prompt.dismiss_button.on_click(self.on_dismiss_rollback)
        self.widget = w.VBox([
            w.HTML(self.connection.banner_html()),
            w.HBox([self.dir_box, self.refresh_button]),
            self.table.widget,
            self.example_box,
            w.HBox([self.choice, self.open_button]),
            self.messages.widget,
            *self.confirmation.widgets,
            self.rollback_prompt.widget,
            self.runner.widget,
            self.results.widget,
        ])
        self.on_refresh()

    def _buttons(self) -> list[w.Button]:
        return [self.refresh_button, self.open_button, self.example_button, *self.results.buttons]

    def _refresh(self) -> None:
        running = self.runner.running
        self.refresh_button.disabled = running
        self.open_button.disabled = running or not self.choice.options
        self.example_button.disabled = running
        self.results.refresh_buttons(busy=running)
        self.confirm_rollback_button.disabled = running or self.preview is None or not self.confirmation.ok
        if not self.confirmation.ok:
            self.results.resume_button.disabled = True
        # A refusal shown earlier goes once its reason no longer holds (the run it waited for has ended, ...).
        wf = self.workflow
        holding = {str(ReasonCode.RUN_IN_PROGRESS)} if running else {
            str(why.code) for a in (Action.RESUME, Action.ROLLBACK) if (why := wf.why_not(a)) is not None}
        self.messages.prune(lambda code: code in holding)

    def on_refresh(self, _button: Any = None) -> None:
        """List the journals under the runs folder (newest first)."""
        from ..updates.results import list_runs

        with busy(self._buttons(), self.messages, on_done=self._refresh):
            folder = self._folder()
            self.runs = list_runs(folder)
            self.table.show(_runs_table(self.runs), note=f"{len(self.runs)} run(s) in {folder}",
                            empty=f"No runs yet in {folder}.")
            self.example_box.layout.display = (None if not len(self.runs) and self.connection.settings.is_local
                                               else "none")
            previous = self.choice.value
            self.choice.options = [(_label(r), str(r["journal"])) for _, r in self.runs.iterrows()]
            values = [v for _, v in self.choice.options]
            if values:
                self.choice.value = previous if previous in values else values[0]  # newest first

    def _folder(self) -> Path:
        return Path(self.dir_box.value.strip() or "runs").expanduser()

    def _rolled_back_by(self, journal: Any) -> str | None:
        if not len(self.runs):
            return None
        mine = self.runs[self.runs["journal"] == str(journal)]["rolled_back_by"]
        return None if not len(mine) or pd.isna(mine.iloc[0]) else str(mine.iloc[0])

    def on_open(self, _button: Any = None) -> None:
        """Show the chosen run in the results view."""
        with busy(self._buttons(), self.messages, on_done=self._refresh):
            if not self.choice.value:
                raise InputError("no run chosen (press Refresh, then pick one)")
            self._clear_preview()
            run = open_run(self.choice.value)
            self.results.show(run, rolled_back_by=self._rolled_back_by(run.journal))
            self.messages.info(f"opened run {Path(str(run.journal)).stem}: {run.state}")

    def on_example(self, _button: Any = None) -> None:
        """Make an example run on the local sandbox (a ``metadata.review`` tag on 20 sample sessions) and open it."""
        made: list[Any] = []
        with busy(self._buttons(), self.messages, on_done=self._refresh):
            made.append(example_run(self.connection, runs_dir=self._folder()))
        if not made:
            return
        run = made[0]
        self.on_refresh()
        if str(run.journal) in [v for _, v in self.choice.options]:
            self.choice.value = str(run.journal)
        self.on_open()
        self.messages.ok(f"example run {Path(str(run.journal)).stem}: {run.counts['succeeded']} succeeded")

    def on_resume(self, _button: Any = None) -> None:
        """Resume the run shown (see :class:`RunActions`); the confirmation is cleared afterwards."""
        self._clear_preview()
        try:
            super().on_resume(_button)
        finally:
            self.confirmation.reset()

    def on_rollback(self, _button: Any = None) -> None:
        """Show what rolling the run back would do, and ask for confirmation (nothing is sent yet)."""
        from ..updates.runs import rollback_preview

        with busy(self._buttons(), self.messages, on_done=self._refresh):
            run = self._current_run()
            self.preview = rollback_preview(run.journal)
            self.rollback_prompt.show(run, self.preview, force=bool(self.results.force_rollback.value),
                                      production=self.confirmation.required)

    def on_confirm_rollback(self, _button: Any = None) -> None:
        """Roll the run shown back (the preview must be shown first); the confirmation is cleared afterwards."""
        try:
            if self.preview is None:
                with busy([], self.messages, on_done=self._refresh):
                    raise InputError("press Roll back this run first: it shows what would be restored")
                return
            shown = self.results.run
            if shown is None or shown.run_id != self.preview.run_id:
                self._clear_preview()
                with busy([], self.messages, on_done=self._refresh):
                    raise InputError("the run shown changed since the preview: press Roll back this run again")
                return
            self._clear_preview()
            super().on_rollback(_button)
        finally:
            self.confirmation.reset()
            self._refresh()

    def on_dismiss_rollback(self, _button: Any = None) -> None:
        """Close the rollback preview; nothing is sent."""
        self._clear_preview()
        self.confirmation.reset()
        self.messages.info("rollback not started: nothing was sent")
        self._refresh()

    def _clear_preview(self) -> None:
        self.preview = None
        self.rollback_prompt.clear()

    def _finished(self, run: Any) -> None:
        c = run.counts
        kind = "resume" if self.runner.label == "resume" else run.kind
        text = (f"{kind} {run.state}: {c['succeeded']} succeeded, {c['failed']} failed, {c['conflict']} "
                f"conflict" + (f", {c['unprocessed']} unprocessed" if c["unprocessed"] else ""))
        notes = getattr(run, "notes", [])
        if notes:
            text += " — " + "; ".join(notes)
        self.confirmation.reset()
        self.on_refresh()
        if str(run.journal) in [v for _, v in self.choice.options]:
            self.choice.value = str(run.journal)  # the run chosen is the run shown
        self._show_finished(run, text)
        self.results.show(run, rolled_back_by=self._rolled_back_by(run.journal))

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)


def _runs_table(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs as shown: state and totals first, human times, the journal last."""
    shown = runs.drop(columns=[c for c in _HIDDEN if c in runs.columns])
    first = [c for c in _FIRST if c in shown.columns]
    shown = shown[first + [c for c in shown.columns if c not in first]]
    if "rolled_back_by" in shown.columns and "state" in shown.columns and len(shown):
        rolled = shown["rolled_back_by"].map(lambda v: isinstance(v, str) and bool(v))
        shown = shown.assign(state=shown["state"].astype(str).where(~rolled, shown["state"].astype(str)
                                                                    + " · rolled back"))
    if "created_at" in shown.columns and len(shown):
        stamps = pd.to_datetime(shown["created_at"], utc=True)
        shown = shown.assign(created_at=stamps.dt.strftime("%Y-%m-%d %H:%M UTC").where(stamps.notna(), ""))
    return shown.rename(columns={"rolled_back_by": "rolled back by", "created_at": "created", "run_id": "run"})


def _label(row: pd.Series) -> str:
    def num(key: str) -> int:
        value = row.get(key)
        return 0 if value is None or pd.isna(value) else int(value)

    created = row.get("created_at")
    when = created.strftime("%Y-%m-%d %H:%M") if isinstance(created, pd.Timestamp) else "?"
    by = row.get("rolled_back_by")
    rolled = f" · rolled back by {by}" if isinstance(by, str) and by else ""
    return html.unescape(
        f"{row.get('state')}{rolled} · {num('succeeded')}/{num('total')} succeeded, {num('failed')} failed · "
        f"{row.get('kind')} · {when} · {row.get('run_id')}"
    )
