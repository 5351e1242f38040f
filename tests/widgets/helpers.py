"""What the widget tests share: the sample sessions, a connection to the sandbox, uploads as a browser gives
them, CSV files, the sandbox's write counters, and a bulk-update app with a plan ready.

The apps are driven without a browser: set widget values, call the handlers, check the sandbox. Handlers are
called directly (``app.on_validate()``), never through ``Button.click()``, which logs exceptions instead of
raising them. Everything runs against the shared sandbox emulator over real HTTP, with real CSV files and real
SQLite journals; the sandbox's counters prove what was (and was not) sent.

The fixture ``conn`` is in ``tests/widgets/conftest.py``; ``sandbox`` and ``sandbox_clean`` in ``tests/conftest.py``.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from gr4vy_nb.config import Settings
from gr4vy_nb.notebook_support import Connection, connect, read_sessions_jsonl
from gr4vy_nb.sandbox import Sandbox
from gr4vy_nb.widgets import BulkUpdateApp
from tests.paths import SAMPLE as SAMPLE_PATH

SAMPLE = read_sessions_jsonl(SAMPLE_PATH)
IDS = [s["id"] for s in SAMPLE]
WITH_PASSENGERS = [s for s in SAMPLE if (s.get("airline") or {}).get("passengers")]


def sandbox_connection(sandbox: Sandbox, **overrides: Any) -> Connection:
    settings = Settings.for_sandbox(sandbox, **overrides) if "environment" not in overrides else Settings(
        base_url=sandbox.base_url, private_key_file=sandbox.private_key_file, **overrides)
    return connect(settings, announce=False)


def upload_value(*files: tuple[str, bytes]) -> tuple[dict[str, Any], ...]:
    """What a FileUpload's ``value`` holds after the user picked ``files`` in the browser."""
    now = datetime.now(UTC)
    return tuple({"name": n, "type": "text/csv", "size": len(c), "content": memoryview(c), "last_modified": now}
                 for n, c in files)


def csv_bytes(df: pd.DataFrame) -> bytes:
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8")


def tag_csv(ids: list[str], tag: str) -> bytes:
    return csv_bytes(pd.DataFrame({"checkout_session_id": ids, "metadata.campaign_review": [tag] * len(ids)}))


def writes(sandbox: Sandbox) -> dict[str, int]:
    return dict(sandbox.stats()["writes"])


def puts(sandbox: Sandbox) -> int:
    return sum(sandbox.stats()["requests"].get("PUT", {}).values())


def planned_app(conn: Connection, tmp_path: Path, ids: list[str], *, tag: str = "q4") -> BulkUpdateApp:
    app = BulkUpdateApp(conn, runs_dir=tmp_path / "runs")
    app.upload.value = upload_value(("sessions.csv", tag_csv(ids, tag)))
    app.on_validate()
    assert app.upload_obj is not None and app.upload_obj.ok, app.messages.text
    app.on_plan()  # from code: waits for the background plan (a click on Plan returns at once; see wait_plan)
    assert not app.planning
    assert app.plan is not None and len(app.plan.changes) == len(ids), app.messages.text
    return app
