"""EditGrid: edit the four tables of the sessions at hand in the notebook, then plan, consent and apply.

An ipydatagrid ``DataGrid`` shows one table at a time; every change goes through the
:class:`~gr4vy_nb.widgets._editing.EditModel` (checked by the cell rules, locked and masked columns refused,
the grid put back with the reason beside it when refused), and the grid only displays the model. The traps of
the grid's change event are closed here: it carries no old value (the model holds it), it also fires for
changes made by code (ignored while the shell writes to the grid), it gives a row position (mapped to the
row shown, whose key the model knows), and it lands in the grid's own copy before any check (put back when
refused). The edits are computed by comparing with the fetched state, never from these events.

The plan is made by :class:`~gr4vy_nb.updates.workflow.BulkUpdate` from the same upload a CSV would be, so
plan, diff, consent (removed elements), PRODUCTION confirmation, journal, ``errors.csv``, resume and
rollback behave as for files. Plan and Apply run off the kernel's main thread, as in the bulk app: the
plan's reads with done/total and a Cancel (no plan, nothing sent), the run in a
:class:`~gr4vy_nb.widgets._runner.RunPanel` (progress, Cancel: requests in flight finish, the rest stay
unprocessed and resumable). The grid takes no typing while either is under way (the edits planned are the
ones applied).
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as w
import numpy as np
import pandas as pd
from ipydatagrid import TextRenderer, VegaExpr

from ..errors import InputError
from ..tables import spec as F
from ..tables.cells import format_column
from ..tables.masking import mask_frame
from ._background import Background, Pace, duration
from ._common import Confirmation, Messages, ProblemsView, Table, busy
from ._editing import EditModel, Refusal
from ._grid_data import CHANGED, Grid, column_types, grid_frame, save_edits
from ._plan_view import destructive_html, summary_html
from ._runner import RunPanel

__all__ = ["CHANGED", "COLUMN_WIDTH", "ROW_HEADER_WIDTH", "ROW_HEIGHT", "EditGrid", "save_edits"]

_NOTHING = object()
_TABLES = tuple(F.TABLES)
COLUMN_WIDTH, ROW_HEIGHT, ROW_HEADER_WIDTH = 100, 22, 48
"""The grid's geometry in pixels (a browser test finds a cell by it: the grid is drawn on a canvas)."""
_HIGHLIGHT = "#fde68a"
_LOCKED = "#f3f4f6"


class EditGrid:
    """An editable grid over the four tables of the sessions at hand, feeding the same plan, consent and journal.

    Args:
        frames: the sessions (:class:`~gr4vy_nb.tables.frames.SessionFrames`, e.g. fetched in notebook 01 or by
            :meth:`fetch`); they remember the state they were fetched in, the base of the edits.
        connection: the target (:func:`~gr4vy_nb.notebook_support.connect`); needed to plan and apply.

    Handlers (``on_cell_change``, ``on_find_replace``, ``on_plan``, ``on_apply``, ...) may be called directly.
    :attr:`model` holds the edits (``grid.model.edits()``), :attr:`bulk` the bulk update once planned.
    """

    def __init__(self, frames: Any = None, connection: Any = None) -> None:
        self.connection = connection
        self.messages = Messages()
        self.model: EditModel | None = None
        self.bulk: Any = None
        self.table = "sessions"
        self.rows = np.zeros(0, dtype=np.int64)  # the working rows shown, in order
        self._writing = False
        self._pushed: dict[tuple[int, str], Any] = {}  # values put into the grid by this shell, until echoed
        self.grid = Grid(pd.DataFrame({CHANGED: []}), editable=True, selection_mode="cell",
                             layout=w.Layout(height="360px"), base_column_size=COLUMN_WIDTH,
                             base_row_size=ROW_HEIGHT, base_column_header_size=ROW_HEIGHT,
                             base_row_header_size=ROW_HEADER_WIDTH)
        self.grid.add_class("gr4vy-grid")
        self.grid.on_cell_change(self.on_cell_change)
        self.count = w.HTML("no edits")
        self.count.add_class("gr4vy-grid-count")
        self.refused = w.HTML("")
        self.refused.add_class("gr4vy-grid-refused")
        self.tabs = w.ToggleButtons(options=list(_TABLES), value="sessions")
        self.tabs.add_class("gr4vy-grid-tables")
        self.show_raw = w.Checkbox(value=False, description="show personal data", indent=False)
        self.show_raw.add_class("gr4vy-grid-show-raw")
        self.filter_column = w.Dropdown(options=[], description="filter", layout=w.Layout(width="260px"))
        self.filter_text = w.Text(placeholder="contains", layout=w.Layout(width="180px"))
        self.sort_column = w.Dropdown(options=[""], description="sort by", layout=w.Layout(width="260px"))
        self.column = w.Dropdown(options=[], description="column", layout=w.Layout(width="260px"))
        self.find = w.Text(placeholder="find", layout=w.Layout(width="140px"))
        self.replace = w.Text(placeholder="replace with", layout=w.Layout(width="140px"))
        self.value = w.Text(placeholder="value", layout=w.Layout(width="140px"))
        self.session = w.Dropdown(options=[], description="session", layout=w.Layout(width="420px"))
        self.path = w.Text(placeholder="save to: a folder (four CSVs) or a .xlsx file", layout=w.Layout(width="50%"))
        for widget, name in ((self.filter_column, "filter-column"), (self.filter_text, "filter-text"),
                             (self.sort_column, "sort-column"), (self.column, "column"), (self.find, "find"),
                             (self.replace, "replace-text"), (self.value, "value"), (self.session, "session"),
                             (self.path, "path")):
            widget.add_class(f"gr4vy-grid-{name}")
        self.consent = w.Checkbox(value=False, description="I consent to the destructive changes listed",
                                  indent=False, layout=w.Layout(width="auto", display="none"))
        self.consent.add_class("gr4vy-grid-consent")
        self.plan_html = w.HTML("")
        self.plan_html.add_class("gr4vy-grid-plan-summary")
        self.problems = ProblemsView(page_length=5)  # the plan's problems grouped, as the bulk app shows them
        self.problems.widget.add_class("gr4vy-grid-problems")
        self.problems.widget.layout.display = "none"
        self.shown = w.HTML("")
        self.shown.add_class("gr4vy-grid-shown")
        self.last = w.HTML("")
        self.last.add_class("gr4vy-grid-last")
        self.diff = Table(page_length=10)
        self.result = w.HTML("")
        self.result.add_class("gr4vy-grid-result")
        # Plan and Apply off the main thread (see the module docstring).
        self.planner = Background("plan", self.messages, on_state=self._on_work_state)
        self.plan_progress = w.HTML("")
        self.plan_progress.add_class("gr4vy-grid-plan-progress")
        self.plan_cancel = w.Button(description="Cancel", icon="stop", button_style="warning",
                                    tooltip="stop the plan: no plan is made, nothing is sent",
                                    layout=w.Layout(width="auto", display="none"))
        self.plan_cancel.add_class("gr4vy-grid-plan-cancel")
        self.plan_cancel.on_click(self.on_cancel_plan)
        self.runner = RunPanel(self.messages, on_state=self._on_work_state)
        self.confirmation = Confirmation(connection.settings, on_change=lambda: self._update_buttons()) \
            if connection is not None else None
        self.ids_box = w.Textarea(placeholder="session ids to fetch: one per line, or separated by commas",
                                  layout=w.Layout(width="60%", height="60px"))
        self.source = w.Text(placeholder="or a path: a JSONL export, or an export folder (sessions.csv, ...)",
                             layout=w.Layout(width="60%"))
        self.ids_box.add_class("gr4vy-grid-ids")
        self.source.add_class("gr4vy-grid-source")
        self.buttons: dict[str, w.Button] = {}
        for name, label, handler in (
                ("filter", "Filter", self.on_filter), ("unfilter", "Show all", self.on_unfilter),
                ("replace", "Replace in shown rows", self.on_find_replace),
                ("set_selected", "Set on selected rows", self.on_set_selected),
                ("set_shown", "Set on shown rows", self.on_set_shown),
                ("fill_down", "Fill down selection", self.on_fill_down),
                ("add", "Add a row", self.on_add_row), ("remove", "Remove selected rows", self.on_remove_rows),
                ("undo", "Undo", self.on_undo), ("redo", "Redo", self.on_redo), ("reset", "Reset", self.on_reset),
                ("plan", "Plan", self.on_plan), ("apply", "Apply", self.on_apply),
                ("fetch", "Fetch sessions", self.on_fetch), ("load", "Load path", self.on_load),
                ("save", "Save edits", self.on_save)):
            b = w.Button(description=label, layout=w.Layout(width="auto"))
            b.add_class(f"gr4vy-grid-{name.replace('_', '-')}")
            b.on_click(handler)
            self.buttons[name] = b
        self.buttons["plan"].button_style = "primary"
        self.buttons["apply"].button_style = "danger"
        self.tabs.observe(self._on_table, names="value")
        self.show_raw.observe(self._on_show_raw, names="value")
        self.sort_column.observe(self._on_sort, names="value")
        self.filter_text.observe(self._on_filter_change, names="value")
        self.filter_column.observe(self._on_filter_change, names="value")
        self.consent.observe(lambda _c: self._update_buttons(), names="value")
        b = self.buttons
        target = connection.settings.target if connection is not None else "no target: plan and apply disabled"
        self.widget = w.VBox([
            w.HTML(f"<b>Edit sessions in the notebook</b> &middot; {html.escape(str(target))}"),
            w.HBox([self.ids_box, b["fetch"]]), w.HBox([self.source, b["load"]]),
            w.HBox([self.tabs, self.show_raw]),
            w.HBox([self.filter_column, self.filter_text, b["filter"], b["unfilter"], self.sort_column]),
            w.HBox([self.column, self.find, self.replace, b["replace"]]),
            w.HBox([self.value, b["set_selected"], b["set_shown"], b["fill_down"]]),
            w.HBox([self.session, b["add"], b["remove"]]),
            w.HBox([b["undo"], b["redo"], b["reset"], self.count]),
            w.HBox([self.shown, self.last]), self.refused, self.grid, self.messages.widget,
            w.HBox([self.path, b["save"]]),
            w.HBox([b["plan"], self.plan_cancel, self.plan_progress]), self.plan_html, self.problems.widget,
            self.diff.widget, self.consent,
            *(self.confirmation.widgets if self.confirmation is not None else []),
            w.HBox([b["apply"]]), self.runner.widget, self.result,
        ])
        if frames is not None:
            self.load(frames)
        self._update_buttons()

    # ------------------------------------------------------------------ loading

    def load(self, frames: Any) -> None:
        """Take these sessions (their base: the state they were fetched in); any edits are dropped."""
        self.model = EditModel(frames)
        self.model.show_personal = bool(self.show_raw.value)
        self.session.options = [str(s) for s in self.model.base.sessions[F.KEY].tolist()]
        self.session.value = self.session.options[0] if self.session.options else None
        self._forget_plan()
        self._on_table()

    def on_fetch(self, _button: Any = None) -> None:
        """Fetch the sessions whose ids are in the box and take them (any edits are dropped)."""
        with busy(list(self.buttons.values()), self.messages, on_done=self._update_buttons):
            from ..notebook_support import parse_session_ids

            ids, rejected = parse_session_ids(self.ids_box.value)
            if rejected:
                self.messages.warn(f"{len(rejected)} value(s) are not session ids and were skipped")
            if not ids:
                raise InputError("no session ids to fetch: paste some in the box")
            self.fetch(ids)
            self.messages.ok(f"fetched {len(self.model.base) if self.model else 0} session(s)")

    def on_load(self, _button: Any = None) -> None:
        """Load the path in the box: a JSONL export, or an export folder (its content is the base of the edits)."""
        with busy(list(self.buttons.values()), self.messages, on_done=self._update_buttons):
            raw = self.source.value.strip().strip("'\"")
            if not raw:
                raise InputError("type the path of a JSONL export or of an export folder first")
            self.load_path(Path(raw).expanduser())
            self.messages.ok(f"loaded {len(self.model.base) if self.model else 0} session(s) from {raw}")

    def load_path(self, path: Path) -> None:
        """Take the sessions of a JSONL file or an export folder (as exported: its cells are the base of the edits).

        Planned edits are judged three ways against that base, so export the sessions again rather than edit
        files an editor already changed.
        """
        from ..tables.frames import SessionFrames

        if path.is_dir():
            self.load(SessionFrames.read_csv(path).remember())
        elif path.is_file():
            self.load(SessionFrames.read_jsonl(path))
        else:
            raise InputError(f"{path}: no such file or folder")

    def upload(self) -> Any:
        """The edits as the upload a CSV would be: ``BulkUpdate.load(grid.upload())`` plans them in code."""
        if self.model is None:
            raise InputError("no sessions loaded")
        return self.model.upload()

    def fetch(self, ids: list[str]) -> None:
        """Fetch the sessions by id from the connection's target and take them (see :meth:`load`)."""
        from ..export import fetch_sessions

        if self.connection is None:
            raise InputError("no connection: give EditGrid(connection=connect())")
        fetched = fetch_sessions(self.connection.client, ids)
        self.load(fetched.frames)

    # ------------------------------------------------------------------ showing

    def _on_table(self, _change: Any = None) -> None:
        self.table = self.tabs.value
        if self.model is None:
            return
        columns = [str(c) for c in self.model.work[self.table].columns]
        editable = [c for c in columns if self.model.locked(self.table, c) is None]
        self._writing = True  # the filter's observers wait until the table is shown
        try:
            self.filter_column.options = columns
            self.filter_column.value = F.KEY
            self.sort_column.options = ["", *columns]
            self.sort_column.value = ""
            self.column.options = editable or columns
            self.column.value = self.column.options[0] if self.column.options else None
            self.filter_text.value = ""
        finally:
            self._writing = False
        self.rows = np.arange(len(self.model.work[self.table]), dtype=np.int64)
        self._show(renderers=True)

    def _on_show_raw(self, _change: Any = None) -> None:
        if self.model is not None:
            self.model.show_personal = bool(self.show_raw.value)
            self._on_table()

    def _renderers(self) -> dict[str, TextRenderer]:
        assert self.model is not None
        out = {}
        for column in self.model.work[self.table].columns:
            colour = _LOCKED if self.model.locked(self.table, str(column)) else "white"
            expr = f"indexof(cell.metadata.data['{CHANGED}'], ',{column},') >= 0 ? '{_HIGHLIGHT}' : '{colour}'"
            out[str(column)] = TextRenderer(background_color=VegaExpr(expr))
        out[CHANGED] = TextRenderer(background_color=_LOCKED, text_color="#6b7280")
        return out

    def _show(self, renderers: bool = False) -> None:
        """Put the rows shown into the grid, and the count of changes beside it."""
        assert self.model is not None
        sort = self.sort_column.value
        if sort:
            values = self.model.work[self.table][sort].iloc[self.rows].reset_index(drop=True)
            self.rows = self.rows[values.argsort(kind="stable").to_numpy()]
        shown = self.model.display(self.table)
        edits = self.model.edits()
        frame = grid_frame(shown, self.model.changed(self.table, edits), self.rows)
        self._writing = True
        try:
            if renderers:
                self.grid.renderers = self._renderers()
            self.grid.types = column_types(self.model.work[self.table])
            self.grid.data = frame
            self._pushed.clear()
        finally:
            self._writing = False
        self._count(edits)

    def _count(self, edits: Any = None) -> None:
        assert self.model is not None
        self.count.value = f"<b>{html.escape((edits or self.model.edits()).summary())}</b>"
        total = len(self.model.work[self.table])
        self.shown.value = (f"<span style='color:#6b7280'>{self.table}: showing {len(self.rows):,} of {total:,} "
                            "rows</span>")
        self._update_buttons()

    def _refusals(self, refusals: list[Refusal]) -> None:
        if not refusals:
            self.refused.value = ""
            return
        shown = "".join(f"<li>{html.escape(str(r))}</li>" for r in refusals[:8])
        more = f"<li>... and {len(refusals) - 8} more</li>" if len(refusals) > 8 else ""
        self.refused.value = (f"<div style='color:#b91c1c'><b>refused ({len(refusals)}), nothing changed there:"
                              f"</b><ul style='margin:2px 0'>{shown}{more}</ul></div>")

    # ------------------------------------------------------------------ editing

    def on_cell_change(self, cell: dict[str, Any]) -> None:
        """A cell typed in the grid: checked by the model; put back with the reason when refused."""
        if self._writing or self.model is None:
            return  # a change made by this shell, not by the user
        column, row = str(cell["column"]), int(cell["row"])
        if self._pushed.pop((row, column), _NOTHING) == cell["value"]:
            return  # the browser echoing a value this shell put into the grid
        if column == CHANGED or not 0 <= row < len(self.rows):
            self._show_row(row, column) if 0 <= row < len(self.rows) else self._show()
            return
        at = int(self.rows[row])
        refusal = self.model.set_cell(self.table, at, column, cell["value"])
        self._refusals([refusal] if refusal else [])
        if refusal is None:
            sid, index = self.model.where(self.table, at)
            element = "" if self.table == "sessions" else f", #{'new' if index is None else index}"
            self.last.value = f"<span style='color:#15803d'>changed {self.table}, {html.escape(sid)}{element}, " \
                              f"{html.escape(column)}</span>"
        self._show_row(row, column)
        self._forget_plan()

    def _show_row(self, row: int, column: str) -> None:
        """Put one shown row's cell (as the model holds it now) and its changed marks back into the grid."""
        assert self.model is not None
        at = int(self.rows[row])
        part = self.model.work[self.table].iloc[[at]]
        if not self.show_raw.value:
            part = mask_frame(self.table, part)
        edits = self.model.edits()
        changed = {c: m[[at]] for c, m in self.model.changed(self.table, edits).items()}
        shown = grid_frame(part, changed, np.zeros(1, dtype=np.int64))
        self._writing = True
        try:
            for name in dict.fromkeys((column, CHANGED)):
                value = shown[name].iloc[0]
                value = None if value is pd.NA else value
                # The browser sends every value it is given back as a change: remembered, to be told apart.
                self._pushed[(row, name)] = value
                self.grid.set_cell_value_by_index(name, row, value)
        finally:
            self._writing = False
        self._count(edits)

    def _shown_rows(self) -> list[int]:
        """The working rows shown: this shell's filter, narrowed by the grid's own column filters when set."""
        visible = list(self.grid._visible_rows or [])
        if visible and len(visible) < len(self.rows):
            return [int(self.rows[r]) for r in visible if 0 <= r < len(self.rows)]
        return self.rows.tolist()

    def _selected_rows(self) -> list[int]:
        """The working rows of the selected cells (in the order shown)."""
        visible = list(self.grid._visible_rows or [])
        picked = []
        for c in self.grid.selected_cells:
            r = int(c["r"])
            r = visible[r] if visible and r < len(visible) else r
            if 0 <= r < len(self.rows):
                picked.append(int(self.rows[r]))
        return list(dict.fromkeys(picked))

    def _after(self, count: int, refusals: list[Refusal], what: str) -> None:
        self._refusals(refusals)
        self.messages.info(f"{what}: {count} cell(s) changed" + (f", {len(refusals)} refused" if refusals else ""))
        self._show()
        self._forget_plan()

    def _on_sort(self, _change: Any = None) -> None:
        if not self._writing and self.model is not None:
            self._show()

    def _on_filter_change(self, _change: Any = None) -> None:
        if not self._writing and self.model is not None:
            self.on_filter()

    def on_filter(self, _button: Any = None) -> None:
        """Show only the rows whose ``filter`` column contains the text (as its cells read)."""
        with busy(list(self.buttons.values()), self.messages):
            assert self.model is not None
            column, needle = self.filter_column.value, self.filter_text.value
            if column is None:
                raise InputError("choose the column to filter on")
            df = self.model.display(self.table)
            text = pd.Series(format_column(df[column])[0].to_pylist(), dtype=object).fillna("")
            self.rows = np.flatnonzero(text.str.contains(needle, regex=False).to_numpy(dtype=bool)).astype(np.int64)
            self._show()

    def on_unfilter(self, _button: Any = None) -> None:
        with busy(list(self.buttons.values()), self.messages):
            assert self.model is not None
            self.filter_text.value = ""
            self.rows = np.arange(len(self.model.work[self.table]), dtype=np.int64)
            self._show()

    def on_find_replace(self, _button: Any = None) -> None:
        """Find & replace within the chosen column, in the rows shown (the filtered view)."""
        with busy(list(self.buttons.values()), self.messages):
            assert self.model is not None
            n, refused = self.model.find_replace(self.table, self.column.value, self.find.value, self.replace.value,
                                                 self._shown_rows())
            self._after(n, refused, f"replaced {self.find.value!r} in {self.column.value}")

    def on_set_selected(self, _button: Any = None) -> None:
        with busy(list(self.buttons.values()), self.messages):
            assert self.model is not None
            rows = self._selected_rows()
            if not rows:
                raise InputError("select some cells first: their rows get the value")
            n, refused = self.model.set_value(self.table, self.column.value, self.value.value, rows)
            self._after(n, refused, f"set {self.column.value}")

    def on_set_shown(self, _button: Any = None) -> None:
        with busy(list(self.buttons.values()), self.messages):
            assert self.model is not None
            n, refused = self.model.set_value(self.table, self.column.value, self.value.value, self._shown_rows())
            self._after(n, refused, f"set {self.column.value}")

    def on_fill_down(self, _button: Any = None) -> None:
        with busy(list(self.buttons.values()), self.messages):
            assert self.model is not None
            rows = self._selected_rows()
            n, refused = self.model.fill_down(self.table, self.column.value, rows)
            self._after(n, refused, f"filled {self.column.value} down")

    def on_add_row(self, _button: Any = None) -> None:
        """Add a cart item, leg or passenger (the table shown) to the chosen session."""
        with busy(list(self.buttons.values()), self.messages):
            assert self.model is not None
            if self.table == "sessions":
                raise InputError("choose cart_items, legs or passengers first: sessions cannot be added")
            at = self.model.add_row(self.table, str(self.session.value))
            self.rows = np.arange(len(self.model.work[self.table]), dtype=np.int64)
            self.messages.info(f"added a row to {self.table} for {self.session.value} (row {at + 1}): fill it in")
            self._show()
            self._forget_plan()

    def on_remove_rows(self, _button: Any = None) -> None:
        """Remove the selected rows' elements (destructive: the plan asks for consent)."""
        with busy(list(self.buttons.values()), self.messages):
            assert self.model is not None
            rows = self._selected_rows()
            if not rows:
                raise InputError("select a cell of each row to remove first")
            n = self.model.remove_rows(self.table, rows)
            self.rows = np.arange(len(self.model.work[self.table]), dtype=np.int64)
            self.messages.info(f"removed {n} row(s) from {self.table}; the plan will ask for consent")
            self._show()
            self._forget_plan()

    def _structural(self, table: str | None) -> None:
        if table is None:
            return
        assert self.model is not None
        if table == self.table:
            self.rows = np.arange(len(self.model.work[self.table]), dtype=np.int64)
        self._show()
        self._forget_plan()

    def on_undo(self, _button: Any = None) -> None:
        assert self.model is not None
        self._structural(self.model.undo())

    def on_redo(self, _button: Any = None) -> None:
        assert self.model is not None
        self._structural(self.model.redo())

    def on_reset(self, _button: Any = None) -> None:
        assert self.model is not None
        self.model.reset()
        self._structural(self.table)

    def on_save(self, _button: Any = None) -> None:
        """Save the edits as the four CSVs (a folder) or an XLSX workbook, to review or apply later."""
        with busy(list(self.buttons.values()), self.messages):
            assert self.model is not None
            raw = self.path.value.strip()
            if not raw:
                raise InputError("type a folder (four CSVs) or a .xlsx path to save the edits to")
            written = save_edits(self.model.upload(), Path(raw).expanduser())
            self.messages.ok("saved the edits: " + ", ".join(str(p) for p in written))

    # ------------------------------------------------------------------ plan and apply

    def _forget_plan(self) -> None:
        if self.bulk is not None and self.bulk.current_plan is not None and not self.bulk.busy:
            self.bulk.clear()
        self.plan_html.value = ""
        self.problems.widget.layout.display = "none"
        self.diff.clear()
        self.consent.value = False
        self.consent.layout.display = "none"
        self._update_buttons()

    @property
    def working(self) -> bool:
        """Whether a plan is being made or a run is under way (every button but Cancel is off)."""
        return self.planner.running or self.runner.running

    def _on_work_state(self) -> None:
        """A plan or run started or ended: the grid takes typing only when neither is under way."""
        editable = self.model is not None and not self.working
        if self.grid.editable != editable:
            self.grid.editable = editable
        self._update_buttons()

    def _update_buttons(self) -> None:
        has = self.model is not None
        for b in self.buttons.values():
            b.disabled = not has or self.working
        if not has or self.working:
            return
        assert self.model is not None
        self.buttons["undo"].disabled = not self.model.can_undo
        self.buttons["redo"].disabled = not self.model.can_redo
        self.buttons["plan"].disabled = self.connection is None
        if self.bulk is not None and self.consent.value and self.bulk.current_plan is not None \
                and self.bulk.current_plan.consent and not self.bulk.consented:
            self.bulk.consent()
        from ..updates.reasons import Action

        if self.bulk is not None and self.confirmation is not None:
            self.bulk.confirm(self.confirmation.confirmed_id)
        self.buttons["apply"].disabled = self.bulk is None or self.bulk.why_not(Action.APPLY) is not None

    def on_plan(self, _button: Any = None, *, wait: bool | None = None) -> None:
        """Plan the edits (reads only): the diff, and the consent when something is removed.

        The reads run in the background with done/total, rate and ETA, and Cancel (:meth:`on_cancel_plan`).
        ``wait``: block until the plan is made; by default a click returns at once and a call from code
        (``grid.on_plan()``) waits, so the next line sees the plan.
        """
        self._in_background(self._start_plan, self.planner.wait, wait=_button is None if wait is None else wait)

    def _in_background(self, start: Callable[[], None], waiter: Callable[[], Any], *, wait: bool) -> None:
        """``start()`` work in the background (its refusals shown, not raised); with ``wait``, block until it ends."""
        started = False
        with busy(list(self.buttons.values()), self.messages, on_done=self._update_buttons):
            if self.working:
                raise InputError("a plan or a run is under way: wait for it, or cancel it")
            start()
            started = True
        if started and wait:
            waiter()

    def _start_plan(self) -> None:
        from ..updates.plan import PlanCancelled
        from ..updates.workflow import BulkUpdate

        assert self.model is not None and self.connection is not None
        self._forget_plan()
        if self.model.edits().empty:
            raise InputError("nothing to plan: no cell has been edited")
        if self.bulk is None:
            self.bulk = BulkUpdate(self.connection.client, probe=self.connection.probe,
                                   runs_dir=Path("runs"))
        self.bulk.load(self.model.upload())  # the edits as they are now: the grid takes no typing meanwhile
        bulk, pace = self.bulk, Pace()

        def progress(done: int, total: int) -> None:
            if pace.due(done, total):
                self.plan_progress.value = pace.fetching(done, total)

        def work(cancel: threading.Event) -> Any:
            try:
                plan = bulk.plan(cancel=cancel, progress=progress)
                if cancel.is_set():  # cancelled after the last read: the plan is dropped
                    bulk.clear_plan()
                    raise PlanCancelled("the plan was cancelled; nothing was planned")
            except PlanCancelled:
                self.plan_progress.value = ""
                self.messages.warn("plan cancelled: nothing was sent")
                return None
            return plan

        def ended() -> None:
            self.plan_cancel.disabled = True
            self.plan_cancel.layout.display = "none"

        self.plan_progress.value = "fetching: starting ..."
        self.plan_cancel.disabled = False
        self.plan_cancel.layout.display = None
        self.planner.start(work, lambda plan: self._show_plan(plan, pace), finally_=ended)

    def _show_plan(self, plan: Any, pace: Pace) -> None:
        if plan is None:
            return
        self.plan_progress.value = f"fetched {len(plan.items):,} session(s) in {duration(pace.elapsed)}"
        masked = not self.show_raw.value
        parts = [summary_html(plan), destructive_html(plan)]
        if not plan.ok:
            parts.append("<div style='color:#b91c1c'><b>the plan has errors: nothing can be applied</b> (below, "
                         "grouped by table, column and rule; choose a group to see its cells)</div>")
        self.plan_html.value = "".join(parts)
        if len(plan.problems):
            self.problems.show(plan.problems)
            self.problems.widget.layout.display = None
        self.diff.show(plan.masked_diff() if masked else plan.diff, note=f"{len(plan.diff):,} change(s)")
        self.consent.layout.display = "" if plan.consent else "none"

    def on_cancel_plan(self, _button: Any = None) -> None:
        """Stop the plan being made: no plan is made, nothing is sent (reads in flight finish)."""
        if self.planner.cancel():
            self.plan_cancel.disabled = True
            self.plan_progress.value = "cancelling ..."

    def on_apply(self, _button: Any = None, *, wait: bool | None = None) -> None:
        """Apply the plan (the same journaled run as for files); then the edits are the new base.

        The run goes on in the background with its progress and Cancel (:attr:`runner`); ``wait`` as for
        :meth:`on_plan`.
        """
        self._in_background(self._start_apply, self.runner.wait, wait=_button is None if wait is None else wait)

    def _start_apply(self) -> None:
        assert self.bulk is not None and self.model is not None
        if self.confirmation is not None:
            self.confirmation.require("Apply")
        bulk = self.bulk
        self.result.value = ""
        self.runner.start("apply", lambda progress, cancel: bulk.apply(progress=progress, cancel=cancel),
                          self._applied)

    def _applied(self, run: Any) -> None:
        self.result.value = f"<pre>{html.escape(run.describe())}</pre>"
        if self.confirmation is not None:
            self.confirmation.reset()
        if run.ok:
            self.messages.ok(f"applied: journal {run.journal} (resume or roll it back in notebook 03); fetch the "
                             "sessions again to go on editing from their new state")
        else:
            self.messages.warn(f"the run {run.state}: journal {run.journal}; resume it or roll it back in notebook "
                               "03 (what was not sent stays unprocessed)")
        self.consent.value = False

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
