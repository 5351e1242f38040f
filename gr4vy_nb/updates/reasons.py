"""Why a step of a bulk update may not run now: typed reasons, rendered by the shells.

A :class:`Reason` is a :class:`ReasonCode` (a :class:`~enum.StrEnum`, the thing shells and tests
decide on) and a neutral sentence (no flag, checkbox or exit code: those are the shells' words).
:meth:`BulkUpdate.why_not <gr4vy_nb.updates.workflow.BulkUpdate.why_not>` answers one for each
:class:`Action`; a step called anyway raises :class:`~gr4vy_nb.errors.Refused` carrying the same
reason. :func:`production_reason` is the one PRODUCTION guard of every writing command.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["Action", "Reason", "ReasonCode", "production_reason", "reason"]


class Action(StrEnum):
    """The steps of a bulk update (:class:`~gr4vy_nb.updates.workflow.BulkUpdate`)."""

    LOAD = "load"
    PLAN = "plan"
    CONSENT = "consent"
    CONFIRM = "confirm"
    APPLY = "apply"
    CANCEL = "cancel"
    RESUME = "resume"
    RETRY_FAILED = "retry_failed"
    ROLLBACK = "rollback"


class ReasonCode(StrEnum):
    """Why a step may not run now."""

    NOTHING_LOADED = "nothing_loaded"
    """No input loaded yet."""
    INPUT_ERRORS = "input_errors"
    """The input has errors. :class:`BulkUpdate` plans it anyway (every problem reported at once); a shell
    may choose to plan only clean input (the bulk app does) and say so with this code."""
    NOTHING_TO_PLAN = "nothing_to_plan"
    """The input names no session (header-only files). :class:`BulkUpdate` plans it (to "nothing to do"); a
    shell may choose not to offer that plan (the bulk app does) and say so with this code."""
    NOT_PLANNED = "not_planned"
    """Nothing planned yet (or the plan was cleared by new input)."""
    ERRORS_REMAIN = "errors_remain"
    """The plan has errors: nothing may be sent."""
    NOTHING_TO_SEND = "nothing_to_send"
    """The plan changes no session. :class:`BulkUpdate` applies it anyway (its run records every session as
    skipped); a shell may choose not to offer that run (the bulk app does) and say so with this code."""
    PLAN_STALE = "plan_stale"
    """The plan was applied already, or its input files changed since: plan again."""
    DESTRUCTIVE_NEEDS_CONSENT = "destructive_needs_consent"
    """The plan removes list elements or clears fields, and no consent was given for this plan."""
    NO_DESTRUCTIVE_CHANGE = "no_destructive_change"
    """Consent asked for a plan that destroys nothing."""
    PRODUCTION_NOT_CONFIRMED = "production_not_confirmed"
    """The target is PRODUCTION and the merchant account id was not confirmed for this step."""
    PLAN_IN_PROGRESS = "plan_in_progress"
    """A plan is being made."""
    RUN_IN_PROGRESS = "run_in_progress"
    """A run (apply, resume or rollback) is in progress."""
    NOTHING_RUNNING = "nothing_running"
    """Nothing to cancel."""
    NO_RUN = "no_run"
    """No run yet."""
    NOTHING_TO_RETRY = "nothing_to_retry"
    """The run has no failed session that a new plan could retry."""


@dataclass(frozen=True)
class Reason:
    """A typed answer to "why can't I do this now": ``code`` to decide on, ``text`` to show."""

    code: ReasonCode
    text: str

    def __str__(self) -> str:
        return self.text


_TEXT: dict[ReasonCode, str] = {
    ReasonCode.NOTHING_LOADED: "load the input first",
    ReasonCode.INPUT_ERRORS: "the input has errors",
    ReasonCode.NOTHING_TO_PLAN: "the input names no session: nothing to do",
    ReasonCode.NOT_PLANNED: "plan first",
    ReasonCode.NOTHING_TO_SEND: "the plan has nothing to send",
    ReasonCode.ERRORS_REMAIN: "the plan has errors: nothing may be sent",
    ReasonCode.PLAN_STALE: "this plan was applied already: plan again, or resume its run",
    ReasonCode.DESTRUCTIVE_NEEDS_CONSENT: "the plan would {consent}: consent to it first",
    ReasonCode.NO_DESTRUCTIVE_CHANGE: "the plan destroys nothing: no consent is needed",
    ReasonCode.PRODUCTION_NOT_CONFIRMED: "{target} is PRODUCTION: confirm the merchant account id first",
    ReasonCode.PLAN_IN_PROGRESS: "a plan is being made",
    ReasonCode.RUN_IN_PROGRESS: "a run is in progress",
    ReasonCode.NOTHING_RUNNING: "nothing is running",
    ReasonCode.NO_RUN: "no run yet",
    ReasonCode.NOTHING_TO_RETRY: "the run has no failed session to retry",
}


def reason(code: ReasonCode, **words: Any) -> Reason:
    """The :class:`Reason` of ``code``, its text filled with ``words`` (``consent``, ``target``)."""
    return Reason(code, _TEXT[code].format(**words) if words else _TEXT[code])


def production_reason(settings: Any, confirmed: str | None) -> Reason | None:
    """The PRODUCTION guard: a reason unless the target is not production or ``confirmed`` is its merchant id."""
    if not getattr(settings, "is_production", False):
        return None
    if confirmed is not None and str(confirmed).strip() == settings.merchant_account_id:
        return None
    return reason(ReasonCode.PRODUCTION_NOT_CONFIRMED, target=settings.target)
