"""Track Connect jobs to the end: the job tracker, written once for asyncio.

Every import is an asynchronous job. The tracker records each job in the store the
moment Norce returns its id, then resolves it by ``JobCompletedEvent``
(:meth:`AsyncJobTracker.on_job_completed`) or by polling ``Job/Get`` politely (first
delay, exponential backoff with jitter, a cap, and the server's ``Retry-After``). Because
the job id is in the store before anything else happens, a new process picks every
unfinished job up again with :meth:`AsyncJobTracker.resume` and never submits the payload
a second time.

"Slow" is not "failed": a stalled job (``LastUpdated`` unchanged) and a long lead time
are *alerts*; a local wait that runs out ends as ``timed_out_locally``, which a later
resume checks again. Failed and validation-failed jobs carry the warning and error
entries of their job log. The decisions live in :mod:`._core`; this module does the I/O.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import datetime as dt
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import attrs

from ..._async_client import AsyncNorce
from ..._concurrency import AsyncEvent
from ..._exceptions import (
    APIConnectionError,
    APIError,
    ConfigurationError,
    ImportJobError,
    ImportJobTimeoutError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    StoreError,
)
from ..._tracing import span
from ...connect import SubmittedImport
from ...connect.models import ImportKind, Job, JobLogEntry, JobStatus
from ...stores import (
    AsyncStore,
    FullImportRecord,
    JobObservation,
    TrackedJob,
    TrackedStatus,
)
from ._async_spool_index import AsyncSpoolIndex
from ._core import (
    PollSchedule,
    Wait,
    event_fields,
    failure_entries,
    failure_message,
    final_result,
    header_facts,
    interpret_status,
    job_status,
    list_filters,
    payload_refusal,
    poll_observation,
    rerun_refusal,
    resolved_by,
    timeout_result,
)
from ._models import AsyncFullImportGuard, JobAlert, JobDetails, JobResult, TrackingMode
from ._monitor import JobMetrics, JobMonitor, LoggingMonitor, Meter
from ._spool import PayloadSpool


# unasync: async-only
Sleep = Callable[[float], Awaitable[None]]
# unasync: end
# unasync: sync-only
# Sleep = Callable[[float], None]
# unasync: end

__all__ = ["AsyncJobTracker"]

log = logging.getLogger("norce_integration.patterns.job_tracker")

_ADOPTED_KIND = "unknown"


class AsyncJobTracker:
    """Records, waits for, resumes, inspects and re-runs Connect jobs.

    Example:
        >>> tracker = AsyncJobTracker(norce, AsyncSqliteStore("state.sqlite"))  # doctest: +SKIP
        >>> job = await tracker.submit("products", items, header)  # doctest: +SKIP
        >>> result = await tracker.wait(job.job_id)  # doctest: +SKIP

    :meth:`on_job_completed` must be called on the tracker's event loop (thread).

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
        sleep: sleeps for the given seconds; ``None`` waits on an event that
            :meth:`on_job_completed` sets, so an event ends the wait at once.
        clock: seconds since the epoch (tests pass the emulator's manual clock).
        rng: random source for jitter.

    Raises:
        ConfigurationError: an option is invalid.
    """

    def __init__(
        self,
        norce: AsyncNorce,
        store: AsyncStore,
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
        full_import_guard: AsyncFullImportGuard | None = None,
        fetch_log: bool = True,
        fetch_counts_on_event: bool = False,
        sleep: Sleep | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        if mode not in ("poll", "event"):
            msg = f"must be 'poll' or 'event', got {mode!r}"
            raise ConfigurationError(msg, setting="mode")
        if check_interval <= 0:
            msg = f"must be positive, got {check_interval!r}"
            raise ConfigurationError(msg, setting="check_interval")
        self.norce = norce
        self._store = store
        self._mode: TrackingMode = mode
        self.schedule = schedule or PollSchedule()
        self.event_grace = event_grace
        self.check_interval = check_interval
        self.timeout = timeout
        self.stall_after = stall_after
        self.lead_time_alert = lead_time_alert
        self.monitor: JobMonitor = monitor if monitor is not None else LoggingMonitor()
        self.metrics = JobMetrics(meter) if meter is not None else None
        self._spool = spool
        self._index = AsyncSpoolIndex(spool, store) if spool is not None else None
        # unasync: sync-only
        # if spool is not None:
        #     spool.attach(store)  # so the spool's own methods find the index
        # unasync: end
        self._guard = full_import_guard
        self.fetch_log = fetch_log
        self.fetch_counts_on_event = fetch_counts_on_event
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._signals: dict[int, AsyncEvent] = {}

    @property
    def store(self) -> AsyncStore:
        """The store jobs are recorded in."""
        return self._store

    @property
    def spool(self) -> PayloadSpool | None:
        """The payload spool, if re-runs are enabled."""
        return self._spool

    @property
    def mode(self) -> TrackingMode:
        """``"poll"`` or ``"event"``."""
        return self._mode

    @property
    def full_import_guard(self) -> AsyncFullImportGuard | None:
        """Called before a full import is re-run (``FullImport`` registers itself here)."""
        return self._guard

    @full_import_guard.setter
    def full_import_guard(self, guard: AsyncFullImportGuard | None) -> None:
        self._guard = guard

    async def submit(
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
        header_full, header_account = header_facts(header)
        account = account_id if account_id is not None else header_account
        if account is None:
            raise ConfigurationError("is required (not in the header)", setting="account_id")
        full = bool(full if full is not None else header_full)
        if self._spool is None:
            with span("submit", kind=str(kind), full=full, account_id=account):
                submitted = await self.norce.connect.submit(kind, items, header)
            return await self.track(submitted, full=full, account_id=account)
        with self._spool.writer() as tee, span("submit", kind=str(kind), full=full):
            submitted = await self.norce.connect.submit(kind, items, header, tee=tee)
        return await self.track(submitted, full=full, account_id=account, payload_path=tee)

    async def track(
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
        job_id = submitted.response.job_id
        if job_id is None:
            raise ResponseValidationError(
                "Norce accepted the import but returned no JobId; nothing can be tracked",
                errors=["$.JobId: missing"],
            )
        now = self._utc()
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
        if not await self._store.insert_job(job):
            log.warning("job %d was already tracked; keeping the existing record", job.job_id)
        if payload_path is not None:
            if self._index is None:
                msg = "payload_path needs a PayloadSpool (JobTracker(spool=...))"
                raise ConfigurationError(msg, setting="spool")
            try:
                await self._index.adopt(
                    payload_path,
                    job_id=job.job_id,
                    kind=kind,
                    header=submitted.header,
                    digest=submitted.payload_digest,
                )
            except StoreError:
                # Losing the copy only loses the ability to re-run; the job is tracked.
                log.exception("could not spool the payload of job %d", job.job_id)
        return await self._store.get_job(job.job_id) or job

    async def wait(
        self,
        job_id: int,
        *,
        # Not asyncio.timeout(): a cancelled wait could not record "timed_out_locally".
        timeout: float | None = None,  # noqa: ASYNC109, RUF100
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
        with span("track", job_id=job_id):
            return await self._wait(job_id, timeout, raise_on_failure=raise_on_failure)

    async def _wait(self, job_id: int, limit: float | None, *, raise_on_failure: bool) -> JobResult:
        job = await self._store.get_job(job_id, with_history=False) or await self._adopt(job_id)
        state = Wait.start(
            job,
            now=self._now(),
            timeout=self.timeout if limit is None else limit,
            schedule=self.schedule,
            stall_after=self.stall_after,
            lead_time_alert=self.lead_time_alert,
            event_grace=self.event_grace if self._mode == "event" else None,
        )
        signal = self._signals.setdefault(job_id, AsyncEvent())
        try:
            if state.final is not None:
                job = await self._store.get_job(job_id) or job
                return await self._finish(state, job, None, "store", raise_on_failure)
            while True:
                delay = state.next_delay(self._now(), self._rng)
                resolved = await self._pause(job_id, signal, delay)
                if resolved is not None:
                    return await self._finish(state, resolved, None, "event", raise_on_failure)
                self._alert(state.lead_alert(self._now()))
                try:
                    dto = await self.norce.connect.get_job(job_id)
                except (RateLimitError, APIConnectionError, ServerError) as exc:
                    self._poll_failed(state, exc)
                else:
                    now = self._now()
                    seen = state.observe(int(dto.status), dto.last_updated, now)
                    if seen.record:
                        await self._store.record_job_status(
                            job_id,
                            poll_observation(job_id, dto, self._utc(now)),
                            started_at=dto.start,
                            add_polls=state.take_polls(),
                        )
                    self._alert(*seen.alerts)
                    if seen.status.is_final:
                        job = await self._record_final_poll(state, job, dto)
                        return await self._finish(state, job, dto, "poll", raise_on_failure)
                if state.out_of_time(self._now()):
                    return await self._timed_out(state, job, raise_on_failure)
        finally:
            if self._signals.get(job_id) is signal:
                del self._signals[job_id]

    async def on_job_completed(
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
        job_id, status_id = event_fields(event_or_job_id, status)
        final = interpret_status(status_id)
        now = self._utc()
        job = await self._store.record_job_status(
            job_id,
            JobObservation(
                job_id=job_id, seen_at=now, status=final, status_id=status_id, source="event"
            ),
            finished_at=now if final.is_final else None,
        )
        if job is None:
            log.debug("JobCompletedEvent for job %d, which this store does not track", job_id)
        elif job.status.is_final:
            signal = self._signals.get(job_id)
            if signal is not None:
                signal.set()
        return job

    async def resume(
        self,
        *,
        timeout: float | None = None,  # noqa: ASYNC109, RUF100 - a per-job local limit, as in wait()
        raise_on_failure: bool = False,
    ) -> builtins.list[JobResult]:
        """Wait for every unresolved job in the store (after a crash or a restart).

        Jobs are never resubmitted: each is polled (or resolved by event) by its id.
        Jobs submitted long ago are polled at once. The async tracker waits for them
        concurrently.

        Args:
            timeout: local limit per job in seconds (default: the tracker's).
            raise_on_failure: raise on the first failed job instead of returning it.

        Raises:
            ImportJobError: only with ``raise_on_failure``.
            APIError: ``Job/Get`` failed in a way retrying cannot fix.
            StoreError: the store failed.
        """
        jobs = await self._store.unresolved_jobs()
        # unasync: async-only
        async with asyncio.TaskGroup() as group:
            tasks = [
                group.create_task(
                    self.wait(job.job_id, timeout=timeout, raise_on_failure=raise_on_failure)
                )
                for job in jobs
            ]
        return [task.result() for task in tasks]
        # unasync: end
        # unasync: sync-only
        # return [
        #     self.wait(job.job_id, timeout=timeout, raise_on_failure=raise_on_failure)
        #     for job in jobs
        # ]
        # unasync: end

    async def unresolved(self) -> builtins.list[TrackedJob]:
        """Jobs not final yet (including ``timed_out_locally``), oldest first.

        Raises:
            StoreError: the store failed.
        """
        return await self._store.unresolved_jobs()

    async def rerun(self, job_id: int, *, force: bool = False) -> TrackedJob:
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
        job = await self._store.get_job(job_id)
        refusal = rerun_refusal(job_id, job, force=force, guarded=self._guard is not None)
        if refusal is not None:
            raise refusal
        assert job is not None  # rerun_refusal refuses an unknown job
        if job.full and not force and self._guard is not None:
            # unasync: async-only
            checked = self._guard(job)
            if checked is not None:
                await checked
            # unasync: end
            # unasync: sync-only
            # self._guard(job)
            # unasync: end
        index = self._index
        entry = None if index is None else await index.get(job_id)
        digest = None if index is None or entry is None else await index.digest(job_id)
        refusal = payload_refusal(
            job, spooling=index is not None, spooled=entry is not None, digest=digest
        )
        if refusal is not None:
            raise refusal
        assert index is not None
        assert entry is not None
        submitted = await self.norce.connect.submit_body(
            job.kind, await index.read(job_id), entry.header, item_count=job.item_count
        )
        new = await self.track(submitted, full=job.full, account_id=job.account_id, rerun_of=job_id)
        try:
            await index.copy(job_id, new.job_id)
        except StoreError:
            log.exception("could not spool the payload of re-run job %d", new.job_id)
        return new

    async def show(self, job_id: int, *, fetch_log: bool = False) -> JobDetails:
        """A tracked job with its history, its spool entry and (optionally) its log.

        Raises:
            ImportJobError: the job is not tracked.
            APIError: fetching the log failed.
            StoreError: the store failed.
        """
        job = await self._store.get_job(job_id)
        if job is None:
            raise ImportJobError("is not tracked in this store", job_id=job_id)
        entries = tuple(await self.norce.connect.get_job_log(job_id)) if fetch_log else None
        entry = None if self._index is None else await self._index.get(job_id)
        return JobDetails(job=job, log=entries, spool=entry)

    async def list(
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
        filters = list_filters(status, older_than, newer_than, self._utc())
        return await self._store.list_jobs(
            kind=None if kind is None else str(kind), limit=limit, **filters
        )

    # --- internals

    def _now(self) -> float:
        return float(self._clock())

    def _utc(self, ts: float | None = None) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._now() if ts is None else ts, dt.UTC)

    async def _adopt(self, job_id: int) -> TrackedJob:
        """Start tracking a job id this store has never seen (submitted elsewhere)."""
        now = self._utc()
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
        await self._store.insert_job(job)
        return await self._store.get_job(job_id, with_history=False) or job

    async def _pause(self, job_id: int, signal: AsyncEvent, seconds: float) -> TrackedJob | None:
        """Wait ``seconds``, waking early for an event; return the job if it became final."""
        remaining = seconds
        while True:
            found = await self._store.get_job(job_id, with_history=False)
            if found is not None and found.status.is_final:
                return await self._store.get_job(job_id) or found
            if remaining <= 0:
                return None
            step = min(remaining, self.check_interval)
            if self._sleep is not None:
                await self._sleep(step)
            else:
                # unasync: async-only
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(signal.wait(), step)
                # unasync: end
                # unasync: sync-only
                # signal.wait(step)
                # unasync: end
            remaining -= step

    def _poll_failed(self, state: Wait, exc: APIError) -> None:
        if isinstance(exc, RateLimitError):
            state.poll_failed(exc.retry_after)
            log.info(
                "Job/Get for job %d was rate limited (Retry-After %s)",
                state.job_id,
                exc.retry_after,
            )
        else:
            state.poll_failed()
            log.warning("Job/Get for job %d failed, will poll again: %s", state.job_id, exc)

    async def _record_final_poll(self, state: Wait, job: TrackedJob, dto: Job) -> TrackedJob:
        observation = poll_observation(job.job_id, dto, self._utc())
        updated = await self._store.record_job_status(
            job.job_id,
            observation,
            totals=dto.totals,
            inserts=dto.inserts,
            updates=dto.updates,
            fail=dto.fail,
            started_at=dto.start,
            finished_at=dto.stop or self._utc(),
            add_polls=state.take_polls(),
        )
        if updated is None:  # deleted under our feet: report what we saw
            return attrs.evolve(job, status=observation.status, status_id=observation.status_id)
        return updated

    async def _finish(
        self,
        state: Wait,
        job: TrackedJob,
        dto: Job | None,
        resolved: str,
        raise_on_failure: bool,
    ) -> JobResult:
        if resolved != "poll":
            # Found final in the store (before or during the wait): by an event here or
            # elsewhere, or by another process's poll; the history says which.
            resolved = resolved_by(job, resolved)
        state.settle(job.status)
        if state.pending_polls:
            job = (
                await self._store.record_job_status(job.job_id, add_polls=state.take_polls()) or job
            )
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
                job = await self._record_final_poll(state, job, dto)
        entries: builtins.list[JobLogEntry] = []
        if job.status.is_failure and self.fetch_log:
            try:
                entries = failure_entries(await self.norce.connect.get_job_log(job.job_id))
            except APIError as exc:
                log.warning("could not fetch the log of job %d: %s", job.job_id, exc)
        return await self._complete(
            state, job, dto, entries, resolved=resolved, raise_on_failure=raise_on_failure
        )

    async def _complete(
        self,
        state: Wait,
        job: TrackedJob,
        dto: Job | None,
        entries: builtins.list[JobLogEntry],
        *,
        resolved: str,
        raise_on_failure: bool,
    ) -> JobResult:
        """Report a final job, apply Norce's full-import rule, raise if asked."""
        result = final_result(job, dto=dto, log_entries=entries, resolved_by=resolved)
        if job.finished_at is not None:
            self._alert(state.lead_alert(self._now(), finished=job.finished_at.timestamp()))
        if job.status is TrackedStatus.SUCCEEDED and job.full:
            # Idempotent, so a second wait on the same job changes nothing.
            await self._after_full_success(job)
        self._report(result)
        if raise_on_failure and job.status.is_failure:
            raise ImportJobError(
                failure_message(job.status, entries),
                job_id=job.job_id,
                status=job_status(job),
                log=entries,
            )
        return result

    async def _after_full_success(self, job: TrackedJob) -> None:
        """Norce's rule: a successful full import supersedes earlier failed imports."""
        finished = job.finished_at or self._utc()
        await self._store.set_last_full_import(
            FullImportRecord(job.kind, job.account_id, job.job_id, finished, job.item_count)
        )
        superseded = await self._store.mark_superseded(
            job.kind, job.account_id, by_job_id=job.job_id, submitted_before=job.submitted_at
        )
        if superseded:
            log.info(
                "full import %d superseded earlier failed %s jobs %s; they are never retried",
                job.job_id,
                job.kind,
                superseded,
            )

    async def _timed_out(self, state: Wait, job: TrackedJob, raise_on_failure: bool) -> JobResult:
        now = self._now()
        waited, last = state.timeout_note(now)
        updated = await self._store.record_job_status(
            job.job_id,
            JobObservation(
                job_id=job.job_id,
                seen_at=self._utc(now),
                status=TrackedStatus.TIMED_OUT_LOCALLY,
                status_id=None,
                source="local",
                note=f"stopped waiting after {waited:.0f}s; last Norce status: {last}",
            ),
            add_polls=state.take_polls(),
        )
        job = updated or job
        if job.status.is_final:
            # An event settled the job while we were deciding to give up.
            state.settle(job.status)
            return await self._complete(
                state, job, None, [], resolved="event", raise_on_failure=raise_on_failure
            )
        result = timeout_result(job, now)
        self._report(result)
        if raise_on_failure:
            raise ImportJobTimeoutError(
                f"stopped waiting after {waited:.0f}s (last Norce status: {last}); the job may "
                "still be running and may still succeed. It is recorded as timed_out_locally; "
                "resume() checks it again. Do not resubmit it.",
                job_id=job.job_id,
                status=JobStatus(job.status_id) if job.status_id is not None else None,
            )
        return result

    def _alert(self, *alerts: JobAlert | None) -> None:
        for alert in alerts:
            if alert is None:
                continue
            try:
                self.monitor.on_alert(alert)
            except Exception:
                log.exception("the job monitor failed on an alert")
            if self.metrics is not None:
                try:
                    self.metrics.record_alert(alert)
                except Exception:
                    log.exception("recording job metrics failed")

    def _report(self, result: JobResult) -> None:
        try:
            self.monitor.on_result(result)
        except Exception:
            log.exception("the job monitor failed on a result")
        if self.metrics is not None:
            try:
                self.metrics.record_result(result)
            except Exception:
                log.exception("recording job metrics failed")
