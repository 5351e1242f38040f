"""Leak canaries: a planted private key, tokens and personal data, run through every command, the
widgets and the notebooks; then every output a user or a log collector would see is searched.

The canaries:

* a private key made for this test (the sandbox trusts it): its PEM lines and its private
  scalar (hex and base64url) must never appear anywhere;
* tokens: any JWT at all (a signed bearer token, live or expired) is a hit;
* personal data planted in every session of the sandbox: passport numbers ``PPCANARY0000X`` and
  emails ``canary.0000@leak-test.example``, plus new ones written by an upload.

Searched: stdout, stderr and DEBUG logs of every command; exception messages and reprs;
journals' non-data columns (meta, statuses, messages, errors, events); ``results.csv`` and
``succeeded.csv``; HTML reports; the state of every widget (``data:`` downloads decoded);
executed notebooks.  Raw personal data is expected only where the user asked for it, and
those places serve as positive controls that prove the search finds what it looks for:
``plan --raw``, ``report --raw``, exported CSVs, ``errors.csv`` (the user's own rows to fix and
upload again), the journal's data columns, and the widgets with "show personal data" ticked.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gr4vy_nb.api.auth import READ_SCOPE, WRITE_SCOPE, TokenSigner, load_private_key, write_new_private_key
from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.config import Settings
from gr4vy_nb.errors import ConfigError, Gr4vyError
from gr4vy_nb.sandbox import start_sandbox
from gr4vy_nb.sandbox.server import main as sandbox_main

from ._support import (
    FULL,
    JWT_RE,
    REPO,
    TRACEBACK,
    cli_env,
    record,
    run_cli,
    run_cli_in_process,
    sample_sessions,
)

PASSPORT_RE = re.compile(r"PPCANARY\d{4}X")
EMAIL_RE = re.compile(r"canary\.\d{4}@leak-test\.example")
DATA_URI_RE = re.compile(r"download=['\"]([^'\"]+)['\"]\s+href=['\"]data:[^;,'\"]+;base64,([A-Za-z0-9+/=]+)")
NEW_PASSPORT = "PPCANARY9999X"
NEW_EMAIL = "canary.9999@leak-test.example"
NOTEBOOKS = ["01_explore_sessions.ipynb", "02_bulk_update_from_csv.ipynb", "03_review_and_report.ipynb"]


# --------------------------------------------------------------------------- the canaries


@dataclass
class Canaries:
    """The planted secrets and personal data, and a search for them."""

    key_file: Path
    key_markers: list[str]
    token: str
    expired_token: str
    seed_file: Path
    findings: list[dict[str, Any]] = field(default_factory=list)

    def hits(self, text: str) -> Counter[str]:
        """Canary kinds found in ``text`` (``data:`` downloads decoded and searched too)."""
        found: Counter[str] = Counter()
        texts = [text]
        for _name, b64 in DATA_URI_RE.findall(text):
            texts.append(base64.b64decode(b64).decode("utf-8", "replace"))
        for t in texts:
            found["private_key"] += sum(t.count(m) for m in self.key_markers)
            found["token"] += len(JWT_RE.findall(t))
            found["passport"] += len(PASSPORT_RE.findall(t))
            found["email"] += len(EMAIL_RE.findall(t))
        return +found

    def check(self, channel: str, text: str, *, raw_allowed: bool = False) -> Counter[str]:
        """Search one channel; secrets are never allowed, personal data only where ``raw_allowed``."""
        found = self.hits(text)
        secrets = {k: v for k, v in found.items() if k in ("private_key", "token")}
        personal = {k: v for k, v in found.items() if k in ("passport", "email")}
        leaked = sum(secrets.values()) + (0 if raw_allowed else sum(personal.values()))
        self.findings.append({"channel": channel, "raw_allowed": raw_allowed, "hits": dict(found), "leaked": leaked})
        return found

    def leaks(self) -> list[dict[str, Any]]:
        return [f for f in self.findings if f["leaked"]]


def _key_markers(key_file: Path) -> list[str]:
    pem = key_file.read_text()
    lines = [ln.strip() for ln in pem.splitlines() if ln.strip() and "-----" not in ln]
    key = load_private_key(pem.encode())
    d = key.private_numbers().private_value
    raw = d.to_bytes((key.curve.key_size + 7) // 8, "big")
    return [*[ln for ln in lines if len(ln) >= 16], f"{d:x}", base64.urlsafe_b64encode(raw).decode().rstrip("=")]


def _canary_sessions() -> list[dict[str, Any]]:
    out = []
    n = 0
    for s in sample_sessions():
        for p in (s.get("airline") or {}).get("passengers") or []:
            p["passport_number"] = f"PPCANARY{n:04d}X"
            p["email_address"] = f"canary.{n:04d}@leak-test.example"
            n += 1
        billing = (s.get("buyer") or {}).get("billing_details")
        if billing:
            billing["email_address"] = f"canary.{n:04d}@leak-test.example"
            n += 1
        out.append(s)
    return out


@pytest.fixture(scope="module")
def canaries(tmp_path_factory) -> Canaries:
    folder = tmp_path_factory.mktemp("canaries")
    key_file = write_new_private_key(folder / "canary-key.pem")
    key = load_private_key(key_file.read_bytes())
    seed = folder / "canary-sessions.jsonl"
    seed.write_text("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in _canary_sessions()), encoding="utf-8")
    token = TokenSigner(key).token([READ_SCOPE, WRITE_SCOPE])
    expired = TokenSigner(key, lifetime=600, renew_before=60, clock=lambda: time.time() - 7200).token([READ_SCOPE])
    return Canaries(key_file, _key_markers(key_file), token, expired, seed)


@pytest.fixture(scope="module")
def canary_sandbox(canaries: Canaries, tmp_path_factory) -> Any:
    folder = tmp_path_factory.mktemp("canary-sandbox")
    with start_sandbox(mode="process", seed=canaries.seed_file, private_key_file=canaries.key_file,
                       db=folder / "sandbox.db") as sandbox:
        yield sandbox


@pytest.fixture
def fresh(canary_sandbox) -> Any:
    canary_sandbox.reset(reseed=True)
    yield canary_sandbox
    canary_sandbox.clear_faults()


def test_the_search_finds_every_canary(canaries):
    """The detector itself: each canary kind is found in a text that holds it, and only then."""
    pem = canaries.key_file.read_text()
    assert canaries.hits(pem)["private_key"] >= 3
    assert canaries.hits(f"Authorization: Bearer {canaries.token}")["token"] == 1
    assert canaries.hits(canaries.expired_token)["token"] == 1
    assert canaries.hits(f"{NEW_PASSPORT} {NEW_EMAIL}") == Counter(passport=1, email=1)
    encoded = base64.b64encode(NEW_PASSPORT.encode()).decode()
    assert canaries.hits(f"<a download='x.csv' href='data:text/csv;base64,{encoded}'>")["passport"] == 1
    assert not canaries.hits("P***9X #abc123 c***@***.example #k3x9qa eyJhbGciOi")


# --------------------------------------------------------------------------- helpers


def _sid_with_passengers(n: int = 2) -> list[dict[str, Any]]:
    return [s for s in _canary_sessions() if (s.get("airline") or {}).get("passengers")][:n]


def _write_upload(folder: Path, *, fail: dict[str, Any] | None = None) -> dict[str, Any]:
    """sessions.csv for 6 sessions and passengers.csv giving new canary data to two of them."""
    folder.mkdir(parents=True, exist_ok=True)
    sessions = _canary_sessions()[:6]
    lines = ["checkout_session_id,metadata.leak_test"]
    lines += [f"{s['id']},batch-1" for s in sessions]
    (folder / "sessions.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = ["checkout_session_id,passenger_index,passport_number,email_address"]
    targets = _sid_with_passengers(2)
    for k, s in enumerate(targets):
        for i, _p in enumerate(s["airline"]["passengers"]):
            if i == 0:
                rows.append(f"{s['id']},{i},PPCANARY99{k}9X,canary.99{k}9@leak-test.example")
            else:
                rows.append(f"{s['id']},{i},,")
    (folder / "passengers.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return {"ids": [s["id"] for s in sessions], "passengers": [s["id"] for s in targets]}


def _write_bad_upload(folder: Path, sid: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "passengers.csv").write_text(
        "checkout_session_id,passenger_index,passport_number,email_address\n"
        f"{sid},0,{NEW_PASSPORT}{'9' * 45},{'x' * 300}{NEW_EMAIL}\n", encoding="utf-8")


_DATA_COLUMNS = ("before", "body", "desired", "source", "response", "differences")


def _journal_text(path: Path, *, data: bool) -> str:
    """The journal's non-data columns (meta, statuses, messages, errors, events), or its data columns."""
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(sessions)")]
        wanted = [c for c in columns if (c in _DATA_COLUMNS) is data]
        parts = [json.dumps(conn.execute(f"SELECT {', '.join(wanted)} FROM sessions").fetchall(), default=str)]
        if not data:
            parts.append(json.dumps(conn.execute("SELECT * FROM meta").fetchall(), default=str))
            parts.append(json.dumps(conn.execute("SELECT * FROM events").fetchall(), default=str))
        return "\n".join(parts)
    finally:
        conn.close()


class Runner:
    """Runs ``gr4vy-nb`` commands (in this process in the fast tier, as processes in the full one)."""

    def __init__(self, canaries: Canaries, env: dict[str, str], cwd: Path, subprocess_always: bool) -> None:
        self.canaries = canaries
        self.env = env
        self.cwd = cwd
        self.subprocess_always = subprocess_always

    def __call__(self, name: str, args: list[str], *, expect: Iterable[int] = (0,), raw_allowed: bool = False,
                 env: dict[str, str] | None = None, subprocess_run: bool = False) -> str:
        use_env = env or self.env
        if self.subprocess_always or subprocess_run:
            done = run_cli(args, use_env, cwd=self.cwd)
            code, text = done.returncode, done.stdout + "\n" + done.stderr
        else:
            ran = run_cli_in_process(args, use_env, cwd=self.cwd)
            code, text = ran.returncode, ran.stdout + "\n" + ran.stderr + "\n" + ran.logs
        assert TRACEBACK not in text, text[-3000:]
        assert code in tuple(expect), f"{args}: exit {code}\n{text[-3000:]}"
        self.canaries.check(f"gr4vy-nb {name}", text, raw_allowed=raw_allowed)
        return text


# --------------------------------------------------------------------------- every command


def test_every_command_leaks_nothing(canaries, fresh, tmp_path):
    sandbox = fresh
    env = cli_env(sandbox, {"GR4VY_PRIVATE_KEY_FILE": str(canaries.key_file)})
    run = Runner(canaries, env, tmp_path, subprocess_always=FULL)
    ids = [s["id"] for s in _canary_sessions()[:20]]
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n", encoding="utf-8")

    run("--help", ["--help"])
    run("sandbox --help", ["sandbox", "--help"])
    run("export", ["export", "ids.txt", "--out", "export"])
    exported = "\n".join(p.read_text(encoding="utf-8") for p in sorted((tmp_path / "export").glob("*.csv")))
    control = canaries.check("exported CSVs (raw by design)", exported, raw_allowed=True)
    assert control["passport"] and control["email"], "positive control: the export holds the planted data"

    upload = _write_upload(tmp_path / "upload")
    _write_bad_upload(tmp_path / "bad", upload["passengers"][0])
    run("plan", ["plan", "upload"])
    shown = run("plan --raw", ["plan", "upload", "--raw", "--limit", "1000"], raw_allowed=True)
    assert canaries.hits(shown)["passport"], "positive control: --raw shows the new passport numbers"
    run("plan (errors)", ["plan", "bad", "--problems", "problems.csv"], expect=(2,))
    canaries.check("problems.csv", (tmp_path / "problems.csv").read_text(encoding="utf-8"))

    # One session is refused by the API, so that errors.csv and the failure paths are exercised too.
    refused = upload["passengers"][1]
    sandbox.set_faults([{"method": "PUT", "session_id": refused, "times": 100, "action": "status", "status": 400,
                         "message": "refused for the leak test"}])
    run("apply", ["apply", "upload", "--journal", "runs/apply.sqlite", "--workers", "4", "--yes"], expect=(1,))
    sandbox.clear_faults()
    run("resume", ["resume", "runs/apply.sqlite"], expect=(0, 1))
    run("runs", ["runs", "runs"])
    run("rollback", ["rollback", "runs/apply.sqlite"], expect=(0, 1))
    run("report", ["report", "export", "--out", "report.html", "--run", "runs/apply.sqlite"])
    run("report --raw", ["report", "export", "--out", "report-raw.html", "--raw"])

    journals = sorted((tmp_path / "runs").glob("*.sqlite"))
    assert len(journals) == 2  # the run and its rollback
    data = ""
    for journal in journals:
        canaries.check(f"journal {journal.name} (non-data columns)", _journal_text(journal, data=False))
        data += _journal_text(journal, data=True)
    assert canaries.hits(data)["passport"], "positive control: the journal's data columns hold the bodies"
    errors_csv = ""
    for results in sorted(p for p in (tmp_path / "runs").iterdir() if p.is_dir()):
        for name in ("results.csv", "succeeded.csv"):
            canaries.check(f"{results.name}/{name}", (results / name).read_text(encoding="utf-8"))
        errors_csv += "".join(p.read_text(encoding="utf-8") for p in results.glob("errors*.csv"))
    assert canaries.hits(errors_csv)["passport"], "positive control: errors.csv gives the user's rows back"
    canaries.check("errors.csv (the user's rows, raw by design)", errors_csv, raw_allowed=True)
    canaries.check("report.html", (tmp_path / "report.html").read_text(encoding="utf-8"))
    raw_report = canaries.check("report --raw (asked for)", (tmp_path / "report-raw.html").read_text(encoding="utf-8"),
                                raw_allowed=True)
    assert raw_report["passport"] or raw_report["email"], "positive control: --raw reports show personal data"
    canaries.check("sandbox server log", sandbox.log_file.read_text(errors="replace") if sandbox.log_file else "")
    _finish(canaries, "commands")


def test_error_paths_leak_nothing(canaries, fresh, tmp_path):
    sandbox = fresh
    env = cli_env(sandbox, {"GR4VY_PRIVATE_KEY_FILE": str(canaries.key_file)})
    run = Runner(canaries, env, tmp_path, subprocess_always=FULL)
    _write_upload(tmp_path / "upload")
    pem = canaries.key_file.read_text()
    broken = tmp_path / "broken-key.pem"
    broken.write_text(pem[: len(pem) // 2] + "\n-----END PRIVATE KEY-----\n")
    no_key = {k: v for k, v in env.items() if k != "GR4VY_PRIVATE_KEY_FILE"}
    run("plan, key file cut in half", ["plan", "upload"], expect=(3,),
        env={**env, "GR4VY_PRIVATE_KEY_FILE": str(broken)})
    run("plan, key text cut in half", ["plan", "upload"], expect=(3,),
        env={**no_key, "GR4VY_PRIVATE_KEY": pem[: len(pem) // 2]})
    run("plan, key text with a stray character", ["plan", "upload"], expect=(3,),
        env={**no_key, "GR4VY_PRIVATE_KEY": pem.replace("\n", "\n!", 1)})
    other = write_new_private_key(tmp_path / "untrusted-key.pem")
    run("plan, a key the API does not know (401)", ["plan", "upload"], expect=(3,),
        env={**env, "GR4VY_PRIVATE_KEY_FILE": str(other)})
    if FULL:  # the client retries each session for ~20 s before giving up: too slow for the fast tier
        run("plan, the API down", ["plan", "upload"], expect=(2, 3), env={**env, "GR4VY_BASE_URL": "http://127.0.0.1:9"})

    # The Python API: reprs, and every error a caller could print or log.
    texts: list[str] = []
    settings = Settings.for_sandbox(sandbox, private_key_file=canaries.key_file)
    with_token = Settings.for_sandbox(sandbox, token=canaries.token)
    expired = Settings.for_sandbox(sandbox, token=canaries.expired_token)
    texts += [repr(settings), str(settings), repr(with_token), str(with_token), repr(expired), repr(sandbox)]
    with Gr4vyClient(settings) as client:
        texts += [repr(client), repr(client.settings)]
    for pem_text in (pem[: len(pem) // 2], pem.replace("A", "*", 3), pem + "garbage"):
        try:
            Settings(base_url=sandbox.base_url, private_key=pem_text)
        except ConfigError as exc:
            texts += [str(exc), repr(exc)]
    sid = _canary_sessions()[0]["id"]
    for s in (expired, Settings.for_sandbox(sandbox, token=canaries.token.replace(".", ".x", 1))):
        with Gr4vyClient(s) as client:
            try:
                client.get_checkout_session(sid)
            except Gr4vyError as exc:
                texts += [str(exc), repr(exc), json.dumps(exc.details, default=str)]
    with Gr4vyClient(with_token) as client:
        try:  # a body the API refuses, holding personal data
            client.update_checkout_session(sid, {"airline": {"passengers": [{"passport_number": NEW_PASSPORT * 5,
                                                                             "email_address": NEW_EMAIL}]}})
        except Gr4vyError as exc:
            texts += [str(exc), repr(exc), json.dumps(exc.details, default=str)]
    canaries.check("exceptions and reprs", "\n".join(texts))
    _finish(canaries, "errors")


# --------------------------------------------------------------------------- the widgets


def _widget_text() -> str:
    """The synced state of every live widget (what the browser and a saved notebook would hold)."""
    from ipywidgets.widgets.widget import _instances

    parts = []
    for widget in list(_instances.values()):
        try:
            parts.append(json.dumps(widget.get_state(), default=str, ensure_ascii=False))
        except Exception as exc:  # a widget whose state cannot be read is itself worth a look
            parts.append(f"<unreadable {type(widget).__name__}: {exc}>")
    return "\n".join(parts)


def _close_all_widgets() -> None:
    from ipywidgets.widgets.widget import Widget

    Widget.close_all()


def test_widgets_leak_nothing(canaries, fresh, tmp_path, monkeypatch):
    from gr4vy_nb.notebook_support import connect
    from gr4vy_nb.widgets import BulkUpdateApp, ConnectionPanel, RunsBrowser, SessionExplorer

    sandbox = fresh
    monkeypatch.chdir(tmp_path)
    _close_all_widgets()
    upload = _write_upload(tmp_path / "upload")
    conn = connect(Settings.for_sandbox(sandbox, token=canaries.token), announce=False)
    try:
        panel = ConnectionPanel(conn)
        panel.on_test()
        explorer = SessionExplorer(conn)
        explorer.ids_box.value = "\n".join(upload["passengers"] + upload["ids"])
        explorer.on_fetch()
        app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
        app.paths_box.value = str(tmp_path / "upload")
        app.on_validate()
        app.on_plan()
        app.on_apply()
        app.wait(120)
        browser = RunsBrowser(conn, runs_dir=tmp_path / "runs")
        browser.on_refresh()
        browser.on_open()
        messages = "\n".join([app.messages.text, explorer.messages.text, browser.messages.text])
        masked = _widget_text()
        canaries.check("widgets (masked)", masked + "\n" + messages)
        assert app.run is not None and app.run.counts["succeeded"] == len(upload["ids"]), app.messages.text
        app.show_raw.value = True
        explorer.show_raw.value = True
        control = canaries.check("widgets with 'show personal data' ticked", _widget_text(), raw_allowed=True)
        assert control["passport"] or control["email"], "positive control: ticking the box shows raw values"
    finally:
        conn.close()
        _close_all_widgets()
    _finish(canaries, "widgets")


# --------------------------------------------------------------------------- the notebooks


def test_committed_notebooks_carry_no_outputs():
    import nbformat

    for name in NOTEBOOKS:
        nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
        assert "widgets" not in nb.metadata, name
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{name} has outputs"


@pytest.mark.skipif(not FULL, reason="full tier: the fast tier executes the notebooks in tests/test_notebooks.py")
def test_executed_notebooks_leak_nothing(canaries, fresh, tmp_path):
    import nbformat
    from nbclient import NotebookClient

    env = {k: v for k, v in os.environ.items() if not k.startswith("GR4VY_")}
    env.update({"GR4VY_BASE_URL": fresh.base_url, "GR4VY_PRIVATE_KEY_FILE": str(canaries.key_file),
                "PATH": os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
                "PYTHONWARNINGS": "ignore::DeprecationWarning"})
    env.pop("PYTHONPATH", None)
    for name in NOTEBOOKS:
        nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
        for cell in nb.cells:  # the writing cells on (committed off), so the canaries go through a write
            if cell.cell_type == "code" and cell.source.startswith("APPLY = False"):
                cell.source = "APPLY = True" + cell.source[len("APPLY = False"):]
        client = NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=False,
                                resources={"metadata": {"path": str(tmp_path)}})
        client.execute(env=env, cwd=str(tmp_path))
        out = tmp_path / name
        nbformat.write(nb, out)
        text = out.read_text(encoding="utf-8")
        assert fresh.base_url in text, f"{name} did not talk to the canary sandbox"
        canaries.check(f"executed notebook {name}", text)
    assert fresh.stats()["writes"], "the bulk-update notebook wrote nothing: the canaries did not go through it"
    _finish(canaries, "notebooks")


# --------------------------------------------------------------------------- the sandbox's bind


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10"])
def test_the_sandbox_refuses_a_non_loopback_bind(host):
    with pytest.raises(ConfigError, match="refusing to listen"):
        start_sandbox(host=host, mode="thread")
    assert sandbox_main(["--host", host, "--port", "0", "--no-seed"]) == 2


def test_gr4vy_nb_sandbox_refuses_a_non_loopback_bind(tmp_path):
    done = subprocess.run([sys.executable, "-m", "gr4vy_nb.cli", "sandbox", "--host", "0.0.0.0", "--port", "0",
                           "--no-seed", "--private-key-file", str(tmp_path / "k.pem")],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 2 and "refusing to listen" in done.stderr
    assert not (tmp_path / "k.pem").exists()
    record("leaks", channel="sandbox non-loopback bind", refused=True, hits={}, leaked=0)


def _finish(canaries: Canaries, group: str) -> None:
    """Record this group's findings and fail on any leak."""
    mine = canaries.findings
    for f in mine:
        record("leaks", group=group, **f)
    leaks = canaries.leaks()
    canaries.findings = []
    assert not leaks, f"canaries leaked: {leaks}"
