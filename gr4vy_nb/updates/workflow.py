"""BulkUpdate: the one object a bulk update lives in, from its input to its runs.

Every shell (the CLI, the widget apps, a notebook's code cells) drives the same object, in the
spirit of dlt's ``Pipeline``: explicit states, one method per step, and one answer to "why can't
I do this now" (:meth:`BulkUpdate.why_not`, a typed :class:`~gr4vy_nb.updates.reasons.Reason`)
that every disabled button, refusal and exit code reads::

    empty --load--> loaded --plan--> planned --apply--> running --> finished | cancelled | stopped | paused
      ^               ^  |              |  ^                               |
      |               |  +-- (errors) --+  +--- plan again / load again ---+--> resume / rollback -> running
      +-- load -------+

    bulk = BulkUpdate(client, probe=saved_probe(client.settings))
    bulk.load("edits/")                      # offline checks; bulk.upload.problems
    plan = bulk.plan(PlanOptions(lists="patch"))
    bulk.why_not(Action.APPLY)               # Reason(DESTRUCTIVE_NEEDS_CONSENT, ...) or None
    bulk.consent(); bulk.confirm("acme")     # the destructive and PRODUCTION gates, for this plan only
    run = bulk.apply(RunOptions(workers=8))
    bulk.rollback_preview(); bulk.rollback()

Loading new input or planning again re-arms consent and confirmation, here, once for every
shell; so does every run (the next write asks again). A step called when :meth:`why_not` gives a
reason raises :class:`~gr4vy_nb.errors.Refused` carrying that reason, and nothing is sent.
The target's probe result is an input (``probe=``), looked up once by the shell and shown in
each plan's notes; nothing here reads the config folder.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Any

from ..errors import Refused
from .checks import check_upload
from .options import PlanOptions, RunOptions
from .plan import Plan, plan_updates
from .reasons import Action, Reason, ReasonCode, production_reason, reason
from .results import retry_files, retryable
from .runs import RollbackPreview, Run, apply_plan, resume_run, rollback_preview, rollback_run
from .states import RunKind, RunState
from .upload import Upload, read_upload

__all__ = ["BulkUpdate", "State"]


class State(StrEnum):
    """Where a bulk update stands (the run states are those its journal records)."""

    EMPTY = "empty"
    LOADED = "loaded"
    PLANNING = "planning"
    PLANNED = "planned"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    STOPPED = "stopped"
    PAUSED = "paused"
    FAILED = "failed"
    """A step raised before a run could record its state (the error is in :attr:`BulkUpdate.error`)."""


_RUN_STATES = {RunState.FINISHED: State.FINISHED, RunState.CANCELLED: State.CANCELLED,
               RunState.STOPPED: State.STOPPED, RunState.PAUSED: State.PAUSED}


class BulkUpdate:
    """A bulk update of checkout sessions: load -> plan -> (consent, confirm) -> apply -> resume / rollback.

    Args:
        client: the :class:`~gr4vy_nb.api.client.Gr4vyClient` of the target (reads and writes).
        probe: the target's probe result (:func:`gr4vy_nb.api.probe.saved_probe`; ``None``: not
            probed, so each body carries the session's full writable state).
        runs_dir: where journals and result files go (``runs/`` by default).

    Attributes:
        state: a :class:`State`.
        upload: the loaded, checked :class:`~gr4vy_nb.updates.upload.Upload` (``None``: nothing loaded).
        current_plan: the last :class:`~gr4vy_nb.updates.plan.Plan` made from it (``None``: none yet).
        run: the last :class:`~gr4vy_nb.updates.runs.Run` (apply, resume or rollback), or ``None``.
        error: the exception of the last step that failed (state ``failed``), else ``None``.
    """

    def __init__(self, client: Any, *, probe: Any = None, runs_dir: str | Path = "runs") -> None:
        self.client = client
        self.settings = client.settings
        self.probe = probe
        self.runs_dir = Path(runs_dir)
        self.upload: Upload | None = None
        self.current_plan: Plan | None = None
        self.run: Run | None = None
        self.error: BaseException | None = None
        self._state = State.EMPTY
        self._applied: Plan | None = None
        self._consented: Plan | None = None
        self._confirmed: str | None = None
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> State:
        return self._state

    @property
    def busy(self) -> bool:
        """Whether a plan is being made or a run is in progress."""
        return self._state in (State.PLANNING, State.RUNNING)

    @property
    def consented(self) -> bool:
        """Whether consent was given for the current plan's destructive changes (or it has none)."""
        plan = self.current_plan
        return plan is None or not plan.consent or self._consented is plan

    @property
    def confirmed(self) -> bool:
        """Whether the next write may go (not PRODUCTION, or its merchant account id confirmed since the last step)."""
        return production_reason(self.settings, self._confirmed) is None

    def __repr__(self) -> str:
        return f"<BulkUpdate {self._state}: {self.settings.target}>"

    def _busy_reason(self) -> Reason | None:
        if self._state == State.PLANNING:
            return reason(ReasonCode.PLAN_IN_PROGRESS)
        if self._state == State.RUNNING:
            return reason(ReasonCode.RUN_IN_PROGRESS)
        return None

    def why_not(self, action: Action | str) -> Reason | None:
        """Why ``action`` may not run now (a typed :class:`~gr4vy_nb.updates.reasons.Reason`), or ``None``."""
        action = Action(action)
        with self._lock:
            if action == Action.CANCEL:
                return None if self.busy else reason(ReasonCode.NOTHING_RUNNING)
            if (busy := self._busy_reason()) is not None:
                return busy
            if action == Action.LOAD or action == Action.CONFIRM:
                return None
            if action == Action.PLAN:
                return self._plan_reason()
            if action == Action.CONSENT:
                plan = self.current_plan
                if plan is None:
                    return reason(ReasonCode.NOT_PLANNED)
                return None if plan.consent else reason(ReasonCode.NO_DESTRUCTIVE_CHANGE)
            if action == Action.APPLY:
                return self._apply_reason()
            return self._run_reason(action)

    def _plan_reason(self) -> Reason | None:
        # An upload with errors is planned too: its sessions are read and merged, so that every problem is
        # reported at once (the plan then cannot be applied); header-only files plan to "nothing to do".
        return reason(ReasonCode.NOTHING_LOADED) if self.upload is None else None

    def _apply_reason(self) -> Reason | None:
        plan = self.current_plan
        if plan is None:
            return reason(ReasonCode.NOT_PLANNED)
        if not plan.ok:
            return reason(ReasonCode.ERRORS_REMAIN)
        # A plan that changes nothing may be applied: its run records every session as skipped.
        if plan is self._applied:  # (input files changed since the plan: apply refuses, it reads them again)
            return reason(ReasonCode.PLAN_STALE)
        if not self.consented:
            return reason(ReasonCode.DESTRUCTIVE_NEEDS_CONSENT, consent=plan.consent)
        return production_reason(self.settings, self._confirmed)

    def _run_reason(self, action: Action) -> Reason | None:
        # A finished run resumes to nothing sent, and a run that changed nothing rolls back to nothing: both
        # are allowed (their runs say so); only retrying needs failed sessions to start from.
        run = self.run
        if run is None:
            return reason(ReasonCode.NO_RUN)
        if action == Action.RETRY_FAILED:  # only sessions a new plan could get through (not the 404s)
            return None if run.kind == RunKind.APPLY and retryable(run) else reason(ReasonCode.NOTHING_TO_RETRY)
        return production_reason(self.settings, self._confirmed)

    def _refuse(self, action: Action) -> None:
        why = self.why_not(action)
        if why is not None:
            raise Refused(why)

    # ------------------------------------------------------------------ gates

    def consent(self, given: bool = True) -> None:
        """Consent (or withdraw consent) to the current plan's destructive changes; a new plan asks again."""
        with self._lock:
            if given:
                self._refuse(Action.CONSENT)
            self._consented = self.current_plan if given else None

    def confirm(self, merchant_account_id: str | None) -> None:
        """Confirm a PRODUCTION target for the next write by its merchant account id (``None`` withdraws it).

        The confirmation holds until the next step that re-arms it (load, plan, and every run).
        """
        with self._lock:
            self._confirmed = None if merchant_account_id is None else str(merchant_account_id)

    def _rearm(self) -> None:
        self._consented = None
        self._confirmed = None

    # ------------------------------------------------------------------ steps

    def load(self, source: Any, *, encoding: str | None = None) -> Upload:
        """Read and check an upload offline (paths, bytes, DataFrames, ``SessionFrames``, an ``Upload``).

        The old plan is dropped and consent and confirmation re-armed. The upload's problems are in
        ``upload.problems`` (a load with errors still loads: :meth:`why_not` then refuses to plan).

        Raises:
            InputError: the source cannot be read at all, or is a masked display (never data).
        """
        with self._lock:
            self._refuse(Action.LOAD)
            self.upload, self.current_plan, self.error = None, None, None
            self._rearm()
            self._state = State.EMPTY
        upload = check_upload(read_upload(source, encoding=encoding))
        with self._lock:
            self.upload = upload
            self._state = State.LOADED
        return upload

    def plan(self, options: PlanOptions | None = None, *, cancel: Any = None,
             progress: Callable[[int, int], None] | None = None) -> Plan:
        """Fetch the sessions named, merge, diff: the :class:`~gr4vy_nb.updates.plan.Plan` (GET only).

        Consent and confirmation are re-armed. ``cancel`` (an Event or a callable) stops the reads
        within a batch (:class:`~gr4vy_nb.updates.plan.PlanCancelled`; the state goes back to ``loaded``).
        """
        with self._lock:
            self._refuse(Action.PLAN)
            self.current_plan, self.error = None, None
            self._rearm()
            self._state = State.PLANNING
            upload = self.upload
        try:
            plan = plan_updates(upload, client=self.client, options=options, probe=self.probe, progress=progress,
                                cancel=cancel)
        except BaseException:
            with self._lock:
                self._state = State.LOADED
            raise
        with self._lock:
            self.current_plan = plan
            self._state = State.PLANNED
        return plan

    def _run(self, action: Action, work: Callable[[], Run]) -> Run:
        with self._lock:
            self._refuse(action)
            self._state = State.RUNNING
            self.error = None
        try:
            run = work()
        except BaseException as exc:
            with self._lock:
                self.error = exc
                self._state = State.FAILED
                self._rearm()
            raise
        with self._lock:
            self.run = run
            self._state = _RUN_STATES.get(run.state, State.FINISHED)
            self._rearm()  # every write asks again
        return run

    def apply(self, options: RunOptions | None = None, *, cancel: Any = None,
              progress: Callable[[Any], None] | None = None) -> Run:
        """Apply the current plan (a journaled run); consent and confirmation are used once, then re-armed."""
        plan = self.current_plan
        opts = options or RunOptions()
        if opts.runs_dir is None and opts.journal is None:
            opts = opts.replace(runs_dir=self.runs_dir)

        def work() -> Run:
            run = apply_plan(plan, client=self.client, options=opts, progress=progress, cancel=cancel,
                             allow_destructive=bool(plan is not None and plan.consent))
            self._applied = plan  # a plan is applied once: resume its run, or plan again
            return run
        return self._run(Action.APPLY, work)

    def clear(self) -> None:
        """Drop the input and its plan (new input is being chosen); consent and confirmation re-armed; runs kept."""
        with self._lock:
            self._refuse(Action.LOAD)
            self.upload, self.current_plan, self.error = None, None, None
            self._rearm()
            self._state = State.EMPTY

    def clear_plan(self) -> None:
        """Drop the current plan (its making was cancelled by the shell); back to ``loaded``."""
        with self._lock:
            self._refuse(Action.LOAD)
            self.current_plan = None
            self._rearm()
            self._state = State.LOADED if self.upload is not None else State.EMPTY

    def take_plan(self, plan: Plan) -> Plan:
        """Take a plan made earlier (:meth:`Plan.load <gr4vy_nb.updates.plan.Plan.load>`) as the current plan."""
        with self._lock:
            self._refuse(Action.LOAD)
            self.upload, self.current_plan, self.error = None, plan, None
            self._rearm()
            self._state = State.PLANNED
        return plan

    def attach(self, journal: str | Path) -> Run:
        """Take a past run (its journal) as :attr:`run`, to resume or roll it back (read-only, nothing sent)."""
        with self._lock:
            self._refuse(Action.LOAD)
            self.run = Run.from_journal(journal)
            self._state = _RUN_STATES.get(self.run.state, State.FINISHED)
            self._rearm()
            return self.run

    def resume(self, options: RunOptions | None = None, *, cancel: Any = None,
               progress: Callable[[Any], None] | None = None) -> Run:
        """Resume :attr:`run` (it sends what the run has not sent; see :func:`~gr4vy_nb.updates.runs.resume_run`)."""
        run = self.run

        def work() -> Run:
            assert run is not None
            return resume_run(run.journal, client=self.client, options=options, progress=progress, cancel=cancel)
        return self._run(Action.RESUME, work)

    def retry_files(self) -> list[Path]:
        """:attr:`run`'s ``errors*.csv`` less the sessions no plan can update (404), copied under ``runs_dir/retry``."""
        self._refuse(Action.RETRY_FAILED)
        assert self.run is not None
        return retry_files(self.run, self.runs_dir / "retry" / Path(str(self.run.journal)).stem)

    def retry_failed(self) -> Upload:
        """Load the rows of :attr:`run` that did not go through and could (its ``errors.csv``, 404s left out)."""
        return self.load(self.retry_files())

    def rollback_preview(self) -> RollbackPreview:
        """What :meth:`rollback` would restore, read from :attr:`run`'s journal (nothing is sent)."""
        if self.run is None:
            raise Refused(reason(ReasonCode.NO_RUN))
        return rollback_preview(self.run.journal)

    def rollback(self, options: RunOptions | None = None, *, force: bool = False, cancel: Any = None,
                 progress: Callable[[Any], None] | None = None) -> Run:
        """Roll :attr:`run` back (a new journaled run; see :func:`~gr4vy_nb.updates.runs.rollback_run`)."""
        run = self.run

        def work() -> Run:
            assert run is not None
            return rollback_run(run.journal, client=self.client, options=options, force=force, progress=progress,
                                cancel=cancel)
        return self._run(Action.ROLLBACK, work)
