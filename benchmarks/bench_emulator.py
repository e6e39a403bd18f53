"""How fast the emulator ingests imports and answers Query pages.

Each scenario runs in a fresh process so its peak RSS is its own:

* ``ingest``: N products streamed through the SDK into the in-process emulator; the
  emulator spools the body and validates it item by item (the job is not yet applied).
* ``json-loads`` (baseline): the same body parsed in one ``json.loads`` call, the naive
  way to ingest.
* ``apply``: ingest plus applying the job to the emulator's data (100k only: the applied
  data lives in memory, as a tenant's would).
* Query page latency: first and deep 500-row pages of ``Products/ProductSkus`` after
  ``apply``, against a ``Job/Ping`` round trip through the same transport (baseline).

    python benchmarks/bench_emulator.py               # 100k and 1M
    python benchmarks/bench_emulator.py --sizes 20000
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


sys.path.insert(0, str(Path(__file__).parent))

from bench_import_stream import _header, models


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(mode: str, n: int) -> dict[str, Any]:
    import attrs

    from norce_integration import Norce, RetryPolicy
    from norce_integration.testing import ManualClock, NorceEmulator

    out: dict[str, Any] = {"mode": mode, "n": n}
    if mode == "json-loads":
        from norce_integration.connect._body import ImportBody

        body = b"".join(ImportBody(models(n)))
        base = _rss_mb()
        start = time.perf_counter()
        items = json.loads(body)
        out["seconds"] = time.perf_counter() - start
        out["rss_mb"] = _rss_mb()
        out["rss_growth_mb"] = out["rss_mb"] - base
        assert len(items) == n
        return out
    with NorceEmulator(clock=ManualClock()) as emulator:
        settings = attrs.evolve(emulator.settings(), retry=RetryPolicy(max_attempts=1))
        with Norce(settings, transport=emulator.transport()) as norce:
            norce._http.token()
            base = _rss_mb()
            start = time.perf_counter()
            sent = norce.connect.submit("products", models(n), _header())
            out["seconds"] = time.perf_counter() - start
            out["rss_mb"] = _rss_mb()
            out["rss_growth_mb"] = out["rss_mb"] - base
            if mode == "apply":
                start = time.perf_counter()
                emulator.advance(10**6)
                job = norce.connect.get_job(sent.job_id)
                out["apply_seconds"] = time.perf_counter() - start
                out["status"] = job.status.name
                out["rss_mb"] = _rss_mb()
                url = settings.query_base + "Products/ProductSkus"
                http = norce._http
                headers = {"application-id": str(settings.application_id)}

                def timed(fn: Any, repeat: int = 30) -> list[float]:
                    samples = []
                    for _ in range(repeat):
                        t = time.perf_counter()
                        fn()
                        samples.append((time.perf_counter() - t) * 1000)
                    return samples

                out["ping_ms"] = timed(
                    lambda: http.request("GET", settings.connect_base + "Job/Ping")
                )
                out["first_page_ms"] = timed(lambda: http.request("GET", url, headers=headers))
                out["deep_page_ms"] = timed(
                    lambda: http.request(
                        "GET", url, headers=headers, params={"$skip": str(max(0, n - 500))}
                    )
                )
                out["filtered_ms"] = timed(
                    lambda: http.request(
                        "GET",
                        url,
                        headers=headers,
                        params={"$filter": "StatusId eq 1 and startswith(PartNo,'SKU-00')"},
                    )
                )
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--apply-size", type=int, default=100_000)
    parser.add_argument("--worker", nargs=2, metavar=("MODE", "N"))
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]))))
        return

    def run(mode: str, n: int) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, __file__, "--worker", mode, str(n)],
            check=True,
            capture_output=True,
            text=True,
        )
        return json.loads(done.stdout.strip().splitlines()[-1])

    print(
        f"{'scenario':<12} {'items':>9} {'items/s':>10} {'peak RSS MB':>12} {'RSS growth MB':>14}"
    )
    for n in args.sizes:
        ingest, loads = run("ingest", n), run("json-loads", n)
        for r in (ingest, loads):
            print(
                f"{r['mode']:<12} {n:>9} {n / r['seconds']:>10.0f} {r['rss_mb']:>12.1f} "
                f"{r['rss_growth_mb']:>14.1f}"
            )
        print(
            f"  ingest vs json.loads: {loads['seconds'] / ingest['seconds']:.2f}x the speed, "
            f"{ingest['rss_growth_mb']:.0f} MB vs {loads['rss_growth_mb']:.0f} MB memory growth"
        )
    applied = run("apply", args.apply_size)
    n = args.apply_size
    print(
        f"apply        {n:>9} {n / applied['apply_seconds']:>10.0f} {applied['rss_mb']:>12.1f}"
        f"   (job {applied['status']})"
    )

    def pct(samples: list[float], q: float) -> float:
        return statistics.quantiles(samples, n=100)[int(q) - 1]

    ping = statistics.median(applied["ping_ms"])
    print(f"\nQuery page latency over {n} SKUs (ms; baseline Job/Ping {ping:.2f} ms):")
    for key in ("first_page_ms", "deep_page_ms", "filtered_ms"):
        samples = applied[key]
        p50 = statistics.median(samples)
        print(
            f"  {key[:-3]:<12} p50 {p50:7.2f}  p95 {pct(samples, 95):7.2f}  = {p50 / ping:.1f}x ping"
        )


if __name__ == "__main__":
    main()
