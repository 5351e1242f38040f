"""Shared by the updates tests: the sandbox seed, uploads written as CSV files, plan errors, run and journal checks."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gr4vy_nb.api.client import Gr4vyClient
from gr4vy_nb.api.probe import saved_probe
from gr4vy_nb.api.retry import RetryPolicy
from gr4vy_nb.config import Settings
from gr4vy_nb.sandbox.seeding import default_seed_path
from gr4vy_nb.updates.compare import same_fields
from gr4vy_nb.updates.journal import Journal
from gr4vy_nb.updates.plan import Plan, plan_updates
from gr4vy_nb.updates.states import RESULT_STATUSES

SEED = [json.loads(line) for line in Path(default_seed_path()).read_text().splitlines() if line.strip()]
IDS = [s["id"] for s in SEED]
S0 = SEED[0]["id"]
S1 = SEED[1]["id"]
NO_AIRLINE = next(s["id"] for s in SEED if not s.get("airline"))
WITH_CART = [s["id"] for s in SEED if s.get("cart_items")]
MISSING = "00000000-0000-4000-8000-000000000000"
FAST = RetryPolicy(max_attempts=12, backoff_base=0.02, backoff_cap=0.2, max_retry_after=0.3, total_time=60)
"""The retry policy of the run tests' clients: many quick retries."""

# ----------------------------------------------------------------------------- uploads and plans


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def plan_of(tmp_path, client, **files):
    """Plan the files given against the client's target, with its saved probe result (as the shells pass it)."""
    for name, text in files.items():
        write(tmp_path, f"{name}.csv", text)
    return plan_updates(tmp_path, client=client, probe=saved_probe(client.settings))


def errors_of(plan):
    return plan.errors[["file", "line", "column", "rule"]].astype(object).values.tolist()


# ----------------------------------------------------------------------------- runs


def tag_upload(folder: Path, ids: list[str], tag: str = "q4") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["checkout_session_id,metadata.tag", *(f"{i},{tag}" for i in ids)]
    (folder / "sessions.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def assert_desired(client, plan: Plan) -> None:
    for item in plan.changes:
        current = client.get_checkout_session(item.session_id)
        assert same_fields(current, item.desired, item.fields) == [], item.session_id


def assert_consistent(run) -> None:
    counts = run.counts
    assert sum(counts[s] for s in RESULT_STATUSES) == counts["total"] == len(run.results)
    with Journal.open(run.journal, readonly=True) as j:
        assert j.integrity_check() == "ok"
        assert j.counts()["sending"] == 0


# ----------------------------------------------------------------------------- journals

ITEMS = [
    {"session_id": "s1", "status": "planned", "before": {"metadata": {"a": "1"}}, "body": {"metadata": {"a": "2"}},
     "desired": {"metadata": {"a": "2"}}, "source": {"rows": [{"file": "sessions.csv", "line": 2}]}},
    {"session_id": "s2", "status": "planned", "body": {"metadata": None}},
    {"session_id": "s3", "status": "skipped", "message": "no change"},
]


def create_journal(path, **meta):
    return Journal.create(path, meta={"run_id": "r1", "kind": "apply", **meta}, items=ITEMS)


def writing_client(sandbox_clean: Any) -> Iterator[Gr4vyClient]:
    """A fresh sandbox per test and fast retries: the client of the tests that write.

    Modules that write register it as their ``client`` (``client = pytest.fixture(name="client")(writing_client)``),
    which overrides conftest.py's module-wide reading client.
    """
    with Gr4vyClient(Settings.for_sandbox(sandbox_clean, retry=FAST), workers=8) as c:
        yield c
