"""What job tracking returns and reports: results, details, alerts, the option types."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Awaitable, Callable
from typing import Literal

import attrs

from ...connect.models import JobLogEntry, LogSeverity
from ...stores import SpoolEntry, TrackedJob, TrackedStatus


__all__ = [
    "AlertKind",
    "AsyncFullImportGuard",
    "FullImportGuard",
    "JobAlert",
    "JobDetails",
    "JobResult",
    "TrackingMode",
]

TrackingMode = Literal["poll", "event"]
"""``"poll"``: poll ``Job/Get`` on the schedule (an event still wins if it arrives);
``"event"``: wait for ``JobCompletedEvent`` without polling, falling back to polling
after ``event_grace`` seconds."""

FullImportGuard = Callable[[TrackedJob], None]
"""Called before a full import is re-run; raises ``ImportRefusedError`` to refuse."""

AsyncFullImportGuard = Callable[[TrackedJob], Awaitable[None] | None]
""":data:`FullImportGuard` for ``AsyncJobTracker``: may be a coroutine function (the
``AsyncFullImport`` guard reads the async store), and is awaited then."""


@attrs.frozen(kw_only=True)
class JobResult:
    """How a tracked job ended (or that the local wait ended first).

    Attributes:
        job_id: the Connect job id.
        kind: import kind.
        full: whether it was a full import.
        account_id: the submitting system account.
        status: ``succeeded``, ``failed``, ``validation_failed``, ``superseded`` or
            ``timed_out_locally`` (the job may still be running).
        status_id: Norce's last ``StatusId`` (``None`` if never seen).
        totals: ``JobDto.Totals`` (``None`` when resolved by an event without a poll).
        inserts: ``JobDto.Inserts``.
        updates: ``JobDto.Updates``.
        fail: ``JobDto.Fail``.
        submitted_at: when Norce returned the job id.
        started_at: ``JobDto.Start``, when known.
        finished_at: ``JobDto.Stop``, or when the event arrived.
        duration: seconds Norce ran the job (``RunTime``), when known.
        lead_time: seconds from submission to finish (to now for a local timeout).
        polls: ``Job/Get`` calls made for the job, across processes.
        resolved_by: how the outcome was learned: ``"poll"``, ``"event"``, ``"timeout"``
            (the local wait ended), or ``"store"`` (final for another reason, e.g.
            superseded).
        log: the warning and error entries of the job log (failures only).
        rerun_of: the job this one re-ran, if any.
    """

    job_id: int
    kind: str
    full: bool
    account_id: int
    status: TrackedStatus
    status_id: int | None = None
    totals: int | None = None
    inserts: int | None = None
    updates: int | None = None
    fail: int | None = None
    submitted_at: dt.datetime
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    duration: float | None = None
    lead_time: float | None = None
    polls: int = 0
    resolved_by: str = "poll"
    log: tuple[JobLogEntry, ...] = ()
    rerun_of: int | None = None

    @property
    def succeeded(self) -> bool:
        """True when Norce reported ``Succeeded``."""
        return self.status is TrackedStatus.SUCCEEDED

    @property
    def errors(self) -> list[JobLogEntry]:
        """Log entries of severity Error (records not imported)."""
        return [e for e in self.log if e.severity == LogSeverity.Error]

    @property
    def warnings(self) -> list[JobLogEntry]:
        """Log entries of severity Warning (records partly imported)."""
        return [e for e in self.log if e.severity == LogSeverity.Warning]


@attrs.frozen(kw_only=True)
class JobDetails:
    """What :meth:`JobTracker.show` returns: the tracked job with history, and its log.

    Attributes:
        job: the tracked job with every status seen.
        log: the full job log when fetched, else ``None``.
        spool: the spooled payload entry, if the payload is kept.
    """

    job: TrackedJob
    log: tuple[JobLogEntry, ...] | None = None
    spool: SpoolEntry | None = None


class AlertKind(enum.StrEnum):
    """What a :class:`JobAlert` is about. Alerts report; they never fail a job."""

    STALLED = "stalled"
    """``LastUpdated`` did not change for the configured time."""
    LONG_LEAD_TIME = "long_lead_time"
    """Submit → finish (or now) exceeded the configured threshold."""
    UNKNOWN_STATUS = "unknown_status"
    """Norce reported a ``StatusId`` the SDK does not know."""


@attrs.frozen(kw_only=True)
class JobAlert:
    """Something an operator should look at; the job is still tracked.

    Attributes:
        kind: what the alert is about.
        job_id: the Connect job.
        import_kind: the import kind of the job.
        message: a human sentence.
        at: when it was raised.
        seconds: the measured duration behind it (stall time, lead time), if any.
        status: the job's status when raised.
    """

    kind: AlertKind
    job_id: int
    import_kind: str
    message: str
    at: dt.datetime
    seconds: float | None = None
    status: TrackedStatus = TrackedStatus.SUBMITTED
