# GENERATED FILE: do not edit. The blocking twin of
# src/norce_integration/stores/_async_protocol.py, made by `python scripts/gen_sync.py`.
# Edit the async source and run that command again.
"""The store protocol, declared once: :class:`AsyncStore` (asyncio).

The blocking :class:`~norce_integration.stores.Store` is generated from this file
(``_sync_protocol.py``, by ``scripts/gen_sync.py``); the record types live in
:mod:`._models`. Methods that depend on the current time use the store's own clock, so
leases and windows agree across processes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from ._models import (
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


__all__ = ["Store"]


@runtime_checkable
class Store(Protocol):
    """All state the SDK keeps; every method is one atomic transaction.

    Declared once, for asyncio; the blocking twin is generated from it with the same
    methods, parameters, results and guarantees (``close`` for ``close``).

    Implementations raise :class:`~norce_integration.StoreError` when the store fails or
    cannot be reached; no driver exception escapes. Methods that depend on the current
    time use the store's own clock, so leases and windows agree across processes.
    """

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Release connections. The store is unusable afterwards."""
        ...

    # ------------------------------------------------------------------ watermarks

    def get_watermark(self, kind: str, account_id: int, source: str) -> Watermark | None:
        """The watermark of (kind, account, source), or ``None`` before the first run."""
        ...

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
        """Set the watermark to ``new`` if it still equals ``expected`` (``None``: unset).

        Refuses (returns ``False``) when another writer moved it first, and when ``new``
        sorts before the current value unless ``allow_backwards`` (an operator reset).
        """
        ...

    # ------------------------------------------------------------------ tracked jobs

    def insert_job(self, job: TrackedJob) -> bool:
        """Record a new job and its history. Returns ``False`` if the id is already known."""
        ...

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
        """Append ``observation`` to the job's history and make it the current status.

        A final status is never replaced (an event and a late poll may race); the history
        still records what was seen. Without an observation only the counts, times and
        poll count change. Counts given here replace the stored ones; ``finished_at`` is
        set once. Returns the job after the update (with history), or ``None`` if the job
        is not tracked.

        Raises:
            ValueError: ``observation`` belongs to another job.
        """
        ...

    def get_job(self, job_id: int, *, with_history: bool = True) -> TrackedJob | None:
        """One tracked job, with its history unless told otherwise."""
        ...

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
        """Jobs matching all given filters, newest submission first, without history."""
        ...

    def unresolved_jobs(
        self, *, kind: str | None = None, account_id: int | None = None
    ) -> list[TrackedJob]:
        """Jobs not in a final status (``TIMED_OUT_LOCALLY`` included), oldest first."""
        ...

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
        """Mark earlier jobs of (kind, account) in ``statuses`` as superseded by a job.

        Returns the ids marked. Each gets a history entry naming ``by_job_id``.
        """
        ...

    # ------------------------------------------------------------------ full imports

    def get_last_full_import(self, kind: str, account_id: int) -> FullImportRecord | None:
        """The last successful full import of (kind, account), if any."""
        ...

    def set_last_full_import(self, record: FullImportRecord) -> bool:
        """Remember a successful full import; ignored (``False``) if an newer one is known."""
        ...

    # ------------------------------------------------------------------ item versions

    def get_item_versions(self, kind: str, keys: Sequence[str]) -> dict[str, ItemVersion]:
        """Stored versions of the given keys; keys never seen are absent from the result."""
        ...

    def put_item_versions(self, kind: str, versions: Mapping[str, ItemVersion]) -> None:
        """Insert or replace versions in one transaction."""
        ...

    def delete_item_versions(self, kind: str, keys: Sequence[str]) -> int:
        """Forget keys; returns how many were stored."""
        ...

    def count_item_versions(self, kind: str) -> int:
        """How many keys of ``kind`` are stored."""
        ...

    # ------------------------------------------------------------------ webhook inbox

    def inbox_append(self, dedup_key: str, event_type: str, payload: bytes) -> bool:
        """Append a received event; ``False`` (nothing stored) if its key is in the inbox."""
        ...

    def inbox_claim(self, owner: str, *, limit: int, lease: float) -> list[InboxItem]:
        """Lease up to ``limit`` claimable items to ``owner`` for ``lease`` seconds.

        Claimable: pending and available now, or leased with an expired lease. No item is
        ever handed to two claimers while its lease runs. Oldest first.
        """
        ...

    def inbox_ack(self, item_id: int, owner: str) -> bool:
        """Mark a leased item done. ``False`` if ``owner`` no longer holds its lease."""
        ...

    def inbox_release(
        self, item_id: int, owner: str, *, error: str | None = None, delay: float = 0.0
    ) -> bool:
        """Give a leased item back (claimable after ``delay`` seconds). ``False`` if not held."""
        ...

    def inbox_reclaim_expired(self) -> int:
        """Return items whose lease expired to pending; returns how many."""
        ...

    def inbox_get(self, item_id: int) -> InboxItem | None:
        """One inbox item."""
        ...

    def inbox_purge(self, *, done_before: dt.datetime) -> int:
        """Delete done items acknowledged before ``done_before``; returns how many."""
        ...

    def inbox_write(
        self,
        entries: Sequence[tuple[str | None, str, str, bytes]],
        *,
        window: float,
        letters: Sequence[tuple[str, str | None, bytes, str]] = (),
    ) -> tuple[list[bool], list[int]]:
        """Append a group of received events and dead letters in one transaction.

        Each entry is ``(dedup key, inbox key, event type, payload)``. An entry whose dedup
        key is live (remembered within its window, by an earlier call or earlier in this
        group) stores nothing; otherwise the item is appended under its inbox key and the
        dedup key is remembered for ``window`` seconds. A dedup key of ``None``, or a
        ``window`` <= 0, skips the check (a replay). Each letter is
        ``(source, key, payload, error)`` (``attempts`` 0), written in the same transaction.

        Returns:
            ``True`` (stored) or ``False`` (duplicate) per entry, and the new dead-letter id
            per letter, both in order.
        """
        ...

    def inbox_ack_many(self, item_ids: Sequence[int], owner: str) -> int:
        """:meth:`inbox_ack` for many items in one transaction; returns how many were held."""
        ...

    def inbox_release_many(
        self, releases: Sequence[tuple[int, str | None, float]], owner: str
    ) -> int:
        """:meth:`inbox_release` of ``(item_id, error, delay)`` each, in one transaction.

        Returns how many ``owner`` still held.
        """
        ...

    def inbox_renew(self, item_ids: Sequence[int], owner: str, *, lease: float) -> int:
        """Extend the unexpired leases ``owner`` holds on these items to now + ``lease``.

        Items not leased, leased by another owner or with an expired lease are left alone.
        Returns how many were extended.
        """
        ...

    def inbox_counts(self) -> dict[str, int]:
        """How many inbox items are in each :class:`InboxStatus` (every value present)."""
        ...

    def inbox_oldest_pending(self) -> dt.datetime | None:
        """When the oldest pending inbox item was received (``None``: none is pending)."""
        ...

    # ------------------------------------------------------------------ dedup keys

    def dedup_add(self, key: str, *, window: float) -> bool:
        """Remember ``key`` for ``window`` seconds. ``True`` if it is new within its window."""
        ...

    def dedup_purge(self) -> int:
        """Forget keys whose window ended; returns how many."""
        ...

    def dedup_expire(self, keys: Sequence[str]) -> int:
        """End the window of these keys now (their events are being processed).

        Returns how many of them were live.
        """
        ...

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
        """Set something aside; returns its id."""
        ...

    def list_dead_letters(
        self, *, source: str | None = None, limit: int | None = None
    ) -> list[DeadLetter]:
        """Dead letters, oldest first."""
        ...

    def get_dead_letter(self, letter_id: int) -> DeadLetter | None:
        """One dead letter."""
        ...

    def delete_dead_letter(self, letter_id: int) -> bool:
        """Delete one (after a replay succeeded or an operator dropped it)."""
        ...

    # ------------------------------------------------------------------ payload spool index

    def put_spool_entry(self, entry: SpoolEntry) -> None:
        """Insert or replace the spool entry of a job."""
        ...

    def get_spool_entry(self, job_id: int) -> SpoolEntry | None:
        """The spool entry of a job."""
        ...

    def list_spool_entries(self) -> list[SpoolEntry]:
        """All spool entries, oldest first."""
        ...

    def delete_spool_entry(self, job_id: int) -> bool:
        """Forget the spool entry of a job (the caller deletes the file)."""
        ...

    # ------------------------------------------------------------------ in-flight locks

    def acquire_lock(self, kind: str, account_id: int, owner: str, *, ttl: float) -> bool:
        """Take (or, for the same owner, extend) the lock of (kind, account) for ``ttl`` s.

        ``False`` while another owner holds an unexpired lock.
        """
        ...

    def release_lock(self, kind: str, account_id: int, owner: str) -> bool:
        """Release the lock if ``owner`` holds it."""
        ...

    def lock_holder(self, kind: str, account_id: int) -> InFlightLock | None:
        """The current unexpired holder, if any."""
        ...

    # ------------------------------------------------------------------ key/value

    def kv_get(self, namespace: str, key: str) -> str | None:
        """The value of ``key`` in ``namespace``, or ``None`` if absent."""
        ...

    def kv_put(self, namespace: str, key: str, value: str) -> None:
        """Insert or replace the value of ``key``."""
        ...

    def kv_compare_and_set(
        self, namespace: str, key: str, expected: str | None, new: str | None
    ) -> bool:
        """Replace the value if it currently equals ``expected`` (``None``: absent).

        ``new=None`` deletes the key. Atomic across processes. Returns whether it was
        applied.
        """
        ...

    def kv_delete(self, namespace: str, key: str) -> bool:
        """Delete ``key``; ``False`` if it was absent."""
        ...

    def kv_list(self, namespace: str, prefix: str = "") -> dict[str, str]:
        """Every key of ``namespace`` starting with ``prefix`` and its value, in key order."""
        ...
