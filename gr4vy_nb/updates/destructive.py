"""Destructive changes, named and counted: list elements removed and fields cleared, which need consent.

The merge (:mod:`gr4vy_nb.updates.merge`) records each one on its plan item (``item.destructive``:
rows of :data:`DESTRUCTIVE_COLUMNS`); here they are gathered for the plan (:func:`destructive_frame`,
:func:`destructive_counts`) and put in words for the consent asked before anything is sent
(:func:`consent_text`: "remove 3 passengers and clear 1 field in 2 sessions").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import pandas as pd

from .states import ItemStatus

__all__ = ["DESTRUCTIVE_COLUMNS", "consent_text", "destructive_counts", "destructive_frame", "noun"]

DESTRUCTIVE_COLUMNS = ["checkout_session_id", "kind", "what", "path", "count", "file", "line", "column", "message"]
"""Columns of a plan's destructive changes: one row per list element removed (``kind`` ``remove``, ``what`` the
table: ``passengers``, ``cart_items``, ``legs``; or ``categories``/``subcategories`` with ``count`` entries) and per
field, key, object or list cleared (``kind`` ``clear``, ``what`` ``field``)."""

_NOUNS = {"cart_items": ("cart item", "cart items"), "legs": ("leg", "legs"), "passengers": ("passenger", "passengers"),
          "categories": ("categories entry", "categories entries"),
          "subcategories": ("subcategories entry", "subcategories entries"), "field": ("field", "fields")}


def noun(what: str, n: int) -> str:
    one, many = _NOUNS.get(what, (what, what))
    return f"{n} {one if n == 1 else many}"


def destructive_frame(items: list[Any]) -> pd.DataFrame:
    """The destructive changes of the items that will be sent: :data:`DESTRUCTIVE_COLUMNS`, one row per element
    removed or field cleared."""
    rows = [d for i in items if i.status == ItemStatus.CHANGE for d in (i.destructive or ())]
    frame = pd.DataFrame({c: pd.Series([d.get(c) for d in rows], dtype=object) for c in DESTRUCTIVE_COLUMNS})
    frame["line"] = pd.array([None if v is None else int(v) for v in frame["line"].tolist()], dtype="Int64")
    frame["count"] = frame["count"].astype("int64")
    return frame


def destructive_counts(items: list[Any]) -> dict[str, Any]:
    """``{"sessions": n, "removes": {"passengers": 3, ...}, "clears": k}`` over the items that will be sent."""
    removes: dict[str, int] = defaultdict(int)
    clears = 0
    sessions = set()
    for item in items:
        if item.status != ItemStatus.CHANGE or not item.destructive:
            continue
        sessions.add(item.session_id)
        for d in item.destructive:
            if d["kind"] == "clear":
                clears += 1
            else:
                removes[d["what"]] += int(d.get("count") or 1)
    return {"sessions": len(sessions), "removes": dict(removes), "clears": clears}


def consent_text(counts: Mapping[str, Any]) -> str:
    """``remove 3 passengers and clear 1 field in 2 sessions`` (``""`` when nothing is destructive)."""
    if not counts.get("sessions"):
        return ""
    removes = [noun(what, n) for what, n in counts.get("removes", {}).items()]
    removed = ", ".join(removes[:-1]) + (" and " if len(removes) > 1 else "") + (removes[-1] if removes else "")
    parts = ([f"remove {removed}"] if removes else []) + (
        [f"clear {noun('field', counts['clears'])}"] if counts.get("clears") else [])
    n = counts["sessions"]
    return " and ".join(parts) + f" in {n} session{'s' if n != 1 else ''}"
