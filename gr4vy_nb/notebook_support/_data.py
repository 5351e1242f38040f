"""Data helpers for notebooks: session ids, JSONL exports, fetching into frames, past runs, inline HTML."""

from __future__ import annotations

import html
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from .._data import sample_session_ids
from ..api.client import Gr4vyClient
from ..errors import ConfigError, Gr4vyError, InputError, RunError
from ..ids import parse_session_ids
from ._connection import Connection, needs_confirmation

__all__ = [
    "InlineHTML",
    "confirm_writes",
    "example_run",
    "fetch_frames",
    "latest_run",
    "open_run",
    "parse_session_ids",
    "read_sessions_jsonl",
    "runs_for_target",
    "sample_session_ids",
]


def read_sessions_jsonl(source: str | os.PathLike[str] | bytes) -> list[dict[str, Any]]:
    """The sessions of a JSONL export (a path or the file's bytes), one JSON object per line.

    Raises:
        InputError: a line is not a JSON object (the message names the line).
    """
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    sessions: list[dict[str, Any]] = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise InputError(f"line {number} is not valid JSON ({exc.msg})") from None
        if not isinstance(value, dict):
            raise InputError(f"line {number} is not a JSON object (a session)")
        sessions.append(value)
    return sessions


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


def fetch_frames(client: Gr4vyClient, ids: Any, *, progress: bool = True) -> tuple[Any, pd.DataFrame]:
    """Fetch sessions by id into :class:`~gr4vy_nb.tables.frames.SessionFrames`: ``(frames, not_found)``.

    The one fetch path, :func:`gr4vy_nb.export.fetch_sessions`; ``not_found`` lists each id
    that could not be read (``checkout_session_id``, ``error``). With ``progress`` a tqdm bar
    shows the fetch (in a notebook, as a widget if available).
    """
    from ..export import fetch_sessions

    bar = _progress_bar(len(set(ids)), "fetching") if progress else None
    try:
        fetched = fetch_sessions(client, [str(i) for i in ids],
                                 progress=(lambda done, _total: bar.update(done - bar.n)) if bar is not None else None)
    finally:
        if bar is not None:
            bar.close()
    missing = fetched.failures.rename(columns={"reason": "error"})[["checkout_session_id", "error"]]
    return fetched.frames, missing.astype(object).reset_index(drop=True)


def _progress_bar(total: int, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="session", leave=True)


def confirm_writes(conn: Connection, typed_merchant_id: str | None) -> None:
    """The code-cell counterpart of the apps' PRODUCTION checkbox: call it before any write.

    Does nothing unless the target needs confirmation (see :func:`needs_confirmation`); then
    ``typed_merchant_id`` must be the merchant account id, typed by the user in the notebook.

    Raises:
        ConfigError: a PRODUCTION target and no (or a wrong) confirmation; nothing was sent.
    """
    if not needs_confirmation(conn.settings):
        return
    if (typed_merchant_id or "").strip() != conn.settings.merchant_account_id:
        raise ConfigError(
            f"the next cells write to {conn.settings.target} (PRODUCTION, merchant account "
            f"{conn.settings.merchant_account_id!r}): set CONFIRM_PRODUCTION to that merchant account id to "
            "allow them; nothing was sent"
        )


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


def latest_run(conn: Connection, runs_dir: str | os.PathLike[str] = "runs", *, kind: str | None = "apply",
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


class InlineHTML:
    """A standalone HTML document shown inside a notebook, in a sandboxed ``iframe``.

    The report's own Content-Security-Policy then applies to the frame only, never to the
    notebook page around it.
    """

    def __init__(self, document: str, *, height: int = 720) -> None:
        self.document = document
        self.height = height

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, height: int = 720) -> InlineHTML:
        return cls(Path(path).read_text(encoding="utf-8"), height=height)

    def _repr_html_(self) -> str:
        return (f'<iframe sandbox="" srcdoc="{html.escape(self.document, quote=True)}" '
                f'style="width:100%;height:{self.height}px;border:1px solid #d1d5db"></iframe>')
