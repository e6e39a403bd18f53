"""The operations console's overview on a large store: 10k jobs, 100k inbox rows.

Goal (issue 15): the overview answers in <= 200 ms. Prints figures; asserts nothing.

    python benchmarks/bench_ops.py [--jobs 10000] [--inbox 100000] [--runs 20]

The store is a ``SqliteStore`` file filled through its public methods; the console reads
it through ``AsyncSqliteStore`` (its connection on one dedicated thread). ``/metrics`` is timed
too: it reads every job at scrape time.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from norce_integration.ops import AccessPolicy, create_app
from norce_integration.stores import (
    AsyncSqliteStore,
    FullImportRecord,
    JobObservation,
    SqliteStore,
    TrackedJob,
    TrackedStatus,
)


KINDS = ("products", "sku_price_lists", "onhands", "customers")
NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def fill(path: Path, jobs: int, inbox: int) -> None:
    store = SqliteStore(path)
    started = time.perf_counter()
    statuses = [TrackedStatus.SUCCEEDED] * 18 + [TrackedStatus.FAILED, TrackedStatus.RUNNING]
    for n in range(jobs):
        kind = KINDS[n % len(KINDS)]
        status = statuses[n % len(statuses)]
        submitted = NOW - dt.timedelta(minutes=(jobs - n) * 5)
        finished = (
            None
            if status is TrackedStatus.RUNNING
            else submitted + dt.timedelta(seconds=30 + n % 90)
        )
        store.insert_job(
            TrackedJob(
                job_id=n + 1,
                kind=kind,
                full=n % 50 == 0,
                account_id=1 + n % 3,
                submitted_at=submitted,
                item_count=100 + n % 1000,
                status=status,
                finished_at=finished,
                history=(JobObservation(n + 1, submitted, status),),
            )
        )
        if n % 50 == 0 and status is TrackedStatus.SUCCEEDED and finished is not None:
            store.set_last_full_import(FullImportRecord(kind, 1 + n % 3, n + 1, finished, 5000))
    print(f"  {jobs:,} jobs written in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    for n in range(inbox):
        store.inbox_append(
            f"sku:{n}", "SkuChangedNotification", b'{"ClientId":1,"PartNo":"P%d"}' % n
        )
    claimed = store.inbox_claim("bench", limit=inbox // 2, lease=3600)
    for item in claimed[: inbox // 4]:
        store.inbox_ack(item.item_id, "bench")
    for n in range(50):
        store.put_dead_letter("webhook:failed", b"{}", f"boom {n}", key="SkuChangedNotification")
    print(f"  {inbox:,} inbox rows written in {time.perf_counter() - started:.1f} s")
    store.close()


async def measure(path: Path, runs: int) -> None:
    store = AsyncSqliteStore(path)
    app = create_app(store, access=AccessPolicy(token="bench"), clock=NOW.timestamp)
    headers = {"Authorization": "Bearer bench"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://b") as c:
        for path_, label in (
            ("/", "overview"),
            ("/jobs", "jobs list"),
            ("/events", "events"),
            ("/metrics", "metrics"),
        ):
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                r = await c.get(path_, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                assert r.status_code == 200, r.text[:200]
            times.sort()
            p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
            print(
                f"  {label:10s} median {statistics.median(times):7.1f} ms   p90 {p90:7.1f} ms   "
                f"max {times[-1]:7.1f} ms   ({len(r.content):,} bytes)"
            )
    await store.aclose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--inbox", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.sqlite"
        print(
            f"ops console on {args.jobs:,} jobs and {args.inbox:,} inbox rows (goal: overview <= 200 ms)"
        )
        fill(path, args.jobs, args.inbox)
        asyncio.run(measure(path, args.runs))


if __name__ == "__main__":
    main()
