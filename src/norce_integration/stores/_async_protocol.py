"""The :class:`AsyncStore` protocol: :class:`~norce_integration.stores.Store` for asyncio.

The same methods, parameters, return values and guarantees as :class:`Store`, each a
coroutine; ``close`` is ``aclose``. Nothing here runs on a thread: an implementation
talks to its database with an asyncio driver (see
:class:`~norce_integration.stores.AsyncPostgresStore`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from ._protocol import (
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


__all__ = ["AsyncStore"]


@runtime_checkable
class AsyncStore(Protocol):
    """All state the SDK keeps, for asyncio. Every method is one atomic transaction.

    Each method means exactly what the :class:`~norce_integration.stores.Store` method of
    the same name means (see there); only ``close`` is called ``aclose``. Implementations
    raise :class:`~norce_integration.StoreError` when the store fails or cannot be
    reached; no driver exception escapes.
    """

    # ------------------------------------------------------------------ lifecycle

    async def aclose(self) -> None:
        """Release connections. The store is unusable afterwards."""
        ...

    # ------------------------------------------------------------------ watermarks

    async def get_watermark(self, kind: str, account_id: int, source: str) -> Watermark | None:
        """See :meth:`Store.get_watermark`."""
        ...

    async def compare_and_set_watermark(
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
        ...

    # ------------------------------------------------------------------ tracked jobs

    async def insert_job(self, job: TrackedJob) -> bool:
        """See :meth:`Store.insert_job`."""
        ...

    async def record_job_status(
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
        ...

    async def get_job(self, job_id: int, *, with_history: bool = True) -> TrackedJob | None:
        """See :meth:`Store.get_job`."""
        ...

    async def list_jobs(
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
        ...

    async def unresolved_jobs(
        self, *, kind: str | None = None, account_id: int | None = None
    ) -> list[TrackedJob]:
        """See :meth:`Store.unresolved_jobs`."""
        ...

    async def mark_superseded(
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
        ...

    # ------------------------------------------------------------------ full imports

    async def get_last_full_import(self, kind: str, account_id: int) -> FullImportRecord | None:
        """See :meth:`Store.get_last_full_import`."""
        ...

    async def set_last_full_import(self, record: FullImportRecord) -> bool:
        """See :meth:`Store.set_last_full_import`."""
        ...

    # ------------------------------------------------------------------ item versions

    async def get_item_versions(self, kind: str, keys: Sequence[str]) -> dict[str, ItemVersion]:
        """See :meth:`Store.get_item_versions`."""
        ...

    async def put_item_versions(self, kind: str, versions: Mapping[str, ItemVersion]) -> None:
        """See :meth:`Store.put_item_versions`."""
        ...

    async def delete_item_versions(self, kind: str, keys: Sequence[str]) -> int:
        """See :meth:`Store.delete_item_versions`."""
        ...

    async def count_item_versions(self, kind: str) -> int:
        """See :meth:`Store.count_item_versions`."""
        ...

    # ------------------------------------------------------------------ webhook inbox

    async def inbox_append(self, dedup_key: str, event_type: str, payload: bytes) -> bool:
        """See :meth:`Store.inbox_append`."""
        ...

    async def inbox_claim(self, owner: str, *, limit: int, lease: float) -> list[InboxItem]:
        """See :meth:`Store.inbox_claim`."""
        ...

    async def inbox_ack(self, item_id: int, owner: str) -> bool:
        """See :meth:`Store.inbox_ack`."""
        ...

    async def inbox_release(
        self, item_id: int, owner: str, *, error: str | None = None, delay: float = 0.0
    ) -> bool:
        """See :meth:`Store.inbox_release`."""
        ...

    async def inbox_reclaim_expired(self) -> int:
        """See :meth:`Store.inbox_reclaim_expired`."""
        ...

    async def inbox_get(self, item_id: int) -> InboxItem | None:
        """See :meth:`Store.inbox_get`."""
        ...

    async def inbox_purge(self, *, done_before: dt.datetime) -> int:
        """See :meth:`Store.inbox_purge`."""
        ...

    # ------------------------------------------------------------------ dedup keys

    async def dedup_add(self, key: str, *, window: float) -> bool:
        """See :meth:`Store.dedup_add`."""
        ...

    async def dedup_purge(self) -> int:
        """See :meth:`Store.dedup_purge`."""
        ...

    # ------------------------------------------------------------------ dead letters

    async def put_dead_letter(
        self,
        source: str,
        payload: bytes,
        error: str,
        *,
        key: str | None = None,
        attempts: int = 0,
    ) -> int:
        """See :meth:`Store.put_dead_letter`."""
        ...

    async def list_dead_letters(
        self, *, source: str | None = None, limit: int | None = None
    ) -> list[DeadLetter]:
        """See :meth:`Store.list_dead_letters`."""
        ...

    async def get_dead_letter(self, letter_id: int) -> DeadLetter | None:
        """See :meth:`Store.get_dead_letter`."""
        ...

    async def delete_dead_letter(self, letter_id: int) -> bool:
        """See :meth:`Store.delete_dead_letter`."""
        ...

    # ------------------------------------------------------------------ payload spool index

    async def put_spool_entry(self, entry: SpoolEntry) -> None:
        """See :meth:`Store.put_spool_entry`."""
        ...

    async def get_spool_entry(self, job_id: int) -> SpoolEntry | None:
        """See :meth:`Store.get_spool_entry`."""
        ...

    async def list_spool_entries(self) -> list[SpoolEntry]:
        """See :meth:`Store.list_spool_entries`."""
        ...

    async def delete_spool_entry(self, job_id: int) -> bool:
        """See :meth:`Store.delete_spool_entry`."""
        ...

    # ------------------------------------------------------------------ in-flight locks

    async def acquire_lock(self, kind: str, account_id: int, owner: str, *, ttl: float) -> bool:
        """See :meth:`Store.acquire_lock`."""
        ...

    async def release_lock(self, kind: str, account_id: int, owner: str) -> bool:
        """See :meth:`Store.release_lock`."""
        ...

    async def lock_holder(self, kind: str, account_id: int) -> InFlightLock | None:
        """See :meth:`Store.lock_holder`."""
        ...
