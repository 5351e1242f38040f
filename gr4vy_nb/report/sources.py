"""Where report data comes from: a folder of the four CSVs, a JSONL export, or a file of ids to fetch."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError

__all__ = ["load_frames"]


def _looks_like_jsonl(path: Path) -> bool:
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        return True
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{")


def load_frames(source: str | os.PathLike[str], client: Any = None) -> tuple[Any, list[str]]:
    """Session frames from a folder of CSVs, a JSONL export or a file of ids; and notes for the report.

    A folder is read with :meth:`SessionFrames.read_csv`; a ``.jsonl``/``.ndjson``/``.json``
    file, or any file starting with ``{``, is one session per line; anything else is a list
    of ids (:func:`gr4vy_nb.export.read_ids`) fetched with ``client`` (built from the
    environment when ``None``). Ids that cannot be fetched are named in the notes; if none
    can, :class:`~gr4vy_nb.errors.InputError` is raised.
    """
    from ..tables.frames import flatten_sessions

    src = Path(source)
    if src.is_dir():
        return _read_csv_folder(src)
    if not src.is_file():
        raise InputError(f"{src}: no such file or folder (expected a folder of CSVs, a JSONL export or a file of ids)")
    if _looks_like_jsonl(src):
        try:
            return flatten_sessions(src), []
        except ValueError as exc:  # a line that is not a JSON object; the message names it
            raise InputError(f"{src}: {exc}") from None
    from ..export import read_ids

    ids = list(read_ids(src))
    if not ids:
        raise InputError(f"{src}: no session ids found")
    own = client is None
    if own:
        from ..api.client import Gr4vyClient
        from ..config import Settings

        client = Gr4vyClient(Settings.from_env().require())
    try:
        fetched = client.get_checkout_sessions(ids)
    finally:
        if own:
            client.close()
    sessions = [v for v in fetched.values() if isinstance(v, dict)]
    failed = {k: v for k, v in fetched.items() if not isinstance(v, dict)}
    if not sessions:
        first = next(iter(failed.values()), None)
        raise InputError(f"none of the {len(ids):,} sessions listed in {src} could be fetched"
                         + (f" (first error: {first})" if first is not None else ""))
    notes = []
    if failed:
        shown = ", ".join(list(failed)[:10]) + (" …" if len(failed) > 10 else "")
        notes.append(f"{len(failed):,} of {len(fetched):,} ids could not be fetched (not found, expired or an "
                     f"error): {shown}")
    return flatten_sessions(sessions), notes


def _read_csv_folder(folder: Path) -> tuple[Any, list[str]]:
    """The four CSVs of ``folder``; cells that break the rules are left empty and listed, not fatal.

    An upload refuses such files, but a report is where a user finds out what is wrong with
    them: the problems go to ``frames.warnings`` (personal values masked, in the message
    too) and to the report's data-quality section. A file that cannot be read at all
    (encoding, quoting, size) still raises :class:`~gr4vy_nb.errors.InputError`.
    """
    from ..tables import spec as fields
    from ..tables.cells import parse_cells
    from ..tables.files import read_table
    from ..tables.frames import SessionFrames

    try:
        return SessionFrames.read_csv(folder), []
    except InputError as exc:
        if exc.problems is None or not len(exc.problems):
            raise
    files = {p.name.lower(): p for p in folder.iterdir() if p.is_file()}
    tables, problems = {}, []
    for table in fields.TABLES:
        path = files.get(f"{table}.csv")
        if path is not None:
            text = read_table(path)
            # Unmasked here so the value can be masked in the message as well (see _mask_problems).
            parsed = parse_cells(table, text.frame, file=path.name, mask=False)
            tables[table] = parsed.frame.reset_index(drop=True)
            problems += [_mask_problems(table, text.warnings), _mask_problems(table, parsed.problems)]
    frames = SessionFrames(**tables)
    frames.warnings = pd.concat([p for p in problems if len(p)], ignore_index=True)
    errors = int((frames.warnings["severity"] == "error").sum())
    return frames, [f"{errors:,} cells of the CSV files break the rules and are left empty in this report; "
                    "they are listed under Data quality."]


def _mask_problems(table: str, problems: pd.DataFrame) -> pd.DataFrame:
    """Problems with personal values masked, in ``value`` and wherever ``message`` quotes them."""
    from ..tables.masking import mask_value

    out = problems.copy()
    for i, column, value, message in zip(out.index, out["column"], out["value"], out["message"], strict=True):
        if pd.isna(column) or pd.isna(value):
            continue
        masked = mask_value(str(column), value, table)
        if masked != value:
            out.at[i, "value"] = masked
            if not pd.isna(message):
                # Messages quote the value with repr(): escaped characters differ from the raw text.
                text = str(message).replace(repr(str(value))[1:-1], str(masked))
                out.at[i, "message"] = text.replace(str(value), str(masked))
    return out
