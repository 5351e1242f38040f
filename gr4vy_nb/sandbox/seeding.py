"""Seed data for the sandbox: parsing JSONL or a JSON list of sessions and validating them.

Seeds are validated against the OpenAPI document's response schema ``CheckoutSession``
(:mod:`~gr4vy_nb.sandbox.document`), not the toolkit's models, so what is seeded is what a
GET returns.  Top-level keys the document does not know are dropped; unknown nested keys
are an error (``additionalProperties: false``).  In ``--newer-api`` mode (``newer_api``)
the schema is relaxed: unknown keys at any depth (top level, cart item, leg, passenger,
buyer, billing and shipping details, address, tax id ...) are kept, stored and returned,
while the known fields are still validated.

**Expiry.**  A seeded session keeps its ``id`` (lower-cased, as the API returns UUIDs) and
its ``expires_at`` text exactly as given, even far in the future or in the past (a past one
answers 404 like an expired session): this holds for every *explicit* seed (``--seed
FILE``, ``start_sandbox(seed=path)``, :meth:`Sandbox.seed`, ``POST /_sandbox/seed``).  The
*default* seed, the package's ``sample_sessions.jsonl`` (whose ``expires_at`` are in 2099),
gets real lifetimes instead (:func:`with_real_lifetimes`): each session expires between
15 minutes and 24 hours after it is seeded (the sandbox's start, or a ``reset`` with
reseed), a session holding a ``payment_method`` within the hour (and still at least 15
minutes), at a point fixed by its id, so every run sees the same spread.  Explicit seeds opt
in with ``real_lifetimes`` (``--real-lifetimes``, ``start_sandbox(real_lifetimes=True)``,
``Sandbox.seed(..., real_lifetimes=True)``, ``POST /_sandbox/seed?real_lifetimes=true``).

The default seed is package data, so an installed wheel has it too; were it missing,
nothing would be seeded and the health endpoint would say so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from .._data import sample_sessions_path
from ..errors import ConfigError
from .document import contract, format_instant, parse_instant, stable_fraction

__all__ = [
    "DEFAULT_SEED",
    "REAL_LIFETIME_RANGE",
    "SeedError",
    "default_seed_path",
    "load_seed_file",
    "parse_seed",
    "resolve_seed",
    "with_real_lifetimes",
]

REAL_LIFETIME_RANGE = (15 * 60, 24 * 3600)
"""Seconds after seeding within which a re-based session expires (one holding a card: within the hour)."""
_CARD_LIFETIME_MAX = 3600


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


def parse_seed(data: bytes | str | list[Any], *, newer_api: bool = False) -> list[dict[str, Any]]:
    """Validate seed sessions given as a JSON list, JSONL text, or a list of dicts.

    Returns records ready for :meth:`SessionStore.seed` (``id``, ``expires_at``,
    ``expires_ts`` and the stored fields).  Raises :class:`SeedError` naming every bad
    session (``/index/field`` pointers; JSONL line numbers in the message).  With
    ``newer_api`` unknown fields are kept at any depth (see the module docstring).
    """
    rules = contract(newer_api)
    known_names = frozenset(rules.response_fields)
    items = _items(data)
    records: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            details.append({"location": "body", "pointer": f"/{index}", "message": "a session must be a JSON object",
                            "type": "model_type"})
            continue
        session = item if newer_api else {k: v for k, v in item.items() if k in known_names}
        problems = rules.session_problems(session)
        if problems:
            details.extend({**d, "pointer": f"/{index}{d['pointer']}"} for d in problems)
            continue
        record = {k: v for k, v in session.items() if k not in ("type", "id", "expires_at")}
        record["id"] = session["id"].lower()
        record["expires_at"] = session["expires_at"]
        record["expires_ts"] = parse_instant(session["expires_at"])
        records.append(record)
    if details:
        bad = sorted({int(d["pointer"].split("/")[1]) for d in details})
        shown = ", ".join(str(i + 1) for i in bad[:10]) + (" ..." if len(bad) > 10 else "")
        raise SeedError(f"{len(bad)} seed session(s) are invalid (session number {shown}, counting from 1)", details)
    return records


def with_real_lifetimes(records: list[dict[str, Any]], now: float) -> list[dict[str, Any]]:
    """Copies of ``records`` whose expiry is re-based on ``now`` as real sessions' is.

    Each expires 15 minutes to 24 hours after ``now`` (one holding a ``payment_method``:
    15 to 60 minutes), at a point of that range fixed by its id (a SHA-256 of it), to the
    whole second after ``now``.
    """
    low, high = REAL_LIFETIME_RANGE
    out = []
    for record in records:
        top = _CARD_LIFETIME_MAX if record.get("payment_method") else high
        ts = round((now + low + int(stable_fraction(record["id"]) * (top - low))) * 1000) / 1000
        out.append({**record, "expires_at": format_instant(ts), "expires_ts": ts})
    return out


def load_seed_file(path: str | Path, *, newer_api: bool = False) -> list[dict[str, Any]]:
    """Read and validate a JSONL (or JSON list) file of sessions; see :func:`parse_seed`."""
    return parse_seed(Path(path).read_bytes(), newer_api=newer_api)


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


def resolve_seed(seed: Any, *, newer_api: bool = False) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Load the seed named by ``seed``: :data:`DEFAULT_SEED`, a path, or ``None`` (no seed).

    Returns the validated records (``expires_at`` as in the file: the caller re-bases them,
    see :func:`with_real_lifetimes`) and a description for the health endpoint
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
        records = load_seed_file(path, newer_api=newer_api)
    except SeedError as exc:
        first = "; ".join(f"{d['pointer']}: {d['message']}" for d in exc.details[:3])
        where = f" ({first})" if first else ""
        raise ConfigError(f"the seed file {path} is invalid: {exc.message}{where}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read the seed file {path}: {exc.strerror}") from None
    return records, {"source": str(path), "loaded": len(records), "note": "ok"}
