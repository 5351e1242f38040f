"""Shared helpers of the reliability suite: the tier, the figures recorder, running the CLI.

The tier comes from ``GR4VY_NB_RELIABILITY`` (``fast``, the default inside ``make test``, or
``full``, set by :mod:`tests.reliability.run_full`).  Tests record the figures that end up in
``RELIABILITY.md`` with :func:`record`; outside the full runner (no ``GR4VY_NB_RELIABILITY_OUT``)
recording does nothing, so the fast tier writes no files.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.paths import REPO, SAMPLE

DATA = REPO / "data"
CORPUS = Path(__file__).resolve().parent / "bad_inputs"

TIER = os.environ.get("GR4VY_NB_RELIABILITY", "fast").strip().lower() or "fast"
FULL = TIER == "full"
OUT_ENV = "GR4VY_NB_RELIABILITY_OUT"

TRACEBACK = "Traceback (most recent call last)"
# A compact JWS (a bearer token) anywhere in a text: header and payload are base64url JSON.
JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}")
CLI_TIMEOUT = 300.0


def pick(fast: Any, full: Any) -> Any:
    """The value for the current tier."""
    return full if FULL else fast


def record(section: str, **figures: Any) -> None:
    """Append one record of figures to ``<out>/<section>.jsonl`` (only under the full runner)."""
    out = os.environ.get(OUT_ENV)
    if not out:
        return
    path = Path(out) / f"{section}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(figures, default=str, ensure_ascii=False) + "\n")


def sample_sessions() -> list[dict[str, Any]]:
    """The repository's sample sessions (the sandbox's default seed)."""
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]


def generated_sessions(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` sessions from ``data/generate_sample_sessions.generate`` (deterministic for ``seed``)."""
    sys.path.insert(0, str(DATA))
    try:
        import generate_sample_sessions as gen
    finally:
        sys.path.remove(str(DATA))
    return gen.generate(n, seed)


def cli_env(sandbox: Any, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a ``gr4vy-nb`` process pointed at ``sandbox``, nothing else of ours inherited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GR4VY_") and k not in ("PYTHONWARNINGS",)}
    env.update({
        "GR4VY_BASE_URL": sandbox.base_url,
        "GR4VY_PRIVATE_KEY_FILE": str(sandbox.private_key_file),
        "GR4VY_ENVIRONMENT": "sandbox",
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
        "PYTHONUNBUFFERED": "1",
        "NO_COLOR": "1",
        "COLUMNS": "200",
    })
    env.update(extra or {})
    return env


def cli_command(*args: str) -> list[str]:
    """``python -m gr4vy_nb.cli ARGS`` with this interpreter (the project's virtualenv)."""
    return [sys.executable, "-m", "gr4vy_nb.cli", *args]


def run_cli(args: Sequence[str], env: Mapping[str, str], *, cwd: str | os.PathLike[str] | None = None,
            timeout: float = CLI_TIMEOUT, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``gr4vy-nb ARGS`` to completion; stdout and stderr captured as text."""
    return subprocess.run(cli_command(*args), env=dict(env), cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, input=stdin if stdin is not None else "", check=False)


def settle(sandbox: Any, expected: int, timeout: float = 10.0) -> dict[str, Any]:
    """The sandbox's stats once it has answered at least ``expected`` requests (stalled ones answer late)."""
    deadline = time.monotonic() + timeout
    stats = sandbox.stats()
    while stats["total_requests"] < expected and time.monotonic() < deadline:
        time.sleep(0.02)
        stats = sandbox.stats()
    return stats


def put_count(stats: Mapping[str, Any]) -> int:
    """PUT requests the sandbox answered (any status)."""
    return sum((stats["requests"].get("PUT") or {}).values())


def git_commit() -> str:
    """The commit the tree is at, with ``+dirty`` when files differ from it (best effort)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              timeout=30, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


class InProcessResult:
    """What :func:`run_cli_in_process` saw: the exit code (``None`` when ``main`` raised), the
    output, and every log record of the run formatted at DEBUG level."""

    def __init__(self, returncode: int | None, stdout: str, stderr: str, logs: str) -> None:
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.logs = logs


def run_cli_in_process(args: Sequence[str], env: Mapping[str, str], *, cwd: str | os.PathLike[str]) -> InProcessResult:
    """Run ``gr4vy_nb.cli.main(args)`` in this process with ``env``'s ``GR4VY_*`` variables and ``cwd``.

    Much faster than a subprocess (no interpreter start); stdout, stderr and all logging (root
    logger at DEBUG) are captured.  An exception escaping ``main`` is a crash: it is caught,
    its traceback appended to ``stderr`` and ``returncode`` is ``None``.
    """
    import contextlib
    import io
    import logging
    import traceback

    from gr4vy_nb import cli

    saved_env = {k: v for k, v in os.environ.items() if k.startswith("GR4VY_")}
    saved_cwd = os.getcwd()
    out, err, logs = io.StringIO(), io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(logs)
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    saved_level = root.level
    code: int | None
    try:
        for k in saved_env:
            del os.environ[k]
        os.environ.update({k: v for k, v in env.items() if k.startswith("GR4VY_")})
        os.chdir(cwd)
        root.addHandler(handler)
        root.setLevel(logging.DEBUG)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(list(args))
            except BaseException:  # a crash: main must turn every error into a message and a code
                err.write(traceback.format_exc())
                code = None
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_level)
        os.chdir(saved_cwd)
        for k in [k for k in os.environ if k.startswith("GR4VY_")]:
            del os.environ[k]
        os.environ.update(saved_env)
    return InProcessResult(code, out.getvalue(), err.getvalue(), logs.getvalue())
