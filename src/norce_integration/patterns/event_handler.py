"""Norce events to a target system: :class:`EventHandler` and its twin :class:`AsyncEventHandler`.

The pattern Norce documents (reference §3.9): a webhook carries ids, the integration
looks the entity up in Query, maps it and sends it on. The handler splits that in two so
nothing is lost and Norce's 5 s budget is never at risk:

1. **Receive** — :attr:`EventHandler.app`, an ASGI application: checks the static auth
   header (constant time) and optionally the source network, validates the body, writes
   it to the store's inbox (deduplicated, group-committed) and only then answers 2xx.
   No Query call on this path. See :mod:`._receiver` for every status code.
2. **Process** — :meth:`EventHandler.run_once` / :meth:`EventHandler.run`: claim a batch
   of inbox items under a lease, coalesce events per entity (twenty
   ``SkuChangedNotification`` for one ``PartNo`` are one lookup), evict those entities
   from the Query cache, look them up in batches (``lookup_many``, selecting only what
   each target needs), and hand each target its batch: mapped entities, and
   :class:`Deletion` markers for entities Query no longer has. Events that name no Query
   entity (``OrderReceivedEvent``, ``CompanyChangedNotification``…) are passed as they
   came. ``JobCompletedEvent`` resolves the job in the :class:`JobTracker`.

Failures are retried with exponential backoff (attempts are counted on the inbox item);
after ``max_attempts`` the event becomes a dead letter, listed by :meth:`dead_letters`
and put back by :meth:`replay`. A worker killed while holding a batch loses nothing: its
lease expires and another worker claims the items again. Delivery to targets is
at-least-once; a target never receives an entity older than the one it last received
(see :mod:`._event_core` for the ordering rules).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Collection, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable

from .._client import AsyncNorce, Norce
from .._exceptions import ConfigurationError, StoreError
from ..query import AsyncQueryResource, QueryCache, QueryResource
from ..stores import DeadLetter, InboxItem, Store
from ._event_core import (
    Change,
    Counts,
    Deletion,
    EventBatchReport,
    EventCore,
    EventReplayReport,
    LookupSpec,
    Route,
    RoutePlan,
    build_route,
    composite_queries,
    fail,
    match_composite,
)
from ._inbox import DedupUntil, InboxWriter, WriterKind, inbox_backend, make_writer
from ._receiver import IPNetwork, ReceiverConfig, UnknownPolicy, WebhookAuth, WebhookReceiver


if TYPE_CHECKING:
    from .jobs import AsyncJobTracker, JobTracker

__all__ = [
    "AsyncEventHandler",
    "AsyncTargetAdapter",
    "Deletion",
    "EventHandler",
    "EventBatchReport",
    "EventReplayReport",
    "TargetAdapter",
    "WebhookAuth",
]

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
_LOCK_POLL = 0.05


# ---------------------------------------------------------------------------- protocols


@runtime_checkable
class TargetAdapter(Protocol):
    """Where events go: declare what you need, map an entity, send a batch (blocking).

    Subclass it (the abstract members must then be defined) or write any class with
    these members. Optional attributes, read when present:

    * ``name`` (str): identifies the target in the store; default: the class name. Keep
      it stable — the versions sent are recorded under it.
    * ``lookup`` (bool, default ``True``): ``False`` sends the events themselves, no
      Query lookup.
    * ``version_field`` (str | None, default ``"Updated"``): the entity's modification
      time; ``None`` turns the ordering check off (unchanged entities are still skipped).
    * ``max_batch`` (int | None): the most items per ``send`` call.

    Example:
        >>> class Search(TargetAdapter):
        ...     event_types = ("SkuChangedNotification",)
        ...     select = ("PartNo", "EanCode", "StatusId")
        ...
        ...     def map(self, sku):
        ...         return {"id": sku.part_no, "ean": sku.ean_code}
        ...
        ...     def send(self, batch):
        ...         upserts = [d for d in batch if not isinstance(d, Deletion)]
        ...         deletes = [d.key for d in batch if isinstance(d, Deletion)]
    """

    @property
    @abstractmethod
    def event_types(self) -> Collection[str]:
        """The event types this target takes (any letter case)."""

    @property
    @abstractmethod
    def select(self) -> Sequence[str]:
        """The Query fields (wire names, ``"EanCode"``) it needs; empty: all fields.

        The key and ``Updated`` are added when needed.
        """

    @abstractmethod
    def map(self, entity: Any) -> Any:
        """Turn a looked-up entity (or an event, for events without an entity) into the
        target's shape. An exception fails only this entity's events."""

    @abstractmethod
    def send(self, batch: Sequence[Any]) -> None:
        """Deliver a batch: mapped entities and :class:`Deletion` markers.

        Raise to have every event behind the batch retried later (with backoff).
        """


@runtime_checkable
class AsyncTargetAdapter(Protocol):
    """The async twin of :class:`TargetAdapter`: ``send`` is a coroutine, ``map`` is not."""

    @property
    @abstractmethod
    def event_types(self) -> Collection[str]:
        """The event types this target takes (any letter case)."""

    @property
    @abstractmethod
    def select(self) -> Sequence[str]:
        """The Query fields (wire names) it needs; empty: all fields."""

    @abstractmethod
    def map(self, entity: Any) -> Any:
        """Turn a looked-up entity (or an event) into the target's shape."""

    @abstractmethod
    async def send(self, batch: Sequence[Any]) -> None:
        """Deliver a batch: mapped entities and :class:`Deletion` markers."""


class _FunctionTarget:
    """A function registered with :meth:`EventHandler.on`: receives the entities as-is."""

    def __init__(
        self,
        fn: Callable[[Sequence[Any]], Any],
        *,
        event_types: Sequence[str],
        select: Sequence[str],
        name: str,
        lookup: bool,
        version_field: str | None,
        max_batch: int | None,
    ) -> None:
        self.fn = fn
        self.event_types = tuple(event_types)
        self.select = tuple(select)
        self.name = name
        self.lookup = lookup
        self.version_field = version_field
        self.max_batch = max_batch

    def map(self, entity: Any) -> Any:
        return entity

    def send(self, batch: Sequence[Any]) -> None:
        self.fn(batch)


class _AsyncFunctionTarget(_FunctionTarget):
    async def send(self, batch: Sequence[Any]) -> None:  # type: ignore[override]
        await self.fn(batch)


# ---------------------------------------------------------------------------- shared setup


def _setup(
    handler: EventHandler | AsyncEventHandler,
    store: Store,
    *,
    cache: QueryCache | None,
    auth: WebhookAuth | None,
    allow_networks: Iterable[str | IPNetwork] | None,
    trusted_proxy_hops: int,
    max_body_size: int,
    unknown_events: UnknownPolicy,
    ack_timeout: float,
    dedup_window: float,
    dedup_until: DedupUntil,
    group_commit: bool,
    writer: WriterKind,
    batch_size: int,
    lease: float,
    max_attempts: int,
    retry_base: float,
    retry_cap: float,
    poll_interval: float,
    inbox_retention: float,
    owner: str | None,
) -> None:
    if dedup_window < 0:
        raise ConfigurationError(f"must be >= 0, got {dedup_window}", setting="dedup_window")
    if not poll_interval > 0:
        raise ConfigurationError(f"must be > 0, got {poll_interval}", setting="poll_interval")
    try:
        handler._config = ReceiverConfig(
            auth=auth,
            allow_networks=allow_networks,
            trusted_proxy_hops=trusted_proxy_hops,
            max_body_size=max_body_size,
            unknown_events=unknown_events,
            ack_timeout=ack_timeout,
        )
    except ValueError as exc:
        raise ConfigurationError(str(exc), setting="receiver") from exc
    backend = inbox_backend(store, window=dedup_window, dedup_until=dedup_until)
    try:
        handler._writer = make_writer(writer, backend, group_commit=group_commit)
    except ValueError as exc:
        raise ConfigurationError(str(exc), setting="writer") from exc
    handler._core = EventCore(
        store=store,
        backend=backend,
        cache=cache,
        batch_size=batch_size,
        lease=lease,
        max_attempts=max_attempts,
        retry_base=retry_base,
        retry_cap=retry_cap,
        dedup_until=dedup_until,
        inbox_retention=inbox_retention,
        maintenance_interval=60.0,
        owner=owner,
    )
    handler._app = None
    handler.poll_interval = poll_interval


def _cache_for(norce: Norce | AsyncNorce, cache: QueryCache | None) -> QueryCache:
    """The given cache, else the client's (``Norce(query_cache=...)``), else a new one.

    Sharing the client's cache lets the events' evictions keep the application's own
    cached reads current too.
    """
    if cache is not None:
        return cache
    own = getattr(norce, "query_cache", None)
    return own if isinstance(own, QueryCache) else QueryCache()


def _coalesced(plans: Sequence[RoutePlan], counts: Counts) -> None:
    entities: set[tuple[str, str, str]] = set()
    events: set[int] = set()
    for plan in plans:
        for key, group in plan.groups.items():
            entities.add(key)
            events.update(w.item.item_id for w in group.works)
    counts.add("entities", len(entities))
    counts.add("coalesced", len(events) - len(entities))


def _batches(route: Route, mapped: list[tuple[Change, Any]]) -> list[list[tuple[Change, Any]]]:
    """Send groups: suspects (failed before) one by one, the rest in ``max_batch`` chunks."""
    normal = [pair for pair in mapped if not pair[0].suspect]
    suspects = [[pair] for pair in mapped if pair[0].suspect]
    size = getattr(route.adapter, "max_batch", None) or len(normal) or 1
    return [normal[i : i + size] for i in range(0, len(normal), size)] + suspects


class _Breaker:
    """Stops one-by-one sends when the target itself is down, not one entity poisoned.

    Events that failed before are sent one entity per call to isolate a poison entity;
    after a target outage every event of the batch failed before, and calling a dead
    target once per entity would only slow the retry down. Three single sends failing
    in a row open the breaker: the rest of the batch is retried later without a call.
    """

    LIMIT = 3

    def __init__(self) -> None:
        self.streak = 0
        self.reason = ""

    @property
    def open(self) -> bool:
        return self.streak >= self.LIMIT

    def failed(self, size: int, reason: str) -> None:
        self.streak = self.streak + 1 if size == 1 else 0
        self.reason = f"{reason} (not called again in this batch: the target looks down)"

    def succeeded(self) -> None:
        self.streak = 0


def _lookup_failure(exc: BaseException, namespace: str, entity_set: str) -> str:
    return f"lookup {namespace}/{entity_set}: {type(exc).__name__}: {exc}"


# ---------------------------------------------------------------------------- sync


class EventHandler:
    """Receives Norce webhooks and processes them into targets (blocking workers).

    Example:
        >>> handler = EventHandler(  # doctest: +SKIP
        ...     norce,
        ...     SqliteStore("state/norce.sqlite"),
        ...     targets=[Search()],
        ...     auth=WebhookAuth("X-Norce-Webhook-Secret", secret),
        ... )
        >>> app.mount("/hooks/norce", handler.app)  # in FastAPI/Starlette  # doctest: +SKIP
        >>> handler.run(stop_event)  # in a worker process or thread  # doctest: +SKIP

    Args:
        norce: the client (a cached :class:`QueryResource` is built on its connection), or
            a ready :class:`QueryResource` (used as it is, with or without its cache).
        store: inbox, dedup keys, dead letters, sent versions and locks.
        targets: target adapters; more can be added with :meth:`add_target` and :meth:`on`.
        tracker: resolves jobs from ``JobCompletedEvent`` (no polling needed).
        cache: the Query cache when ``norce`` is a client (default: the client's
            ``query_cache``, else a new :class:`QueryCache`).
        auth: the static header Norce sends (``None``: no authentication, logged).
        allow_networks: source networks allowed to post (``None``: any).
        trusted_proxy_hops: reverse proxies whose ``X-Forwarded-For`` entry is trusted.
        max_body_size: bytes; larger bodies are refused unread (400).
        unknown_events: events of unknown or unhandled types: ``"accept"`` (200, kept as
            a dead letter) or ``"reject"`` (404, Norce retries for a day).
        ack_timeout: seconds the receiver waits for the durable write before 503.
        dedup_window: seconds a redelivery (same type and body) is dropped; 0: off.
        dedup_until: ``"claimed"`` (default): a redelivery is dropped only while the
            first copy waits in the inbox — once a worker takes it, the same body is a new
            change (Norce bodies carry only ids, so a second change of the same entity
            and table looks exactly like a retry, and dropping it would lose it);
            ``"window"``: dropped for the whole window, even after processing (fewer
            lookups; a genuine repeat within the window is missed).
        group_commit: write concurrent requests in one transaction (``False``: one commit
            per event; for measurements).
        writer: where the receiver's commits run: ``"thread"`` (default: a writer
            thread, the event loop never waits for the store) or ``"loop"`` (in the event
            loop's thread: no thread hand-offs, but the loop stalls while another
            process holds the store's write lock).
        batch_size: inbox items per batch.
        lease: seconds a worker holds a batch before another may take it.
        max_attempts: attempts before an event becomes a dead letter.
        retry_base: first retry delay (doubles each attempt).
        retry_cap: longest retry delay.
        poll_interval: seconds :meth:`run` sleeps when the inbox is empty.
        inbox_retention: seconds processed inbox items are kept before purging.
        owner: lease owner id (default ``host:pid:random``).

    Raises:
        ConfigurationError: an option is invalid or a target is not a target adapter.
    """

    _config: ReceiverConfig
    _writer: InboxWriter
    _core: EventCore
    _app: WebhookReceiver | None
    poll_interval: float

    def __init__(
        self,
        norce: Norce | QueryResource,
        store: Store,
        *,
        targets: Iterable[TargetAdapter] = (),
        tracker: JobTracker | None = None,
        cache: QueryCache | None = None,
        auth: WebhookAuth | None = None,
        allow_networks: Iterable[str | IPNetwork] | None = None,
        trusted_proxy_hops: int = 0,
        max_body_size: int = 64 * 1024,
        unknown_events: UnknownPolicy = "accept",
        ack_timeout: float = 4.0,
        dedup_window: float = 300.0,
        dedup_until: DedupUntil = "claimed",
        group_commit: bool = True,
        writer: WriterKind = "thread",
        batch_size: int = 500,
        lease: float = 60.0,
        max_attempts: int = 8,
        retry_base: float = 2.0,
        retry_cap: float = 600.0,
        poll_interval: float = 1.0,
        inbox_retention: float = 24 * 3600.0,
        owner: str | None = None,
    ) -> None:
        if isinstance(norce, QueryResource):
            if cache is not None:
                msg = "pass the cache to the QueryResource, not to the handler"
                raise ConfigurationError(msg, setting="cache")
            self._query = norce
        else:
            self._query = QueryResource(norce._http, cache=_cache_for(norce, cache))
        _setup(
            self,
            store,
            cache=self._query.cache,
            auth=auth,
            allow_networks=allow_networks,
            trusted_proxy_hops=trusted_proxy_hops,
            max_body_size=max_body_size,
            unknown_events=unknown_events,
            ack_timeout=ack_timeout,
            dedup_window=dedup_window,
            dedup_until=dedup_until,
            group_commit=group_commit,
            writer=writer,
            batch_size=batch_size,
            lease=lease,
            max_attempts=max_attempts,
            retry_base=retry_base,
            retry_cap=retry_cap,
            poll_interval=poll_interval,
            inbox_retention=inbox_retention,
            owner=owner,
        )
        self._core.tracker = tracker
        self._route_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        for target in targets:
            self.add_target(target)

    def __repr__(self) -> str:
        names = ", ".join(r.name for r in self._core.routes)
        return f"EventHandler(targets=[{names}], store={self._core.store!r})"

    @property
    def query(self) -> QueryResource:
        """The Query resource lookups go through (targets may use it to enrich)."""
        return self._query

    @property
    def store(self) -> Store:
        """The store."""
        return self._core.store

    @property
    def app(self) -> WebhookReceiver:
        """The ASGI webhook receiver: mount it, or run it with uvicorn."""
        if self._app is None:
            self._app = WebhookReceiver(
                self._config, self._writer, self._core.handles, on_shutdown=self._writer.close
            )
        return self._app

    def add_target(self, target: TargetAdapter) -> None:
        """Register a target adapter.

        Raises:
            ConfigurationError: it is not a (sync) target adapter, declares no event
                types, or its name is taken.
        """
        self._core.add_route(build_route(target, asynchronous=False))

    def on(
        self,
        *event_types: str,
        select: Sequence[str] = (),
        name: str | None = None,
        lookup: bool = True,
        version_field: str | None = "Updated",
        max_batch: int | None = None,
    ) -> Callable[[F], F]:
        """Register a function as a target: it receives each batch (entities as Query
        returned them, and :class:`Deletion` markers).

        Example:
            >>> @handler.on("SkuChangedNotification", select=["PartNo"])  # doctest: +SKIP
            ... def push(batch):
            ...     search.index([s for s in batch if not isinstance(s, Deletion)])

        Raises:
            ConfigurationError: no event type, a coroutine function, or a name taken.
        """

        def register(fn: F) -> F:
            if asyncio.iscoroutinefunction(fn):
                msg = f"{fn.__qualname__} is async: register it on an AsyncEventHandler"
                raise ConfigurationError(msg, setting="targets")
            self.add_target(
                _FunctionTarget(
                    fn,
                    event_types=event_types,
                    select=select,
                    name=name or fn.__qualname__,
                    lookup=lookup,
                    version_field=version_field,
                    max_batch=max_batch,
                )
            )
            return fn

        return register

    def run_once(self) -> EventBatchReport:
        """Claim one batch from the inbox and process it to the end.

        Every claimed item ends acknowledged, scheduled for a retry, or a dead letter; if
        this call is interrupted, unfinished items are released for another worker.

        Raises:
            StoreError: the store failed (claimed items are released or expire).
        """
        core = self._core
        core.maintain()
        items = core.claim()
        counts = Counts()
        counts.add("claimed", len(items))
        if not items:
            return counts.report()
        settled = False
        try:
            errors = self._process(items, counts)
            core.settle(items, errors, counts)
            settled = True
        finally:
            if not settled:
                counts.add("released", core.release_unprocessed(items))
        return counts.report()

    def run(self, stop_event: threading.Event | None = None) -> None:
        """Process batches until ``stop_event`` is set; the batch in hand is finished.

        Store failures are logged and retried after ``poll_interval``.
        """
        stop = stop_event if stop_event is not None else threading.Event()
        while not stop.is_set():
            try:
                report = self.run_once()
            except StoreError as exc:
                log.error("event worker: the store failed, retrying: %s", exc)
                stop.wait(self.poll_interval)
                continue
            if report.claimed == 0:
                stop.wait(self.poll_interval)

    def dead_letters(self, *, limit: int | None = None) -> list[DeadLetter]:
        """Events that failed ``max_attempts`` times, malformed requests, and unhandled
        events, oldest first (``source`` says which).

        Raises:
            StoreError: the store failed.
        """
        return self._core.dead_letters(limit)

    def replay(self, which: int | Iterable[int] | Literal["all"]) -> EventReplayReport:
        """Put dead letters back into the inbox: one id, several, or ``"all"``.

        Letters that would fail the same way (still malformed, no handler) are kept.

        Raises:
            StoreError: the store failed.
        """
        return self._core.replay(which)

    def close(self) -> None:
        """Flush and stop the receiver's writer (the worker holds nothing between batches)."""
        self._writer.close()

    def __enter__(self) -> EventHandler:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------ internals

    def _process(self, items: Sequence[InboxItem], counts: Counts) -> dict[int, list[str]]:
        core = self._core
        works, bad = core.decode(items)
        core.dead_letter_bad(bad, counts)
        plans, jobs, unrouted = core.plan(works)
        core.record_unrouted(unrouted, counts)
        errors: dict[int, list[str]] = {}
        for work in jobs:
            try:
                if core.tracker.on_job_completed(work.event) is not None:
                    counts.add("jobs_resolved")
            except Exception as exc:  # noqa: BLE001 - retried like any failure
                fail(errors, [work], f"job tracker: {type(exc).__name__}: {exc}")
        _coalesced(plans, counts)
        core.evict(plans)
        for plan in plans:
            self._route(plan, errors, counts)
        return errors

    def _lookup(
        self, spec: LookupSpec, keys: list[Any], counts: Counts
    ) -> tuple[dict[Any, Any], set[Any]]:
        if spec.key_wire is None:
            found: dict[Any, Any] = {}
            for q, chunk in composite_queries(spec, keys):
                pages = list(self._query.pages(q))
                counts.add("lookup_requests", len(pages))
                found.update(match_composite(spec, (r for page in pages for r in page), chunk))
            return found, {k for k in keys if k not in found}
        result = self._query.lookup_many(spec.target, spec.key_wire, keys, select=spec.select)
        counts.add("lookup_requests", result.requests)
        counts.add("lookup_cached", result.cached)
        return dict(result.found), set(result.missing)

    def _route(self, plan: RoutePlan, errors: dict[int, list[str]], counts: Counts) -> None:
        core, route = self._core, plan.route
        changes: list[Change] = []
        for (namespace, entity_set), groups in plan.by_set().items():
            spec = core.lookup_spec(route, namespace, entity_set)
            try:
                found, missing = self._lookup(spec, [g.key for g in groups], counts)
            except Exception as exc:  # noqa: BLE001 - Query down: retry these events later
                fail(
                    errors,
                    [w for g in groups for w in g.works],
                    _lookup_failure(exc, namespace, entity_set),
                )
                continue
            changes += core.changes_for(route, groups, spec, found, missing)
        changes += core.direct_changes(plan)
        if not changes:
            return
        with self._local_lock(route):
            if not self._lock(route):
                reason = f"{route.name}: target lock busy"
                fail(errors, [w for c in changes for w in c.works], reason)
                return
            try:
                self._send(route, changes, errors, counts)
            finally:
                core.unlock(route)

    def _send(
        self, route: Route, changes: list[Change], errors: dict[int, list[str]], counts: Counts
    ) -> None:
        core = self._core
        try:
            to_send = core.select_to_send(route, changes, counts)
        except StoreError as exc:
            fail(errors, [w for c in changes for w in c.works], f"versions: {exc}")
            return
        mapped = core.map_changes(route, to_send, errors)
        breaker = _Breaker()
        for batch in _batches(route, mapped):
            works = [w for c, _ in batch for w in c.works]
            if breaker.open:
                fail(errors, works, breaker.reason)
                continue
            try:
                route.adapter.send([m for _, m in batch])
            except Exception as exc:  # noqa: BLE001 - integrator code: any error
                reason = f"{route.name}.send: {type(exc).__name__}: {exc}"
                fail(errors, works, reason)
                breaker.failed(len(batch), reason)
                continue
            breaker.succeeded()
            sent = [c for c, _ in batch]
            core.record_sent(route, sent)
            core.count_sent(sent, counts)

    def _lock(self, route: Route) -> bool:
        deadline = time.monotonic() + self._core.lease
        while True:
            try:
                if self._core.try_lock(route):
                    return True
            except StoreError as exc:
                log.error("could not take the lock of target %s: %s", route.name, exc)
                return False
            if time.monotonic() >= deadline:
                return False
            time.sleep(_LOCK_POLL)

    def _local_lock(self, route: Route) -> threading.Lock:
        # The store lock is per owner, and threads of one handler share the owner.
        with self._locks_guard:
            return self._route_locks.setdefault(route.name, threading.Lock())


# ---------------------------------------------------------------------------- async


class AsyncEventHandler:
    """The asyncio twin of :class:`EventHandler`: async targets, ``await`` everything.

    The receiver (:attr:`app`) is the same ASGI application. Store calls are short
    synchronous transactions, as in :class:`~norce_integration.patterns.AsyncJobTracker`.

    Args:
        norce: the async client, or a ready :class:`AsyncQueryResource`.
        store: see :class:`EventHandler`.
        targets: async target adapters.
        tracker: an :class:`~norce_integration.patterns.AsyncJobTracker`.
        cache: see :class:`EventHandler`.
        auth: see :class:`EventHandler`.
        allow_networks: see :class:`EventHandler`.
        trusted_proxy_hops: see :class:`EventHandler`.
        max_body_size: see :class:`EventHandler`.
        unknown_events: see :class:`EventHandler`.
        ack_timeout: see :class:`EventHandler`.
        dedup_window: see :class:`EventHandler`.
        dedup_until: see :class:`EventHandler`.
        group_commit: see :class:`EventHandler`.
        writer: see :class:`EventHandler`.
        batch_size: see :class:`EventHandler`.
        lease: see :class:`EventHandler`.
        max_attempts: see :class:`EventHandler`.
        retry_base: see :class:`EventHandler`.
        retry_cap: see :class:`EventHandler`.
        poll_interval: see :class:`EventHandler`.
        inbox_retention: see :class:`EventHandler`.
        owner: see :class:`EventHandler`.

    Raises:
        ConfigurationError: an option is invalid or a target is not an async adapter.
    """

    _config: ReceiverConfig
    _writer: InboxWriter
    _core: EventCore
    _app: WebhookReceiver | None
    poll_interval: float

    def __init__(
        self,
        norce: AsyncNorce | AsyncQueryResource,
        store: Store,
        *,
        targets: Iterable[AsyncTargetAdapter] = (),
        tracker: AsyncJobTracker | None = None,
        cache: QueryCache | None = None,
        auth: WebhookAuth | None = None,
        allow_networks: Iterable[str | IPNetwork] | None = None,
        trusted_proxy_hops: int = 0,
        max_body_size: int = 64 * 1024,
        unknown_events: UnknownPolicy = "accept",
        ack_timeout: float = 4.0,
        dedup_window: float = 300.0,
        dedup_until: DedupUntil = "claimed",
        group_commit: bool = True,
        writer: WriterKind = "thread",
        batch_size: int = 500,
        lease: float = 60.0,
        max_attempts: int = 8,
        retry_base: float = 2.0,
        retry_cap: float = 600.0,
        poll_interval: float = 1.0,
        inbox_retention: float = 24 * 3600.0,
        owner: str | None = None,
    ) -> None:
        if isinstance(norce, AsyncQueryResource):
            if cache is not None:
                msg = "pass the cache to the AsyncQueryResource, not to the handler"
                raise ConfigurationError(msg, setting="cache")
            self._query = norce
        else:
            self._query = AsyncQueryResource(norce._http, cache=_cache_for(norce, cache))
        _setup(
            self,
            store,
            cache=self._query.cache,
            auth=auth,
            allow_networks=allow_networks,
            trusted_proxy_hops=trusted_proxy_hops,
            max_body_size=max_body_size,
            unknown_events=unknown_events,
            ack_timeout=ack_timeout,
            dedup_window=dedup_window,
            dedup_until=dedup_until,
            group_commit=group_commit,
            writer=writer,
            batch_size=batch_size,
            lease=lease,
            max_attempts=max_attempts,
            retry_base=retry_base,
            retry_cap=retry_cap,
            poll_interval=poll_interval,
            inbox_retention=inbox_retention,
            owner=owner,
        )
        self._core.tracker = tracker
        self._route_locks: dict[str, asyncio.Lock] = {}
        for target in targets:
            self.add_target(target)

    def __repr__(self) -> str:
        names = ", ".join(r.name for r in self._core.routes)
        return f"AsyncEventHandler(targets=[{names}], store={self._core.store!r})"

    @property
    def query(self) -> AsyncQueryResource:
        """The Query resource lookups go through (targets may use it to enrich)."""
        return self._query

    @property
    def store(self) -> Store:
        """The store."""
        return self._core.store

    @property
    def app(self) -> WebhookReceiver:
        """The ASGI webhook receiver: mount it, or run it with uvicorn."""
        if self._app is None:
            self._app = WebhookReceiver(
                self._config, self._writer, self._core.handles, on_shutdown=self._writer.close
            )
        return self._app

    def add_target(self, target: AsyncTargetAdapter) -> None:
        """Register an async target adapter.

        Raises:
            ConfigurationError: ``send`` is not a coroutine function, no event types are
                declared, or its name is taken.
        """
        self._core.add_route(build_route(target, asynchronous=True))

    def on(
        self,
        *event_types: str,
        select: Sequence[str] = (),
        name: str | None = None,
        lookup: bool = True,
        version_field: str | None = "Updated",
        max_batch: int | None = None,
    ) -> Callable[[F], F]:
        """Register a coroutine function as a target (see :meth:`EventHandler.on`).

        Raises:
            ConfigurationError: no event type, a plain function, or a name taken.
        """

        def register(fn: F) -> F:
            if not asyncio.iscoroutinefunction(fn):
                msg = f"{fn.__qualname__} is not async: register it on an EventHandler"
                raise ConfigurationError(msg, setting="targets")
            self.add_target(
                _AsyncFunctionTarget(
                    fn,
                    event_types=event_types,
                    select=select,
                    name=name or fn.__qualname__,
                    lookup=lookup,
                    version_field=version_field,
                    max_batch=max_batch,
                )
            )
            return fn

        return register

    async def run_once(self) -> EventBatchReport:
        """Claim one batch from the inbox and process it to the end.

        Raises:
            StoreError: the store failed (claimed items are released or expire).
        """
        core = self._core
        core.maintain()
        items = core.claim()
        counts = Counts()
        counts.add("claimed", len(items))
        if not items:
            return counts.report()
        settled = False
        try:
            errors = await self._process(items, counts)
            core.settle(items, errors, counts)
            settled = True
        finally:
            if not settled:
                # Cancelled (shutdown) or failed: hand the batch back for another worker.
                counts.add("released", core.release_unprocessed(items))
        return counts.report()

    async def run(self, stop_event: asyncio.Event | None = None) -> None:
        """Process batches until ``stop_event`` is set; the batch in hand is finished.

        Cancelling the task releases the batch in hand instead.
        """
        stop = stop_event if stop_event is not None else asyncio.Event()
        while not stop.is_set():
            try:
                report = await self.run_once()
            except StoreError as exc:
                log.error("event worker: the store failed, retrying: %s", exc)
                report = None
            if report is None or report.claimed == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.poll_interval)

    async def dead_letters(self, *, limit: int | None = None) -> list[DeadLetter]:
        """See :meth:`EventHandler.dead_letters`.

        Raises:
            StoreError: the store failed.
        """
        return self._core.dead_letters(limit)

    async def replay(self, which: int | Iterable[int] | Literal["all"]) -> EventReplayReport:
        """See :meth:`EventHandler.replay`.

        Raises:
            StoreError: the store failed.
        """
        return self._core.replay(which)

    async def aclose(self) -> None:
        """Flush and stop the receiver's writer."""
        await asyncio.to_thread(self._writer.close)

    async def __aenter__(self) -> AsyncEventHandler:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------ internals

    async def _process(self, items: Sequence[InboxItem], counts: Counts) -> dict[int, list[str]]:
        core = self._core
        works, bad = core.decode(items)
        core.dead_letter_bad(bad, counts)
        plans, jobs, unrouted = core.plan(works)
        core.record_unrouted(unrouted, counts)
        errors: dict[int, list[str]] = {}
        for work in jobs:
            try:
                if await core.tracker.on_job_completed(work.event) is not None:
                    counts.add("jobs_resolved")
            except Exception as exc:  # noqa: BLE001 - retried like any failure
                fail(errors, [work], f"job tracker: {type(exc).__name__}: {exc}")
        _coalesced(plans, counts)
        core.evict(plans)
        for plan in plans:
            await self._route(plan, errors, counts)
        return errors

    async def _lookup(
        self, spec: LookupSpec, keys: list[Any], counts: Counts
    ) -> tuple[dict[Any, Any], set[Any]]:
        if spec.key_wire is None:
            found: dict[Any, Any] = {}
            for q, chunk in composite_queries(spec, keys):
                pages = [page async for page in self._query.pages(q)]
                counts.add("lookup_requests", len(pages))
                found.update(match_composite(spec, (r for page in pages for r in page), chunk))
            return found, {k for k in keys if k not in found}
        result = await self._query.lookup_many(spec.target, spec.key_wire, keys, select=spec.select)
        counts.add("lookup_requests", result.requests)
        counts.add("lookup_cached", result.cached)
        return dict(result.found), set(result.missing)

    async def _route(self, plan: RoutePlan, errors: dict[int, list[str]], counts: Counts) -> None:
        core, route = self._core, plan.route
        changes: list[Change] = []
        for (namespace, entity_set), groups in plan.by_set().items():
            spec = core.lookup_spec(route, namespace, entity_set)
            try:
                found, missing = await self._lookup(spec, [g.key for g in groups], counts)
            except Exception as exc:  # noqa: BLE001 - Query down: retry these events later
                fail(
                    errors,
                    [w for g in groups for w in g.works],
                    _lookup_failure(exc, namespace, entity_set),
                )
                continue
            changes += core.changes_for(route, groups, spec, found, missing)
        changes += core.direct_changes(plan)
        if not changes:
            return
        async with self._local_lock(route):
            if not await self._lock(route):
                reason = f"{route.name}: target lock busy"
                fail(errors, [w for c in changes for w in c.works], reason)
                return
            try:
                await self._send(route, changes, errors, counts)
            finally:
                core.unlock(route)

    async def _send(
        self, route: Route, changes: list[Change], errors: dict[int, list[str]], counts: Counts
    ) -> None:
        core = self._core
        try:
            to_send = core.select_to_send(route, changes, counts)
        except StoreError as exc:
            fail(errors, [w for c in changes for w in c.works], f"versions: {exc}")
            return
        mapped = core.map_changes(route, to_send, errors)
        breaker = _Breaker()
        for batch in _batches(route, mapped):
            works = [w for c, _ in batch for w in c.works]
            if breaker.open:
                fail(errors, works, breaker.reason)
                continue
            try:
                await route.adapter.send([m for _, m in batch])
            except Exception as exc:  # noqa: BLE001 - integrator code: any error
                reason = f"{route.name}.send: {type(exc).__name__}: {exc}"
                fail(errors, works, reason)
                breaker.failed(len(batch), reason)
                continue
            breaker.succeeded()
            sent = [c for c, _ in batch]
            core.record_sent(route, sent)
            core.count_sent(sent, counts)

    def _local_lock(self, route: Route) -> asyncio.Lock:
        # Tasks of one handler share the store lock's owner: serialise them here.
        return self._route_locks.setdefault(route.name, asyncio.Lock())

    async def _lock(self, route: Route) -> bool:
        deadline = time.monotonic() + self._core.lease
        while True:
            try:
                if self._core.try_lock(route):
                    return True
            except StoreError as exc:
                log.error("could not take the lock of target %s: %s", route.name, exc)
                return False
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(_LOCK_POLL)
