"""Pure decisions behind job tracking: poll delays, status interpretation, stall and lead time.

Nothing here sleeps, reads a clock or sends a request; the tracker passes times in.
That keeps the rules testable with hypothesis and shared by the sync and async trackers.

Why these defaults (reference peers.md §0, lessons 5 and 6): Azure's own review found
1-second polling caused throttling, so the first poll waits (10 s: small Norce jobs take
a few seconds), the interval doubles up to a 2-minute cap, each delay is shortened by a
random fraction so many trackers do not poll in step, and a server's ``Retry-After`` is
honoured up to a cap. A 10-minute job costs 8-9 polls instead of 600.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import random
from collections.abc import Iterable, Sequence
from typing import Any

import attrs

from ..connect.models import Job, JobLogEntry, LogSeverity
from ..stores._protocol import TrackedStatus


__all__ = [
    "AlertKind",
    "JobAlert",
    "PollSchedule",
    "StallWatch",
    "failure_entries",
    "failure_message",
    "first_delay",
    "interpret_status",
    "job_duration",
    "lead_time_exceeded",
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
