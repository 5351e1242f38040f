"""Fixtures of the report tests: the fixture's sessions and run, and the report built from them, masked and raw."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from gr4vy_nb import report
from gr4vy_nb.tables.frames import SessionFrames, flatten_sessions
from tests.report.helpers import FIXTURE, NOW


@pytest.fixture(scope="module")
def frames() -> SessionFrames:
    return flatten_sessions(FIXTURE / "sessions.jsonl")


@pytest.fixture(scope="module")
def run() -> pd.DataFrame:
    # As a user would load a results CSV: text, empty cells missing.
    return pd.read_csv(FIXTURE / "run.csv", dtype="str")


@pytest.fixture(scope="module")
def html_masked(frames, run, tmp_path_factory) -> Path:
    return report.build_report(frames, run=run, path=tmp_path_factory.mktemp("r") / "report.html", now=NOW)


@pytest.fixture(scope="module")
def html_raw(frames, run, tmp_path_factory) -> Path:
    return report.build_report(frames, run=run, path=tmp_path_factory.mktemp("r") / "raw.html", now=NOW, raw=True)
