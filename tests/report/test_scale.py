"""A report of 100,000 sessions builds in bounded memory.

The sessions are the 200 sample sessions repeated 500 times under new ids (built column-wise
in a second, where generating and flattening 100k fresh sessions would take the test past
its time budget; ``bench/report.py`` does that, and measures time as well).

Memory: the peak growth of this process's RSS while the report is built, sampled every
2 ms by a thread after freed memory has been handed back to the OS. The cap, 640 MiB, is
about 3x what was measured (150-200 MiB on 100k sessions, ~270k cart items); the frames
themselves take ~250 MiB.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import threading
import time
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from gr4vy_nb import report
from gr4vy_nb.tables.frames import SessionFrames, flatten_sessions
from tests.paths import SAMPLE

N = 100_000
CAP_MIB = 640
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE


def _release() -> None:
    gc.collect()
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _tile(frames: SessionFrames, copies: int) -> SessionFrames:
    """``copies`` copies of every table; copy k's ids start with k in hex (still valid UUIDs)."""
    out = {}
    for table, df in frames.tables().items():
        big = pd.concat([df] * copies, ignore_index=True)
        ids = pa.array(df["checkout_session_id"].array).cast(pa.string())
        prefixes = pa.array([f"{k:08x}" for k in range(copies)]).take(
            pa.array([k for k in range(copies) for _ in range(len(df))], pa.int32()))
        suffixes = pc.utf8_slice_codeunits(pa.concat_arrays([ids] * copies) if copies else ids, 8)
        big["checkout_session_id"] = pd.Series(pc.binary_join_element_wise(prefixes, suffixes, ""),
                                               dtype=df["checkout_session_id"].dtype)
        out[table] = big
    return SessionFrames(**out, conform=False)


def test_report_of_100k_sessions_builds_in_bounded_memory(tmp_path):
    frames = _tile(flatten_sessions(SAMPLE), N // 200)
    assert len(frames) == N and frames.sessions["checkout_session_id"].is_unique
    _release()
    base = peak = _rss()
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.002):
            peak = max(peak, _rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    try:
        path = report.build_report(frames, path=tmp_path / "big.html", now=datetime(2099, 1, 1, tzinfo=UTC))
    finally:
        stop.set()
        sampler.join()
    seconds = time.perf_counter() - started
    extra_mib = (max(peak, _rss()) - base) / 2**20
    print(f"\n100k-session report: {seconds:.1f} s, peak RSS +{extra_mib:.0f} MiB")
    assert extra_mib < CAP_MIB, f"the report took {extra_mib:.0f} MiB above the frames (cap {CAP_MIB} MiB)"
    assert seconds < 120, "far slower than measured (~5 s): a row-by-row path crept in?"
    text = path.read_text(encoding="utf-8")
    assert "100,000 sessions" in text and path.stat().st_size < 2_000_000  # tables are capped, not 100k rows
