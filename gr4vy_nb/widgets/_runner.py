"""RunPanel: runs apply/resume/rollback off the kernel's main thread, with live progress and Cancel.

:class:`RunActions` is what the apps that show a run (the bulk-update app, the runs browser)
share: resume or roll back the run shown, cancel, wait, and report how a run ended.

The run executes in the background (:class:`~gr4vy_nb.widgets._background.Background`, as a plan
does); it updates the widgets from there (ipywidgets sends state changes from any thread), at most
every :data:`REFRESH_SECONDS`, plus once at the end. Cancel sets an event the engine checks before
each new request: in-flight requests finish and the journal stays consistent.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w

from ..errors import InputError, Refused
from ..updates.reasons import Action, ReasonCode, reason
from ..updates.states import RESULT_STATUSES, RunState
from ._background import REFRESH_SECONDS, Background, Pace
from ._common import Messages, busy
from ._planning import words

__all__ = ["REFRESH_SECONDS", "RollbackPrompt", "RunActions", "RunPanel"]

_DOING = {"apply": "applying", "resume": "resuming", "rollback": "rolling back"}
"""What the panel says a run of each kind is doing (the label :meth:`RunPanel.start` is given)."""
CANCELLING = "cancelling: requests in flight will finish, nothing new is sent"


class RunPanel:
    """A progress bar with succeeded/failed/retrying counters, a Cancel button, and the run's thread.

    ``start(label, work, on_finished)`` runs ``work(progress=..., cancel=...)`` in the background
    (:class:`~gr4vy_nb.widgets._background.Background`); its result (a
    :class:`~gr4vy_nb.updates.runs.Run`) goes to ``on_finished`` (in that thread). A toolkit error is
    shown in ``messages``; any other exception is shown with its traceback and kept in
    :attr:`error`, and :meth:`wait` re-raises it. ``on_state`` is called whenever a run starts or
    ends, so the owning app can enable or disable its buttons.
    """

    def __init__(self, messages: Messages, on_state: Callable[[], None] | None = None) -> None:
        self.messages = messages
        self.bar = w.IntProgress(value=0, min=0, max=1, description="", bar_style="",
                                 layout=w.Layout(width="60%"))
        self.bar.add_class("gr4vy-run-progress")
        self.counters = w.HTML(value="")
        self.counters.add_class("gr4vy-run-counters")
        self.note = w.HTML(value="")  # "cancelling ..." while a cancelled run winds down; cleared when it ends
        self.note.add_class("gr4vy-run-note")
        self.label = ""
        self.cancel_button = w.Button(description="Cancel", icon="stop", button_style="warning", disabled=True,
                                      tooltip="stop sending: requests in flight finish, the rest stay unprocessed")
        self.cancel_button.add_class("gr4vy-cancel")
        self.cancel_button.on_click(self.on_cancel)
        # Shown from the first run on; Cancel only while a run is under way (an idle, disabled
        # Cancel looked as live as an enabled one).
        self.cancel_button.layout.display = "none"
        self.widget = w.VBox([w.HBox([self.bar, self.cancel_button]), self.counters, self.note])
        self.widget.layout.display = "none"
        self.work = Background("run", messages, on_state, on_failed=self._failed)
        self.last_progress: Any = None
        self._pace = Pace()

    @property
    def running(self) -> bool:
        """Whether a run is in progress."""
        return self.work.running

    @property
    def error(self) -> BaseException | None:
        return self.work.error

    @property
    def result(self) -> Any:
        return self.work.result

    def start(self, label: str, work: Callable[..., Any], on_finished: Callable[[Any], None]) -> None:
        """Start ``work(progress=..., cancel=...)`` in a background thread.

        Raises:
            RuntimeError: a run is already in progress (the caller disables its buttons).
        """
        if self.running:
            raise RuntimeError("a run is already in progress")
        self.label = label
        self.note.value = ""
        self.last_progress = None
        self._pace = Pace()
        self.bar.value, self.bar.max, self.bar.bar_style = 0, 1, "info"
        self.counters.value = (f"<span class='gr4vy-run-kind'>{html.escape(_DOING.get(label, label))}</span>: "
                               "starting ...")
        self.cancel_button.disabled = False
        self.cancel_button.layout.display = None
        self.widget.layout.display = None

        def done(run: Any) -> None:
            self.draw_final(run)
            on_finished(run)

        self.work.start(lambda cancel: work(progress=self._on_progress, cancel=cancel), done, finally_=self._ended)

    def _failed(self, _exc: BaseException) -> None:
        self.bar.bar_style = "danger"

    def _ended(self) -> None:
        self.cancel_button.disabled = True
        self.cancel_button.layout.display = "none"
        self.note.value = ""  # the run has ended: "cancelling" no longer holds

    def wait(self, timeout: float = 120.0) -> Any:
        """Block until the run ends; return its result. Re-raises a non-toolkit exception of the run.

        Raises:
            TimeoutError: the run is still going after ``timeout`` seconds.
        """
        return self.work.wait(timeout)

    def on_cancel(self, _button: Any = None) -> None:
        """Stop sending: requests in flight finish; the rest stay ``unprocessed`` (resumable)."""
        if self.work.cancel():
            self.cancel_button.disabled = True
            # Under the bar, not in the message log: it describes the run winding down and goes when it ends.
            self.note.value = f"<span style='color:#b45309'>{html.escape(CANCELLING)}</span>"

    def _on_progress(self, p: Any) -> None:
        self.last_progress = p
        if self._pace.due(p.done, p.total):
            self._draw(p)

    def _draw(self, p: Any) -> None:
        self.bar.max = max(p.total, 1)
        self.bar.value = min(p.done, p.total)
        parts = [
            ("done", f"{p.done} / {p.total}"),
            ("succeeded", str(p.succeeded)),
            ("failed", str(p.failed)),
            ("conflict", str(p.conflict)),
            ("retrying", str(p.retrying)),
            ("in-flight", str(p.in_flight)),
        ]
        rate = p.per_second
        speed = f" · {rate:.1f}/s" if p.elapsed > 0 else ""
        doing = _DOING["resume"] if getattr(p, "resumed", False) else _DOING.get(str(p.kind), str(p.kind))
        self.counters.value = (
            f"<span class='gr4vy-run-kind'>{html.escape(doing)}</span>: "
            + " · ".join(f"<span data-counter='{k}'>{k} <b>{html.escape(v)}</b></span>" for k, v in parts)
            + speed + Pace.eta(p.total - p.done, rate)
        )

    def draw_final(self, run: Any) -> None:
        """Show a finished run's totals (from its results: what the journal says, not the events)."""
        c = run.counts
        self.widget.layout.display = None
        self.bar.max = max(c["total"], 1)
        self.bar.value = c["total"] - c["unprocessed"]
        self.bar.bar_style = "success" if run.ok else ("danger" if run.state == RunState.STOPPED else "warning")
        parts = " · ".join(f"{k} <b>{c[k]}</b>" for k in RESULT_STATUSES)
        sent = run.requests_text
        kind = "resume" if self.label == "resume" else str(run.kind)
        self.counters.value = (
            f"<span class='gr4vy-run-kind'>{html.escape(kind)}</span> {html.escape(run.state)}: {parts} "
            f"(total {c['total']}, {run.elapsed:.1f} s)"
            + (f"<br><span class='gr4vy-run-requests' style='color:#6b7280'>requests: {html.escape(sent)}</span>"
               if sent else "")
        )


class RollbackPrompt:
    """The rollback preview and its two buttons: *Confirm rollback of N session(s)* and *Do not roll back*.

    :meth:`show` fills it from :func:`~gr4vy_nb.updates.runs.rollback_preview` (read from the journal, no
    request); :attr:`preview` is what was shown (``None``: hidden). The owner wires the two buttons.
    """

    def __init__(self, confirmation: Any = None) -> None:
        self.preview: Any = None
        self.html = w.HTML(value="")
        self.html.add_class("gr4vy-rollback-preview")
        self.confirm_button = w.Button(description="Confirm rollback", icon="undo", button_style="danger",
                                       layout=w.Layout(width="auto"), disabled=True)
        self.confirm_button.add_class("gr4vy-rollback-confirm")
        self.dismiss_button = w.Button(description="Do not roll back", layout=w.Layout(width="auto"))
        self.dismiss_button.add_class("gr4vy-rollback-dismiss")
        # The PRODUCTION confirmation (if any) shown again right above the buttons: the same widgets,
        # a second view of each, so ticking it here or next to Run is one and the same.
        guard = list(getattr(confirmation, "widgets", []) or [])
        self._guard_inside = bool(guard)
        self.widget = w.VBox([self.html, *guard, w.HBox([self.confirm_button, self.dismiss_button])])
        self.widget.layout.display = "none"

    def show(self, run: Any, preview: Any, *, force: bool, production: bool) -> None:
        self.preview = preview
        lines = list(preview.lines)
        if force:
            lines.append("force is ticked: sessions changed since the run are overwritten too")
        n = len(preview.sessions)
        self.html.value = (
            "<div style='border-left:4px solid #b91c1c;padding:4px 10px;margin:6px 0'>"
            f"<b>Roll back run {html.escape(Path(str(run.journal)).stem)}?</b>"
            + "".join(f"<div class='gr4vy-preview-line'>{html.escape(t)}</div>" for t in lines)
            + ("<div><i>Confirm below" + ((" (after the PRODUCTION confirmation just below)" if self._guard_inside
                                           else " (after the PRODUCTION confirmation above)") if production else "")
               + ", or choose not to roll back.</i></div>" if n else "")
            + "</div>")
        self.confirm_button.description = f"Confirm rollback of {n} session(s)"
        self.confirm_button.layout.display = None if n else "none"
        self.widget.layout.display = None

    def clear(self) -> None:
        self.preview = None
        self.html.value = ""
        self.widget.layout.display = "none"


class RunActions:
    """Resume, roll back, cancel and wait for the run an app shows (a mixin of the apps that show runs).

    The app provides ``runner`` (a :class:`RunPanel`), ``results`` (a
    :class:`~gr4vy_nb.widgets.results.ResultsView`), ``messages``, ``confirmation``, ``client``,
    ``_refresh()`` (which buttons its state allows) and ``_finished(run)`` (a run ended); it may
    override :meth:`_run_options` (the engine's options its controls set) and :attr:`_NO_RUN`.
    """

    _NO_RUN = "no run to act on"
    """The message when no run is shown."""

    runner: RunPanel
    results: Any
    messages: Messages
    confirmation: Any
    client: Any
    workflow: Any

    def _refresh(self) -> None:
        raise NotImplementedError

    def _finished(self, run: Any) -> None:
        raise NotImplementedError

    def _run_options(self) -> dict[str, Any]:
        return {}

    def _workflow_for(self, run: Any, action: Action) -> Any:
        """The app's workflow holding ``run`` (attached if it holds another), its gates set from the widgets."""
        wf = self.workflow
        if wf.run is None or Path(str(wf.run.journal)) != Path(str(run.journal)):
            wf.attach(run.journal)
        wf.confirm(self.confirmation.confirmed_id)
        why = wf.why_not(action)
        if why is not None:
            raise Refused(words(why, action, clicked=True))
        return wf

    def on_resume(self, _button: Any = None) -> None:
        """Resume the run shown in the background (sends what it has not sent yet)."""
        from ..updates.options import RunOptions

        with busy([], self.messages, on_done=self._refresh):
            wf = self._workflow_for(self._current_run(), Action.RESUME)
            options = RunOptions(**self._run_options())

            def work(progress: Any, cancel: Any) -> Any:
                return wf.resume(options, progress=progress, cancel=cancel)

            self.runner.start("resume", work, self._finished)

    def on_rollback(self, _button: Any = None) -> None:
        """Roll the run shown back in the background (a new journaled run)."""
        from ..updates.options import RunOptions

        with busy([], self.messages, on_done=self._refresh):
            wf = self._workflow_for(self._current_run(), Action.ROLLBACK)
            force = bool(self.results.force_rollback.value)
            options = RunOptions(**self._run_options())

            def work(progress: Any, cancel: Any) -> Any:
                return wf.rollback(options, force=force, progress=progress, cancel=cancel)

            self.runner.start("rollback", work, self._finished)

    def on_cancel(self, _button: Any = None) -> None:
        """Stop the run in progress: requests in flight finish, nothing new is sent."""
        self.runner.on_cancel()

    def wait(self, timeout: float = 120.0) -> Any:
        """Block until the run in progress ends and return its :class:`~gr4vy_nb.updates.runs.Run` (scripts, tests)."""
        return self.runner.wait(timeout)

    def _current_run(self) -> Any:
        if self.runner.running:  # a refusal with its code: it is dropped from the messages once the run ends
            raise Refused(words(reason(ReasonCode.RUN_IN_PROGRESS), clicked=True))
        if self.results.run is None:
            raise InputError(self._NO_RUN)
        return self.results.run

    def _show_finished(self, run: Any, text: str, messages: Messages | None = None) -> None:
        """Show a run that ended in the results view, and ``text`` (its outcome) in ``messages`` (the app's)."""
        messages = messages or self.messages
        self.results.show(run)
        if run.state == RunState.STOPPED and run.stop_reason:
            messages.error(f"{text}. Stopped: {run.stop_reason}")
        elif run.ok:
            messages.ok(text)
        else:
            unsent = run.counts.get("unprocessed", 0)
            messages.warn(text + (" (Resume run sends the rest)" if unsent and run.state in (
                RunState.CANCELLED, RunState.PAUSED) else ""))
