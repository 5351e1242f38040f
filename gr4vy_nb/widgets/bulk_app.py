"""BulkUpdateApp: upload CSVs -> validate -> plan (diff) -> apply (progress, Cancel) -> results.

A thin shell over :class:`~gr4vy_nb.updates.workflow.BulkUpdate` (:attr:`BulkUpdateApp.workflow`): the state
(input, plan, consent, confirmation, runs) lives there, each disabled button says why in words rendered from
``workflow.why_not`` (:meth:`BulkUpdateApp.why_not`, same codes), and each step is the workflow's; the app
gathers input, shows output and keeps the kernel responsive.
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

import ipywidgets as w
import pandas as pd

from ..errors import InputError, Refused
from ..notebook_support import Connection, connect, target_style
from ..problems import Severity
from ..updates.reasons import Action, Reason, ReasonCode, reason
from ..updates.results import retryable
from ..updates.workflow import BulkUpdate
from ._background import Background
from ._common import (
    MAX_UPLOAD_BYTES,
    Confirmation,
    Messages,
    ProblemsView,
    Table,
    busy,
    download_link,
    problems_csv,
    uploaded_files,
)
from ._plan_view import destructive_html, diff_html, diff_text, expiry_html, summary_html
from ._planning import PlanActions, StepMessages, reason_html, words
from ._runner import RollbackPrompt, RunActions, RunPanel
from .results import ResultsView

__all__ = ["EXPIRES_IN_CHOICES", "BulkUpdateApp"]

EXPIRES_IN_CHOICES = (
    ("1 hour (the API's default)", 3600),
    ("6 hours", 6 * 3600),
    ("12 hours", 12 * 3600),
    ("24 hours (the most allowed)", 24 * 3600),
)
"""The ``expires_in`` choices: every update resets the session's expiry to this long after it."""

_MAX_FILES = 4


def _step(number: int, title: str, hint: str) -> w.HTML:
    return w.HTML(
        f"<h4 style='margin:14px 0 2px 0'>{number} · {html.escape(title)}</h4>"
        f"<div style='color:#6b7280;margin-bottom:4px'>{html.escape(hint)}</div>"
    )


class BulkUpdateApp(PlanActions, RunActions):
    """Bulk-update checkout sessions from CSV files, step by step, in a notebook.

    Args:
        connection: the target (see :func:`~gr4vy_nb.notebook_support.connect`; the configured
            one, or the embedded sandbox, when omitted).
        runs_dir: where uploads, journals and result files go (``runs/`` of the working folder).
        workers: the default number of concurrent sessions.

    Steps (each a handler that tests and scripts may call directly):

    1. files: ``upload`` (1 to 4 CSVs up to :data:`MAX_UPLOAD_BYTES` each) or ``paths_box``
       (folders or files, one per line) -> :meth:`on_validate`;
    2. validation: the counts, the problems grouped by file, column and rule (``problems_view``: a count,
       the lines, an example and one message a group; choosing a group shows its cells in
       ``problems_table``), a download of ``problems.csv`` (every cell);
    3. :meth:`on_plan`: fetches the current state (progress bar), shows the summary, the notes,
       a per-session diff (``diff_session``) and every change; ``rewrites_mode`` (values an editor rewrote:
       keep the current value, refuse them or send them as written), ``expires_in`` and ``lists_mode``
       (``replace``: the rows of a child table are the complete list; ``patch``: they patch the
       elements they index, the others are kept) are chosen here;
    4. :meth:`on_apply`: ``workers``, ``rate``, ``canary`` (first N), the PRODUCTION confirmation
       (tick ``confirm_box`` and type the merchant account id in ``confirm_text``); a plan with
       destructive changes (list elements removed, fields cleared) shows them in red next to Run
       (``destructive_note``), and Run stays disabled until ``consent_box`` ("I mean to remove 3
       passengers ...") is ticked, unticked again for every new plan; the run goes
       on in a background thread with live counters; :meth:`on_cancel` stops it; :meth:`wait`
       blocks until it ends (for scripts and tests);
    5. results: filter by status, download ``errors.csv``/``succeeded.csv``,
       :meth:`on_retry_failed` (a new plan from the errors), :meth:`on_resume`,
       :meth:`on_rollback`.

    Personal data is masked in every table unless "show personal data" is ticked.
    """

    def __init__(self, connection: Connection | None = None, *, runs_dir: str | Path = "runs",
                 workers: int = 4) -> None:
        self.connection = connection if connection is not None else connect(announce=False)
        self.settings = self.connection.settings
        self.client = self.connection.client
        self.runs_dir = Path(runs_dir)
        self.workflow = BulkUpdate(self.client, runs_dir=self.runs_dir)  # the state; the app only shows it
        self.sources: list[Path] = []
        self._retrying = False  # Retry failed is choosing the files (no "the files changed" note)
        self._named: tuple[Any, bool] = (None, False)  # (upload, whether it names any session)
        self.messages = Messages()
        self.show_raw = w.Checkbox(value=False, indent=False, description="show personal data",
                                   style={"description_width": "initial"}, layout=w.Layout(width="auto"))
        self.show_raw.add_class("gr4vy-show-raw")
        self._build_files_step()
        self._build_validation_step()
        self._build_plan_step()
        self._build_apply_step(workers)
        self.results = ResultsView()  # 5 · results
        self.rollback_prompt = RollbackPrompt(self.confirmation)  # Roll back shows this first; only Confirm sends
        self._wire()
        self.widget = self._layout()
        self._refresh()

    def _build_files_step(self) -> None:
        """1 · files: the upload button, the path box, the files chosen, Validate."""
        self.upload = w.FileUpload(accept=".csv", multiple=True, description="Upload CSVs",
                                   layout=w.Layout(width="auto"))
        self.upload.add_class("gr4vy-upload")
        self.paths_box = w.Textarea(
            placeholder="or paths, one per line: a folder holding sessions.csv, cart_items.csv, legs.csv, "
                        "passengers.csv, or the files themselves",
            layout=w.Layout(width="100%", height="60px"))
        self.paths_box.add_class("gr4vy-paths")
        self.files_label = w.HTML(value="<i>no files chosen</i>")
        self.files_label.add_class("gr4vy-files")
        self.validate_button = w.Button(description="Validate", icon="check", button_style="primary")
        self.validate_button.add_class("gr4vy-validate")

    def _build_validation_step(self) -> None:
        """2 · validation: the counts, the problems table and its download."""
        self.validation_summary = w.HTML(value="")
        self.validation_messages = StepMessages(self.messages)  # the files and validation steps' own messages
        self.validation_messages.widget.add_class("gr4vy-validation-messages")
        self.validation_summary.add_class("gr4vy-validation-summary")
        self.problems_view = ProblemsView(page_length=10)  # grouped by file, column and rule, then the cells
        self.problems_table = self.problems_view.cells
        self.problems_download = w.HTML(value="")

    def _build_plan_step(self) -> None:
        """3 · plan: the expiry, Plan, the fetch progress, the summary and the diff."""
        self.expires_in = w.Dropdown(options=list(EXPIRES_IN_CHOICES), value=3600, description="expires in",
                                     style={"description_width": "initial"})
        self.lists_mode = w.ToggleButtons(
            options=[("rows are the complete list", "replace"), ("patch: keep elements not listed", "patch")],
            value="replace", description="child rows", style={"description_width": "initial", "button_width": "auto"},
            tooltips=["the rows of cart_items.csv, legs.csv, passengers.csv are each session's complete new list: "
                      "elements not listed are removed (that needs consent)",
                      "a row with an index patches that element, the others are kept, rows without an index are "
                      "appended: nothing is removed"])
        self.lists_mode.add_class("gr4vy-lists-mode")
        self.ignore_stale = w.Checkbox(value=False, indent=False, description="ignore stale rows: merge rows changed "
                                       "by someone else since the export (overwrites their change)")
        self.ignore_stale.add_class("gr4vy-ignore-stale")
        self.rewrites_mode = w.ToggleButtons(
            options=[("keep the current value", "keep"), ("refuse them", "error"), ("send as written", "send")],
            value="keep", description="values an editor rewrote",
            style={"description_width": "initial", "button_width": "auto"},
            tooltips=["a cell holding what a spreadsheet or pandas made of the current value (21464 for 021464, "
                      "795.0 for 795, TRUE for true) keeps the current value: nothing is sent for it",
                      "such cells are errors: nothing is sent while one remains",
                      "such cells are sent as written"])
        self.rewrites_mode.add_class("gr4vy-rewrites-mode")
        self.plan_button = w.Button(description="Plan", icon="search", button_style="primary", disabled=True,
                                    tooltip="fetch the current state of every session named and show the diff")
        self.plan_button.add_class("gr4vy-plan")
        self.plan_progress = w.IntProgress(value=0, min=0, max=1, description="fetching",
                                           layout=w.Layout(width="50%"))
        self.plan_progress.add_class("gr4vy-plan-progress")
        self.plan_counters = w.HTML(value="")  # done / total, rate, ETA while the plan fetches
        self.plan_counters.add_class("gr4vy-plan-counters")
        self.plan_cancel_button = w.Button(description="Cancel", icon="stop", button_style="warning", disabled=True,
                                           tooltip="stop fetching: no plan is made, nothing is sent")
        self.plan_cancel_button.add_class("gr4vy-plan-cancel")
        self.plan_progress.layout.display = self.plan_cancel_button.layout.display = "none"  # shown while planning
        self.plan_reason = w.HTML(value="")  # why Plan is disabled
        self.plan_reason.add_class("gr4vy-plan-reason")
        self.plan_messages = StepMessages(self.messages)  # the plan step's own messages
        self.plan_messages.widget.add_class("gr4vy-plan-messages")
        self.planner = Background("plan", self.plan_messages, on_state=self._refresh, on_failed=self._plan_failed)
        self.plan_status = w.HTML(value="")  # what the plan allows now (ready to run, or what Run waits for)
        self.plan_status.add_class("gr4vy-plan-status")
        self.plan_summary = w.HTML(value="")
        self.plan_summary.add_class("gr4vy-plan-summary")
        self.diff_session = w.Dropdown(options=[], description="session", layout=w.Layout(width="520px",
                                                                                           display="none"))
        self.diff_view = w.HTML(value="")
        self.diff_view.add_class("gr4vy-diff-view")
        self.diff_table = Table(page_length=10)

    def _build_apply_step(self, workers: int) -> None:
        """4 · apply: workers, rate, canary, the PRODUCTION confirmation, Run and the run's progress."""
        kind, _label, _colour = target_style(self.settings)
        limit = max(1, int(getattr(self.client, "workers", 8)))
        self.workers = w.BoundedIntText(value=min(workers, limit), min=1, max=limit, description="workers")
        self.rate = w.BoundedFloatText(value=0.0, min=0.0, max=10_000.0, description="rate /s",
                                       tooltip="most requests per second (0: no limit)")
        self.canary = w.BoundedIntText(value=0, min=0, max=10_000_000, description="canary N",
                                       tooltip="send only the first N sessions (0: all); resume for the rest")
        self.confirmation = Confirmation(self.settings, on_change=self._sync_gates)
        self.confirm_box, self.confirm_text = self.confirmation.box, self.confirmation.text
        self.apply_button = w.Button(description="Run", icon="play", button_style="danger" if kind ==
                                     "production" else "success", disabled=True)
        self.apply_button.add_class("gr4vy-apply")
        self.apply_reason = w.HTML(value="")  # why Run is disabled
        self.apply_reason.add_class("gr4vy-apply-reason")
        self.destructive_note = w.HTML(value="")
        self.destructive_note.add_class("gr4vy-destructive")
        self.expiry_note = w.HTML(value="")  # what the run does to each session's expiry, told next to Run
        self.expiry_note.add_class("gr4vy-expiry")
        self.consent_box = w.Checkbox(value=False, indent=False, description="", style={"description_width": "initial"},
                                      layout=w.Layout(display="none", width="auto"))
        self.consent_box.add_class("gr4vy-consent")
        self.apply_messages = StepMessages(self.messages)  # the apply step's own messages
        self.apply_messages.widget.add_class("gr4vy-apply-messages")
        self.runner = RunPanel(self.apply_messages, on_state=self._refresh)

    def _wire(self) -> None:
        self.upload.observe(self._on_files_changed, names="value")
        self.paths_box.observe(self._on_files_changed, names="value")
        self.validate_button.on_click(self.on_validate)
        self.plan_button.on_click(self.on_plan)
        self.plan_cancel_button.on_click(self.on_cancel_plan)
        self.diff_session.observe(self._on_diff_session, names="value")
        self.show_raw.observe(self._on_show_raw, names="value")
        self.apply_button.on_click(self.on_apply)
        self.consent_box.observe(lambda _change: self._sync_gates(), names="value")
        self.results.retry_button.on_click(self.on_retry_failed)
        self.results.resume_button.on_click(self.on_resume)
        self.results.rollback_button.on_click(self.on_rollback)
        self.rollback_prompt.confirm_button.on_click(self.on_confirm_rollback)
        self.rollback_prompt.dismiss_button.on_click(self.on_dismiss_rollback)

    def _layout(self) -> w.VBox:
        return w.VBox([
            w.HTML(self.connection.banner_html()),
            self.show_raw,
            self.messages.widget,
            _step(1, "Choose the CSV files", f"1 to {_MAX_FILES} of sessions.csv, cart_items.csv, legs.csv, "
                  f"passengers.csv (uploads up to {MAX_UPLOAD_BYTES >> 20} MB each; bigger files: type the path)"),
            w.HBox([self.upload, self.validate_button]), self.paths_box, self.files_label,
            _step(2, "Validation", "every cell checked offline; nothing is sent while errors remain"),
            self.validation_messages.widget,
            self.validation_summary, self.problems_download, self.problems_view.widget,
            _step(3, "Plan", "reads the current state of each session (GET only) and shows what would change"),
            self.lists_mode, self.rewrites_mode, self.ignore_stale,
            w.HBox([self.expires_in, self.plan_button, self.plan_reason]),
            w.HBox([self.plan_progress, self.plan_cancel_button]), self.plan_counters, self.plan_messages.widget,
            self.plan_status, self.plan_summary, self.diff_session, self.diff_view, self.diff_table.widget,
            _step(4, "Apply", "sends the updates; Cancel stops new requests, the journal keeps the state"),
            w.HBox([self.workers, self.rate, self.canary]), *self.confirmation.widgets,
            w.HBox([self.apply_button, self.apply_reason, self.destructive_note]), self.expiry_note, self.consent_box,
            self.apply_messages.widget, self.runner.widget,
            _step(5, "Results", "what happened to each session; errors.csv can be fixed and uploaded again"),
            self.rollback_prompt.widget, self.results.widget,
        ])

    # ------------------------------------------------------------------ state (the workflow's)

    @property
    def upload_obj(self) -> Any:
        """The checked upload (``workflow.upload``)."""
        return self.workflow.upload

    @property
    def plan(self) -> Any:
        """The current plan (``workflow.current_plan``)."""
        return self.workflow.current_plan

    @property
    def run(self) -> Any:
        """The last run (``workflow.run``)."""
        return self.workflow.run

    @property
    def busy(self) -> bool:
        """Whether a run (apply, resume, rollback) is in progress."""
        return self.runner.running

    def _buttons(self) -> list[w.Button]:
        return [self.validate_button, self.plan_button, self.apply_button, *self.results.buttons]

    def _retryable(self) -> int | None:
        run = self.results.run
        return retryable(run) if run is not None and getattr(run, "results", None) is not None else None

    def _confirmed(self) -> bool:
        return self.confirmation.ok

    def _sync_gates(self) -> None:
        """Hand the consent box and the PRODUCTION confirmation to the workflow (it re-arms them per step)."""
        wf = self.workflow
        if not wf.busy:
            wf.confirm(self.confirmation.confirmed_id)
            if wf.why_not(Action.CONSENT) is None:
                wf.consent(bool(self.consent_box.value))
        self._refresh()

    def _show_consent(self) -> None:
        """The plan's destructive changes in red next to Run, and the consent box (unticked: re-armed)."""
        consent = self.plan.consent if self.plan is not None else ""
        self.consent_box.value = False
        if not consent:
            self.destructive_note.value = ""
            self.consent_box.description = ""
            self.consent_box.layout.display = "none"
            return
        self.destructive_note.value = destructive_html(self.plan)
        self.consent_box.description = f"I mean to {consent}"
        self.consent_box.layout.display = ""

    def _refresh(self) -> None:
        """Enable exactly the buttons the workflow's state allows; say why the others are disabled."""
        running = self.runner.running or self.planner.running
        self.validate_button.disabled = running
        plan_why = self.why_not(Action.PLAN)
        self.plan_button.disabled = plan_why is not None
        self.plan_reason.value = reason_html(plan_why.text if plan_why else "")
        apply_why = self.why_not(Action.APPLY)
        self.apply_button.disabled = apply_why is not None
        self.apply_reason.value = reason_html(apply_why.text if apply_why else "")
        self.consent_box.disabled = running
        self._show_status()
        self.results.refresh_buttons(busy=running, retryable=self._retryable())
        self.rollback_prompt.confirm_button.disabled = (running or self.rollback_prompt.preview is None
                                                        or not self._confirmed())
        for control in (self.workers, self.rate, self.canary, self.expires_in, self.lists_mode, self.rewrites_mode,
                        self.ignore_stale, self.upload, self.paths_box):
            control.disabled = running
        # A refusal shown earlier goes once its reason no longer holds (the run it waited for has ended, ...).
        holding = {why.code for a in Action if (why := self.why_not(a)) is not None}
        for messages in (self.messages, self.validation_messages, self.plan_messages, self.apply_messages):
            messages.prune(lambda code: code in holding)

    def _show_status(self) -> None:
        """Under the plan: what it allows now (ready: review, then Run; or what Run still waits for)."""
        plan = self.plan
        if plan is None or self.planner.running or not plan.ok or not plan.changes:
            self.plan_status.value = ""
            return
        why = self.why_not(Action.APPLY)
        n = f"{len(plan.changes):,} session(s) to update"
        if why is None:
            self.plan_status.value = (f"<span class='gr4vy-ready' style='color:#15803d'>plan ready: {n}; review the "
                                      "diff, then Run</span>")
        else:
            self.plan_status.value = (f"<span class='gr4vy-waiting' style='color:#374151'>planned: {n}; before Run: "
                                      f"{html.escape(why.text)}</span>")

    @property
    def planning(self) -> bool:
        """Whether a plan is being made (in the background)."""
        return self.planner.running

    def why_not(self, action: Action | str) -> Reason | None:
        """Why ``action`` cannot be taken now: the workflow's :class:`~gr4vy_nb.updates.reasons.Reason` (its code),
        in this app's words; the app's own two choices too (it plans only input that passed validation, or whose
        errors only the live values can settle: :attr:`~gr4vy_nb.updates.upload.Upload.may_be_rewrites`; and
        offers no run to a plan that sends nothing)."""
        action = Action(action)
        if self.planner.running and action != Action.CANCEL:  # the plan's thread is starting or ending
            return words(reason(ReasonCode.PLAN_IN_PROGRESS), action)
        if self.runner.running and action != Action.CANCEL:
            return words(reason(ReasonCode.RUN_IN_PROGRESS), action)
        why = self.workflow.why_not(action)
        if why is None and action == Action.PLAN and not (self.upload_obj.ok or self.upload_obj.may_be_rewrites):
            why = reason(ReasonCode.INPUT_ERRORS)
        if why is None and action == Action.PLAN and not self._names_sessions():
            why = reason(ReasonCode.NOTHING_TO_PLAN)
        if why is None and action == Action.APPLY and not self.plan.changes:
            why = reason(ReasonCode.NOTHING_TO_SEND)
        return words(why, action) if why is not None else None

    def _names_sessions(self) -> bool:
        """Whether the loaded upload names any session (asked on every refresh: kept per upload)."""
        upload = self.upload_obj
        if self._named[0] is not upload:
            self._named = (upload, bool(upload.session_ids()))
        return self._named[1]

    def _refuse(self, action: Action) -> None:
        why = self.why_not(action)
        if why is not None:
            raise Refused(words(why, action, clicked=True))

    # ------------------------------------------------------------------ 1 + 2: files and validation

    def _on_files_changed(self, _change: Any = None) -> None:
        # New input invalidates what was checked and planned from the old one: clear it from the screen too.
        had = (self.upload_obj is not None or self.plan is not None or bool(self.validation_summary.value)) and (
            not self._retrying)  # Retry failed chose these files itself: nothing the user did to undo
        if not self.workflow.busy:
            self.workflow.clear()
        self._clear_validation_view()
        self._clear_plan_view()
        if had:
            self.validation_messages.info("the files changed: validate them again (the old validation and plan "
                                          "were cleared)")
        names = [str(f["name"]) for f in (self.upload.value or ())]
        paths = self._typed_paths()
        chosen = [*names, *(str(p) for p in paths)]
        self.files_label.value = (
            "files: " + ", ".join(f"<code>{html.escape(c)}</code>" for c in chosen) if chosen
            else "<i>no files chosen</i>")
        self._refresh()

    def _typed_paths(self) -> list[Path]:
        lines = [ln.strip().strip("'\"") for ln in self.paths_box.value.splitlines()]
        return [Path(ln).expanduser() for ln in lines if ln]

    def _save_uploads(self) -> list[Path]:
        files = uploaded_files(self.upload)
        if len(files) > _MAX_FILES:
            raise InputError(f"{len(files)} files uploaded; upload at most {_MAX_FILES} (one per table)")
        names = [n for n, _ in files]
        if len(set(names)) != len(names):
            raise InputError("two uploaded files have the same name; upload one file per table")
        folder = self.runs_dir / "uploads" / time.strftime("%Y%m%d-%H%M%S")
        n = 1
        while folder.exists():
            n += 1
            folder = self.runs_dir / "uploads" / f"{time.strftime('%Y%m%d-%H%M%S')}-{n}"
        folder.mkdir(parents=True)
        saved = []
        for name, content in files:
            # Keep the upload on disk: the run journal records its hash, resume checks it.
            target = folder / Path(name).name
            target.write_bytes(content)
            saved.append(target)
        return saved

    def _clear_validation_view(self) -> None:
        self.validation_messages.clear()
        self.validation_summary.value = ""
        self.problems_download.value = ""
        self.problems_view.show(pd.DataFrame(), empty="")

    def on_validate(self, _button: Any = None) -> None:
        """Read and check the chosen files offline; show the problems (nothing is fetched or sent)."""
        with busy(self._buttons(), self.validation_messages, on_done=self._refresh):
            self._refuse(Action.LOAD)
            self.workflow.clear()
            self._clear_validation_view()
            self._clear_plan_view()
            sources = [*self._save_uploads(), *self._typed_paths()]
            if not sources:
                raise InputError("choose files first: upload 1 to 4 CSVs, or type a folder or file path")
            self.sources = sources
            upload = self.workflow.load(sources if len(sources) > 1 else sources[0])
            self._show_problems(upload.problems, upload.tables)
            if upload.ok and not self._names_sessions():
                self.validation_messages.info("nothing to do: the files name no session (only a header); add rows "
                                              "and validate again")
            elif upload.ok:
                self.validation_messages.ok("validation passed: choose the expiry and press Plan")
            elif upload.may_be_rewrites:
                errors = self._count(upload.problems, Severity.ERROR)
                self.validation_messages.warn(
                    f"validation found {errors} cell(s) that break a rule: Plan compares them with the sessions as "
                    "they are (a value an editor rewrote keeps the current value; the rest stay errors, and nothing "
                    "can be sent while one remains)")
            else:
                errors = self._count(upload.problems, Severity.ERROR)
                self.validation_messages.error(f"validation found {errors} error(s): fix them "
                                    "and validate again; nothing can be sent until then")

    @staticmethod
    def _count(problems: pd.DataFrame, severity: str) -> int:
        return int((problems["severity"] == severity).sum()) if len(problems) else 0

    def _show_problems(self, problems: pd.DataFrame, tables: dict[str, Any] | None = None) -> None:

        errors, warnings = self._count(problems, Severity.ERROR), self._count(problems, Severity.WARNING)
        files = ""
        if tables:
            files = " · ".join(f"{html.escape(t.file)} ({len(t.text):,} rows → {html.escape(name)})"
                               for name, t in tables.items())
        colour = "#b91c1c" if errors else "#15803d"
        self.validation_summary.value = (
            f"<span style='color:{colour}'><b data-count='errors'>{errors}</b> error(s), "
            f"<b data-count='warnings'>{warnings}</b> warning(s)</span>" + (f"<br>{files}" if files else ""))
        self.problems_view.show(problems, note=f"{len(problems):,} problem(s)")
        if len(problems):
            # Next to the run files, never next to the user's own files.
            out = self.runs_dir / "problems" / f"{time.strftime('%Y%m%d-%H%M%S')}-problems.csv"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(problems_csv(problems))  # formulas guarded, a quote already there not doubled
            self.problems_download.value = download_link(out.read_bytes(), "problems.csv") + (
                f" <span style='color:#6b7280'>{html.escape(str(out))}</span>")
        else:
            self.problems_download.value = ""

    # ------------------------------------------------------------------ 3: plan

    def _clear_plan_view(self) -> None:
        self.plan_messages.clear()
        self.plan_counters.value = ""
        self.plan_progress.value = 0
        self.plan_progress.layout.display = "none"
        self._show_consent()
        self.expiry_note.value = ""
        self.plan_summary.value = ""
        self.diff_session.options = []
        self.diff_session.layout.display = "none"  # shown with a plan that has changes
        self.diff_view.value = ""
        self.diff_table.show(pd.DataFrame(), empty="")  # no plan: nothing at all, not "Nothing to show."

    def _show_plan(self) -> None:
        plan = self.plan
        s = plan.summary
        self.plan_summary.value = summary_html(plan)
        self._show_consent()
        self.expiry_note.value = expiry_html(plan)
        if not plan.ok:
            self._show_problems(plan.problems)
            self.plan_messages.error(f"the plan found {s['errors']} error(s) (see the problems table): nothing can be "
                                "sent until they are fixed")
        elif not plan.changes:
            parts = []
            if s["not_found"]:
                parts.append(f"{s['not_found']} session(s) not found or expired (the API answers 404: they cannot be "
                             "updated)")
            if s["unchanged"]:
                parts.append(f"{s['unchanged']} already hold these values")
            self.plan_messages.info("nothing to send: " + ("; ".join(parts) or "the files name no session"))
        # else: the plan's status line says whether it is ready to run, or what Run waits for (see _show_status)
        options = [(f"{i.session_id} · {', '.join(i.fields)}", i.session_id) for i in plan.changes]
        self.diff_session.options = options
        self.diff_session.layout.display = None if options else "none"
        if options:
            self.diff_session.value = options[0][1]
        self._show_diff()

    def _diff_frame(self) -> pd.DataFrame:
        if self.plan is None:
            return pd.DataFrame()
        diff = self.plan.diff if self.show_raw.value else self.plan.masked_diff()
        return diff[[c for c in diff.columns if c != "personal"]]

    def _show_diff(self) -> None:
        diff = self._diff_frame()
        self.diff_table.show(diff, text=diff_text(self.plan, diff), note=f"{len(diff):,} changed value(s)" + (
            "" if self.show_raw.value else " · personal data masked"))
        self._on_diff_session()

    def _on_diff_session(self, _change: Any = None) -> None:
        sid = self.diff_session.value
        diff = self._diff_frame()
        if sid is None or not len(diff):
            self.diff_view.value = ""
            return
        self.diff_view.value = diff_html(self.plan.item(sid), diff[diff["checkout_session_id"] == sid])

    def _on_show_raw(self, _change: Any = None) -> None:
        with busy([], self.messages):
            if self.plan is not None:
                self._show_diff()

    # ------------------------------------------------------------------ 4: apply

    def on_apply(self, _button: Any = None) -> None:
        """Start applying the plan in the background (see :meth:`wait` and :meth:`on_cancel`).

        Refused, with nothing sent, for the reason :meth:`why_not` gives (no valid plan with changes, a
        run already going, consent or the PRODUCTION confirmation missing).
        """
        from ..updates.options import RunOptions

        with busy([], self.apply_messages, on_done=self._refresh):
            self._sync_gates()
            self._refuse(Action.APPLY)
            plan = self.plan
            first = int(self.canary.value) or None
            options = RunOptions(**self._run_options(), first=first)
            self.apply_messages.info(f"applying {len(plan.changes)} update(s) to {self.settings.target}"
                                     + (f" (canary: first {first})" if first else ""))

            def work(progress: Any, cancel: Any) -> Any:
                return self.workflow.apply(options, progress=progress, cancel=cancel)

            self.runner.start("apply", work, self._finished)

    def _run_options(self) -> dict[str, Any]:
        rate = float(self.rate.value)
        return {"workers": int(self.workers.value), "rate": rate if rate > 0 else None}

    def _finished(self, run: Any) -> None:
        self.confirmation.reset()  # every action asks again (the workflow re-armed itself)
        c = run.counts
        kind = "resume" if self.runner.label == "resume" else run.kind
        text = (f"{kind} {run.state}: {c['succeeded']} succeeded, {c['failed']} failed, {c['conflict']} "
                f"conflict, {c['unprocessed']} unprocessed")
        # The apply step shows this run's outcome only: what it said while the run went on no longer holds.
        self.apply_messages.clear()
        self._show_finished(run, text, self.apply_messages)
        self._refresh()

    # ------------------------------------------------------------------ 5: results

    def on_retry_failed(self, _button: Any = None) -> None:
        """Start again from the run's ``errors.csv`` files: validate and plan the rows that did not go through."""
        files: list[Path] = []
        with busy(self._buttons(), self.messages, on_done=self._refresh):
            self._refuse(Action.RETRY_FAILED)
            # Sessions that can never succeed (404: not found or expired) are left out of the new input.
            files = self.workflow.retry_files()
            if not files:
                raise InputError("the run has no errors.csv")
        if not files:
            return
        self._retrying = True
        try:
            self.upload.value = ()
            self.paths_box.value = "\n".join(str(p) for p in files)
        finally:
            self._retrying = False
        self.messages.info(f"retrying {retryable(self.run):,} session(s) from {', '.join(p.name for p in files)}")
        self.on_validate()
        if self.upload_obj is not None and self.upload_obj.ok:
            self.on_plan(wait=_button is None)

    def on_resume(self, _button: Any = None) -> None:
        """Resume the run shown (see :class:`RunActions`); the confirmation is cleared afterwards."""
        self.rollback_prompt.clear()
        try:
            super().on_resume(_button)
        finally:
            self.confirmation.reset()
            self._refresh()

    def on_rollback(self, _button: Any = None) -> None:
        """Show what rolling the run shown back would do and ask for confirmation (nothing is sent yet)."""
        from ..updates.runs import rollback_preview

        with busy(self._buttons(), self.messages, on_done=self._refresh):
            run = self._current_run()
            self.rollback_prompt.show(run, rollback_preview(run.journal),
                                      force=bool(self.results.force_rollback.value),
                                      production=self.confirmation.required)

    def on_confirm_rollback(self, _button: Any = None) -> None:
        """Roll the run shown back (after :meth:`on_rollback`'s preview); the confirmation is cleared afterwards."""
        try:
            preview = self.rollback_prompt.preview
            shown = self.results.run
            self.rollback_prompt.clear()
            with busy([], self.messages, on_done=self._refresh):
                if preview is None:
                    raise InputError("press Roll back this run first: it shows what would be restored")
                if shown is None or shown.run_id != preview.run_id:
                    raise InputError("the run shown changed since the preview: press Roll back this run again")
                super().on_rollback(_button)
        finally:
            self.confirmation.reset()
            self._refresh()

    def on_dismiss_rollback(self, _button: Any = None) -> None:
        """Close the rollback preview; nothing is sent."""
        self.rollback_prompt.clear()
        self.confirmation.reset()
        self.messages.info("rollback not started: nothing was sent")
        self._refresh()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

