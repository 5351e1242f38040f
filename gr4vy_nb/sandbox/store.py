"""The sandbox's session store: one SQLite file, one row per (merchant account, session).

A row keeps the session's ``id``, its ``expires_at`` exactly as it was written (seeded
sessions keep the text they were given, or the re-based one, see
:mod:`~gr4vy_nb.sandbox.seeding`; created and updated ones get
``YYYY-MM-DDTHH:MM:SS.mmm+00:00``), the same instant as a Unix time for the expiry check,
and a JSON document of the session's stored fields.  Stored values are kept verbatim as
the client sent them (after validation): what a client PUTs is what it GETs back.  The
store keeps every field it is given (in ``--newer-api`` mode that includes fields the
document does not know) except the document's update-only fields (``expires_in``,
``country``, ...), which are not session fields; the response is shaped from the document
by :func:`session_response`.

Every method takes the store's lock and runs in one SQLite transaction, so a write is
atomic and concurrent callers (threads) never see half of one.  The file is opened in WAL
mode with ``synchronous=NORMAL``: durable enough for an emulator, and a commit costs no
``fsync``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

from .document import contract, format_instant

__all__ = [
    "RESPONSE_FIELDS",
    "STORED_FIELDS",
    "SessionStore",
    "expires_ts_after",
    "format_expires_at",
    "session_response",
]

#: Top-level fields of a session response (``CheckoutSession``'s properties: ``type``, ``id``,
#: ``expires_at`` first, then the document's order).  Every one is present in every response;
#: a field with no value is ``null`` (as the real API does).
RESPONSE_FIELDS: tuple[str, ...] = contract().response_fields
#: The documented fields kept in a row's JSON document: the writable ones and the read-only card.
STORED_FIELDS: frozenset[str] = frozenset(contract().stored_fields)
#: Fields an update may send that a session does not have: never stored.
_NOT_STORED: frozenset[str] = contract().update_only_fields | frozenset(("type", "id", "expires_at", "expires_ts"))
#: Stored fields an update cannot send (the card): a replacing update keeps them.
_KEPT_ON_REPLACE: frozenset[str] = contract().read_only_fields & STORED_FIELDS

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    merchant   TEXT NOT NULL,
    id         TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    expires_ts REAL NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (merchant, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_by_id ON sessions (id);
"""


def format_expires_at(ts: float) -> str:
    """RFC 3339 text, UTC, millisecond precision, for a Unix time (rounded to the millisecond)."""
    return format_instant(ts)


def expires_ts_after(now: float, expires_in: float) -> float:
    """The expiry instant ``expires_in`` seconds after ``now``, at the millisecond the text shows."""
    return round((now + expires_in) * 1000) / 1000


def session_response(record: Mapping[str, Any], *, newer_api: bool = False) -> dict[str, Any]:
    """The response body of a stored session, shaped by the document's ``CheckoutSession``.

    Exactly the documented fields, ``null`` when unset (see :class:`~gr4vy_nb.sandbox.document.Contract`);
    with ``newer_api`` the stored fields the document does not know come back too, at every depth.
    """
    return contract(newer_api).session_body(record["id"], record["expires_at"], record["doc"])


class SessionStore:
    """Checkout sessions in a SQLite file, scoped by merchant account.

    ``now`` arguments are Unix times (``time.time()``); a session whose ``expires_ts`` is
    not after ``now`` is treated as absent by every read and write.  Records are dicts
    ``{"id", "expires_at", "expires_ts", "doc"}``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the server's threads; the lock serialises it.
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # ------------------------------------------------------------------ reads

    def get(self, merchant: str, session_id: str, now: float) -> dict[str, Any] | None:
        """The live session, or ``None`` when unknown, expired or another merchant's."""
        with self._lock:
            row = self._conn.execute(
                "SELECT expires_at, expires_ts, doc FROM sessions WHERE merchant = ? AND id = ?",
                (merchant, session_id),
            ).fetchone()
        if row is None or row[1] <= now:
            return None
        return {"id": session_id, "expires_at": row[0], "expires_ts": row[1], "doc": orjson.loads(row[2])}

    def count(self, now: float) -> int:
        """Live sessions, all merchants."""
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM sessions WHERE expires_ts > ?", (now,)).fetchone()[0]

    # ------------------------------------------------------------------ writes

    def create(self, merchant: str, fields: Mapping[str, Any], expires_ts: float) -> dict[str, Any]:
        """Store a new session with a fresh UUID; ``fields`` are the validated body (nulls and update-only dropped)."""
        doc = {k: v for k, v in fields.items() if v is not None and k not in _NOT_STORED}
        record = {"id": str(uuid.uuid4()), "expires_at": format_expires_at(expires_ts),
                  "expires_ts": expires_ts, "doc": doc}
        with self._lock:
            self._conn.execute(
                "INSERT INTO sessions (merchant, id, expires_at, expires_ts, doc) VALUES (?, ?, ?, ?, ?)",
                (merchant, record["id"], record["expires_at"], expires_ts, orjson.dumps(doc).decode()),
            )
        return record

    def update(self, merchant: str, session_id: str, fields: Mapping[str, Any], expires_ts: float | None,
               now: float, *, replace: bool = False) -> dict[str, Any] | None:
        """Apply an update atomically: fields present replace (``None`` clears), absent ones are kept.

        With ``replace`` the body is the session's whole writable state: absent writable fields
        are cleared too (the read-only card is kept). ``expires_ts`` ``None`` keeps the expiry.
        Returns the new record, or ``None`` (nothing written) when the session is not live.
        """
        with self._transaction() as conn:
            row = conn.execute(
                "SELECT expires_ts, doc, expires_at FROM sessions WHERE merchant = ? AND id = ?",
                (merchant, session_id),
            ).fetchone()
            if row is None or row[0] <= now:
                return None  # the transaction ends having written nothing
            doc = orjson.loads(row[1])
            if replace:
                doc = {k: v for k, v in doc.items() if k in _KEPT_ON_REPLACE}
            for name, value in fields.items():
                if name in _NOT_STORED:
                    continue
                if value is None:
                    doc.pop(name, None)
                else:
                    doc[name] = value
            if expires_ts is None:
                expires_ts, expires_at = row[0], row[2]
            else:
                expires_at = format_expires_at(expires_ts)
            conn.execute(
                "UPDATE sessions SET expires_at = ?, expires_ts = ?, doc = ? WHERE merchant = ? AND id = ?",
                (expires_at, expires_ts, orjson.dumps(doc).decode(), merchant, session_id),
            )
        return {"id": session_id, "expires_at": expires_at, "expires_ts": expires_ts, "doc": doc}

    def delete(self, merchant: str, session_id: str, now: float) -> bool:
        """Delete a live session; ``False`` (nothing written) when it is not live."""
        with self._lock:
            cur = self._conn.execute(
                "DELETE FROM sessions WHERE merchant = ? AND id = ? AND expires_ts > ?", (merchant, session_id, now)
            )
            return cur.rowcount > 0

    def expire(self, session_id: str, merchant: str | None, now: float) -> int:
        """Move a session's expiry into the past (every merchant's when ``merchant`` is None).

        Returns the number of sessions changed.
        """
        ts = now - 1.0
        text = format_expires_at(ts)
        with self._lock:
            if merchant is None:
                cur = self._conn.execute(
                    "UPDATE sessions SET expires_at = ?, expires_ts = ? WHERE id = ?", (text, ts, session_id)
                )
            else:
                cur = self._conn.execute(
                    "UPDATE sessions SET expires_at = ?, expires_ts = ? WHERE merchant = ? AND id = ?",
                    (text, ts, merchant, session_id),
                )
            return cur.rowcount

    def seed(self, merchant: str, sessions: Iterable[Mapping[str, Any]]) -> int:
        """Insert or replace sessions verbatim, in one transaction.

        Each session must already be validated and carry ``id`` (canonical lowercase UUID),
        ``expires_at`` (kept as given) and ``expires_ts``; its other keys are stored (nulls
        and update-only fields dropped).
        """
        rows = [
            (merchant, s["id"], s["expires_at"], float(s["expires_ts"]),
             orjson.dumps({k: v for k, v in s.items() if k not in _NOT_STORED and v is not None}).decode())
            for s in sessions
        ]
        with self._transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO sessions (merchant, id, expires_at, expires_ts, doc) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    def clear(self) -> None:
        """Delete every session of every merchant."""
        with self._lock:
            self._conn.execute("DELETE FROM sessions")

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection, under the lock, inside one ``BEGIN IMMEDIATE`` transaction.

        The transaction is committed when the block ends (by a ``return`` too: a block that
        wrote nothing commits nothing) and rolled back when it raises.
        """
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
