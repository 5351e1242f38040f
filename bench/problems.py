"""Benchmark: ``gr4vy-nb plan`` of 50,000 rows with 5 mistakes each, against the same rows without mistakes.

Issue 22, item 4: problems are summarised (one line per file, column and rule); the terminal output of a plan
with 250,000 problems stays short and planning takes no longer than planning a clean file. Against the local
sandbox in its own process, N generated sessions; two uploads of ``sessions.csv`` with the same N rows and the
same six columns:

* **clean**: ``metadata.bench``, ``amount`` ``1299``, ``currency`` ``GBP``, ``payment_service_id`` a UUID,
  ``buyer.billing_details.phone_number`` ``+441234567890``, ``buyer.billing_details.address.country`` ``FR``;
* **mistakes**: the same with 5 mistakes in every row: ``12.99`` (not a whole number), ``gbp``, ``not-a-uuid``,
  ``441234567890`` (no +), ``fr`` (patterns): 250,000 problems in 5 groups.

Each runs ``gr4vy-nb plan DIR`` in this process (stdout captured), alternately, best of ``--repeat``. Figures:
both times, their ratio (target: mistakes <= 1.05 x clean) and the lines the mistakes' plan printed (target:
< 80).

Usage::

    .venv/bin/python bench/problems.py             # N=50,000
    .venv/bin/python bench/problems.py --quick     # N=5,000
    .venv/bin/python bench/problems.py --json bench/results/problems.json

Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "data"))

from _targets import check_targets, run_record  # noqa: E402
from generate_sample_sessions import generate  # noqa: E402

from gr4vy_nb import cli  # noqa: E402
from gr4vy_nb.sandbox import launcher, start_sandbox  # noqa: E402

launcher._START_TIMEOUT = 600.0  # seeding 50,000 sessions takes longer than the default start-up allowance

TARGETS = {"mistakes_vs_clean": ("<=", 1.05), "output_lines": ("<=", 79)}
COLUMNS = ["metadata.bench", "amount", "currency", "payment_service_id", "buyer.billing_details.phone_number",
           "buyer.billing_details.address.country"]
CLEAN = ["b", "1299", "GBP", "5f1d8a7e-0c3b-4e4f-9a51-3b5b8f0c2d11", "+441234567890", "FR"]
MISTAKES = ["b", "12.99", "gbp", "not-a-uuid", "441234567890", "fr"]


def _upload(folder: Path, ids: list[str], values: list[str]) -> Path:
    folder.mkdir()
    tail = "," + ",".join(values) + "\n"
    (folder / "sessions.csv").write_text("checkout_session_id," + ",".join(COLUMNS) + "\n"
                                         + "".join(i + tail for i in ids), encoding="utf-8")
    return folder


def _plan(folder: Path) -> tuple[float, int, str]:
    gc.collect()
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        code = cli.main(["plan", str(folder)])
    return time.perf_counter() - start, code, out.getvalue()


def bench(n: int, repeat: int, tmp: Path) -> dict[str, Any]:
    sessions = generate(n, seed=2026)
    seed_file = tmp / "seed.jsonl"
    seed_file.write_bytes(b"".join(orjson.dumps(s) + b"\n" for s in sessions))
    ids = [s["id"] for s in sessions]
    del sessions
    clean, bad = _upload(tmp / "clean", ids, CLEAN), _upload(tmp / "mistakes", ids, MISTAKES)
    out: dict[str, Any] = {"n": n, "problems": 5 * n}
    with start_sandbox(mode="process", seed=seed_file) as sandbox:
        os.environ.update(GR4VY_BASE_URL=sandbox.base_url, GR4VY_PRIVATE_KEY_FILE=str(sandbox.private_key_file))
        os.environ.pop("GR4VY_NB_PROGRESS", None)
        _plan(clean)  # warm: imports, connections, token
        times: dict[str, list[float]] = {"clean": [], "mistakes": []}
        for _ in range(repeat):
            for name, folder, want in (("clean", clean, 0), ("mistakes", bad, 2)):
                seconds, code, text = _plan(folder)
                assert code == want, text[-3000:]
                times[name].append(seconds)
                if name == "mistakes":
                    out["output_lines"] = len(text.splitlines())
                    out["output"] = text
    out["clean_s"], out["mistakes_s"] = min(times["clean"]), min(times["mistakes"])
    out["mistakes_vs_clean"] = out["mistakes_s"] / out["clean_s"]
    print(f"  clean {out['clean_s']:.1f} s; 5 mistakes a row ({out['problems']:,} problems) {out['mistakes_s']:.1f} s "
          f"(x{out['mistakes_vs_clean']:.3f}); {out['output_lines']} lines printed", flush=True)
    print("\n".join("    | " + line for line in out["output"].splitlines()[:12]), flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, help="rows and sessions (default 50,000; --quick 5,000)")
    p.add_argument("--quick", action="store_true", help="N=5,000")
    p.add_argument("--repeat", type=int, default=3, help="runs of each upload, the best kept (default 3)")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    args.n = args.n or (5_000 if args.quick else 50_000)
    results: dict[str, Any] = run_record()
    with tempfile.TemporaryDirectory(prefix="gr4vy-bench-problems-") as tmp:
        print(f"problems: {args.n:,} rows, 5 mistakes each vs none, best of {args.repeat}", flush=True)
        results.update(bench(args.n, args.repeat, Path(tmp)))
    results.pop("output", None)
    return check_targets(results, TARGETS, json_path=args.json, width=18)


if __name__ == "__main__":
    sys.exit(main())
