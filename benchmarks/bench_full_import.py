"""FullImport throughput and memory against a raw ``connect.submit`` of the same items.

Generates N price rows (``SkuPriceList``, three price lists) lazily and imports them:

* ``raw-discard``: ``norce.connect.submit`` into a loopback server that discards bodies
  (the baseline: streaming only);
* ``full-discard``: ``FullImport.run(wait=False)`` into the same server: extraction,
  mapping, validation, spooling to disk, the guards, then the streamed POST (the sink
  cannot answer ``Job/Get``, so the run returns once submitted);
* ``raw-emulator``: ``connect.submit`` plus ``JobTracker.wait`` against a served
  emulator (loopback; the emulator runs in the parent process);
* ``full-emulator``: ``FullImport.run()`` against that emulator: everything above plus
  tracking, recording 1M item versions in SQLite, the last full import and the watermark.

Every scenario runs in a fresh process, so its peak RSS is its own. The emulator knows
none of the SKUs, so it ignores the price rows after validating them (that costs the
emulator, not the client). Ratios compare each pattern run with the baseline of the same
sink in the same run.

    python benchmarks/bench_full_import.py                 # 1M items
    python benchmarks/bench_full_import.py --items 100000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any


sys.path.insert(0, str(Path(__file__).parent))

from _loopback import discard_server


LISTS = ("STD", "EUR", "NOK")


def _rss_mb() -> float:
    """Peak RSS of this process. Linux: ``VmHWM`` of the process's own memory map;
    ``ru_maxrss`` would carry over the parent's peak across fork+exec, and the parent
    here serves the emulator."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _settings(base: str, *, emulator: bool) -> Any:
    from norce_integration import NorceSettings, RetryPolicy

    return NorceSettings(
        client_id="norce-emulator" if emulator else "bench",
        client_secret="emulator-secret" if emulator else "bench-secret",
        application_id=1042,
        account_id=1,
        connect_url=f"{base}/commerce/connect/4.0/",
        query_url=f"{base}/commerce/query/2.0/",
        token_url=f"{base}/identity/1.0/connect/token",
        retry=RetryPolicy(max_attempts=1),
        timeout=1800,
    )


def _spec() -> Any:
    from norce_integration.connect.models import SkuPriceListField, SkuPriceListHeader
    from norce_integration.patterns import SourceSpec

    return SourceSpec(
        name="bench-prices",
        kind="sku_price_lists",
        header=SkuPriceListHeader(
            account_id=1,
            full_file=False,
            sku_price_list_fields_that_are_set=[SkuPriceListField.PriceSale],
        ),
        account_id=1,
    )


def _items(n: int) -> Iterator[Any]:
    from norce_integration.connect.models import SkuPriceList

    price = Decimal("199.00")
    for i in range(n):
        yield SkuPriceList(
            part_no=f"SKU-{i // 3:07d}", price_list_code=LISTS[i % 3], price_sale=price
        )


def _adapter(n: int) -> Any:
    from norce_integration.connect.models import SkuPriceList
    from norce_integration.patterns import SourceAdapter

    price = Decimal("199.00")

    class Rows(SourceAdapter[int]):
        """The source: row numbers; ``map`` builds the same item as the baseline."""

        def fetch_all(self) -> Iterator[int]:
            return iter(range(n))

        def fetch_changed(self, since: Any, until: Any) -> Iterator[int]:
            raise NotImplementedError

        def map(self, record: int) -> SkuPriceList:
            return SkuPriceList(
                part_no=f"SKU-{record // 3:07d}",
                price_list_code=LISTS[record % 3],
                price_sale=price,
            )

    return Rows()


def worker(mode: str, n: int, base: str) -> dict[str, Any]:
    from norce_integration import Norce
    from norce_integration.patterns import FullImport, JobTracker, PollSchedule
    from norce_integration.stores import SqliteStore

    emulator = mode.endswith("emulator")
    schedule = PollSchedule(first_delay=0.5, interval=0.5, factor=1.0, jitter=0.0)
    with (
        tempfile.TemporaryDirectory() as tmp,
        Norce(_settings(base, emulator=emulator)) as norce,
        SqliteStore(Path(tmp) / "state.sqlite") as store,
    ):
        norce._http.token()  # warm the token outside the timing
        tracker = JobTracker(norce, store, schedule=schedule, timeout=3600)
        start = time.perf_counter()
        if mode.startswith("raw"):
            sent = norce.connect.submit("sku_price_lists", _items(n), _spec().header_for(full=True))
            if emulator:
                job = tracker.track(sent, full=True, account_id=1)
                assert tracker.wait(job.job_id).succeeded
            count = sent.item_count
        else:
            importer = FullImport(norce, _spec(), _adapter(n), tracker=tracker, work_dir=tmp)
            result = importer.run(wait=emulator)
            assert result.status in ("succeeded", "submitted"), result
            count = result.item_count
            if emulator:
                assert store.count_item_versions("sku_price_lists:1:bench-prices") == n
        elapsed = time.perf_counter() - start
    assert count == n
    return {"mode": mode, "n": n, "seconds": elapsed, "rss_mb": _rss_mb()}


def _run(mode: str, n: int, base: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", mode, str(n), base],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--worker", nargs=3, metavar=("MODE", "N", "URL"))
    args = parser.parse_args()
    if args.worker:
        mode, n, base = args.worker
        print(json.dumps(worker(mode, int(n), base)))
        return
    n = args.items
    results: dict[str, dict[str, Any]] = {}
    with discard_server() as base:
        for mode in ("raw-discard", "full-discard"):
            results[mode] = _run(mode, n, base)
    from norce_integration.testing import NorceEmulator

    with NorceEmulator(max_body_bytes=2 * 1024**3) as emulator, emulator.serve() as server:
        for mode in ("raw-emulator", "full-emulator"):
            results[mode] = _run(mode, n, server.base_url)
    print(f"{n} price rows, one FullFile job")
    print(f"{'scenario':<15} {'seconds':>8} {'items/s':>10} {'peak RSS MB':>12}")
    for mode, r in results.items():
        print(f"{mode:<15} {r['seconds']:>8.2f} {n / r['seconds']:>10.0f} {r['rss_mb']:>12.1f}")
    print()
    for sink in ("discard", "emulator"):
        raw, full = results[f"raw-{sink}"], results[f"full-{sink}"]
        print(
            f"{sink:<8}: FullImport runs at {raw['seconds'] / full['seconds']:.2f}x the items/s of "
            f"raw connect.submit; peak RSS {full['rss_mb']:.0f} MB vs {raw['rss_mb']:.0f} MB"
        )


if __name__ == "__main__":
    main()
