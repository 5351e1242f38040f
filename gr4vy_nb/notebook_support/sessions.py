"""Sessions for notebooks: session ids, JSONL exports, and fetching sessions by id into frames."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from .._data import sample_session_ids
from ..api.client import Gr4vyClient
from ..errors import InputError
from ..ids import parse_session_ids
from ..tables.idlists import read_id_list

__all__ = ["fetch_frames", "parse_session_ids", "read_id_list", "read_sessions_jsonl", "sample_session_ids"]


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
