"""gr4vy_nb.widgets.results: the ResultsView's status filter and the buttons a run allows (the flows are in
``test_bulk_app.py`` and ``test_runs.py``)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from gr4vy_nb.notebook_support import Connection
from gr4vy_nb.sandbox import Sandbox
from gr4vy_nb.updates.journal import Journal
from gr4vy_nb.widgets._common import plain, problems_csv, problems_for_display
from gr4vy_nb.widgets.results import RESULT_FILTERS, ResultsView
from tests.widgets.helpers import IDS, upload_value


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


def test_a_filtered_table_shows_exactly_the_journal_rows_of_that_status(conn: Connection, sandbox_clean: Sandbox,
                                                                      tmp_path: Path) -> None:
    # Regression (issue 14): filtering by `failed` showed one row of NaN: the table was rebuilt on a 0-based
    # index while the filtered rows kept their own labels.
    from gr4vy_nb.widgets import BulkUpdateApp

    ids = [*IDS[:5], "00000000-0000-4000-8000-000000000000"]  # the last one does not exist: it fails
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    rows = "\n".join(f"{i},q4" for i in ids)
    app.upload.value = upload_value(("sessions.csv", f"checkout_session_id,metadata.review\n{rows}\n".encode()))
    app.on_validate()
    app.on_plan()
    app.on_apply()
    run = app.wait(60)
    view = ResultsView()
    view.show(run)
    with Journal.open(run.journal, readonly=True) as j:
        journal = {r.session_id: r for r in j.rows(fields=("status", "message"))}
    for choice, wanted in (("failed", {"failed"}), ("succeeded", {"succeeded"}), ("all", None),
                           ("not succeeded", {"failed"})):
        view.status_filter.value = choice
        shown = view.table.itable.df  # what goes to the browser
        expected = [sid for sid, r in journal.items() if wanted is None or r.status in wanted]
        assert shown["checkout_session_id"].tolist() == expected, choice
        assert (shown["checkout_session_id"] != "").all() and not shown.isna().any().any()
        for _, row in shown.iterrows():
            assert row["status"] == journal[row["checkout_session_id"]].status
            assert row["message"] == (journal[row["checkout_session_id"]].message or "")
    view.status_filter.value = "failed"
    assert view.table.itable.df["checkout_session_id"].tolist() == [ids[-1]]
    assert "not found or expired" in view.table.itable.df["message"].iloc[0]
    view.status_filter.value = "conflict"
    assert "No session is conflict." in plain(view.table.note.value) and view.table.itable.layout.display == "none"
    assert "errors.csv" in view.downloads.value and "download='errors.csv'" in view.downloads.value


def test_attempts_count_writes_only(conn: Connection, sandbox_clean: Sandbox, tmp_path: Path) -> None:
    # Regression (issue 14): with no faults every session showed attempts 2 (the re-read counted as one).
    from gr4vy_nb import apply_plan, plan_updates, report

    folder = tmp_path / "up"
    folder.mkdir()
    pd.DataFrame({"checkout_session_id": IDS[:4], "metadata.review": ["x"] * 4}).to_csv(folder / "sessions.csv",
                                                                                       index=False)
    run = apply_plan(plan_updates(folder, client=conn.client), client=conn.client, runs_dir=tmp_path / "runs")
    assert run.results["attempts"].tolist() == [1, 1, 1, 1]
    summary = report.run_summary(run)["value"]
    assert summary["sessions retried"] == 0 and summary["write attempts"] == 4
    view = ResultsView()
    view.show(run)
    assert "download='errors.csv'" not in view.downloads.value  # a clean run: no empty errors.csv offered
    assert "no errors.csv to download" in plain(view.downloads.value)


def test_problems_are_sorted_by_place_severity_first_and_csv_quotes_are_not_doubled() -> None:
    problems = pd.DataFrame({
        "file": ["sessions.csv", "cart_items.csv", "sessions.csv", "sessions.csv"],
        "line": [12, 3, 2, 2], "column": ["amount", "sku", "metadata.x", "currency"],
        "rule": ["r1", "r2", "r3", "r4"], "severity": ["error", "warning", "warning", "error"],
        "message": ["=SUM(A1) is not a number", "'ORD-000042' is not a UUID", "long " * 60, "bad currency"],
    }, index=[7, 3, 9, 1])
    shown = problems_for_display(problems)
    assert list(shown.columns[:5]) == ["severity", "file", "line", "column", "message"]
    assert list(zip(shown["file"], shown["line"], shown["column"], strict=True)) == [
        ("cart_items.csv", 3, "sku"), ("sessions.csv", 2, "currency"), ("sessions.csv", 2, "metadata.x"),
        ("sessions.csv", 12, "amount")]
    text = problems_csv(problems).decode("utf-8-sig")
    assert "'ORD-000042' is not a UUID" in text and "''ORD" not in text
    assert "'=SUM(A1) is not a number" in text
    assert ("long " * 60).strip() in text  # full messages, never cut
