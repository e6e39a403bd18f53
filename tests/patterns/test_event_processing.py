"""Event processing against the emulator: coalescing, batched lookups, deletions, ordering
protection, retries, dead letters and replays, the job tracker, shutdown and leases."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from norce_integration import ConfigurationError
from norce_integration.connect import models as m
from norce_integration.patterns import (
    Deletion,
    EventHandler,
    JobTracker,
    TargetAdapter,
)
from norce_integration.query import ProductSku
from norce_integration.stores import InboxStatus, TrackedStatus

from ._event_support import GOOD, Env, Target, sku_body


# The blocking EventHandler, driven from async tests (the emulator delivers through
# httpx.ASGITransport) that read its blocking store directly. The handler's receiver
# writes through its writer thread; the asyncio path is checked without this mark in
# test_event_async.py.
pytestmark = [
    pytest.mark.anyio,
    pytest.mark.blocking_allowed("the blocking EventHandler and Store driven from an async test"),
]


class Clock:
    """The store's clock: real time plus an offset the test moves."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        import time

        return time.time() + self.offset


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def env(tmp_path: Path, clock: Clock) -> Iterator[Env]:
    environment = Env(str(tmp_path / "state.sqlite"), clock=clock)
    yield environment
    environment.close()


async def deliver(env: Env, handler: EventHandler, *event_types: str, **kwargs: Any) -> None:
    env.deliver_to(handler, *(event_types or ("SkuChangedNotification",)), **kwargs)


def pending(env: Env) -> list[Any]:
    items, item_id = [], 1
    while (item := env.store.inbox_get(item_id)) is not None:
        if item.status is not InboxStatus.DONE:
            items.append(item)
        item_id += 1
    return items


# ---------------------------------------------------------------------------- the basic flow


async def test_events_become_looked_up_entities_in_the_target(env):
    handler = env.handler()
    target = Target()
    handler.add_target(target)
    await deliver(env, handler)
    env.import_skus(["P1", "P2"], EanCode="73100")
    await env.emulator.aadvance(10)
    env.counter.reset()
    report = handler.run_once()
    assert (report.claimed, report.acked, report.sent, report.entities) == (2, 2, 2, 2)
    assert sorted(target.part_nos()) == ["P1", "P2"]
    assert all(isinstance(e, ProductSku) and e.ean_code == "73100" for e in target.upserts)
    # Only the declared fields (+ key and Updated) were asked for, in one request.
    [_query] = [p for p in env.counter.paths if "/query/" in p.lower()]
    assert env.counter.query_requests == 1
    assert pending(env) == []
    assert handler.run_once().claimed == 0


async def test_coalescing_twenty_events_for_one_sku_make_one_lookup(env):
    handler = env.handler(dedup_window=0)  # keep all twenty identical bodies
    target = Target()
    handler.add_target(target)
    await deliver(env, handler)
    env.import_skus(["P1"])
    await env.emulator.aadvance(10)
    for price in range(1, 20):
        env.emulator.set_sku_price("P1", price)
    await env.emulator.aadvance(1)
    assert len(pending(env)) == 20
    env.counter.reset()
    report = handler.run_once()
    assert env.counter.query_requests == 1
    assert (report.claimed, report.entities, report.coalesced, report.sent) == (20, 1, 19, 1)
    assert target.part_nos() == ["P1"]
    assert len(target.batches) == 1


async def test_lookups_are_batched_far_below_one_request_per_event(env):
    handler = env.handler()
    target = Target()
    handler.add_target(target)
    await deliver(env, handler)
    part_nos = [f"SKU-{i:04d}" for i in range(300)]
    env.import_skus(part_nos)
    await env.emulator.aadvance(10)
    env.counter.reset()
    report = handler.run_once()
    assert report.claimed == 300
    assert sorted(target.part_nos()) == part_nos
    assert env.counter.query_requests == report.lookup_requests
    assert env.counter.query_requests * 25 <= 300  # at most one request per 25 events


async def test_the_cache_entry_is_evicted_before_the_lookup(env):
    handler = env.handler()
    target = Target()
    handler.add_target(target)
    await deliver(env, handler)
    env.import_skus(["P1"], EanCode="1")
    await env.emulator.aadvance(10)
    handler.run_once()
    # The entity is cached now; a change plus its event must still be read fresh.
    env.import_skus(["P1"], EanCode="2")
    await env.emulator.aadvance(10)
    report = handler.run_once()
    assert report.lookup_cached == 0
    assert [e.ean_code for e in target.upserts] == ["1", "2"]
    assert handler.query.cache is not None
    assert handler.query.cache.stats.evictions >= 2


async def test_only_entities_named_by_events_are_sent_with_selected_fields(env):
    handler = env.handler()
    seen: list[Any] = []

    @handler.on("SkuChangedNotification", select=["PartNo", "StatusId"])
    def push(batch: Sequence[Any]) -> None:
        seen.extend(batch)

    await deliver(env, handler)
    env.import_skus(["P1"], EanCode="999")
    await env.emulator.aadvance(10)
    handler.run_once()
    [sku] = seen
    assert (sku.part_no, sku.status_id, sku.ean_code) == ("P1", 1, None)
    assert sku.updated is not None  # added for the ordering check


async def test_composite_keys_are_looked_up_in_batches_too(env):
    handler = env.handler()
    prices = Target(("SkuPriceChangedNotification",), ("PriceSale",), name="prices")
    handler.add_target(prices)
    await deliver(env, handler, "SkuPriceChangedNotification")
    part_nos = [f"PR-{i:03d}" for i in range(40)]
    env.import_skus(part_nos)
    await env.emulator.aadvance(10)
    for i, part_no in enumerate(part_nos):
        env.emulator.set_sku_price(part_no, 100 + i)
    await env.emulator.aadvance(1)
    env.counter.reset()
    report = handler.run_once()
    assert (report.claimed, report.sent) == (40, 40)
    assert env.counter.query_requests == report.lookup_requests <= 4
    by_part = {row.part_no: row.price_sale for row in prices.upserts}
    assert by_part == {p: Decimal(100 + i) for i, p in enumerate(part_nos)}
    # A price row that no longer exists becomes a deletion of that composite key.
    key = next(
        k for k in env.emulator.table("Products", "ProductSkuPriceLists").rows if k[0] == "PR-000"
    )
    env.emulator.table("Products", "ProductSkuPriceLists").delete(key)
    env.emulator.set_sku_price("PR-001", 5)
    body = {
        "ClientId": 1042,
        "ApplicationId": 1042,
        "PartNo": "PR-000",
        "PricelistId": key[1],
        "PriceSaleValue": 1,
        "QuantityBreak": key[2],
    }
    await post_direct(
        handler, json.dumps(body, default=str).encode(), "SkuPriceChangedNotification"
    )
    await env.emulator.aadvance(1)
    report = handler.run_once()
    assert (report.sent, report.deleted) == (1, 1)
    [deletion] = prices.deletions
    assert (deletion.entity_set, deletion.key[0]) == ("ProductSkuPriceLists", "PR-000")


# ---------------------------------------------------------------------------- deletions


async def test_an_entity_gone_from_query_is_sent_as_a_deletion(env):
    handler = env.handler()
    target = Target()
    handler.add_target(target)
    await deliver(env, handler)
    env.import_skus(["P1", "P2"])
    await env.emulator.aadvance(10)
    handler.run_once()
    env.emulator.table("Products", "ProductSkus").delete("P1")
    handler.app
    await post_direct(handler, sku_body("P1", "tClientProductSkuCulture"))
    report = handler.run_once()
    assert report.deleted == 1
    assert target.deletions == [Deletion("Products", "ProductSkus", "P1")]
    # The same deletion again is not sent twice.
    await post_direct(handler, sku_body("P1", "tClientProductSkuSalesArea"))
    report = handler.run_once()
    assert (report.deleted, report.skipped_unchanged) == (0, 1)


async def post_direct(
    handler: EventHandler, body: bytes, event_type: str = "SkuChangedNotification"
) -> Any:
    import httpx

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=handler.app), base_url="http://receiver.test"
    ) as client:
        response = await client.post(f"/hooks/{event_type}", content=body, headers=GOOD)
    assert response.status_code == 200, response.text
    return response.json()


def enqueue(handler: EventHandler, body: bytes, event_type: str = "SkuChangedNotification") -> None:
    """Put an event straight into the inbox (what the receiver does after its checks)."""
    from norce_integration.event import dedup_key
    from norce_integration.patterns.events._inbox import Append

    handler._writer.backend.write(
        [Append(dedup_key(event_type, body), event_type, body, force=True)]
    )


# ---------------------------------------------------------------------------- ordering


async def test_reordered_and_retried_events_never_send_an_older_updated(env):
    handler = env.handler()
    target = Target()
    handler.add_target(target)
    await deliver(env, handler)
    env.emulator.faults.events(reorder=True, duplicate_rate=0.5)
    env.import_skus(["P1", "P2"])
    await env.emulator.aadvance(10)
    for step in range(6):
        env.emulator.set_sku_status("P1", 2 if step % 2 else 1)
        env.emulator.advance(1)
        await env.emulator.aadvance(1)
        if step % 2:
            handler.run_once()
    handler.run_once()
    last: dict[str, dt.datetime] = {}
    for sku in target.upserts:
        assert sku.part_no not in last or sku.updated >= last[sku.part_no]
        last[sku.part_no] = sku.updated
    assert last["P1"] == env.sku_row("P1")["Updated"]


async def test_a_stale_read_is_not_sent_after_a_newer_one(env):
    handler = env.handler()
    target = Target()
    handler.add_target(target)
    await deliver(env, handler)
    env.import_skus(["P1"])
    await env.emulator.aadvance(10)
    env.emulator.advance(60)
    env.emulator.set_sku_status("P1", 2)
    await env.emulator.aadvance(1)
    handler.run_once()
    newest = target.upserts[-1].updated
    # A lagging read replica answers with the state from before the last change.
    row = env.sku_row("P1")
    row["Updated"] = newest - dt.timedelta(seconds=60)
    row["StatusId"] = 1
    await post_direct(handler, sku_body("P1", "tClientProductSkuPriceList"))
    report = handler.run_once()
    assert (report.sent, report.skipped_stale) == (0, 1)
    assert target.upserts[-1].updated == newest


async def test_two_workers_racing_cannot_send_older_after_newer(env):
    a = env.handler()
    b = env.handler()
    target_a, target_b = Target(), Target()
    a.add_target(target_a)
    b.add_target(target_b)  # same name: one target, two workers
    await deliver(env, a)
    env.import_skus(["P1"])
    await env.emulator.aadvance(10)
    real_lookup = a._lookup

    def lookup_then_lose_the_race(spec: Any, keys: list[Any], counts: Any) -> Any:
        result = real_lookup(spec, keys, counts)  # worker A reads version 1 ...
        env.emulator.advance(30)
        env.emulator.set_sku_status("P1", 2)  # ... the SKU changes, its event arrives ...
        enqueue(b, sku_body("P1"))
        assert b.run_once().sent == 1  # ... and worker B sends version 2 first
        return result

    a._lookup = lookup_then_lose_the_race  # type: ignore[method-assign]
    report = a.run_once()
    assert (report.sent, report.skipped_stale) == (0, 1)
    assert target_a.upserts == []
    assert [s.status_id for s in target_b.upserts] == [2]


async def test_unchanged_entities_are_not_resent(env):
    handler = env.handler()
    target = Target()
    handler.add_target(target)
    await deliver(env, handler)
    env.import_skus(["P1"])
    await env.emulator.aadvance(10)
    handler.run_once()
    # A redelivery after processing is stored again (dedup_until="claimed") ...
    assert (await post_direct(handler, sku_body("P1"))) == {"status": "accepted"}
    report = handler.run_once()
    # ... looked up, and not sent: the target already has exactly this state.
    assert (report.claimed, report.sent, report.skipped_unchanged) == (1, 0, 1)
    assert len(target.upserts) == 1


# ---------------------------------------------------------------------------- failures


async def test_target_failure_retries_then_dead_letters_then_replays(env):
    handler = env.handler(max_attempts=3)
    target = Target()
    target.fail = lambda batch: True
    handler.add_target(target)
    await deliver(env, handler)
    env.import_skus(["P1"])
    await env.emulator.aadvance(10)
    reports = [handler.run_once() for _ in range(3)]
    assert [(r.retried, r.dead_lettered) for r in reports] == [(1, 0), (1, 0), (0, 1)]
    [letter] = handler.dead_letters()
    assert (letter.source, letter.key, letter.attempts) == (
        "webhook:failed",
        "SkuChangedNotification",
        3,
    )
    assert "search.send: RuntimeError: target down" in letter.error
    assert handler.run_once().claimed == 0
    target.fail = None
    replay = handler.replay("all")
    assert (replay.replayed, dict(replay.failed)) == ((letter.letter_id,), {})
    assert handler.dead_letters() == []
    assert handler.run_once().sent == 1
    assert target.part_nos() == ["P1"]


async def test_retries_wait_for_their_backoff(env, clock):
    handler = env.handler(retry_base=30.0, retry_cap=100.0)
    target = Target()
    target.fail = lambda batch: True
    handler.add_target(target)
    await deliver(env, handler)
    env.import_skus(["P1"])
    await env.emulator.aadvance(10)
    assert handler.run_once().retried == 1
    [item] = pending(env)
    assert (item.attempts, item.last_error is not None) == (1, True)
    assert handler.run_once().claimed == 0  # not before 30 s
    clock.offset += 31
    assert handler.run_once().retried == 1  # second failure: next in 60 s
    clock.offset += 31
    assert handler.run_once().claimed == 0
    target.fail = None
    clock.offset += 30
    assert handler.run_once().sent == 1


async def test_a_poison_entity_does_not_hold_back_its_batch(env):
    handler = env.handler(max_attempts=3)
    target = Target()
    target.fail = lambda batch: any(getattr(e, "part_no", "") == "BAD" for e in batch)
    handler.add_target(target)
    await deliver(env, handler)
    env.import_skus(["GOOD1", "BAD", "GOOD2"])
    await env.emulator.aadvance(10)
    first = handler.run_once()
    assert (first.sent, first.retried) == (0, 3)
    second = handler.run_once()  # failed before: each sent on its own
    assert (second.sent, second.retried) == (2, 1)
    handler.run_once()
    assert sorted(target.part_nos()) == ["GOOD1", "GOOD2"]
    assert [json.loads(d.payload)["PartNo"] for d in handler.dead_letters()] == ["BAD"]


async def test_a_target_that_is_down_is_not_called_once_per_entity(env):
    handler = env.handler(max_attempts=5)
    target = Target()
    calls = []

    def down(batch: Sequence[Any]) -> bool:
        calls.append(len(batch))
        return True

    target.fail = down
    handler.add_target(target)
    await deliver(env, handler)
    env.import_skus([f"D-{i}" for i in range(20)])
    await env.emulator.aadvance(10)
    assert handler.run_once().retried == 20
    assert calls == [20]
    assert handler.run_once().retried == 20
    # Retried events go one by one (poison isolation), but three failures in a row
    # mean the target is down: the other seventeen wait for the next attempt.
    assert calls == [20, 1, 1, 1]
    assert "the target looks down" in pending(env)[-1].last_error
    target.fail = None
    assert handler.run_once().sent == 20


async def test_a_failing_map_fails_only_its_own_events(env):
    class Picky(Target):
        def map(self, entity: Any) -> Any:
            if entity.part_no == "P2":
                raise ValueError("cannot map P2")
            return entity

    handler = env.handler(max_attempts=1)
    target = Picky()
    handler.add_target(target)
    await deliver(env, handler)
    env.import_skus(["P1", "P2"])
    await env.emulator.aadvance(10)
    report = handler.run_once()
    assert (report.sent, report.dead_lettered) == (1, 1)
    assert "search.map: ValueError: cannot map P2" in handler.dead_letters()[0].error


async def test_query_failure_is_retried_not_lost(env):
    handler = env.handler()
    target = Target()
    handler.add_target(target)
    await deliver(env, handler)
    env.import_skus(["P1"])
    await env.emulator.aadvance(10)
    env.emulator.faults.add(service="query", status=400)
    report = handler.run_once()
    assert report.retried == 1
    assert "lookup Products/ProductSkus" in pending(env)[0].last_error
    env.emulator.faults.clear()
    assert handler.run_once().sent == 1


async def test_replay_keeps_letters_that_would_fail_again(env):
    handler = env.handler()
    handler.add_target(Target())
    await post_direct(
        handler,
        b'{"ClientId": 1, "CustomerId": 5, "EntityChanged": "t"}',
        "CustomerChangedNotification",
    )
    [letter] = handler.dead_letters()
    report = handler.replay(letter.letter_id)
    assert report.replayed == ()
    assert "no handler" in report.failed[letter.letter_id]
    # Once a target takes the type, the recorded event is replayed and processed.
    customers = Target(("CustomerChangedNotification",), ("Id",), name="crm")
    handler.add_target(customers)
    assert handler.replay([letter.letter_id]).replayed == (letter.letter_id,)
    report = handler.run_once()
    assert report.deleted == 1  # customer 5 does not exist in the emulator
    assert customers.deletions == [Deletion("Customers", "Customers", 5)]


# ---------------------------------------------------------------------------- other event kinds


async def test_events_without_a_query_entity_are_sent_as_they_came(env):
    handler = env.handler()
    orders = Target(("OrderPaymentReceivedEvent",), (), name="erp")
    handler.add_target(orders)
    body = {
        "ClientId": 1042,
        "ApplicationId": 1042,
        "ClientOrderRef": "R1",
        "ErpOrderNo": "E1",
        "PaymentCode": "card",
        "Amount": 10.5,
    }
    await post_direct(handler, json.dumps(body).encode(), "OrderPaymentReceivedEvent")
    await post_direct(
        handler, json.dumps({**body, "Amount": 3}).encode(), "OrderPaymentReceivedEvent"
    )
    report = handler.run_once()
    assert report.events_sent == 2  # two payments of one order: both kept
    assert [e.amount for e in orders.items] == [Decimal("10.5"), Decimal("3")]


async def test_an_unknown_type_a_target_declares_is_stored_and_sent_as_it_came(env):
    handler = env.handler()
    exports = Target(("ExportDeliveredEvent",), (), name="exports")
    handler.add_target(exports)
    body = b'{"ClientId": 1042, "ExportId": 7}'
    assert (await post_direct(handler, body, "exportdeliveredevent")) == {"status": "accepted"}
    report = handler.run_once()
    assert report.events_sent == 1
    [event] = exports.items
    assert (event.event_type, dict(event.body)) == (
        "exportdeliveredevent",
        {"ClientId": 1042, "ExportId": 7},
    )


async def test_job_completed_event_resolves_the_tracked_job_without_polling(env):
    tracker = JobTracker(env.norce, env.store, mode="event", event_grace=10**6)
    handler = env.handler(tracker=tracker)
    await deliver(env, handler, "JobCompletedEvent")
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
                manufacturer_part_no="MPN-1",
                skus=[m.Sku(part_no="J1", status=m.SkuStatus.Active, type=m.SkuType.ErpStandard)],
            )
        ],
    )
    job = tracker.submit("products", [item], header)
    await env.emulator.aadvance(30)
    report = handler.run_once()
    assert report.jobs_resolved == 1
    stored = env.store.get_job(job.job_id)
    assert stored is not None
    assert stored.status is TrackedStatus.SUCCEEDED
    result = tracker.wait(job.job_id)
    assert result.succeeded
    assert env.counter.job_polls == 0


# ---------------------------------------------------------------------------- shutdown and leases


async def test_run_finishes_the_batch_in_hand_when_stopped(env):
    handler = env.handler(poll_interval=0.01)
    entered, proceed = threading.Event(), threading.Event()
    target = Target()
    real_send = target.send

    def slow_send(batch: Sequence[Any]) -> None:
        entered.set()
        proceed.wait(5)
        real_send(batch)

    target.send = slow_send  # type: ignore[method-assign]
    handler.add_target(target)
    await deliver(env, handler)
    env.import_skus(["P1", "P2"])
    await env.emulator.aadvance(10)
    stop = threading.Event()
    worker = threading.Thread(target=handler.run, args=(stop,))
    worker.start()
    assert entered.wait(5)
    stop.set()
    proceed.set()
    worker.join(5)
    assert not worker.is_alive()
    assert sorted(target.part_nos()) == ["P1", "P2"]
    assert pending(env) == []


async def test_several_worker_threads_share_one_inbox_without_loss_or_repeats(env):
    part_nos = [f"T-{i:03d}" for i in range(200)]
    handler = env.handler(batch_size=20, poll_interval=0.01, dedup_window=0)
    target = Target()
    handler.add_target(target)
    await deliver(env, handler)
    env.import_skus(part_nos)
    await env.emulator.aadvance(10)
    for part_no in part_nos:  # every event a second time (a retry, or a no-op change)
        enqueue(handler, sku_body(part_no))
    assert len(pending(env)) == 400
    stop = threading.Event()
    threads = [threading.Thread(target=handler.run, args=(stop,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for _ in range(500):
        if not pending(env):
            break
        threading.Event().wait(0.02)
    stop.set()
    for thread in threads:
        thread.join(10)
    assert pending(env) == []
    sent = target.part_nos()
    assert sorted(set(sent)) == part_nos  # every SKU reached the target ...
    assert len(sent) == len(part_nos)  # ... once: the second event found it unchanged


class Interrupted(BaseException):
    pass


async def test_an_interrupted_batch_is_released_for_another_worker(env):
    handler = env.handler()
    target = Target()

    def interrupted(batch: Sequence[Any]) -> None:
        raise Interrupted

    target.send = interrupted  # type: ignore[method-assign]
    handler.add_target(target)
    await deliver(env, handler)
    env.import_skus(["P1", "P2"])
    await env.emulator.aadvance(10)
    with pytest.raises(Interrupted):
        handler.run_once()
    assert [i.status for i in pending(env)] == [InboxStatus.PENDING] * 2
    other = env.handler()
    ok = Target()
    other.add_target(ok)
    assert other.run_once().sent == 2


async def test_claims_of_a_dead_worker_are_taken_after_the_lease(env, clock):
    dead = env.handler(lease=30)
    dead.add_target(Target())
    await deliver(env, dead)
    env.import_skus(["P1"])
    await env.emulator.aadvance(10)
    assert len(dead._claim()) == 1  # claimed, then the process "dies"
    alive = env.handler(lease=30)
    target = Target()
    alive.add_target(target)
    assert alive.run_once().claimed == 0
    clock.offset += 31
    assert alive.run_once().sent == 1
    assert target.part_nos() == ["P1"]


# ---------------------------------------------------------------------------- configuration


def test_targets_are_checked_when_registered(env):
    handler = env.handler()
    with pytest.raises(ConfigurationError, match="not a TargetAdapter"):
        handler.add_target(object())  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="no event types"):
        handler.add_target(Target(event_types=()))
    handler.add_target(Target())
    with pytest.raises(ConfigurationError, match="two targets"):
        handler.add_target(Target())

    async def coroutine(batch: Any) -> None:
        return None

    with pytest.raises(ConfigurationError, match="AsyncEventHandler"):
        handler.on("SkuChangedNotification")(coroutine)
    with pytest.raises(ConfigurationError):
        env.handler(batch_size=0)
    with pytest.raises(ConfigurationError):
        env.handler(dedup_until="forever")


def test_the_client_query_cache_is_shared_and_a_query_resource_used_as_given(env):
    from norce_integration import Norce
    from norce_integration.query import QueryCache, QueryResource

    cache = QueryCache()
    with Norce(env.emulator.settings(), transport=env.counter, query_cache=cache) as norce:
        handler = EventHandler(norce, env.store)
        assert handler.query.cache is cache
        handler.close()
        resource = QueryResource(norce._http)
        handler = EventHandler(resource, env.store)
        assert handler.query is resource
        assert handler.query.cache is None
        handler.close()
        with pytest.raises(ConfigurationError, match="cache"):
            EventHandler(resource, env.store, cache=cache)


def test_target_adapter_subclasses_must_define_the_abstract_members():
    class Incomplete(TargetAdapter):
        event_types = ("SkuChangedNotification",)
        select = ()

        def map(self, entity: Any) -> Any:
            return entity

    with pytest.raises(TypeError, match="send"):
        Incomplete()  # type: ignore[abstract]

    class Complete(Incomplete):
        def send(self, batch: Sequence[Any]) -> None:
            return None

    assert isinstance(Complete(), TargetAdapter)
