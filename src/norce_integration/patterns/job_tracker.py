"""Track Connect jobs to the end: :class:`JobTracker` and its twin :class:`AsyncJobTracker`.

Every import is an asynchronous job. The tracker records each job in the
:class:`~norce_integration.stores.Store` the moment Norce returns its id, then resolves
it by ``JobCompletedEvent`` (:meth:`JobTracker.on_job_completed`) or by polling
``Job/Get`` politely (first delay, exponential backoff with jitter, a cap, and the
server's ``Retry-After``). Because the job id is in the store before anything else
happens, a new process picks every unfinished job up again with :meth:`JobTracker.resume`
and never submits the payload a second time.

"Slow" is not "failed": a stalled job (``LastUpdated`` unchanged) and a long lead time
are *alerts*; a local wait that runs out ends as ``timed_out_locally``, which a later
resume checks again. Failed and validation-failed jobs carry the warning and error
entries of their job log.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import datetime as dt
import hashlib
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any, Literal

import attrs
import cattrs

from .._client import AsyncNorce, Norce
from .._convert import converter
from .._exceptions import (
    APIConnectionError,
    APIError,
    ConfigurationError,
    ImportJobError,
    ImportJobTimeoutError,
    ImportRefusedError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    StoreError,
)
from ..connect._resource import SubmittedImport
from ..connect.models import (
    IMPORT_SPECS,
    ImportKind,
    Job,
    JobLogEntry,
    JobResponse,
    JobStatus,
    LogSeverity,
)
from ..stores._protocol import (
    FullImportRecord,
    JobObservation,
    SpoolEntry,
    Store,
    TrackedJob,
    TrackedStatus,
)
from ._jobs import (
    AlertKind,
    JobAlert,
    PollSchedule,
    StallWatch,
    failure_entries,
    failure_message,
    first_delay,
    interpret_status,
    job_duration,
    lead_time_exceeded,
)
from ._monitor import JobMetrics, JobMonitor, LoggingMonitor, Meter
from ._payload_spool import PayloadSpool


__all__ = [
    "AsyncJobTracker",
    "FullImportGuard",
    "JobDetails",
    "JobResult",
    "JobTracker",
    "TrackingMode",
    "asubmit_payload",
    "submit_payload",
]

log = logging.getLogger(__name__)

TrackingMode = Literal["poll", "event"]
"""``"poll"``: poll ``Job/Get`` on the schedule (an event still wins if it arrives);
``"event"``: wait for ``JobCompletedEvent`` without polling, falling back to polling
after ``event_grace`` seconds."""

FullImportGuard = Callable[[TrackedJob], None]
"""Called before a full import is re-run; raises ``ImportRefusedError`` to refuse."""

_ADOPTED_KIND = "unknown"


# ---------------------------------------------------------------------------- results


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


# ---------------------------------------------------------------------------- raw resubmit


class _Digesting:
    """Counts and hashes body bytes as they stream, for the re-run's ``SubmittedImport``."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self.size = 0
        self.hash = hashlib.sha256()

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.size += len(chunk)
            self.hash.update(chunk)
            yield chunk


def _raw_request(
    kind: ImportKind | str, header: str, base: str
) -> tuple[ImportKind, str, dict[str, str]]:
    spec = IMPORT_SPECS[ImportKind(kind)]
    headers = {"X-StormConnect-Header": header, "Content-Type": "application/json"}
    return spec.kind, base + spec.path, headers


def _parse_job_response(data: Any, url: str) -> JobResponse:
    try:
        return converter.structure(data, JobResponse)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        errors = (
            cattrs.transform_error(exc)
            if isinstance(exc, cattrs.BaseValidationError)
            else [str(exc)]
        )
        raise ResponseValidationError(
            "unexpected JobResponse from Norce", errors=errors, method="POST", url=url
        ) from exc


def submit_payload(
    norce: Norce,
    kind: ImportKind | str,
    header: str,
    chunks: Iterable[bytes],
    *,
    item_count: int = 0,
) -> SubmittedImport:
    """POST pre-encoded JSON bytes to the import of ``kind`` with a ready header value.

    Used to re-run a spooled payload: the bytes are streamed as they were first sent,
    without decoding and re-encoding the items.

    Args:
        norce: the client.
        kind: which import.
        header: the exact ``X-StormConnect-Header`` value (one line of JSON).
        chunks: the body, streamed.
        item_count: the number of items the body holds (for the record).

    Raises:
        APIStatusError: Norce refused the import.
        AmbiguousImportError: the call failed after the body was sent; a job may exist.
        ResponseValidationError: the answer is not a ``JobResponse``.
    """
    spec_kind, url, headers = _raw_request(kind, header, norce.settings.connect_base)
    body = _Digesting(chunks)
    http = norce._http
    response = http.request("POST", url, kind="import", headers=headers, content=iter(body))
    result = _parse_job_response(http.json(response), url)
    return SubmittedImport(spec_kind, result, item_count, body.size, body.hash.hexdigest(), header)


async def asubmit_payload(
    norce: AsyncNorce,
    kind: ImportKind | str,
    header: str,
    chunks: Iterable[bytes],
    *,
    item_count: int = 0,
) -> SubmittedImport:
    """Async twin of :func:`submit_payload`.

    Raises:
        APIStatusError: Norce refused the import.
        AmbiguousImportError: the call failed after the body was sent; a job may exist.
        ResponseValidationError: the answer is not a ``JobResponse``.
    """
    spec_kind, url, headers = _raw_request(kind, header, norce.settings.connect_base)
    body = _Digesting(chunks)
    http = norce._http
    response = await http.request("POST", url, kind="import", headers=headers, content=iter(body))
    result = _parse_job_response(http.json(response), url)
    return SubmittedImport(spec_kind, result, item_count, body.size, body.hash.hexdigest(), header)


# ---------------------------------------------------------------------------- shared core


def _header_facts(header: Any) -> tuple[bool | None, int | None]:
    """``FullFile`` and ``AccountId`` of a header model (or ``None`` when absent)."""
    full = getattr(header, "full_file", None)
    account = getattr(header, "account_id", None)
    return (
        full if isinstance(full, bool) else None,
        account if isinstance(account, int) and not isinstance(account, bool) else None,
    )


def _event_fields(event: Any, status: JobStatus | int | None) -> tuple[int, int]:
    job_id: Any
    if isinstance(event, int) and not isinstance(event, bool):
        job_id = event
    else:
        job_id = getattr(event, "job_id", None)
        if status is None:
            status = getattr(event, "status", None)
            if status is None:
                status = getattr(event, "status_id", None)
    if not isinstance(job_id, int) or status is None:
        msg = "on_job_completed needs a JobCompletedEvent, or a job id and a status"
        raise TypeError(msg)
    return int(job_id), int(status)


@attrs.define
class _Wait:
    """Book-keeping of one wait (mutable, local to the call)."""

    job: TrackedJob
    started: float
    deadline: float | None
    stall: StallWatch
    polls_made: int = 0
    pending_polls: int = 0
    retry_after: float | None = None
    grace_pending: bool = False
    lead_alerted: bool = False
    unknown_alerted: bool = False
    last_key: tuple[Any, ...] | None = None
    last_status_id: int | None = None
    resolved_by_signal: bool = False


class _TrackerCore:
    """Configuration and the decisions both trackers share; no network I/O here."""

    _store: Store
    _spool: PayloadSpool | None

    def setup(
        self,
        store: Store,
        *,
        mode: TrackingMode,
        schedule: PollSchedule | None,
        event_grace: float,
        check_interval: float,
        timeout: float | None,
        stall_after: float | None,
        lead_time_alert: float | None,
        monitor: JobMonitor | None,
        meter: Meter | None,
        spool: PayloadSpool | None,
        full_import_guard: FullImportGuard | None,
        fetch_log: bool,
        clock: Callable[[], float],
        rng: random.Random | None,
    ) -> None:
        if mode not in ("poll", "event"):
            msg = f"must be 'poll' or 'event', got {mode!r}"
            raise ConfigurationError(msg, setting="mode")
        if check_interval <= 0:
            msg = f"must be positive, got {check_interval!r}"
            raise ConfigurationError(msg, setting="check_interval")
        self._store = store
        self.mode: TrackingMode = mode
        self.schedule = schedule or PollSchedule()
        self.event_grace = event_grace
        self.check_interval = check_interval
        self.timeout = timeout
        self.stall_after = stall_after
        self.lead_time_alert = lead_time_alert
        self.monitor: JobMonitor = monitor if monitor is not None else LoggingMonitor()
        self.metrics = JobMetrics(meter) if meter is not None else None
        self._spool = spool
        if spool is not None:
            spool.attach(store)
        self.full_import_guard = full_import_guard
        self.fetch_log = fetch_log
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security

    # --- properties both twins expose

    @property
    def store(self) -> Store:
        """The store the tracker records into."""
        return self._store

    @property
    def spool(self) -> PayloadSpool | None:
        """The payload spool, if re-runs are enabled."""
        return self._spool

    # --- pure-ish helpers

    def now(self) -> float:
        return float(self._clock())

    def utc(self, ts: float | None = None) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now() if ts is None else ts, dt.UTC)

    def record_new(
        self,
        submitted: SubmittedImport,
        *,
        full: bool,
        account_id: int,
        payload_path: str | Any | None,
        rerun_of: int | None,
    ) -> TrackedJob:
        job_id = submitted.response.job_id
        if job_id is None:
            raise ResponseValidationError(
                "Norce accepted the import but returned no JobId; nothing can be tracked",
                errors=["$.JobId: missing"],
            )
        now = self.utc()
        kind = str(ImportKind(submitted.kind).value)
        job = TrackedJob(
            job_id=int(job_id),
            kind=kind,
            full=full,
            account_id=account_id,
            submitted_at=now,
            item_count=submitted.item_count,
            payload_digest=submitted.payload_digest,
            payload_size=submitted.payload_size,
            header=submitted.header,
            rerun_of=rerun_of,
            history=(
                JobObservation(
                    job_id=int(job_id),
                    seen_at=now,
                    status=TrackedStatus.SUBMITTED,
                    source="submit",
                    note=f"rerun of job {rerun_of}" if rerun_of is not None else "",
                ),
            ),
        )
        # The store first: whatever happens next, the job id is never lost.
        if not self._store.insert_job(job):
            log.warning("job %d was already tracked; keeping the existing record", job.job_id)
        if payload_path is not None:
            if self._spool is None:
                msg = "payload_path needs a PayloadSpool (JobTracker(spool=...))"
                raise ConfigurationError(msg, setting="spool")
            try:
                self._spool.adopt(
                    payload_path,
                    job_id=job.job_id,
                    kind=kind,
                    header=submitted.header,
                    digest=submitted.payload_digest,
                )
            except StoreError:
                # Losing the copy only loses the ability to re-run; the job is tracked.
                log.exception("could not spool the payload of job %d", job.job_id)
        stored = self._store.get_job(job.job_id)
        return stored if stored is not None else job

    def adopt(self, job_id: int) -> TrackedJob:
        """Start tracking a job id this store has never seen (submitted elsewhere)."""
        now = self.utc()
        job = TrackedJob(
            job_id=job_id,
            kind=_ADOPTED_KIND,
            full=False,
            account_id=0,
            submitted_at=now,
            history=(
                JobObservation(
                    job_id=job_id,
                    seen_at=now,
                    status=TrackedStatus.SUBMITTED,
                    source="local",
                    note="adopted: not submitted through this tracker",
                ),
            ),
        )
        self._store.insert_job(job)
        stored = self._store.get_job(job_id, with_history=False)
        return stored if stored is not None else job

    def begin(self, job_id: int, timeout: float | None) -> _Wait:
        job = self._store.get_job(job_id, with_history=False) or self.adopt(job_id)
        now = self.now()
        limit = self.timeout if timeout is None else timeout
        return _Wait(
            job=job,
            started=now,
            deadline=None if limit is None else now + limit,
            stall=StallWatch(self.stall_after if self.stall_after is not None else float("inf")),
            grace_pending=self.mode == "event",
            last_status_id=job.status_id,
        )

    def next_delay(self, state: _Wait) -> float:
        now = self.now()
        submitted = state.job.submitted_at.timestamp()
        remaining = None if state.deadline is None else max(0.0, state.deadline - now)
        if state.grace_pending:
            # Event mode: no poll during the grace period, counted from submission.
            state.grace_pending = False
            delay = first_delay(self.event_grace, submitted_at=submitted, now=now)
        elif state.polls_made == 0:
            delay = first_delay(
                self.schedule.delay(0, rng=self._rng), submitted_at=submitted, now=now
            )
        else:
            delay = self.schedule.delay(
                state.polls_made, retry_after=state.retry_after, rng=self._rng
            )
        state.retry_after = None
        return delay if remaining is None else min(delay, remaining)

    def final_in_store(self, job_id: int) -> TrackedJob | None:
        job = self._store.get_job(job_id, with_history=False)
        return job if job is not None and job.status.is_final else None

    def out_of_time(self, state: _Wait) -> bool:
        return state.deadline is not None and self.now() >= state.deadline

    def alert(self, state: _Wait, kind: AlertKind, message: str, seconds: float | None) -> None:
        alert = JobAlert(
            kind=kind,
            job_id=state.job.job_id,
            import_kind=state.job.kind,
            message=message,
            at=self.utc(),
            seconds=seconds,
            status=state.job.status,
        )
        try:
            self.monitor.on_alert(alert)
        except Exception:
            log.exception("the job monitor failed on an alert")
        if self.metrics is not None:
            try:
                self.metrics.record_alert(alert)
            except Exception:
                log.exception("recording job metrics failed")

    def check_lead_time(self, state: _Wait, *, finished: float | None = None) -> None:
        if state.lead_alerted:
            return
        submitted = state.job.submitted_at.timestamp()
        until = self.now() if finished is None else finished
        if lead_time_exceeded(submitted, until, self.lead_time_alert):
            state.lead_alerted = True
            lead = until - submitted
            done = "finished after" if finished is not None else "still running after"
            self.alert(
                state,
                AlertKind.LONG_LEAD_TIME,
                f"job {state.job.job_id} ({state.job.kind}) {done} {lead:.0f}s "
                f"(threshold {self.lead_time_alert:.0f}s)",
                lead,
            )

    def observe(self, state: _Wait, dto: Job) -> TrackedStatus:
        """Interpret a ``JobDto``; record it when something changed; raise alerts."""
        now = self.now()
        status_id = int(dto.status)
        status = interpret_status(status_id)
        state.last_status_id = status_id
        key = (status_id, dto.last_updated)
        if key != state.last_key and not status.is_final:
            state.last_key = key
            updated = self._store.record_job_status(
                state.job.job_id,
                JobObservation(
                    job_id=state.job.job_id,
                    seen_at=self.utc(now),
                    status=status,
                    status_id=status_id,
                    last_updated=dto.last_updated,
                    source="poll",
                ),
                started_at=dto.start,
                add_polls=state.pending_polls,
            )
            state.pending_polls = 0
            if updated is not None:
                state.job = attrs.evolve(updated, history=())
        if status is TrackedStatus.UNKNOWN and not state.unknown_alerted:
            state.unknown_alerted = True
            self.alert(
                state,
                AlertKind.UNKNOWN_STATUS,
                f"job {state.job.job_id} reported StatusId {status_id}, unknown to this SDK; "
                "still watching it",
                None,
            )
        if not status.is_final and state.stall.observe(dto.last_updated, now):
            stalled = state.stall.stalled_for(now)
            self.alert(
                state,
                AlertKind.STALLED,
                f"job {state.job.job_id} ({state.job.kind}) made no progress for "
                f"{stalled:.0f}s (status {status}, LastUpdated {dto.last_updated})",
                stalled,
            )
        self.check_lead_time(state)
        return status

    def poll_failed(self, state: _Wait, exc: APIError) -> None:
        state.polls_made += 1
        state.pending_polls += 1
        if isinstance(exc, RateLimitError):
            state.retry_after = exc.retry_after
            log.info(
                "Job/Get for job %d was rate limited (Retry-After %s)",
                state.job.job_id,
                exc.retry_after,
            )
        else:
            # The job is not failed because we could not ask about it: try again later.
            log.warning("Job/Get for job %d failed, will poll again: %s", state.job.job_id, exc)

    def record_final_poll(self, state: _Wait, dto: Job) -> TrackedJob:
        status = interpret_status(int(dto.status))
        finished = dto.stop or self.utc()
        updated = self._store.record_job_status(
            state.job.job_id,
            JobObservation(
                job_id=state.job.job_id,
                seen_at=self.utc(),
                status=status,
                status_id=int(dto.status),
                last_updated=dto.last_updated,
                source="poll",
            ),
            totals=dto.totals,
            inserts=dto.inserts,
            updates=dto.updates,
            fail=dto.fail,
            started_at=dto.start,
            finished_at=finished,
            add_polls=state.pending_polls,
        )
        state.pending_polls = 0
        if updated is None:  # deleted under our feet: report what we saw
            return attrs.evolve(state.job, status=status, status_id=int(dto.status))
        return updated

    def flush_polls(self, state: _Wait) -> TrackedJob:
        updated = self._store.record_job_status(state.job.job_id, add_polls=state.pending_polls)
        state.pending_polls = 0
        return updated if updated is not None else state.job

    def resolved_by(self, job: TrackedJob, fallback: str) -> str:
        for obs in reversed(job.history):
            if obs.status is job.status:
                return obs.source if obs.source in ("poll", "event") else fallback
        return fallback

    def complete(
        self,
        state: _Wait | None,
        job: TrackedJob,
        *,
        dto: Job | None,
        log_entries: list[JobLogEntry],
        resolved_by: str,
        raise_on_failure: bool,
    ) -> JobResult:
        """Build the result of a final job, apply Norce's full-import rule, report it."""
        finished = job.finished_at
        lead = None if finished is None else max(0.0, (finished - job.submitted_at).total_seconds())
        duration = job_duration(dto) if dto is not None else None
        if duration is None and job.started_at is not None and job.finished_at is not None:
            duration = max(0.0, (job.finished_at - job.started_at).total_seconds())
        result = JobResult(
            job_id=job.job_id,
            kind=job.kind,
            full=job.full,
            account_id=job.account_id,
            status=job.status,
            status_id=job.status_id,
            totals=job.totals,
            inserts=job.inserts,
            updates=job.updates,
            fail=job.fail,
            submitted_at=job.submitted_at,
            started_at=job.started_at,
            finished_at=finished,
            duration=duration,
            lead_time=lead,
            polls=job.polls,
            resolved_by=resolved_by,
            log=tuple(log_entries),
            rerun_of=job.rerun_of,
        )
        if state is not None and finished is not None:
            self.check_lead_time(state, finished=finished.timestamp())
        if job.status is TrackedStatus.SUCCEEDED and job.full:
            # Idempotent, so a second wait on the same job changes nothing.
            self.after_full_success(job)
        self.report(result)
        if raise_on_failure and job.status.is_failure:
            raise ImportJobError(
                failure_message(job.status, log_entries),
                job_id=job.job_id,
                status=JobStatus(job.status_id) if job.status_id is not None else job.status,
                log=log_entries,
            )
        return result

    def after_full_success(self, job: TrackedJob) -> None:
        """Norce's rule: a successful full import supersedes earlier failed imports."""
        finished = job.finished_at or self.utc()
        self._store.set_last_full_import(
            FullImportRecord(job.kind, job.account_id, job.job_id, finished, job.item_count)
        )
        superseded = self._store.mark_superseded(
            job.kind, job.account_id, by_job_id=job.job_id, submitted_before=job.submitted_at
        )
        if superseded:
            log.info(
                "full import %d superseded earlier failed %s jobs %s; they are never retried",
                job.job_id,
                job.kind,
                superseded,
            )

    def timed_out(self, state: _Wait, timeout: float | None, raise_on_failure: bool) -> JobResult:
        now = self.now()
        waited = now - state.started
        last = f"StatusId {state.last_status_id}" if state.last_status_id is not None else "none"
        updated = self._store.record_job_status(
            state.job.job_id,
            JobObservation(
                job_id=state.job.job_id,
                seen_at=self.utc(now),
                status=TrackedStatus.TIMED_OUT_LOCALLY,
                status_id=None,
                source="local",
                note=f"stopped waiting after {waited:.0f}s; last Norce status: {last}",
            ),
            add_polls=state.pending_polls,
        )
        state.pending_polls = 0
        job = updated if updated is not None else state.job
        if job.status.is_final:
            # An event settled the job while we were deciding to give up.
            return self.complete(
                state,
                job,
                dto=None,
                log_entries=[],
                resolved_by="event",
                raise_on_failure=raise_on_failure,
            )
        result = JobResult(
            job_id=job.job_id,
            kind=job.kind,
            full=job.full,
            account_id=job.account_id,
            status=TrackedStatus.TIMED_OUT_LOCALLY,
            status_id=job.status_id,
            submitted_at=job.submitted_at,
            started_at=job.started_at,
            lead_time=max(0.0, now - job.submitted_at.timestamp()),
            polls=job.polls,
            resolved_by="timeout",
            rerun_of=job.rerun_of,
        )
        self.report(result)
        if raise_on_failure:
            raise ImportJobTimeoutError(
                f"stopped waiting after {waited:.0f}s (last Norce status: {last}); the job may "
                "still be running and may still succeed. It is recorded as timed_out_locally; "
                "resume() checks it again. Do not resubmit it.",
                job_id=job.job_id,
                status=JobStatus(job.status_id) if job.status_id is not None else None,
            )
        return result

    def report(self, result: JobResult) -> None:
        try:
            self.monitor.on_result(result)
        except Exception:
            log.exception("the job monitor failed on a result")
        if self.metrics is not None:
            try:
                self.metrics.record_result(result)
            except Exception:
                log.exception("recording job metrics failed")

    def record_event(self, job_id: int, status_id: int) -> TrackedJob | None:
        status = interpret_status(status_id)
        now = self.utc()
        job = self._store.record_job_status(
            job_id,
            JobObservation(
                job_id=job_id, seen_at=now, status=status, status_id=status_id, source="event"
            ),
            finished_at=now if status.is_final else None,
        )
        if job is None:
            log.debug("JobCompletedEvent for job %d, which this store does not track", job_id)
        return job

    def rerun_checks(self, job_id: int, force: bool) -> tuple[TrackedJob, SpoolEntry]:
        """Apply the re-run safety rules; return the job and its payload entry.

        Raises:
            ImportRefusedError: a rule refused the re-run (``rule`` names it).
        """
        job = self._store.get_job(job_id)
        if job is None:
            msg = f"job {job_id} is not tracked in this store"
            raise ImportRefusedError(msg, rule="rerun-unknown-job")
        if not job.status.is_final and not force:
            msg = (
                f"job {job_id} is {job.status}: it may still be running, and a second copy "
                "could be applied after it; wait for it (resume) or pass force=True"
            )
            raise ImportRefusedError(msg, rule="rerun-unfinished-job")
        if job.status is TrackedStatus.SUPERSEDED and not force:
            msg = (
                f"job {job_id} was superseded by full import {job.superseded_by}; re-running "
                "it would overwrite newer data. Pass force=True to do it anyway"
            )
            raise ImportRefusedError(msg, rule="rerun-superseded-job")
        if job.full and not force:
            if self.full_import_guard is None:
                msg = (
                    f"job {job_id} is a full import: re-running it deactivates everything "
                    "not in that (possibly stale) payload. Configure full_import_guard or "
                    "pass force=True"
                )
                raise ImportRefusedError(msg, rule="rerun-full-import")
            self.full_import_guard(job)
        if self._spool is None:
            msg = "re-running needs a PayloadSpool (JobTracker(spool=...))"
            raise ImportRefusedError(msg, rule="rerun-no-payload")
        entry = self._spool.get(job_id)
        if entry is None:
            msg = f"the payload of job {job_id} is not in the spool (never kept, or expired)"
            raise ImportRefusedError(msg, rule="rerun-no-payload")
        digest = self._spool.digest(job_id)
        if job.payload_digest and digest != job.payload_digest:
            msg = f"the spooled payload of job {job_id} does not match what was sent"
            raise ImportRefusedError(msg, rule="rerun-payload-mismatch")
        return job, entry

    def list_filters(
        self,
        status: TrackedStatus | str | Iterable[TrackedStatus | str] | None,
        older_than: dt.datetime | dt.timedelta | None,
        newer_than: dt.datetime | dt.timedelta | None,
    ) -> dict[str, Any]:
        def when(value: dt.datetime | dt.timedelta | None) -> dt.datetime | None:
            if isinstance(value, dt.timedelta):
                return self.utc() - value
            return value

        statuses: builtins.list[TrackedStatus] | None
        if status is None:
            statuses = None
        elif isinstance(status, str):
            statuses = [TrackedStatus(status)]
        else:
            statuses = [TrackedStatus(s) for s in status]
        return {
            "statuses": statuses,
            "submitted_before": when(older_than),
            "submitted_after": when(newer_than),
        }


def _log_or_empty(
    fetch: Callable[[], builtins.list[JobLogEntry]], job_id: int
) -> builtins.list[JobLogEntry]:
    try:
        return failure_entries(fetch())
    except APIError as exc:
        log.warning("could not fetch the log of job %d: %s", job_id, exc)
        return []


# ---------------------------------------------------------------------------- sync


class JobTracker:
    """Records, waits for, resumes, inspects and re-runs Connect jobs (blocking).

    Example:
        >>> tracker = JobTracker(norce, SqliteStore("state.sqlite"))  # doctest: +SKIP
        >>> job = tracker.submit("products", items, header)  # doctest: +SKIP
        >>> result = tracker.wait(job.job_id)  # doctest: +SKIP

    Args:
        norce: the client.
        store: where jobs are recorded (shared with other processes to resume).
        mode: ``"poll"`` or ``"event"`` (see :data:`TrackingMode`).
        schedule: the poll schedule.
        event_grace: in event mode, seconds after submission before polling starts.
        check_interval: while waiting, how often (s) the store is checked for a result
            another process recorded (a webhook receiver elsewhere).
        timeout: default local wait limit in seconds (``None``: no limit).
        stall_after: alert when ``LastUpdated`` is unchanged this long (``None``: never).
        lead_time_alert: alert when submit → finish exceeds this (``None``: never).
        monitor: receives alerts and results (default :class:`LoggingMonitor`).
        meter: an OpenTelemetry-shaped meter for metrics (optional).
        spool: keeps payloads for :meth:`rerun` (optional).
        full_import_guard: called before a full import is re-run; raises
            ``ImportRefusedError`` to refuse. Without one, re-running a full import needs
            ``force=True``.
        fetch_log: fetch ``Job/GetLog`` for failed jobs.
        fetch_counts_on_event: after an event resolved a job, spend one ``Job/Get`` for
            its counts (off: an event-resolved job makes no poll at all).
        sleep: blocks for the given seconds; ``None`` waits on an event that
            :meth:`on_job_completed` sets, so an event ends the wait at once.
        clock: seconds since the epoch (tests pass the emulator's manual clock).
        rng: random source for jitter.

    Raises:
        ConfigurationError: an option is invalid.
    """

    def __init__(
        self,
        norce: Norce,
        store: Store,
        *,
        mode: TrackingMode = "poll",
        schedule: PollSchedule | None = None,
        event_grace: float = 300.0,
        check_interval: float = 5.0,
        timeout: float | None = 4 * 3600.0,
        stall_after: float | None = 900.0,
        lead_time_alert: float | None = 3600.0,
        monitor: JobMonitor | None = None,
        meter: Meter | None = None,
        spool: PayloadSpool | None = None,
        full_import_guard: FullImportGuard | None = None,
        fetch_log: bool = True,
        fetch_counts_on_event: bool = False,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._core = _TrackerCore()
        self._core.setup(
            store,
            mode=mode,
            schedule=schedule,
            event_grace=event_grace,
            check_interval=check_interval,
            timeout=timeout,
            stall_after=stall_after,
            lead_time_alert=lead_time_alert,
            monitor=monitor,
            meter=meter,
            spool=spool,
            full_import_guard=full_import_guard,
            fetch_log=fetch_log,
            clock=clock,
            rng=rng,
        )
        self.norce = norce
        self.fetch_counts_on_event = fetch_counts_on_event
        self._sleep = sleep
        self._signals: dict[int, threading.Event] = {}
        self._signals_lock = threading.Lock()

    @property
    def store(self) -> Store:
        """The store jobs are recorded in."""
        return self._core.store

    @property
    def spool(self) -> PayloadSpool | None:
        """The payload spool, if re-runs are enabled."""
        return self._core.spool

    @property
    def mode(self) -> TrackingMode:
        """``"poll"`` or ``"event"``."""
        return self._core.mode

    @property
    def full_import_guard(self) -> FullImportGuard | None:
        """Called before a full import is re-run (``FullImport`` registers itself here)."""
        return self._core.full_import_guard

    @full_import_guard.setter
    def full_import_guard(self, guard: FullImportGuard | None) -> None:
        self._core.full_import_guard = guard

    def submit(
        self,
        kind: ImportKind | str,
        items: Iterable[Any],
        header: Any,
        *,
        full: bool | None = None,
        account_id: int | None = None,
    ) -> TrackedJob:
        """Submit an import through ``norce.connect.submit`` and track it at once.

        The payload is spooled (when a spool is configured) while it streams out.
        ``full`` and ``account_id`` default to the header's ``FullFile`` and ``AccountId``.

        Raises:
            ConfigurationError: the account id is neither given nor in the header.
            HeaderRuleError: the header breaks a Norce rule; nothing was sent.
            APIError: the submit failed (see ``ConnectResource.submit``).
        """
        header_full, header_account = _header_facts(header)
        account = account_id if account_id is not None else header_account
        if account is None:
            raise ConfigurationError("is required (not in the header)", setting="account_id")
        spool = self._core.spool
        if spool is None:
            submitted = self.norce.connect.submit(kind, items, header)
            return self.track(
                submitted, full=bool(full if full is not None else header_full), account_id=account
            )
        with spool.writer() as tee:
            submitted = self.norce.connect.submit(kind, items, header, tee=tee)
        return self.track(
            submitted,
            full=bool(full if full is not None else header_full),
            account_id=account,
            payload_path=tee,
        )

    def track(
        self,
        submitted: SubmittedImport,
        *,
        full: bool,
        account_id: int,
        payload_path: Any = None,
        rerun_of: int | None = None,
    ) -> TrackedJob:
        """Record a submitted job (id, kind, full/delta, account, size, digest) in the store.

        Call it right after ``connect.submit`` returns: from then on a crash cannot lose
        the job id and :meth:`resume` finds it.

        Args:
            submitted: what ``connect.submit`` returned.
            full: whether it was a full import.
            account_id: the submitting system account.
            payload_path: a spooled payload (a :class:`SpoolWriter` used as ``tee=``, or
                the path of a gzip file) to keep for :meth:`rerun`.
            rerun_of: the job this one re-runs.

        Raises:
            ResponseValidationError: Norce returned no job id.
            ConfigurationError: ``payload_path`` without a spool.
            StoreError: the store failed.
        """
        return self._core.record_new(
            submitted,
            full=full,
            account_id=account_id,
            payload_path=payload_path,
            rerun_of=rerun_of,
        )

    def wait(
        self,
        job_id: int,
        *,
        timeout: float | None = None,
        raise_on_failure: bool = True,
    ) -> JobResult:
        """Wait until the job is final, by event or by polling; return how it ended.

        Args:
            job_id: the job (an untracked id is adopted and tracked).
            timeout: local limit in seconds (default: the tracker's ``timeout``).
            raise_on_failure: raise on Failed/ValidationFailed and on a local timeout
                instead of returning the result.

        Raises:
            ImportJobError: the job failed or failed validation; ``.log`` holds the
                warning and error entries.
            ImportJobTimeoutError: the local wait ended first; the job may still run.
            APIError: ``Job/Get`` failed in a way retrying cannot fix (401, 404, ...).
            StoreError: the store failed.
        """
        core = self._core
        state = core.begin(job_id, timeout)
        signal = self._signal(job_id)
        try:
            if state.job.status.is_final:
                job = core.store.get_job(job_id) or state.job
                return self._finish(state, job, None, "store", raise_on_failure)
            while True:
                resolved = self._pause(state, signal, core.next_delay(state))
                if resolved is not None:
                    return self._finish(state, resolved, None, "event", raise_on_failure)
                core.check_lead_time(state)
                try:
                    dto = self.norce.connect.get_job(job_id)
                except (RateLimitError, APIConnectionError, ServerError) as exc:
                    core.poll_failed(state, exc)
                else:
                    state.polls_made += 1
                    state.pending_polls += 1
                    if core.observe(state, dto).is_final:
                        job = core.record_final_poll(state, dto)
                        return self._finish(state, job, dto, "poll", raise_on_failure)
                if core.out_of_time(state):
                    return core.timed_out(state, timeout, raise_on_failure)
        finally:
            self._drop_signal(job_id, signal)

    def on_job_completed(
        self, event_or_job_id: Any, status: JobStatus | int | None = None
    ) -> TrackedJob | None:
        """Resolve a job from ``JobCompletedEvent`` (the event handler calls this).

        Records the status in the store and wakes a :meth:`wait` on the job at once, in
        this process; waits in other processes sharing the store see it within
        ``check_interval``. No ``Job/Get`` is made.

        Args:
            event_or_job_id: a ``JobCompletedEvent`` (``job_id``, ``status``), or a job id.
            status: the ``StatusId`` when a bare job id is given.

        Returns:
            The tracked job after the update, or ``None`` if the store does not track it.

        Raises:
            TypeError: neither an event nor a job id with a status was given.
            StoreError: the store failed.
        """
        job_id, status_id = _event_fields(event_or_job_id, status)
        job = self._core.record_event(job_id, status_id)
        if job is not None and job.status.is_final:
            with self._signals_lock:
                signal = self._signals.get(job_id)
            if signal is not None:
                signal.set()
        return job

    def resume(
        self,
        *,
        timeout: float | None = None,
        raise_on_failure: bool = False,
    ) -> builtins.list[JobResult]:
        """Wait for every unresolved job in the store (after a crash or a restart).

        Jobs are never resubmitted: each is polled (or resolved by event) by its id.
        Jobs submitted long ago are polled at once.

        Args:
            timeout: local limit per job in seconds (default: the tracker's).
            raise_on_failure: raise on the first failed job instead of returning it.

        Raises:
            ImportJobError: only with ``raise_on_failure``.
            APIError: ``Job/Get`` failed in a way retrying cannot fix.
            StoreError: the store failed.
        """
        return [
            self.wait(job.job_id, timeout=timeout, raise_on_failure=raise_on_failure)
            for job in self._core.store.unresolved_jobs()
        ]

    def unresolved(self) -> builtins.list[TrackedJob]:
        """Jobs not final yet (including ``timed_out_locally``), oldest first.

        Raises:
            StoreError: the store failed.
        """
        return self._core.store.unresolved_jobs()

    def rerun(self, job_id: int, *, force: bool = False) -> TrackedJob:
        """Resubmit a finished job's exact payload and header as a new, linked job.

        The new job records ``rerun_of=job_id``. A full import goes through
        ``full_import_guard`` (or needs ``force=True`` without one); unfinished and
        superseded jobs need ``force=True`` as well.

        Raises:
            ImportRefusedError: a safety rule refused (``rule`` is one of
                ``rerun-unknown-job``, ``rerun-unfinished-job``, ``rerun-superseded-job``,
                ``rerun-full-import``, ``rerun-no-payload``, ``rerun-payload-mismatch``,
                or the guard's own).
            APIError: the submit failed.
            StoreError: the spool or the store failed.
        """
        core = self._core
        job, entry = core.rerun_checks(job_id, force)
        spool = core.spool
        assert spool is not None  # checked by _rerun_checks
        submitted = submit_payload(
            self.norce, job.kind, entry.header, spool.read(job_id), item_count=job.item_count
        )
        new = self.track(submitted, full=job.full, account_id=job.account_id, rerun_of=job_id)
        try:
            spool.copy(job_id, new.job_id)
        except StoreError:
            log.exception("could not spool the payload of re-run job %d", new.job_id)
        return new

    def show(self, job_id: int, *, fetch_log: bool = False) -> JobDetails:
        """A tracked job with its history, its spool entry and (optionally) its log.

        Raises:
            ImportJobError: the job is not tracked.
            APIError: fetching the log failed.
            StoreError: the store failed.
        """
        job = self._core.store.get_job(job_id)
        if job is None:
            raise ImportJobError("is not tracked in this store", job_id=job_id)
        entries = tuple(self.norce.connect.get_job_log(job_id)) if fetch_log else None
        spool = self._core.spool
        return JobDetails(job=job, log=entries, spool=spool.get(job_id) if spool else None)

    def list(
        self,
        *,
        kind: ImportKind | str | None = None,
        status: TrackedStatus | str | Iterable[TrackedStatus | str] | None = None,
        older_than: dt.datetime | dt.timedelta | None = None,
        newer_than: dt.datetime | dt.timedelta | None = None,
        limit: int | None = None,
    ) -> builtins.list[TrackedJob]:
        """Tracked jobs, newest first, filtered by kind, status and submission time.

        ``older_than``/``newer_than`` take a datetime or an age (a timedelta before now).

        Raises:
            ValueError: an unknown status.
            StoreError: the store failed.
        """
        filters = self._core.list_filters(status, older_than, newer_than)
        return self._core.store.list_jobs(
            kind=None if kind is None else str(kind), limit=limit, **filters
        )

    # --- internals

    def _signal(self, job_id: int) -> threading.Event:
        with self._signals_lock:
            return self._signals.setdefault(job_id, threading.Event())

    def _drop_signal(self, job_id: int, signal: threading.Event) -> None:
        with self._signals_lock:
            if self._signals.get(job_id) is signal:
                del self._signals[job_id]

    def _pause(self, state: _Wait, signal: threading.Event, seconds: float) -> TrackedJob | None:
        """Wait ``seconds``, waking early for an event; return the job if it became final."""
        core = self._core
        remaining = seconds
        while True:
            final = core.final_in_store(state.job.job_id)
            if final is not None:
                return core.store.get_job(final.job_id) or final
            if remaining <= 0:
                return None
            step = min(remaining, core.check_interval)
            if self._sleep is None:
                signal.wait(step)
            else:
                self._sleep(step)
            remaining -= step

    def _finish(
        self,
        state: _Wait,
        job: TrackedJob,
        dto: Job | None,
        resolved_by: str,
        raise_on_failure: bool,
    ) -> JobResult:
        core = self._core
        if resolved_by != "poll":
            # Found final in the store (before or during the wait): by an event here or
            # elsewhere, or by another process's poll; the history says which.
            resolved_by = core.resolved_by(job, resolved_by)
        if state.pending_polls:
            job = core.flush_polls(state)
        if (
            dto is None
            and self.fetch_counts_on_event
            and job.status is not TrackedStatus.SUPERSEDED
            and job.totals is None
        ):
            try:
                dto = self.norce.connect.get_job(job.job_id)
            except APIError as exc:
                log.warning("could not fetch the counts of job %d: %s", job.job_id, exc)
            else:
                state.pending_polls += 1
                job = core.record_final_poll(state, dto)
        entries: builtins.list[JobLogEntry] = []
        if job.status.is_failure and core.fetch_log:
            entries = _log_or_empty(lambda: self.norce.connect.get_job_log(job.job_id), job.job_id)
        return core.complete(
            state,
            job,
            dto=dto,
            log_entries=entries,
            resolved_by=resolved_by,
            raise_on_failure=raise_on_failure,
        )


# ---------------------------------------------------------------------------- async


class AsyncJobTracker:
    """The asyncio twin of :class:`JobTracker` (same options, same methods, awaited).

    The store is synchronous: its calls are short local transactions (SQLite) and run
    on the event loop. :meth:`on_job_completed` must be awaited on the tracker's loop.

    Args:
        norce: the async client.
        store: where jobs are recorded.
        mode: ``"poll"`` or ``"event"``.
        schedule: the poll schedule.
        event_grace: in event mode, seconds after submission before polling starts.
        check_interval: how often (s) a wait checks the store for another process's result.
        timeout: default local wait limit in seconds (``None``: no limit).
        stall_after: alert when ``LastUpdated`` is unchanged this long.
        lead_time_alert: alert when submit → finish exceeds this.
        monitor: receives alerts and results.
        meter: an OpenTelemetry-shaped meter (optional).
        spool: keeps payloads for :meth:`rerun`.
        full_import_guard: called before a full import is re-run.
        fetch_log: fetch ``Job/GetLog`` for failed jobs.
        fetch_counts_on_event: spend one ``Job/Get`` for counts after an event.
        sleep: an async sleep; ``None`` waits on an ``asyncio.Event`` with a timeout.
        clock: seconds since the epoch.
        rng: random source for jitter.

    Raises:
        ConfigurationError: an option is invalid.
    """

    def __init__(
        self,
        norce: AsyncNorce,
        store: Store,
        *,
        mode: TrackingMode = "poll",
        schedule: PollSchedule | None = None,
        event_grace: float = 300.0,
        check_interval: float = 5.0,
        timeout: float | None = 4 * 3600.0,
        stall_after: float | None = 900.0,
        lead_time_alert: float | None = 3600.0,
        monitor: JobMonitor | None = None,
        meter: Meter | None = None,
        spool: PayloadSpool | None = None,
        full_import_guard: FullImportGuard | None = None,
        fetch_log: bool = True,
        fetch_counts_on_event: bool = False,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._core = _TrackerCore()
        self._core.setup(
            store,
            mode=mode,
            schedule=schedule,
            event_grace=event_grace,
            check_interval=check_interval,
            timeout=timeout,
            stall_after=stall_after,
            lead_time_alert=lead_time_alert,
            monitor=monitor,
            meter=meter,
            spool=spool,
            full_import_guard=full_import_guard,
            fetch_log=fetch_log,
            clock=clock,
            rng=rng,
        )
        self.norce = norce
        self.fetch_counts_on_event = fetch_counts_on_event
        self._sleep = sleep
        self._signals: dict[int, asyncio.Event] = {}

    @property
    def store(self) -> Store:
        """The store jobs are recorded in."""
        return self._core.store

    @property
    def spool(self) -> PayloadSpool | None:
        """The payload spool, if re-runs are enabled."""
        return self._core.spool

    @property
    def mode(self) -> TrackingMode:
        """``"poll"`` or ``"event"``."""
        return self._core.mode

    @property
    def full_import_guard(self) -> FullImportGuard | None:
        """Called before a full import is re-run (``FullImport`` registers itself here)."""
        return self._core.full_import_guard

    @full_import_guard.setter
    def full_import_guard(self, guard: FullImportGuard | None) -> None:
        self._core.full_import_guard = guard

    async def submit(
        self,
        kind: ImportKind | str,
        items: Iterable[Any],
        header: Any,
        *,
        full: bool | None = None,
        account_id: int | None = None,
    ) -> TrackedJob:
        """Async twin of :meth:`JobTracker.submit` (``items`` may be an async iterable).

        Raises:
            ConfigurationError: the account id is neither given nor in the header.
            HeaderRuleError: the header breaks a Norce rule; nothing was sent.
            APIError: the submit failed.
        """
        header_full, header_account = _header_facts(header)
        account = account_id if account_id is not None else header_account
        if account is None:
            raise ConfigurationError("is required (not in the header)", setting="account_id")
        spool = self._core.spool
        if spool is None:
            submitted = await self.norce.connect.submit(kind, items, header)
            return await self.track(
                submitted, full=bool(full if full is not None else header_full), account_id=account
            )
        with spool.writer() as tee:
            submitted = await self.norce.connect.submit(kind, items, header, tee=tee)
        return await self.track(
            submitted,
            full=bool(full if full is not None else header_full),
            account_id=account,
            payload_path=tee,
        )

    async def track(
        self,
        submitted: SubmittedImport,
        *,
        full: bool,
        account_id: int,
        payload_path: Any = None,
        rerun_of: int | None = None,
    ) -> TrackedJob:
        """Async twin of :meth:`JobTracker.track`.

        Raises:
            ResponseValidationError: Norce returned no job id.
            ConfigurationError: ``payload_path`` without a spool.
            StoreError: the store failed.
        """
        return self._core.record_new(
            submitted,
            full=full,
            account_id=account_id,
            payload_path=payload_path,
            rerun_of=rerun_of,
        )

    async def wait(
        self,
        job_id: int,
        *,
        # Not asyncio.timeout(): a cancelled wait could not record "timed_out_locally".
        timeout: float | None = None,  # noqa: ASYNC109
        raise_on_failure: bool = True,
    ) -> JobResult:
        """Async twin of :meth:`JobTracker.wait`.

        Raises:
            ImportJobError: the job failed or failed validation.
            ImportJobTimeoutError: the local wait ended first; the job may still run.
            APIError: ``Job/Get`` failed in a way retrying cannot fix.
            StoreError: the store failed.
        """
        core = self._core
        state = core.begin(job_id, timeout)
        signal = self._signals.setdefault(job_id, asyncio.Event())
        try:
            if state.job.status.is_final:
                job = core.store.get_job(job_id) or state.job
                return await self._finish(state, job, None, "store", raise_on_failure)
            while True:
                resolved = await self._pause(state, signal, core.next_delay(state))
                if resolved is not None:
                    return await self._finish(state, resolved, None, "event", raise_on_failure)
                core.check_lead_time(state)
                try:
                    dto = await self.norce.connect.get_job(job_id)
                except (RateLimitError, APIConnectionError, ServerError) as exc:
                    core.poll_failed(state, exc)
                else:
                    state.polls_made += 1
                    state.pending_polls += 1
                    if core.observe(state, dto).is_final:
                        job = core.record_final_poll(state, dto)
                        return await self._finish(state, job, dto, "poll", raise_on_failure)
                if core.out_of_time(state):
                    return core.timed_out(state, timeout, raise_on_failure)
        finally:
            if self._signals.get(job_id) is signal:
                del self._signals[job_id]

    async def on_job_completed(
        self, event_or_job_id: Any, status: JobStatus | int | None = None
    ) -> TrackedJob | None:
        """Async twin of :meth:`JobTracker.on_job_completed`.

        Raises:
            TypeError: neither an event nor a job id with a status was given.
            StoreError: the store failed.
        """
        job_id, status_id = _event_fields(event_or_job_id, status)
        job = self._core.record_event(job_id, status_id)
        if job is not None and job.status.is_final:
            signal = self._signals.get(job_id)
            if signal is not None:
                signal.set()
        return job

    async def resume(
        self,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - a per-job local limit, as in wait()
        raise_on_failure: bool = False,
    ) -> builtins.list[JobResult]:
        """Async twin of :meth:`JobTracker.resume`; the jobs are awaited concurrently.

        Raises:
            ImportJobError: only with ``raise_on_failure``.
            APIError: ``Job/Get`` failed in a way retrying cannot fix.
            StoreError: the store failed.
        """
        jobs = self._core.store.unresolved_jobs()
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(
                    self.wait(job.job_id, timeout=timeout, raise_on_failure=raise_on_failure)
                )
                for job in jobs
            ]
        return [task.result() for task in tasks]

    async def unresolved(self) -> builtins.list[TrackedJob]:
        """Async twin of :meth:`JobTracker.unresolved`.

        Raises:
            StoreError: the store failed.
        """
        return self._core.store.unresolved_jobs()

    async def rerun(self, job_id: int, *, force: bool = False) -> TrackedJob:
        """Async twin of :meth:`JobTracker.rerun`.

        Raises:
            ImportRefusedError: a safety rule refused (see :meth:`JobTracker.rerun`).
            APIError: the submit failed.
            StoreError: the spool or the store failed.
        """
        core = self._core
        job, entry = core.rerun_checks(job_id, force)
        spool = core.spool
        assert spool is not None  # checked by _rerun_checks
        submitted = await asubmit_payload(
            self.norce, job.kind, entry.header, spool.read(job_id), item_count=job.item_count
        )
        new = await self.track(submitted, full=job.full, account_id=job.account_id, rerun_of=job_id)
        try:
            spool.copy(job_id, new.job_id)
        except StoreError:
            log.exception("could not spool the payload of re-run job %d", new.job_id)
        return new

    async def show(self, job_id: int, *, fetch_log: bool = False) -> JobDetails:
        """Async twin of :meth:`JobTracker.show`.

        Raises:
            ImportJobError: the job is not tracked.
            APIError: fetching the log failed.
            StoreError: the store failed.
        """
        job = self._core.store.get_job(job_id)
        if job is None:
            raise ImportJobError("is not tracked in this store", job_id=job_id)
        entries = tuple(await self.norce.connect.get_job_log(job_id)) if fetch_log else None
        spool = self._core.spool
        return JobDetails(job=job, log=entries, spool=spool.get(job_id) if spool else None)

    async def list(
        self,
        *,
        kind: ImportKind | str | None = None,
        status: TrackedStatus | str | Iterable[TrackedStatus | str] | None = None,
        older_than: dt.datetime | dt.timedelta | None = None,
        newer_than: dt.datetime | dt.timedelta | None = None,
        limit: int | None = None,
    ) -> builtins.list[TrackedJob]:
        """Async twin of :meth:`JobTracker.list`.

        Raises:
            ValueError: an unknown status.
            StoreError: the store failed.
        """
        filters = self._core.list_filters(status, older_than, newer_than)
        return self._core.store.list_jobs(
            kind=None if kind is None else str(kind), limit=limit, **filters
        )

    # --- internals

    async def _pause(
        self, state: _Wait, signal: asyncio.Event, seconds: float
    ) -> TrackedJob | None:
        core = self._core
        remaining = seconds
        while True:
            final = core.final_in_store(state.job.job_id)
            if final is not None:
                return core.store.get_job(final.job_id) or final
            if remaining <= 0:
                return None
            step = min(remaining, core.check_interval)
            if self._sleep is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(signal.wait(), step)
            else:
                await self._sleep(step)
            remaining -= step

    async def _finish(
        self,
        state: _Wait,
        job: TrackedJob,
        dto: Job | None,
        resolved_by: str,
        raise_on_failure: bool,
    ) -> JobResult:
        core = self._core
        if resolved_by != "poll":
            # Found final in the store (before or during the wait): by an event here or
            # elsewhere, or by another process's poll; the history says which.
            resolved_by = core.resolved_by(job, resolved_by)
        if state.pending_polls:
            job = core.flush_polls(state)
        if (
            dto is None
            and self.fetch_counts_on_event
            and job.status is not TrackedStatus.SUPERSEDED
            and job.totals is None
        ):
            try:
                dto = await self.norce.connect.get_job(job.job_id)
            except APIError as exc:
                log.warning("could not fetch the counts of job %d: %s", job.job_id, exc)
            else:
                state.pending_polls += 1
                job = core.record_final_poll(state, dto)
        entries: builtins.list[JobLogEntry] = []
        if job.status.is_failure and core.fetch_log:
            try:
                entries = failure_entries(await self.norce.connect.get_job_log(job.job_id))
            except APIError as exc:
                log.warning("could not fetch the log of job %d: %s", job.job_id, exc)
        return core.complete(
            state,
            job,
            dto=dto,
            log_entries=entries,
            resolved_by=resolved_by,
            raise_on_failure=raise_on_failure,
        )
