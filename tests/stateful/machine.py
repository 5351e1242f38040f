"""The run-workflow state machine: every chain of apply, re-apply, resume, rollback and retry.

It drives the real sandbox (HTTP) and the real CLI (``gr4vy_nb.cli.main`` in-process with its
output captured, and ``python -m gr4vy_nb.cli`` as a process for the SIGKILL rule), and holds
a model (:mod:`tests.stateful.model`) of what every session should contain and of how every
session of every run should end. After every step: no traceback, exit codes as documented,
every journal intact with status counts adding up, and the sandbox holding exactly what the
model says. Profiles (fast in ``make test``, long in ``make reliability``) are in
:mod:`tests.stateful.test_run_workflows`.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.api.probe import saved_probe
from gr4vy_nb.cli import main
from gr4vy_nb.config import Settings
from gr4vy_nb.errors import NotFound
from gr4vy_nb.updates.journal import Journal
from gr4vy_nb.updates.plan import plan_updates
from gr4vy_nb.updates.runs import apply_plan
from tests.reliability._support import TRACEBACK, cli_command, cli_env
from tests.stateful.model import FIELDS, MISSING, TAGS, TAXES, Change, RunRec, Spec, fields_of, new_sessions, norm
from tests.updates.helpers import FAST

N_SESSIONS = 6
NOT_THROUGH = ("failed", "conflict", "unprocessed", "planned", "sending")


class Figures:
    """What the machine reached, over every sequence of a profile (reported in RELIABILITY.md)."""

    sequences = 0
    steps = 0
    pairs: ClassVar[set[tuple[str, str]]] = set()
    rules: ClassVar[Counter[str]] = Counter()
    failures = 0

    @classmethod
    def reset(cls) -> None:
        cls.sequences = cls.steps = cls.failures = 0
        cls.pairs = set()
        cls.rules = Counter()


def run_cli(*args: str) -> tuple[int, str]:
    """``gr4vy-nb ARGS`` in-process: exit code and the whole output; no traceback, a documented code."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(args))
    text = out.getvalue() + err.getvalue()
    assert TRACEBACK not in text, text
    assert code in (0, 1, 2, 3), (code, text)
    return code, text


def journal_statuses(path: Path) -> dict[str, str]:
    with Journal.open(path, readonly=True) as j:
        return {r.session_id: r.status for r in j.rows(fields=("status",))}


class RunWorkflows(RuleBasedStateMachine):
    """See the module docstring. ``sandbox`` is set by the test before the machine runs."""

    sandbox: Any = None

    def __init__(self) -> None:
        super().__init__()
        sb = self.sandbox
        sb.clear_faults()
        sb.reset(reseed=False)
        sb.configure(latency_ms=0)
        seed = new_sessions(N_SESSIONS)
        sb.seed(seed)
        self.ids = [s["id"] for s in seed]
        self.state: dict[str, dict[str, Any]] = {s["id"]: norm(s) for s in seed}
        self.expired: set[str] = set()
        self.runs: list[RunRec] = []
        self.work = Path(tempfile.mkdtemp(prefix="gr4vy-nb-stateful-"))
        self.runs_dir = self.work / "runs"
        self.client = Gr4vyClient(Settings.for_sandbox(sb, retry=FAST), workers=8)
        self.last = "start"
        self.n = 0
        Figures.sequences += 1

    def teardown(self) -> None:
        self.client.close()
        self.sandbox.configure(latency_ms=0)
        shutil.rmtree(self.work, ignore_errors=True)

    # ------------------------------------------------------------------ bookkeeping

    def _step(self, name: str) -> None:
        Figures.steps += 1
        Figures.rules[name] += 1
        Figures.pairs.add((self.last, name))
        self.last = name

    def _new_journal(self) -> Path:
        self.n += 1
        return self.runs_dir / f"run-{self.n:03d}.sqlite"

    def _live(self) -> list[str]:
        return [s for s in self.ids if s not in self.expired]

    # ------------------------------------------------------------------ predictions

    def _predict_apply(self, spec: Spec) -> tuple[dict[str, str], dict[str, Change]]:
        status: dict[str, str] = {}
        changes: dict[str, Change] = {}
        for sid in spec.session_ids():
            if sid in self.expired:
                status[sid] = "failed"
                continue
            cur = self.state[sid]
            new = spec.applied_to(sid, cur)
            fields = [f for f in FIELDS if new[f] != cur[f]]
            if fields:
                status[sid] = "succeeded"
                changes[sid] = Change(fields, fields_of(cur, fields), fields_of(new, fields))
            else:
                status[sid] = "skipped"
        if spec.unknown:
            status[MISSING] = "failed"
        return status, changes

    def _send(self, rec: RunRec, sids: list[str]) -> None:
        """The model's outcome of (re-)sending ``sids`` of ``rec`` with a re-read first (resume, rollback)."""
        for sid in sids:
            change = rec.changes[sid]
            if sid in self.expired:
                rec.status[sid] = "failed"
                continue
            now = fields_of(self.state[sid], change.fields)
            if now == change.after:
                rec.status[sid] = "succeeded"  # already holds it: nothing sent
            elif now == change.before:
                rec.status[sid] = "succeeded"
                self.state[sid].update(change.after)
            else:
                rec.status[sid] = "conflict"

    def _expected_code(self, rec: RunRec) -> int:
        return 1 if any(s in NOT_THROUGH for s in rec.status.values()) else 0

    def _check_journal(self, rec: RunRec, text: str = "") -> None:
        got = journal_statuses(rec.journal)
        assert got == rec.status, (got, rec.status, text)
        self._check_expired_messages(rec)

    def _check_expired_messages(self, rec: RunRec) -> None:
        with Journal.open(rec.journal, readonly=True) as j:
            for r in j.rows(("failed",), fields=("message",)):
                if r.session_id in self.expired:
                    assert "expired" in (r.message or ""), r

    def _adopt(self, rec: RunRec) -> None:
        """After a cancelled or killed run: take the outcome of each session from the journal and the server.

        ``succeeded`` holds the new values; ``planned``/``unprocessed`` the old ones; ``sending`` (killed
        mid-write) either, and the server says which.
        """
        got = journal_statuses(rec.journal)
        assert set(got) == set(rec.status), (got, rec.status)
        for sid, status in got.items():
            expected = rec.status[sid]
            if expected in ("failed", "skipped"):
                assert status == expected, (sid, status, expected)
                continue
            change = rec.changes[sid]
            if status == "succeeded":
                self.state[sid].update(change.after)
            elif status == "sending":
                live = norm(self.client.get_checkout_session(sid))
                now = fields_of(live, change.fields)
                assert now in (change.before, change.after), (sid, now, change)
                self.state[sid].update(now)
            else:
                assert status in ("planned", "unprocessed"), (sid, status)
            rec.status[sid] = status

    # ------------------------------------------------------------------ generating uploads

    def _spec(self, data: Any) -> Spec:
        ids = self.ids
        tagged = data.draw(st.lists(st.sampled_from(ids), max_size=3, unique=True), label="tagged")
        taxed = data.draw(st.lists(st.sampled_from(ids), max_size=3, unique=True), label="taxed")
        appended = data.draw(st.lists(st.sampled_from(ids), max_size=2, unique=True), label="appended")
        spec = Spec(tags={s: data.draw(st.sampled_from(TAGS), label="tag") for s in tagged},
                    taxes={s: (data.draw(st.integers(0, 1), label="item"), data.draw(st.sampled_from(TAXES),
                                                                                      label="tax")) for s in taxed},
                    appends=appended, unknown=data.draw(st.booleans(), label="unknown"),
                    bad=data.draw(st.integers(0, 5), label="bad") == 0)
        if not spec.session_ids() and not spec.unknown:
            spec.tags[ids[0]] = "a"
        return spec

    def _apply_cli(self, spec: Spec, folder: Path) -> None:
        rec = RunRec(journal=self._new_journal(), kind="apply", folder=folder, spec=spec)
        status, changes = self._predict_apply(spec)
        # The model's cart rows are the complete list (an item appended earlier is dropped): consent to removals.
        code, text = run_cli("apply", str(folder), "--journal", str(rec.journal), "--workers", "2",
                             "--allow-destructive")
        if spec.bad:
            assert code == 2, text
            assert not rec.journal.exists()
            return
        rec.status, rec.changes = status, changes
        for change_sid, change in changes.items():
            self.state[change_sid].update(change.after)
        self.runs.append(rec)
        self._check_journal(rec, text)
        assert code == self._expected_code(rec), (code, text)

    # ------------------------------------------------------------------ rules

    @rule(data=st.data())
    def apply_generated_csv(self, data: Any) -> None:
        self._step("apply")
        spec = self._spec(data)
        self._apply_cli(spec, spec.write(self.work / f"upload-{self.n + 1:03d}", self.state))

    def _fitting(self) -> list[RunRec]:
        return [r for r in self.runs if r.folder and r.spec and r.spec.fits(self.state, self.expired)]

    def _with_errors(self) -> list[RunRec]:
        return [r for r in self._fitting() if r.kind == "apply" and (r.results_dir / "errors.csv").exists()
                and set(r.status.values()) & set(NOT_THROUGH)]

    @precondition(lambda self: bool(self._fitting()))
    @rule(data=st.data())
    def apply_same_file_again(self, data: Any) -> None:
        self._step("reapply")
        rec = data.draw(st.sampled_from(self._fitting()), label="run")
        assert rec.spec is not None and rec.folder is not None
        self._apply_cli(rec.spec, rec.folder)

    @precondition(lambda self: bool(self._with_errors()))
    @rule(data=st.data())
    def apply_errors_csv(self, data: Any) -> None:
        self._step("apply_errors")
        rec = data.draw(st.sampled_from(self._with_errors()), label="run")
        assert rec.spec is not None
        folder = self.work / f"errors-{self.n + 1:03d}"
        folder.mkdir()
        for f in rec.results_dir.glob("errors*.csv"):
            shutil.copy(f, folder / f.name)
        # The rows of every session that did not go through, with the user's own cells (+ error).
        failing = {s for s, v in rec.status.items() if v in NOT_THROUGH}
        self._apply_cli(rec.spec.only(failing), folder)

    @precondition(lambda self: any(r.resumable() for r in self.runs))
    @rule(data=st.data())
    def resume(self, data: Any) -> None:
        self._step("resume")
        rec = data.draw(st.sampled_from([r for r in self.runs if r.resumable()]), label="run")
        todo = [s for s, v in rec.status.items() if v in ("planned", "sending", "unprocessed")]
        self._send(rec, todo)
        code, text = run_cli("resume", str(rec.journal), "--ignore-changed-inputs")
        self._check_journal(rec, text)
        assert code == self._expected_code(rec), (code, text)
        for sid in todo:
            if sid in self.expired:
                assert sid in text, text  # the resume names the sessions that expired

    @rule(data=st.data())
    def cancel_mid_run(self, data: Any) -> None:
        self._step("cancel")
        spec = self._spec(data)
        spec.bad = False
        folder = spec.write(self.work / f"upload-{self.n + 1:03d}", self.state)
        rec = RunRec(journal=self._new_journal(), kind="apply", folder=folder, spec=spec)
        rec.status, rec.changes = self._predict_apply(spec)
        # With the target's probe result (merge), as the CLI steps plan: without it the plan's bodies carry each
        # session's full state, which the model does not predict (a later rollback of this run, or of its
        # rollback, then met another run's change to a field it never touched and was a conflict).
        plan = plan_updates(folder, client=self.client, probe=saved_probe(self.client.settings))
        assert plan.body_mode == "changed", plan.body_mode
        after = data.draw(st.integers(0, 2), label="cancel after")
        import threading

        cancel = threading.Event()

        def progress(p: Any) -> None:
            if p.done >= after:
                cancel.set()

        self.sandbox.configure(latency_ms=40)
        try:
            run = apply_plan(plan, client=self.client, journal=rec.journal, workers=1, cancel=cancel,
                             progress=progress, allow_destructive=True)
        finally:
            self.sandbox.configure(latency_ms=0)
        self.runs.append(rec)
        self._adopt(rec)
        assert run.state in ("cancelled", "finished"), run
        assert run.exit_code in (0, 1)

    @rule(data=st.data())
    def kill_mid_run(self, data: Any) -> None:
        self._step("kill")
        spec = self._spec(data)
        spec.bad = False
        for sid in self._live()[:4]:  # enough writes to be caught in flight
            spec.tags.setdefault(sid, "c" if self.state[sid]["metadata"].get("tag") != "c" else "b")
        folder = spec.write(self.work / f"upload-{self.n + 1:03d}", self.state)
        rec = RunRec(journal=self._new_journal(), kind="apply", folder=folder, spec=spec)
        rec.status, rec.changes = self._predict_apply(spec)
        delay = data.draw(st.sampled_from([0.0, 0.15, 0.3, 0.6]), label="kill after")
        self.sandbox.configure(latency_ms=120)
        try:
            # The process sees this session's config folder, so the sandbox's probe result (merge) too:
            # without it the CLI sent full-state bodies, which the model does not predict (another
            # run's later change to any field then turned the resume of this run into a conflict).
            env = cli_env(self.sandbox, {"GR4VY_NB_CONFIG_DIR": os.environ["GR4VY_NB_CONFIG_DIR"]})
            proc = subprocess.Popen(cli_command("apply", str(folder), "--journal", str(rec.journal), "--workers",
                                                "2", "--allow-destructive"), env=env,
                                    stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True)
            deadline = time.monotonic() + 60
            while not rec.journal.exists() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(delay)
            finished = proc.poll() is not None
            if not finished:
                proc.send_signal(signal.SIGKILL)
            out, _ = proc.communicate(timeout=60)
        finally:
            self.sandbox.configure(latency_ms=0)
        assert TRACEBACK not in out, out
        if finished:
            assert proc.returncode in (0, 1), out
        if rec.journal.exists():  # the process planned as the model does: changed-only bodies
            with Journal.open(rec.journal, readonly=True) as j:
                for row in j.rows(fields=("body", "desired")):
                    if row.body is not None:
                        assert set(row.body) - {"expires_in"} == set(row.desired or {}), row
        self.runs.append(rec)
        self._adopt(rec)
        if finished:
            assert proc.returncode == self._expected_code(rec), out

    def _rollback(self, rec: RunRec) -> None:
        before = set(self.runs_dir.glob("*.sqlite"))
        code, text = run_cli("rollback", str(rec.journal))
        made = sorted(set(self.runs_dir.glob("*.sqlite")) - before)
        assert len(made) == 1, (made, text)
        rb = RunRec(journal=made[0], kind="rollback", parent=rec)
        restored = [s for s, v in journal_statuses(rec.journal).items() if v == "succeeded" and s in rec.changes]
        for sid in restored:
            c = rec.changes[sid]
            rb.changes[sid] = Change(c.fields, c.after, c.before)
        self._send(rb, restored)
        self.runs.append(rb)
        self._check_journal(rb, text)
        assert code == self._expected_code(rb), (code, text)
        if not restored:
            assert "nothing to roll back" in text, text
        if any(v == "succeeded" for v in rb.status.values()):
            assert "cannot restore expires_at" in text, text
        for sid, v in rb.status.items():
            if v == "failed":
                assert sid in text and "expired" in text, text
            if v == "conflict":
                assert sid in text, text  # a conflict is reported (the first ten are listed)

    @precondition(lambda self: bool(self.runs))
    @rule(data=st.data())
    def rollback(self, data: Any) -> None:
        kinds = {"run": [r for r in self.runs if r.kind == "apply"],
                 "rollback": [r for r in self.runs if r.kind == "rollback"],
                 "partly failed": [r for r in self.runs if set(r.status.values()) & set(NOT_THROUGH)
                                   and "succeeded" in r.status.values()],
                 "nothing to undo": [r for r in self.runs if "succeeded" not in r.status.values()]}
        which = data.draw(st.sampled_from([k for k, v in kinds.items() if v]), label="kind")
        self._step(f"rollback {which}")
        self._rollback(data.draw(st.sampled_from(kinds[which]), label="run"))

    @precondition(lambda self: bool(self._live()))
    @rule(data=st.data())
    def another_writer_changes_a_session(self, data: Any) -> None:
        self._step("other_writer")
        sid = data.draw(st.sampled_from(self._live()), label="session")
        metadata = {**self.state[sid]["metadata"], "other": str(data.draw(st.integers(0, 3), label="value"))}
        self.client.update_checkout_session(sid, {"metadata": metadata})
        self.state[sid]["metadata"] = metadata

    @precondition(lambda self: len(self._live()) > 2)
    @rule(data=st.data())
    def a_session_expires(self, data: Any) -> None:
        self._step("expire")
        sid = data.draw(st.sampled_from(self._live()), label="session")
        self.sandbox.expire(sid)
        self.expired.add(sid)

    @rule()
    def list_runs(self) -> None:
        self._step("runs")
        code, text = run_cli("runs", str(self.runs_dir))
        assert code == 0, text
        for rec in self.runs:
            assert rec.journal.stem in text, text

    @precondition(lambda self: bool(self.runs))
    @rule(data=st.data())
    def report_run(self, data: Any) -> None:
        self._step("report")
        rec = data.draw(st.sampled_from(self.runs), label="run")
        ids = self.work / "ids.txt"
        ids.write_text("\n".join(self._live()) + "\n", encoding="utf-8")
        out = self.work / "report.html"
        code, text = run_cli("report", str(ids), "--out", str(out), "--run", str(rec.journal))
        assert code == 0, text
        assert out.stat().st_size > 0

    # ------------------------------------------------------------------ invariants

    @invariant()
    def sandbox_holds_what_the_model_says(self) -> None:
        got = self.client.get_checkout_sessions(self.ids)
        for sid in self.ids:
            if sid in self.expired:
                assert isinstance(got[sid], NotFound), (sid, got[sid])
            else:
                assert isinstance(got[sid], dict), (sid, got[sid])
                assert norm(got[sid]) == self.state[sid], (sid, norm(got[sid]), self.state[sid])

    @invariant()
    def every_journal_is_intact_and_adds_up(self) -> None:
        for rec in self.runs:
            with Journal.open(rec.journal, readonly=True) as j:
                assert j.integrity_check() == "ok", rec.journal
                counts = j.counts()
                assert sum(v for k, v in counts.items() if k != "total") == counts["total"] == len(rec.status)
