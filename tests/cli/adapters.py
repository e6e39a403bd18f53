"""Adapters the CLI tests load by reference (``tests.cli.adapters:Prices``)."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from norce_integration.connect.models import (
    Product,
    Sku,
    SkuPriceList,
    SkuPriceListField,
    SkuPriceListHeader,
    SkuStatus,
    SkuType,
    Variant,
)
from norce_integration.patterns import Deletion, SourceAdapter, SourceSpec


def write_rows(path: Path, rows: Sequence[tuple[str, str, dt.datetime]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sku", "price", "updated"])
        for sku, price, updated in rows:
            writer.writerow([sku, price, updated.isoformat()])


class _Csv(SourceAdapter[dict[str, str]]):
    def __init__(self, path: str = "rows.csv") -> None:
        self.path = Path(path)

    def _rows(self) -> Iterator[dict[str, str]]:
        with self.path.open(newline="") as handle:
            yield from csv.DictReader(handle)

    def fetch_all(self) -> Iterator[dict[str, str]]:
        return self._rows()

    def fetch_changed(
        self, since: dt.datetime | None, until: dt.datetime
    ) -> Iterator[dict[str, str]]:
        for row in self._rows():
            updated = dt.datetime.fromisoformat(row["updated"])
            if (since is None or updated >= since) and updated < until:
                yield row

    def version(self, record: dict[str, str]) -> dt.datetime:
        return dt.datetime.fromisoformat(record["updated"])


class Prices(_Csv):
    """Prices of price list STD; the config file gives kind and header."""

    def map(self, record: dict[str, str]) -> SkuPriceList:
        if record["price"] == "bad":
            raise ValueError("not a price")
        return SkuPriceList(
            part_no=record["sku"], price_list_code="STD", price_sale=Decimal(record["price"])
        )


class SpecPrices(Prices):
    """The same, declaring its own spec (no kind/header in the config file)."""

    @staticmethod
    def spec(account_id: int) -> SourceSpec:
        return SourceSpec(
            name="spec-prices",
            kind="sku_price_lists",
            account_id=account_id,
            header=SkuPriceListHeader(
                account_id=account_id,
                full_file=False,
                sku_price_list_fields_that_are_set=[SkuPriceListField.PriceSale],
            ),
        )


class Products(_Csv):
    """One product per row, one SKU each."""

    def map(self, record: dict[str, str]) -> Product:
        sku = Sku(part_no=record["sku"], status=SkuStatus.Active, type=SkuType.ErpStandard)
        return Product(
            manufacturer_code="ACME",
            code=record["sku"],
            variants=[Variant(manufacturer_part_no=record["sku"], skus=[sku])],
        )


class JsonlTarget:
    """Writes each SKU it receives as a JSON line to ``path``."""

    event_types = ("SkuChangedNotification",)
    select = ("PartNo", "StatusId", "Updated")
    name = "jsonl"

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def map(self, entity: Any) -> dict[str, Any]:
        return {"part_no": entity.part_no, "status": entity.status_id}

    def send(self, batch: Sequence[Any]) -> None:
        with self.path.open("a") as handle:
            for item in batch:
                line = {"deleted": str(item.key)} if isinstance(item, Deletion) else item
                handle.write(json.dumps(line) + "\n")
