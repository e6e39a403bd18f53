"""Event contracts: all event types, required/optional fields, open enums, errors."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from norce_integration import EventParseError
from norce_integration.event import (
    ENTITY_CHANGED_BY_EVENT,
    EVENT_CLASSES,
    CompanyChangedNotification,
    CustomerChangedNotification,
    EntityChanged,
    EventType,
    InvoiceCaptureCompletedEvent,
    InvoiceCaptureState,
    JobCompletedEvent,
    JobStatus,
    OrderCancelledEvent,
    OrderConfirmedEvent,
    OrderDeliveredEvent,
    OrderPartlyDeliveredEvent,
    OrderPaymentReceivedEvent,
    OrderReadyForPickupEvent,
    OrderReceivedEvent,
    SkuChangedNotification,
    SkuOnHandBreakPointNotification,
    SkuPriceChangedNotification,
    SubscriptionFailedEvent,
    SupplierSkuChangedNotification,
    SupplierSkuOnHandChangedNotification,
    SupplierSkuPriceChangedNotification,
    TranslationRequestedNotification,
    UnknownEvent,
    parse_event,
)


ORDER = {
    "ClientId": 1042,
    "ApplicationId": 1042,
    "OrderId": 123456789,
    "OrderNo": "A-1",
    "ClientOrderRef": "98765",
    "CellPhone": None,
    "FirstName": "Ada",
    "LastName": "Lovelace",
    "Source": "WEB",
}

# One complete payload per type (reference §3.5), with every documented field.
FULL: dict[str, dict[str, object]] = {
    "CustomerChangedNotification": {
        "ClientId": 1042,
        "ApplicationId": 1042,
        "CustomerId": 5,
        "EntityChanged": "tClientCustomer",
    },
    "CompanyChangedNotification": {
        "ClientId": 1042,
        "ApplicationId": None,
        "CompanyId": 6,
        "EntityChanged": "tClientCompany",
    },
    "InvoiceCaptureCompletedEvent": {
        "ClientId": 1042,
        "ApplicationId": 1042,
        "CapturedInvoiceId": 77,
        "State": "Captured",
    },
    "OrderCancelledEvent": ORDER,
    "OrderConfirmedEvent": ORDER,
    "OrderDeliveredEvent": ORDER,
    "OrderPartlyDeliveredEvent": ORDER,
    "OrderReadyForPickupEvent": {**ORDER, "DropPointCode": "DP-9"},
    "OrderPaymentReceivedEvent": {
        "ClientId": 1042,
        "ApplicationId": 1042,
        "ClientOrderRef": "98765",
        "ErpOrderNo": "E-1",
        "PaymentCode": "KLARNA",
        "PaymentMethodCode": "invoice",
        "PaymentRef": "ref-1",
        "Amount": 1234.5,
        "CurrencyCode": "SEK",
    },
    "OrderReceivedEvent": {
        "ClientId": 1042,
        "ApplicationId": 1042,
        "ClientOrderRef": "98765",
        "Email": "ada@example.com",
        "CellPhone": "+46700000000",
        "FirstName": "Ada",
        "LastName": "Lovelace",
        "Source": "WEB",
    },
    "SubscriptionFailedEvent": {
        "ClientId": 1042,
        "ApplicationId": 1042,
        "SubscriptionId": 1,
        "RecurringOrderId": 2,
        "RecurringOrderScheduleId": 3,
        "BasketId": 4,
        "Email": "a@b.c",
        "CellPhone": "1",
        "FirstName": "A",
        "LastName": "B",
        "ErrorMessage": "card declined",
    },
    "SkuChangedNotification": {
        "ClientId": 1042,
        "ApplicationId": 1042,
        "PartNo": "100011",
        "EntityChanged": "tClientProductSkuPriceList",
    },
    "SkuPriceChangedNotification": {
        "ClientId": 1042,
        "PartNo": "100011",
        "PricelistId": 3,
        "PricelistCode": "SE-B2C",
        "PriceSaleValue": 199.90,
        "QuantityBreak": 1.0,
    },
    "SkuOnHandBreakPointNotification": {
        "ClientId": 1042,
        "PartNo": "100011",
        "WarehouseId": 1,
        "WarehouseCode": "W1",
        "LocationId": 2,
        "LocationCode": "L2",
        "OnHandValue": 3,
        "MinimumValue": 5.5,
    },
    "TranslationRequestedNotification": {
        "ClientId": 1042,
        "PartNo": "100011",
        "EntityChanged": "tClientProductSkuCulture",
    },
    "SupplierSkuChangedNotification": {
        "ClientId": 1042,
        "SupplierId": 9,
        "PartNo": "S-1",
        "EntityChanged": "tSupplierProductSku",
    },
    "SupplierSkuOnHandChangedNotification": {
        "ClientId": 1042,
        "SupplierId": 9,
        "PartNo": "S-1",
        "EntityChanged": "tSupplierProductSkuOnHand",
    },
    "SupplierSkuPriceChangedNotification": {
        "ClientId": 1042,
        "SupplierId": 9,
        "PartNo": "S-1",
        "CostValue": 10.5,
    },
    "JobCompletedEvent": {"ClientId": 1042, "ApplicationId": 1042, "JobId": 55, "StatusId": 2},
}

REQUIRED: dict[str, set[str]] = {
    "CustomerChangedNotification": {"ClientId", "CustomerId", "EntityChanged"},
    "CompanyChangedNotification": {"ClientId", "CompanyId", "EntityChanged"},
    "InvoiceCaptureCompletedEvent": {"ClientId", "ApplicationId", "CapturedInvoiceId", "State"},
    "OrderCancelledEvent": {
        "ClientId",
        "ApplicationId",
        "OrderId",
        "OrderNo",
        "ClientOrderRef",
        "Source",
    },
    "OrderPaymentReceivedEvent": {
        "ClientId",
        "ApplicationId",
        "ClientOrderRef",
        "ErpOrderNo",
        "PaymentCode",
    },
    "OrderReceivedEvent": {"ClientId", "ApplicationId", "ClientOrderRef", "Source"},
    "SubscriptionFailedEvent": {"ClientId", "ApplicationId"},
    "SkuChangedNotification": {"ClientId", "PartNo", "EntityChanged"},
    "SkuPriceChangedNotification": {"ClientId", "PartNo", "PricelistId", "PriceSaleValue"},
    "SkuOnHandBreakPointNotification": {
        "ClientId",
        "PartNo",
        "WarehouseId",
        "LocationId",
        "OnHandValue",
        "MinimumValue",
    },
    "SupplierSkuChangedNotification": {"ClientId", "SupplierId", "PartNo", "EntityChanged"},
    "SupplierSkuPriceChangedNotification": {"ClientId", "SupplierId", "PartNo"},
    "JobCompletedEvent": {"ClientId", "JobId", "StatusId"},
}
for _name in (
    "OrderConfirmedEvent",
    "OrderDeliveredEvent",
    "OrderPartlyDeliveredEvent",
    "OrderReadyForPickupEvent",
):
    REQUIRED[_name] = REQUIRED["OrderCancelledEvent"]
REQUIRED["TranslationRequestedNotification"] = REQUIRED["SkuChangedNotification"]
REQUIRED["SupplierSkuOnHandChangedNotification"] = REQUIRED["SupplierSkuChangedNotification"]


def test_every_documented_type_has_a_model_and_a_payload():
    assert set(FULL) == {t.value for t in EventType} == {t.value for t in EVENT_CLASSES}
    assert len(EventType) == 19  # the §3.5 table (its heading says 18; the rows are 19)


@pytest.mark.parametrize("name", sorted(FULL))
def test_full_payload_parses_from_bytes_str_and_mapping(name):
    body = FULL[name]
    from_bytes = parse_event(name, json.dumps(body).encode())
    assert type(from_bytes).__name__ == name
    assert from_bytes.event_type == EventType(name)
    assert parse_event(name, json.dumps(body)) == from_bytes
    # A mapping parsed with floats (not Decimals) gives the same event.
    assert parse_event(name, body) == from_bytes
    assert parse_event(name.lower(), body) == from_bytes
    assert parse_event(name.upper(), body) == from_bytes
    assert parse_event(EventType(name), body) == from_bytes
    assert isinstance(from_bytes.entity_key, tuple)
    assert all(isinstance(p, str) for p in from_bytes.entity_key)


def test_required_table_covers_every_type():
    assert set(REQUIRED) == set(FULL)


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_each_required_field_missing_or_null_raises_naming_it(name):
    for wire in sorted(REQUIRED[name]):
        for broken in (
            {k: v for k, v in FULL[name].items() if k != wire},
            {**FULL[name], wire: None},
        ):
            with pytest.raises(EventParseError) as info:
                parse_event(name, broken)
            assert info.value.field == wire
            assert info.value.event_type == name
            assert wire in str(info.value)
            assert name in str(info.value)


@pytest.mark.parametrize("name", sorted(FULL))
def test_optional_fields_may_be_absent_or_null(name):
    required = REQUIRED[name]
    minimal = {k: v for k, v in FULL[name].items() if k in required}
    nulls = {k: (v if k in required else None) for k, v in FULL[name].items()}
    assert type(parse_event(name, minimal)).__name__ == name
    assert type(parse_event(name, nulls)).__name__ == name


def test_field_values_and_types():
    sku = parse_event(
        "SkuPriceChangedNotification", json.dumps(FULL["SkuPriceChangedNotification"])
    )
    assert isinstance(sku, SkuPriceChangedNotification)
    assert sku.pricelist_id == 3
    assert sku.pricelist_code == "SE-B2C"
    assert sku.price_sale_value == Decimal("199.90")
    assert sku.quantity_break == Decimal("1.0")
    assert sku.application_id is None
    assert sku.query_entity == ("Products", "ProductSkuPriceLists", ("100011", 3, Decimal("1.0")))
    no_break = {**FULL["SkuPriceChangedNotification"], "QuantityBreak": None}
    assert parse_event("SkuPriceChangedNotification", no_break).query_entity is None
    order = parse_event("OrderConfirmedEvent", FULL["OrderConfirmedEvent"])
    assert isinstance(order, OrderConfirmedEvent)
    assert (order.order_id, order.order_no, order.cell_phone) == (123456789, "A-1", None)
    assert order.query_entity == ("Orders", "Orders", 123456789)
    onhand = parse_event("SkuOnHandBreakPointNotification", FULL["SkuOnHandBreakPointNotification"])
    assert isinstance(onhand, SkuOnHandBreakPointNotification)
    assert onhand.on_hand_value == Decimal(3)
    assert onhand.minimum_value == Decimal("5.5")
    payment = parse_event("OrderPaymentReceivedEvent", FULL["OrderPaymentReceivedEvent"])
    assert isinstance(payment, OrderPaymentReceivedEvent)
    assert payment.amount == Decimal("1234.5")
    supplier = parse_event(
        "SupplierSkuPriceChangedNotification", FULL["SupplierSkuPriceChangedNotification"]
    )
    assert isinstance(supplier, SupplierSkuPriceChangedNotification)
    assert supplier.extra == {"CostValue": 10.5}


def test_int64_order_ids_and_int32_bounds():
    big = {**ORDER, "OrderId": 2**63 - 1}
    assert parse_event("OrderDeliveredEvent", big).order_id == 2**63 - 1  # type: ignore[union-attr]
    with pytest.raises(EventParseError, match="int64") as info:
        parse_event("OrderDeliveredEvent", {**ORDER, "OrderId": 2**63})
    assert info.value.field == "OrderId"
    body = dict(FULL["CustomerChangedNotification"])
    assert parse_event("CustomerChangedNotification", {**body, "CustomerId": -(2**31)})
    for bad in (2**31, -(2**31) - 1):
        with pytest.raises(EventParseError, match="int32"):
            parse_event("CustomerChangedNotification", {**body, "CustomerId": bad})


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("CustomerId", "5", "expected an integer"),
        ("CustomerId", True, "got boolean"),
        ("CustomerId", 5.0, "got number"),
        ("CustomerId", [5], "got array"),
        ("ClientId", {"a": 1}, "got object"),
        ("EntityChanged", 5, "expected a string"),
    ],
)
def test_wrong_types_raise_naming_the_field(field, value, message):
    body = {**FULL["CustomerChangedNotification"], field: value}
    with pytest.raises(EventParseError, match=message) as info:
        parse_event("CustomerChangedNotification", body)
    assert info.value.field == field
    assert info.value.event_type == "CustomerChangedNotification"


@pytest.mark.parametrize("value", ["199.9", True, "NaN"])
def test_wrong_number_types(value):
    body = {**FULL["SkuPriceChangedNotification"], "PriceSaleValue": value}
    with pytest.raises(EventParseError) as info:
        parse_event("SkuPriceChangedNotification", body)
    assert info.value.field == "PriceSaleValue"


def test_nan_and_infinity_are_not_json():
    text = '{"ClientId": 1, "PartNo": "A", "PricelistId": 1, "PriceSaleValue": NaN}'
    with pytest.raises(EventParseError, match="not valid JSON"):
        parse_event("SkuPriceChangedNotification", text)
    with pytest.raises(EventParseError) as info:
        parse_event(
            "SkuPriceChangedNotification",
            {**FULL["SkuPriceChangedNotification"], "PriceSaleValue": float("inf")},
        )
    assert info.value.field == "PriceSaleValue"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"[1, 2]", "must be a JSON object, got array"),
        (b'"text"', "must be a JSON object, got string"),
        (b"null", "must be a JSON object, got null"),
        ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
    ],
)
def test_malformed_bodies(body, message):
    with pytest.raises(EventParseError, match=message) as info:
        parse_event("SkuChangedNotification", body)
    assert info.value.event_type == "SkuChangedNotification"


def test_non_body_types_and_bad_keys():
    with pytest.raises(EventParseError, match="expected bytes"):
        parse_event("SkuChangedNotification", 42)  # type: ignore[arg-type]
    with pytest.raises(EventParseError, match="not a string"):
        parse_event("SkuChangedNotification", {1: "x"})  # type: ignore[dict-item]


def test_utf8_bom_and_unknown_fields_are_tolerated():
    body = b"\xef\xbb\xbf" + json.dumps({**FULL["SkuChangedNotification"], "New": 1}).encode()
    event = parse_event("SkuChangedNotification", body)
    assert isinstance(event, SkuChangedNotification)
    assert event.entity_key == ("sku", "100011")
    assert event.query_entity == ("Products", "ProductSkus", "100011")


class TestOpenSets:
    def test_entity_changed_known_and_unknown(self):
        event = parse_event(
            "SkuChangedNotification", {"ClientId": 1, "PartNo": "A", "EntityChanged": "tBrandNew"}
        )
        assert isinstance(event, SkuChangedNotification)
        assert event.entity_changed == "tBrandNew"
        assert isinstance(event.entity_changed, EntityChanged)
        assert not event.entity_changed.is_known
        assert EntityChanged("tClientProductSku").is_known
        assert repr(EntityChanged("tX")) == "EntityChanged('tX')"
        assert (
            "tClientCustomerCompany"
            in ENTITY_CHANGED_BY_EVENT[EventType.CompanyChangedNotification]
        )

    def test_invoice_capture_state(self):
        body = dict(FULL["InvoiceCaptureCompletedEvent"])
        ok = parse_event("InvoiceCaptureCompletedEvent", body)
        assert isinstance(ok, InvoiceCaptureCompletedEvent)
        assert ok.state.captured
        assert ok.state.is_known
        other = parse_event("InvoiceCaptureCompletedEvent", {**body, "State": "Pending"})
        assert isinstance(other, InvoiceCaptureCompletedEvent)
        assert other.state == InvoiceCaptureState("Pending")
        assert not other.state.is_known
        assert not other.state.captured

    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            (1, JobStatus.Initialized),
            (2, JobStatus.Succeeded),
            (3, JobStatus.Failed),
            (4, JobStatus.ValidationFailed),
            (5, JobStatus.Validating),
            (6, JobStatus.Queued),
        ],
    )
    def test_job_status_values(self, status, expected):
        event = parse_event("jobcompletedevent", {"ClientId": 1, "JobId": 9, "StatusId": status})
        assert isinstance(event, JobCompletedEvent)
        assert event.status is expected
        assert event.entity_key == ("job", "9")

    def test_unknown_job_status_is_kept(self):
        event = parse_event("JobCompletedEvent", {"ClientId": 1, "JobId": 9, "StatusId": 42})
        assert isinstance(event, JobCompletedEvent)
        assert event.status == 42
        assert event.status.name == "UNKNOWN_42"

    def test_job_status_must_be_an_int32(self):
        for bad in ("2", True, 2**40):
            with pytest.raises(EventParseError) as info:
                parse_event("JobCompletedEvent", {"ClientId": 1, "JobId": 9, "StatusId": bad})
            assert info.value.field == "StatusId"


class TestUnknownEvents:
    def test_unknown_type_keeps_name_and_body(self):
        raw = b'{"ClientId": 1, "Whatever": [1, 2.5]}'
        event = parse_event("ExportDeliveredEvent", raw)
        assert isinstance(event, UnknownEvent)
        assert event.event_type == "ExportDeliveredEvent"
        assert event.body == {"ClientId": 1, "Whatever": [1, Decimal("2.5")]}
        assert event.raw == raw
        assert event.query_entity is None
        assert event.entity_key[:2] == ("event", "exportdeliveredevent")

    def test_unknown_type_from_mapping(self):
        event = parse_event("x", {"b": 1, "a": None})
        assert isinstance(event, UnknownEvent)
        assert event.raw == b'{"a":null,"b":1}'

    def test_unknown_type_still_needs_an_object(self):
        with pytest.raises(EventParseError, match="JSON object"):
            parse_event("ExportDeliveredEvent", b"[]")


def test_entity_keys_per_type():
    keys = {name: parse_event(name, body).entity_key for name, body in FULL.items()}
    assert keys["CustomerChangedNotification"] == ("customer", "5")
    assert keys["CompanyChangedNotification"] == ("company", "6")
    assert keys["InvoiceCaptureCompletedEvent"] == ("invoice", "77")
    for name in (
        "OrderCancelledEvent",
        "OrderConfirmedEvent",
        "OrderDeliveredEvent",
        "OrderPartlyDeliveredEvent",
        "OrderReadyForPickupEvent",
    ):
        assert keys[name] == ("order", "123456789")
    assert keys["OrderPaymentReceivedEvent"] == ("order-ref", "98765")
    assert keys["OrderReceivedEvent"] == ("order-ref", "98765")
    assert keys["SubscriptionFailedEvent"] == ("subscription", "1", "2", "3", "4")
    assert keys["SkuChangedNotification"] == ("sku", "100011")
    assert keys["SkuPriceChangedNotification"] == ("sku-price", "100011", "3")
    assert keys["SkuOnHandBreakPointNotification"] == ("sku-onhand", "100011", "1", "2")
    assert keys["TranslationRequestedNotification"] == ("sku-translation", "100011")
    assert keys["SupplierSkuChangedNotification"] == ("supplier-sku", "9", "S-1")
    assert keys["SupplierSkuOnHandChangedNotification"] == ("supplier-sku-onhand", "9", "S-1")
    assert keys["SupplierSkuPriceChangedNotification"] == ("supplier-sku-price", "9", "S-1")
    assert keys["JobCompletedEvent"] == ("job", "55")


def test_classes_are_exported_by_type():
    assert EVENT_CLASSES[EventType.SkuChangedNotification] is SkuChangedNotification
    expected = {
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
    }
    assert set(EVENT_CLASSES.values()) == expected
    assert EventType.lookup("  SKUCHANGEDNOTIFICATION ") is EventType.SkuChangedNotification
    assert EventType.lookup("nope") is None
