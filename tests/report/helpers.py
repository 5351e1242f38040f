"""What the report tests share: the fixture sessions S1..S7 (tests/data/report_fixture), its "now", a column helper.

The fixture (``sessions.jsonl``, written by ``make_fixture.py`` there) is seven sessions whose
comments give the arithmetic; "now" is 2030-01-01 12:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

from tests.paths import FIXTURES

FIXTURE = FIXTURES / "report_fixture"
NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)
S1, S2, S3, S4, S5, S6, S7 = (f"{d * 8}-{d * 4}-4{d * 3}-8{d * 3}-{d * 12}" for d in "1234567")
# Planted personal data: none may appear in a masked report.
CANARIES = ["Canaryfirst", "Zzcanarylast", "canary.buyer@example.com", "+441632960123", "Paxcanary",
            "CANARYPP123456", "CANARYPP654321", "canary.pax@example.com", "Longcanaryname", "CANARY-PHONE",
            "1980-05-05"]
# Those a raw report shows (the sample of sessions and the failing values).
RAW_SHOWN = ["Canaryfirst", "Zzcanarylast", "canary.buyer@example.com", "Longcanaryname", "0044-CANARY-PHONE"]


def col(df: pd.DataFrame, name: str) -> dict:
    """A column as {index label: value} with NA as None, for exact comparisons."""
    return {k: (None if pd.isna(v) else v) for k, v in df[name].items()}
