"""Fixtures of the sandbox's tests, beside the shared ones of ``tests/conftest.py``."""

from __future__ import annotations

from typing import Any

import pytest

from gr4vy_nb.sandbox import Sandbox
from tests.sandbox.helpers import PAYMENT_METHOD, seeded_session


@pytest.fixture
def existing(sandbox_clean: Sandbox) -> dict[str, Any]:
    """A session seeded into the clean shared sandbox (default merchant), with a card."""
    session = seeded_session(payment_method=PAYMENT_METHOD)
    sandbox_clean.seed([session])
    return session
