"""Work off the kernel's main thread, for every app: a plan being made, a run being sent.

The kernel's main thread must stay free while long work goes on, or a Cancel click would wait
behind the work it is meant to stop. :class:`Background` runs one piece of work at a time in a
daemon thread with a cancel event; a toolkit error is shown, any other exception is shown with its
traceback and kept, and :meth:`Background.wait` re-raises it (a bug must not vanish in a thread).
:class:`Pace` decides when to redraw a progress display (at most every :data:`REFRESH_SECONDS`)
and words its rate and ETA, the same for plans, runs and resumes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from ..errors import Gr4vyError
from ._common import Messages

__all__ = ["REFRESH_SECONDS", "Background", "Pace", "duration"]

REFRESH_SECONDS = 0.15
"""Shortest interval between two progress redraws (a run may report thousands of events)."""


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


class Pace:
    """When to redraw a progress display, and its rate and ETA in words."""

    def __init__(self, every: float = REFRESH_SECONDS) -> None:
        self.every = every
        self.began = time.monotonic()
        self._last = 0.0
        self._lock = threading.Lock()

    def due(self, done: int, total: int) -> bool:
        """Whether to redraw now: the interval has passed, or the work is complete (always drawn)."""
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.every and done < total:
                return False
            self._last = now
        return True

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.began

    def fetching(self, done: int, total: int) -> str:
        """A plan's reads in words: ``fetching 12 / 40 · 8.1/s · about 3 s left`` (counters marked for tests)."""
        rate = done / self.elapsed if self.elapsed > 0 else 0.0
        return (f"fetching <b data-counter='done'>{done:,}</b> / <b data-counter='total'>{total:,}</b>"
                f" · {rate:.1f}/s{Pace.eta(total - done, rate)}")

    @staticmethod
    def eta(left: int, rate: float) -> str:
        """`` · about 2 min 05 s left`` (empty when nothing is left or the rate is unknown)."""
        return (f" · <span data-counter='eta'>about {duration(left / rate)} left</span>"
                if rate > 0 and left > 0 else "")


class Background:
    """One piece of work at a time in a daemon thread, with a cancel event; see the module docstring.

    ``start(work, on_done)`` calls ``work(cancel)`` in the thread and hands its result to
    ``on_done`` (in that thread). ``on_state`` is called whenever work starts or ends (so the
    owning app can enable or disable its buttons); ``on_failed`` whenever it ends in an exception.
    """

    def __init__(self, name: str, messages: Messages, on_state: Callable[[], None] | None = None,
                 on_failed: Callable[[BaseException], None] | None = None) -> None:
        self.name = name
        self.messages = messages
        self._on_state = on_state or (lambda: None)
        self._on_failed = on_failed or (lambda exc: None)
        self.cancel_event = threading.Event()
        self.error: BaseException | None = None
        self.result: Any = None
        self._thread: threading.Thread | None = None
        self._active = False

    @property
    def running(self) -> bool:
        """Whether work is under way (from :meth:`start` until its thread has ended it)."""
        return self._active

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def start(self, work: Callable[[threading.Event], Any], on_done: Callable[[Any], None],
              *, finally_: Callable[[], None] | None = None) -> None:
        """Start ``work(cancel)`` in the thread; ``finally_`` runs in it last, before ``on_state``.

        Raises:
            RuntimeError: work is already under way (the caller disables its buttons).
        """
        if self._active:
            raise RuntimeError(f"{self.name} is already in progress")
        self.cancel_event = threading.Event()
        self.error = None
        self.result = None
        self._active = True
        self._thread = threading.Thread(target=self._main, args=(work, on_done, finally_),
                                        name=f"gr4vy-{self.name}", daemon=True)
        self._on_state()
        self._thread.start()

    def _main(self, work: Callable[[threading.Event], Any], on_done: Callable[[Any], None],
              finally_: Callable[[], None] | None) -> None:
        try:
            self.result = work(self.cancel_event)
            on_done(self.result)
        except Gr4vyError as exc:
            self._on_failed(exc)
            self.messages.error(exc)
        except BaseException as exc:  # shown and kept for wait(): a bug must not vanish in a thread
            self._on_failed(exc)
            self.error = exc
            self.messages.error(exc, with_traceback=True)
        finally:
            try:
                if finally_ is not None:
                    finally_()
            finally:
                self._active = False
                self._on_state()

    def cancel(self) -> bool:
        """Ask the work to stop (it checks the event); whether there was work to stop."""
        if self._active:
            self.cancel_event.set()
            return True
        return False

    def wait(self, timeout: float = 120.0) -> Any:
        """Block until the work ends; return its result. Re-raises a non-toolkit exception of the work.

        Raises:
            TimeoutError: the work is still going after ``timeout`` seconds.
        """
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"the {self.name} did not finish within {timeout} s")
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return self.result
