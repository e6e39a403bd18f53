"""Fingerprint-mode delta checks: how many items per second are checked against the store.

Fingerprint mode turns a full extraction into a delta of what changed: every item is
encoded (canonical JSON), hashed, and compared with the fingerprint stored for its key,
read from the store in batches. This prints, over N price rows (default 1M), in one run:

* ``hash only`` (the baseline): canonical JSON + blake2b of each item, nothing else;
* ``first run``: encode + hash + write every fingerprint with the store's bulk writes;
* ``check``: the delta check proper, as ``DeltaImport`` does it (encode, hash, batched
  ``get_item_versions``, compare, spool the changed items), with 3 changed rows;
* ``store check``: the part of ``check`` spent in the batched store reads and the
  comparison (the fingerprint checks proper; target >= 200k/s);
* ``store read`` (a second baseline): ``Store.get_item_versions`` alone over the same
  keys in the same batches: what the store itself allows;

and the rates against the baselines. Items are generated lazily in every phase, so
generation (about half of the baseline's time) costs the same everywhere.

    python benchmarks/bench_fingerprints.py              # 1M items
    python benchmarks/bench_fingerprints.py --items 100000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from hashlib import blake2b
from pathlib import Path

import orjson

from norce_integration._convert import fast_unstructure_fn
from norce_integration.connect import json_default
from norce_integration.connect.models import (
    SkuPriceList,
    SkuPriceListField,
    SkuPriceListHeader,
)
from norce_integration.patterns import SourceSpec
from norce_integration.patterns.imports._adapters import key_function
from norce_integration.patterns.imports._core import BATCH, Encoded, ItemEncoder
from norce_integration.patterns.imports._spool import ItemSpool
from norce_integration.patterns.imports._sync_engine import CandidateSet, VersionBook
from norce_integration.stores import SqliteStore


LISTS = ("STD", "EUR", "NOK")
CHANGED = {17, 500_001, 999_999}


def items(n: int, *, changed: bool) -> Iterator[SkuPriceList]:
    base, new = Decimal("199.00"), Decimal("149.00")
    for i in range(n):
        yield SkuPriceList(
            part_no=f"SKU-{i // 3:07d}",
            price_list_code=LISTS[i % 3],
            price_sale=new if changed and i in CHANGED else base,
        )


def spec() -> SourceSpec:
    return SourceSpec(
        name="bench-fingerprints",
        kind="sku_price_lists",
        header=SkuPriceListHeader(
            account_id=1,
            full_file=False,
            sku_price_list_fields_that_are_set=[SkuPriceListField.PriceSale],
        ),
        account_id=1,
    )


def encoder() -> ItemEncoder:
    return ItemEncoder(spec(), key_fn=None, version_fn=None, full=False, scoped=False)


def hash_only(n: int) -> float:
    unstructure = fast_unstructure_fn(SkuPriceList)
    start = time.perf_counter()
    for item in items(n, changed=False):
        data = orjson.dumps(unstructure(item), default=json_default, option=orjson.OPT_SORT_KEYS)
        blake2b(data, digest_size=16).hexdigest()
    return time.perf_counter() - start


def first_run(n: int, book: VersionBook) -> float:
    enc = encoder()
    start = time.perf_counter()

    def entries() -> Iterator[tuple[str, str | None, str]]:
        for index, item in enumerate(items(n, changed=False)):
            encoded = enc.encode(index, None, item)
            assert isinstance(encoded, Encoded)
            yield encoded.key, encoded.version, encoded.fingerprint

    written = book.put(entries(), book.generation)
    assert written == n
    return time.perf_counter() - start


class TimedCandidates(CandidateSet):
    """Times the batched store reads and comparisons (``flush``) apart from encoding."""

    store_seconds: float = 0.0

    def flush(self) -> None:
        start = time.perf_counter()
        super().flush()
        self.store_seconds += time.perf_counter() - start


def check(n: int, book: VersionBook, work: Path) -> tuple[float, float, int]:
    enc = encoder()
    spool = ItemSpool(work, "bench-")
    candidates = TimedCandidates(book, spool)
    start = time.perf_counter()
    for index, item in enumerate(items(n, changed=True)):
        encoded = enc.encode(index, None, item)
        assert isinstance(encoded, Encoded)
        candidates.add(encoded)
    winners = candidates.lines()
    spool.close()
    elapsed = time.perf_counter() - start
    spool.delete()
    assert candidates.skipped_unchanged + len(winners) == n
    return elapsed, candidates.store_seconds, len(winners)


def store_read(n: int, book: VersionBook) -> float:
    keys = key_function("sku_price_lists")
    unstructure = fast_unstructure_fn(SkuPriceList)
    batch: list[str] = []
    seconds = 0.0
    for item in items(n, changed=False):
        key = keys(unstructure(item))
        assert key is not None
        batch.append(key)
        if len(batch) == BATCH:
            start = time.perf_counter()
            book.raw(batch)
            seconds += time.perf_counter() - start
            batch = []
    if batch:
        start = time.perf_counter()
        book.raw(batch)
        seconds += time.perf_counter() - start
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.items
    with tempfile.TemporaryDirectory() as tmp, SqliteStore(Path(tmp) / "state.sqlite") as store:
        book = VersionBook(store, spec(), 1)
        baseline = hash_only(n)
        write = first_run(n, book)
        checked, store_seconds, sent = check(n, book, Path(tmp))
        read = store_read(n, book)
    expected = sum(1 for i in CHANGED if i < n)
    assert sent == expected, (sent, expected)
    print(f"{n} items, {sent} changed")
    print(f"{'phase':<12} {'seconds':>8} {'items/s':>10}")
    phases = (
        ("hash only", baseline),
        ("first run", write),
        ("check", checked),
        ("store check", store_seconds),
        ("store read", read),
    )
    for name, seconds in phases:
        print(f"{name:<12} {seconds:>8.2f} {n / seconds:>10.0f}")
    rate = n / store_seconds
    print()
    print(
        f"store check: {rate:,.0f} fingerprint checks/s "
        f"({'meets' if rate >= 200_000 else 'misses'} the 200k/s target), "
        f"{baseline / store_seconds:.2f}x the rate of hashing alone, "
        f"{read / store_seconds:.2f}x the rate of the store's bulk reads alone"
    )
    print(
        f"check end to end (encode + hash + store): {n / checked:,.0f} items/s, "
        f"{baseline / checked:.2f}x the rate of hashing alone"
    )


if __name__ == "__main__":
    main()
