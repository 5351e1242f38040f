"""What an update body carries on a given target: only the changed fields, or the session's full writable state.

Whether ``PUT /checkout/sessions/{id}`` merges (fields absent from the body are kept) or
replaces (they are cleared) is undocumented; ``gr4vy-nb probe`` (:mod:`gr4vy_nb.api.probe`)
finds out on the target and saves the answer; the shell (or
:class:`~gr4vy_nb.updates.workflow.BulkUpdate`) passes it to planning, and :func:`body_mode` reads it:

* ``"changed"``: the target's saved probe found merge semantics: a body carries only the
  top-level fields that change (plus ``expires_in``), as :mod:`~gr4vy_nb.updates.merge` built it;
* ``"full"``: never probed, or found to replace: a body carries every writable top-level field
  the session holds (the current value where it does not change, see
  :func:`~gr4vy_nb.updates.compare.carried_value`) and every top-level field it returned that this
  version does not know, so that a replacing PUT clears nothing.

Only the body changes: the plan's diff and each item's ``desired`` stay the changed values, so
the plan shows, the engine compares and a rollback restores exactly what the upload changes.
Sessions with no change are not sent in either mode.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ..schema import WRITABLE_SESSION_FIELDS, CheckoutSession, CheckoutSessionUpdate
from .compare import carried_value
from .notes import NoteCode, PlanNote
from .states import BodyMode, ItemStatus

__all__ = ["CHANGED", "FULL", "UPDATE_ONLY_FIELDS", "apply_body_mode", "body_mode", "full_body", "rollback_body"]

CHANGED = BodyMode.CHANGED
FULL = BodyMode.FULL

UPDATE_ONLY_FIELDS: tuple[str, ...] = tuple(
    n for n in CheckoutSessionUpdate.model_fields if n not in CheckoutSession.model_fields and n != "expires_in")
"""Fields an update may set that a session never returns: a replacing PUT would clear them, and nothing can send
them back (``country``, ``is_subsequent_payment``, ``merchant_initiated``, ``payment_source``, ``intent``)."""


def body_mode(probe: Any) -> tuple[BodyMode, str]:
    """``(mode, why)`` for a target whose probe result is ``probe`` (``None``: never probed).

    The probe result is an explicit input (:func:`gr4vy_nb.api.probe.saved_probe`, looked up once by
    the shell or :class:`~gr4vy_nb.updates.workflow.BulkUpdate`): nothing here reads a file.
    """
    if probe is None:
        return BodyMode.FULL, ("not probed: sending the full state of each session (every writable top-level field, "
                               "current values where unchanged), so that a PUT that replaces the session clears "
                               "nothing; probe this target to send only the changed fields")
    if probe.merges:
        return BodyMode.CHANGED, (f"probed {probe.probed_at}: PUT merges on this target, so only the changed "
                                  "top-level fields are sent")
    found = "PUT replaces the session" if probe.put_semantics == "replace" else "it could not tell whether PUT merges"
    return BodyMode.FULL, (f"the probe of {probe.probed_at} found that {found}: sending the full state of each "
                           "session (every writable top-level field, current values where unchanged), so that "
                           "nothing is cleared")


def _lost_text() -> str:
    return ("a PUT that replaces the session would still clear what a session never returns, so cannot be sent "
            "back: the update-only fields " + ", ".join(UPDATE_ONLY_FIELDS) + " (if they were set when the "
            "session was created)")


def full_body(current: Mapping[str, Any] | None, body: Mapping[str, Any],
              unknown: list[str] | None = None) -> dict[str, Any]:
    """``body`` completed with the rest of the session's writable state, from ``current``.

    Fields in ``body`` are sent as they are (``None`` still clears); every other writable top-level
    field ``current`` holds is sent back as it is (:func:`~gr4vy_nb.updates.compare.carried_value`:
    fields this version does not know, at any depth, included); top-level fields ``current``
    returned that this version does not know are sent back unchanged (their names go to ``unknown``).
    """
    current = current or {}
    out: dict[str, Any] = {}
    for name in WRITABLE_SESSION_FIELDS:
        if name in body:
            out[name] = body[name]
        elif current.get(name) is not None:
            out[name] = carried_value(name, current[name])
    for name, value in current.items():
        if name not in CheckoutSession.model_fields and name not in body and value is not None:
            out[name] = copy.deepcopy(value)
            if unknown is not None:
                unknown.append(name)
    for name, value in body.items():
        if name not in out:
            out[name] = value
    return out


def apply_body_mode(plan: Any, probe: Any) -> None:
    """Choose the body mode from the target's ``probe`` result, complete the bodies in :data:`FULL` mode, note it."""
    mode, why = body_mode(probe)
    plan.body_mode = mode
    notes = [PlanNote(NoteCode.BODY_MODE, f"bodies: {why}")]
    if mode == FULL:
        unknown: list[str] = []
        for item in plan.items:
            if item.status == ItemStatus.CHANGE and item.body is not None:
                item.body = full_body(item.before, item.body, unknown)
        if unknown:
            names = sorted(set(unknown))
            notes.append(PlanNote(NoteCode.UNKNOWN_FIELDS, "bodies: top-level field(s) this version does not know, "
                                  f"sent back unchanged: {', '.join(names[:6])}"
                                  + (f" and {len(names) - 6} more" if len(names) > 6 else ""),
                                  count=len(names), sessions=tuple(names[:6])))
        if plan.changes:
            notes.append(PlanNote(NoteCode.BODY_LIMITS, f"bodies: {_lost_text()}"))
    plan.notes = [*notes, *plan.notes]


def rollback_body(wrote: Mapping[str, Any] | None, before: Mapping[str, Any] | None, restore: Mapping[str, Any],
                  expires_in: float, mode: str) -> dict[str, Any]:
    """The body that puts ``restore`` back (the fields a run changed, at their value before it).

    In :data:`FULL` mode the rest of the session's state is sent too: as the run left it
    (``wrote``, the run's answer) or, without one, as it was before the run.
    """
    body = {**restore, "expires_in": expires_in}
    if mode != FULL:
        return body
    return full_body(wrote or before, body)
