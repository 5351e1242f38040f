"""Archive benchmark (issue 24): JSON Lines of N sessions -> Parquet with flat memory, its report, and on Dask.

On one file of N generated sessions (the 200 sample sessions repeated with fresh ids, ~2.8 KB each,
``bench/_sessions_file.py``), each measurement in its own process so its peak RSS is its own:

* ``flatten``: :func:`gr4vy_nb.flatten_to_parquet` (what ``gr4vy-nb flatten`` runs), memory limit 1 GB;
* ``duckdb``: the plain DuckDB recipe on the same file: one ``read_ndjson`` (every field declared,
  ``metadata`` as ``MAP(VARCHAR, VARCHAR)``) + ``COPY ... TO parquet`` per table, ``memory_limit`` 1 GB;
* ``check``: every count and sum of the four tables against an independent DuckDB query of the JSONL;
* ``report``: ``build_report`` of the Parquet folder (DuckDB out of core), its figures counted;
* ``dask``: the same flatten on ``local:2`` (2 worker processes, 1 GB together);
* at 200k sessions (a file of the first 200,000 lines): ``flatten`` again and ``pandas.json_normalize``
  of the four tables (the issue's baseline, dicts parsed by orjson untimed), and ``summaries``: every summary
  of the report computed out of core over that file's Parquet folder and in memory over ``flatten_sessions``
  of it, compared frame for frame (values, dtypes, index, order).

Targets: flatten peak RSS <= 1 GiB; throughput >= 1.0x the DuckDB recipe at N and >= 15x json_normalize at 200k;
counts and sums equal; report peak RSS <= 1.5 GiB with >= 5 figures; every summary equal at 200k. Generated files
are deleted at the end.

Usage::

    .venv/bin/python bench/archive.py                    # N = 200,000 (~3 minutes here)
    .venv/bin/python bench/archive.py --n 4000000        # the issue's size (~11 GB of JSONL; ~25 minutes here)
    .venv/bin/python bench/archive.py --quick            # N = 50,000, no json_normalize
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _baseline import json_normalize_tables  # noqa: E402
from _sessions_file import write_sessions  # noqa: E402
from _targets import check_targets  # noqa: E402

GIB = 1 << 30
NORMALIZE_N = 200_000


def _peak() -> dict[str, float]:
    """Peak RSS of this process (and of its largest child), and the CPU time it used, imports included."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"peak_rss_bytes": own.ru_maxrss * 1024, "children_peak_rss_bytes": children.ru_maxrss * 1024,
            "cpu_seconds": own.ru_utime + own.ru_stime, "children_cpu_seconds": children.ru_utime + children.ru_stime}


# --------------------------------------------------------------------------- measurements (one per process)


def _duckdb_columns() -> str:
    import pyarrow as pa

    from gr4vy_nb.tables.flatten import record_type

    def ddb(t: pa.DataType) -> str:
        if pa.types.is_struct(t):
            return "STRUCT(" + ", ".join(f'"{f.name}" {ddb(f.type)}' for f in t) + ")"
        if pa.types.is_list(t) or pa.types.is_large_list(t):
            return ddb(t.value_type) + "[]"
        if pa.types.is_integer(t):
            return "BIGINT"
        if pa.types.is_boolean(t):
            return "BOOLEAN"
        if pa.types.is_floating(t):
            return "DOUBLE"
        return "VARCHAR"

    cols = {f.name: ddb(f.type) for f in record_type("sessions")}
    cols["metadata"] = "MAP(VARCHAR, VARCHAR)"
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in cols.items()) + "}"


def _duckdb_recipe(path: Path, out: Path) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect()
    con.execute("SET memory_limit='1GB'")
    con.execute(f"SET temp_directory='{out}/.tmp'")
    src = f"read_ndjson('{path}', columns={_duckdb_columns()}, format='newline_delimited')"
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    con.execute(f"COPY (SELECT id AS checkout_session_id, * EXCLUDE (id, cart_items, airline) FROM {src}) "
                f"TO '{out}/sessions.parquet' (FORMAT parquet)")
    con.execute(f"COPY (SELECT id AS checkout_session_id, generate_subscripts(cart_items, 1) - 1 AS item_index, "
                f"unnest(cart_items, recursive := true) FROM {src}) TO '{out}/cart_items.parquet' (FORMAT parquet)")
    for table, field in (("legs", "legs"), ("passengers", "passengers")):
        con.execute(f"COPY (SELECT id AS checkout_session_id, unnest(airline.{field}, recursive := true) FROM {src}) "
                    f"TO '{out}/{table}.parquet' (FORMAT parquet)")
    seconds = time.perf_counter() - start
    rows = con.execute(f"SELECT count(*) FROM '{out}/sessions.parquet'").fetchall()[0][0]
    return {"seconds": seconds, "sessions": rows}


def _flatten(path: Path, out: Path, cluster: str | None = None) -> dict[str, Any]:
    from gr4vy_nb import flatten_to_parquet

    start = time.perf_counter()
    result = flatten_to_parquet(path, out, memory_limit="1GB", cluster=cluster)
    return {"seconds": time.perf_counter() - start, "sessions": result.sessions, "rows": result.rows,
            "bad_lines": result.bad_count, "metadata_keys": len(result.metadata_keys)}


def _normalize(path: Path) -> dict[str, Any]:
    import orjson

    with open(path, "rb") as fh:
        sessions = [orjson.loads(line) for line in fh]
    start = time.perf_counter()
    tables = json_normalize_tables(sessions)
    return {"seconds": time.perf_counter() - start, "sessions": len(tables[0])}


def _check(path: Path, out: Path) -> dict[str, Any]:
    """Counts and sums of the Parquet tables against DuckDB's own reading of the JSONL (no gr4vy-nb code)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET memory_limit='1GB'")
    cols = ("{'id': 'VARCHAR', 'amount': 'BIGINT', 'metadata': 'MAP(VARCHAR, VARCHAR)', "
            "'cart_items': 'STRUCT(quantity BIGINT, unit_amount BIGINT, tax_amount BIGINT)[]', "
            "'airline': 'STRUCT(legs STRUCT(fare_amount BIGINT)[], passengers STRUCT(last_name VARCHAR)[])'}")
    start = time.perf_counter()
    raw = con.execute(
        f"SELECT count(*), sum(amount), sum(len(cart_items)), "
        f"sum(list_sum(list_transform(cart_items, lambda x: x.quantity))), "
        f"sum(list_sum(list_transform(cart_items, lambda x: x.unit_amount))), "
        f"sum(list_sum(list_transform(cart_items, lambda x: x.tax_amount))), sum(len(airline.legs)), "
        f"sum(list_sum(list_transform(airline.legs, lambda x: x.fare_amount))), sum(len(airline.passengers)), "
        f"count(DISTINCT id), (SELECT count(DISTINCT k) FROM (SELECT unnest(map_keys(metadata)) AS k FROM "
        f"read_ndjson('{path}', columns={cols}))) FROM read_ndjson('{path}', columns={cols})").fetchall()[0]
    p = {t: f"read_parquet('{out}/{t}/*.parquet')" for t in ("sessions", "cart_items", "legs", "passengers")}
    keys = [c for (c,) in con.execute(f"SELECT column_name FROM (DESCRIBE SELECT * FROM {p['sessions']})").fetchall()
            if c.startswith("metadata.")]
    flat = con.execute(
        f"SELECT (SELECT count(*) FROM {p['sessions']}), (SELECT sum(amount) FROM {p['sessions']}), "
        f"(SELECT count(*) FROM {p['cart_items']}), (SELECT sum(quantity) FROM {p['cart_items']}), "
        f"(SELECT sum(unit_amount) FROM {p['cart_items']}), (SELECT sum(tax_amount) FROM {p['cart_items']}), "
        f"(SELECT count(*) FROM {p['legs']}), (SELECT sum(fare_amount) FROM {p['legs']}), "
        f"(SELECT count(*) FROM {p['passengers']}), (SELECT count(DISTINCT checkout_session_id) FROM "
        f"{p['sessions']}), {len(keys)}").fetchall()[0]
    names = ["sessions", "sum amount", "cart items", "sum quantity", "sum unit_amount", "sum tax_amount", "legs",
             "sum fare_amount", "passengers", "distinct ids", "metadata keys"]
    figures = {n: [int(a or 0), int(b or 0)] for n, a, b in zip(names, raw, flat, strict=True)}
    return {"seconds": time.perf_counter() - start, "figures": figures,
            "equal": all(a == b for a, b in figures.values())}


def _report(out: Path, html: Path) -> dict[str, Any]:
    from gr4vy_nb.report import build_report

    start = time.perf_counter()
    build_report(out, path=html)
    text = html.read_text()
    return {"seconds": time.perf_counter() - start, "figures": text.count('<img alt="'), "bytes": len(text)}


def _summaries(path: Path, out: Path) -> dict[str, Any]:
    """Every summary of the report, out of core over the Parquet folder and in memory, compared frame for frame."""
    import datetime as _dt
    import inspect

    import pandas as pd

    from gr4vy_nb import flatten_to_parquet, report
    from gr4vy_nb.report.archive import ArchiveSummaries
    from gr4vy_nb.tables.frames import flatten_sessions

    now = _dt.datetime(2099, 1, 1, tzinfo=_dt.UTC)
    start = time.perf_counter()
    flatten_to_parquet(path, out, memory_limit="1GB")
    frames = flatten_sessions(path)
    names = sorted(n for n, f in inspect.getmembers(ArchiveSummaries, inspect.isfunction)
                   if not n.startswith("_") and hasattr(report, n))
    different = []
    with ArchiveSummaries(out) as summaries:
        for name in names:
            kw = {"now": now} if "now" in inspect.signature(getattr(report, name)).parameters else {}
            try:
                pd.testing.assert_frame_equal(getattr(summaries, name)(**kw), getattr(report, name)(frames, **kw),
                                              check_exact=True)
            except AssertionError as exc:
                different.append(f"{name}: {str(exc)[:300]}")
    return {"seconds": time.perf_counter() - start, "summaries": len(names), "different": different,
            "sessions_compared": len(frames.sessions)}


def worker(name: str, path: Path, out: Path) -> dict[str, Any]:
    if name == "flatten":
        result = _flatten(path, out)
    elif name == "dask":
        result = _flatten(path, out, cluster="local:2")
    elif name == "duckdb":
        result = _duckdb_recipe(path, out)
    elif name == "normalize":
        result = _normalize(path)
    elif name == "check":
        result = _check(path, out)
    elif name == "report":
        result = _report(out, out.parent / "report.html")
    elif name == "summaries":
        result = _summaries(path, out)
    else:
        raise SystemExit(f"unknown measurement {name}")
    return {**result, **_peak()}


# --------------------------------------------------------------------------- driver


def measure(name: str, path: Path, out: Path) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, __file__, "--worker", name, "--jsonl", str(path), "--out", str(out)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:  # recorded and shown, and the other measurements still run
        print(f"  {name:<10} FAILED:\n{proc.stderr[-3000:]}", flush=True)
        return {"error": proc.stderr[-3000:], "seconds": float("nan"), "peak_rss_bytes": float("nan")}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    rate = f"{result['sessions'] / result['seconds']:,.0f} sessions/s" if "sessions" in result else ""
    print(f"  {name:<10} {result['seconds']:8.1f} s  peak RSS {result['peak_rss_bytes'] / GIB:5.2f} GiB  {rate}",
          flush=True)
    return result


def machine() -> str:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    import duckdb
    import pyarrow

    return (f"{model}, {os.cpu_count()} CPUs, {memory:.0f} GiB RAM, Python {platform.python_version()}, "
            f"pyarrow {pyarrow.__version__}, duckdb {duckdb.__version__}, {platform.system()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="sessions in the file (default 200,000)")
    parser.add_argument("--quick", action="store_true", help="N = 50,000 and no json_normalize")
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask measurement")
    parser.add_argument("--no-report", action="store_true", help="skip the report measurement")
    parser.add_argument("--dir", type=Path, default=None, help="where to write the generated data (deleted after)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--jsonl", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.jsonl, args.out)))
        return 0
    n = 50_000 if args.quick else args.n
    started = dt.datetime.now(dt.UTC)
    print(f"archive benchmark: {n:,} sessions, {started:%Y-%m-%d %H:%M} UTC\n{machine()}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="gr4vy-archive-bench-", dir=args.dir))
    results: dict[str, Any] = {"n": n, "started": started.isoformat(), "machine": machine()}
    try:
        big = tmp / "sessions.jsonl"
        t = time.perf_counter()
        size = write_sessions(big, n)
        print(f"  generated {size / 1e9:.2f} GB in {time.perf_counter() - t:.0f} s", flush=True)
        results["file_bytes"] = size
        r = results["measured"] = {}
        r["flatten"] = measure("flatten", big, tmp / "flat")
        r["check"] = measure("check", big, tmp / "flat")
        if "figures" in r["check"]:
            print(f"  check: {'all equal' if r['check']['equal'] else 'DIFFERENT'} {r['check']['figures']}",
                  flush=True)
        if not args.no_report:
            r["report"] = measure("report", big, tmp / "flat")
        shutil.rmtree(tmp / "flat")
        r["duckdb"] = measure("duckdb", big, tmp / "duckdb")
        shutil.rmtree(tmp / "duckdb")
        if not args.no_dask:
            r["dask"] = measure("dask", big, tmp / "dask")
            shutil.rmtree(tmp / "dask")
        if not args.quick:
            small = big
            if n > NORMALIZE_N:
                small = tmp / "sessions-200k.jsonl"
                write_sessions(small, NORMALIZE_N)
                r["flatten_200k"] = measure("flatten", small, tmp / "flat200k")
            else:
                r["flatten_200k"] = r["flatten"]
            r["normalize_200k"] = measure("normalize", small, tmp / "unused")
            r["summaries_200k"] = measure("summaries", small, tmp / "sum200k")
            if "summaries" in r["summaries_200k"]:
                s200 = r["summaries_200k"]
                print(f"  summaries at {s200['sessions_compared']:,} sessions: {s200['summaries']} compared, "
                      f"{len(s200['different'])} different {s200['different']}", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    rate = {k: v["sessions"] / v["seconds"] if "sessions" in v else float("nan") for k, v in r.items()}
    summary = {
        "flatten_sessions_per_s": rate["flatten"],
        "duckdb_sessions_per_s": rate["duckdb"],
        "flatten_vs_duckdb": rate["flatten"] / rate["duckdb"],
        # CPU seconds (imports included) are less disturbed than wall time by other load on a shared machine.
        "flatten_vs_duckdb_cpu": (r["duckdb"].get("cpu_seconds", float("nan"))
                                  / r["flatten"].get("cpu_seconds", float("nan"))),
        "flatten_peak_rss_gib": r["flatten"]["peak_rss_bytes"] / GIB,
        "duckdb_peak_rss_gib": r["duckdb"]["peak_rss_bytes"] / GIB,
        "counts_equal": 1.0 if r["check"].get("equal") else 0.0,
    }
    if "report" in r:
        summary["report_seconds"] = r["report"]["seconds"]
        summary["report_peak_rss_gib"] = r["report"]["peak_rss_bytes"] / GIB
        summary["report_figures"] = r["report"].get("figures", 0)
    if "dask" in r:
        summary["dask_sessions_per_s"] = rate["dask"]
        summary["dask_client_peak_rss_gib"] = r["dask"]["peak_rss_bytes"] / GIB
        summary["dask_worker_peak_rss_gib"] = r["dask"]["children_peak_rss_bytes"] / GIB
    if "normalize_200k" in r:
        summary["flatten_vs_normalize_200k"] = rate["flatten_200k"] / rate["normalize_200k"]
    if "summaries" in r.get("summaries_200k", {}):
        summary["summaries_equal_200k"] = 1.0 if not r["summaries_200k"]["different"] else 0.0
    results["summary"] = summary
    print("\nsummary:")
    for key, value in summary.items():
        print(f"  {key:<28} {value:12,.3f}")
    targets = {"flatten_peak_rss_gib": ("<=", 1.0), "flatten_vs_duckdb": (">=", 1.0),
               "flatten_vs_normalize_200k": (">=", 15.0), "counts_equal": (">=", 1.0),
               "report_peak_rss_gib": ("<=", 1.5), "report_figures": (">=", 5),
               "summaries_equal_200k": (">=", 1.0)}
    missed = check_targets(summary, targets, width=28)
    if args.json:  # every measurement (seconds, CPU seconds, peak RSS), not only the summary
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return missed


if __name__ == "__main__":
    sys.exit(main())
