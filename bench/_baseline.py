"""The pandas baseline the flatten benchmarks measure against: ``json_normalize`` once per table."""

from __future__ import annotations

from typing import Any


def json_normalize_tables(sessions: list[dict[str, Any]]) -> tuple[Any, ...]:
    """The four tables by ``pandas.json_normalize``: sessions, then ``record_path`` for cart items, legs, passengers."""
    import pandas as pd

    airline = [s for s in sessions if s.get("airline")]
    return (
        pd.json_normalize(sessions),
        pd.json_normalize([s for s in sessions if s.get("cart_items")], record_path="cart_items", meta=["id"]),
        pd.json_normalize([s for s in airline if s["airline"].get("legs")], record_path=["airline", "legs"],
                          meta=["id"]),
        pd.json_normalize([s for s in airline if s["airline"].get("passengers")],
                          record_path=["airline", "passengers"], meta=["id"]),
    )
