"""Where report data comes from: a folder of the four CSVs, a JSONL export, or a file of ids to fetch."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..problems import errors

__all__ = ["load_frames"]


def _looks_like_jsonl(path: Path) -> bool:
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        return True
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"{")


def load_frames(source: str | os.PathLike[str], client: Any = None) -> tuple[Any, list[str]]:
    """Session frames from a folder of CSVs, a JSONL export or a file of ids; and notes for the report.

    A folder is read as :meth:`SessionFrames.read_csv` reads it, except that cells breaking
    a rule do not refuse the files: an upload refuses them, but a report is where a user finds
    out what is wrong with them, so they are left empty, listed in ``frames.warnings``
    (personal values masked, in the message too) and shown under Data quality. A file that
    cannot be read at all (encoding, quoting, size) still raises
    :class:`~gr4vy_nb.errors.InputError`. A ``.jsonl``/``.ndjson``/``.json`` file, or any file
    starting with ``{``, is one session per line; anything else is a list of ids
    (:func:`gr4vy_nb.tables.idlists.read_id_list`) fetched with ``client`` (built from the environment
    when ``None``). Ids that cannot be fetched are named in the notes; if none can,
    :class:`~gr4vy_nb.errors.InputError` is raised.
    """
    from ..tables.frames import SessionFrames, flatten_sessions

    src = Path(source)
    if src.is_dir():
        frames = SessionFrames.read_csv(src, errors="collect")
        broken = len(errors(frames.warnings))
        return frames, ([f"{broken:,} cells of the CSV files break the rules and are left empty in this report; "
                         "they are listed under Data quality."] if broken else [])
    if not src.is_file():
        raise InputError(f"{src}: no such file or folder (expected a folder of CSVs, a JSONL export or a file of ids)")
    if _looks_like_jsonl(src):
        try:
            return flatten_sessions(src), []
        except ValueError as exc:  # a line that is not a JSON object; the message names it
            raise InputError(f"{src}: {exc}") from None
    return _fetch(src, client)


def _fetch(src: Path, client: Any) -> tuple[Any, list[str]]:
    from ..export import fetch_sessions
    from ..tables.idlists import read_id_list

    listed = read_id_list(src)
    ids = listed.ids
    own = client is None
    if own:
        from ..api.client import Gr4vyClient
        from ..config import Settings

        client = Gr4vyClient(Settings.from_env().require())
    try:
        fetched = fetch_sessions(client, ids)
    finally:
        if own:
            client.close()
    failed = fetched.failures
    if not fetched.sessions:
        first = f" (first error: {failed['reason'].iloc[0]})" if len(failed) else ""
        raise InputError(f"none of the {len(ids):,} sessions listed in {src} could be fetched{first}")
    notes = listed.describe()  # what reading the list forgave (spaces trimmed, ids listed twice), with lines
    if len(failed):
        listed = failed["checkout_session_id"].tolist()
        shown = ", ".join(listed[:10]) + (" …" if len(listed) > 10 else "")
        notes.append(f"{len(failed):,} of {fetched.requested:,} ids could not be fetched (not found, expired or an "
                     f"error): {shown}")
    return fetched.frames, notes
