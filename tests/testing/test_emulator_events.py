"""Emulator Event webhooks: payloads, static headers, retry schedule, faults, back office."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from norce_integration.testing import RETRY_DELAYS, ManualClock, NorceEmulator


HOOK = "http://receiver.test/hooks"
PRODUCT_HEADER = {
    "AccountId": 1,
    "FullFile": False,
    "ProductFieldsThatAreSet": [0, 4],
    "VariantFieldsThatAreSet": [0, 5],
    "SkuFieldsThatAreSet": [1, 2, 5],
}


class Receiver:
    """A webhook receiver behind httpx.MockTransport; ``reply`` decides the status."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.reply: Callable[[httpx.Request], int] = lambda _request: 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.reply(request))

    def bodies(self, event_type: str | None = None) -> list[dict[str, Any]]:
        return [
            json.loads(r.content)
            for r in self.requests
            if event_type is None or r.url.path.endswith(event_type)
        ]


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emulator(clock: ManualClock, receiver: Receiver) -> Iterator[NorceEmulator]:
    with NorceEmulator(
        clock=clock, delivery_transport=httpx.MockTransport(receiver), token_lifetime=10**6
    ) as emu:
        yield emu


@pytest.fixture
def http(emulator: NorceEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=emulator.transport(),
        base_url=emulator.settings().connect_base,
        headers={"Authorization": f"Bearer {emulator.issue_token()}"},
    ) as client:
        yield client


def import_products(http: httpx.Client, *part_nos: str, **sku: Any) -> int:
    items = [
        {
            "ManufacturerCode": "ACME",
            "Variants": [
                {
                    "ManufacturerPartNo": f"M-{p}",
                    "Skus": [{"PartNo": p, "Status": 1, "Type": 1, **sku}],
                }
            ],
        }
        for p in part_nos
    ]
    response = http.post(
        "Product/ImportProducts",
        headers={"X-StormConnect-Header": json.dumps(PRODUCT_HEADER)},
        json=items,
    )
    assert response.status_code == 200
    return int(response.json()["JobId"])


def subscribe_all(emulator: NorceEmulator, *event_types: str, **kwargs: Any) -> None:
    for event_type in event_types:
        emulator.subscribe(event_type, f"{HOOK}/{event_type}", **kwargs)


def test_import_fires_sku_changed_and_job_completed_with_static_headers(emulator, http, receiver):
    subscribe_all(
        emulator,
        "SkuChangedNotification",
        "JobCompletedEvent",
        headers={"x-api-key": "k-123", "x-norce-event-type": "static"},
    )
    job_id = import_products(http, "P1", "P2")
    assert receiver.requests == []  # nothing before the job ends
    emulator.advance(10)
    sku_events = receiver.bodies("SkuChangedNotification")
    assert sku_events == [
        {"ClientId": 1042, "ApplicationId": 1042, "PartNo": p, "EntityChanged": "tClientProductSku"}
        for p in ("P1", "P2")
    ]
    assert receiver.bodies("JobCompletedEvent") == [
        {"ClientId": 1042, "ApplicationId": 1042, "JobId": job_id, "StatusId": 2}
    ]
    for request in receiver.requests:
        assert request.method == "POST"
        assert request.headers["content-type"] == "application/json"
        assert request.headers["x-api-key"] == "k-123"
    attempts = emulator.deliveries
    assert [a.outcome for a in attempts] == ["delivered"] * 3
    assert all(a.time == emulator.clock.now() - timedelta(seconds=7) for a in attempts)


def test_off_subscriptions_track_nothing_and_entity_filters_apply(emulator, http, receiver):
    emulator.subscribe("SkuChangedNotification", HOOK, enabled=False)
    import_products(http, "P1")
    emulator.advance(10)
    emulator.subscribe("SkuChangedNotification", HOOK)
    emulator.run_due()
    assert receiver.requests == []  # changes while OFF are not queued for later
    emulator.subscribe("SkuChangedNotification", HOOK, entities=["tClientProductSkuPriceList"])
    import_products(http, "P1", EanCode="new")
    emulator.set_sku_price("P1", 50)
    emulator.advance(10)
    assert [b["EntityChanged"] for b in receiver.bodies()] == ["tClientProductSkuPriceList"]


def test_retry_schedule_on_a_manual_clock_then_dead(emulator, receiver, http):
    import_products(http, "P1")
    emulator.advance(10)
    receiver.reply = lambda _request: 500
    emulator.subscribe("SkuPriceChangedNotification", HOOK)
    start = emulator.clock.now()
    emulator.set_sku_price("P1", 42)
    emulator.advance(23 * 3600)
    attempts = [a for a in emulator.deliveries if a.event_type == "SkuPriceChangedNotification"]
    offsets = [(a.time - start).total_seconds() for a in attempts]
    expected = [0.0]
    for delay in (
        5,
        10,
        15,
        30,
        60,
        120,
        300,
        600,
        900,
        1800,
        3600,
        7200,
        10800,
        14400,
        18000,
        21600,
    ):
        expected.append(expected[-1] + delay)
    assert offsets == expected
    assert RETRY_DELAYS == (
        5,
        10,
        15,
        30,
        60,
        120,
        300,
        600,
        900,
        1800,
        3600,
        7200,
        10800,
        14400,
        18000,
        21600,
    )
    assert [a.attempt for a in attempts] == list(range(1, 18))
    assert all(a.status_code == 500 and a.outcome == "failed" for a in attempts)
    assert [a.dead for a in attempts] == [False] * 16 + [True]
    assert attempts[0].next_attempt == start + timedelta(seconds=5)
    assert len(emulator.dead_letters) == 1
    assert emulator.pending_deliveries == []
    emulator.advance(48 * 3600)
    assert len(receiver.requests) == 17  # dead events are never redelivered


def test_timeouts_and_errors_are_retried_until_a_2xx(emulator, receiver, http):
    import_products(http, "P1")
    emulator.advance(10)
    replies = iter(["timeout", "refused", 503, 204])

    def handler(request: httpx.Request) -> httpx.Response:
        reply = next(replies)
        receiver.requests.append(request)
        if reply == "timeout":
            raise httpx.ReadTimeout("slow receiver", request=request)
        if reply == "refused":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(reply)

    emulator.delivery_transport = httpx.MockTransport(handler)
    emulator.subscribe("SkuChangedNotification", HOOK)
    emulator.set_sku_status("P1", 4)
    emulator.advance(3600)
    outcomes = [(a.attempt, a.outcome, a.status_code) for a in emulator.deliveries]
    assert outcomes == [
        (1, "timeout", None),
        (2, "error", None),
        (3, "failed", 503),
        (4, "delivered", 204),
    ]
    assert emulator.pending_deliveries == []


def test_duplicate_delivery_fault(emulator, http, receiver):
    emulator.faults.events("SkuChangedNotification", duplicate_rate=1.0)
    emulator.subscribe("SkuChangedNotification", HOOK)
    import_products(http, "P1", "P2")
    emulator.advance(10)
    assert [b["PartNo"] for b in receiver.bodies()] == ["P1", "P1", "P2", "P2"]
    assert [a.duplicate for a in emulator.deliveries] == [False, True, False, True]


def test_reorder_delivery_fault_is_seeded(emulator, http, receiver):
    emulator.faults.events(reorder=True)
    emulator.subscribe("SkuChangedNotification", HOOK)
    parts = [f"P{i}" for i in range(6)]
    import_products(http, *parts)
    emulator.advance(10)
    delivered = [b["PartNo"] for b in receiver.bodies()]
    assert sorted(delivered) == parts
    assert delivered != parts


def test_price_and_onhand_notifications(emulator, http, receiver):
    import_products(http, "P1")
    emulator.advance(10)
    subscribe_all(emulator, "SkuPriceChangedNotification", "SkuOnHandBreakPointNotification")
    emulator.set_sku_price("P1", 99.5, price_list_code="EUR", quantity_break=2)
    emulator.run_due()
    assert receiver.bodies("SkuPriceChangedNotification") == [
        {
            "ClientId": 1042,
            "ApplicationId": 1042,
            "PartNo": "P1",
            "PricelistId": 2,
            "PricelistCode": "EUR",
            "PriceSaleValue": 99.5,
            "QuantityBreak": 2.0,
        }
    ]
    for value in (10, 3, 2, 10, 1):
        emulator.set_sku_onhand("P1", value, minimum_value=3)
    emulator.run_due()
    breakpoints = receiver.bodies("SkuOnHandBreakPointNotification")
    assert [b["OnHandValue"] for b in breakpoints] == [3.0, 1.0]
    assert breakpoints[0] == {
        "ClientId": 1042,
        "ApplicationId": 1042,
        "PartNo": "P1",
        "WarehouseId": 1,
        "WarehouseCode": "MAIN",
        "LocationId": 1,
        "LocationCode": "MAIN",
        "OnHandValue": 3.0,
        "MinimumValue": 3.0,
    }


def test_imports_fire_price_and_onhand_entity_changes(emulator, http, receiver):
    import_products(http, "P1")
    emulator.advance(10)
    subscribe_all(emulator, "SkuChangedNotification", "SkuPriceChangedNotification")
    http.post(
        "Product/ImportSkuPriceLists",
        headers={
            "X-StormConnect-Header": json.dumps(
                {"AccountId": 1, "FullFile": False, "SkuPriceListFieldsThatAreSet": [3]}
            )
        },
        json=[{"PartNo": "P1", "PriceListCode": "STD", "PriceSale": 10}],
    )
    http.post(
        "Product/ImportOnhands",
        headers={
            "X-StormConnect-Header": json.dumps(
                {"AccountId": 1, "FullFile": False, "SkuOnhandFieldsThatAreSet": [3]}
            )
        },
        json=[{"PartNo": "P1", "WarehouseCode": "MAIN", "LocationCode": "MAIN", "OnhandValue": 4}],
    )
    emulator.advance(10)
    assert [b["EntityChanged"] for b in receiver.bodies("SkuChangedNotification")] == [
        "tClientProductSkuPriceList",
        "tClientProductSkuOnHand",
    ]
    assert receiver.bodies("SkuPriceChangedNotification")[0]["PriceSaleValue"] == 10.0


def test_name_customer_company_and_order_events(emulator, http, receiver):
    import_products(http, "P1")
    customer_header = {"AccountId": 1, "CustomerFieldsThatAreSet": [2, 3, 6, 8, 10]}
    http.post(
        "Customer/ImportCustomers",
        headers={"X-StormConnect-Header": json.dumps(customer_header)},
        json=[
            {
                "Code": "C1",
                "EmailAddress": "c@example.com",
                "FirstName": "Cy",
                "LastName": "Doe",
                "CellPhoneNumber": "+4670",
            }
        ],
    )
    subscribe_all(
        emulator,
        "SkuChangedNotification",
        "CustomerChangedNotification",
        "CompanyChangedNotification",
        "OrderReceivedEvent",
        "OrderConfirmedEvent",
        "OrderDeliveredEvent",
        "OrderCancelledEvent",
    )
    emulator.advance(10)
    (customer_event,) = receiver.bodies("CustomerChangedNotification")
    customer_id = customer_event["CustomerId"]
    assert customer_event["EntityChanged"] == "tClientCustomer"
    emulator.set_sku_name("P1", "Nice shirt")
    emulator.update_customer(customer_id, FirstName="Cyd")
    order = emulator.create_order([("P1", 1)], customer_id=customer_id)
    emulator.confirm_order(order["Id"])
    emulator.confirm_order(order["Id"])  # documented: once per order
    emulator.ship_order(order["Id"])
    second = emulator.create_order([{"PartNo": "P1", "Quantity": 2, "PriceSale": 5}])
    emulator.cancel_order(second["Id"])
    emulator.run_due()
    assert (
        receiver.bodies("SkuChangedNotification")[-1]["EntityChanged"] == "tClientProductSkuCulture"
    )
    assert len(receiver.bodies("CustomerChangedNotification")) == 2
    received = receiver.bodies("OrderReceivedEvent")
    assert received[0] == {
        "ClientId": 1042,
        "ApplicationId": 1042,
        "ClientOrderRef": received[0]["ClientOrderRef"],
        "Email": "c@example.com",
        "CellPhone": "+4670",
        "FirstName": "Cyd",
        "LastName": "Doe",
        "Source": "WEB",
    }
    assert len(receiver.bodies("OrderConfirmedEvent")) == 1
    delivered = receiver.bodies("OrderDeliveredEvent")[0]
    assert delivered["OrderId"] == order["Id"]
    assert delivered["OrderNo"] == order["OrderNo"]
    assert receiver.bodies("OrderCancelledEvent")[0]["OrderId"] == second["Id"]
    assert emulator.table("Orders", "Orders").get(order["Id"])["StatusId"] == 4
    assert emulator.table("Orders", "Orders").get(second["Id"])["StatusId"] == 6


def test_admin_endpoint_drives_subscriptions_back_office_and_clock(emulator, http, receiver):
    import_products(http, "P1")
    admin = emulator.base_url + "/_emulator"
    with httpx.Client(transport=emulator.transport()) as client:
        put = client.put(
            f"{admin}/subscriptions/skupricechangednotification",
            json={"url": HOOK, "headers": {"x-key": "v"}},
        )
        assert put.status_code == 200
        assert put.json()["event_type"] == "SkuPriceChangedNotification"
        assert client.post(f"{admin}/clock/advance", json={"seconds": 10}).status_code == 200
        assert client.post(f"{admin}/skus/P1/price", json={"price_sale": 7}).status_code == 200
        assert client.post(f"{admin}/skus/NOPE/price", json={"price_sale": 7}).status_code == 404
        assert client.post(f"{admin}/skus/P1/onhand", json={"onhand_value": 3}).status_code == 200
        deliveries = client.get(f"{admin}/deliveries").json()
        assert [d["payload"]["PriceSaleValue"] for d in deliveries] == [7.0]
        assert deliveries[0]["outcome"] == "delivered"
        assert client.get(f"{admin}/subscriptions").json()[0]["headers"] == {"x-key": "v"}
        order = client.post(f"{admin}/orders", json={"items": [{"PartNo": "P1", "Quantity": 1}]})
        assert order.status_code == 200
        shipped = client.post(f"{admin}/orders/{order.json()['Id']}/ship")
        assert shipped.json()["StatusId"] == 4
        assert (
            client.post(f"{admin}/faults", json={"route": "Job/*", "status": 503}).status_code
            == 200
        )
        assert http.get("Job/Ping").status_code == 503
        assert client.delete(f"{admin}/faults").status_code == 200
        assert http.get("Job/Ping").status_code == 200
        info = client.get(admin).json()
        assert info["connect_url"] == "http://norce-emulator.local/commerce/connect/4.0/"
        assert "client_secret" not in info
        assert (
            client.delete(f"{admin}/subscriptions/SkuPriceChangedNotification").status_code == 200
        )
        assert client.get(f"{admin}/nothing").status_code == 404
    assert receiver.requests[0].headers["x-key"] == "v"


@pytest.mark.anyio
async def test_async_delivery_into_an_asgi_receiver():
    received: list[dict[str, Any]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        received.append({"path": scope["path"], "body": json.loads(body)})
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with NorceEmulator(
        clock=ManualClock(), delivery_transport=httpx.ASGITransport(app=app)
    ) as emulator:
        emulator.subscribe("JobCompletedEvent", "http://receiver.test/jobs")
        async with httpx.AsyncClient(
            transport=emulator.transport(),
            base_url=emulator.settings().connect_base,
            headers={"Authorization": f"Bearer {emulator.issue_token()}"},
        ) as client:
            response = await client.post(
                "Product/ImportSkuPriceLists",
                headers={
                    "X-StormConnect-Header": json.dumps(
                        {"AccountId": 1, "FullFile": False, "SkuPriceListFieldsThatAreSet": [3]}
                    )
                },
                json=[],
            )
            job_id = int(response.json()["JobId"])
            emulator.advance(10)  # sync: an async-only transport cannot deliver here
            assert received == []
            assert len(emulator.pending_deliveries) == 1
            await emulator.aadvance(1)
            assert received == [
                {
                    "path": "/jobs",
                    "body": {
                        "ClientId": 1042,
                        "ApplicationId": 1042,
                        "JobId": job_id,
                        "StatusId": 2,
                    },
                }
            ]
            # Requests through the async transport deliver what is due afterwards.
            await client.post(
                "Product/ImportSkuPriceLists",
                headers={
                    "X-StormConnect-Header": json.dumps(
                        {"AccountId": 1, "FullFile": False, "SkuPriceListFieldsThatAreSet": [3]}
                    )
                },
                json=[],
            )
            emulator.clock.advance(10)
            await client.get("Job/Ping")
            assert len(received) == 2
