"""`NorceEmulator`: Norce Commerce (token, Connect, Query, Event) in one process.

The emulator is one sans-IO function, :meth:`NorceEmulator.handle`, from an
:class:`EmulatorRequest` to an :class:`EmulatorResponse`, shared by two thin shells: an
httpx transport (:meth:`NorceEmulator.transport`, sync and async) and an ASGI app
(:attr:`NorceEmulator.asgi_app`, served by :meth:`NorceEmulator.serve` or the CLI).

Time is the emulator's clock. Nothing runs in the background in-process: on every request,
and on :meth:`~NorceEmulator.advance` / :meth:`~NorceEmulator.run_due`, everything due by
the clock is processed (job transitions, webhook attempts), each at its own due time.

Routes (all paths case-insensitive):

* ``POST /identity/1.0/connect/token`` — OAuth2 client credentials.
* ``POST /commerce/connect/4.0/{Product|Customer|Supplier}/Import...`` — the nine imports.
* ``GET /commerce/connect/4.0/[api/]Job/{Get?id=|GetLog?id=|List|Ping}`` — Job service.
* ``POST /commerce/connect/4.0/Order/{CreateInvoice|...|SendOrderStatus}`` — the Order
  service; orders are pushed to the Order Receiver (see :mod:`._orders`).
* ``GET /commerce/query/2.0/{Namespace}/{EntitySet}...`` — Query 2.0 (OData).
* ``/_emulator/...`` — the emulator's own admin API (no auth; see :mod:`._admin`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import parse_qs

import attrs
import httpx
import orjson

from .._settings import NorceSettings
from ._admin import handle_admin
from ._clock import Clock, ManualClock, SystemClock, iso_utc
from ._contracts import (
    HeaderError,
    ImportSpec,
    enum_value,
    find_import,
    parse_header,
    validate_item,
)
from ._core import EmulatorRequest, EmulatorResponse, error, json_response
from ._data import ChangeSet, EmulatorData, LogEntry, to_decimal
from ._events import (
    RETRY_DELAYS,
    AttemptResult,
    DeliveryAttempt,
    EventBus,
    PendingDelivery,
    Subscription,
    post_async,
    post_sync,
)
from ._faults import Faults, RouteFault
from ._imports import start_import
from ._jobs import (
    FAILED,
    INITIALIZED,
    QUEUED,
    STATUS_NAMES,
    SUCCEEDED,
    VALIDATION_FAILED,
    Job,
    JobTimings,
)
from ._orders import (
    OrderPushPolicy,
    OrderService,
    OrderServiceRules,
    PendingPush,
    PushResult,
    post_push_async,
    post_push_sync,
)
from ._query import handle_query
from ._server import EmulatorASGIApp, EmulatorServer, serve_in_thread
from ._spool import BodyFormatError, BodySpool, BodyTooLargeError, iter_json_items, spool_body
from ._tables import Row, Table
from ._token import TokenRateLimit, TokenService
from ._transport import EmulatorTransport


__all__ = ["NorceEmulator", "TokenRateLimit"]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://norce-emulator.local"
CONNECT_PREFIX = "/commerce/connect/4.0/"
QUERY_PREFIX = "/commerce/query/2.0/"
TOKEN_PATH = "/identity/1.0/connect/token"  # noqa: S105 - a path, not a secret
ADMIN_PREFIX = "/_emulator"
_SMALL_BODY = 1024 * 1024
_MAX_LOG_ENTRIES = 10_000
_MAX_SUMMARY_MESSAGES = 100
_JOB_ROUTES = ("job/get", "job/getlog", "job/list", "job/ping")


class _NonClosingTransport(httpx.BaseTransport):
    """Lends a caller's transport to a short-lived client without closing it."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._inner.handle_request(request)


class _NonClosingAsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)


DeliveryFlow = Generator[
    list[PendingDelivery | PendingPush], list[AttemptResult | PushResult], None
]


class NorceEmulator:
    """An in-process Norce Commerce: token endpoint, Connect, Query 2.0 and Event webhooks.

    Use it in tests through :meth:`transport` (httpx, sync and async) or serve it over
    HTTP with :meth:`serve` / ``norce-integration emulator``. A fresh emulator holds seed
    data: currencies SEK, EUR, NOK, DKK, USD; price lists ``STD`` (SEK, primary), ``EUR``,
    ``NOK``; categories ``root``, ``clothing``, ``shoes``, ``accessories``; warehouse
    ``MAIN`` with location ``MAIN``.

    Args:
        client_id: OAuth2 client id the token endpoint accepts.
        client_secret: its secret.
        application_id: the application id (events' ``ApplicationId``, settings).
        account_id: the default system account id (``AccountId``) for settings. Imports
            may use any positive account id; FullFile product scopes are per account.
        norce_client_id: Norce's numeric client (tenant) id, events' ``ClientId``.
        base_url: the scheme and host the in-process transport pretends to be.
        clock: a :class:`ManualClock` (tests) or :class:`SystemClock` (default).
        seed: seeds fault injection and generated GUIDs.
        token_lifetime: seconds a token lives (``expires_in``), on the emulator clock.
        token_rate_limit: True or a :class:`TokenRateLimit` to enforce the token
            endpoint's limit (429 with ``Retry-After``); off by default.
        job_timings: how long jobs stay Queued and Initialized.
        max_body_bytes: larger request bodies get 413 (Norce's limit is UNCONFIRMED).
        spool_memory_bytes: bodies larger than this are spooled to a temporary file.
        default_culture: culture of ``DefaultName``/``ErpName``.
        auto_create_warehouses: on-hands for unknown warehouses/locations create them
            (default) or are ignored with a warning.
        delivery_transport: transport for webhook deliveries: an ``httpx.BaseTransport``
            enables synchronous delivery, an ``httpx.AsyncBaseTransport`` (e.g.
            ``httpx.ASGITransport``) asynchronous delivery (:meth:`arun_due`,
            :meth:`aadvance`, async clients); ``httpx.MockTransport`` does both. None: the
            network (both).
        delivery_timeout: seconds before a delivery counts as a timeout (documented: 5).
        retry_delays: seconds between delivery attempts (documented schedule).
        auto_deliver: deliver due webhooks after every request through the transport or
            the ASGI app (otherwise only on :meth:`run_due`/:meth:`advance`).
        page_size: Query server page size (documented: 500).
    """

    def __init__(
        self,
        *,
        client_id: str = "norce-emulator",
        client_secret: str = "emulator-secret",  # noqa: S107 - a fake tenant's well-known secret
        application_id: int = 1042,
        account_id: int = 1,
        norce_client_id: int = 1042,
        base_url: str = DEFAULT_BASE_URL,
        clock: Clock | None = None,
        seed: int | None = 0,
        token_lifetime: float = 3600.0,
        token_rate_limit: bool | TokenRateLimit = False,
        job_timings: JobTimings | None = None,
        max_body_bytes: int = 512 * 1024**2,
        spool_memory_bytes: int = 8 * 1024**2,
        default_culture: str = "sv-SE",
        auto_create_warehouses: bool = True,
        delivery_transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        delivery_timeout: float = 5.0,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        auto_deliver: bool = True,
        page_size: int = 500,
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret are required")
        self.client_id = client_id
        self._client_secret = client_secret
        self.application_id = application_id
        self.account_id = account_id
        self.norce_client_id = norce_client_id
        self.base_url = base_url.rstrip("/")
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.token_lifetime = token_lifetime
        self.token_rate_limit: TokenRateLimit | None = (
            TokenRateLimit() if token_rate_limit is True else token_rate_limit or None
        )
        self.job_timings = job_timings or JobTimings()
        self.max_body_bytes = max_body_bytes
        self.spool_memory_bytes = spool_memory_bytes
        self.delivery_transport = delivery_transport
        self.delivery_timeout = delivery_timeout
        self.auto_deliver = auto_deliver
        self.page_size = page_size
        self.faults = Faults(seed)
        self.events = EventBus(self.faults, tuple(retry_delays))
        self.data = EmulatorData(
            client_id=norce_client_id,
            application_id=application_id,
            default_culture=default_culture,
            seed=seed,
            auto_create_warehouses=auto_create_warehouses,
            now=self.clock.now(),
        )
        self._lock = threading.RLock()
        self.orders = OrderService(self, self._lock)
        self._token_service = TokenService(self)
        self._jobs: dict[int, Job] = {}
        self._active: dict[int, Job] = {}
        self._next_job_id = 1001
        self._closed = False
        self._asgi: Any = None

    # -- lifecycle ------------------------------------------------------------------

    def close(self) -> None:
        """Release spooled bodies of unfinished jobs. Idempotent."""
        with self._lock:
            self._closed = True
            for job in self._jobs.values():
                job.close()

    def __enter__(self) -> NorceEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"NorceEmulator(base_url={self.base_url!r}, clock={self.clock!r})"

    # -- shells ---------------------------------------------------------------------

    def transport(self) -> EmulatorTransport:
        """An httpx transport for both ``httpx.Client`` and ``httpx.AsyncClient``."""
        return EmulatorTransport(self)

    @property
    def asgi_app(self) -> Callable[..., Any]:
        """The emulator as an ASGI 3 application (with a lifespan that pumps due work)."""
        if self._asgi is None:
            self._asgi = EmulatorASGIApp(self)
        return self._asgi  # type: ignore[no-any-return]

    @contextlib.contextmanager
    def serve(
        self, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning"
    ) -> Iterator[EmulatorServer]:
        """Serve the emulator with uvicorn in a background thread.

        Example:
            >>> with NorceEmulator().serve() as server:  # doctest: +SKIP
            ...     settings = server.settings()

        Yields:
            The running server; ``server.base_url`` and ``server.settings()``.

        Raises:
            OSError: the address cannot be bound.
        """
        with serve_in_thread(self, host=host, port=port, log_level=log_level) as server:
            yield server

    def settings(self, base_url: str | None = None, **overrides: Any) -> NorceSettings:
        """:class:`NorceSettings` pointing at this emulator with its credentials.

        Args:
            base_url: ``scheme://host[:port]`` (default: the in-process base URL).
            **overrides: any other :class:`NorceSettings` field.
        """
        base = (base_url or self.base_url).rstrip("/")
        values: dict[str, Any] = {
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "application_id": self.application_id,
            "account_id": self.account_id,
            "connect_url": base + CONNECT_PREFIX,
            "query_url": base + QUERY_PREFIX,
            "token_url": base + TOKEN_PATH,
        }
        values.update(overrides)
        return NorceSettings(**values)

    @property
    def client_secret(self) -> str:
        """The OAuth2 secret (a fake tenant's; shown by the CLI, never logged)."""
        return self._client_secret

    # -- the core -------------------------------------------------------------------

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        """Answer one request (the sans-IO core shared by every shell).

        Takes ownership of a spooled body: it is handed to a job or closed.
        """
        try:
            return self._handle(request)
        finally:
            body = request.body
            if isinstance(body, BodySpool) and not body.owned:
                body.close()

    def _handle(self, request: EmulatorRequest) -> EmulatorResponse:
        with self._lock:
            self._process_due_jobs()
        method = request.method.upper()
        path = request.path if request.path.startswith("/") else "/" + request.path
        low = path.lower()
        if low == ADMIN_PREFIX or low.startswith(ADMIN_PREFIX + "/"):
            rest = path[len(ADMIN_PREFIX) :].strip("/")
            answer = self._order_admin(request, method, rest)
            return answer if answer is not None else handle_admin(self, request, method, rest)
        if low == TOKEN_PATH:
            service, route = "token", "token"
        elif low.startswith(CONNECT_PREFIX):
            service = "connect"
            route = path[len(CONNECT_PREFIX) :].strip("/")
            if route.lower().startswith("api/"):
                route = route[4:]
        elif low.startswith(QUERY_PREFIX):
            service, route = "query", path[len(QUERY_PREFIX) :]
        else:
            return error(404, f"No emulated Norce service at {path}.")
        fault = self.faults.for_request(service, method, route, path)
        if fault is not None and (fault.drop or fault.status):
            return self._fault_response(fault, service)
        if service == "token":
            response = self._token_service.handle(request, method)
        elif service == "connect":
            response = self._connect(request, method, route)
        else:
            response = self._query(request, method, route)
        if fault is not None:
            response = attrs.evolve(response, delay=fault.latency, real_delay=fault.real_latency)
        return response

    @staticmethod
    def _fault_response(fault: RouteFault, service: str) -> EmulatorResponse:
        if fault.drop:
            return EmulatorResponse(
                0, drop=fault.drop, delay=fault.latency, real_delay=fault.real_latency
            )
        status = fault.status or 500
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(max(0, math.ceil(fault.retry_after)))
        message = f"Injected fault: HTTP {status}."
        if service == "query":
            response = json_response(
                status, {"error": {"code": str(status), "message": message}}, headers
            )
        elif service == "token":
            response = json_response(
                status, {"error": "temporarily_unavailable", "error_description": message}, headers
            )
        else:
            response = error(status, message, headers)
        return attrs.evolve(response, delay=fault.latency, real_delay=fault.real_latency)

    # -- token ----------------------------------------------------------------------

    def issue_token(self) -> str:
        """Issue a bearer token directly (for tests that skip the token endpoint)."""
        return self._token_service.issue()

    # -- connect --------------------------------------------------------------------

    def _connect(self, request: EmulatorRequest, method: str, route: str) -> EmulatorResponse:
        if not self._token_service.authorized(request.headers):
            return error(
                401,
                "Authorization has been denied for this request.",
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        if self.orders.handles(route):
            return self.orders.handle_connect(request, method, route)
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
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return error(413, f"Request body is larger than {self.max_body_bytes} bytes.")
        try:
            spool = spool_body(
                request.body,
                max_bytes=self.max_body_bytes,
                memory_bytes=self.spool_memory_bytes,
            )
        except BodyTooLargeError as exc:
            return error(413, f"{exc}.")
        try:
            if spool.size == 0 and header.storage_name:
                return error(
                    400, "Re-running an import from StorageName is not supported by the emulator."
                )
            total, failures, messages = self._validate_body(spec, header, spool)
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

    @staticmethod
    def _validate_body(
        spec: ImportSpec, header: Any, spool: BodySpool
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

    # -- jobs -----------------------------------------------------------------------

    def _create_job(
        self, spec: ImportSpec, header: Any, spool: BodySpool, total: int, failures: int
    ) -> Job:
        now = self.clock.now()
        plan = self.faults.plan_job(spec.route)
        job = Job(
            job_id=self._next_job_id,
            spec=spec,
            header=header,
            spool=spool,
            totals=total,
            sync_failures=failures,
            created=now,
            start_due=now + timedelta(seconds=self.job_timings.queued),
            run_seconds=self.job_timings.run_seconds(total) + plan.slow,
            outcome=plan.outcome,
            stalled=plan.stall,
            start=now,
            last_updated=now,
        )
        self._next_job_id += 1
        self._jobs[job.job_id] = job
        self._active[job.job_id] = job
        return job

    def process_due_jobs(self) -> None:
        """Run every job transition due by now (no webhook delivery)."""
        with self._lock:
            self._process_due_jobs()

    def _next_job_due(self) -> datetime | None:
        dues = [d for job in self._active.values() if (d := job.next_due()) is not None]
        return min(dues) if dues else None

    def _process_due_jobs(self) -> None:
        """Run every job transition due by now, in due-time order (lock held)."""
        now = self.clock.now()
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
            job.log.append(_entry(1, "Starting import.", when))
            job.finish_due = None if job.stalled else when + timedelta(seconds=job.run_seconds)
            return
        self._finish_job(job, when)

    def _finish_job(self, job: Job, when: datetime) -> None:
        changes = ChangeSet(now=when, account_id=job.header.account_id, wants=self.events.wants)
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
                run = start_import(self.data, job.spec, job.header, changes)
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
        job.log.append(_entry(1, "Import finished.", when))
        job.inserts, job.updates, job.fail = changes.inserts, changes.updates, changes.fail
        job.status = status
        job.stop = when
        job.last_updated = when
        job.close()
        self._active.pop(job.job_id, None)
        self._commit(changes)
        self.events.fire(
            "JobCompletedEvent",
            {
                "ClientId": self.norce_client_id,
                "ApplicationId": self.application_id,
                "JobId": job.job_id,
                "StatusId": status,
            },
            when,
        )

    def _commit(self, changes: ChangeSet) -> None:
        for event_type, payload in changes.events.values():
            self.events.fire(event_type, payload, changes.now)

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

    def get_job(self, job_id: int) -> dict[str, Any]:
        """The ``JobDto`` of a job (after processing what is due).

        Raises:
            KeyError: no such job.
        """
        with self._lock:
            self._process_due_jobs()
            return self._jobs[job_id].to_dto()

    def job_log(self, job_id: int) -> list[dict[str, Any]]:
        """The ``JobLogDto[]`` of a job.

        Raises:
            KeyError: no such job.
        """
        with self._lock:
            self._process_due_jobs()
            return self._jobs[job_id].log_dto()

    @property
    def jobs(self) -> list[dict[str, Any]]:
        """``JobDto`` of every job, oldest first."""
        with self._lock:
            self._process_due_jobs()
            return [job.to_dto() for job in self._jobs.values()]

    @property
    def job_history(self) -> list[dict[str, Any]]:
        """Every job's life, oldest first, for checks a ``JobDto`` cannot answer:
        ``JobId``, ``Import`` (``Service/Method``), ``AccountId``, ``FullFile``,
        ``Totals``, ``StatusId``, ``Created`` (when the import was accepted) and
        ``Stop`` (when it ended; ``None`` while it runs), as aware datetimes."""
        with self._lock:
            self._process_due_jobs()
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

    def release_job(self, job_id: int) -> None:
        """Let a stalled job go on: it finishes ``running`` seconds from now.

        Raises:
            KeyError: no such job.
        """
        with self._lock:
            job = self._jobs[job_id]
            if job.stalled:
                job.stalled = False
                if job.status == INITIALIZED:
                    now = self.clock.now()
                    job.last_updated = now
                    job.finish_due = now + timedelta(seconds=job.run_seconds)

    # -- query ----------------------------------------------------------------------

    def _query(self, request: EmulatorRequest, method: str, route: str) -> EmulatorResponse:
        if not self._token_service.authorized(request.headers):
            return json_response(
                401,
                {"error": {"code": "Unauthorized", "message": "A valid bearer token is required."}},
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        with self._lock:
            result = handle_query(
                self.data.tables,
                method,
                route,
                request.query,
                request.headers,
                base_url=request.base_url.rstrip("/") + QUERY_PREFIX,
                page_size=self.page_size,
            )
        return EmulatorResponse(result.status, dict(result.headers), result.body)

    def table(self, namespace: str, name: str) -> Table:
        """The Query table ``namespace/name`` (rows are live; do not mutate).

        Raises:
            KeyError: no such entity set.
        """
        table = self.data.tables.get(namespace, name)
        if table is None:
            raise KeyError(f"{namespace}/{name}")
        return table

    # -- time and delivery ---------------------------------------------------------

    def _can_deliver_sync(self) -> bool:
        t = self.delivery_transport
        return t is None or isinstance(t, httpx.BaseTransport)

    def _can_deliver_async(self) -> bool:
        t = self.delivery_transport
        return t is None or isinstance(t, httpx.AsyncBaseTransport)

    def _flow(self, until: datetime | None, *, deliver: bool) -> DeliveryFlow:
        """Drive jobs and deliveries up to ``until`` (None: now), one due time at a time.

        Yields batches of deliveries to post and receives their results, so sync and
        async drivers share the schedule logic.
        """
        while True:
            with self._lock:
                self._process_due_jobs()
                now = self.clock.now()
                batch: list[PendingDelivery | PendingPush] = []
                if deliver:
                    batch = [*self.events.take_due(now), *self.orders.take_due(now)]
            if batch:
                results = yield batch
                with self._lock:
                    for pending, result in zip(batch, results, strict=True):
                        if isinstance(pending, PendingPush):
                            assert isinstance(result, PushResult)
                            self.orders.record(pending, result, now)
                        else:
                            assert isinstance(result, AttemptResult)
                            self.events.record(pending, result, now)
                continue
            if until is None:
                return
            with self._lock:
                dues = [
                    d
                    for d in (
                        self._next_job_due(),
                        self.events.next_due() if deliver else None,
                        self.orders.next_due() if deliver else None,
                    )
                    if d
                ]
                upcoming = min(dues) if dues else None
                now = self.clock.now()
                if upcoming is None or upcoming > until:
                    if now < until:
                        assert isinstance(self.clock, ManualClock)
                        self.clock.set(until)
                        continue
                    return
                if upcoming <= now:
                    return  # nothing runnable (cannot happen; guards against a spin)
                assert isinstance(self.clock, ManualClock)
                self.clock.set(upcoming)

    def _sync_client(self) -> httpx.Client:
        t = self.delivery_transport
        transport = _NonClosingTransport(t) if isinstance(t, httpx.BaseTransport) else None
        return httpx.Client(
            transport=transport, timeout=self.delivery_timeout, follow_redirects=True
        )

    def _async_client(self) -> httpx.AsyncClient:
        t = self.delivery_transport
        transport = (
            _NonClosingAsyncTransport(t) if isinstance(t, httpx.AsyncBaseTransport) else None
        )
        return httpx.AsyncClient(
            transport=transport, timeout=self.delivery_timeout, follow_redirects=True
        )

    def _drive_sync(self, flow: DeliveryFlow) -> None:
        client: httpx.Client | None = None
        try:
            batch = next(flow)
            while True:
                if client is None:
                    client = self._sync_client()
                results: list[AttemptResult | PushResult] = [
                    post_push_sync(client, p)
                    if isinstance(p, PendingPush)
                    else post_sync(client, p)
                    for p in batch
                ]
                batch = flow.send(results)
        except StopIteration:
            pass
        finally:
            flow.close()
            if client is not None:
                client.close()

    async def _drive_async(self, flow: DeliveryFlow) -> None:
        client: httpx.AsyncClient | None = None
        try:
            batch = next(flow)
            while True:
                if client is None:
                    client = self._async_client()
                results: list[AttemptResult | PushResult] = [
                    await post_push_async(client, p)
                    if isinstance(p, PendingPush)
                    else await post_async(client, p)
                    for p in batch
                ]
                batch = flow.send(results)
        except StopIteration:
            pass
        finally:
            flow.close()
            if client is not None:
                await client.aclose()

    def _until(self, seconds: float) -> datetime:
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs a ManualClock; a SystemClock moves by itself")
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        return self.clock.now() + timedelta(seconds=seconds)

    def advance(self, seconds: float) -> None:
        """Move a :class:`ManualClock` forward, running everything due on the way at its
        own time: job transitions and webhook attempts (synchronously).

        Raises:
            TypeError: the clock is not a :class:`ManualClock`.
            ValueError: ``seconds`` is negative.
        """
        until = self._until(seconds)
        self._drive_sync(self._flow(until, deliver=self._can_deliver_sync()))

    async def aadvance(self, seconds: float) -> None:
        """:meth:`advance` with asynchronous webhook delivery (e.g. ``httpx.ASGITransport``).

        Raises:
            TypeError: the clock is not a :class:`ManualClock`.
            ValueError: ``seconds`` is negative.
        """
        until = self._until(seconds)
        await self._drive_async(self._flow(until, deliver=self._can_deliver_async()))

    def run_due(self) -> None:
        """Process every job transition and webhook attempt due now (sync delivery)."""
        self._drive_sync(self._flow(None, deliver=self._can_deliver_sync()))

    async def arun_due(self) -> None:
        """Process everything due now, delivering webhooks asynchronously."""
        await self._drive_async(self._flow(None, deliver=self._can_deliver_async()))

    def delay(self, response: EmulatorResponse) -> None:
        """Wait out injected latency: wall clock, or emulator clock (a ManualClock just
        advances)."""
        if response.delay <= 0:
            return
        if response.real_delay:
            time.sleep(response.delay)
        else:
            self.clock.sleep(response.delay)

    async def adelay(self, response: EmulatorResponse) -> None:
        """:meth:`delay` without blocking the event loop."""
        if response.delay <= 0:
            return
        if response.real_delay:
            await asyncio.sleep(response.delay)
        elif isinstance(self.clock, ManualClock):
            self.clock.sleep(response.delay)
        else:
            await asyncio.sleep(self.clock.real_seconds(response.delay))

    def _after_request_sync(self) -> None:
        if self.auto_deliver and self._can_deliver_sync():
            self.run_due()

    async def _after_request_async(self) -> None:
        if self.auto_deliver and self._can_deliver_async():
            await self.arun_due()

    def complete_action(self, response: EmulatorResponse) -> EmulatorResponse:
        """Finish an admin action synchronously (shell helper)."""
        if response.action == "advance":
            try:
                self.advance(response.action_seconds)
            except TypeError as exc:
                return error(409, str(exc))
        elif response.action == "run_due":
            self.run_due()
        return json_response(200, self.admin_status())

    async def acomplete_action(self, response: EmulatorResponse) -> EmulatorResponse:
        """Finish an admin action asynchronously (shell helper)."""
        if response.action == "advance":
            try:
                await self.aadvance(response.action_seconds)
            except TypeError as exc:
                return error(409, str(exc))
        elif response.action == "run_due":
            await self.arun_due()
        return json_response(200, self.admin_status())

    def admin_status(self) -> dict[str, Any]:
        """Clock and queue figures (admin endpoint)."""
        with self._lock:
            return {
                "now": iso_utc(self.clock.now()),
                "active_jobs": len(self._active),
                "pending_deliveries": len(self.events.pending),
                "deliveries": len(self.events.deliveries),
                "dead_letters": len(self.events.dead),
                "pending_order_pushes": len(self.orders.pending),
                "escalated_orders": len(self.orders.escalated),
            }

    # -- events ---------------------------------------------------------------------

    def subscribe(
        self,
        event_type: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        enabled: bool = True,
        entities: Sequence[str] | None = None,
    ) -> Subscription:
        """Configure the webhook of ``event_type`` (as in Norce Admin → Events).

        Args:
            event_type: a documented event type, e.g. ``SkuChangedNotification``.
            url: the receiver URL.
            headers: static headers sent with every delivery.
            enabled: ON/OFF; while OFF nothing is tracked.
            entities: only these ``EntityChanged`` tables trigger it (Event Settings);
                None means all.

        Raises:
            ValueError: unknown event type or not an http(s) URL.
        """
        with self._lock:
            return self.events.subscribe(
                event_type,
                url,
                headers=headers,
                enabled=enabled,
                entities=None if entities is None else frozenset(entities),
            )

    def unsubscribe(self, event_type: str) -> None:
        """Remove the webhook of ``event_type``.

        Raises:
            ValueError: unknown event type.
        """
        with self._lock:
            self.events.unsubscribe(event_type)

    @property
    def subscriptions(self) -> dict[str, Subscription]:
        """Current subscriptions by event type."""
        with self._lock:
            return dict(self.events.subscriptions)

    @property
    def deliveries(self) -> list[DeliveryAttempt]:
        """Every delivery attempt so far, in order."""
        with self._lock:
            return list(self.events.deliveries)

    @property
    def pending_deliveries(self) -> list[PendingDelivery]:
        """Deliveries waiting for their next attempt."""
        with self._lock:
            return self.events.pending

    @property
    def dead_letters(self) -> list[PendingDelivery]:
        """Events whose last retry failed (never redelivered)."""
        with self._lock:
            return list(self.events.dead)

    def _back_office(self) -> ChangeSet:
        return ChangeSet(now=self.clock.now(), wants=self.events.wants)

    # -- simulated back-office changes ---------------------------------------------

    def _sku(self, part_no: str) -> Row:
        row = self.data.skus.get(part_no)
        if row is None:
            raise KeyError(f"SKU {part_no!r} does not exist")
        return row

    def set_sku_price(
        self,
        part_no: str,
        price_sale: Decimal | float | str,
        *,
        price_list_code: str | None = None,
        quantity_break: int = 1,
    ) -> dict[str, Any]:
        """Change a SKU's sale price as an Admin user would.

        Fires ``SkuPriceChangedNotification`` and ``SkuChangedNotification``
        (``tClientProductSkuPriceList``).

        Raises:
            KeyError: unknown SKU or price list.
            ValueError: not a price.
        """
        amount = to_decimal(price_sale, "price_sale")
        if amount is None:
            raise ValueError("price_sale is required")
        with self._lock:
            self._sku(part_no)
            if price_list_code is None:
                price_list_id = next(
                    r["PriceListId"] for r in self.data.price_lists.rows.values() if r["IsPrimary"]
                )
            else:
                found = self.data.price_list_by_code.get(price_list_code)
                if found is None:
                    raise KeyError(f"price list {price_list_code!r} does not exist")
                price_list_id = found
            changes = self._back_office()
            row = self.data.upsert_price(
                changes,
                part_no=part_no,
                price_list_id=price_list_id,
                qty_break=quantity_break,
                values={"PriceSale": amount, "IsActive": True},
            )
            self._commit(changes)
            return dict(row)

    def set_sku_onhand(
        self,
        part_no: str,
        onhand_value: Decimal | float | int | str,
        *,
        warehouse_code: str = "MAIN",
        location_code: str = "MAIN",
        minimum_value: Decimal | float | int | str | None = None,
    ) -> dict[str, Any]:
        """Change a SKU's stock; fires ``SkuChangedNotification``
        (``tClientProductSkuOnHand``) and, when the value reaches the row's
        ``MinimumValue``, ``SkuOnHandBreakPointNotification``.

        Raises:
            KeyError: unknown SKU.
            ValueError: not a number.
        """
        amount = to_decimal(onhand_value, "onhand_value")
        if amount is None:
            raise ValueError("onhand_value is required")
        with self._lock:
            self._sku(part_no)
            changes = self._back_office()
            warehouse_id, location_id = self.data.ensure_location(
                warehouse_code, location_code, changes.now
            )
            values: dict[str, Any] = {"OnHandValue": amount}
            if minimum_value is not None:
                values["MinimumValue"] = to_decimal(minimum_value, "minimum_value")
            row = self.data.upsert_onhand(
                changes,
                part_no=part_no,
                warehouse_id=warehouse_id,
                location_id=location_id,
                values=values,
            )
            self._commit(changes)
            return dict(row)

    def set_sku_name(self, part_no: str, name: str, *, culture_code: str | None = None) -> None:
        """Rename the product (variant) of a SKU in one culture (default culture: its
        ``DefaultName``). Fires ``SkuChangedNotification`` (``tClientProductSkuCulture``).

        Raises:
            KeyError: unknown SKU.
        """
        with self._lock:
            sku = self._sku(part_no)
            data = self.data
            culture = culture_code or data.default_culture
            product = data.products.get(sku["ProductId"])
            assert product is not None
            meta = data.product_meta[product["Id"]]
            if meta.cultures.get(culture, {}).get("Name") == name:
                return
            changes = self._back_office()
            meta.cultures.setdefault(culture, {})["Name"] = name
            product["DefaultName"] = data.default_text(meta.cultures, "Name")
            product["Updated"] = changes.now
            for sku_part_no in data.skus_by_product.get(product["Id"], {}):
                data.sku_event(changes, sku_part_no, "tClientProductSkuCulture")
            self._commit(changes)

    def set_sku_status(self, part_no: str, status: int | str) -> None:
        """Change a SKU's status (id or name, e.g. ``"Inactive"``); fires
        ``SkuChangedNotification`` (``tClientProductSku``).

        Raises:
            KeyError: unknown SKU.
            ValueError: unknown status.
        """
        status_id = enum_value("SkuStatus", status, where="status")
        with self._lock:
            self._sku(part_no)
            changes = self._back_office()
            self.data.touch_sku(changes, part_no, {"StatusId": status_id})
            self._commit(changes)

    def update_customer(self, customer_id: int, **fields: Any) -> dict[str, Any]:
        """Change a customer's fields (PascalCase names: ``FirstName``, ``EmailAddress``,
        ``IsActive``...) as an Admin user would; fires ``CustomerChangedNotification``
        (``tClientCustomer``).

        Raises:
            KeyError: unknown customer.
            ValueError: a field that the Query row does not have or that is a key.
        """
        with self._lock:
            row = self.data.customers.get(customer_id)
            if row is None:
                raise KeyError(f"customer {customer_id} does not exist")
            bad = [k for k in fields if k not in row or k in ("Id", "Key", "Created", "Updated")]
            if bad:
                raise ValueError(f"cannot set customer field(s): {', '.join(bad)}")
            changes = self._back_office()
            if "Code" in fields:
                self.data.customer_by_code.pop(row.get("Code") or "", None)
                self.data.customer_by_code[fields["Code"]] = customer_id
                fields["CustomerCode"] = fields["Code"]
            if "EmailAddress" in fields:
                self.data.customer_by_email.pop((row.get("EmailAddress") or "").casefold(), None)
                self.data.customer_by_email[str(fields["EmailAddress"]).casefold()] = customer_id
            if any(row.get(k) != v for k, v in fields.items()):
                row.update(fields)
                row["Updated"] = changes.now
                self.data.customer_event(changes, customer_id, "tClientCustomer")
            self._commit(changes)
            return dict(row)

    def add_category(
        self, code: str, name: str, *, parent_code: str | None = None
    ) -> dict[str, Any]:
        """Create or rename a category (Admin data; imports only link to categories)."""
        with self._lock:
            return dict(
                self.data.add_category(code, name, self.clock.now(), parent_code=parent_code)
            )

    # -- simulated orders -----------------------------------------------------------

    def create_order(
        self,
        items: Sequence[Mapping[str, Any] | tuple[str, int]],
        *,
        customer_id: int | None = None,
        company_id: int | None = None,
        order_no: str | None = None,
        source: str = "WEB",
        currency_code: str = "SEK",
        application_id: int | None = None,
    ) -> dict[str, Any]:
        """Simulate a checkout: an order in ``Orders/Orders`` (StatusId 0 Created) and an
        ``OrderReceivedEvent``.

        Args:
            items: ``(PartNo, quantity)`` pairs or mappings with ``PartNo``, ``Quantity``
                and optionally ``PriceSale`` (default: the SKU's primary list price).
            customer_id: buyer customer id.
            company_id: buyer company id.
            order_no: the ERP order number (default: generated).
            source: ``WEB`` for Norce checkout, else a marketplace/POS name.
            currency_code: order currency.
            application_id: defaults to the emulator's application.

        Returns:
            The order row.

        Raises:
            KeyError: unknown SKU, customer or currency.
        """
        with self._lock:
            data = self.data
            now = self.clock.now()
            customer = None
            if customer_id is not None:
                customer = data.customers.get(customer_id)
                if customer is None:
                    raise KeyError(f"customer {customer_id} does not exist")
            currency_id = data.currency_by_code.get(currency_code.upper())
            if currency_id is None:
                raise KeyError(f"currency {currency_code!r} does not exist")
            order_id = data.next_id("order")
            basket_id = data.next_id("basket")
            lines: list[Row] = []
            for entry in items:
                if isinstance(entry, tuple):
                    part_no, quantity, price = entry[0], entry[1], None
                else:
                    part_no = str(entry["PartNo"])
                    quantity = entry.get("Quantity", 1)
                    price = entry.get("PriceSale")
                sku = self._sku(part_no)
                if price is None:
                    primary = next(
                        r["PriceListId"] for r in data.price_lists.rows.values() if r["IsPrimary"]
                    )
                    row = data.sku_prices.rows.get((part_no, primary, 1))
                    price = row["PriceSale"] if row and row["PriceSale"] is not None else 0
                amount = to_decimal(price, "PriceSale") or Decimal(0)
                qty = to_decimal(quantity, "Quantity") or Decimal(1)
                product = data.products.get(sku["ProductId"])
                lines.append(
                    {
                        "Id": data.next_id("order_item"),
                        "OrderId": order_id,
                        "PartNo": part_no,
                        "ProductName": product["DefaultName"] if product else None,
                        "QtyOrdered": qty,
                        "PriceSale": amount,
                        "DiscountAmount": Decimal(0),
                        "LineAmount": amount * qty,
                        "VatRate": Decimal(25),
                        "StatusId": 0,
                    }
                )
            order = {
                "Id": order_id,
                "ApplicationId": application_id or self.application_id,
                "OrderNo": order_no or f"EMU-{order_id}",
                "OrderDate": now,
                "QuotationId": basket_id,
                "StatusId": 0,
                "TypeId": 1,
                "Source": source,
                "CurrencyId": currency_id,
                "FreightCost": Decimal(0),
                "BuyerCustomerId": customer_id,
                "BuyerCompanyId": company_id,
                "Created": now,
                "Updated": now,
                "IsForgotten": False,
            }
            data.orders.upsert(order)
            data.items_by_order[order_id] = lines
            data.order_meta[order_id] = {
                "ClientOrderRef": str(basket_id),
                "FirstName": customer["FirstName"] if customer else None,
                "LastName": customer["LastName"] if customer else None,
                "CellPhone": customer["CellPhoneNumber"] if customer else None,
                "Email": customer["EmailAddress"] if customer else None,
                "Confirmed": False,
            }
            meta = data.order_meta[order_id]
            self.events.fire(
                "OrderReceivedEvent",
                {
                    "ClientId": self.norce_client_id,
                    "ApplicationId": order["ApplicationId"],
                    "ClientOrderRef": meta["ClientOrderRef"],
                    "Email": meta["Email"],
                    "CellPhone": meta["CellPhone"],
                    "FirstName": meta["FirstName"],
                    "LastName": meta["LastName"],
                    "Source": source,
                },
                now,
            )
            return dict(order)

    def _order_event(
        self, order_id: int, status_id: int, event_type: str, **extra: Any
    ) -> dict[str, Any]:
        with self._lock:
            order = self.data.orders.get(order_id)
            if order is None:
                raise KeyError(f"order {order_id} does not exist")
            now = self.clock.now()
            meta = self.data.order_meta[order_id]
            order["StatusId"] = status_id
            order["Updated"] = now
            for line in self.data.items_by_order.get(order_id, []):
                line["StatusId"] = status_id
            if event_type == "OrderConfirmedEvent":
                if meta["Confirmed"]:
                    return dict(order)  # documented: delivered only once per order
                meta["Confirmed"] = True
            self.events.fire(
                event_type,
                {
                    "ClientId": self.norce_client_id,
                    "ApplicationId": order["ApplicationId"],
                    "OrderId": order_id,
                    "OrderNo": order["OrderNo"],
                    "ClientOrderRef": meta["ClientOrderRef"],
                    "CellPhone": meta["CellPhone"],
                    "FirstName": meta["FirstName"],
                    "LastName": meta["LastName"],
                    "Source": order["Source"],
                    **extra,
                },
                now,
            )
            return dict(order)

    def confirm_order(self, order_id: int) -> dict[str, Any]:
        """ERP confirmation: StatusId 2 and ``OrderConfirmedEvent`` (once per order).

        Raises:
            KeyError: unknown order.
        """
        return self._order_event(order_id, 2, "OrderConfirmedEvent")

    def ship_order(self, order_id: int, *, partial: bool = False) -> dict[str, Any]:
        """Delivery: StatusId 4 and ``OrderDeliveredEvent`` (or 8 and
        ``OrderPartlyDeliveredEvent`` when ``partial``).

        Raises:
            KeyError: unknown order.
        """
        if partial:
            return self._order_event(order_id, 8, "OrderPartlyDeliveredEvent")
        return self._order_event(order_id, 4, "OrderDeliveredEvent")

    def ready_for_pickup(self, order_id: int, drop_point_code: str | None = None) -> dict[str, Any]:
        """StatusId 11 and ``OrderReadyForPickupEvent``.

        Raises:
            KeyError: unknown order.
        """
        return self._order_event(
            order_id, 11, "OrderReadyForPickupEvent", DropPointCode=drop_point_code
        )

    def cancel_order(self, order_id: int) -> dict[str, Any]:
        """Cancellation: StatusId 6 and ``OrderCancelledEvent``.

        Raises:
            KeyError: unknown order.
        """
        return self._order_event(order_id, 6, "OrderCancelledEvent")

    # -- the Order Receiver ---------------------------------------------------------

    def set_order_receiver(
        self,
        url: str | None,
        *,
        username: str | None = None,
        password: str | None = None,
        endpoint_type: Literal["REST", "REST (Legacy)"] = "REST",
        policy: OrderPushPolicy | None = None,
        rules: OrderServiceRules | None = None,
    ) -> None:
        """Configure the ERP integration (Admin → Client settings → ERP integration).

        Args:
            url: the Order Receiver's URL; None is "No Integration" (nothing pushed).
            username: HTTP Basic user.
            password: HTTP Basic password.
            endpoint_type: ``"REST"`` (post to ``url``) or ``"REST (Legacy)"`` (post to
                ``url/CreateOrder``, INFERRED).
            policy: retry schedule, timeout, and whether ``Failed`` is retried (OPEN in
                Norce's docs; see :class:`~._orders.OrderPushPolicy`).
            rules: how strict the emulated Order service is
                (:class:`~._orders.OrderServiceRules`).

        Raises:
            ValueError: not an http(s) URL or an unknown endpoint type.
        """
        self.orders.set_receiver(
            url,
            username=username,
            password=password,
            endpoint_type=endpoint_type,
            policy=policy,
            rules=rules,
        )

    def place_order(
        self,
        items: Sequence[Mapping[str, Any] | tuple[str, int]],
        *,
        customer_id: int | None = None,
        source: str = "WEB",
        currency_code: str = "SEK",
        payment_code: int = 1,
        payment_method_code: str = "CARD",
        delivery_method_code: str = "STANDARD",
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A checkout: :meth:`create_order`, then the ``OrderRequest`` is pushed to the
        Order Receiver (on :meth:`run_due`/:meth:`arun_due`/:meth:`advance`, with the
        push policy's retries). Until the receiver answers, ``OrderNo`` is the basket id.

        Args:
            items: ``(PartNo, quantity)`` pairs or mappings (as :meth:`create_order`).
            customer_id: buyer customer id.
            source: ``WEB`` for Norce checkout.
            currency_code: order currency.
            payment_code: the payment's ``PaymentCode``.
            payment_method_code: the payment's ``PaymentMethodCode``.
            delivery_method_code: ``ShippingAdvice.DeliveryMethodCode``.
            extra: more ``OrderRequest`` members (PascalCase), e.g. unknown fields.

        Returns:
            The order row, plus ``ClientOrderRef`` and the pushed ``OrderRequest``.

        Raises:
            KeyError: unknown SKU, customer or currency.
        """
        with self._lock:
            order = self.create_order(
                items, customer_id=customer_id, source=source, currency_code=currency_code
            )
            row = self.data.orders.get(order["Id"])
            assert row is not None
            row["OrderNo"] = str(row["QuotationId"])
            request = self.orders.place(
                row,
                payment_code=payment_code,
                payment_method_code=payment_method_code,
                delivery_method_code=delivery_method_code,
                extra=extra,
            )
            return {
                **row,
                "ClientOrderRef": request["ClientOrderRef"],
                "OrderRequest": request,
            }

    def _order_admin(
        self, request: EmulatorRequest, method: str, rest: str
    ) -> EmulatorResponse | None:
        parts = [p for p in rest.split("/") if p]
        if not self.orders.is_admin_route(method, parts):
            return None
        try:
            body = _admin_body(request) if method in ("POST", "PUT") else {}
            return self.orders.handle_admin(method, parts, body)
        except KeyError as exc:
            return error(404, str(exc.args[0]) if exc.args else "not found")
        except (ValueError, TypeError) as exc:
            return error(400, str(exc))


def _admin_body(request: EmulatorRequest) -> dict[str, Any]:
    spool = spool_body(request.body, max_bytes=_SMALL_BODY)
    try:
        raw = spool.read_all(_SMALL_BODY)
    finally:
        if not isinstance(request.body, BodySpool):
            spool.close()
    value = orjson.loads(raw) if raw.strip() else {}
    if not isinstance(value, dict):
        raise ValueError("the body must be a JSON object")
    return value


def _entry(severity: int, message: str, when: datetime) -> LogEntry:
    return LogEntry(severity, message, when)
