"""The emulator's Connect 4.0 service: the nine imports and the Job service.

``POST .../{Product|Customer|Supplier}/Import...`` validates the
``X-StormConnect-Header`` and every item of the streamed body (spooled, never parsed
whole), answers with a ``ValidationSummary`` and queues a :class:`~._jobs.Job`; the job
moves Queued → Initialized → Succeeded/Failed/ValidationFailed on the emulator clock and
is applied to the emulator's data when it ends (``JobCompletedEvent``).
``GET .../Job/{Get?id=|GetLog?id=|List|Ping}`` reads the jobs. ``Order/...`` routes are
handed to the Order service (:mod:`._orders`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from ._contracts import (
    HeaderError,
    ImportSpec,
    ParsedHeader,
    find_import,
    parse_header,
    validate_item,
)
from ._core import EmulatorRequest, EmulatorResponse, error, json_response
from ._data import ChangeSet, LogEntry
from ._imports import start_import
from ._jobs import (
    FAILED,
    INITIALIZED,
    QUEUED,
    STATUS_NAMES,
    SUCCEEDED,
    VALIDATION_FAILED,
    Job,
)
from ._spool import BodyFormatError, BodySpool, BodyTooLargeError, iter_json_items, spool_body
from ._token import TokenService


if TYPE_CHECKING:
    from ._emulator import NorceEmulator


__all__ = ["ConnectService"]

logger = logging.getLogger(__name__)

_MAX_LOG_ENTRIES = 10_000
_MAX_SUMMARY_MESSAGES = 100
_JOB_ROUTES = ("job/get", "job/getlog", "job/list", "job/ping")


class ConnectService:
    """Connect imports and the jobs they create (one per :class:`NorceEmulator`).

    Reads its configuration (clock, body limits, job timings, ids) from the owning
    emulator at call time. Methods named ``*_locked`` expect the emulator's lock held;
    the others take it.
    """

    def __init__(self, owner: NorceEmulator, lock: threading.RLock, token: TokenService) -> None:
        self._owner = owner
        self._lock = lock
        self._token = token
        self._jobs: dict[int, Job] = {}
        self._active: dict[int, Job] = {}
        self._next_job_id = 1001

    def close(self) -> None:
        """Release the spooled bodies of unfinished jobs (lock held by the caller)."""
        for job in self._jobs.values():
            job.close()

    @property
    def active_count(self) -> int:
        """How many jobs have not ended."""
        return len(self._active)

    # -- requests -------------------------------------------------------------------

    def handle(self, request: EmulatorRequest, method: str, route: str) -> EmulatorResponse:
        """Answer ``/commerce/connect/4.0/{route}`` (``route`` without ``api/``)."""
        if not self._token.authorized(request.headers):
            return error(
                401,
                "Authorization has been denied for this request.",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        orders = self._owner.orders
        if orders.handles(route):
            return orders.handle_connect(request, method, route)
        spec = find_import(route)
        if spec is not None:
            if method != "POST":
                return error(405, f"{spec.route} only accepts POST.", {"Allow": "POST"})
            return self._import(request, spec)
        low = route.lower()
        if low in _JOB_ROUTES:
            if method not in ("GET", "HEAD"):
                return error(405, f"{route} only accepts GET.", {"Allow": "GET"})
            return self._job_route(low, request.query)
        return error(404, f"No Connect method at {route!r}.")

    def _import(self, request: EmulatorRequest, spec: ImportSpec) -> EmulatorResponse:
        owner = self._owner
        try:
            header = parse_header(spec, request.headers.get("x-stormconnect-header"))
        except HeaderError as exc:
            return error(400, str(exc))
        content_type = request.headers.get("content-type", "").lower()
        if content_type and "json" not in content_type:
            return error(
                415, "The emulator accepts JSON bodies only (Content-Type: application/json)."
            )
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > owner.max_body_bytes:
            return error(413, f"Request body is larger than {owner.max_body_bytes} bytes.")
        try:
            spool = spool_body(
                request.body,
                max_bytes=owner.max_body_bytes,
                memory_bytes=owner.spool_memory_bytes,
            )
        except BodyTooLargeError as exc:
            return error(413, f"{exc}.")
        try:
            if spool.size == 0 and header.storage_name:
                return error(
                    400, "Re-running an import from StorageName is not supported by the emulator."
                )
            total, failures, messages = _validate_body(spec, header, spool)
        except BodyFormatError as exc:
            spool.close()
            return error(400, f"The body must be a JSON array of {spec.method} items: {exc}.")
        except BaseException:
            spool.close()
            raise
        spool.owned = True
        with self._lock:
            job = self._create_job(spec, header, spool, total, failures)
        return json_response(
            200,
            {
                # StatusCode/Description values are UNCONFIRMED (reference §2.5).
                "StatusCode": "Success",
                "Description": f"Job {job.job_id} queued.",
                "JobId": str(job.job_id),
                "ValidationSummary": {
                    "NrOfItemsInTotal": total,
                    "NrOfValidationFailures": failures,
                    "Messages": messages,
                },
            },
        )

    def _job_route(self, route: str, query: str) -> EmulatorResponse:
        params = {k.lower(): v[0] for k, v in parse_qs(query).items()}
        if route == "job/ping":
            return json_response(200, "Pong")  # body UNCONFIRMED: clients read a string
        if route == "job/list":
            return self._job_list(params)
        raw_id = params.get("id") or params.get("jobid")
        if raw_id is None or not raw_id.strip().lstrip("-").isdigit():
            return error(400, "The query parameter id (an integer job id) is required.")
        with self._lock:
            job = self._jobs.get(int(raw_id))
            if job is None:
                return error(404, f"Job {raw_id} does not exist.")  # status UNCONFIRMED
            if route == "job/get":
                return json_response(200, job.to_dto())
            return json_response(200, job.log_dto())

    def _job_list(self, params: Mapping[str, str]) -> EmulatorResponse:
        """``Job/List`` (path, parameters and order UNCONFIRMED): newest first;
        ``status`` (id or name), ``skip``/``take`` (also ``page``/``pageSize``)."""
        status: int | None = None
        if params.get("status"):
            raw = params["status"].strip()
            status = int(raw) if raw.isdigit() else STATUS_NAMES.get(raw.lower().replace(" ", ""))
            if status is None:
                return error(400, f"Unknown job status {raw!r}.")
        try:
            take = int(params.get("take") or params.get("pagesize") or 100)
            skip = int(params.get("skip") or 0)
            if params.get("page"):
                skip = (int(params["page"]) - 1) * take
        except ValueError:
            return error(400, "skip, take, page and pageSize must be integers.")
        with self._lock:
            jobs = [
                j for j in reversed(self._jobs.values()) if status is None or j.status == status
            ]
            page = jobs[max(0, skip) : max(0, skip) + max(0, take)]
            return json_response(200, [j.to_dto() for j in page])

    # -- the job lifecycle (lock held) ----------------------------------------------

    def _create_job(
        self, spec: ImportSpec, header: ParsedHeader, spool: BodySpool, total: int, failures: int
    ) -> Job:
        owner = self._owner
        now = owner.clock.now()
        plan = owner.faults.plan_job(spec.route)
        job = Job(
            job_id=self._next_job_id,
            spec=spec,
            header=header,
            spool=spool,
            totals=total,
            sync_failures=failures,
            created=now,
            start_due=now + timedelta(seconds=owner.job_timings.queued),
            run_seconds=owner.job_timings.run_seconds(total) + plan.slow,
            outcome=plan.outcome,
            stalled=plan.stall,
            start=now,
            last_updated=now,
        )
        self._next_job_id += 1
        self._jobs[job.job_id] = job
        self._active[job.job_id] = job
        return job

    def next_due_locked(self) -> datetime | None:
        """When the next job transition is due (None: no job is waiting)."""
        dues = [d for job in self._active.values() if (d := job.next_due()) is not None]
        return min(dues) if dues else None

    def process_due_locked(self) -> None:
        """Run every job transition due by now, in due-time order."""
        now = self._owner.clock.now()
        while True:
            due = [
                (d, job.job_id, job)
                for job in self._active.values()
                if (d := job.next_due()) is not None and d <= now
            ]
            if not due:
                return
            when, _, job = min(due, key=lambda entry: (entry[0], entry[1]))
            self._step_job(job, when)

    def _step_job(self, job: Job, when: datetime) -> None:
        if job.status == QUEUED:
            job.status = INITIALIZED
            job.start = when
            job.last_updated = when
            job.log.append(LogEntry(1, "Starting import.", when))
            job.finish_due = None if job.stalled else when + timedelta(seconds=job.run_seconds)
            return
        self._finish_job(job, when)

    def _finish_job(self, job: Job, when: datetime) -> None:
        owner = self._owner
        events = owner.events
        changes = ChangeSet(now=when, account_id=job.header.account_id, wants=events.wants)
        if job.outcome == "fail":
            changes.error("Import failed: the emulator injected a job failure.")
            status = FAILED
        elif job.outcome == "validation_fail":
            changes.fail = job.totals
            changes.error("Validation failed: the emulator injected a validation failure.")
            status = VALIDATION_FAILED
        else:
            assert job.spool is not None
            try:
                run = start_import(owner.data, job.spec, job.header, changes)
                for index, item in enumerate(iter_json_items(job.spool.chunks())):
                    run.apply(index, item, validate_item(job.spec, item, job.header))
                run.finish()
            except Exception as exc:  # an emulator bug must not wedge the job queue
                logger.exception("emulator failed to process job %s", job.job_id)
                changes.error(f"Import failed: emulator error {exc!r}.")
                status = FAILED
            else:
                all_failed = job.totals > 0 and changes.fail >= job.totals
                status = VALIDATION_FAILED if all_failed else SUCCEEDED
        if len(changes.log) > _MAX_LOG_ENTRIES:
            omitted = len(changes.log) - _MAX_LOG_ENTRIES
            changes.log = changes.log[:_MAX_LOG_ENTRIES]
            changes.info(f"{omitted} more log entries omitted by the emulator.")
        job.log.extend(changes.log)
        job.log.append(LogEntry(1, "Import finished.", when))
        job.inserts, job.updates, job.fail = changes.inserts, changes.updates, changes.fail
        job.status = status
        job.stop = when
        job.last_updated = when
        job.close()
        self._active.pop(job.job_id, None)
        events.fire_changes(changes)
        events.fire(
            "JobCompletedEvent",
            {
                "ClientId": owner.norce_client_id,
                "ApplicationId": owner.application_id,
                "JobId": job.job_id,
                "StatusId": status,
            },
            when,
        )

    # -- the Python API (takes the lock) --------------------------------------------

    def job(self, job_id: int) -> Job:
        """The job ``job_id`` as it is (nothing processed).

        Raises:
            KeyError: no such job.
        """
        with self._lock:
            return self._jobs[job_id]

    def dto(self, job_id: int) -> dict[str, Any]:
        """The ``JobDto`` of a job, after processing what is due.

        Raises:
            KeyError: no such job.
        """
        with self._lock:
            self.process_due_locked()
            return self._jobs[job_id].to_dto()

    def log_dto(self, job_id: int) -> list[dict[str, Any]]:
        """The ``JobLogDto[]`` of a job, after processing what is due.

        Raises:
            KeyError: no such job.
        """
        with self._lock:
            self.process_due_locked()
            return self._jobs[job_id].log_dto()

    def dtos(self) -> list[dict[str, Any]]:
        """``JobDto`` of every job, oldest first."""
        with self._lock:
            self.process_due_locked()
            return [job.to_dto() for job in self._jobs.values()]

    def history(self) -> list[dict[str, Any]]:
        """Every job's life, oldest first (see :attr:`NorceEmulator.job_history`)."""
        with self._lock:
            self.process_due_locked()
            return [
                {
                    "JobId": job.job_id,
                    "Import": f"{job.spec.service}/{job.spec.method}",
                    "AccountId": job.header.account_id,
                    "FullFile": job.header.full_file,
                    "Totals": job.totals,
                    "StatusId": job.status,
                    "Created": job.created,
                    "Stop": job.stop,
                }
                for job in self._jobs.values()
            ]

    def release(self, job_id: int) -> None:
        """Let a stalled job go on: it finishes ``running`` seconds from now.

        Raises:
            KeyError: no such job.
        """
        with self._lock:
            job = self._jobs[job_id]
            if job.stalled:
                job.stalled = False
                if job.status == INITIALIZED:
                    now = self._owner.clock.now()
                    job.last_updated = now
                    job.finish_due = now + timedelta(seconds=job.run_seconds)


def _validate_body(
    spec: ImportSpec, header: ParsedHeader, spool: BodySpool
) -> tuple[int, int, list[str]]:
    total = failures = 0
    messages: list[str] = []
    for index, item in enumerate(iter_json_items(spool.chunks())):
        total += 1
        errors = validate_item(spec, item, header)
        if errors:
            failures += 1
            if len(messages) < _MAX_SUMMARY_MESSAGES:
                messages.append(f"Item {index}: " + " ".join(errors))
    if failures > len(messages):
        messages.append(f"... {failures - len(messages)} more validation failure(s).")
    return total, failures, messages
