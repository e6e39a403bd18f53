"""The order status publisher against the emulator: in order, never backwards, never twice."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from norce_integration import AsyncNorce, Norce
from norce_integration.orders import OrderStatus
from norce_integration.orders import models as om
from norce_integration.patterns.orders import (
    AsyncOrderPublisher,
    OrderEvent,
    OrderPublisher,
    StreamState,
)
from norce_integration.stores import AsyncSqliteStore, SqliteStore
from norce_integration.testing import NorceEmulator
from norce_integration.testing._orders import OrderServiceRules

from .conftest import client_settings


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with SqliteStore(tmp_path / "publisher.sqlite") as s:
        yield s


def placed(emulator: NorceEmulator) -> tuple[int, int, str]:
    order = emulator.place_order([("P1", 1)])
    emulator.run_due()
    return order["Id"], int(order["ClientOrderRef"]), emulator.orders.state(order["Id"])["OrderNo"]


def status(ref: int, erp: str, seq: int, value: OrderStatus) -> OrderEvent:
    body = om.SendOrderStatusRequest(client_order_ref=ref, erp_order_no=erp, order_status=value)
    return OrderEvent(order_ref=str(ref), sequence=seq, body=body)


def note(ref: int, erp: str, seq: int) -> OrderEvent:
    body = om.DeliveryNote(
        order_no=erp, note_no=f"DN-{seq}", delivery_date=dt.datetime(2026, 12, 4)
    )
    return OrderEvent(order_ref=str(ref), sequence=seq, body=body)


def invoice(ref: int, erp: str, seq: int) -> OrderEvent:
    body = om.Invoice(
        invoice_no=f"INV-{seq}",
        client_order_ref=ref,
        erp_order_no=erp,
        invoice_date=dt.datetime(2026, 12, 5),
        currency_code="SEK",
    )
    return OrderEvent(order_ref=str(ref), sequence=seq, body=body)


def history(emulator: NorceEmulator, order_id: int) -> list[str]:
    return [h["to"] for h in emulator.orders.state(order_id)["status_history"]]


def test_events_are_sent_in_order_per_order_and_never_twice(emulator, norce, store):
    a_id, a_ref, a_erp = placed(emulator)
    b_id, b_ref, b_erp = placed(emulator)
    events = [
        status(a_ref, a_erp, 1, OrderStatus.Confirmed),
        note(a_ref, a_erp, 2),
        invoice(a_ref, a_erp, 3),
        status(b_ref, b_erp, 10, OrderStatus.Confirmed),
        note(b_ref, b_erp, 11),
    ]
    shuffled = events[:]
    random.Random(4).shuffle(shuffled)
    publisher = OrderPublisher(norce, store)
    report = publisher.publish(shuffled)
    assert sorted(e.sequence for e in report.sent) == [1, 2, 3, 10, 11]
    assert history(emulator, a_id) == ["Confirmed", "Delivered", "Invoiced"]
    assert history(emulator, b_id) == ["Confirmed", "Delivered"]
    again = publisher.publish(events)  # a source re-reading its outbox
    assert again.sent == []
    assert len(again.skipped_old) == 5
    assert len(emulator.orders.state(a_id)["invoices"]) == 1


def test_an_older_status_is_never_sent_after_a_newer_one(emulator, norce, store):
    order_id, ref, erp = placed(emulator)
    publisher = OrderPublisher(norce, store)
    publisher.publish([status(ref, erp, 5, OrderStatus.Delivered)])
    late = publisher.publish([status(ref, erp, 4, OrderStatus.Confirmed)])
    assert late.skipped_old == [status(ref, erp, 4, OrderStatus.Confirmed)]
    backwards = publisher.publish([status(ref, erp, 6, OrderStatus.Confirmed)])
    assert [e.sequence for e in backwards.skipped_backwards] == [6]
    assert history(emulator, order_id) == ["Delivered"]
    assert publisher.state(str(ref)).last_status == 4


def test_backwards_statuses_can_be_allowed(emulator, norce, store):
    emulator.orders.rules = OrderServiceRules(check_transitions=False)  # Norce might refuse
    order_id, ref, erp = placed(emulator)
    publisher = OrderPublisher(norce, store, allow_backwards=True)
    publisher.publish([status(ref, erp, 1, OrderStatus.Delivered)])
    publisher.publish([status(ref, erp, 2, OrderStatus.Confirmed)])
    assert history(emulator, order_id) == ["Delivered", "Confirmed"]


class Crash(BaseException):
    """The publisher's process dies right after Norce answered."""


def crashing(norce: Norce, operation: str) -> None:
    resource = norce.connect.orders
    real = getattr(resource, operation)

    def call(body):
        real(body)
        raise Crash

    setattr(resource, operation, call)


def test_a_crash_after_norce_accepted_an_invoice_never_sends_it_twice(emulator, store):
    order_id, ref, erp = placed(emulator)
    events = [status(ref, erp, 1, OrderStatus.Delivered), invoice(ref, erp, 2)]
    with Norce(client_settings(emulator), transport=emulator.transport()) as dying:
        crashing(dying, "create_invoice")
        with pytest.raises(Crash):
            OrderPublisher(dying, store).publish(events)
    with Norce(client_settings(emulator), transport=emulator.transport()) as norce:
        publisher = OrderPublisher(norce, store)
        report = publisher.publish(events)
        assert report.held == [str(ref)]
        assert report.sent == []
        assert len(emulator.orders.state(order_id)["invoices"]) == 1
        assert list(publisher.held()) == [str(ref)]
        publisher.release(str(ref), applied=True)  # the operator saw the invoice in Norce
        later = publisher.publish([*events, status(ref, erp, 3, OrderStatus.Invoiced)])
    assert [e.sequence for e in later.sent] == [3]
    assert len(emulator.orders.state(order_id)["invoices"]) == 1


def test_a_crash_mid_status_call_resends_it(emulator, store):
    order_id, ref, erp = placed(emulator)
    events = [status(ref, erp, 1, OrderStatus.Confirmed)]
    with Norce(client_settings(emulator), transport=emulator.transport()) as dying:
        crashing(dying, "send_order_status")
        with pytest.raises(Crash):
            OrderPublisher(dying, store).publish(events)
    with Norce(client_settings(emulator), transport=emulator.transport()) as norce:
        report = OrderPublisher(norce, store).publish(events)
    assert [e.sequence for e in report.sent] == [1]  # idempotent: safe to send again
    assert history(emulator, order_id) == ["Confirmed"]


def test_an_ambiguous_failure_holds_the_order_and_release_resends(emulator, norce, store):
    order_id, ref, erp = placed(emulator)
    emulator.faults.add("Order/CreateInvoice", status=500, times=1)
    publisher = OrderPublisher(norce, store)
    events = [invoice(ref, erp, 1), status(ref, erp, 2, OrderStatus.Invoiced)]
    report = publisher.publish(events)
    assert report.held == [str(ref)]
    assert publisher.publish(events).held == [str(ref)]  # nothing moves until released
    publisher.release(str(ref), applied=False)  # the operator found no invoice in Norce
    report = publisher.publish(events)
    assert [e.sequence for e in report.sent] == [1, 2]
    assert len(emulator.orders.state(order_id)["invoices"]) == 1


def test_norce_unavailable_defers_and_a_later_pass_sends(emulator, norce, store):
    _order_id, ref, erp = placed(emulator)
    emulator.faults.add("Order/CreateDeliveryNote", status=503, times=10)
    publisher = OrderPublisher(norce, store)
    events = [note(ref, erp, 1), invoice(ref, erp, 2)]
    report = publisher.publish(events)
    assert [e.sequence for e in report.deferred] == [1, 2]
    emulator.faults.clear()
    assert [e.sequence for e in publisher.publish(events).sent] == [1, 2]


def test_a_refused_event_is_reported_and_not_resent(emulator, norce, store):
    publisher = OrderPublisher(norce, store)
    unknown = status(4242, "NOPE", 1, OrderStatus.Confirmed)
    assert publisher.publish([unknown]).rejected == [unknown]
    assert publisher.publish([unknown]).skipped_old == [unknown]


def test_a_wrong_body_type_fails_when_the_event_is_made():
    with pytest.raises(TypeError, match="Order-service request"):
        OrderEvent(order_ref="1", sequence=1, body=om.Address())


def test_release_of_an_order_that_is_not_held(emulator, norce, store):
    with pytest.raises(KeyError):
        OrderPublisher(norce, store).release("nope", applied=True)


def test_stream_state_round_trips():
    state = StreamState(last_sequence=3, last_status=4, inflight=5, inflight_operation="x")
    assert StreamState.from_text(state.to_text()) == state


@pytest.mark.anyio
async def test_async_publisher_with_async_events(emulator, tmp_path):
    order_id, ref, erp = placed(emulator)

    async def source():
        yield status(ref, erp, 1, OrderStatus.Confirmed)
        yield note(ref, erp, 2)

    async with (
        AsyncNorce(client_settings(emulator), transport=emulator.transport()) as norce,
        AsyncSqliteStore(tmp_path / "p.sqlite") as store,
    ):
        report = await AsyncOrderPublisher(norce, store).publish(source())
    assert [e.sequence for e in report.sent] == [1, 2]
    assert history(emulator, order_id) == ["Confirmed", "Delivered"]
