"""SQLite specifics beyond the shared contract: the asyncio store's thread, migrations of
files written by older versions, and the pure statement/decision module."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from norce_integration import StoreError
from norce_integration.stores import AsyncSqliteStore, InboxStatus, SqliteStore, TrackedJob
from norce_integration.stores import _sqlite_sql as q
from norce_integration.stores._sqlite_sql import MIGRATIONS


pytestmark = pytest.mark.anyio


def _v1_file(path: Path) -> None:
    """A file as the first released schema left it, with some state in it."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at REAL NOT NULL)")
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("INSERT INTO schema_version VALUES (1, 0)")
    conn.execute(
        "INSERT INTO watermarks VALUES ('products', 1, 'erp', '0005', 3, 0), "
        "('products', 1, 'erp#run', '{\"run\": 1}', 1, 0)"
    )
    conn.close()


def test_an_older_file_is_migrated_and_keeps_its_state(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    _v1_file(path)
    with SqliteStore(path) as store:
        assert store.schema_version == len(MIGRATIONS) == 3
        mark = store.get_watermark("products", 1, "erp")
        assert mark is not None
        assert (mark.value, mark.version) == ("0005", 3)
        run = store.get_watermark("products", 1, "erp#run")  # left for its owner to read
        assert run is not None
        assert run.value == '{"run": 1}'
        store.kv_put("journal", "products/1", "x")
    with SqliteStore(path) as again:  # reopening applies nothing twice
        assert again.schema_version == 3
        assert again.kv_get("journal", "products/1") == "x"


async def test_the_async_store_migrates_an_older_file_too(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    await asyncio.to_thread(_v1_file, path)
    async with AsyncSqliteStore(path) as store:
        assert await store.schema_version() == 3
        assert await store.kv_list("none") == {}
        mark = await store.get_watermark("products", 1, "erp")
        assert mark is not None
        assert mark.value == "0005"


async def test_the_async_store_never_runs_sqlite_on_the_loop_thread(tmp_path: Path) -> None:
    loop_thread = threading.get_ident()
    threads: set[int] = set()

    def trace(conn: sqlite3.Connection) -> None:
        conn.set_trace_callback(lambda _sql: threads.add(threading.get_ident()))

    async with AsyncSqliteStore(tmp_path / "s.sqlite") as store:
        await store._runner.read(trace)
        await store.inbox_write([("d", "d#1", "E", b"x")], window=60)
        claimed = await store.inbox_claim("w", limit=10, lease=30)
        await store.inbox_renew([claimed[0].item_id], "w", lease=30)
        await store.inbox_ack_many([claimed[0].item_id], "w")
        await store.kv_compare_and_set("n", "k", None, "v")
        await store.insert_job(
            TrackedJob(1, "products", full=False, account_id=1, submitted_at=_T0)
        )
        await asyncio.gather(*(store.get_job(1) for _ in range(20)))
        assert await store.inbox_counts() == {"pending": 0, "leased": 0, "done": 1}
    assert threads  # the trace saw the statements
    assert loop_thread not in threads
    assert len(threads) == 1  # one dedicated thread


async def test_the_async_store_constructor_does_no_io_and_calls_report_open_errors(
    tmp_path: Path,
) -> None:
    path = tmp_path / "garbage.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    store = AsyncSqliteStore(path)  # returns at once; the thread finds out
    with pytest.raises(StoreError):
        await store.get_job(1)
    with pytest.raises(StoreError):
        await store.kv_get("a", "b")
    await store.aclose()


async def test_the_async_store_refuses_calls_after_aclose(tmp_path: Path) -> None:
    store = AsyncSqliteStore(tmp_path / "s.sqlite")
    await store.kv_put("a", "b", "c")
    await store.aclose()
    await store.aclose()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        await store.kv_get("a", "b")


async def test_async_and_sync_stores_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    async with AsyncSqliteStore(path) as store:
        assert (await store.inbox_write([("d", "d#1", "E", b"x")], window=60))[0] == [True]

        def blocking() -> list[bool]:
            with SqliteStore(path) as sync_store:
                sync_store.kv_put("n", "k", "v")
                return sync_store.inbox_write([("d", "d#2", "E", b"y")], window=60)[0]

        assert await asyncio.to_thread(blocking) == [False]
        assert await store.kv_get("n", "k") == "v"


def test_the_memory_database_works_for_the_async_store() -> None:
    async def run() -> dict[str, int]:
        async with AsyncSqliteStore(":memory:") as store:
            await store.inbox_append("k", "E", b"")
            return await store.inbox_counts()

    assert asyncio.run(run())["pending"] == 1


# ---------------------------------------------------------------- the pure module

_T0 = q.when(1_750_000_000.0)

_entries = st.lists(
    st.tuples(
        st.none() | st.sampled_from(["a", "b", "c"]),
        st.uuids().map(str),
        st.just("E"),
        st.binary(max_size=3),
    ),
    max_size=12,
)


@given(_entries, st.sets(st.sampled_from(["a", "b", "c"])), st.sampled_from([0.0, 60.0]))
def test_plan_inbox_write_stores_each_live_key_at_most_once(
    entries: list[tuple[str | None, str, str, bytes]], live: set[str], window: float
) -> None:
    before = set(live)
    results, keys, rows = q.plan_inbox_write(entries, live, now=100.0, window=window)
    assert len(results) == len(entries)
    assert [r[0] for r in rows] == [e[1] for e, ok in zip(entries, results, strict=True) if ok]
    assert all(r[4] == InboxStatus.PENDING.value and r[3] == r[5] == 100.0 for r in rows)
    checked = [e for e in entries if e[0] is not None and window > 0]
    stored_keys = [k for k, _ in keys]
    assert len(stored_keys) == len(set(stored_keys))  # a key is stored once per group
    assert not set(stored_keys) & before  # never a key that was live already
    assert all(expires == 100.0 + window for _, expires in keys)
    for (dedup, *_), ok in zip(entries, results, strict=True):
        if dedup is None or window <= 0:
            assert ok
    assert set(stored_keys) == {e[0] for e in checked} - before
    assert q.dedup_checked(entries, window) == list(dict.fromkeys(e[0] for e in checked))


def test_lock_decision() -> None:
    assert q.lock_decision(None, "a", 10.0) == (True, 10.0)
    assert q.lock_decision(("b", 1.0, 20.0), "a", 10.0) == (False, 10.0)  # b holds it
    assert q.lock_decision(("b", 1.0, 5.0), "a", 10.0) == (True, 10.0)  # b's expired
    assert q.lock_decision(("a", 1.0, 20.0), "a", 10.0) == (True, 1.0)  # a extends
    assert q.lock_decision(("a", 1.0, 5.0), "a", 10.0) == (True, 10.0)  # a re-takes


def test_builders() -> None:
    assert q.in_query("X IN ", 3) == "X IN (?, ?, ?)"
    assert q.rows_query("V ", 2, 2, " T") == "V (?, ?), (?, ?) T"
    assert [list(c) for c in q.chunks([1, 2, 3, 4, 5], 2)] == [[1, 2], [3, 4], [5]]
    assert q.counts_by_status([("done", 2)]) == {"pending": 0, "leased": 0, "done": 2}
    sql, params = q.list_jobs_where(
        kind="p",
        account_id=None,
        statuses=["failed"],
        submitted_before=None,
        submitted_after=1.0,
        limit=5,
    )
    assert sql.endswith(
        "WHERE kind = ? AND submitted_at > ? AND status IN (?) "
        "ORDER BY submitted_at DESC, job_id DESC LIMIT ?"
    )
    assert params == ["p", 1.0, "failed", 5]
