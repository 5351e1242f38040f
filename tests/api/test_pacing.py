"""Pacing: attempts spaced evenly at the rate, across threads, on an injected clock (no real waiting)."""

from __future__ import annotations

import threading

import pytest

from gr4vy_nb.api.pacing import Pacer


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.slept.append(round(seconds, 6))


def test_attempts_are_spaced_at_one_over_the_rate():
    clock = _Clock()
    pacer = Pacer(10, clock, clock.sleep)
    for _ in range(4):
        assert pacer.acquire() is True
    assert clock.slept == [0.1, 0.2, 0.3]  # the first goes at once; the next wait their slots
    clock.now += 5.0  # a pause longer than the backlog: the next attempt goes at once again
    pacer.acquire()
    assert clock.slept == [0.1, 0.2, 0.3]
    assert pacer.rate == pytest.approx(10) and "10/s" in repr(pacer)


def test_threads_share_the_slots():
    clock = _Clock()
    pacer = Pacer(50, clock, clock.sleep)
    threads = [threading.Thread(target=pacer.acquire) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 20 attempts at 50/s: one at once, the others 20 ms apart, each slot taken exactly once.
    assert sorted(clock.slept) == [round(0.02 * i, 6) for i in range(1, 20)]


@pytest.mark.parametrize("rate", [0, -1, float("nan")])
def test_a_rate_must_be_positive(rate):
    with pytest.raises(ValueError, match="positive"):
        Pacer(rate)
