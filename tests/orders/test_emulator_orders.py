"""The emulator's orders: pushes with Norce's retries, the Order service's validation and state."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from norce_integration import Norce
from norce_integration.connect import OrderRejectedError
from norce_integration.orders import OrderRequest, OrderStatus
from norce_integration.orders import models as om
from norce_integration.testing import RETRY_DELAYS, NorceEmulator
from norce_integration.testing._orders import (
    _RANK,
    ORDER_STATUSES,
    OrderPushPolicy,
    OrderServiceRules,
    transition_error,
)

from .conftest import RECEIVER_URL, FakeReceiver, basic


def _query_order(emulator: NorceEmulator, order_id: int) -> dict:
    with httpx.Client(transport=emulator.transport()) as http:
        settings = emulator.settings()
        token = emulator.issue_token()
        response = http.get(
            settings.query_base + f"Orders/Orders({order_id})",
            headers={"Authorization": f"Bearer {token}", "application-id": "1042"},
        )
    assert response.status_code == 200, response.text
    return response.json()


def test_placed_order_is_pushed_with_basic_auth_and_parses_as_order_request(
    emulator, fake_receiver
):
    order = emulator.place_order([("P1", 2), ("P2", 1)])
    assert fake_receiver.requests == []  # pushed when due work runs
    emulator.run_due()
    (request,) = fake_receiver.requests
    assert str(request.url) == RECEIVER_URL
    assert request.method == "POST"
    assert request.headers["Authorization"] == basic("norce", "pw-1")
    assert request.headers["Content-Type"] == "application/json"
    parsed = OrderRequest.from_json(request.content, strict=True)
    assert parsed.client_order_ref == order["ClientOrderRef"]
    assert [i.part_no for i in parsed.items or []] == ["P1", "P2"]
    assert parsed.order_type == 1
    state = emulator.orders.state(order["Id"])
    assert state["push"] == "accepted"
    assert state["OrderNo"] == "SO-" + order["ClientOrderRef"]


def test_accepted_erp_order_no_shows_in_query(emulator):
    order = emulator.place_order([("P1", 1)])
    assert _query_order(emulator, order["Id"])["OrderNo"] == order["ClientOrderRef"]
    emulator.run_due()
    row = _query_order(emulator, order["Id"])
    assert row["OrderNo"] == "SO-" + order["ClientOrderRef"]
    assert row["StatusId"] == 0


def test_failed_pushes_are_retried_on_the_schedule_then_escalated(emulator, fake_receiver):
    emulator.set_order_receiver(
        RECEIVER_URL,
        username="norce",
        password="pw-1",
        policy=OrderPushPolicy(retry_delays=(5, 10)),
    )
    fake_receiver.reply = lambda _r: httpx.Response(500)
    order = emulator.place_order([("P1", 1)])
    emulator.advance(60)
    attempts = [p for p in emulator.orders.pushes if p.order_id == order["Id"]]
    assert [a.attempt for a in attempts] == [1, 2, 3]
    gaps = [(b.time - a.time).total_seconds() for a, b in itertools.pairwise(attempts)]
    assert gaps == [5, 10]
    assert attempts[-1].escalated
    assert emulator.orders.state(order["Id"])["push"] == "escalated"
    emulator.advance(3600)
    assert len(fake_receiver.requests) == 3  # never pushed again


def test_default_schedule_is_the_webhook_one_and_timeout_5s():
    policy = OrderPushPolicy()
    assert policy.retry_delays == RETRY_DELAYS
    assert policy.timeout == 5.0


def test_status_failed_is_retried_or_escalated_per_the_setting(emulator, fake_receiver):
    fake_receiver.reply = lambda _r: httpx.Response(200, json={"StatusCode": "Failed"})
    retried = emulator.place_order([("P1", 1)])
    emulator.run_due()
    assert emulator.orders.state(retried["Id"])["push"] == "retrying"
    emulator.set_order_receiver(
        RECEIVER_URL, username="norce", password="pw-1", policy=OrderPushPolicy(retry_failed=False)
    )
    escalated = emulator.place_order([("P1", 1)])
    emulator.run_due()
    assert emulator.orders.state(escalated["Id"])["push"] == "escalated"


def test_a_timeout_counts_as_a_failed_push(emulator, fake_receiver):
    def slow(_request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("took more than 5 s")

    fake_receiver.reply = slow
    order = emulator.place_order([("P1", 1)])
    emulator.run_due()
    (attempt,) = emulator.orders.pushes
    assert attempt.outcome == "timeout"
    assert attempt.next_attempt is not None
    assert emulator.orders.state(order["Id"])["push"] == "retrying"


def test_legacy_rest_posts_to_create_order(emulator, fake_receiver):
    emulator.set_order_receiver(RECEIVER_URL, endpoint_type="REST (Legacy)")
    emulator.place_order([("P1", 1)])
    emulator.run_due()
    (request,) = fake_receiver.requests
    assert str(request.url) == RECEIVER_URL + "/CreateOrder"
    assert "Authorization" not in request.headers


def test_no_integration_pushes_nothing(emulator, fake_receiver):
    emulator.set_order_receiver(None)
    order = emulator.place_order([("P1", 1)])
    emulator.advance(60)
    assert fake_receiver.requests == []
    assert emulator.orders.state(order["Id"])["push"] == "no integration"


def test_receiver_password_is_not_in_reprs_or_admin(emulator):
    assert "pw-1" not in repr(emulator.orders.receiver)
    with httpx.Client(transport=emulator.transport()) as http:
        answer = http.get(emulator.base_url + "/_emulator/order-receiver").json()
    assert answer["password_set"] is True
    assert "pw-1" not in str(answer)


def _placed(emulator: NorceEmulator) -> tuple[int, int, str]:
    order = emulator.place_order([("P1", 1)])
    emulator.run_due()
    state = emulator.orders.state(order["Id"])
    return order["Id"], int(order["ClientOrderRef"]), state["OrderNo"]


def _status(ref: int, erp: str, status: OrderStatus) -> om.SendOrderStatusRequest:
    return om.SendOrderStatusRequest(client_order_ref=ref, erp_order_no=erp, order_status=status)


def test_erp_answers_move_the_order_through_its_life(emulator, norce: Norce):
    order_id, ref, erp = _placed(emulator)
    orders = norce.connect.orders
    orders.send_order_status(_status(ref, erp, OrderStatus.Confirmed))
    assert _query_order(emulator, order_id)["StatusId"] == 2
    orders.create_delivery_note(
        om.DeliveryNote(
            order_no=erp,
            note_no="DN-1",
            delivery_date=dt.datetime(2026, 12, 4, 12, 0),
            delivery_note_packages=[om.DeliveryNotePackage(parcel_number="TRK-1", status_id=4)],
        )
    )
    assert _query_order(emulator, order_id)["StatusId"] == 4
    invoice = om.Invoice(
        invoice_no="INV-1",
        client_order_ref=ref,
        erp_order_no=erp,
        invoice_date=dt.datetime(2026, 12, 4, 13, 0),
        currency_code="SEK",
    )
    orders.create_invoice(invoice)
    orders.credit_payment(
        om.Invoice(
            invoice_no="CR-1",
            client_order_ref=ref,
            erp_order_no=erp,
            invoice_date=dt.datetime(2026, 12, 5),
            currency_code="SEK",
            credited_invoice_no="INV-1",
        )
    )
    state = emulator.orders.state(order_id)
    assert state["Status"] == "Invoiced"
    assert [n["NoteNo"] for n in state["delivery_notes"]] == ["DN-1"]
    assert [i["InvoiceNo"] for i in state["invoices"]] == ["INV-1"]
    assert [c["CreditedInvoiceNo"] for c in state["credits"]] == ["INV-1"]
    assert [(h["from"], h["to"]) for h in state["status_history"]] == [
        ("Created", "Confirmed"),
        ("Confirmed", "Delivered"),
        ("Delivered", "Invoiced"),
    ]
    with pytest.raises(OrderRejectedError, match="already exists"):
        orders.create_invoice(invoice)


def test_unknown_order_is_the_documented_400(emulator, norce: Norce):
    with pytest.raises(OrderRejectedError) as info:
        norce.connect.orders.send_order_status(_status(4242, "NOPE", OrderStatus.Confirmed))
    assert info.value.status == 400
    assert "Order not found" in info.value.reason


def test_status_never_goes_back_at_the_emulator(emulator, norce: Norce):
    order_id, ref, erp = _placed(emulator)
    orders = norce.connect.orders
    orders.send_order_status(_status(ref, erp, OrderStatus.Delivered))
    with pytest.raises(OrderRejectedError, match="cannot go back"):
        orders.send_order_status(_status(ref, erp, OrderStatus.Confirmed))
    with pytest.raises(OrderRejectedError, match="can no longer be cancelled"):
        orders.cancel_order(om.CancelOrderRequest(client_order_ref=ref, erp_order_no=erp))
    orders.send_order_status(_status(ref, erp, OrderStatus.Delivered))  # a repeat is fine
    assert _query_order(emulator, order_id)["StatusId"] == 4


def test_cancelled_is_final_and_cancel_needs_payment_refs(emulator, norce: Norce):
    order_id, ref, erp = _placed(emulator)
    orders = norce.connect.orders
    with pytest.raises(OrderRejectedError, match=r"Payments\[0\]\.PaymentRef"):
        orders.cancel_order(
            om.CancelOrderRequest(
                client_order_ref=ref, erp_order_no=erp, payments=[om.Payment(payment_code=1)]
            )
        )
    orders.cancel_order(om.CancelOrderRequest(client_order_ref=ref, erp_order_no=erp))
    assert _query_order(emulator, order_id)["StatusId"] == 6
    with pytest.raises(OrderRejectedError, match="Cancelled"):
        orders.send_order_status(_status(ref, erp, OrderStatus.Confirmed))


def test_transition_checks_can_be_switched_off(emulator, norce: Norce):
    emulator.set_order_receiver(RECEIVER_URL, rules=OrderServiceRules(check_transitions=False))
    order_id, ref, erp = _placed(emulator)
    orders = norce.connect.orders
    orders.send_order_status(_status(ref, erp, OrderStatus.Delivered))
    orders.send_order_status(_status(ref, erp, OrderStatus.Confirmed))
    assert _query_order(emulator, order_id)["StatusId"] == 2


def test_validation_names_the_field(emulator, norce: Norce):
    with httpx.Client(transport=emulator.transport()) as http:
        url = emulator.settings().connect_base + "Order/CreateDeliveryNote"
        auth = {"Authorization": f"Bearer {emulator.issue_token()}"}
        answer = http.post(url, headers=auth, json={"OrderNo": "X", "DeliveryDate": "2026-12-04"})
        assert answer.status_code == 400
        assert "NoteNo" in answer.json()["Message"]
        answer = http.post(url, headers=auth, content=b"{not json")
        assert answer.status_code == 400
        unauth = http.post(url, json={})
        assert unauth.status_code == 401


def test_pos_shipment_is_recorded(emulator, norce: Norce):
    shipment = om.Shipment(application_key=uuid.UUID(int=7), delivery_note_no="DN-9")
    norce.connect.orders.send_pos_shipment(shipment)
    assert emulator.orders.shipments[0]["DeliveryNoteNo"] == "DN-9"
    with pytest.raises(OrderRejectedError, match="ApplicationKey"):
        norce.connect.orders.send_pos_shipment(om.Shipment(delivery_note_no="DN-9"))


STATUS_VALUES = sorted(ORDER_STATUSES.values())


@given(st.lists(st.sampled_from(STATUS_VALUES), max_size=30))
def test_applied_statuses_never_go_backwards(sequence):
    current = 0
    applied = [0]
    for status in sequence:
        if transition_error(current, status) is None:
            current = status
            applied.append(status)
    ranks = [_RANK.get(s, 99 if s == 6 else 0) for s in applied]
    if 6 in applied:
        assert applied[applied.index(6) :] == [6] * (len(applied) - applied.index(6))
        ranks = ranks[: applied.index(6)]
    assert ranks == sorted(ranks)


def test_admin_endpoints_place_and_show_orders(emulator, fake_receiver: FakeReceiver):
    with httpx.Client(transport=emulator.transport(), base_url=emulator.base_url) as http:
        placed = http.post(
            "/_emulator/orders/place", json={"items": [{"PartNo": "P1", "Quantity": 1}]}
        )
        assert placed.status_code == 200
        order_id = placed.json()["Id"]
        emulator.run_due()
        state = http.get(f"/_emulator/orders/{order_id}").json()
        assert state["push"] == "accepted"
        assert http.get("/_emulator/order-pushes").json()[0]["outcome"] == "accepted"
        created = http.post("/_emulator/orders", json={"items": [{"PartNo": "P1", "Quantity": 1}]})
        assert created.status_code == 200
    assert len(fake_receiver.requests) == 1
