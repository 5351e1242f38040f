"""Shared by the tables tests: session ids, a minimal session, reference flattening, text tables, CSV round trips."""

from __future__ import annotations

import io

import pandas as pd
import pyarrow as pa
from hypothesis import HealthCheck, settings

from gr4vy_nb.tables import flatten as _flatten
from gr4vy_nb.tables.files import CsvTable, read_table, write_table

SID = "4d645fa6-d13c-413a-82f8-eda197b1165f"
SID2 = "5e756fb7-e24d-424b-93f9-fea2a8c2276a"
HYP = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def make_session(**fields) -> dict:
    """The smallest valid session (``SID``, an expiry), plus ``fields``."""
    return {"id": SID, "expires_at": "2030-01-01T00:00:00Z", **fields}


def reference_tables(xs: list[dict]) -> dict[str, pa.Table]:
    """The sessions flattened by the reference path only (no fast path)."""
    extras = _flatten._Extras()
    arr, metadata = _flatten._reference_chunk(xs, extras)
    return _flatten._build_tables(arr, extras, metadata)


def text_frame(columns: dict[str, list[str | None]], first_line: int = 2) -> pd.DataFrame:
    """A table of text as the reader gives it: string columns, indexed by file line from ``first_line``."""
    n = len(next(iter(columns.values())))
    index = pd.Index(range(first_line, first_line + n), name="line")
    return pd.DataFrame({k: pd.array(v, dtype="string[pyarrow]") for k, v in columns.items()}, index=index)


def roundtrip(df: pd.DataFrame) -> tuple[bytes, CsvTable]:
    """``df`` written by :func:`write_table` and read back by :func:`read_table`: the bytes and the table."""
    buf = io.BytesIO()
    write_table(df, buf)
    return buf.getvalue(), read_table(buf.getvalue())
