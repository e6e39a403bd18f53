"""The SQLite inbox's batch statements (issue 14): a claim is one statement that reads
the open items in id order, releases are one statement, old SQLite builds take the
fallback paths with the same results, and a writer waits for another connection's write
lock in short steps (up to ``busy_timeout``) instead of SQLite's growing sleeps."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from norce_integration import StoreError
from norce_integration.stores import InboxStatus, SqliteStore
from norce_integration.stores import _sqlite_sql as q


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _fill(store: SqliteStore, count: int) -> None:
    entries = [(None, f"k{i:04d}", "SkuChangedNotification", b"{}") for i in range(count)]
    store.inbox_write(entries, window=0.0)


@pytest.fixture(params=["one statement", "fallback"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    if request.param == "fallback":  # what SQLite before 3.33/3.35 runs
        monkeypatch.setattr(q, "RETURNING", False)
        monkeypatch.setattr(q, "UPDATE_FROM", False)
    clock = Clock()
    with SqliteStore(tmp_path / "s.sqlite", clock=clock) as opened:
        opened.clock = clock  # type: ignore[attr-defined]
        yield opened


def test_a_claim_takes_the_oldest_open_items_in_order(store: SqliteStore) -> None:
    _fill(store, 30)
    first = store.inbox_claim("a", limit=10, lease=30)
    assert [i.item_id for i in first] == list(range(1, 11))
    assert all(i.status is InboxStatus.LEASED and i.attempts == 1 for i in first)
    assert all(i.lease_owner == "a" for i in first)
    # Done and leased items are skipped; a released item with a delay waits its turn.
    assert store.inbox_ack_many([i.item_id for i in first[:5]], "a") == 5
    assert store.inbox_release_many([(6, "boom", 60.0)], "a") == 1
    second = store.inbox_claim("b", limit=10, lease=30)
    assert [i.item_id for i in second] == list(range(11, 21))
    store.clock.now += 61  # type: ignore[attr-defined]
    # Leases of 30 s expired: a's four items and the delayed one are claimable again.
    third = store.inbox_claim("c", limit=100, lease=30)
    assert [i.item_id for i in third] == [6, 7, 8, 9, 10, *range(11, 31)]
    item6 = next(i for i in third if i.item_id == 6)
    assert (item6.attempts, item6.last_error) == (2, "boom")
    assert store.inbox_claim("d", limit=10, lease=30) == []


def test_releases_are_settled_together_and_the_first_of_an_id_counts(store: SqliteStore) -> None:
    _fill(store, 5)
    items = store.inbox_claim("a", limit=5, lease=30)
    released = store.inbox_release_many(
        [(1, "e1", 0.0), (2, None, 10.0), (1, "again", 99.0), (3, "e3", 0.0)], "a"
    )
    assert released == 3
    assert store.inbox_release_many([(4, "x", 0.0)], "someone else") == 0
    got = {i: store.inbox_get(i) for i in (1, 2, 3, 4)}
    assert got[1] is not None
    assert got[2] is not None
    assert got[4] is not None
    assert (got[1].last_error, got[1].status) == ("e1", InboxStatus.PENDING)
    assert got[2].last_error is None
    assert got[4].status is InboxStatus.LEASED
    # The delayed one is not claimable yet; the others are.
    assert [i.item_id for i in store.inbox_claim("b", limit=10, lease=30)] == [1, 3]
    assert len(items) == 5


def test_a_thousand_acks_are_one_statement(tmp_path: Path) -> None:
    statements: list[str] = []
    with SqliteStore(tmp_path / "s.sqlite") as store:
        _fill(store, 1000)
        items = store.inbox_claim("a", limit=1000, lease=30)
        store._runner.read(lambda conn: conn.set_trace_callback(statements.append))
        assert store.inbox_ack_many([i.item_id for i in items], "a") == 1000
        store._runner.read(lambda conn: conn.set_trace_callback(None))
    updates = [s for s in statements if s.lstrip().upper().startswith("UPDATE")]
    assert len(updates) == (1 if q.KEYS_PER_STATEMENT >= 1000 else 2)


def test_a_writer_waits_for_another_connections_lock_and_then_writes(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with SqliteStore(path, busy_timeout=10) as store:
        _fill(store, 1)
        holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        released = threading.Event()

        def release() -> None:
            time.sleep(0.3)
            holder.execute("COMMIT")
            released.set()

        thread = threading.Thread(target=release)
        thread.start()
        # Longer than SQLite's own 2 ms wait: the runner's retries carry it through.
        assert [i.item_id for i in store.inbox_claim("a", limit=5, lease=30)] == [1]
        assert released.is_set()
        thread.join()
        holder.close()


def test_a_writer_gives_up_after_busy_timeout(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    with SqliteStore(path, busy_timeout=0.2) as store:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreError, match="locked"):
                _fill(store, 1)
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        _fill(store, 1)  # free again
        assert store.inbox_counts().get("pending") == 1


def test_purges_run_in_slices_and_remove_everything_due(store: SqliteStore) -> None:
    count = 2 * q.PURGE_SLICE + 500
    entries = [(f"d{i}", f"k{i:05d}", "SkuChangedNotification", b"{}") for i in range(count)]
    assert all(store.inbox_write(entries, window=60.0)[0])
    items = store.inbox_claim("a", limit=count, lease=30)
    assert store.inbox_ack_many([i.item_id for i in items], "a") == count
    _fill(store, 3)  # pending: never purged
    store.clock.now += 120  # type: ignore[attr-defined]
    cutoff = dt.datetime.fromtimestamp(store.clock.now - 1, dt.UTC)  # type: ignore[attr-defined]
    assert store.inbox_purge(done_before=cutoff) == count
    assert store.inbox_counts() == {"pending": 3, "leased": 0, "done": 0}
    assert store.dedup_purge() == count
    assert store.dedup_purge() == 0
