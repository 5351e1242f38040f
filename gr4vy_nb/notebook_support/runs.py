"""Past runs for notebooks: a journal opened as a run, the runs of a target, the latest one, an example run;
and the flag that keeps a notebook's code cells from writing (:func:`allow_writes`).

Running every cell of a notebook never writes: a code cell that would write goes through a
:class:`WriteGate`, which is closed unless the notebook's ``APPLY`` flag is on (it is off in the
committed notebooks) and, on PRODUCTION, the merchant account id is typed. A closed gate runs
nothing and hands back a :class:`NotRun`, which says so wherever it is printed or shown.
"""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pandas as pd

from .._data import sample_session_ids
from ..errors import ConfigError, Gr4vyError, RunError
from ..updates.results import RESULT_COLUMNS
from ..updates.states import RunKind
from .connection import Connection, confirm_writes, needs_confirmation

__all__ = ["NoRun", "NotRun", "WriteGate", "allow_writes", "example_run", "latest_run", "open_run", "run_frames",
           "runs_for_target"]


def open_run(journal: str | os.PathLike[str]) -> Any:
    """A past run as a :class:`~gr4vy_nb.updates.runs.Run`, read from its journal without changing it.

    The journal is opened read-only (a run in progress elsewhere is shown as it stands, and is
    not disturbed); ``files`` lists the result CSVs its last invocation wrote, if any
    (:meth:`Run.from_journal <gr4vy_nb.updates.runs.Run.from_journal>`).

    Raises:
        RunError: the file is not a run journal.
    """
    from ..updates.runs import Run

    return Run.from_journal(journal)


def runs_for_target(conn: Connection, runs_dir: str | os.PathLike[str] = "runs") -> pd.DataFrame:
    """The runs under ``runs_dir`` made against this connection's target (newest first)."""
    from ..updates.journal import Journal
    from ..updates.results import list_runs

    runs = list_runs(runs_dir)
    keep = []
    for path in runs["journal"]:
        try:
            with Journal.open(path, readonly=True) as j:
                meta = j.meta
        except (Gr4vyError, sqlite3.DatabaseError):
            keep.append(False)
            continue
        keep.append((meta.get("base_url") or "").rstrip("/") == (conn.settings.base_url or "").rstrip("/")
                    and meta.get("merchant_account_id") == conn.settings.merchant_account_id)
    return runs[pd.Series(keep, index=runs.index, dtype=bool)].reset_index(drop=True) if len(runs) else runs


def latest_run(conn: Connection, runs_dir: str | os.PathLike[str] = "runs", *, kind: str | None = RunKind.APPLY,
               example_on_sandbox: bool = False, placeholder: bool = False) -> Any:
    """The newest run made against this connection's target, as a :class:`~gr4vy_nb.updates.runs.Run`.

    With no run yet: ``placeholder`` gives a :class:`NoRun` (an empty run that says how to make
    one; a notebook run top to bottom then shows that instead of an error);
    ``example_on_sandbox`` makes an example run first on a local sandbox (see
    :func:`example_run`; it writes, so it is off by default). A real Gr4vy target is never
    written to by this function.

    Raises:
        RunError: no run against this target (and neither a placeholder nor an example asked for).
    """
    runs = runs_for_target(conn, runs_dir)
    if kind is not None and len(runs):
        runs = runs[runs["kind"] == kind]
    if len(runs):
        return open_run(runs["journal"].iloc[0])
    if example_on_sandbox and conn.settings.is_local:
        return example_run(conn, runs_dir=runs_dir)
    why = (f"no {kind + ' ' if kind else ''}run against {conn.settings.target} under {runs_dir} yet: apply one first "
           "(notebook 02 or `gr4vy-nb apply`)" + (", or press *Make an example run* in the runs browser"
                                                  if conn.settings.is_local else ""))
    if placeholder:
        return NoRun(why)
    raise RunError(why)


def run_frames(run: Any) -> Any:
    """The sessions a run touched as it left them, read from its journal: no request, whatever their number.

    A session the run wrote is taken from the API's answer to the write; any other from the state
    it was planned from (never found: left out). For the state they are in *now*, fetch them
    (:func:`~gr4vy_nb.notebook_support.fetch_frames`). A :class:`NoRun` gives empty frames.
    """
    from ..tables.frames import SessionFrames, flatten_sessions
    from ..updates.journal import Journal

    if getattr(run, "journal", None) is None:
        return SessionFrames()
    with Journal.open(run.journal, readonly=True) as j:
        rows = j.rows(fields=("before", "response"))
    return flatten_sessions([r.response or r.before for r in rows if r.response or r.before])


class NoRun:
    """An empty stand-in for a run when there is none yet: no sessions, and a sentence saying why.

    It has what the notebooks read of a run (``describe()``, ``results``, ``counts``, ``journal``
    ``None``), so the cells after ``latest_run(..., placeholder=True)`` show empty tables and the
    sentence instead of failing; the report functions take it as an empty run.
    """

    run_id = None
    kind = None
    state = "no run"
    journal = None
    files: dict[str, Path] = {}  # noqa: RUF012 (read-only, never mutated)

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.results = pd.DataFrame({c: pd.Series(dtype=object) for c in RESULT_COLUMNS})

    @property
    def counts(self) -> dict[str, int]:
        return {"succeeded": 0, "failed": 0, "conflict": 0, "skipped": 0, "unprocessed": 0, "total": 0,
                "applied_with_differences": 0}

    def describe(self) -> str:
        return self.reason

    def __repr__(self) -> str:
        return f"<NoRun: {self.reason}>"

    def _repr_html_(self) -> str:
        import html

        return f"<p style='color:#6b7280'><i>{html.escape(self.reason)}</i></p>"


class NotRun:
    """What a closed :class:`WriteGate` hands back instead of a result: nothing was sent, and why.

    Every attribute and call of it is itself, so the cells that follow a gated step (``canary.journal``,
    ``run.results.head(10)``) run without error and show the same sentence; a gate given a
    ``NotRun`` as an argument does not run either.
    """

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __call__(self, *_args: Any, **_kwargs: Any) -> NotRun:
        return self

    def describe(self) -> str:
        return self.reason

    def __str__(self) -> str:
        return self.reason

    def __repr__(self) -> str:
        return f"<not run: {self.reason}>"

    def _repr_html_(self) -> str:
        import html

        return f"<p class='gr4vy-not-run' style='color:#6b7280'><i>{html.escape(self.reason)}</i></p>"


class WriteGate:
    """Runs a writing step only when the notebook allows writes (see :func:`allow_writes`)."""

    def __init__(self, conn: Connection, apply: bool, reason: str | None) -> None:
        self.conn = conn
        self.apply = bool(apply)
        self.reason = reason  # None: open

    @property
    def open(self) -> bool:
        """Whether the steps given to :meth:`run` are carried out."""
        return self.reason is None

    def run(self, step: Any, *args: Any, **kwargs: Any) -> Any:
        """``step(*args, **kwargs)`` when the gate is open; else a :class:`NotRun` (nothing is sent)."""
        name = getattr(step, "__name__", "this step")
        if self.reason is not None:
            return NotRun(f"{name} not run: {self.reason}")
        earlier = next((a for a in (*args, *kwargs.values()) if isinstance(a, NotRun | NoRun)), None)
        if earlier is not None:
            return NotRun(f"{name} not run: an earlier step did not run ({earlier.reason})")
        if args and args[0] is None:
            return NotRun(f"{name} not run: there is nothing to act on")
        return step(*args, **kwargs)

    def _message(self) -> tuple[str, str]:
        if self.reason is None:
            return "#b45309", f"Writes are ON: the cells below write to {self.conn.settings.target}."
        return ("#b91c1c" if self.apply else "#1f2937"), f"Writes are off: {self.reason}."

    def __repr__(self) -> str:
        return self._message()[1]

    def _repr_html_(self) -> str:
        import html

        colour, text = self._message()
        return f"<p class='gr4vy-write-gate' style='color:{colour}'><b>{html.escape(text)}</b></p>"


def allow_writes(conn: Connection, apply: bool, confirm_production: str | None = "") -> WriteGate:
    """The gate of a notebook's writing cells: open only with ``apply`` and, on PRODUCTION, the typed merchant id.

    Never raises: a closed gate says in one sentence why (the flag is off; PRODUCTION needs the
    merchant account id typed), with no traceback, and the gated cells then send nothing.
    """
    if not apply:
        return WriteGate(conn, False, "APPLY is False, so nothing is sent (set APPLY = True and run the cell again "
                                      "to write)")
    if needs_confirmation(conn.settings):
        try:
            confirm_writes(conn, confirm_production)
        except ConfigError:
            return WriteGate(conn, True, f"the target is PRODUCTION ({conn.settings.target}): set CONFIRM_PRODUCTION "
                                         f"to the merchant account id {conn.settings.merchant_account_id!r} to allow "
                                         "the writes below; nothing was sent")
    return WriteGate(conn, True, None)


def example_run(conn: Connection, runs_dir: str | os.PathLike[str] = "runs", n: int = 20) -> Any:
    """Apply a small example update on a local sandbox: a ``metadata.review`` tag on ``n`` sample sessions.

    Raises:
        ConfigError: the target is not a local sandbox (an example never touches real data).
    """
    from ..updates.plan import plan_updates
    from ..updates.runs import apply_plan

    if not conn.settings.is_local:
        raise ConfigError(f"an example run is made on a local sandbox only, not on {conn.settings.target}")
    ids = sample_session_ids(n)
    table = pd.DataFrame({"checkout_session_id": ids, "metadata.review": ["example"] * len(ids)})
    folder = Path(runs_dir) / "examples" / time.strftime("%Y%m%d-%H%M%S")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sessions.csv"
    table.to_csv(path, index=False)
    plan = plan_updates(path, client=conn.client, probe=conn.probe)
    return apply_plan(plan, client=conn.client, runs_dir=runs_dir)
