"""Fixtures of the updates tests: a client reading the seeded sandbox (run tests override it with their own)."""

from __future__ import annotations

import pytest

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.config import Settings


@pytest.fixture(scope="module")
def client(sandbox):
    # The sandbox is shared by the whole session: start this module from the seed, whatever ran before.
    sandbox.clear_faults()
    sandbox.reset(reseed=True)
    with Gr4vyClient(Settings.for_sandbox(sandbox), workers=4) as c:
        yield c
