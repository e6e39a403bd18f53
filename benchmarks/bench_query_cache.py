"""Query cache and batched lookups: prints figures, asserts nothing about time.

* the hit-path cost of one cached lookup (``QueryCache.get`` and a full
  ``QueryResource.get`` answered from the cache), in microseconds, against a plain
  ``dict`` lookup measured in the same run (target: ≤ 10 µs per cached ``get``);
* the number of requests a batched lookup of 10 000 SKUs sends, cold and warm, over an
  ``httpx.MockTransport`` answering from generated rows.

Run: ``.venv/bin/python benchmarks/bench_query_cache.py``
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import attrs
import httpx

from norce_integration import NorceSettings, RetryPolicy
from norce_integration._sync_http import HTTP as SyncHTTP
from norce_integration.query import ProductSku, QueryCache, QueryResource, f


BASE = "https://bench.example/commerce/query/2.0/"
TOKEN = "https://bench.example/identity/1.0/connect/token"
KEYS = 10_000
ROWS = {f"SKU-{i:06d}": {"PartNo": f"SKU-{i:06d}", "EanCode": f"{i:013d}"} for i in range(KEYS)}
_LITERAL = re.compile(r"'((?:[^']|'')*)'")


def per_call_us(fn: Callable[[], object], rounds: int) -> float:
    """Best of five runs, in microseconds per call (the minimum is the least noisy)."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            fn()
        best = min(best, time.perf_counter() - start)
    return best / rounds * 1e6


def make_resource() -> tuple[QueryResource, list[int]]:
    requests = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN:
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        requests[0] += 1
        path = request.url.path
        if path.endswith(")"):  # a key lookup: ProductSkus('SKU-000001')
            key = _LITERAL.search(path)
            assert key is not None
            return httpx.Response(200, json=ROWS[key.group(1).replace("''", "'")])
        keys = [m.replace("''", "'") for m in _LITERAL.findall(request.url.params["$filter"])]
        return httpx.Response(200, json={"value": [ROWS[k] for k in keys if k in ROWS]})

    settings = NorceSettings(
        client_id="bench",
        client_secret="bench",
        application_id=1,
        query_url=BASE,
        connect_url="https://bench.example/connect/",
        token_url=TOKEN,
        retry=RetryPolicy.no_wait(),
    )
    http = SyncHTTP(settings, transport=httpx.MockTransport(handler))
    return QueryResource(http, cache=QueryCache(max_entries=50_000)), requests


def main() -> None:
    resource, requests = make_resource()
    cache = resource.cache
    assert cache is not None
    part_no = f(attrs.fields(ProductSku).part_no)

    # Batched lookup, cold then warm.
    keys = list(ROWS)
    cold = resource.lookup_many(ProductSku, part_no, keys)
    cold_requests = requests[0]
    warm = resource.lookup_many(ProductSku, part_no, keys)
    per_request = KEYS / cold_requests
    print(f"batched lookup of {KEYS} keys (cold): {cold_requests} requests")
    print(f"  keys per request: {per_request:.1f} (URL bound 1800 chars, 500-key cap)")
    print(f"  found {len(cold.found)}, missing {len(cold.missing)}")
    print(f"batched lookup of {KEYS} keys (warm): {warm.requests} requests, {warm.cached} cached")

    # Hit path.
    plain = {k: object() for k in keys}
    key = keys[1234]
    rounds = 100_000
    baseline = per_call_us(lambda: plain.get(key), rounds)
    cache.put("Products", "ProductSkus", key, plain[key], variant="bench")
    cache_get = per_call_us(lambda: cache.get("Products", "ProductSkus", key, "bench"), rounds)
    resource.get(ProductSku, key)  # warm the whole-entity shape
    before = requests[0]
    resource_get = per_call_us(lambda: resource.get(ProductSku, key), rounds // 5)
    assert requests[0] == before, "the hit path must not send requests"
    print(f"dict lookup (baseline):          {baseline:8.3f} us")
    print(f"QueryCache.get hit:              {cache_get:8.3f} us  ({cache_get / baseline:6.1f}x)")
    print(
        f"QueryResource.get cache hit:     {resource_get:8.3f} us  "
        f"({resource_get / baseline:6.1f}x; target <= 10 us)"
    )
    stats = cache.stats
    print(f"cache stats: hits={stats.hits} misses={stats.misses} loads={stats.loads}")


if __name__ == "__main__":
    main()
