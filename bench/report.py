"""Benchmark: the HTML report of N sessions vs. flattening the same sessions, in one run.

Generates N realistic sessions with ``data/generate_sample_sessions.py`` (deterministic),
then measures, in this process and in this order:

1. ``flatten_sessions`` of the N session dicts (the baseline the report is held to);
2. ``flatten_sessions`` of the same sessions from a JSONL file (for reference);
3. ``build_report`` of the frames from step 1, with a run section for a synthetic run of
   the same N sessions (so the run summaries are exercised at the same scale);
4. the summaries alone (everything but figures and HTML), to show where the time goes.

For each step: wall and CPU time, and the peak RSS increase over the RSS just before the
step (sampled every 2 ms by a thread, after handing freed memory back to the OS, since
``ru_maxrss`` cannot be reset between steps). The steps run in ``--repeat`` interleaved
rounds and each step's fastest wall time is compared, so load from other processes
disturbs the comparison less. Target: the report costs no more time than step 1.

Usage: ``.venv/bin/python bench/report.py [--n 100000] [--repeat 3] [--json results.json]``;
exits 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "data"))
sys.path.insert(0, str(ROOT))

import generate_sample_sessions  # noqa: E402

from gr4vy_nb import report  # noqa: E402
from gr4vy_nb.tables.frames import flatten_sessions  # noqa: E402

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE


def release_memory() -> None:
    """Give freed memory back to the OS (Python, glibc and Arrow's pool), so RSS growth is honest."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class PeakRSS:
    """Samples this process's RSS in a thread; ``peak - base`` is the step's extra memory."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.base = self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, rss())

    def __enter__(self) -> PeakRSS:
        release_memory()
        self.base = self.peak = rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())

    @property
    def extra_mib(self) -> float:
        return (self.peak - self.base) / 2**20


class Step:
    """One measured step: wall and CPU seconds of every round, and the first round's memory."""

    def __init__(self, name: str, fn: Callable[[], Any]) -> None:
        self.name, self.fn = name, fn
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.peak_mib = 0.0

    def run(self, *, measure_memory: bool) -> Any:
        release_memory()
        with contextlib.ExitStack() as stack:
            mem = stack.enter_context(PeakRSS()) if measure_memory else None
            w0, c0 = time.perf_counter(), time.process_time()
            value = self.fn()
            self.wall.append(time.perf_counter() - w0)
            self.cpu.append(time.process_time() - c0)
        if mem is not None:
            self.peak_mib = mem.extra_mib
        return value

    def summary(self) -> dict[str, Any]:
        return {"step": self.name, "wall_min_s": round(min(self.wall), 3),
                "wall_median_s": round(statistics.median(self.wall), 3), "cpu_min_s": round(min(self.cpu), 3),
                "peak_extra_mib": round(self.peak_mib, 1)}


def synthetic_run(ids: list[str], seed: int = 7) -> pd.DataFrame:
    """A run frame for ``ids``: 90% succeeded, 6% failed, 2% conflict, 2% unprocessed; 16 workers' timings."""
    rng = np.random.default_rng(seed)
    n = len(ids)
    status = rng.choice(["succeeded", "failed", "conflict", "unprocessed"], size=n, p=[0.9, 0.06, 0.02, 0.02])
    attempts = np.where(status == "unprocessed", 0, 1 + rng.poisson(0.15, size=n))
    latency = rng.gamma(2.0, 0.06, size=n) * attempts
    start = pd.Timestamp("2030-01-01T12:00:00Z") + pd.to_timedelta(np.arange(n) / 300.0, unit="s")
    finished = start + pd.to_timedelta(latency, unit="s")
    failed = status == "failed"
    codes = np.where(failed, rng.choice(["bad_request", "not_found", "server_error"], size=n), None)
    fields = np.where(failed & (codes == "bad_request"),
                      rng.choice(["cart_items.name", "currency", "airline.passengers.first_name"], size=n), None)
    http = np.select([codes == "bad_request", codes == "not_found", codes == "server_error", status == "succeeded"],
                     [400, 404, 500, 200], 0)
    df = pd.DataFrame({
        "checkout_session_id": ids, "status": status, "attempts": attempts,
        "http_status": pd.array(np.where(http == 0, None, http), dtype="Int64"),
        "error_code": codes, "error_message": np.where(failed, "Request failed", None), "error_field": fields,
        "started_at": start.where(status != "unprocessed"), "finished_at": finished.where(status != "unprocessed"),
    })
    return df


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of all steps; each step's fastest is compared")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()
    print(f"gr4vy-nb report benchmark: {args.n:,} sessions, Python {platform.python_version()}, "
          f"pandas {pd.__version__}, {os.cpu_count()} CPUs, {platform.machine()}")
    t0 = time.perf_counter()
    sessions = generate_sample_sessions.generate(args.n)
    print(f"  generated in {time.perf_counter() - t0:.1f} s; RSS {rss() / 2**20:.0f} MiB", flush=True)
    now = datetime(2099, 1, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory(prefix="gr4vy-bench-report-") as tmp:
        jsonl = Path(tmp) / "sessions.jsonl"
        with jsonl.open("w", encoding="utf-8") as fh:
            for s in sessions:
                fh.write(json.dumps(s, separators=(",", ":")) + "\n")
        frames = flatten_sessions(sessions)
        run = synthetic_run(frames.sessions["checkout_session_id"].astype("str").tolist())
        out = Path(tmp) / "report.html"
        steps = [
            Step("flatten_sessions(dicts)", partial(flatten_sessions, sessions)),
            Step("flatten_sessions(JSONL file)", partial(flatten_sessions, jsonl)),
            Step("build_report(frames, run) -> HTML", partial(report.build_report, frames, run, out, now=now)),
            Step("summaries only (no figures, no HTML)", partial(_summaries, frames, run, now)),
        ]
        # Rounds interleave the steps, so a burst of load elsewhere hits them alike.
        for round_ in range(args.repeat):
            for step in steps:
                step.run(measure_memory=round_ == 0)
        size = out.stat().st_size
    results = [step.summary() for step in steps]
    for r in results:
        print(f"  {r['step']:<38} wall min {r['wall_min_s']:6.2f} s  median {r['wall_median_s']:6.2f} s  "
              f"cpu min {r['cpu_min_s']:6.2f} s  peak +{r['peak_extra_mib']:6.1f} MiB")
    ratio = results[2]["wall_min_s"] / results[0]["wall_min_s"]
    print(f"  report / flatten(dicts), fastest wall times: {ratio:.2f} "
          f"(target <= 1: {'met' if ratio <= 1 else 'NOT met'}); HTML {size / 1024:.0f} KiB")
    if args.json:
        args.json.write_text(json.dumps({
            "n": args.n, "date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": platform.platform(),
            "cpus": os.cpu_count(), "python": platform.python_version(), "pandas": pd.__version__,
            "html_bytes": size, "ratio": round(ratio, 3), "results": results,
        }, indent=2))
    if ratio > 1:
        sys.exit(1)  # the convention of bench/: a missed target is a failure


def _summaries(frames: Any, run: pd.DataFrame, now: datetime) -> None:
    for fn in (report.sessions_overview, report.currencies, report.metadata_keys, report.card_schemes,
               report.items_per_session, report.cart_values, report.discount_tax_totals, report.by_product_type,
               report.by_category, report.top_skus, report.seller_countries, report.routes,
               report.legs_per_booking, report.passengers_per_booking, report.carriers, report.airline_totals,
               report.age_groups, report.route_types, report.legs_out_of_order, report.empty_fields,
               report.schema_failures, report.duplicate_skus, report.zero_amounts, report.personal_data):
        fn(frames)
    report.expiry_timeline(frames, now=now)
    for fn in (report.run_summary, report.run_status_counts, report.run_errors_by_code, report.run_errors_by_field,
               report.run_latency, report.run_retries, report.run_throughput, report.run_conflicts):
        fn(run)


if __name__ == "__main__":
    main()
