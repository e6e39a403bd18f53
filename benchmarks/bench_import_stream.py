"""Streamed Connect import vs. building the payload in memory.

Streams generated products (1 variant, 1 SKU, standard price, one culture) through the
SDK's import path into a loopback HTTP server (a child process) that discards the body,
for 100k and 1M items. Beside it, in the same run: (a) naive ``json.dumps`` of a prebuilt
list, (b) ``orjson.dumps`` of prebuilt dicts, each POSTed as one body. Every scenario runs
in a fresh process so its peak RSS is its own.

    python benchmarks/bench_import_stream.py            # 100k and 1M
    python benchmarks/bench_import_stream.py --sizes 20000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any


sys.path.insert(0, str(Path(__file__).parent))

from _loopback import discard_server


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _header() -> Any:
    from norce_integration.connect.models import (
        ProductCultureField,
        ProductField,
        ProductHeader,
        SkuField,
        SkuPriceListField,
        VariantField,
    )

    return ProductHeader(
        account_id=1,
        full_file=False,
        product_fields_that_are_set=[
            ProductField.Code,
            ProductField.Variants,
            ProductField.Cultures,
        ],
        product_culture_fields_that_are_set=[ProductCultureField.Name],
        variant_fields_that_are_set=[VariantField.Skus],
        sku_fields_that_are_set=[SkuField.Status, SkuField.Type, SkuField.StandardPrice],
        sku_price_list_fields_that_are_set=[SkuPriceListField.PriceSale],
    )


def models(n: int) -> Any:
    from norce_integration.connect.models import (
        Product,
        ProductCulture,
        Sku,
        SkuPriceList,
        SkuStatus,
        SkuType,
        Variant,
    )

    price = Decimal("199.00")
    for i in range(n):
        part_no = f"SKU-{i:07d}"
        yield Product(
            manufacturer_code="ACME",
            code=f"CL-{i:07d}",
            cultures=[ProductCulture(culture_code="sv-SE", name=f"Product {i}")],
            variants=[
                Variant(
                    manufacturer_part_no=f"MPN-{i:07d}",
                    skus=[
                        Sku(
                            part_no=part_no,
                            status=SkuStatus.Active,
                            type=SkuType.ErpStandard,
                            standard_price=SkuPriceList(
                                part_no=part_no,
                                price_list_code="STD",
                                price_sale=price,
                                currency_code="SEK",
                                quantity_break=1,
                            ),
                        )
                    ],
                )
            ],
        )


def wire_dict(i: int) -> dict[str, Any]:
    part_no = f"SKU-{i:07d}"
    return {
        "ManufacturerCode": "ACME",
        "Code": f"CL-{i:07d}",
        "Cultures": [{"CultureCode": "sv-SE", "Name": f"Product {i}"}],
        "Variants": [
            {
                "ManufacturerPartNo": f"MPN-{i:07d}",
                "Skus": [
                    {
                        "PartNo": part_no,
                        "Status": 1,
                        "Type": 1,
                        "StandardPrice": {
                            "PartNo": part_no,
                            "PriceListCode": "STD",
                            "PriceSale": 199.0,
                            "CurrencyCode": "SEK",
                            "QuantityBreak": 1,
                        },
                    }
                ],
            }
        ],
    }


def worker(mode: str, n: int, base: str) -> dict[str, Any]:
    import httpx
    import orjson

    from norce_integration import Norce, NorceSettings, RetryPolicy

    settings = NorceSettings(
        client_id="bench",
        client_secret="bench-secret",
        connect_url=f"{base}/commerce/connect/4.0/",
        query_url=f"{base}/commerce/query/2.0/",
        token_url=f"{base}/identity/1.0/connect/token",
        retry=RetryPolicy(max_attempts=1),
        timeout=600,
    )
    url = settings.connect_base + "Product/ImportProducts"
    header = {"X-StormConnect-Header": '{"AccountId":1}', "Content-Type": "application/json"}
    size = 0
    if mode.startswith(("stream-", "prebuilt-")):
        if mode == "stream-models":
            items: Any = models(n)
        elif mode == "stream-dicts":
            items = (wire_dict(i) for i in range(n))
        else:
            # Built before the clock starts, like the baselines' prebuilt lists.
            items = (
                list(models(n)) if mode == "prebuilt-models" else [wire_dict(i) for i in range(n)]
            )
        with Norce(settings) as norce:
            norce._http.token()  # warm the token outside the timing
            start = time.perf_counter()
            sent = norce.connect.submit("products", items, _header())
            elapsed = time.perf_counter() - start
            size = sent.payload_size
            assert sent.item_count == n
    else:
        prebuilt = [wire_dict(i) for i in range(n)]
        with httpx.Client(timeout=600) as client:
            start = time.perf_counter()
            if mode == "naive-json":
                body = json.dumps(prebuilt).encode()
            else:
                body = orjson.dumps(prebuilt)
            size = len(body)
            client.post(url, content=body, headers=header).raise_for_status()
            elapsed = time.perf_counter() - start
    return {"mode": mode, "n": n, "seconds": elapsed, "bytes": size, "rss_mb": _rss_mb()}


MODES = [
    "stream-models",  # models generated lazily while streaming: flat memory
    "stream-dicts",  # wire dicts generated lazily while streaming
    "prebuilt-models",  # the import path alone over prebuilt models
    "prebuilt-dicts",  # the import path alone over prebuilt wire dicts
    "naive-json",  # (a) json.dumps of a prebuilt list, one body
    "orjson-prebuilt",  # (b) orjson.dumps of prebuilt dicts, one body
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--worker", nargs=3, metavar=("MODE", "N", "URL"))
    args = parser.parse_args()
    if args.worker:
        mode, n, base = args.worker
        print(json.dumps(worker(mode, int(n), base)))
        return
    results: dict[tuple[str, int], dict[str, Any]] = {}
    with discard_server() as base:
        for n in args.sizes:
            for mode in MODES:
                out = subprocess.run(
                    [sys.executable, __file__, "--worker", mode, str(n), base],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                results[(mode, n)] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{'mode':<16} {'items':>9} {'items/s':>10} {'MB/s':>7} {'peak RSS MB':>12}")
    for (mode, n), r in results.items():
        rate = n / r["seconds"]
        mbps = r["bytes"] / r["seconds"] / 1e6
        print(f"{mode:<16} {n:>9} {rate:>10.0f} {mbps:>7.1f} {r['rss_mb']:>12.1f}")
    print()
    for n in args.sizes:
        naive = n / results[("naive-json", n)]["seconds"]
        fast = n / results[("orjson-prebuilt", n)]["seconds"]
        for mode in MODES[:4]:
            ours = n / results[(mode, n)]["seconds"]
            print(
                f"{n} items: {mode} = {ours / naive:.2f}x (a) naive json, {ours / fast:.2f}x (b) orjson"
            )
    if len(args.sizes) >= 2:
        lo, hi = min(args.sizes), max(args.sizes)
        for mode in MODES:
            growth = results[(mode, hi)]["rss_mb"] - results[(mode, lo)]["rss_mb"]
            print(f"RSS growth {lo} -> {hi} items, {mode}: {growth:+.1f} MB")


if __name__ == "__main__":
    main()
