"""gr4vy_nb.widgets.results: the ResultsView's status filter and the buttons a run allows (the flows are in
``test_bulk_app.py`` and ``test_runs.py``)."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from gr4vy_nb.widgets.results import RESULT_FILTERS, ResultsView


def test_status_filters_show_the_result_statuses_as_text() -> None:
    assert RESULT_FILTERS == ("all", "succeeded", "failed", "conflict", "skipped", "unprocessed", "not succeeded")
    assert all(type(f) is str for f in RESULT_FILTERS)
    view = ResultsView()
    assert view.status_filter.options == RESULT_FILTERS and view.status_filter.value == "all"


@pytest.mark.parametrize(("choice", "ids"), [
    ("all", ["a", "b", "c"]),
    ("succeeded", ["a"]),
    ("failed", ["b"]),
    ("unprocessed", ["c"]),
    ("conflict", []),
    ("not succeeded", ["b", "c"]),
])
def test_the_filter_selects_rows_by_status(choice: str, ids: list[str]) -> None:
    view = ResultsView()
    assert len(view.filtered()) == 0
    view.run = SimpleNamespace(results=pd.DataFrame({"checkout_session_id": ["a", "b", "c"],
                                                     "status": ["succeeded", "failed", "unprocessed"]}))
    view.status_filter.value = "skipped"  # so that choosing `choice` is a change, and redraws the table
    view.status_filter.value = choice
    assert view.filtered()["checkout_session_id"].tolist() == ids
    assert view.table.frame["checkout_session_id"].tolist() == ids


def _run(kind: str = "apply", state: str = "paused", **counts: int) -> SimpleNamespace:
    return SimpleNamespace(kind=kind, state=state,
                           counts={"succeeded": 0, "failed": 0, "conflict": 0, "unprocessed": 0, **counts})


@pytest.mark.parametrize(("run", "retry", "resume", "rollback"), [
    (_run(failed=1, unprocessed=2, succeeded=3), True, True, True),
    (_run(conflict=1), True, False, False),
    (_run(kind="rollback", failed=1, succeeded=1), False, False, True),
    (_run(state="finished", unprocessed=2), False, False, False),
    (_run(state="cancelled", unprocessed=2), False, True, False),
])
def test_buttons_follow_the_run(run: SimpleNamespace, retry: bool, resume: bool, rollback: bool) -> None:
    view = ResultsView()
    view.refresh_buttons(busy=False)
    assert all(b.disabled for b in view.buttons)  # no run yet
    view.run = run
    view.refresh_buttons(busy=False)
    assert (not view.retry_button.disabled, not view.resume_button.disabled,
            not view.rollback_button.disabled) == (retry, resume, rollback)
    view.refresh_buttons(busy=True)
    assert all(b.disabled for b in view.buttons)
