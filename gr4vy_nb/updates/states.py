"""The statuses and states of the update pipeline, named once (and how their instants are read and shown).

* :class:`ItemStatus`: what the plan decided for a session named in the upload;
* :class:`SessionStatus`: where a session stands in a run's journal
  (``planned -> sending -> succeeded | failed``, and ``conflict``, ``skipped``, ``unprocessed``);
* :class:`RunState`: where a whole run stands; :class:`RunKind`: an apply or a rollback.

They are :class:`~enum.StrEnum` members, so they compare equal to the text stored in
journals, plan files and result CSVs (``SessionStatus.SUCCEEDED == "succeeded"``).
"""

from __future__ import annotations

from enum import StrEnum

from ..instants import parse_instant, utc_text

__all__ = [
    "FINAL_STATUSES",
    "NOT_THROUGH",
    "OUTCOME_UNKNOWN",
    "RESULT_STATUSES",
    "STATUSES",
    "BodyMode",
    "ItemStatus",
    "ListMode",
    "Rewrites",
    "RunKind",
    "RunState",
    "SessionStatus",
    "parse_instant",
    "transient_failure",
    "utc_text",
]


class ItemStatus(StrEnum):
    """What a plan does with one session."""

    CHANGE = "change"
    """A body will be sent."""
    UNCHANGED = "unchanged"
    """The upload changes nothing in it: nothing is sent."""
    NOT_FOUND = "not_found"
    """The API answered 404 (unknown or expired): it cannot be updated."""
    INVALID = "invalid"
    """The upload has errors for it: the plan cannot be applied."""


class SessionStatus(StrEnum):
    """A session's status in a run's journal."""

    PLANNED = "planned"
    SENDING = "sending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CONFLICT = "conflict"
    SKIPPED = "skipped"
    UNPROCESSED = "unprocessed"


STATUSES: tuple[SessionStatus, ...] = tuple(SessionStatus)
"""Every status a session can have in a journal, in the order reports list them."""
FINAL_STATUSES: frozenset[SessionStatus] = frozenset({SessionStatus.SUCCEEDED, SessionStatus.SKIPPED})
"""Statuses a session never leaves: nothing is ever sent again for it."""
RESULT_STATUSES: tuple[SessionStatus, ...] = (SessionStatus.SUCCEEDED, SessionStatus.FAILED, SessionStatus.CONFLICT,
                                              SessionStatus.SKIPPED, SessionStatus.UNPROCESSED)
"""The statuses of a run's results (``planned`` and ``sending`` count as ``unprocessed``); they add up to the total."""
NOT_THROUGH: tuple[SessionStatus, ...] = (SessionStatus.FAILED, SessionStatus.CONFLICT, SessionStatus.UNPROCESSED)
"""The result statuses of sessions that did not go through (their rows go to ``errors.csv``)."""


OUTCOME_UNKNOWN = "outcome_unknown"
"""The journal's ``error_code`` of a write that may or may not have been applied (its answer was lost)."""
TRANSIENT_CODES = frozenset({OUTCOME_UNKNOWN, "connect", "read_timeout", "dropped"})
"""Error codes of failures that may pass on a second try (no answer, or an answer lost)."""


def transient_failure(http_status: int | None, error_code: str | None) -> bool:
    """Whether a failure may pass if sent again: no answer, 429, 5xx, or an outcome unknown (typed)."""
    return (http_status is None or http_status == 429 or http_status >= 500
            or (error_code or "") in TRANSIENT_CODES)


class RunState(StrEnum):
    """A run's state, as its journal records it (and two that only a listing of runs shows)."""

    RUNNING = "running"
    FINISHED = "finished"
    """Nothing left to send."""
    CANCELLED = "cancelled"
    STOPPED = "stopped"
    """A 401/403 or an internal error stopped it (see its ``stop_reason``)."""
    PAUSED = "paused"
    """A canary run sent only its first sessions."""
    INTERRUPTED = "interrupted"
    """Listed only: the journal says running but no process holds it (a crash or ``kill -9``): resume it."""
    UNREADABLE = "unreadable"
    """Listed only: the file is not a readable journal."""


class RunKind(StrEnum):
    """What a run does."""

    APPLY = "apply"
    ROLLBACK = "rollback"


class ListMode(StrEnum):
    """How the rows of a child table (cart items, legs, passengers) change a session's list."""

    REPLACE = "replace"
    """The rows are the complete new list: elements not listed are removed (consent needed)."""
    PATCH = "patch"
    """Each row patches the element it indexes; the others are kept; rows without an index are appended."""


class BodyMode(StrEnum):
    """What an update body carries (see :mod:`gr4vy_nb.updates.bodies`)."""

    CHANGED = "changed"
    """Only the changed top-level fields: the target's probe found that PUT merges."""
    FULL = "full"
    """Each session's full writable state: not probed, or PUT replaces."""


class Rewrites(StrEnum):
    """What a plan does with a cell an editor rewrote (the current value written differently).

    Terraform's diff suppression of equivalent values, applied to what spreadsheets and pandas write.
    """

    KEEP = "keep"
    """Keep the current value (the default): nothing is sent for the cell; ``rewrite_kept`` warnings say so, one
    message per file and column."""
    ERROR = "error"
    """Refuse it (``spreadsheet_rewrite`` error): nothing is sent while one remains."""
    SEND = "send"
    """Send the text as written, with a warning each."""
