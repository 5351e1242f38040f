"""Instants as the API writes them (``expires_at``): read once, here, for every layer.

:func:`parse_instant` reads ISO 8601 text with any offset (``Z`` included; a time without one is
UTC) into Unix time, :func:`utc_text` writes Unix time for people. The plan's expiry forecast,
the run's "expired at" messages, the rollback preview and the probe's expiry checks all use them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

__all__ = ["parse_datetime", "parse_instant", "utc_text"]


def parse_datetime(value: Any) -> datetime | None:
    """ISO 8601 text (``Z`` or any offset; none: naive) as a ``datetime``; ``None`` when absent or unreadable."""
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        return None


def parse_instant(value: Any) -> float | None:
    """An ``expires_at`` (ISO 8601 text, any offset; none: UTC) as Unix time; ``None`` when absent or unreadable."""
    stamp = parse_datetime(value)
    if stamp is None:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def utc_text(stamp: float) -> str:
    """A Unix time as ``2026-12-01 22:35:00 UTC``."""
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
