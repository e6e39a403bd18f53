"""The demo's order chapter: Norce → the Order Receiver → a demo ERP → the ERP's answers
(delivery note, invoice, statuses) back to Norce through the status publisher.

Everything runs in-process on the emulator: its checkout pushes each placed order to the
receiver's ASGI app, the receiver stores the order before it answers and creates it in
the demo ERP, and the ERP's outbox goes back through ``OrderPublisher`` to Connect's
Order service, which the emulator validates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from pathlib import Path
from typing import Any

import attrs
import httpx

from ..._sync_client import Norce
from ...orders import (
    AsyncOrderReceiver,
    OrderReceiverApp,
    OrderRequest,
    OrderStatus,
    ReceiverSettings,
)
from ...orders import models as om
from ...patterns.orders import OrderEvent, OrderPublisher
from ...stores import AsyncSqliteStore, SqliteStore
from ...testing import NorceEmulator


__all__ = ["ORDER_PATH", "DemoErp", "OrderChapter", "order_router", "run_orders"]

ORDER_PATH = "/erp/orders"
ORDER_URL = f"http://erp.demo{ORDER_PATH}"
USERNAME = "norce"
PASSWORD = "demo-order-password"  # noqa: S105 - the demo's own, in-process only

Scope = MutableMapping[str, Any]
ASGI = Callable[[Scope, Any, Any], Awaitable[None]]


class DemoErp:
    """The demo's ERP: takes orders (an ``OrderTarget``) and keeps an outbox of what
    happens to them afterwards (confirmed, shipped, invoiced)."""

    def __init__(self) -> None:
        self.orders: dict[str, OrderRequest] = {}
        self.numbers: dict[str, str] = {}

    def create_order(self, order: OrderRequest, *, key: str) -> str | None:
        number = self.numbers.get(key)
        if number is None:
            number = f"SO-{len(self.numbers) + 1:05d}"
            self.numbers[key] = number
            self.orders[number] = order
        return number

    def find_order(self, order: OrderRequest, *, key: str) -> str | None:
        return self.numbers.get(key)

    def outbox(self, when: dt.datetime) -> list[OrderEvent]:
        """Per order: confirmed, shipped (a delivery note), invoiced."""
        events: list[OrderEvent] = []
        for index, (number, order) in enumerate(sorted(self.orders.items())):
            ref = int(str(order.client_order_ref))
            stream = str(ref)
            status = om.SendOrderStatusRequest(
                client_order_ref=ref, erp_order_no=number, order_status=OrderStatus.Confirmed
            )
            note = om.DeliveryNote(
                order_no=number, note_no=f"DN-{index + 1:05d}", delivery_date=when
            )
            invoice = om.Invoice(
                invoice_no=f"INV-{index + 1:05d}",
                client_order_ref=ref,
                erp_order_no=number,
                invoice_date=when,
                currency_code="SEK",
            )
            events += [
                OrderEvent(order_ref=stream, sequence=1, body=status),
                OrderEvent(order_ref=stream, sequence=2, body=note),
                OrderEvent(order_ref=stream, sequence=3, body=invoice),
            ]
        return events


def order_router(orders: ASGI, other: ASGI) -> ASGI:
    """One ASGI app for the emulator's deliveries: order pushes, everything else."""

    async def route(scope: Scope, receive: Any, send: Any) -> None:
        if scope.get("type") == "http" and str(scope.get("path", "")).startswith(ORDER_PATH):
            await orders(scope, receive, send)
        else:
            await other(scope, receive, send)

    return route


@attrs.frozen
class OrderChapter:
    """What the order chapter did."""

    placed: int
    in_erp: int
    sent_to_norce: int
    invoiced: int


def run_orders(
    emulator: NorceEmulator,
    norce: Norce,
    state: Path,
    other: ASGI,
    part_nos: list[str],
    *,
    run: Callable[[Coroutine[Any, Any, None]], None],
) -> OrderChapter:
    """Place an order per part number, let Norce push them, answer from the ERP.

    Args:
        emulator: the demo's Norce.
        norce: the demo's client (the ERP's answers go through it).
        state: the state store file (the receiver's journal and the publisher's
            progress are kept there too).
        other: the ASGI app that takes the emulator's other deliveries (webhooks).
        part_nos: one order is placed per part number.
        run: runs a coroutine to the end (the CLI owns its loop: ``asyncio.run``).
    """
    erp = DemoErp()
    settings = ReceiverSettings(username=USERNAME, password=PASSWORD)

    async def push() -> None:
        store = AsyncSqliteStore(state)
        try:
            app = OrderReceiverApp(
                AsyncOrderReceiver(store, erp, settings),
                paths=(ORDER_PATH, f"{ORDER_PATH}/CreateOrder"),
                background=False,
            )
            emulator.delivery_transport = _asgi_transport(order_router(app, other))
            emulator.set_order_receiver(ORDER_URL, username=USERNAME, password=PASSWORD)
            for part_no in part_nos:
                emulator.place_order([(part_no, 1)])
            await emulator.arun_due()
        finally:
            await store.aclose()

    run(push())
    order_ids = _order_ids(emulator)
    with SqliteStore(state) as store:
        report = OrderPublisher(norce, store).publish(erp.outbox(emulator.clock.now()))
    invoiced = sum(1 for i in order_ids if emulator.orders.state(i)["Status"] == "Invoiced")
    return OrderChapter(
        placed=len(order_ids),
        in_erp=len(erp.orders),
        sent_to_norce=len(report.sent),
        invoiced=invoiced,
    )


def _order_ids(emulator: NorceEmulator) -> list[int]:
    return sorted({p.order_id for p in emulator.orders.pushes})


def _asgi_transport(app: ASGI) -> httpx.ASGITransport:
    return httpx.ASGITransport(app=app)
