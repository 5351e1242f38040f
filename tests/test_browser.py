"""A real browser: JupyterLab + headless Chromium run the notebooks and drive the apps.

JupyterLab is started on a free loopback port with a random token, its kernels pointed at the
test sandbox; Playwright drives Debian's Chromium (``/usr/bin/chromium``; no browser download).
Each test runs every cell of a notebook (*Run All*) and checks that the sandbox saw no write
(issue 14). The 02 test then uploads an example CSV through the page's real file input, clicks
Validate, Plan and Run, checks the counts the results table shows against what the sandbox saw,
and filters the results by ``failed``: the one failed row is shown, not a row of NaN. The 03 test
makes the example run from the runs browser's button, previews and confirms its rollback, and
finds the run marked "rolled back by". A third 02 test presses Cancel while a slow plan of 200
sessions is fetching: the plan ends within seconds, with "plan cancelled: nothing was sent" in its
step and no write. Screenshots go to ``build/screenshots/`` for review.

Where Chromium or Playwright is missing the test is skipped with the reason, except under
``CI=true``, where it fails: CI installs both (see ``.ci/run``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.config import Settings
from gr4vy_nb.notebook_support import NOTEBOOKS, examples_dir
from gr4vy_nb.sandbox import Sandbox
from gr4vy_nb.sandbox.seeding import default_seed_path
from gr4vy_nb.updates.plan import plan_updates
from tests.paths import REPO
from tests.widgets.helpers import IDS, tag_csv

pytestmark = pytest.mark.browser

NOTEBOOK = "02_bulk_update_from_csv.ipynb"
# The example uploaded through the browser: one CSV file, as an analyst would pick it.
UPLOAD = Path("01_metadata_tag") / "sessions.csv"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions"]
SHOTS = REPO / "build" / "screenshots"
SCREENSHOT = SHOTS / "browser-02-bulk-update.png"
_LAB_SETTINGS = {
    # No news or update checks (there is no network), and every cell kept in the page.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


def _chromium() -> str | None:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _unavailable() -> str | None:
    """Why the browser test cannot run here, or ``None``."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright)"
    if _chromium() is None:
        return "Chromium is not installed (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser_path() -> str:
    reason = _unavailable()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser test must run in CI: {reason}")
        pytest.skip(reason)
    return _chromium()  # type: ignore[return-value]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Lab:
    """A JupyterLab server on a loopback port, serving one folder, with its own config dirs."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        home = root.parent / "jupyter-home"
        settings = home / "lab-settings"
        for name, values in _LAB_SETTINGS.items():
            path = settings / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = {**env, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
               "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
               "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])}
        cmd = [str(Path(sys.executable).with_name("jupyter")), "lab", "--no-browser", "--ip=127.0.0.1",
               f"--port={self.port}", f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={root}",
               "--ServerApp.port_retries=0", "--LabApp.news_url=", "--ServerApp.open_browser=False"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        self.log = root.parent / "jupyterlab.log"
        self._log = self.log.open("wb")
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_ready()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"JupyterLab did not answer within {timeout} s:\n{self.log_text()}")

    def log_text(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


def _serve(sandbox: Sandbox, tmp_path: Path, **extra: str) -> Iterator[Lab]:
    root = tmp_path / "notebooks"
    root.mkdir()
    for name in NOTEBOOKS:
        shutil.copy(REPO / "notebooks" / name, root / name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GR4VY_")}
    env.update(GR4VY_BASE_URL=sandbox.base_url, GR4VY_PRIVATE_KEY_FILE=str(sandbox.private_key_file),
               GR4VY_NB_CONFIG_DIR=str(tmp_path / "gr4vy-nb-config"), **extra)
    server = Lab(root, env)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def lab(sandbox_clean: Sandbox, tmp_path: Path, browser_path: str) -> Iterator[Lab]:
    yield from _serve(sandbox_clean, tmp_path)


@pytest.fixture
def production_lab(sandbox_clean: Sandbox, tmp_path: Path, browser_path: str) -> Iterator[Lab]:
    """The notebooks with PRODUCTION settings (pointed at the sandbox): writes need the typed confirmation."""
    yield from _serve(sandbox_clean, tmp_path, GR4VY_ENVIRONMENT="production", GR4VY_MERCHANT_ACCOUNT_ID="default")


def _text(page: Any, selector: str) -> str:
    return str(page.locator(selector).first.inner_text())


def _wait_text(page: Any, selector: str, needle: str, timeout: float = 60) -> str:
    """Wait until the element's text contains ``needle``; return the text."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        loc = page.locator(selector)
        if loc.count():
            text = str(loc.first.inner_text()).replace("\xa0", " ")  # widgets' labels use no-break spaces
            if needle in text:
                return text
        page.wait_for_timeout(100)
    raise AssertionError(f"{selector} never showed {needle!r}; it shows {text!r}")


def _wait_until(page: Any, check: Any, what: str, timeout: float = 30) -> None:
    """Wait until ``check()`` holds (the state asserted, not a text an earlier step already showed)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never reached: {what}")
        page.wait_for_timeout(100)


def _plan_id(page: Any) -> str | None:
    """Which plan the page shows (its creation time; ``None``: none)."""
    loc = page.locator(".gr4vy-plan-summary [data-plan]")
    return loc.first.get_attribute("data-plan") if loc.count() else None


_IN_VIEW = """([scope, name]) => {
    const th = [...document.querySelectorAll(scope + ' table.dataTable thead th')]
        .find(e => e.offsetParent !== null && e.innerText.trim() === name);
    if (!th) return null;
    let box = th.parentElement;  // the nearest box that clips sideways (DataTables' scroller)
    while (box && getComputedStyle(box).overflowX === 'visible') box = box.parentElement;
    const a = th.getBoundingClientRect(), b = (box || document.body).getBoundingClientRect();
    return a.right <= b.right + 1 && a.left >= b.left - 1;
}"""


def _in_view(page: Any, scope: str, column: str) -> bool | None:
    """Whether the header ``column`` of the table under ``scope`` is in view without scrolling sideways."""
    return page.evaluate(_IN_VIEW, [scope, column])


def _sent(sandbox: Sandbox) -> dict[str, int]:
    """Requests other than reads the sandbox has seen, by method."""
    return {m: sum(by.values()) for m, by in sandbox.stats()["requests"].items()
            if m not in ("GET", "HEAD", "OPTIONS") and sum(by.values())}


def _run_all(page: Any, lab: Lab, name: str, last_output: str, timeout: float = 120) -> None:
    """Open notebook ``name`` and run all its cells; wait until ``last_output`` shows in the page."""
    page.goto(f"{lab.url}/lab/tree/{name}?token={lab.token}")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=60_000)
    # Run All before the kernel is ready can stop after the first cell: wait for it.
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)
    shown = ".jp-NotebookPanel:visible .jp-Notebook"  # the open tab's (Lab may restore other tabs, hidden)
    for _ in range(5):  # the status bar may show another tab's idle kernel: try again until cells run
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_text("Run All Cells", exact=True).click()
        try:
            _wait_text(page, shown, "[1]:", timeout=20)
            break
        except AssertionError:
            continue
    _wait_text(page, shown, last_output, timeout=timeout)
    # ... and the kernel has gone back to idle (every cell ran)
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
    assert "Traceback" not in str(page.locator(shown).first.inner_text())


def _shot(page: Any, name: str, selector: str | None = None, block: str = "start") -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    if selector is not None:
        page.locator(selector).first.evaluate(f"e => e.scrollIntoView({{block: '{block}'}})")
        page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / name))


@contextlib.contextmanager
def _page(browser_path: str, failure_shot: str) -> Iterator[Any]:
    """A page of headless Chromium (1400 x 1000, 60 s timeouts); on a failure, a screenshot named ``failure_shot``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=browser_path, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        try:
            yield page
        except Exception:
            _shot(page, failure_shot)
            raise
        finally:
            browser.close()


def test_run_all_of_the_explore_notebook_sends_no_write(lab: Lab, sandbox_clean: Sandbox,
                                                        browser_path: str) -> None:
    with _page(browser_path, "browser-01-failure.png") as page:
        _run_all(page, lab, "01_explore_sessions.ipynb", "GRU → NRT")
        assert _sent(sandbox_clean) == {} and dict(sandbox_clean.stats()["writes"]) == {}
        _shot(page, "browser-01-explore.png")


def test_run_all_of_the_review_notebook_sends_no_write_and_rolls_back_only_on_confirm(
        lab: Lab, sandbox_clean: Sandbox, browser_path: str) -> None:
    with _page(browser_path, "browser-03-failure.png") as page:
        _run_all(page, lab, "03_review_and_report.ipynb", "rollback_run not run: APPLY is False")
        assert _sent(sandbox_clean) == {} and dict(sandbox_clean.stats()["writes"]) == {}
        _shot(page, "browser-03-empty-runs.png", ".gr4vy-runs-example")
        # an example run only when the button is pressed
        page.locator(".gr4vy-runs-example:not([disabled])").click()
        _wait_text(page, ".gr4vy-results-counts", "succeeded 20")
        assert len(sandbox_clean.stats()["writes"]) == 20
        for column in ("run", "state", "total", "succeeded"):  # the runs table: no sideways scroll to them
            _wait_until(page, lambda c=column: _in_view(page, "", c), f"the runs table's {column} in view")
        _shot(page, "browser-03-example-run.png", ".gr4vy-runs-refresh")
        # rollback: a preview first, nothing sent until confirmed
        page.locator(".gr4vy-rollback:not([disabled])").click()
        preview = _wait_text(page, ".gr4vy-rollback-preview", "cannot be restored")
        assert "20 session(s) get back the values" in preview
        assert dict(sandbox_clean.stats()["writes"]) == dict.fromkeys(sandbox_clean.stats()["writes"], 1)
        _shot(page, "browser-03-rollback-preview.png", ".gr4vy-rollback-preview")
        page.locator(".gr4vy-rollback-confirm:not([disabled])").click()
        _wait_text(page, ".gr4vy-messages", "rollback finished", timeout=60)
        _wait_text(page, ".gr4vy-runs-choice", "rolled back by", timeout=30)
        assert set(dict(sandbox_clean.stats()["writes"]).values()) == {2}
        _shot(page, "browser-03-rolled-back.png", ".gr4vy-runs-refresh")


def test_bulk_update_notebook_in_a_real_browser(lab: Lab, sandbox_clean: Sandbox, browser_path: str) -> None:
    upload = examples_dir() / UPLOAD
    assert upload.is_file(), f"the example {upload} is missing"
    started = time.monotonic()
    with _page(browser_path, "browser-02-failure.png") as page:
        # Run every cell, as an analyst would from the Run menu: the writing cells say they did not run.
        _run_all(page, lab, NOTEBOOK, "rollback_run not run: APPLY is False")
        page.wait_for_selector(".gr4vy-upload", timeout=30_000)
        ran_all = time.monotonic() - started
        assert _sent(sandbox_clean) == {} and dict(sandbox_clean.stats()["writes"]) == {}, "Run All wrote"

        # What the app should find: the sandbox as seeded.
        settings = Settings.for_sandbox(sandbox_clean)
        with Gr4vyClient(settings) as client:
            plan = plan_updates(upload, client=client)
        # The example names one session that does not exist: it fails as "not found or expired".
        expected, missing, total = len(plan.changes), plan.summary["not_found"], len(plan.items)
        assert expected > 0
        writes_before = dict(sandbox_clean.stats()["writes"])

        # 1 · upload through the page's real file input
        with page.expect_file_chooser() as chooser:
            page.locator(".gr4vy-upload").click()
        chooser.value.set_files(str(upload))
        _wait_text(page, ".gr4vy-files", upload.name)
        # 2 · validate
        page.locator(".gr4vy-validate").click()
        summary = _wait_text(page, ".gr4vy-validation-summary", "error(s)")
        assert summary.startswith("0 error(s)"), summary
        # 3 · plan
        page.locator(".gr4vy-plan:not([disabled])").click()
        plan_text = _wait_text(page, ".gr4vy-plan-summary", "session(s) to update")
        assert plan_text.startswith(f"{expected} session(s) to update"), plan_text
        _shot(page, "browser-02-plan.png", ".gr4vy-banner")
        # 4 · apply (the example clears a metadata key in a few sessions: that needs the consent box)
        if plan.consent:
            page.locator(".gr4vy-consent input[type=checkbox]").check()
        page.locator(".gr4vy-apply:not([disabled])").click()
        counts = _wait_text(page, ".gr4vy-results-counts", f"succeeded {expected}")
        _shot(page, SCREENSHOT.name, ".gr4vy-results-counts")
        # 5 · the results open on what needs attention; filter them by status: exactly the failed row
        _wait_text(page, ".gr4vy-results-filter ~ * .gr4vy-table-note", "filter: not succeeded")
        page.locator(".gr4vy-results-filter select").select_option("failed")
        _wait_text(page, ".gr4vy-results-filter ~ * .gr4vy-table-note", "filter: failed")
        rows = page.locator(".gr4vy-results-filter ~ * table.dataTable tbody tr")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "not found" not in " ".join(rows.all_inner_texts()):
            page.wait_for_timeout(100)
        row_texts = [t for t in rows.all_inner_texts() if t.strip()]
        _shot(page, "browser-02-results-filtered-failed.png", ".gr4vy-results-filter")
        # No sideways scroll to what one looks for: the id, the status, the attempts.
        for column in ("checkout_session_id", "status", "attempts"):
            _wait_until(page, lambda c=column: _in_view(page, ".gr4vy-results-filter ~ *", c), f"{column} in view")

    # 5 · the results the page shows are what the sandbox did
    for status, n in (("succeeded", expected), ("failed", missing), ("conflict", 0), ("unprocessed", 0)):
        assert f"{status} {n}" in counts, counts
    assert f"total {total}" in counts
    missing_ids = [i.session_id for i in plan.items if str(i.status) == "not_found"]
    assert len(row_texts) == missing == len(missing_ids) == 1, row_texts
    assert missing_ids[0] in row_texts[0] and "failed" in row_texts[0] and "NaN" not in row_texts[0]
    writes = dict(sandbox_clean.stats()["writes"])
    newly = {sid: n - writes_before.get(sid, 0) for sid, n in writes.items() if n != writes_before.get(sid, 0)}
    assert len(newly) == expected and set(newly.values()) == {1}
    print(f"browser test: notebook ran in {ran_all:.1f} s, whole flow {time.monotonic() - started:.1f} s")


def test_cancel_during_a_plan_in_a_real_browser(lab: Lab, sandbox_clean: Sandbox, browser_path: str,
                                                tmp_path: Path) -> None:
    many = tmp_path / "many" / "sessions.csv"
    many.parent.mkdir()
    many.write_bytes(tag_csv(IDS[:200], "cancel-test"))
    with _page(browser_path, "browser-02-cancel-failure.png") as page:
        _run_all(page, lab, NOTEBOOK, "rollback_run not run: APPLY is False")
        page.wait_for_selector(".gr4vy-upload", timeout=30_000)
        with page.expect_file_chooser() as chooser:
            page.locator(".gr4vy-upload").click()
        chooser.value.set_files(str(many))
        _wait_text(page, ".gr4vy-files", many.name)
        page.locator(".gr4vy-validate").click()
        summary = _wait_text(page, ".gr4vy-validation-summary", "error(s)")
        assert summary.startswith("0 error(s)"), summary
        sandbox_clean.configure(latency_ms=200)  # 200 sessions: several seconds of reads
        gets_before = sum(sandbox_clean.stats()["requests"].get("GET", {}).values())
        page.locator(".gr4vy-plan:not([disabled])").click()
        _wait_text(page, ".gr4vy-plan-counters", "/ 200")
        _shot(page, "browser-02-plan-progress.png", ".gr4vy-lists-mode")
        started = time.monotonic()
        page.locator(".gr4vy-plan-cancel:not([disabled])").click()
        _wait_text(page, ".gr4vy-plan-messages", "plan cancelled: nothing was sent", timeout=10)
        took = time.monotonic() - started
        _shot(page, "browser-02-plan-cancelled.png", ".gr4vy-lists-mode")
        assert took < 3, f"cancel took {took:.1f} s"
        _wait_text(page, ".gr4vy-apply-reason", "plan first", timeout=10)
        _wait_until(page, lambda: page.locator(".gr4vy-plan-progress:visible").count() == 0, "the bar hidden")
        assert _sent(sandbox_clean) == {} and dict(sandbox_clean.stats()["writes"]) == {}
        gets = sum(sandbox_clean.stats()["requests"].get("GET", {}).values()) - gets_before
        assert gets < 100, gets  # Cancel stopped the reads queued, not only the plan's result
    print(f"browser test: the plan's Cancel took {took:.2f} s")


def _checked(page: Any, selector: str) -> bool:
    return bool(page.locator(f"{selector} input[type=checkbox]").first.is_checked())


def _typed(page: Any, selector: str) -> str:
    return str(page.locator(f"{selector} input").first.input_value())


def _disabled(page: Any, selector: str) -> bool:
    return page.locator(f"{selector}[disabled]").count() > 0


def _confirm_production(page: Any, typed: str) -> None:
    page.locator(".gr4vy-confirm input[type=checkbox]").first.check()
    field = page.locator(".gr4vy-confirm-text input").first
    field.fill(typed)
    field.press("Tab")  # ipywidgets' Text sends its value on change (continuous_update covers typing too)
    page.wait_for_timeout(300)


def _wait_enabled(page: Any, selector: str, enabled: bool = True, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _disabled(page, selector) != enabled:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"{selector} never became {'enabled' if enabled else 'disabled'}")


def test_production_confirmation_and_destructive_consent_re_arm_in_a_real_browser(
        production_lab: Lab, sandbox_clean: Sandbox, browser_path: str, tmp_path: Path) -> None:
    """PRODUCTION settings (pointed at the sandbox): Run All writes nothing and shows no traceback; a
    one-row passengers.csv plans the removal of 3 passengers, shown in red next to Run; Run stays
    disabled until the consent box *and* the typed confirmation are given; both are cleared by a new
    plan and after the run; the rollback previews first and needs the confirmation again."""
    seed = [json.loads(line) for line in Path(default_seed_path()).read_text().splitlines() if line.strip()]
    s0 = seed[0]["id"]
    assert len(seed[0]["airline"]["passengers"]) == 4
    upload = tmp_path / "one-passenger" / "passengers.csv"
    upload.parent.mkdir()
    upload.write_text(f"checkout_session_id,passenger_index,first_name\n{s0},1,Hanna\n")
    lab = production_lab
    with _page(browser_path, "browser-02-production-failure.png") as page:
        _run_all(page, lab, NOTEBOOK, "rollback_run not run: APPLY is False")
        shown = str(page.locator(".jp-NotebookPanel:visible .jp-Notebook").first.inner_text())
        assert "PRODUCTION" in shown and "Traceback" not in shown
        assert _sent(sandbox_clean) == {} and dict(sandbox_clean.stats()["writes"]) == {}, "Run All wrote"
        _shot(page, "browser-02-production-guard-cell.png", ".gr4vy-target-production")

        with page.expect_file_chooser() as chooser:
            page.locator(".gr4vy-upload").click()
        chooser.value.set_files(str(upload))
        _wait_text(page, ".gr4vy-files", upload.name)
        page.locator(".gr4vy-validate").click()
        assert _wait_text(page, ".gr4vy-validation-summary", "error(s)").startswith("0 error(s)")
        page.locator(".gr4vy-plan:not([disabled])").click()
        summary = _wait_text(page, ".gr4vy-plan-summary", "session(s) to update")
        assert "destructive: would remove 3 passengers" in summary  # in the summary line, in red
        red = _wait_text(page, ".gr4vy-destructive", "remove 3 passengers")
        assert "destructive" in red
        # Not "plan ready ... then Run" while Run waits for the consent box.
        assert "plan ready" not in _wait_text(page, ".gr4vy-plan-status", "before Run")
        _shot(page, "browser-02-production-plan-diff.png", ".gr4vy-diff-view", "center")
        _shot(page, "browser-02-production-consent-asked.png", ".gr4vy-apply", "center")
        # Run waits for the consent box first, then for the PRODUCTION confirmation.
        _wait_text(page, ".gr4vy-apply-reason", "consent")
        assert _disabled(page, ".gr4vy-apply")
        page.locator(".gr4vy-consent input[type=checkbox]").first.check()
        _wait_text(page, ".gr4vy-apply-reason", "confirm PRODUCTION")
        assert _disabled(page, ".gr4vy-apply")
        _confirm_production(page, "defaul")  # one letter short: still disabled
        assert _disabled(page, ".gr4vy-apply")
        _confirm_production(page, "default")
        _wait_enabled(page, ".gr4vy-apply")
        _wait_text(page, ".gr4vy-plan-status", "plan ready")
        _shot(page, "browser-02-production-consent-given.png", ".gr4vy-apply", "center")

        # A new plan re-arms both: the box unticked, the id cleared, Run disabled again. Wait for the new
        # plan itself (another data-plan), never for the text the last plan already showed.
        first = _plan_id(page)
        assert first is not None
        page.locator(".gr4vy-plan:not([disabled])").click()
        _wait_until(page, lambda: _plan_id(page) not in (None, first), "a new plan shown")
        _wait_text(page, ".gr4vy-destructive", "remove 3 passengers")
        _wait_until(page, lambda: _disabled(page, ".gr4vy-apply") and not _checked(page, ".gr4vy-consent")
                    and not _checked(page, ".gr4vy-confirm") and _typed(page, ".gr4vy-confirm-text") == "",
                    "consent and confirmation re-armed by the new plan")
        _wait_text(page, ".gr4vy-plan-status", "before Run")
        _shot(page, "browser-02-production-re-armed-by-plan.png", ".gr4vy-apply", "center")
        assert dict(sandbox_clean.stats()["writes"]) == {}

        page.locator(".gr4vy-consent input[type=checkbox]").first.check()
        _confirm_production(page, "default")
        _wait_enabled(page, ".gr4vy-apply")
        page.locator(".gr4vy-apply:not([disabled])").click()
        _wait_text(page, ".gr4vy-results-counts", "succeeded 1")
        _wait_text(page, ".gr4vy-apply-messages", "apply finished")
        assert dict(sandbox_clean.stats()["writes"]) == {s0: 1}
        with Gr4vyClient(Settings.for_sandbox(sandbox_clean)) as client:
            assert len(client.get_checkout_session(s0)["airline"]["passengers"]) == 1
        # ... and re-armed after the run.
        _wait_until(page, lambda: not _checked(page, ".gr4vy-confirm") and _typed(page, ".gr4vy-confirm-text") == "",
                    "the confirmation re-armed after the run")
        _shot(page, "browser-02-production-after-run.png", ".gr4vy-results-counts")

        # Rollback: a preview, and its confirm button waits for the PRODUCTION confirmation.
        page.locator(".gr4vy-rollback:not([disabled])").click()
        preview = _wait_text(page, ".gr4vy-rollback-preview", "cannot be restored")
        assert "1 session(s) get back the values" in preview
        _wait_enabled(page, ".gr4vy-rollback-confirm", enabled=False)
        _shot(page, "browser-02-production-rollback-preview.png", ".gr4vy-rollback-preview")
        _confirm_production(page, "default")
        _wait_enabled(page, ".gr4vy-rollback-confirm")
        page.locator(".gr4vy-rollback-confirm:not([disabled])").click()
        _wait_text(page, ".gr4vy-messages", "rollback finished", timeout=60)
        assert dict(sandbox_clean.stats()["writes"]) == {s0: 2}
        with Gr4vyClient(Settings.for_sandbox(sandbox_clean)) as client:
            assert len(client.get_checkout_session(s0)["airline"]["passengers"]) == 4
        _wait_until(page, lambda: not _checked(page, ".gr4vy-confirm") and _typed(page, ".gr4vy-confirm-text") == "",
                    "the confirmation re-armed after the rollback")
        _shot(page, "browser-02-production-rolled-back.png", ".gr4vy-results-counts")
