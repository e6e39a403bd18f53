"""Fixtures of the order tests: an emulator with SKUs, and a fake Order Receiver."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from norce_integration import Norce, NorceSettings, RetryPolicy
from norce_integration.testing import ManualClock, NorceEmulator


RECEIVER_URL = "http://erp.test/orders"
PRODUCT_HEADER = {
    "AccountId": 1,
    "FullFile": False,
    "ProductFieldsThatAreSet": [0, 4],
    "VariantFieldsThatAreSet": [0, 5],
    "SkuFieldsThatAreSet": [1, 2, 5],
}


class FakeReceiver:
    """An Order Receiver behind httpx.MockTransport; ``reply`` decides the answer."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.reply: Callable[[httpx.Request], httpx.Response] = lambda request: httpx.Response(
            200,
            json={"StatusCode": "OK", "HasErpOrderNo": True, "ErpOrderNo": "SO-" + _ref(request)},
        )

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.reply(request)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(r.content) for r in self.requests]


def _ref(request: httpx.Request) -> str:
    return str(json.loads(request.content)["ClientOrderRef"])


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def seed_skus(emulator: NorceEmulator, *part_nos: str) -> None:
    """Import products with these SKUs and let the job finish."""
    items = [
        {
            "ManufacturerCode": "ACME",
            "Variants": [
                {"ManufacturerPartNo": f"M-{p}", "Skus": [{"PartNo": p, "Status": 1, "Type": 1}]}
            ],
        }
        for p in part_nos
    ]
    with httpx.Client(
        transport=emulator.transport(),
        base_url=emulator.settings().connect_base,
        headers={"Authorization": f"Bearer {emulator.issue_token()}"},
    ) as http:
        response = http.post(
            "Product/ImportProducts",
            headers={"X-StormConnect-Header": json.dumps(PRODUCT_HEADER)},
            json=items,
        )
        assert response.status_code == 200
    emulator.advance(60)
    for p in part_nos:
        emulator.set_sku_price(p, 100)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake_receiver() -> FakeReceiver:
    return FakeReceiver()


@pytest.fixture
def emulator(clock: ManualClock, fake_receiver: FakeReceiver) -> Iterator[NorceEmulator]:
    with NorceEmulator(
        clock=clock, delivery_transport=httpx.MockTransport(fake_receiver), token_lifetime=10**6
    ) as emu:
        seed_skus(emu, "P1", "P2")
        emu.set_order_receiver(RECEIVER_URL, username="norce", password="pw-1")
        yield emu


def client_settings(emulator: NorceEmulator) -> NorceSettings:
    return emulator.settings(retry=RetryPolicy.no_wait(max_attempts=3))


@pytest.fixture
def norce(emulator: NorceEmulator) -> Iterator[Norce]:
    with Norce(client_settings(emulator), transport=emulator.transport()) as client:
        yield client
