"""AsyncEventHandler on an AsyncSqliteStore: async targets, lookups and store calls, all
under the loop guard (no blocking call on the loop, no callback holding it), and the
sync/async parity of the two handlers and the two adapter protocols."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from norce_integration import AsyncNorce, ConfigurationError
from norce_integration.connect import models as m
from norce_integration.patterns import (
    AsyncEventHandler,
    AsyncJobTracker,
    AsyncTargetAdapter,
    Deletion,
    EventHandler,
    TargetAdapter,
)
from norce_integration.stores import AsyncSqliteStore, InboxStatus, TrackedStatus

from ._event_support import AUTH, GOOD, HOOK, Env, sku_body


pytestmark = pytest.mark.anyio


class AsyncTarget:
    def __init__(self, event_types: Sequence[str] = ("SkuChangedNotification",)) -> None:
        self.event_types = tuple(event_types)
        self.select = ("PartNo", "StatusId")
        self.name = "async-search"
        self.batches: list[list[Any]] = []
        self.fail = False
        self.block: asyncio.Event | None = None
        self.entered = asyncio.Event()

    def map(self, entity: Any) -> Any:
        return {"id": entity.part_no, "status": entity.status_id}

    async def send(self, batch: Sequence[Any]) -> None:
        self.entered.set()
        if self.block is not None:
            await self.block.wait()
        if self.fail:
            raise ConnectionError("target unreachable")
        self.batches.append(list(batch))


class AsyncEnv:
    def __init__(self, env: Env, store_path: Path) -> None:
        self.env = env
        self.anorce = AsyncNorce(env.emulator.settings(), transport=env.counter)
        self.store = AsyncSqliteStore(store_path)
        self.handlers: list[AsyncEventHandler] = []

    def handler(self, **kwargs: Any) -> AsyncEventHandler:
        kwargs.setdefault("auth", AUTH)
        kwargs.setdefault("retry_base", 0.0)
        handler = AsyncEventHandler(self.anorce, self.store, **kwargs)
        self.handlers.append(handler)
        return handler

    def deliver_to(self, handler: AsyncEventHandler, *event_types: str) -> None:
        self.env.emulator.delivery_transport = httpx.ASGITransport(app=handler.app)
        for event_type in event_types or ("SkuChangedNotification",):
            self.env.emulator.subscribe(event_type, f"{HOOK}/{event_type}", headers=GOOD)


@pytest.fixture
async def aenv(tmp_path: Path) -> AsyncIterator[AsyncEnv]:
    env = Env(str(tmp_path / "unused.sqlite"))
    environment = AsyncEnv(env, tmp_path / "state.sqlite")
    yield environment
    for handler in environment.handlers:
        await handler.aclose()
    await environment.anorce.aclose()
    await environment.store.aclose()
    env.close()


async def test_async_handler_processes_coalesced_batches(aenv):
    env = aenv.env
    handler = aenv.handler(dedup_window=0)
    target = AsyncTarget()
    handler.add_target(target)
    aenv.deliver_to(handler)
    env.import_skus(["P1", "P2"])
    await env.emulator.aadvance(10)
    for status in (2, 1, 2):
        env.emulator.set_sku_status("P1", status)
    await env.emulator.aadvance(1)
    env.counter.reset()
    report = await handler.run_once()
    assert (report.claimed, report.entities, report.coalesced, report.sent) == (5, 2, 3, 2)
    assert env.counter.query_requests == 1
    assert sorted(d["id"] for d in target.batches[0]) == ["P1", "P2"]
    assert {d["id"]: d["status"] for d in target.batches[0]}["P1"] == 2


async def test_async_decorator_deletions_and_dead_letters(aenv):
    env = aenv.env
    handler = aenv.handler(max_attempts=1)
    seen: list[Any] = []

    @handler.on("SkuChangedNotification", select=["PartNo"], name="fn")
    async def push(batch: Sequence[Any]) -> None:
        seen.extend(batch)

    failing = AsyncTarget()
    failing.fail = True
    handler.add_target(failing)
    aenv.deliver_to(handler)
    env.import_skus(["P1"])
    await env.emulator.aadvance(10)
    env.emulator.table("Products", "ProductSkus").delete("P1")
    report = await handler.run_once()
    assert seen == [Deletion("Products", "ProductSkus", "P1")]
    assert report.dead_lettered == 1  # the failing target's share of the event
    [letter] = await handler.dead_letters()
    assert "ConnectionError: target unreachable" in letter.error
    failing.fail = False
    assert (await handler.replay("all")).replayed == (letter.letter_id,)
    report = await handler.run_once()
    # The function target already has the deletion: only the other target gets it.
    assert (report.deleted, report.skipped_unchanged) == (1, 1)
    assert failing.batches == [[Deletion("Products", "ProductSkus", "P1")]]


async def test_async_run_stops_and_cancellation_releases_the_batch(aenv):
    env = aenv.env
    handler = aenv.handler(poll_interval=0.01)
    target = AsyncTarget()
    target.block = asyncio.Event()
    handler.add_target(target)
    aenv.deliver_to(handler)
    env.import_skus(["P1"])
    await env.emulator.aadvance(10)
    task = asyncio.create_task(handler.run(asyncio.Event()))
    await asyncio.wait_for(target.entered.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    item = await aenv.store.inbox_get(1)
    assert item is not None
    assert item.status is InboxStatus.PENDING
    # A graceful stop instead finishes the batch in hand.
    target.block = None
    stop = asyncio.Event()
    runner = asyncio.create_task(handler.run(stop))
    for _ in range(200):
        if target.batches:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(runner, 5)
    assert [d["id"] for d in target.batches[0]] == ["P1"]


async def test_async_job_completed_event_resolves_without_polling(aenv):
    env = aenv.env
    tracker = AsyncJobTracker(aenv.anorce, aenv.store, mode="event", event_grace=10**6)
    handler = aenv.handler(tracker=tracker)
    aenv.deliver_to(handler, "JobCompletedEvent")
    header = m.ProductHeader(
        account_id=1,
        full_file=False,
        product_fields_that_are_set=[m.ProductField.Variants],
        variant_fields_that_are_set=[m.VariantField.Skus],
        sku_fields_that_are_set=[m.SkuField.Status, m.SkuField.Type],
    )
    item = m.Product(
        manufacturer_code="ACME",
        variants=[
            m.Variant(
                manufacturer_part_no="MPN-A",
                skus=[m.Sku(part_no="A1", status=m.SkuStatus.Active, type=m.SkuType.ErpStandard)],
            )
        ],
    )
    job = await tracker.submit("products", [item], header)
    await env.emulator.aadvance(30)
    assert (await handler.run_once()).jobs_resolved == 1
    stored = await aenv.store.get_job(job.job_id)
    assert stored is not None
    assert stored.status is TrackedStatus.SUCCEEDED
    assert env.counter.job_polls == 0


async def test_async_handler_rejects_sync_targets(aenv):
    handler = aenv.handler()

    class SyncTarget:
        event_types = ("SkuChangedNotification",)
        select = ()

        def map(self, entity: Any) -> Any:
            return entity

        def send(self, batch: Sequence[Any]) -> None:
            return None

    with pytest.raises(ConfigurationError, match="async def"):
        handler.add_target(SyncTarget())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="EventHandler"):
        handler.on("SkuChangedNotification")(lambda batch: None)


async def test_async_receiver_is_the_same_app(aenv):
    handler = aenv.handler()
    handler.add_target(AsyncTarget())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=handler.app), base_url="http://r.test"
    ) as client:
        response = await client.post(
            "/SkuChangedNotification", content=sku_body("P1"), headers=GOOD
        )
    assert response.json() == {"status": "accepted"}


# ---------------------------------------------------------------------------- parity

RENAMED = {"close": "aclose", "__enter__": "__aenter__", "__exit__": "__aexit__"}


def _members(cls: type) -> dict[str, Any]:
    out = {}
    for name, value in vars(cls).items():
        private = name.startswith("_") and name not in RENAMED and name not in RENAMED.values()
        if private and name != "__init__":
            continue
        out[RENAMED.get(name, name)] = value
    return out


def _params(fn: Any) -> list[tuple[str, Any, Any]]:
    target = fn.fget if isinstance(fn, property) else fn
    return [(p.name, p.kind, p.default) for p in inspect.signature(target).parameters.values()]


@pytest.mark.parametrize(
    ("sync_cls", "async_cls"),
    [(EventHandler, AsyncEventHandler), (TargetAdapter, AsyncTargetAdapter)],
)
def test_twins_have_the_same_members_in_the_same_order(sync_cls, async_cls):
    sync_members, async_members = _members(sync_cls), _members(async_cls)
    public = [n for n in sync_members if not n.startswith("_") or n == "__init__"]
    assert public == [n for n in async_members if not n.startswith("_") or n == "__init__"]
    for name in public:
        s, a = sync_members[name], async_members[name]
        if isinstance(s, property) or not callable(s):
            continue
        assert not inspect.iscoroutinefunction(s), name
        if name in {"__init__", "on", "add_target", "map"}:
            assert not inspect.iscoroutinefunction(a), name
        else:
            assert inspect.iscoroutinefunction(a), name
        assert _params(s) == _params(a), name


async def test_receiver_and_worker_share_the_loop_without_blocking_it(aenv):
    """Webhooks posted concurrently while a worker drains, in one loop: every event is
    stored once (group commit: fewer commits than requests) and delivered once, and the
    loop guard sees no blocking call and no long callback."""
    env = aenv.env
    handler = aenv.handler(dedup_window=0, poll_interval=0.01, batch_size=50)
    target = AsyncTarget()
    handler.add_target(target)
    part_nos = [f"P{i}" for i in range(60)]
    env.import_skus(part_nos)
    await env.emulator.aadvance(10)
    stop = asyncio.Event()
    worker = asyncio.create_task(handler.run(stop))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=handler.app), base_url="http://r.test"
    ) as client:

        async def post(part_no: str) -> str:
            response = await client.post(
                "/SkuChangedNotification", content=sku_body(part_no), headers=GOOD
            )
            return str(response.json()["status"])

        statuses = await asyncio.gather(*(post(p) for p in part_nos))
    assert statuses == ["accepted"] * len(part_nos)
    assert handler._writer.commits < len(part_nos)
    for _ in range(500):
        if len({d["id"] for batch in target.batches for d in batch}) == len(part_nos):
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(worker, 5)
    delivered = [d["id"] for batch in target.batches for d in batch]
    assert sorted(delivered) == sorted(part_nos)  # each once
    counts = await aenv.store.inbox_counts()
    assert counts["done"] == len(part_nos)
    assert counts["pending"] == counts["leased"] == 0


class SlowTarget(AsyncTarget):
    """Takes one entity per call and ``delay`` seconds per call."""

    max_batch = 1

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    async def send(self, batch: Sequence[Any]) -> None:
        await asyncio.sleep(self.delay)
        self.batches.append(list(batch))


async def test_a_batch_longer_than_its_lease_keeps_it(aenv):
    """Three sends of 0.2 s under a 0.3 s lease: the handler renews between sends, so a
    second worker claims nothing meanwhile and every ack still finds its lease."""
    env = aenv.env
    handler = aenv.handler(lease=0.3, owner="slow", dedup_window=0)
    other = aenv.handler(lease=0.3, owner="other", dedup_window=0)
    handler.add_target(SlowTarget(0.2))
    other.add_target(AsyncTarget())
    aenv.deliver_to(handler)
    env.import_skus(["P1", "P2", "P3"])
    await env.emulator.aadvance(10)
    first = asyncio.create_task(handler.run_once())
    stolen = 0
    while not first.done():
        await asyncio.sleep(0.05)
        stolen += (await other.run_once()).claimed
    report = await first
    assert stolen == 0
    assert (report.claimed, report.sent, report.acked) == (3, 3, 3)
