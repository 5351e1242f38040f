"""The bulk app's plan step in the background: a thread with progress (done/total, rate, ETA) and Cancel.

:class:`PlanActions` is mixed into :class:`~gr4vy_nb.widgets.bulk_app.BulkUpdateApp` (as
:class:`~gr4vy_nb.widgets._runner.RunActions` is for runs): :meth:`PlanActions.on_plan` starts the
fetch and merge, :meth:`~PlanActions.on_cancel_plan` stops it within about a second (the plan's
``cancel``: its reads go in small batches), :meth:`~PlanActions.wait_plan` blocks for scripts and
tests. Also here: a step's own message area (:class:`StepMessages`) and the grey "why is this
button disabled" line (:func:`reason_html`).
"""

from __future__ import annotations

import html
import threading
import time
from typing import Any

from ..errors import Gr4vyError
from ..updates.reasons import Action, Reason, ReasonCode
from ._common import Messages, busy

__all__ = ["PlanActions", "StepMessages", "duration", "reason_html", "words"]

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


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


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
    ignore_stale: Any
    _planning: bool
    _plan_thread: threading.Thread | None
    _plan_cancel: threading.Event
    _plan_error: BaseException | None

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

        The fetch runs in a background thread with done/total, rate and ETA, and Cancel
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
                                  ignore_stale=bool(self.ignore_stale.value))
            self.workflow.probe = self.connection.probe  # looked up once per plan, here in the shell
            cancel = threading.Event()
            self._plan_cancel = cancel
            self._plan_error = None
            began = time.monotonic()
            last = [0.0]

            def progress(done: int, total: int) -> None:
                now = time.monotonic()
                if now - last[0] < 0.15 and done < total:
                    return
                last[0] = now
                self.plan_progress.max = max(total, 1)
                self.plan_progress.value = min(done, total)
                elapsed = now - began
                rate = done / elapsed if elapsed > 0 else 0.0
                eta = f" · about {duration((total - done) / rate)} left" if rate > 0 and done < total else ""
                self.plan_counters.value = (
                    f"fetching <b data-counter='done'>{done:,}</b> / <b data-counter='total'>{total:,}</b>"
                    f" · {rate:.1f}/s{eta}")

            def work() -> None:
                try:
                    plan = self.workflow.plan(options, cancel=cancel, progress=progress)
                    if cancel.is_set():  # cancelled after the last read: the plan is dropped
                        self.workflow.clear_plan()
                        raise PlanCancelled("the plan was cancelled; nothing was planned")
                    self.plan_counters.value = (f"fetched {len(plan.items):,} session(s) in "
                                                f"{duration(time.monotonic() - began)}")
                    self._show_plan()
                except PlanCancelled:
                    self.plan_progress.bar_style = "warning"
                    self.plan_counters.value = ""
                    self.plan_messages.warn("plan cancelled: nothing was sent")
                except Gr4vyError as exc:
                    self.plan_progress.bar_style = "danger"
                    self.plan_messages.error(exc)
                except BaseException as exc:  # shown and kept for wait_plan(): a bug must not vanish in a thread
                    self.plan_progress.bar_style = "danger"
                    self._plan_error = exc
                    self.plan_messages.error(exc, with_traceback=True)
                finally:
                    self.plan_cancel_button.disabled = True
                    self.plan_cancel_button.layout.display = "none"
                    if self._plan_error is None and self.plan_progress.bar_style != "danger":
                        self.plan_progress.layout.display = "none"  # the fetch is over: the counters say how
                    self._planning = False
                    self._refresh()

            self.plan_progress.bar_style = "info"
            self.plan_counters.value = "fetching: starting ..."
            self._planning = True
            self.plan_cancel_button.disabled = False
            self.plan_progress.layout.display = self.plan_cancel_button.layout.display = None
            self._plan_thread = threading.Thread(target=work, name="gr4vy-plan", daemon=True)
            self._plan_thread.start()
            started = True
        if started and wait:
            self.wait_plan()

    def on_cancel_plan(self, _button: Any = None) -> None:
        """Stop the plan being made: no plan is made, nothing is sent (fetches in flight finish)."""
        if self._planning:
            self._plan_cancel.set()
            self.plan_cancel_button.disabled = True
            self.plan_counters.value = "cancelling ..."

    def wait_plan(self, timeout: float = 120.0) -> Any:
        """Block until the plan being made is ready (or cancelled); return :attr:`plan` (scripts, tests).

        Raises:
            TimeoutError: the plan is still being made after ``timeout`` seconds.
        """
        thread = self._plan_thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"the plan was not ready within {timeout} s")
        if self._plan_error is not None:
            error, self._plan_error = self._plan_error, None
            raise error
        return self.plan
