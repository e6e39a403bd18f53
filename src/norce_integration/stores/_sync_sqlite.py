# GENERATED FILE: do not edit. The blocking twin of
# src/norce_integration/stores/_async_sqlite.py, made by `python scripts/gen_sync.py`.
# Edit the async source and run that command again.
"""The embedded default store on one SQLite file (stdlib :mod:`sqlite3`), for asyncio;
:class:`~norce_integration.stores.SqliteStore` is its generated blocking twin.

Each method hands one function of :mod:`._sqlite_ops` to the store's runner
(:mod:`._sqlite_runner`, which also describes the concurrency model). The schema is a
``schema_version`` table and ordered migrations, applied in one transaction at open; a
file written by a newer SDK is refused, never downgraded.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from . import _sqlite_ops as ops
from . import _sqlite_sql as q
from ._models import (
    FINAL_STATUSES,
    DeadLetter,
    FullImportRecord,
    InboxItem,
    InFlightLock,
    ItemVersion,
    JobObservation,
    SpoolEntry,
    TrackedJob,
    TrackedStatus,
    Watermark,
)
from ._sqlite_runner import SqliteOptions, SqliteRunner


__all__ = ["SqliteStore"]


class SqliteStore:
    """The store on one SQLite file (see :class:`~norce_integration.stores.Store`).

    Example:
        >>> store = SqliteStore("state/norce.sqlite")  # doctest: +SKIP
        >>> store.close()  # doctest: +SKIP

    Args:
        path: the database file (created with its parent directory if missing), or
            ``":memory:"`` for a private in-memory database (tests).
        clock: seconds since the epoch; leases, windows and TTLs are measured with it.
        busy_timeout: seconds a writer waits for another process's write lock.
        cache_mb: page cache per connection in MiB (used as needed, not reserved).
        checkpoint_interval: seconds between WAL checkpoints run by a background thread
            (``None``: SQLite's automatic checkpoints on the committing thread). A
            checkpoint fsyncs the database file; on the committing thread it stalls every
            write behind it (~100 ms), which is what a webhook receiver must not do.

    Every method raises :class:`~norce_integration.StoreError` when SQLite fails (a
    locked database past ``busy_timeout``, a full disk, a damaged file) or after closing;
    no ``sqlite3`` exception escapes. The asyncio store keeps its one connection on a
    thread of its own: the constructor returns at once, and a file that cannot be opened
    or was written by a newer schema makes every call raise.

    Raises:
        StoreError: (the blocking store's constructor) the file cannot be opened, or was
            written by a newer schema.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 30.0,
        cache_mb: float = 64.0,
        checkpoint_interval: float | None = 1.0,
    ) -> None:
        self.path = os.fspath(path)
        self._clock = clock
        options = SqliteOptions(self.path, busy_timeout, cache_mb, checkpoint_interval)
        self._runner = SqliteRunner(options, repr(self), ops.migrate_w, self.path, float(clock()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.path!r})"

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection this store opened."""
        self._runner.close()

    @property
    def schema_version(self) -> int:
        """The schema version of the open file."""
        return self._runner.read(ops.schema_version)

    # ------------------------------------------------------------------ watermarks

    def get_watermark(self, kind: str, account_id: int, source: str) -> Watermark | None:
        """See :meth:`Store.get_watermark`."""
        return self._runner.read(ops.get_watermark, kind, account_id, source)

    def compare_and_set_watermark(
        self,
        kind: str,
        account_id: int,
        source: str,
        *,
        expected: str | None,
        new: str,
        allow_backwards: bool = False,
    ) -> bool:
        """See :meth:`Store.compare_and_set_watermark`."""
        return self._runner.write(
            ops.compare_and_set_watermark_w,
            kind,
            account_id,
            source,
            expected,
            new,
            allow_backwards,
            self._clock(),
        )

    # ------------------------------------------------------------------ tracked jobs

    def insert_job(self, job: TrackedJob) -> bool:
        """See :meth:`Store.insert_job`."""
        return self._runner.write(ops.insert_job_w, job)

    def record_job_status(
        self,
        job_id: int,
        observation: JobObservation | None = None,
        *,
        totals: int | None = None,
        inserts: int | None = None,
        updates: int | None = None,
        fail: int | None = None,
        started_at: dt.datetime | None = None,
        finished_at: dt.datetime | None = None,
        add_polls: int = 0,
    ) -> TrackedJob | None:
        """See :meth:`Store.record_job_status`."""
        if observation is not None and observation.job_id != job_id:
            msg = f"observation of job {observation.job_id} recorded for job {job_id}"
            raise ValueError(msg)
        return self._runner.write(
            ops.record_job_status_w,
            job_id,
            observation,
            (totals, inserts, updates, fail),
            started_at,
            finished_at,
            add_polls,
        )

    def get_job(self, job_id: int, *, with_history: bool = True) -> TrackedJob | None:
        """See :meth:`Store.get_job`."""
        return self._runner.read(ops.get_job, job_id, with_history)

    def list_jobs(
        self,
        *,
        kind: str | None = None,
        account_id: int | None = None,
        statuses: Iterable[TrackedStatus] | None = None,
        submitted_before: dt.datetime | None = None,
        submitted_after: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[TrackedJob]:
        """See :meth:`Store.list_jobs`."""
        values = None if statuses is None else [TrackedStatus(s).value for s in statuses]
        if values == []:
            return []
        sql, params = q.list_jobs_where(
            kind=kind,
            account_id=account_id,
            statuses=values,
            submitted_before=q.ts(submitted_before),
            submitted_after=q.ts(submitted_after),
            limit=limit,
        )
        return self._runner.read(ops.list_jobs, sql, params)

    def unresolved_jobs(
        self, *, kind: str | None = None, account_id: int | None = None
    ) -> list[TrackedJob]:
        """See :meth:`Store.unresolved_jobs`."""
        open_statuses = [s for s in TrackedStatus if s not in FINAL_STATUSES]
        jobs = self.list_jobs(kind=kind, account_id=account_id, statuses=open_statuses)
        return sorted(jobs, key=lambda j: (j.submitted_at, j.job_id))

    def mark_superseded(
        self,
        kind: str,
        account_id: int,
        *,
        by_job_id: int,
        submitted_before: dt.datetime,
        statuses: Iterable[TrackedStatus] = (
            TrackedStatus.FAILED,
            TrackedStatus.VALIDATION_FAILED,
        ),
    ) -> list[int]:
        """See :meth:`Store.mark_superseded`."""
        values = [TrackedStatus(s).value for s in statuses]
        if not values:
            return []
        return self._runner.write(
            ops.mark_superseded_w,
            kind,
            account_id,
            by_job_id,
            q.ts(submitted_before),
            values,
            self._clock(),
        )

    # ------------------------------------------------------------------ full imports

    def get_last_full_import(self, kind: str, account_id: int) -> FullImportRecord | None:
        """See :meth:`Store.get_last_full_import`."""
        return self._runner.read(ops.get_last_full_import, kind, account_id)

    def set_last_full_import(self, record: FullImportRecord) -> bool:
        """See :meth:`Store.set_last_full_import`."""
        return self._runner.write(ops.set_last_full_import_w, record)

    # ------------------------------------------------------------------ item versions

    def get_item_versions(self, kind: str, keys: Sequence[str]) -> dict[str, ItemVersion]:
        """See :meth:`Store.get_item_versions`.

        Keys are looked up in chunks of 500 per indexed ``IN`` query, inside one read
        transaction so a batch sees one consistent state.
        """
        if not keys:
            return {}
        return self._runner.read(ops.get_item_versions, kind, list(keys))

    def put_item_versions(self, kind: str, versions: Mapping[str, ItemVersion]) -> None:
        """See :meth:`Store.put_item_versions`."""
        if versions:
            self._runner.write(ops.put_item_versions_w, kind, versions)

    def delete_item_versions(self, kind: str, keys: Sequence[str]) -> int:
        """See :meth:`Store.delete_item_versions`."""
        if not keys:
            return 0
        return self._runner.write(ops.delete_item_versions_w, kind, list(keys))

    def count_item_versions(self, kind: str) -> int:
        """See :meth:`Store.count_item_versions`."""
        return self._runner.read(ops.count_item_versions, kind)

    # ------------------------------------------------------------------ webhook inbox

    def inbox_append(self, dedup_key: str, event_type: str, payload: bytes) -> bool:
        """See :meth:`Store.inbox_append`."""
        return self._runner.write(ops.inbox_append_w, dedup_key, event_type, payload, self._clock())

    def inbox_claim(self, owner: str, *, limit: int, lease: float) -> list[InboxItem]:
        """See :meth:`Store.inbox_claim`."""
        if limit <= 0:
            return []
        return self._runner.write(ops.inbox_claim_w, owner, limit, lease, self._clock())

    def inbox_ack(self, item_id: int, owner: str) -> bool:
        """See :meth:`Store.inbox_ack`."""
        return self._runner.write(ops.inbox_ack_w, item_id, owner, self._clock())

    def inbox_release(
        self, item_id: int, owner: str, *, error: str | None = None, delay: float = 0.0
    ) -> bool:
        """See :meth:`Store.inbox_release`."""
        released = self._runner.write(
            ops.inbox_release_many_w, [(item_id, error, delay)], owner, self._clock()
        )
        return released > 0

    def inbox_write(
        self,
        entries: Sequence[tuple[str | None, str, str, bytes]],
        *,
        window: float,
        letters: Sequence[tuple[str, str | None, bytes, str]] = (),
    ) -> tuple[list[bool], list[int]]:
        """See :meth:`Store.inbox_write` (a constant number of statements per group)."""
        if not entries and not letters:
            return [], []
        return self._runner.write(ops.inbox_write_w, entries, window, letters, self._clock())

    def inbox_ack_many(self, item_ids: Sequence[int], owner: str) -> int:
        """See :meth:`Store.inbox_ack_many`."""
        if not item_ids:
            return 0
        return self._runner.write(ops.inbox_ack_many_w, item_ids, owner, self._clock())

    def inbox_release_many(
        self, releases: Sequence[tuple[int, str | None, float]], owner: str
    ) -> int:
        """See :meth:`Store.inbox_release_many`."""
        if not releases:
            return 0
        return self._runner.write(ops.inbox_release_many_w, releases, owner, self._clock())

    def inbox_renew(self, item_ids: Sequence[int], owner: str, *, lease: float) -> int:
        """See :meth:`Store.inbox_renew`."""
        if not item_ids:
            return 0
        return self._runner.write(ops.inbox_renew_w, item_ids, owner, lease, self._clock())

    def inbox_counts(self) -> dict[str, int]:
        """See :meth:`Store.inbox_counts`."""
        return self._runner.read(ops.inbox_counts)

    def inbox_oldest_pending(self) -> dt.datetime | None:
        """See :meth:`Store.inbox_oldest_pending`."""
        return self._runner.read(ops.inbox_oldest_pending)

    def inbox_reclaim_expired(self) -> int:
        """See :meth:`Store.inbox_reclaim_expired`."""
        return self._runner.write(ops.inbox_reclaim_expired_w, self._clock())

    def inbox_get(self, item_id: int) -> InboxItem | None:
        """See :meth:`Store.inbox_get`."""
        return self._runner.read(ops.inbox_get, item_id)

    def inbox_purge(self, *, done_before: dt.datetime) -> int:
        """See :meth:`Store.inbox_purge`.

        In slices of 2,000 items, a transaction each (a long purge would hold the write
        lock a receiver's commits wait for); only finished items are removed, so a
        reader seeing a partial purge sees nothing it could act on.
        """
        cutoff, total = q.ts(done_before), 0
        while True:
            count = self._runner.write(ops.inbox_purge_slice_w, cutoff, q.PURGE_SLICE)
            total += count
            if count < q.PURGE_SLICE:
                return total

    # ------------------------------------------------------------------ dedup keys

    def dedup_add(self, key: str, *, window: float) -> bool:
        """See :meth:`Store.dedup_add`."""
        return self._runner.write(ops.dedup_add_w, key, window, self._clock())

    def dedup_purge(self) -> int:
        """See :meth:`Store.dedup_purge` (in slices, as :meth:`inbox_purge`)."""
        now, total = self._clock(), 0
        while True:
            count = self._runner.write(ops.dedup_purge_slice_w, now, q.PURGE_SLICE)
            total += count
            if count < q.PURGE_SLICE:
                return total

    def dedup_expire(self, keys: Sequence[str]) -> int:
        """See :meth:`Store.dedup_expire`."""
        if not keys:
            return 0
        return self._runner.write(ops.dedup_expire_w, keys, self._clock())

    # ------------------------------------------------------------------ dead letters

    def put_dead_letter(
        self,
        source: str,
        payload: bytes,
        error: str,
        *,
        key: str | None = None,
        attempts: int = 0,
    ) -> int:
        """See :meth:`Store.put_dead_letter`."""
        return self._runner.write(
            ops.put_dead_letter_w, source, payload, error, key, attempts, self._clock()
        )

    def list_dead_letters(
        self, *, source: str | None = None, limit: int | None = None
    ) -> list[DeadLetter]:
        """See :meth:`Store.list_dead_letters`."""
        sql, params = q.list_letters(source=source, limit=limit)
        return self._runner.read(ops.list_dead_letters, sql, params)

    def get_dead_letter(self, letter_id: int) -> DeadLetter | None:
        """See :meth:`Store.get_dead_letter`."""
        return self._runner.read(ops.get_dead_letter, letter_id)

    def delete_dead_letter(self, letter_id: int) -> bool:
        """See :meth:`Store.delete_dead_letter`."""
        return self._runner.write(ops.delete_dead_letter_w, letter_id)

    # ------------------------------------------------------------------ payload spool index

    def put_spool_entry(self, entry: SpoolEntry) -> None:
        """See :meth:`Store.put_spool_entry`."""
        self._runner.write(ops.put_spool_entry_w, entry)

    def get_spool_entry(self, job_id: int) -> SpoolEntry | None:
        """See :meth:`Store.get_spool_entry`."""
        return self._runner.read(ops.get_spool_entry, job_id)

    def list_spool_entries(self) -> list[SpoolEntry]:
        """See :meth:`Store.list_spool_entries`."""
        return self._runner.read(ops.list_spool_entries)

    def delete_spool_entry(self, job_id: int) -> bool:
        """See :meth:`Store.delete_spool_entry`."""
        return self._runner.write(ops.delete_spool_entry_w, job_id)

    # ------------------------------------------------------------------ in-flight locks

    def acquire_lock(self, kind: str, account_id: int, owner: str, *, ttl: float) -> bool:
        """See :meth:`Store.acquire_lock`."""
        return self._runner.write(ops.acquire_lock_w, kind, account_id, owner, ttl, self._clock())

    def release_lock(self, kind: str, account_id: int, owner: str) -> bool:
        """See :meth:`Store.release_lock`."""
        return self._runner.write(ops.release_lock_w, kind, account_id, owner)

    def lock_holder(self, kind: str, account_id: int) -> InFlightLock | None:
        """See :meth:`Store.lock_holder`."""
        return self._runner.read(ops.lock_holder, kind, account_id, self._clock())

    # ------------------------------------------------------------------ key/value

    def kv_get(self, namespace: str, key: str) -> str | None:
        """See :meth:`Store.kv_get`."""
        return self._runner.read(ops.kv_get, namespace, key)

    def kv_put(self, namespace: str, key: str, value: str) -> None:
        """See :meth:`Store.kv_put`."""
        self._runner.write(ops.kv_put_w, namespace, key, value)

    def kv_compare_and_set(
        self, namespace: str, key: str, expected: str | None, new: str | None
    ) -> bool:
        """See :meth:`Store.kv_compare_and_set`."""
        return self._runner.write(ops.kv_compare_and_set_w, namespace, key, expected, new)

    def kv_delete(self, namespace: str, key: str) -> bool:
        """See :meth:`Store.kv_delete`."""
        return self._runner.write(ops.kv_delete_w, namespace, key)

    def kv_list(self, namespace: str, prefix: str = "") -> dict[str, str]:
        """See :meth:`Store.kv_list`."""
        return self._runner.read(ops.kv_list, namespace, prefix)
