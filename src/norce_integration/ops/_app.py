"""The console's ASGI app: reads the store, asks the pure core, renders HTML and SVG.

This is the thin I/O shell around :mod:`._core`: each handler awaits the
:class:`~norce_integration.stores.AsyncStore` (never a blocking call on the loop),
builds a snapshot, and renders a Jinja2 template that ships in the package.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, Literal, Protocol
from urllib.parse import parse_qsl, urlencode

import jinja2
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .._exceptions import ImportRefusedError, NorceError
from ..patterns import EventReplayReport, JobDetails
from ..stores import (
    AsyncStore,
    FullImportRecord,
    InFlightLock,
    TrackedJob,
    TrackedStatus,
    Watermark,
)
from . import _core, _metrics, _svg
from ._core import ConsoleOptions, EventSample, Snapshot, SourceRef
from ._security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    AccessPolicy,
    csrf_matches,
    new_csrf_token,
    same_origin,
)


__all__ = ["EventActions", "JobActions", "create_app"]

log = logging.getLogger(__name__)

_MAX_FORM: Final = 16_384
_INBOX_ORDER: Final = frozenset({"pending", "leased", "done"})
_SAMPLE_EVERY: Final = 5.0
_SAMPLES_KEPT: Final = 240
_NOTICES: Final = {
    "rerun": "Re-run submitted as job {n} (a re-run of job {of}).",
    "replayed": "Replayed {n} dead letter(s) into the inbox.",
    "deleted": "Deleted {n} dead letter(s).",
    "login": "Signed in.",
    "logout": "Signed out.",
}


class JobActions(Protocol):
    """What the console asks of a job tracker (``AsyncJobTracker`` fits)."""

    async def rerun(self, job_id: int, *, force: bool = False) -> TrackedJob:
        """Re-run a finished job through the tracker's safety rules."""
        ...

    async def show(self, job_id: int, *, fetch_log: bool = False) -> JobDetails:
        """The job with its history and, with ``fetch_log``, Norce's job log."""
        ...


class EventActions(Protocol):
    """What the console asks of an event handler (``AsyncEventHandler`` fits)."""

    async def replay(self, which: int | Iterable[int] | Literal["all"]) -> EventReplayReport:
        """Put dead letters back into the inbox."""
        ...


async def _form(request: Request) -> dict[str, str]:
    """A small url-encoded form (the console's forms have a handful of short fields).

    Parsed here rather than with ``request.form()``, which needs python-multipart.
    """
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > _MAX_FORM:
            return {}
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
    except (UnicodeDecodeError, ValueError):
        return {}
    return dict(pairs)


def _utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def _when(value: dt.datetime | None) -> str:
    if value is None:
        return _core.NONE
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _ago(value: dt.datetime | None, now: dt.datetime) -> str:
    if value is None:
        return ""
    return _core.format_seconds(max(0.0, (now - value).total_seconds())) + " ago"


def _status_class(status: Any) -> str:
    text = str(getattr(status, "value", status))
    if text in ("failed", "validation_failed"):
        return "bad"
    if text == "succeeded":
        return "good"
    if text in ("superseded", "timed_out_locally", "unknown"):
        return "muted"
    return "busy"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("norce_integration.ops", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["seconds"] = _core.format_seconds
    env.filters["status_class"] = _status_class
    env.filters["redact"] = _core.redact_text
    env.filters["payload"] = _core.redact_payload
    env.filters["severity"] = lambda value: str(getattr(value, "name", value))
    env.globals["ago"] = _ago
    return env


# Compiled once, when the module is imported (before any event loop runs): compiling the
# templates takes ~100 ms of CPU, too long to do on the loop at the first request.
_ENV: Final = _environment()
for _name in _ENV.list_templates(extensions=["html"]):
    _ENV.get_template(_name)


class _Console:
    def __init__(
        self,
        store: AsyncStore,
        *,
        access: AccessPolicy,
        jobs: JobActions | None,
        events: EventActions | None,
        sources: Sequence[SourceRef],
        options: ConsoleOptions,
        clock: Callable[[], float],
        title: str,
    ) -> None:
        self.store = store
        self.access = access
        self.jobs = jobs
        self.events = events
        self.sources = tuple(sources)
        self.options = options
        self.clock = clock
        self.title = title
        self.env = _ENV
        self.samples: collections.deque[EventSample] = collections.deque(maxlen=_SAMPLES_KEPT)

    # ------------------------------------------------------------------ plumbing

    def base(self, request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    def render(
        self,
        request: Request,
        template: str,
        *,
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        csrf = request.cookies.get(CSRF_COOKIE) or new_csrf_token()
        notice = context.pop("notice", None) or self.notice(request)
        body = self.env.get_template(template).render(
            base=self.base(request),
            title=self.title,
            csrf=csrf,
            notice=notice,
            signed_in=self.access.enabled,
            actions_enabled=self.access.enabled,
            path=request.url.path,
            **context,
        )
        response = HTMLResponse(body, status_code=status_code)
        if request.cookies.get(CSRF_COOKIE) != csrf:
            self.set_cookie(request, response, CSRF_COOKIE, csrf)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self'; "
            "script-src 'none'; form-action 'self'; frame-ancestors 'none'"
        )
        return response

    def set_cookie(self, request: Request, response: Response, name: str, value: str) -> None:
        response.set_cookie(
            name,
            value,
            path=self.base(request) or "/",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )

    @staticmethod
    def notice(request: Request) -> str | None:
        code = request.query_params.get("notice")
        template = _NOTICES.get(code or "")
        if template is None:
            return None
        values = {k: request.query_params.get(k, "") for k in ("n", "of")}
        if not all(v.isdigit() for v in values.values() if v):
            return None
        return template.format(**values)

    def denied(self, request: Request, message: str = "") -> Response:
        headers = {}
        if self.access.uses_basic:
            headers["WWW-Authenticate"] = 'Basic realm="norce-integration ops", charset="UTF-8"'
        else:
            headers["WWW-Authenticate"] = 'Bearer realm="norce-integration ops"'
        if request.url.path.endswith("/metrics"):
            return Response(
                "401 Unauthorized: a valid access token is required\n",
                status_code=401,
                headers=headers,
                media_type="text/plain",
            )
        response = self.render(
            request,
            "login.html",
            status_code=401,
            error=message or "Sign in with the console's access token.",
            next=self.relative(request),
        )
        response.headers.update(headers)
        return response

    def relative(self, request: Request) -> str:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
        path = request.url.path
        return path + (f"?{urlencode(query)}" if query else "")

    def authenticated(self, request: Request) -> bool:
        return self.access.authenticated(
            {k.lower(): v for k, v in request.headers.items()}, request.cookies
        )

    async def guard_read(self, request: Request) -> Response | None:
        token = request.query_params.get("token")
        if token is not None and self.access.token is not None:
            if not self.access.token_matches(token):
                return self.denied(request, "Wrong access token.")
            # A link with ?token= (printed by `ops serve`): set the session, drop the token
            # from the address bar and the history.
            response = RedirectResponse(self.relative(request), status_code=303)
            self.set_cookie(request, response, SESSION_COOKIE, self.access.session_value())
            return response
        if not self.authenticated(request):
            return self.denied(request)
        return None

    async def guard_action(self, request: Request) -> tuple[Response | None, dict[str, str]]:
        """Auth, then CSRF (origin and double submit); the form on success."""
        if not self.access.enabled:
            return (
                self.error(
                    request,
                    403,
                    "Actions are disabled: start the console with an access token "
                    "(--token or NORCE_OPS_TOKEN) or basic-auth credentials.",
                ),
                {},
            )
        if not self.authenticated(request):
            return self.denied(request), {}
        form = await _form(request)
        origin_ok = same_origin(
            request.headers.get("origin"), request.headers.get("referer"), request.url.netloc
        )
        if not origin_ok or not csrf_matches(request.cookies.get(CSRF_COOKIE), form.get("csrf")):
            return (
                self.error(
                    request,
                    403,
                    "The request failed the CSRF check (reload the page and try again).",
                ),
                {},
            )
        return None, form

    def error(self, request: Request, status: int, message: str) -> HTMLResponse:
        return self.render(request, "error.html", status_code=status, message=message)

    def redirect(self, request: Request, path: str, **query: str | int) -> Response:
        suffix = f"?{urlencode(query)}" if query else ""
        return RedirectResponse(f"{self.base(request)}{path}{suffix}", status_code=303)

    def now(self) -> dt.datetime:
        return _utc(self.clock())

    # ------------------------------------------------------------------ reading

    async def snapshot(self) -> Snapshot:
        store, options = self.store, self.options
        now = self.now()
        recent = await store.list_jobs(limit=options.window)
        failed = await store.list_jobs(statuses=_core.FAILED, limit=options.failed_window)
        unresolved = await store.unresolved_jobs()
        refs = _core.source_rows(self.sources, [*recent, *failed, *unresolved])
        full_imports: dict[tuple[str, int], FullImportRecord] = {}
        locks: dict[tuple[str, int], InFlightLock] = {}
        watermarks: dict[tuple[str, int, str], Watermark] = {}
        for pair in dict.fromkeys((r.kind, r.account_id) for r in refs):
            record = await store.get_last_full_import(*pair)
            if record is not None:
                full_imports[pair] = record
            lock = await store.lock_holder(*pair)
            if lock is not None:
                locks[pair] = lock
        for ref in refs:
            if ref.name is not None:
                mark = await store.get_watermark(ref.kind, ref.account_id, ref.name)
                if mark is not None:
                    watermarks[(ref.kind, ref.account_id, ref.name)] = mark
        counts = await store.inbox_counts()
        oldest = await store.inbox_oldest_pending()
        letters = await store.list_dead_letters(limit=options.dead_letter_limit)
        self.sample(counts, len(letters))
        return Snapshot(
            now=now,
            recent_jobs=recent,
            failed_jobs=failed,
            unresolved_jobs=unresolved,
            sources=refs,
            full_imports=full_imports,
            locks=locks,
            watermarks=watermarks,
            inbox_counts=counts,
            oldest_pending_at=oldest,
            dead_letters=letters,
        )

    def sample(self, counts: dict[str, int], dead: int) -> None:
        at = self.clock()
        if self.samples and at - self.samples[-1].at < _SAMPLE_EVERY:
            return
        self.samples.append(EventSample(at, sum(counts.values()), counts.get("done", 0), dead))

    def plots(self, snapshot: Snapshot) -> dict[str, Markup]:
        runs = self.options.plot_runs
        lead = _core.lead_time_series(snapshot.recent_jobs, runs=runs)
        longest = max((s for points in lead.values() for _, s, _ in points), default=0.0)
        unit, scale = ("seconds", 1.0) if longest < 120 else ("minutes", 60.0)
        if longest >= 7200:
            unit, scale = "hours", 3600.0
        lead_svg = _svg.line_chart(
            {
                kind: [
                    (i, s / scale, f"job {job} {status}, {_core.format_seconds(s)}")
                    for i, (job, s, status) in enumerate(points)
                ]
                for kind, points in lead.items()
            },
            title=f"Lead time per kind, last {runs} finished runs",
            unit=unit,
            x_labels=(f"{runs} runs ago", "latest"),
        )
        items = _core.items_series(snapshot.recent_jobs, runs=runs)
        items_svg = _svg.bar_chart(
            [
                (f"job {job} {kind} ({'full' if full else 'delta'})", float(n), kind)
                for job, kind, full, n in items
            ],
            title=f"Items per import, last {runs} jobs",
            unit="items",
        )
        return {"lead_time": Markup(lead_svg), "items_per_import": Markup(items_svg)}  # noqa: S704 - escaped in _svg

    def events_plot(self) -> Markup:
        rates = _core.events_per_minute(list(self.samples))
        svg = _svg.line_chart(
            {
                "received": [(t, r, f"{_when(_utc(t))}: {r:.1f}/min") for t, r, _ in rates],
                "processed": [(t, p, f"{_when(_utc(t))}: {p:.1f}/min") for t, _, p in rates],
            }
            if rates
            else {},
            title="Events per minute (sampled while the console is open)",
            unit="events/min",
            x_labels=("earlier", "now"),
        )
        return Markup(svg)  # noqa: S704 - escaped in _svg

    # ------------------------------------------------------------------ pages

    async def overview(self, request: Request) -> Response:
        if (denied := await self.guard_read(request)) is not None:
            return denied
        snapshot = await self.snapshot()
        view = _core.build_overview(snapshot, self.options)
        return self.render(
            request, "overview.html", view=view, now=view.now, plots=self.plots(snapshot)
        )

    async def jobs_list(self, request: Request) -> Response:
        if (denied := await self.guard_read(request)) is not None:
            return denied
        now = self.now()
        flt, problems = _core.parse_job_filter(dict(request.query_params), now)
        jobs = await self.store.list_jobs(
            kind=flt.kind,
            account_id=flt.account_id,
            statuses=None if flt.status is None else [flt.status],
            submitted_after=flt.since,
            submitted_before=flt.until,
            # The mode is filtered here (the store has no such filter): read a little more.
            limit=flt.limit if flt.mode is None else flt.limit * 4,
        )
        rows = [j for j in jobs if flt.keep(j)][: flt.limit]
        kinds = sorted({*(j.kind for j in rows), *(r.kind for r in self.sources)})
        return self.render(
            request,
            "jobs.html",
            jobs=rows,
            flt=flt,
            problems=problems,
            kinds=kinds,
            statuses=[s.value for s in TrackedStatus],
            now=now,
            lead_time=_core.lead_time,
        )

    async def job_detail(
        self, request: Request, *, message: str = "", status: int = 200
    ) -> Response:
        if (denied := await self.guard_read(request)) is not None:
            return denied
        try:
            job_id = int(request.path_params["job_id"])
        except ValueError:
            return self.error(request, 404, "No such job.")
        job = await self.store.get_job(job_id)
        if job is None:
            return self.error(request, 404, f"Job {job_id} is not tracked in this store.")
        log_entries: Sequence[Any] | None = None
        note = ""
        if self.jobs is None:
            note = (
                "Norce's job log is fetched through a job tracker: start the console with "
                "Norce credentials (NORCE_* or [norce] in --config). The store holds the "
                "status history below."
            )
        else:
            try:
                details = await self.jobs.show(job_id, fetch_log=True)
            except NorceError as exc:
                note = _core.redact_text(f"Could not fetch the job log from Norce: {exc}")
            else:
                log_entries = details.log or ()
        page = _core.job_page(job, self.now(), log=log_entries, log_note=note)
        reruns = [
            j
            for j in await self.store.list_jobs(
                kind=job.kind,
                account_id=job.account_id,
                submitted_after=job.submitted_at,
                limit=200,
            )
            if j.rerun_of == job.job_id
        ]
        return self.render(
            request,
            "job.html",
            status_code=status,
            page=page,
            job=job,
            reruns=reruns,
            can_rerun=self.jobs is not None,
            message=message,
            now=self.now(),
        )

    async def job_rerun(self, request: Request) -> Response:
        denied, _form = await self.guard_action(request)
        if denied is not None:
            return denied
        job_id = int(request.path_params["job_id"])
        if self.jobs is None:
            return self.error(request, 409, "Re-runs need a job tracker (Norce credentials).")
        try:
            new = await self.jobs.rerun(job_id)
        except ImportRefusedError as exc:
            return await self.job_detail(
                request, message=f"Re-run refused: {_core.redact_text(str(exc))}", status=409
            )
        except NorceError as exc:
            return await self.job_detail(
                request, message=f"Re-run failed: {_core.redact_text(str(exc))}", status=502
            )
        log.info("console: job %d re-run as job %d", job_id, new.job_id)
        return self.redirect(
            request, f"/jobs/{new.job_id}", notice="rerun", n=new.job_id, of=job_id
        )

    async def events_page(
        self, request: Request, *, messages: Sequence[str] = (), status: int = 200
    ) -> Response:
        if (denied := await self.guard_read(request)) is not None:
            return denied
        counts = await self.store.inbox_counts()
        letters = await self.store.list_dead_letters(limit=self.options.dead_letter_limit)
        self.sample(counts, len(letters))
        return self.render(
            request,
            "events.html",
            status_code=status,
            counts=counts,
            statuses=["pending", "leased", "done", *sorted(set(counts) - _INBOX_ORDER)],
            letters=letters,
            limited=len(letters) >= self.options.dead_letter_limit,
            can_replay=self.events is not None,
            messages=messages,
            events_plot=self.events_plot(),
            now=self.now(),
        )

    async def letter_action(self, request: Request) -> Response:
        denied, _form = await self.guard_action(request)
        if denied is not None:
            return denied
        action = request.path_params["action"]
        target = request.path_params.get("letter_id", "all")
        if target == "all":
            which: int | Literal["all"] = "all"
        else:
            try:
                which = int(target)
            except ValueError:
                return self.error(request, 404, "No such dead letter.")
        if action == "replay":
            if self.events is None:
                return await self.events_page(
                    request,
                    messages=["Replay needs the event handler: configure [events] targets."],
                    status=409,
                )
            report = await self.events.replay(which)
            if report.failed:
                messages = [f"Replayed {len(report.replayed)} dead letter(s)."] + [
                    f"Dead letter {letter} kept: {_core.redact_text(reason)}"
                    for letter, reason in sorted(report.failed.items())
                ]
                return await self.events_page(request, messages=messages, status=409)
            return self.redirect(request, "/events", notice="replayed", n=len(report.replayed))
        if action == "delete":
            if which == "all":
                letters = await self.store.list_dead_letters()
                ids = [letter.letter_id for letter in letters]
            else:
                ids = [which]
            deleted = 0
            for letter_id in ids:
                deleted += bool(await self.store.delete_dead_letter(letter_id))
            return self.redirect(request, "/events", notice="deleted", n=deleted)
        return self.error(request, 404, "No such action.")

    async def metrics(self, request: Request) -> Response:
        if not self.authenticated(request):
            return self.denied(request)
        reading = _metrics.MetricsReading(
            jobs=await self.store.list_jobs(),
            inbox_counts=await self.store.inbox_counts(),
            dead_letters=await self.store.list_dead_letters(),
        )
        return Response(_metrics.render(reading), media_type=_metrics.CONTENT_TYPE)

    async def login(self, request: Request) -> Response:
        target = request.query_params.get("next", "")
        if request.method == "GET":
            return self.render(request, "login.html", error="", next=target)
        form = await _form(request)
        target = form.get("next", "")
        if not same_origin(
            request.headers.get("origin"), request.headers.get("referer"), request.url.netloc
        ):
            return self.error(request, 403, "The sign-in failed the origin check.")
        if not self.access.token_matches(form.get("token", "")):
            return self.render(
                request, "login.html", status_code=401, error="Wrong access token.", next=target
            )
        if not target.startswith("/") or target.startswith("//"):
            target = (self.base(request) or "") + "/"
        response = RedirectResponse(target, status_code=303)
        self.set_cookie(request, response, SESSION_COOKIE, self.access.session_value())
        return response

    async def logout(self, request: Request) -> Response:
        response = self.redirect(request, "/login")
        response.delete_cookie(SESSION_COOKIE, path=self.base(request) or "/")
        return response


def create_app(
    store: AsyncStore,
    *,
    access: AccessPolicy | None = None,
    jobs: JobActions | None = None,
    events: EventActions | None = None,
    sources: Sequence[SourceRef] = (),
    options: ConsoleOptions | None = None,
    clock: Callable[[], float] = time.time,
    title: str = "norce-integration",
) -> Starlette:
    """The operations console as an ASGI app (mount it in FastAPI or Starlette).

    Args:
        store: the integration's state store, awaited (``AsyncSqliteStore``,
            ``AsyncPostgresStore``).
        access: credentials; without any, pages are readable and actions refused (serve
            such an app on a loopback address only: see :func:`check_bind`).
        jobs: the job tracker for re-runs and Norce's job logs (``AsyncJobTracker``).
        events: the event handler for dead-letter replays (``AsyncEventHandler``).
        sources: sources to show even before their first job (and whose watermark to
            show: a watermark is keyed by the source's name).
        options: alert thresholds and history sizes.
        clock: seconds since the epoch.
        title: shown in the page header.

    Example:
        >>> app = FastAPI()  # doctest: +SKIP
        >>> app.mount("/ops", create_app(store, access=AccessPolicy(token=token)))  # doctest: +SKIP
    """
    console = _Console(
        store,
        access=access or AccessPolicy(),
        jobs=jobs,
        events=events,
        sources=sources,
        options=options or ConsoleOptions(),
        clock=clock,
        title=title,
    )

    routes = [
        Route("/", console.overview, name="overview"),
        Route("/jobs", console.jobs_list, name="jobs"),
        Route("/jobs/{job_id}", console.job_detail, name="job"),
        Route("/jobs/{job_id}/rerun", console.job_rerun, methods=["POST"], name="rerun"),
        Route("/events", console.events_page, name="events"),
        Route(
            "/events/dead-letters/{letter_id}/{action}",
            console.letter_action,
            methods=["POST"],
            name="letter",
        ),
        Route("/metrics", console.metrics, name="metrics"),
        Route("/login", console.login, methods=["GET", "POST"], name="login"),
        Route("/logout", console.logout, methods=["POST"], name="logout"),
        Mount(
            "/static",
            StaticFiles(packages=[("norce_integration.ops", "static")]),
            name="static",
        ),
    ]
    app = Starlette(routes=routes)
    app.state.console = console
    return app
