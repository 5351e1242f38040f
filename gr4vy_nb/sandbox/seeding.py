"""Seed data for the sandbox: parsing JSONL or a JSON list of sessions and validating them.

A seeded session keeps its ``id`` (lower-cased, as the API returns UUIDs) and its
``expires_at`` text exactly as given, even far in the future or in the past (a past one
answers 404 like an expired session).  Top-level keys the API does not document are
dropped; everything else is validated strictly against :class:`~gr4vy_nb.schema.CheckoutSession`
(unknown nested keys are an error), so what is seeded is what a GET returns.

The default seed is the package's ``sample_sessions.jsonl`` (package data, so an
installed wheel has it too); were it missing, nothing would be seeded and the health
endpoint would say so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from .._data import sample_sessions_path
from ..errors import ConfigError
from ..pointers import encode
from ..schema import CheckoutSession
from .store import RESPONSE_FIELDS

__all__ = [
    "DEFAULT_SEED",
    "SeedError",
    "default_seed_path",
    "error_details",
    "load_seed_file",
    "parse_seed",
    "resolve_seed",
]

_KNOWN = frozenset(RESPONSE_FIELDS)


class _DefaultSeed:
    """Sentinel type of :data:`DEFAULT_SEED`."""

    def __repr__(self) -> str:
        return "DEFAULT_SEED"


DEFAULT_SEED: Any = _DefaultSeed()
"""Seed from the package's ``sample_sessions.jsonl`` (see :func:`default_seed_path`)."""


class SeedError(ValueError):
    """Seed data that cannot be used; ``details`` locate each problem (Gr4vy ``details`` entries)."""

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = list(details or [])


def default_seed_path() -> Path:
    """The package's ``sample_sessions.jsonl`` (missing only from a broken install)."""
    return sample_sessions_path()


def error_details(exc: ValidationError, prefix: tuple[Any, ...] = (), location: str = "body") -> list[dict[str, Any]]:
    """Gr4vy error ``details`` for a pydantic error: pointer, message and type per bad field.

    Inputs are never echoed (they may hold personal data).
    """
    details = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        message = err["msg"]
        if not err["loc"] and err["type"] == "model_type":
            message = "the body must be a JSON object"
        details.append({"location": location, "pointer": encode((*prefix, *err["loc"])), "message": message,
                        "type": err["type"]})
    return details


def parse_seed(data: bytes | str | list[Any]) -> list[dict[str, Any]]:
    """Validate seed sessions given as a JSON list, JSONL text, or a list of dicts.

    Returns records ready for :meth:`SessionStore.seed`.  Raises :class:`SeedError`
    naming every bad session (``/index/field`` pointers; JSONL line numbers in the message).
    """
    items = _items(data)
    records: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            details.append({"location": "body", "pointer": f"/{index}", "message": "a session must be a JSON object",
                            "type": "model_type"})
            continue
        known = {k: v for k, v in item.items() if k in _KNOWN}
        try:
            model = CheckoutSession.model_validate(known, context={"lenient": False})
        except ValidationError as exc:
            details.extend(error_details(exc, prefix=(index,)))
            continue
        record = {k: v for k, v in known.items() if k not in ("type", "id", "expires_at")}
        record["id"] = model.id.lower()
        given = known["expires_at"]
        record["expires_at"] = given if isinstance(given, str) else model.expires_at.isoformat()
        record["expires_ts"] = model.expires_at.timestamp()
        records.append(record)
    if details:
        bad = sorted({int(d["pointer"].split("/")[1]) for d in details})
        shown = ", ".join(str(i + 1) for i in bad[:10]) + (" ..." if len(bad) > 10 else "")
        raise SeedError(f"{len(bad)} seed session(s) are invalid (session number {shown}, counting from 1)", details)
    return records


def load_seed_file(path: str | Path) -> list[dict[str, Any]]:
    """Read and validate a JSONL (or JSON list) file of sessions; see :func:`parse_seed`."""
    return parse_seed(Path(path).read_bytes())


def _items(data: bytes | str | list[Any]) -> list[Any]:
    if isinstance(data, list):
        return data
    raw = data.encode("utf-8") if isinstance(data, str) else data
    raw = raw.removeprefix(b"\xef\xbb\xbf")
    stripped = raw.strip()
    if not stripped:
        return []
    if stripped.startswith(b"["):
        try:
            parsed = orjson.loads(stripped)
        except orjson.JSONDecodeError as exc:
            raise SeedError(f"the seed is not valid JSON ({exc})") from None
        return parsed if isinstance(parsed, list) else [parsed]
    items = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise SeedError(f"seed line {number} is not valid JSON ({exc})") from None
    return items


def resolve_seed(seed: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Load the seed named by ``seed``: :data:`DEFAULT_SEED`, a path, or ``None`` (no seed).

    Returns the validated records and a description for the health endpoint
    (``source``, ``loaded``, ``note``).  Raises :class:`~gr4vy_nb.errors.ConfigError` for a
    named file that is missing or invalid; a missing *default* file only seeds nothing.
    """
    if seed is None:
        return [], {"source": None, "loaded": 0, "note": "seeding disabled"}
    if seed is DEFAULT_SEED:
        path = default_seed_path()
        if not path.is_file():
            return [], {"source": str(path), "loaded": 0,
                        "note": "the default seed file is missing (a broken install?); nothing seeded"}
    else:
        path = Path(seed)
        if not path.is_file():
            raise ConfigError(f"the seed file {path} does not exist")
    try:
        records = load_seed_file(path)
    except SeedError as exc:
        first = "; ".join(f"{d['pointer']}: {d['message']}" for d in exc.details[:3])
        where = f" ({first})" if first else ""
        raise ConfigError(f"the seed file {path} is invalid: {exc.message}{where}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the seed file {path}: {exc.strerror}") from None
    return records, {"source": str(path), "loaded": len(records), "note": "ok"}
