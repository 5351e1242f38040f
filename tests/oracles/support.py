"""Constants and types the oracles' fixtures and tests share (``conftest.py`` is not imported by tests)."""

from __future__ import annotations

from collections.abc import Callable

from gr4vy import Gr4vy

MERCHANT = "default"
"""The merchant account the oracles act for (the ``x-gr4vy-merchant-account-id`` header)."""
TIMEOUT_MS = 15_000
"""The SDK's per-request timeout."""

SdkFactory = Callable[..., Gr4vy]
"""The type of the ``sdk_client`` fixture: ``sdk_client(scopes=None, key=None)`` -> a configured SDK."""
