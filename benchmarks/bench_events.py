"""The webhook pipeline end to end: prints figures, asserts nothing about time.

What runs (separate processes, loopback only):

* **workload** — the emulator generates the events: SKUs are imported, then Admin-style
  changes (prices, stock) fire ``SkuChangedNotification`` webhooks, captured with their
  exact bodies and static headers.
* **receiver** — the handler's ASGI app served by uvicorn (one worker) on 127.0.0.1,
  writing to the store (``--store sqlite`` or ``--store postgres --dsn ...``);
  ``--api sync`` (default: ``EventHandler`` and its writer thread) or ``--api async``
  (``AsyncEventHandler`` awaiting the asyncio store).
* **baseline** — a bare Starlette endpoint returning 200 without reading or storing,
  served the same way and driven by the same load in the same run: the ratio against it
  is the figure that travels between machines.
* **load generator** — this process: keep-alive HTTP/1.1 connections over raw asyncio
  streams (``--concurrency``); a burst as fast as the server answers (closed loop), or
  paced at ``--rate`` events/s (open loop: latency counts from when a request was due).
* **workers** — ``EventHandler`` workers, each in its own process, looking SKUs up in
  their own emulator (same SKUs) through a ``QueryCache``; the target also enriches each
  SKU with its product (cached ``lookup_many``), the usual reason a target needs a cache.

Phases (``--phases``, all by default):

* ``burst``: ``--events`` webhooks (10 000) as fast as they are answered, the bare
  baseline and the receiver one after the other (``--rounds`` interleaved rounds):
  receiver throughput as a ratio of the baseline's (goal >= 0.8x).
* ``sustained``: ``--rate`` events/s (2 000) for ``--sustained`` seconds (30) while the
  workers drain (SQLite: 1 worker process, PostgreSQL: 2; ``--sustained-workers``): ack
  p50/p99 (goal p99 <= 50 ms), inbox backlog when the load ends (goal <= 2 000), and
  webhook-to-target latency p50/p99 (from when the webhook was due to when the worker's
  batch holding it returned from the target and was acknowledged; goal p99 <= 2 s).
* ``drain``: the inbox pre-filled with ``--drain`` events (50 000), then the workers
  alone (SQLite: 1; PostgreSQL: 1, 2 and 4 processes; ``--drain-workers``): events/s
  (goal >= 2 500 on SQLite).

Every worker phase prints Query requests per event (goal <= 1/25) and target calls per
event. On the 2-core machine the load generator, the receiver, the workers and their
in-process emulators share the cores: quote ratios from one run, not absolute figures.

Run: ``.venv/bin/python benchmarks/bench_events.py [--store sqlite|postgres]`` (the
issue's sizes); a quick run: ``--events 3000 --sustained 5 --drain 10000``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import re
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx


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


def make_async_store(kind: str, path: str, dsn: str | None) -> Any:
    assert kind == "sqlite", "AsyncPostgresStore is opened with await AsyncPostgresStore.open"
    from norce_integration.stores import AsyncSqliteStore

    return AsyncSqliteStore(path)


def drop_schemas(dsn: str, schemas: list[str]) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def serve_receiver(
    port: int,
    store_kind: str,
    store_path: str,
    dsn: str | None,
    group_commit: bool,
    writer: str,
    api: str,
    switch_interval: float | None,
) -> None:
    import uvicorn

    if switch_interval is not None:
        # The thread that commits (the writer thread, or the asyncio store's connection
        # thread) needs the GIL back after every statement; from a busy event loop that
        # takes up to the switch interval (5 ms by default) each time.
        sys.setswitchinterval(switch_interval)

    from norce_integration import AsyncNorce, Norce, NorceSettings
    from norce_integration.patterns import AsyncEventHandler, EventHandler, WebhookAuth

    settings = NorceSettings(
        client_id="bench",
        client_secret="bench",
        application_id=1042,
        query_url="http://127.0.0.1:9/commerce/query/2.0/",
        connect_url="http://127.0.0.1:9/commerce/connect/4.0/",
        token_url="http://127.0.0.1:9/identity/1.0/connect/token",
    )
    auth = WebhookAuth(SECRET_HEADER, SECRET)
    app: Any
    if api == "async":
        built: list[Any] = []
        lock = asyncio.Lock()

        async def build() -> Any:
            # AsyncPostgresStore is opened on the server's loop (``await ... .open``).
            async with lock:
                if not built:
                    if store_kind == "postgres":
                        from norce_integration.stores import AsyncPostgresStore

                        store = await AsyncPostgresStore.open(
                            dsn or "", schema=pg_schema(store_path)
                        )
                    else:
                        store = make_async_store(store_kind, store_path, dsn)
                    async_handler = AsyncEventHandler(
                        AsyncNorce(settings), store, auth=auth, group_commit=group_commit
                    )

                    @async_handler.on(EVENT)
                    async def _receive_only_async(batch: Sequence[Any]) -> None:  # route only
                        return None

                    built.append(async_handler.app)
            return built[0]

        async def app(scope: Any, receive: Any, send: Any) -> None:
            await (built[0] if built else await build())(scope, receive, send)

    else:
        handler = EventHandler(
            Norce(settings),
            make_store(store_kind, store_path, dsn),
            auth=auth,
            group_commit=group_commit,
            writer=writer,
        )

        @handler.on(EVENT)
        def _receive_only(batch: Sequence[Any]) -> None:  # the receiver only needs the route
            return None

        app = handler.app
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


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


_EQ_OR = re.compile(r"^(\w+) eq ('(?:[^']|'')*'|-?\d+)((?: or \1 eq (?:'(?:[^']|'')*'|-?\d+))*)$")
_TERM = re.compile(r" or \w+ eq ('(?:[^']|'')*'|-?\d+)")


class IndexedQuery(httpx.BaseTransport):
    """The emulator's transport, with key lookups (``$filter=K eq a or K eq b ...``)
    answered from an index of the emulator's own rows.

    The emulator evaluates such a filter row by row over the whole catalogue (keys x
    SKUs per request), which measures the emulator, not the worker; Norce answers from
    an index. Rows are read from the emulator once per entity set, with every field (all
    pages; the worker does this before the load starts), then every lookup is answered
    with the rows cut down to ``$select``, the JSON the emulator writes. Any other
    request goes to the emulator. ``--emulator-query`` turns this off.
    """

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.full: dict[str, list[dict[str, Any]]] = {}
        self.index: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        flt = params.get("$filter")
        match = _EQ_OR.match(flt) if flt and set(params) <= {"$filter", "$select"} else None
        if request.method != "GET" or "/query/" not in request.url.path or match is None:
            return self.inner.handle_request(request)
        field, select = match.group(1), params.get("$select", "")
        values = [match.group(2), *_TERM.findall(match.group(3))]
        rows = self._rows(request, field)
        names = select.split(",") if select else None
        found = []
        for value in dict.fromkeys(values):
            key = value[1:-1].replace("''", "'") if value.startswith("'") else value
            row = rows.get(key)
            if row is not None:
                found.append(row if names is None else {n: row[n] for n in names if n in row})
        context = f"{str(request.url).split('?')[0].rsplit('/', 1)[0]}/$metadata#"
        body = {"@odata.context": context, "value": found}
        return httpx.Response(
            200,
            headers={"content-type": "application/json; odata.metadata=minimal"},
            content=json.dumps(body).encode(),
        )

    def _rows(self, request: httpx.Request, field: str) -> dict[str, dict[str, Any]]:
        path = request.url.path
        full = self.full.get(path)
        if full is None:
            full = []
            url: Any = request.url.copy_with(params={})
            while url:
                response = self.inner.handle_request(
                    httpx.Request("GET", url, headers=request.headers)
                )
                response.read()
                page = json.loads(response.content)
                full.extend(page["value"])
                url = page.get("@odata.nextLink")
            self.full[path] = full
        rows = self.index.get((path, field))
        if rows is None:
            rows = self.index[(path, field)] = {str(row[field]): row for row in full}
        return rows


class _Recording:
    """The worker's store, remembering the payloads of the batch in hand (to time each
    event from its webhook to the target)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.claimed: list[bytes] = []

    def inbox_claim(self, owner: str, *, limit: int, lease: float) -> list[Any]:
        items = self._store.inbox_claim(owner, limit=limit, lease=lease)
        self.claimed = [bytes(i.payload) for i in items]
        return list(items)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def run_worker(
    store_kind: str,
    store_path: str,
    dsn: str | None,
    skus: int,
    per_product: int,
    batch_size: int,
    emulator_query: bool,
    ready: Any,
    go: Any,
    stop: Any,
    results: Any,
) -> None:
    """Drain the inbox from ``go`` until ``stop`` is set and a claim finds nothing."""
    from norce_integration import Norce
    from norce_integration.patterns import Deletion, EventHandler
    from norce_integration.query import Product, ProductSku, QueryCache
    from norce_integration.testing import ManualClock, NorceEmulator

    emulator = NorceEmulator(clock=ManualClock(), token_lifetime=10**7)
    seed(emulator, skus, per_product)
    raw = make_store(store_kind, store_path, dsn)
    store = _Recording(raw)
    transport = emulator.transport() if emulator_query else IndexedQuery(emulator.transport())
    norce = Norce(emulator.settings(), transport=transport)
    # Products are not evicted by SKU events: they stay cached for the run (Products TTL).
    cache = QueryCache(ttl={"Products": 3600})
    handler = EventHandler(
        norce,
        store,
        cache=cache,
        batch_size=batch_size,
        poll_interval=0.02,  # type: ignore[arg-type]
    )
    sent = [0, 0]  # documents, calls

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
            sent[1] += 1

    handler.add_target(Search())
    # The stand-in Query service reads its rows before the load starts (Norce's Query
    # answers from an index it already has): one lookup per entity set the worker uses.
    handler.query.lookup_many(ProductSku, "PartNo", {"-"}, select=["PartNo"])
    handler.query.lookup_many(Product, "Id", {0}, select=["Id"])
    cache.reset_stats()
    totals: dict[str, int] = {}
    deliveries: list[tuple[bytes, float]] = []
    processed = batches = 0
    first = last = 0.0
    deadline = time.monotonic() + 1800
    ready.set()
    go.wait(600)
    while time.monotonic() < deadline:
        report = handler.run_once()
        if report.claimed:
            now = time.time()
            first = first or now
            last = now
            batches += 1
            processed += report.claimed
            deliveries.extend((payload, now) for payload in store.claimed)
            for name in (
                "lookup_requests",
                "entities",
                "coalesced",
                "sent",
                "skipped_unchanged",
                "acked",
                "retried",
                "dead_lettered",
            ):
                totals[name] = totals.get(name, 0) + getattr(report, name)
        elif stop.is_set():
            break  # the load is over and the inbox is empty
        # As EventHandler.run paces itself (EventCore.pause_after): at once after a full
        # batch, a short linger after a partial one (0.1 s), a poll after an empty one.
        if 0 < report.claimed < batch_size:
            time.sleep(0.1)
        elif not report.claimed:
            time.sleep(0.01)
    stats = cache.stats
    results.put(
        {
            "processed": processed,
            "batches": batches,
            "first": first,
            "last": last,
            "totals": totals,
            "hit_ratio": stats.hit_ratio,
            "sent_docs": sent[0],
            "send_calls": sent[1],
            "deliveries": deliveries,
        }
    )
    handler.close()
    norce.close()
    raw.close()
    emulator.close()


@contextlib.contextmanager
def workers(
    count: int, store_kind: str, store_path: str, dsn: str | None, skus: int, args: Any
) -> Iterator[tuple[Any, Any, Any]]:
    """``count`` worker processes, seeded and waiting; yields ``(go, stop, collect)``."""
    ready = [multiprocessing.Event() for _ in range(count)]
    go, stop = multiprocessing.Event(), multiprocessing.Event()
    results: Any = multiprocessing.Queue()
    procs = [
        multiprocessing.Process(
            target=run_worker,
            args=(
                store_kind,
                store_path,
                dsn,
                skus,
                args.per_product,
                args.batch_size,
                args.emulator_query,
                r,
                go,
                stop,
                results,
            ),
            daemon=True,
        )
        for r in ready
    ]
    for p in procs:
        p.start()
    for r in ready:
        if not r.wait(600):
            raise RuntimeError("a worker did not start")

    def collect() -> list[dict[str, Any]]:
        stop.set()
        out = [results.get(timeout=1800) for _ in procs]
        for p in procs:
            p.join(60)
        return out

    try:
        yield go, stop, collect
    finally:
        stop.set()
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(10)
        results.close()


def worker_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    totals: dict[str, int] = {}
    for row in rows:
        for key, value in row["totals"].items():
            totals[key] = totals.get(key, 0) + value
    processed = sum(r["processed"] for r in rows)
    return {
        "processed": processed,
        "batches": sum(r["batches"] for r in rows),
        "totals": totals,
        "send_calls": sum(r["send_calls"] for r in rows),
        "sent_docs": sum(r["sent_docs"] for r in rows),
        "per_worker": [r["processed"] for r in rows],
        "hit_ratio": statistics.mean(r["hit_ratio"] for r in rows),
    }


def print_worker(summary: dict[str, Any], indent: str = "  ") -> None:
    t = summary["totals"]
    processed = max(1, summary["processed"])
    lookups = t.get("lookup_requests", 0)
    print(
        f"{indent}events {summary['processed']} in {summary['batches']} batches "
        f"(per worker {summary['per_worker']}); acked {t.get('acked', 0)}, retried "
        f"{t.get('retried', 0)}, dead letters {t.get('dead_lettered', 0)}"
    )
    print(
        f"{indent}entities looked up {t.get('entities', 0)} (coalesced events "
        f"{t.get('coalesced', 0)}), documents sent {summary['sent_docs']}"
    )
    print(
        f"{indent}Query requests for the events: {lookups} = 1 per "
        f"{processed / lookups if lookups else float('inf'):.0f} events (goal: <= 1 per 25); "
        f"target calls: {summary['send_calls']} = {summary['send_calls'] / processed:.4f} "
        f"per event (1 per {processed / max(1, summary['send_calls']):.0f})"
    )


def worst_seconds(load: dict[str, Any], rate: float, count: int = 3) -> str:
    """The seconds of a paced run with the slowest acknowledgements (where a stall was)."""
    seconds: dict[int, list[float]] = {}
    for i, latency in enumerate(load["each"]):
        seconds.setdefault(int(i / rate), []).append(latency)
    worst = sorted(seconds.items(), key=lambda kv: -max(kv[1]))[:count]
    parts = [f"s{sec}: max {max(v) * 1000:.0f} ms" for sec, v in worst]
    return f"worst seconds of the load: {', '.join(parts)}"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else float("nan")


def inbox_backlog(store_kind: str, store_path: str, dsn: str | None) -> int:
    store = make_store(store_kind, store_path, dsn)
    try:
        counts = store.inbox_counts()
    finally:
        store.close()
    return int(counts.get("pending", 0)) + int(counts.get("leased", 0))


def prefill(
    store_kind: str, store_path: str, dsn: str | None, work: Sequence[tuple[str, Any, bytes]]
) -> None:
    """Put ``work`` straight into the inbox (as accepted webhooks), 1 000 per transaction."""
    store = make_store(store_kind, store_path, dsn)
    try:
        for start in range(0, len(work), 1000):
            chunk = work[start : start + 1000]
            entries = [
                (None, f"prefill-{start + i}#0", EVENT, body)
                for i, (_, _, body) in enumerate(chunk)
            ]
            store.inbox_write(entries, window=0.0)
    finally:
        store.close()


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
    """Send every request; closed loop (``rate=None``) or paced at ``rate`` per second.

    ``due`` in the result: per request, the wall-clock time it was due (paced) or sent;
    ``accepted``: per request, whether it was answered ``accepted`` (stored).
    """
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    duplicates = [0]
    due_wall = [0.0] * len(requests)
    each = [0.0] * len(requests)
    accepted = [False] * len(requests)
    queue: asyncio.Queue[tuple[int, float]] = asyncio.Queue()
    start = time.perf_counter()
    wall_start = time.time()
    if rate is None:
        for i in range(len(requests)):
            queue.put_nowait((i, 0.0))

    async def pace() -> None:
        assert rate is not None
        for i in range(len(requests)):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait((i, due))

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while True:
                i, due = await queue.get()
                if i < 0:
                    return
                sent_at = time.perf_counter()
                status, body = await _exchange(reader, writer, requests[i])
                if b"duplicate" in body:
                    duplicates[0] += 1
                accepted[i] = b"accepted" in body
                done = time.perf_counter()
                # Open loop: latency counts from when the request was due (queueing
                # included), so a slow server cannot hide behind a slow client.
                since = due if rate is not None else sent_at
                due_wall[i] = wall_start + (since - start)
                latencies.append(done - since)
                each[i] = done - since
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    tasks = [asyncio.create_task(connection()) for _ in range(concurrency)]
    if rate is not None:
        await pace()
    while len(latencies) < len(requests):
        await asyncio.sleep(0.005)
        if all(w.done() for w in tasks):
            break
    elapsed = time.perf_counter() - start
    for _ in tasks:
        queue.put_nowait((-1, 0.0))
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies.sort()
    return {
        "events_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
        "max_ms": latencies[-1] * 1000,
        "statuses": statuses,
        "duplicates": duplicates[0],
        "due": due_wall,
        "each": each,
        "accepted": accepted,
    }


# ---------------------------------------------------------------------------- main


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000, help="webhooks in the burst")
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--dsn",
        default=os.environ.get("NORCE_BENCH_PG_DSN")
        or os.environ.get("NORCE_STORE_DSN")
        or "postgresql://postgres@127.0.0.1:5432/test",
        help="PostgreSQL DSN for --store postgres (or NORCE_BENCH_PG_DSN / NORCE_STORE_DSN)",
    )
    parser.add_argument(
        "--phases", default="burst,sustained,drain", help="comma-separated: burst,sustained,drain"
    )
    parser.add_argument("--sustained", type=float, default=30.0, help="seconds of paced load")
    parser.add_argument("--rate", type=float, default=2_000.0, help="paced events/s")
    parser.add_argument("--drain", type=int, default=50_000, help="events pre-filled to drain")
    parser.add_argument(
        "--sustained-workers", type=int, default=None, help="default: sqlite 1, postgres 2"
    )
    parser.add_argument(
        "--drain-workers", default=None, help="comma-separated counts (sqlite 1, postgres 1,2,4)"
    )
    parser.add_argument("--batch-size", type=int, default=1000, help="worker batch size")
    parser.add_argument(
        "--emulator-query",
        action="store_true",
        help="workers look up through the emulator's row-by-row OData filter (no index)",
    )
    parser.add_argument("--per-product", type=int, default=10, help="SKUs per product")
    parser.add_argument("--concurrency", type=int, default=32, help="connections")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved burst rounds")
    parser.add_argument(
        "--api",
        choices=("sync", "async", "both"),
        default="both",
        help="receiver: EventHandler (sync), AsyncEventHandler (async) or both in turn",
    )
    parser.add_argument("--writer", choices=("thread", "loop"), default="thread")
    parser.add_argument(
        "--compare-writers", action="store_true", help="burst: the thread and the loop writer"
    )
    parser.add_argument(
        "--switch-interval",
        type=float,
        default=None,
        help="sys.setswitchinterval in the receiver process (default: Python's 0.005 s)",
    )
    parser.add_argument(
        "--no-group-commit", action="store_true", help="one commit per event (measurements)"
    )
    args = parser.parse_args()
    phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    pg = args.store == "postgres"
    sustained_workers = (
        (2 if pg else 1) if args.sustained_workers is None else args.sustained_workers
    )
    drain_workers = [
        int(n) for n in (args.drain_workers or ("1,2,4" if pg else "1")).split(",") if n
    ]
    writers = ["thread", "loop"] if args.compare_writers else [args.writer]
    group_commit = not args.no_group_commit
    summary: list[str] = []
    schemas: list[str] = []

    apis = ["sync", "async"] if args.api == "both" else [args.api]

    def receiver_args(port: int, path: str, writer: str, api: str) -> tuple[Any, ...]:
        return (port, args.store, path, args.dsn, group_commit, writer, api, args.switch_interval)

    with tempfile.TemporaryDirectory() as tmp:
        run_id = [0]

        def fresh_store() -> str:
            run_id[0] += 1
            path = str(Path(tmp) / f"run-{run_id[0]}.sqlite")
            if pg:
                schemas.append(pg_schema(path))
            make_store(args.store, path, args.dsn).close()  # schema before the processes
            return path

        def row_line(label: str, row: dict[str, Any]) -> None:
            print(
                f"  {label:26} {row['events_per_s']:7.0f}/s  p50 {row['p50_ms']:7.2f} ms  "
                f"p99 {row['p99_ms']:7.2f} ms  max {row['max_ms']:7.1f} ms  "
                f"{row['statuses']} ({row['duplicates']} duplicates)",
                flush=True,
            )

        # ------------------------------------------------------------ burst
        if "burst" in phases:
            print(f"burst: generating {args.events} webhooks ...", flush=True)
            work = workload(args.events, args.events, args.per_product)
            rows: dict[str, list[dict[str, Any]]] = {}
            for round_no in range(1, args.rounds + 1):
                print(f"burst round {round_no} of {args.rounds}", flush=True)
                port = free_port()
                with server(serve_baseline, port):
                    asyncio.run(drive(port, build_requests(port, warmup(300)), 32, None))
                    row = asyncio.run(
                        drive(port, build_requests(port, work), args.concurrency, None)
                    )
                rows.setdefault("baseline", []).append(row)
                row_line("bare Starlette", row)
                for api, writer in [(a, w) for a in apis for w in writers]:
                    if api == "async" and writer != writers[0]:
                        continue  # the asyncio handler has one writer
                    port = free_port()
                    path = fresh_store()
                    with server(serve_receiver, *receiver_args(port, path, writer, api)):
                        asyncio.run(drive(port, build_requests(port, warmup(300)), 32, None))
                        row = asyncio.run(
                            drive(port, build_requests(port, work), args.concurrency, None)
                        )
                    label = (
                        f"receiver ({api}, {writer} writer)"
                        if api == "sync"
                        else ("receiver (async)")
                    )
                    rows.setdefault(label, []).append(row)
                    row_line(label, row)
            base = statistics.median(r["events_per_s"] for r in rows.pop("baseline"))
            for label, found in rows.items():
                rate = statistics.median(r["events_per_s"] for r in found)
                ratio = rate / base
                summary.append(
                    f"burst {args.events}: {label} {rate:.0f}/s vs bare Starlette {base:.0f}/s "
                    f"= {ratio:.2f}x (goal >= 0.8x: {verdict(ratio >= 0.8)})"
                )

        # ------------------------------------------------------------ sustained
        if "sustained" in phases:
            count = int(args.sustained * args.rate)
            print(
                f"sustained: generating {count} webhooks ({args.rate:.0f}/s for "
                f"{args.sustained:.0f} s), {sustained_workers} worker process(es) ...",
                flush=True,
            )
            work = workload(count, count, args.per_product)
            # What the machine gives a server doing nothing at this rate, right now.
            port = free_port()
            with server(serve_baseline, port):
                asyncio.run(drive(port, build_requests(port, warmup(300)), 32, None))
                reference = asyncio.run(
                    drive(port, build_requests(port, work), args.concurrency, args.rate)
                )
            row_line("bare Starlette paced", reference)
            summary.append(
                f"sustained: bare Starlette at the same rate in the same run: ack p50 "
                f"{reference['p50_ms']:.1f} ms, p99 {reference['p99_ms']:.1f} ms"
            )
            for api in apis:
                path = fresh_store()
                port = free_port()
                with (
                    workers(sustained_workers, args.store, path, args.dsn, count, args) as (
                        go,
                        _,
                        collect,
                    ),
                    server(serve_receiver, *receiver_args(port, path, args.writer, api)),
                ):
                    asyncio.run(drive(port, build_requests(port, warmup(300)), 32, None))
                    requests = build_requests(port, work)
                    go.set()
                    load = asyncio.run(drive(port, requests, args.concurrency, args.rate))
                    backlog = inbox_backlog(args.store, path, args.dsn)
                    ended = time.time()
                    results = collect()
                row_line(f"receiver ({api}) paced", load)
                print(f"  {worst_seconds(load, args.rate)}")
                due = {
                    body: load["due"][i]
                    for i, (_, _, body) in enumerate(work)
                    if load["accepted"][i]
                }
                delivered: dict[bytes, float] = {}
                twice = 0
                for res in results:
                    for payload, at in res["deliveries"]:
                        if payload in delivered:
                            twice += 1
                            delivered[payload] = min(delivered[payload], at)
                        else:
                            delivered[payload] = at
                latencies = [delivered[b] - t for b, t in due.items() if b in delivered]
                missing = sum(1 for b in due if b not in delivered)
                drained_at = max((r["last"] for r in results), default=ended)
                s = worker_summary(results)
                print(
                    f"  backlog when the load ended: {backlog} events; the rest drained "
                    f"{max(0.0, drained_at - ended):.1f} s later"
                )
                print(
                    f"  webhook-to-target: p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
                    f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, max "
                    f"{max(latencies, default=0.0) * 1000:.0f} ms over {len(latencies)} events "
                    f"({missing} accepted but never delivered, {twice} delivered twice)"
                )
                print_worker(s)
                summary.append(
                    f"sustained {args.rate:.0f}/s for {args.sustained:.0f} s, receiver ({api}), "
                    f"{sustained_workers} worker(s): ack p50 {load['p50_ms']:.1f} ms, p99 "
                    f"{load['p99_ms']:.1f} ms (goal <= 50: {verdict(load['p99_ms'] <= 50)}); "
                    f"backlog {backlog} (goal <= 2000: {verdict(backlog <= 2000)}); "
                    f"webhook-to-target p50 {percentile(latencies, 0.5) * 1000:.0f} ms, p99 "
                    f"{percentile(latencies, 0.99) * 1000:.0f} ms "
                    f"(goal <= 2000: {verdict(percentile(latencies, 0.99) <= 2.0)})"
                )
                lookups = s["totals"].get("lookup_requests", 0)
                summary.append(
                    f"sustained ({api}): Query requests per event 1/{s['processed'] / max(1, lookups):.0f} "
                    f"(goal <= 1/25: {verdict(lookups * 25 <= s['processed'])}); target calls per "
                    f"event {s['send_calls'] / max(1, s['processed']):.4f}"
                )

        # ------------------------------------------------------------ drain
        if "drain" in phases:
            print(f"drain: generating {args.drain} webhooks ...", flush=True)
            work = workload(args.drain, args.drain, args.per_product)
            for count in drain_workers:
                path = fresh_store()
                prefill(args.store, path, args.dsn, work)
                with workers(count, args.store, path, args.dsn, args.drain, args) as (
                    go,
                    _,
                    collect,
                ):
                    started = time.time()
                    go.set()
                    results = collect()
                elapsed = max(r["last"] for r in results) - started
                s = worker_summary(results)
                rate = s["processed"] / max(elapsed, 1e-9)
                print(
                    f"  {count} worker process(es): {s['processed']} events in {elapsed:.1f} s "
                    f"= {rate:.0f} events/s; backlog left "
                    f"{inbox_backlog(args.store, path, args.dsn)}",
                    flush=True,
                )
                print_worker(s, "    ")
                goal = f" (goal >= 2500: {verdict(rate >= 2500)})" if not pg else ""
                lookups = s["totals"].get("lookup_requests", 0)
                summary.append(
                    f"drain {args.drain} pre-filled, {count} worker(s): {rate:.0f} events/s"
                    f"{goal}; Query requests per event 1/{s['processed'] / max(1, lookups):.0f}; "
                    f"target calls per event {s['send_calls'] / max(1, s['processed']):.4f}"
                )

    if pg and schemas:
        drop_schemas(args.dsn, schemas)
    print()
    print("summary")
    for line in summary:
        print(f"  {line}")
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.1f}, store={args.store}, "
        f"concurrency={args.concurrency}, worker batch={args.batch_size}, receiver switch "
        f"interval={args.switch_interval or sys.getswitchinterval()} s"
    )


if __name__ == "__main__":
    multiprocessing.set_start_method("spawn", force=True)
    main()
