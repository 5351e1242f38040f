"""The sandbox's state: the store, the key, the counters, the fault knobs and rules, the seed;
and :class:`Problem`, the exception every handler raises to answer with Gr4vy's error body."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import orjson
from fastapi.responses import Response

from .document import error_body
from .faults import UNKNOWN_FIELD, FaultConfig, FaultQueue, RandomFaults, add_unknown_fields
from .keys import jwk_of, load_or_create_key
from .seeding import with_real_lifetimes
from .store import SessionStore, session_response
from .tokens import TokenVerifier

__all__ = ["Problem", "SandboxState", "Stats", "load_or_create_key"]  # load_or_create_key: from .keys

_JSON = "application/json"


class Problem(Exception):
    """An error answer with Gr4vy's body."""

    def __init__(self, status: int, message: str | None = None, details: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or []
        self.headers = headers or {}


class Stats:
    """Request and write counters (zeroed by a reset)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self.requests: dict[str, dict[str, int]] = {}
            self.writes: dict[str, int] = {}
            self.total = 0
            self.faults: dict[str, int] = {"scripted": 0, "rate_limited": 0, "failed": 0}

    def record(self, method: str, status: int | str) -> None:
        with self._lock:
            by_status = self.requests.setdefault(method, {})
            key = str(status)
            by_status[key] = by_status.get(key, 0) + 1
            self.total += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self.faults[kind] = self.faults.get(kind, 0) + 1

    def wrote(self, session_id: str) -> None:
        with self._lock:
            self.writes[session_id] = self.writes.get(session_id, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": {m: dict(s) for m, s in self.requests.items()},
                "writes": dict(self.writes),
                "total_requests": self.total,
                "faults": dict(self.faults),
            }


class SandboxState:
    """Everything the sandbox holds: store, key, counters, fault knobs and rules, seed."""

    def __init__(self, *, store: SessionStore, key: Any, key_file: Path, config: FaultConfig,
                 seed_records: list[dict[str, Any]], seed_info: dict[str, Any], real_lifetimes: bool = False) -> None:
        self.store = store
        self.key_file = key_file
        self.verifier = TokenVerifier(key)
        self.public_jwk = jwk_of(key)
        self.initial_config = config
        self.random = RandomFaults(config)
        self.queue = FaultQueue()
        self.stats = Stats()
        self.seed_records = seed_records
        self.seed_info = {**seed_info, "real_lifetimes": real_lifetimes}
        self.real_lifetimes = real_lifetimes
        self._seed_start()

    def _seed_start(self) -> None:
        """Seed the starting sessions; with ``real_lifetimes`` their expiry re-based on this moment."""
        if self.seed_records:
            records = with_real_lifetimes(self.seed_records, time.time()) if self.real_lifetimes else self.seed_records
            self.store.seed("default", records)

    @property
    def config(self) -> FaultConfig:
        return self.random.config

    def configure(self, config: FaultConfig) -> None:
        self.random = RandomFaults(config)

    def reset(self, *, reseed: bool) -> None:
        """Empty the store, zero the counters, drop the rules, restore the starting knobs."""
        self.store.clear()
        self.stats.clear()
        self.queue.clear()
        self.random = RandomFaults(self.initial_config)
        if reseed:
            self._seed_start()

    # ------------------------------------------------------------------ responses

    def json(self, body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(orjson.dumps(body), status_code=status, media_type=_JSON, headers=headers)

    def error(self, status: int, message: str | None = None, details: list[dict[str, Any]] | None = None,
              headers: dict[str, str] | None = None) -> Response:
        body = error_body(status, message, details)
        if self.config.unknown_fields:
            body[UNKNOWN_FIELD] = "added by the sandbox"
        return self.json(body, status, headers)

    def session(self, record: dict[str, Any], status: int = 200) -> Response:
        body = session_response(record, newer_api=self.config.newer_api)
        if self.config.unknown_fields:
            add_unknown_fields(body)
        return self.json(body, status)
