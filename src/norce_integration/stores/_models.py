"""The store's record types: one per table (plain values, no I/O).

The operations on them are declared once by
:class:`~norce_integration.stores.AsyncStore` (``_async_protocol.py``); the blocking
:class:`~norce_integration.stores.Store` is its generated twin.

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
key/value              small strings per (namespace, key): run journals, counters
=====================  ==================================================================

Times are timezone-aware UTC :class:`~datetime.datetime` values in records; durations
(leases, windows, TTLs) are seconds as ``float``.
"""

from __future__ import annotations

import datetime as dt
import enum

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
