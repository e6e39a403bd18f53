"""The pure rules of job tracking: poll delays, status interpretation, stall, lead time."""

from __future__ import annotations

import datetime as dt
import math
import random

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from norce_integration.connect.models import Job, JobLogEntry, JobStatus, LogSeverity
from norce_integration.patterns.jobs import AlertKind
from norce_integration.patterns.jobs._core import (
    PollSchedule,
    StallWatch,
    Wait,
    failure_entries,
    failure_message,
    first_delay,
    interpret_status,
    job_duration,
    lead_time_exceeded,
    payload_refusal,
    rerun_refusal,
    resolved_by,
)
from norce_integration.stores import JobObservation, TrackedJob, TrackedStatus


schedules = st.builds(
    PollSchedule,
    first_delay=st.floats(0, 600),
    interval=st.floats(0.001, 600),
    factor=st.floats(1, 10),
    max_interval=st.floats(0.001, 3600),
    jitter=st.floats(0, 1),
    retry_after_cap=st.floats(0, 3600),
)


@given(
    schedule=schedules,
    poll=st.integers(0, 10_000),
    retry_after=st.none() | st.floats(allow_nan=True, allow_infinity=True),
    remaining=st.none() | st.floats(-100, 10_000),
    seed=st.integers(0, 2**32),
)
def test_poll_delay_bounds(
    schedule: PollSchedule,
    poll: int,
    retry_after: float | None,
    remaining: float | None,
    seed: int,
) -> None:
    delay = schedule.delay(
        poll, retry_after=retry_after, remaining=remaining, rng=random.Random(seed)
    )
    assert math.isfinite(delay)
    assert delay >= 0
    cap = schedule.max_interval
    hint = retry_after is not None and math.isfinite(retry_after) and retry_after > 0
    if hint:
        assert retry_after is not None
        honoured = min(retry_after, schedule.retry_after_cap)
        # Never above the cap, except as far as Retry-After (itself capped) asks.
        assert delay <= max(cap, honoured) + 1e-9
        if remaining is None:
            assert delay >= honoured - 1e-9
    else:
        assert delay <= cap + 1e-9
    if remaining is not None:
        assert delay <= max(0.0, remaining) + 1e-9


@given(schedule=schedules, poll=st.integers(1, 200))
def test_backoff_never_shrinks_without_jitter(schedule: PollSchedule, poll: int) -> None:
    assert schedule.base_delay(poll + 1) >= schedule.base_delay(poll)
    assert schedule.base_delay(poll) <= schedule.max_interval


def test_default_schedule_is_polite() -> None:
    schedule = PollSchedule(jitter=0)
    delays = [schedule.delay(n) for n in range(10)]
    assert delays[:6] == [10, 15, 30, 60, 120, 120]
    # A 10-minute job costs at most 12 polls (the benchmark's target).
    elapsed, polls = 0.0, 0
    while elapsed < 600:
        elapsed += schedule.delay(polls)
        polls += 1
    assert polls <= 12


def test_retry_after_is_honoured_up_to_its_cap() -> None:
    schedule = PollSchedule(jitter=0, retry_after_cap=90)
    assert schedule.delay(1, retry_after=45) == 45
    assert schedule.delay(1, retry_after=1000) == 90
    assert schedule.delay(1, retry_after=1) == 15  # the schedule's own delay is longer
    assert schedule.delay(5, retry_after=10, remaining=3) == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"first_delay": -1},
        {"interval": 0},
        {"factor": 0.5},
        {"max_interval": 0},
        {"jitter": 1.5},
        {"retry_after_cap": float("inf")},
        {"first_delay": float("nan")},
    ],
)
def test_schedule_validates(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        PollSchedule(**kwargs)


def test_first_delay_counts_from_submission() -> None:
    assert first_delay(10, submitted_at=100, now=100) == 10
    assert first_delay(10, submitted_at=100, now=104) == 6
    assert first_delay(10, submitted_at=100, now=500) == 0
    assert first_delay(10, submitted_at=100, now=90) == 10  # clock skew never lengthens it


@pytest.mark.parametrize(
    ("status_id", "expected"),
    [
        (None, TrackedStatus.SUBMITTED),
        (1, TrackedStatus.RUNNING),
        (2, TrackedStatus.SUCCEEDED),
        (3, TrackedStatus.FAILED),
        (4, TrackedStatus.VALIDATION_FAILED),
        (5, TrackedStatus.VALIDATING),
        (6, TrackedStatus.QUEUED),
        (99, TrackedStatus.UNKNOWN),
        (JobStatus(2), TrackedStatus.SUCCEEDED),
    ],
)
def test_interpret_status(status_id: int | None, expected: TrackedStatus) -> None:
    assert interpret_status(status_id) is expected


def test_final_statuses() -> None:
    assert {s for s in TrackedStatus if s.is_final} == {
        TrackedStatus.SUCCEEDED,
        TrackedStatus.FAILED,
        TrackedStatus.VALIDATION_FAILED,
        TrackedStatus.SUPERSEDED,
    }
    assert not TrackedStatus.TIMED_OUT_LOCALLY.is_final
    assert not TrackedStatus.TIMED_OUT_LOCALLY.is_failure


def test_stall_watch_alerts_once_per_stall() -> None:
    watch = StallWatch(stall_after=60)
    assert not watch.observe("t1", 0)
    assert not watch.observe("t1", 59)
    assert watch.observe("t1", 60)
    assert not watch.observe("t1", 120)  # already reported
    assert watch.stalled_for(120) == 120
    assert not watch.observe("t2", 130)  # progress re-arms it
    assert watch.stalled_for(130) == 0
    assert watch.observe("t2", 200)


@given(
    values=st.lists(st.tuples(st.integers(0, 3), st.floats(0, 50)), max_size=30),
    stall_after=st.floats(0, 200),
)
def test_stall_watch_never_alerts_while_progressing(
    values: list[tuple[int, float]], stall_after: float
) -> None:
    watch = StallWatch(stall_after=stall_after)
    now, last, since = 0.0, object(), 0.0
    for value, step in values:
        now += step
        alerted = watch.observe(value, now)
        if value != last:
            assert not alerted
            last, since = value, now
        elif alerted:
            assert now - since >= stall_after


def test_lead_time() -> None:
    assert not lead_time_exceeded(0, 100, None)
    assert not lead_time_exceeded(0, 100, 100)
    assert lead_time_exceeded(0, 101, 100)


def test_job_duration() -> None:
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    assert job_duration(Job(job_id=1, status=JobStatus(2), run_time=dt.timedelta(seconds=6))) == 6
    both = Job(job_id=1, status=JobStatus(2), start=start, stop=start + dt.timedelta(seconds=9))
    assert job_duration(both) == 9
    assert job_duration(Job(job_id=1, status=JobStatus(1), start=start)) is None


def test_failure_entries_and_message() -> None:
    log = [
        JobLogEntry(severity=LogSeverity(1), message="Starting import."),
        JobLogEntry(severity=LogSeverity(2), message="Price skipped", imported_row="{}"),
        JobLogEntry(severity=LogSeverity(3), message="Sku X missing", imported_row='{"a":1}'),
        JobLogEntry(severity=LogSeverity(3), message="Sku Y missing"),
        JobLogEntry(severity=LogSeverity(1), message="Import finished."),
    ]
    entries = failure_entries(log)
    assert [e.message for e in entries] == ["Price skipped", "Sku X missing", "Sku Y missing"]
    assert failure_message(TrackedStatus.FAILED, entries) == (
        "the import failed: Sku X missing (+1 more)"
    )
    assert "validation failed" in failure_message(TrackedStatus.VALIDATION_FAILED, entries[:1])
    assert "no warning or error" in failure_message(TrackedStatus.FAILED, [])


# ---------------------------------------------------------------- the wait state machine

SUBMITTED_AT = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
FINAL_IDS = {2, 3, 4}


def tracked(
    status: TrackedStatus = TrackedStatus.SUBMITTED, *, full: bool = False, digest: str = "d"
) -> TrackedJob:
    return TrackedJob(
        job_id=7,
        kind="products",
        full=full,
        account_id=1,
        submitted_at=SUBMITTED_AT,
        status=status,
        payload_digest=digest,
    )


class WaitMachine(RuleBasedStateMachine):
    """Any sequence of poll answers, failed polls and delays keeps the wait's promises."""

    def __init__(self) -> None:
        super().__init__()
        self.wait: Wait | None = None
        self.now = SUBMITTED_AT.timestamp()
        self.final: TrackedStatus | None = None
        self.polls = 0
        self.taken = 0
        self.retry_after: float | None = None
        self.rng = random.Random(0)

    @initialize(
        schedule=schedules,
        after=st.floats(0, 1000),
        timeout=st.none() | st.floats(0, 5000),
        grace=st.none() | st.floats(0, 900),
        stall_after=st.none() | st.floats(1, 600),
    )
    def start(
        self,
        schedule: PollSchedule,
        after: float,
        timeout: float | None,
        grace: float | None,
        stall_after: float | None,
    ) -> None:
        self.now += after
        self.wait = Wait.start(
            tracked(),
            now=self.now,
            timeout=timeout,
            schedule=schedule,
            stall_after=stall_after,
            lead_time_alert=1800,
            event_grace=grace,
        )

    @property
    def w(self) -> Wait:
        assert self.wait is not None
        return self.wait

    @rule(status_id=st.integers(0, 9), last_updated=st.sampled_from([None, "a", "b"]))
    def poll(self, status_id: int, last_updated: str | None) -> None:
        seen = self.w.observe(status_id, last_updated, self.now)
        if self.final is not None:
            # Final statuses are absorbing: nothing is recorded, nothing alerted, no poll.
            assert seen.status is self.final
            assert not seen.record
            assert seen.alerts == ()
            return
        self.polls += 1  # a Retry-After seen earlier still applies to the next delay
        assert seen.status is interpret_status(status_id)
        if status_id in FINAL_IDS:
            self.final = seen.status
            assert not seen.record  # the tracker records a final answer with its counts
            assert AlertKind.STALLED not in {a.kind for a in seen.alerts}

    @rule(retry_after=st.none() | st.floats(0.001, 1000))
    def poll_fails(self, retry_after: float | None) -> None:
        self.w.poll_failed(retry_after)
        if self.final is None:
            self.polls += 1
            self.retry_after = retry_after

    @rule()
    def take(self) -> None:
        self.taken += self.w.take_polls()

    @rule(fraction=st.floats(0, 1))
    def sleep(self, fraction: float) -> None:
        w = self.w
        schedule = w.schedule
        grace = w.grace
        delay = w.next_delay(self.now, self.rng)
        assert math.isfinite(delay)
        assert delay >= 0
        if w.deadline is not None:
            assert delay <= max(0.0, w.deadline - self.now) + 1e-9
        elapsed = self.now - w.submitted_at
        if grace is not None:
            assert delay <= max(0.0, grace - elapsed) + 1e-9
        elif self.polls == 0:
            # The first delay counts from submission: a resumed job polls at once.
            assert delay <= max(0.0, schedule.base_delay(0) - elapsed) + 1e-9
        else:
            base = schedule.base_delay(self.polls)
            honoured = (
                0.0 if self.retry_after is None else min(self.retry_after, schedule.retry_after_cap)
            )
            assert delay <= max(base, honoured) + 1e-9
            if w.deadline is None:
                assert delay >= max(base * (1 - schedule.jitter), honoured) - 1e-9
        self.retry_after = None
        self.now += delay * fraction

    @invariant()
    def promises(self) -> None:
        if self.wait is None:
            return
        assert self.w.final is self.final
        assert self.w.polls_made == self.polls
        assert self.w.pending_polls + self.taken == self.polls
        if self.w.deadline is not None:
            assert self.w.out_of_time(self.now) == (self.now >= self.w.deadline)


TestWaitMachine = WaitMachine.TestCase
TestWaitMachine.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)


@given(status=st.sampled_from(list(TrackedStatus)), full=st.booleans(), guarded=st.booleans())
def test_rerun_rules(status: TrackedStatus, full: bool, guarded: bool) -> None:
    job = tracked(status, full=full)
    refusal = rerun_refusal(7, job, force=False, guarded=guarded)
    if not status.is_final:
        # An unfinished job is never submitted a second time unless forced.
        assert refusal is not None
        assert refusal.rule == "rerun-unfinished-job"
    elif status is TrackedStatus.SUPERSEDED:
        assert refusal is not None
        assert refusal.rule == "rerun-superseded-job"
    elif full and not guarded:
        assert refusal is not None
        assert refusal.rule == "rerun-full-import"
    else:
        assert refusal is None
    assert rerun_refusal(7, job, force=True, guarded=guarded) is None
    unknown = rerun_refusal(7, None, force=True, guarded=guarded)
    assert unknown is not None
    assert unknown.rule == "rerun-unknown-job"


def test_payload_rules() -> None:
    job = tracked(TrackedStatus.FAILED)
    rules = [
        payload_refusal(job, spooling=False, spooled=False, digest=None),
        payload_refusal(job, spooling=True, spooled=False, digest=None),
        payload_refusal(job, spooling=True, spooled=True, digest="other"),
    ]
    assert [r.rule if r else None for r in rules] == [
        "rerun-no-payload",
        "rerun-no-payload",
        "rerun-payload-mismatch",
    ]
    assert payload_refusal(job, spooling=True, spooled=True, digest="d") is None
    assert payload_refusal(tracked(digest=""), spooling=True, spooled=True, digest="x") is None


def test_resolved_by_reads_the_history() -> None:
    seen = dt.datetime(2025, 3, 1, 12, 5, tzinfo=dt.UTC)
    history = (
        JobObservation(job_id=7, seen_at=seen, status=TrackedStatus.RUNNING, source="poll"),
        JobObservation(job_id=7, seen_at=seen, status=TrackedStatus.SUCCEEDED, source="event"),
    )
    job = attrs.evolve(tracked(TrackedStatus.SUCCEEDED), history=history)
    assert resolved_by(job, "store") == "event"
    assert resolved_by(tracked(TrackedStatus.SUCCEEDED), "store") == "store"
