"""Where the tests find the repository, the package's sample sessions and the committed fixtures."""

from __future__ import annotations

from pathlib import Path

from gr4vy_nb._data import examples_dir, sample_sessions_path

REPO = Path(__file__).resolve().parents[1]
"""The repository's root (``notebooks/``, ``data/``, ``Makefile``)."""
SAMPLE = sample_sessions_path()
"""The sample sessions the sandbox is seeded with (package data)."""
EXAMPLES = examples_dir()
"""The example update folders (package data, linked from ``data/examples``)."""
FIXTURES = Path(__file__).resolve().parent / "data"
"""Committed test fixtures (the OpenAPI copy, the report fixture)."""
ENV_VARS = ("GR4VY_ID", "GR4VY_ENVIRONMENT", "GR4VY_PRIVATE_KEY_FILE", "GR4VY_PRIVATE_KEY",
            "GR4VY_MERCHANT_ACCOUNT_ID", "GR4VY_BASE_URL")
"""The environment variables that name a target: cleared by tests that point the CLI at their own sandbox."""
