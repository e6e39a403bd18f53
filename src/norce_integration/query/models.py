"""Typed read models for Norce Query 2.0 entity sets (reference §2.6).

Every field is optional (``None`` when Norce leaves it out or a ``$select`` skips it)
except the entity key. Prices and quantities are ``Decimal``; ``Created``/``Updated``
are aware datetimes (offset-less values are read as UTC). Unknown fields are ignored;
a resource built with ``strict=True`` rejects them so drift shows up in tests.

Each entity model names where it lives and what its key is::

    ProductSku.NAMESPACE == "Products"
    ProductSku.ENTITY_SET == "ProductSkus"
    ProductSku.KEY == ("part_no",)        # attribute names, in OData key order

GUID fields (``Key``) are kept as strings: the shared converter has no UUID hook.
Navigation properties whose shape the reference does not give are plain dicts.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, ClassVar

import attrs

from .._convert import ReadModel


__all__ = [
    "Category",
    "ClientPriceList",
    "Currency",
    "Customer",
    "Entity",
    "Order",
    "OrderItem",
    "Product",
    "ProductSku",
    "ProductSkuPriceList",
]


class Entity(ReadModel):
    """Base of read models that map to one Query entity set.

    Attributes:
        NAMESPACE: the URL namespace segment (``Products``, ``Core``, ...).
        ENTITY_SET: the entity set name.
        KEY: the key's attribute names, in the order Norce lists the key properties.
    """

    __slots__ = ()

    NAMESPACE: ClassVar[str]
    ENTITY_SET: ClassVar[str]
    KEY: ClassVar[tuple[str, ...]]


# ---------------------------------------------------------------- Products


@attrs.frozen(kw_only=True)
class ProductSkuPriceList(Entity):
    """``Products/ProductSkuPriceLists``: a price row of a SKU in one price list."""

    NAMESPACE: ClassVar[str] = "Products"
    ENTITY_SET: ClassVar[str] = "ProductSkuPriceLists"
    KEY: ClassVar[tuple[str, ...]] = ("part_no", "price_list_id", "qty_break")

    part_no: str
    price_list_id: int
    qty_break: Decimal
    currency_id: int | None = None
    price_sale: Decimal | None = None
    price_standard: Decimal | None = None
    price_catalog: Decimal | None = None
    price_recommended: Decimal | None = None
    price_previous: Decimal | None = None
    cost_purchase: Decimal | None = None
    cost_unit: Decimal | None = None
    is_price_discountable: bool | None = None
    is_active: bool | None = None


@attrs.frozen(kw_only=True)
class ProductSku(Entity):
    """``Products/ProductSkus``: a SKU (key ``PartNo``)."""

    NAMESPACE: ClassVar[str] = "Products"
    ENTITY_SET: ClassVar[str] = "ProductSkus"
    KEY: ClassVar[tuple[str, ...]] = ("part_no",)

    part_no: str
    product_id: int | None = None
    client_id: int | None = None
    status_id: int | None = None
    type_id: int | None = None
    integration_part_no: str | None = None
    erp_name: str | None = None
    ean_code: str | None = None
    is_published: bool | None = None
    is_blocked: bool | None = None
    created: dt.datetime | None = None
    updated: dt.datetime | None = None
    price_lists: list[ProductSkuPriceList] | None = None


@attrs.frozen(kw_only=True)
class Product(Entity):
    """``Products/Products``: a product (key ``Id``)."""

    NAMESPACE: ClassVar[str] = "Products"
    ENTITY_SET: ClassVar[str] = "Products"
    KEY: ClassVar[tuple[str, ...]] = ("id",)

    id: int
    manufacturer_id: int | None = None
    manufacturer_part_no: str | None = None
    default_name: str | None = None
    is_variant: bool | None = None
    variant_id: int | None = None
    is_active: bool | None = None
    created: dt.datetime | None = None
    updated: dt.datetime | None = None
    key: str | None = None
    code: str | None = None
    default_unique_url_name: str | None = None
    skus: list[ProductSku] | None = None
    categories: list[dict[str, Any]] | None = None


# ---------------------------------------------------------------- Customers


@attrs.frozen(kw_only=True)
class Customer(Entity):
    """``Customers/Customers``: a customer (key ``Id``)."""

    NAMESPACE: ClassVar[str] = "Customers"
    ENTITY_SET: ClassVar[str] = "Customers"
    KEY: ClassVar[tuple[str, ...]] = ("id",)

    id: int
    key: str | None = None
    customer_code: str | None = None
    email_address: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_active: bool | None = None
    application_id: int | None = None
    is_forgotten: bool | None = None
    crm_id: str | None = None


# ---------------------------------------------------------------- Orders


@attrs.frozen(kw_only=True)
class OrderItem(ReadModel):
    """An order line, reached through ``$expand=Items`` (no standalone set, reference §2.6)."""

    id: int | None = None
    order_id: int | None = None
    part_no: str | None = None
    product_name: str | None = None
    qty_ordered: Decimal | None = None
    price_sale: Decimal | None = None
    discount_amount: Decimal | None = None
    line_amount: Decimal | None = None
    vat_rate: Decimal | None = None
    status_id: int | None = None


@attrs.frozen(kw_only=True)
class Order(Entity):
    """``Orders/Orders``: an order (key ``Id``, int64).

    The ``application-id`` header does not restrict orders to the application: filter
    on ``ApplicationId`` explicitly (reference §2.3).
    """

    NAMESPACE: ClassVar[str] = "Orders"
    ENTITY_SET: ClassVar[str] = "Orders"
    KEY: ClassVar[tuple[str, ...]] = ("id",)

    id: int
    application_id: int | None = None
    order_no: str | None = None
    order_date: dt.datetime | None = None
    quotation_id: int | None = None
    status_id: int | None = None
    type_id: int | None = None
    source: str | None = None
    currency_id: int | None = None
    freight_cost: Decimal | None = None
    buyer_customer_id: int | None = None
    buyer_company_id: int | None = None
    created: dt.datetime | None = None
    updated: dt.datetime | None = None
    is_forgotten: bool | None = None
    items: list[OrderItem] | None = None
    payer: dict[str, Any] | None = None
    buyer: dict[str, Any] | None = None
    ship_to: dict[str, Any] | None = None
    infos: list[dict[str, Any]] | None = None


# ---------------------------------------------------------------- Application


@attrs.frozen(kw_only=True)
class Category(Entity):
    """``Application/Categories``: a category (key ``Id``)."""

    NAMESPACE: ClassVar[str] = "Application"
    ENTITY_SET: ClassVar[str] = "Categories"
    KEY: ClassVar[tuple[str, ...]] = ("id",)

    id: int
    code: str | None = None
    default_name: str | None = None
    default_full_name: str | None = None
    is_active: bool | None = None


@attrs.frozen(kw_only=True)
class ClientPriceList(Entity):
    """``Application/ClientPriceLists``: a price list of the client (key ``PriceListId``)."""

    NAMESPACE: ClassVar[str] = "Application"
    ENTITY_SET: ClassVar[str] = "ClientPriceLists"
    KEY: ClassVar[tuple[str, ...]] = ("price_list_id",)

    price_list_id: int
    name: str | None = None
    agreement: str | None = None
    currency_id: int | None = None
    is_primary: bool | None = None
    is_active: bool | None = None
    price_list: dict[str, Any] | None = None


# ---------------------------------------------------------------- Core


@attrs.frozen(kw_only=True)
class Currency(Entity):
    """``Core/Currencies``: a currency and its EUR-based exchange rate (key ``Id``)."""

    NAMESPACE: ClassVar[str] = "Core"
    ENTITY_SET: ClassVar[str] = "Currencies"
    KEY: ClassVar[tuple[str, ...]] = ("id",)

    id: int
    code: str | None = None
    default_name: str | None = None
    exchange_rate: Decimal | None = None
