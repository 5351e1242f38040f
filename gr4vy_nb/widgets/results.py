"""ResultsView: a run's results, filterable by status, with its result files and follow-up buttons."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd

from ..updates.states import RESULT_STATUSES, RunKind, RunState, SessionStatus
from ._common import Table, download_link

__all__ = ["RESULT_FILTERS", "ResultsView"]

_ALL, _NOT_SUCCEEDED = "all", "not succeeded"
RESULT_FILTERS = (_ALL, *(str(s) for s in RESULT_STATUSES), _NOT_SUCCEEDED)
"""The status filter's choices: every result status, all of them, or all but ``succeeded``."""
_COLOURS = {SessionStatus.SUCCEEDED: "#15803d", SessionStatus.FAILED: "#b91c1c", SessionStatus.CONFLICT: "#b45309",
            SessionStatus.SKIPPED: "#6b7280", SessionStatus.UNPROCESSED: "#1d4ed8"}
# Result files larger than this are offered by path only, not as an in-page download.
_MAX_LINK_BYTES = 5 * 1024 * 1024


def _fit() -> w.Layout:
    """A layout as wide as the control's label (never cut); one per widget, since layouts are shared objects."""
    return w.Layout(width="auto")


class ResultsView:
    """Shows a :class:`~gr4vy_nb.updates.runs.Run`: counts, the results table with a status filter, downloads.

    The owner wires :attr:`retry_button` and :attr:`rollback_button` (and :attr:`resume_button`)
    to its handlers; :meth:`show` enables them according to the run.
    """

    def __init__(self) -> None:
        self.run: Any = None
        self.title = w.HTML(value="<i>no run yet</i>")
        self.counts = w.HTML(value="")
        self.counts.add_class("gr4vy-results-counts")
        self.status_filter = w.Dropdown(options=list(RESULT_FILTERS), value=_ALL, description="status",
                                        layout=w.Layout(width="260px"))
        self.status_filter.add_class("gr4vy-results-filter")
        self.table = Table(page_length=10, empty="No session has this status.")
        self.downloads = w.HTML(value="")
        self.downloads.add_class("gr4vy-results-downloads")
        self.retry_button = w.Button(description="Retry failed", icon="redo", disabled=True, layout=_fit(),
                                     tooltip="plan again from errors.csv (the rows that did not go through)")
        self.retry_button.add_class("gr4vy-retry")
        self.resume_button = w.Button(description="Resume run", icon="play", disabled=True, layout=_fit(),
                                      tooltip="send what the run has not sent yet (canary, cancel, crash)")
        self.resume_button.add_class("gr4vy-resume")
        self.rollback_button = w.Button(description="Roll back this run", icon="undo", button_style="danger",
                                        disabled=True, layout=_fit(), tooltip="put back the before-state of every "
                                        "succeeded session (sessions changed since are left alone)")
        self.rollback_button.add_class("gr4vy-rollback")
        self.force_rollback = w.Checkbox(value=False, indent=False, layout=w.Layout(width="auto"),
                                         description="force (overwrite sessions changed since the run)")
        self.status_filter.observe(self._on_filter, names="value")
        self.actions = w.HBox([self.retry_button, self.resume_button, self.rollback_button, self.force_rollback])
        # No run yet: only the sentence; the buttons and the filter come with a run to act on.
        self.actions.layout.display = self.status_filter.layout.display = "none"
        self.widget = w.VBox([self.title, self.counts, self.downloads, self.actions, self.status_filter,
                              self.table.widget])

    @property
    def buttons(self) -> list[w.Button]:
        return [self.retry_button, self.resume_button, self.rollback_button]

    def show(self, run: Any, *, rolled_back_by: str | None = None) -> None:
        """Show ``run`` (a :class:`~gr4vy_nb.updates.runs.Run`) and enable the buttons that apply to it.

        The title is the journal's name (what is on disk); ``rolled_back_by`` (the rollbacks' run ids)
        marks a run that was rolled back.
        """
        self.run = run
        self.actions.layout.display = self.status_filter.layout.display = None
        c = run.counts
        # Open on what needs attention: the sessions that did not go through, when there are any. (First, so
        # that the counts below never show before the table they belong to.)
        attention = c[SessionStatus.FAILED] + c[SessionStatus.CONFLICT] + c[SessionStatus.UNPROCESSED]
        wanted = _NOT_SUCCEEDED if attention else _ALL
        if self.status_filter.value != wanted:
            self.status_filter.value = wanted  # redraws the table
        else:
            self._refresh_table()
        reason = f" — {html.escape(_outcome(run))}" if _outcome(run) else ""
        name = Path(str(run.journal)).stem
        other_id = f" · run id {html.escape(run.run_id)}" if run.run_id != name else ""
        rolled = (f" · <span class='gr4vy-rolled-back' style='color:#b45309'><b>rolled back by "
                  f"{html.escape(rolled_back_by)}</b></span>" if rolled_back_by else "")
        self.title.value = (
            f"<b>Run {html.escape(name)}</b> ({html.escape(run.kind)}): "
            f"<span class='gr4vy-run-state'>{html.escape(run.state)}</span>{rolled}{reason}<br>"
            f"<span style='color:#6b7280'>journal {html.escape(str(run.journal))}{other_id}</span>"
        )
        self.counts.value = " ".join(
            f"<span class='gr4vy-count' data-status='{s}' style='color:{_COLOURS[s]};margin-right:14px'>"
            f"{s} <b>{c[s]}</b></span>" for s in RESULT_STATUSES
        ) + f" <span data-status='total'>total <b>{c['total']}</b></span>" + (
            f"<br><span style='color:#b45309'>{c['applied_with_differences']} succeeded session(s) were applied "
            "with differences: the server did not keep every value as sent (see the differences column)</span>"
            if c["applied_with_differences"] else "")
        self.downloads.value = self._downloads_html(run)
        self.refresh_buttons(busy=False)

    def refresh_buttons(self, *, busy: bool, retryable: int | None = None) -> None:
        """Enable the buttons the shown run allows (all disabled while ``busy``).

        ``retryable``: how many failed sessions a new plan could get through (default: every failed or
        conflict session); sessions that can never succeed (not found or expired) are not offered again.
        """
        run = self.run
        if run is None or busy:
            for b in self.buttons:
                b.disabled = True
            return
        c = run.counts
        not_through = c[SessionStatus.FAILED] + c[SessionStatus.CONFLICT] if retryable is None else retryable
        self.retry_button.disabled = not not_through or run.kind != RunKind.APPLY
        self.retry_button.tooltip = (
            "plan again from errors.csv (the rows that did not go through)" if not_through or not (
                c[SessionStatus.FAILED] + c[SessionStatus.CONFLICT])
            else "the failed sessions were not found or have expired: no new plan can update them")
        self.resume_button.disabled = c[SessionStatus.UNPROCESSED] == 0 or run.state == RunState.FINISHED
        self.rollback_button.disabled = c[SessionStatus.SUCCEEDED] == 0

    def filtered(self) -> pd.DataFrame:
        """The results rows the status filter selects."""
        if self.run is None:
            return pd.DataFrame()
        df = self.run.results
        choice = self.status_filter.value
        if choice == _ALL:
            return df
        if choice == _NOT_SUCCEEDED:
            return df[df["status"] != SessionStatus.SUCCEEDED]
        return df[df["status"] == choice]

    def _on_filter(self, _change: Any = None) -> None:
        self._refresh_table()

    def _refresh_table(self) -> None:
        rows = self.filtered()
        # Short columns first, sentences last: nothing one looks for is off to the side.
        columns = [c for c in ("checkout_session_id", "status", "attempts", "http_status", "error_code", "file",
                               "line", "message", "fields", "expires_at", "differences") if c in rows.columns]
        choice = self.status_filter.value
        empty = ("The run names no session." if choice == _ALL else
                 f"No session is {choice}." if choice != _NOT_SUCCEEDED else "Every session succeeded.")
        self.table.show(rows[columns] if len(columns) else rows,
                        note=f"{len(rows):,} session(s) · filter: {choice}", empty=empty)

    @staticmethod
    def _downloads_html(run: Any) -> str:
        c = run.counts
        # errors*.csv are for fixing rows that failed: a cancelled or paused run's unsent rows are resumed instead.
        offer_errors = any(c.get(s, 0) for s in (SessionStatus.FAILED, SessionStatus.CONFLICT))
        unsent = c.get(SessionStatus.UNPROCESSED, 0)
        lines = []
        for name in ("errors", "succeeded", "results", *sorted(k for k in run.files if k.startswith("errors_"))):
            path = run.files.get(name)
            if path is None or not Path(path).is_file():
                continue
            if name.startswith("errors") and not offer_errors:
                continue
            if name == "succeeded" and not c.get(SessionStatus.SUCCEEDED, 0):
                continue
            path = Path(path)
            link = download_link(path.read_bytes(), path.name) if path.stat().st_size <= _MAX_LINK_BYTES else (
                f"{html.escape(path.name)} (too big to download from the page: open it from disk)")
            lines.append(f"<div>{link} <span style='color:#6b7280'>{html.escape(str(path))}</span></div>")
        if not offer_errors and unsent:
            lines.insert(0, f"<div class='gr4vy-no-errors' style='color:#1d4ed8'>no session failed: {unsent:,} not "
                            "sent yet (Resume run sends them)</div>")
        elif not offer_errors and c.get("total", 0):
            lines.insert(0, "<div class='gr4vy-no-errors' style='color:#15803d'>no errors.csv to download: every "
                            "session went through</div>")
        return "".join(lines)


def _outcome(run: Any) -> str:
    """How the run ended, in words: why it stopped; what a cancelled or paused run has not sent yet."""
    unsent = run.counts.get(SessionStatus.UNPROCESSED, 0)
    if run.state in (RunState.CANCELLED, RunState.PAUSED):
        canary = "the canary's first sessions sent; " if run.state == RunState.PAUSED else ""
        return f"{canary}{unsent:,} session(s) not sent yet: Resume run sends them" if unsent else ""
    return str(run.stop_reason or "")
