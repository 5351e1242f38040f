"""The statuses and states of the pipeline: one name each, equal to the text journals and files hold."""

from __future__ import annotations

import orjson

from gr4vy_nb.updates.states import (
    FINAL_STATUSES,
    NOT_THROUGH,
    RESULT_STATUSES,
    STATUSES,
    ItemStatus,
    RunKind,
    RunState,
    SessionStatus,
)


def test_statuses_are_their_text():
    assert SessionStatus.SUCCEEDED == "succeeded" and "succeeded" in FINAL_STATUSES
    assert {"planned": 1}[SessionStatus.PLANNED] == 1  # hashes as its text: dict keys and sets work both ways
    assert orjson.dumps([ItemStatus.CHANGE, RunState.PAUSED, RunKind.ROLLBACK]) == b'["change","paused","rollback"]'
    assert f"{SessionStatus.CONFLICT}" == "conflict"


def test_the_groups_are_consistent():
    assert tuple(SessionStatus) == STATUSES and len(set(STATUSES)) == 7
    assert set(RESULT_STATUSES) == set(STATUSES) - {SessionStatus.PLANNED, SessionStatus.SENDING}
    assert set(RESULT_STATUSES) >= FINAL_STATUSES and set(NOT_THROUGH) <= set(RESULT_STATUSES)
    assert not FINAL_STATUSES & set(NOT_THROUGH)
