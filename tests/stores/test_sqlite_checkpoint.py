"""SqliteStore checkpoints its WAL on a background thread, never on a committing one."""

from __future__ import annotations

import sqlite3
import threading
import time

from norce_integration.stores import SqliteStore


def _pragma(conn: sqlite3.Connection, name: str) -> object:
    return conn.execute(f"PRAGMA {name}").fetchone()[0]


def _checkpointers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "norce-sqlite-checkpoint"]


def _wal_size_after_two_batches(tmp_path, name: str, interval: float) -> tuple[int, int]:
    path = tmp_path / name
    wal = path.with_name(path.name + "-wal")
    with SqliteStore(path, checkpoint_interval=interval) as store:
        for i in range(300):
            store.inbox_append(f"a-{i}", "SkuChangedNotification", b"{}" * 50)
        first = wal.stat().st_size
        time.sleep(0.5)  # a background checkpoint (if any) copies the log back
        for i in range(300):
            store.inbox_append(f"b-{i}", "SkuChangedNotification", b"{}" * 50)
        return first, wal.stat().st_size


def test_the_background_thread_checkpoints_so_the_log_is_reused(tmp_path):
    before = len(_checkpointers())
    first, second = _wal_size_after_two_batches(tmp_path, "bg.sqlite", 0.05)
    assert second <= first * 1.2  # checkpointed: the second batch reused the log
    idle_first, idle_second = _wal_size_after_two_batches(tmp_path, "idle.sqlite", 3600)
    assert idle_second > idle_first * 1.5  # no checkpoint on the writers: the log grew
    assert len(_checkpointers()) == before  # close() stopped every checkpointer


def test_writers_never_checkpoint_themselves(tmp_path):
    with SqliteStore(tmp_path / "s.sqlite") as store:
        assert store._runner.read(_pragma, "wal_autocheckpoint") == 0


def test_automatic_checkpoints_can_be_kept(tmp_path):
    with SqliteStore(tmp_path / "s.sqlite", checkpoint_interval=None) as store:
        assert store._runner.read(_pragma, "wal_autocheckpoint") > 0
