"""A read-through cache for Query lookups (reference §2.5, §2.10).

Query is not cached server-side and Norce asks integrations to cache on their side:
master data (``Core``, ``Application``) for a long time, ``Products`` and ``Customers``
for a while. Defaults: Core 24 h, Application 1 h, Products and Customers 60 s, Orders
off (orders change under the integration's feet); every value is configurable, per
namespace or per ``Namespace/EntitySet``.

Pieces:

* :class:`CacheBackend` — the storage Protocol (``get``/``set``/``delete``), so a shared
  store (Redis, memcached) can be plugged in; values are Python objects (a networked
  backend pickles them).
* :class:`MemoryCache` — the default: in-process, LRU-bounded, TTL-expiring, thread-safe.
* :class:`QueryCache` — keys, TTLs, eviction by entity key (events call
  :meth:`QueryCache.evict`) and by entity set, hit/miss counters, and single-flight
  loading: concurrent misses of one key cause one load (threads wait on a per-key event,
  asyncio tasks on a per-key future).

One backend entry per entity key holds every *variant* (the ``$select``/``$expand``
shape) with its own expiry, so evicting a key drops all its shapes at once. Evicting a
set swaps the set's generation token, which is part of every entry key: old entries are
unreachable at once and age out of the backend.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
import types
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping
from typing import Any, Protocol, TypeVar, runtime_checkable

import attrs

from ._odata import key_text


__all__ = [
    "DEFAULT_TTL",
    "CacheBackend",
    "CacheStats",
    "MemoryCache",
    "QueryCache",
]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

DEFAULT_TTL: Mapping[str, float] = types.MappingProxyType(
    {
        "Core": 24 * 3600.0,
        "Application": 3600.0,
        "Products": 60.0,
        "Customers": 60.0,
        "Orders": 0.0,
    }
)
"""Seconds per namespace; 0 turns caching off. Unlisted namespaces are not cached."""


@runtime_checkable
class CacheBackend(Protocol):
    """Where cached values live. Implement it to share a cache between processes.

    ``get`` returns ``None`` for a missing or expired key. ``set`` with ``ttl=None``
    keeps the value until it is deleted or pushed out.
    """

    def get(self, key: str) -> Any | None:
        """The value stored under ``key``, or ``None``."""
        ...

    def set(self, key: str, value: Any, ttl: float | None) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds (``None``: no expiry)."""
        ...

    def delete(self, key: str) -> None:
        """Forget ``key`` (no error when it is absent)."""
        ...


class MemoryCache:
    """In-process LRU + TTL store; safe to share between threads and tasks.

    Args:
        max_entries: the LRU bound; the least recently used entry goes first.
        clock: seconds, monotonic; inject a fake one in tests.

    Raises:
        ValueError: ``max_entries`` is below 1.
    """

    def __init__(
        self, *, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_entries < 1:
            msg = f"max_entries must be at least 1, got {max_entries}"
            raise ValueError(msg)
        self.max_entries = max_entries
        self.clock = clock
        self.evictions = 0
        self._data: OrderedDict[str, tuple[float | None, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        """The live value under ``key``, or ``None``; a hit refreshes its LRU position."""
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            expires, value = item
            if expires is not None and expires <= self.clock():
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return value

    def set(self, key: str, value: Any, ttl: float | None) -> None:
        """Store ``value``; pushes out the least recently used entries past the bound."""
        expires = None if ttl is None else self.clock() + ttl
        with self._lock:
            self._data[key] = (expires, value)
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)
                self.evictions += 1

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)


@attrs.frozen
class CacheStats:
    """A snapshot of the cache's counters.

    Attributes:
        hits: lookups answered from the cache.
        misses: lookups that were not (loaded, or waiting on another caller's load).
        loads: keys fetched from Norce by this cache's loaders.
        coalesced: misses that waited for a load already in flight instead of loading.
        evictions: explicit evictions (:meth:`QueryCache.evict`, :meth:`~QueryCache.evict_set`).
    """

    hits: int = 0
    misses: int = 0
    loads: int = 0
    coalesced: int = 0
    evictions: int = 0

    @property
    def hit_ratio(self) -> float:
        """``hits / (hits + misses)``; 0.0 before any lookup."""
        total = self.hits + self.misses
        return self.hits / total if total else 0.0


class _Flight:
    """One in-flight load of one key (shape), shared by the callers that wait on it."""

    __slots__ = ("abandoned", "error", "event", "found", "future", "stale", "value")

    def __init__(self, *, future: asyncio.Future[None] | None = None) -> None:
        self.event = threading.Event() if future is None else None
        self.future = future
        self.found = False
        self.value: Any = None
        self.error: BaseException | None = None
        self.abandoned = False
        self.stale = False

    def finish(self) -> None:
        if self.event is not None:
            self.event.set()
        elif self.future is not None and not self.future.done():
            # A result, never an exception: an unawaited exception would be logged.
            self.future.get_loop().call_soon_threadsafe(_resolve, self.future)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


_ENTRY = "nq:"
_GEN = "nq-gen:"


class QueryCache:
    """Read-through cache of Query entities, keyed by entity key.

    Args:
        backend: the store; a :class:`MemoryCache` by default.
        ttl: seconds per namespace (``"Products"``) or per set (``"Products/ProductSkus"``,
            which wins); merged over :data:`DEFAULT_TTL`. 0 turns caching off.
        default_ttl: seconds for namespaces not in either table (0: not cached).
        max_entries: the LRU bound of the default backend.
        clock: monotonic seconds; shared with the default backend. Inject for tests.

    Raises:
        ValueError: ``max_entries`` is below 1.

    Example:
        >>> cache = QueryCache(ttl={"Products": 300, "Orders": 5})
        >>> cache.evict("Products", "ProductSkus", "100011")  # from a SkuChangedNotification
    """

    def __init__(
        self,
        backend: CacheBackend | None = None,
        *,
        ttl: Mapping[str, float] | None = None,
        default_ttl: float = 0.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.backend: CacheBackend = (
            backend if backend is not None else MemoryCache(max_entries=max_entries, clock=clock)
        )
        self._ttl: dict[str, float] = {**DEFAULT_TTL, **(ttl or {})}
        self._default_ttl = default_ttl
        self._ttl_memo: dict[tuple[str, str], float] = {}
        self._flights: dict[tuple[str, str], _Flight] = {}
        self._flight_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self._hits = self._misses = self._loads = self._coalesced = self._evictions = 0

    # ------------------------------------------------------------ configuration

    def ttl_for(self, namespace: str, entity_set: str) -> float:
        """Seconds entities of this set stay cached (0: not cached)."""
        known = self._ttl_memo.get((namespace, entity_set))
        if known is not None:
            return known
        ttl = self._ttl.get(f"{namespace}/{entity_set}")
        if ttl is None:
            ttl = self._ttl.get(namespace, self._default_ttl)
        seconds = max(0.0, float(ttl))
        self._ttl_memo[(namespace, entity_set)] = seconds
        return seconds

    def enabled(self, namespace: str, entity_set: str) -> bool:
        """Whether this set is cached at all."""
        return self.ttl_for(namespace, entity_set) > 0

    @property
    def stats(self) -> CacheStats:
        """A snapshot of the counters."""
        with self._stats_lock:
            return CacheStats(
                hits=self._hits,
                misses=self._misses,
                loads=self._loads,
                coalesced=self._coalesced,
                evictions=self._evictions,
            )

    def reset_stats(self) -> None:
        """Zero the counters."""
        with self._stats_lock:
            self._hits = self._misses = self._loads = self._coalesced = self._evictions = 0

    # ------------------------------------------------------------ keys

    def _prefix(self, namespace: str, entity_set: str) -> str:
        gen_key = f"{_GEN}{namespace}/{entity_set}"
        gen = self.backend.get(gen_key)
        if not isinstance(gen, str):
            # A missing token (first use, or pushed out of an LRU) gets a fresh random
            # one: entries under any older token become unreachable, never stale.
            gen = secrets.token_hex(6)
            self.backend.set(gen_key, gen, None)
        return f"{_ENTRY}{namespace}/{entity_set}@{gen}:"

    @staticmethod
    def key_text(key: object) -> str:
        """The canonical text of an entity key: a scalar or a tuple in key order.

        ``1``, ``Decimal("1")`` and ``Decimal("1.0")`` give the same text; a 1-tuple equals
        its scalar. Strings are case-sensitive.
        """
        if isinstance(key, tuple):
            if len(key) == 1:
                return key_text(key[0])
            return ",".join(key_text(k) for k in key)
        return key_text(key)

    def _read(self, entry_key: str, variant: str) -> Any | None:
        entry = self.backend.get(entry_key)
        if entry is None:
            return None
        item = entry.get(variant) if isinstance(entry, dict) else None
        if item is None or item[0] <= self.clock():
            return None
        return item[1]

    def _write(self, entry_key: str, variant: str, value: Any, ttl: float) -> None:
        now = self.clock()
        entry = self.backend.get(entry_key)
        fresh: dict[str, tuple[float, Any]] = {}
        if isinstance(entry, dict):
            fresh = {v: item for v, item in entry.items() if item[0] > now}
        fresh[variant] = (now + ttl, value)
        # The entry lives as long as its longest-lived variant (each checks its own).
        self.backend.set(entry_key, fresh, max(item[0] for item in fresh.values()) - now)

    def _count(self, *, hits: int = 0, misses: int = 0, loads: int = 0, coalesced: int = 0) -> None:
        with self._stats_lock:
            self._hits += hits
            self._misses += misses
            self._loads += loads
            self._coalesced += coalesced

    # ------------------------------------------------------------ plain access

    def get(self, namespace: str, entity_set: str, key: object, variant: str = "") -> Any | None:
        """The cached entity, or ``None`` (counted as a hit or a miss)."""
        if not self.enabled(namespace, entity_set):
            return None
        value = self._read(self._prefix(namespace, entity_set) + self.key_text(key), variant)
        if value is None:
            self._count(misses=1)
        else:
            self._count(hits=1)
        return value

    def peek(self, namespace: str, entity_set: str, key: object, variant: str = "") -> Any | None:
        """The cached entity, or ``None``; only a hit is counted (the caller loads a miss)."""
        if self.ttl_for(namespace, entity_set) <= 0:
            return None
        value = self._read(self._prefix(namespace, entity_set) + self.key_text(key), variant)
        if value is not None:
            with self._stats_lock:
                self._hits += 1
        return value

    def put(
        self, namespace: str, entity_set: str, key: object, value: Any, variant: str = ""
    ) -> None:
        """Cache ``value`` (a no-op for sets with caching off)."""
        ttl = self.ttl_for(namespace, entity_set)
        if ttl > 0:
            self._write(
                self._prefix(namespace, entity_set) + self.key_text(key), variant, value, ttl
            )

    def evict(self, namespace: str, entity_set: str, key: object) -> None:
        """Drop every cached shape of one entity; a load in flight is not cached.

        ``key`` as in lookups: ``"100011"``, ``5``, or a tuple for composite keys.
        """
        entry_key = self._prefix(namespace, entity_set) + self.key_text(key)
        with self._flight_lock:
            for (flight_key, _), flight in self._flights.items():
                if flight_key == entry_key:
                    flight.stale = True
        self.backend.delete(entry_key)
        with self._stats_lock:
            self._evictions += 1

    def evict_set(self, namespace: str, entity_set: str) -> None:
        """Drop every cached entity of a set (loads in flight are not cached)."""
        prefix = f"{_ENTRY}{namespace}/{entity_set}@"
        with self._flight_lock:
            for (flight_key, _), flight in self._flights.items():
                if flight_key.startswith(prefix):
                    flight.stale = True
        self.backend.set(f"{_GEN}{namespace}/{entity_set}", secrets.token_hex(6), None)
        with self._stats_lock:
            self._evictions += 1

    # ------------------------------------------------------------ single-flight loading

    def _claim(
        self,
        prefix: str,
        variant: str,
        keys: Iterable[K],
        result: dict[K, Any],
        *,
        future_factory: Callable[[], asyncio.Future[None]] | None = None,
    ) -> tuple[list[tuple[K, tuple[str, str], _Flight]], list[tuple[K, _Flight]]]:
        """Sort keys into hits (into ``result``), loads we own, and loads we wait on."""
        claimed: list[tuple[K, tuple[str, str], _Flight]] = []
        waiting: list[tuple[K, _Flight]] = []
        hits = 0
        loop = asyncio.get_running_loop() if future_factory is not None else None
        shared: asyncio.Future[None] | None = None
        for key in dict.fromkeys(keys):
            entry_key = prefix + self.key_text(key)
            value = self._read(entry_key, variant)
            if value is not None:
                result[key] = value
                hits += 1
                continue
            slot = (entry_key, variant)
            with self._flight_lock:
                flight = self._flights.get(slot)
                usable = flight is not None and (
                    loop is None
                    if flight.future is None
                    else loop is not None and flight.future.get_loop() is loop
                )
                if flight is not None and usable:
                    waiting.append((key, flight))
                    continue
                # Re-check under the lock: a loader writes before it releases its slot,
                # so a value that landed since the first read is seen here.
                value = self._read(entry_key, variant)
                if value is not None:
                    result[key] = value
                    hits += 1
                    continue
                if future_factory is not None and shared is None:
                    # One future for every key of this load: they settle together.
                    shared = future_factory()
                flight = _Flight(future=shared)
                self._flights[slot] = flight
                claimed.append((key, slot, flight))
        self._count(
            hits=hits,
            misses=len(claimed) + len(waiting),
            loads=len(claimed),
            coalesced=len(waiting),
        )
        return claimed, waiting

    def _settle(
        self,
        claimed: list[tuple[K, tuple[str, str], _Flight]],
        loaded: Mapping[K, Any] | None,
        error: BaseException | None,
        ttl: float,
        result: dict[K, Any],
    ) -> None:
        """Record a load's outcome, cache it, release the slots and wake the waiters."""
        for key, slot, flight in claimed:
            if error is not None:
                if isinstance(error, Exception):
                    flight.error = error
                else:
                    # Cancelled or interrupted: waiters load for themselves.
                    flight.abandoned = True
            elif loaded is not None and key in loaded:
                value = loaded[key]
                flight.found, flight.value = True, value
                result[key] = value
                if not flight.stale:
                    self._write(slot[0], slot[1], value, ttl)
            with self._flight_lock:
                if self._flights.get(slot) is flight:
                    del self._flights[slot]
            flight.finish()

    @staticmethod
    def _collect(waiting: list[tuple[K, _Flight]], result: dict[K, Any]) -> list[K]:
        retry: list[K] = []
        for key, flight in waiting:
            if flight.error is not None:
                raise flight.error
            if flight.abandoned:
                retry.append(key)
            elif flight.found:
                result[key] = flight.value
        return retry

    def load_many(
        self,
        namespace: str,
        entity_set: str,
        keys: Iterable[K],
        loader: Callable[[list[K]], Mapping[K, V]],
        *,
        variant: str = "",
    ) -> dict[K, V]:
        """Cached values for ``keys``; the misses are loaded by ``loader`` (blocking).

        ``loader`` receives the keys nobody else is loading and returns the found ones;
        keys missing from its answer are reported missing (and not cached). A key that
        another thread is loading is waited for, not loaded twice.

        Raises:
            Exception: whatever ``loader`` raised, in the loading thread and in the
                threads that waited for that load.
        """
        if not self.enabled(namespace, entity_set):
            wanted = list(dict.fromkeys(keys))
            return dict(loader(wanted)) if wanted else {}
        ttl = self.ttl_for(namespace, entity_set)
        result: dict[K, Any] = {}
        pending: list[K] = list(keys)
        while pending:
            prefix = self._prefix(namespace, entity_set)
            claimed, waiting = self._claim(prefix, variant, pending, result)
            if claimed:
                try:
                    loaded = loader([key for key, _, _ in claimed])
                except BaseException as exc:
                    self._settle(claimed, None, exc, ttl, result)
                    raise
                self._settle(claimed, loaded, None, ttl, result)
            for _, flight in waiting:
                assert flight.event is not None
                flight.event.wait()
            pending = self._collect(waiting, result)
        return result

    async def aload_many(
        self,
        namespace: str,
        entity_set: str,
        keys: Iterable[K],
        loader: Callable[[list[K]], Awaitable[Mapping[K, V]]],
        *,
        variant: str = "",
    ) -> dict[K, V]:
        """Async twin of :meth:`load_many`: waiting tasks share one future per key.

        Raises:
            Exception: whatever ``loader`` raised, in the loading task and in the tasks
                that waited for that load.
        """
        if not self.enabled(namespace, entity_set):
            wanted = list(dict.fromkeys(keys))
            return dict(await loader(wanted)) if wanted else {}
        ttl = self.ttl_for(namespace, entity_set)
        loop = asyncio.get_running_loop()
        result: dict[K, Any] = {}
        pending: list[K] = list(keys)
        while pending:
            prefix = self._prefix(namespace, entity_set)
            claimed, waiting = self._claim(
                prefix, variant, pending, result, future_factory=loop.create_future
            )
            if claimed:
                try:
                    loaded = await loader([key for key, _, _ in claimed])
                except BaseException as exc:
                    self._settle(claimed, None, exc, ttl, result)
                    raise
                self._settle(claimed, loaded, None, ttl, result)
            for _, flight in waiting:
                assert flight.future is not None
                # shield: cancelling this waiter must not cancel the shared future.
                await asyncio.shield(flight.future)
            pending = self._collect(waiting, result)
        return result
