"""Many processes on one PostgreSQL state, as on many machines.

* 2 receivers (``EventHandler.app`` under uvicorn) and 4 workers (``EventHandler.run``),
  each its own process with its own :class:`PostgresStore`, handle a burst of 10 000
  distinct webhooks made by the emulator and posted over loopback to both receivers:
  no event is lost, redeliveries to the *other* receiver are dropped, and no inbox item
  is ever processed by two workers at once (the workers log every lease they take and
  give up, and every event their target sends, with times).
* 2 "hosts" (processes) scheduling the same delta import at the same moment, twice: in
  each window one runs it and the other is refused (``in-flight``), and the emulator
  receives exactly one import job per window.

Every child stops by itself (a stop event, and its own deadline).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import multiprocessing
import socket
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from norce_integration import Norce
from norce_integration.stores import PostgresStore
from norce_integration.testing import JobTimings, NorceEmulator

from . import _pg_processes as children
from .conftest import PgServer


pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.subprocess]

EVENTS = 10_000
DUPLICATED = 1_000  # the first events go to both receivers before any worker runs
RECEIVERS = 2
WORKERS = 4
CHILD_DEADLINE = 100.0  # seconds: children stop by themselves after this, whatever happens

spawn = multiprocessing.get_context("spawn")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port} after {timeout}s")


@pytest.fixture
def processes() -> Iterator[list[Any]]:
    """Children of a test; every one must have exited (by itself) when the test ends."""
    started: list[Any] = []
    yield started
    for proc in started:
        proc.join(timeout=CHILD_DEADLINE + 20)
    alive = [p.name for p in started if p.is_alive()]
    for proc in started:  # only after a failure above: never leave a child behind
        if proc.is_alive():
            proc.kill()
            proc.join(5)
    assert not alive, f"children did not stop by themselves: {alive}"


def raw_request(port: int, hook: tuple[str, dict[str, str], bytes]) -> bytes:
    path, headers, body = hook
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return head.encode("latin-1") + b"\r\n" + body


async def post_all(
    jobs: list[tuple[int, tuple[str, dict[str, str], bytes]]], per_port: int
) -> list[int]:
    """POST each webhook to its receiver port over keep-alive connections (raw HTTP/1.1:
    a full client would cost more CPU than the receivers); retry non-2xx like Norce."""
    queues: dict[int, asyncio.Queue[bytes]] = defaultdict(asyncio.Queue)
    for port, hook in jobs:
        queues[port].put_nowait(raw_request(port, hook))
    statuses: list[int] = []

    async def exchange(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, req: bytes
    ) -> int:
        writer.write(req)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await reader.readexactly(length)
        return int(head[9:12])

    async def connection(port: int, queue: asyncio.Queue[bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while not queue.empty():
                request = queue.get_nowait()
                for attempt in range(6):
                    status = await exchange(reader, writer, request)
                    if status < 300:
                        break
                    await asyncio.sleep(0.2 * (attempt + 1))
                statuses.append(status)
        finally:
            writer.close()
            await writer.wait_closed()

    await asyncio.gather(
        *(connection(port, queue) for port, queue in queues.items() for _ in range(per_port))
    )
    return statuses


def inbox_counts(pg: PgServer, schema: str) -> dict[str, int]:
    rows = pg.execute(f'SELECT status, COUNT(*) FROM "{schema}".inbox GROUP BY status')
    return {str(status): int(count) for status, count in rows}


def read_logs(paths: list[Path]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for path in paths:
        if path.exists():
            records += [json.loads(line) for line in path.read_text().splitlines() if line]
    return records


def test_receivers_and_workers_share_one_inbox(
    pg_server: PgServer, tmp_path: Path, processes: list[Any]
) -> None:
    schema = pg_server.new_schema_name("mp")
    PostgresStore(pg_server.dsn, schema=schema, min_size=0).close()  # schema before children
    webhooks = children.emulator_webhooks(EVENTS, skus=EVENTS // 3 + 1)
    expected = {"{PartNo}|{EntityChanged}".format(**json.loads(body)) for _, _, body in webhooks}
    assert len(expected) == EVENTS

    stop = spawn.Event()
    deadline = time.time() + CHILD_DEADLINE
    ports = [free_port() for _ in range(RECEIVERS)]
    for n, port in enumerate(ports):
        proc = spawn.Process(
            target=children.receiver_main,
            args=(pg_server.dsn, schema, port, stop, deadline),
            name=f"receiver-{n}",
        )
        proc.start()
        processes.append(proc)
    for port in ports:
        wait_listening(port, timeout=60)

    try:
        # Redeliveries of the same event to the other receiver, while nothing is claimed
        # yet: the dedup key lives in the shared store, so each is stored once.
        first = webhooks[:DUPLICATED]
        doubled = [(port, hook) for hook in first for port in ports]
        assert set(asyncio.run(post_all(doubled, per_port=8))) == {200}
        assert inbox_counts(pg_server, schema) == {"pending": DUPLICATED}

        logs = [tmp_path / f"worker-{n}.jsonl" for n in range(WORKERS)]
        for n, log in enumerate(logs):
            proc = spawn.Process(
                target=children.worker_main,
                args=(pg_server.dsn, schema, f"worker-{n}", str(log), stop, deadline),
                name=f"worker-{n}",
            )
            proc.start()
            processes.append(proc)

        # The burst, spread over both receivers, while the workers drain the inbox.
        rest = [(ports[i % RECEIVERS], hook) for i, hook in enumerate(webhooks[DUPLICATED:])]
        statuses = asyncio.run(post_all(rest, per_port=16))
        assert set(statuses) == {200}

        wait_until = time.monotonic() + 60
        while time.monotonic() < wait_until:
            counts = inbox_counts(pg_server, schema)
            if counts == {"done": EVENTS}:
                break
            time.sleep(0.2)
    finally:
        stop.set()
    for proc in processes:
        proc.join(timeout=30)
    assert [p.exitcode for p in processes] == [0] * (RECEIVERS + WORKERS)
    assert inbox_counts(pg_server, schema) == {"done": EVENTS}

    records = read_logs(logs)
    sent = [r for r in records if r["op"] == "event"]
    # Nothing lost: every event reached the target at least once.
    assert {r["event"] for r in sent} == expected
    # The work was shared by all workers.
    claims = [r for r in records if r["op"] == "claim"]
    assert {r["worker"] for r in claims} == {f"worker-{n}" for n in range(WORKERS)}
    # No event was being sent by two workers at once.
    by_event: dict[str, list[tuple[float, float, str]]] = defaultdict(list)
    for r in sent:
        by_event[r["event"]].append((r["start"], r["end"], r["worker"]))
    for event, spans in by_event.items():
        spans.sort()
        for (_, end, a), (start, _, b) in itertools.pairwise(spans):
            assert start >= end, f"{event} sent by {a} and {b} at once"
    # No inbox item was held by two workers at once: claim..ack/release never overlap.
    holder: dict[int, str] = {}
    for r in sorted(
        (r for r in records if r["op"] in ("claim", "done")),
        key=lambda r: (r["t"], r["op"] == "claim"),
    ):
        item = r["item"]
        if r["op"] == "claim":
            assert item not in holder, f"item {item} claimed by {r['worker']} while {holder}"
            holder[item] = r["worker"]
        else:
            assert holder.pop(item, None) == r["worker"], f"item {item} released by a non-holder"
    assert holder == {}
    assert len({r["item"] for r in claims}) == EVENTS
    assert pg_server.execute(f'SELECT COUNT(*) FROM "{schema}".dead_letters') == [(0,)]


def test_two_hosts_never_run_the_same_delta_import_at_once(
    pg_server: PgServer, tmp_path: Path, processes: list[Any]
) -> None:
    schema = pg_server.new_schema_name("delta")
    PostgresStore(pg_server.dsn, schema=schema, min_size=0).close()
    emulator = NorceEmulator(job_timings=JobTimings(queued=0.2, running=0.5))
    now = dt.datetime.now(dt.UTC)
    rounds = [
        {
            "rows": 20,
            "price": "100",
            "mod": (now - dt.timedelta(minutes=10)).isoformat(),
            "since": (now - dt.timedelta(days=1)).isoformat(),
            "pause": 1.0,
        },
        {
            "rows": 20,
            "price": "200",
            "mod": (now - dt.timedelta(minutes=1)).isoformat(),
            "since": (now - dt.timedelta(days=1)).isoformat(),
            "pause": 1.0,
        },
    ]
    with emulator, emulator.serve() as server:
        with Norce(server.settings()) as norce:
            seeded = norce.connect.submit(
                "products",
                [children_product(f"S{i:04d}") for i in range(20)],
                children_product_header(),
            )
        wait_job(emulator, seeded.job_id)
        barrier = spawn.Barrier(2)
        results = spawn.Queue()
        for host in ("host-a", "host-b"):
            proc = spawn.Process(
                target=children.delta_host_main,
                args=(
                    server.base_url,
                    pg_server.dsn,
                    schema,
                    host,
                    str(tmp_path / host),
                    rounds,
                    barrier,
                    results,
                ),
                name=host,
            )
            proc.start()
            processes.append(proc)
        outcomes = [results.get(timeout=90) for _ in range(2 * len(rounds))]
        for proc in processes:
            proc.join(timeout=30)
        assert [p.exitcode for p in processes] == [0, 0]
        jobs = [j for j in emulator.jobs if j["JobId"] != seeded.job_id]

    for number in range(len(rounds)):
        this = sorted((o for o in outcomes if o["round"] == number), key=lambda o: o["outcome"])
        assert [o["outcome"] for o in this] == ["refused", "succeeded"], this
        refused, ran = this
        assert refused["rule"] == "in-flight", refused
        assert len(ran["jobs"]) == 1
    ran_jobs = sorted(j for o in outcomes if o["outcome"] == "succeeded" for j in o["jobs"])
    # Exactly one import job per window reached Norce, and it is the winner's.
    assert sorted(j["JobId"] for j in jobs) == ran_jobs
    assert all(j["StatusId"] == 2 for j in jobs)
    with PostgresStore(pg_server.dsn, schema=schema) as store:
        assert store.lock_holder("sku_price_lists", 1) is None
        tracked = store.list_jobs(kind="sku_price_lists")
        assert sorted(j.job_id for j in tracked) == ran_jobs
        assert store.get_watermark("sku_price_lists", 1, "erp-prices") is not None


def children_product(part_no: str) -> Any:
    from norce_integration.connect.models import Product, Sku, SkuStatus, SkuType, Variant

    return Product(
        manufacturer_code="ACME",
        code=f"CL-{part_no}",
        variants=[
            Variant(
                manufacturer_part_no=f"MPN-{part_no}",
                skus=[Sku(part_no=part_no, status=SkuStatus.Active, type=SkuType.ErpStandard)],
            )
        ],
    )


def children_product_header() -> Any:
    from norce_integration.connect.models import (
        ProductField,
        ProductHeader,
        SkuField,
        VariantField,
    )

    return ProductHeader(
        account_id=99,  # the seed account: the price imports run as account 1
        full_file=False,
        product_fields_that_are_set=[ProductField.Code, ProductField.Variants],
        variant_fields_that_are_set=[VariantField.Skus],
        sku_fields_that_are_set=[SkuField.Status, SkuField.Type],
    )


def wait_job(emulator: NorceEmulator, job_id: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if emulator.get_job(job_id)["StatusId"] == 2:
            return
        time.sleep(0.1)
    raise AssertionError(f"seed job {job_id} did not succeed")
