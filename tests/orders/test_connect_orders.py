"""The Connect Order client on the wire: bytes sent, retries only where idempotent, typed errors."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import httpx
import pytest
import respx

from norce_integration import AsyncNorce, AuthenticationError, Norce
from norce_integration.connect import (
    OrderCallResult,
    OrderClientOptions,
    OrderOperation,
    OrderRejectedError,
    OrderServerError,
)
from norce_integration.orders import AmbiguousOrderCallError, OrderStatus, WireOptions
from norce_integration.orders import models as om

from ..conftest import CONNECT, SECRET, TOKEN


STATUS = om.SendOrderStatusRequest(
    client_order_ref=1001, erp_order_no="SO-1", order_status=OrderStatus.Confirmed
)
INVOICE = om.Invoice(
    invoice_no="INV-1",
    client_order_ref=1001,
    erp_order_no="SO-1",
    invoice_date=dt.datetime(2026, 12, 4, 10, 0),
    currency_code="SEK",
    payment=om.Payment(payment_code=1, amount=Decimal("125.00")),
)
NOTE = om.DeliveryNote(order_no="SO-1", note_no="DN-1", delivery_date=dt.datetime(2026, 12, 4))
CANCEL = om.CancelOrderRequest(client_order_ref=1001, erp_order_no="SO-1")
SHIPMENT = om.Shipment(shipment_no="S-1")

CALLS = [
    ("create_invoice", "Order/CreateInvoice", INVOICE),
    ("credit_payment", "Order/CreditPayment", INVOICE),
    ("create_delivery_note", "Order/CreateDeliveryNote", NOTE),
    ("send_order_status", "Order/SendOrderStatus", STATUS),
    ("cancel_order", "Order/CancelOrder", CANCEL),
    ("send_pos_shipment", "Order/SendPosShipment", SHIPMENT),
]
NOT_IDEMPOTENT = [c for c in CALLS if c[0] != "send_order_status"]


@pytest.fixture
def mock():
    with respx.mock(assert_all_called=False) as router:
        router.post(TOKEN).mock(
            return_value=httpx.Response(200, json={"access_token": "tok-9", "expires_in": 3600})
        )
        yield router


@pytest.mark.parametrize(("method", "path", "body"), CALLS)
def test_each_call_posts_its_contract_as_json(mock, norce_settings, method, path, body):
    route = mock.post(CONNECT + path).mock(return_value=httpx.Response(200))
    with Norce(norce_settings) as norce:
        result = getattr(norce.connect.orders, method)(body)
    assert result == OrderCallResult(OrderOperation(path), 200, "")
    request = route.calls.last.request
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == "Bearer tok-9"
    assert "ApplicationId" not in request.headers
    assert request.read() == body.to_json()


def test_status_is_sent_by_name_or_as_integer_per_the_setting(mock, norce_settings):
    route = mock.post(CONNECT + "Order/SendOrderStatus").mock(return_value=httpx.Response(200))
    with Norce(norce_settings) as norce:
        norce.connect.orders.send_order_status(STATUS)
        norce.connect.orders.with_options(wire=WireOptions(order_status="int")).send_order_status(
            STATUS
        )
    first, second = (json.loads(c.request.read()) for c in route.calls)
    assert first == {"ClientOrderRef": 1001, "ErpOrderNo": "SO-1", "OrderStatus": "Confirmed"}
    assert second["OrderStatus"] == 2


def test_application_id_header_is_opt_in(mock, norce_settings):
    route = mock.post(CONNECT + "Order/SendOrderStatus").mock(return_value=httpx.Response(200))
    with Norce(norce_settings) as norce:
        norce.connect.orders.with_options(send_application_id=True).send_order_status(STATUS)
    assert route.calls.last.request.headers["ApplicationId"] == "1042"


def test_a_wrong_body_type_is_refused_before_sending(mock, norce_settings):
    route = mock.post(CONNECT + "Order/CreateInvoice")
    with Norce(norce_settings) as norce, pytest.raises(TypeError, match="takes a Invoice"):
        norce.connect.orders.create_invoice(NOTE)  # type: ignore[arg-type]
    assert not route.called


def test_400_is_a_typed_rejection_naming_the_operation_and_reason(mock, norce_settings):
    route = mock.post(CONNECT + "Order/SendOrderStatus").mock(
        return_value=httpx.Response(400, json={"Message": "Order 1001 not found."})
    )
    with Norce(norce_settings) as norce, pytest.raises(OrderRejectedError) as info:
        norce.connect.orders.send_order_status(STATUS)
    assert info.value.status == 400
    assert info.value.operation == "SendOrderStatus"
    assert info.value.reason == "Order 1001 not found."
    assert route.call_count == 1  # a 400 is never retried


def test_idempotent_status_is_retried_through_500_and_timeouts(mock, norce_settings, sleeper):
    route = mock.post(CONNECT + "Order/SendOrderStatus").mock(
        side_effect=[
            httpx.Response(500),
            httpx.ReadTimeout("slow"),
            httpx.Response(200),
        ]
    )
    with Norce(norce_settings) as norce:
        assert norce.connect.orders.send_order_status(STATUS).status == 200
    assert route.call_count == 3
    assert len(sleeper.waits) == 2


def test_idempotent_status_raises_a_typed_server_error_when_retries_run_out(mock, norce_settings):
    route = mock.post(CONNECT + "Order/SendOrderStatus").mock(
        return_value=httpx.Response(500, json={"Message": "boom"})
    )
    with Norce(norce_settings) as norce, pytest.raises(OrderServerError) as info:
        norce.connect.orders.send_order_status(STATUS)
    assert info.value.status == 500
    assert info.value.reason == "boom"
    assert route.call_count == norce_settings.retry.max_attempts


@pytest.mark.parametrize(("method", "path", "body"), NOT_IDEMPOTENT)
@pytest.mark.parametrize(
    "failure", [httpx.Response(500), httpx.Response(502), httpx.ReadTimeout("slow")]
)
def test_non_idempotent_calls_are_never_retried_after_sending(
    mock, norce_settings, method, path, body, failure
):
    route = mock.post(CONNECT + path).mock(side_effect=[failure, httpx.Response(200)])
    with Norce(norce_settings) as norce, pytest.raises(AmbiguousOrderCallError) as info:
        getattr(norce.connect.orders, method)(body)
    assert route.call_count == 1
    assert info.value.operation == OrderOperation(path).operation_name
    assert "job" not in str(info.value)


@pytest.mark.parametrize(("method", "path", "body"), NOT_IDEMPOTENT)
def test_non_idempotent_calls_are_retried_when_norce_never_saw_them(
    mock, norce_settings, method, path, body
):
    route = mock.post(CONNECT + path).mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.Response(429, headers={"Retry-After": "1"}),
            httpx.Response(503),
            httpx.Response(200),
        ]
    )
    with Norce(norce_settings) as norce:
        getattr(norce.connect.orders, method)(body)
    assert route.call_count == 4
    assert len({c.request.read() for c in route.calls}) == 1


def test_idempotent_list_is_a_setting(mock, norce_settings):
    route = mock.post(CONNECT + "Order/CreateDeliveryNote").mock(
        side_effect=[httpx.Response(500), httpx.Response(200)]
    )
    options = OrderClientOptions(idempotent={"Order/CreateDeliveryNote"})
    with Norce(norce_settings) as norce:
        norce.connect.orders.with_options(idempotent=options.idempotent).create_delivery_note(NOTE)
    assert route.call_count == 2


def test_401_is_an_authentication_error_without_the_secret(mock, norce_settings):
    mock.post(CONNECT + "Order/CancelOrder").mock(return_value=httpx.Response(401))
    with Norce(norce_settings) as norce, pytest.raises(AuthenticationError) as info:
        norce.connect.orders.cancel_order(CANCEL)
    assert SECRET not in str(info.value)
    assert "tok-9" not in str(info.value)


@pytest.mark.anyio
async def test_async_client_sends_the_same_bytes(mock, norce_settings):
    route = mock.post(CONNECT + "Order/CreateInvoice").mock(return_value=httpx.Response(200))
    async with AsyncNorce(norce_settings) as norce:
        result = await norce.connect.orders.create_invoice(INVOICE)
    assert result.operation is OrderOperation.create_invoice
    assert route.calls.last.request.read() == INVOICE.to_json()


@pytest.mark.anyio
async def test_async_non_idempotent_500_is_ambiguous(mock, norce_settings):
    route = mock.post(CONNECT + "Order/CreateInvoice").mock(return_value=httpx.Response(500))
    async with AsyncNorce(norce_settings) as norce:
        with pytest.raises(AmbiguousOrderCallError) as info:
            await norce.connect.orders.create_invoice(INVOICE)
    assert info.value.status == 500
    assert route.call_count == 1
