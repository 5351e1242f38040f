"""The widget tests' fixture: ``conn``, a connection to the freshly reset sandbox (closed after the test)."""

from __future__ import annotations

from typing import Any

import pytest

from gr4vy_nb.sandbox import Sandbox
from tests.widgets.helpers import sandbox_connection


@pytest.fixture
def conn(sandbox_clean: Sandbox) -> Any:
    c = sandbox_connection(sandbox_clean)
    yield c
    c.close()
