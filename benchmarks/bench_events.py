"""Webhook burst through the event handler: prints figures, asserts nothing about time.

What runs (separate processes, loopback only):

* **workload** — the emulator generates the events: SKUs are imported, then Admin-style
  changes (prices, stock, status) fire ``SkuChangedNotification`` webhooks, captured with
  their exact bodies and static headers; 10 000 by default (``--events``).
* **receiver** — ``EventHandler.app`` served by uvicorn (one worker) on 127.0.0.1, writing
  to the store (``--store sqlite`` by default; ``--store postgres --dsn ...`` once
  ``PostgresStore`` exists).
* **baseline** — a bare Starlette endpoint returning 200 without reading or storing,
  served the same way, driven by the same load: the ratio against it is the figure that
  travels between machines.
* **load generator** — this process: keep-alive HTTP/1.1 connections over raw asyncio
  streams (``--concurrency``), first a burst as fast as the server answers, then a paced
  run at ``--rate`` events/s (open loop: latency at the target load, not at saturation).
* **worker** — an ``EventHandler`` worker in its own process that drains the inbox after
  the burst (``--concurrent-worker``: during it), looking SKUs up in its own emulator
  (same SKUs) through a ``QueryCache``; its target also enriches each SKU with its
  product (cached ``lookup_many``), the usual reason a target needs a cache. On a small
  machine the worker and its in-process emulator compete with the load generator for
  the same cores, so by default the phases are measured one after the other.

Targets: ingest >= 2 000 events/s, ack p99 <= 50 ms, Query requests per event <= 1/25.

Run: ``.venv/bin/python benchmarks/bench_events.py [--events N] [--store sqlite|postgres]``
(``--writer loop``, ``--compare-writers``, ``--compare-commit``: the receiver's commit
strategies; ``--help`` for the rest).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any


EVENT = "SkuChangedNotification"
SECRET_HEADER = "X-Norce-Webhook-Secret"
SECRET = "bench-secret"
PRODUCT_HEADER = {
    "AccountId": 1,
    "FullFile": False,
    "ProductFieldsThatAreSet": [0, 4],
    "VariantFieldsThatAreSet": [0, 5],
    "SkuFieldsThatAreSet": [1, 2, 5],
}


# ---------------------------------------------------------------------------- workload


def seed(emulator: Any, skus: int, per_product: int) -> list[str]:
    """Import ``skus`` SKUs into the emulator, ``per_product`` SKUs per product."""
    import httpx

    part_nos = [f"SKU-{i:05d}" for i in range(skus)]
    items = [
        {
            "ManufacturerCode": "ACME",
            "Code": f"P-{start // per_product:05d}",
            "Variants": [
                {
                    "ManufacturerPartNo": f"M-{start}",
                    "Skus": [
                        {"PartNo": p, "Status": 1, "Type": 1}
                        for p in part_nos[start : start + per_product]
                    ],
                }
            ],
        }
        for start in range(0, skus, per_product)
    ]
    header = {**PRODUCT_HEADER, "ProductFieldsThatAreSet": [0, 4, 1]}
    with httpx.Client(
        transport=emulator.transport(),
        base_url=emulator.settings().connect_base,
        headers={"Authorization": f"Bearer {emulator.issue_token()}"},
    ) as http:
        for start in range(0, len(items), 2000):
            response = http.post(
                "Product/ImportProducts",
                headers={"X-StormConnect-Header": json.dumps(header)},
                json=items[start : start + 2000],
            )
            response.raise_for_status()
    emulator.advance(30)
    return part_nos


def workload(events: int, skus: int, per_product: int) -> list[tuple[str, dict[str, str], bytes]]:
    """Webhooks exactly as the emulator sends them: path, static headers, body."""
    import httpx

    from norce_integration.testing import ManualClock, NorceEmulator

    captured: list[tuple[str, dict[str, str], bytes]] = []

    def capture(request: httpx.Request) -> httpx.Response:
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() in (SECRET_HEADER.lower(), "content-type", "x-norce-event-type")
        }
        captured.append((request.url.path, headers, request.content))
        return httpx.Response(200)

    with NorceEmulator(
        clock=ManualClock(), delivery_transport=httpx.MockTransport(capture), token_lifetime=10**7
    ) as emulator:
        part_nos = seed(emulator, skus, per_product)
        emulator.subscribe(EVENT, f"http://receiver/hooks/{EVENT}", headers={SECRET_HEADER: SECRET})
        # Every change sets a new value, so every change fires an event (an unchanged
        # value fires nothing). Each SKU gets price and stock changes in turn.
        changes = (
            lambda p, i: emulator.set_sku_price(p, 100 + i),
            emulator.set_sku_onhand,
        )
        i = 0
        while len(captured) < events:
            if i > 4 * events:
                raise RuntimeError(f"the emulator fired only {len(captured)} events")
            part_no = part_nos[(i // 2 * 7919) % len(part_nos)]  # spread over the SKUs
            changes[i % len(changes)](part_no, i)
            i += 1
            if i % 500 == 0:
                emulator.advance(1)
        emulator.advance(1)
    return captured[:events]


def warmup(count: int) -> list[tuple[str, dict[str, str], bytes]]:
    """Requests that warm the receiver up: a type no target takes, so they are recorded
    (a write) but never reach the inbox and the worker's figures."""
    return [
        (
            "/hooks/BenchWarmupEvent",
            {SECRET_HEADER: SECRET, "content-type": "application/json"},
            json.dumps(
                {"ClientId": 1042, "PartNo": f"WARMUP-{i}", "EntityChanged": "tClientProductSku"}
            ).encode(),
        )
        for i in range(count)
    ]


# ---------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_schema(path: str) -> str:
    """The PostgreSQL schema of one run (derived from its SQLite path: unique per run)."""
    import hashlib

    return "bench_events_" + hashlib.sha256(path.encode()).hexdigest()[:10]


def make_store(kind: str, path: str, dsn: str | None) -> Any:
    if kind == "postgres":
        from norce_integration.stores import PostgresStore

        return PostgresStore(dsn or "", schema=pg_schema(path))
    from norce_integration.stores import SqliteStore

    return SqliteStore(path)


def drop_schemas(dsn: str, schemas: list[str]) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def serve_receiver(
    port: int, store_kind: str, store_path: str, dsn: str | None, group_commit: bool, writer: str
) -> None:
    import uvicorn

    from norce_integration import Norce, NorceSettings
    from norce_integration.patterns import EventHandler, WebhookAuth

    settings = NorceSettings(
        client_id="bench",
        client_secret="bench",
        application_id=1042,
        query_url="http://127.0.0.1:9/commerce/query/2.0/",
        connect_url="http://127.0.0.1:9/commerce/connect/4.0/",
        token_url="http://127.0.0.1:9/identity/1.0/connect/token",
    )
    store = make_store(store_kind, store_path, dsn)
    handler = EventHandler(
        Norce(settings),
        store,
        auth=WebhookAuth(SECRET_HEADER, SECRET),
        group_commit=group_commit,
        writer=writer,
    )

    @handler.on(EVENT)
    def _receive_only(batch: Sequence[Any]) -> None:  # the receiver only needs the route
        return None

    uvicorn.run(handler.app, host="127.0.0.1", port=port, log_level="error", access_log=False)


def serve_baseline(port: int) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    async def ok(request: Any) -> Response:
        return Response(b'{"status":"accepted"}', media_type="application/json")

    app = Starlette(routes=[Route("/hooks/{event_type}", ok, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


@contextlib.contextmanager
def server(target: Any, port: int, *args: Any) -> Iterator[None]:
    proc = multiprocessing.Process(target=target, args=(port, *args), daemon=True)
    proc.start()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or not proc.is_alive():
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.05)
        yield
    finally:
        proc.terminate()  # SIGTERM: uvicorn shuts down and the writer flushes
        proc.join(15)


# ---------------------------------------------------------------------------- worker


def run_worker(
    store_kind: str,
    store_path: str,
    dsn: str | None,
    skus: int,
    per_product: int,
    ready_event: Any,
    ingest_done: Any,
    results: Any,
) -> None:
    from norce_integration import Norce
    from norce_integration.patterns import Deletion, EventHandler
    from norce_integration.query import Product, QueryCache
    from norce_integration.testing import ManualClock, NorceEmulator

    emulator = NorceEmulator(clock=ManualClock(), token_lifetime=10**7)
    seed(emulator, skus, per_product)
    store = make_store(store_kind, store_path, dsn)
    norce = Norce(emulator.settings(), transport=emulator.transport())
    # Products are not evicted by SKU events: they stay cached for the run (Products TTL).
    cache = QueryCache(ttl={"Products": 3600})
    handler = EventHandler(norce, store, cache=cache, batch_size=1000, poll_interval=0.02)
    sent = [0]

    class Search:
        event_types = (EVENT,)
        select = ("PartNo", "ProductId", "StatusId")
        name = "search"

        def map(self, sku: Any) -> Any:
            return sku

        def send(self, batch: Sequence[Any]) -> None:
            skus = [s for s in batch if not isinstance(s, Deletion)]
            products = handler.query.lookup_many(
                Product,
                "Id",
                {s.product_id for s in skus if s.product_id},
                select=["Id", "DefaultName"],
            )
            docs = [
                {
                    "id": s.part_no,
                    "status": s.status_id,
                    "name": getattr(products.found.get(s.product_id), "default_name", None),
                }
                for s in skus
            ]
            sent[0] += len(docs)

    handler.add_target(Search())
    cache.reset_stats()
    totals: dict[str, int] = {}
    processed = 0
    first = last = None
    deadline = time.monotonic() + 600
    ready_event.set()
    while time.monotonic() < deadline:
        report = handler.run_once()
        if not report.claimed and ingest_done.is_set():
            break  # the burst is over and the inbox is empty
        if report.claimed:
            now = time.perf_counter()
            first = first or now
            last = now
            processed += report.claimed
            for name in ("lookup_requests", "entities", "coalesced", "sent", "skipped_unchanged"):
                totals[name] = totals.get(name, 0) + getattr(report, name)
        else:
            time.sleep(0.02)
    stats = cache.stats
    results.put(
        {
            "processed": processed,
            "seconds": (last - first) if first and last else 0.0,
            "totals": totals,
            "hits": stats.hits,
            "misses": stats.misses,
            "hit_ratio": stats.hit_ratio,
            "sent": sent[0],
        }
    )
    handler.close()
    norce.close()
    store.close()
    emulator.close()


# ---------------------------------------------------------------------------- load generator


def build_requests(port: int, work: Sequence[tuple[str, dict[str, str], bytes]]) -> list[bytes]:
    out = []
    for path, headers, body in work:
        head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        out.append(head.encode("latin-1") + b"\r\n" + body)
    return out


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return status, body


async def drive(
    port: int, requests: list[bytes], concurrency: int, rate: float | None
) -> dict[str, Any]:
    """Send every request; closed loop (``rate=None``) or paced at ``rate`` per second."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    duplicates = [0]
    queue: asyncio.Queue[tuple[bytes, float]] = asyncio.Queue()
    start = time.perf_counter()
    if rate is None:
        for request in requests:
            queue.put_nowait((request, 0.0))

    async def pace() -> None:
        for i, request in enumerate(requests):
            due = start + i / rate  # type: ignore[operator]
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait((request, due))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                request, due = await queue.get()
                if not request:
                    return
                sent_at = time.perf_counter()
                status, body = await _exchange(reader, writer, request)
                if b"duplicate" in body:
                    duplicates[0] += 1
                done = time.perf_counter()
                # Open loop: latency counts from when the request was due (queueing
                # included), so a slow server cannot hide behind a slow client.
                latencies.append(done - (due if rate is not None else sent_at))
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    workers = [asyncio.create_task(connection()) for _ in range(concurrency)]
    if rate is not None:
        await pace()
    while len(latencies) < len(requests):
        await asyncio.sleep(0.005)
        if all(w.done() for w in workers):
            break
    elapsed = time.perf_counter() - start
    for _ in workers:
        queue.put_nowait((b"", 0.0))
    await asyncio.gather(*workers, return_exceptions=True)
    latencies.sort()
    return {
        "events_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "max_ms": latencies[-1] * 1000,
        "statuses": statuses,
        "duplicates": duplicates[0],
    }


# ---------------------------------------------------------------------------- main


def median_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over the rounds (the machine's load varies between runs)."""
    out: dict[str, Any] = {}
    for key in ("events_per_s", "p50_ms", "p99_ms", "max_ms"):
        out[key] = statistics.median(r[key] for r in rows)
    out["statuses"] = rows[-1]["statuses"]
    out["duplicates"] = rows[-1]["duplicates"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--dsn",
        default=os.environ.get("NORCE_BENCH_PG_DSN")
        or os.environ.get("NORCE_STORE_DSN")
        or "postgresql://postgres@127.0.0.1:5432/test",
        help="PostgreSQL DSN for --store postgres (or NORCE_BENCH_PG_DSN / NORCE_STORE_DSN)",
    )
    parser.add_argument(
        "--skus", type=int, default=None, help="SKUs changed (default: one per event)"
    )
    parser.add_argument("--per-product", type=int, default=10, help="SKUs per product")
    parser.add_argument("--concurrency", type=int, default=32, help="connections")
    parser.add_argument("--rate", type=float, default=2_000.0, help="paced events/s")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians)")
    parser.add_argument("--no-worker", action="store_true", help="receiver only")
    parser.add_argument(
        "--concurrent-worker",
        action="store_true",
        help="run the worker during the load (default: it drains the inbox afterwards)",
    )
    parser.add_argument("--writer", choices=("thread", "loop"), default="thread")
    parser.add_argument(
        "--compare-writers", action="store_true", help="run the thread and the loop writer"
    )
    parser.add_argument(
        "--compare-commit",
        action="store_true",
        help="also measure one commit per event (no group commit)",
    )
    args = parser.parse_args()
    skus = args.skus or args.events

    if args.store == "postgres":
        try:
            from norce_integration.stores import PostgresStore  # noqa: F401
        except ImportError:
            print(
                "--store postgres: PostgresStore is not available yet in norce_integration.stores"
            )
            return
        if not args.dsn:
            print("--store postgres needs --dsn (or NORCE_BENCH_PG_DSN)")
            return

    print(f"generating {args.events} webhooks with the emulator over {skus} SKUs ...")
    started = time.perf_counter()
    work = workload(args.events, skus, args.per_product)
    print(
        f"  {len(work)} webhooks in {time.perf_counter() - started:.1f} s "
        f"({len({b for _, _, b in work})} distinct bodies)"
    )

    results_by_label: dict[str, list[dict[str, Any]]] = {}
    processing: dict[str, Any] | None = None
    worker_mode = "none" if args.no_worker else "concurrent" if args.concurrent_worker else "after"
    writers = ["thread", "loop"] if args.compare_writers else [args.writer]

    schemas: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        run_id = [0]

        def record(label: str, row: dict[str, Any]) -> None:
            results_by_label.setdefault(label, []).append(row)
            print(
                f"  {label:24} {row['events_per_s']:7.0f}/s  p50 {row['p50_ms']:7.2f} ms  "
                f"p99 {row['p99_ms']:7.2f} ms",
                flush=True,
            )

        def baseline_run() -> None:
            port = free_port()
            with server(serve_baseline, port):
                requests = build_requests(port, work)
                asyncio.run(drive(port, build_requests(port, warmup(300)), args.concurrency, None))
                record("baseline burst", asyncio.run(drive(port, requests, args.concurrency, None)))
                record(
                    "baseline paced",
                    asyncio.run(drive(port, requests, args.concurrency, args.rate)),
                )

        def receiver_run(
            label: str,
            rate: float | None,
            *,
            group_commit: bool,
            writer: str,
            worker: str,
            store: str | None = None,
        ) -> dict[str, Any] | None:
            """A fresh store and server per run, so every run writes the same events.

            ``worker``: ``"none"``, ``"after"`` (drains the inbox once the load is over) or
            ``"concurrent"`` (runs during the load).
            """
            run_id[0] += 1
            store_kind = store or args.store
            store_path = str(Path(tmp) / f"run-{run_id[0]}.sqlite")
            if store_kind == "postgres":
                schemas.append(pg_schema(store_path))
            make_store(store_kind, store_path, args.dsn).close()  # schema before the processes
            port = free_port()
            results: Any = multiprocessing.Queue()
            ready = multiprocessing.Event()
            ingest_done = multiprocessing.Event()
            process = None
            if worker != "none":
                process = multiprocessing.Process(
                    target=run_worker,
                    args=(
                        store_kind,
                        store_path,
                        args.dsn,
                        skus,
                        args.per_product,
                        ready,
                        ingest_done,
                        results,
                    ),
                    daemon=True,
                )
            receiver = (port, store_kind, store_path, args.dsn, group_commit, writer)
            with server(serve_receiver, *receiver):
                requests = build_requests(port, work)
                asyncio.run(drive(port, build_requests(port, warmup(300)), args.concurrency, None))
                if process is not None and worker == "concurrent":
                    process.start()
                    ready.wait(300)  # seeded its emulator: the load meets a busy worker
                record(label, asyncio.run(drive(port, requests, args.concurrency, rate)))
            out = None
            if process is not None:
                if worker == "after":
                    process.start()
                ingest_done.set()
                out = results.get(timeout=900)
                process.join(30)
            results.close()
            return out

        for round_no in range(1, args.rounds + 1):
            print(f"round {round_no} of {args.rounds}", flush=True)
            baseline_run()
            if args.store == "postgres":
                # The SQLite figure beside PostgreSQL's, measured in the same round.
                receiver_run(
                    "sqlite reference burst",
                    None,
                    group_commit=True,
                    writer=args.writer,
                    worker="none",
                    store="sqlite",
                )
            for writer in writers:
                tag = f"{writer} writer"
                burst = receiver_run(
                    f"{tag} burst",
                    None,
                    group_commit=True,
                    writer=writer,
                    worker=worker_mode if processing is None else "none",
                )
                processing = processing or burst
                receiver_run(
                    f"{tag} paced",
                    args.rate,
                    group_commit=True,
                    writer=writer,
                    worker="concurrent" if args.concurrent_worker else "none",
                )
            if args.compare_commit:
                for rate in (None, args.rate):
                    receiver_run(
                        f"commit-per-event {'paced' if rate else 'burst'}",
                        rate,
                        group_commit=False,
                        writer="thread",
                        worker="none",
                    )

    if args.store == "postgres":
        drop_schemas(args.dsn, schemas)
    rows = [(label, median_row(found)) for label, found in results_by_label.items()]
    print()
    print(f"medians over {args.rounds} interleaved rounds")
    print(f"{'run':24} {'events/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}  statuses")
    for label, row in rows:
        print(
            f"{label:24} {row['events_per_s']:10.0f} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} "
            f"{row['max_ms']:8.1f}  {row['statuses']} ({row['duplicates']} duplicates)"
        )
    base = {label.split()[1]: row for label, row in rows if label.startswith("baseline")}
    print()
    for label, row in rows:
        if label.startswith("baseline"):
            continue
        b = base[label.split()[-1]]
        print(
            f"{label:24} throughput {row['events_per_s'] / b['events_per_s']:.2f}x baseline, "
            f"p50 {row['p50_ms'] / b['p50_ms']:.2f}x, p99 {row['p99_ms'] / b['p99_ms']:.2f}x"
        )
    if processing is not None:
        t = processing["totals"]
        per_event = t.get("lookup_requests", 0) / max(1, processing["processed"])
        print()
        print(
            f"worker: {processing['processed']} events processed in "
            f"{processing['seconds']:.1f} s "
            f"({processing['processed'] / max(processing['seconds'], 1e-9):.0f} events/s, "
            f"{'during' if args.concurrent_worker else 'after'} the burst)"
        )
        print(
            f"  entities looked up {t.get('entities', 0)}, coalesced events "
            f"{t.get('coalesced', 0)}, sent {t.get('sent', 0)}, unchanged skipped "
            f"{t.get('skipped_unchanged', 0)}"
        )
        print(
            f"  Query requests for SKUs: {t.get('lookup_requests', 0)} = 1 per "
            f"{1 / per_event if per_event else float('inf'):.0f} events (target: <= 1 per 25)"
        )
        print(
            f"  cache: {processing['hits']} hits, {processing['misses']} misses, "
            f"hit ratio {processing['hit_ratio']:.2f} (SKUs are evicted by their events "
            f"and always miss; the hits are the products the target enriches with)"
        )
    print()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}, store={args.store}, "
        f"concurrency={args.concurrency}, paced rate={args.rate:.0f}/s"
    )


if __name__ == "__main__":
    multiprocessing.set_start_method("spawn", force=True)
    main()
