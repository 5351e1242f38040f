"""The engine of a run: a pool of workers takes journal rows through re-read -> PUT -> compare.

How a session is sent (each step committed to the journal before the next one starts):

1. **Re-read** (``GET``, when ``conflict_check`` is on, and always on resume): if the session
   already holds the desired values it is ``succeeded`` without a write; if the fields the
   plan changes differ from the plan's before-state, it is a ``conflict`` and is not written.
2. ``sending`` is committed, then the ``PUT`` goes out (the client retries 429/5xx/connection
   errors with backoff; every attempt is paced by the run's rate).
3. The answer is compared with what was sent: ``succeeded`` (fields the server did not take as
   sent are recorded as *applied with differences* and reported, never silently accepted), or
   ``failed`` with the server's message; a 400/422 has its JSON pointers mapped back to file,
   line and column. A write whose answer was lost is settled by re-reading the session.

A 401 or 403 stops the whole run at once: in-flight requests finish, everything not sent is
``unprocessed``, and the stop reason says what is wrong with the key or which scope is
missing. Cancelling (a :class:`threading.Event` or a callable returning true, or Ctrl-C in the
calling thread) stops new requests the same way. ``progress`` is called with a
:class:`RunProgress` snapshot (from worker threads, one call at a time) after every session
and on every retry.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import ApiError, AuthError, NotFound, OutcomeUnknown, PermissionDenied, ValidationFailed
from ..pointers import field_of_path
from ..tables.masking import mask_value
from .compare import canonical, leaf_diff, same_fields
from .journal import Journal, JournalRow
from .states import OUTCOME_UNKNOWN, RunKind, SessionStatus, parse_instant, utc_text
from .upload import locate

__all__ = ["Engine", "EngineOptions", "RunProgress", "difference_text", "not_found_message"]

Row = JournalRow


@dataclass(frozen=True)
class RunProgress:
    """A snapshot of a run, passed to ``progress`` callbacks.

    On a resume the counts include the earlier invocations' (``already`` of them were settled
    before it started); the rate and ETA count this invocation's only.
    """

    kind: str
    """The run's kind (``apply`` or ``rollback``; a resume keeps its run's)."""
    total: int
    """The run's sessions this invocation is part of (on a resume: the whole run, less those it skips)."""
    done: int = 0
    """How many of them are settled."""
    succeeded: int = 0
    failed: int = 0
    conflict: int = 0
    in_flight: int = 0
    """Requests under way now."""
    retrying: int = 0
    """Sessions waiting to retry a request right now."""
    retries: int = 0
    """Retries made so far."""
    requests: Mapping[str, int] = field(default_factory=dict)
    """HTTP attempts by method."""
    elapsed: float = 0.0
    state: str = "running"
    last_session_id: str | None = None
    already: int = 0
    """Sessions settled before this invocation started."""
    resumed: bool = False
    """This invocation resumes the run."""

    @property
    def per_second(self) -> float:
        """Sessions handled per second so far, by this invocation."""
        return (self.done - self.already) / self.elapsed if self.elapsed > 0 else 0.0


@dataclass(frozen=True, kw_only=True)
class EngineOptions:
    """How one invocation of a run sends its sessions (a value: the engine reads it, never changes it).

    Attributes:
        kind: ``apply`` or ``rollback`` (:class:`~gr4vy_nb.updates.states.RunKind`).
        workers: sessions written at once; with re-reads, as many more are re-read ahead of them.
        rate: most requests per second, re-reads and retries included (``None``: no limit).
        conflict_check: re-read each session first and refuse to overwrite one that changed.
        recheck: re-read each session first (a resume: some may already hold the new values).
        resumed: this invocation resumes the run (progress says so).
        first: send only the first N sessions (a canary); ``None``: all.
        progress: called with a :class:`RunProgress` after each session and retry.
        cancel: a :class:`threading.Event` or a callable; when set/true, no new request starts.
    """

    kind: str = RunKind.APPLY
    workers: int = 4
    rate: float | None = None
    conflict_check: bool = True
    recheck: bool = False
    resumed: bool = False
    first: int | None = None
    progress: Callable[[RunProgress], None] | None = None
    cancel: Any = None

    @property
    def rereads(self) -> bool:
        """Whether sessions are re-read before they are written."""
        return self.conflict_check or self.recheck


def _is_cancelled(cancel: Any) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def _unknown(exc: OutcomeUnknown) -> dict[str, Any]:
    """The journal's error of a write whose outcome was unknown: typed by its code, decided on by resume."""
    return {"code": OUTCOME_UNKNOWN, "message": exc.message, "details": exc.details}


def _no_progress(progress: RunProgress) -> None:
    """The default progress callback: does nothing."""


# --------------------------------------------------------------------------- messages


def auth_reason(exc: ApiError) -> str:
    """Why a 401/403 stopped a run, and what to do, in words."""
    if isinstance(exc, PermissionDenied):
        scope = exc.missing_scope or "checkout-sessions.write"
        return (f"the API refused the key for lack of the scope {scope} (403); grant it to the key in the Gr4vy "
                "dashboard, then resume the run")
    return (f"the API refused the credentials (401: {exc.message}); check GR4VY_PRIVATE_KEY_FILE, GR4VY_ID, "
            "GR4VY_MERCHANT_ACCOUNT_ID and the machine's clock, then resume the run")


def not_found_message(expires_at: Any, now: float | None = None) -> str:
    """Why a session answered 404, in words: ``expired at …`` when its last known expiry has passed.

    The API answers 404 both for an unknown session and for an expired one; when the session was
    read before (the plan, or the run being rolled back) its ``expires_at`` tells them apart.
    """
    due = parse_instant(expires_at)
    if due is None:
        return "not found or expired"
    if due <= (time.time() if now is None else now):
        return f"expired at {utc_text(due)} (the API answers 404 once a session expires)"
    return f"not found or expired (404; it was due to expire at {utc_text(due)})"


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

    ``path`` is a :func:`~gr4vy_nb.updates.compare.leaf_diff` path (``airline.passengers[0].first_name``);
    an object or list of objects (a whole element sent but not kept) is masked member by member.
    """
    if isinstance(value, dict):
        return {k: _shown(f"{path}.{k}", v) for k, v in value.items()}
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        return [_shown(f"{path}[{i}]", v) for i, v in enumerate(value)]
    return mask_value(field_of_path(path), value)


def difference_text(d: Mapping[str, Any], *, colon: bool = False) -> str:
    """One difference (``path``, ``sent``, ``got``) in words, personal values masked: ``path sent 'a', kept 'b'``."""
    path = d["path"]
    return f"{path}{':' if colon else ''} sent {_shown(path, d['sent'])!r}, kept {_shown(path, d['got'])!r}"


def _differences(desired: Mapping[str, Any], response: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for f, value in desired.items():
        for path, sent, got in leaf_diff(canonical(f, value), canonical(f, response.get(f)), f):
            out.append({"path": path, "sent": sent, "got": got})
    return out


# --------------------------------------------------------------------------- the engine


class Engine:
    """Runs journal rows through re-read -> PUT -> compare with a pool of worker threads."""

    def __init__(self, journal: Journal, client: Any, options: EngineOptions) -> None:
        self.journal = journal
        self.client = client
        self.options = options
        # Threads: writers (PUT) and, when sessions are re-read first, as many readers (GET)
        # running ahead; together no more than the client's connection pool.
        pool = max(1, int(getattr(client, "workers", options.workers)))
        self.writers = max(1, min(int(options.workers), pool))
        self.readers = 0
        if options.rereads:
            if 2 * self.writers > pool:
                self.writers = max(1, pool // 2)
            self.readers = self.writers
        self.progress = options.progress or _no_progress
        self._interrupt = threading.Event()
        self._stop_reason: str | None = None
        self._lock = threading.Lock()
        self._progress_lock = threading.Lock()
        self._snap = RunProgress(kind=options.kind, total=0)
        self._requests: dict[str, int] = {}
        self._retrying: set[str] = set()
        self._retries = 0
        self._in_flight = 0
        self._started = time.monotonic()
        self.fatal: BaseException | None = None

    # -- control and counters

    def stopping(self) -> bool:
        return self._stop_reason is not None or self._interrupt.is_set() or _is_cancelled(self.options.cancel)

    def _stop(self, reason: str) -> None:
        with self._lock:
            if self._stop_reason is None:
                self._stop_reason = reason

    @property
    def cancelled(self) -> bool:
        return self._interrupt.is_set() or _is_cancelled(self.options.cancel)

    @property
    def stop_reason(self) -> str | None:
        return self._stop_reason

    @property
    def requests(self) -> dict[str, int]:
        return dict(self._requests)

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
                if outcome in (SessionStatus.SUCCEEDED, SessionStatus.FAILED, SessionStatus.CONFLICT):
                    changes[str(outcome)] = getattr(snap, str(outcome)) + 1
            self._snap = snap = replace(snap, **changes)
        with self._progress_lock:
            self.progress(snap)

    # -- one session

    def _mark(self, sid: str, status: str, **kw: Any) -> None:
        final = status not in (SessionStatus.SENDING, SessionStatus.PLANNED)
        self.journal.mark(sid, status, finished=final, **kw)

    def _failed(self, sid: str, exc: ApiError, *, writing: bool, where: Mapping[str, Any] | None = None,
                before: Mapping[str, Any] | None = None, attempts: int | None = None) -> str:
        """Record a call that ended in an error; the status the session ends in.

        ``attempts`` (default: the call's) is what is added to the session's write attempts: 0 for a re-read.
        """
        kw: dict[str, Any] = {"attempts": exc.attempts if attempts is None else attempts, "http_status": exc.status,
                              "error": exc}
        if isinstance(exc, AuthError | PermissionDenied):
            self._stop(auth_reason(exc))
            self._mark(sid, SessionStatus.UNPROCESSED, message=self._stop_reason, **kw)
            return SessionStatus.UNPROCESSED
        if isinstance(exc, NotFound):
            message = not_found_message((before or {}).get("expires_at"))
        elif writing and isinstance(exc, ValidationFailed):
            details = _mapped_details(exc, where)
            message = f"refused by the API: {_details_text(details) if details else exc.message}"
            kw["error"] = {"code": exc.code, "message": exc.message, "details": details}
        else:
            message = str(exc) if writing else f"could not re-read the session: {exc}"
        self._mark(sid, SessionStatus.FAILED, message=message, **kw)
        return SessionStatus.FAILED

    def _check(self, row: Row) -> tuple[str | None, int]:
        """Re-read a session: its final outcome if no write is needed, else ``(None, 0)``.

        The second value is the write attempts so far (always 0: a re-read is not a write, so it is
        not counted in ``attempts``; its outcome is told in the message instead).
        """
        sid = row.session_id
        desired: dict[str, Any] = row.desired or {}
        fields = list(desired)
        try:
            current = self.client.get_checkout_session(sid)
        except ApiError as exc:
            return self._failed(sid, exc, writing=False, before=row.before, attempts=0), 0
        attempts = 0
        if not same_fields(current, desired, fields):
            self._mark(sid, SessionStatus.SUCCEEDED, attempts=attempts, http_status=200, response=current,
                       message="re-read: already held the desired values; nothing sent")
            return SessionStatus.SUCCEEDED, attempts
        # Every field the body carries must still hold its planned before-value: a full-state body
        # (a target not probed for merge) sends unchanged fields too, and would undo another writer.
        carried = [f for f in (row.body or {}) if f != "expires_in" and f not in desired]
        moved = same_fields(current, row.before or {}, fields + carried)
        if moved and self.options.conflict_check:
            self._mark(sid, SessionStatus.CONFLICT, attempts=attempts, http_status=200,
                       message=f"re-read before writing: changed since it was planned ({', '.join(moved)}); "
                       "not written")
            return SessionStatus.CONFLICT, attempts
        return None, attempts

    def _write(self, row: Row, attempts: int) -> str:
        """Commit ``sending``, PUT the body, commit the outcome."""
        sid = row.session_id
        desired: dict[str, Any] = row.desired or {}
        client = self.client
        self.journal.mark(sid, SessionStatus.SENDING, attempts=attempts, started=True)
        try:
            response = client.update_checkout_session(sid, row.body)
            attempts = client.last_call.attempts if client.last_call else 1
        except OutcomeUnknown as exc:
            return self._settle_unknown(sid, desired, exc)
        except ApiError as exc:
            return self._failed(sid, exc, writing=True, where=(row.source or {}).get("where"),
                                before=row.before)
        diffs = _differences(desired, response)
        message = None
        if diffs:
            message = "applied with differences: " + "; ".join(difference_text(d) for d in diffs[:5]) + (
                f"; +{len(diffs) - 5} more" if len(diffs) > 5 else "")
        self._mark(sid, SessionStatus.SUCCEEDED, attempts=attempts, http_status=200, response=response,
                   differences=diffs, message=message)
        return SessionStatus.SUCCEEDED

    def _settle_unknown(self, sid: str, desired: dict[str, Any], exc: OutcomeUnknown) -> str:
        attempts = exc.attempts  # the write attempts; the re-read that settles them is not one
        try:
            current = self.client.get_checkout_session(sid)
        except ApiError as again:
            self._mark(sid, SessionStatus.FAILED, message=f"outcome unknown: {exc.message}; re-reading failed too "
                       f"({again})", attempts=attempts, http_status=exc.status, error=_unknown(exc))
            return SessionStatus.FAILED
        if not same_fields(current, desired, list(desired)):
            self._mark(sid, SessionStatus.SUCCEEDED, attempts=attempts, http_status=200, response=current,
                       message="the answer was lost; re-reading shows the update applied")
            return SessionStatus.SUCCEEDED
        self._mark(sid, SessionStatus.FAILED, message=f"outcome unknown: {exc.message}; re-reading shows it not "
                   "applied", attempts=attempts, http_status=exc.status, error=_unknown(exc))
        return SessionStatus.FAILED

    def _leave(self, row: Row, attempts: int) -> None:
        """A session re-read (so known not to hold the new values) but not written: unprocessed."""
        self.journal.mark(row.session_id, SessionStatus.UNPROCESSED, attempts=attempts,
                          message="re-read but not sent before the run stopped")

    # -- the pool

    def _guarded(self, step: Callable[[], str | None], sid: str) -> bool:
        """Run one step of one session; on an unexpected error stop everything. False when stopping."""
        with self._lock:
            self._in_flight += 1
        try:
            outcome = step()
        except BaseException as exc:  # a bug or a broken journal: stop everything, keep the row as it is
            self.fatal = exc
            self._stop(f"internal error: {type(exc).__name__}: {exc}")
            return False
        finally:
            with self._lock:
                self._in_flight -= 1
                self._retrying.discard(sid)
        if outcome is not None:
            self._emit(outcome, sid)
        return True

    def run(self, rows: list[Row], *, prior: Mapping[str, int] | None = None) -> None:
        """Process ``rows`` (journal rows, in order) until done, stopped or cancelled.

        ``prior``: the run's sessions settled before this invocation, by status (a resume), so that
        the progress counts the whole run (``done 96 / 100``), not only what is left.

        Without re-reads, each worker takes the next session and writes it. With re-reads
        (conflict check, resume), readers run ahead of the writers through a short queue, so
        that re-reading does not halve the throughput; a session is written at most a queue's
        length of time after it was re-read.
        """
        before = {str(k): int(v) for k, v in (prior or {}).items()}
        already = sum(before.values())
        self._snap = RunProgress(kind=self.options.kind, total=len(rows) + already, done=already, already=already,
                                 resumed=self.options.resumed,
                                 **{s: before.get(s, 0) for s in ("succeeded", "failed", "conflict")})
        self._started = time.monotonic()
        pool = _Pool(self, rows)
        with self.client.observed(self._on_attempt), self.client.paced(self.options.rate):
            self._emit(None)
            pool.start()
            pool.join()
        pool.drain()
        if self.fatal is not None:
            raise self.fatal


class _Pool:
    """The threads of one :meth:`Engine.run`: writers, and readers ahead of them when sessions are re-read."""

    def __init__(self, engine: Engine, rows: list[Row]) -> None:
        self.engine = engine
        self.source = iter(rows)
        self.take = threading.Lock()
        self.checking = engine.options.rereads
        self.handoff: queue.Queue[tuple[Row, int]] = queue.Queue(maxsize=max(1, engine.writers))
        self.readers_left = engine.readers if self.checking else 0
        loops = [(self._write_loop, f"write-{i}") for i in range(min(engine.writers, max(1, len(rows))))]
        if self.checking:
            loops += [(self._read_loop, f"read-{i}") for i in range(engine.readers)]
        # Each thread's end is told by its own event, not by Thread.is_alive(): on CPython 3.11, a
        # Ctrl-C landing inside Thread.join() can mark a thread that is still running as stopped
        # (the bpo-45274 handler in _wait_for_tstate_lock), and the run would then be settled with
        # a write still in flight, leaving that session "sending".
        self.ended = [threading.Event() for _ in loops]
        self.threads = [threading.Thread(target=self._until_ended, args=(loop, ended),
                                         name=f"gr4vy-{engine.options.kind}-{name}", daemon=True)
                        for (loop, name), ended in zip(loops, self.ended, strict=True)]

    @staticmethod
    def _until_ended(loop: Callable[[], None], ended: threading.Event) -> None:
        try:
            loop()
        finally:
            ended.set()

    def _next_row(self) -> Row | None:
        with self.take:
            return None if self.engine.stopping() else next(self.source, None)

    def _read_loop(self) -> None:
        engine = self.engine
        try:
            while (row := self._next_row()) is not None:
                result: list[tuple[str | None, int]] = []

                def step(row: Row = row, result: list[Any] = result) -> str | None:
                    result.append(engine._check(row))
                    return result[-1][0]

                if not engine._guarded(step, row.session_id):
                    return
                outcome, attempts = result[0]
                if outcome is None:
                    self._hand_over(row, attempts)
        finally:
            with self.take:
                self.readers_left -= 1

    def _hand_over(self, row: Row, attempts: int) -> None:
        """Queue a re-read session for a writer, or leave it unprocessed when the run stops meanwhile."""
        while not self.engine.stopping():
            try:
                self.handoff.put((row, attempts), timeout=0.1)
                return
            except queue.Full:
                continue
        self.engine._leave(row, attempts)

    def _write_loop(self) -> None:
        engine = self.engine
        while True:
            if self.checking:
                try:
                    row, attempts = self.handoff.get(timeout=0.05)
                except queue.Empty:
                    with self.take:
                        if self.readers_left == 0 and self.handoff.empty():
                            return
                    continue
                if engine.stopping():
                    engine._leave(row, attempts)
                    continue
            else:
                next_row = self._next_row()
                if next_row is None:
                    return
                row, attempts = next_row, 0
            if not engine._guarded(lambda row=row, attempts=attempts: engine._write(row, attempts),
                                   row.session_id):
                return

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        while True:
            try:
                for ended in self.ended:
                    while not ended.wait(0.2):
                        pass
                return
            except KeyboardInterrupt:
                # Ctrl-C: no new requests; in-flight ones finish so the journal stays exact.
                self.engine._interrupt.set()

    def drain(self) -> None:
        """Sessions re-read but not written when the run stopped: unprocessed."""
        while not self.handoff.empty():
            row, attempts = self.handoff.get_nowait()
            self.engine._leave(row, attempts)
