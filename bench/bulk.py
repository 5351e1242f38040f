"""Benchmark of the bulk engine: plan, apply, rate limit, journal cost, and the tables -> bodies step.

Against the local sandbox in its own process with 50 ms of added latency per request, in one run:

* **apply**: ``apply_plan`` of N metadata updates with 16 workers, conflict re-read on and off,
  against a plain sequential ``requests`` loop PUTting the same bodies (timed on a prefix of
  them: at 50 ms a request, 10,000 sequential PUTs would take 9 minutes; its rate is flat).
  Targets: >= 8x the loop's sessions/s with the re-read, >= 12x without.
* **rate limit**: the sandbox limited to R requests/s and the run told ``rate=R``: >= 95% of R.
* **plan**: ``plan_updates`` (fetch + merge + diff) of N sessions vs fetching them alone
  (``get_checkout_sessions``, same workers): <= 1.2x.
* **journal**: the same run with the journal in a file (WAL, synchronous=FULL) and in memory:
  the file journal costs <= 10% of the run time.
* **inverse**: turning uploaded tables into bodies for M sessions (``check_upload`` +
  ``build_changes``: cell parsing, the merge onto the current state, validation, diff) vs a
  sort + ``itertuples`` pass building nested bodies from the same tables: >= 3x.

Usage::

    .venv/bin/python bench/bulk.py                # N=10,000, M=100,000 (~12 minutes)
    .venv/bin/python bench/bulk.py --quick        # N=2,000, M=20,000 (~3 minutes)
    .venv/bin/python bench/bulk.py --json bench/results/bulk.json

Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "data"))

from _targets import check_targets, run_record  # noqa: E402
from generate_sample_sessions import generate  # noqa: E402

from gr4vy_nb.api.auth import WRITE_SCOPE, TokenSigner, load_private_key  # noqa: E402
from gr4vy_nb.api.client import Gr4vyClient  # noqa: E402
from gr4vy_nb.config import Settings  # noqa: E402
from gr4vy_nb.sandbox import start_sandbox  # noqa: E402
from gr4vy_nb.tables import spec as F  # noqa: E402
from gr4vy_nb.tables.files import read_table  # noqa: E402
from gr4vy_nb.tables.frames import flatten_sessions  # noqa: E402
from gr4vy_nb.updates.checks import check_upload  # noqa: E402
from gr4vy_nb.updates.merge import build_changes  # noqa: E402
from gr4vy_nb.updates.plan import plan_updates  # noqa: E402
from gr4vy_nb.updates.runs import apply_plan  # noqa: E402
from gr4vy_nb.updates.upload import read_upload  # noqa: E402


def _tag_upload(folder: Path, ids: list[str], tag: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sessions.csv").write_text("checkout_session_id,metadata.bench\n" + "".join(f"{i},{tag}\n" for i in ids))
    return folder


def _sequential(base_url: str, key_file: Path, items: list[Any]) -> tuple[float, int]:
    """A plain sequential requests loop PUTting the bodies: (seconds, sessions)."""
    token = TokenSigner(load_private_key(key_file.read_bytes())).token([WRITE_SCOPE])
    headers = {"Authorization": f"Bearer {token}", "x-gr4vy-merchant-account-id": "default"}
    with requests.Session() as http:
        start = time.perf_counter()
        for item in items:
            r = http.put(f"{base_url}/checkout/sessions/{item.session_id}", json=item.body, headers=headers, timeout=30)
            r.raise_for_status()
            r.json()
        return time.perf_counter() - start, len(items)


def _apply(plan: Any, client: Any, tmp: Path, **kw: Any) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    run = apply_plan(plan, client=client, runs_dir=tmp / "runs", **kw)
    seconds = time.perf_counter() - start
    assert run.counts["succeeded"] == len(plan.changes), run.counts
    return seconds, run


def bench_engine(n: int, latency_ms: float, workers: int, rate: float, seq_n: int, tmp: Path) -> dict[str, Any]:
    sessions = generate(n, seed=2026)
    seed_file = tmp / "seed.jsonl"
    seed_file.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in sessions))
    ids = [s["id"] for s in sessions]
    out: dict[str, Any] = {"n": n, "latency_ms": latency_ms, "workers": workers}
    with start_sandbox(mode="process", seed=seed_file, latency_ms=latency_ms) as sandbox:
        settings = Settings.for_sandbox(sandbox)
        with Gr4vyClient(settings, workers=2 * workers) as client:
            folder = _tag_upload(tmp / "upload", ids, "bench")
            # Fetch alone vs plan (fetch + merge + diff), same client and workers.
            gc.collect()
            start = time.perf_counter()
            fetched = client.get_checkout_sessions(ids, workers=workers)
            out["fetch_s"] = time.perf_counter() - start
            assert all(isinstance(v, dict) for v in fetched.values())
            del fetched
            gc.collect()
            start = time.perf_counter()
            plan = plan_updates(folder, client=client, workers=workers)
            out["plan_s"] = time.perf_counter() - start
            assert plan.ok and len(plan.changes) == n
            out["plan_vs_fetch"] = out["plan_s"] / out["fetch_s"]
            print(f"  fetch alone {out['fetch_s']:.1f} s, plan {out['plan_s']:.1f} s "
                  f"(x{out['plan_vs_fetch']:.3f})", flush=True)

            # The sequential requests loop, on a prefix of the same bodies.
            seconds, count = _sequential(sandbox.base_url, sandbox.private_key_file, plan.changes[:seq_n])
            out["sequential_per_s"] = count / seconds
            print(f"  sequential requests loop: {out['sequential_per_s']:.1f} sessions/s ({count} PUTs)", flush=True)

            # With the journal in a file and in memory, alternated (twice each) so that drift in the
            # machine's speed does not count as the journal's cost; the median of each is kept.
            cases = [("apply_check", {"conflict_check": True}),
                     ("apply_nocheck", {"conflict_check": False}),
                     ("apply_nocheck_memory", {"conflict_check": False, "journal": ":memory:"}),
                     ("apply_nocheck", {"conflict_check": False}),
                     ("apply_nocheck_memory", {"conflict_check": False, "journal": ":memory:"})]
            timings: dict[str, list[float]] = {}
            for label, kw in cases:
                sandbox.reset(reseed=True)
                seconds, run = _apply(plan, client, tmp, workers=workers, **kw)
                timings.setdefault(label, []).append(seconds)
                out[f"{label}_requests"] = run.requests
                print(f"  {label}: {seconds:.1f} s, {n / seconds:.1f} sessions/s, requests {run.requests}", flush=True)
            for label, values in timings.items():
                out[f"{label}_s"] = sorted(values)[len(values) // 2] if len(values) % 2 else sum(values) / len(values)
                out[f"{label}_per_s"] = n / out[f"{label}_s"]
            out["speedup_check"] = out["apply_check_per_s"] / out["sequential_per_s"]
            out["speedup_nocheck"] = out["apply_nocheck_per_s"] / out["sequential_per_s"]
            out["journal_overhead"] = (out["apply_nocheck_s"] - out["apply_nocheck_memory_s"]) / out["apply_nocheck_s"]
            # Rate-limited sandbox, run told the same rate; conflict check off: one request per session.
            sandbox.reset(reseed=True)
            sandbox.configure(rate_limit=rate, latency_ms=latency_ms)
            limited = min(n, int(rate * 15))
            sub = type(plan)(items=plan.changes[:limited], expires_in=plan.expires_in, target=plan.target,
                             inputs=[], tables=plan.tables)
            seconds, run = _apply(sub, client, tmp, workers=workers, rate=rate, conflict_check=False)
            stats = sandbox.stats()
            sandbox.configure(rate_limit=None)
            sent = sum(run.requests.values())
            # Sustained: from the first request sent to the last answer (the journal's timings).
            span = (run.results.finished_at.max() - run.results.started_at.min()).total_seconds()
            out.update(rate_limit=rate, rate_requests=sent, rate_s=seconds, rate_span_s=span,
                       rate_achieved=sent / span, rate_share=sent / span / rate,
                       rate_whole_call=sent / seconds / rate, rate_429=stats["requests"].get("PUT", {}).get("429", 0))
            print(f"  rate limit {rate:g}/s: {out['rate_achieved']:.1f} requests/s sustained ({out['rate_share']:.1%}; "
                  f"{out['rate_whole_call']:.1%} over the whole call with its set-up), {out['rate_429']} answered 429",
                  flush=True)
    return out


# --------------------------------------------------------------------------- tables -> bodies


def _baseline_bodies(tables: dict[str, pd.DataFrame]) -> dict[str, dict[str, Any]]:
    """Sort + itertuples: nested bodies from the tables, row by row (the naive way)."""
    bodies: dict[str, dict[str, Any]] = {}
    s = tables["sessions"].sort_values(F.KEY)
    cols = list(s.columns)
    for row in s.itertuples(index=False, name=None):
        body: dict[str, Any] = {}
        for col, value in zip(cols, row, strict=True):
            if value is pd.NA or value is None or col == F.KEY:
                continue
            parts = col.split(".")
            target = body
            for part in parts[:-1]:
                target = target.setdefault(part, {})
            target[parts[-1]] = value
        bodies[row[0]] = body
    for table, child in F.CHILD_TABLES.items():
        df = tables.get(table)
        if df is None:
            continue
        df = df.sort_values([F.KEY, child.index])
        cols = list(df.columns)
        for row in df.itertuples(index=False, name=None):
            item = {c: v for c, v in zip(cols[2:], row[2:], strict=True) if v is not pd.NA and v is not None}
            holder = bodies.setdefault(row[0], {})
            for part in child.path[:-1]:
                holder = holder.setdefault(part, {})
            holder.setdefault(child.path[-1], []).append(item)
    return bodies


def bench_inverse(m: int, share: float, tmp: Path, rounds: int = 3) -> dict[str, Any]:
    """A full export of ``m`` sessions uploaded back with ``share`` of them edited (a metadata tag,
    and a tax fix on their first cart item): bodies for the edited ones, from the same tables.

    Baseline and ours run ``rounds`` times each, alternated; medians are reported."""
    sessions = generate(m, seed=77)
    frames = flatten_sessions(sessions)
    edited = np.zeros(len(frames.sessions), dtype=bool)
    edited[: round(len(edited) * share)] = True
    tag = np.where(edited, "q4", None).astype(object)
    frames.sessions["metadata.bench"] = pd.array(tag, dtype="string[pyarrow]")
    ids = set(frames.sessions.checkout_session_id[edited])
    cart = frames.cart_items
    first_items = cart.checkout_session_id.isin(ids).to_numpy(dtype=bool) & (cart.item_index == 0).to_numpy(dtype=bool)
    cart.loc[first_items, "tax_amount"] = cart.loc[first_items, "tax_amount"].fillna(0) + 1
    folder = tmp / f"inverse-{share}"
    frames.to_csv(folder)
    current = {s["id"]: s for s in sessions}
    texts = {t: read_table(folder / f"{t}.csv").frame for t in F.TABLES}
    rows = sum(len(df) for df in texts.values())
    start = time.perf_counter()
    current_frames = flatten_sessions(sessions)
    flatten_s = time.perf_counter() - start
    # Baseline and ours alternate, `rounds` times each, so that drift in the machine's speed (other
    # jobs share it) falls on both alike; the medians are compared.
    base_times: list[float] = []
    ours_times: list[float] = []
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter()
        baseline = _baseline_bodies(texts)
        base_times.append(time.perf_counter() - start)
        assert len(baseline) == m
        del baseline
        upload = read_upload(folder)
        gc.collect()
        start = time.perf_counter()
        changes = build_changes(check_upload(upload), current, frames=current_frames)
        ours_times.append(time.perf_counter() - start)
        changed = sum(1 for i in changes.items if i.status == "change")
        assert changed == len(ids), (changed, len(ids), changes.problems.head())
        diff_rows = len(changes.diff)
        del changes, upload
    base_s, ours_s = float(np.median(base_times)), float(np.median(ours_times))
    out = {"m": m, "share": share, "rows": rows, "rounds": rounds, "baseline_s": base_s, "ours_s": ours_s,
           "baseline_runs_s": base_times, "ours_runs_s": ours_times, "flatten_current_s": flatten_s,
           "inverse_speedup": base_s / ours_s, "diff_rows": diff_rows, "bodies": changed}
    print(f"  {share:.0%} edited, median of {rounds}: sort + itertuples {base_s:.1f} s ({m / base_s:,.0f} sessions/s); "
          f"check + merge + validate + diff {ours_s:.1f} s ({m / ours_s:,.0f} sessions/s): x{base_s / ours_s:.2f}; "
          f"(flattening the current state, counted in plan: {flatten_s:.1f} s)", flush=True)
    return out


TARGETS = {
    "speedup_check": (">=", 8.0),
    "speedup_nocheck": (">=", 12.0),
    "rate_share": (">=", 0.95),
    "plan_vs_fetch": ("<=", 1.2),
    "journal_overhead": ("<=", 0.10),
    "inverse_speedup": (">=", 3.0),
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="N=2,000 and M=20,000")
    p.add_argument("--n", type=int, help="sessions updated (default 10,000)")
    p.add_argument("--m", type=int, help="sessions for the tables -> bodies step (default 100,000)")
    p.add_argument("--latency-ms", type=float, default=50)
    p.add_argument("--workers", type=int, default=16)
    p.add_argument("--rate", type=float, default=200)
    p.add_argument("--sequential", type=int, help="PUTs in the sequential loop (default 300; quick 150)")
    p.add_argument("--json", type=Path)
    p.add_argument("--skip-inverse", action="store_true", help="only the engine part")
    args = p.parse_args(argv)
    n = args.n or (2_000 if args.quick else 10_000)
    m = args.m or (20_000 if args.quick else 100_000)
    seq_n = args.sequential or (150 if args.quick else 300)
    results: dict[str, Any] = run_record()
    with tempfile.TemporaryDirectory(prefix="gr4vy-bench-bulk-") as tmp:
        print(f"engine: {n:,} sessions, {args.latency_ms:g} ms latency, {args.workers} workers", flush=True)
        results.update(bench_engine(n, args.latency_ms, args.workers, args.rate, seq_n, Path(tmp)))
        if not args.skip_inverse:
            print(f"tables -> bodies: {m:,} sessions", flush=True)
            results.update(bench_inverse(m, 0.1, Path(tmp)))
            results["inverse_all_edited"] = bench_inverse(m, 1.0, Path(tmp))
    return check_targets(results, TARGETS, json_path=args.json)


if __name__ == "__main__":
    sys.exit(main())
