"""The ``gr4vy-nb sandbox`` command (:func:`gr4vy_nb.sandbox.server.main`): usage, help, binding, a clean Ctrl-C."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gr4vy_nb.errors import ConfigError
from gr4vy_nb.sandbox import start_sandbox
from gr4vy_nb.sandbox.server import main
from tests.sandbox.helpers import local_get


@pytest.mark.parametrize("access_log", [False, True])
def test_foreground_cli_prints_url_and_stops_cleanly_on_ctrl_c(tmp_path: Path, access_log: bool) -> None:
    ready = tmp_path / "ready.json"
    key_file = tmp_path / "key.pem"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gr4vy_nb.sandbox", "--port", "0", "--no-seed", "--private-key-file", str(key_file),
         "--ready-file", str(ready), *(["--access-log"] if access_log else [])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        base_url = json.loads(ready.read_text())["base_url"]
        health = local_get(f"{base_url}/_sandbox/health", timeout=10).json()
        db_dir = Path(health["db"]).parent
        assert db_dir.exists()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert base_url in out and str(key_file) in out and "Ctrl-C" in out
    assert "Traceback" not in err
    assert not db_dir.exists()  # the temporary database went with it
    # --access-log prints a line per request at the default log level (warning); without it, none
    assert ("GET /_sandbox/health" in out + err) is access_log


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "example.com"])
def test_non_loopback_bind_is_refused(host: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--host", host, "--no-seed", "--port", "0"]) == 2
    assert "--allow-remote" in capsys.readouterr().err
    with pytest.raises(ConfigError, match="allow-remote"):
        start_sandbox(host=host, seed=None)


@pytest.mark.parametrize("argv", [["--fail-rate", "2"], ["--rate-limit", "-1"], ["--latency-ms", "-5"],
                                  ["--port", "http"], ["--seed", "/nonexistent/seed.jsonl"], ["--bogus"]])
def test_cli_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--port", "0"] if "--port" not in argv else argv) == 2
    assert capsys.readouterr().err


def test_cli_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for flag in ("--host", "--port", "--db", "--private-key-file", "--seed", "--no-seed", "--rate-limit",
                 "--fail-rate", "--latency-ms", "--unknown-fields", "--random-seed", "--allow-remote",
                 "--put-semantics", "--expiry-reset"):
        assert flag in out


def test_cli_port_in_use_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        code = main(["--port", str(port), "--no-seed", "--private-key-file", str(tmp_path / "k.pem")])
    assert code == 3
    assert "cannot listen" in capsys.readouterr().err
