"""SqliteStore item fingerprints: bulk checks per second over 1M items. Prints figures only.

Writes 1 000 000 fingerprints in batches of 10 000, then checks them all back in batches
of 10 000 (every key present), then 200 000 random keys of which half were never stored.
Target: >= 200 000 checks/s. A plain ``dict`` lookup of the same keys is printed as the
in-memory reference.

Run: ``.venv/bin/python benchmarks/bench_store_fingerprints.py``
"""

from __future__ import annotations

import hashlib
import random
import tempfile
import time
from pathlib import Path

from norce_integration.stores import ItemVersion, SqliteStore


ITEMS = 1_000_000
BATCH = 10_000


def main() -> None:
    keys = [f"SKU-{i:07d}" for i in range(ITEMS)]
    fingerprints = {k: hashlib.blake2b(k.encode(), digest_size=16).hexdigest() for k in keys}
    with tempfile.TemporaryDirectory() as tmp, SqliteStore(Path(tmp) / "fp.sqlite") as store:
        start = time.perf_counter()
        for i in range(0, ITEMS, BATCH):
            store.put_item_versions(
                "products", {k: ItemVersion(fingerprints[k]) for k in keys[i : i + BATCH]}
            )
        put = ITEMS / (time.perf_counter() - start)

        start = time.perf_counter()
        found = 0
        for i in range(0, ITEMS, BATCH):
            found += len(store.get_item_versions("products", keys[i : i + BATCH]))
        get_all = ITEMS / (time.perf_counter() - start)
        assert found == ITEMS

        rng = random.Random(0)
        probe = [f"SKU-{rng.randrange(2 * ITEMS):07d}" for _ in range(200_000)]
        start = time.perf_counter()
        for i in range(0, len(probe), BATCH):
            store.get_item_versions("products", probe[i : i + BATCH])
        get_mixed = len(probe) / (time.perf_counter() - start)

    start = time.perf_counter()
    hits = sum(1 for k in keys if k in fingerprints)
    in_memory = hits / (time.perf_counter() - start)
    print(f"items stored:                     {ITEMS:,} in batches of {BATCH:,}")
    print(f"put (upsert) rate:                {put:,.0f} items/s")
    print(f"check rate, all present:          {get_all:,.0f} checks/s (target >= 200,000)")
    print(f"check rate, half unknown, random: {get_mixed:,.0f} checks/s")
    print(f"dict lookup (reference):          {in_memory:,.0f} checks/s")


if __name__ == "__main__":
    main()
