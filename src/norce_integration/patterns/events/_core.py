"""The event handler's processing core, shared by :class:`EventHandler` and its async twin.

The twins differ only where they wait: Query lookups, the target's ``send``, the job
tracker, sleeping. Everything else is here: decoding claimed inbox items, routing them to
targets, coalescing per entity, deciding what is sent (ordering protection, unchanged
skips, deletions), recording what was sent, retry/backoff/dead-letter bookkeeping and
replays. The :class:`~norce_integration.stores.Store` is synchronous, so store calls are
shared too.

Ordering protection (reference §3.4: no ordering, retries for a day): a target never
receives an entity older, by its ``Updated`` time, than the one it last received. The
last sent ``Updated`` and a content fingerprint are kept per (target, entity set, key) in
the store's item versions (``kind = "event-target:{target}:{Namespace}/{Set}"``):

* current ``Updated`` older than the stored one → not sent (``skipped_stale``);
* same ``Updated`` and same fingerprint → not sent (``skipped_unchanged``): a redelivered
  event or a reprocessed batch does not reach the target twice;
* otherwise sent, then recorded.

The check, the send and the record run under a store lock per target
(``acquire_lock("event-target:{name}", 0, ...)``), so two workers that read different
versions cannot cross: the one that sends second sees the first one's record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import socket
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Final, Literal
from urllib.parse import quote

import attrs
import orjson

from ..._exceptions import ConfigurationError, EventParseError
from ...event import EventType, JobCompletedEvent, UnknownEvent, dedup_key, parse_event
from ...event.models import Event
from ...query import (
    Category,
    ClientPriceList,
    Currency,
    Customer,
    Field,
    Filter,
    Order,
    Product,
    ProductSku,
    ProductSkuPriceList,
    Query,
    QueryCache,
    and_,
    model_wire_names,
    or_,
)
from ...query.models import Entity
from ...stores import DeadLetter, InboxItem, ItemVersion, sortable_watermark
from ._inbox import Append, DedupUntil, dedup_of
from ._receiver import SOURCE_MALFORMED, SOURCE_UNHANDLED


__all__ = [
    "SOURCE_FAILED",
    "Change",
    "Deletion",
    "EventCore",
    "EventBatchReport",
    "EventReplayReport",
    "Route",
    "Work",
    "build_route",
    "composite_queries",
    "match_composite",
    "type_key",
]

log = logging.getLogger(__name__)

SOURCE_FAILED: Final = "webhook:failed"
"""Dead-letter source of events whose processing failed ``max_attempts`` times."""
WEBHOOK_SOURCES: Final = (SOURCE_FAILED, SOURCE_MALFORMED, SOURCE_UNHANDLED)
_DELETED: Final = "deleted"
_LOCK_KIND: Final = "event-target:"
BATCH_LINGER: Final = 0.1
"""Seconds a worker waits after a partial batch before it claims again."""


# ---------------------------------------------------------------------------- public records


@attrs.frozen
class Deletion:
    """An entity an event named that Query no longer has: delete it in the target.

    It is passed to ``send`` in the batch, in place of a mapped entity.

    Attributes:
        namespace: the Query namespace (``Products``).
        entity_set: the entity set (``ProductSkus``).
        key: the entity key as the event named it (``"100011"``, ``5``, a tuple).
    """

    namespace: str
    entity_set: str
    key: object


@attrs.frozen
class EventBatchReport:
    """What one :meth:`~EventHandler.run_once` did.

    Attributes:
        claimed: inbox items claimed.
        acked: items finished (processed, skipped or dead-lettered).
        retried: items given back for a later attempt (backoff).
        released: items given back unprocessed (shutdown).
        dead_lettered: items moved to the dead letters after ``max_attempts``.
        entities: distinct entities looked up (after coalescing).
        coalesced: events that shared an entity with another event of the batch.
        lookup_requests: Query requests sent (pages included).
        lookup_cached: entities answered by the cache.
        sent: entities sent to targets (mapped).
        deleted: deletions sent to targets.
        events_sent: events without a Query entity sent to targets as they came.
        skipped_stale: entities not sent because the target has a newer ``Updated``.
        skipped_unchanged: entities not sent because the target has exactly this state.
        jobs_resolved: ``JobCompletedEvent`` handed to the job tracker.
        unhandled: events no target takes (recorded as dead letters).
    """

    claimed: int = 0
    acked: int = 0
    retried: int = 0
    released: int = 0
    dead_lettered: int = 0
    entities: int = 0
    coalesced: int = 0
    lookup_requests: int = 0
    lookup_cached: int = 0
    sent: int = 0
    deleted: int = 0
    events_sent: int = 0
    skipped_stale: int = 0
    skipped_unchanged: int = 0
    jobs_resolved: int = 0
    unhandled: int = 0


@attrs.frozen
class EventReplayReport:
    """What :meth:`~EventHandler.replay` did.

    Attributes:
        replayed: ids of dead letters put back into the inbox (and deleted).
        failed: ids of dead letters kept, with the reason.
    """

    replayed: tuple[int, ...] = ()
    failed: Mapping[int, str] = attrs.field(factory=dict)


# ---------------------------------------------------------------------------- routes

_MODELS: Final[dict[tuple[str, str], type[Entity]]] = {
    (m.NAMESPACE, m.ENTITY_SET): m
    for m in (
        ProductSku,
        ProductSkuPriceList,
        Product,
        Customer,
        Order,
        Category,
        ClientPriceList,
        Currency,
    )
}


def type_key(name: str) -> str:
    """The name an event type is routed by: Norce's spelling, or lower case if unknown."""
    known = EventType.lookup(name)
    return known.value if known is not None else name.strip().lower()


def _wire_name(item: object) -> str:
    if isinstance(item, Field):
        return item.wire
    if isinstance(item, str) and item.strip():
        return item.strip()
    msg = f"a select item must be a wire name or a Field, got {item!r}"
    raise ConfigurationError(msg, setting="select")


@attrs.frozen
class Route:
    """A target as the core sees it.

    Attributes:
        name: identifies the target in the store (versions, lock) and in errors.
        types: the event types it takes (see :func:`type_key`).
        select: Query fields it needs (wire names; empty: all).
        adapter: the target adapter (``map``/``send``).
        lookup: look entities up in Query (``False``: events are sent as they came).
        version_field: the entity's modification time field (``None``: no ordering check).
    """

    name: str
    types: frozenset[str]
    select: tuple[str, ...]
    adapter: Any
    lookup: bool = True
    version_field: str | None = "Updated"


def build_route(adapter: Any, *, asynchronous: bool) -> Route:
    """Read a target adapter's declarations into a :class:`Route`.

    Raises:
        ConfigurationError: a required member is missing, no event type is declared, or
            ``send`` is not a coroutine function for an async handler (or is one for a
            sync handler).
    """
    import inspect  # noqa: PLC0415 - only at configuration time

    for member in ("event_types", "map", "send"):
        if not hasattr(adapter, member):
            msg = f"{type(adapter).__name__} has no {member!r}: it is not a TargetAdapter"
            raise ConfigurationError(msg, setting="targets")
    send = adapter.send
    if asynchronous != inspect.iscoroutinefunction(send):
        want = "an async def" if asynchronous else "a plain def"
        msg = f"{type(adapter).__name__}.send must be {want} for this handler"
        raise ConfigurationError(msg, setting="targets")
    names = adapter.event_types
    if isinstance(names, str):
        names = (names,)
    types = frozenset(type_key(str(n)) for n in names if str(n).strip())
    if not types:
        msg = f"{type(adapter).__name__} declares no event types"
        raise ConfigurationError(msg, setting="targets")
    select = tuple(_wire_name(s) for s in (getattr(adapter, "select", ()) or ()))
    name = getattr(adapter, "name", None) or type(adapter).__qualname__
    return Route(
        name=str(name),
        types=types,
        select=select,
        adapter=adapter,
        lookup=bool(getattr(adapter, "lookup", True)),
        version_field=getattr(adapter, "version_field", "Updated"),
    )


# ---------------------------------------------------------------------------- work items


@attrs.frozen
class Work:
    """A claimed inbox item and the event parsed from it."""

    item: InboxItem
    event: Event
    dedup: str

    @property
    def type_key(self) -> str:
        """The routing name of the event's type."""
        if isinstance(self.event, UnknownEvent):
            return self.event.event_type.strip().lower()
        return self.event.event_type.value

    @property
    def suspect(self) -> bool:
        """It failed before: send it on its own, so it cannot fail its batch-mates."""
        return self.item.attempts > 1 and self.item.last_error is not None


ChangeKind = Literal["upsert", "delete", "event"]


@attrs.define
class Change:
    """One thing to send to one target: an entity, a deletion, or an event as it came."""

    kind: ChangeKind
    works: list[Work]
    entity: Any = None
    namespace: str = ""
    entity_set: str = ""
    key: object = None
    key_text: str = ""
    version: str | None = None
    fingerprint: str = ""

    @property
    def suspect(self) -> bool:
        """Any of its events failed before."""
        return any(w.suspect for w in self.works)


@attrs.define
class EntityGroup:
    """Events of one batch naming the same Query entity (coalesced into one lookup)."""

    namespace: str
    entity_set: str
    key: object
    key_text: str
    works: list[Work] = attrs.field(factory=list)


@attrs.define
class RoutePlan:
    """What one target gets from a batch before lookups."""

    route: Route
    groups: dict[tuple[str, str, str], EntityGroup] = attrs.field(factory=dict)
    direct: dict[str, list[Work]] = attrs.field(factory=dict)

    def by_set(self) -> dict[tuple[str, str], list[EntityGroup]]:
        """Entity groups per (namespace, entity set)."""
        out: dict[tuple[str, str], list[EntityGroup]] = {}
        for group in self.groups.values():
            out.setdefault((group.namespace, group.entity_set), []).append(group)
        return out


@attrs.define
class LookupSpec:
    """How the entities of one set are looked up for one target."""

    target: Any  # a model class or (namespace, entity_set)
    key_wire: str | None  # None: a composite key (see ``composite_queries``)
    select: tuple[str, ...]
    version_attr: str | None  # attribute (typed) or wire name (rows) of the version
    key_wires: tuple[str, ...] = ()
    key_attrs: tuple[str, ...] = ()


# A composite-key filter is ``(A eq 1 and B eq 2) or (...)``: no single-field chunking
# applies, so chunks are cut on the filter's percent-encoded length, leaving room under
# the URL limit of ``lookup_many`` (1800) for the host, path and ``$select``.
_COMPOSITE_FILTER_BUDGET: Final = 1300
_COMPOSITE_MAX_KEYS: Final = 100


def composite_queries(spec: LookupSpec, keys: Sequence[Any]) -> list[tuple[Query[Any], list[Any]]]:
    """Batched lookups of composite keys: one query per chunk of keys.

    Raises:
        ValueError: a key does not have one value per key field.
    """
    model = spec.target
    base: Query[Any] = Query(model.NAMESPACE, model.ENTITY_SET, model, spec.key_wires)
    if spec.select:
        base = base.select(*spec.select, *(w for w in spec.key_wires if w not in spec.select))
    out: list[tuple[Query[Any], list[Any]]] = []
    clauses: list[Filter] = []
    chunk: list[Any] = []
    size = 0
    for key in dict.fromkeys(keys):
        values = key if isinstance(key, tuple) else (key,)
        if len(values) != len(spec.key_wires):
            msg = f"{model.ENTITY_SET} keys have {len(spec.key_wires)} parts, got {key!r}"
            raise ValueError(msg)
        clause = and_(*(Field[Any](w).eq(v) for w, v in zip(spec.key_wires, values, strict=True)))
        cost = len(quote(clause.text, safe="")) + 12  # "(", ")", " or "
        if chunk and (size + cost > _COMPOSITE_FILTER_BUDGET or len(chunk) >= _COMPOSITE_MAX_KEYS):
            out.append((base.filter(or_(*clauses)), chunk))
            clauses, chunk, size = [], [], 0
        clauses.append(clause)
        chunk.append(key)
        size += cost
    if chunk:
        out.append((base.filter(or_(*clauses)), chunk))
    return out


def match_composite(spec: LookupSpec, rows: Iterable[Any], keys: Sequence[Any]) -> dict[Any, Any]:
    """Rows by the composite key they answer (numbers compared by value: 1 == 1.0)."""
    by_text: dict[str, Any] = {}
    for row in rows:
        if isinstance(row, Mapping):
            values = tuple(row.get(w) for w in spec.key_wires)
        else:
            values = tuple(getattr(row, a, None) for a in spec.key_attrs)
        by_text.setdefault(QueryCache.key_text(values), row)
    found: dict[Any, Any] = {}
    for key in keys:
        row = by_text.get(QueryCache.key_text(key if isinstance(key, tuple) else (key,)))
        if row is not None:
            found[key] = row
    return found


@attrs.define
class Counts:
    """Mutable counters behind a :class:`EventBatchReport`."""

    values: dict[str, int] = attrs.field(factory=dict)

    def add(self, name: str, amount: int = 1) -> None:
        """Add to one counter."""
        if amount:
            self.values[name] = self.values.get(name, 0) + amount

    def report(self) -> EventBatchReport:
        """Freeze."""
        return EventBatchReport(**self.values)


# ---------------------------------------------------------------------------- pure helpers


def backoff_delay(attempts: int, base: float, cap: float) -> float:
    """Seconds before attempt ``attempts + 1``: ``base * 2**(attempts - 1)``, capped."""
    exponent = max(0, min(attempts - 1, 30))
    return float(min(cap, base * (2**exponent)))


def _plain(value: Any) -> Any:
    if attrs.has(type(value)):
        return attrs.asdict(value, recurse=True)
    return value


def _default(value: Any) -> Any:
    return str(value)


def fingerprint(entity: Any) -> str:
    """A hash of an entity's content (as Query returned it): same data, same hash."""
    try:
        data = orjson.dumps(_plain(entity), default=_default, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        data = repr(entity).encode("utf-8", "backslashreplace")
    return hashlib.sha256(data).hexdigest()


def version_text(value: Any) -> str | None:
    """A sortable text of a modification time (``Updated``), or ``None``."""
    if isinstance(value, dt.datetime):
        return sortable_watermark(value)
    if isinstance(value, str) and value:
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return sortable_watermark(parsed)
    return None


def decide(
    previous: ItemVersion | None, version: str | None, print_: str
) -> Literal["send", "stale", "unchanged"]:
    """Whether to send an entity given what the target last received.

    Deletions pass ``print_="deleted"`` and the previous version (a deletion carries no
    time of its own).
    """
    if previous is None:
        return "send"
    if version is not None and previous.version is not None and version < previous.version:
        return "stale"
    if previous.fingerprint == print_ and previous.version == version:
        return "unchanged"
    return "send"


def owner_id() -> str:
    """``host:pid:random``: who holds a lease or a lock."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# ---------------------------------------------------------------------------- the core


@attrs.frozen
class Settlement:
    """What to do with a processed batch (see :meth:`EventCore.settle`)."""

    acks: list[int]
    releases: list[tuple[int, str | None, float]]
    letters: list[InboxItem]
    reasons: dict[int, str]


class EventCore:
    """The decisions of one handler, with no I/O (see the module docstring).

    The handler (written once in ``_async_handler.py``, its blocking twin
    generated) claims, looks up, sends and settles; every choice between those calls
    is made here from values: routing, coalescing, which versions are sent, what is
    acknowledged, retried or dead-lettered, and when maintenance is due.

    Args:
        cache: the Query cache to evict from (``None``: nothing cached).
        batch_size: items claimed per batch.
        lease: seconds a claim (and the per-target lock) lasts.
        max_attempts: attempts before an item becomes a dead letter.
        retry_base: first retry delay in seconds (doubles per attempt).
        retry_cap: longest retry delay.
        dedup_until: ``"claimed"`` re-arms dedup keys when their event is claimed.
        inbox_retention: seconds finished inbox items are kept.
        maintenance_interval: seconds between purges of old inbox items and dedup keys.
        owner: lease/lock owner id.

    Raises:
        ConfigurationError: an option is out of range.
    """

    def __init__(
        self,
        *,
        cache: QueryCache | None,
        batch_size: int,
        lease: float,
        max_attempts: int,
        retry_base: float,
        retry_cap: float,
        dedup_until: DedupUntil,
        inbox_retention: float,
        maintenance_interval: float,
        owner: str | None,
    ) -> None:
        if batch_size < 1:
            raise ConfigurationError(f"must be >= 1, got {batch_size}", setting="batch_size")
        if not lease > 0:
            raise ConfigurationError(f"must be > 0, got {lease}", setting="lease")
        if max_attempts < 1:
            raise ConfigurationError(f"must be >= 1, got {max_attempts}", setting="max_attempts")
        if retry_base < 0 or retry_cap < 0:
            raise ConfigurationError("must be >= 0", setting="retry_base/retry_cap")
        if dedup_until not in ("claimed", "window"):
            msg = f"must be 'claimed' or 'window', got {dedup_until!r}"
            raise ConfigurationError(msg, setting="dedup_until")
        self.cache = cache
        self.batch_size = batch_size
        self.lease = lease
        self.max_attempts = max_attempts
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.dedup_until = dedup_until
        self.inbox_retention = inbox_retention
        self.maintenance_interval = maintenance_interval
        self.owner = owner or owner_id()
        self.routes: list[Route] = []
        self._has_tracker = False
        self._handled: dict[str, bool] = {}
        self._last_maintenance: float | None = None
        self._specs: dict[tuple[str, str, str], LookupSpec] = {}

    # ------------------------------------------------------------ routing

    @property
    def has_tracker(self) -> bool:
        """Whether ``JobCompletedEvent`` goes to a job tracker."""
        return self._has_tracker

    @has_tracker.setter
    def has_tracker(self, value: bool) -> None:
        self._has_tracker = value
        self._handled.clear()

    def add_route(self, route: Route) -> None:
        """Register a target.

        Raises:
            ConfigurationError: another target already has this name.
        """
        if any(r.name == route.name for r in self.routes):
            msg = f"two targets are named {route.name!r}; give one a distinct `name`"
            raise ConfigurationError(msg, setting="targets")
        self.routes.append(route)
        self._handled.clear()

    def handles(self, name: str) -> bool:
        """Whether a target (or the job tracker) takes events of this type."""
        known = self._handled.get(name)
        if known is not None:
            return known
        key = type_key(name)
        if key == EventType.JobCompletedEvent.value and self._has_tracker:
            answer = True
        else:
            answer = any(key in r.types for r in self.routes)
        if len(self._handled) < 1024:  # names come from requests: keep the memo bounded
            self._handled[name] = answer
        return answer

    # ------------------------------------------------------------ claiming

    def to_rearm(self, items: Sequence[InboxItem]) -> list[str]:
        """The dedup keys to end when ``items`` are claimed (``dedup_until="claimed"``):
        a redelivery arriving from then on is stored again, and one that arrived before
        is covered by the lookup still to come."""
        if self.dedup_until != "claimed":
            return []
        return list(dict.fromkeys(dedup_of(i.dedup_key) for i in items))

    def decode(self, items: Sequence[InboxItem]) -> tuple[list[Work], list[tuple[InboxItem, str]]]:
        """Parse claimed items; those that no longer parse go straight to dead letters."""
        works: list[Work] = []
        bad: list[tuple[InboxItem, str]] = []
        for item in items:
            try:
                event = parse_event(item.event_type, item.payload)
            except EventParseError as exc:
                bad.append((item, f"malformed_event: {exc}"))
                continue
            works.append(Work(item, event, dedup_of(item.dedup_key)))
        return works, bad

    def plan(self, works: Sequence[Work]) -> tuple[list[RoutePlan], list[Work], list[Work]]:
        """Route works to targets, coalescing per entity.

        Returns:
            The plan per target, the ``JobCompletedEvent`` works for the tracker, and the
            works no target (nor the tracker) takes.
        """
        plans = {r.name: RoutePlan(r) for r in self.routes}
        jobs: list[Work] = []
        unrouted: list[Work] = []
        for work in works:
            key = work.type_key
            taken = False
            if self._has_tracker and isinstance(work.event, JobCompletedEvent):
                jobs.append(work)
                taken = True
            for route in self.routes:
                if key not in route.types:
                    continue
                taken = True
                plan = plans[route.name]
                entity = work.event.query_entity if route.lookup else None
                if entity is None:
                    plan.direct.setdefault(work.dedup, []).append(work)
                    continue
                namespace, entity_set, entity_key = entity
                text = QueryCache.key_text(entity_key)
                group = plan.groups.get((namespace, entity_set, text))
                if group is None:
                    group = EntityGroup(namespace, entity_set, entity_key, text)
                    plan.groups[(namespace, entity_set, text)] = group
                group.works.append(work)
            if not taken:
                unrouted.append(work)
        return [p for p in plans.values() if p.groups or p.direct], jobs, unrouted

    def evict(self, plans: Iterable[RoutePlan]) -> None:
        """Drop cached copies of every entity the batch names, before any lookup."""
        if self.cache is None:
            return
        seen: set[tuple[str, str, str]] = set()
        for plan in plans:
            for key, group in plan.groups.items():
                if key not in seen:
                    seen.add(key)
                    self.cache.evict(group.namespace, group.entity_set, group.key)

    def lookup_spec(self, route: Route, namespace: str, entity_set: str) -> LookupSpec:
        """How ``route`` looks up entities of one set: model, key, select, version."""
        memo = (route.name, namespace, entity_set)
        spec = self._specs.get(memo)
        if spec is not None:
            return spec
        model = _MODELS.get((namespace, entity_set))
        select = list(route.select)
        version_attr: str | None = None
        if model is not None:
            wires = model_wire_names(model)
            key_wires = tuple(wires[k] for k in model.KEY)
            key_wire = key_wires[0] if len(key_wires) == 1 else None
            by_wire = {w: a for a, w in wires.items()}
            if route.version_field is not None and route.version_field in by_wire:
                version_attr = by_wire[route.version_field]
                if select and route.version_field not in select:
                    select.append(route.version_field)
            target: Any = model
        else:
            key_wires = ("Id",)
            key_wire = "Id"
            target = (namespace, entity_set)
            if route.version_field is not None:
                version_attr = route.version_field
                if select and route.version_field not in select:
                    select.append(route.version_field)
        spec = LookupSpec(
            target,
            key_wire,
            tuple(select),
            version_attr,
            key_wires=key_wires,
            key_attrs=tuple(model.KEY) if model is not None else key_wires,
        )
        self._specs[memo] = spec
        return spec

    def changes_for(
        self,
        route: Route,
        groups: Sequence[EntityGroup],
        spec: LookupSpec,
        found: Mapping[Any, Any],
        missing: Collection[Any],
    ) -> list[Change]:
        """Entities found become upserts, missing ones deletions."""
        out: list[Change] = []
        for group in groups:
            base = {
                "works": group.works,
                "namespace": group.namespace,
                "entity_set": group.entity_set,
                "key": group.key,
                "key_text": group.key_text,
            }
            if group.key in found:
                entity = found[group.key]
                raw = (
                    entity.get(spec.version_attr)
                    if isinstance(entity, Mapping) and spec.version_attr
                    else getattr(entity, spec.version_attr, None)
                    if spec.version_attr
                    else None
                )
                out.append(
                    Change(
                        "upsert",
                        entity=entity,
                        version=version_text(raw),
                        fingerprint=fingerprint(entity),
                        **base,  # type: ignore[arg-type]
                    )
                )
            elif group.key in missing:
                out.append(
                    Change(
                        "delete",
                        entity=Deletion(group.namespace, group.entity_set, group.key),
                        fingerprint=_DELETED,
                        **base,  # type: ignore[arg-type]
                    )
                )
        return out

    @staticmethod
    def direct_changes(plan: RoutePlan) -> list[Change]:
        """Events without a Query entity: one change per distinct body."""
        return [
            Change("event", works=works, entity=works[-1].event) for works in plan.direct.values()
        ]

    # ------------------------------------------------------------ versions and locks

    @staticmethod
    def version_kind(route: Route, change: Change) -> str:
        """The item-version kind of an entity change."""
        return f"{_LOCK_KIND}{route.name}:{change.namespace}/{change.entity_set}"

    def lock_name(self, route: Route) -> str:
        """The store lock that serialises check-send-record for one target."""
        return f"{_LOCK_KIND}{route.name}"

    def version_keys(self, route: Route, changes: Sequence[Change]) -> dict[str, list[str]]:
        """The item versions to read before sending: keys per version kind."""
        by_kind: dict[str, list[str]] = {}
        for change in changes:
            if change.kind != "event":
                by_kind.setdefault(self.version_kind(route, change), []).append(change.key_text)
        return by_kind

    def to_send(
        self,
        route: Route,
        changes: Sequence[Change],
        stored: Mapping[str, Mapping[str, ItemVersion]],
        counts: Counts,
    ) -> list[Change]:
        """Drop stale and unchanged entities, given the versions stored per kind."""
        out: list[Change] = []
        for change in changes:
            if change.kind == "event":
                out.append(change)
                continue
            previous = stored.get(self.version_kind(route, change), {}).get(change.key_text)
            if change.kind == "delete":
                change.version = previous.version if previous is not None else None
            verdict = decide(previous, change.version, change.fingerprint)
            if verdict == "stale":
                counts.add("skipped_stale")
                log.info(
                    "not sending %s %s to %s: it last received a newer version (%s > %s)",
                    change.entity_set,
                    change.key_text,
                    route.name,
                    previous.version if previous else None,
                    change.version,
                )
            elif verdict == "unchanged":
                counts.add("skipped_unchanged")
            else:
                out.append(change)
        return out

    def to_record(
        self, route: Route, changes: Sequence[Change]
    ) -> dict[str, dict[str, ItemVersion]]:
        """The item versions to write after a successful send, per kind."""
        by_kind: dict[str, dict[str, ItemVersion]] = {}
        for change in changes:
            if change.kind == "event":
                continue
            by_kind.setdefault(self.version_kind(route, change), {})[change.key_text] = ItemVersion(
                change.fingerprint, change.version
            )
        return by_kind

    @staticmethod
    def map_changes(
        route: Route, changes: Sequence[Change], errors: dict[int, list[str]]
    ) -> list[tuple[Change, Any]]:
        """``map`` each upsert and event; a failing ``map`` fails only its own events."""
        out: list[tuple[Change, Any]] = []
        for change in changes:
            if change.kind == "delete":
                out.append((change, change.entity))
                continue
            try:
                out.append((change, route.adapter.map(change.entity)))
            except Exception as exc:  # noqa: BLE001 - integrator code: any error
                fail(errors, change.works, f"{route.name}.map: {type(exc).__name__}: {exc}")
        return out

    @staticmethod
    def count_sent(changes: Iterable[Change], counts: Counts) -> None:
        """Count what a successful send carried."""
        for change in changes:
            counts.add({"upsert": "sent", "delete": "deleted", "event": "events_sent"}[change.kind])

    # ------------------------------------------------------------ settling

    def settle(self, items: Sequence[InboxItem], errors: Mapping[int, list[str]]) -> Settlement:
        """Ack what succeeded; retry with backoff what failed, or dead-letter it after
        ``max_attempts`` (dead-lettered items are acknowledged too)."""
        acks: list[int] = []
        releases: list[tuple[int, str | None, float]] = []
        letters: list[InboxItem] = []
        reasons: dict[int, str] = {}
        for item in items:
            problems = errors.get(item.item_id)
            if not problems:
                acks.append(item.item_id)
                continue
            reason = "; ".join(dict.fromkeys(problems))[:2000]
            reasons[item.item_id] = reason
            if item.attempts >= self.max_attempts:
                letters.append(item)
                acks.append(item.item_id)
            else:
                delay = backoff_delay(item.attempts, self.retry_base, self.retry_cap)
                releases.append((item.item_id, reason, delay))
                log.warning(
                    "%s failed (attempt %d of %d), retrying in %.0f s: %s",
                    item.event_type,
                    item.attempts,
                    self.max_attempts,
                    delay,
                    reason,
                )
        return Settlement(acks, releases, letters, reasons)

    # ------------------------------------------------------------ pacing

    def pause_after(self, claimed: int | None, poll_interval: float) -> float:
        """Seconds the worker waits before its next claim, after a batch of ``claimed``
        items (``None``: the store failed).

        None after a full batch (more is waiting); ``poll_interval`` after an empty batch
        or a failure; after a partial batch a short linger (:data:`BATCH_LINGER`, at most
        ``poll_interval``), so that under a steady trickle batches fill instead of being
        taken one small one after the other: every batch costs the same few commits,
        and on SQLite a receiver's group commit waits for each of them.
        """
        if not claimed:
            return poll_interval
        if claimed >= self.batch_size:
            return 0.0
        return min(poll_interval, BATCH_LINGER)

    # ------------------------------------------------------------ maintenance

    def maintenance_due(self, now: float) -> bool:
        """Whether to purge now (``now``: a monotonic reading); marks it done."""
        if self._last_maintenance is not None and now - self._last_maintenance < (
            self.maintenance_interval
        ):
            return False
        self._last_maintenance = now
        return True

    def purge_cutoff(self, now: dt.datetime) -> dt.datetime:
        """Finished inbox items older than this are purged."""
        return now - dt.timedelta(seconds=self.inbox_retention)

    # ------------------------------------------------------------ dead letters

    @staticmethod
    def own_letters(letters: Iterable[DeadLetter], limit: int | None = None) -> list[DeadLetter]:
        """The handler's dead letters (failed, malformed, unhandled), in the given order."""
        own = [letter for letter in letters if letter.source in WEBHOOK_SOURCES]
        return own if limit is None else own[:limit]

    def replayable(self, letter: DeadLetter) -> str | None:
        """Why ``letter`` would fail the same way again, or ``None`` if it can be replayed."""
        if not letter.key:
            return "no event type"
        try:
            event = parse_event(letter.key, letter.payload)
        except EventParseError as exc:
            return f"still malformed: {exc}"
        if self.handles(letter.key):
            return None
        if isinstance(event, UnknownEvent):
            return f"unknown event type {letter.key}"
        return f"no handler for event type {letter.key}"

    @staticmethod
    def replay_append(letter: DeadLetter) -> Append:
        """The inbox append that puts a replayable letter back (bypassing dedup)."""
        assert letter.key is not None
        name = type_key(letter.key)
        return Append(dedup_key(name, letter.payload), name, letter.payload, force=True)


def fail(errors: dict[int, list[str]], works: Iterable[Work], reason: str) -> None:
    """Record ``reason`` against every item of ``works``."""
    for work in works:
        errors.setdefault(work.item.item_id, []).append(reason)
