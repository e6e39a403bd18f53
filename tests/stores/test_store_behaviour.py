"""The Store contract, run against every backend: SQLite and PostgreSQL, each blocking and
asyncio.

Every contract test takes the ``store`` (or ``make_store``) fixture, parametrized over
``BACKENDS``, so the four implementations cannot drift: the assertions are the same. The
asyncio stores run behind :class:`Blocking`, which awaits each call on an event loop of
its own thread (test-only). Tests that need several handles on one state (like several
processes) use ``backend.another``. Backend-specific tests (files, pools, schemas) come
last.

PostgreSQL tests are marked ``postgres`` and use ``NORCE_TEST_PG_DSN`` (see conftest.py):
each fresh store empties the session's schema, which is dropped when the session ends.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import inspect
import itertools
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from norce_integration import ConfigurationError, StoreError
from norce_integration.stores import (
    AsyncPostgresStore,
    AsyncSqliteStore,
    AsyncStore,
    FullImportRecord,
    ItemVersion,
    JobObservation,
    PostgresStore,
    SpoolEntry,
    SqliteStore,
    Store,
    TrackedJob,
    TrackedStatus,
    _pg_sql,
    sortable_watermark,
)
from norce_integration.stores._sqlite_runner import SQLITE_WAIT_MS
from norce_integration.stores._sqlite_sql import MIGRATIONS

from .conftest import PgServer


BACKENDS = [
    "sqlite",
    "async-sqlite",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("async-postgres", marks=pytest.mark.postgres),
]
T0 = 1_750_000_000.0
R = TypeVar("R")


class _Loop:
    """An event loop running on a thread of its own (one per test session)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, R]) -> R:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()


@functools.cache
def _loop() -> _Loop:
    return _Loop()


class Blocking:
    """An :class:`AsyncStore` behind the blocking :class:`Store` protocol (tests only)."""

    def __init__(self, store: AsyncStore) -> None:
        self.inner = store

    def __repr__(self) -> str:
        return f"Blocking({self.inner!r})"

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, "aclose" if name == "close" else name)
        if not inspect.iscoroutinefunction(method):
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            return _loop().run(method(*args, **kwargs))

        return call

    @property
    def schema_version(self) -> int:
        return _loop().run(self.inner.schema_version())  # type: ignore[attr-defined]

    def __enter__(self) -> Blocking:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Clock:
    """A manual clock in epoch seconds."""

    def __init__(self, start: float = T0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


StoreFactory = Callable[[Clock], Store]


class Backend:
    """Opens stores of one kind: fresh ones (empty state) and more handles on the last."""

    def __init__(self, name: str, tmp_path: Path, pg: PgServer | None) -> None:
        self.name = name
        self._tmp = tmp_path
        self._pg = pg
        self._schema = pg.new_schema_name("b") if pg is not None else ""
        self._counter = itertools.count()
        self._path = tmp_path / "state-0.sqlite"
        self._open: list[Store] = []

    def fresh(self, clock: Clock) -> Store:
        """A store with nothing in it."""
        if self._pg is not None:
            # One schema per test, emptied for each fresh store (hypothesis makes many);
            # the handles of the previous state are closed so connections do not pile up.
            self.close_all()
            with PostgresStore(self._pg.dsn, schema=self._schema, min_size=0) as setup:
                tables = ", ".join(f'"{self._schema}".{t}' for t in _pg_sql.TABLES)
                setup._run("reset", lambda conn: conn.execute(f"TRUNCATE {tables}"))
        else:
            self._path = self._tmp / f"state-{next(self._counter)}.sqlite"
        return self.another(clock)

    def another(self, clock: Clock | None = None) -> Store:
        """Another handle on the state of the last fresh store (like another process)."""
        store: Store
        if self._pg is not None:
            options: dict[str, Any] = {"schema": self._schema, "min_size": 0, "max_size": 4}
            if self.name.startswith("async"):
                opened = AsyncPostgresStore.open(self._pg.dsn, clock=clock, **options)
                store = Blocking(_loop().run(opened))  # type: ignore[assignment]
            else:
                store = PostgresStore(self._pg.dsn, clock=clock, **options)
        else:
            kwargs: dict[str, Any] = {} if clock is None else {"clock": clock}
            if self.name.startswith("async"):
                store = Blocking(AsyncSqliteStore(self._path, **kwargs))  # type: ignore[assignment]
            else:
                store = SqliteStore(self._path, **kwargs)
        self._open.append(store)
        return store

    def close_all(self) -> None:
        for store in self._open:
            store.close()
        self._open.clear()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    pg = request.getfixturevalue("pg_server") if request.param.endswith("postgres") else None
    made = Backend(request.param, tmp_path, pg)
    yield made
    made.close_all()


@pytest.fixture
def make_store(backend: Backend) -> StoreFactory:
    return backend.fresh


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(make_store: StoreFactory, clock: Clock) -> Store:
    return make_store(clock)


def at(seconds: float = 0.0) -> dt.datetime:
    return dt.datetime.fromtimestamp(T0 + seconds, dt.UTC)


def job(job_id: int, **kw: object) -> TrackedJob:
    values: dict[str, object] = {
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
    return TrackedJob(**values)  # type: ignore[arg-type]


def obs(job_id: int, status: TrackedStatus, seconds: float = 0.0, **kw: object) -> JobObservation:
    return JobObservation(job_id=job_id, seen_at=at(seconds), status=status, **kw)  # type: ignore[arg-type]


# ---------------------------------------------------------------- lifecycle and schema


def _is_sqlite(store: Store) -> bool:
    inner = store.inner if isinstance(store, Blocking) else store
    return isinstance(inner, SqliteStore | AsyncSqliteStore)


def test_satisfies_the_protocol(store: Store) -> None:
    if isinstance(store, Blocking):
        assert isinstance(store.inner, AsyncStore)
        assert not isinstance(store.inner, Store)
    else:
        assert isinstance(store, Store)


def test_sqlite_schema_is_versioned_and_reopening_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with SqliteStore(path) as first:
        assert first.schema_version == len(MIGRATIONS)
        first.insert_job(job(1))
    with SqliteStore(path) as second:
        assert second.schema_version == len(MIGRATIONS)
        assert second.get_job(1) is not None


def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute("INSERT INTO schema_version VALUES (?, 0)", (len(MIGRATIONS) + 1,))
    conn.close()
    with pytest.raises(StoreError, match=r"newer|knows up to"):
        SqliteStore(path)


def test_sqlite_uses_wal_and_a_busy_timeout(tmp_path: Path) -> None:
    # SQLite itself waits only a few ms; the runner retries busy transactions in short
    # steps up to busy_timeout (tests/stores/test_sqlite_inbox_batching.py).
    with SqliteStore(tmp_path / "s.sqlite", busy_timeout=7) as store:
        pragma = store._runner.read
        assert pragma(lambda conn: conn.execute("PRAGMA journal_mode").fetchone()[0]) == "wal"
        assert pragma(lambda conn: conn.execute("PRAGMA busy_timeout").fetchone()[0]) == (
            SQLITE_WAIT_MS
        )


def test_sqlite_closed_store_raises_store_error(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite")
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.get_job(1)


def test_sqlite_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError):
        SqliteStore(path)


def test_sqlite_memory_database_is_shared_across_threads() -> None:
    with SqliteStore(":memory:") as store:
        store.insert_job(job(1))
        seen: list[TrackedJob | None] = []
        thread = threading.Thread(target=lambda: seen.append(store.get_job(1)))
        thread.start()
        thread.join()
        assert seen[0] is not None


def test_sqlite_connections_of_other_threads_are_closed(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite")
    threads = [threading.Thread(target=lambda: store.get_job(1)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(store._runner._connections) == 4
    store.close()
    assert store._runner._connections == []


# ---------------------------------------------------------------- watermarks


def test_watermark_compare_and_set(store: Store) -> None:
    assert store.get_watermark("products", 7, "erp") is None
    assert store.compare_and_set_watermark("products", 7, "erp", expected=None, new="0002")
    assert not store.compare_and_set_watermark("products", 7, "erp", expected=None, new="0003")
    assert not store.compare_and_set_watermark("products", 7, "erp", expected="0001", new="0003")
    assert store.compare_and_set_watermark("products", 7, "erp", expected="0002", new="0003")
    mark = store.get_watermark("products", 7, "erp")
    assert mark is not None
    assert (mark.value, mark.version) == ("0003", 2)
    # Other keys are independent.
    assert store.get_watermark("products", 8, "erp") is None
    assert store.get_watermark("products", 7, "pim") is None


def test_watermark_never_moves_backwards_unless_allowed(store: Store) -> None:
    store.compare_and_set_watermark("products", 7, "erp", expected=None, new="0005")
    assert not store.compare_and_set_watermark("products", 7, "erp", expected="0005", new="0004")
    assert store.compare_and_set_watermark(
        "products", 7, "erp", expected="0005", new="0004", allow_backwards=True
    )
    mark = store.get_watermark("products", 7, "erp")
    assert mark is not None
    assert mark.value == "0004"


def test_sortable_watermark_orders_like_values() -> None:
    early = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    later = dt.datetime(2024, 1, 2, 5, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert sortable_watermark(early) < sortable_watermark(later)
    assert sortable_watermark(9) < sortable_watermark(10)
    assert sortable_watermark("abc") == "abc"
    with pytest.raises(ValueError):
        sortable_watermark(-1)
    with pytest.raises(ValueError):
        sortable_watermark(True)  # noqa: FBT003 - the point of the test


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)
@given(
    ops=st.lists(
        st.tuples(st.integers(0, 50), st.booleans()),
        max_size=30,
    )
)
def test_watermark_cas_never_moves_backwards(
    make_store: StoreFactory, ops: list[tuple[int, bool]]
) -> None:
    store = make_store(Clock())
    model: str | None = None
    for value, use_current in ops:
        new = sortable_watermark(value)
        expected = model if use_current else sortable_watermark(value + 1)
        before = store.get_watermark("products", 7, "erp")
        ok = store.compare_and_set_watermark("products", 7, "erp", expected=expected, new=new)
        after = store.get_watermark("products", 7, "erp")
        should = expected == model and (model is None or new >= model)
        assert ok == should
        if ok:
            model = new
        assert (after.value if after else None) == model
        if before is not None:
            assert after is not None
            assert after.value >= before.value


# ---------------------------------------------------------------- tracked jobs


def test_insert_and_get_job_with_history(store: Store) -> None:
    record = job(1, history=(obs(1, TrackedStatus.SUBMITTED, source="submit"),))
    assert store.insert_job(record)
    assert not store.insert_job(record)
    loaded = store.get_job(1)
    assert loaded is not None
    assert loaded.kind == "products"
    assert loaded.submitted_at == at(1)
    assert [o.status for o in loaded.history] == [TrackedStatus.SUBMITTED]
    assert store.get_job(1, with_history=False).history == ()  # type: ignore[union-attr]
    assert store.get_job(999) is None


def test_record_job_status_keeps_history_and_final_is_sticky(store: Store) -> None:
    store.insert_job(job(1))
    updated = store.record_job_status(
        1, obs(1, TrackedStatus.QUEUED, 5, status_id=6, last_updated=at(4)), add_polls=1
    )
    assert updated is not None
    assert (updated.status, updated.status_id, updated.polls) == (TrackedStatus.QUEUED, 6, 1)
    store.record_job_status(
        1,
        obs(1, TrackedStatus.SUCCEEDED, 9, status_id=2, source="event"),
        finished_at=at(9),
        totals=10,
        inserts=3,
        updates=7,
        fail=0,
    )
    # A late poll must not undo what the event settled, but it is in the history.
    late = store.record_job_status(1, obs(1, TrackedStatus.RUNNING, 10, status_id=1), add_polls=1)
    assert late is not None
    assert late.status is TrackedStatus.SUCCEEDED
    assert late.status_id == 2
    assert (late.totals, late.inserts, late.updates, late.fail) == (10, 3, 7, 0)
    assert late.finished_at == at(9)
    assert late.polls == 2
    assert [o.status for o in late.history] == [
        TrackedStatus.QUEUED,
        TrackedStatus.SUCCEEDED,
        TrackedStatus.RUNNING,
    ]
    assert store.record_job_status(2, obs(2, TrackedStatus.RUNNING)) is None
    with pytest.raises(ValueError):
        store.record_job_status(1, obs(2, TrackedStatus.RUNNING))


def test_polls_can_be_added_without_an_observation(store: Store) -> None:
    store.insert_job(job(1))
    updated = store.record_job_status(1, add_polls=3)
    assert updated is not None
    assert updated.polls == 3
    assert updated.history == ()


def test_list_jobs_filters(store: Store) -> None:
    store.insert_job(job(1))
    store.insert_job(job(2, kind="sku_price_lists"))
    store.insert_job(job(3, status=TrackedStatus.FAILED))
    store.insert_job(job(4, account_id=8))
    assert [j.job_id for j in store.list_jobs()] == [4, 3, 2, 1]
    assert [j.job_id for j in store.list_jobs(kind="products")] == [4, 3, 1]
    assert [j.job_id for j in store.list_jobs(account_id=8)] == [4]
    assert [j.job_id for j in store.list_jobs(statuses=[TrackedStatus.FAILED])] == [3]
    assert store.list_jobs(statuses=[]) == []
    assert [j.job_id for j in store.list_jobs(submitted_before=at(3))] == [2, 1]
    assert [j.job_id for j in store.list_jobs(submitted_after=at(2))] == [4, 3]
    assert [j.job_id for j in store.list_jobs(limit=1)] == [4]


def test_unresolved_jobs_include_local_timeouts(store: Store) -> None:
    for job_id, status in enumerate(TrackedStatus, start=1):
        store.insert_job(job(job_id, status=status))
    unresolved = {j.status for j in store.unresolved_jobs()}
    assert TrackedStatus.TIMED_OUT_LOCALLY in unresolved
    assert unresolved == {s for s in TrackedStatus if not s.is_final}
    assert [j.job_id for j in store.unresolved_jobs()] == sorted(
        j.job_id for j in store.unresolved_jobs()
    )


def test_mark_superseded(store: Store) -> None:
    store.insert_job(job(1, status=TrackedStatus.FAILED))
    store.insert_job(job(2, status=TrackedStatus.VALIDATION_FAILED, full=True))
    store.insert_job(job(3, status=TrackedStatus.SUCCEEDED))
    store.insert_job(job(4, status=TrackedStatus.FAILED, account_id=8))
    store.insert_job(job(5, status=TrackedStatus.SUCCEEDED, full=True))
    store.insert_job(job(6, status=TrackedStatus.FAILED))  # after the full import
    ids = store.mark_superseded("products", 7, by_job_id=5, submitted_before=at(5))
    assert ids == [1, 2]
    first = store.get_job(1)
    assert first is not None
    assert first.status is TrackedStatus.SUPERSEDED
    assert first.superseded_by == 5
    assert "5" in first.history[-1].note
    assert store.get_job(6).status is TrackedStatus.FAILED  # type: ignore[union-attr]
    assert store.get_job(4).status is TrackedStatus.FAILED  # type: ignore[union-attr]


# ---------------------------------------------------------------- full imports


def test_last_full_import_only_moves_forward(store: Store) -> None:
    assert store.get_last_full_import("products", 7) is None
    assert store.set_last_full_import(FullImportRecord("products", 7, 10, at(100), 5000))
    assert not store.set_last_full_import(FullImportRecord("products", 7, 9, at(50), 10))
    record = store.get_last_full_import("products", 7)
    assert record is not None
    assert (record.job_id, record.item_count, record.finished_at) == (10, 5000, at(100))


# ---------------------------------------------------------------- item versions


def test_item_versions_bulk(store: Store) -> None:
    versions = {f"SKU-{i}": ItemVersion(f"fp{i}", None if i % 2 else str(i)) for i in range(2500)}
    store.put_item_versions("products", versions)
    assert store.count_item_versions("products") == 2500
    wanted = [f"SKU-{i}" for i in range(0, 3000, 3)]
    got = store.get_item_versions("products", wanted)
    assert got == {k: versions[k] for k in wanted if k in versions}
    assert store.get_item_versions("customers", wanted) == {}
    assert store.get_item_versions("products", []) == {}
    store.put_item_versions("products", {"SKU-1": ItemVersion("new", "9")})
    assert store.get_item_versions("products", ["SKU-1"]) == {"SKU-1": ItemVersion("new", "9")}
    assert store.delete_item_versions("products", ["SKU-1", "SKU-2", "nope"]) == 2
    assert store.count_item_versions("products") == 2498
    store.put_item_versions("products", {})
    assert store.delete_item_versions("products", []) == 0


# ---------------------------------------------------------------- inbox


def test_inbox_append_is_deduplicated(store: Store) -> None:
    assert store.inbox_append("k1", "ProductChangedNotification", b"{}")
    assert not store.inbox_append("k1", "ProductChangedNotification", b"{}")
    assert store.inbox_append("k2", "ProductChangedNotification", b"{}")


def test_inbox_claim_lease_ack_release(store: Store, clock: Clock) -> None:
    for i in range(5):
        store.inbox_append(f"k{i}", "E", f"{i}".encode())
    first = store.inbox_claim("a", limit=3, lease=30)
    assert [i.payload for i in first] == [b"0", b"1", b"2"]
    assert all(i.lease_owner == "a" and i.attempts == 1 for i in first)
    second = store.inbox_claim("b", limit=10, lease=30)
    assert [i.payload for i in second] == [b"3", b"4"]
    assert store.inbox_claim("c", limit=10, lease=30) == []
    assert not store.inbox_ack(first[0].item_id, "b")
    assert store.inbox_ack(first[0].item_id, "a")
    assert not store.inbox_ack(first[0].item_id, "a")
    assert store.inbox_release(first[1].item_id, "a", error="boom", delay=60)
    assert store.inbox_claim("c", limit=10, lease=30) == []
    clock.advance(31)
    # a's third item and b's two leases expired; the released one is not due yet.
    reclaimed = store.inbox_claim("c", limit=10, lease=30)
    assert sorted(i.payload for i in reclaimed) == [b"2", b"3", b"4"]
    assert all(i.attempts == 2 for i in reclaimed)
    assert not store.inbox_ack(first[2].item_id, "a")  # lost its lease
    clock.advance(30)
    released = store.inbox_get(first[1].item_id)
    assert released is not None
    assert released.last_error == "boom"
    assert store.inbox_reclaim_expired() == 3
    assert len(store.inbox_claim("d", limit=10, lease=30)) == 4
    assert store.inbox_claim("d", limit=0, lease=30) == []
    assert store.inbox_get(12345) is None


def test_inbox_write_dedups_within_a_group_and_across_groups(store: Store, clock: Clock) -> None:
    stored, ids = store.inbox_write(
        [
            ("d1", "d1#a", "E", b"1"),
            ("d1", "d1#b", "E", b"2"),  # same dedup key earlier in the group
            (None, "x#c", "E", b"3"),  # no dedup check (a replay)
            ("d2", "d2#d", "E", b"4"),
        ],
        window=60,
    )
    assert (stored, ids) == ([True, False, True, True], [])
    stored, _ = store.inbox_write([("d1", "d1#e", "E", b"5"), ("d3", "d3#f", "E", b"6")], window=60)
    assert stored == [False, True]  # d1 is live from the first group
    assert not store.dedup_add("d2", window=60)  # the group remembered its keys
    assert store.inbox_write([("d1", "d1#g", "E", b"7")], window=0)[0] == [True]  # no window
    clock.advance(61)
    assert store.inbox_write([("d1", "d1#h", "E", b"8")], window=60)[0] == [True]  # ended
    assert store.inbox_write([], window=60) == ([], [])
    items = store.inbox_claim("w", limit=20, lease=30)
    assert [i.payload for i in items] == [b"1", b"3", b"4", b"6", b"7", b"8"]
    assert [i.dedup_key for i in items][:2] == ["d1#a", "x#c"]
    assert all(i.event_type == "E" and i.attempts == 1 for i in items)


def test_inbox_write_keeps_dead_letters_in_the_same_transaction(store: Store) -> None:
    stored, ids = store.inbox_write(
        [("d1", "d1#a", "E", b"1"), ("d1", "d1#b", "E", b"2")],
        window=60,
        letters=[("webhook", "k", b"bad", "malformed"), ("webhook", None, b"x", "auth")],
    )
    assert stored == [True, False]
    letters = store.list_dead_letters()
    assert [d.letter_id for d in letters] == ids
    assert [(d.source, d.key, d.payload, d.error, d.attempts) for d in letters] == [
        ("webhook", "k", b"bad", "malformed", 0),
        ("webhook", None, b"x", "auth", 0),
    ]
    only_letters = store.inbox_write([], window=60, letters=[("w", None, b"", "e")])
    assert only_letters[0] == []
    assert len(only_letters[1]) == 1
    if _is_sqlite(store):  # the second entry reuses an inbox key
        entries = [("d2", "d2#a", "E", b"3"), (None, "d1#a", "E", b"4")]
        letter = ("w", "k", b"", "e")
    else:  # PostgreSQL skips a taken inbox key; a NUL byte fails its text column instead
        entries = [("d2", "d2#a", "E", b"3")]
        letter = ("w", "nul\x00", b"", "e")
    with pytest.raises(StoreError):
        store.inbox_write(entries, window=60, letters=[letter])
    assert store.dedup_add("d2", window=60)  # rolled back with the failure
    assert len(store.list_dead_letters()) == 3


def test_dedup_expire_ends_live_windows_only(store: Store, clock: Clock) -> None:
    assert store.dedup_add("a", window=60)
    assert store.dedup_add("b", window=10)
    clock.advance(11)  # b's window ended
    assert store.dedup_expire(["a", "a", "b", "unknown"]) == 1
    assert store.dedup_add("a", window=60)
    assert store.dedup_expire([]) == 0


def test_inbox_ack_many_and_release_many(store: Store, clock: Clock) -> None:
    for i in range(4):
        store.inbox_append(f"k{i}", "E", f"{i}".encode())
    ids = [i.item_id for i in store.inbox_claim("w", limit=10, lease=30)]
    assert store.inbox_ack_many([ids[0], ids[0]], "w") == 1
    assert store.inbox_ack_many([ids[1]], "other") == 0
    assert store.inbox_ack_many([], "w") == 0
    assert store.inbox_release_many([(ids[1], "boom", 10.0), (ids[2], None, 0.0)], "w") == 2
    assert store.inbox_release_many([(ids[0], None, 0.0)], "w") == 0  # done, not held
    assert store.inbox_release_many([], "w") == 0
    released = store.inbox_get(ids[1])
    assert released is not None
    assert released.last_error == "boom"
    assert [i.item_id for i in store.inbox_claim("w2", limit=10, lease=30)] == [ids[2]]
    clock.advance(11)
    assert [i.item_id for i in store.inbox_claim("w2", limit=10, lease=30)] == [ids[1]]
    clock.advance(30)  # every lease expired: nothing is held any more
    assert store.inbox_ack_many(ids, "w2") == 0
    assert store.inbox_ack_many([ids[3]], "w") == 0


def test_inbox_ack_many_beyond_one_statement(store: Store) -> None:
    store.inbox_write([(None, f"k{i}", "E", b"") for i in range(2100)], window=60)
    ids = [i.item_id for i in store.inbox_claim("w", limit=3000, lease=30)]
    assert len(ids) == 2100
    assert store.inbox_renew(ids, "w", lease=60) == 2100
    assert store.inbox_ack_many(ids, "w") == 2100
    assert store.inbox_counts()["done"] == 2100


def test_inbox_renew_extends_only_held_leases(store: Store, clock: Clock) -> None:
    for i in range(4):
        store.inbox_append(f"k{i}", "E", b"")
    mine = [i.item_id for i in store.inbox_claim("a", limit=2, lease=30)]
    theirs = [i.item_id for i in store.inbox_claim("b", limit=1, lease=30)]
    assert store.inbox_renew([*mine, *theirs, 99999], "a", lease=100) == 2
    item = store.inbox_get(mine[0])
    assert item is not None
    assert item.lease_expires_at == at(100)
    other = store.inbox_get(theirs[0])
    assert other is not None
    assert other.lease_expires_at == at(30)  # another owner's lease is left alone
    assert store.inbox_renew([], "a", lease=100) == 0
    clock.advance(50)  # b's lease expired, a's renewed ones run
    assert store.inbox_renew(theirs, "b", lease=100) == 0  # an expired lease is not renewed
    assert [i.item_id for i in store.inbox_claim("c", limit=10, lease=30)] == [
        theirs[0],
        theirs[0] + 1,
    ]
    assert store.inbox_ack(mine[0], "a")  # still held after the first lease would have ended
    assert store.inbox_renew(mine, "a", lease=10) == 1  # the acked one is no longer leased


def test_inbox_counts_every_status(store: Store) -> None:
    assert store.inbox_counts() == {"pending": 0, "leased": 0, "done": 0}
    for i in range(5):
        store.inbox_append(f"k{i}", "E", b"")
    claimed = store.inbox_claim("w", limit=3, lease=30)
    store.inbox_ack(claimed[0].item_id, "w")
    assert store.inbox_counts() == {"pending": 2, "leased": 2, "done": 1}


def test_inbox_oldest_pending_is_the_earliest_received_still_pending(
    store: Store, clock: Clock
) -> None:
    assert store.inbox_oldest_pending() is None
    store.inbox_append("k0", "E", b"")
    clock.advance(10)
    store.inbox_append("k1", "E", b"")
    clock.advance(10)
    store.inbox_append("k2", "E", b"")
    assert store.inbox_oldest_pending() == at(0)
    # The oldest is leased (no longer pending), then done: the next one counts.
    [first] = store.inbox_claim("w", limit=1, lease=30)
    assert store.inbox_oldest_pending() == at(10)
    store.inbox_ack(first.item_id, "w")
    assert store.inbox_oldest_pending() == at(10)


def test_kv_put_get_delete_list(store: Store) -> None:
    assert store.kv_get("run", "a") is None
    store.kv_put("run", "a", "1")
    store.kv_put("run", "a", "2")  # replaces
    store.kv_put("run", "ab", "3")
    store.kv_put("run", "b", "4")
    store.kv_put("other", "a", "x")
    assert store.kv_get("run", "a") == "2"
    assert store.kv_list("run") == {"a": "2", "ab": "3", "b": "4"}
    assert list(store.kv_list("run")) == ["a", "ab", "b"]
    assert store.kv_list("run", "a") == {"a": "2", "ab": "3"}
    assert store.kv_list("run", "a%") == {}  # the prefix is text, not a pattern
    assert store.kv_list("none") == {}
    assert store.kv_delete("run", "a")
    assert not store.kv_delete("run", "a")
    assert store.kv_get("other", "a") == "x"


def test_kv_compare_and_set(store: Store) -> None:
    assert not store.kv_compare_and_set("gen", "k", "1", "2")  # absent, expected a value
    assert store.kv_compare_and_set("gen", "k", None, "1")  # absent -> created
    assert not store.kv_compare_and_set("gen", "k", None, "9")  # present now
    assert not store.kv_compare_and_set("gen", "k", "0", "2")
    assert store.kv_compare_and_set("gen", "k", "1", "2")
    assert store.kv_get("gen", "k") == "2"
    assert store.kv_compare_and_set("gen", "k", "2", None)  # deletes
    assert store.kv_get("gen", "k") is None
    assert not store.kv_compare_and_set("gen", "k", "2", None)
    assert store.kv_compare_and_set("gen", "k", None, None)  # absent stays absent


def test_racing_kv_compare_and_set_on_separate_handles_one_wins(backend: Backend) -> None:
    backend.fresh(Clock())
    stores = [backend.another() for _ in range(4)]
    won = _race(4, lambda i: stores[i].kv_compare_and_set("gen", "k", None, f"v{i}"))
    assert won.count(True) == 1
    assert stores[0].kv_get("gen", "k") == f"v{won.index(True)}"


def test_inbox_purge_removes_done_items(store: Store, clock: Clock) -> None:
    store.inbox_append("k", "E", b"x")
    (item,) = store.inbox_claim("a", limit=1, lease=10)
    store.inbox_ack(item.item_id, "a")
    assert store.inbox_purge(done_before=at(-1)) == 0
    clock.advance(5)
    assert store.inbox_purge(done_before=at(1)) == 1
    assert store.inbox_get(item.item_id) is None


def test_concurrent_claims_hand_out_each_item_once(backend: Backend) -> None:
    setup = backend.fresh(Clock())
    for i in range(200):
        setup.inbox_append(f"k{i}", "E", b"x")
    stores = [backend.another() for _ in range(4)]  # separate connections, like processes
    claimed: dict[str, list[int]] = {}

    def worker(name: str, store: Store) -> None:
        mine: list[int] = []
        while batch := store.inbox_claim(name, limit=7, lease=300):
            mine.extend(i.item_id for i in batch)
        claimed[name] = mine

    threads = [threading.Thread(target=worker, args=(f"w{i}", s)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for ids in claimed.values() for i in ids]
    assert sorted(every) == sorted(set(every))
    assert len(every) == 200


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=40)
@given(
    ops=st.lists(
        st.one_of(
            st.tuples(st.just("claim"), st.sampled_from("abc"), st.integers(1, 3)),
            st.tuples(st.just("ack"), st.sampled_from("abc"), st.integers(0, 5)),
            st.tuples(st.just("release"), st.sampled_from("abc"), st.integers(0, 5)),
            st.tuples(st.just("advance"), st.just(""), st.integers(1, 40)),
            st.tuples(st.just("reclaim"), st.just(""), st.just(0)),
        ),
        max_size=40,
    )
)
def test_claims_never_hand_a_leased_item_to_two_claimers(
    make_store: StoreFactory, ops: list[tuple[str, str, int]]
) -> None:
    clock = Clock()
    store = make_store(clock)
    for i in range(6):
        store.inbox_append(f"k{i}", "E", b"x")
    ids = [item.item_id for item in store.inbox_claim("setup", limit=6, lease=0)]
    leases: dict[int, tuple[str, float]] = {}  # item -> (owner, expires)
    done: set[int] = set()
    for op, owner, n in ops:
        now = clock()
        if op == "claim":
            for item in store.inbox_claim(owner, limit=n, lease=20):
                assert item.item_id not in done
                held = leases.get(item.item_id)
                assert held is None or held[1] <= now, "handed out while leased"
                leases[item.item_id] = (owner, now + 20)
        elif op in ("ack", "release"):
            item_id = ids[n]
            held = leases.get(item_id)
            holds = held is not None and held[0] == owner and held[1] > now
            result = (
                store.inbox_ack(item_id, owner)
                if op == "ack"
                else store.inbox_release(item_id, owner)
            )
            assert result == holds
            if result:
                del leases[item_id]
                if op == "ack":
                    done.add(item_id)
        elif op == "advance":
            clock.advance(n)
        else:
            store.inbox_reclaim_expired()


# ---------------------------------------------------------------- dedup keys


def test_dedup_keys_have_a_window(store: Store, clock: Clock) -> None:
    assert store.dedup_add("e1", window=60)
    assert not store.dedup_add("e1", window=60)
    clock.advance(59)
    assert not store.dedup_add("e1", window=60)
    clock.advance(2)
    assert store.dedup_add("e1", window=60)
    assert store.dedup_add("e2", window=1)
    clock.advance(100)
    assert store.dedup_purge() == 2


# ---------------------------------------------------------------- dead letters


def test_dead_letters(store: Store) -> None:
    first = store.put_dead_letter("webhook", b"{1}", "bad", key="k1", attempts=3)
    second = store.put_dead_letter("import:products", b"{2}", "worse")
    assert [d.letter_id for d in store.list_dead_letters()] == [first, second]
    assert [d.letter_id for d in store.list_dead_letters(source="webhook")] == [first]
    assert len(store.list_dead_letters(limit=1)) == 1
    letter = store.get_dead_letter(first)
    assert letter is not None
    assert (letter.payload, letter.error, letter.key, letter.attempts) == (b"{1}", "bad", "k1", 3)
    assert store.delete_dead_letter(first)
    assert not store.delete_dead_letter(first)
    assert store.get_dead_letter(first) is None


# ---------------------------------------------------------------- spool index


def test_spool_index(store: Store) -> None:
    entry = SpoolEntry(5, "/tmp/5.json.gz", 100, at(5), "products", "{}", "d")
    store.put_spool_entry(SpoolEntry(4, "/x/4.json.gz", 50, at(4)))
    store.put_spool_entry(entry)
    assert store.get_spool_entry(5) == entry
    assert [e.job_id for e in store.list_spool_entries()] == [4, 5]
    store.put_spool_entry(SpoolEntry(5, "/y", 1, at(6)))
    assert store.get_spool_entry(5).path == "/y"  # type: ignore[union-attr]
    assert store.delete_spool_entry(5)
    assert not store.delete_spool_entry(5)
    assert store.get_spool_entry(5) is None


# ---------------------------------------------------------------- in-flight locks


def test_in_flight_lock(store: Store, clock: Clock) -> None:
    assert store.lock_holder("products", 7) is None
    assert store.acquire_lock("products", 7, "host-a", ttl=60)
    assert not store.acquire_lock("products", 7, "host-b", ttl=60)
    assert store.acquire_lock("products", 8, "host-b", ttl=60)
    holder = store.lock_holder("products", 7)
    assert holder is not None
    assert holder.owner == "host-a"
    clock.advance(30)
    assert store.acquire_lock("products", 7, "host-a", ttl=60)  # extends, keeps acquired_at
    extended = store.lock_holder("products", 7)
    assert extended is not None
    assert extended.acquired_at == holder.acquired_at
    assert extended.expires_at > holder.expires_at
    assert not store.release_lock("products", 7, "host-b")
    clock.advance(61)
    assert store.lock_holder("products", 7) is None
    assert store.acquire_lock("products", 7, "host-b", ttl=60)  # expired: taken over
    assert store.release_lock("products", 7, "host-b")
    assert store.lock_holder("products", 7) is None


# ---------------------------------------------------------------- races between handles


def _race(count: int, fn: Callable[[int], bool]) -> list[bool]:
    """Run ``fn(0..count-1)`` on threads released at once; their results in order."""
    barrier = threading.Barrier(count)
    results: list[bool] = [False] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = fn(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_racing_lock_takers_on_separate_handles_get_one_lock(backend: Backend) -> None:
    backend.fresh(Clock())
    stores = [backend.another() for _ in range(4)]
    for round_ in range(5):
        kind = f"products-{round_}"
        won = _race(4, lambda i, kind=kind: stores[i].acquire_lock(kind, 7, f"host-{i}", ttl=60))
        assert won.count(True) == 1
        holder = stores[0].lock_holder(kind, 7)
        assert holder is not None
        assert holder.owner == f"host-{won.index(True)}"


def test_racing_watermark_writers_on_separate_handles_one_wins(backend: Backend) -> None:
    backend.fresh(Clock())
    stores = [backend.another() for _ in range(4)]
    first = _race(
        4,
        lambda i: stores[i].compare_and_set_watermark(
            "products", 7, "erp", expected=None, new=f"000{i}"
        ),
    )
    assert first.count(True) == 1
    current = stores[0].get_watermark("products", 7, "erp")
    assert current is not None
    moved = _race(
        4,
        lambda i: stores[i].compare_and_set_watermark(
            "products", 7, "erp", expected=current.value, new=f"001{i}"
        ),
    )
    assert moved.count(True) == 1
    final = stores[0].get_watermark("products", 7, "erp")
    assert final is not None
    assert final.version == 2


def test_racing_dedup_and_appends_store_each_key_once(backend: Backend) -> None:
    backend.fresh(Clock())
    stores = [backend.another() for _ in range(4)]
    added = _race(4, lambda i: stores[i].dedup_add("event-1", window=60))
    appended = _race(4, lambda i: stores[i].inbox_append("event-1", "E", b"x"))
    assert added.count(True) == 1
    assert appended.count(True) == 1


# ---------------------------------------------------------------- PostgreSQL specifics


pg = pytest.mark.postgres


@pg
def test_postgres_schema_is_versioned_and_reopening_is_idempotent(pg_server: PgServer) -> None:
    schema = pg_server.new_schema_name()
    with PostgresStore(pg_server.dsn, schema=schema) as first:
        assert first.schema_version == len(_pg_sql.MIGRATIONS)
        first.insert_job(job(1))
    with PostgresStore(pg_server.dsn, schema=schema) as second:
        assert second.schema_version == len(_pg_sql.MIGRATIONS)
        assert second.get_job(1) is not None
    tables = {
        r[0]
        for r in pg_server.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
        )
    }
    assert tables == {*_pg_sql.TABLES, "schema_version"}


@pg
def test_postgres_refuses_a_newer_schema(pg_server: PgServer) -> None:
    schema = pg_server.new_schema_name()
    PostgresStore(pg_server.dsn, schema=schema, min_size=0).close()
    pg_server.execute(
        f'INSERT INTO "{schema}".schema_version (version) VALUES (%s)',
        (len(_pg_sql.MIGRATIONS) + 1,),
    )
    with pytest.raises(StoreError, match=r"knows up to"):
        PostgresStore(pg_server.dsn, schema=schema)


@pg
def test_postgres_migrations_from_many_processes_at_once_apply_once(pg_server: PgServer) -> None:
    schema = pg_server.new_schema_name()
    stores: list[PostgresStore] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def open_one(_: int) -> bool:
        try:
            store = PostgresStore(pg_server.dsn, schema=schema, min_size=0)
        except BaseException as exc:
            errors.append(exc)
            return False
        with lock:
            stores.append(store)
        return True

    assert all(_race(6, open_one)), errors
    for store in stores:
        store.close()
    versions = pg_server.execute(f'SELECT version FROM "{schema}".schema_version')
    assert versions == [(v,) for v in range(1, len(_pg_sql.MIGRATIONS) + 1)]


@pg
def test_postgres_closed_store_raises_store_error(pg_server: PgServer) -> None:
    store = PostgresStore(pg_server.dsn, schema=pg_server.new_schema_name())
    store.close()
    store.close()  # idempotent
    assert store.closed
    with pytest.raises(StoreError, match="closed"):
        store.get_job(1)


@pg
def test_postgres_pool_is_sized_and_closed(pg_server: PgServer) -> None:
    store = PostgresStore(pg_server.dsn, schema=pg_server.new_schema_name(), min_size=2, max_size=3)
    pool = store._pool
    assert (pool.min_size, pool.max_size) == (2, 3)
    assert pool.get_stats()["pool_size"] == 2
    store.close()
    assert pool.closed


@pg
def test_postgres_unreachable_server_names_it_without_the_password() -> None:
    started = time.monotonic()
    with pytest.raises(StoreError) as info:
        PostgresStore(
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
def test_postgres_repr_and_bad_dsn_hide_the_password(pg_server: PgServer) -> None:
    dsn = pg_server.dsn.replace("postgresql://postgres@", "postgresql://postgres:pw-XYZ-1@")
    with PostgresStore(dsn, schema=pg_server.new_schema_name()) as store:  # trust auth
        assert "pw-XYZ-1" not in repr(store)
        assert "pw-XYZ-1" not in str(vars(store).get("host"))
    with pytest.raises(ConfigurationError) as info:
        PostgresStore("host=db password=pw-XYZ-1 nonsense")
    assert "pw-XYZ-1" not in str(info.value)
    assert info.value.__cause__ is None


@pg
def test_postgres_errors_name_the_operation(pg_server: PgServer) -> None:
    with PostgresStore(pg_server.dsn, schema=pg_server.new_schema_name()) as store:
        with pytest.raises(StoreError, match="append to the inbox") as info:
            store.inbox_append("nul\x00key", "E", b"x")  # PostgreSQL text cannot hold NUL
        assert pg_server.dsn not in str(info.value)
        assert store.inbox_append("ok", "E", b"x")  # the pool is still usable
        with pytest.raises(StoreError, match="add a dedup key"):
            store.dedup_add("nul\x00key", window=10)  # a pipelined, relaxed commit
        assert store.dedup_add("ok", window=10)


@pg
def test_postgres_durable_progress_commits_everything_synchronously(pg_server: PgServer) -> None:
    with PostgresStore(
        pg_server.dsn, schema=pg_server.new_schema_name(), durable_progress=True
    ) as store:
        store.inbox_append("k", "E", b"x")
        (item,) = store.inbox_claim("w", limit=1, lease=30)
        assert store.dedup_add("k", window=10)
        assert store.inbox_ack(item.item_id, "w")
        assert store.inbox_reclaim_expired() == 0


@pg
def test_postgres_retries_a_statement_on_a_stale_pooled_connection(pg_server: PgServer) -> None:
    schema = pg_server.new_schema_name()
    name = f"stale-{schema}"
    with PostgresStore(
        pg_server.dsn, schema=schema, min_size=2, max_size=2, application_name=name
    ) as store:
        store.insert_job(job(1))

        def kill() -> int:
            rows = pg_server.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s",
                (name,),
            )
            return len(rows)

        assert kill() == 2
        time.sleep(0.1)
        assert store.get_job(1) is not None  # stale connection dropped, retried on a new one
        assert store.inbox_append("after-restart", "E", b"x")


@pg
def test_postgres_without_retries_a_stale_connection_is_a_store_error(
    pg_server: PgServer,
) -> None:
    schema = pg_server.new_schema_name()
    name = f"noretry-{schema}"
    with PostgresStore(
        pg_server.dsn, schema=schema, min_size=1, max_size=1, application_name=name, retries=0
    ) as store:
        store.get_job(1)
        pg_server.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
            (name,),
        )
        time.sleep(0.1)
        with pytest.raises(StoreError, match="read a job"):
            store.get_job(1)
        assert store.get_job(1) is None  # the next call gets a fresh connection


@pg
def test_postgres_from_env(pg_server: PgServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NORCE_STORE_DSN", raising=False)
    with pytest.raises(ConfigurationError, match="NORCE_STORE_DSN"):
        PostgresStore.from_env()
    schema = pg_server.new_schema_name()
    monkeypatch.setenv("NORCE_STORE_DSN", pg_server.dsn)
    monkeypatch.setenv("NORCE_STORE_SCHEMA", schema)
    with PostgresStore.from_env(max_size=2) as store:
        assert store.schema == schema
        assert store._pool.max_size == 2


def test_postgres_without_psycopg_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'norce-integration\[postgres\]'"):
        PostgresStore("postgresql://localhost/db")


def test_postgres_rejects_bad_arguments_before_connecting() -> None:
    with pytest.raises(ConfigurationError, match="schema"):
        PostgresStore("postgresql://localhost/db", schema='x"; DROP TABLE y; --')
    with pytest.raises(ConfigurationError, match="max_size"):
        PostgresStore("postgresql://localhost/db", min_size=5, max_size=2)


@pg
def test_postgres_leases_use_the_server_clock(pg_server: PgServer) -> None:
    with (
        PostgresStore(pg_server.dsn, schema=pg_server.new_schema_name()) as a,
        PostgresStore(pg_server.dsn, schema=a.schema) as b,
    ):
        a.inbox_append("k", "E", b"x")
        (item,) = a.inbox_claim("dead-worker", limit=5, lease=0.3)
        assert b.inbox_claim("live-worker", limit=5, lease=30) == []
        time.sleep(0.4)
        (again,) = b.inbox_claim("live-worker", limit=5, lease=30)
        assert (again.item_id, again.attempts) == (item.item_id, 2)
        assert not a.inbox_ack(item.item_id, "dead-worker")
        assert b.inbox_ack(item.item_id, "live-worker")
        assert a.acquire_lock("products", 7, "host-a", ttl=0.3)
        assert not b.acquire_lock("products", 7, "host-b", ttl=30)
        time.sleep(0.4)
        assert b.acquire_lock("products", 7, "host-b", ttl=30)


@pg
def test_postgres_batch_inbox_extensions(pg_server: PgServer) -> None:
    clock = Clock()
    with PostgresStore(pg_server.dsn, schema=pg_server.new_schema_name(), clock=clock) as store:
        stored = store.inbox_append_many(
            [
                ("d1", "d1#a", "E", b"1"),
                ("d1", "d1#b", "E", b"2"),  # same dedup key in the same batch
                (None, "x#c", "E", b"3"),  # no window check
                ("d2", "d1#a", "E", b"4"),  # inbox key taken
                ("d3", "d3#d", "E", b"5"),
            ],
            window=60,
        )
        assert stored == [True, False, True, False, True]
        assert store.inbox_append_many([], window=60) == []
        assert store.inbox_append_many([("d1", "d1#e", "E", b"6")], window=0) == [True]
        assert not store.dedup_add("d3", window=60)
        assert store.dedup_expire(["d3", "d3", "unknown"]) == 1
        assert store.dedup_add("d3", window=60)
        assert store.dedup_expire([]) == 0
        items = store.inbox_claim("w", limit=10, lease=30)
        assert [i.payload for i in items] == [b"1", b"3", b"5", b"6"]
        ids = [i.item_id for i in items]
        assert store.inbox_ack_many([ids[0], ids[0]], "w") == 1
        assert store.inbox_ack_many([ids[1]], "other") == 0
        assert store.inbox_ack_many([], "w") == 0
        assert store.inbox_release_many([(ids[1], "boom", 10.0), (ids[2], None, 0.0)], "w") == 2
        assert store.inbox_release_many([], "w") == 0
        released = store.inbox_get(ids[1])
        assert released is not None
        assert released.last_error == "boom"
        assert [i.item_id for i in store.inbox_claim("w2", limit=10, lease=30)] == [ids[2]]
        clock.advance(11)
        assert [i.item_id for i in store.inbox_claim("w2", limit=10, lease=30)] == [ids[1]]


@pg
def test_postgres_inbox_write_keeps_dead_letters_in_the_same_transaction(
    pg_server: PgServer,
) -> None:
    with PostgresStore(pg_server.dsn, schema=pg_server.new_schema_name()) as store:
        stored, ids = store.inbox_write(
            [("d1", "d1#a", "E", b"1"), ("d1", "d1#b", "E", b"2")],
            window=60,
            letters=[("webhook", "k", b"bad", "malformed"), ("webhook", None, b"x", "auth")],
        )
        assert stored == [True, False]
        assert [d.letter_id for d in store.list_dead_letters()] == ids
        assert store.inbox_write([], window=60) == ([], [])
        assert store.inbox_write([], window=60, letters=[("w", None, b"", "e")])[0] == []
        with pytest.raises(StoreError):
            store.inbox_write(
                [("d2", "d2#a", "E", b"3")], window=60, letters=[("w", "nul\x00", b"", "e")]
            )
        assert store.dedup_add("d2", window=60)  # rolled back with the failed letter
        assert len(store.list_dead_letters()) == 3


@pg
def test_postgres_watermarks_compare_in_code_point_order(pg_server: PgServer) -> None:
    # Under a linguistic collation "a" < "B"; in code point order (Python, SQLite) "B" < "a".
    with PostgresStore(pg_server.dsn, schema=pg_server.new_schema_name()) as store:
        assert store.compare_and_set_watermark("p", 1, "s", expected=None, new="a")
        assert not store.compare_and_set_watermark("p", 1, "s", expected="a", new="B")
        assert store.compare_and_set_watermark("p", 1, "s", expected="a", new="b")
