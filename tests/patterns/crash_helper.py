"""Child process of the crash test: submit one import, record it, then wait until killed.

Usage: ``python crash_helper.py BASE_URL STORE_PATH``. Prints ``JOB <id>`` once the job
is in the store, then waits for it in real time; the test kills this process with
SIGKILL before the job can finish (the emulator's manual clock stands still).
"""

from __future__ import annotations

import sys
from decimal import Decimal

from norce_integration import Norce, NorceSettings
from norce_integration.connect import models as m
from norce_integration.patterns import JobTracker
from norce_integration.stores import SqliteStore


def main(base_url: str, store_path: str) -> None:
    settings = NorceSettings(
        client_id="norce-emulator",
        client_secret="emulator-secret",
        account_id=1,
        connect_url=f"{base_url}/commerce/connect/4.0/",
        query_url=f"{base_url}/commerce/query/2.0/",
        token_url=f"{base_url}/identity/1.0/connect/token",
    )
    header = m.ProductHeader(
        account_id=1,
        full_file=False,
        product_fields_that_are_set=[m.ProductField.Variants],
        variant_fields_that_are_set=[m.VariantField.Skus],
        sku_fields_that_are_set=[m.SkuField.Status, m.SkuField.Type, m.SkuField.StandardPrice],
        sku_price_list_fields_that_are_set=[m.SkuPriceListField.PriceSale],
    )
    item = m.Product(
        manufacturer_code="ACME",
        code=None,
        variants=[
            m.Variant(
                manufacturer_part_no="MPN-CRASH",
                skus=[
                    m.Sku(
                        part_no="CRASH-1",
                        status=m.SkuStatus.Active,
                        type=m.SkuType.ErpStandard,
                        standard_price=m.SkuPriceList(
                            part_no="CRASH-1",
                            price_list_code="STD",
                            price_sale=Decimal("10"),
                            currency_code="SEK",
                        ),
                    )
                ],
            )
        ],
    )
    with Norce(settings) as norce, SqliteStore(store_path) as store:
        tracker = JobTracker(norce, store)
        job = tracker.submit("products", [item], header)
        print(f"JOB {job.job_id}", flush=True)
        tracker.wait(job.job_id)  # never returns: killed first
    print("UNEXPECTED: the job finished", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
