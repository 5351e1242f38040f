"""BulkUpdateApp and destructive changes: shown in red next to Run, which needs the consent box ticked (re-armed for
every plan); the list mode toggle plans in patch mode."""

from __future__ import annotations

from pathlib import Path

from gr4vy_nb.notebook_support import Connection
from gr4vy_nb.sandbox import Sandbox
from gr4vy_nb.updates.reasons import Action, ReasonCode
from gr4vy_nb.widgets import BulkUpdateApp
from gr4vy_nb.widgets._common import plain
from tests.widgets.helpers import WITH_PASSENGERS, puts, upload_value

TARGET = next(s for s in WITH_PASSENGERS if len(s["airline"]["passengers"]) >= 3)
N = len(TARGET["airline"]["passengers"])


def one_row_app(conn: Connection, tmp_path: Path) -> BulkUpdateApp:
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    csv = f"checkout_session_id,passenger_index,first_name\n{TARGET['id']},1,Hanna\n".encode()
    app.upload.value = upload_value(("passengers.csv", csv))
    app.on_validate()
    assert app.upload_obj is not None and app.upload_obj.ok, app.messages.text
    return app


def test_run_stays_disabled_until_the_consent_box_naming_the_counts_is_ticked(conn: Connection,
                                                                              sandbox_clean: Sandbox,
                                                                              tmp_path: Path) -> None:
    app = one_row_app(conn, tmp_path)
    assert app.consent_box.layout.display == "none"
    app.on_plan()
    removed = N - 1
    label = f"I mean to remove {removed} passengers in 1 session"
    assert app.consent_box.description == label and app.consent_box.layout.display != "none"
    assert app.consent_box.value is False and app.apply_button.disabled
    note = plain(app.destructive_note.value)
    assert f"remove {removed} passengers" in note and "removes passengers #0" in note
    assert "#b91c1c" in app.destructive_note.value  # red
    app.on_apply()  # refused: nothing sent
    assert puts(sandbox_clean) == 0 and "tick" in app.messages.text
    assert app.why_not(Action.APPLY).code == ReasonCode.DESTRUCTIVE_NEEDS_CONSENT  # the code of the workflow
    app.consent_box.value = True
    assert not app.apply_button.disabled and app.workflow.consented
    # A new plan re-arms the box, and the workflow's consent with it.
    app.on_plan()
    assert app.consent_box.value is False and app.apply_button.disabled and not app.workflow.consented
    assert app.workflow.why_not(Action.APPLY).code == ReasonCode.DESTRUCTIVE_NEEDS_CONSENT
    app.consent_box.value = True
    app.on_apply()
    run = app.wait()
    assert run.counts["succeeded"] == 1 and puts(sandbox_clean) == 1
    got = conn.client.get_checkout_session(TARGET["id"])
    assert [p["first_name"] for p in got["airline"]["passengers"]] == ["Hanna"]


def test_patch_mode_toggle_needs_no_consent(conn: Connection, sandbox_clean: Sandbox, tmp_path: Path) -> None:
    app = one_row_app(conn, tmp_path)
    app.lists_mode.value = "patch"
    app.on_plan()
    assert app.plan.consent == "" and app.consent_box.layout.display == "none" and app.destructive_note.value == ""
    assert not app.apply_button.disabled
    app.on_apply()
    assert app.wait().counts["succeeded"] == 1
    got = conn.client.get_checkout_session(TARGET["id"])
    assert len(got["airline"]["passengers"]) == N and got["airline"]["passengers"][1]["first_name"] == "Hanna"
