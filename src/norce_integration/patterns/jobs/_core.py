"""The sans-IO core of job tracking: poll schedule, status rules, the wait state machine.

Nothing here sleeps, reads a clock, touches a store or sends a request: the trackers pass
times and observations in and get values and decisions back, so every rule is tested
directly (with hypothesis) and shared by :class:`AsyncJobTracker` and its generated twin.

Why these defaults (reference peers.md §0, lessons 5 and 6): Azure's own review found
1-second polling caused throttling, so the first poll waits (10 s: small Norce jobs take
a few seconds), the interval doubles up to a 2-minute cap, each delay is shortened by a
random fraction so many trackers do not poll in step, and a server's ``Retry-After`` is
honoured up to a cap. A 10-minute job costs 8-9 polls instead of 600.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from ..._exceptions import ImportRefusedError
from ...connect.models import Job, JobLogEntry, JobStatus, LogSeverity
from ...stores import JobObservation, TrackedJob, TrackedStatus
from ._models import AlertKind, JobAlert, JobResult


__all__ = [
    "Observation",
    "PollSchedule",
    "StallWatch",
    "Wait",
    "event_fields",
    "failure_entries",
    "failure_message",
    "final_result",
    "first_delay",
    "header_facts",
    "interpret_status",
    "job_duration",
    "job_status",
    "lead_time_exceeded",
    "list_filters",
    "payload_refusal",
    "poll_observation",
    "rerun_refusal",
    "resolved_by",
    "timeout_result",
]

_BY_STATUS_ID: dict[int, TrackedStatus] = {
    1: TrackedStatus.RUNNING,
    2: TrackedStatus.SUCCEEDED,
    3: TrackedStatus.FAILED,
    4: TrackedStatus.VALIDATION_FAILED,
    5: TrackedStatus.VALIDATING,
    6: TrackedStatus.QUEUED,
}


def _non_negative(_: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if not value >= 0 or math.isinf(value):
        msg = f"{attribute.name} must be a finite number >= 0, got {value!r}"
        raise ValueError(msg)


def _positive(_: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if not value > 0 or math.isinf(value):
        msg = f"{attribute.name} must be a finite number > 0, got {value!r}"
        raise ValueError(msg)


def _factor(_: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if not value >= 1 or math.isinf(value):
        msg = f"{attribute.name} must be a finite number >= 1, got {value!r}"
        raise ValueError(msg)


def _fraction(_: Any, attribute: attrs.Attribute[float], value: float) -> None:
    if not 0 <= value <= 1:
        msg = f"{attribute.name} must be between 0 and 1, got {value!r}"
        raise ValueError(msg)


@attrs.frozen(kw_only=True)
class PollSchedule:
    """When to poll ``Job/Get``: a first delay, then exponential backoff with jitter, capped.

    The delay before poll 0 is ``first_delay``; before poll ``n >= 1`` it is
    ``min(max_interval, interval * factor**(n - 1))``. Each delay is shortened by a
    random fraction of up to ``jitter`` (so it never exceeds the cap) and is at least
    ``min(retry_after, retry_after_cap)`` when the server sent ``Retry-After``.

    Attributes:
        first_delay: seconds after submission before the first poll.
        interval: the interval after the first poll, in seconds (> 0).
        factor: growth of the interval per poll (>= 1).
        max_interval: the cap of one interval in seconds (> 0).
        jitter: fraction (0..1) by which each delay may randomly be shortened.
        retry_after_cap: a ``Retry-After`` longer than this is honoured only up to it.

    Raises:
        ValueError: a value is out of range.
    """

    first_delay: float = attrs.field(default=10.0, validator=_non_negative)
    interval: float = attrs.field(default=15.0, validator=_positive)
    factor: float = attrs.field(default=2.0, validator=_factor)
    max_interval: float = attrs.field(default=120.0, validator=_positive)
    jitter: float = attrs.field(default=0.1, validator=_fraction)
    retry_after_cap: float = attrs.field(default=300.0, validator=_non_negative)

    def base_delay(self, poll: int) -> float:
        """The delay before poll ``poll`` (0-based) without jitter or server hints."""
        if poll <= 0:
            return min(self.first_delay, self.max_interval)
        if self.interval >= self.max_interval:
            return self.max_interval
        # Compare in log space: factor**n overflows a float long before polls run out.
        steps = poll - 1
        if steps * math.log(self.factor) >= math.log(self.max_interval / self.interval):
            return self.max_interval
        return min(self.max_interval, self.interval * self.factor**steps)

    def delay(
        self,
        poll: int,
        *,
        retry_after: float | None = None,
        remaining: float | None = None,
        rng: random.Random | None = None,
    ) -> float:
        """Seconds to wait before poll ``poll`` (0-based).

        Args:
            poll: how many polls were made so far.
            retry_after: the server's ``Retry-After`` from the last poll, if any.
            remaining: seconds left before the caller's deadline; the delay never
                exceeds it (the last poll happens at the deadline).
            rng: the random source for jitter (tests pass a seeded one).

        Returns:
            A finite number >= 0, never above ``max_interval`` unless ``Retry-After``
            asked for more, and never above ``retry_after_cap`` for that reason.
        """
        base = self.base_delay(poll)
        if self.jitter > 0 and base > 0:
            source = rng if rng is not None else random
            base -= base * self.jitter * source.random()
        wait = max(0.0, base)
        if retry_after is not None and math.isfinite(retry_after) and retry_after > 0:
            wait = max(wait, min(retry_after, self.retry_after_cap))
        if remaining is not None:
            wait = min(wait, max(0.0, remaining))
        return wait


def first_delay(wanted: float, *, submitted_at: float, now: float) -> float:
    """What is left of a delay meant to start at submission (a resumed job polls at once)."""
    return max(0.0, wanted - max(0.0, now - submitted_at))


def interpret_status(status_id: int | None) -> TrackedStatus:
    """Norce's ``StatusId`` as the tracker's status; unknown values are ``UNKNOWN``.

    ``UNKNOWN`` is not final: a status Norce added later is watched until the job
    reaches one the SDK knows or the local wait ends, never guessed as success or failure.
    """
    if status_id is None:
        return TrackedStatus.SUBMITTED
    return _BY_STATUS_ID.get(int(status_id), TrackedStatus.UNKNOWN)


@attrs.define
class StallWatch:
    """Detects "no progress": Norce's ``LastUpdated`` unchanged for ``stall_after`` seconds.

    Progress is judged by a *change* of ``LastUpdated`` seen locally, measured with the
    local clock, so a skew between Norce's clock and ours cannot raise false alarms.
    It alerts once per stall; a change of ``LastUpdated`` re-arms it.

    Attributes:
        stall_after: seconds without a change before a stall is reported.
    """

    stall_after: float
    _value: object = attrs.field(default=None, init=False)
    _since: float | None = attrs.field(default=None, init=False)
    _alerted: bool = attrs.field(default=False, init=False)

    def observe(self, last_updated: object, now: float) -> bool:
        """Record one observation; ``True`` exactly when a stall alert is due now."""
        if self._since is None or last_updated != self._value:
            self._value = last_updated
            self._since = now
            self._alerted = False
            return False
        if not self._alerted and now - self._since >= self.stall_after:
            self._alerted = True
            return True
        return False

    def stalled_for(self, now: float) -> float:
        """Seconds since ``LastUpdated`` last changed (0 before the first observation)."""
        return 0.0 if self._since is None else max(0.0, now - self._since)


def lead_time_exceeded(submitted_at: float, now: float, threshold: float | None) -> bool:
    """Whether submit → ``now`` exceeds ``threshold`` seconds (``None``: never)."""
    return threshold is not None and now - submitted_at > threshold


def job_duration(job: Job) -> float | None:
    """Seconds Norce spent on a job: ``RunTime``, else ``Stop - Start``, else ``None``."""
    if job.run_time is not None:
        return max(0.0, job.run_time.total_seconds())
    if job.start is not None and job.stop is not None:
        return max(0.0, (job.stop - job.start).total_seconds())
    return None


def failure_entries(log: Iterable[JobLogEntry]) -> list[JobLogEntry]:
    """The warning and error entries of a job log, in log order."""
    return [e for e in log if e.severity in (LogSeverity.Warning, LogSeverity.Error)]


def failure_message(status: TrackedStatus, entries: Sequence[JobLogEntry]) -> str:
    """A one-line message for an :class:`~norce_integration.ImportJobError`."""
    label = "validation failed" if status is TrackedStatus.VALIDATION_FAILED else "failed"
    errors = [e for e in entries if e.severity == LogSeverity.Error] or list(entries)
    if not errors:
        return f"the import {label} (the job log has no warning or error entries)"
    first = (errors[0].message or "").strip() or "(no message)"
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"the import {label}: {first}{more}"


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


@attrs.frozen
class Observation:
    """What one poll answer means for the wait.

    Attributes:
        status: the interpreted status.
        record: write it to the store now (a change of status or ``LastUpdated`` that is
            not final; a final answer is recorded with its counts by the tracker).
        alerts: alerts due now, in order.
    """

    status: TrackedStatus
    record: bool
    alerts: tuple[JobAlert, ...] = ()


@attrs.define
class Wait:
    """The state machine of one wait for one job: when to poll, what each answer means.

    Final statuses are absorbing: once :attr:`final` is set, further observations
    change nothing. No decision ever submits the job again; the only way out is a final
    status or the local deadline.

    Attributes:
        job_id: the Connect job.
        kind: its import kind (for alerts).
        submitted_at: when Norce returned the job id (seconds since the epoch).
        started: when this wait began.
        deadline: when the local wait ends (``None``: never).
        schedule: the poll schedule.
        stall: the stall detector.
        lead_time_alert: alert when submit → now/finish exceeds this (``None``: never).
        grace: in event mode, the seconds after submission before polling starts;
            ``None`` once used (or in poll mode).
        status: the last status known.
        polls_made: ``Job/Get`` calls made by this wait (failed ones included).
        pending_polls: polls not yet added to the store's counter.
        retry_after: the server's ``Retry-After`` from the last failed poll.
        last_status_id: Norce's last ``StatusId`` seen.
        final: the final status once observed.
    """

    job_id: int
    kind: str
    submitted_at: float
    started: float
    deadline: float | None
    schedule: PollSchedule
    stall: StallWatch
    lead_time_alert: float | None = None
    grace: float | None = None
    status: TrackedStatus = TrackedStatus.SUBMITTED
    polls_made: int = 0
    pending_polls: int = 0
    retry_after: float | None = None
    last_status_id: int | None = None
    final: TrackedStatus | None = None
    _last_key: tuple[Any, ...] | None = None
    _lead_alerted: bool = False
    _unknown_alerted: bool = False

    @classmethod
    def start(
        cls,
        job: TrackedJob,
        *,
        now: float,
        timeout: float | None,
        schedule: PollSchedule,
        stall_after: float | None,
        lead_time_alert: float | None,
        event_grace: float | None,
    ) -> Wait:
        """A wait for ``job`` beginning at ``now`` (``event_grace`` only in event mode)."""
        return cls(
            job_id=job.job_id,
            kind=job.kind,
            submitted_at=job.submitted_at.timestamp(),
            started=now,
            deadline=None if timeout is None else now + timeout,
            schedule=schedule,
            stall=StallWatch(stall_after if stall_after is not None else math.inf),
            lead_time_alert=lead_time_alert,
            grace=event_grace,
            status=job.status,
            last_status_id=job.status_id,
            final=job.status if job.status.is_final else None,
        )

    def next_delay(self, now: float, rng: random.Random | None = None) -> float:
        """Seconds to wait before the next poll (never past the deadline).

        The first delay (or the event-mode grace) counts from submission, so a resumed
        job polls at once; later ones follow the schedule and honour ``Retry-After``.
        """
        remaining = None if self.deadline is None else max(0.0, self.deadline - now)
        if self.grace is not None:
            delay = first_delay(self.grace, submitted_at=self.submitted_at, now=now)
            self.grace = None
        elif self.polls_made == 0:
            delay = first_delay(
                self.schedule.delay(0, rng=rng), submitted_at=self.submitted_at, now=now
            )
        else:
            delay = self.schedule.delay(self.polls_made, retry_after=self.retry_after, rng=rng)
        self.retry_after = None
        return delay if remaining is None else min(delay, remaining)

    def out_of_time(self, now: float) -> bool:
        """Whether the local deadline has passed."""
        return self.deadline is not None and now >= self.deadline

    def take_polls(self) -> int:
        """The polls to add to the store's counter now (and forget them)."""
        pending, self.pending_polls = self.pending_polls, 0
        return pending

    def poll_failed(self, retry_after: float | None = None) -> None:
        """A ``Job/Get`` failed transiently: it counts as a poll; a job is not failed
        because we could not ask about it."""
        if self.final is not None:
            return
        self.polls_made += 1
        self.pending_polls += 1
        self.retry_after = retry_after

    def observe(self, status_id: int, last_updated: object, now: float) -> Observation:
        """Interpret one ``Job/Get`` answer at ``now``: record it? which alerts?"""
        if self.final is not None:
            return Observation(self.final, record=False)
        self.polls_made += 1
        self.pending_polls += 1
        status = interpret_status(status_id)
        self.last_status_id = status_id
        self.status = status
        alerts: list[JobAlert] = []
        record = False
        if status.is_final:
            self.final = status
        else:
            key = (status_id, last_updated)
            record = key != self._last_key
            self._last_key = key
        if status is TrackedStatus.UNKNOWN and not self._unknown_alerted:
            self._unknown_alerted = True
            alerts.append(
                self._alert(
                    AlertKind.UNKNOWN_STATUS,
                    f"job {self.job_id} reported StatusId {status_id}, unknown to this SDK; "
                    "still watching it",
                    None,
                    now,
                )
            )
        if not status.is_final and self.stall.observe(last_updated, now):
            stalled = self.stall.stalled_for(now)
            alerts.append(
                self._alert(
                    AlertKind.STALLED,
                    f"job {self.job_id} ({self.kind}) made no progress for "
                    f"{stalled:.0f}s (status {status}, LastUpdated {last_updated})",
                    stalled,
                    now,
                )
            )
        lead = self.lead_alert(now)
        if lead is not None:
            alerts.append(lead)
        return Observation(status, record=record, alerts=tuple(alerts))

    def settle(self, status: TrackedStatus) -> None:
        """The job became final by other means (an event, another process)."""
        if self.final is None and status.is_final:
            self.final = status
            self.status = status

    def lead_alert(self, now: float, *, finished: float | None = None) -> JobAlert | None:
        """The long-lead-time alert, once per wait, if submit → ``finished`` (or now) is
        over the threshold."""
        if self._lead_alerted:
            return None
        until = now if finished is None else finished
        if not lead_time_exceeded(self.submitted_at, until, self.lead_time_alert):
            return None
        self._lead_alerted = True
        lead = until - self.submitted_at
        done = "finished after" if finished is not None else "still running after"
        return self._alert(
            AlertKind.LONG_LEAD_TIME,
            f"job {self.job_id} ({self.kind}) {done} {lead:.0f}s "
            f"(threshold {self.lead_time_alert:.0f}s)",
            lead,
            now,
        )

    def timeout_note(self, now: float) -> tuple[float, str]:
        """Seconds waited and the last Norce status, for the local-timeout record."""
        last = f"StatusId {self.last_status_id}" if self.last_status_id is not None else "none"
        return now - self.started, last

    def _alert(self, kind: AlertKind, message: str, seconds: float | None, now: float) -> JobAlert:
        return JobAlert(
            kind=kind,
            job_id=self.job_id,
            import_kind=self.kind,
            message=message,
            at=_utc(now),
            seconds=seconds,
            status=self.status,
        )


def poll_observation(
    job_id: int, dto: Job, seen_at: dt.datetime, *, source: str = "poll"
) -> JobObservation:
    """The history row of one ``Job/Get`` answer."""
    return JobObservation(
        job_id=job_id,
        seen_at=seen_at,
        status=interpret_status(int(dto.status)),
        status_id=int(dto.status),
        last_updated=dto.last_updated,
        source=source,
    )


def resolved_by(job: TrackedJob, fallback: str) -> str:
    """How a job found final in the store was resolved: its history says poll or event."""
    for obs in reversed(job.history):
        if obs.status is job.status:
            return obs.source if obs.source in ("poll", "event") else fallback
    return fallback


def final_result(
    job: TrackedJob,
    *,
    dto: Job | None,
    log_entries: Sequence[JobLogEntry],
    resolved_by: str,
) -> JobResult:
    """The result of a job that is final in the store."""
    finished = job.finished_at
    lead = None if finished is None else max(0.0, (finished - job.submitted_at).total_seconds())
    duration = job_duration(dto) if dto is not None else None
    if duration is None and job.started_at is not None and finished is not None:
        duration = max(0.0, (finished - job.started_at).total_seconds())
    return JobResult(
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


def timeout_result(job: TrackedJob, now: float) -> JobResult:
    """The result of a wait that ended locally before the job did."""
    return JobResult(
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


def job_status(job: TrackedJob) -> JobStatus | TrackedStatus:
    """Norce's ``JobStatus`` of a job when known, else the tracker's status."""
    return JobStatus(job.status_id) if job.status_id is not None else job.status


def rerun_refusal(
    job_id: int, job: TrackedJob | None, *, force: bool, guarded: bool
) -> ImportRefusedError | None:
    """Why re-running ``job`` is refused before its payload is looked at (``None``: go on;
    a guarded full import still goes through the guard)."""
    if job is None:
        return ImportRefusedError(
            f"job {job_id} is not tracked in this store", rule="rerun-unknown-job"
        )
    if force:
        return None
    if not job.status.is_final:
        return ImportRefusedError(
            f"job {job_id} is {job.status}: it may still be running, and a second copy "
            "could be applied after it; wait for it (resume) or pass force=True",
            rule="rerun-unfinished-job",
        )
    if job.status is TrackedStatus.SUPERSEDED:
        return ImportRefusedError(
            f"job {job_id} was superseded by full import {job.superseded_by}; re-running "
            "it would overwrite newer data. Pass force=True to do it anyway",
            rule="rerun-superseded-job",
        )
    if job.full and not guarded:
        return ImportRefusedError(
            f"job {job_id} is a full import: re-running it deactivates everything "
            "not in that (possibly stale) payload. Configure full_import_guard or "
            "pass force=True",
            rule="rerun-full-import",
        )
    return None


def payload_refusal(
    job: TrackedJob, *, spooling: bool, spooled: bool, digest: str | None
) -> ImportRefusedError | None:
    """Why the kept payload cannot be re-sent (``None``: it can)."""
    if not spooling:
        return ImportRefusedError(
            "re-running needs a PayloadSpool (JobTracker(spool=...))", rule="rerun-no-payload"
        )
    if not spooled:
        return ImportRefusedError(
            f"the payload of job {job.job_id} is not in the spool (never kept, or expired)",
            rule="rerun-no-payload",
        )
    if job.payload_digest and digest != job.payload_digest:
        return ImportRefusedError(
            f"the spooled payload of job {job.job_id} does not match what was sent",
            rule="rerun-payload-mismatch",
        )
    return None


def header_facts(header: Any) -> tuple[bool | None, int | None]:
    """``FullFile`` and ``AccountId`` of a header model (or ``None`` when absent)."""
    full = getattr(header, "full_file", None)
    account = getattr(header, "account_id", None)
    return (
        full if isinstance(full, bool) else None,
        account if isinstance(account, int) and not isinstance(account, bool) else None,
    )


def event_fields(event: Any, status: JobStatus | int | None) -> tuple[int, int]:
    """Job id and ``StatusId`` of a ``JobCompletedEvent`` or of a bare id and status.

    Raises:
        TypeError: neither was given.
    """
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


def list_filters(
    status: TrackedStatus | str | Iterable[TrackedStatus | str] | None,
    older_than: dt.datetime | dt.timedelta | None,
    newer_than: dt.datetime | dt.timedelta | None,
    now: dt.datetime,
) -> dict[str, Any]:
    """``Store.list_jobs`` filters from the tracker's ``list`` arguments (ages before now).

    Raises:
        ValueError: an unknown status.
    """

    def when(value: dt.datetime | dt.timedelta | None) -> dt.datetime | None:
        return now - value if isinstance(value, dt.timedelta) else value

    statuses: list[TrackedStatus] | None
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
