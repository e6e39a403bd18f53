"""Norce order contracts: the Order Receiver's ``OrderRequest``/``OrderResponse`` and the
Connect Order service requests (invoices, credits, delivery notes, statuses, cancels,
POS shipments).

They mirror the public .NET contracts (``Storm.Connect.Contracts``, ``Order/*.cs``) and
the docs.norce.io pages summarised in the reference. Attributes are snake_case; the one
converter writes PascalCase (irregular names such as ``DoSMSNotify`` and ``SSN`` come
from field metadata).

Rules every model follows (see :mod:`norce_integration.orders` for the OPEN points):

* Every field defaults to :data:`~norce_integration.UNSET` (not sent). A field typed
  ``X | Unset`` (no ``None``) is a .NET value type: ``null`` is rejected when parsing.
* Unknown keys are kept in ``extra`` and written back, in the order they arrived:
  ``Model.from_json(b).to_json() == b`` for compact JSON in the contract's casing
  (``Decimal`` exact, dates in their original text).
* Known keys are matched case-insensitively, and the docs' spellings are accepted
  (``PriceListCodes``, ``DeliverynoteItems``, the legacy ``InoviceNo``); the contract
  casing is what is written.
* Open enums: an unknown :class:`OrderStatus`/:class:`OrderType` integer becomes
  ``UNKNOWN_<n>``, an unknown name stays a ``str``; an unknown item ``Type``/
  ``TypeGroup`` or response ``StatusCode`` string becomes a pseudo-member with that
  exact value. Nothing Norce sends is lost, nothing crashes.
* Bad input raises :class:`~norce_integration.orders.OrderValidationError` with the
  JSON path of each wrong field (``$.Items[2].Quantity``).
* Required-field and max-length rules of the docs are not enforced when parsing (the
  docs and the contracts disagree on several; see the reference §2.5).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Self

import attrs

from .._convert import WIRE_NAME
from .._types import UNSET, Unset
from ._codec import (
    ALIASES,
    ENUM_OPTIONS,
    OpenIntEnum,
    OpenStrEnum,
    OrderModel,
    WireOptions,
    format_datetime,
    parse_datetime,
    register,
)


__all__ = [
    "Address",
    "CancelOrderRequest",
    "ClientCustomer",
    "CodeValue",
    "Company",
    "DeliveryNote",
    "DeliveryNoteItem",
    "DeliveryNotePackage",
    "Discount",
    "ExternalOrder",
    "Fee",
    "Header",
    "Invoice",
    "InvoiceItem",
    "OrderInfo",
    "OrderItem",
    "OrderItemStatus",
    "OrderItemType",
    "OrderItemTypeGroup",
    "OrderModel",
    "OrderRequest",
    "OrderResponse",
    "OrderResponseStatus",
    "OrderStatus",
    "OrderType",
    "Payment",
    "Person",
    "PickupStore",
    "PriceListItem",
    "Promotion",
    "SendOrderStatusRequest",
    "Shipment",
    "ShipmentItem",
    "ShipmentPackage",
    "ShippingAdvice",
    "WarehouseTransaction",
    "WarehouseTransactionItem",
    "WireOptions",
    "format_datetime",
    "parse_datetime",
]


def _aka(*names: str) -> dict[str, tuple[str, ...]]:
    return {ALIASES: names}


# ---------------------------------------------------------------------------------------
# Enums
# ---------------------------------------------------------------------------------------


class OrderStatus(OpenIntEnum):
    """Status of an order (contract ``OrderStatus``), as sent by ``SendOrderStatus``.

    Written as the name by default (the docs send ``"Confirmed"``); set
    ``WireOptions(order_status="int")`` to send integers (OPEN QUESTION whether Norce
    accepts them). ``Created`` (0) exists in the contract since 2023 but is missing from
    the operation page's enum.
    """

    Created = 0
    Allocation = 1
    Confirmed = 2
    BackOrder = 3
    Delivered = 4
    Invoiced = 5
    Cancelled = 6
    CreditControl = 7
    PartlyDelivered = 8
    Acknowledged = 9
    ErpConfirmed = 10
    ReadyForPickup = 11
    PickedUp = 12
    NotPickedUp = 13
    OnHold = 14
    WaitingForCancel = 15
    WaitingForOnHoldRemoved = 16
    CancelError = 17
    AcknowledgementError = 18
    ReadyForReservation = 19
    Reserved = 20


class OrderType(OpenIntEnum):
    """Type of an order (contract ``OrderTypes``); the docs list 1, 3 and 5 for orders.

    Written as the integer by default (as documented); ``WireOptions(order_type="name")``
    writes names.
    """

    Order = 1
    PurchaseOrder = 2
    RecurringOrder = 3
    RecurringOrderTemplate = 4
    ExternalOrder = 5


ENUM_OPTIONS[OrderStatus] = "order_status"
ENUM_OPTIONS[OrderType] = "order_type"


class OrderItemType(OpenStrEnum):
    """``OrderItem.Type`` (a string in the contract; values from the docs)."""

    Undefined = "Undefined"
    ErpStandard = "ErpStandard"
    Refurbished = "Refurbished"
    Freight = "Freight"
    Insurance = "Insurance"
    GiftCertificate = "GiftCertificate"
    Bid = "Bid"
    Download = "Download"
    Structure = "Structure"
    Invoice = "Invoice"


class OrderItemTypeGroup(OpenStrEnum):
    """``OrderItem.TypeGroup`` (a string in the contract; values from the docs)."""

    Undefined = "Undefined"
    Physical = "Physical"
    Virtual = "Virtual"
    Fee = "Fee"
    Service = "Service"
    AddedFee = "AddedFee"


class OrderResponseStatus(OpenStrEnum):
    """``OrderResponse.StatusCode``: ``"OK"`` or ``"Failed"``."""

    OK = "OK"
    Failed = "Failed"


# ---------------------------------------------------------------------------------------
# Shared parts
# ---------------------------------------------------------------------------------------


@attrs.define(kw_only=True)
class CodeValue(OrderModel):
    """An ``AdditionalInfo`` entry (contract ``CodeValue``; XML item name ``Value``).

    Attributes:
        id: Info id.
        code: Obsolete in the contract ("has wrong values"): use ``code2``.
        value: The value.
        code2: The real code.
    """

    id: int | Unset = UNSET
    code: str | Unset | None = UNSET
    value: str | Unset | None = UNSET
    code2: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class Address(OrderModel):
    """An address. ``country`` is ISO 3166-1 alpha-2; ``type`` is always null (deprecated)."""

    type: str | Unset | None = UNSET
    line1: str | Unset | None = UNSET
    line2: str | Unset | None = UNSET
    box: str | Unset | None = UNSET
    zip_code: str | Unset | None = UNSET
    city: str | Unset | None = UNSET
    region: str | Unset | None = UNSET
    country: str | Unset | None = UNSET
    care_of: str | Unset | None = UNSET
    shipping_phone_number: str | Unset | None = UNSET
    gln: str | Unset | None = attrs.field(default=UNSET, metadata={WIRE_NAME: "Gln"})


@attrs.define(kw_only=True)
class Company(OrderModel):
    """A buying company. Everything but ``code``, ``name`` and ``vat_no`` is deprecated.

    ``pricelist_codes``/``pricelist_limit`` are written in the contract casing
    (``PricelistCodes``); the docs' ``PriceListCodes``/``PriceListLimit`` are accepted.
    """

    code: str | Unset | None = UNSET
    name: str | Unset | None = UNSET
    vat_no: str | Unset | None = attrs.field(default=UNSET, metadata={WIRE_NAME: "VatNo"})
    phone: str | Unset | None = UNSET
    fax: str | Unset | None = UNSET
    email: str | Unset | None = UNSET
    addresses: list[Address] | Unset | None = UNSET
    pricelist_codes: list[str] | Unset | None = attrs.field(
        default=UNSET, metadata={WIRE_NAME: "PricelistCodes", **_aka("PriceListCodes")}
    )
    pricelist_limit: bool | Unset = attrs.field(
        default=UNSET, metadata={WIRE_NAME: "PricelistLimit", **_aka("PriceListLimit")}
    )
    payment_codes: list[str] | Unset | None = UNSET
    payment_code_limit: bool | Unset = UNSET
    delivery_codes: list[str] | Unset | None = UNSET
    delivery_code_limit: bool | Unset = UNSET
    is_active: bool | Unset | None = UNSET
    additional_info: list[CodeValue] | Unset | None = UNSET


@attrs.define(kw_only=True)
class Person(OrderModel):
    """A person (contract class ``Order.Customer``, wire member ``Person``)."""

    customer_code: str | Unset | None = UNSET
    company_code: str | Unset | None = UNSET
    first_name: str | Unset | None = UNSET
    last_name: str | Unset | None = UNSET
    job_title: str | Unset | None = UNSET
    private_phone: str | Unset | None = UNSET
    cell_phone: str | Unset | None = UNSET
    work_phone: str | Unset | None = UNSET
    email: str | Unset | None = UNSET
    ssn: str | Unset | None = attrs.field(default=UNSET, metadata={WIRE_NAME: "SSN"})
    address: Address | Unset | None = UNSET
    additional_info: list[CodeValue] | Unset | None = UNSET
    is_active: bool | Unset | None = UNSET


@attrs.define(kw_only=True)
class ClientCustomer(OrderModel):
    """Buyer, payer or ship-to: a company, a person, or both."""

    company: Company | Unset | None = UNSET
    person: Person | Unset | None = UNSET


@attrs.define(kw_only=True)
class Payment(OrderModel):
    """A payment reservation ("Either PaymentCode or PaymentRef must be provided").

    The contract extends ``Entity`` (Storm.Contracts.Message); its members, if Norce
    sends them, are kept in ``extra``.

    Attributes:
        payment_code: Used for payment matching (an ``int`` here; the
            ``OrderPaymentReceivedEvent`` sends it as a string).
        payment_method_code: The ERP's payment method code, configured in Norce.
        payment_ref: The PSP's transaction id.
        amount: Paid or reserved amount including VAT, after rounding.
        currency_code: ISO 4217.
        additional_info: PSP-specific information.
        payment_name: The method chosen at the PSP (``Card``, ``Swish``, ...).
    """

    payment_code: int | Unset = UNSET
    payment_method_code: str | Unset | None = UNSET
    payment_ref: str | Unset | None = UNSET
    amount: Decimal | Unset = UNSET
    currency_code: str | Unset | None = UNSET
    additional_info: list[CodeValue] | Unset | None = UNSET
    payment_name: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class Discount(OrderModel):
    """An order discount not on an order line (rarely used); ``code`` matches it."""

    type: str | Unset | None = UNSET
    code: str | Unset | None = UNSET
    amount: Decimal | Unset = UNSET


@attrs.define(kw_only=True)
class Fee(OrderModel):
    """An order fee (rarely used: fees are usually items with TypeGroup ``Fee``).

    ``type`` is a string in the contract but an integer in the docs (0 = Shipping,
    1 = Invoice): either is accepted and written back as it came.
    """

    type: str | int | Unset | None = UNSET
    description: str | Unset | None = UNSET
    amount: Decimal | Unset = UNSET
    vat_rate: Decimal | Unset = UNSET


@attrs.define(kw_only=True)
class PickupStore(OrderModel):
    """The store or drop point an order is collected from."""

    code: str | Unset | None = UNSET
    name: str | Unset | None = UNSET
    additional_info: list[CodeValue] | Unset | None = UNSET
    is_drop_point: bool | Unset = UNSET
    address: Address | Unset | None = UNSET


@attrs.define(kw_only=True)
class ShippingAdvice(OrderModel):
    """How the order is shipped; ``is_complete`` means no partial deliveries."""

    delivery_method_code: str | Unset | None = UNSET
    do_sms_notify: bool | Unset = attrs.field(default=UNSET, metadata={WIRE_NAME: "DoSMSNotify"})
    pickup_store: PickupStore | Unset | None = UNSET
    is_fee_charged_once: bool | Unset = UNSET
    is_complete: bool | Unset = UNSET
    ship_advisor_order_code: str | Unset | None = UNSET
    tms_reference: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class PriceListItem(OrderModel):
    """A price list an item's original price is based on (XML item name ``Pricelist``)."""

    price_list_name: str | Unset | None = UNSET
    qty_break: int | Unset = UNSET
    unit_price: Decimal | Unset = UNSET
    is_standard_price_list: bool | Unset = UNSET
    is_active: bool | Unset = UNSET


@attrs.define(kw_only=True)
class Promotion(OrderModel):
    """A promotion applied to an item."""

    id: str | Unset | None = UNSET
    name: str | Unset | None = UNSET
    discount_code: str | Unset | None = UNSET
    applied_amount: Decimal | Unset = UNSET


@attrs.define(kw_only=True)
class OrderItem(OrderModel):
    """An order row (products, and fees such as freight).

    Prices exclude VAT; ``unit_vat`` is the VAT of one item, ``vat_rate`` in percent.
    ``quantity2`` carries non-integer quantities. ``unit_price_original_vat`` is in the
    docs but not in the contract.
    """

    line_no: int | Unset = UNSET
    parent_line_no: int | Unset | None = UNSET
    type: OrderItemType | Unset | None = UNSET
    type_group: OrderItemTypeGroup | Unset | None = UNSET
    part_no: str | Unset | None = UNSET
    erp_part_no: str | Unset | None = UNSET
    internal_product_id: int | Unset = UNSET
    description: str | Unset | None = UNSET
    quantity: int | Unset = UNSET
    unit_of_measure: str | Unset | None = UNSET
    unit_price: Decimal | Unset = UNSET
    unit_price_original: Decimal | Unset = UNSET
    discount: Decimal | Unset = UNSET
    unit_vat: Decimal | Unset = UNSET
    price_list_no: int | Unset | None = UNSET
    vat_rate: Decimal | Unset = UNSET
    comment: str | Unset | None = UNSET
    additional_info: list[CodeValue] | Unset | None = UNSET
    price_lists: list[PriceListItem] | Unset | None = UNSET
    promotions: list[Promotion] | Unset | None = UNSET
    manufacturer_code: str | Unset | None = UNSET
    quantity2: Decimal | Unset | None = UNSET
    unit_price_original_vat: Decimal | Unset = UNSET


@attrs.define(kw_only=True)
class Header(OrderModel):
    """``Order.Header``: ``application_key`` is the application the order came from."""

    application_key: uuid.UUID | Unset | None = UNSET


# ---------------------------------------------------------------------------------------
# Order Receiver: what Norce pushes and what it expects back
# ---------------------------------------------------------------------------------------


@attrs.define(kw_only=True)
class OrderRequest(OrderModel):
    """The order Norce pushes to the Order Receiver (contract ``OrderRequest``).

    ``client_order_ref`` is a **string** here (the basket id, or the external source's
    number) but an integer in the Connect requests (:class:`Invoice`,
    :class:`SendOrderStatusRequest`, :class:`CancelOrderRequest`). Deduplicate retried
    pushes on it (and ``header.application_key`` when one ERP serves several
    applications). ``submit_date``, ``source``, ``customer_invoice_ref`` and
    ``discount_code`` are in the contract; whether Norce Commerce sends them is OPEN.
    """

    sell_to: ClientCustomer | Unset | None = UNSET
    bill_to: ClientCustomer | Unset | None = UNSET
    ship_to: ClientCustomer | Unset | None = UNSET
    sales_contact_code: str | Unset | None = UNSET
    sales_contact_division: str | Unset | None = UNSET
    do_hold: bool | Unset = UNSET
    client_order_ref: str | Unset | None = UNSET
    erp_order_no: str | Unset | None = UNSET
    customer_order_ref: str | Unset | None = UNSET
    customer_order_comment: str | Unset | None = UNSET
    submit_date: dt.datetime | Unset = UNSET
    currency_code: str | Unset | None = UNSET
    refer_id: int | Unset | None = UNSET
    payments: list[Payment] | Unset | None = UNSET
    discounts: list[Discount] | Unset | None = UNSET
    shipping_advice: ShippingAdvice | Unset | None = UNSET
    items: list[OrderItem] | Unset | None = UNSET
    fees: list[Fee] | Unset | None = UNSET
    additional_info: list[CodeValue] | Unset | None = UNSET
    header: Header | Unset | None = UNSET
    order_type: OrderType | str | Unset = UNSET
    source: str | Unset | None = UNSET
    customer_invoice_ref: str | Unset | None = UNSET
    discount_code: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class OrderResponse(OrderModel):
    """The Order Receiver's answer: ``StatusCode`` ``OK`` or ``Failed``.

    Build it with :meth:`ok` or :meth:`failed`. Whether Norce also looks at the HTTP
    status, and whether ``Failed`` makes it retry or alert support, is OPEN.
    """

    status_code: OrderResponseStatus | Unset | None = UNSET
    description: str | Unset | None = UNSET
    has_erp_order_no: bool | Unset = UNSET
    erp_order_no: str | Unset | None = UNSET

    @classmethod
    def ok(cls, erp_order_no: str | None = None, *, description: str | None = None) -> Self:
        """Accepted; ``has_erp_order_no`` says whether an ERP order number is given."""
        return cls(
            status_code=OrderResponseStatus.OK,
            description=description,
            has_erp_order_no=erp_order_no is not None,
            erp_order_no=erp_order_no,
        )

    @classmethod
    def failed(cls, description: str) -> Self:
        """Not taken; ``description`` says why (Norce retries for a limited period)."""
        return cls(
            status_code=OrderResponseStatus.Failed,
            description=description,
            has_erp_order_no=False,
            erp_order_no=None,
        )

    @property
    def is_ok(self) -> bool:
        """Whether ``status_code`` is ``OK``."""
        return self.status_code == OrderResponseStatus.OK


# ---------------------------------------------------------------------------------------
# Connect Order service requests (ERP → Norce)
# ---------------------------------------------------------------------------------------


@attrs.define(kw_only=True)
class InvoiceItem(OrderModel):
    """An invoice row ("mandatory for PSP capture"). ``line_no`` is a decimal."""

    line_no: Decimal | Unset = UNSET
    part_no: str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    quantity: int | Unset = UNSET
    unit_price: Decimal | Unset = UNSET
    sale_price: Decimal | Unset | None = UNSET
    line_amount: Decimal | Unset = UNSET
    unit_vat: Decimal | Unset = UNSET
    price_list: str | Unset | None = UNSET
    vat_rate: Decimal | Unset = UNSET
    discount: Decimal | Unset | None = UNSET
    product_name: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class Invoice(OrderModel):
    """Body of ``CreateInvoice`` and ``CreditPayment`` (a credit names ``credited_invoice_no``).

    ``client_order_ref`` is an **integer** here (the basket id). ``invoice_no`` "must be
    unique"; the legacy sample's misspelling ``InoviceNo`` is accepted when parsing.
    ``total_amount`` and ``vat_round_off`` are obsolete (use ``payment.amount``).
    ``is_last_invoice_for_order=None`` counts as true.
    """

    invoice_no: str | Unset | None = attrs.field(default=UNSET, metadata=_aka("InoviceNo"))
    client_order_ref: int | Unset = UNSET
    erp_order_no: str | Unset | None = UNSET
    delivery_date: dt.datetime | Unset = UNSET
    invoice_date: dt.datetime | Unset = UNSET
    invoice_due_date: dt.datetime | Unset = UNSET
    payment: Payment | Unset | None = UNSET
    currency_code: str | Unset | None = UNSET
    total_amount: Decimal | Unset = UNSET
    invoice_round_off: Decimal | Unset = UNSET
    vat: Decimal | Unset = UNSET
    vat_round_off: Decimal | Unset | None = UNSET
    items: list[InvoiceItem] | Unset | None = UNSET
    name: str | Unset | None = UNSET
    address_line1: str | Unset | None = UNSET
    address_line2: str | Unset | None = UNSET
    zip_code: str | Unset | None = UNSET
    city: str | Unset | None = UNSET
    application_key: uuid.UUID | Unset | None = UNSET
    is_last_invoice_for_order: bool | Unset | None = UNSET
    credited_invoice_no: str | Unset | None = UNSET
    comment: str | Unset | None = UNSET
    attention: str | Unset | None = UNSET
    care_of: str | Unset | None = UNSET
    region: str | Unset | None = UNSET
    country: str | Unset | None = UNSET
    group_code: str | Unset | None = UNSET
    gln: str | Unset | None = attrs.field(default=UNSET, metadata={WIRE_NAME: "Gln"})
    payment_method_code: str | Unset | None = UNSET
    payment_method_name: str | Unset | None = UNSET
    suppress_psp_call: bool | Unset = UNSET
    culture_code: str | Unset | None = UNSET
    country_code: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class DeliveryNoteItem(OrderModel):
    """A delivered row: ``item_no`` is the part number, ``qty`` the quantity shipped."""

    id: int | Unset | None = UNSET
    row_number: Decimal | Unset = UNSET
    item_no: str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    qty: Decimal | Unset = UNSET
    comment: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class DeliveryNotePackage(OrderModel):
    """A parcel: ``parcel_number`` is the tracking number; ``status_id`` e.g. 4 Delivered."""

    id: int | Unset | None = UNSET
    parcel_number: str | Unset | None = UNSET
    status_id: int | Unset = UNSET


@attrs.define(kw_only=True)
class DeliveryNote(OrderModel):
    """Body of ``CreateDeliveryNote``.

    ``delivery_note_items`` is written ``DeliveryNoteItems`` (contract); the docs
    sample's ``DeliverynoteItems`` is accepted. INFERRED: ``order_no``, ``note_no`` and
    ``delivery_date`` are the required fields, ``order_no`` the ERP order number and
    ``status_id`` an :class:`OrderStatus` integer (kept an ``int``).
    """

    order_no: str | Unset | None = UNSET
    note_no: str | Unset | None = UNSET
    buyer_company_code: str | Unset | None = UNSET
    buyer_customer_code: str | Unset | None = UNSET
    delivery_address: Address | Unset | None = UNSET
    delivery_date: dt.datetime | Unset = UNSET
    is_printed: bool | Unset | None = UNSET
    delivery_name: str | Unset | None = UNSET
    delivery_attention: str | Unset | None = UNSET
    delivery_mode: str | Unset | None = UNSET
    note_text: str | Unset | None = UNSET
    division_code: str | Unset | None = UNSET
    status_id: int | Unset = UNSET
    delivery_note_packages: list[DeliveryNotePackage] | Unset | None = UNSET
    delivery_note_items: list[DeliveryNoteItem] | Unset | None = attrs.field(
        default=UNSET, metadata=_aka("DeliverynoteItems")
    )


@attrs.define(kw_only=True)
class OrderInfo(OrderModel):
    """An order info field of ``SendOrderStatusRequest.Infos`` (``code`` matches it)."""

    code: str | Unset | None = UNSET
    value: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class OrderItemStatus(OrderModel):
    """A per-row status (contract only: whether Norce honours it is OPEN)."""

    line_no: str | Unset | None = UNSET
    item_status: OrderStatus | str | Unset | None = UNSET


@attrs.define(kw_only=True)
class SendOrderStatusRequest(OrderModel):
    """Body of ``SendOrderStatus``.

    ``client_order_ref`` is an **integer** here. The schema says "either ClientOrderRef
    or ErpOrderNo", the operation page marks both required: send both. ``order_status``
    is written as a name by default (see :class:`WireOptions`).
    """

    client_order_ref: int | Unset = UNSET
    erp_order_no: str | Unset | None = UNSET
    infos: list[OrderInfo] | Unset | None = UNSET
    order_status: OrderStatus | str | Unset = UNSET
    account_id: int | Unset | None = UNSET
    item_statuses: list[OrderItemStatus] | Unset | None = UNSET


@attrs.define(kw_only=True)
class CancelOrderRequest(OrderModel):
    """Body of ``CancelOrder``; each given payment (``payment_ref`` required) is cancelled.

    ``client_order_ref`` is an **integer** here.
    """

    client_order_ref: int | Unset = UNSET
    erp_order_no: str | Unset | None = UNSET
    payments: list[Payment] | Unset | None = UNSET


@attrs.define(kw_only=True)
class ShipmentItem(OrderModel):
    """A shipped row; ``price`` is deprecated ("use PurchaseCost")."""

    line_no: int | Unset = UNSET
    part_no: str | Unset | None = UNSET
    name: str | Unset | None = UNSET
    quantity: int | Unset = UNSET
    price: Decimal | Unset | None = UNSET
    purchase_cost: Decimal | Unset | None = UNSET
    unit_cost: Decimal | Unset | None = UNSET
    package_no: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class ShipmentPackage(OrderModel):
    """A package of a POS shipment."""

    package_no: str | Unset | None = UNSET
    barcode: str | Unset | None = UNSET
    comment: str | Unset | None = UNSET


@attrs.define(kw_only=True)
class Shipment(OrderModel):
    """Body of ``SendPosShipment`` (needs a POS integration through Norce).

    The docs mark the first six fields required but also say "Either DeliveryNoteNo or
    InvoiceNo and Items must be provided": nothing is enforced here.
    """

    application_key: uuid.UUID | Unset = UNSET
    shipment_no: str | Unset | None = UNSET
    delivery_note_no: str | Unset | None = UNSET
    invoice_no: str | Unset | None = UNSET
    source_warehouse_code: str | Unset | None = UNSET
    target_warehouse_code: str | Unset | None = UNSET
    comment: str | Unset | None = UNSET
    shipment_warehouse: Address | Unset | None = UNSET
    target_warehouse_address: Address | Unset | None = UNSET
    items: list[ShipmentItem] | Unset | None = UNSET
    carrier_name: str | Unset | None = UNSET
    carrier_reference: str | Unset | None = UNSET
    carrier_tracking_url: str | Unset | None = UNSET
    sender_name: str | Unset | None = UNSET
    receiver_name: str | Unset | None = UNSET
    barcode: str | Unset | None = UNSET
    shipment_packages: list[ShipmentPackage] | Unset | None = UNSET


@attrs.define(kw_only=True)
class WarehouseTransactionItem(OrderModel):
    """A row of a warehouse transaction."""

    line_number: Decimal | Unset = UNSET
    part_no: str | Unset | None = UNSET
    qty: Decimal | Unset = UNSET
    amount: Decimal | Unset = UNSET
    remaining_qty: Decimal | Unset | None = UNSET
    remaining_amount: Decimal | Unset | None = UNSET


@attrs.define(kw_only=True)
class WarehouseTransaction(OrderModel):
    """``CreateWarehouseTransaction`` body: information only in Norce.

    The contract and schema exist; whether Norce Commerce exposes the operation is OPEN,
    so the client has no method for it.
    """

    transaction_no: str | Unset | None = UNSET
    transaction_date: dt.datetime | Unset = UNSET
    warehouse_code: str | Unset | None = UNSET
    location_code: str | Unset | None = UNSET
    type: str | Unset | None = UNSET
    order_no: str | Unset | None = UNSET
    purchase_order_no: str | Unset | None = UNSET
    delivery_note_no: str | Unset | None = UNSET
    external_reference: str | Unset | None = UNSET
    reason_code: str | Unset | None = UNSET
    comment: str | Unset | None = UNSET
    items: list[WarehouseTransactionItem] | Unset | None = UNSET


@attrs.define(kw_only=True)
class ExternalOrder(OrderModel):
    """``CreateExternalOrder`` body (contract only, not in the docs: OPEN; no client method)."""

    header: Header | Unset | None = UNSET
    order_date: dt.datetime | Unset = UNSET
    sell_to: ClientCustomer | Unset | None = UNSET
    bill_to: ClientCustomer | Unset | None = UNSET
    ship_to: ClientCustomer | Unset | None = UNSET
    sales_division_code: str | Unset | None = UNSET
    sales_contact_code: str | Unset | None = UNSET
    delivery_division_code: str | Unset | None = UNSET
    erp_order_no: str | Unset | None = UNSET
    customer_order_ref: str | Unset | None = UNSET
    customer_order_comment: str | Unset | None = UNSET
    invoices: list[Invoice] | Unset | None = UNSET
    currency_code: str | Unset | None = UNSET
    shipping_advice: ShippingAdvice | Unset | None = UNSET
    items: list[OrderItem] | Unset | None = UNSET
    additional_info: list[CodeValue] | Unset | None = UNSET
    source: str | Unset | None = UNSET


MODELS: tuple[type[OrderModel], ...] = (
    Address,
    CancelOrderRequest,
    ClientCustomer,
    CodeValue,
    Company,
    DeliveryNote,
    DeliveryNoteItem,
    DeliveryNotePackage,
    Discount,
    ExternalOrder,
    Fee,
    Header,
    Invoice,
    InvoiceItem,
    OrderInfo,
    OrderItem,
    OrderItemStatus,
    OrderRequest,
    OrderResponse,
    Payment,
    Person,
    PickupStore,
    PriceListItem,
    Promotion,
    SendOrderStatusRequest,
    Shipment,
    ShipmentItem,
    ShipmentPackage,
    ShippingAdvice,
    WarehouseTransaction,
    WarehouseTransactionItem,
)
"""Every order contract (each one registered on the one converter)."""

register(*MODELS)
