"""Runs: apply a plan, resume a run, roll a run back; each a journaled invocation of the engine.

::

    run = apply_plan(plan, client=client, workers=8, rate=20)     # -> Run
    run.results                     # every session named: status, message, attempts, ...
    run.files["errors"]             # errors.csv: the user's rows that did not go through, plus `error`
    resume_run(run.journal, client=client)     # after a crash, kill -9, cancel or a canary
    rollback_run(run.journal, client=client)   # put the before-state back
    Run.from_journal(run.journal)              # a past run, read without changing it

How each session is sent is :mod:`gr4vy_nb.updates.engine`'s; the results and files are
:mod:`gr4vy_nb.updates.results`'. ``first=N`` sends only the first N sessions of the plan (a
canary); the rest stay ``unprocessed`` until resumed. Every function can run in a background
thread (the notebook widgets do); ``progress`` defaults to doing nothing.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pydantic

from .._version import __version__
from ..errors import InputError, Refused, RunError
from ..pointers import encode
from ..problems import Problems, api_rule
from ..schema import EXPIRES_IN_DEFAULT, CheckoutSessionUpdate
from .compare import known_body
from .engine import Engine, EngineOptions, RunProgress
from .inflight import InFlight, in_flight_rows, settle_in_flight
from .journal import Journal, JournalRow
from .options import RunOptions, with_keywords
from .plan import Plan, target_of
from .reasons import Reason, ReasonCode, reason
from .results import RESULT_COLUMNS, not_found_notes, results_dir, results_frame, write_result_files
from .states import (
    RESULT_STATUSES,
    BodyMode,
    ItemStatus,
    RunKind,
    RunState,
    SessionStatus,
    parse_instant,
    utc_text,
)
from .upload import changed_inputs, locate, table_records

__all__ = [
    "RESULT_COLUMNS",
    "RESULT_STATUSES",
    "RollbackPreview",
    "Run",
    "RunProgress",
    "apply_plan",
    "results_frame",
    "resume_run",
    "rollback_preview",
    "rollback_run",
]

DEFAULT_RUNS_DIR = Path("runs")
_NAMED = 20  # sessions named in a note before "and N more"


def _named(ids: list[str]) -> str:
    """Session ids for a note: the first few, then "and N more"."""
    return ", ".join(ids[:_NAMED]) + (f" and {len(ids) - _NAMED} more" if len(ids) > _NAMED else "")


@dataclass
class Run:
    """The outcome of :func:`apply_plan`, :func:`resume_run` or :func:`rollback_run` (or a past run).

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
    in_flight: InFlight = field(default_factory=InFlight)

    @classmethod
    def from_journal(cls, journal: str | os.PathLike[str] | Journal, *, files: dict[str, Path] | None = None,
                     requests: dict[str, int] | None = None, elapsed: float = 0.0) -> Run:
        """The run a journal records, read without changing it (a path is opened read-only, no lock taken).

        ``files`` defaults to the result CSVs found in the run's results folder.

        Raises:
            RunError: the file is not a run journal.
        """
        if not isinstance(journal, Journal):
            with Journal.open(journal, readonly=True) as j:
                return cls.from_journal(j, files=files, requests=requests, elapsed=elapsed)
        meta = journal.meta
        folder = results_dir(journal)
        if files is None:
            files = {p.stem: p for p in sorted(folder.glob("*.csv"))} if folder.is_dir() else {}
        return cls(journal=journal.path, results_dir=folder, run_id=journal.run_id, kind=str(meta.get("kind")),
                   state=str(meta.get("state")), stop_reason=meta.get("stop_reason"), results=results_frame(journal),
                   files=files, requests=dict(requests or {}), elapsed=elapsed,
                   in_flight=InFlight.from_dict(meta.get("in_flight")))

    @property
    def counts(self) -> dict[str, int]:
        """Sessions per result status, plus ``total`` and ``applied_with_differences``."""
        vc = self.results["status"].value_counts()
        out = {str(s): int(vc.get(s, 0)) for s in RESULT_STATUSES}
        out["total"] = len(self.results)
        out["applied_with_differences"] = int(self.results["applied_with_differences"].fillna(False).sum())
        return out

    @property
    def requests_text(self) -> str:
        """This invocation's requests in words, reads apart from writes ("" when it sent none).

        The reads are the re-reads before writing (and those settling a lost answer); a session's
        ``attempts`` counts its write attempts only.
        """
        reads = int(self.requests.get("GET", 0))
        writes = sum(int(n) for m, n in self.requests.items() if m != "GET")
        if not reads and not writes:
            return ""
        return (f"{writes:,} write attempt(s)" + (f", {reads:,} re-read(s) of sessions (not counted in attempts)"
                                                  if reads else ""))

    @property
    def ok(self) -> bool:
        """Everything named went through as sent (nothing failed, conflicted, left or altered)."""
        c = self.counts
        return c["failed"] == c["conflict"] == c["unprocessed"] == c["applied_with_differences"] == 0

    @property
    def exit_code(self) -> int:
        """The CLI's exit code: 0 all done, 1 some sessions need attention, 3 stopped on credentials."""
        if self.state == RunState.STOPPED:
            return 3
        return 0 if self.ok else 1

    @property
    def expired(self) -> list[str]:
        """The sessions that answered 404 (expired, or gone) and so could not be sent or restored."""
        r = self.results
        gone = r[(r["status"] == SessionStatus.FAILED) & (r["http_status"] == 404).fillna(False)]
        return [str(s) for s in gone["checkout_session_id"]]

    @property
    def notes(self) -> list[str]:
        """What the user must know beyond the counts, in words: expired sessions; for a rollback, expiry."""
        notes: list[str] = []
        c = self.counts
        rollback = self.kind == RunKind.ROLLBACK
        if rollback and c["total"] == 0:
            notes.append("nothing to roll back: the run changed no session")
        if rollback and self.in_flight.total:
            notes.extend(self.in_flight_lines())
        if self.expired and Path(self.journal).is_file():  # the journal tells expired (read before) from never found
            with Journal.open(self.journal, readonly=True) as j:
                notes += not_found_notes(j, rollback=rollback, named=_NAMED)
        elif self.expired:
            notes.append(f"{len(self.expired)} session(s) were not found or had expired (the API answers 404 to both)")
        if rollback and c["succeeded"]:
            stamps = [t for t in (parse_instant(v) for v in
                                  self.results.loc[self.results["status"] == SessionStatus.SUCCEEDED, "expires_at"])
                      if t is not None]
            when = ""
            if stamps:
                low, high = min(stamps), max(stamps)
                when = f"; the {c['succeeded']} restored session(s) now expire " + (
                    f"at {utc_text(low)}" if high - low < 1 else f"between {utc_text(low)} and {utc_text(high)}")
            notes.append("a rollback cannot restore expires_at: every update resets a session's expiry, so the "
                         "restored sessions do not expire when they did before the run" + when)
        return notes

    def in_flight_lines(self) -> list[str]:
        """For a rollback: what the re-read of the sessions the run left in flight found, in words."""
        f = self.in_flight
        out = [f"{f.total} session(s) were in flight when the run stopped (sent, answer not recorded): re-read first"]
        if f.written:
            out.append(f"{len(f.written)} of them held the run's values (the write had reached the server): rolled "
                       "back with the others")
        if f.not_written:
            out.append(f"{len(f.not_written)} of them did not hold the run's values: not written by the run, left "
                       "as they are: " + _named(f.not_written))
        if f.unreadable:
            out.append(f"{len(f.unreadable)} of them could not be re-read (expired or no answer), so whether the run "
                       "wrote them is unknown: " + _named(list(f.unreadable)))
        return out

    def describe(self) -> str:
        """The run's outcome in words."""
        c = self.counts
        lines = [
            f"Run {self.run_id} ({self.kind}): {self.state}" + (f" — {self.stop_reason}" if self.stop_reason else ""),
            "  " + ", ".join(f"{s} {c[s]}" for s in RESULT_STATUSES) + f" (total {c['total']})",
            *([f"  requests: {self.requests_text}"] if self.requests_text else []),
            *(f"  note: {n}" for n in self.notes),
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


# --------------------------------------------------------------------------- running a journal


def _new_run_id(kind: str) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{kind}-{secrets.token_hex(3)}"


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


def _default_client(client: Any, workers: int) -> tuple[Any, bool]:
    if client is not None:
        return client, False
    from ..api.client import Gr4vyClient
    from ..config import Settings

    return Gr4vyClient(Settings.from_env(required=True), workers=workers), True


def _settle(journal: Journal, engine: Engine, todo: list[JournalRow], held_back: list[JournalRow],
            first: int | None) -> None:
    """After the engine: what was not reached is ``unprocessed``; the run's state and stop reason recorded."""
    in_todo = {r.session_id for r in todo}
    held = {r.session_id for r in held_back}
    waiting = [r.session_id for r in journal.rows((SessionStatus.PLANNED, SessionStatus.UNPROCESSED),
                                                     fields=("status",))]
    not_reached = [s for s in waiting if s in in_todo]
    held_left = [s for s in waiting if s in held]
    canary = f"not sent: canary run of the first {first}; resume to send the rest"
    if engine.fatal is not None or engine.stop_reason:
        state, reason = RunState.STOPPED, engine.stop_reason
    elif engine.cancelled and not_reached:
        state, reason = RunState.CANCELLED, "cancelled before it was sent; resume to send it"
    elif held_left:
        state, reason = RunState.PAUSED, f"not sent: the canary run sent only the first {first}; resume to send " \
            "the rest"
    else:
        state, reason = RunState.FINISHED, None
    if not_reached:
        journal.mark_many(not_reached, SessionStatus.UNPROCESSED, message=reason or "not sent")
    if held_left:
        journal.mark_many(held_left, SessionStatus.UNPROCESSED, message=canary)
    ended = time.time()
    periods = journal.meta.get("active_periods") or []
    if periods:  # this invocation's [start, end]: the run's active time leaves out the pauses between invocations
        periods[-1][1] = ended
    journal.set_meta(state=str(state), stop_reason=reason if state != RunState.FINISHED else None,
                     last_finished_at=ended, active_periods=periods)


def _settled_before(journal: Journal, todo: list[JournalRow], held_back: list[JournalRow]) -> dict[str, int]:
    """The run's sessions (all but the unchanged, ``skipped``) settled before this invocation, by status."""
    sending = {r.session_id for r in todo} | {r.session_id for r in held_back}
    out: dict[str, int] = {}
    for r in journal.rows(fields=("status",)):
        if r.session_id in sending or r.status == SessionStatus.SKIPPED:
            continue
        status = str(r.status) if r.status in RESULT_STATUSES else str(SessionStatus.UNPROCESSED)
        out[status] = out.get(status, 0) + 1
    return out


def _execute(journal: Journal, client: Any, rows: list[JournalRow], options: EngineOptions) -> Run:
    """Send ``rows`` (in plan order), settle what is left, write the result files, return the Run."""
    started = time.monotonic()
    first = options.first
    todo = rows if first is None else rows[: max(0, int(first))]
    held_back = [] if first is None else rows[max(0, int(first)):]
    now = time.time()
    journal.set_meta(state=str(RunState.RUNNING), stop_reason=None, last_started_at=now,
                     active_periods=[*(journal.meta.get("active_periods") or []), [now, None]])
    engine = Engine(journal, client, options)
    try:
        engine.run(todo, prior=_settled_before(journal, todo, held_back))
    finally:
        _settle(journal, engine, todo, held_back, first)
    files = write_result_files(journal, results_frame(journal))
    return Run.from_journal(journal, files=files, requests=engine.requests, elapsed=time.monotonic() - started)


# --------------------------------------------------------------------------- apply


def _journal_path(journal: str | os.PathLike[str] | None, runs_dir: str | os.PathLike[str] | None,
                  run_id: str) -> Path:
    if journal is not None:
        return Path(journal)
    return Path(runs_dir or DEFAULT_RUNS_DIR) / f"{run_id}.sqlite"


def _results_for(path: Path, runs_dir: str | os.PathLike[str] | None, run_id: str) -> Path:
    """Where a run's result files go: next to its journal, in a folder of the same name."""
    if str(path) == ":memory:":  # an in-memory journal (benchmarks): results under runs_dir
        return Path(runs_dir or DEFAULT_RUNS_DIR) / run_id
    return path.with_suffix("")


def _check_bodies(plan: Plan) -> None:
    """Validate every body again: a plan may have been saved, edited by hand and loaded."""
    found = Problems()
    for item in plan.changes:
        try:
            CheckoutSessionUpdate.model_validate(known_body(item.body))  # unknown fields are the server's to judge
        except pydantic.ValidationError as exc:
            for err in exc.errors(include_url=False, include_input=False):
                file, line, column = locate(encode(err["loc"]), item.source.get("where"))
                found.add(api_rule(err["type"]), err["msg"], file=file, line=line, column=column,
                          session_id=item.session_id)
    if len(found):
        raise InputError(f"{len(found)} planned bodies are refused by the update schema; nothing was sent",
                         found.frame())


def _journal_item(item: Any) -> dict[str, Any]:
    base = {"session_id": item.session_id, "before": item.before, "body": item.body, "desired": item.desired,
            "source": item.source}
    if item.status == ItemStatus.CHANGE:
        return {**base, "status": SessionStatus.PLANNED}
    if item.status == ItemStatus.NOT_FOUND:
        return {**base, "status": SessionStatus.FAILED, "message": "not found or expired", "http_status": 404,
                "error_code": "not_found", "error_message": item.message or "session not found or expired"}
    return {**base, "status": SessionStatus.SKIPPED, "message": item.message or "no change"}


def _check_consent(plan: Any, allow_destructive: bool) -> None:
    """Refuse a plan with destructive changes unless they are consented to (nothing is sent)."""
    consent = getattr(plan, "consent", "")
    if consent and not allow_destructive:
        why = reason(ReasonCode.DESTRUCTIVE_NEEDS_CONSENT, consent=consent)
        # This function's own words: it takes the consent; patch mode is a planning option (a new plan).
        raise Refused(Reason(why.code, f"{why.text}: nothing was sent; check plan.destructive, then apply it with "
                                       "allow_destructive=True, or plan again in patch mode (lists='patch') to keep "
                                       "the list elements not listed"),
                      plan.problems[plan.problems["rule"] == "destructive"].reset_index(drop=True))


def apply_plan(
    plan: Any,
    *,
    client: Any = None,
    options: RunOptions | None = None,
    progress: Callable[[RunProgress], None] | None = None,
    cancel: Any = None,
    allow_destructive: bool = False,
    **keywords: Any,
) -> Run:
    """Apply a :class:`~gr4vy_nb.updates.plan.Plan` and return the :class:`Run`.

    Args:
        plan: the plan (it must have no errors: :class:`InputError` otherwise, nothing sent).
        client: a :class:`~gr4vy_nb.api.client.Gr4vyClient` for the plan's target (default: one
            from :meth:`Settings.from_env`). Give one whose ``workers`` (pool size) is at least twice
            the run's workers for full speed; a smaller pool is shared between readers and writers.
        options: :class:`~gr4vy_nb.updates.options.RunOptions` (workers, rate, a canary's ``first``,
            ``conflict_check``, ``journal``, ``runs_dir``); its fields may also be given as keywords
            (``workers=8``), as before.
        progress: called with a :class:`RunProgress` after each session and retry.
        cancel: a :class:`threading.Event` or a callable; when set/true, no new request starts.
        allow_destructive: consent to the plan's destructive changes (list elements removed,
            fields cleared: :attr:`Plan.destructive <gr4vy_nb.updates.plan.Plan.destructive>`); without it
            a plan holding any is refused and nothing is sent.

    Raises:
        InputError: the plan has errors; :class:`~gr4vy_nb.errors.Refused` (an ``InputError``):
        destructive changes without ``allow_destructive`` (its ``problems`` lists them). RunError: input
        files changed since planning, the plan was made against another target, or the journal exists.
        ConfigError: no client given and nothing configured.
    """
    opts = with_keywords(options, RunOptions, keywords, caller="apply_plan")
    plan.raise_for_problems()
    _check_consent(plan, allow_destructive)
    _check_bodies(plan)
    changed = plan.changed_inputs()
    if changed:
        raise RunError("input files changed since the plan was made: " + ", ".join(changed) + "; plan again")
    workers = opts.workers or 4
    client, own = _default_client(client, 2 * workers)
    try:
        _check_target(client, plan.target, "plan")
        run_id = _new_run_id(RunKind.APPLY)
        path = _journal_path(opts.journal, opts.runs_dir, run_id)
        meta = {
            "run_id": run_id, "kind": str(RunKind.APPLY), "toolkit_version": __version__, **target_of(client.settings),
            "expires_in": plan.expires_in, "conflict_check": bool(opts.conflict_check), "workers": workers,
            "rate": opts.rate, "first": opts.first, "inputs": plan.inputs, "tables": plan.tables,
            "plan_created_at": plan.created_at, "results_dir": str(_results_for(path, opts.runs_dir, run_id)),
            "body_mode": str(plan.body_mode),
        }
        items = [_journal_item(i) for i in plan.items]
        uploads = [table_records(t) for t in plan.uploads.values()]
        engine = EngineOptions(kind=RunKind.APPLY, workers=workers, rate=opts.rate, conflict_check=opts.conflict_check,
                               first=opts.first, progress=progress, cancel=cancel)
        with Journal.create(path, meta=meta, items=items, uploads=uploads) as j:
            rows = [JournalRow(i["session_id"], SessionStatus.PLANNED, before=i.get("before"), body=i.get("body"),
                               desired=i.get("desired"), source=i.get("source"))
                    for i in items if i["status"] == SessionStatus.PLANNED]  # as committed: not read back
            return _execute(j, client, rows, engine)
    finally:
        if own:
            client.close()


# --------------------------------------------------------------------------- resume


def resume_run(
    journal: str | os.PathLike[str],
    *,
    client: Any = None,
    options: RunOptions | None = None,
    progress: Callable[[RunProgress], None] | None = None,
    cancel: Any = None,
    **keywords: Any,
) -> Run:
    """Continue a run that was cancelled, stopped, paused (canary), crashed or killed.

    Every session not known to have succeeded is re-read first: one that already holds the
    desired values becomes ``succeeded`` with no write; one still in its before-state is sent;
    one changed by someone else is a ``conflict`` (when the run checks conflicts). Failures
    that may pass on a second try (no answer, 429, 5xx) are retried; refusals (400, 404, 409,
    422) are final. A finished run sends nothing. ``options`` (:class:`~gr4vy_nb.updates.options.RunOptions`,
    or its fields as keywords): ``workers``/``rate`` default to the run's, ``first`` sends only that
    many more, ``check_inputs=False`` resumes even though the input files changed.

    Raises:
        RunError: the journal is in use by another process, its input files changed since the
            run started (``check_inputs=False`` overrides), or the client targets another API.
    """
    opts = with_keywords(options, RunOptions, keywords, caller="resume_run")
    workers, rate, first, check_inputs = opts.workers, opts.rate, opts.first, opts.check_inputs
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
            todo = [r for r in j.rows((SessionStatus.PLANNED, SessionStatus.SENDING, SessionStatus.UNPROCESSED,
                                       SessionStatus.FAILED))
                    if r.status != SessionStatus.FAILED or (r.body is not None and r.transient)]
            engine = EngineOptions(kind=str(meta.get("kind")), workers=n_workers,
                                 rate=rate if rate is not None else meta.get("rate"),
                                 conflict_check=bool(meta.get("conflict_check", True)), recheck=True, resumed=True,
                                 first=first, progress=progress, cancel=cancel)
            return _execute(j, client, todo, engine)
        finally:
            if own:
                client.close()


# --------------------------------------------------------------------------- rollback


def _rollback_items(parent: Journal, expires_in: float, mode: BodyMode) -> list[dict[str, Any]]:
    """For each session the run changed: restore the fields it changed to their value before the run.

    Unless the target's probe found that PUT merges, each body also carries the rest of the session's
    state as the run left it (:func:`~gr4vy_nb.updates.bodies.rollback_body`), so a replacing PUT clears nothing.
    """
    from .bodies import rollback_body

    items = []
    for r in parent.rows((SessionStatus.SUCCEEDED,)):
        desired = r.desired or {}
        if not desired:
            continue
        response = r.response or {}
        wrote = {f: response.get(f, desired[f]) if response else desired[f] for f in desired}
        if response.get("expires_at"):  # when the run left it due to expire (a 404 then says "expired at")
            wrote["expires_at"] = response["expires_at"]
        before = r.before or {}
        restore = {f: before.get(f) for f in desired}
        body = rollback_body(response, before, restore, expires_in, mode)
        # A full-state body carries fields the run did not change: the re-read checks them too (engine
        # ``_check``), against the state the body was made from, so record that state for them.
        left = response or before
        for f in body:
            if f != "expires_in" and f not in wrote:
                wrote[f] = left.get(f)
        items.append({"session_id": r.session_id, "status": SessionStatus.PLANNED, "before": wrote,
                      "body": body, "desired": restore, "source": r.source})
    return items


@dataclass
class RollbackPreview:
    """What :func:`rollback_run` would do to a run, read from its journal (nothing is sent or read remotely).

    Attributes:
        run_id: the run that would be rolled back.
        sessions: one row per session to restore: ``checkout_session_id``, ``fields`` (the fields
            put back, comma-separated), ``expires_at`` (when the run left it due to expire) and
            ``expired`` (that time has passed: the API answers 404, it cannot be restored).
        rolled_back_by: earlier rollbacks of this run (their journals' names), if any.
    """

    run_id: str
    sessions: pd.DataFrame
    rolled_back_by: list[str]
    in_flight: list[str] = field(default_factory=list)

    @property
    def fields(self) -> list[str]:
        """Every field the rollback puts back, in first-seen order."""
        seen: dict[str, None] = {}
        for text in self.sessions["fields"]:
            for f in str(text).split(", "):
                if f:
                    seen.setdefault(f, None)
        return list(seen)

    @property
    def expired(self) -> list[str]:
        return [str(s) for s in self.sessions.loc[self.sessions["expired"], "checkout_session_id"]]

    @property
    def lines(self) -> list[str]:
        """The preview in words: sessions, fields, conflicts, and what cannot be restored."""
        n, expired = len(self.sessions), self.expired
        doubt = ([f"{len(self.in_flight)} session(s) were in flight when the run stopped (sent, answer not "
                  "recorded): each is re-read first; those holding the run's values are rolled back too, the "
                  "others reported as not written"] if self.in_flight else [])
        if not n:
            return [*doubt] or ["nothing to roll back: the run changed no session"]
        fields = self.fields
        out = [f"{n} session(s) get back the values they had before run {self.run_id}: "
               f"{', '.join(fields[:12])}{f' and {len(fields) - 12} more' if len(fields) > 12 else ''}",
               "each session is re-read first: one changed since the run is a conflict and is left alone "
               "(unless you force it)",
               "cannot be restored: expires_at (every update resets a session's expiry, so each restored session "
               "expires again after the rollback's own update, not when it did before the run)"]
        if expired:
            out.append(f"cannot be restored: {len(expired)} session(s) have expired since the run (the API answers "
                       f"404): {_named(expired)}")
        if self.rolled_back_by:
            out.append("this run was already rolled back by " + ", ".join(self.rolled_back_by))
        return out + doubt

    def describe(self) -> str:
        return "\n".join(self.lines)


def rollback_preview(journal: str | os.PathLike[str], *, now: float | None = None) -> RollbackPreview:
    """What rolling ``journal``'s run back would restore, from the journal alone (read-only, no request).

    Raises:
        RunError: the file is not a run journal.
    """
    from .results import list_runs

    at = time.time() if now is None else now
    with Journal.open(journal, readonly=True) as j:
        run_id = j.run_id
        rows = [r for r in j.rows((SessionStatus.SUCCEEDED,), fields=("desired", "response"))
                if r.desired]
        doubt = [r.session_id for r in in_flight_rows(j)]
    expires = [(r.response or {}).get("expires_at") for r in rows]
    due = [parse_instant(e) for e in expires]
    sessions = pd.DataFrame({
        "checkout_session_id": pd.Series([r.session_id for r in rows], dtype=object),
        "fields": pd.Series([", ".join(r.desired) for r in rows], dtype=object),
        "expires_at": pd.Series(expires, dtype=object),
        "expired": pd.Series([d is not None and d <= at for d in due], dtype=bool),
    })
    runs = list_runs(Path(journal).parent)
    mine = runs[runs["run_id"] == run_id]["rolled_back_by"] if len(runs) else pd.Series(dtype="string")
    by = [s for s in str(mine.iloc[0]).split(", ")] if len(mine) and not pd.isna(mine.iloc[0]) else []
    return RollbackPreview(run_id=run_id, sessions=sessions, rolled_back_by=by, in_flight=doubt)


def rollback_run(
    journal: str | os.PathLike[str],
    *,
    client: Any = None,
    options: RunOptions | None = None,
    force: bool = False,
    progress: Callable[[RunProgress], None] | None = None,
    cancel: Any = None,
    **keywords: Any,
) -> Run:
    """Put back the before-state of every session a run changed, as a new journaled run.

    For each ``succeeded`` session of the run, only the fields the run changed are restored
    (to their value before the run; a field that was empty is cleared). Each session is
    re-read first: if it no longer holds what the run wrote, someone changed it since and it
    is reported as a ``conflict`` and left alone, unless ``force`` (then it is overwritten).
    Sessions the run left in flight (killed between its write and the journal's record of the
    answer) are re-read before anything else: those holding the run's values are rolled back
    too, the others are reported as not written (:mod:`~gr4vy_nb.updates.inflight`; ``Run.notes``).
    The rollback's own journal (default: next to the original, ``<run>-rollback-<id>.sqlite``)
    can itself be resumed or rolled back. The original journal is locked meanwhile. ``options``
    (:class:`~gr4vy_nb.updates.options.RunOptions`, or its fields as keywords): ``journal`` (the
    rollback's own; ``rollback_journal=`` as before), ``workers``/``rate``/``expires_in`` (default: the run's).
    The bodies carry what the run's bodies carried (its ``body_mode``: the changed fields, or each
    session's full state).

    Raises:
        RunError: the journal is in use, or the client targets another API than the run's.
    """
    opts = with_keywords(options, RunOptions, keywords, caller="rollback_run")
    workers, rate, expires_in, rollback_journal = opts.workers, opts.rate, opts.expires_in, opts.journal
    with Journal.open(journal) as parent:
        meta = parent.meta
        n_workers = max(1, int(workers or meta.get("workers") or 4))
        seconds = int(expires_in or meta.get("expires_in") or EXPIRES_IN_DEFAULT)
        client, own = _default_client(client, 2 * n_workers)
        try:
            _check_target(client, meta, "run")
            # Sessions the run left in flight (killed mid-write) are re-read first: those that hold the
            # run's values become succeeded in its journal, so they are rolled back with the others.
            in_flight = settle_in_flight(parent, client, workers=n_workers)
            items = _rollback_items(parent, float(seconds), BodyMode(meta.get("body_mode") or BodyMode.FULL))
            path = Path(rollback_journal) if rollback_journal else parent.path.with_name(
                f"{parent.path.stem}-rollback-{secrets.token_hex(3)}.sqlite")
            # The run's id is its journal's name, so that what the runs browser and `gr4vy-nb runs` show
            # can be found on disk (a journal named by the caller keeps a fresh id).
            run_id = path.stem if not rollback_journal else _new_run_id(RunKind.ROLLBACK)
            rb_meta = {
                "run_id": run_id, "kind": str(RunKind.ROLLBACK), "toolkit_version": __version__,
                **target_of(client.settings), "parent": str(parent.path), "parent_run_id": parent.run_id,
                "force": bool(force), "expires_in": seconds, "conflict_check": not force, "workers": n_workers,
                "rate": rate, "inputs": [], "tables": meta.get("tables") or {},
                "results_dir": str(path.with_suffix("")), "in_flight": in_flight.to_dict(),
                "body_mode": str(meta.get("body_mode") or BodyMode.FULL),
            }
            engine = EngineOptions(kind=RunKind.ROLLBACK, workers=n_workers, rate=rate, conflict_check=not force,
                                 recheck=True, progress=progress, cancel=cancel)
            with Journal.create(path, meta=rb_meta, items=items, uploads=parent.uploads()) as j:
                return _execute(j, client, j.rows((SessionStatus.PLANNED,)), engine)
        finally:
            if own:
                client.close()

