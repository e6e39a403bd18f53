"""The event handler, written once for asyncio: :class:`AsyncEventHandler`.

Its blocking twin :class:`~norce_integration.patterns.EventHandler` is generated from this
file by ``scripts/gen_sync.py``. The decisions (routing, coalescing, versions, settling)
are made by ``EventCore`` (``_core.py``), which does no I/O; this class only claims,
looks up, sends and writes what the core decided. See the package docstring for the
pattern as a whole.
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from ..._async_client import AsyncNorce
from ..._async_closing import AsyncClosing
from ..._concurrency import AsyncEvent, AsyncLock, async_sleep, async_wait_event
from ..._exceptions import ConfigurationError, StoreError
from ..._tracing import span
from ...query import AsyncQueryResource, QueryCache
from ...stores import AsyncStore, DeadLetter, InboxItem
from ._async_inbox import AsyncStoreInbox
from ._core import (
    SOURCE_FAILED,
    WEBHOOK_SOURCES,
    Change,
    Counts,
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
from ._inbox import DedupUntil, WriterKind, make_async_writer
from ._receiver import (
    SOURCE_UNHANDLED,
    IPNetwork,
    ReceiverConfig,
    UnknownPolicy,
    WebhookAuth,
    WebhookReceiver,
)
from ._targets import AsyncFunctionTarget, AsyncTargetAdapter


if TYPE_CHECKING:
    from ..jobs import AsyncJobTracker

__all__ = ["AsyncEventHandler"]

log = logging.getLogger("norce_integration.patterns.event_handler")

F = TypeVar("F", bound=Callable[..., Any])
_LOCK_POLL = 0.05


def _cache_for(norce: Any, cache: QueryCache | None) -> QueryCache:
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


class _Leases:
    """The batch in hand: renewed while it runs, so a long batch is never taken by a
    second worker, and a dead worker's batch is free again after one short lease."""

    def __init__(self, items: Sequence[InboxItem], lease: float) -> None:
        self.ids = [item.item_id for item in items]
        self.every = lease / 3
        self.renewed = time.monotonic()

    def due(self) -> bool:
        return time.monotonic() - self.renewed >= self.every


class AsyncEventHandler(AsyncClosing):
    """Receives Norce webhooks and processes them into targets.

    Every store call goes to an :class:`~norce_integration.stores.AsyncStore`
    (:class:`~norce_integration.stores.AsyncSqliteStore` or
    :class:`~norce_integration.stores.AsyncPostgresStore`). The asyncio handler awaits
    each one, so neither its receiver nor its worker ever holds the event loop while the
    database works; the blocking handler's receiver writes through a writer thread.

    Example:
        >>> handler = AsyncEventHandler(  # doctest: +SKIP
        ...     norce,
        ...     AsyncSqliteStore("state/norce.sqlite"),
        ...     targets=[Search()],
        ...     auth=WebhookAuth("X-Norce-Webhook-Secret", secret),
        ... )
        >>> app.mount("/hooks/norce", handler.app)  # in FastAPI/Starlette  # doctest: +SKIP
        >>> await handler.run(stop_event)  # the worker  # doctest: +SKIP

    Args:
        norce: the client (a cached Query resource is built on its connection), or a
            ready Query resource (used as it is, with or without its cache).
        store: inbox, dedup keys, dead letters, sent versions and locks.
        targets: target adapters; more can be added with :meth:`add_target` and :meth:`on`.
        tracker: resolves jobs from ``JobCompletedEvent`` (no polling needed).
        cache: the Query cache when ``norce`` is a client (default: the client's
            ``query_cache``, else a new :class:`~norce_integration.query.QueryCache`).
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
        writer: where the receiver's commits run. The blocking handler: ``"thread"``
            (default: a writer thread, the event loop never waits for the store) or
            ``"loop"`` (in the loop's thread; it stalls the loop during commits, for
            measurements). The asyncio handler awaits its asyncio store either way.
        batch_size: inbox items per batch.
        lease: seconds a worker holds a batch before another may take it; renewed every
            third of it while the batch runs, so it only bounds how long a dead worker's
            batch waits.
        max_attempts: attempts before an event becomes a dead letter.
        retry_base: first retry delay (doubles each attempt).
        retry_cap: longest retry delay (the inbox settles within about this long after
            the last failure clears).
        poll_interval: seconds :meth:`run` sleeps when the inbox is empty (after a
            partial batch it waits at most 0.1 s, so that batches fill under a steady load).
        inbox_retention: seconds processed inbox items are kept before purging.
        owner: lease owner id (default ``host:pid:random``).

    Raises:
        ConfigurationError: an option is invalid or a target is not a target adapter.
    """

    def __init__(
        self,
        norce: AsyncNorce | AsyncQueryResource,
        store: AsyncStore,
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
        lease: float = 30.0,
        max_attempts: int = 8,
        retry_base: float = 2.0,
        retry_cap: float = 30.0,
        poll_interval: float = 1.0,
        inbox_retention: float = 24 * 3600.0,
        owner: str | None = None,
    ) -> None:
        if isinstance(norce, AsyncQueryResource):
            if cache is not None:
                msg = "pass the cache to the QueryResource, not to the handler"
                raise ConfigurationError(msg, setting="cache")
            self._query = norce
        else:
            self._query = AsyncQueryResource(norce._http, cache=_cache_for(norce, cache))
        if dedup_window < 0:
            raise ConfigurationError(f"must be >= 0, got {dedup_window}", setting="dedup_window")
        if not poll_interval > 0:
            raise ConfigurationError(f"must be > 0, got {poll_interval}", setting="poll_interval")
        try:
            self._config = ReceiverConfig(
                auth=auth,
                allow_networks=allow_networks,
                trusted_proxy_hops=trusted_proxy_hops,
                max_body_size=max_body_size,
                unknown_events=unknown_events,
                ack_timeout=ack_timeout,
            )
        except ValueError as exc:
            raise ConfigurationError(str(exc), setting="receiver") from exc
        self._core = EventCore(
            cache=self._query.cache,
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
        self._store = store
        self._inbox = AsyncStoreInbox(store, window=dedup_window)
        try:
            self._writer = make_async_writer(writer, self._inbox, group_commit=group_commit)
        except ValueError as exc:
            raise ConfigurationError(str(exc), setting="writer") from exc
        self._app: WebhookReceiver | None = None
        self.poll_interval = poll_interval
        self._tracker = tracker
        self._core.has_tracker = tracker is not None
        self._route_locks: dict[str, AsyncLock] = {}
        for target in targets:
            self.add_target(target)

    def __repr__(self) -> str:
        names = ", ".join(r.name for r in self._core.routes)
        return f"{type(self).__name__}(targets=[{names}], store={self._store!r})"

    @property
    def query(self) -> AsyncQueryResource:
        """The Query resource lookups go through (targets may use it to enrich)."""
        return self._query

    @property
    def store(self) -> AsyncStore:
        """The store."""
        return self._store

    @property
    def app(self) -> WebhookReceiver:
        """The ASGI webhook receiver: mount it, or run it with uvicorn."""
        if self._app is None:
            self._app = WebhookReceiver(
                self._config, self._writer, self._core.handles, on_shutdown=self._writer.shutdown
            )
        return self._app

    def add_target(self, target: AsyncTargetAdapter) -> None:
        """Register a target adapter.

        Raises:
            ConfigurationError: it is not a target adapter of this handler's kind
                (``send`` a coroutine function for the asyncio handler, a plain function
                for the blocking one), declares no event types, or its name is taken.
        """
        # unasync: async-only
        self._core.add_route(build_route(target, asynchronous=True))
        # unasync: end
        # unasync: sync-only
        # self._core.add_route(build_route(target, asynchronous=False))
        # unasync: end

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
        returned them, and :class:`~norce_integration.patterns.Deletion` markers). A
        coroutine function on the asyncio handler, a plain one on the blocking handler.

        Example:
            >>> @handler.on("SkuChangedNotification", select=["PartNo"])  # doctest: +SKIP
            ... def push(batch):
            ...     search.index([s for s in batch if not isinstance(s, Deletion)])

        Raises:
            ConfigurationError: no event type, a function of the other kind, or a name
                taken.
        """

        def register(fn: F) -> F:
            # unasync: async-only
            if not inspect.iscoroutinefunction(fn):
                msg = f"{fn.__qualname__} is not async: register it on an EventHandler"
                raise ConfigurationError(msg, setting="targets")
            # unasync: end
            # unasync: sync-only
            # if inspect.iscoroutinefunction(fn):
            #     msg = f"{fn.__qualname__} is async: register it on an AsyncEventHandler"
            #     raise ConfigurationError(msg, setting="targets")
            # unasync: end
            self.add_target(
                AsyncFunctionTarget(
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

        Every claimed item ends acknowledged, scheduled for a retry, or a dead letter; if
        this call is interrupted (or cancelled), unfinished items are released for
        another worker.

        Raises:
            StoreError: the store failed (claimed items are released or expire).
        """
        await self._maintain()
        items = await self._claim()
        counts = Counts()
        counts.add("claimed", len(items))
        if not items:
            return counts.report()
        leases = _Leases(items, self._core.lease)
        settled = False
        try:
            errors = await self._process(items, counts, leases)
            await self._settle(items, errors, counts)
            settled = True
        finally:
            if not settled:
                counts.add("released", await self._release_unprocessed(items))
        return counts.report()

    async def run(self, stop_event: AsyncEvent | None = None) -> None:
        """Process batches until ``stop_event`` is set; the batch in hand is finished.

        Store failures are logged and retried after ``poll_interval``.
        """
        stop = stop_event if stop_event is not None else AsyncEvent()
        while not stop.is_set():
            try:
                report = await self.run_once()
            except StoreError as exc:
                log.error("event worker: the store failed, retrying: %s", exc)
                report = None
            pause = self._core.pause_after(
                None if report is None else report.claimed, self.poll_interval
            )
            if pause > 0:
                await async_wait_event(stop, pause)

    async def dead_letters(self, *, limit: int | None = None) -> list[DeadLetter]:
        """Events that failed ``max_attempts`` times, malformed requests, and unhandled
        events, oldest first (``source`` says which).

        Raises:
            StoreError: the store failed.
        """
        return self._core.own_letters(await self._store.list_dead_letters(), limit)

    async def replay(self, which: int | Iterable[int] | Literal["all"]) -> EventReplayReport:
        """Put dead letters back into the inbox: one id, several, or ``"all"``.

        Letters that would fail the same way (still malformed, no handler) are kept.

        Raises:
            StoreError: the store failed.
        """
        if which == "all":
            letters = await self.dead_letters()
        else:
            ids = [which] if isinstance(which, int) else list(which)
            letters = []
            for letter_id in ids:
                letter = await self._store.get_dead_letter(letter_id)
                if letter is not None and letter.source in WEBHOOK_SOURCES:
                    letters.append(letter)
        replayed: list[int] = []
        failed: dict[int, str] = {}
        for letter in letters:
            reason = self._core.replayable(letter)
            if reason is not None:
                failed[letter.letter_id] = reason
                continue
            await self._inbox.write([self._core.replay_append(letter)])
            await self._store.delete_dead_letter(letter.letter_id)
            replayed.append(letter.letter_id)
        return EventReplayReport(tuple(replayed), failed)

    async def aclose(self) -> None:
        """Flush and stop the receiver's writer (the worker holds nothing between batches)."""
        await self._writer.aclose()

    # ------------------------------------------------------------ claiming and settling

    async def _claim(self) -> list[InboxItem]:
        core = self._core
        items = await self._store.inbox_claim(core.owner, limit=core.batch_size, lease=core.lease)
        rearm = core.to_rearm(items)
        if rearm:
            try:
                await self._store.dedup_expire(rearm)
            except StoreError:
                await self._release_unprocessed(items)
                raise
        return items

    async def _renew(self, leases: _Leases) -> None:
        """Extend the batch's leases if a third of the lease has passed (best effort: a
        failure only means another worker may take the batch after the lease)."""
        if not leases.due():
            return
        leases.renewed = time.monotonic()
        try:
            await self._store.inbox_renew(leases.ids, self._core.owner, lease=self._core.lease)
        except StoreError as exc:
            log.warning("could not renew the leases of the batch in hand: %s", exc)

    async def _settle(
        self, items: Sequence[InboxItem], errors: dict[int, list[str]], counts: Counts
    ) -> None:
        core = self._core
        settlement = core.settle(items, errors)
        for item in settlement.letters:
            reason = settlement.reasons[item.item_id]
            await self._store.put_dead_letter(
                SOURCE_FAILED, item.payload, reason, key=item.event_type, attempts=item.attempts
            )
            counts.add("dead_lettered")
            log.error(
                "%s moved to the dead letters after %d attempts: %s",
                item.event_type,
                item.attempts,
                reason,
            )
        if settlement.acks:
            counts.add("acked", await self._store.inbox_ack_many(settlement.acks, core.owner))
        if settlement.releases:
            released = await self._store.inbox_release_many(settlement.releases, core.owner)
            counts.add("retried", released)

    async def _release_unprocessed(self, items: Sequence[InboxItem]) -> int:
        """Give items back untouched (shutdown, interruption); best effort."""
        releases = [(i.item_id, None, 0.0) for i in items]
        try:
            return await self._store.inbox_release_many(releases, self._core.owner)
        except StoreError as exc:
            log.error("could not release claimed items (reclaimed after the lease): %s", exc)
            return 0

    async def _maintain(self) -> None:
        """Purge expired dedup keys and old finished inbox items, now and then."""
        if not self._core.maintenance_due(time.monotonic()):
            return
        try:
            await self._store.dedup_purge()
            cutoff = self._core.purge_cutoff(dt.datetime.now(dt.UTC))
            await self._store.inbox_purge(done_before=cutoff)
        except StoreError as exc:
            log.warning("event inbox maintenance failed: %s", exc)

    # ------------------------------------------------------------ processing

    async def _process(
        self, items: Sequence[InboxItem], counts: Counts, leases: _Leases
    ) -> dict[int, list[str]]:
        core = self._core
        works, bad = core.decode(items)
        for item, error in bad:  # no longer parses: nothing to retry
            await self._store.put_dead_letter(
                SOURCE_FAILED, item.payload, error, key=item.event_type, attempts=item.attempts
            )
            counts.add("dead_lettered")
        plans, jobs, unrouted = core.plan(works)
        for work in unrouted:  # stored while a target took them, none does now
            await self._store.put_dead_letter(
                SOURCE_UNHANDLED,
                work.item.payload,
                f"no handler for event type {work.item.event_type}",
                key=work.item.event_type,
            )
            counts.add("unhandled")
        errors: dict[int, list[str]] = {}
        for work in jobs:
            try:
                assert self._tracker is not None
                if await self._tracker.on_job_completed(work.event) is not None:
                    counts.add("jobs_resolved")
            except Exception as exc:  # noqa: BLE001 - retried like any failure
                fail(errors, [work], f"job tracker: {type(exc).__name__}: {exc}")
        _coalesced(plans, counts)
        core.evict(plans)
        for plan in plans:
            await self._renew(leases)
            await self._route(plan, errors, counts, leases)
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

    async def _route(
        self, plan: RoutePlan, errors: dict[int, list[str]], counts: Counts, leases: _Leases
    ) -> None:
        core, route = self._core, plan.route
        changes: list[Change] = []
        for (namespace, entity_set), groups in plan.by_set().items():
            spec = core.lookup_spec(route, namespace, entity_set)
            try:
                with span("lookup", entity_set=f"{namespace}/{entity_set}", keys=len(groups)):
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
                await self._send(route, changes, errors, counts, leases)
            finally:
                await self._unlock(route)

    async def _send(
        self,
        route: Route,
        changes: list[Change],
        errors: dict[int, list[str]],
        counts: Counts,
        leases: _Leases,
    ) -> None:
        core = self._core
        try:
            stored = {
                kind: await self._store.get_item_versions(kind, keys)
                for kind, keys in core.version_keys(route, changes).items()
            }
        except StoreError as exc:
            fail(errors, [w for c in changes for w in c.works], f"versions: {exc}")
            return
        to_send = core.to_send(route, changes, stored, counts)
        mapped = core.map_changes(route, to_send, errors)
        breaker = _Breaker()
        for batch in _batches(route, mapped):
            works = [w for c, _ in batch for w in c.works]
            if breaker.open:
                fail(errors, works, breaker.reason)
                continue
            await self._renew(leases)
            try:
                with span("deliver", target=route.name, items=len(batch)):
                    await route.adapter.send([m for _, m in batch])
            except Exception as exc:  # noqa: BLE001 - integrator code: any error
                reason = f"{route.name}.send: {type(exc).__name__}: {exc}"
                fail(errors, works, reason)
                breaker.failed(len(batch), reason)
                continue
            breaker.succeeded()
            sent = [c for c, _ in batch]
            await self._record_sent(route, sent)
            core.count_sent(sent, counts)

    async def _record_sent(self, route: Route, changes: Sequence[Change]) -> None:
        """Remember what the target received (best effort after a successful send)."""
        for kind, versions in self._core.to_record(route, changes).items():
            try:
                await self._store.put_item_versions(kind, versions)
            except StoreError as exc:
                # The target has the data; only the next ordering check is weaker.
                log.error("sent to %s but could not record versions: %s", route.name, exc)

    # ------------------------------------------------------------ target locks

    def _local_lock(self, route: Route) -> AsyncLock:
        # The store lock is per owner, and tasks (threads) of one handler share the owner.
        lock = self._route_locks.get(route.name)
        if lock is None:
            lock = self._route_locks.setdefault(route.name, AsyncLock())
        return lock

    async def _lock(self, route: Route) -> bool:
        core = self._core
        deadline = time.monotonic() + core.lease
        while True:
            try:
                if await self._store.acquire_lock(
                    core.lock_name(route), 0, core.owner, ttl=core.lease
                ):
                    return True
            except StoreError as exc:
                log.error("could not take the lock of target %s: %s", route.name, exc)
                return False
            if time.monotonic() >= deadline:
                return False
            await async_sleep(_LOCK_POLL)

    async def _unlock(self, route: Route) -> None:
        """Release the target's lock (best effort: it expires with the lease anyway)."""
        try:
            await self._store.release_lock(self._core.lock_name(route), 0, self._core.owner)
        except StoreError as exc:
            log.warning("could not release the lock of target %s: %s", route.name, exc)
