"""The read side of runs: results_frame over a journal, and the list of runs in a folder."""

from __future__ import annotations

import pandas as pd
import pytest

from gr4vy_nb.tables.files import read_table
from gr4vy_nb.updates.journal import Journal
from gr4vy_nb.updates.plan import plan_updates
from gr4vy_nb.updates.results import list_runs, results_frame
from gr4vy_nb.updates.runs import apply_plan, resume_run
from gr4vy_nb.updates.states import STATUSES
from tests.updates.helpers import IDS, MISSING, WITH_CART, create_journal, tag_upload, writing_client

client = pytest.fixture(name="client")(writing_client)


def test_results_frame_counts_unfinished_rows_as_unprocessed(tmp_path, client, sandbox_clean):
    plan = plan_updates(tag_upload(tmp_path / "up", IDS[:3]), client=client)
    run = apply_plan(plan, client=client, runs_dir=tmp_path / "runs", first=0)
    assert run.results.status.tolist() == ["unprocessed"] * 3
    with Journal.open(run.journal) as j:  # as a kill -9 between "sending" and the answer leaves it
        j.mark(IDS[0], "sending")
    with Journal.open(run.journal, readonly=True) as j:
        frame = results_frame(j)
    assert frame.status.tolist() == ["unprocessed"] * 3 and "resume" in frame.message.iloc[0]
    done = resume_run(run.journal, client=client)
    assert done.counts["succeeded"] == 3
    assert isinstance(done.results, pd.DataFrame)


def test_meta_updates_and_list_runs(tmp_path):
    with create_journal(tmp_path / "a.sqlite", target="local sandbox emulator") as j:
        j.set_meta(state="finished", stop_reason=None)
        assert j.meta["state"] == "finished"
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 10)
    runs = list_runs(tmp_path)
    assert set(runs.run_id) == {"r1", "junk"}
    good = runs[runs.run_id == "r1"].iloc[0]
    assert (good.state, good.total, good.planned, good.skipped) == ("finished", 3, 2, 1)
    assert runs[runs.run_id == "junk"].iloc[0].state == "unreadable"
    assert list(runs.columns[:7]) == ["journal", "run_id", "kind", "created_at", "target", "merchant_account_id",
                                      "state"]
    assert all(s in runs.columns for s in STATUSES)
    assert list_runs(tmp_path / "missing").empty


def test_a_rolled_back_run_is_marked_by_its_rollback_which_is_named_as_its_journal(tmp_path, client, sandbox_clean,
                                                                                   capsys):
    from gr4vy_nb.cli import main
    from gr4vy_nb.updates.runs import rollback_preview, rollback_run

    runs = tmp_path / "runs"
    run = apply_plan(plan_updates(tag_upload(tmp_path / "up", IDS[:3]), client=client), client=client, runs_dir=runs)
    preview = rollback_preview(run.journal)
    assert len(preview.sessions) == 3 and preview.fields == ["metadata"] and preview.expired == []
    assert any("cannot be restored: expires_at" in line for line in preview.lines)
    undo = rollback_run(run.journal, client=client)
    assert undo.run_id == undo.journal.stem  # what is shown is what is on disk
    listed = list_runs(runs).set_index("run_id")
    assert listed.loc[run.run_id, "rolled_back_by"] == undo.run_id
    assert listed.loc[undo.run_id, "parent_run_id"] == run.run_id and pd.isna(listed.loc[undo.run_id,
                                                                                          "rolled_back_by"])
    assert rollback_preview(run.journal).rolled_back_by == [undo.run_id]
    capsys.readouterr()
    assert main(["runs", str(runs)]) == 0
    out = capsys.readouterr().out
    assert f"finished, rolled back by {undo.run_id}" in out


def test_errors_files_of_other_tables_are_written_only_when_they_hold_rows(tmp_path, client, sandbox_clean):
    def upload(folder, ids):
        folder.mkdir()
        (folder / "sessions.csv").write_text("checkout_session_id,metadata.tag\n" + "".join(f"{i},q4\n" for i in ids))
        (folder / "cart_items.csv").write_text("checkout_session_id,item_index,quantity\n"
                                               + "".join(f"{i},0,7\n" for i in ids))
        return folder

    clean = apply_plan(plan_updates(upload(tmp_path / "clean", WITH_CART[:2]), client=client, lists="patch"),
                       client=client, runs_dir=tmp_path / "runs")
    assert clean.ok and set(clean.files) == {"results", "succeeded", "errors"}
    assert [p.name for p in clean.files["errors"].parent.glob("errors*.csv")] == ["errors.csv"]
    failing = apply_plan(plan_updates(upload(tmp_path / "failing", [WITH_CART[2], MISSING]), client=client,
                                      lists="patch"), client=client, runs_dir=tmp_path / "runs")
    assert failing.counts["failed"] == 1 and failing.files["errors_cart_items"].is_file()
    rows = read_table(failing.files["errors_cart_items"]).frame
    assert rows[["checkout_session_id", "quantity"]].values.tolist() == [[MISSING, "7"]]
