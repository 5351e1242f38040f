"""gr4vy_nb.notebook_support.runs: the runs of a target, the latest one, and example runs on a local sandbox only."""

from __future__ import annotations

from pathlib import Path

import pytest

from gr4vy_nb.config import Settings
from gr4vy_nb.errors import ConfigError, RunError
from gr4vy_nb.notebook_support import connect, example_run, latest_run, runs_for_target
from gr4vy_nb.sandbox import Sandbox
from tests.notebook_support.helpers import remote_connection


def test_examples_never_touch_a_real_instance(key_file: Path, tmp_path: Path) -> None:
    remote = remote_connection(key_file)
    with pytest.raises(ConfigError, match="local sandbox only"):
        example_run(remote, runs_dir=tmp_path)
    with pytest.raises(RunError, match="no apply run against Gr4vy sandbox"):
        latest_run(remote, runs_dir=tmp_path)


def test_latest_run_is_per_target_and_makes_an_example_on_the_sandbox(sandbox_clean: Sandbox, key_file: Path,
                                                                       tmp_path: Path) -> None:
    conn = connect(Settings.for_sandbox(sandbox_clean), announce=False)
    run = latest_run(conn, runs_dir=tmp_path)
    assert run.counts["succeeded"] == 20 and run.kind == "apply"
    assert len(sandbox_clean.stats()["writes"]) == 20
    again = latest_run(conn, runs_dir=tmp_path)
    assert again.run_id == run.run_id and len(sandbox_clean.stats()["writes"]) == 20
    assert len(runs_for_target(conn, tmp_path)) == 1
    assert len(runs_for_target(remote_connection(key_file), tmp_path)) == 0
