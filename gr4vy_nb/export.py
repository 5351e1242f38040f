"""Exporting sessions by id into the four CSV files: the engine of ``gr4vy-nb export IDS --out DIR``.

::

    >>> ids = read_ids("ids.txt")                    # or a CSV with a checkout_session_id column
    >>> result = export_sessions(ids, client, "export/", progress=bar)
    >>> result
    ExportResult(200 requested, 198 exported, 2 failed -> export/)

``DIR`` receives ``sessions.csv``, ``cart_items.csv``, ``legs.csv``, ``passengers.csv`` and
``not_found.csv`` (``checkout_session_id, status, code, reason`` for each id that could not
be fetched: not found or expired, refused, or no answer after the client's retries).
``not_found.csv`` is always written, with just its header when nothing failed, so a stale one
from an earlier export can never be mistaken for this one's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import ApiError, AuthError, InputError, PermissionDenied
from .schema import UUID_PATTERN
from .tables import spec as F
from .tables.files import DEFAULT_LIMITS, Limits, problems_frame, read_table, read_text, write_table
from .tables.frames import SessionFrames, flatten_sessions

__all__ = ["NOT_FOUND_COLUMNS", "ExportResult", "export_sessions", "read_ids", "write_export"]

NOT_FOUND_COLUMNS = (F.KEY, "status", "code", "reason")
_UUID = re.compile(UUID_PATTERN)


@dataclass(frozen=True)
class ExportResult:
    """What an export did: the files written, the frames, and the ids that failed (``failures``)."""

    out_dir: Path
    files: dict[str, Path]
    requested: int
    frames: SessionFrames
    failures: pd.DataFrame

    @property
    def exported(self) -> int:
        return len(self.frames)

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def exit_code(self) -> int:
        """0 when every id was exported, 1 when some failed (DESIGN.md's exit codes)."""
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
    """Session ids from a file, in order, duplicates dropped.

    The file is either text with one id per line (blank lines and lines starting with ``#``
    ignored; a first line ``checkout_session_id`` is taken as a header), or a CSV file with a
    ``checkout_session_id`` column (other columns ignored, e.g. an earlier export's
    ``sessions.csv`` or ``errors.csv``).  Raises :class:`~gr4vy_nb.errors.InputError` naming
    file, line and value for anything that is not a UUID, and for a CSV without that column
    or a file with no ids at all.
    """
    text, label = read_text(path, encoding=encoding, limits=limits)
    first = next((line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")), "")
    candidates: list[tuple[int, str]]
    column = None
    if any(d in first for d in ",;\t") or first.strip() == F.KEY:
        table = read_table(path, encoding=encoding, limits=limits)
        if F.KEY not in table.frame.columns:
            shown = ", ".join(repr(str(c)) for c in table.frame.columns[:8])
            raise InputError(f"{label}: no {F.KEY} column (the columns are {shown})",
                             problems_frame([{"file": label, "line": 1, "column": F.KEY, "rule": "required",
                                              "message": f"no {F.KEY} column", "severity": "error"}]))
        values = table.frame[F.KEY]
        column = F.KEY
        candidates = [(int(line), str(v)) for line, v in zip(table.lines, values.tolist(), strict=True)
                      if v is not pd.NA and v is not None]
    else:
        candidates = [(number, line.strip()) for number, line in enumerate(text.splitlines(), start=1)
                      if line.strip() and not line.lstrip().startswith("#")]
    problems = [{"file": label, "line": line, "column": column, "value": value, "rule": "uuid",
                 "message": f"{value!r} is not a checkout session id (a UUID such as "
                            "4d645fa6-d13c-413a-82f8-eda197b1165f)", "severity": "error"}
                for line, value in candidates if not _UUID.match(value.strip())]
    if problems:
        more = f" ({len(problems) - 1} more in .problems)" if len(problems) > 1 else ""
        raise InputError(f"{label}, line {problems[0]['line']}: {problems[0]['message']}{more}",
                         problems_frame(problems))
    ids = list(dict.fromkeys(value.strip() for _line, value in candidates))
    if not ids:
        raise InputError(f"{label}: no session ids in this file",
                         problems_frame([{"file": label, "rule": "empty", "message": "no session ids",
                                          "severity": "error"}]))
    return ids


def export_sessions(ids: Iterable[str], client: Any, out_dir: str | os.PathLike[str],
                    progress: Callable[[int, int], Any] | None = None) -> ExportResult:
    """Fetch the sessions concurrently through ``client`` and write the export into ``out_dir``.

    ``progress(done, total)`` is called as fetches finish.  Sessions that fail (not found,
    expired, refused, no answer) are listed in ``not_found.csv`` and ``result.failures``.  A
    credentials problem is not a per-session failure: if any fetch was refused with 401 or
    403, that :class:`~gr4vy_nb.errors.AuthError`/``PermissionDenied`` is raised and nothing
    is written.
    """
    order = list(dict.fromkeys(ids))
    results = client.get_checkout_sessions(order, progress=progress)
    for outcome in results.values():
        if isinstance(outcome, AuthError | PermissionDenied):
            raise outcome
    return write_export(results, out_dir, order)


def write_export(results: Mapping[str, Any], out_dir: str | os.PathLike[str],
                 order: Iterable[str] | None = None) -> ExportResult:
    """Write the export files from fetch results ``{id: session dict or ApiError}`` (in ``order``)."""
    order = list(order) if order is not None else list(results)
    sessions = [results[i] for i in order if isinstance(results.get(i), Mapping)]
    rows = []
    for session_id in order:
        outcome = results.get(session_id)
        if isinstance(outcome, Mapping):
            continue
        if isinstance(outcome, ApiError):
            rows.append({F.KEY: session_id, "status": outcome.status, "code": outcome.code,
                         "reason": outcome.message})
        else:
            rows.append({F.KEY: session_id, "status": None, "code": None, "reason": "no result"})
    failures = pd.DataFrame({c: [r[c] for r in rows] for c in NOT_FOUND_COLUMNS}).astype(
        {F.KEY: "string[pyarrow]", "status": "Int64", "code": "string[pyarrow]", "reason": "string[pyarrow]"})
    frames = flatten_sessions(sessions)
    out = Path(out_dir)
    files = frames.to_csv(out)
    files["not_found"] = out / "not_found.csv"
    write_table(failures, files["not_found"])
    return ExportResult(out_dir=out, files=files, requested=len(order), frames=frames, failures=failures)
