"""The emulator's tenant data: one in-memory store that Connect writes and Query reads.

Public entity data lives in Query tables (:class:`~._tables.Table`, PascalCase rows),
so what an import writes is exactly what Query returns. State that Query does not expose
(which account last wrote a SKU, per-culture texts, VAT rates, raw sub-objects) lives in
side dictionaries here. Indices keep the FullFile scopes and navigations cheap.

Entity sets (names from ``norce-query-event.md`` §2.6; UNCONFIRMED ones say so):

* ``Products/Products`` — key ``Id``; nav ``Skus``, ``Categories``, ``Cultures``.
* ``Products/ProductSkus`` — key ``PartNo``; nav ``PriceLists``, ``OnHands`` (UNCONFIRMED).
* ``Products/ProductSkuPriceLists`` — key ``PartNo, PriceListId, QtyBreak``.
* ``Products/ProductSkuOnHands`` — key ``PartNo, WarehouseId, LocationId``; the 2.0 set
  name is UNCONFIRMED (fields from the 3.0 ``ClientProductSkuOnHand`` schema, plus
  ``MinimumValue``/``MaximumValue``).
* ``Products/ProductRelations`` — key ``PartNo, RelatedPartNo, RelationTypeCode``
  (UNCONFIRMED).
* ``Customers/Customers`` — key ``Id``; nav ``Companies``.
* ``Customers/Companies`` — key ``Id``; nav ``Customers`` (set name UNCONFIRMED).
* ``Orders/Orders`` — key ``Id`` (int64); nav ``Items``.
* ``Application/Categories`` — key ``Id``.
* ``Application/ClientPriceLists`` — key ``PriceListId`` (``Agreement`` is the code).
* ``Application/ClientWarehouses`` — key ``WarehouseId``; nav ``Locations`` (UNCONFIRMED).
* ``Core/Currencies`` — key ``Id``.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs
import orjson

from ._tables import Row, Table, Tables


__all__ = [
    "ChangeSet",
    "EmulatorData",
    "FieldError",
    "LogEntry",
    "to_bool",
    "to_datetime",
    "to_decimal",
    "to_int",
    "to_str",
]

SKU_ACTIVE = 1
SKU_INACTIVE = 5
_NOT_ACTIVE_STATUSES = frozenset({5, 6})

# Seed data. Ids and exchange rates are illustrative, not Norce's.
SEED_CURRENCIES: tuple[tuple[int, str, str, str], ...] = (
    (1, "SEK", "Swedish krona", "11.50"),
    (2, "EUR", "Euro", "1.00"),
    (3, "NOK", "Norwegian krone", "11.70"),
    (4, "DKK", "Danish krone", "7.46"),
    (5, "USD", "US dollar", "1.08"),
)
SEED_PRICE_LISTS: tuple[tuple[str, str, str, bool], ...] = (
    ("STD", "Standard", "SEK", True),
    ("EUR", "Standard EUR", "EUR", False),
    ("NOK", "Standard NOK", "NOK", False),
)
SEED_CATEGORIES: tuple[tuple[str, str, str | None], ...] = (
    ("root", "All products", None),
    ("clothing", "Clothing", "root"),
    ("shoes", "Shoes", "root"),
    ("accessories", "Accessories", "root"),
)


_S, _I, _L, _B, _D, _T, _G = (
    "Edm.String",
    "Edm.Int32",
    "Edm.Int64",
    "Edm.Boolean",
    "Edm.Decimal",
    "Edm.DateTimeOffset",
    "Edm.Guid",
)


def _props(spec: str) -> dict[str, str]:
    """``"Name:S Id:I ..."`` -> declared Edm types (compact table of each entity type)."""
    types = {"S": _S, "I": _I, "L": _L, "B": _B, "D": _D, "T": _T, "G": _G}
    return {name: types[code] for name, code in (part.split(":") for part in spec.split())}


STAMPS = " Created:T Updated:T"
PROPERTIES: dict[str, dict[str, str]] = {
    "Products": _props(
        "Id:I ManufacturerId:I ManufacturerPartNo:S DefaultName:S IsVariant:B VariantId:I"
        " IsActive:B Key:G Code:S DefaultUniqueUrlName:S" + STAMPS
    ),
    "ProductSkus": _props(
        "PartNo:S ProductId:I ClientId:I StatusId:I TypeId:I IntegrationPartNo:S ErpName:S"
        " EanCode:S IsPublished:B IsBlocked:B" + STAMPS
    ),
    "ProductSkuPriceLists": _props(
        "PartNo:S PriceListId:I QtyBreak:I CurrencyId:I PriceSale:D PriceStandard:D"
        " PriceCatalog:D PriceRecommended:D PricePrevious:D CostPurchase:D CostUnit:D"
        " IsPriceDiscountable:B IsActive:B" + STAMPS
    ),
    "ProductSkuOnHands": _props(
        "PartNo:S WarehouseId:I LocationId:I OnHandValue:D IncomingValue:D NextDeliveryDate:T"
        " LeadTimeDayCount:I ReservationValue:D MinimumValue:D MaximumValue:D IsActive:B" + STAMPS
    ),
    "ProductRelations": _props(
        "PartNo:S RelatedPartNo:S RelationTypeCode:S RelationTypeId:I ProductId:I"
        " RelatedProductId:I IsActive:B IsVariantUnique:B IsRelatedVariantUnique:B SortOrder:I"
        " DefaultName:S" + STAMPS
    ),
    "ProductCategories": _props("ProductId:I CategoryId:I SortOrder:I IsPrimary:B IsActive:B"),
    "Customers": _props(
        "Id:I Key:G Code:S CustomerCode:S EmailAddress:S Title:S FirstName:S MiddleName:S"
        " LastName:S PhoneNumber:S CellPhoneNumber:S CrmId:S ApplicationId:I IsActive:B"
        " IsForgotten:B" + STAMPS
    ),
    "Companies": _props(
        "Id:I Key:G Code:S CompanyCode:S OrganizationNo:S Name:S EmailAddress:S PhoneNumber:S"
        " VatNo:S ParentCompanyId:I IsActive:B" + STAMPS
    ),
    "Orders": _props(
        "Id:L ApplicationId:I OrderNo:S OrderDate:T QuotationId:I StatusId:I TypeId:I Source:S"
        " CurrencyId:I FreightCost:D BuyerCustomerId:I BuyerCompanyId:I IsForgotten:B" + STAMPS
    ),
    "OrderItems": _props(
        "Id:I OrderId:L PartNo:S ProductName:S QtyOrdered:D PriceSale:D DiscountAmount:D"
        " LineAmount:D VatRate:D StatusId:I"
    ),
    "Categories": _props(
        "Id:I Code:S DefaultName:S DefaultFullName:S ParentId:I IsActive:B" + STAMPS
    ),
    "ClientPriceLists": _props(
        "PriceListId:I Name:S Agreement:S Description:S CurrencyId:I IsPrimary:B IsPublic:B"
        " IsActive:B StartDate:T EndDate:T" + STAMPS
    ),
    "ClientWarehouses": _props(
        "WarehouseId:I Code:S Name:S TypeId:I LeadTimeDayCount:I IsActive:B" + STAMPS
    ),
    "ClientWarehouseLocations": _props(
        "LocationId:I WarehouseId:I Code:S Name:S LeadTimeDayCount:I"
        " IsIncludedInStockCalculation:B IsActive:B" + STAMPS
    ),
    "Currencies": _props("Id:I Code:S DefaultName:S ExchangeRate:D"),
}


class FieldError(ValueError):
    """One value of an item could not be used (logged as a warning for that item)."""


def to_decimal(value: Any, field: str) -> Decimal | None:
    """Coerce a JSON value to Decimal (numbers or numeric strings); None stays None.

    Raises:
        FieldError: not a number.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise FieldError(f"{field} must be a number, got {value!r}")
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise FieldError(f"{field} must be a number, got {value!r}") from None
        if result.is_finite():
            return result
    raise FieldError(f"{field} must be a number, got {value!r}")


def to_int(value: Any, field: str) -> int | None:
    """Coerce to int (integral numbers or numeric strings); None stays None.

    Raises:
        FieldError: not an integer.
    """
    number = to_decimal(value, field)
    if number is None:
        return None
    if number != number.to_integral_value():
        raise FieldError(f"{field} must be an integer, got {value!r}")
    return int(number)


def to_bool(value: Any, field: str) -> bool | None:
    """Coerce to bool (JSON booleans, ``"true"``/``"false"``); None stays None.

    Raises:
        FieldError: not a boolean.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise FieldError(f"{field} must be true or false, got {value!r}")


def to_str(value: Any, field: str) -> str | None:
    """Coerce to str (numbers are accepted, as .NET does); None stays None.

    Raises:
        FieldError: an object, array or boolean.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return str(value)
    raise FieldError(f"{field} must be a string, got {value!r}")


def to_datetime(value: Any, field: str) -> datetime | None:
    """Parse an ISO-8601 date-time (naive values are UTC); None stays None.

    Raises:
        FieldError: not a date-time.
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise FieldError(f"{field} must be an ISO-8601 date-time, got {value!r}")


@attrs.frozen
class LogEntry:
    """One job log line (``JobLogDto``).

    Attributes:
        severity: 1 Information, 2 Warning (part of a record not handled), 3 Error
            (record not imported).
        message: the text.
        time: emulator time of the entry.
        imported_row: the offending record as JSON text, truncated, or None.
    """

    severity: int
    message: str
    time: datetime
    imported_row: str | None = None


EventSink = Callable[[str, dict[str, Any]], None]
WantsEvent = Callable[[str, str | None], bool]

# Payload fields that carry values rather than identity: a later change of the same
# entity within one job replaces the earlier notification instead of adding one.
_VALUE_FIELDS = frozenset({"PriceSaleValue", "OnHandValue", "MinimumValue", "PricelistCode"})


@attrs.define
class ChangeSet:
    """What one job (or one back-office change) did: counters, log and notifications.

    Notifications are de-duplicated per entity and table and fired when the change
    set is committed, as Norce's event settings watch table rows, not import items.
    """

    now: datetime
    account_id: int | None = None
    wants: WantsEvent = attrs.field(default=lambda _t, _e: False)
    inserts: int = 0
    updates: int = 0
    fail: int = 0
    log: list[LogEntry] = attrs.field(factory=list)
    events: dict[tuple[Any, ...], tuple[str, dict[str, Any]]] = attrs.field(factory=dict)
    max_row_chars: int = 2000

    def emit(self, event_type: str, payload: dict[str, Any]) -> None:
        """Queue a notification (dropped unless a subscription wants it)."""
        if not self.wants(event_type, payload.get("EntityChanged")):
            return
        key = (
            event_type,
            *sorted((k, str(v)) for k, v in payload.items() if k not in _VALUE_FIELDS),
        )
        self.events[key] = (event_type, payload)

    def entry(self, severity: int, message: str, row: Any = None) -> None:
        """Append a log entry; ``row`` (the offending record) is truncated JSON text."""
        text: str | None = None
        if row is not None:
            text = orjson.dumps(row, default=str).decode()
            if len(text) > self.max_row_chars:
                text = text[: self.max_row_chars] + "..."
        self.log.append(LogEntry(severity, message, self.now, text))

    def info(self, message: str, row: Any = None) -> None:
        """Log at severity 1."""
        self.entry(1, message, row)

    def warn(self, message: str, row: Any = None) -> None:
        """Log at severity 2 (part of a record could not be handled)."""
        self.entry(2, message, row)

    def error(self, message: str, row: Any = None) -> None:
        """Log at severity 3 (record not imported)."""
        self.entry(3, message, row)


def _changed(row: Row, values: Mapping[str, Any]) -> bool:
    """Write ``values`` into ``row``; return True if anything differed."""
    changed = False
    for name, value in values.items():
        if row.get(name) != value or (name not in row):
            row[name] = value
            changed = True
    return changed


@attrs.define
class SkuMeta:
    """What the emulator knows about a SKU beyond its Query row."""

    owner: int | None = None
    cultures: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    fields: dict[str, Any] = attrs.field(factory=dict)
    status_before_fullfile: int | None = None


@attrs.define
class ProductMeta:
    """What the emulator knows about a product (Norce: one variant) beyond its row."""

    manufacturer_code: str | None = None
    cultures: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    category_ids: list[tuple[int, int]] = attrs.field(factory=list)
    fields: dict[str, Any] = attrs.field(factory=dict)


class EmulatorData:
    """All tenant data and the Query tables over it.

    Args:
        client_id: Norce's numeric client (tenant) id, sent as ``ClientId`` in events.
        application_id: the application (market) id, sent as ``ApplicationId``.
        default_culture: the culture whose names become ``DefaultName``/``ErpName``.
        seed: seeds the generator of ids' GUIDs (``Key``), for reproducible data.
        auto_create_warehouses: on-hand rows for an unknown warehouse or location
            create it (True, default) or are ignored with a warning (False). Whether
            Norce creates them is UNCONFIRMED; warehouses can also be created through
            ``ImportPriceLists`` (``Warehouses``), as documented.
    """

    def __init__(
        self,
        *,
        client_id: int,
        application_id: int,
        default_culture: str = "sv-SE",
        seed: int | None = 0,
        auto_create_warehouses: bool = True,
        now: datetime,
    ) -> None:
        self.client_id = client_id
        self.application_id = application_id
        self.default_culture = default_culture
        self.auto_create_warehouses = auto_create_warehouses
        self._rng = random.Random(seed)  # noqa: S311 - GUIDs for test data, not secrets
        self._ids: dict[str, int] = {
            "product": 1001,
            "variant": 501,
            "manufacturer": 1,
            "price_list": 1,
            "warehouse": 1,
            "location": 1,
            "category": 1,
            "customer": 1001,
            "company": 501,
            "order": 3_000_000_001,  # past int32 on purpose: Orders.Id is int64
            "order_item": 1,
            "basket": 900_001,
        }
        self.tables = Tables()
        t = self._build_tables()
        self.products, self.skus, self.sku_prices, self.onhands, self.relations = t[:5]
        self.customers, self.companies, self.orders, self.order_items = t[5:9]
        self.categories, self.price_lists, self.warehouses, self.currencies = t[9:]
        # Side state (not in Query).
        self.sku_meta: dict[str, SkuMeta] = {}
        self.product_meta: dict[int, ProductMeta] = {}
        self.manufacturers: dict[str, dict[str, Any]] = {}
        self.clusters: dict[str, int] = {}
        self.competitor_skus: dict[tuple[str, str], dict[str, Any]] = {}
        self.customer_meta: dict[int, dict[str, Any]] = {}
        self.company_meta: dict[int, dict[str, Any]] = {}
        self.customer_company: dict[tuple[int, int], dict[str, Any]] = {}
        self.companies_by_customer: dict[int, dict[int, None]] = {}
        self.customers_by_company: dict[int, dict[int, None]] = {}
        self.order_meta: dict[int, dict[str, Any]] = {}
        self.price_list_meta: dict[int, dict[str, Any]] = {}
        self.price_rules: dict[tuple[str, int, int], dict[str, Any]] = {}
        self.relation_types: dict[str, int] = {}
        # Indices.
        self.product_by_mpn: dict[tuple[str, str], int] = {}
        self.skus_by_product: dict[int, dict[str, None]] = {}
        self.cluster_members: dict[str, dict[int, None]] = {}
        self.price_keys_by_sku: dict[str, dict[tuple[Any, ...], None]] = {}
        self.price_keys_by_list: dict[int, dict[tuple[Any, ...], None]] = {}
        self.onhand_keys_by_sku: dict[str, dict[tuple[Any, ...], None]] = {}
        self.onhand_keys_by_scope: dict[tuple[int, int], dict[tuple[Any, ...], None]] = {}
        self.price_list_by_code: dict[str, int] = {}
        self.currency_by_code: dict[str, int] = {}
        self.category_by_code: dict[str, int] = {}
        self.warehouse_by_code: dict[str, int] = {}
        self.location_by_code: dict[tuple[int, str], int] = {}
        self.locations: dict[int, dict[int, Row]] = {}
        self.customer_by_code: dict[str, int] = {}
        self.customer_by_email: dict[str, int] = {}
        self.company_by_code: dict[str, int] = {}
        self.company_by_org: dict[str, int] = {}
        self.items_by_order: dict[int, list[Row]] = {}
        self._seed(now)

    # -- ids ------------------------------------------------------------------------

    def next_id(self, kind: str) -> int:
        """Return the next id of ``kind`` (monotonic per kind)."""
        value = self._ids[kind]
        self._ids[kind] = value + 1
        return value

    def new_key(self) -> str:
        """Return a reproducible GUID (``Key`` properties)."""
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    # -- tables ---------------------------------------------------------------------

    def _build_tables(self) -> tuple[Table, ...]:
        add = self.tables.add
        price_rows = Table(
            "Products", "ProductSkuPriceLists", ("PartNo", "PriceListId", "QtyBreak")
        )
        onhand_rows = Table(
            "Products", "ProductSkuOnHands", ("PartNo", "WarehouseId", "LocationId")
        )
        sku_rows = Table(
            "Products",
            "ProductSkus",
            ("PartNo",),
            navigations={
                "PriceLists": lambda r: self._by_keys(
                    self.sku_prices, self.price_keys_by_sku.get(r["PartNo"])
                ),
                "OnHands": lambda r: self._by_keys(
                    self.onhands, self.onhand_keys_by_sku.get(r["PartNo"])
                ),
            },
            nav_tables={"PriceLists": price_rows, "OnHands": onhand_rows},
        )
        culture_rows = Table("Products", "ProductCultures", ("ProductId", "CultureCode"))
        category_link_rows = Table("Products", "ProductCategories", ("ProductId", "CategoryId"))
        product_rows = Table(
            "Products",
            "Products",
            ("Id",),
            navigations={
                "Skus": lambda r: self._by_keys(
                    self.skus, {(p,): None for p in self.skus_by_product.get(r["Id"], ())}
                ),
                "Categories": self._product_categories,
                "Cultures": self._product_cultures,
            },
            nav_tables={
                "Skus": sku_rows,
                "Categories": category_link_rows,
                "Cultures": culture_rows,
            },
        )
        relation_rows = Table(
            "Products", "ProductRelations", ("PartNo", "RelatedPartNo", "RelationTypeCode")
        )
        company_rows = Table("Customers", "Companies", ("Id",))
        customer_rows = Table(
            "Customers",
            "Customers",
            ("Id",),
            navigations={"Companies": self._customer_companies},
            nav_tables={"Companies": company_rows},
        )
        company_rows.navigations["Customers"] = self._company_customers
        company_rows.nav_tables["Customers"] = customer_rows
        item_rows = Table("Orders", "OrderItems", ("Id",))
        order_rows = Table(
            "Orders",
            "Orders",
            ("Id",),
            navigations={"Items": lambda r: list(self.items_by_order.get(r["Id"], ()))},
            nav_tables={"Items": item_rows},
        )
        category_rows = Table("Application", "Categories", ("Id",))
        price_list_rows = Table("Application", "ClientPriceLists", ("PriceListId",))
        location_rows = Table("Application", "ClientWarehouseLocations", ("LocationId",))
        warehouse_rows = Table(
            "Application",
            "ClientWarehouses",
            ("WarehouseId",),
            navigations={
                "Locations": lambda r: list(self.locations.get(r["WarehouseId"], {}).values())
            },
            nav_tables={"Locations": location_rows},
        )
        currency_rows = Table("Core", "Currencies", ("Id",))
        # Declared types: strict names and typed $metadata even while a set is empty.
        # (Product cultures are left undeclared: their text fields vary per header.)
        self._declare(
            product_rows, sku_rows, price_rows, onhand_rows, relation_rows, category_link_rows,
            customer_rows, company_rows, order_rows, item_rows, category_rows, price_list_rows,
            warehouse_rows, location_rows, currency_rows,
        )  # fmt: skip
        return (
            add(product_rows),
            add(sku_rows),
            add(price_rows),
            add(onhand_rows),
            add(relation_rows),
            add(customer_rows),
            add(company_rows),
            add(order_rows),
            item_rows,
            add(category_rows),
            add(price_list_rows),
            add(warehouse_rows),
            add(currency_rows),
        )

    def _declare(self, *tables: Table) -> None:
        for table in tables:
            table.properties.update(PROPERTIES.get(table.name, {}))

    @staticmethod
    def _by_keys(table: Table, keys: Iterable[tuple[Any, ...]] | None) -> list[Row]:
        if not keys:
            return []
        return [row for key in keys if (row := table.rows.get(key)) is not None]

    def _product_categories(self, row: Row) -> list[Row]:
        meta = self.product_meta.get(row["Id"])
        if meta is None:
            return []
        return [
            {
                "ProductId": row["Id"],
                "CategoryId": category_id,
                "SortOrder": sort_order,
                "IsPrimary": index == 0,
                "IsActive": True,
            }
            for index, (category_id, sort_order) in enumerate(meta.category_ids)
        ]

    def _product_cultures(self, row: Row) -> list[Row]:
        meta = self.product_meta.get(row["Id"])
        if meta is None:
            return []
        return [
            {"ProductId": row["Id"], "CultureCode": culture, **values}
            for culture, values in meta.cultures.items()
        ]

    def _customer_companies(self, row: Row) -> list[Row]:
        return [
            company
            for company_id in self.companies_by_customer.get(row["Id"], ())
            if self.customer_company[(row["Id"], company_id)]["IsActive"]
            and (company := self.companies.get(company_id)) is not None
        ]

    def _company_customers(self, row: Row) -> list[Row]:
        return [
            customer
            for customer_id in self.customers_by_company.get(row["Id"], ())
            if self.customer_company[(customer_id, row["Id"])]["IsActive"]
            and (customer := self.customers.get(customer_id)) is not None
        ]

    def link_customer_company(
        self, changes: ChangeSet, customer_id: int, company_id: int, *, active: bool
    ) -> bool:
        """Create/activate or deactivate a customer-company relation; True if changed."""
        key = (customer_id, company_id)
        link = self.customer_company.get(key)
        if link is None:
            if not active:
                return False
            self.customer_company[key] = {
                "IsActive": True,
                "Created": changes.now,
                "Updated": changes.now,
            }
            self.companies_by_customer.setdefault(customer_id, {})[company_id] = None
            self.customers_by_company.setdefault(company_id, {})[customer_id] = None
            changes.inserts += 1
        elif link["IsActive"] != active:
            link["IsActive"] = active
            link["Updated"] = changes.now
            changes.updates += 1
        else:
            return False
        self.company_event(changes, company_id, "tClientCustomer")
        return True

    # -- seed -----------------------------------------------------------------------

    def _seed(self, now: datetime) -> None:
        for currency_id, code, name, rate in SEED_CURRENCIES:
            self.currencies.upsert(
                {
                    "Id": currency_id,
                    "Code": code,
                    "DefaultName": name,
                    "ExchangeRate": Decimal(rate),
                }
            )
            self.currency_by_code[code.upper()] = currency_id
        for code, name, currency, primary in SEED_PRICE_LISTS:
            self.create_price_list(code, now, name=name, currency_code=currency, is_primary=primary)
        for code, name, parent in SEED_CATEGORIES:
            self.add_category(code, name, now, parent_code=parent)
        self.ensure_location("MAIN", "MAIN", now)

    # -- reference data -------------------------------------------------------------

    def add_category(
        self, code: str, name: str, now: datetime, *, parent_code: str | None = None
    ) -> Row:
        """Create (or rename) a category; categories are Admin data, never imported."""
        existing = self.category_by_code.get(code)
        parent_id = self.category_by_code.get(parent_code) if parent_code else None
        parent = self.categories.get(parent_id) if parent_id is not None else None
        full = f"{parent['DefaultFullName']}/{name}" if parent else name
        if existing is not None:
            row = self.categories.get(existing)
            assert row is not None
            if _changed(row, {"DefaultName": name, "DefaultFullName": full, "ParentId": parent_id}):
                row["Updated"] = now
            return row
        row = {
            "Id": self.next_id("category"),
            "Code": code,
            "DefaultName": name,
            "DefaultFullName": full,
            "ParentId": parent_id,
            "IsActive": True,
            "Created": now,
            "Updated": now,
        }
        self.categories.upsert(row)
        self.category_by_code[code] = row["Id"]
        return row

    def create_price_list(
        self,
        code: str,
        now: datetime,
        *,
        name: str | None = None,
        currency_code: str | None = None,
        is_primary: bool = False,
    ) -> Row:
        """Create a price list (the row Query shows as ``Application/ClientPriceLists``)."""
        currency_id = self.currency_by_code.get((currency_code or "SEK").upper(), 1)
        price_list_id = self.next_id("price_list")
        row: Row = {
            "PriceListId": price_list_id,
            "Name": name or code,
            # Norce's price list "agreement" is its code (ImportSkuPriceLists matches on it).
            "Agreement": code,
            "Description": None,
            "CurrencyId": currency_id,
            "IsPrimary": False,
            "IsPublic": True,
            "IsActive": True,
            "StartDate": None,
            "EndDate": None,
            "Created": now,
            "Updated": now,
        }
        self.price_lists.upsert(row)
        self.price_list_by_code[code] = price_list_id
        self.price_list_meta[price_list_id] = {"Code": code}
        if is_primary:
            self.set_primary_price_list(price_list_id, now)
        return row

    def set_primary_price_list(self, price_list_id: int, now: datetime) -> None:
        """Make one price list primary (only one per application)."""
        for row in self.price_lists.rows.values():
            primary = row["PriceListId"] == price_list_id
            if row["IsPrimary"] != primary:
                row["IsPrimary"] = primary
                row["Updated"] = now

    def price_list_code(self, price_list_id: int) -> str:
        """The code (agreement) of a price list."""
        return str(self.price_list_meta[price_list_id]["Code"])

    def ensure_location(
        self, warehouse_code: str, location_code: str, now: datetime
    ) -> tuple[int, int]:
        """Return (WarehouseId, LocationId), creating the warehouse/location if needed."""
        warehouse_id = self.warehouse_by_code.get(warehouse_code)
        if warehouse_id is None:
            warehouse_id = self.next_id("warehouse")
            self.warehouses.upsert(
                {
                    "WarehouseId": warehouse_id,
                    "Code": warehouse_code,
                    "Name": warehouse_code,
                    "TypeId": 1,
                    "LeadTimeDayCount": None,
                    "IsActive": True,
                    "Created": now,
                    "Updated": now,
                }
            )
            self.warehouse_by_code[warehouse_code] = warehouse_id
            self.locations[warehouse_id] = {}
        location_id = self.location_by_code.get((warehouse_id, location_code))
        if location_id is None:
            location_id = self.next_id("location")
            self.locations[warehouse_id][location_id] = {
                "LocationId": location_id,
                "WarehouseId": warehouse_id,
                "Code": location_code,
                "Name": location_code,
                "LeadTimeDayCount": None,
                "IsIncludedInStockCalculation": True,
                "IsActive": True,
                "Created": now,
                "Updated": now,
            }
            self.location_by_code[(warehouse_id, location_code)] = location_id
        return warehouse_id, location_id

    def find_location(self, warehouse_code: str, location_code: str) -> tuple[int, int] | None:
        """Return (WarehouseId, LocationId) if both exist."""
        warehouse_id = self.warehouse_by_code.get(warehouse_code)
        if warehouse_id is None:
            return None
        location_id = self.location_by_code.get((warehouse_id, location_code))
        return None if location_id is None else (warehouse_id, location_id)

    def location_codes(self, warehouse_id: int, location_id: int) -> tuple[str, str]:
        """Return (WarehouseCode, LocationCode) for ids."""
        warehouse = self.warehouses.get(warehouse_id)
        location = self.locations.get(warehouse_id, {}).get(location_id)
        assert warehouse is not None
        assert location is not None
        return str(warehouse["Code"]), str(location["Code"])

    def manufacturer_id(self, code: str, now: datetime, name: str | None = None) -> int:
        """Return the id of manufacturer ``code``, creating it on first use."""
        row = self.manufacturers.get(code)
        if row is None:
            row = {"Id": self.next_id("manufacturer"), "Code": code, "Name": name or code}
            row["Created"] = row["Updated"] = now
            self.manufacturers[code] = row
        elif name is not None and row["Name"] != name:
            row["Name"] = name
            row["Updated"] = now
        return int(row["Id"])

    def cluster_id(self, code: str) -> int:
        """Return the ``VariantId`` of variant cluster ``code``."""
        value = self.clusters.get(code)
        if value is None:
            value = self.clusters[code] = self.next_id("variant")
        return value

    # -- index maintenance ----------------------------------------------------------

    def index_price(self, key: tuple[Any, ...]) -> None:
        """Register a price row key in the SKU and price-list indices."""
        self.price_keys_by_sku.setdefault(key[0], {})[key] = None
        self.price_keys_by_list.setdefault(key[1], {})[key] = None

    def index_onhand(self, key: tuple[Any, ...]) -> None:
        """Register an on-hand row key in the SKU and warehouse+location indices."""
        self.onhand_keys_by_sku.setdefault(key[0], {})[key] = None
        self.onhand_keys_by_scope.setdefault((key[1], key[2]), {})[key] = None

    def set_product_cluster(self, product: Row, code: str | None) -> None:
        """Move a product into variant cluster ``code`` (None: out of any cluster)."""
        old = product.get("Code")
        if old is not None and old != code:
            self.cluster_members.get(old, {}).pop(product["Id"], None)
        product["Code"] = code
        product["VariantId"] = self.cluster_id(code) if code else None
        product["IsVariant"] = code is not None
        if code:
            self.cluster_members.setdefault(code, {})[product["Id"]] = None

    def refresh_product_active(self, product_id: int, now: datetime) -> None:
        """A product is active while any of its SKUs is (not Inactive/NotActivated)."""
        product = self.products.get(product_id)
        if product is None:
            return
        part_nos = self.skus_by_product.get(product_id, {})
        active = not part_nos or any(
            (sku := self.skus.get(p)) is not None and sku["StatusId"] not in _NOT_ACTIVE_STATUSES
            for p in part_nos
        )
        if product["IsActive"] != active:
            product["IsActive"] = active
            product["Updated"] = now

    def default_text(self, cultures: Mapping[str, Mapping[str, Any]], field: str) -> Any:
        """The value of ``field`` in the default culture, else in the first culture."""
        preferred = cultures.get(self.default_culture, {}).get(field)
        if preferred is not None:
            return preferred
        for values in cultures.values():
            if values.get(field) is not None:
                return values[field]
        return None

    # -- events ---------------------------------------------------------------------

    def sku_event(self, changes: ChangeSet, part_no: str, entity: str) -> None:
        """Queue ``SkuChangedNotification`` for ``part_no`` and table ``entity``."""
        changes.emit(
            "SkuChangedNotification",
            {
                "ClientId": self.client_id,
                "ApplicationId": self.application_id,
                "PartNo": part_no,
                "EntityChanged": entity,
            },
        )

    def price_event(self, changes: ChangeSet, row: Row) -> None:
        """Queue ``SkuPriceChangedNotification`` for a price row (note ``PricelistId``)."""
        price = row.get("PriceSale")
        changes.emit(
            "SkuPriceChangedNotification",
            {
                "ClientId": self.client_id,
                "ApplicationId": self.application_id,
                "PartNo": row["PartNo"],
                "PricelistId": row["PriceListId"],
                "PricelistCode": self.price_list_code(row["PriceListId"]),
                "PriceSaleValue": float(price) if price is not None else 0.0,
                "QuantityBreak": float(row["QtyBreak"]),
            },
        )

    def breakpoint_event(self, changes: ChangeSet, row: Row, minimum: Decimal) -> None:
        """Queue ``SkuOnHandBreakPointNotification`` for an on-hand row."""
        warehouse_code, location_code = self.location_codes(row["WarehouseId"], row["LocationId"])
        changes.emit(
            "SkuOnHandBreakPointNotification",
            {
                "ClientId": self.client_id,
                "ApplicationId": self.application_id,
                "PartNo": row["PartNo"],
                "WarehouseId": row["WarehouseId"],
                "WarehouseCode": warehouse_code,
                "LocationId": row["LocationId"],
                "LocationCode": location_code,
                "OnHandValue": float(row["OnHandValue"] or 0),
                "MinimumValue": float(minimum),
            },
        )

    def customer_event(self, changes: ChangeSet, customer_id: int, entity: str) -> None:
        """Queue ``CustomerChangedNotification``."""
        changes.emit(
            "CustomerChangedNotification",
            {
                "ClientId": self.client_id,
                "ApplicationId": self.application_id,
                "CustomerId": customer_id,
                "EntityChanged": entity,
            },
        )

    def company_event(self, changes: ChangeSet, company_id: int, entity: str) -> None:
        """Queue ``CompanyChangedNotification``."""
        changes.emit(
            "CompanyChangedNotification",
            {
                "ClientId": self.client_id,
                "ApplicationId": self.application_id,
                "CompanyId": company_id,
                "EntityChanged": entity,
            },
        )

    # -- shared writers (imports and back-office) ----------------------------------

    def upsert_price(
        self,
        changes: ChangeSet,
        *,
        part_no: str,
        price_list_id: int,
        qty_break: int,
        values: Mapping[str, Any],
        create_only: Mapping[str, Any] | None = None,
        reactivate: bool = False,
    ) -> Row:
        """Insert or update one SKU price row and queue its notifications."""
        key = (part_no, price_list_id, qty_break)
        row = self.sku_prices.rows.get(key)
        price_list = self.price_lists.get(price_list_id)
        assert price_list is not None
        old_sale = None if row is None else row.get("PriceSale")
        if row is None:
            row = {
                "PartNo": part_no,
                "PriceListId": price_list_id,
                "QtyBreak": qty_break,
                "CurrencyId": price_list["CurrencyId"],
                "PriceSale": None,
                "PriceStandard": None,
                "PriceCatalog": None,
                "PriceRecommended": None,
                "PricePrevious": None,
                "CostPurchase": None,
                "CostUnit": None,
                "IsPriceDiscountable": True,
                "IsActive": True,
                "Created": changes.now,
                "Updated": changes.now,
            }
            row.update(values)
            if create_only:
                row.update(create_only)
            self.sku_prices.rows[key] = row
            self.index_price(key)
            changes.inserts += 1
            changed = True
        else:
            want = dict(values)
            if reactivate and "IsActive" not in want and not row["IsActive"]:
                want["IsActive"] = True
            changed = _changed(row, want)
            if changed:
                row["Updated"] = changes.now
                changes.updates += 1
        if changed:
            self.sku_event(changes, part_no, "tClientProductSkuPriceList")
            if row.get("PriceSale") is not None and row.get("PriceSale") != old_sale:
                self.price_event(changes, row)
        return row

    def upsert_onhand(
        self,
        changes: ChangeSet,
        *,
        part_no: str,
        warehouse_id: int,
        location_id: int,
        values: Mapping[str, Any],
        reactivate: bool = False,
    ) -> Row:
        """Insert or update one on-hand row; fire the break-point notification on reaching
        the row's ``MinimumValue`` (crossing from above, or first value at/below it)."""
        key = (part_no, warehouse_id, location_id)
        row = self.onhands.rows.get(key)
        old_value = None if row is None else row.get("OnHandValue")
        meta_min = values.get("MinimumValue")
        if row is None:
            row = {
                "PartNo": part_no,
                "WarehouseId": warehouse_id,
                "LocationId": location_id,
                "OnHandValue": Decimal(0),
                "IncomingValue": None,
                "NextDeliveryDate": None,
                "LeadTimeDayCount": None,
                "ReservationValue": Decimal(0),
                "MinimumValue": None,
                "MaximumValue": None,
                "IsActive": True,
                "Created": changes.now,
                "Updated": changes.now,
            }
            row.update(values)
            self.onhands.rows[key] = row
            self.index_onhand(key)
            changes.inserts += 1
            changed = True
        else:
            want = dict(values)
            if reactivate and "IsActive" not in want and not row["IsActive"]:
                want["IsActive"] = True
            changed = _changed(row, want)
            if changed:
                row["Updated"] = changes.now
                changes.updates += 1
        if changed:
            self.sku_event(changes, part_no, "tClientProductSkuOnHand")
        minimum = row.get("MinimumValue") if meta_min is None else meta_min
        value = row.get("OnHandValue")
        # "Reaches": fire on the change that brings the value to or below the minimum.
        if (
            minimum is not None
            and value is not None
            and value <= minimum
            and (old_value is None or old_value > minimum)
        ):
            self.breakpoint_event(changes, row, minimum)
        return row

    def touch_sku(self, changes: ChangeSet, part_no: str, values: Mapping[str, Any]) -> bool:
        """Write ``values`` into a SKU row; stamp and notify if anything changed."""
        row = self.skus.get(part_no)
        assert row is not None
        if _changed(row, values):
            row["Updated"] = changes.now
            changes.updates += 1
            self.sku_event(changes, part_no, "tClientProductSku")
            if "StatusId" in values:
                self.refresh_product_active(row["ProductId"], changes.now)
            return True
        return False


def changed(row: Row, values: Mapping[str, Any]) -> bool:
    """Write ``values`` into ``row``; return True if anything differed."""
    return _changed(row, values)
