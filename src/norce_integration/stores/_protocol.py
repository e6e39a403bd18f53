"""The :class:`Store` protocol: every piece of state the SDK keeps, and one record type per table.

A store is small, synchronous and transactional. The embedded default is
:class:`~norce_integration.stores.SqliteStore`; a PostgreSQL store lets many processes on
many machines share one state. Everything an implementation must guarantee is written on
the protocol's methods, so a second implementation can be checked by the same tests.

Tables (one record type each):

=====================  ==================================================================
watermarks             :class:`Watermark` per (kind, account, source); compare-and-set,
                       never backwards
tracked jobs           :class:`TrackedJob` and its history of :class:`JobObservation`
last full import       :class:`FullImportRecord` per (kind, account)
item versions          :class:`ItemVersion` per (kind, key), bulk get/put
webhook inbox          :class:`InboxItem`: append with dedup, claim with a lease, ack, release
dedup keys             keys remembered for a window
dead letters           :class:`DeadLetter`
payload spool index    :class:`SpoolEntry` per job id
in-flight locks        :class:`InFlightLock` per (kind, account)
=====================  ==================================================================

Times are timezone-aware UTC :class:`~datetime.datetime` values in records; durations
(leases, windows, TTLs) are seconds as ``float``.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

import attrs


__all__ = [
    "FINAL_STATUSES",
    "DeadLetter",
    "FullImportRecord",
    "InFlightLock",
    "InboxItem",
    "InboxStatus",
    "ItemVersion",
    "JobObservation",
    "SpoolEntry",
    "Store",
    "TrackedJob",
    "TrackedStatus",
    "Watermark",
    "sortable_watermark",
]


class TrackedStatus(enum.StrEnum):
    """Where a tracked job stands, as the SDK sees it (stored as the string value).

    The first six mirror Norce's ``StatusId``; the rest are the SDK's own outcomes.
    ``TIMED_OUT_LOCALLY`` means *we* stopped waiting: the job may still run and succeed,
    so it is not final and a later :meth:`JobTracker.resume` checks it again.
    """

    SUBMITTED = "submitted"
    """Norce accepted the import and returned a job id; no status seen yet."""
    QUEUED = "queued"
    """StatusId 6: waiting for a worker."""
    VALIDATING = "validating"
    """StatusId 5."""
    RUNNING = "running"
    """StatusId 1 (``Initialized``): a worker is processing the job."""
    SUCCEEDED = "succeeded"
    """StatusId 2."""
    FAILED = "failed"
    """StatusId 3."""
    VALIDATION_FAILED = "validation_failed"
    """StatusId 4."""
    UNKNOWN = "unknown"
    """Norce reported a StatusId the SDK does not know; the job is watched further."""
    TIMED_OUT_LOCALLY = "timed_out_locally"
    """The local wait ended before the job did. Never "failed", never resubmitted."""
    SUPERSEDED = "superseded"
    """A failed job made obsolete by a later successful full import; never retried."""

    @property
    def is_final(self) -> bool:
        """True when nothing will change this job any more."""
        return self in FINAL_STATUSES

    @property
    def is_failure(self) -> bool:
        """True for ``FAILED`` and ``VALIDATION_FAILED``."""
        return self in (TrackedStatus.FAILED, TrackedStatus.VALIDATION_FAILED)


FINAL_STATUSES: frozenset[TrackedStatus] = frozenset(
    {
        TrackedStatus.SUCCEEDED,
        TrackedStatus.FAILED,
        TrackedStatus.VALIDATION_FAILED,
        TrackedStatus.SUPERSEDED,
    }
)
"""Statuses a job never leaves (except failed → superseded)."""


def _utc(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _utc_opt(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else _utc(value)


def sortable_watermark(value: dt.datetime | int | str) -> str:
    """Encode a watermark so that string order is value order.

    Watermarks are stored as text and a store refuses to move one backwards by comparing
    the text, so encode them with this function: datetimes become fixed-width UTC ISO
    8601 (``2024-05-01T12:00:00.000000Z``), non-negative integers are zero-padded to 20
    digits, strings are kept as they are (they must already sort).

    Raises:
        ValueError: a negative integer (it cannot be encoded to sort as text).
    """
    if isinstance(value, dt.datetime):
        utc = _utc(value).astimezone(dt.UTC)
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, bool):
        msg = "a watermark cannot be a bool"
        raise ValueError(msg)
    if isinstance(value, int):
        if value < 0:
            msg = f"a numeric watermark must be non-negative, got {value}"
            raise ValueError(msg)
        return f"{value:020d}"
    return value


@attrs.frozen
class Watermark:
    """How far a delta source has been imported.

    Attributes:
        kind: import kind (``"products"``, ...).
        account_id: the Norce system account the source imports as.
        source: the integrator's name for the source system or feed.
        value: the watermark text (see :func:`sortable_watermark`).
        version: incremented by every successful compare-and-set.
        updated_at: when it was last set.
    """

    kind: str
    account_id: int
    source: str
    value: str
    version: int
    updated_at: dt.datetime = attrs.field(converter=_utc)


@attrs.frozen
class JobObservation:
    """One status of a job as it was seen, by a poll, an event or the tracker itself.

    Attributes:
        job_id: the Connect job id.
        seen_at: local time of the observation.
        status: the SDK status it was interpreted as.
        status_id: Norce's raw ``StatusId`` (``None`` for local outcomes such as a timeout).
        last_updated: Norce's ``LastUpdated`` when the source was a poll.
        source: ``"submit"``, ``"poll"``, ``"event"``, ``"local"`` or ``"operator"``.
        note: free text (why a job was superseded, ...).
    """

    job_id: int
    seen_at: dt.datetime = attrs.field(converter=_utc)
    status: TrackedStatus = attrs.field(converter=TrackedStatus)
    status_id: int | None = None
    last_updated: dt.datetime | None = attrs.field(default=None, converter=_utc_opt)
    source: str = "poll"
    note: str = ""


@attrs.frozen
class TrackedJob:
    """A Connect job the SDK submitted (or adopted) and follows to its end.

    Attributes:
        job_id: the Connect job id.
        kind: import kind.
        full: ``True`` for a full import (``FullFile=true``).
        account_id: the system account that submitted it.
        submitted_at: when Norce returned the job id.
        item_count: items in the payload.
        payload_digest: sha256 hex of the exact body bytes.
        payload_size: body size in bytes.
        header: the ``X-StormConnect-Header`` value that was sent.
        status: the latest status (final statuses are never overwritten).
        status_id: Norce's latest raw ``StatusId``.
        totals: ``JobDto.Totals`` once known.
        inserts: ``JobDto.Inserts`` once known.
        updates: ``JobDto.Updates`` once known.
        fail: ``JobDto.Fail`` once known.
        started_at: ``JobDto.Start``.
        finished_at: when the job reached a final status (``JobDto.Stop`` when known).
        last_updated: Norce's latest ``LastUpdated``.
        polls: ``Job/Get`` calls made for this job, across processes.
        rerun_of: the job this one re-runs, if any.
        superseded_by: the successful full import that superseded this job, if any.
        history: every distinct status seen, oldest first (empty when not loaded).
    """

    job_id: int
    kind: str
    full: bool
    account_id: int
    submitted_at: dt.datetime = attrs.field(converter=_utc)
    item_count: int = 0
    payload_digest: str = ""
    payload_size: int = 0
    header: str = ""
    status: TrackedStatus = attrs.field(default=TrackedStatus.SUBMITTED, converter=TrackedStatus)
    status_id: int | None = None
    totals: int | None = None
    inserts: int | None = None
    updates: int | None = None
    fail: int | None = None
    started_at: dt.datetime | None = attrs.field(default=None, converter=_utc_opt)
    finished_at: dt.datetime | None = attrs.field(default=None, converter=_utc_opt)
    last_updated: dt.datetime | None = attrs.field(default=None, converter=_utc_opt)
    polls: int = 0
    rerun_of: int | None = None
    superseded_by: int | None = None
    history: tuple[JobObservation, ...] = ()

    @property
    def is_resolved(self) -> bool:
        """True once the job reached a final status."""
        return self.status.is_final


@attrs.frozen
class FullImportRecord:
    """The last successful full import of a kind for an account (the shrink guard's base).

    Attributes:
        kind: import kind.
        account_id: system account.
        job_id: the job that succeeded.
        finished_at: when it finished.
        item_count: items it carried.
    """

    kind: str
    account_id: int
    job_id: int
    finished_at: dt.datetime = attrs.field(converter=_utc)
    item_count: int


@attrs.frozen
class ItemVersion:
    """What was last sent for one item: a content fingerprint and an optional source version.

    Attributes:
        fingerprint: a hash of the item as sent (skip unchanged items).
        version: the source's version or modification stamp (refuse older data), if any.
    """

    fingerprint: str
    version: str | None = None


class InboxStatus(enum.StrEnum):
    """State of an inbox item."""

    PENDING = "pending"
    LEASED = "leased"
    DONE = "done"


@attrs.frozen
class InboxItem:
    """A received webhook waiting to be processed.

    Attributes:
        item_id: store-assigned id, increasing in arrival order.
        dedup_key: the key duplicates share (built from the event).
        event_type: the event type name.
        payload: the raw body.
        received_at: when it was appended.
        status: pending, leased or done.
        attempts: how many times it was claimed.
        lease_owner: who holds the lease, while leased.
        lease_expires_at: when the lease ends, while leased.
        available_at: not claimable before this time (a release may delay it).
        last_error: the error text of the last release, if any.
    """

    item_id: int
    dedup_key: str
    event_type: str
    payload: bytes
    received_at: dt.datetime = attrs.field(converter=_utc)
    status: InboxStatus = attrs.field(default=InboxStatus.PENDING, converter=InboxStatus)
    attempts: int = 0
    lease_owner: str | None = None
    lease_expires_at: dt.datetime | None = attrs.field(default=None, converter=_utc_opt)
    available_at: dt.datetime | None = attrs.field(default=None, converter=_utc_opt)
    last_error: str | None = None


@attrs.frozen
class DeadLetter:
    """Something that could not be processed and was set aside for an operator.

    Attributes:
        letter_id: store-assigned id.
        source: where it came from (``"webhook"``, ``"import:products"``, ...).
        key: an identifying key (dedup key, item key), if any.
        payload: the raw data, replayable.
        error: why it failed.
        created_at: when it was set aside.
        attempts: attempts made before giving up.
    """

    letter_id: int
    source: str
    key: str | None
    payload: bytes
    error: str
    created_at: dt.datetime = attrs.field(converter=_utc)
    attempts: int = 0


@attrs.frozen
class SpoolEntry:
    """Where the payload of a job is kept so it can be re-run.

    Attributes:
        job_id: the job the payload was sent as.
        path: the gzip file holding the exact body bytes.
        size: the compressed size on disk in bytes.
        created_at: when it was spooled.
        kind: import kind.
        header: the ``X-StormConnect-Header`` value sent with it.
        digest: sha256 hex of the uncompressed body.
    """

    job_id: int
    path: str
    size: int
    created_at: dt.datetime = attrs.field(converter=_utc)
    kind: str = ""
    header: str = ""
    digest: str = ""


@attrs.frozen
class InFlightLock:
    """The holder of "one import in flight per kind and account".

    Attributes:
        kind: import kind.
        account_id: system account.
        owner: who holds it (host, pid, run id).
        acquired_at: when it was first acquired.
        expires_at: when it lapses unless refreshed.
    """

    kind: str
    account_id: int
    owner: str
    acquired_at: dt.datetime = attrs.field(converter=_utc)
    expires_at: dt.datetime = attrs.field(converter=_utc)


@runtime_checkable
class Store(Protocol):
    """All state the SDK keeps. Synchronous; every method is one atomic transaction.

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

    # ------------------------------------------------------------------ dedup keys

    def dedup_add(self, key: str, *, window: float) -> bool:
        """Remember ``key`` for ``window`` seconds. ``True`` if it is new within its window."""
        ...

    def dedup_purge(self) -> int:
        """Forget keys whose window ended; returns how many."""
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
