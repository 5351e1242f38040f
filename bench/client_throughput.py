"""Client throughput: N checkout-session updates against the local sandbox (in its own process).

Measures, in one run and with the same bodies:

* ``Gr4vyClient.update_checkout_session`` with 1, 4, 8 and 16 worker threads;
* baseline 1: a plain sequential ``requests.Session`` loop (``json=`` body, ``r.json()``);
* baseline 2: a raw sequential ``urllib3.PoolManager`` loop (orjson both ways): the floor of client cost;

each with the sandbox answering at once and with 50 ms of added latency (a realistic round trip),
then the client paced at ``rate=R`` against a sandbox rate-limited to R requests/s.

Reported per case: requests/s and the client's CPU milliseconds per request
(``time.process_time()`` of this process, all threads, divided by the requests sent).

Usage::

    .venv/bin/python bench/client_throughput.py            # full run, a few minutes
    .venv/bin/python bench/client_throughput.py --quick    # smaller N, under a minute
    .venv/bin/python bench/client_throughput.py --json bench/results/client.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import requests
import urllib3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gr4vy_nb.api.auth import WRITE_SCOPE  # noqa: E402
from gr4vy_nb.api.client import Gr4vyClient  # noqa: E402
from gr4vy_nb.api.retry import RetryPolicy  # noqa: E402
from gr4vy_nb.config import Settings  # noqa: E402
from gr4vy_nb.sandbox import start_sandbox  # noqa: E402

SAMPLE = ROOT / "data" / "sample_sessions.jsonl"

Job = tuple[str, dict]


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()}"


def make_jobs(n: int) -> list[Job]:
    """N realistic update bodies: a metadata tag, an amount and the session's cart with a tax fix."""
    sessions = [json.loads(line) for line in SAMPLE.read_text().splitlines() if line.strip()]
    jobs = []
    for i in range(n):
        session = sessions[i % len(sessions)]
        cart = [dict(item, tax_amount=(item.get("tax_amount") or 0) + 1) for item in session.get("cart_items") or []]
        body = {"metadata": {"bench": f"run-{i}", "source": "client_throughput"}, "amount": 1000 + i}
        if cart:
            body["cart_items"] = cart
        jobs.append((session["id"], body))
    return jobs


def run_threads(jobs: list[Job], workers: int, send: Callable[[str, dict], object]) -> tuple[float, float]:
    """Send every job from ``workers`` threads; return (wall seconds, CPU seconds of this process)."""
    it = iter(jobs)
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker() -> None:
        while True:
            with lock:
                job = next(it, None)
            if job is None:
                return
            try:
                send(*job)
            except BaseException as exc:  # reported after the run
                errors.append(exc)
                return

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    cpu0, t0 = time.process_time(), time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if errors:
        raise RuntimeError(f"{len(errors)} request(s) failed, first: {errors[0]!r}")
    return wall, cpu


def bench_client(settings: Settings, jobs: list[Job], workers: int, rate: float | None = None) -> tuple[float, float]:
    with Gr4vyClient(settings, workers=workers, rate=rate) as client:
        for sid, body in jobs[: min(len(jobs), workers * 2)]:  # warm: connections, token, caches
            client.update_checkout_session(sid, body)
        return run_threads(jobs, workers, client.update_checkout_session)


def bench_requests(base_url: str, headers: dict[str, str], jobs: list[Job]) -> tuple[float, float]:
    with requests.Session() as http:
        def send(sid: str, body: dict) -> None:
            response = http.put(f"{base_url}/checkout/sessions/{sid}", json=body, headers=headers, timeout=30)
            response.raise_for_status()
            response.json()

        send(*jobs[0])
        return run_threads(jobs, 1, send)


def bench_urllib3(base_url: str, headers: dict[str, str], jobs: list[Job]) -> tuple[float, float]:
    pool = urllib3.PoolManager(maxsize=1)
    h = {**headers, "Content-Type": "application/json"}

    def send(sid: str, body: dict) -> None:
        response = pool.request("PUT", f"{base_url}/checkout/sessions/{sid}", body=orjson.dumps(body), headers=h,
                                timeout=30)
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        orjson.loads(response.data)

    send(*jobs[0])
    try:
        return run_threads(jobs, 1, send)
    finally:
        pool.clear()


def row(name: str, n: int, wall: float, cpu: float, extra: str = "") -> dict:
    result = {"case": name, "requests": n, "seconds": round(wall, 3), "rps": round(n / wall, 1),
              "cpu_ms_per_request": round(cpu / n * 1000, 3)}
    print(f"  {name:<34} {n:>6} req  {n / wall:>8.1f} req/s  {cpu / n * 1000:>6.3f} ms CPU/req  {extra}", flush=True)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (under a minute)")
    parser.add_argument("--rate", type=float, default=None, help="the sandbox rate limit R for the pacing case")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    args = parser.parse_args(argv)

    n_fast, n_slow_seq, n_slow_par = (2000, 200, 1600) if not args.quick else (600, 60, 480)
    rate = args.rate or (100.0 if args.quick else 200.0)
    n_rate = int(rate * (5 if args.quick else 15))
    results: dict = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "machine": machine(),
                     "quick": args.quick, "cases": []}
    print(f"client throughput — {results['machine']} — {results['date']}")

    with start_sandbox(mode="process") as sandbox:
        settings = Settings.for_sandbox(sandbox, retry=RetryPolicy(max_attempts=6))
        token = settings.signer().token([WRITE_SCOPE])
        headers = {"Authorization": f"Bearer {token}", "x-gr4vy-merchant-account-id": settings.merchant_account_id}

        for latency in (0, 50):
            sandbox.configure(latency_ms=latency)
            print(f"\nsandbox latency {latency} ms")
            seq_n = n_fast if latency == 0 else n_slow_seq
            par_n = n_fast if latency == 0 else n_slow_par
            jobs_seq, jobs_par = make_jobs(seq_n), make_jobs(par_n)
            cases = results["cases"]
            cases.append({**row("requests.Session loop (sequential)", seq_n, *bench_requests(sandbox.base_url, headers,
                                                                                             jobs_seq)),
                          "latency_ms": latency})
            cases.append({**row("urllib3.PoolManager loop (sequential)", seq_n,
                                *bench_urllib3(sandbox.base_url, headers, jobs_seq)), "latency_ms": latency})
            for workers in (1, 4, 8, 16):
                jobs = jobs_seq if workers == 1 else jobs_par
                before = sandbox.stats()["total_requests"]
                wall, cpu = bench_client(settings, jobs, workers)
                sent = sandbox.stats()["total_requests"] - before
                case = row(f"Gr4vyClient, {workers:>2} worker(s)", len(jobs), wall, cpu)
                # CPU per request counted over every request sent (the warm-up included)
                case["cpu_ms_per_request"] = round(cpu / len(jobs) * 1000, 3)
                case.update(latency_ms=latency, workers=workers, sent=sent)
                cases.append(case)
        sandbox.configure(latency_ms=0)

        print(f"\nsandbox rate limit {rate:g} req/s, 16 workers")
        sandbox.configure(rate_limit=rate)
        jobs = make_jobs(n_rate)
        time.sleep(1.5)  # let the sandbox's bucket fill, as after any idle second
        before = sandbox.stats()
        with Gr4vyClient(settings, workers=16, rate=rate) as client:
            wall, cpu = run_threads(jobs, 16, client.update_checkout_session)
        after = sandbox.stats()
        put_before, put_after = before["requests"].get("PUT", {}), after["requests"].get("PUT", {})
        total = sum(put_after.values()) - sum(put_before.values())
        limited = put_after.get("429", 0) - put_before.get("429", 0)
        achieved = len(jobs) / wall
        case = row(f"Gr4vyClient rate={rate:g}, 16 workers", len(jobs), wall, cpu,
                   f"= {achieved / rate:.1%} of R, {limited}/{total} answered 429 ({limited / max(total, 1):.2%})")
        case.update(rate_limit=rate, share_of_rate=round(achieved / rate, 4), answered_429=limited, sent=total)
        results["cases"].append(case)
        sandbox.configure(rate_limit=None)

    by = {(c["case"], c.get("latency_ms")): c for c in results["cases"]}
    seq50 = by[("requests.Session loop (sequential)", 50)]["rps"]
    par50 = by[("Gr4vyClient, 16 worker(s)", 50)]["rps"]
    cpu_max = max(c["cpu_ms_per_request"] for c in results["cases"] if c["case"].startswith("Gr4vyClient"))
    results["summary"] = {
        "speedup_16_workers_at_50ms_vs_sequential_requests": round(par50 / seq50, 2),
        "max_client_cpu_ms_per_request": cpu_max,
        "rate_share": case["share_of_rate"],
        "rate_429_share": round(limited / max(total, 1), 4),
    }
    s = results["summary"]
    print("\nsummary")
    speedup = s["speedup_16_workers_at_50ms_vs_sequential_requests"]
    print(f"  16 workers at 50 ms vs the sequential requests loop: {speedup}x (target >= 10x)")
    print(f"  client CPU per request, worst case: {cpu_max:.3f} ms (target <= 1.0 ms)")
    print(f"  paced at R: {s['rate_share']:.1%} of R sustained (target >= 95%), "
          f"{s['rate_429_share']:.2%} answered 429 (target <= 1%)")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    ok = (s["speedup_16_workers_at_50ms_vs_sequential_requests"] >= 10 and cpu_max <= 1.0
          and s["rate_share"] >= 0.95 and s["rate_429_share"] <= 0.01)
    print("  all targets met" if ok else "  TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
