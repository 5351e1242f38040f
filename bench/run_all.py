"""Run every benchmark in this folder, one after another, and report which missed a target.

Usage: ``python bench/run_all.py [--quick]`` (``make bench`` runs the full set).  Each script
starts its own sandbox process, prints its figures and exits non-zero when it misses a target;
the numbers to keep are copied into ``bench/README.md`` with the machine and date.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["client_throughput.py", "flatten.py", "bulk.py", "report.py", "plan_progress.py", "merge_gc.py",
           "archive.py", "grid.py", "problems.py"]


def main() -> int:
    extra = [a for a in sys.argv[1:] if a == "--quick"]
    failed = []
    for name in SCRIPTS:
        print(f"\n=== {name} {' '.join(extra)}", flush=True)
        started = time.perf_counter()
        flags = extra if "--quick" in (HERE / name).read_text() else []
        rc = subprocess.call([sys.executable, str(HERE / name), *flags])
        print(f"=== {name}: exit {rc} after {time.perf_counter() - started:.0f} s", flush=True)
        if rc:
            failed.append(name)
    print("\nall targets met" if not failed else f"\ntargets missed in: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
