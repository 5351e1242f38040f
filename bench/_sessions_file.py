"""Large JSONL archives made fast: the 200 sample sessions repeated with fresh ids (for the archive benchmarks).

Each line is a sample session with its ``id`` replaced by a UUID made from its line number, so every session is
distinct and the file is as realistic as the sample data (~2.8 KB a session); writing 4,000,000 sessions (~11 GB)
takes about a minute.  Every 100,000th session also carries a metadata key of its own (``bench_<n>``), and the last
line one more, so the archive's keys are not all in the first lines.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "gr4vy_nb" / "_data" / "sample_sessions.jsonl"
_ID = re.compile(rb'"id":"([0-9a-f-]{36})"')


def write_sessions(path: Path, n: int, *, block: int = 10_000) -> int:
    """Write ``n`` sessions to ``path`` (JSONL); returns the file's size in bytes."""
    lines = [line for line in SAMPLE.read_bytes().splitlines() if line.strip()]
    templates = []
    for line in lines:
        match = _ID.search(line)
        assert match is not None
        templates.append((line[: match.start(1)], line[match.end(1):]))
    with open(path, "wb") as fh:
        for start in range(0, n, block):
            out = []
            for i in range(start, min(n, start + block)):
                head, tail = templates[i % len(templates)]
                line = head + b"%08x-0000-4000-8000-%012x" % (i >> 32, i & 0xFFFFFFFF) + tail
                if i % 100_000 == 99_999 or i == n - 1:
                    line = line.replace(b'"metadata":{', b'"metadata":{"bench_%d":"%d",' % (i, i), 1)
                out.append(line)
            fh.write(b"\n".join(out) + b"\n")
    return path.stat().st_size
