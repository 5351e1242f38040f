"""What a stopped run left in flight, settled by re-reading: the first step of rolling an interrupted run back.

A run commits ``sending`` before each PUT and the outcome after it. A run killed in between
(``kill -9``, a crash, a lost machine) leaves sessions ``sending``; a write whose answer was lost
and could not be settled leaves them ``failed`` with an unknown outcome. Some of those writes
reached the server. Rolling back only the ``succeeded`` sessions would leave those with the
run's values and no journal able to undo them, so :func:`settle_in_flight` re-reads each one
first (one GET, concurrently):

* it holds every value the run planned for it: the write reached the server. Its row becomes
  ``succeeded`` in the run's journal, with the state read as the response, so the rollback
  restores it like any other;
* otherwise the write did not take (or someone changed it since): reported as not written;
  a ``sending`` row becomes ``unprocessed`` ("re-read: not written"), so the journal holds no
  session in flight any more;
* the re-read failed (expired, 404, no answer): reported, left as it is.

Resuming a run does the same for the sessions it sends again (the engine's re-read), so only
a rollback needs this step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ApiError, AuthError, PermissionDenied
from .compare import same_fields
from .journal import Journal, JournalRow
from .states import SessionStatus

__all__ = ["InFlight", "in_flight_rows", "settle_in_flight"]

def in_flight_rows(journal: Journal) -> list[JournalRow]:
    """The journal's sessions whose write may or may not have reached the server: ``sending``, or failed unknowingly."""
    return [r for r in journal.rows((SessionStatus.SENDING, SessionStatus.FAILED))
            if r.desired and r.body is not None and (r.status == SessionStatus.SENDING or r.transient)]


@dataclass
class InFlight:
    """What :func:`settle_in_flight` found: sessions written after all, not written, and not re-readable."""

    written: list[str] = field(default_factory=list)
    not_written: list[str] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.written) + len(self.not_written) + len(self.unreadable)

    def to_dict(self) -> dict[str, Any]:
        return {"written": self.written, "not_written": self.not_written, "unreadable": self.unreadable}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> InFlight:
        data = data or {}
        return cls(written=list(data.get("written") or []), not_written=list(data.get("not_written") or []),
                   unreadable=dict(data.get("unreadable") or {}))


def settle_in_flight(journal: Journal, client: Any, *, workers: int | None = None) -> InFlight:
    """Re-read the sessions ``journal``'s run left in flight and record what they hold (see the module's doc).

    ``journal`` must be open for writing (locked). Nothing is written to the API.

    Raises:
        AuthError, PermissionDenied: the key cannot read sessions (nothing was changed).
    """
    rows = in_flight_rows(journal)
    found = InFlight()
    if not rows:
        return found
    current = client.get_checkout_sessions([r.session_id for r in rows], workers=workers)
    for outcome in current.values():
        if isinstance(outcome, AuthError | PermissionDenied):
            raise outcome
    for r in rows:
        sid = r.session_id
        now = current.get(sid)
        if isinstance(now, ApiError) or not isinstance(now, dict):
            found.unreadable[sid] = str(now) if now is not None else "not read"
            continue
        desired = r.desired or {}
        if not same_fields(now, desired, list(desired)):
            journal.mark(sid, SessionStatus.SUCCEEDED, http_status=200, response=now,
                         message="re-read when rolling back: the write had reached the server")
            found.written.append(sid)
        else:
            if r.status == SessionStatus.SENDING:
                journal.mark(sid, SessionStatus.UNPROCESSED,
                             message="re-read when rolling back: the write had not reached the server")
            found.not_written.append(sid)
    return found
