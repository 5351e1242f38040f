"""Run summaries: from the run-frame fixture (hand-worked values) and from a real SQLite journal."""

from __future__ import annotations

import pandas as pd
import pytest

from gr4vy_nb import report
from gr4vy_nb.updates.journal import Journal
from gr4vy_nb.updates.results import error_field_from_details
from gr4vy_nb.updates.runs import Run
from tests.paths import FIXTURES

FIXTURE = FIXTURES / "report_fixture"
S1, S2, S3, S4, S5, S6, S7 = (f"{d * 8}-{d * 4}-4{d * 3}-8{d * 3}-{d * 12}" for d in "1234567")


def test_run_frame_conforms(run):
    df = report.run_frame(run)
    assert list(df.columns[: len(report.RUN_COLUMNS)]) == list(report.RUN_COLUMNS)
    assert str(df["attempts"].dtype) == "Int64" and str(df["started_at"].dt.tz) == "UTC"
    assert df["differences"].tolist() == [0] * 7
    with pytest.raises(ValueError, match="status"):
        report.run_frame(pd.DataFrame({"checkout_session_id": ["x"]}))
    # Run.results (the one results table of a journal) conforms as it is.
    results = report.run_frame(pd.DataFrame({"checkout_session_id": ["a"], "status": ["failed"], "message": ["boom"],
                                             "error_message": ["boom"], "differences": [None]}))
    assert results.loc[0, "error_message"] == "boom" and results.loc[0, "differences"] == 0


def test_status_counts(run):
    t = report.run_status_counts(run)
    assert dict(t["sessions"]) == {"planned": 0, "sending": 0, "succeeded": 2, "failed": 3, "conflict": 1,
                                   "skipped": 0, "unprocessed": 1}
    assert t["share"].sum() == pytest.approx(1.0)


def test_errors_by_code_and_field(run):
    t = report.run_errors_by_code(run)
    assert t.values.tolist() == [
        ["bad_request", 2, "400, 422", "Request failed validation"],
        ["service_unavailable", 1, "503", "Request could not be processed"],
    ]
    f = report.run_errors_by_field(run)
    assert f.values.tolist() == [["airline.passengers.first_name", 1], ["cart_items.name", 1], ["currency", 1]]


def test_latency_percentiles(run):
    t = report.run_latency(run)
    # Seconds: S1 0.5, S2 4.0, S3 0.25, S4 2.0, S5 0.1, S6 10.0 (S7 never started).
    assert t.loc["all", "sessions"] == 6
    assert t.loc["all", "mean"] == pytest.approx(16.85 / 6)
    assert t.loc["all", "p50"] == pytest.approx(1.25)
    assert t.loc["all", "p95"] == pytest.approx(8.5)
    assert t.loc["all", "max"] == pytest.approx(10.0)
    assert t.loc["failed", "p50"] == pytest.approx(2.0)
    assert t.loc["succeeded", "mean"] == pytest.approx(2.25)


def test_retries(run):
    assert dict(report.run_retries(run)["sessions"]) == {0: 1, 1: 3, 2: 1, 3: 1, 4: 1}


def test_throughput(run):
    t = report.run_throughput(run, freq="5s")
    start = pd.Timestamp("2030-01-01T12:00:00Z")
    assert list(t.index) == [start, start + pd.Timedelta("5s"), start + pd.Timedelta("10s")]
    assert t["finished"].tolist() == [5, 0, 1]
    assert t["succeeded"].tolist() == [2, 0, 0] and t["failed"].tolist() == [2, 0, 1]
    assert t["per_second"].tolist() == [1.0, 0.0, 0.2]
    auto = report.run_throughput(run)  # 12 s of run: quarter-second intervals, the finest giving <= 60
    assert len(auto) == 47 and auto["finished"].sum() == 6  # 12:00:00.50 to 12:00:12.00
    assert auto.index[1] - auto.index[0] == pd.Timedelta("250ms") and auto["per_second"].max() == 4.0


def test_conflicts_and_summary(run):
    c = report.run_conflicts(run)
    assert c["checkout_session_id"].tolist() == [S5]
    assert c["error_message"].tolist() == ["changed since the plan"]
    s = report.run_summary(run)["value"]
    assert s["sessions"] == 7 and s["write attempts"] == 12 and s["sessions retried"] == 3
    assert s["wall time (s)"] == 12.0 and s["sessions per second"] == 0.5
    assert s["median latency (s)"] == 1.25 and s["p95 latency (s)"] == 8.5


@pytest.mark.parametrize(("details", "expected"), [
    (None, None),
    ([], None),
    ([{"pointer": "/cart_items/0/name"}, {"pointer": "/cart_items/3/name"}], "cart_items.name"),
    ([{"pointer": "/buyer/billing_details/email_address"}, {"pointer": "/currency"}],
     "buyer.billing_details.email_address,currency"),
    ([{"pointer": "/metadata/a~1b"}], "metadata.a/b"),
    ([{"location": "body", "pointer": ""}], "(body)"),
    ([{"loc": ["body", "airline", "legs", 2, "fare_amount"]}], "airline.legs.fare_amount"),
])
def test_error_field_from_details(details, expected):
    assert error_field_from_details(details) == expected


def test_run_from_a_real_journal(tmp_path):
    path = tmp_path / "run.sqlite"
    ids = [S1, S2, S3, S4]
    with Journal.create(path, meta={"run_id": "t", "kind": "apply"},
                        items=[{"session_id": i, "status": "planned"} for i in ids]) as j:
        j.mark(S1, "sending", attempts=1, started=True)
        j.mark(S1, "succeeded", http_status=200, finished=True, differences=["amount"])
        j.mark(S2, "sending", attempts=3, started=True)
        j.mark(S2, "failed", http_status=422, finished=True, error={
            "code": "bad_request", "message": "Request failed validation",
            "details": [{"location": "body", "pointer": "/cart_items/1/quantity", "message": "x", "type": "y"},
                        {"location": "body", "pointer": "/currency", "message": "x", "type": "y"}]})
        j.mark(S3, "sending", attempts=1, started=True)
        j.mark(S3, "conflict", message="changed since the plan", finished=True)
    df = report.run_frame(path)  # a path: read-only, no lock taken
    assert df["checkout_session_id"].tolist() == ids
    # The journal's one results table: a session never sent counts as unprocessed, as in Run.results.
    assert df["status"].tolist() == ["succeeded", "failed", "conflict", "unprocessed"]
    assert df.equals(report.run_frame(Run.from_journal(path).results))
    assert df["attempts"].tolist() == [1, 3, 1, 0]
    assert df.loc[1, "error_field"] == "cart_items.quantity,currency"
    assert df["differences"].tolist() == [1, 0, 0, 0]
    assert (df["finished_at"].dropna() >= df["started_at"].dropna()).all()
    assert report.run_summary(path)["value"]["applied with differences"] == 1
    assert report.run_errors_by_field(path)["field"].tolist() == ["cart_items.quantity", "currency"]
    # The same journal, open in this process for writing, can still be reported on.
    with Journal.open(path) as j:
        assert report.run_status_counts(j).loc["conflict", "sessions"] == 1


def test_run_object_with_a_journal_attribute(tmp_path):
    path = tmp_path / "r.sqlite"
    Journal.create(path, meta={}, items=[{"session_id": S1, "status": "skipped"}]).close()

    class Finished:
        journal = path

    assert report.run_status_counts(Finished()).loc["skipped", "sessions"] == 1
    with pytest.raises(TypeError):
        report.run_frame(42)


def test_throughput_counts_only_the_time_a_run_was_active(tmp_path, sandbox_clean):
    import time

    from gr4vy_nb.api.client import Gr4vyClient
    from gr4vy_nb.config import Settings
    from gr4vy_nb.updates.plan import plan_updates
    from gr4vy_nb.updates.runs import apply_plan, resume_run
    from tests.updates.helpers import IDS, tag_upload

    with Gr4vyClient(Settings.for_sandbox(sandbox_clean), workers=4) as client:
        plan = plan_updates(tag_upload(tmp_path / "up", IDS[:6]), client=client)
        canary = apply_plan(plan, client=client, runs_dir=tmp_path / "runs", first=2)
        time.sleep(2.0)  # the analyst looks at the canary before resuming
        resume_run(canary.journal, client=client)
    s = report.run_summary(canary.journal)["value"]
    assert s["succeeded"] == 6 and s["wall time (s)"] > 2.0
    assert s["active time (s)"] < s["wall time (s)"] - 1.5  # the pause is not active time
    assert s["sessions per second"] == pytest.approx(6 / s["active time (s)"], rel=0.01)
    # A killed invocation (no end recorded) ends at its last journaled transition.
    with Journal.open(canary.journal) as j:
        periods = j.meta["active_periods"]
        assert len(periods) == 2 and all(end is not None for _start, end in periods)
        j.set_meta(active_periods=[[periods[0][0], None], periods[1]])
    killed = report.run_summary(canary.journal)["value"]
    assert killed["active time (s)"] <= s["active time (s)"] and killed["active time (s)"] < s["wall time (s)"] - 1.5
