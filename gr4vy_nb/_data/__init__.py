"""Data the package needs at run time, shipped inside it and found with :mod:`importlib.resources`.

* ``sample_sessions.jsonl``: 200 fictitious checkout sessions, the sandbox's default seed;
* ``examples/``: example update folders for ``make demo`` and the notebooks;
* ``openapi/checkout-sessions.openapi.json``: the checkout-session part of Gr4vy's OpenAPI
  document, byte for byte as published (never edited: a test compares it with the reference);
* ``openapi/overlay.json``: the few properties the official SDK knows beyond that document,
  each naming its source.  :func:`api_document` is the document with the overlay applied: the
  yardstick of the models (the drift test) and of the sandbox (its validator).

The repository's ``data/`` folder links to these files (and holds the scripts that make
them), so each exists once; an installed wheel carries them, so nothing looks outside the
package for them.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import orjson

__all__ = [
    "api_document",
    "examples_dir",
    "openapi_path",
    "overlay_entries",
    "overlay_path",
    "resource",
    "sample_session_ids",
    "sample_sessions_path",
]


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


def openapi_path() -> Path:
    """The vendored OpenAPI document, unmodified."""
    return resource("openapi/checkout-sessions.openapi.json")


def overlay_path() -> Path:
    """The overlay: properties the official SDK knows beyond the document, each with its source."""
    return resource("openapi/overlay.json")


def overlay_entries() -> list[dict[str, Any]]:
    """The overlay's entries: ``{schema, property, definition, source}`` each."""
    return list(json.loads(overlay_path().read_text(encoding="utf-8"))["entries"])


@cache
def _api_document() -> dict[str, Any]:
    document = json.loads(openapi_path().read_text(encoding="utf-8"))
    schemas = document["components"]["schemas"]
    for entry in overlay_entries():
        target = schemas[entry["schema"]]["properties"]
        if entry["property"] in target:
            raise ValueError(f"overlay entry {entry['schema']}.{entry['property']} would change a property the "
                             "document already has; remove it from overlay.json")
        target[entry["property"]] = entry["definition"]
    return document


def api_document() -> dict[str, Any]:
    """The OpenAPI document with the overlay's properties added (a fresh copy each call)."""
    return copy.deepcopy(_api_document())
