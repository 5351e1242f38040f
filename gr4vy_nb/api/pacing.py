"""Pacing: requests spaced evenly at a rate, across threads, so a server's limit is met without 429s."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Pacer"]


class Pacer:
    """Spaces attempts evenly at ``rate`` per second across threads (no bursts).

    Even spacing rather than a bucket with a burst: a server enforcing R/s with its own bucket
    then never sees more than one request per 1/R s, so nothing is answered 429.
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Any] = time.sleep) -> None:
        if not rate > 0:
            raise ValueError("rate must be a positive number of requests per second")
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0

    @property
    def rate(self) -> float:
        """Requests per second."""
        return 1.0 / self.interval

    def __repr__(self) -> str:
        return f"Pacer(rate={self.rate:g}/s)"

    def acquire(self) -> bool:
        """Wait for the next slot (at once when it is free); always ``True``."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            self._sleep(slot - now)
        return True
