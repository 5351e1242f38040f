"""What the notebook_support tests share: a connection to a real (remote) target that is never reached.

The fixture ``key_file`` is in ``tests/notebook_support/conftest.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gr4vy_nb.config import Settings
from gr4vy_nb.notebook_support import connect


def remote_connection(key_file: Path, environment: str = "sandbox") -> Any:
    return connect(Settings(gr4vy_id="acme", environment=environment, private_key_file=key_file), announce=False)
