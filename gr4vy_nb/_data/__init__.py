"""Data the package needs at run time, shipped inside it and found with :mod:`importlib.resources`.

* ``sample_sessions.jsonl``: 200 fictitious checkout sessions, the sandbox's default seed;
* ``examples/``: example update folders for ``make demo`` and the notebooks.

The repository's ``data/`` folder links to these files (and holds the scripts that make
them), so each exists once; an installed wheel carries them, so nothing looks outside the
package for them.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import orjson

__all__ = ["examples_dir", "resource", "sample_session_ids", "sample_sessions_path"]


def resource(name: str) -> Path:
    """Where the file or folder ``name`` of the package data is on disk (it may be missing from a broken install)."""
    return Path(str(files(__name__).joinpath(name)))


def sample_sessions_path() -> Path:
    """``sample_sessions.jsonl``: the sample sessions the sandbox is seeded with by default."""
    return resource("sample_sessions.jsonl")


def examples_dir() -> Path:
    """``examples/``: the example update folders (``01_metadata_tag``, ``02_tax_fix``, ...)."""
    return resource("examples")


def sample_session_ids(n: int | None = None) -> list[str]:
    """Ids of the sample sessions (the first ``n``), in file order: what the embedded sandbox serves."""
    ids = [str(orjson.loads(line)["id"]).lower()
           for line in sample_sessions_path().read_bytes().splitlines() if line.strip()]
    return ids if n is None else ids[:n]
