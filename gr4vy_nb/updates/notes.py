"""A plan's notes as records: a code, who they are for, counts, and neutral text that shells render.

Shells decide from :attr:`PlanNote.code` and :attr:`PlanNote.audience`, never from the text: the
app folds :attr:`Audience.RECORD` notes away, colours :attr:`Audience.WARNING` amber and keeps the
destructive counts for its summary line; the CLI prints each note's text.

:func:`change_notes` writes the notes of a plan's changes (the expiry reset, what the changes do by
kind); :func:`expire_sooner` is the one count of sessions an update makes expire sooner.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .states import ItemStatus, parse_instant

__all__ = ["Audience", "NoteCode", "PlanNote", "change_notes", "expire_sooner"]


class NoteCode(StrEnum):
    """What a plan-wide note is about."""

    EXPIRY_RESET = "expiry_reset"
    """Every update resets the session's expiry (``count``: sessions that will expire sooner)."""
    LIKELY_TO_EXPIRE = "likely_to_expire"
    """Sessions that expire before the run is likely to reach them (``count``; ``sessions``: the first)."""
    BODY_MODE = "body_mode"
    """How the request bodies are built (the target's probe decided)."""
    UNKNOWN_FIELDS = "unknown_fields"
    """Top-level fields this version does not know, sent back unchanged (``sessions``: the field names)."""
    BODY_LIMITS = "body_limits"
    """What a full-state body cannot carry."""
    UNVERSIONED_ROWS = "unversioned_rows"
    """Rows with no ``row_version`` could not be checked for changes since an export (``count``)."""
    SESSION_CHANGES = "session_changes"
    """What the changes do, grouped by kind (``kind``: e.g. ``removes.passengers``; ``count``: sessions)."""
    NOTE = "note"
    """A note of a plan saved by an older version (text only)."""


class Audience(StrEnum):
    """Who a note is for."""

    WARNING = "warning"
    """An analyst must read it before running."""
    INFO = "info"
    """Informs the analyst."""
    RECORD = "record"
    """The technical record (kept, folded away in the app)."""


_AUDIENCE = {
    NoteCode.LIKELY_TO_EXPIRE: Audience.WARNING,
    NoteCode.EXPIRY_RESET: Audience.RECORD,  # the app tells it next to Run, with its count
    NoteCode.BODY_MODE: Audience.RECORD,
    NoteCode.UNKNOWN_FIELDS: Audience.RECORD,
    NoteCode.BODY_LIMITS: Audience.RECORD,
}


@dataclass(frozen=True)
class PlanNote:
    """One plan-wide note.

    Attributes:
        code: what it is about (:class:`NoteCode`).
        text: the note in neutral words (no flags, no widget names).
        count: how many sessions or rows it concerns, when it counts.
        kind: the kind of change of a :attr:`NoteCode.SESSION_CHANGES` note (``removes.passengers``).
        sessions: the sessions (or names) it names, the first few.
    """

    code: NoteCode
    text: str
    count: int | None = None
    kind: str | None = None
    sessions: tuple[str, ...] = ()

    @property
    def audience(self) -> Audience:
        return _AUDIENCE.get(self.code, Audience.INFO)

    def __str__(self) -> str:
        return self.text

    def to_dict(self) -> dict[str, Any]:
        return {"code": str(self.code), "text": self.text, "count": self.count, "kind": self.kind,
                "sessions": list(self.sessions)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | str) -> PlanNote:
        """A note as :meth:`to_dict` wrote it; a plain string (a plan saved by an older version) is a ``NOTE``."""
        if isinstance(data, str):
            return cls(NoteCode.NOTE, data)
        return cls(NoteCode(data["code"]), str(data["text"]), count=data.get("count"), kind=data.get("kind"),
                   sessions=tuple(data.get("sessions") or ()))


def expire_sooner(items: list[Any], expires_in: int, now: float | None = None) -> int:
    """How many of the sessions to update now expire later than an update would make them (so expire sooner)."""
    horizon = (time.time() if now is None else now) + expires_in
    return sum(1 for i in items if i.status == ItemStatus.CHANGE
               and (due := parse_instant((i.before or {}).get("expires_at"))) is not None and due > horizon)


def change_notes(items: list[Any], expires_in: int) -> list[PlanNote]:
    """The notes of a plan's changes: the expiry reset, and what the changes do, grouped by kind."""
    notes = []
    changed = [i for i in items if i.status == ItemStatus.CHANGE]
    if changed:
        later = expire_sooner(changed, expires_in)
        notes.append(PlanNote(NoteCode.EXPIRY_RESET, f"expiry reset: the API sets each updated session to expire "
                              f"{expires_in / 3600:g} h after its update (expires_in={expires_in})"
                              + (f"; {later} of the {len(changed)} now expire later than that and will expire sooner"
                                 if later else ""), count=later))
    # The sessions' own notes, grouped by their code: the text itself where every session has the same,
    # else one example ("3 session(s), e.g.: removes passengers #0 of 2").
    kinds: dict[str, list[str]] = defaultdict(list)
    for item in changed:
        for note in item.notes:
            kinds[note["code"]].append(note["text"])
    for code, parts in sorted(kinds.items()):
        distinct = sorted(set(parts))
        text = (f"{len(parts)} session(s): {distinct[0]}" if len(distinct) == 1 else
                f"{len(parts)} session(s), e.g.: {distinct[0]}")
        notes.append(PlanNote(NoteCode.SESSION_CHANGES, text, count=len(parts), kind=code))
    return notes
