"""`make demo` runs end to end on the embedded sandbox, quickly, and narrates what happened."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.paths import EXAMPLES, REPO

ROOT = REPO


def test_demo_runs_end_to_end(tmp_path):
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "gr4vy_nb.demo", "--out", str(tmp_path / "demo")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert time.monotonic() - started < 60
    out = proc.stdout
    for expected in (
        "2. Check what the API's PUT really does", "Every assumption holds: updates will send only the changed",
        "Uploading the unedited export again plans 0 change(s)",
        "DESTRUCTIVE: would clear 4 fields in 4 sessions", "Without consent, applying is refused", "(0 writes)",
        "Example 01_metadata_tag", "metadata.review: (none) -> q4-audit", "failed: not found or expired",
        "Example 02_tax_fix", "cart_items[0].tax_amount: 0 -> 440",
        "Example 03_passenger_name", "airline.passengers[1].first_name",
        "Example 04_with_errors", "unknown_column", "read_only", "Writes seen by the sandbox during this step: 0.",
        "5. Roll back the tax fix", "tax_amount 440 -> 0",
    ):
        assert expected in out, expected
    assert "Hanna" not in out  # the corrected passenger name is personal: masked in the diff
    runs_table = out.split("6. The runs", 1)[1]
    assert runs_table.count("rolled back by ") == 1  # the tax fix, as `gr4vy-nb runs` shows it
    assert "finished, rolled back by " in runs_table
    runs = list((tmp_path / "demo" / "runs").glob("*.sqlite"))
    assert len(runs) == 4  # three applies and one rollback
    assert (tmp_path / "demo" / "export" / "sessions.csv").is_file()
    assert list((tmp_path / "demo" / "config" / "probes").glob("*.json"))  # the probe saved in the demo's folder


def test_examples_are_what_make_examples_writes(tmp_path):
    subprocess.run([sys.executable, str(ROOT / "data" / "make_examples.py"), "--out", str(tmp_path)], check=True,
                   capture_output=True, timeout=60)
    shipped = sorted(p.relative_to(EXAMPLES) for p in EXAMPLES.rglob("*.csv"))
    assert shipped == sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.csv"))
    for rel in shipped:
        assert (tmp_path / rel).read_bytes() == (EXAMPLES / rel).read_bytes(), rel
