"""Fixtures of the tables tests: the sample sessions and their frames (read once per module)."""

from __future__ import annotations

import orjson
import pytest

from gr4vy_nb.tables.frames import SessionFrames, flatten_sessions
from tests.paths import SAMPLE


@pytest.fixture(scope="module")
def sample() -> list[dict]:
    return [orjson.loads(line) for line in SAMPLE.read_bytes().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def sample_frames(sample) -> SessionFrames:
    return flatten_sessions(sample)
