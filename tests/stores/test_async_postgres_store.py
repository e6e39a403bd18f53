"""The Store contract on :class:`AsyncPostgresStore`, plus what only the async store has.

The important behaviours of ``test_store_behaviour.py`` are run again, awaited; a sync
:class:`PostgresStore` and an :class:`AsyncPostgresStore` share one schema; and a parity
test keeps :class:`AsyncStore` / :class:`AsyncPostgresStore` in step with :class:`Store`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import inspect
import random
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from norce_integration import ConfigurationError, StoreError
from norce_integration.stores import (
    AsyncPostgresStore,
    AsyncStore,
    FullImportRecord,
    ItemVersion,
    JobObservation,
    PostgresStore,
    SpoolEntry,
    Store,
    TrackedJob,
    TrackedStatus,
    _pg_sql,
    sortable_watermark,
)

from .conftest import PgServer


T0 = 1_750_000_000.0

pg = pytest.mark.postgres
anyio = pytest.mark.anyio


class Clock:
    """A manual clock in epoch seconds."""

    def __init__(self, start: float = T0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def at(seconds: float = 0.0) -> dt.datetime:
    return dt.datetime.fromtimestamp(T0 + seconds, dt.UTC)


def job(job_id: int, **kw: Any) -> TrackedJob:
    values: dict[str, Any] = {
        "job_id": job_id,
        "kind": "products",
        "full": False,
        "account_id": 7,
        "submitted_at": at(job_id),
        "item_count": 10,
        "payload_digest": "d" * 64,
        "payload_size": 123,
        "header": '{"AccountId":7}',
    }
    values.update(kw)
    return TrackedJob(**values)


def obs(job_id: int, status: TrackedStatus, seconds: float = 0.0, **kw: Any) -> JobObservation:
    return JobObservation(job_id=job_id, seen_at=at(seconds), status=status, **kw)


@contextlib.asynccontextmanager
async def opened(
    pg_server: PgServer, *, schema: str | None = None, **kwargs: Any
) -> AsyncIterator[AsyncPostgresStore]:
    store = await AsyncPostgresStore.open(
        pg_server.dsn,
        schema=schema or pg_server.new_schema_name("a"),
        min_size=kwargs.pop("min_size", 0),
        max_size=kwargs.pop("max_size", 4),
        **kwargs,
    )
    try:
        yield store
    finally:
        await store.aclose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


# ---------------------------------------------------------------- parity with Store

_STORE_METHODS = sorted(
    name for name, _ in inspect.getmembers(Store, inspect.isfunction) if not name.startswith("_")
)


def _signature(fn: Any) -> list[tuple[str, Any, Any]]:
    sig = inspect.signature(fn)
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


@pytest.mark.parametrize("cls", [AsyncStore, AsyncPostgresStore])
@pytest.mark.parametrize("name", _STORE_METHODS)
def test_async_store_has_every_store_method_awaitable_with_the_same_parameters(
    cls: type, name: str
) -> None:
    async_name = "aclose" if name == "close" else name
    method = getattr(cls, async_name, None)
    assert method is not None, f"{cls.__name__} lacks {async_name}"
    assert inspect.iscoroutinefunction(method), f"{cls.__name__}.{async_name} is not async"
    assert _signature(method) == _signature(getattr(Store, name))
    sync_hints = inspect.get_annotations(getattr(Store, name))
    assert inspect.get_annotations(method) == sync_hints


def test_async_store_has_no_method_store_lacks() -> None:
    async_methods = {
        name
        for name, _ in inspect.getmembers(AsyncStore, inspect.iscoroutinefunction)
        if not name.startswith("_")
    }
    assert async_methods == {"aclose" if n == "close" else n for n in _STORE_METHODS}


def test_construction_validates_without_io_or_a_loop() -> None:
    with pytest.raises(ConfigurationError, match="schema"):
        AsyncPostgresStore("postgresql://localhost/db", schema='x"; DROP TABLE y; --')
    with pytest.raises(ConfigurationError, match="max_size"):
        AsyncPostgresStore("postgresql://localhost/db", min_size=5, max_size=2)
    with pytest.raises(ConfigurationError) as info:
        AsyncPostgresStore("host=db password=pw-XYZ-1 nonsense")
    assert "pw-XYZ-1" not in str(info.value)
    assert info.value.__cause__ is None
    store = AsyncPostgresStore("postgresql://u:pw-ABC@127.0.0.1:1/db")  # nothing connects
    assert "pw-ABC" not in repr(store)
    assert not store.closed


def test_without_psycopg_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "psycopg", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'norce-integration\[postgres\]'"):
        AsyncPostgresStore("postgresql://localhost/db")


# ---------------------------------------------------------------- lifecycle and schema


@pg
@anyio
async def test_satisfies_the_protocol_and_shares_the_schema_version(pg_server: PgServer) -> None:
    async with opened(pg_server) as store:
        assert isinstance(store, AsyncStore)
        assert await store.schema_version() == len(_pg_sql.MIGRATIONS)
        tables = {
            r[0]
            for r in await asyncio.to_thread(
                pg_server.execute,
                "SELECT tablename FROM pg_tables WHERE schemaname = %s",
                (store.schema,),
            )
        }
        assert tables == {*_pg_sql.TABLES, "schema_version"}
    assert store.closed
    with pytest.raises(StoreError, match="closed"):
        await store.get_job(1)
    await store.aclose()  # idempotent


@pg
@anyio
async def test_async_with_opens_and_closes_the_pool(pg_server: PgServer) -> None:
    store = AsyncPostgresStore(pg_server.dsn, schema=pg_server.new_schema_name("a"), min_size=2)
    with pytest.raises(StoreError, match="not open"):
        await store.get_job(1)
    async with store:
        pool = store._pool
        assert pool is not None
        assert pool.get_stats()["pool_size"] == 2
        assert await store.get_job(1) is None
    assert pool.closed
    assert store.closed


@pg
@anyio
async def test_migrations_from_many_stores_at_once_apply_once(pg_server: PgServer) -> None:
    schema = pg_server.new_schema_name("a")
    stores = await asyncio.gather(
        *(AsyncPostgresStore.open(pg_server.dsn, schema=schema, min_size=0) for _ in range(6))
    )
    for store in stores:
        await store.aclose()

    def sync_version() -> int:
        with PostgresStore(pg_server.dsn, schema=schema, min_size=0) as sync_store:
            return sync_store.schema_version

    assert await asyncio.to_thread(sync_version) == len(_pg_sql.MIGRATIONS)
    versions = await asyncio.to_thread(
        pg_server.execute, f'SELECT version FROM "{schema}".schema_version'
    )
    assert versions == [(v,) for v in range(1, len(_pg_sql.MIGRATIONS) + 1)]


@pg
@anyio
async def test_refuses_a_newer_schema(pg_server: PgServer) -> None:
    schema = pg_server.new_schema_name("a")
    async with opened(pg_server, schema=schema):
        pass
    await asyncio.to_thread(
        pg_server.execute,
        f'INSERT INTO "{schema}".schema_version (version) VALUES (%s)',
        (len(_pg_sql.MIGRATIONS) + 1,),
    )
    with pytest.raises(StoreError, match=r"knows up to"):
        await AsyncPostgresStore.open(pg_server.dsn, schema=schema)


@pg
@anyio
async def test_unreachable_server_names_it_without_the_password() -> None:
    started = time.monotonic()
    with pytest.raises(StoreError) as info:
        await AsyncPostgresStore.open(
            "postgresql://norce:hunter2-secret@127.0.0.1:1/integration",
            connect_timeout=2,
            retries=0,
        )
    message = str(info.value)
    assert "127.0.0.1:1" in message
    assert "integration" in message
    assert "hunter2-secret" not in message
    assert "hunter2-secret" not in repr(info.value.__cause__ or "")
    assert time.monotonic() - started < 10


@pg
@anyio
async def test_errors_name_the_operation_and_the_pool_survives(pg_server: PgServer) -> None:
    dsn = pg_server.dsn.replace("postgresql://postgres@", "postgresql://postgres:pw-XYZ-1@")
    async with await AsyncPostgresStore.open(dsn, schema=pg_server.new_schema_name("a")) as store:
        assert "pw-XYZ-1" not in repr(store)
        with pytest.raises(StoreError, match="append to the inbox") as info:
            await store.inbox_append("nul\x00key", "E", b"x")
        assert "pw-XYZ-1" not in str(info.value)
        assert await store.inbox_append("ok", "E", b"x")
        with pytest.raises(StoreError, match="add a dedup key"):
            await store.dedup_add("nul\x00key", window=10)  # a pipelined, relaxed commit
        assert await store.dedup_add("ok", window=10)


@pg
@anyio
async def test_retries_a_statement_on_a_stale_pooled_connection(pg_server: PgServer) -> None:
    schema = pg_server.new_schema_name("a")
    name = f"astale-{schema}"
    async with opened(
        pg_server, schema=schema, min_size=2, max_size=2, application_name=name
    ) as store:
        await store.insert_job(job(1))
        killed = await asyncio.to_thread(
            pg_server.execute,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (name,),
        )
        assert len(killed) == 2
        await asyncio.sleep(0.1)
        assert await store.get_job(1) is not None
        assert await store.inbox_append("after-restart", "E", b"x")


# ---------------------------------------------------------------- watermarks


@pg
@anyio
async def test_watermark_compare_and_set(pg_server: PgServer) -> None:
    async with opened(pg_server) as store:
        assert await store.get_watermark("products", 7, "erp") is None
        assert await store.compare_and_set_watermark(
            "products", 7, "erp", expected=None, new="0002"
        )
        assert not await store.compare_and_set_watermark(
            "products", 7, "erp", expected=None, new="0003"
        )
        assert not await store.compare_and_set_watermark(
            "products", 7, "erp", expected="0001", new="0003"
        )
        assert await store.compare_and_set_watermark(
            "products", 7, "erp", expected="0002", new="0003"
        )
        mark = await store.get_watermark("products", 7, "erp")
        assert mark is not None
        assert (mark.value, mark.version) == ("0003", 2)
        assert await store.get_watermark("products", 8, "erp") is None
        assert not await store.compare_and_set_watermark(
            "products", 7, "erp", expected="0003", new="0001"
        )
        assert await store.compare_and_set_watermark(
            "products", 7, "erp", expected="0003", new="0001", allow_backwards=True
        )
        # Code point order, as in Python: "B" < "a".
        assert await store.compare_and_set_watermark("p", 1, "s", expected=None, new="a")
        assert not await store.compare_and_set_watermark("p", 1, "s", expected="a", new="B")


@pg
@anyio
async def test_watermark_cas_never_moves_backwards(pg_server: PgServer) -> None:
    rng = random.Random(1234)
    async with opened(pg_server) as store:
        model: str | None = None
        for _ in range(60):
            value, use_current = rng.randint(0, 50), rng.random() < 0.6
            new = sortable_watermark(value)
            expected = model if use_current else sortable_watermark(value + 1)
            before = await store.get_watermark("products", 7, "erp")
            ok = await store.compare_and_set_watermark(
                "products", 7, "erp", expected=expected, new=new
            )
            after = await store.get_watermark("products", 7, "erp")
            assert ok == (expected == model and (model is None or new >= model))
            if ok:
                model = new
            assert (after.value if after else None) == model
            if before is not None:
                assert after is not None
                assert after.value >= before.value


@pg
@anyio
async def test_racing_watermark_writers_one_wins(pg_server: PgServer) -> None:
    async with opened(pg_server) as first:
        stores = [await AsyncPostgresStore.open(pg_server.dsn, schema=first.schema, min_size=0)]
        stores += [
            await AsyncPostgresStore.open(pg_server.dsn, schema=first.schema, min_size=0)
            for _ in range(3)
        ]
        try:
            won = await asyncio.gather(
                *(
                    s.compare_and_set_watermark("products", 7, "erp", expected=None, new=f"000{i}")
                    for i, s in enumerate(stores)
                )
            )
            assert won.count(True) == 1
            taken = await asyncio.gather(
                *(s.acquire_lock("products", 7, f"host-{i}", ttl=60) for i, s in enumerate(stores))
            )
            assert taken.count(True) == 1
            holder = await first.lock_holder("products", 7)
            assert holder is not None
            assert holder.owner == f"host-{taken.index(True)}"
        finally:
            for s in stores:
                await s.aclose()


# ---------------------------------------------------------------- tracked jobs


@pg
@anyio
async def test_jobs_insert_status_history(pg_server: PgServer) -> None:
    async with opened(pg_server) as store:
        record = job(1, history=(obs(1, TrackedStatus.SUBMITTED, source="submit"),))
        assert await store.insert_job(record)
        assert not await store.insert_job(record)
        loaded = await store.get_job(1)
        assert loaded is not None
        assert loaded.submitted_at == at(1)
        assert [o.status for o in loaded.history] == [TrackedStatus.SUBMITTED]
        bare = await store.get_job(1, with_history=False)
        assert bare is not None
        assert bare.history == ()
        assert await store.get_job(999) is None

        updated = await store.record_job_status(
            1, obs(1, TrackedStatus.QUEUED, 5, status_id=6, last_updated=at(4)), add_polls=1
        )
        assert updated is not None
        assert (updated.status, updated.status_id, updated.polls) == (TrackedStatus.QUEUED, 6, 1)
        await store.record_job_status(
            1,
            obs(1, TrackedStatus.SUCCEEDED, 9, status_id=2, source="event"),
            finished_at=at(9),
            totals=10,
            inserts=3,
            updates=7,
            fail=0,
        )
        late = await store.record_job_status(
            1, obs(1, TrackedStatus.RUNNING, 10, status_id=1), add_polls=1
        )
        assert late is not None
        assert late.status is TrackedStatus.SUCCEEDED
        assert late.status_id == 2
        assert (late.totals, late.inserts, late.updates, late.fail) == (10, 3, 7, 0)
        assert late.finished_at == at(9)
        assert late.polls == 2
        assert [o.status for o in late.history] == [
            TrackedStatus.SUBMITTED,
            TrackedStatus.QUEUED,
            TrackedStatus.SUCCEEDED,
            TrackedStatus.RUNNING,
        ]
        polled = await store.record_job_status(1, add_polls=3)
        assert polled is not None
        assert polled.polls == 5
        assert await store.record_job_status(2, obs(2, TrackedStatus.RUNNING)) is None
        with pytest.raises(ValueError):
            await store.record_job_status(1, obs(2, TrackedStatus.RUNNING))


@pg
@anyio
async def test_list_unresolved_and_superseded_jobs(pg_server: PgServer) -> None:
    async with opened(pg_server) as store:
        await store.insert_job(job(1))
        await store.insert_job(job(2, kind="sku_price_lists"))
        await store.insert_job(job(3, status=TrackedStatus.FAILED))
        await store.insert_job(job(4, account_id=8))
        assert [j.job_id for j in await store.list_jobs()] == [4, 3, 2, 1]
        assert [j.job_id for j in await store.list_jobs(kind="products")] == [4, 3, 1]
        assert [j.job_id for j in await store.list_jobs(account_id=8)] == [4]
        assert [j.job_id for j in await store.list_jobs(statuses=[TrackedStatus.FAILED])] == [3]
        assert await store.list_jobs(statuses=[]) == []
        assert [j.job_id for j in await store.list_jobs(submitted_before=at(3))] == [2, 1]
        assert [j.job_id for j in await store.list_jobs(submitted_after=at(2))] == [4, 3]
        assert [j.job_id for j in await store.list_jobs(limit=1)] == [4]
        assert [j.job_id for j in await store.unresolved_jobs()] == [1, 2, 4]
        assert [j.job_id for j in await store.unresolved_jobs(kind="products")] == [1, 4]

    async with opened(pg_server) as store:
        for job_id, status in enumerate(TrackedStatus, start=1):
            await store.insert_job(job(job_id, status=status))
        unresolved = {j.status for j in await store.unresolved_jobs()}
        assert unresolved == {s for s in TrackedStatus if not s.is_final}

    async with opened(pg_server) as store:
        await store.insert_job(job(1, status=TrackedStatus.FAILED))
        await store.insert_job(job(2, status=TrackedStatus.VALIDATION_FAILED, full=True))
        await store.insert_job(job(3, status=TrackedStatus.SUCCEEDED))
        await store.insert_job(job(4, status=TrackedStatus.FAILED, account_id=8))
        await store.insert_job(job(5, status=TrackedStatus.SUCCEEDED, full=True))
        await store.insert_job(job(6, status=TrackedStatus.FAILED))
        ids = await store.mark_superseded("products", 7, by_job_id=5, submitted_before=at(5))
        assert ids == [1, 2]
        first = await store.get_job(1)
        assert first is not None
        assert first.status is TrackedStatus.SUPERSEDED
        assert first.superseded_by == 5
        assert "5" in first.history[-1].note
        assert (await store.get_job(6)).status is TrackedStatus.FAILED  # type: ignore[union-attr]
        assert (
            await store.mark_superseded(
                "products", 7, by_job_id=5, submitted_before=at(9), statuses=()
            )
            == []
        )


# ---------------------------------------------------------------- full imports, versions


@pg
@anyio
async def test_last_full_import_only_moves_forward(pg_server: PgServer) -> None:
    async with opened(pg_server) as store:
        assert await store.get_last_full_import("products", 7) is None
        assert await store.set_last_full_import(FullImportRecord("products", 7, 10, at(100), 5000))
        assert not await store.set_last_full_import(FullImportRecord("products", 7, 9, at(50), 10))
        record = await store.get_last_full_import("products", 7)
        assert record is not None
        assert (record.job_id, record.item_count, record.finished_at) == (10, 5000, at(100))


@pg
@anyio
async def test_item_versions_bulk(pg_server: PgServer) -> None:
    async with opened(pg_server) as store:
        versions = {
            f"SKU-{i}": ItemVersion(f"fp{i}", None if i % 2 else str(i)) for i in range(25_000)
        }
        await store.put_item_versions("products", versions)  # two statements of 20k
        assert await store.count_item_versions("products") == 25_000
        wanted = [f"SKU-{i}" for i in range(0, 30_000, 3)]  # pipelined probe chunks
        got = await store.get_item_versions("products", wanted)
        assert got == {k: versions[k] for k in wanted if k in versions}
        small = await store.get_item_versions("products", ["SKU-1", "SKU-2", "nope"])
        assert small == {"SKU-1": versions["SKU-1"], "SKU-2": versions["SKU-2"]}
        assert await store.get_item_versions("customers", wanted) == {}
        assert await store.get_item_versions("products", []) == {}
        await store.put_item_versions("products", {"SKU-1": ItemVersion("new", "9")})
        assert await store.get_item_versions("products", ["SKU-1"]) == {
            "SKU-1": ItemVersion("new", "9")
        }
        assert await store.delete_item_versions("products", ["SKU-1", "SKU-2", "nope"]) == 2
        assert await store.count_item_versions("products") == 24_998
        await store.put_item_versions("products", {})
        assert await store.delete_item_versions("products", []) == 0


# ---------------------------------------------------------------- inbox and dedup


@pg
@anyio
async def test_inbox_append_claim_lease_ack_release_reclaim(
    pg_server: PgServer, clock: Clock
) -> None:
    async with opened(pg_server, clock=clock) as store:
        assert await store.inbox_append("k0", "E", b"0")
        assert not await store.inbox_append("k0", "E", b"dup")
        for i in range(1, 5):
            await store.inbox_append(f"k{i}", "E", f"{i}".encode())
        first = await store.inbox_claim("a", limit=3, lease=30)
        assert [i.payload for i in first] == [b"0", b"1", b"2"]
        assert all(i.lease_owner == "a" and i.attempts == 1 for i in first)
        second = await store.inbox_claim("b", limit=10, lease=30)
        assert [i.payload for i in second] == [b"3", b"4"]
        assert await store.inbox_claim("c", limit=10, lease=30) == []
        assert not await store.inbox_ack(first[0].item_id, "b")
        assert await store.inbox_ack(first[0].item_id, "a")
        assert not await store.inbox_ack(first[0].item_id, "a")
        assert await store.inbox_release(first[1].item_id, "a", error="boom", delay=60)
        assert await store.inbox_claim("c", limit=10, lease=30) == []
        clock.advance(31)
        reclaimed = await store.inbox_claim("c", limit=10, lease=30)
        assert sorted(i.payload for i in reclaimed) == [b"2", b"3", b"4"]
        assert all(i.attempts == 2 for i in reclaimed)
        assert not await store.inbox_ack(first[2].item_id, "a")  # lost its lease
        clock.advance(30)
        released = await store.inbox_get(first[1].item_id)
        assert released is not None
        assert released.last_error == "boom"
        assert await store.inbox_reclaim_expired() == 3
        assert len(await store.inbox_claim("d", limit=10, lease=30)) == 4
        assert await store.inbox_claim("d", limit=0, lease=30) == []
        assert await store.inbox_get(12345) is None
        assert await store.inbox_purge(done_before=at(1000)) == 1
        assert await store.inbox_get(first[0].item_id) is None


@pg
@anyio
async def test_concurrent_claims_hand_out_each_item_once(pg_server: PgServer) -> None:
    async with opened(pg_server) as setup:
        for i in range(120):
            await setup.inbox_append(f"k{i}", "E", b"x")
        stores = [
            await AsyncPostgresStore.open(pg_server.dsn, schema=setup.schema, min_size=0)
            for _ in range(4)
        ]

        async def worker(name: str, store: AsyncPostgresStore) -> list[int]:
            mine: list[int] = []
            while batch := await store.inbox_claim(name, limit=7, lease=300):
                mine.extend(i.item_id for i in batch)
            return mine

        try:
            claimed = await asyncio.gather(*(worker(f"w{i}", s) for i, s in enumerate(stores)))
        finally:
            for s in stores:
                await s.aclose()
        every = [item for mine in claimed for item in mine]
        assert len(every) == 120
        assert len(set(every)) == 120


@pg
@anyio
async def test_dedup_keys_have_a_window(pg_server: PgServer, clock: Clock) -> None:
    async with opened(pg_server, clock=clock) as store:
        assert await store.dedup_add("e1", window=60)
        assert not await store.dedup_add("e1", window=60)
        clock.advance(59)
        assert not await store.dedup_add("e1", window=60)
        clock.advance(2)
        assert await store.dedup_add("e1", window=60)
        assert await store.dedup_add("e2", window=1)
        clock.advance(100)
        assert await store.dedup_purge() == 2


@pg
@anyio
async def test_durable_progress_commits_everything_synchronously(pg_server: PgServer) -> None:
    async with opened(pg_server, durable_progress=True) as store:
        await store.inbox_append("k", "E", b"x")
        (item,) = await store.inbox_claim("w", limit=1, lease=30)
        assert await store.dedup_add("k", window=10)
        assert await store.inbox_ack(item.item_id, "w")
        assert await store.inbox_reclaim_expired() == 0


# ---------------------------------------------------------------- dead letters, spool, locks


@pg
@anyio
async def test_dead_letters(pg_server: PgServer) -> None:
    async with opened(pg_server) as store:
        first = await store.put_dead_letter("webhook", b"{1}", "bad", key="k1", attempts=3)
        second = await store.put_dead_letter("import:products", b"{2}", "worse")
        assert [d.letter_id for d in await store.list_dead_letters()] == [first, second]
        assert [d.letter_id for d in await store.list_dead_letters(source="webhook")] == [first]
        assert len(await store.list_dead_letters(limit=1)) == 1
        letter = await store.get_dead_letter(first)
        assert letter is not None
        assert (letter.payload, letter.error, letter.key, letter.attempts) == (
            b"{1}",
            "bad",
            "k1",
            3,
        )
        assert await store.delete_dead_letter(first)
        assert not await store.delete_dead_letter(first)
        assert await store.get_dead_letter(first) is None


@pg
@anyio
async def test_spool_index(pg_server: PgServer) -> None:
    async with opened(pg_server) as store:
        entry = SpoolEntry(5, "/tmp/5.json.gz", 100, at(5), "products", "{}", "d")
        await store.put_spool_entry(SpoolEntry(4, "/x/4.json.gz", 50, at(4)))
        await store.put_spool_entry(entry)
        assert await store.get_spool_entry(5) == entry
        assert [e.job_id for e in await store.list_spool_entries()] == [4, 5]
        await store.put_spool_entry(SpoolEntry(5, "/y", 1, at(6)))
        assert (await store.get_spool_entry(5)).path == "/y"  # type: ignore[union-attr]
        assert await store.delete_spool_entry(5)
        assert not await store.delete_spool_entry(5)
        assert await store.get_spool_entry(5) is None


@pg
@anyio
async def test_in_flight_lock(pg_server: PgServer, clock: Clock) -> None:
    async with opened(pg_server, clock=clock) as store:
        assert await store.lock_holder("products", 7) is None
        assert await store.acquire_lock("products", 7, "host-a", ttl=60)
        assert not await store.acquire_lock("products", 7, "host-b", ttl=60)
        assert await store.acquire_lock("products", 8, "host-b", ttl=60)
        holder = await store.lock_holder("products", 7)
        assert holder is not None
        assert holder.owner == "host-a"
        clock.advance(30)
        assert await store.acquire_lock("products", 7, "host-a", ttl=60)
        extended = await store.lock_holder("products", 7)
        assert extended is not None
        assert extended.acquired_at == holder.acquired_at
        assert extended.expires_at > holder.expires_at
        assert not await store.release_lock("products", 7, "host-b")
        clock.advance(61)
        assert await store.lock_holder("products", 7) is None
        assert await store.acquire_lock("products", 7, "host-b", ttl=60)  # expired: taken
        assert await store.release_lock("products", 7, "host-b")
        assert await store.lock_holder("products", 7) is None


# ---------------------------------------------------------------- sync and async together


class OffLoop:
    """A blocking store whose calls run on a worker thread, awaited (never on the loop)."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._store, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(method, *args, **kwargs)

        return call


@pg
@anyio
async def test_sync_and_async_stores_share_one_schema(pg_server: PgServer) -> None:
    schema = pg_server.new_schema_name("mix")
    blocking = await asyncio.to_thread(
        PostgresStore, pg_server.dsn, schema=schema, min_size=0, max_size=2
    )
    sync_store = OffLoop(blocking)
    try:
        async with opened(pg_server, schema=schema) as async_store:
            # Watermarks: a CAS by one is seen (and contested) by the other.
            assert await sync_store.compare_and_set_watermark(
                "p", 7, "erp", expected=None, new="01"
            )
            assert not await async_store.compare_and_set_watermark(
                "p", 7, "erp", expected=None, new="02"
            )
            assert await async_store.compare_and_set_watermark(
                "p", 7, "erp", expected="01", new="02"
            )
            mark = await sync_store.get_watermark("p", 7, "erp")
            assert mark is not None
            assert (mark.value, mark.version) == ("02", 2)
            # Jobs and history.
            assert await async_store.insert_job(job(1))
            assert not await sync_store.insert_job(job(1))
            await sync_store.record_job_status(1, obs(1, TrackedStatus.SUCCEEDED, 3, status_id=2))
            seen = await async_store.get_job(1)
            assert seen is not None
            assert seen.status is TrackedStatus.SUCCEEDED
            assert len(seen.history) == 1
            # Item versions.
            await sync_store.put_item_versions(
                "products", {"A": ItemVersion("fa"), "B": ItemVersion("fb")}
            )
            assert await async_store.get_item_versions("products", ["A", "B"]) == {
                "A": ItemVersion("fa"),
                "B": ItemVersion("fb"),
            }
            # Inbox: an item leased by one is not handed out by the other.
            assert await async_store.inbox_append("k1", "E", b"1")
            assert not await sync_store.inbox_append("k1", "E", b"1")
            (item,) = await sync_store.inbox_claim("sync-worker", limit=5, lease=30)
            assert await async_store.inbox_claim("async-worker", limit=5, lease=30) == []
            assert not await async_store.inbox_ack(item.item_id, "async-worker")
            assert await sync_store.inbox_ack(item.item_id, "sync-worker")
            done = await async_store.inbox_get(item.item_id)
            assert done is not None
            assert done.status.value == "done"
            # Locks.
            assert await async_store.acquire_lock("products", 7, "async-host", ttl=60)
            assert not await sync_store.acquire_lock("products", 7, "sync-host", ttl=60)
            holder = await sync_store.lock_holder("products", 7)
            assert holder is not None
            assert holder.owner == "async-host"
            # Dead letters and spool entries.
            letter = await sync_store.put_dead_letter("webhook", b"x", "bad")
            assert [d.letter_id for d in await async_store.list_dead_letters()] == [letter]
            await async_store.put_spool_entry(SpoolEntry(1, "/s/1.gz", 9, at(1)))
            assert await sync_store.get_spool_entry(1) == SpoolEntry(1, "/s/1.gz", 9, at(1))
            sync_version = await asyncio.to_thread(lambda: blocking.schema_version)
            assert await async_store.schema_version() == sync_version
    finally:
        await asyncio.to_thread(blocking.close)


@pg
@anyio
async def test_no_thread_is_started(pg_server: PgServer) -> None:
    # Design rule: async is never implemented with threads (the pool's workers are tasks).
    before = {t.ident for t in threading.enumerate()}
    async with opened(pg_server, min_size=2) as store:
        await store.inbox_append("k", "E", b"x")
        await asyncio.gather(*(store.inbox_claim(f"w{i}", limit=1, lease=30) for i in range(4)))
        await store.get_item_versions("products", [f"K{i}" for i in range(3000)])
        started = {t.ident for t in threading.enumerate()} - before
    assert started == set()
