"""Realistic payloads round-trip byte-compatibly; docs spellings are read and normalised."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest

from norce_integration._convert import converter, strict_converter
from norce_integration.orders import OrderValidationError, WireOptions
from norce_integration.orders.models import (
    CancelOrderRequest,
    DeliveryNote,
    Fee,
    Invoice,
    OrderItemType,
    OrderItemTypeGroup,
    OrderRequest,
    OrderResponse,
    OrderResponseStatus,
    OrderStatus,
    OrderType,
    SendOrderStatusRequest,
)

from ._helpers import compact, payload


WCF = WireOptions(date_format="wcf")
ROUND_TRIPS = [
    ("order_request_b2c.json", OrderRequest, WireOptions()),
    # Its SubmitDate is a WCF /Date(...)/: written back as such when WCF is chosen.
    ("order_request_b2b_extended.json", OrderRequest, WCF),
    ("order_response_docs.json", OrderResponse, WireOptions()),
    ("invoice.json", Invoice, WireOptions()),
    ("send_order_status_docs.json", SendOrderStatusRequest, WireOptions()),
]


@pytest.mark.parametrize(("name", "cls", "options"), ROUND_TRIPS)
def test_payload_round_trips_byte_compatibly(name: str, cls: type, options: WireOptions) -> None:
    raw = payload(name)
    model = cls.from_json(raw)
    assert model.to_json(options) == compact(raw)
    # The one converter gives the same wire data (with the default options).
    assert converter.unstructure(model) == model.to_dict()
    assert converter.structure(json.loads(raw, parse_float=Decimal), cls) == model


def test_order_response_docs_example_exactly() -> None:
    raw = payload("order_response_docs.json").strip()
    model = OrderResponse.from_json(raw)
    assert model == OrderResponse(
        status_code=OrderResponseStatus.OK,
        description="string",
        has_erp_order_no=True,
        erp_order_no="string",
    )
    assert model.to_json() == raw.replace(b": ", b":").replace(b", ", b",")


def test_b2c_values_are_typed_and_exact() -> None:
    order = OrderRequest.from_json(payload("order_request_b2c.json"))
    assert order.client_order_ref == "2024050112345"
    assert order.order_type is OrderType.Order
    assert order.submit_date == dt.datetime(2024, 5, 1, 12, 30, 45, 123456)
    assert order.submit_date.tzinfo is None  # the zone is not documented: nothing assumed
    assert order.header
    assert order.header.application_key == uuid.UUID("6f1b0c3e-7a2d-4c55-9a0e-1f2e3d4c5b6a")
    items = order.items
    assert isinstance(items, list)
    assert items[0].unit_price == Decimal("239.20")
    assert str(items[0].unit_price) == "239.20"
    assert items[0].type is OrderItemType.ErpStandard
    assert items[2].type_group is OrderItemTypeGroup.Fee
    assert items[0].unit_price_original_vat == Decimal("74.75")
    assert order.shipping_advice
    assert order.shipping_advice.do_sms_notify is True
    sell_to = order.sell_to
    assert sell_to
    assert sell_to.person
    assert sell_to.person.ssn == "19800101-1234"
    assert sell_to.person.address
    assert sell_to.person.address.gln is None
    assert order.payments
    assert sum(p.amount for p in order.payments) == Decimal("1348.75")


def test_unknown_fields_and_values_are_kept() -> None:
    order = OrderRequest.from_json(payload("order_request_b2b_extended.json"))
    assert order.extra["MarketplaceOrderId"] == 123456789012345678901234567890
    assert order.extra["Tags"][-1] == Decimal("1.0e-7")
    assert order.header
    assert order.header.extra == {"ClientId": 1042}
    assert order.items
    assert order.items[0].extra["UnitCostErp"] == Decimal("612.3456789")
    assert order.sell_to
    assert order.sell_to.company
    assert order.sell_to.company.extra == {"CreditLimit": Decimal("50000.00")}
    assert order.payments
    assert order.payments[0].extra == {"EntityId": 99}
    assert order.order_type is OrderType.ExternalOrder
    # WCF date with its offset: the instant and the offset are kept.
    assert order.submit_date == dt.datetime(2024, 5, 1, 12, 30, 45, 123000, tzinfo=dt.UTC)
    assert order.submit_date.utcoffset() == dt.timedelta(hours=2)
    # Fee.Type: a string in the contract, an integer in the docs; both kept as they came.
    assert order.fees
    assert [f.type for f in order.fees] == [0, "Invoice"]


def test_strict_parsing_rejects_unknown_fields() -> None:
    with pytest.raises(OrderValidationError) as info:
        OrderRequest.from_json(payload("order_request_b2b_extended.json"), strict=True)
    paths = {e.path for e in info.value.errors}
    assert "$.MarketplaceOrderId" in paths
    assert "$.Items[0].UnitCostErp" in paths
    with pytest.raises(OrderValidationError):
        strict_converter().structure({"Nope": 1}, OrderResponse)


def test_docs_casing_is_accepted_and_contract_casing_written() -> None:
    order = OrderRequest.from_json(payload("order_request_docs_casing.json"))
    assert order.client_order_ref == "1001"
    company = order.sell_to.company if order.sell_to else None
    assert company
    assert company.pricelist_codes == ["PL1", "PL2"]
    assert company.pricelist_limit is True
    assert order.order_type is OrderType.Order
    assert order.items
    assert order.items[0].type is OrderItemType.ErpStandard
    out = json.loads(order.to_json())
    assert list(out) == ["ClientOrderRef", "SellTo", "Items", "OrderType"]
    assert list(out["SellTo"]["Company"]) == ["Code", "Name", "PricelistCodes", "PricelistLimit"]
    assert out["Items"][0]["UnitPriceOriginal"] == 10
    assert out["Items"][0]["Type"] == "ErpStandard"
    assert out["OrderType"] == 1
    assert json.loads(order.to_json(WireOptions(order_type="name")))["OrderType"] == "Order"


def test_delivery_note_docs_spelling() -> None:
    raw = payload("delivery_note_docs.json")
    note = DeliveryNote.from_json(raw)
    assert note.delivery_note_items
    assert note.delivery_note_items[0].qty == 6
    assert note.delivery_date == dt.datetime(2024, 5, 3, 8, tzinfo=dt.UTC)
    written = note.to_json()
    assert b'"DeliveryNoteItems":' in written
    assert b"DeliverynoteItems" not in written
    # Apart from the renamed key, the bytes are the input's.
    assert written == compact(raw).replace(b'"DeliverynoteItems"', b'"DeliveryNoteItems"')


def test_duplicate_spellings_of_one_field_are_an_error() -> None:
    with pytest.raises(OrderValidationError) as info:
        DeliveryNote.from_json(b'{"DeliveryNoteItems":[],"DeliverynoteItems":[]}')
    assert info.value.path == "$.DeliverynoteItems"


def test_legacy_invoice_misspelling_is_accepted() -> None:
    invoice = Invoice.from_json(b'{"InoviceNo":"I-1","ClientOrderRef":5}')
    assert invoice.invoice_no == "I-1"
    assert invoice.to_json() == b'{"InvoiceNo":"I-1","ClientOrderRef":5}'


def test_client_order_ref_split() -> None:
    assert OrderRequest.from_json(b'{"ClientOrderRef":"42"}').client_order_ref == "42"
    with pytest.raises(OrderValidationError, match=r"\$\.ClientOrderRef: expected a string"):
        OrderRequest.from_json(b'{"ClientOrderRef":42}')
    for cls in (Invoice, SendOrderStatusRequest, CancelOrderRequest):
        assert cls.from_json(b'{"ClientOrderRef":42}').client_order_ref == 42
        with pytest.raises(OrderValidationError, match="expected an integer"):
            cls.from_json(b'{"ClientOrderRef":"42"}')


def test_order_status_names_by_default_integers_as_a_setting() -> None:
    request = SendOrderStatusRequest(
        client_order_ref=2024, erp_order_no="SO-1", order_status=OrderStatus.Delivered
    )
    assert (
        request.to_json()
        == b'{"ClientOrderRef":2024,"ErpOrderNo":"SO-1","OrderStatus":"Delivered"}'
    )
    assert request.to_json(WireOptions(order_status="int")).endswith(b'"OrderStatus":4}')
    for wire in (b'"Delivered"', b'"delivered"', b"4", b'"4"'):
        parsed = SendOrderStatusRequest.from_json(b'{"OrderStatus":' + wire + b"}")
        assert parsed.order_status is OrderStatus.Delivered


def test_unknown_enum_values_are_kept() -> None:
    status = SendOrderStatusRequest.from_json(b'{"OrderStatus":42}')
    assert status.order_status == 42
    assert isinstance(status.order_status, OrderStatus)
    assert status.order_status.name == "UNKNOWN_42"
    assert status.to_json() == b'{"OrderStatus":42}'  # no name to write: the integer
    named = SendOrderStatusRequest.from_json(b'{"OrderStatus":"Shipped"}')
    assert named.order_status == "Shipped"  # an unknown name stays a str
    assert named.to_json(WireOptions(order_status="int")) == b'{"OrderStatus":"Shipped"}'
    order = OrderRequest.from_json(
        b'{"OrderType":9,"Items":[{"Type":"Rental","TypeGroup":"Lease"}]}'
    )
    assert order.order_type == 9
    assert order.items
    assert order.items[0].type == "Rental"
    assert not order.items[0].type.is_known  # type: ignore[union-attr]
    assert order.to_json() == b'{"OrderType":9,"Items":[{"Type":"Rental","TypeGroup":"Lease"}]}'
    response = OrderResponse.from_json(b'{"StatusCode":"Pending"}')
    assert response.status_code == "Pending"
    assert not response.is_ok
    assert OrderRequest.from_json(b'{"OrderType":"Gift"}').order_type == "Gift"


def test_dates_iso_and_wcf() -> None:
    iso = Invoice.from_json(b'{"InvoiceDate":"2024-05-03T10:00:00.5+02:00"}')
    assert iso.invoice_date == dt.datetime(2024, 5, 3, 8, 0, 0, 500000, tzinfo=dt.UTC)
    assert iso.to_json() == b'{"InvoiceDate":"2024-05-03T10:00:00.5+02:00"}'
    assert iso.to_json(WireOptions(date_format="wcf")) == (
        b'{"InvoiceDate":"/Date(1714723200500+0200)/"}'
    )
    wcf = Invoice.from_json(b'{"InvoiceDate":"/Date(1714723200500)/"}')
    assert wcf.invoice_date == iso.invoice_date
    assert wcf.to_json() == b'{"InvoiceDate":"2024-05-03T08:00:00.500000Z"}'
    assert wcf.to_json(WireOptions(date_format="wcf")) == b'{"InvoiceDate":"/Date(1714723200500)/"}'
    built = Invoice(invoice_date=dt.datetime(2024, 5, 3, tzinfo=dt.UTC))
    assert built.to_json() == b'{"InvoiceDate":"2024-05-03T00:00:00Z"}'
    assert (
        built.to_json(WireOptions(date_format="wcf")) == b'{"InvoiceDate":"/Date(1714694400000)/"}'
    )
    naive = Invoice(invoice_date=dt.datetime(2024, 5, 3))
    assert naive.to_json() == b'{"InvoiceDate":"2024-05-03T00:00:00"}'
    assert Invoice.from_json(b'{"InvoiceDate":"/Date(-1000)/"}').invoice_date == dt.datetime(
        1969, 12, 31, 23, 59, 59, tzinfo=dt.UTC
    )


def test_order_response_constructors() -> None:
    assert OrderResponse.ok("SO-1").to_json() == (
        b'{"StatusCode":"OK","Description":null,"HasErpOrderNo":true,"ErpOrderNo":"SO-1"}'
    )
    assert OrderResponse.ok().to_json() == (
        b'{"StatusCode":"OK","Description":null,"HasErpOrderNo":false,"ErpOrderNo":null}'
    )
    failed = OrderResponse.failed("ERP is down")
    assert failed.to_json() == (
        b'{"StatusCode":"Failed","Description":"ERP is down","HasErpOrderNo":false,"ErpOrderNo":null}'
    )
    assert not failed.is_ok
    assert OrderResponse.ok("x").is_ok


def test_fee_type_accepts_both_forms() -> None:
    assert Fee.from_json(b'{"Type":1}').type == 1
    assert Fee.from_json(b'{"Type":"Shipping"}').type == "Shipping"
    with pytest.raises(OrderValidationError):
        Fee.from_json(b'{"Type":true}')
