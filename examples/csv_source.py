"""A CSV source adapter, a full import and a delta import, against the emulator.

    python examples/csv_source.py

The ERP exports prices as CSV (``sku,price,updated_at``). The adapter streams the file
(``fetch_all``) for full imports and filters on ``updated_at`` for deltas
(``fetch_changed``); ``version`` makes sure an older row never overwrites a newer one.

Against your own tenant, replace the emulator with ``NorceSettings.from_env()`` and the
``ManualClock`` tricks with the defaults (``JobTracker(norce, store)``).
"""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from norce_integration import Norce
from norce_integration.connect.models import (
    Product,
    ProductField,
    ProductHeader,
    Sku,
    SkuField,
    SkuPriceList,
    SkuPriceListField,
    SkuPriceListHeader,
    SkuStatus,
    SkuType,
    Variant,
    VariantField,
)
from norce_integration.patterns import (
    DeltaImport,
    FullImport,
    JobTracker,
    PollSchedule,
    SourceAdapter,
    SourceSpec,
)
from norce_integration.stores import SqliteStore
from norce_integration.testing import ManualClock, NorceEmulator


ACCOUNT_ID = 1

PRICES = SourceSpec(
    name="erp-prices-csv",
    kind="sku_price_lists",
    account_id=ACCOUNT_ID,
    header=SkuPriceListHeader(
        account_id=ACCOUNT_ID,
        full_file=False,  # FullImport sets it to true, DeltaImport to false
        sku_price_list_fields_that_are_set=[SkuPriceListField.PriceSale],
    ),
)


class CsvPrices(SourceAdapter[dict[str, str]]):
    """Prices from ``sku,price,updated_at`` rows, into price list ``STD``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _rows(self) -> Iterator[dict[str, str]]:
        with self.path.open(newline="", encoding="utf-8") as handle:
            yield from csv.DictReader(handle)  # streamed: one row in memory at a time

    def fetch_all(self) -> Iterator[dict[str, str]]:
        return self._rows()

    def fetch_changed(
        self, since: dt.datetime | None, until: dt.datetime
    ) -> Iterator[dict[str, str]]:
        for row in self._rows():
            updated = self.version(row)
            if (since is None or updated >= since) and updated < until:
                yield row

    def map(self, record: dict[str, str]) -> SkuPriceList:
        return SkuPriceList(
            part_no=record["sku"], price_list_code="STD", price_sale=Decimal(record["price"])
        )

    def version(self, record: dict[str, str]) -> dt.datetime:
        return dt.datetime.fromisoformat(record["updated_at"].replace("Z", "+00:00"))


def write_csv(path: Path, rows: list[tuple[str, str, dt.datetime]]) -> None:
    """What the ERP's export job writes."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "price", "updated_at"])
        for sku, price, updated in rows:
            writer.writerow([sku, price, updated.isoformat()])


def create_skus(norce: Norce, emulator: NorceEmulator, part_nos: list[str]) -> None:
    """Prices need SKUs: create them (in real life, the product import does)."""
    header = ProductHeader(
        account_id=ACCOUNT_ID,
        full_file=False,
        product_fields_that_are_set=[ProductField.Code, ProductField.Variants],
        variant_fields_that_are_set=[VariantField.Skus],
        sku_fields_that_are_set=[SkuField.Status, SkuField.Type],
    )
    products = (
        Product(
            manufacturer_code="ACME",
            code=part_no,
            variants=[
                Variant(
                    manufacturer_part_no=part_no,
                    skus=[Sku(part_no=part_no, status=SkuStatus.Active, type=SkuType.ErpStandard)],
                )
            ],
        )
        for part_no in part_nos
    )
    job = norce.connect.import_products(products, header)
    emulator.advance(10)  # the emulator's jobs take a few (simulated) seconds
    print(f"created {len(part_nos)} SKUs (job {job.job_id})")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, NorceEmulator(clock=ManualClock()) as emulator:
        work = Path(tmp)

        def now() -> float:  # the emulator's clock, so nothing waits in real time
            return emulator.clock.now().timestamp()

        with (
            Norce(emulator.settings(), transport=emulator.transport()) as norce,
            SqliteStore(work / "state.sqlite", clock=now) as store,
        ):
            tracker = JobTracker(
                norce,
                store,
                clock=now,
                sleep=emulator.advance,
                schedule=PollSchedule(first_delay=1, interval=1, factor=1, jitter=0),
            )
            part_nos = [f"CSV-{n:03d}" for n in range(100)]
            create_skus(norce, emulator, part_nos)

            export = work / "prices.csv"
            yesterday = emulator.clock.now() - dt.timedelta(days=1)
            rows = [(part_no, f"{100 + n}.00", yesterday) for n, part_no in enumerate(part_nos)]
            write_csv(export, rows)

            adapter = CsvPrices(export)
            full = FullImport(norce, PRICES, adapter, tracker=tracker, clock=now, work_dir=work)
            result = full.run()
            print(f"full import: {result.status}, {result.item_count} items, jobs {result.job_ids}")

            # An hour later the ERP has changed three prices.
            emulator.advance(3600)
            changed_at = emulator.clock.now() - dt.timedelta(minutes=5)
            for n in (3, 14, 15):
                rows[n] = (rows[n][0], f"{90 + n}.50", changed_at)
            write_csv(export, rows)

            delta = DeltaImport(norce, PRICES, adapter, tracker=tracker, clock=now, work_dir=work)
            result = delta.run()
            print(
                f"delta import: {result.status}, {result.item_count} items, jobs {result.job_ids}"
            )

            # A second delta right away finds nothing new.
            emulator.advance(60)
            result = delta.run()
            print(f"delta import again: {result.status}, {result.item_count} items")


if __name__ == "__main__":
    main()
