"""The read side of runs: one results table per journal, the result files, and the list of runs.

:func:`results_frame` is the one projection of a journal into a table (``Run.results``, the
runs browser and the run report all read it): one row per session named, keyed by
``checkout_session_id``, with a :data:`~gr4vy_nb.updates.states.RESULT_STATUSES` status (a
session still ``planned`` or ``sending`` counts as ``unprocessed``: the run was interrupted).

:func:`write_result_files` writes ``results.csv``, ``succeeded.csv`` and ``errors.csv``:
the user's own rows of every session that did not go through, with their original cells plus
``error``, so that the file can be fixed and uploaded again. :func:`list_runs` lists the
journals of a folder with their state and totals.
"""

from __future__ import annotations

import csv
import io
import os
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import RunError
from ..pointers import field_of_pointer
from ..tables import spec as F
from ..tables.files import write_table
from .engine import difference_text
from .journal import Journal, journal_held
from .states import NOT_THROUGH, STATUSES, RunState, SessionStatus

__all__ = [
    "RESULT_COLUMNS",
    "RUN_COLUMNS",
    "error_field_from_details",
    "last_run_of",
    "list_runs",
    "never_succeed",
    "results_dir",
    "results_frame",
    "retry_files",
    "retryable",
    "run_columns",
    "shown_state",
    "write_result_files",
]

RESULT_COLUMNS = [
    "checkout_session_id", "status", "message", "fields", "applied_with_differences", "differences",
    "attempts", "http_status", "error_code", "error_message", "error_field", "expires_at", "file", "line",
    "started_at", "finished_at",
]
"""Columns of a run's results (:func:`results_frame`, ``Run.results``, ``results.csv``)."""

_NOT_FINISHED = "not finished (the run was interrupted): resume it"
_SUCCEEDED_COLUMNS = ["checkout_session_id", "fields", "expires_at", "applied_with_differences", "differences",
                      "attempts", "message"]


def error_field_from_details(details: Any) -> str | None:
    """The fields named by an error's ``details`` pointers, indexes dropped, comma-separated.

    ``[{"pointer": "/cart_items/0/name"}, {"pointer": "/buyer/billing_details/email_address"}]``
    gives ``"cart_items.name,buyer.billing_details.email_address"``; a detail without a
    pointer counts as ``(body)``. ``None`` when there are no details.
    """
    if not details:
        return None
    fields: list[str] = []
    for detail in details:
        pointer = detail.get("pointer") if isinstance(detail, dict) else None
        if pointer is None and isinstance(detail, dict) and isinstance(detail.get("loc"), list):
            # FastAPI's {"loc": ["body", "cart_items", 0, "name"]}: the same path, as a list.
            pointer = "/" + "/".join(str(p) for p in detail["loc"][1:])
        name = field_of_pointer(str(pointer or "")) or "(body)"
        if name not in fields:
            fields.append(name)
    return ",".join(fields)


def _result_row(r: dict[str, Any], tables: dict[str, Any]) -> dict[str, Any]:
    status = r["status"]
    message = r["message"] or r["error_message"]
    if status in (SessionStatus.PLANNED, SessionStatus.SENDING):
        status, message = SessionStatus.UNPROCESSED, _NOT_FINISHED
    succeeded = status == SessionStatus.SUCCEEDED
    return {
        "checkout_session_id": r["session_id"], "status": str(status), "message": message,
        "fields": r["fields"] or "", "applied_with_differences": bool(r["differences"]) if succeeded else False,
        "differences": "; ".join(difference_text(d, colon=True) if isinstance(d, dict) else str(d)
                                 for d in r["differences"] or []) or None,
        "attempts": r["attempts"], "http_status": r["http_status"], "error_code": r["error_code"],
        "error_message": r["error_message"], "error_field": error_field_from_details(r["error_details"]),
        "expires_at": r["expires_at"] if succeeded else None,
        "file": (tables.get(r["src_table"]) or {}).get("file"), "line": r["src_line"],
        "started_at": r["started_at"], "finished_at": r["finished_at"],
    }


def results_frame(journal: Journal) -> pd.DataFrame:
    """The results of a journal (:data:`RESULT_COLUMNS`); unfinished rows count as ``unprocessed``."""
    # Only the parts needed, extracted by SQLite: full states and bodies stay in the journal.
    rows = journal.select(
        "session_id, status, message, error_message, error_details, differences, attempts, http_status, error_code, "
        "started_at, finished_at, (SELECT group_concat(key, ', ') FROM json_each(desired)) AS fields, "
        "json_extract(response, '$.expires_at') AS expires_at, json_extract(source, '$.rows[0][0]') AS src_table, "
        "json_extract(source, '$.rows[0][1]') AS src_line")
    tables: dict[str, Any] = journal.meta.get("tables") or {}
    records = [_result_row(r, tables) for r in rows]
    df = pd.DataFrame({c: pd.Series([r[c] for r in records], dtype=object) for c in RESULT_COLUMNS})
    df["attempts"] = df["attempts"].astype("Int64")
    for c in ("http_status", "line"):
        df[c] = pd.array(df[c].tolist(), dtype="Int64")
    df["applied_with_differences"] = df["applied_with_differences"].astype("boolean")
    for c in ("started_at", "finished_at"):
        stamps = pd.to_datetime(pd.array(df[c].tolist(), dtype="Float64"), unit="s", utc=True)
        df[c] = pd.Series(stamps, index=df.index).dt.floor("us").astype("datetime64[us, UTC]")
    return df


# --------------------------------------------------------------------------- result files


def results_dir(journal: Journal) -> Path:
    """Where a run's result files go: next to its journal, in a folder of the journal's name.

    Only an in-memory journal (benchmarks) uses the folder it records: a recorded path may be
    relative to the folder the run was started from, and a resume from another folder (or of a
    runs folder moved elsewhere) must still write next to the journal.
    """
    if str(journal.path) != ":memory:":
        return journal.path.with_suffix("")
    recorded = journal.meta.get("results_dir")
    return Path(recorded) if recorded else Path("runs") / journal.run_id


def write_result_files(journal: Journal, results: pd.DataFrame) -> dict[str, Path]:
    """Write ``results.csv``, ``succeeded.csv`` and ``errors.csv`` (+ ``errors_<table>.csv``); their paths."""
    out_dir = results_dir(journal)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"results": out_dir / "results.csv", "succeeded": out_dir / "succeeded.csv",
             "errors": out_dir / "errors.csv"}
    write_table(results, files["results"])
    write_table(results[results["status"] == SessionStatus.SUCCEEDED][_SUCCEEDED_COLUMNS], files["succeeded"])
    files.update(_write_error_files(journal, results, out_dir))
    return files


def _error_lines(journal: Journal, why: dict[str, str], order: list[str]) -> dict[str, dict[int, str]]:
    """For each uploaded table: the lines of the sessions that did not go through, and why."""
    wanted: dict[str, dict[int, str]] = {t: {} for t in order}
    if why:
        for r in journal.rows(fields=("source",)):
            if r.session_id in why:
                for table, line in (r.source or {}).get("rows") or []:
                    if table in wanted:
                        wanted[table][int(line)] = why[r.session_id]
    return wanted


def _upload_rows(upload: dict[str, Any] | None, columns: list[str],
                 lines: dict[int, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The user's rows at ``lines`` (their original cells) plus ``error``, and where they held ``#N/A``."""
    text: dict[str, list[Any]] = {c: [] for c in [*columns, "error"]}
    marks: dict[str, list[bool]] = {c: [] for c in text}
    if upload is not None:
        position = {line: i for i, line in enumerate(upload["lines"])}
        cleared = {c: set(p) for c, p in (upload.get("cleared") or {}).items()}
        for line, error in sorted(lines.items()):
            at = position[line]
            for c in columns:
                text[c].append(upload["values"][c][at])
                marks[c].append(at in cleared.get(c, ()))
            text["error"].append(error)
            marks["error"].append(False)
    frame = pd.DataFrame({c: pd.array(v, dtype="string") for c, v in text.items()})
    return frame, pd.DataFrame(marks, dtype=bool)


def _write_error_files(journal: Journal, results: pd.DataFrame, out_dir: Path) -> dict[str, Path]:
    """``errors.csv`` (and ``errors_<table>.csv``): the uploaded rows of sessions that did not go through.

    The rows keep the user's original columns and cells (a ``#N/A`` stays a bare ``#N/A``, so it
    still clears), plus ``error``: fix them and upload the file(s) again. The main table
    (``sessions`` if it was uploaded, else the first child table) goes to ``errors.csv``; other
    tables to ``errors_<table>.csv``, written only when they hold a row (``errors.csv`` is always written, so that
    an earlier one can never be taken for this run's).
    """
    bad = results[results["status"].isin(NOT_THROUGH)]
    # Row by row, not as column arithmetic: an empty frame (a run with nothing to do) has untyped columns.
    why = {str(sid): f"{status}: {'' if message is None or message is pd.NA else message}"
           for sid, status, message in zip(bad["checkout_session_id"].tolist(), bad["status"].tolist(),
                                           bad["message"].tolist(), strict=True)}
    tables: dict[str, Any] = journal.meta.get("tables") or {}
    order = [t for t in F.TABLES if t in tables]
    uploads = {u["table"]: u for u in journal.uploads()} if why else {}
    wanted = _error_lines(journal, why, order)
    files: dict[str, Path] = {}
    if not order:  # no uploaded table recorded: one row per session
        files["errors"] = out_dir / "errors.csv"
        write_table(pd.DataFrame({"checkout_session_id": pd.array(list(why), dtype="string"),
                                  "error": pd.array(list(why.values()), dtype="string")}), files["errors"])
    for i, table in enumerate(order):
        if i and not wanted[table]:  # nothing of this table failed: no header-only file to offer
            continue
        name = "errors" if i == 0 else f"errors_{table}"
        files[name] = out_dir / f"{name}.csv"
        columns = [c for c in tables[table].get("columns") or [] if c != "error"]
        frame, cleared = _upload_rows(uploads.get(table) if wanted[table] else None, columns, wanted[table])
        write_table(frame, files[name], cleared=cleared)
    # Remove stale files of an earlier invocation (a resume) that this one did not write.
    for stale in out_dir.glob("errors_*.csv"):
        if stale.stem not in files:
            stale.unlink()
    return files


# --------------------------------------------------------------------------- the runs of a folder


def _run_summary(path: Path) -> dict[str, Any]:
    with Journal.open(path, readonly=True) as j:
        meta = j.meta
        counts = j.counts()
    state = meta.get("state")
    if state == RunState.RUNNING and not journal_held(path):
        state = RunState.INTERRUPTED
    created = meta.get("created_at")
    return {
        "journal": str(path),
        "run_id": meta.get("run_id") or path.stem,
        "kind": meta.get("kind"),
        "created_at": pd.Timestamp(created, unit="s", tz="UTC") if created else pd.NaT,
        "target": meta.get("target"),
        "merchant_account_id": meta.get("merchant_account_id"),
        "state": None if state is None else str(state),
        "parent_run_id": meta.get("parent_run_id"),
        **counts,
    }


def shown_state(state: Any, rolled_back_by: Any = None) -> str:
    """A run's state as a list of runs shows it: ``finished, rolled back by <run id>`` for a run rolled back."""
    text = "" if state is None or state is pd.NA or (isinstance(state, float) and state != state) else str(state)
    return f"{text}, rolled back by {rolled_back_by}" if isinstance(rolled_back_by, str) and rolled_back_by else text


def _rolled_back_by(df: pd.DataFrame) -> pd.Series:
    """For each run, the rollbacks of it (``<run id>``, with the state when not finished), or NA."""
    marks: dict[str, list[str]] = {}
    rollbacks = df[df["parent_run_id"].notna()].sort_values("created_at", na_position="first", kind="stable")
    for _, r in rollbacks.iterrows():
        state = r.get("state")
        label = str(r["run_id"]) + ("" if state == RunState.FINISHED or pd.isna(state) else f" ({state})")
        marks.setdefault(str(r["parent_run_id"]), []).append(label)
    return pd.Series([", ".join(marks[str(i)]) if str(i) in marks else pd.NA for i in df["run_id"]],
                     index=df.index, dtype="string")


def list_runs(directory: str | os.PathLike[str] = "runs") -> pd.DataFrame:
    """Every journal (``*.sqlite``) under ``directory``, newest first, with its state and totals.

    ``state`` is ``interrupted`` for a run whose journal says ``running`` while no process
    holds it (it crashed or was killed: resume it). Unreadable files are listed with
    ``state`` ``unreadable``. A rollback names the run it rolls back (``parent_run_id``); that
    run's ``rolled_back_by`` names its rollbacks (``<run id>``, with their state unless finished).
    """
    base = Path(directory)
    records = []
    for path in sorted(base.rglob("*.sqlite")) if base.is_dir() else []:
        try:
            records.append(_run_summary(path))
        except (RunError, sqlite3.DatabaseError) as exc:
            records.append({"journal": str(path), "run_id": path.stem, "state": str(RunState.UNREADABLE),
                            "message": str(exc)})
    columns = ["journal", "run_id", "kind", "created_at", "target", "merchant_account_id", "state",
               *(str(s) for s in STATUSES), "total", "parent_run_id", "rolled_back_by"]
    df = pd.DataFrame.from_records(records)
    for col in columns:
        if col not in df:
            df[col] = pd.NA
    df["rolled_back_by"] = _rolled_back_by(df) if len(df) else df["rolled_back_by"]
    df = df[columns + [c for c in df.columns if c not in columns]]
    if len(df):
        df = df.sort_values("created_at", ascending=False, na_position="last", kind="stable").reset_index(drop=True)
    return df


def _digests(inputs: Any) -> list[str]:
    return sorted(str(i["sha256"]) for i in inputs or () if isinstance(i, dict) and i.get("sha256"))


def last_run_of(inputs: list[dict[str, Any]], directory: str | os.PathLike[str] = "runs", *,
                target: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The newest apply run under ``directory`` made from the same input files, as a :func:`list_runs` row, or ``None``.

    Runs are tied to their inputs by the files' SHA-256 digests (recorded in each journal): the same
    content is the same input, wherever the files are now. With ``target`` (``base_url`` and
    ``merchant_account_id``, as a plan records them), only runs against that target count. A shell
    reads its ``state``: an ``interrupted`` run of these very files is to be resumed, not started again.
    """
    wanted = _digests(inputs)
    if not wanted:
        return None
    runs = list_runs(directory)
    for row in runs[runs["kind"] == "apply"].to_dict("records"):  # newest first
        try:
            with Journal.open(row["journal"], readonly=True) as j:
                meta = j.meta
        except (RunError, sqlite3.DatabaseError):
            continue
        if _digests(meta.get("inputs")) != wanted:
            continue
        if target and any(target.get(k) and meta.get(k) and target[k] != meta[k]
                          for k in ("base_url", "merchant_account_id")):
            continue
        return row
    return None


RUN_COLUMNS = ("succeeded", "failed", "conflict", "skipped", "unprocessed", "in flight", "total")
"""The counts a list of runs shows: they add up to ``total``."""


def run_columns(row: dict[str, Any]) -> dict[str, Any]:
    """A :func:`list_runs` row's counts as :data:`RUN_COLUMNS`: ``planned`` is unprocessed, ``sending`` in flight.

    An unreadable journal has no counts: every column is ``""``.
    """
    def n(status: str) -> int:
        value = row.get(status)
        return 0 if value is None or str(value) in ("<NA>", "nan") else int(value)

    if str(row.get("total")) in ("<NA>", "nan", "None"):
        return dict.fromkeys(RUN_COLUMNS, "")
    return {"succeeded": n(SessionStatus.SUCCEEDED), "failed": n(SessionStatus.FAILED),
            "conflict": n(SessionStatus.CONFLICT), "skipped": n(SessionStatus.SKIPPED),
            "unprocessed": n(SessionStatus.PLANNED) + n(SessionStatus.UNPROCESSED),
            "in flight": n(SessionStatus.SENDING), "total": n("total")}


def not_found_notes(journal: Journal, *, rollback: bool = False, named: int = 20) -> list[str]:
    """The run's sessions that answered 404, in words, told apart by what the journal knows of them.

    The API answers 404 both for a session that never existed (here) and for one that expired. A session
    whose state was read before (its before-state, with ``expires_at``, is in the journal) had expired; one
    that was never read (the plan did not find it either) is only "not found": a mistyped id, another
    merchant account or target, or a session that expired before anything read it.
    """
    seen: list[str] = []
    unseen: list[str] = []
    for r in journal.select("session_id, http_status, json_extract(before, '$.expires_at') AS due",
                            [SessionStatus.FAILED]):
        if r["http_status"] == 404:
            (seen if r["due"] else unseen).append(str(r["session_id"]))

    def shown(ids: list[str]) -> str:
        return ", ".join(ids[:named]) + (f" and {len(ids) - named} more" if len(ids) > named else "")

    verb = "restored" if rollback else "sent"
    notes = []
    if seen:
        notes.append(f"{len(seen)} session(s) had expired (the API answers 404) and could not be {verb}: "
                     f"{shown(seen)} (see errors.csv)")
    if unseen:
        notes.append(f"{len(unseen)} session(s) were not found (404, and never read by the plan either): no such "
                     "session on this target and merchant account (a mistyped id?), or one that expired before it "
                     f"was read; they could not be {verb}: {shown(unseen)} (see errors.csv)")
    return notes


# --------------------------------------------------------------------------- retrying what did not go through


def never_succeed(run: Any) -> set[str]:
    """The sessions of ``run`` that failed as not found or expired (404): no retry can ever update them."""
    df = run.results
    if not len(df) or "status" not in df.columns:
        return set()
    failed = df["status"] == SessionStatus.FAILED
    gone = pd.Series(False, index=df.index)
    if "http_status" in df.columns:
        gone |= pd.to_numeric(df["http_status"], errors="coerce").eq(404).fillna(False).astype(bool)
    if "error_code" in df.columns:
        gone |= df["error_code"].astype("string").eq("not_found").fillna(False).astype(bool)
    return {str(s).lower() for s in df.loc[failed & gone, "checkout_session_id"]}


def retryable(run: Any) -> int:
    """How many sessions of ``run`` a new plan could still get through (failed or conflict, not gone)."""
    c = run.counts
    return max(0, c[SessionStatus.FAILED] + c[SessionStatus.CONFLICT] - len(never_succeed(run)))


def retry_files(run: Any, folder: Path) -> list[Path]:
    """``run``'s ``errors*.csv`` files, less the rows of sessions that can never succeed (copies in ``folder``).

    The rows are copied as written (the cells, the ``error`` column): only whole rows are left out.
    """
    files = [Path(p) for k, p in run.files.items() if k == "errors" or k.startswith("errors_")]
    files = [p for p in files if p.is_file()]
    gone = never_succeed(run)
    if not gone:
        return files
    folder.mkdir(parents=True, exist_ok=True)
    kept = []
    for path in files:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline="")))
        if not rows or "checkout_session_id" not in rows[0]:
            continue
        key = rows[0].index("checkout_session_id")
        body = [r for r in rows[1:] if r and r[key].strip().lower() not in gone]
        if not body:
            continue
        out = io.StringIO()
        csv.writer(out, lineterminator="\r\n").writerows([rows[0], *body])
        target = folder / path.name
        target.write_text(out.getvalue(), encoding="utf-8-sig")
        kept.append(target)
    return kept
