"""Benchmark: is deferring full garbage collections while a plan's changes are built worth it?

:func:`gr4vy_nb.updates.merge.build_changes` defers generation-2 collections while it runs
(``_young_collections_only``: scoped, thresholds restored when the last caller leaves). This
measures the merge of N generated sessions (a ``metadata.bench`` tag and a cart item's
``tax_amount`` each) in one process, alternately with the deferral and without it (the context
manager replaced by a no-op), best of ``--repeat`` each, and reports the ratio. No network:
the sessions are the "current state" a plan would have fetched.

Usage::

    .venv/bin/python bench/merge_gc.py            # N=20,000
    .venv/bin/python bench/merge_gc.py --quick    # N=4,000

Target: with the deferral at most 0.9x the time without it (else the tweak is not worth keeping).
"""

from __future__ import annotations

import argparse
import contextlib
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "data"))


def main() -> int:
    import generate_sample_sessions as gen

    from gr4vy_nb.tables.frames import flatten_sessions
    from gr4vy_nb.updates import merge
    from gr4vy_nb.updates.checks import check_upload
    from gr4vy_nb.updates.upload import read_upload

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n = 4_000 if args.quick else 20_000
    sessions = gen.generate(n, 2026)
    current = {s["id"]: s for s in sessions}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "sessions.csv").write_text("checkout_session_id,metadata.bench\n"
                                             + "".join(f"{s['id']},x{i}\n" for i, s in enumerate(sessions)))
        upload = check_upload(read_upload(folder))
        frames = flatten_sessions(sessions)
        deferred = merge._young_collections_only
        times: dict[str, list[float]] = {"deferred": [], "plain": []}
        for _ in range(args.repeat):
            for name in ("plain", "deferred"):
                merge._young_collections_only = deferred if name == "deferred" else contextlib.nullcontext
                started = time.perf_counter()
                changes = merge.build_changes(upload, current, expires_in=3600, frames=frames)
                times[name].append(time.perf_counter() - started)
                assert len([i for i in changes.items if i.status == "change"]) == n
        merge._young_collections_only = deferred
    best = {k: min(v) for k, v in times.items()}
    ratio = best["deferred"] / best["plain"]
    print(f"merge of {n:,} sessions, best of {args.repeat} ({platform.python_version()}, {platform.machine()}):")
    print(f"  with full collections deferred: {best['deferred']:.2f} s")
    print(f"  without (plain CPython GC):     {best['plain']:.2f} s")
    print(f"  ratio: {ratio:.2f}x (target: <= 0.90x, else drop the tweak)")
    return 0 if ratio <= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
