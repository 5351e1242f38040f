"""gr4vy_nb.widgets.runs: the RunsBrowser lists, opens, resumes and rolls back runs, and never mixes targets."""

from __future__ import annotations

from pathlib import Path

from gr4vy_nb.notebook_support import Connection
from gr4vy_nb.sandbox import Sandbox
from gr4vy_nb.widgets import RunsBrowser
from tests.widgets.helpers import IDS, planned_app, puts, sandbox_connection, writes


def test_canary_then_runs_browser_resumes_and_rolls_back(conn: Connection, sandbox_clean: Sandbox,
                                                         tmp_path: Path) -> None:
    ids = IDS[:8]
    app = planned_app(conn, tmp_path, ids)
    app.canary.value = 3
    app.on_apply()
    canary = app.wait(60)
    assert canary.state == "paused" and canary.counts["succeeded"] == 3 and canary.counts["unprocessed"] == 5

    browser = RunsBrowser(conn, runs_dir=tmp_path / "runs")
    assert len(browser.runs) == 1 and browser.choice.value == str(canary.journal)
    browser.on_open()
    assert browser.results.run.counts["unprocessed"] == 5
    assert not browser.results.resume_button.disabled
    browser.on_resume()
    resumed = browser.wait(60)
    assert resumed.counts["succeeded"] == 8, resumed.describe()
    assert writes(sandbox_clean) == dict.fromkeys(ids, 1)

    browser.on_rollback()
    rolled = browser.wait(60)
    assert rolled.kind == "rollback" and rolled.counts["succeeded"] == 8
    assert len(browser.runs) == 2  # the rollback is a run of its own, listed after refresh
    assert all("campaign_review" not in (conn.client.get_checkout_session(i).get("metadata") or {}) for i in ids)


def test_runs_browser_refuses_resume_against_another_target(conn: Connection, sandbox_clean: Sandbox,
                                                            tmp_path: Path) -> None:
    app = planned_app(conn, tmp_path, IDS[:4])
    app.canary.value = 1
    app.on_apply()
    app.wait(60)
    other = sandbox_connection(sandbox_clean, merchant_account_id="someone-else")
    try:
        browser = RunsBrowser(other, runs_dir=tmp_path / "runs")
        browser.on_open()
        browser.on_resume()
        browser.wait(30)
        assert "refusing to mix targets" in browser.messages.errors[-1]
        assert puts(sandbox_clean) == 1
    finally:
        other.close()
