"""The end every benchmark script shares: print each figure against its target, save the results."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def run_record() -> dict[str, Any]:
    """What every result file starts with: the date, the Python and the machine it was measured on."""
    return {"date": datetime.now(UTC).strftime("%Y-%m-%d"), "python": platform.python_version(),
            "machine": f"{os.cpu_count()} CPUs, {platform.machine()}, {platform.system()}"}


def check_targets(results: Mapping[str, Any], targets: Mapping[str, tuple[str, float]], *,
                  json_path: Path | None = None, width: int = 18) -> int:
    """Print ``key value (target op bound) ok|MISSED`` for every target with a result; write
    ``results`` as JSON to ``json_path``; 1 when a target was missed, else 0."""
    missed = []
    print("\ntargets:")
    for key, (op, bound) in targets.items():
        if key not in results:
            continue
        value = results[key]
        ok = value >= bound if op == ">=" else value <= bound
        print(f"  {key:<{width}} {value:8.3f}  (target {op} {bound})  {'ok' if ok else 'MISSED'}")
        if not ok:
            missed.append(key)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, indent=2, default=str))
    return 1 if missed else 0
