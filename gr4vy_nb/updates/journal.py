"""The run journal: one SQLite file per run, written before and after every request.

A journal holds what is needed to finish, audit or undo a run without anything else:

* ``meta``: the run's settings as JSON values: ``run_id``, ``kind`` (``apply`` or
  ``rollback``), ``created_at``, ``toolkit_version``, ``target``, ``base_url``,
  ``merchant_account_id``, ``expires_in``, ``conflict_check``, ``inputs`` (path, size and
  SHA-256 of every input file), ``parent`` (the journal a rollback undoes), ``state``
  (``running``, ``finished``, ``cancelled``, ``stopped``, ``paused``) and ``stop_reason``.
* ``sessions``: one row per session named in the upload, in plan order: its ``status``
  (``planned``, ``sending``, ``succeeded``, ``failed``, ``conflict``, ``skipped``,
  ``unprocessed``), attempts, HTTP status, error code/message/details, the response, the
  fields the server did not take as sent (``differences``) and timings;
* ``planned``: per session, what was planned (written once): the ``before`` state read when
  planning, the ``body`` to PUT, the ``desired`` value of every top-level field the body
  changes, and the ``source`` rows it came from (``[table, line]``, for ``errors.csv`` and for
  locating server errors). The view ``session_rows`` joins the two; :meth:`Journal.rows`
  reads it.
* ``uploads``: the uploaded tables as the user wrote them (cells by file line), from which
  ``errors.csv`` is cut; each session's ``source`` names its rows as ``[table, line]``.
* ``events``: every status transition with its time (for throughput and latency reports).

Durability: WAL mode with ``synchronous=FULL``; :meth:`Journal.mark` returns only once its
transition is committed, so it survives ``kill -9`` and power loss. Transitions that worker
threads submit at the same moment share one commit (group commit: one sync for all).
Exclusivity: opening a journal for writing takes an ``flock`` on ``<journal>.lock``; a second
opener (another process, or another :class:`Journal` in this one) gets :class:`RunError`.
The operating system drops the lock when the holder dies, so a killed run can be resumed.

Secrets never reach a journal: bodies and states are session data; tokens and keys are not
passed to this module at all.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from ..errors import ApiError, RunError
from .states import FINAL_STATUSES, STATUSES, RunState, SessionStatus, transient_failure

__all__ = ["Journal", "JournalRow", "Step", "journal_held"]


@dataclasses.dataclass(frozen=True)
class Step:
    """What one step of a session's run left: recorded by :meth:`Journal.mark`.

    Attributes:
        message: the outcome in words (replaces the stored one when given).
        attempts: write attempts made by this step (added to the session's total).
        http_status: the API's answer.
        error: an :class:`~gr4vy_nb.errors.ApiError` or a mapping with ``code``, ``message``, ``details``.
        response: the session as the API answered it.
        differences: fields the server did not keep as sent.
    """

    message: str | None = None
    attempts: int | None = None
    http_status: int | None = None
    error: ApiError | Mapping[str, Any] | None = None
    response: Any = None
    differences: Any = None

@dataclasses.dataclass(frozen=True, slots=True)
class JournalRow:
    """One session of a journal as :meth:`Journal.rows` reads it: its state and its plan, JSON decoded.

    A read that names only some fields (``fields=``) leaves the others ``None``.

    Attributes:
        session_id: the checkout session.
        status: its :class:`~gr4vy_nb.updates.states.SessionStatus` now.
        message: the outcome in words.
        attempts: write attempts so far.
        http_status: the API's last answer.
        error_code: the error's code (:data:`~gr4vy_nb.updates.states.OUTCOME_UNKNOWN` for a lost answer).
        error_message: the error's message.
        error_details: the error's details (pointer and message per field).
        response: the session as the API last answered it.
        differences: fields the server did not keep as sent.
        started_at: when its first request left (epoch seconds).
        finished_at: when it reached its outcome.
        before: the session as the plan read it.
        body: what is PUT.
        desired: the value of every top-level field the body changes.
        source: the upload rows it came from (``rows``: ``[table, line]``; ``where``: per pointer).
    """

    session_id: str
    status: SessionStatus | None = None
    message: str | None = None
    attempts: int | None = None
    http_status: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    error_details: Any = None
    response: Any = None
    differences: Any = None
    started_at: float | None = None
    finished_at: float | None = None
    before: Any = None
    body: Any = None
    desired: Any = None
    source: Any = None

    @property
    def transient(self) -> bool:
        """Whether a failure may pass if sent again (:func:`~gr4vy_nb.updates.states.transient_failure`)."""
        return transient_failure(self.http_status, self.error_code)


_ROW_FIELDS = tuple(f.name for f in dataclasses.fields(JournalRow))


def _row(names: list[str], values: tuple[Any, ...]) -> JournalRow:
    kw = {n: (_loads(v) if n in _JSON_COLUMNS else v) for n, v in zip(names, values, strict=True) if n in _ROW_FIELDS}
    if kw.get("status") is not None:
        kw["status"] = SessionStatus(kw["status"])
    return JournalRow(**kw)


_SCHEMA_VERSION = 2
# The plan of each session (large, written once) is kept apart from its state (small, updated
# on every transition), so that a transition rewrites a few hundred bytes, not the whole session.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    seq           INTEGER PRIMARY KEY,
    session_id    TEXT NOT NULL UNIQUE,
    status        TEXT NOT NULL,
    message       TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    http_status   INTEGER,
    error_code    TEXT,
    error_message TEXT,
    error_details TEXT,
    response      TEXT,
    differences   TEXT,
    started_at    REAL,
    finished_at   REAL,
    updated_at    REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_status ON sessions(status);
CREATE TABLE IF NOT EXISTS planned (
    session_id    TEXT PRIMARY KEY,
    before        TEXT,
    body          TEXT,
    desired       TEXT,
    source        TEXT
);
CREATE VIEW IF NOT EXISTS session_rows AS
    SELECT s.*, p.before, p.body, p.desired, p.source FROM sessions s LEFT JOIN planned p USING (session_id);
CREATE TABLE IF NOT EXISTS uploads (
    name  TEXT PRIMARY KEY,
    data  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id          INTEGER PRIMARY KEY,
    session_id  TEXT NOT NULL,
    at          REAL NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER,
    http_status INTEGER
);
"""
_JSON_COLUMNS = ("before", "body", "desired", "source", "error_details", "response", "differences")


def _dumps(value: Any) -> str | None:
    if value is None:
        return None
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def _loads(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


class _Lock:
    """An exclusive, non-blocking ``flock`` on ``<journal>.lock``, released by the OS on death."""

    def __init__(self, journal_path: Path) -> None:
        self.path = journal_path.with_name(journal_path.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = ""
            with contextlib.suppress(OSError, ValueError):
                holder = os.pread(fd, 32, 0).decode().strip()
            os.close(fd)
            who = f" (process {holder})" if holder else ""
            raise RunError(
                f"the run journal {self.path.with_suffix('')} is in use by another process{who}; "
                "wait for it to finish or stop it first"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @staticmethod
    def held(journal_path: Path) -> bool:
        """True when some live process holds the lock of this journal (see :func:`journal_held`)."""
        path = journal_path.with_name(journal_path.name + ".lock")
        if not path.exists():
            return False
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)


def journal_held(path: str | os.PathLike[str]) -> bool:
    """Whether some live process holds the journal at ``path`` open for writing (a run in progress)."""
    return _Lock.held(Path(path))


class Journal:
    """One run's journal. Create with :meth:`create`, reopen with :meth:`open`; thread-safe.

    Use as a context manager (or call :meth:`close`) to release the lock. A journal opened
    with ``readonly=True`` takes no lock and refuses writes; it can be read while another
    process runs.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, lock: _Lock | None) -> None:
        self.path = path
        self._conn = conn
        self._lock = lock
        self._mutex = threading.RLock()
        self._meta_cache: dict[str, Any] | None = None
        self._cv = threading.Condition()
        self._queue: list[list[Any]] = []
        self._leading = False

    # ------------------------------------------------------------------ opening

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        meta: Mapping[str, Any],
        items: Iterable[Mapping[str, Any]],
        uploads: Iterable[Mapping[str, Any]] = (),
    ) -> Journal:
        """Create a new journal at ``path`` (refused if one exists) holding ``items``, locked.

        Each item is a mapping with ``session_id`` and ``status`` and optionally ``message``,
        ``before``, ``body``, ``desired``, ``source``, ``http_status``, ``error_code``,
        ``error_message``. ``uploads`` are the uploaded tables (each a mapping with a ``table``
        name, see :func:`gr4vy_nb.tables.reader.table_records`). Everything is committed in one
        transaction before this returns.
        """
        p = final = Path(path)
        lock = None
        if str(p) != ":memory:":
            if p.exists():
                raise RunError(f"a journal already exists at {p}; choose another path or resume it")
            p.parent.mkdir(parents=True, exist_ok=True)
            # Built under a temporary name and renamed into place once committed: a process killed
            # meanwhile leaves no half-made journal at ``path``, which nothing could open or replace.
            lock = _Lock(final)
            lock.acquire()
            p = final.with_name(f".{final.name}.{os.getpid()}.creating")
            for stale in (p, Path(f"{p}-wal"), Path(f"{p}-shm")):
                stale.unlink(missing_ok=True)
        try:
            journal = cls._connect(p, readonly=False, lock=lock)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
        try:
            journal._fill(meta, items, uploads)
            if p != final:
                journal = journal._publish(final, lock)
        except BaseException:
            if journal._conn is not None:
                journal.close()
            elif lock is not None:
                lock.release()
            if p != final:
                p.unlink(missing_ok=True)
            raise
        return journal

    def _fill(self, meta: Mapping[str, Any], items: Iterable[Mapping[str, Any]],
              uploads: Iterable[Mapping[str, Any]]) -> None:
        """Write the schema, the meta, the sessions and the uploads, in one transaction."""
        now = time.time()
        with self._mutex:
            self._conn.executescript(_SCHEMA)
        with self._mutex, self._tx():
            values = {"schema_version": _SCHEMA_VERSION, "created_at": now, "state": RunState.RUNNING, **meta}
            self._conn.executemany("INSERT INTO meta(key, value) VALUES (?, ?)",
                                   [(k, orjson.dumps(v).decode()) for k, v in values.items()])
            rows, plans = [], []
            for seq, item in enumerate(items):
                status = item.get("status", SessionStatus.PLANNED)
                if status not in STATUSES:
                    raise ValueError(f"unknown status {status!r}")
                rows.append((seq, item["session_id"], str(status), item.get("message"), item.get("http_status"),
                             item.get("error_code"), item.get("error_message"), now))
                plans.append((item["session_id"], _dumps(item.get("before")), _dumps(item.get("body")),
                              _dumps(item.get("desired")), _dumps(item.get("source"))))
            self._conn.executemany(
                "INSERT INTO sessions(seq, session_id, status, message, http_status, error_code, error_message,"
                " updated_at) VALUES (?,?,?,?,?,?,?,?)", rows)
            self._conn.executemany(
                "INSERT INTO planned(session_id, before, body, desired, source) VALUES (?,?,?,?,?)", plans)
            self._conn.executemany("INSERT INTO events(session_id, at, status) VALUES (?, ?, ?)",
                                   [(r[1], now, r[2]) for r in rows])
            self._conn.executemany("INSERT INTO uploads(name, data) VALUES (?, ?)",
                                   [(u["table"], orjson.dumps(u).decode()) for u in uploads])

    def _publish(self, final: Path, lock: _Lock | None) -> Journal:
        """Rename the committed journal into place (durably) and reopen it there, still locked."""
        with self._mutex:
            self._conn.close()  # the last connection: the WAL is checkpointed and removed
            self._conn = None  # type: ignore[assignment]
            self._lock = None
        os.replace(self.path, final)
        dir_fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # the rename itself survives a power loss
        finally:
            os.close(dir_fd)
        return type(self)._connect(final, readonly=False, lock=lock)

    @classmethod
    def open(cls, path: str | os.PathLike[str], *, readonly: bool = False) -> Journal:
        """Open an existing journal; for writing it is locked (:class:`RunError` if held)."""
        p = Path(path)
        if not p.is_file():
            raise RunError(f"no run journal at {p}")
        journal = cls._connect(p, readonly=readonly)
        try:
            version = journal.meta.get("schema_version")
        except sqlite3.DatabaseError as exc:
            journal.close()
            raise RunError(f"{p} is not a gr4vy-nb run journal ({exc})") from None
        if version != _SCHEMA_VERSION:
            journal.close()
            raise RunError(f"{p} is not a gr4vy-nb run journal (schema version {version!r})")
        return journal

    @classmethod
    def _connect(cls, path: Path, *, readonly: bool, lock: _Lock | None = None) -> Journal:
        owned = lock is None
        if lock is None and str(path) != ":memory:" and not readonly:
            lock = _Lock(path)
            lock.acquire()
        try:
            if readonly:
                conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
            else:
                # Autocommit mode: every transaction is opened and committed explicitly (_tx).
                conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                # Checkpoints (copying the WAL into the database) are not needed for durability and
                # would otherwise run inside some worker's commit every 4 MB; do them rarely, and at close.
                conn.execute("PRAGMA wal_autocheckpoint=20000")
            conn.execute("PRAGMA busy_timeout=5000")
        except BaseException:
            if lock and owned:
                lock.release()
            raise
        return cls(path, conn, lock)

    def close(self) -> None:
        """Close the database and release the lock (idempotent)."""
        with self._mutex:
            if self._conn is not None:
                if self._lock is not None:
                    with contextlib.suppress(sqlite3.Error):
                        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._conn.close()
                self._conn = None  # type: ignore[assignment]
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Journal({str(self.path)!r})"

    @property
    def writable(self) -> bool:
        return self._lock is not None or str(self.path) == ":memory:"

    def _check_writable(self) -> None:
        if self._conn is None:
            raise RunError(f"the journal {self.path} is closed")
        if not self.writable:
            raise RunError(f"the journal {self.path} was opened read-only")

    # ------------------------------------------------------------------ meta

    @property
    def meta(self) -> dict[str, Any]:
        """The run's settings and state (a copy)."""
        with self._mutex:
            if self._meta_cache is None:
                rows = self._conn.execute("SELECT key, value FROM meta").fetchall()
                self._meta_cache = {k: _loads(v) for k, v in rows}
            return dict(self._meta_cache)

    def set_meta(self, **values: Any) -> None:
        """Set meta keys (committed before returning)."""
        self._check_writable()
        with self._mutex, self._tx():
            self._conn.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [(k, orjson.dumps(v).decode()) for k, v in values.items()],
            )
            self._meta_cache = None

    @property
    def run_id(self) -> str:
        return str(self.meta.get("run_id") or self.path.stem)

    # ------------------------------------------------------------------ transitions

    def mark(self, session_id: str, status: str, step: Step | None = None, *, started: bool = False,
             finished: bool = False, **fields: Any) -> None:
        """Move a session to ``status`` and commit, with what is known about the step (a :class:`Step`).

        The step's fields may also be given as keywords (``mark(sid, "failed", http_status=400)``).
        ``attempts`` is added to the session's total. ``error`` (an :class:`ApiError` or a
        mapping with ``code``/``message``/``details``) replaces the stored error; moving to
        ``succeeded`` clears it. ``started``/``finished`` stamp the session's first start and its
        end. A session in a final status (succeeded, skipped) never moves: trying is a
        :class:`RunError`, since it would mean sending a write twice.
        """
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        step = Step(**fields) if step is None else (dataclasses.replace(step, **fields) if fields else step)
        message, attempts, http_status = step.message, step.attempts, step.http_status
        error, response, differences = step.error, step.response, step.differences
        self._check_writable()
        now = time.time()
        sets = ["status = ?", "updated_at = ?"]
        params: list[Any] = [str(status), now]
        if message is not None or status in (SessionStatus.SUCCEEDED, SessionStatus.SENDING):
            sets.append("message = ?")
            params.append(message)
        if attempts:
            sets.append("attempts = attempts + ?")
            params.append(int(attempts))
        if http_status is not None:
            sets.append("http_status = ?")
            params.append(int(http_status))
        if error is not None:
            if isinstance(error, ApiError):
                code, text, details = error.code, error.message, error.details
            else:
                code, text, details = error.get("code"), error.get("message"), error.get("details")
            sets += ["error_code = ?", "error_message = ?", "error_details = ?"]
            params += [code, text, _dumps(list(details or []) or None)]
        elif status == SessionStatus.SUCCEEDED:
            sets += ["error_code = NULL", "error_message = NULL", "error_details = NULL"]
        if response is not None:
            sets.append("response = ?")
            params.append(_dumps(response))
        if differences is not None:
            sets.append("differences = ?")
            params.append(_dumps(differences or None))
        if started:
            sets.append("started_at = COALESCE(started_at, ?)")
            params.append(now)
        if finished:
            sets.append("finished_at = ?")
            params.append(now)
        sql = f"UPDATE sessions SET {', '.join(sets)} WHERE session_id = ?"

        def apply(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT status FROM sessions WHERE session_id = ?", (session_id,)).fetchone()
            if row is None:
                raise RunError(f"session {session_id} is not part of this run")
            if row[0] in FINAL_STATUSES and row[0] != status:
                raise RunError(f"session {session_id} is already {row[0]}; refusing to move it to {status}")
            conn.execute(sql, (*params, session_id))
            conn.execute(
                "INSERT INTO events(session_id, at, status, attempts, http_status) VALUES (?, ?, ?, ?, ?)",
                (session_id, now, status, attempts, http_status),
            )

        self._group_commit(apply)

    # ------------------------------------------------------------------ transactions

    @contextlib.contextmanager
    def _tx(self) -> Iterator[None]:
        """One explicit transaction (the caller holds ``_mutex``): committed, or rolled back on error."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _group_commit(self, op: Callable[[sqlite3.Connection], None]) -> None:
        """Run ``op`` in a transaction shared with the ops other threads submit meanwhile; wait for the commit.

        The first thread to arrive leads: it commits everything queued in one transaction (one
        fsync), each op in its own savepoint so that one refused op does not undo the others.
        Every caller returns only once its op is durable, exactly as with a commit per op, but
        concurrent workers share the cost of the sync.
        """
        entry: list[Any] = [op, False, None]  # op, done, error
        with self._cv:
            self._queue.append(entry)
            while not entry[1]:
                if not self._leading:
                    self._leading = True
                    batch, self._queue = self._queue, []
                    break
                self._cv.wait()
            else:
                if entry[2] is not None:
                    raise entry[2]
                return
        try:
            with self._mutex, self._tx():
                for item in batch:
                    self._conn.execute("SAVEPOINT op")
                    try:
                        item[0](self._conn)
                    except Exception as exc:
                        self._conn.execute("ROLLBACK TO op")
                        item[2] = exc
                    self._conn.execute("RELEASE op")
        except BaseException as exc:  # the commit itself failed: nothing of the batch is durable
            for item in batch:
                item[2] = item[2] or exc
            raise
        finally:
            with self._cv:
                for item in batch:
                    item[1] = True
                self._leading = False
                self._cv.notify_all()
        if entry[2] is not None:
            raise entry[2]

    def mark_many(self, session_ids: Iterable[str], status: str, *, message: str | None = None) -> int:
        """Move many sessions (none of them final) to ``status`` in one transaction; returns how many."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        self._check_writable()
        ids = list(session_ids)
        now = time.time()
        with self._mutex, self._tx():
            final = dict(self._conn.execute(
                f"SELECT session_id, status FROM sessions WHERE status IN ({','.join('?' * len(FINAL_STATUSES))})",
                tuple(sorted(FINAL_STATUSES)),
            ).fetchall())
            todo = [i for i in ids if i not in final]
            self._conn.executemany(
                "UPDATE sessions SET status = ?, message = ?, updated_at = ? WHERE session_id = ?",
                [(status, message, now, i) for i in todo],
            )
            self._conn.executemany(
                "INSERT INTO events(session_id, at, status) VALUES (?, ?, ?)", [(i, now, status) for i in todo]
            )
        n = len(todo)
        return n

    # ------------------------------------------------------------------ reading

    def rows(self, statuses: Iterable[str] | None = None, *,
             fields: Iterable[str] | None = None) -> list[JournalRow]:
        """Session rows in plan order, optionally only those in ``statuses`` and only ``fields`` read.

        ``fields`` names :class:`JournalRow` attributes (``session_id`` is always read); reading
        fewer keeps large JSON (``before``, ``response``) in the file.
        """
        wanted_fields = _ROW_FIELDS if fields is None else ("session_id", *(f for f in fields if f != "session_id"))
        unknown = [f for f in wanted_fields if f not in _ROW_FIELDS]
        if unknown:
            raise ValueError(f"no such journal field: {', '.join(unknown)}")
        names, values = self._query(", ".join(wanted_fields), statuses)
        return [_row(names, v) for v in values]

    def _query(self, columns: str, statuses: Iterable[str] | None) -> tuple[list[str], list[tuple[Any, ...]]]:
        sql = f"SELECT {columns} FROM session_rows"
        params: tuple[Any, ...] = ()
        if statuses is not None:
            params = tuple(statuses)
            sql += f" WHERE status IN ({','.join('?' * len(params))})"
        with self._mutex:
            cur = self._conn.execute(sql + " ORDER BY seq", params)
            return [d[0] for d in cur.description], cur.fetchall()

    def row(self, session_id: str) -> JournalRow | None:
        """One session's row, or ``None``."""
        with self._mutex:
            values = self._conn.execute(f"SELECT {', '.join(_ROW_FIELDS)} FROM session_rows WHERE session_id = ?",
                                        (session_id,)).fetchone()
        return None if values is None else _row(list(_ROW_FIELDS), values)

    def select(self, columns: str, statuses: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """An SQL projection of the session rows in plan order, for reports that need only parts of them.

        ``columns`` is SQLite's select list over the ``session_rows`` view, so a report can extract
        from the large JSON in the file (``json_extract(response, '$.expires_at') AS expires_at``)
        rather than decode it; the JSON columns it names whole are decoded. Records are :meth:`rows`.
        """
        names, values = self._query(columns, statuses)
        json_at = [i for i, n in enumerate(names) if n in _JSON_COLUMNS]
        out = []
        for v in values:
            row = dict(zip(names, v, strict=True))
            for i in json_at:
                row[names[i]] = _loads(v[i])
            out.append(row)
        return out

    def counts(self) -> dict[str, int]:
        """Sessions per status (every status present, zeros included) and ``total``."""
        with self._mutex:
            found = dict(self._conn.execute("SELECT status, COUNT(*) FROM sessions GROUP BY status").fetchall())
        out = {s: int(found.get(s, 0)) for s in STATUSES}
        out["total"] = sum(out.values())
        return out

    def events(self) -> pd.DataFrame:
        """Every status transition: ``session_id``, ``at`` (UTC), ``status``, ``attempts``, ``http_status``."""
        with self._mutex:
            df = pd.read_sql_query("SELECT session_id, at, status, attempts, http_status FROM events ORDER BY id",
                                   self._conn)
        df["at"] = pd.to_datetime(df["at"], unit="s", utc=True)
        return df

    def iter_bodies(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(session_id, body)`` for every session that has a body, in plan order."""
        for row in self.rows(fields=("body",)):
            if row.body is not None:
                yield row.session_id, row.body

    def uploads(self) -> list[dict[str, Any]]:
        """The uploaded tables stored with the run (see :meth:`create`)."""
        with self._mutex:
            rows = self._conn.execute("SELECT data FROM uploads ORDER BY rowid").fetchall()
        return [orjson.loads(r[0]) for r in rows]

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` result (``"ok"`` when sound)."""
        with self._mutex:
            return str(self._conn.execute("PRAGMA integrity_check").fetchone()[0])
