"""The demo's source: an ERP catalogue exported as CSV, read by three source adapters.

This is what an integration's source side looks like. One CSV row is one SKU with its
product data, its price and its stock, and the time the ERP last changed it::

    part_no,name,brand,category,ean,price,stock,updated_at
    SKU-00001,"Aurora Winter Boot, Navy",Fjällräv,shoes,7350000000016,2248.95,20,2024-11-02T10:52Z

Each Norce import kind gets its own adapter and its own :class:`SourceSpec`, because
each source owns different fields (``…FieldsThatAreSet``): the product data, the prices
in the primary price list, the stock in one warehouse. All three read the same file:

* ``fetch_all`` streams every row (full imports);
* ``fetch_changed`` streams rows changed in ``[since, until)`` (delta imports);
* ``version`` is the row's ``updated_at``: the SDK never sends a row older than what it
  already sent for the same key;
* ``map`` turns a row into the Connect item of the kind.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path

import attrs

from ...connect.models import (
    Product,
    ProductCategory,
    ProductCulture,
    ProductCultureField,
    ProductField,
    ProductHeader,
    Sku,
    SkuCulture,
    SkuCultureField,
    SkuField,
    SkuOnhand,
    SkuOnhandField,
    SkuOnhandHeader,
    SkuPriceList,
    SkuPriceListField,
    SkuPriceListHeader,
    SkuStatus,
    SkuType,
    Variant,
    VariantField,
)
from ...patterns import SourceAdapter, SourceSpec
from ...query import Category


__all__ = [
    "COLUMNS",
    "CULTURE",
    "PRICE_LIST",
    "WAREHOUSE",
    "CatalogueRow",
    "CatalogueSource",
    "PriceSource",
    "ProductSource",
    "StockSource",
    "read_catalogue",
    "write_catalogue",
]

COLUMNS = ("part_no", "name", "brand", "category", "ean", "price", "stock", "updated_at")
CULTURE = "sv-SE"
PRICE_LIST = "STD"  # the emulator's primary price list (SEK)
WAREHOUSE = ("MAIN", "MAIN")  # warehouse and location codes


@attrs.frozen
class CatalogueRow:
    """One row of the ERP export."""

    part_no: str
    name: str
    brand: str
    category: str
    ean: str
    price: Decimal
    stock: int
    updated_at: dt.datetime

    @classmethod
    def from_csv(cls, raw: dict[str, str]) -> CatalogueRow:
        """Parse one ``csv.DictReader`` row (raises ``ValueError`` on bad values)."""
        return cls(
            part_no=raw["part_no"],
            name=raw["name"],
            brand=raw["brand"],
            category=raw["category"],
            ean=raw["ean"],
            price=Decimal(raw["price"]),
            stock=int(raw["stock"]),
            updated_at=dt.datetime.fromisoformat(raw["updated_at"].replace("Z", "+00:00")),
        )

    def to_csv(self) -> dict[str, str]:
        """The row as ``csv.DictWriter`` writes it."""
        return {
            "part_no": self.part_no,
            "name": self.name,
            "brand": self.brand,
            "category": self.category,
            "ean": self.ean,
            "price": str(self.price),
            "stock": str(self.stock),
            "updated_at": self.updated_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


def read_catalogue(path: Path) -> Iterator[CatalogueRow]:
    """Stream the rows of a catalogue CSV file (one row in memory at a time)."""
    with path.open(newline="", encoding="utf-8") as handle:
        for raw in csv.DictReader(handle):
            yield CatalogueRow.from_csv(raw)


def write_catalogue(path: Path, rows: Sequence[CatalogueRow]) -> None:
    """Write rows as a catalogue CSV file (what the ERP's export job does)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(row.to_csv() for row in rows)


class CatalogueSource(SourceAdapter[CatalogueRow]):
    """What the three adapters share: reading the file and the change tracking."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @staticmethod
    def spec(account_id: int) -> SourceSpec:
        """The source's name, import kind and the fields it owns."""
        raise NotImplementedError

    def fetch_all(self) -> Iterator[CatalogueRow]:
        return read_catalogue(self.path)

    def fetch_changed(
        self, since: dt.datetime | None, until: dt.datetime
    ) -> Iterator[CatalogueRow]:
        for row in read_catalogue(self.path):
            if (since is None or row.updated_at >= since) and row.updated_at < until:
                yield row

    def version(self, record: CatalogueRow) -> dt.datetime:
        return record.updated_at


class ProductSource(CatalogueSource):
    """Products: one product per row with one variant and one SKU.

    Categories are Norce data (created in Admin); the adapter checks each code with a
    cached Query lookup and reports a mapping error for an unknown one, so a typo in
    the ERP never becomes a product without its category.
    """

    @staticmethod
    def spec(account_id: int) -> SourceSpec:
        """The fields this source owns, imported as its own system account."""
        return SourceSpec(
            name="erp-products",
            kind="products",
            account_id=account_id,
            header=ProductHeader(
                account_id=account_id,
                full_file=False,  # the pattern sets it: true for full imports
                product_fields_that_are_set=[
                    ProductField.ManufacturerCode,
                    ProductField.Code,
                    ProductField.Cultures,
                    ProductField.Categories,
                    ProductField.Variants,
                ],
                product_culture_fields_that_are_set=[ProductCultureField.Name],
                variant_fields_that_are_set=[VariantField.Skus],
                sku_fields_that_are_set=[SkuField.Status, SkuField.Type, SkuField.EanCode],
                sku_culture_fields_that_are_set=[SkuCultureField.ErpName],
            ),
        )

    def prefetch(self, records: Sequence[CatalogueRow]) -> None:
        # One Query request per batch of records, not one per record.
        self.lookup.prefetch(Category, "Code", {row.category for row in records})

    def map(self, record: CatalogueRow) -> Product:
        if self.lookup.category(record.category) is None:
            raise ValueError(f"category {record.category!r} does not exist in Norce")
        return Product(
            manufacturer_code=record.brand,
            code=record.part_no,  # the variant cluster: one SKU per product here
            cultures=[ProductCulture(culture_code=CULTURE, name=record.name)],
            categories=[ProductCategory(code=record.category)],
            variants=[
                Variant(
                    manufacturer_part_no=record.part_no,
                    skus=[
                        Sku(
                            part_no=record.part_no,
                            status=SkuStatus.Active,
                            type=SkuType.ErpStandard,
                            ean_code=record.ean,
                            cultures=[SkuCulture(culture_code=CULTURE, erp_name=record.name)],
                        )
                    ],
                )
            ],
        )


class PriceSource(CatalogueSource):
    """Sale prices in the primary price list."""

    @staticmethod
    def spec(account_id: int) -> SourceSpec:
        """This source owns ``PriceSale`` in price list ``STD``."""
        return SourceSpec(
            name="erp-prices",
            kind="sku_price_lists",
            account_id=account_id,
            header=SkuPriceListHeader(
                account_id=account_id,
                full_file=False,
                sku_price_list_fields_that_are_set=[SkuPriceListField.PriceSale],
            ),
        )

    def map(self, record: CatalogueRow) -> SkuPriceList:
        return SkuPriceList(
            part_no=record.part_no, price_list_code=PRICE_LIST, price_sale=record.price
        )


class StockSource(CatalogueSource):
    """Stock on hand in one warehouse location."""

    @staticmethod
    def spec(account_id: int) -> SourceSpec:
        """This source owns ``OnhandValue``."""
        return SourceSpec(
            name="erp-stock",
            kind="onhands",
            account_id=account_id,
            header=SkuOnhandHeader(
                account_id=account_id,
                full_file=False,
                sku_onhand_fields_that_are_set=[SkuOnhandField.OnhandValue],
            ),
        )

    def map(self, record: CatalogueRow) -> SkuOnhand:
        warehouse, location = WAREHOUSE
        return SkuOnhand(
            part_no=record.part_no,
            warehouse_code=warehouse,
            location_code=location,
            onhand_value=Decimal(record.stock),
        )
