"""The notebook_support tests' fixture: ``key_file``, a fresh private key (one the sandbox does not know)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gr4vy_nb.api.auth import generate_private_key_pem


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "key.pem"
    path.write_bytes(generate_private_key_pem())
    return path
