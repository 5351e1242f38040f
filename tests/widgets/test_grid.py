"""gr4vy_nb.widgets.grid: the EditGrid and its model (issue 23, item 1).

Cells are typed as the browser types them: through the grid's own message handler (the value lands in the
grid's copy first, then the change event fires), so the traps of that event are exercised as they are.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gr4vy_nb.export import fetch_sessions
from gr4vy_nb.notebook_support import Connection
from gr4vy_nb.tables.masking import mask_value
from gr4vy_nb.tables.reader import read_tables
from gr4vy_nb.updates.threeway import compare_frames
from gr4vy_nb.widgets import EditGrid
from gr4vy_nb.widgets._editing import EditModel, lock_reason
from gr4vy_nb.widgets.grid import CHANGED
from tests.widgets.helpers import IDS, WITH_PASSENGERS


def _type(grid: EditGrid, row: int, column: str, value: Any) -> None:
    """What the browser sends when a cell is edited (double-click, type, Enter)."""
    index = grid.grid._column_name_to_index(column)
    grid.grid._DataGrid__handle_custom_msg(None, {"event_type": "cell-changed", "row": row, "column_index": index,
                                                  "value": value}, None)


def _shown(grid: EditGrid) -> pd.DataFrame:
    """What the grid holds now (its own copy, as the browser shows it)."""
    data = grid.grid._data["data"]
    return data.drop(columns=[c for c in ("key", "ipydguuid") if c in data.columns]).reset_index(drop=True)


def _row_of(grid: EditGrid, column: str, value: Any) -> int:
    return int(np.flatnonzero((_shown(grid)[column] == value).to_numpy())[0])


@pytest.fixture
def grid(conn: Connection) -> EditGrid:
    ids = [WITH_PASSENGERS[0]["id"], *IDS[:5]]
    return EditGrid(fetch_sessions(conn.client, ids).frames, conn)


def test_text_stays_text_and_types_are_kept(grid: EditGrid) -> None:
    grid.tabs.value = "cart_items"
    shown = _shown(grid)
    assert isinstance(shown["quantity"].dropna().iloc[0], int)
    _type(grid, 0, "sku", "021464")
    assert grid.model.work.cart_items.sku.iloc[0] == "021464"
    grid.show_raw.value = True
    grid.tabs.value = "passengers"
    for value in ("Null", "+441234567890"):
        _type(grid, 0, "last_name", value)
        assert grid.model.work.passengers.last_name.iloc[0] == value
        assert _shown(grid)["last_name"].iloc[0] == value


def test_a_typed_cell_is_highlighted_and_counted(grid: EditGrid) -> None:
    grid.tabs.value = "cart_items"
    _type(grid, 0, "quantity", 7)
    _type(grid, 1, "name", "Renamed")
    assert grid.count.value == "<b>2 cells changed in 1 session</b>" or "2 cells changed in" in grid.count.value
    shown = _shown(grid)
    assert shown[CHANGED].iloc[0] == ",quantity," and shown[CHANGED].iloc[1] == ",name,"
    expr = grid.grid.renderers["quantity"].background_color.value
    assert f"cell.metadata.data['{CHANGED}']" in expr and ",quantity," in expr


def test_a_refused_value_is_reverted_with_its_reason(grid: EditGrid) -> None:
    grid.tabs.value = "cart_items"
    before = _shown(grid)["quantity"].iloc[0]
    _type(grid, 0, "quantity", "many")
    assert _shown(grid)["quantity"].iloc[0] == before
    assert "quantity" in grid.refused.value and "cart_items, session" in grid.refused.value
    assert grid.model.edits().empty


@pytest.mark.parametrize(("table", "column"), [("sessions", "checkout_session_id"), ("sessions", "expires_at"),
                                               ("cart_items", "item_index"), ("sessions", "extra")])
def test_locked_columns_refuse_every_change(grid: EditGrid, table: str, column: str) -> None:
    grid.tabs.value = table
    before = _shown(grid)[column].iloc[0]
    _type(grid, 0, column, "2030-01-01T00:00:00Z" if column == "expires_at" else "x")
    assert _shown(grid)[column].iloc[0] == before and grid.model.edits().empty
    assert column in grid.refused.value


def test_payment_method_columns_are_locked() -> None:
    from gr4vy_nb.tables import spec as F

    columns = [c for c in F.columns("sessions") if c.startswith("payment_method.")]
    assert columns and all(lock_reason("sessions", c, show_personal=True) for c in columns)


def test_a_masked_value_never_becomes_an_edit(grid: EditGrid, conn: Connection) -> None:
    grid.tabs.value = "passengers"
    shown = _shown(grid)["first_name"].iloc[0]
    assert "#" in shown and "***" in shown  # masked by default
    _type(grid, 0, "first_name", "Someone")  # masked columns are locked
    _type(grid, 0, "first_name", shown)
    assert grid.model.edits().empty and "personal data" in grid.refused.value
    grid.show_raw.value = True
    token = mask_value("first_name", "Zoltan", "passengers")
    _type(grid, 0, "first_name", token)  # a mask token typed, even with personal data shown
    assert grid.model.edits().empty and "masked value" in grid.refused.value
    grid.value.value = token
    grid.column.value = "first_name"
    grid.on_set_shown()
    grid.find.value, grid.replace.value = grid.model.work.passengers.first_name.iloc[0], token
    grid.on_find_replace()
    assert grid.model.edits().empty
    upload = grid.model.upload()
    for t in upload.tables.values():
        assert not t.text.astype(str).apply(lambda s: s.str.contains(r"\*\*\*", regex=True)).any().any()


def test_find_and_replace_on_a_filtered_view(grid: EditGrid) -> None:
    grid.tabs.value = "cart_items"
    first = str(grid.model.work.cart_items.checkout_session_id.iloc[0])
    grid.filter_column.value = "checkout_session_id"
    grid.filter_text.value = first
    grid.on_filter()
    n_shown = len(_shown(grid))
    assert 0 < n_shown < len(grid.model.work.cart_items)
    grid.column.value = "name"
    grid.find.value, grid.replace.value = "a", "A"
    grid.on_find_replace()
    cells = grid.model.edits().cells()
    assert set(cells.checkout_session_id) == {first} and (cells.column == "name").all()
    assert all(a == b.replace("a", "A") for a, b in zip(cells.after, cells.before, strict=True))


def test_set_value_on_selected_and_shown_rows_and_fill_down(grid: EditGrid) -> None:
    grid.tabs.value = "cart_items"
    grid.column.value = "quantity"
    grid.value.value = "9"
    grid.grid.select(0, 3, 2, 3)
    grid.on_set_selected()
    assert grid.model.work.cart_items.quantity.iloc[:3].tolist() == [9, 9, 9]
    grid.value.value = "2"
    grid.on_set_shown()
    assert (grid.model.work.cart_items.quantity == 2).all()
    grid.on_reset()
    grid.column.value = "name"
    grid.grid.select(0, 3, 3, 3)
    grid.on_fill_down()
    names = grid.model.work.cart_items.name.iloc[:4].tolist()
    assert names == [names[0]] * 4


def test_undo_redo_reset(grid: EditGrid) -> None:
    grid.tabs.value = "cart_items"
    _type(grid, 0, "quantity", 5)
    _type(grid, 1, "quantity", 6)
    assert len(grid.model.edits()) == 2
    grid.on_undo()
    assert len(grid.model.edits()) == 1 and _shown(grid)["quantity"].iloc[1] != 6
    grid.on_redo()
    assert len(grid.model.edits()) == 2
    grid.on_reset()
    assert grid.model.edits().empty and "no edits" in grid.count.value


def test_add_and_remove_a_passenger_then_plan_asks_consent_and_apply_writes_exactly_that(
        grid: EditGrid, conn: Connection) -> None:
    sid = WITH_PASSENGERS[0]["id"]
    before = conn.client.get_checkout_session(sid)["airline"]["passengers"]
    grid.show_raw.value = True
    grid.tabs.value = "passengers"
    grid.session.value = sid
    grid.on_add_row()
    new = int(np.flatnonzero(grid.model.work.passengers.passenger_index.isna())[0])
    for column, value in (("first_name", "Ada"), ("last_name", "Lovelace")):
        _type(grid, new, column, value)
    grid.grid.select(0, 2)  # the session's passenger #0
    grid.on_remove_rows()
    assert "1 passenger added; 1 passenger removed" in grid.count.value
    grid.on_plan()
    plan = grid.bulk.current_plan
    assert plan is not None and plan.ok, plan.problems if plan is not None else grid.messages.text
    assert plan.consent and "destructive" in grid.plan_html.value
    assert grid.buttons["apply"].disabled
    grid.consent.value = True
    assert not grid.buttons["apply"].disabled
    grid.on_apply()
    assert grid.bulk.run is not None and grid.bulk.run.ok, grid.messages.text
    after = conn.client.get_checkout_session(sid)["airline"]["passengers"]
    assert [p["first_name"] for p in after] == [p["first_name"] for p in before[1:]] + ["Ada"]
    # the run is a run like any other: its journal rolls it back
    assert Path(str(grid.bulk.run.journal)).exists()
    grid.bulk.rollback()
    restored = conn.client.get_checkout_session(sid)["airline"]["passengers"]
    assert [p["first_name"] for p in restored] == [p["first_name"] for p in before]


def test_plan_without_edits_says_so(grid: EditGrid) -> None:
    grid.on_plan()
    assert "nothing to plan" in grid.messages.text and grid.bulk is None


def test_save_edits_as_csv_and_xlsx(grid: EditGrid, tmp_path: Path) -> None:
    grid.tabs.value = "cart_items"
    _type(grid, 0, "quantity", 4)
    grid.path.value = str(tmp_path / "edits")
    grid.on_save()
    assert (tmp_path / "edits" / "cart_items.csv").is_file()
    tables, _problems = read_tables(tmp_path / "edits")
    assert int((tables["cart_items"].text["quantity"] == "4").sum()) == 1
    assert tables["cart_items"].text["row_version"].iloc[0].startswith("v")  # checked for changes made since
    grid.path.value = str(tmp_path / "edits.xlsx")
    grid.on_save()
    assert (tmp_path / "edits.xlsx").is_file()
    # applied later as files: the same diff as the grid's own plan
    from gr4vy_nb.updates.plan import plan_updates

    client = grid.connection.client
    planned = [plan_updates(source, client=client).diff[["checkout_session_id", "path", "after"]]
               for source in (grid.upload(), tmp_path / "edits", tmp_path / "edits.xlsx")]
    assert len(planned[0]) == 1 and all(p.equals(planned[0]) for p in planned[1:])


def test_edits_are_computed_from_the_frames_not_from_events(conn: Connection) -> None:
    frames = fetch_sessions(conn.client, IDS[:3]).frames
    model = EditModel(frames)
    model.set_cell("cart_items", 0, "quantity", 3)
    model.set_cell("cart_items", 0, "quantity", int(frames.cart_items.quantity.iloc[0]))  # back to the original
    assert model.edits().empty
    assert compare_frames(model.base, model.work).empty


def test_masked_frames_are_refused_by_the_model(conn: Connection) -> None:
    frames = fetch_sessions(conn.client, IDS[:3]).frames
    with pytest.raises(ValueError, match="masked"):
        EditModel(frames.masked())


def test_ten_thousand_cart_items_open_and_edit_quickly() -> None:
    import time

    from gr4vy_nb.tables.frames import SessionFrames

    n = 10_000
    sessions = pd.DataFrame({"checkout_session_id": [f"{i:08d}-0000-4000-8000-000000000000" for i in range(1000)]})
    items = pd.DataFrame({"checkout_session_id": np.repeat(sessions.checkout_session_id.to_numpy(), n // 1000),
                          "item_index": np.tile(np.arange(n // 1000), 1000), "name": "thing", "quantity": 1,
                          "unit_amount": 100})
    frames = SessionFrames(sessions, items).remember()
    started = time.perf_counter()
    grid = EditGrid(frames)
    grid.tabs.value = "cart_items"
    opened = time.perf_counter() - started
    started = time.perf_counter()
    _type(grid, 5000, "quantity", 2)
    edited = time.perf_counter() - started
    assert len(_shown(grid)) == n and len(grid.model.edits()) == 1
    assert opened < 10 and edited < 2, (opened, edited)


def test_the_browser_echo_of_a_value_put_back_is_no_edit(grid: EditGrid) -> None:
    """ipydatagrid's browser side sends every value the kernel puts into a cell back as a change."""
    grid.tabs.value = "cart_items"
    _type(grid, 0, "quantity", "7")
    pushed = dict(grid._pushed)
    assert pushed[(0, "quantity")] == 7 and pushed[(0, CHANGED)] == ",quantity,"
    for (row, column), value in pushed.items():  # the echoes
        _type(grid, row, column, value)
    assert len(grid.model._undo) == 1 and not grid._pushed and len(grid.model.edits()) == 1


def test_fetch_by_id_and_load_a_jsonl_or_an_export_folder(conn: Connection, tmp_path: Path) -> None:
    from gr4vy_nb.export import export_sessions

    grid = EditGrid(connection=conn)
    grid.ids_box.value = "\n".join(IDS[:4])
    grid.on_fetch()
    assert grid.model is not None and len(grid.model.base) == 4 and not grid.messages.errors
    export_sessions(IDS[4:7], conn.client, tmp_path / "export")
    grid.source.value = str(tmp_path / "export")
    grid.on_load()
    assert len(grid.model.base) == 3 and grid.model.edits().empty, grid.messages.text
    fetch_sessions(conn.client, IDS[7:9]).frames.to_jsonl(tmp_path / "s.jsonl")
    grid.source.value = str(tmp_path / "s.jsonl")
    grid.on_load()
    assert len(grid.model.base) == 2
    grid.tabs.value = "cart_items"
    _type(grid, 0, "quantity", 11)
    upload = grid.upload()
    assert upload.base is not None and list(upload.tables) == ["cart_items"]


def test_a_sorted_view_edits_the_row_shown_not_the_row_at_that_position(grid: EditGrid) -> None:
    grid.tabs.value = "cart_items"
    grid.sort_column.value = "name"
    shown = _shown(grid)
    assert shown["name"].tolist() == sorted(shown["name"].tolist())
    target = shown.iloc[0]
    _type(grid, 0, "quantity", 99)
    cells = grid.model.edits().cells()
    assert len(cells) == 1 and cells.checkout_session_id.iloc[0] == target["checkout_session_id"]
    assert int(cells["index"].iloc[0]) == int(target["item_index"]) and cells.after.iloc[0] == "99"


def test_removing_every_passenger_of_a_session_clears_its_list(grid: EditGrid) -> None:
    sid = WITH_PASSENGERS[0]["id"]
    grid.tabs.value = "passengers"
    rows = np.flatnonzero((grid.model.work.passengers.checkout_session_id == sid).to_numpy())
    grid.model.remove_rows("passengers", rows.tolist())
    upload = grid.model.upload()
    assert upload.tables["sessions"].text["airline.passengers"].tolist() == ["#N/A"]


def test_a_required_field_cannot_be_emptied(grid: EditGrid) -> None:
    grid.tabs.value = "cart_items"
    _type(grid, 0, "quantity", "")
    assert "quantity is required for each cart item" in grid.refused.value and grid.model.edits().empty


def test_no_masked_display_of_any_personal_value_becomes_an_edit(conn: Connection) -> None:
    """Every personal column of every table: its masked display typed back is refused, masked or not shown."""
    from gr4vy_nb.tables import spec as F

    frames = fetch_sessions(conn.client, [WITH_PASSENGERS[0]["id"], *IDS[:20]]).frames
    model = EditModel(frames)
    tried = 0
    for table in F.TABLES:
        df = model.work[table]
        for column in F.personal_columns(table):
            if column not in df.columns or not df[column].notna().any():
                continue
            row = int(np.flatnonzero(df[column].notna().to_numpy())[0])
            token = mask_value(column, df[column].iloc[row], table)
            for shown in (False, True):
                model.show_personal = shown
                assert model.set_cell(table, row, column, token) is not None, (table, column, shown)
                tried += 1
    assert tried >= 10 and model.edits().empty
    assert not model.can_undo


def test_the_grids_own_column_filter_narrows_the_rows_shown(grid: EditGrid) -> None:
    """ipydatagrid's header filters run in the browser; it syncs the rows left visible (dataset rows)."""
    grid.tabs.value = "cart_items"
    grid.grid._visible_rows = [2, 4]
    grid.column.value = "quantity"
    grid.value.value = "3"
    grid.on_set_shown()
    cells = grid.model.edits().cells()
    keys = grid.model.work.cart_items.iloc[[2, 4]][["checkout_session_id", "item_index"]]
    assert sorted(zip(cells.checkout_session_id, cells["index"].astype(int), strict=True)) == sorted(
        zip(keys.checkout_session_id, keys.item_index.astype(int), strict=True))


def test_date_times_are_typed_in_the_grids_schema_and_edited_as_text(grid: EditGrid) -> None:
    fields = {f["name"]: f["type"] for f in grid.grid._data["schema"]["fields"]}
    assert fields["expires_at"] == "datetime" and fields["checkout_session_id"] == "string"
    grid.tabs.value = "passengers"
    grid.show_raw.value = True
    fields = {f["name"]: f["type"] for f in grid.grid._data["schema"]["fields"]}
    assert fields["passenger_index"] == "integer"


def test_the_plans_problems_are_grouped_as_in_the_bulk_app(grid: EditGrid, conn: Connection) -> None:
    """A cell changed on both sides is a conflict: shown grouped by table, column and rule, expandable to cells."""
    grid.tabs.value = "cart_items"
    sid = _shown(grid)["checkout_session_id"].iloc[0]
    _type(grid, 0, "name", "Renamed here")
    live = conn.client.get_checkout_session(sid)
    items = [dict(i) for i in live["cart_items"]]
    items[0]["name"] = "Renamed elsewhere"
    conn.client.update_checkout_session(sid, {"cart_items": items})
    try:
        grid.on_plan()
        plan = grid.bulk.current_plan
        assert plan is not None and not plan.ok
        assert grid.problems.widget.layout.display is None
        groups = grid.problems.summary
        assert groups[["column", "rule", "count"]].astype(object).values.tolist() == [["name", "stale", 1]]
        assert "nothing can be applied" in grid.plan_html.value
        grid.problems.choice.value = 0
        assert "conflict in cart_items" in grid.problems.cells.frame["message"].iloc[0]
        grid.on_reset()  # the plan is forgotten with the edits
        assert grid.problems.widget.layout.display == "none"
    finally:
        items[0]["name"] = live["cart_items"][0]["name"]
        conn.client.update_checkout_session(sid, {"cart_items": items})


def _edit_names(grid: EditGrid, conn: Connection, n: int) -> list[str]:
    """``n`` sessions fetched into the grid, the first cart item of each that has one renamed; their ids."""
    grid.load(fetch_sessions(conn.client, IDS[:n]).frames)
    grid.tabs.value = "cart_items"
    shown = _shown(grid)
    edited = []
    for sid in IDS[:n]:
        rows = np.flatnonzero((shown["checkout_session_id"] == sid).to_numpy())
        if len(rows):
            _type(grid, int(rows[0]), "name", f"renamed {sid[:8]}")
            edited.append(sid)
    assert len(edited) > n // 2
    return edited


def test_a_clicked_plan_runs_in_the_background_and_cancel_stops_it_with_nothing_sent(
        grid: EditGrid, conn: Connection, sandbox_clean: Any) -> None:
    """As in the bulk app: a click returns at once, the grid takes no typing, Cancel ends it, nothing is sent."""
    import time

    edited = _edit_names(grid, conn, 30)
    sandbox_clean.configure(latency_ms=200)
    writes_before = dict(sandbox_clean.stats()["writes"])
    grid.on_plan(object())  # what a click passes: returns at once
    assert grid.working and grid.planner.running
    assert not grid.grid.editable and all(b.disabled for b in grid.buttons.values())
    assert not grid.plan_cancel.disabled and grid.plan_cancel.layout.display is None
    deadline = time.monotonic() + 10
    while "fetching <b" not in grid.plan_progress.value and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "data-counter='done'" in grid.plan_progress.value, grid.plan_progress.value
    started = time.monotonic()
    grid.on_cancel_plan()
    assert grid.planner.wait(10) is None
    assert time.monotonic() - started < 2.0
    assert "plan cancelled: nothing was sent" in grid.messages.text
    assert grid.bulk.current_plan is None and dict(sandbox_clean.stats()["writes"]) == writes_before
    assert not grid.working and grid.grid.editable and grid.plan_cancel.layout.display == "none"
    assert not grid.buttons["plan"].disabled and grid.buttons["apply"].disabled
    sandbox_clean.configure(latency_ms=0)
    grid.on_plan()  # from code: waits, so the next line sees the plan
    assert grid.bulk.current_plan is not None and grid.bulk.current_plan.ok
    assert f"fetched {len(edited)} session(s)" in grid.plan_progress.value


def test_a_clicked_apply_shows_its_progress_and_cancel_leaves_the_rest_resumable(
        grid: EditGrid, conn: Connection, sandbox_clean: Any) -> None:
    import time

    ids = _edit_names(grid, conn, 40)
    grid.on_plan()
    plan = grid.bulk.current_plan
    assert plan is not None and plan.ok and len(plan.diff), grid.messages.text
    sandbox_clean.configure(latency_ms=150)
    grid.on_apply(object())
    assert grid.working and grid.runner.running and not grid.grid.editable
    assert all(b.disabled for b in grid.buttons.values()) and not grid.runner.cancel_button.disabled
    deadline = time.monotonic() + 20
    while sum(dict(sandbox_clean.stats()["writes"]).values()) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    grid.runner.on_cancel()  # the run panel's Cancel, shown under Apply
    run = grid.runner.wait(30)
    assert run.state == "cancelled", run.describe()
    assert 0 < run.counts["succeeded"] < len(ids) and run.counts["unprocessed"] > 0
    assert "cancelled" in grid.result.value and "resume it or roll it back" in grid.messages.text
    assert not grid.working and grid.grid.editable
    # What was not sent is resumable, from the same journal.
    sandbox_clean.configure(latency_ms=0)
    resumed = grid.bulk.resume()
    assert resumed.ok and resumed.counts["unprocessed"] == 0
    for sid in ids:
        assert conn.client.get_checkout_session(sid)["cart_items"][0]["name"] == f"renamed {sid[:8]}"
