"""gr4vy_nb.widgets.runs: the RunsBrowser lists, opens, resumes and rolls back runs, and never mixes targets."""

from __future__ import annotations

from pathlib import Path

from gr4vy_nb.config import Settings
from gr4vy_nb.notebook_support import Connection
from gr4vy_nb.sandbox import Sandbox
from gr4vy_nb.updates.journal import Journal
from gr4vy_nb.widgets import RunsBrowser
from gr4vy_nb.widgets._common import plain
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

    puts_before = puts(sandbox_clean)
    browser.on_rollback()  # first a preview: nothing is sent
    assert browser.preview is not None and puts(sandbox_clean) == puts_before
    preview = plain(browser.rollback_prompt.html.value)
    assert "8 session(s) get back the values they had before run" in preview and "metadata" in preview
    assert "cannot be restored: expires_at" in preview and "conflict" in preview
    assert browser.confirm_rollback_button.description == "Confirm rollback of 8 session(s)"
    browser.on_confirm_rollback()
    rolled = browser.wait(60)
    assert rolled.kind == "rollback" and rolled.counts["succeeded"] == 8
    assert browser.preview is None and browser.rollback_prompt.widget.layout.display == "none"
    assert browser.choice.value == str(rolled.journal)  # the run chosen is the run shown
    assert len(browser.runs) == 2  # the rollback is a run of its own, listed after refresh
    assert all("campaign_review" not in (conn.client.get_checkout_session(i).get("metadata") or {}) for i in ids)
    # titles match journal names; the original run is marked as rolled back
    rb = browser.runs[browser.runs["kind"] == "rollback"].iloc[0]
    assert rb["run_id"] == Path(rb["journal"]).stem == Path(str(rolled.journal)).stem
    original = browser.runs[browser.runs["kind"] == "apply"].iloc[0]
    assert original["rolled_back_by"] == rb["run_id"]
    assert f"Run {rb['run_id']}" in plain(browser.results.title.value)
    browser.choice.value = original["journal"]
    browser.on_open()
    assert f"rolled back by {rb['run_id']}" in plain(browser.results.title.value)
    assert any(f"rolled back by {rb['run_id']}" in label for label, _ in browser.choice.options)
    table = browser.table.frame
    # no sideways scroll to the run's id or its totals
    assert list(table.columns[:4]) == ["run", "state", "total", "succeeded"]
    marked = table[table["rolled back by"] == rb["run_id"]]
    assert marked["state"].tolist() == ["finished · rolled back"]
    assert (table["state"] == "finished · rolled back").sum() == 1


def test_rollback_preview_can_be_dismissed_and_names_expired_sessions(conn: Connection, sandbox_clean: Sandbox,
                                                                      tmp_path: Path) -> None:
    ids = IDS[:3]
    app = planned_app(conn, tmp_path, ids)
    app.on_apply()
    app.wait(60)
    browser = RunsBrowser(conn, runs_dir=tmp_path / "runs")
    browser.on_open()
    with Journal.open(browser.results.run.journal) as j:  # the run left ids[0] due to expire in the past
        j._conn.execute("UPDATE sessions SET response = json_set(response, '$.expires_at', "
                        "'2020-01-01T00:00:00Z') WHERE session_id = ?", (ids[0],))
        j._conn.commit()
    before = puts(sandbox_clean)
    browser.on_rollback()
    text = plain(browser.rollback_prompt.html.value)
    assert "cannot be restored: 1 session(s) have expired since the run" in text and ids[0] in text
    browser.on_dismiss_rollback()
    assert browser.preview is None and "nothing was sent" in browser.messages.text
    browser.on_confirm_rollback()  # without a preview: refused
    assert "press Roll back this run first" in browser.messages.errors[-1]
    assert puts(sandbox_clean) == before


def test_production_confirmation_re_arms_after_every_action(sandbox_clean: Sandbox, tmp_path: Path) -> None:
    prod = sandbox_connection(sandbox_clean, environment="production",
                              merchant_account_id=Settings.for_sandbox(sandbox_clean).merchant_account_id)
    try:
        app = planned_app(prod, tmp_path, IDS[:2])
        app.confirmation.box.value = True
        app.confirmation.text.value = prod.settings.merchant_account_id
        app.on_apply()
        app.wait(60)
        browser = RunsBrowser(prod, runs_dir=tmp_path / "runs")
        browser.on_open()
        browser.on_rollback()
        assert browser.confirm_rollback_button.disabled  # not confirmed yet
        browser.confirmation.box.value = True
        browser.confirmation.text.value = prod.settings.merchant_account_id
        assert not browser.confirm_rollback_button.disabled
        browser.on_confirm_rollback()
        browser.wait(60)
        assert browser.confirmation.box.value is False and browser.confirmation.text.value == ""
        assert not browser.confirmation.ok
    finally:
        prod.close()


def test_an_empty_runs_folder_offers_an_example_run_and_makes_none_by_itself(conn: Connection,
                                                                             sandbox_clean: Sandbox,
                                                                             tmp_path: Path) -> None:
    browser = RunsBrowser(conn, runs_dir=tmp_path / "runs")
    assert writes(sandbox_clean) == {}
    assert browser.example_box.layout.display is None and "No runs yet in" in plain(browser.table.note.value)
    assert browser.table.itable.layout.display == "none"  # a sentence, not an empty grid
    browser.on_example()
    assert len(writes(sandbox_clean)) == 20 and len(browser.runs) == 1
    assert browser.example_box.layout.display == "none"
    assert browser.results.run is not None and browser.results.run.counts["succeeded"] == 20


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
