"""Ids -> sessions -> the four tables -> files: the one path by which sessions are fetched by id.

::

    >>> ids = read_ids("ids.txt")                    # or a CSV or XLSX with a checkout_session_id column
    >>> fetched = fetch_sessions(client, ids)        # concurrent GETs: sessions and failures
    >>> result = export_sessions(ids, client, "export/", progress=bar)
    >>> result
    ExportResult(200 requested, 198 exported, 2 failed -> export/)

:func:`fetch_sessions` is what the export, the report (``gr4vy-nb report ids.txt``) and the
notebooks use to read sessions by id. An export's ``DIR`` receives ``sessions.csv``,
``cart_items.csv``, ``legs.csv``, ``passengers.csv`` (each row ending with its ``row_version``: the
state it was exported from, see :mod:`gr4vy_nb.tables.versions`) and ``not_found.csv``
(``checkout_session_id, status, code, reason`` for each id that could not be fetched: not
found or expired, refused, or no answer after the client's retries). ``not_found.csv`` is
always written, with just its header when nothing failed, so a stale one from an earlier
export can never be mistaken for this one's. With ``format="xlsx"`` the four tables go into one
workbook, ``export.xlsx`` (a sheet per table, every text field a text cell:
:func:`~gr4vy_nb.tables.workbooks.write_workbook`), next to ``not_found.csv``.

A value longer than a spreadsheet cell holds (32,767 characters) is written whole, and named in
:attr:`ExportResult.warnings` (rule ``cell_too_long``): a spreadsheet would cut it. The file
uploaded again unedited changes nothing; a value cut at 32,767 characters is what a spreadsheet
makes of the current one, kept as it is by default (``rewrite_kept``: nothing is sent for it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from .errors import ApiError, AuthError, PermissionDenied
from .ids import ID_COLUMN
from .problems import Problems, Rule, Severity
from .problems import frame as problems_frame
from .tables.cells import format_column
from .tables.files import DEFAULT_LIMITS, Limits, write_table
from .tables.frames import SessionFrames, flatten_sessions
from .tables.idlists import read_id_list
from .tables.masking import mask_value
from .tables.rewrites import CELL_LIMIT
from .tables.versions import with_versions
from .tables.workbooks import write_workbook

__all__ = ["NOT_FOUND_COLUMNS", "ExportResult", "Fetched", "export_sessions", "fetch_sessions", "read_ids",
           "write_export"]

NOT_FOUND_COLUMNS = (ID_COLUMN, "status", "code", "reason")
"""Columns of ``not_found.csv`` and :attr:`Fetched.failures`."""


@dataclass(frozen=True)
class Fetched:
    """Sessions fetched by id: those found (as the API returned them, in the order asked) and the failures."""

    sessions: list[dict[str, Any]]
    failures: pd.DataFrame
    requested: int

    @property
    def frames(self) -> SessionFrames:
        """The sessions found, flattened; they remember this state as their base (three-way plans)."""
        return flatten_sessions(self.sessions).remember()


@dataclass(frozen=True)
class ExportResult:
    """What an export did: the files written, the frames, and the ids that failed (``failures``)."""

    out_dir: Path
    files: dict[str, Path]
    requested: int
    frames: SessionFrames
    failures: pd.DataFrame
    warnings: pd.DataFrame = field(default_factory=problems_frame)

    @property
    def exported(self) -> int:
        return len(self.frames)

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def exit_code(self) -> int:
        """0 when every id was exported, 1 when some failed (the CLI's exit codes, README)."""
        return 1 if self.failed else 0

    def summary(self) -> str:
        """One line for a terminal: counts and where the files are."""
        text = f"{self.exported:,} of {self.requested:,} sessions exported to {self.out_dir}"
        if self.failed:
            text += f"; {self.failed:,} failed (see {self.files['not_found']})"
        return text

    def __repr__(self) -> str:
        return (f"ExportResult({self.requested:,} requested, {self.exported:,} exported, "
                f"{self.failed:,} failed -> {self.out_dir})")


def read_ids(path: str | os.PathLike[str], *, encoding: str | None = None,
             limits: Limits = DEFAULT_LIMITS) -> list[str]:
    """Session ids from a file, in order, in the API's form (:func:`gr4vy_nb.ids.canonical_id`), once each.

    The one id-list reader, :func:`gr4vy_nb.tables.idlists.read_id_list` (text, CSV or XLSX; a
    ``checkout_session_id`` header however written; spaces trimmed and repeats dropped): its ``.ids``.
    Raises :class:`~gr4vy_nb.errors.InputError` naming file, line and value for anything that is not
    a UUID, and for a table without an id column or a file with no ids at all.
    """
    return read_id_list(path, encoding=encoding, limits=limits).ids


def _failure_row(session_id: str, outcome: Any) -> dict[str, Any]:
    if isinstance(outcome, ApiError):
        return {ID_COLUMN: session_id, "status": outcome.status, "code": outcome.code, "reason": outcome.message}
    return {ID_COLUMN: session_id, "status": None, "code": None, "reason": "no result"}


def _fetched(results: Mapping[str, Any], order: list[str]) -> Fetched:
    sessions = [results[i] for i in order if isinstance(results.get(i), Mapping)]
    rows = [_failure_row(i, results.get(i)) for i in order if not isinstance(results.get(i), Mapping)]
    failures = pd.DataFrame({c: [r[c] for r in rows] for c in NOT_FOUND_COLUMNS}).astype(
        {ID_COLUMN: "string[pyarrow]", "status": "Int64", "code": "string[pyarrow]", "reason": "string[pyarrow]"})
    return Fetched(sessions=sessions, failures=failures, requested=len(order))


def fetch_sessions(client: Any, ids: Iterable[str], *, progress: Callable[[int, int], Any] | None = None,
                   workers: int | None = None) -> Fetched:
    """Fetch sessions by id, concurrently, through ``client``: the sessions found and the failures.

    ``progress(done, total)`` is called as fetches finish. A session that cannot be read (not
    found, expired, refused, no answer) is a row of :attr:`Fetched.failures`. A credentials
    problem is not a per-session failure: if any fetch was refused with 401 or 403, that
    :class:`~gr4vy_nb.errors.AuthError` / ``PermissionDenied`` is raised.
    """
    order = list(dict.fromkeys(ids))
    results = client.get_checkout_sessions(order, workers=workers, progress=progress)
    for outcome in results.values():
        if isinstance(outcome, AuthError | PermissionDenied):
            raise outcome
    return _fetched(results, order)


def export_sessions(ids: Iterable[str], client: Any, out_dir: str | os.PathLike[str],
                    progress: Callable[[int, int], Any] | None = None, *, format: str = "csv") -> ExportResult:
    """Fetch the sessions (:func:`fetch_sessions`) and write the export into ``out_dir``.

    ``format``: ``"csv"`` (the four CSV files) or ``"xlsx"`` (one workbook, ``export.xlsx``).
    Sessions that fail are listed in ``not_found.csv`` and ``result.failures``; a credentials
    problem raises before anything is written.
    """
    _check_format(format)
    return _write(fetch_sessions(client, ids, progress=progress), out_dir, format)


def write_export(results: Mapping[str, Any], out_dir: str | os.PathLike[str],
                 order: Iterable[str] | None = None, *, format: str = "csv") -> ExportResult:
    """Write the export files from fetch results ``{id: session dict or ApiError}`` (in ``order``)."""
    _check_format(format)
    return _write(_fetched(results, list(order) if order is not None else list(results)), out_dir, format)


def _check_format(format: str) -> None:
    if format not in ("csv", "xlsx"):
        raise ValueError(f"format must be 'csv' or 'xlsx', not {format!r}")


def long_values(frames: SessionFrames, *, file_of: Callable[[str], str] | None = None) -> pd.DataFrame:
    """A warning for each cell longer than a spreadsheet cell holds (32,767 characters), naming the cell."""
    found = Problems(mask=mask_value)
    for table, df in frames.tables().items():
        for column in df.columns:
            text, _free = format_column(df[column])
            if not len(text):
                continue
            lengths = pc.fill_null(pc.utf8_length(text), 0).to_numpy(zero_copy_only=False)
            for r in np.flatnonzero(lengths > CELL_LIMIT).tolist():
                sid = df[ID_COLUMN].iloc[r] if ID_COLUMN in df else None
                found.add(Rule.CELL_TOO_LONG, f"this value is {int(lengths[r]):,} characters long: a spreadsheet cell "
                          f"holds {CELL_LIMIT:,}, so opening and saving this file in one cuts it (the cut value "
                          "then keeps the current one: a change to it is lost); edit this file in a text editor, or "
                          "leave this column out of the upload",
                          file=file_of(table) if file_of else f"{table}.csv", line=r + 2, column=str(column),
                          severity=Severity.WARNING, session_id=str(sid) if sid is not None else None)
    return found.frame()


def _write(fetched: Fetched, out_dir: str | os.PathLike[str], format: str = "csv") -> ExportResult:
    frames = fetched.frames
    out = Path(out_dir)
    if format == "xlsx":
        out.mkdir(parents=True, exist_ok=True)
        book = out / "export.xlsx"
        write_workbook(with_versions(frames.tables()), book)
        files = {"workbook": book}
        warnings = long_values(frames, file_of=lambda t: f"export.xlsx:{t}")
    else:
        out.mkdir(parents=True, exist_ok=True)
        files = {}
        for table, df in with_versions(frames.tables()).items():  # each row ends with its row_version
            files[table] = out / f"{table}.csv"
            write_table(df, files[table])
        warnings = long_values(frames)
    files["not_found"] = out / "not_found.csv"
    write_table(fetched.failures, files["not_found"])
    return ExportResult(out_dir=out, files=files, requested=fetched.requested, frames=frames,
                        failures=fetched.failures, warnings=warnings)

