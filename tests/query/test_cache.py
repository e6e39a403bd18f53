"""The read-through cache: TTLs, LRU, eviction, stats and single-flight loading."""

from __future__ import annotations

import asyncio
import threading
import time
from decimal import Decimal

import pytest

from norce_integration.query import CacheBackend, MemoryCache, QueryCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(clock) -> QueryCache:
    return QueryCache(clock=clock)


class TestMemoryCache:
    def test_ttl_and_no_expiry(self, clock):
        mem = MemoryCache(clock=clock)
        mem.set("a", 1, 10)
        mem.set("b", 2, None)
        clock.advance(9.9)
        assert mem.get("a") == 1
        clock.advance(0.1)
        assert mem.get("a") is None
        clock.advance(10**6)
        assert mem.get("b") == 2

    def test_lru_bound(self, clock):
        mem = MemoryCache(max_entries=3, clock=clock)
        for key in "abc":
            mem.set(key, key, None)
        assert mem.get("a") == "a"  # a is now the most recently used
        mem.set("d", "d", None)
        assert mem.get("b") is None
        assert [mem.get(k) for k in "acd"] == ["a", "c", "d"]
        assert len(mem) == 3
        assert mem.evictions == 1
        mem.delete("a")
        mem.delete("missing")
        assert len(mem) == 2
        mem.clear()
        assert len(mem) == 0

    def test_is_a_backend(self):
        assert isinstance(MemoryCache(), CacheBackend)

    def test_bad_bound(self):
        with pytest.raises(ValueError, match="max_entries"):
            MemoryCache(max_entries=0)


class TestTTL:
    def test_defaults_per_namespace(self, cache):
        assert cache.ttl_for("Core", "Currencies") == 24 * 3600
        assert cache.ttl_for("Application", "Categories") == 3600
        assert cache.ttl_for("Products", "ProductSkus") == 60
        assert cache.ttl_for("Customers", "Customers") == 60
        assert cache.ttl_for("Orders", "Orders") == 0
        assert not cache.enabled("Orders", "Orders")
        assert not cache.enabled("Reporting", "X")

    def test_configurable_per_namespace_and_set(self, clock):
        cache = QueryCache(
            ttl={"Orders": 5, "Products/ProductSkuPriceLists": 1}, default_ttl=7, clock=clock
        )
        assert cache.ttl_for("Orders", "Orders") == 5
        assert cache.ttl_for("Products", "ProductSkuPriceLists") == 1
        assert cache.ttl_for("Products", "ProductSkus") == 60
        assert cache.ttl_for("Reporting", "X") == 7

    def test_entries_expire(self, cache, clock):
        cache.put("Products", "ProductSkus", "A", "sku-a")
        assert cache.get("Products", "ProductSkus", "A") == "sku-a"
        clock.advance(59)
        assert cache.get("Products", "ProductSkus", "A") == "sku-a"
        clock.advance(1)
        assert cache.get("Products", "ProductSkus", "A") is None

    def test_each_variant_keeps_its_own_expiry(self, cache, clock):
        cache.put("Products", "ProductSkus", "A", "narrow", variant="sel=PartNo")
        clock.advance(50)
        cache.put("Products", "ProductSkus", "A", "full")
        clock.advance(15)
        assert cache.get("Products", "ProductSkus", "A", "sel=PartNo") is None
        assert cache.get("Products", "ProductSkus", "A") == "full"

    def test_disabled_sets_are_not_stored(self, cache):
        cache.put("Orders", "Orders", 1, "order")
        assert cache.get("Orders", "Orders", 1) is None


class TestEviction:
    def test_by_key_drops_every_variant(self, cache):
        cache.put("Products", "ProductSkus", "A", "full")
        cache.put("Products", "ProductSkus", "A", "narrow", variant="v")
        cache.put("Products", "ProductSkus", "B", "b")
        cache.evict("Products", "ProductSkus", "A")
        assert cache.get("Products", "ProductSkus", "A") is None
        assert cache.get("Products", "ProductSkus", "A", "v") is None
        assert cache.get("Products", "ProductSkus", "B") == "b"
        assert cache.stats.evictions == 1

    def test_composite_and_numeric_keys_normalise(self, cache):
        cache.put("Products", "ProductSkuPriceLists", ("A", 1, Decimal("1.0")), "row")
        assert cache.get("Products", "ProductSkuPriceLists", ("A", 1, 1)) == "row"
        cache.evict("Products", "ProductSkuPriceLists", ("A", Decimal(1), 1))
        assert cache.get("Products", "ProductSkuPriceLists", ("A", 1, 1)) is None
        cache.put("Customers", "Customers", (5,), "c")
        assert cache.get("Customers", "Customers", 5) == "c"

    def test_by_set(self, cache):
        cache.put("Products", "ProductSkus", "A", "a")
        cache.put("Core", "Currencies", 1, "sek")
        cache.evict_set("Products", "ProductSkus")
        assert cache.get("Products", "ProductSkus", "A") is None
        assert cache.get("Core", "Currencies", 1) == "sek"
        cache.put("Products", "ProductSkus", "A", "a2")
        assert cache.get("Products", "ProductSkus", "A") == "a2"

    def test_lost_generation_token_never_serves_stale(self, clock):
        # An LRU that pushes out the generation token must not revive evicted entries.
        cache = QueryCache(clock=clock, max_entries=2)
        cache.put("Products", "ProductSkus", "A", "old")
        cache.evict_set("Products", "ProductSkus")
        for i in range(5):
            cache.put("Core", "Currencies", i, i)
        assert cache.get("Products", "ProductSkus", "A") is None

    def test_evict_during_load_is_not_cached(self, cache):
        def loader(keys):
            cache.evict("Products", "ProductSkus", "A")  # an event arrives mid-load
            return dict.fromkeys(keys, "stale")

        assert cache.load_many("Products", "ProductSkus", ["A"], loader) == {"A": "stale"}
        assert cache.get("Products", "ProductSkus", "A") is None

    def test_evict_set_during_load_is_not_cached(self, cache):
        def loader(keys):
            cache.evict_set("Products", "ProductSkus")
            return dict.fromkeys(keys, "stale")

        cache.load_many("Products", "ProductSkus", ["A"], loader)
        assert cache.get("Products", "ProductSkus", "A") is None


class TestStatsAndLoading:
    def test_hits_misses_loads(self, cache):
        calls = []

        def loader(keys):
            calls.append(list(keys))
            return {k: k.lower() for k in keys if k != "MISSING"}

        first = cache.load_many("Products", "ProductSkus", ["A", "B", "A", "MISSING"], loader)
        assert first == {"A": "a", "B": "b"}
        second = cache.load_many("Products", "ProductSkus", ["A", "B", "C", "MISSING"], loader)
        assert second == {"A": "a", "B": "b", "C": "c"}
        assert calls == [["A", "B", "MISSING"], ["C", "MISSING"]]  # misses are not cached
        stats = cache.stats
        assert (stats.hits, stats.misses, stats.loads, stats.coalesced) == (2, 5, 5, 0)
        assert stats.hit_ratio == pytest.approx(2 / 7)
        cache.reset_stats()
        assert cache.stats.hits == 0
        assert cache.stats.hit_ratio == 0.0

    def test_disabled_set_loads_everything(self, cache):
        calls = []

        def loader(keys):
            calls.append(keys)
            return dict.fromkeys(keys, 1)

        cache.load_many("Orders", "Orders", [1, 1, 2], loader)
        cache.load_many("Orders", "Orders", [1], loader)
        assert calls == [[1, 2], [1]]
        assert cache.load_many("Orders", "Orders", [], loader) == {}

    def test_loader_error_propagates_and_nothing_is_cached(self, cache):
        def boom(keys):
            raise RuntimeError("norce down")

        with pytest.raises(RuntimeError, match="norce down"):
            cache.load_many("Products", "ProductSkus", ["A"], boom)
        assert cache.load_many("Products", "ProductSkus", ["A"], lambda ks: {"A": 1}) == {"A": 1}


class TestSingleFlightThreads:
    def test_concurrent_misses_of_one_key_load_once(self, cache):
        started = threading.Event()
        release = threading.Event()
        calls = []

        def loader(keys):
            calls.append(list(keys))
            started.set()
            release.wait(5)
            return {k: f"v-{k}" for k in keys}

        results: list[object] = []

        def worker():
            results.append(cache.load_many("Products", "ProductSkus", ["A"], loader))

        threads = [threading.Thread(target=worker) for _ in range(8)]
        threads[0].start()
        assert started.wait(5)
        for t in threads[1:]:
            t.start()
        # Let the others reach the in-flight wait before the load finishes.
        deadline = time.monotonic() + 5
        while cache.stats.coalesced < 7 and time.monotonic() < deadline:
            time.sleep(0.001)
        release.set()
        for t in threads:
            t.join(5)
        assert calls == [["A"]]
        assert results == [{"A": "v-A"}] * 8
        assert cache.stats.loads == 1
        assert cache.stats.coalesced == 7

    def test_waiters_get_the_loader_error(self, cache):
        started = threading.Event()
        release = threading.Event()

        def loader(keys):
            started.set()
            release.wait(5)
            raise RuntimeError("boom")

        errors: list[BaseException] = []

        def worker():
            try:
                cache.load_many("Products", "ProductSkus", ["A"], loader)
            except RuntimeError as exc:
                errors.append(exc)

        first = threading.Thread(target=worker)
        first.start()
        assert started.wait(5)
        second = threading.Thread(target=worker)
        second.start()
        deadline = time.monotonic() + 5
        while cache.stats.coalesced < 1 and time.monotonic() < deadline:
            time.sleep(0.001)
        release.set()
        first.join(5)
        second.join(5)
        assert len(errors) == 2

    def test_disjoint_keys_load_in_parallel_batches(self, cache):
        barrier = threading.Barrier(2, timeout=5)
        calls = []

        def loader(keys):
            calls.append(sorted(keys))
            barrier.wait()  # both loads are in flight at once: no global lock
            return dict.fromkeys(keys, 1)

        threads = [
            threading.Thread(target=cache.load_many, args=("Products", "ProductSkus", ks, loader))
            for ks in (["A", "B"], ["C"])
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(5)
        assert sorted(calls) == [["A", "B"], ["C"]]


class TestSingleFlightAsyncio:
    @pytest.mark.anyio
    async def test_concurrent_misses_of_one_key_load_once(self, cache):
        calls = []
        gate = asyncio.Event()

        async def loader(keys):
            calls.append(list(keys))
            await gate.wait()
            return {k: f"v-{k}" for k in keys}

        tasks = [
            asyncio.create_task(cache.aload_many("Products", "ProductSkus", ["A", "B"], loader))
            for _ in range(10)
        ]
        await asyncio.sleep(0)
        gate.set()
        results = await asyncio.gather(*tasks)
        assert calls == [["A", "B"]]
        assert results == [{"A": "v-A", "B": "v-B"}] * 10
        assert cache.stats.loads == 2
        assert cache.stats.coalesced == 18

    @pytest.mark.anyio
    async def test_waiters_get_the_loader_error(self, cache):
        gate = asyncio.Event()

        async def loader(keys):
            await gate.wait()
            raise RuntimeError("boom")

        tasks = [
            asyncio.create_task(cache.aload_many("Products", "ProductSkus", ["A"], loader))
            for _ in range(3)
        ]
        await asyncio.sleep(0)
        gate.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, RuntimeError) for r in results)

    @pytest.mark.anyio
    async def test_cancelled_loader_hands_over_to_a_waiter(self, cache):
        gate = asyncio.Event()
        calls = []

        async def loader(keys):
            calls.append(list(keys))
            if len(calls) == 1:
                await asyncio.sleep(3600)  # the first loader hangs and is cancelled
            return dict.fromkeys(keys, "v")

        first = asyncio.create_task(cache.aload_many("Products", "ProductSkus", ["A"], loader))
        await asyncio.sleep(0)
        second = asyncio.create_task(cache.aload_many("Products", "ProductSkus", ["A"], loader))
        await asyncio.sleep(0)
        first.cancel()
        gate.set()
        assert await second == {"A": "v"}
        with pytest.raises(asyncio.CancelledError):
            await first
        assert len(calls) == 2

    @pytest.mark.anyio
    async def test_cancelled_waiter_does_not_cancel_the_load(self, cache):
        gate = asyncio.Event()

        async def loader(keys):
            await gate.wait()
            return dict.fromkeys(keys, "v")

        owner = asyncio.create_task(cache.aload_many("Products", "ProductSkus", ["A"], loader))
        await asyncio.sleep(0)
        waiter = asyncio.create_task(cache.aload_many("Products", "ProductSkus", ["A"], loader))
        await asyncio.sleep(0)
        waiter.cancel()
        gate.set()
        assert await owner == {"A": "v"}
        with pytest.raises(asyncio.CancelledError):
            await waiter
        assert cache.get("Products", "ProductSkus", "A") == "v"
