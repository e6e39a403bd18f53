"""An SQL source adapter with ``updated_at`` change tracking (sqlite3), against the emulator.

    python examples/sql_source.py

The ERP keeps stock in a table::

    CREATE TABLE stock (part_no TEXT PRIMARY KEY, warehouse TEXT, qty INTEGER,
                        updated_at TEXT)   -- ISO 8601 UTC, set by the ERP on every change

``fetch_changed(since, until)`` is one indexed range query: the SDK keeps the watermark
(it moves only after Norce reports the job succeeded) and re-reads a small overlap, so
a row committed late is not lost. Any DB-API driver works the same way (psycopg,
pyodbc, oracledb): keep the cursor streaming (``fetchmany``), never ``fetchall``.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
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
    SkuOnhand,
    SkuOnhandField,
    SkuOnhandHeader,
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
Row = tuple[str, str, int, str]

STOCK = SourceSpec(
    name="erp-stock-sql",
    kind="onhands",
    account_id=ACCOUNT_ID,
    header=SkuOnhandHeader(
        account_id=ACCOUNT_ID,
        full_file=False,
        sku_onhand_fields_that_are_set=[SkuOnhandField.OnhandValue],
    ),
)


def iso(when: dt.datetime) -> str:
    """The ERP's timestamp format: sortable ISO 8601 UTC."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SqlStock(SourceAdapter[Row]):
    """Stock rows of the ERP table, for Norce's on-hand import."""

    def __init__(self, connection: sqlite3.Connection, batch: int = 1000) -> None:
        self.connection = connection
        self.batch = batch

    def _stream(self, sql: str, params: tuple[str, ...] = ()) -> Iterator[Row]:
        cursor = self.connection.execute(sql, params)
        while rows := cursor.fetchmany(self.batch):
            yield from rows

    def fetch_all(self) -> Iterator[Row]:
        return self._stream("SELECT part_no, warehouse, qty, updated_at FROM stock")

    def fetch_changed(self, since: dt.datetime | None, until: dt.datetime) -> Iterator[Row]:
        return self._stream(
            "SELECT part_no, warehouse, qty, updated_at FROM stock"
            " WHERE updated_at >= ? AND updated_at < ? ORDER BY updated_at",
            (iso(since or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)), iso(until)),
        )

    def map(self, record: Row) -> SkuOnhand:
        part_no, warehouse, qty, _ = record
        return SkuOnhand(
            part_no=part_no,
            warehouse_code=warehouse,
            location_code=warehouse,
            onhand_value=Decimal(qty),
        )

    def version(self, record: Row) -> str:
        return record[3]  # ISO text sorts like the time it holds


def erp_database(path: Path, part_nos: list[str], when: dt.datetime) -> sqlite3.Connection:
    """The ERP's table, filled."""
    connection = sqlite3.connect(path)
    connection.execute(
        "CREATE TABLE stock"
        " (part_no TEXT PRIMARY KEY, warehouse TEXT, qty INTEGER, updated_at TEXT)"
    )
    connection.execute("CREATE INDEX stock_updated ON stock (updated_at)")
    connection.executemany(
        "INSERT INTO stock VALUES (?, 'MAIN', ?, ?)",
        [(part_no, n % 17, iso(when)) for n, part_no in enumerate(part_nos)],
    )
    connection.commit()
    return connection


def create_skus(norce: Norce, emulator: NorceEmulator, part_nos: list[str]) -> None:
    """On-hands need SKUs: create them (in real life, the product import does)."""
    header = ProductHeader(
        account_id=ACCOUNT_ID,
        full_file=False,
        product_fields_that_are_set=[ProductField.Code, ProductField.Variants],
        variant_fields_that_are_set=[VariantField.Skus],
        sku_fields_that_are_set=[SkuField.Status, SkuField.Type],
    )
    norce.connect.import_products(
        (
            Product(
                manufacturer_code="ACME",
                code=p,
                variants=[
                    Variant(
                        manufacturer_part_no=p,
                        skus=[Sku(part_no=p, status=SkuStatus.Active, type=SkuType.ErpStandard)],
                    )
                ],
            )
            for p in part_nos
        ),
        header,
    )
    emulator.advance(10)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, NorceEmulator(clock=ManualClock()) as emulator:
        work = Path(tmp)

        def now() -> float:
            return emulator.clock.now().timestamp()

        part_nos = [f"SQL-{n:04d}" for n in range(250)]
        erp = erp_database(
            work / "erp.sqlite", part_nos, emulator.clock.now() - dt.timedelta(days=2)
        )
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
            create_skus(norce, emulator, part_nos)
            adapter = SqlStock(erp)

            result = FullImport(
                norce, STOCK, adapter, tracker=tracker, clock=now, work_dir=work
            ).run()
            print(f"full import: {result.status}, {result.item_count} items, jobs {result.job_ids}")

            # Goods arrive: the ERP updates five rows.
            emulator.advance(1800)
            erp.executemany(
                "UPDATE stock SET qty = qty + 40, updated_at = ? WHERE part_no = ?",
                [(iso(emulator.clock.now()), p) for p in part_nos[:5]],
            )
            erp.commit()
            emulator.advance(60)

            delta = DeltaImport(norce, STOCK, adapter, tracker=tracker, clock=now, work_dir=work)
            result = delta.run()
            since, until = result.window or (None, None)
            print(f"delta import: {result.status}, {result.item_count} items, {since} .. {until}")
            row = emulator.table("Products", "ProductSkuOnHands").rows
            print(f"{len(row)} on-hand rows in Norce")
        erp.close()


if __name__ == "__main__":
    main()
