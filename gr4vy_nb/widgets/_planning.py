"""The bulk app's plan step in the background: progress (done/total, rate, ETA) and Cancel.

:class:`PlanActions` is mixed into :class:`~gr4vy_nb.widgets.bulk_app.BulkUpdateApp` (as
:class:`~gr4vy_nb.widgets._runner.RunActions` is for runs): :meth:`PlanActions.on_plan` starts the
fetch and merge in the background (:class:`~gr4vy_nb.widgets._background.Background`, as runs do),
:meth:`~PlanActions.on_cancel_plan` stops it within about a second (the plan's ``cancel``: its
reads go in small batches), :meth:`~PlanActions.wait_plan` blocks for scripts and tests. Also here:
a step's own message area (:class:`StepMessages`) and the grey "why is this button disabled" line
(:func:`reason_html`).
"""

from __future__ import annotations

import html
import threading
from typing import Any

from ..updates.reasons import Action, Reason, ReasonCode
from ._background import Background, Pace, duration
from ._common import Messages, busy

__all__ = ["PlanActions", "StepMessages", "reason_html", "words"]

_GREY = "color:#6b7280;font-size:90%;margin-left:8px"


class StepMessages(Messages):
    """A step's own message area, shown under the step; every message also goes to the app's log at the top."""

    def __init__(self, parent: Messages, keep: int = 3) -> None:
        super().__init__(keep)
        self._parent = parent

    def _add(self, kind: str, text: str, extra: str = "", code: str | None = None) -> None:
        super()._add(kind, text, extra, code)
        self._parent._add(kind, text, extra, code)


_WORDS: dict[tuple[ReasonCode, Action | None], str] = {
    (ReasonCode.NOTHING_LOADED, None): "validate the files first",
    (ReasonCode.INPUT_ERRORS, None): "fix the validation errors and validate again",
    (ReasonCode.PLAN_IN_PROGRESS, Action.PLAN): "planning ...",
    (ReasonCode.PLAN_IN_PROGRESS, Action.APPLY): "wait for the plan",
    (ReasonCode.PLAN_IN_PROGRESS, None): "a plan is being made: wait for it or cancel it",
    (ReasonCode.RUN_IN_PROGRESS, None): "a run is in progress",
    (ReasonCode.NOT_PLANNED, None): "plan first",
    (ReasonCode.ERRORS_REMAIN, None): "the plan has errors",
    (ReasonCode.NOTHING_TO_PLAN, None): "nothing to do: the files name no session",
    (ReasonCode.NOTHING_TO_SEND, None): "the plan has nothing to send",
    (ReasonCode.PLAN_STALE, None): "this plan was applied already: plan again or resume its run",
    (ReasonCode.DESTRUCTIVE_NEEDS_CONSENT, None): "tick the consent box next to Run",
    (ReasonCode.PRODUCTION_NOT_CONFIRMED, None): "confirm PRODUCTION (tick the box and type the merchant account id)",
    (ReasonCode.NO_RUN, None): "no run to act on",
}
"""The app's words for a reason (by code, and by action where the words differ); others keep the reason's text."""
_WRITES = (Action.APPLY, Action.RESUME, Action.ROLLBACK)


def words(why: Reason, action: Action | None = None, *, clicked: bool = False) -> Reason:
    """``why`` in this app's words (its code kept); ``clicked``: a refused write adds that nothing was sent."""
    text = _WORDS.get((why.code, action)) or _WORDS.get((why.code, None)) or why.text
    if clicked and action in _WRITES:
        text += "; nothing was sent"
    return Reason(why.code, text)


def reason_html(reason: str) -> str:
    """The small grey line next to a disabled button saying why it is disabled."""
    return f"<span style='{_GREY}'>{html.escape(reason)}</span>" if reason else ""


class PlanActions:
    """The plan step of the bulk app, in the background (the app provides the widgets and state it uses)."""

    # Provided by the app:
    plan: Any
    upload_obj: Any
    workflow: Any
    connection: Any
    client: Any
    runner: Any
    confirmation: Any
    plan_messages: Messages
    plan_progress: Any
    plan_counters: Any
    plan_cancel_button: Any
    expires_in: Any
    lists_mode: Any
    rewrites_mode: Any
    ignore_stale: Any
    planner: Background

    def _buttons(self) -> list[Any]:
        raise NotImplementedError

    def _refuse(self, action: Action) -> None:
        raise NotImplementedError

    def _refresh(self) -> None:
        raise NotImplementedError

    def _clear_plan_view(self) -> None:
        raise NotImplementedError

    def _show_plan(self) -> None:
        raise NotImplementedError

    def on_plan(self, _button: Any = None, *, wait: bool | None = None) -> None:
        """Fetch the current state of every session named, merge the upload, show the diff (GET only).

        The fetch runs in the background (:attr:`planner`) with done/total, rate and ETA, and Cancel
        (:meth:`on_cancel_plan`). ``wait``: block until the plan is made (:meth:`wait_plan`); by default a
        click on *Plan* returns at once, while a call from code (``app.on_plan()``) waits, so the next line
        of a script or cell sees :attr:`plan`.
        """
        from ..updates.options import PlanOptions
        from ..updates.plan import PlanCancelled

        if wait is None:
            wait = _button is None
        started = False
        # A new plan needs its own PRODUCTION confirmation: re-armed first, so that a browser sees the box
        # cleared no later than the buttons disabled below.
        self.confirmation.reset()
        with busy(self._buttons(), self.plan_messages, on_done=self._refresh):
            self._refuse(Action.PLAN)
            self._clear_plan_view()
            options = PlanOptions(expires_in=int(self.expires_in.value), lists=str(self.lists_mode.value),
                                  rewrites=str(self.rewrites_mode.value), ignore_stale=bool(self.ignore_stale.value))
            self.workflow.probe = self.connection.probe  # looked up once per plan, here in the shell
            pace = Pace()

            def progress(done: int, total: int) -> None:
                if not pace.due(done, total):
                    return
                self.plan_progress.max = max(total, 1)
                self.plan_progress.value = min(done, total)
                self.plan_counters.value = pace.fetching(done, total)

            def work(cancel: threading.Event) -> Any:
                try:
                    plan = self.workflow.plan(options, cancel=cancel, progress=progress)
                    if cancel.is_set():  # cancelled after the last read: the plan is dropped
                        self.workflow.clear_plan()
                        raise PlanCancelled("the plan was cancelled; nothing was planned")
                except PlanCancelled:
                    self.plan_progress.bar_style = "warning"
                    self.plan_counters.value = ""
                    self.plan_messages.warn("plan cancelled: nothing was sent")
                    return None
                return plan

            def done(plan: Any) -> None:
                if plan is not None:
                    self.plan_counters.value = (f"fetched {len(plan.items):,} session(s) in "
                                                f"{duration(pace.elapsed)}")
                    self._show_plan()

            def ended() -> None:
                self.plan_cancel_button.disabled = True
                self.plan_cancel_button.layout.display = "none"
                if self.plan_progress.bar_style != "danger":
                    self.plan_progress.layout.display = "none"  # the fetch is over: the counters say how

            self.plan_progress.bar_style = "info"
            self.plan_counters.value = "fetching: starting ..."
            self.plan_cancel_button.disabled = False
            self.plan_progress.layout.display = self.plan_cancel_button.layout.display = None
            self.planner.start(work, done, finally_=ended)
            started = True
        if started and wait:
            self.wait_plan()

    def _plan_failed(self, _exc: BaseException) -> None:
        self.plan_progress.bar_style = "danger"

    def on_cancel_plan(self, _button: Any = None) -> None:
        """Stop the plan being made: no plan is made, nothing is sent (fetches in flight finish)."""
        if self.planner.cancel():
            self.plan_cancel_button.disabled = True
            self.plan_counters.value = "cancelling ..."

    def wait_plan(self, timeout: float = 120.0) -> Any:
        """Block until the plan being made is ready (or cancelled); return :attr:`plan` (scripts, tests).

        Raises:
            TimeoutError: the plan is still being made after ``timeout`` seconds.
        """
        self.planner.wait(timeout)
        return self.plan
