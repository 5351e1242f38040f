"""The notebook apps, driven without a browser: set widget values, call the handlers, check the sandbox.

Handlers are called directly (``app.on_validate()``), never through ``Button.click()``, which
logs exceptions instead of raising them. Everything runs against the shared sandbox emulator
over real HTTP, with real CSV files and real SQLite journals; the sandbox's counters prove what
was (and was not) sent.
"""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from gr4vy_nb.api.auth import generate_private_key_pem
from gr4vy_nb.config import Settings
from gr4vy_nb.notebook_support import Connection, connect, read_sessions_jsonl
from gr4vy_nb.sandbox import Sandbox
from gr4vy_nb.tables.frames import flatten_sessions
from gr4vy_nb.updates.journal import Journal
from gr4vy_nb.widgets import BulkUpdateApp, ConnectionPanel, RunsBrowser, SessionExplorer
from gr4vy_nb.widgets._common import MAX_UPLOAD_BYTES, Messages, busy, display_frame, plain
from tests.paths import SAMPLE as SAMPLE_PATH

SAMPLE = read_sessions_jsonl(SAMPLE_PATH)
IDS = [s["id"] for s in SAMPLE]
WITH_PASSENGERS = [s for s in SAMPLE if (s.get("airline") or {}).get("passengers")]


# ---------------------------------------------------------------------------------------- helpers


def _connection(sandbox: Sandbox, **overrides: Any) -> Connection:
    settings = Settings.for_sandbox(sandbox, **overrides) if "environment" not in overrides else Settings(
        base_url=sandbox.base_url, private_key_file=sandbox.private_key_file, **overrides)
    return connect(settings, announce=False)


@pytest.fixture
def conn(sandbox_clean: Sandbox) -> Any:
    c = _connection(sandbox_clean)
    yield c
    c.close()


def _upload_value(*files: tuple[str, bytes]) -> tuple[dict[str, Any], ...]:
    """What a FileUpload's ``value`` holds after the user picked ``files`` in the browser."""
    now = datetime.now(UTC)
    return tuple({"name": n, "type": "text/csv", "size": len(c), "content": memoryview(c), "last_modified": now}
                 for n, c in files)


def _csv_bytes(df: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


def _tag_csv(ids: list[str], tag: str) -> bytes:
    return _csv_bytes(pd.DataFrame({"checkout_session_id": ids, "metadata.campaign_review": [tag] * len(ids)}))


def _writes(sandbox: Sandbox) -> dict[str, int]:
    return dict(sandbox.stats()["writes"])


def _puts(sandbox: Sandbox) -> int:
    return sum(sandbox.stats()["requests"].get("PUT", {}).values())


def _planned_app(conn: Connection, tmp_path: Path, ids: list[str], *, tag: str = "q4") -> BulkUpdateApp:
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    app.upload.value = _upload_value(("sessions.csv", _tag_csv(ids, tag)))
    app.on_validate()
    assert app.upload_obj is not None and app.upload_obj.ok, app.messages.text
    app.on_plan()
    assert app.plan is not None and len(app.plan.changes) == len(ids), app.messages.text
    return app


# ---------------------------------------------------------------------------------------- common pieces


def test_busy_shows_toolkit_errors_and_reenables_buttons() -> None:
    import ipywidgets as w

    from gr4vy_nb.errors import InputError

    button, messages = w.Button(), Messages()
    with busy([button], messages):
        assert button.disabled
        raise InputError("bad file")
    assert not button.disabled
    assert messages.errors == ["bad file"]


def test_busy_shows_and_reraises_bugs() -> None:
    import ipywidgets as w

    button, messages = w.Button(), Messages()
    with pytest.raises(ZeroDivisionError), busy([button], messages):
        _ = 1 / 0
    assert not button.disabled
    assert "ZeroDivisionError" in messages.text
    assert "traceback" in messages.widget.value


def test_display_frame_renders_every_dtype_as_text() -> None:
    df = pd.DataFrame({
        "n": pd.array([1, None], dtype="Int64"),
        "s": pd.array(["x", None], dtype="string"),
        "t": pd.to_datetime(["2024-01-02T03:04:05Z", None], utc=True),
        "b": pd.array([True, None], dtype="boolean"),
        "l": [["a", "b"], None],
    })
    out = display_frame(df)
    assert out.to_dict("list") == {"n": ["1", ""], "s": ["x", ""], "t": ["2024-01-02T03:04:05Z", ""],
                                   "b": ["True", ""], "l": ["['a', 'b']", ""]}


# ---------------------------------------------------------------------------------------- connection


def test_connection_panel_reports_latency_and_never_the_key(conn: Connection, sandbox_clean: Sandbox) -> None:
    panel = ConnectionPanel(conn)
    check = panel.on_test()
    assert check is not None and check.ok, panel.messages.text
    assert "round trip" in panel.messages.text and check.latency_ms is not None
    banner = plain(panel.banner.value)
    assert "local sandbox emulator" in banner and conn.settings.kid in banner and "'default'" not in banner
    key_text = sandbox_clean.private_key_file.read_text()
    body = key_text.splitlines()[1]
    assert body not in panel.widget.children[0].value and body not in panel.messages.widget.value
    # The probe is one read of a session that does not exist: nothing is written.
    assert sandbox_clean.stats()["requests"] == {"GET": {"404": 1}}


def test_connection_panel_names_a_key_the_sandbox_does_not_know(sandbox_clean: Sandbox, tmp_path: Path) -> None:
    other = tmp_path / "other.pem"
    other.write_bytes(generate_private_key_pem())
    conn = _connection(sandbox_clean, private_key_file=other)
    check = ConnectionPanel(conn).on_test()
    assert check is not None and not check.ok and check.problem == "credentials"
    assert "not the sandbox's key" in check.message


def _token(sandbox: Sandbox, *, scopes: list[str], exp_offset: int) -> str:
    import uuid

    import jwt

    from gr4vy_nb.api.auth import load_private_key, thumbprint

    key = load_private_key(sandbox.private_key_file.read_bytes(), source="test")
    now = int(time.time())
    claims = {"scopes": scopes, "iss": "test", "iat": now - 600, "nbf": now - 600, "exp": now + exp_offset,
              "jti": str(uuid.uuid4())}
    return jwt.encode(claims, key, algorithm="ES512", headers={"kid": thumbprint(key)})


def test_connection_panel_explains_expired_token_and_missing_scope(sandbox_clean: Sandbox) -> None:
    expired = _connection(sandbox_clean, token=_token(sandbox_clean, scopes=["checkout-sessions.read"],
                                                      exp_offset=-300))
    check = ConnectionPanel(expired).on_test()
    assert check is not None and check.status == 401 and check.problem == "credentials", check
    assert "authentication refused" in check.message

    write_only = _connection(sandbox_clean, token=_token(sandbox_clean, scopes=["checkout-sessions.write"],
                                                         exp_offset=600))
    check = ConnectionPanel(write_only).on_test()
    assert check is not None and check.status == 403 and check.problem == "scope", check
    assert "checkout-sessions.read" in check.message


def test_production_settings_get_a_red_banner(sandbox_clean: Sandbox) -> None:
    conn = _connection(sandbox_clean, environment="production")
    html = ConnectionPanel(conn).banner.value
    assert "gr4vy-target-production" in html and "#b91c1c" in html and "PRODUCTION" in html


def test_connect_without_configuration_starts_the_embedded_sandbox() -> None:
    conn = connect(env={}, announce=False)
    try:
        assert conn.embedded and conn.settings.is_local
        assert "embedded sandbox emulator" in conn.note and "200 sample sessions" in conn.note
        assert conn.client.get_checkout_session(IDS[0])["id"] == IDS[0]
        again = connect(env={}, announce=False)
        assert again.sandbox is conn.sandbox and "reusing" in again.note
        again.close()
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------- explorer


def test_explorer_fetches_masks_by_default_and_shows_raw_on_request(conn: Connection) -> None:
    passenger = WITH_PASSENGERS[0]
    email = passenger["airline"]["passengers"][0]["email_address"]
    explorer = SessionExplorer(conn)
    missing = "00000000-0000-4000-8000-000000000000"
    explorer.ids_box.value = f"{passenger['id']}, {IDS[1]}\n'{IDS[2]}'  junk\n{missing}"
    explorer.on_fetch()
    assert len(explorer.frames) == 3
    assert explorer.not_found["checkout_session_id"].tolist() == [missing]
    assert "junk" in explorer.messages.text
    shown = explorer.tables["passengers"].itable._dt_args["data_json"]
    assert email not in shown and passenger["id"] in shown
    explorer.show_raw.value = True
    assert email in explorer.tables["passengers"].itable._dt_args["data_json"]


def test_explorer_loads_jsonl_by_upload_and_ids_by_path(conn: Connection, tmp_path: Path) -> None:
    explorer = SessionExplorer(conn)
    jsonl = "\n".join(__import__("json").dumps(s) for s in SAMPLE[:5]).encode()
    explorer.upload.value = _upload_value(("export.jsonl", jsonl))
    assert len(explorer.frames) == 5, explorer.messages.text
    ids_file = tmp_path / "ids.csv"
    ids_file.write_text("checkout_session_id,note\n" + "\n".join(f"{i},x" for i in IDS[10:14]))
    explorer.path_box.value = str(ids_file)
    explorer.on_load()
    assert sorted(explorer.frames.sessions["checkout_session_id"]) == sorted(IDS[10:14])


def test_explorer_refuses_bad_input_in_its_message_area(conn: Connection) -> None:
    explorer = SessionExplorer(conn)
    explorer.ids_box.value = "not an id"
    explorer.on_fetch()
    assert "no session ids to fetch" in explorer.messages.errors[-1]
    explorer.upload.value = _upload_value(("broken.jsonl", b'{"id": 1}\nnot json\n'))
    assert "line 2 is not valid JSON" in explorer.messages.errors[-1]
    assert not explorer.fetch_button.disabled


# ---------------------------------------------------------------------------------------- bulk update


def test_full_flow_upload_validate_plan_apply_results_rollback(conn: Connection, sandbox_clean: Sandbox,
                                                               tmp_path: Path) -> None:
    ids = IDS[:6]
    target = next(s for s in WITH_PASSENGERS if s["id"] not in ids)
    before_name = target["airline"]["passengers"][0]["last_name"]
    current = flatten_sessions([conn.client.get_checkout_session(target["id"])])
    passengers = current.passengers.copy()
    passengers.loc[passengers["passenger_index"] == 0, "last_name"] = "Quackenbush"
    passengers_csv = passengers.to_csv(index=False).encode()

    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    assert app.plan_button.disabled and app.apply_button.disabled
    app.upload.value = _upload_value(("sessions.csv", _tag_csv(ids, "q4")), ("passengers.csv", passengers_csv))
    assert "sessions.csv" in app.files_label.value and "passengers.csv" in app.files_label.value
    app.on_validate()
    assert app.upload_obj.ok, app.messages.text
    assert "<b data-count='errors'>0</b>" in app.validation_summary.value
    assert not app.plan_button.disabled
    saved = list((tmp_path / "runs" / "uploads").rglob("*.csv"))
    assert sorted(p.name for p in saved) == ["passengers.csv", "sessions.csv"]

    app.expires_in.value = 6 * 3600
    app.on_plan()
    assert app.plan is not None and app.plan.expires_in == 6 * 3600
    assert {i.session_id for i in app.plan.changes} == {*ids, target["id"]}
    assert "<b data-count='changed'>7</b>" in app.plan_summary.value
    assert app.plan_progress.value == app.plan_progress.max == 7
    # Nothing written by planning.
    assert _puts(sandbox_clean) == 0
    # The per-session diff: masked by default, raw on request.
    app.diff_session.value = target["id"]
    assert "airline.passengers[0].last_name" in plain(app.diff_view.value) or "last_name" in app.diff_view.value
    assert "Quackenbush" not in app.diff_view.value and before_name not in app.diff_view.value
    assert "Quackenbush" not in app.diff_table.itable._dt_args["data_json"]
    app.show_raw.value = True
    assert "Quackenbush" in app.diff_view.value
    assert "Quackenbush" in app.diff_table.itable._dt_args["data_json"]
    app.show_raw.value = False
    assert not app.apply_button.disabled

    app.workers.value = 3
    app.on_apply()
    run = app.wait(60)
    assert run.state == "finished" and run.counts["succeeded"] == 7, run.describe()
    assert "data-status='succeeded'" in app.results.counts.value and "succeeded <b>7</b>" in app.results.counts.value
    assert "download" in app.results.downloads.value and "errors.csv" in app.results.downloads.value
    assert "succeeded.csv" in app.results.downloads.value
    assert _writes(sandbox_clean) == dict.fromkeys([*ids, target["id"]], 1)
    after = conn.client.get_checkout_session(target["id"])
    assert after["airline"]["passengers"][0]["last_name"] == "Quackenbush"
    assert conn.client.get_checkout_session(ids[0])["metadata"]["campaign_review"] == "q4"
    app.results.status_filter.value = "failed"
    assert len(app.results.filtered()) == 0
    app.results.status_filter.value = "succeeded"
    assert len(app.results.filtered()) == 7
    assert app.results.retry_button.disabled and not app.results.rollback_button.disabled

    app.on_rollback()
    back = app.wait(60)
    assert back.kind == "rollback" and back.counts["succeeded"] == 7, back.describe()
    restored = conn.client.get_checkout_session(target["id"])
    assert restored["airline"]["passengers"][0]["last_name"] == before_name
    assert "campaign_review" not in (conn.client.get_checkout_session(ids[0]).get("metadata") or {})
    assert _writes(sandbox_clean) == dict.fromkeys([*ids, target["id"]], 2)


def test_a_file_with_errors_sends_nothing(conn: Connection, sandbox_clean: Sandbox, tmp_path: Path) -> None:
    bad = _csv_bytes(pd.DataFrame({
        "checkout_session_id": [IDS[0], "not-a-uuid", IDS[2]],
        "cart_items": ["", "", "oops"],
    }))
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    app.upload.value = _upload_value(("sessions.csv", bad))
    app.on_validate()
    assert not app.upload_obj.ok
    problems = app.problems_table.frame
    assert set(problems["file"]) == {"sessions.csv"}
    assert {(int(r.line), r.column) for r in problems.itertuples() if r.severity == "error"} >= {
        (3, "checkout_session_id"), (4, "cart_items")}
    assert "download" in app.problems_download.value and "problems.csv" in app.problems_download.value
    assert app.plan_button.disabled and app.apply_button.disabled
    assert "validation found" in app.messages.errors[-1]
    app.on_plan()
    assert "fix them" in app.messages.errors[-1]
    app.on_apply()
    assert "make a plan first" in app.messages.errors[-1]
    assert sandbox_clean.stats()["total_requests"] == 0


def test_too_big_an_upload_points_to_the_path_box(conn: Connection, tmp_path: Path) -> None:
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    app.upload.value = _upload_value(("sessions.csv", b"x" * (MAX_UPLOAD_BYTES + 1)))
    app.on_validate()
    assert "path box" in app.messages.errors[-1] and app.upload_obj is None


def test_files_by_path_and_no_files(conn: Connection, sandbox_clean: Sandbox, tmp_path: Path) -> None:
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    app.on_validate()
    assert "choose files first" in app.messages.errors[-1]
    folder = tmp_path / "edits"
    folder.mkdir()
    (folder / "sessions.csv").write_bytes(_tag_csv(IDS[:3], "by-path"))
    app.paths_box.value = str(folder)
    app.on_validate()
    app.on_plan()
    assert len(app.plan.changes) == 3
    assert _puts(sandbox_clean) == 0


def test_cancel_mid_run_leaves_a_consistent_journal_and_resume_finishes(
        conn: Connection, sandbox_clean: Sandbox, tmp_path: Path) -> None:
    ids = IDS[:30]
    app = _planned_app(conn, tmp_path, ids)
    sandbox_clean.configure(latency_ms=40)
    app.workers.value = 2
    app.on_apply()
    assert app.busy and app.apply_button.disabled and app.validate_button.disabled
    assert not app.runner.cancel_button.disabled
    deadline = time.monotonic() + 30
    while (app.runner.last_progress is None or app.runner.last_progress.done < 4) and time.monotonic() < deadline:
        time.sleep(0.01)
    app.on_cancel()
    run = app.wait(60)
    assert run.state == "cancelled", run.describe()
    c = run.counts
    assert 4 <= c["succeeded"] < len(ids) and c["succeeded"] + c["unprocessed"] == len(ids)
    with Journal.open(run.journal, readonly=True) as j:
        assert j.integrity_check() == "ok"
        assert j.counts().get("sending", 0) == 0
    # Exactly the sessions the journal says succeeded were written, once each.
    succeeded = set(run.results.loc[run.results["status"] == "succeeded", "checkout_session_id"])
    assert _writes(sandbox_clean) == dict.fromkeys(succeeded, 1)
    # The plan was applied: Run stays off (resume the run instead, or plan again).
    assert app.apply_button.disabled and not app.results.resume_button.disabled
    app.on_apply()
    assert "applied already" in app.messages.errors[-1]

    sandbox_clean.configure(latency_ms=0)
    app.on_resume()
    resumed = app.wait(60)
    assert resumed.state == "finished" and resumed.counts["succeeded"] == len(ids), resumed.describe()
    assert _writes(sandbox_clean) == dict.fromkeys(ids, 1)


def test_production_needs_typed_confirmation(sandbox_clean: Sandbox, tmp_path: Path) -> None:
    conn = _connection(sandbox_clean, environment="production", merchant_account_id="default")
    try:
        app = _planned_app(conn, tmp_path, IDS[:3])
        assert app.confirmation.required and app.apply_button.disabled
        app.on_apply()
        assert "PRODUCTION" in app.messages.errors[-1] and "nothing was sent" in app.messages.errors[-1]
        app.confirm_box.value = True
        app.confirm_text.value = "defaul"
        assert app.apply_button.disabled
        app.on_apply()
        assert _puts(sandbox_clean) == 0 and not app.busy
        app.confirm_text.value = "default"
        assert not app.apply_button.disabled
        app.on_apply()
        run = app.wait(60)
        assert run.counts["succeeded"] == 3
    finally:
        conn.close()


def test_a_401_mid_run_stops_with_a_clear_message(conn: Connection, sandbox_clean: Sandbox,
                                                  tmp_path: Path) -> None:
    ids = IDS[:10]
    app = _planned_app(conn, tmp_path, ids)
    sandbox_clean.set_faults([{"method": "PUT", "session_id": ids[4], "action": "status", "status": 401}])
    app.workers.value = 1
    app.on_apply()
    run = app.wait(60)
    assert run.state == "stopped", run.describe()
    c = run.counts
    assert c["succeeded"] == 4 and c["unprocessed"] == len(ids) - 4 - c["failed"], run.describe()
    assert "401" in app.messages.errors[-1] and "credentials" in app.messages.errors[-1]
    assert _writes(sandbox_clean) == dict.fromkeys(ids[:4], 1)
    assert app.runner.bar.bar_style == "danger"


def test_retry_failed_plans_again_from_errors_csv(conn: Connection, sandbox_clean: Sandbox,
                                                  tmp_path: Path) -> None:
    ids = IDS[:5]
    app = _planned_app(conn, tmp_path, ids)
    sandbox_clean.set_faults([{"method": "PUT", "session_id": ids[1], "action": "status", "status": 422,
                               "message": "refused for the test"}])
    app.on_apply()
    run = app.wait(60)
    assert run.counts["failed"] == 1 and run.counts["succeeded"] == 4, run.describe()
    assert not app.results.retry_button.disabled
    app.results.status_filter.value = "failed"
    assert app.results.filtered()["checkout_session_id"].tolist() == [ids[1]]

    app.on_retry_failed()
    assert app.plan is not None, app.messages.text
    assert [i.session_id for i in app.plan.changes] == [ids[1]]
    assert "errors.csv" in app.paths_box.value
    app.on_apply()
    second = app.wait(60)
    assert second.counts["succeeded"] == 1
    assert _writes(sandbox_clean) == dict.fromkeys(ids, 1)


def test_canary_then_runs_browser_resumes_and_rolls_back(conn: Connection, sandbox_clean: Sandbox,
                                                         tmp_path: Path) -> None:
    ids = IDS[:8]
    app = _planned_app(conn, tmp_path, ids)
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
    assert _writes(sandbox_clean) == dict.fromkeys(ids, 1)

    browser.on_rollback()
    rolled = browser.wait(60)
    assert rolled.kind == "rollback" and rolled.counts["succeeded"] == 8
    assert len(browser.runs) == 2  # the rollback is a run of its own, listed after refresh
    assert all("campaign_review" not in (conn.client.get_checkout_session(i).get("metadata") or {}) for i in ids)


def test_runs_browser_refuses_resume_against_another_target(conn: Connection, sandbox_clean: Sandbox,
                                                            tmp_path: Path) -> None:
    app = _planned_app(conn, tmp_path, IDS[:4])
    app.canary.value = 1
    app.on_apply()
    app.wait(60)
    other = _connection(sandbox_clean, merchant_account_id="someone-else")
    try:
        browser = RunsBrowser(other, runs_dir=tmp_path / "runs")
        browser.on_open()
        browser.on_resume()
        browser.wait(30)
        assert "refusing to mix targets" in browser.messages.errors[-1]
        assert _puts(sandbox_clean) == 1
    finally:
        other.close()
