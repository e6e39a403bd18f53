"""The 18 Norce Commerce Event payloads (reference §3.5) as attrs models.

Payloads carry ids, not data: the pattern is event → Query lookup → target (§3.9).
Attributes are snake_case; the wire names are PascalCase, with Norce's odd casings kept
(``PricelistId``, ``PricelistCode`` on :class:`SkuPriceChangedNotification`). Optional
fields are ``None`` when absent or ``null`` (Norce does not say which it sends).

Open sets never reject a value Norce may add later:

* :class:`EntityChanged` — the Norce table that fired (``tClientProductSku``…); a ``str``
  with :attr:`~EntityChanged.is_known`, checked against :data:`KNOWN_ENTITY_CHANGED`;
* :class:`InvoiceCaptureState` — ``Captured`` / ``Error`` / anything newer;
* ``JobCompletedEvent.status`` — :class:`~norce_integration.connect.models.JobStatus`,
  whose unknown integers become ``UNKNOWN_<n>`` members.

Each event names the entity it is about for coalescing (:attr:`NorceEvent.entity_key`)
and, where one Query entity matches, that entity (:attr:`NorceEvent.query_entity`) so a
handler can evict it from a :class:`~norce_integration.query.QueryCache`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar, TypeAlias

import attrs

from .._convert import WIRE_NAME
from ..connect.models import JobStatus


__all__ = [
    "ENTITY_CHANGED_BY_EVENT",
    "EVENT_CLASSES",
    "KNOWN_ENTITY_CHANGED",
    "CompanyChangedNotification",
    "CustomerChangedNotification",
    "EntityChanged",
    "Event",
    "EventType",
    "InvoiceCaptureCompletedEvent",
    "InvoiceCaptureState",
    "JobCompletedEvent",
    "JobStatus",
    "NorceEvent",
    "OrderCancelledEvent",
    "OrderConfirmedEvent",
    "OrderDeliveredEvent",
    "OrderEvent",
    "OrderPartlyDeliveredEvent",
    "OrderPaymentReceivedEvent",
    "OrderReadyForPickupEvent",
    "OrderReceivedEvent",
    "QueryEntity",
    "SkuChangedNotification",
    "SkuOnHandBreakPointNotification",
    "SkuPriceChangedNotification",
    "SubscriptionFailedEvent",
    "SupplierSkuChangedNotification",
    "SupplierSkuOnHandChangedNotification",
    "SupplierSkuPriceChangedNotification",
    "TranslationRequestedNotification",
    "UnknownEvent",
]

# Metadata key: how the parser checks a field (see ``_parse.py``).
KIND = "norce_event_kind"
QueryEntity: TypeAlias = tuple[str, str, object]


def _m(kind: str, wire: str | None = None) -> dict[str, str]:
    meta = {KIND: kind}
    if wire is not None:
        meta[WIRE_NAME] = wire
    return meta


class EventType(enum.StrEnum):
    """The 18 documented event types; values are Norce's exact names.

    Names compare case-insensitively through :meth:`lookup` (the compatibility kit
    lower-cases them, reference §3.8).
    """

    CustomerChangedNotification = "CustomerChangedNotification"
    CompanyChangedNotification = "CompanyChangedNotification"
    InvoiceCaptureCompletedEvent = "InvoiceCaptureCompletedEvent"
    OrderCancelledEvent = "OrderCancelledEvent"
    OrderConfirmedEvent = "OrderConfirmedEvent"
    OrderDeliveredEvent = "OrderDeliveredEvent"
    OrderPartlyDeliveredEvent = "OrderPartlyDeliveredEvent"
    OrderReadyForPickupEvent = "OrderReadyForPickupEvent"
    OrderPaymentReceivedEvent = "OrderPaymentReceivedEvent"
    OrderReceivedEvent = "OrderReceivedEvent"
    SubscriptionFailedEvent = "SubscriptionFailedEvent"
    SkuChangedNotification = "SkuChangedNotification"
    SkuPriceChangedNotification = "SkuPriceChangedNotification"
    SkuOnHandBreakPointNotification = "SkuOnHandBreakPointNotification"
    TranslationRequestedNotification = "TranslationRequestedNotification"
    SupplierSkuChangedNotification = "SupplierSkuChangedNotification"
    SupplierSkuOnHandChangedNotification = "SupplierSkuOnHandChangedNotification"
    SupplierSkuPriceChangedNotification = "SupplierSkuPriceChangedNotification"
    JobCompletedEvent = "JobCompletedEvent"

    @classmethod
    def lookup(cls, name: str) -> EventType | None:
        """The type named ``name`` in any letter case (surrounding spaces ignored)."""
        return _BY_LOWER.get(name.strip().lower())


_BY_LOWER: dict[str, EventType] = {t.value.lower(): t for t in EventType}


class _OpenStr(str):
    """A ``str`` from an open set: any value is accepted, known ones can be told apart."""

    __slots__ = ()
    KNOWN: ClassVar[frozenset[str]] = frozenset()

    @property
    def is_known(self) -> bool:
        """Whether the value is one the reference documents."""
        return str(self) in self.KNOWN

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


ENTITY_CHANGED_BY_EVENT: Mapping[EventType, frozenset[str]] = {
    EventType.CustomerChangedNotification: frozenset(
        {
            "tApplicationAccount",
            "tClientCustomer",
            "tClientCustomerAddress",
            "tClientCustomerDivision",
            "tClientCustomerFlag",
            "tClientCustomerInfo",
            "tClientCustomerPriceList",
        }
    ),
    EventType.CompanyChangedNotification: frozenset(
        {
            "tClientCompany",
            "tClientCompanyAddress",
            "tClientCompanyDeliveryMethod",
            "tClientCompanyDiscount",
            "tClientCompanyDivision",
            "tClientCompanyFlag",
            "tClientCompanyInfo",
            "tClientCompanyPaymentMethod",
            "tClientCompanyPriceList",
            "tClientCustomer",
            # One revision of the schema page also lists this one (reference §3.6).
            "tClientCustomerCompany",
        }
    ),
    EventType.SkuChangedNotification: frozenset(
        {
            "tApplicationPriceList",
            "tCategory",
            "tCategoryCulture",
            "tCategorySalesArea",
            "tClientManufacturer",
            "tClientProductSku",
            "tClientProductSkuCulture",
            "tClientProductSkuOnHand",
            "tClientProductSkuPriceList",
            "tClientProductSkuSalesArea",
        }
    ),
    EventType.SupplierSkuChangedNotification: frozenset(
        {"tSupplierProductSku", "tSupplierProductSkuClient"}
    ),
    EventType.SupplierSkuOnHandChangedNotification: frozenset({"tSupplierProductSkuOnHand"}),
    # TranslationRequestedNotification: values UNCONFIRMED (reference §3.6).
}
"""Documented ``EntityChanged`` values per event type (lists may grow: never reject)."""

KNOWN_ENTITY_CHANGED: frozenset[str] = frozenset().union(*ENTITY_CHANGED_BY_EVENT.values())
"""Every documented ``EntityChanged`` value."""


class EntityChanged(_OpenStr):
    """The Norce table whose change fired the event, e.g. ``tClientProductSku``.

    An open set: unknown table names are kept as they are; ``is_known`` tells them apart.
    It compares equal to the plain string.
    """

    __slots__ = ()
    KNOWN: ClassVar[frozenset[str]] = KNOWN_ENTITY_CHANGED


class InvoiceCaptureState(_OpenStr):
    """``InvoiceCaptureCompletedEvent.State``: ``Captured`` or ``Error`` (open set)."""

    __slots__ = ()
    KNOWN: ClassVar[frozenset[str]] = frozenset({"Captured", "Error"})

    @property
    def captured(self) -> bool:
        """Whether the invoice was captured."""
        return str(self) == "Captured"


# ---------------------------------------------------------------- base classes


@attrs.frozen(kw_only=True)
class NorceEvent:
    """Fields every event carries; ``ApplicationId`` is optional outside order events.

    Attributes:
        client_id: the Norce client (tenant) id.
        application_id: the application, when the event is application specific.
    """

    EVENT_TYPE: ClassVar[EventType]

    client_id: int = attrs.field(metadata=_m("int32"))
    application_id: int | None = attrs.field(default=None, metadata=_m("int32"))

    @property
    def event_type(self) -> EventType:
        """The event's type."""
        return self.EVENT_TYPE

    @property
    def entity_key(self) -> tuple[str, ...]:
        """What the event is about, for coalescing: ``("sku", "100011")``, ``("order", "5")``."""
        raise NotImplementedError

    @property
    def query_entity(self) -> QueryEntity | None:
        """``(namespace, entity_set, key)`` of the Query entity it is about, if one fits."""
        return None


@attrs.frozen(kw_only=True)
class OrderEvent(NorceEvent):
    """Base of the order lifecycle events that carry ``OrderId`` (int64)."""

    application_id: int = attrs.field(metadata=_m("int32"))
    order_id: int = attrs.field(metadata=_m("int64"))
    order_no: str = attrs.field(metadata=_m("str"))
    client_order_ref: str = attrs.field(metadata=_m("str"))
    cell_phone: str | None = attrs.field(default=None, metadata=_m("str"))
    first_name: str | None = attrs.field(default=None, metadata=_m("str"))
    last_name: str | None = attrs.field(default=None, metadata=_m("str"))
    source: str = attrs.field(metadata=_m("str"))

    @property
    def entity_key(self) -> tuple[str, ...]:
        """``("order", OrderId)``."""
        return ("order", str(self.order_id))

    @property
    def query_entity(self) -> QueryEntity:
        """``("Orders", "Orders", OrderId)``."""
        return ("Orders", "Orders", self.order_id)


# ---------------------------------------------------------------- customer


@attrs.frozen(kw_only=True)
class CustomerChangedNotification(NorceEvent):
    """A customer or one of its tables changed."""

    EVENT_TYPE: ClassVar[EventType] = EventType.CustomerChangedNotification

    customer_id: int = attrs.field(metadata=_m("int32"))
    entity_changed: EntityChanged = attrs.field(metadata=_m("entity_changed"))

    @property
    def entity_key(self) -> tuple[str, ...]:
        """``("customer", CustomerId)``."""
        return ("customer", str(self.customer_id))

    @property
    def query_entity(self) -> QueryEntity:
        """``("Customers", "Customers", CustomerId)``."""
        return ("Customers", "Customers", self.customer_id)


@attrs.frozen(kw_only=True)
class CompanyChangedNotification(NorceEvent):
    """A company or one of its tables changed."""

    EVENT_TYPE: ClassVar[EventType] = EventType.CompanyChangedNotification

    company_id: int = attrs.field(metadata=_m("int32"))
    entity_changed: EntityChanged = attrs.field(metadata=_m("entity_changed"))

    @property
    def entity_key(self) -> tuple[str, ...]:
        """``("company", CompanyId)``."""
        return ("company", str(self.company_id))


# ---------------------------------------------------------------- order


@attrs.frozen(kw_only=True)
class InvoiceCaptureCompletedEvent(NorceEvent):
    """The invoice-capture service captured an invoice, or failed to."""

    EVENT_TYPE: ClassVar[EventType] = EventType.InvoiceCaptureCompletedEvent

    application_id: int = attrs.field(metadata=_m("int32"))
    captured_invoice_id: int = attrs.field(metadata=_m("int32"))
    state: InvoiceCaptureState = attrs.field(metadata=_m("capture_state"))

    @property
    def entity_key(self) -> tuple[str, ...]:
        """``("invoice", CapturedInvoiceId)``."""
        return ("invoice", str(self.captured_invoice_id))


@attrs.frozen(kw_only=True)
class OrderCancelledEvent(OrderEvent):
    """A cancel request arrived through Admin or Connect v4."""

    EVENT_TYPE: ClassVar[EventType] = EventType.OrderCancelledEvent


@attrs.frozen(kw_only=True)
class OrderConfirmedEvent(OrderEvent):
    """The ERP confirmed the order; sent once per order."""

    EVENT_TYPE: ClassVar[EventType] = EventType.OrderConfirmedEvent


@attrs.frozen(kw_only=True)
class OrderDeliveredEvent(OrderEvent):
    """The order was delivered."""

    EVENT_TYPE: ClassVar[EventType] = EventType.OrderDeliveredEvent


@attrs.frozen(kw_only=True)
class OrderPartlyDeliveredEvent(OrderEvent):
    """Part of the order was delivered."""

    EVENT_TYPE: ClassVar[EventType] = EventType.OrderPartlyDeliveredEvent


@attrs.frozen(kw_only=True)
class OrderReadyForPickupEvent(OrderEvent):
    """The order can be picked up (at ``DropPointCode``)."""

    EVENT_TYPE: ClassVar[EventType] = EventType.OrderReadyForPickupEvent

    drop_point_code: str | None = attrs.field(default=None, metadata=_m("str"))


@attrs.frozen(kw_only=True)
class OrderPaymentReceivedEvent(NorceEvent):
    """A payment was received for an order (no ``OrderId``: keyed by ``ClientOrderRef``)."""

    EVENT_TYPE: ClassVar[EventType] = EventType.OrderPaymentReceivedEvent

    application_id: int = attrs.field(metadata=_m("int32"))
    client_order_ref: str = attrs.field(metadata=_m("str"))
    erp_order_no: str = attrs.field(metadata=_m("str"))
    payment_code: str = attrs.field(metadata=_m("str"))
    payment_method_code: str | None = attrs.field(default=None, metadata=_m("str"))
    payment_ref: str | None = attrs.field(default=None, metadata=_m("str"))
    amount: Decimal | None = attrs.field(default=None, metadata=_m("decimal"))
    currency_code: str | None = attrs.field(default=None, metadata=_m("str"))

    @property
    def entity_key(self) -> tuple[str, ...]:
        """``("order-ref", ClientOrderRef)``."""
        return ("order-ref", self.client_order_ref)


@attrs.frozen(kw_only=True)
class OrderReceivedEvent(NorceEvent):
    """Norce received an order (no ``OrderId``: keyed by ``ClientOrderRef``)."""

    EVENT_TYPE: ClassVar[EventType] = EventType.OrderReceivedEvent

    application_id: int = attrs.field(metadata=_m("int32"))
    client_order_ref: str = attrs.field(metadata=_m("str"))
    email: str | None = attrs.field(default=None, metadata=_m("str"))
    cell_phone: str | None = attrs.field(default=None, metadata=_m("str"))
    first_name: str | None = attrs.field(default=None, metadata=_m("str"))
    last_name: str | None = attrs.field(default=None, metadata=_m("str"))
    source: str = attrs.field(metadata=_m("str"))

    @property
    def entity_key(self) -> tuple[str, ...]:
        """``("order-ref", ClientOrderRef)``."""
        return ("order-ref", self.client_order_ref)


@attrs.frozen(kw_only=True)
class SubscriptionFailedEvent(NorceEvent):
    """A subscription (recurring order) failed."""

    EVENT_TYPE: ClassVar[EventType] = EventType.SubscriptionFailedEvent

    application_id: int = attrs.field(metadata=_m("int32"))
    subscription_id: int | None = attrs.field(default=None, metadata=_m("int32"))
    recurring_order_id: int | None = attrs.field(default=None, metadata=_m("int32"))
    recurring_order_schedule_id: int | None = attrs.field(default=None, metadata=_m("int32"))
    basket_id: int | None = attrs.field(default=None, metadata=_m("int32"))
    email: str | None = attrs.field(default=None, metadata=_m("str"))
    cell_phone: str | None = attrs.field(default=None, metadata=_m("str"))
    first_name: str | None = attrs.field(default=None, metadata=_m("str"))
    last_name: str | None = attrs.field(default=None, metadata=_m("str"))
    error_message: str | None = attrs.field(default=None, metadata=_m("str"))

    @property
    def entity_key(self) -> tuple[str, ...]:
        """``("subscription", SubscriptionId, RecurringOrderId, ScheduleId, BasketId)``.

        Every id is optional, so all of them identify the subscription ("" when absent).
        """
        ids = (
            self.subscription_id,
            self.recurring_order_id,
            self.recurring_order_schedule_id,
            self.basket_id,
        )
        return ("subscription", *("" if i is None else str(i) for i in ids))


# ---------------------------------------------------------------- product


@attrs.frozen(kw_only=True)
class SkuChangedNotification(NorceEvent):
    """A SKU or one of its tables changed."""

    EVENT_TYPE: ClassVar[EventType] = EventType.SkuChangedNotification

    part_no: str = attrs.field(metadata=_m("str"))
    entity_changed: EntityChanged = attrs.field(metadata=_m("entity_changed"))

    @property
    def entity_key(self) -> tuple[str, ...]:
        """``("sku", PartNo)``."""
        return ("sku", self.part_no)

    @property
    def query_entity(self) -> QueryEntity:
        """``("Products", "ProductSkus", PartNo)``."""
        return ("Products", "ProductSkus", self.part_no)


@attrs.frozen(kw_only=True)
class SkuPriceChangedNotification(NorceEvent):
    """A SKU's price in a price list changed (note Norce's ``PricelistId`` casing)."""

    EVENT_TYPE: ClassVar[EventType] = EventType.SkuPriceChangedNotification

    part_no: str = attrs.field(metadata=_m("str"))
    pricelist_id: int = attrs.field(metadata=_m("int32", "PricelistId"))
    pricelist_code: str | None = attrs.field(default=None, metadata=_m("str", "PricelistCode"))
    price_sale_value: Decimal = attrs.field(metadata=_m("decimal"))
    quantity_break: Decimal | None = attrs.field(default=None, metadata=_m("decimal"))

    @property
    def entity_key(self) -> tuple[str, ...]:
        """``("sku-price", PartNo, PricelistId)``."""
        return ("sku-price", self.part_no, str(self.pricelist_id))

    @property
    def query_entity(self) -> QueryEntity | None:
        """The ``ProductSkuPriceLists`` row, when ``QuantityBreak`` names it.

        ``PricelistId`` here is ``PriceListId`` in Query; the key order is
        (``PartNo``, ``PriceListId``, ``QtyBreak``).
        """
        if self.quantity_break is None:
            return None
        key = (self.part_no, self.pricelist_id, self.quantity_break)
        return ("Products", "ProductSkuPriceLists", key)


@attrs.frozen(kw_only=True)
class SkuOnHandBreakPointNotification(NorceEvent):
    """A SKU's on-hand value reached the configured minimum at a warehouse location."""

    EVENT_TYPE: ClassVar[EventType] = EventType.SkuOnHandBreakPointNotification

    part_no: str = attrs.field(metadata=_m("str"))
    warehouse_id: int = attrs.field(metadata=_m("int32"))
    warehouse_code: str | None = attrs.field(default=None, metadata=_m("str"))
    location_id: int = attrs.field(metadata=_m("int32"))
    location_code: str | None = attrs.field(default=None, metadata=_m("str"))
    on_hand_value: Decimal = attrs.field(metadata=_m("decimal"))
    minimum_value: Decimal = attrs.field(metadata=_m("decimal"))

    @property
    def entity_key(self) -> tuple[str, ...]:
        """``("sku-onhand", PartNo, WarehouseId, LocationId)``."""
        return ("sku-onhand", self.part_no, str(self.warehouse_id), str(self.location_id))


@attrs.frozen(kw_only=True)
class TranslationRequestedNotification(NorceEvent):
    """A translation of a SKU was requested (``EntityChanged`` values UNCONFIRMED)."""

    EVENT_TYPE: ClassVar[EventType] = EventType.TranslationRequestedNotification

    part_no: str = attrs.field(metadata=_m("str"))
    entity_changed: EntityChanged = attrs.field(metadata=_m("entity_changed"))

    @property
    def entity_key(self) -> tuple[str, ...]:
        """``("sku-translation", PartNo)``."""
        return ("sku-translation", self.part_no)


# ---------------------------------------------------------------- supplier


@attrs.frozen(kw_only=True)
class SupplierSkuChangedNotification(NorceEvent):
    """A supplier's SKU changed."""

    EVENT_TYPE: ClassVar[EventType] = EventType.SupplierSkuChangedNotification

    supplier_id: int = attrs.field(metadata=_m("int32"))
    part_no: str = attrs.field(metadata=_m("str"))
    entity_changed: EntityChanged = attrs.field(metadata=_m("entity_changed"))

    @property
    def entity_key(self) -> tuple[str, ...]:
        """``("supplier-sku", SupplierId, PartNo)``."""
        return ("supplier-sku", str(self.supplier_id), self.part_no)


@attrs.frozen(kw_only=True)
class SupplierSkuOnHandChangedNotification(NorceEvent):
    """A supplier's stock of a SKU changed."""

    EVENT_TYPE: ClassVar[EventType] = EventType.SupplierSkuOnHandChangedNotification

    supplier_id: int = attrs.field(metadata=_m("int32"))
    part_no: str = attrs.field(metadata=_m("str"))
    entity_changed: EntityChanged = attrs.field(metadata=_m("entity_changed"))

    @property
    def entity_key(self) -> tuple[str, ...]:
        """``("supplier-sku-onhand", SupplierId, PartNo)``."""
        return ("supplier-sku-onhand", str(self.supplier_id), self.part_no)


@attrs.frozen(kw_only=True)
class SupplierSkuPriceChangedNotification(NorceEvent):
    """A supplier's price of a SKU changed.

    The payload beyond ``SupplierId`` and ``PartNo`` is UNCONFIRMED (reference §3.5), so
    every other field is kept in :attr:`extra` as received.
    """

    EVENT_TYPE: ClassVar[EventType] = EventType.SupplierSkuPriceChangedNotification

    supplier_id: int = attrs.field(metadata=_m("int32"))
    part_no: str = attrs.field(metadata=_m("str"))
    extra: Mapping[str, Any] = attrs.field(factory=dict, metadata=_m("extra"), hash=False)

    @property
    def entity_key(self) -> tuple[str, ...]:
        """``("supplier-sku-price", SupplierId, PartNo)``."""
        return ("supplier-sku-price", str(self.supplier_id), self.part_no)


# ---------------------------------------------------------------- system


@attrs.frozen(kw_only=True)
class JobCompletedEvent(NorceEvent):
    """An internal Norce job (e.g. a Connect import) finished; ``JobId`` matches Connect's.

    ``status`` travels as ``StatusId``; in practice 2 (Succeeded), 3 (Failed) or
    4 (ValidationFailed). Unknown integers become ``JobStatus.UNKNOWN_<n>``.
    """

    EVENT_TYPE: ClassVar[EventType] = EventType.JobCompletedEvent

    job_id: int = attrs.field(metadata=_m("int32"))
    status: JobStatus = attrs.field(metadata=_m("job_status", "StatusId"))

    @property
    def entity_key(self) -> tuple[str, ...]:
        """``("job", JobId)``."""
        return ("job", str(self.job_id))


# ---------------------------------------------------------------- unknown types


@attrs.frozen(kw_only=True)
class UnknownEvent:
    """An event type this SDK does not know (e.g. ``ExportDeliveredEvent`` from the kit).

    Attributes:
        event_type: the type name as received.
        body: the JSON object as received (numbers with a fraction are ``Decimal``).
        raw: the body's bytes as received (UTF-8 JSON of ``body`` for a mapping).
    """

    event_type: str
    body: Mapping[str, Any] = attrs.field(hash=False)
    raw: bytes = attrs.field(repr=False)

    @property
    def entity_key(self) -> tuple[str, ...]:
        """``("event", type, sha256)``: unknown events are only coalesced when identical."""
        from ._parse import dedup_key  # noqa: PLC0415 - _parse imports this module

        return ("event", self.event_type.lower(), dedup_key(self.event_type, self.body))

    @property
    def query_entity(self) -> QueryEntity | None:
        """Always ``None``: nothing is known about the entity."""
        return None


Event: TypeAlias = (
    CustomerChangedNotification
    | CompanyChangedNotification
    | InvoiceCaptureCompletedEvent
    | OrderCancelledEvent
    | OrderConfirmedEvent
    | OrderDeliveredEvent
    | OrderPartlyDeliveredEvent
    | OrderReadyForPickupEvent
    | OrderPaymentReceivedEvent
    | OrderReceivedEvent
    | SubscriptionFailedEvent
    | SkuChangedNotification
    | SkuPriceChangedNotification
    | SkuOnHandBreakPointNotification
    | TranslationRequestedNotification
    | SupplierSkuChangedNotification
    | SupplierSkuOnHandChangedNotification
    | SupplierSkuPriceChangedNotification
    | JobCompletedEvent
    | UnknownEvent
)
"""What :func:`~norce_integration.event.parse_event` returns: ``match`` on it."""

EVENT_CLASSES: Mapping[EventType, type[NorceEvent]] = {
    cls.EVENT_TYPE: cls
    for cls in (
        CustomerChangedNotification,
        CompanyChangedNotification,
        InvoiceCaptureCompletedEvent,
        OrderCancelledEvent,
        OrderConfirmedEvent,
        OrderDeliveredEvent,
        OrderPartlyDeliveredEvent,
        OrderReadyForPickupEvent,
        OrderPaymentReceivedEvent,
        OrderReceivedEvent,
        SubscriptionFailedEvent,
        SkuChangedNotification,
        SkuPriceChangedNotification,
        SkuOnHandBreakPointNotification,
        TranslationRequestedNotification,
        SupplierSkuChangedNotification,
        SupplierSkuOnHandChangedNotification,
        SupplierSkuPriceChangedNotification,
        JobCompletedEvent,
    )
}
