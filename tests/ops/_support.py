"""A store filled like a demo run, and async adapters over it for the console's tests.

The console awaits an ``AsyncStore`` and async job/event actions. The demo is built with
the blocking API (``JobTracker``, ``EventHandler`` on a ``SqliteStore``), and the tests run
those blocking objects on ONE dedicated thread, as ``AsyncSqliteStore`` does: nothing
touches SQLite on the event loop's thread. ``test_app`` also runs the console on a real
``AsyncSqliteStore`` over the same file.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import random
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeVar

import attrs

from norce_integration import Norce, RetryPolicy
from norce_integration.connect import models as m
from norce_integration.patterns import EventHandler, JobTracker, PayloadSpool
from norce_integration.stores import SqliteStore, TrackedStatus, sortable_watermark
from norce_integration.testing import JobTimings, ManualClock, NorceEmulator


T = TypeVar("T")
START = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
LETTER_SECRET = "hunter2-NEVER-SHOWN"
TOKEN = "ops-token-NEVER-rendered-123"


class StoreThread:
    """One thread for every blocking SQLite call of a test."""

    def __init__(self) -> None:
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="ops-store")

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self.executor.submit(fn, *args, **kwargs).result()

    async def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args, **kwargs))

    def close(self) -> None:
        self.executor.shutdown(wait=True)


class ThreadedStore:
    """``AsyncStore`` over a ``SqliteStore`` run on a :class:`StoreThread`."""

    def __init__(self, thread: StoreThread, store: SqliteStore, path: Path) -> None:
        self._thread = thread
        self._store = store
        self._path = path
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._store, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return await self._thread.run(method, *args, **kwargs)

        return call

    async def aclose(self) -> None:
        await self._thread.run(self._store.close)


class ThreadedTracker:
    """``JobActions`` over a blocking ``JobTracker`` on the store's thread."""

    def __init__(self, thread: StoreThread, tracker: JobTracker) -> None:
        self._thread = thread
        self.tracker = tracker

    async def rerun(self, job_id: int, *, force: bool = False) -> Any:
        return await self._thread.run(self.tracker.rerun, job_id, force=force)

    async def show(self, job_id: int, *, fetch_log: bool = False) -> Any:
        return await self._thread.run(self.tracker.show, job_id, fetch_log=fetch_log)


class ThreadedEvents:
    """``EventActions`` over a blocking ``EventHandler`` on the store's thread."""

    def __init__(self, thread: StoreThread, handler: EventHandler) -> None:
        self._thread = thread
        self.handler = handler

    async def replay(self, which: int | Iterable[int] | Literal["all"]) -> Any:
        return await self._thread.run(self.handler.replay, which)


class Target:
    """A target adapter that takes SKU changes (so their dead letters can be replayed)."""

    name = "search"
    event_types = ("SkuChangedNotification",)
    select = ("PartNo",)

    def map(self, entity: Any) -> Any:
        return entity

    def send(self, batch: Any) -> None:
        return None

    def delete(self, deletions: Any) -> None:
        return None


def product(part_no: str, *, code: str | None = None) -> m.Product:
    return m.Product(
        manufacturer_code="ACME",
        code=code,
        cultures=[m.ProductCulture(culture_code="sv-SE", name=f"Hammare {part_no}")],
        variants=[
            m.Variant(
                manufacturer_part_no=f"MPN-{part_no}",
                is_dangerous_goods=False,
                skus=[
                    m.Sku(
                        part_no=part_no,
                        status=m.SkuStatus.Active,
                        type=m.SkuType.ErpStandard,
                        standard_price=m.SkuPriceList(
                            part_no=part_no,
                            price_list_code="STD",
                            price_sale=Decimal("199.90"),
                            currency_code="SEK",
                        ),
                        vat_rates=[m.VatRate(sales_area=m.SalesArea.Sweden, rate=Decimal("25.00"))],
                    )
                ],
            )
        ],
    )


def header(*, full: bool = False) -> m.ProductHeader:
    return m.ProductHeader(
        account_id=1,
        full_file=full,
        product_fields_that_are_set=[m.ProductField.Variants, m.ProductField.Cultures],
        product_culture_fields_that_are_set=[m.ProductCultureField.Name],
        variant_fields_that_are_set=[m.VariantField.Skus],
        sku_fields_that_are_set=[m.SkuField.Status, m.SkuField.Type, m.SkuField.StandardPrice],
        sku_price_list_fields_that_are_set=[m.SkuPriceListField.PriceSale],
    )


@attrs.define
class Demo:
    """What a demo-like run left in the store, and the objects to act on it."""

    path: Path
    clock: ManualClock
    emulator: NorceEmulator
    norce: Norce
    store: SqliteStore
    tracker: JobTracker
    handler: EventHandler
    thread: StoreThread
    succeeded: list[int]
    full_job: int
    superseded_job: int
    failed_job: int
    stalled_job: int
    letters: list[int]
    inbox_items: int

    def now(self) -> float:
        return self.clock.now().timestamp()

    def async_store(self) -> ThreadedStore:
        return ThreadedStore(self.thread, self.store, self.path)

    def jobs(self) -> ThreadedTracker:
        return ThreadedTracker(self.thread, self.tracker)

    def events(self) -> ThreadedEvents:
        return ThreadedEvents(self.thread, self.handler)

    def close(self) -> None:
        def shut() -> None:
            self.handler.close()
            self.norce.close()
            self.store.close()

        self.thread.call(shut)
        self.thread.close()
        self.emulator.close()


def build_demo(tmp_path: Path) -> Demo:
    """Run imports against the emulator on a manual clock, like ``norce-integration demo``.

    Leaves: 6 succeeded deltas, one failed delta superseded by a successful full import,
    a failed delta after it (with Norce's log), a stalled delta (running for an hour),
    an in-flight lock, a watermark, 3 pending inbox events and 2 webhook dead letters.
    """
    clock = ManualClock(START)
    emulator = NorceEmulator(clock=clock, job_timings=JobTimings(queued=5, running=20))
    thread = StoreThread()
    path = tmp_path / "state.sqlite"

    def now() -> float:
        return clock.now().timestamp()

    def build() -> Demo:
        settings = emulator.settings(
            retry=RetryPolicy(max_attempts=1, sleep=emulator.advance, clock=now, jitter=0)
        )
        norce = Norce(settings, transport=emulator.transport())
        store = SqliteStore(path, clock=now)
        tracker = JobTracker(
            norce,
            store,
            spool=PayloadSpool(tmp_path / "spool"),
            sleep=emulator.advance,
            clock=now,
            rng=random.Random(0),
        )

        def run(
            part: str, *, full: bool = False, fail: bool = False, code: str | None = None
        ) -> int:
            if fail:
                emulator.faults.job(failure_rate=1.0, times=1)
            job = tracker.submit("products", [product(part, code=code)], header(full=full))
            tracker.wait(job.job_id, raise_on_failure=False)
            emulator.advance(60)
            return job.job_id

        succeeded = [run(f"P{i}") for i in range(6)]
        superseded = run("PX", fail=True)
        full = run("P0", full=True, code="C0")
        failed = run("PY", fail=True)
        emulator.faults.job(stall=True)
        stalled = tracker.submit("products", [product("PZ")], header()).job_id
        emulator.advance(3600)
        store.acquire_lock("products", 1, "demo-host:4242", ttl=7200)
        store.compare_and_set_watermark(
            "products", 1, "erp", expected=None, new=sortable_watermark(clock.now())
        )
        for number in range(3):
            body = json.dumps({"ClientId": 1042, "PartNo": f"Q{number}", "EntityChanged": "t"})
            store.inbox_append(f"sku:Q{number}", "SkuChangedNotification", body.encode())
        letters = []
        for number in range(2):
            payload = json.dumps(
                {
                    "ClientId": 1042,
                    "PartNo": f"D{number}",
                    "EntityChanged": "t",
                    "Password": LETTER_SECRET,
                }
            ).encode()
            letters.append(
                store.put_dead_letter(
                    "webhook:failed",
                    payload,
                    f"search.send: RuntimeError: target down (api_key={LETTER_SECRET})",
                    key="SkuChangedNotification",
                    attempts=3,
                )
            )
        handler = EventHandler(norce, store, targets=[Target()])
        return Demo(
            path=path,
            clock=clock,
            emulator=emulator,
            norce=norce,
            store=store,
            tracker=tracker,
            handler=handler,
            thread=thread,
            succeeded=succeeded,
            full_job=full,
            superseded_job=superseded,
            failed_job=failed,
            stalled_job=stalled,
            letters=letters,
            inbox_items=3,
        )

    demo = thread.call(build)
    job = thread.call(demo.store.get_job, demo.superseded_job)
    assert job is not None
    assert job.status is TrackedStatus.SUPERSEDED
    job = thread.call(demo.store.get_job, demo.failed_job)
    assert job is not None
    assert job.status is TrackedStatus.FAILED
    return demo
