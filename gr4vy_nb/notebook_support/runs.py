"""Past runs for notebooks: a journal opened as a run, the runs of a target, the latest one, an example run."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pandas as pd

from .._data import sample_session_ids
from ..errors import ConfigError, Gr4vyError, RunError
from ..updates.states import RunKind
from .connection import Connection

__all__ = ["example_run", "latest_run", "open_run", "runs_for_target"]


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
               example_on_sandbox: bool = True) -> Any:
    """The newest run made against this connection's target, as a :class:`~gr4vy_nb.updates.runs.Run`.

    On a local sandbox with no run yet (``example_on_sandbox``), an example run is made first
    (see :func:`example_run`), so that a review notebook has something to show; a real Gr4vy
    target is never written to by this function.

    Raises:
        RunError: no run against this target (and no example could be made).
    """
    runs = runs_for_target(conn, runs_dir)
    if kind is not None and len(runs):
        runs = runs[runs["kind"] == kind]
    if len(runs):
        return open_run(runs["journal"].iloc[0])
    if example_on_sandbox and conn.settings.is_local:
        return example_run(conn, runs_dir=runs_dir)
    raise RunError(f"no {kind or ''} run against {conn.settings.target} under {runs_dir}: apply one first "
                   "(notebook 02 or `gr4vy-nb apply`)")


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
    plan = plan_updates(path, client=conn.client)
    return apply_plan(plan, client=conn.client, runs_dir=runs_dir)
