"""PostgresStore beside SqliteStore, same run, same machine: prints figures and ratios only.

Measured on both stores, through the :class:`~norce_integration.stores.Store` protocol:

* **fingerprints** — put ``--items`` item versions in batches of 10 000, check them all
  back in batches of 10 000, then 100 000 random keys of which half were never stored
  (target for both: >= 200 000 checks/s);
* **inbox append** — one ``inbox_append`` per event (a commit per event, what a receiver
  without group commit does), then PostgreSQL's ``inbox_append_many`` in groups of 500
  (dedup window checked in the same transaction, what the receiver's group commit needs);
* **claim + ack** — workers (threads, one store handle each, like processes) claim
  batches of 100 and acknowledge every item, until the inbox is empty; with 1 worker and
  with ``--workers``. SQLite serialises writers; PostgreSQL's ``SKIP LOCKED`` claims run
  side by side.

PostgreSQL: ``--dsn`` (default ``NORCE_BENCH_PG_DSN``, then the local trust-auth server);
a throwaway schema is created and dropped.

Run: ``.venv/bin/python benchmarks/bench_store_postgres.py [--items N] [--events N]``
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import secrets
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from norce_integration.stores import ItemVersion, PostgresStore, SqliteStore, Store


BATCH = 10_000


def fingerprints(store: Store, items: int) -> dict[str, float]:
    keys = [f"SKU-{i:07d}" for i in range(items)]
    fps = {k: hashlib.blake2b(k.encode(), digest_size=16).hexdigest() for k in keys}
    start = time.perf_counter()
    for i in range(0, items, BATCH):
        store.put_item_versions("products", {k: ItemVersion(fps[k]) for k in keys[i : i + BATCH]})
    put = items / (time.perf_counter() - start)
    start = time.perf_counter()
    found = 0
    for i in range(0, items, BATCH):
        found += len(store.get_item_versions("products", keys[i : i + BATCH]))
    get_all = items / (time.perf_counter() - start)
    assert found == items
    rng = random.Random(0)
    probe = [f"SKU-{rng.randrange(2 * items):07d}" for _ in range(100_000)]
    start = time.perf_counter()
    for i in range(0, len(probe), BATCH):
        store.get_item_versions("products", probe[i : i + BATCH])
    mixed = len(probe) / (time.perf_counter() - start)
    return {"put items/s": put, "check all present/s": get_all, "check half unknown/s": mixed}


def append_single(store: Store, events: int, tag: str) -> float:
    body = b'{"EventType":"SkuChangedNotification","Data":{"PartNo":"SKU-1"}}'
    start = time.perf_counter()
    for i in range(events):
        store.inbox_append(f"{tag}-{i}", "SkuChangedNotification", body)
    return events / (time.perf_counter() - start)


def append_grouped(store: PostgresStore, events: int, tag: str) -> float:
    body = b'{"EventType":"SkuChangedNotification","Data":{"PartNo":"SKU-1"}}'
    start = time.perf_counter()
    for g in range(0, events, 500):
        store.inbox_append_many(
            [
                (f"{tag}-{i}", f"{tag}-{i}#1", "SkuChangedNotification", body)
                for i in range(g, min(events, g + 500))
            ],
            window=3600,
        )
    return events / (time.perf_counter() - start)


def drain(handles: list[Store]) -> float:
    """Claim (100 at a time) and ack everything with one thread per handle; items/s."""
    done = [0] * len(handles)

    def work(n: int) -> None:
        store = handles[n]
        while batch := store.inbox_claim(f"w{n}", limit=100, lease=60):
            for item in batch:
                store.inbox_ack(item.item_id, f"w{n}")
            done[n] += len(batch)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(handles))]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / (time.perf_counter() - start)


def inbox(open_store: Callable[[], Store], events: int, workers: int) -> dict[str, float]:
    figures: dict[str, float] = {}
    store = open_store()
    try:
        figures["append, commit per event/s"] = append_single(store, events, "single")
        figures["claim+ack, 1 worker, items/s"] = drain([store])
        if isinstance(store, PostgresStore):
            figures["append_many, groups of 500/s"] = append_grouped(store, events, "grouped")
        else:
            append_single(store, events, "grouped")
        handles = [open_store() for _ in range(workers)]
        try:
            figures[f"claim+ack, {workers} workers, items/s"] = drain(handles)
        finally:
            for handle in handles:
                handle.close()
    finally:
        store.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=200_000)
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--dsn",
        default=os.environ.get("NORCE_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test"),
    )
    args = parser.parse_args()
    schema = f"norce_bench_{secrets.token_hex(4)}"
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.sqlite"
        with SqliteStore(path) as sqlite:
            results["sqlite"] = fingerprints(sqlite, args.items)
        results["sqlite"].update(inbox(lambda: SqliteStore(path), args.events, args.workers))
    try:
        with PostgresStore(args.dsn, schema=schema) as pg:
            results["postgres"] = fingerprints(pg, args.items)
        results["postgres"].update(
            inbox(
                lambda: PostgresStore(args.dsn, schema=schema, max_size=2),
                args.events,
                args.workers,
            )
        )
    finally:
        import psycopg

        with psycopg.connect(args.dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    print(
        f"{args.items:,} item versions, {args.events:,} events, {args.workers} workers, "
        f"{os.cpu_count()} CPUs; PostgreSQL on {args.dsn.rsplit('@', 1)[-1]}"
    )
    print(f"{'figure':34} {'sqlite':>12} {'postgres':>12} {'pg/sqlite':>10}")
    for name in results["postgres"]:
        pg_value = results["postgres"][name]
        lite = results["sqlite"].get(name)
        ratio = f"{pg_value / lite:9.2f}x" if lite else "         -"
        lite_text = f"{lite:12,.0f}" if lite else f"{'-':>12}"
        print(f"{name:34} {lite_text} {pg_value:12,.0f} {ratio}")


if __name__ == "__main__":
    main()
