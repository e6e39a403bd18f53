"""The Order Receiver: orders received per second and answer latency; prints figures only.

In-process (``httpx.ASGITransport`` into :class:`OrderReceiverApp`, no sockets), with a
no-op ERP target, so the figure is the receiver's own cost: auth, validation, the
journal's writes (insert, claim, outcome, answer) and the answer.

* ``burst``: ``--orders`` distinct orders (2 000) as fast as they are answered, with
  ``--concurrency`` pushes in flight (8): orders/s.
* ``paced``: ``--rate`` orders/s (50) for ``--seconds`` (10), each answer timed from when
  it was due: p50/p99 (goal p99 <= 100 ms, far below Norce's timeout).

Stores: ``--store sqlite`` (a temporary file) or ``--store postgres --dsn ...``.

    python benchmarks/bench_order_receiver.py --store sqlite
    python benchmarks/bench_order_receiver.py --store postgres --dsn postgresql://127.0.0.1/test
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from norce_integration.orders import (
    AsyncOrderReceiver,
    OrderReceiverApp,
    OrderRequest,
    ReceiverSettings,
)
from norce_integration.stores import AsyncPostgresStore, AsyncSqliteStore


PAYLOAD = Path(__file__).resolve().parent.parent / "tests/orders/payloads/order_request_b2c.json"
AUTH = {"Authorization": "Basic " + base64.b64encode(b"norce:bench").decode()}


class NoopErp:
    async def create_order(self, order: OrderRequest, *, key: str) -> str | None:
        return "SO-" + key[-8:]

    async def find_order(self, order: OrderRequest, *, key: str) -> str | None:
        return None


def bodies(count: int, run: str) -> list[bytes]:
    template = json.loads(PAYLOAD.read_text())
    out = []
    for n in range(count):
        template["ClientOrderRef"] = f"{run}-{n}"
        out.append(json.dumps(template).encode())
    return out


async def burst(client: httpx.AsyncClient, orders: list[bytes], concurrency: int) -> float:
    queue = list(reversed(orders))

    async def pusher() -> None:
        while queue:
            body = queue.pop()
            answer = await client.post("/", content=body, headers=AUTH)
            assert answer.status_code == 200, answer.text

    started = time.perf_counter()
    await asyncio.gather(*(pusher() for _ in range(concurrency)))
    return len(orders) / (time.perf_counter() - started)


async def paced(client: httpx.AsyncClient, orders: list[bytes], rate: float) -> list[float]:
    latencies: list[float] = []
    start = time.perf_counter()

    async def one(index: int, body: bytes) -> None:
        due = start + index / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        answer = await client.post("/", content=body, headers=AUTH)
        assert answer.status_code == 200, answer.text
        latencies.append(time.perf_counter() - due)

    await asyncio.gather(*(one(i, b) for i, b in enumerate(orders)))
    return latencies


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = tempfile.TemporaryDirectory()
    if args.store == "postgres":
        store: Any = await AsyncPostgresStore.open(args.dsn, schema=args.schema)
    else:
        store = AsyncSqliteStore(Path(tmp.name) / "bench.sqlite")
    settings = ReceiverSettings(username="norce", password="bench")
    app = OrderReceiverApp(AsyncOrderReceiver(store, NoopErp(), settings), background=False)
    tag = uuid.uuid4().hex[:8]
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://receiver"
        ) as client:
            per_second = await burst(client, bodies(args.orders, f"b{tag}"), args.concurrency)
            count = int(args.rate * args.seconds)
            latencies = await paced(client, bodies(count, f"p{tag}"), args.rate)
    finally:
        for namespace in (settings.namespace, settings.pending_namespace):
            for key in await store.kv_list(namespace):
                await store.kv_delete(namespace, key)
        await store.aclose()
        tmp.cleanup()
    latencies.sort()
    return {
        "orders/s (burst)": per_second,
        "p50 ms (paced)": statistics.median(latencies) * 1000,
        "p99 ms (paced)": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--dsn", default="postgresql://127.0.0.1:5432/test")
    parser.add_argument("--schema", default="bench_order_receiver", help="PostgreSQL schema")
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    figures = asyncio.run(run(args))
    print(f"Order Receiver on {args.store} (no-op ERP, in-process ASGI)")
    for name, value in figures.items():
        print(f"  {name:20} {value:10,.1f}")


if __name__ == "__main__":
    main()
