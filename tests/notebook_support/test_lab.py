"""gr4vy_nb.notebook_support.lab: the ``jupyter lab`` command line, and JupyterLab behind a shared sandbox."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from gr4vy_nb.notebook_support import main, run_lab
from gr4vy_nb.notebook_support.lab import lab_command


def test_lab_command_and_usage() -> None:
    cmd = lab_command("notebooks", ["--port=9999"])
    assert cmd[1:3] == ["lab", "notebooks"] and cmd[-1] == "--port=9999" and Path(cmd[0]).name == "jupyter"
    assert ("--allow-root" in cmd) == (os.geteuid() == 0)
    assert main(["nope"]) == 2


def test_run_lab_runs_jupyter_behind_a_sandbox(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    for name in [k for k in os.environ if k.startswith("GR4VY_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(Path(__file__).parent)  # no .env here
    assert run_lab("notebooks", ["--version"]) == 0
    out = capsys.readouterr().out
    assert "local sandbox emulator at http://127.0.0.1:" in out
