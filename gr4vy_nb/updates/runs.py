"""Apply a plan, resume a run, roll a run back: the bulk engine, with a journal for each run.

::

    run = apply_plan(plan, client=client, workers=8, rate=20)     # -> Run
    run.results                     # every session named: status, message, attempts, ...
    run.files["errors"]             # errors.csv: the user's rows that did not go through, plus `error`
    resume_run(run.journal, client=client)     # after a crash, kill -9, cancel or a canary
    rollback_run(run.journal, client=client)   # put the before-state back

How a session is applied (each step committed to the journal before the next one starts):

1. **Re-read** (``GET``, when ``conflict_check`` is on, and always on resume): if the session
   already holds the desired values it is ``succeeded`` without a write; if the fields the
   plan changes differ from the plan's before-state, it is a ``conflict`` and is not written.
2. ``sending`` is committed, then the ``PUT`` goes out (the client retries 429/5xx/connection
   errors with backoff; every attempt is paced by the run's rate limit).
3. The answer is compared with what was sent: ``succeeded`` (fields the server did not take as
   sent are recorded as *applied with differences* and reported, never silently accepted), or
   ``failed`` with the server's message; a 400/422 has its JSON pointers mapped back to file,
   line and column. A write whose answer was lost is settled by re-reading the session.

A 401 or 403 stops the whole run at once: in-flight requests finish, everything not sent is
``unprocessed`` and the run's ``stop_reason`` says what is wrong with the key or which scope
is missing. Cancelling (``cancel``: a :class:`threading.Event` or a callable returning true;
or Ctrl-C in the calling thread) stops new requests the same way. ``first=N`` sends only the
first N sessions of the plan (a canary); the rest stay ``unprocessed`` until resumed.

Every function can run in a background thread (the notebook widgets do): ``progress`` is
called with a :class:`RunProgress` snapshot (from worker threads, one call at a time) after
every session and on every retry; it defaults to doing nothing.
"""

from __future__ import annotations

import csv
import os
import queue
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pydantic

from .._version import __version__
from ..errors import (
    ApiError,
    AuthError,
    InputError,
    NotFound,
    OutcomeUnknown,
    PermissionDenied,
    RunError,
    ValidationFailed,
)
from ..schema import CheckoutSessionUpdate
from ..tables.masking import mask_value
from .journal import Journal
from .merge import CLEAR_TOKEN, canonical, leaf_diff, locate, same_fields, table_records

__all__ = [
    "RESULT_COLUMNS",
    "RESULT_STATUSES",
    "Run",
    "RunProgress",
    "apply_plan",
    "results_frame",
    "resume_run",
    "rollback_run",
]

RESULT_STATUSES = ("succeeded", "failed", "conflict", "skipped", "unprocessed")
"""The statuses of :attr:`Run.results`; they always add up to the number of sessions named."""
RESULT_COLUMNS = [
    "checkout_session_id", "status", "message", "fields", "applied_with_differences", "differences",
    "attempts", "http_status", "error_code", "expires_at", "file", "line", "started_at", "finished_at",
]
"""Columns of :attr:`Run.results`."""

DEFAULT_RUNS_DIR = Path("runs")
_NOT_FINISHED = "not finished (the run was interrupted): resume it"


# --------------------------------------------------------------------------- progress and result


@dataclass(frozen=True)
class RunProgress:
    """A snapshot of a run, passed to ``progress`` callbacks.

    ``done`` counts sessions handled in this invocation; ``succeeded``/``failed``/``conflict``
    are this invocation's outcomes; ``retrying`` is how many sessions are waiting to retry a
    request right now; ``requests`` counts HTTP attempts by method.
    """

    kind: str
    total: int
    done: int = 0
    succeeded: int = 0
    failed: int = 0
    conflict: int = 0
    in_flight: int = 0
    retrying: int = 0
    retries: int = 0
    requests: Mapping[str, int] = field(default_factory=dict)
    elapsed: float = 0.0
    state: str = "running"
    last_session_id: str | None = None

    @property
    def per_second(self) -> float:
        """Sessions handled per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0


@dataclass
class Run:
    """The outcome of :func:`apply_plan`, :func:`resume_run` or :func:`rollback_run`.

    Attributes:
        journal: the path of the run's journal (give it to :func:`resume_run` / :func:`rollback_run`).
        results_dir: where ``results.csv``, ``succeeded.csv`` and ``errors.csv`` were written.
        run_id, kind: the run's id and ``"apply"`` or ``"rollback"``.
        state: ``finished`` (nothing left to send), ``paused`` (a canary stopped after ``first``),
            ``cancelled``, or ``stopped`` (a 401/403; see ``stop_reason``).
        stop_reason: why the run stopped early, in words.
        results: one row per session named (:data:`RESULT_COLUMNS`); statuses are those of
            :data:`RESULT_STATUSES` and add up to the total.
        files: ``results``, ``succeeded`` and ``errors`` (and ``errors_<table>`` when the upload
            had several tables) -> path.
        requests: HTTP attempts sent by this invocation, by method.
        elapsed: seconds this invocation took.
    """

    journal: Path
    results_dir: Path
    run_id: str
    kind: str
    state: str
    stop_reason: str | None
    results: pd.DataFrame
    files: dict[str, Path]
    requests: dict[str, int]
    elapsed: float

    @property
    def counts(self) -> dict[str, int]:
        """Sessions per result status, plus ``total`` and ``applied_with_differences``."""
        vc = self.results["status"].value_counts()
        out = {s: int(vc.get(s, 0)) for s in RESULT_STATUSES}
        out["total"] = len(self.results)
        out["applied_with_differences"] = int(self.results["applied_with_differences"].fillna(False).sum())
        return out

    @property
    def ok(self) -> bool:
        """Everything named went through as sent (nothing failed, conflicted, left or altered)."""
        c = self.counts
        return c["failed"] == c["conflict"] == c["unprocessed"] == c["applied_with_differences"] == 0

    @property
    def exit_code(self) -> int:
        """The CLI's exit code: 0 all done, 1 some sessions need attention, 3 stopped on credentials."""
        if self.state == "stopped":
            return 3
        return 0 if self.ok else 1

    def describe(self) -> str:
        """The run's outcome in words."""
        c = self.counts
        lines = [
            f"Run {self.run_id} ({self.kind}): {self.state}" + (f" — {self.stop_reason}" if self.stop_reason else ""),
            "  " + ", ".join(f"{s} {c[s]}" for s in RESULT_STATUSES) + f" (total {c['total']})",
        ]
        if c["applied_with_differences"]:
            lines.append(f"  {c['applied_with_differences']} succeeded session(s) were applied with differences: "
                         "the server did not keep every value as sent (see results.csv)")
        lines.append(f"  journal: {self.journal}")
        for name, path in self.files.items():
            lines.append(f"  {name}: {path}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        c = self.counts
        return (f"<Run {self.run_id} {self.kind} {self.state}: " + ", ".join(f"{s} {c[s]}" for s in RESULT_STATUSES)
                + ">")


# --------------------------------------------------------------------------- helpers


def _is_cancelled(cancel: Any) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def _no_progress(progress: RunProgress) -> None:
    """The default progress callback: does nothing."""


def _new_run_id(kind: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}-{secrets.token_hex(3)}"


def _auth_reason(exc: ApiError) -> str:
    if isinstance(exc, PermissionDenied):
        scope = exc.missing_scope or "checkout-sessions.write"
        return (f"the API refused the key for lack of the scope {scope} (403); grant it to the key in the Gr4vy "
                "dashboard, then resume the run")
    return (f"the API refused the credentials (401: {exc.message}); check GR4VY_PRIVATE_KEY_FILE, GR4VY_ID, "
            "GR4VY_MERCHANT_ACCOUNT_ID and the machine's clock, then resume the run")


def _retryable_failure(row: Mapping[str, Any]) -> bool:
    """Whether a failed row may succeed if sent again (no answer, 429, 5xx, outcome unknown)."""
    status = row.get("http_status")
    code = row.get("error_code") or ""
    if row.get("message", "") and str(row.get("message")).startswith("outcome unknown"):
        return True
    return status is None or status == 429 or status >= 500 or code in ("connect", "read_timeout", "dropped")


def _mapped_details(exc: ApiError, where: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    out = []
    for d in exc.details:
        file, line, column = locate(d.get("pointer"), where)
        out.append({**d, "file": file, "line": line, "column": column})
    return out


def _details_text(details: list[dict[str, Any]]) -> str:
    parts = []
    for d in details[:10]:
        at = f"{d['file']} line {d['line']}, column {d['column']}" if d.get("file") else f"field {d.get('column')}"
        parts.append(f"{at}: {d.get('message') or d.get('type') or 'refused'}")
    more = f"; +{len(details) - 10} more" if len(details) > 10 else ""
    return "; ".join(parts) + more


def _shown(path: str, value: Any) -> Any:
    """A value of a difference as it may be displayed: masked where its path is personal.

    ``path`` is a :func:`~gr4vy_nb.updates.merge.leaf_diff` path (``airline.passengers[0].first_name``);
    an object or list of objects (a whole element sent but not kept) is masked member by member.
    """
    if isinstance(value, dict):
        return {k: _shown(f"{path}.{k}", v) for k, v in value.items()}
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        return [_shown(f"{path}[{i}]", v) for i, v in enumerate(value)]
    return mask_value(re.sub(r"\[(\d+)\]", r".\1", path), value)


def _difference_text(d: Mapping[str, Any], *, colon: bool = False) -> str:
    """One difference (``path``, ``sent``, ``got``) in words, personal values masked: ``path sent 'a', kept 'b'``."""
    path = d["path"]
    return f"{path}{':' if colon else ''} sent {_shown(path, d['sent'])!r}, kept {_shown(path, d['got'])!r}"


def _differences(desired: Mapping[str, Any], response: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for f, value in desired.items():
        for path, sent, got in leaf_diff(canonical(f, value), canonical(f, response.get(f)), f):
            out.append({"path": path, "sent": sent, "got": got})
    return out


def _check_target(client: Any, recorded: Mapping[str, Any], what: str) -> None:
    settings = client.settings
    base = recorded.get("base_url")
    merchant = recorded.get("merchant_account_id")
    if base and (base.rstrip("/") != (settings.base_url or "").rstrip("/") or merchant != settings.merchant_account_id):
        raise RunError(
            f"this {what} was made against {recorded.get('target')} ({base}, merchant account {merchant!r}) "
            f"but the client points at {settings.target} ({settings.base_url}, merchant account "
            f"{settings.merchant_account_id!r}); refusing to mix targets"
        )


def _target_record(client: Any) -> dict[str, Any]:
    s = client.settings
    return {"target": s.target, "base_url": s.base_url, "merchant_account_id": s.merchant_account_id,
            "is_production": s.is_production}


def _default_client(client: Any, workers: int) -> tuple[Any, bool]:
    if client is not None:
        return client, False
    from ..api.client import Gr4vyClient
    from ..config import Settings

    return Gr4vyClient(Settings.from_env(required=True), workers=workers), True


# --------------------------------------------------------------------------- the engine


class _Engine:
    """Runs journal rows through re-read -> PUT -> compare with a pool of worker threads."""

    def __init__(self, journal: Journal, client: Any, *, kind: str, workers: int, rate: float | None,
                 conflict_check: bool, recheck: bool, progress: Callable[[RunProgress], None] | None,
                 cancel: Any) -> None:
        self.journal = journal
        self.client = self.reader = client
        self.kind = kind
        # Threads: writers (PUT) and, when sessions are re-read first, as many readers (GET)
        # running ahead; together no more than the client's connection pool.
        pool = max(1, int(getattr(client, "workers", workers)))
        self.writers = max(1, min(int(workers), pool))
        self.readers = 0
        if conflict_check or recheck:
            if 2 * self.writers > pool:
                self.writers = max(1, pool // 2)
            self.readers = self.writers
        self.rate = rate
        self.conflict_check = conflict_check
        self.recheck = recheck
        self.progress = progress or _no_progress
        self.cancel = cancel
        self._interrupt = threading.Event()
        self._stop_reason: str | None = None
        self._lock = threading.Lock()
        self._progress_lock = threading.Lock()
        self._snap = RunProgress(kind=kind, total=0)
        self._requests: dict[str, int] = {}
        self._retrying: set[str] = set()
        self._retries = 0
        self._in_flight = 0
        self._started = time.monotonic()
        self._fatal: BaseException | None = None

    # -- control

    def stopping(self) -> bool:
        return self._stop_reason is not None or self._interrupt.is_set() or _is_cancelled(self.cancel)

    def _stop(self, reason: str) -> None:
        with self._lock:
            if self._stop_reason is None:
                self._stop_reason = reason

    # -- counters

    def _on_attempt(self, method: str, session_id: str | None, attempt: int, outcome: Any, delay: Any) -> None:
        with self._lock:
            self._requests[method] = self._requests.get(method, 0) + 1
            if delay is not None:
                self._retries += 1
                if session_id:
                    self._retrying.add(session_id)
            elif session_id:
                self._retrying.discard(session_id)
        if delay is not None:
            self._emit(None)

    def _emit(self, outcome: str | None, session_id: str | None = None) -> None:
        with self._lock:
            snap = self._snap
            changes: dict[str, Any] = {"in_flight": self._in_flight, "retrying": len(self._retrying),
                                       "retries": self._retries, "requests": dict(self._requests),
                                       "elapsed": time.monotonic() - self._started}
            if outcome is not None:
                changes["done"] = snap.done + 1
                changes["last_session_id"] = session_id
                if outcome in ("succeeded", "failed", "conflict"):
                    changes[outcome] = getattr(snap, outcome) + 1
            self._snap = snap = replace(snap, **changes)
        with self._progress_lock:
            self.progress(snap)

    # -- one session

    def _mark(self, sid: str, status: str, **kw: Any) -> None:
        self.journal.mark(sid, status, finished=status not in ("sending", "planned"), **kw)

    def _check(self, row: dict[str, Any]) -> tuple[str | None, int]:
        """Re-read a session: its final outcome if no write is needed, else ``(None, attempts)``."""
        sid = row["session_id"]
        desired: dict[str, Any] = row.get("desired") or {}
        fields = list(desired)
        client = self.reader
        try:
            current = client.get_checkout_session(sid)
            attempts = client.last_call.attempts if client.last_call else 1
        except (AuthError, PermissionDenied) as exc:
            self._stop(_auth_reason(exc))
            self._mark(sid, "unprocessed", message=self._stop_reason, attempts=exc.attempts,
                       http_status=exc.status, error=exc)
            return "unprocessed", exc.attempts
        except NotFound as exc:
            self._mark(sid, "failed", message="not found or expired", attempts=exc.attempts,
                       http_status=exc.status, error=exc)
            return "failed", exc.attempts
        except ApiError as exc:
            self._mark(sid, "failed", message=f"could not re-read the session: {exc}", attempts=exc.attempts,
                       http_status=exc.status, error=exc)
            return "failed", exc.attempts
        if not same_fields(current, desired, fields):
            self._mark(sid, "succeeded", attempts=attempts, http_status=200, response=current,
                       message="already held the desired values; nothing sent")
            return "succeeded", attempts
        moved = same_fields(current, row.get("before") or {}, fields)
        if moved and self.conflict_check:
            self._mark(sid, "conflict", attempts=attempts, http_status=200,
                       message=f"changed since it was planned ({', '.join(moved)}); not written")
            return "conflict", attempts
        return None, attempts

    def _write(self, row: dict[str, Any], attempts: int) -> str:
        """Commit ``sending``, PUT the body, commit the outcome."""
        sid = row["session_id"]
        desired: dict[str, Any] = row.get("desired") or {}
        where = (row.get("source") or {}).get("where")
        client = self.client
        self.journal.mark(sid, "sending", attempts=attempts, started=True)
        try:
            response = client.update_checkout_session(sid, row["body"])
            attempts = client.last_call.attempts if client.last_call else 1
        except (AuthError, PermissionDenied) as exc:
            self._stop(_auth_reason(exc))
            self._mark(sid, "unprocessed", message=self._stop_reason, attempts=exc.attempts,
                       http_status=exc.status, error=exc)
            return "unprocessed"
        except NotFound as exc:
            self._mark(sid, "failed", message="not found or expired", attempts=exc.attempts,
                       http_status=exc.status, error=exc)
            return "failed"
        except ValidationFailed as exc:
            details = _mapped_details(exc, where)
            text = _details_text(details) if details else exc.message
            self._mark(sid, "failed", message=f"refused by the API: {text}", attempts=exc.attempts,
                       http_status=exc.status, error={"code": exc.code, "message": exc.message, "details": details})
            return "failed"
        except OutcomeUnknown as exc:
            return self._settle_unknown(sid, desired, list(desired), exc)
        except ApiError as exc:
            self._mark(sid, "failed", message=str(exc), attempts=exc.attempts, http_status=exc.status, error=exc)
            return "failed"
        diffs = _differences(desired, response)
        message = None
        if diffs:
            message = "applied with differences: " + "; ".join(_difference_text(d) for d in diffs[:5]) + (
                f"; +{len(diffs) - 5} more" if len(diffs) > 5 else "")
        self._mark(sid, "succeeded", attempts=attempts, http_status=200, response=response,
                   differences=diffs, message=message)
        return "succeeded"

    def _settle_unknown(self, sid: str, desired: dict[str, Any], fields: list[str], exc: OutcomeUnknown) -> str:
        attempts = exc.attempts
        try:
            current = self.reader.get_checkout_session(sid)
            attempts += self.reader.last_call.attempts if self.reader.last_call else 1
        except ApiError as again:
            self._mark(sid, "failed", message=f"outcome unknown: {exc.message}; re-reading failed too ({again})",
                       attempts=attempts, http_status=exc.status, error=exc)
            return "failed"
        if not same_fields(current, desired, fields):
            self._mark(sid, "succeeded", attempts=attempts, http_status=200, response=current,
                       message="the answer was lost; re-reading shows the update applied")
            return "succeeded"
        self._mark(sid, "failed", message=f"outcome unknown: {exc.message}; re-reading shows it not applied",
                   attempts=attempts, http_status=exc.status, error=exc)
        return "failed"

    # -- the pool

    def _guarded(self, step: Callable[[], str | None], sid: str) -> bool:
        """Run one step of one session; on an unexpected error stop everything. False when stopping."""
        with self._lock:
            self._in_flight += 1
        try:
            outcome = step()
        except BaseException as exc:  # a bug or a broken journal: stop everything, keep the row as it is
            self._fatal = exc
            self._stop(f"internal error: {type(exc).__name__}: {exc}")
            return False
        finally:
            with self._lock:
                self._in_flight -= 1
                self._retrying.discard(sid)
        if outcome is not None:
            self._emit(outcome, sid)
        return True

    def run(self, rows: list[dict[str, Any]]) -> None:
        """Process ``rows`` (journal rows, in order) until done, stopped or cancelled.

        Without re-reads, each worker takes the next session and writes it. With re-reads
        (conflict check, resume), readers run ahead of the writers through a short queue, so
        that re-reading does not halve the throughput; a session is written at most a queue's
        length of time after it was re-read.
        """
        self._snap = RunProgress(kind=self.kind, total=len(rows))
        self._started = time.monotonic()
        source = iter(rows)
        take = threading.Lock()
        checking = self.conflict_check or self.recheck
        handoff: queue.Queue[tuple[dict[str, Any], int]] = queue.Queue(maxsize=max(1, self.writers))
        readers_left = [self.readers if checking else 0]

        def next_row() -> dict[str, Any] | None:
            with take:
                return None if self.stopping() else next(source, None)

        def read_loop() -> None:
            try:
                while (row := next_row()) is not None:
                    result: list[tuple[str | None, int]] = []

                    def step(row: dict[str, Any] = row, result: list[Any] = result) -> str | None:
                        result.append(self._check(row))
                        return result[-1][0]

                    if not self._guarded(step, row["session_id"]):
                        return
                    outcome, attempts = result[0]
                    if outcome is not None:
                        continue
                    while not self.stopping():
                        try:
                            handoff.put((row, attempts), timeout=0.1)
                            break
                        except queue.Full:
                            continue
                    else:
                        self._leave(row, attempts)
            finally:
                with take:
                    readers_left[0] -= 1

        def write_loop() -> None:
            while True:
                if checking:
                    try:
                        row, attempts = handoff.get(timeout=0.05)
                    except queue.Empty:
                        with take:
                            if readers_left[0] == 0 and handoff.empty():
                                return
                        continue
                    if self.stopping():
                        self._leave(row, attempts)
                        continue
                else:
                    row, attempts = next_row(), 0  # type: ignore[assignment]
                    if row is None:
                        return
                if not self._guarded(lambda row=row, attempts=attempts: self._write(row, attempts),
                                     row["session_id"]):
                    return

        client = self.client
        previous_hook, previous_pacer = client.on_attempt, getattr(client, "_pacer", None)

        def hook(method: str, session_id: str | None, attempt: int, outcome: Any, delay: Any) -> None:
            self._on_attempt(method, session_id, attempt, outcome, delay)
            if previous_hook is not None:
                previous_hook(method, session_id, attempt, outcome, delay)

        client.on_attempt = hook
        if self.rate is not None:
            client.set_rate(self.rate)
        threads = [threading.Thread(target=write_loop, name=f"gr4vy-{self.kind}-write-{i}", daemon=True)
                   for i in range(min(self.writers, max(1, len(rows))))]
        if checking:
            threads += [threading.Thread(target=read_loop, name=f"gr4vy-{self.kind}-read-{i}", daemon=True)
                        for i in range(self.readers)]
        try:
            self._emit(None)
            for t in threads:
                t.start()
            for t in threads:
                while t.is_alive():
                    try:
                        t.join(0.2)
                    except KeyboardInterrupt:
                        # Ctrl-C: no new requests; in-flight ones finish so the journal stays exact.
                        self._interrupt.set()
        finally:
            client.on_attempt = previous_hook
            if self.rate is not None:
                client.set_rate(previous_pacer)
        while not handoff.empty():  # re-read but not written when the run stopped
            row, attempts = handoff.get_nowait()
            self._leave(row, attempts)
        if self._fatal is not None:
            raise self._fatal

    def _leave(self, row: dict[str, Any], attempts: int) -> None:
        """A session re-read (so known not to hold the new values) but not written: unprocessed."""
        self.journal.mark(row["session_id"], "unprocessed", attempts=attempts,
                          message="re-read but not sent before the run stopped")

    @property
    def fatal(self) -> BaseException | None:
        return self._fatal

    @property
    def cancelled(self) -> bool:
        return self._interrupt.is_set() or _is_cancelled(self.cancel)

    @property
    def stop_reason(self) -> str | None:
        return self._stop_reason

    @property
    def requests(self) -> dict[str, int]:
        return dict(self._requests)


# --------------------------------------------------------------------------- running a journal


def _execute(journal: Journal, client: Any, rows: list[dict[str, Any]], *, kind: str, workers: int,
             rate: float | None, conflict_check: bool, recheck: bool, first: int | None,
             progress: Callable[[RunProgress], None] | None, cancel: Any) -> Run:
    """Send ``rows`` (in plan order), settle what is left, write the result files, return the Run."""
    started = time.monotonic()
    todo = rows if first is None else rows[: max(0, int(first))]
    held_back = [] if first is None else rows[max(0, int(first)):]
    journal.set_meta(state="running", stop_reason=None, last_started_at=time.time())
    engine = _Engine(journal, client, kind=kind, workers=workers, rate=rate, conflict_check=conflict_check,
                     recheck=recheck, progress=progress, cancel=cancel)
    try:
        engine.run(todo)
    finally:
        in_todo = {r["session_id"] for r in todo}
        held = {r["session_id"] for r in held_back}
        waiting = [r["session_id"] for r in journal.rows(("planned", "unprocessed"), columns="session_id, status")]
        not_reached = [s for s in waiting if s in in_todo]
        held_left = [s for s in waiting if s in held]
        if engine.fatal is not None or engine.stop_reason:
            state, reason = "stopped", engine.stop_reason
        elif engine.cancelled and not_reached:
            state, reason = "cancelled", "cancelled before it was sent; resume to send it"
        elif held_left:
            state, reason = "paused", f"not sent: the canary run sent only the first {first}; resume to send the rest"
        else:
            state, reason = "finished", None
        if not_reached:
            journal.mark_many(not_reached, "unprocessed", message=reason or "not sent")
        if held_left:
            journal.mark_many(held_left, "unprocessed",
                              message=f"not sent: canary run of the first {first}; resume to send the rest")
        journal.set_meta(state=state, stop_reason=reason if state != "finished" else None,
                         last_finished_at=time.time())
    return _finish(journal, requests=engine.requests, elapsed=time.monotonic() - started)


def results_frame(journal: Journal) -> pd.DataFrame:
    """The results of a journal (:data:`RESULT_COLUMNS`); unfinished rows count as ``unprocessed``."""
    # Only the parts needed, extracted by SQLite: full states and bodies stay in the journal.
    rows = journal.rows(columns=(
        "session_id, status, message, error_message, differences, attempts, http_status, error_code, started_at, "
        "finished_at, (SELECT group_concat(key, ', ') FROM json_each(desired)) AS fields, "
        "json_extract(response, '$.expires_at') AS expires_at, json_extract(source, '$.rows[0][0]') AS src_table, "
        "json_extract(source, '$.rows[0][1]') AS src_line"))
    tables: dict[str, Any] = journal.meta.get("tables") or {}
    out: dict[str, list[Any]] = {c: [] for c in RESULT_COLUMNS}
    for r in rows:
        status = r["status"]
        message = r["message"] or r["error_message"]
        if status in ("planned", "sending"):
            status, message = "unprocessed", _NOT_FINISHED
        out["checkout_session_id"].append(r["session_id"])
        out["status"].append(status)
        out["message"].append(message)
        out["fields"].append(r["fields"] or "")
        out["applied_with_differences"].append(bool(r["differences"]) if status == "succeeded" else False)
        out["differences"].append(
            "; ".join(_difference_text(d, colon=True) for d in r["differences"] or []) or None)
        out["attempts"].append(r["attempts"])
        out["http_status"].append(r["http_status"])
        out["error_code"].append(r["error_code"])
        out["expires_at"].append(r["expires_at"] if status == "succeeded" else None)
        out["file"].append((tables.get(r["src_table"]) or {}).get("file"))
        out["line"].append(r["src_line"])
        out["started_at"].append(r["started_at"])
        out["finished_at"].append(r["finished_at"])
    df = pd.DataFrame(out)
    df["attempts"] = df["attempts"].astype("Int64")
    df["http_status"] = pd.array(df["http_status"].tolist(), dtype="Int64")
    df["line"] = pd.array(df["line"].tolist(), dtype="Int64")
    df["applied_with_differences"] = df["applied_with_differences"].astype("boolean")
    for c in ("started_at", "finished_at"):
        stamps = pd.to_datetime(pd.array(df[c].tolist(), dtype="Float64"), unit="s", utc=True)
        df[c] = pd.Series(stamps, index=df.index).dt.floor("us").astype("datetime64[us, UTC]")
    return df


def _results_dir(journal: Journal) -> Path:
    recorded = journal.meta.get("results_dir")
    if recorded:
        return Path(recorded)
    return journal.path.with_suffix("")


def _write_results(journal: Journal, results: pd.DataFrame) -> dict[str, Path]:
    from ..tables.files import write_table

    out_dir = _results_dir(journal)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"results": out_dir / "results.csv", "succeeded": out_dir / "succeeded.csv",
             "errors": out_dir / "errors.csv"}
    write_table(results, files["results"])
    ok = results[results["status"] == "succeeded"]
    write_table(ok[["checkout_session_id", "fields", "expires_at", "applied_with_differences", "differences",
                    "attempts", "message"]], files["succeeded"])
    files.update(_write_error_files(journal, results, out_dir))
    return files


def _write_error_files(journal: Journal, results: pd.DataFrame, out_dir: Path) -> dict[str, Path]:
    """``errors.csv`` (and ``errors_<table>.csv``): the uploaded rows of sessions that did not go through.

    The rows keep the user's original columns and cells, plus ``error``: fix them and upload
    the file(s) again. The main table (``sessions`` if it was uploaded, else the first child
    table) goes to ``errors.csv``; other tables to ``errors_<table>.csv``.
    """
    bad = results[results["status"].isin(["failed", "conflict", "unprocessed"])]
    why = dict(zip(bad["checkout_session_id"], bad["status"] + ": " + bad["message"].fillna(""), strict=True))
    tables: dict[str, Any] = journal.meta.get("tables") or {}
    order = [t for t in ("sessions", "cart_items", "legs", "passengers") if t in tables]
    uploads = {u["table"]: u for u in journal.uploads()} if why else {}
    wanted: dict[str, dict[int, str]] = {t: {} for t in order}  # table -> line -> error
    if why:
        for r in journal.rows(columns="session_id, source"):
            if r["session_id"] in why:
                for table, line in (r["source"] or {}).get("rows") or []:
                    if table in wanted:
                        wanted[table][int(line)] = why[r["session_id"]]
    files: dict[str, Path] = {}
    for i, table in enumerate(order or ["sessions"]):
        name = "errors" if i == 0 else f"errors_{table}"
        files[name] = out_dir / f"{name}.csv"
        if not order:  # no uploaded table recorded: one row per session
            rows = [{"values": {"checkout_session_id": sid}, "cleared": [], "error": msg} for sid, msg in why.items()]
            _write_upload_rows(files[name], ["checkout_session_id", "error"], rows)
            continue
        columns = [c for c in tables[table].get("columns") or [] if c != "error"]
        upload = uploads.get(table)
        if upload is None or not wanted[table]:
            _write_upload_rows(files[name], [*columns, "error"], [])
            continue
        position = {line: i for i, line in enumerate(upload["lines"])}
        cleared = {c: set(p) for c, p in (upload.get("cleared") or {}).items()}
        rows = []
        for line, error in sorted(wanted[table].items()):
            at = position[line]
            rows.append({"values": {c: upload["values"][c][at] for c in columns},
                         "cleared": [c for c in columns if at in cleared.get(c, ())], "error": error})
        _write_upload_rows(files[name], [*columns, "error"], rows)
    # Remove stale files of an earlier invocation (a resume) that this one did not write.
    for stale in out_dir.glob("errors_*.csv"):
        if stale.stem not in files:
            stale.unlink()
    return files


# A cell a spreadsheet would run as a formula, or that would read back as something else, gets a
# leading ' (exactly csvio.write_table's rule, which csvio.read_table undoes); the #N/A clear
# marker of the user's upload is written bare so that it still clears when uploaded again.
_NEEDS_PREFIX = re.compile(r"^(?:[=+\-@\t\r\n']|#N/A$|$)")


def _write_upload_rows(path: Path, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """Write uploaded rows (``values``, ``cleared``) plus ``error`` as a CSV file that reads back the same."""

    def cell(value: Any, clear: bool) -> str:
        if clear:
            return CLEAR_TOKEN
        if value is None:
            return ""
        text = str(value)
        return "'" + text if _NEEDS_PREFIX.match(text) else text

    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow([cell(c, False) for c in columns])
        for row in rows:
            values = row.get("values") or {}
            cleared = set(row.get("cleared") or ())
            writer.writerow([cell(row.get("error"), False) if c == "error" else cell(values.get(c), c in cleared)
                             for c in columns])


def _finish(journal: Journal, *, requests: dict[str, int], elapsed: float) -> Run:
    results = results_frame(journal)
    files = _write_results(journal, results)
    meta = journal.meta
    return Run(journal=journal.path, results_dir=_results_dir(journal), run_id=journal.run_id,
               kind=str(meta.get("kind")), state=str(meta.get("state")), stop_reason=meta.get("stop_reason"),
               results=results, files=files, requests=requests, elapsed=elapsed)


# --------------------------------------------------------------------------- apply


def _results_for(path: Path, runs_dir: str | os.PathLike[str] | None, run_id: str) -> Path:
    """Where a run's result files go: next to its journal, in a folder of the same name."""
    if str(path) == ":memory:":  # an in-memory journal (benchmarks): results under runs_dir
        return Path(runs_dir or DEFAULT_RUNS_DIR) / run_id
    return path.with_suffix("")


def _journal_path(journal: str | os.PathLike[str] | None, runs_dir: str | os.PathLike[str] | None,
                  run_id: str) -> Path:
    if journal is not None:
        return Path(journal)
    return Path(runs_dir or DEFAULT_RUNS_DIR) / f"{run_id}.sqlite"


def apply_plan(
    plan: Any,
    *,
    client: Any = None,
    journal: str | os.PathLike[str] | None = None,
    runs_dir: str | os.PathLike[str] | None = None,
    workers: int = 4,
    rate: float | None = None,
    first: int | None = None,
    conflict_check: bool = True,
    progress: Callable[[RunProgress], None] | None = None,
    cancel: Any = None,
) -> Run:
    """Apply a :class:`~gr4vy_nb.updates.plan.Plan` and return the :class:`Run`.

    Args:
        plan: the plan (it must have no errors: :class:`InputError` otherwise, nothing sent).
        client: a :class:`~gr4vy_nb.api.client.Gr4vyClient` for the plan's target (default: one
            from :meth:`Settings.from_env`). Its rate and ``on_attempt`` are set for the run
            and restored afterwards.
        journal: the journal file to create (default ``runs/<run_id>.sqlite``; the result
            CSVs go to the folder of the same name next to it). ``":memory:"`` keeps it in
            memory (no crash safety; for measurements only).
        runs_dir: the folder for the default journal path (default ``runs``).
        workers: sessions written at once; with ``conflict_check`` as many more are re-read ahead
            of them. Give a client whose ``workers`` (pool size) is at least twice this for full
            speed; a smaller pool is shared between readers and writers.
        rate: most requests per second, re-reads and retries included (``None``: no limit).
        first: send only the first N sessions (a canary); the rest wait for :func:`resume_run`.
        conflict_check: re-read each session before writing it and refuse to overwrite one that
            changed since planning (``conflict``). Turning it off halves the requests; do so only
            when nothing else writes to these sessions.
        progress: called with a :class:`RunProgress` after each session and retry.
        cancel: a :class:`threading.Event` or a callable; when set/true, no new request starts.

    Raises:
        InputError: the plan has errors. RunError: input files changed since planning, the
        plan was made against another target, or the journal exists.
        ConfigError: no client given and nothing configured.
    """
    plan.raise_for_problems()
    _check_bodies(plan)
    changed = plan.changed_inputs()
    if changed:
        raise RunError("input files changed since the plan was made: " + ", ".join(changed) + "; plan again")
    workers = max(1, int(workers))
    client, own = _default_client(client, 2 * workers)
    try:
        _check_target(client, plan.target, "plan")
        run_id = _new_run_id("apply")
        path = _journal_path(journal, runs_dir, run_id)
        meta = {
            "run_id": run_id, "kind": "apply", "toolkit_version": __version__, **_target_record(client),
            "expires_in": plan.expires_in, "conflict_check": bool(conflict_check), "workers": workers,
            "rate": rate, "first": first, "inputs": plan.inputs, "tables": plan.tables,
            "plan_created_at": plan.created_at, "results_dir": str(_results_for(path, runs_dir, run_id)),
        }
        items = [_journal_item(i) for i in plan.items]
        uploads = [table_records(t) for t in plan.uploads.values()]
        with Journal.create(path, meta=meta, items=items, uploads=uploads) as j:
            rows = [i for i in items if i["status"] == "planned"]  # as committed: no need to read them back
            return _execute(j, client, rows, kind="apply", workers=workers, rate=rate,
                            conflict_check=conflict_check, recheck=False, first=first, progress=progress,
                            cancel=cancel)
    finally:
        if own:
            client.close()


def _check_bodies(plan: Any) -> None:
    """Validate every body again: a plan may have been saved, edited by hand and loaded."""
    problems = []
    for item in plan.changes:
        try:
            CheckoutSessionUpdate.model_validate(item.body)
        except pydantic.ValidationError as exc:
            for err in exc.errors(include_url=False, include_input=False):
                file, line, column = locate("/" + "/".join(str(p) for p in err["loc"]), item.source.get("where"))
                problems.append({"file": file, "line": line, "column": column, "value": None,
                                 "rule": f"api.{err['type']}", "message": err["msg"], "severity": "error",
                                 "checkout_session_id": item.session_id})
    if problems:
        raise InputError(f"{len(problems)} planned bodies are refused by the update schema; nothing was sent",
                         pd.DataFrame(problems))


def _journal_item(item: Any) -> dict[str, Any]:
    base = {"session_id": item.session_id, "before": item.before, "body": item.body, "desired": item.desired,
            "source": item.source}
    if item.status == "change":
        return {**base, "status": "planned"}
    if item.status == "not_found":
        return {**base, "status": "failed", "message": "not found or expired", "http_status": 404,
                "error_code": "not_found", "error_message": item.message or "session not found or expired"}
    return {**base, "status": "skipped", "message": item.message or "no change"}


# --------------------------------------------------------------------------- resume


def resume_run(
    journal: str | os.PathLike[str],
    *,
    client: Any = None,
    workers: int | None = None,
    rate: float | None = None,
    first: int | None = None,
    check_inputs: bool = True,
    progress: Callable[[RunProgress], None] | None = None,
    cancel: Any = None,
) -> Run:
    """Continue a run that was cancelled, stopped, paused (canary), crashed or killed.

    Every session not known to have succeeded is re-read first: one that already holds the
    desired values becomes ``succeeded`` with no write; one still in its before-state is sent;
    one changed by someone else is a ``conflict`` (when the run checks conflicts). Failures
    that may pass on a second try (no answer, 429, 5xx) are retried; refusals (400, 404, 409,
    422) are final. A finished run sends nothing. ``workers``/``rate`` default to the run's.

    Raises:
        RunError: the journal is in use by another process, its input files changed since the
            run started (``check_inputs=False`` overrides), or the client targets another API.
    """
    from .plan import changed_inputs

    with Journal.open(journal) as j:
        meta = j.meta
        if check_inputs:
            changed = changed_inputs(meta.get("inputs") or [])
            if changed:
                raise RunError("input files changed since the run started: " + ", ".join(changed)
                               + "; the journal still holds the planned bodies, but refusing to resume a run whose "
                               "inputs differ (plan a new run, or pass check_inputs=False)")
        n_workers = max(1, int(workers or meta.get("workers") or 4))
        client, own = _default_client(client, 2 * n_workers)
        try:
            _check_target(client, meta, "run")
            todo = [r for r in j.rows(("planned", "sending", "unprocessed", "failed"))
                    if r["status"] != "failed" or (r["body"] is not None and _retryable_failure(r))]
            return _execute(j, client, todo, kind=str(meta.get("kind")), workers=n_workers,
                            rate=rate if rate is not None else meta.get("rate"),
                            conflict_check=bool(meta.get("conflict_check", True)), recheck=True, first=first,
                            progress=progress, cancel=cancel)
        finally:
            if own:
                client.close()


# --------------------------------------------------------------------------- rollback


def rollback_run(
    journal: str | os.PathLike[str],
    *,
    client: Any = None,
    force: bool = False,
    rollback_journal: str | os.PathLike[str] | None = None,
    workers: int | None = None,
    rate: float | None = None,
    expires_in: int | None = None,
    progress: Callable[[RunProgress], None] | None = None,
    cancel: Any = None,
) -> Run:
    """Put back the before-state of every session a run changed, as a new journaled run.

    For each ``succeeded`` session of the run, only the fields the run changed are restored
    (to their value before the run; a field that was empty is cleared). Each session is
    re-read first: if it no longer holds what the run wrote, someone changed it since and it
    is reported as a ``conflict`` and left alone, unless ``force`` (then it is overwritten).
    The rollback's own journal (default: next to the original, ``<run>-rollback-<id>.sqlite``)
    can itself be resumed or rolled back. The original journal is locked meanwhile.

    Raises:
        RunError: the journal is in use, or the client targets another API than the run's.
    """
    with Journal.open(journal) as parent:
        meta = parent.meta
        n_workers = max(1, int(workers or meta.get("workers") or 4))
        client, own = _default_client(client, 2 * n_workers)
        try:
            _check_target(client, meta, "run")
            items = []
            for r in parent.rows(("succeeded",)):
                desired = r["desired"] or {}
                if not desired:
                    continue
                response = r["response"] or {}
                wrote = {f: response.get(f, desired[f]) if response else desired[f] for f in desired}
                before = r["before"] or {}
                restore = {f: before.get(f) for f in desired}
                body = {**restore, "expires_in": float(expires_in or meta.get("expires_in") or 3600)}
                items.append({"session_id": r["session_id"], "status": "planned", "before": wrote, "body": body,
                              "desired": restore, "source": r["source"]})
            run_id = _new_run_id("rollback")
            path = Path(rollback_journal) if rollback_journal else parent.path.with_name(
                f"{parent.path.stem}-rollback-{secrets.token_hex(3)}.sqlite")
            rb_meta = {
                "run_id": run_id, "kind": "rollback", "toolkit_version": __version__, **_target_record(client),
                "parent": str(parent.path), "parent_run_id": parent.run_id, "force": bool(force),
                "expires_in": int(expires_in or meta.get("expires_in") or 3600), "conflict_check": not force,
                "workers": n_workers, "rate": rate, "inputs": [], "tables": meta.get("tables") or {},
                "results_dir": str(path.with_suffix("")),
            }
            with Journal.create(path, meta=rb_meta, items=items, uploads=parent.uploads()) as j:
                return _execute(j, client, j.rows(("planned",)), kind="rollback", workers=n_workers, rate=rate,
                                conflict_check=not force, recheck=True, first=None, progress=progress,
                                cancel=cancel)
        finally:
            if own:
                client.close()

