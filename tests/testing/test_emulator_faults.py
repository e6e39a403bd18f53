"""Emulator route faults: 429 + Retry-After, 5xx, latency, dropped connections."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from norce_integration.testing import ManualClock, NorceEmulator


HEADER = json.dumps({"AccountId": 1, "FullFile": False, "SkuPriceListFieldsThatAreSet": [3]})


@pytest.fixture
def emulator() -> Iterator[NorceEmulator]:
    with NorceEmulator(clock=ManualClock(), seed=3) as emu:
        yield emu


@pytest.fixture
def http(emulator: NorceEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=emulator.transport(),
        headers={"Authorization": f"Bearer {emulator.issue_token()}", "application-id": "1042"},
    ) as client:
        yield client


def post_import(emulator: NorceEmulator, http: httpx.Client) -> httpx.Response:
    return http.post(
        emulator.settings().connect_base + "Product/ImportSkuPriceLists",
        headers={"X-StormConnect-Header": HEADER},
        json=[],
    )


def test_429_with_retry_after_once(emulator, http):
    fault = emulator.faults.add(route="Product/Import*", status=429, retry_after=2, times=1)
    limited = post_import(emulator, http)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "2"
    assert "Message" in limited.json()
    assert emulator.jobs == []  # the request never reached Connect
    assert post_import(emulator, http).status_code == 200
    assert fault.hits == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_on_query_only(emulator, http, status):
    emulator.faults.add(route="Products/*", status=status, service="query")
    settings = emulator.settings()
    response = http.get(settings.query_base + "Products/ProductSkus")
    assert response.status_code == status
    assert response.json()["error"]["code"] == str(status)
    assert http.get(settings.query_base + "Core/Currencies").status_code == 200
    assert post_import(emulator, http).status_code == 200


def test_full_path_patterns_methods_and_removal(emulator, http):
    fault = emulator.faults.add(route="/commerce/connect/4.0/*", method="GET", status=503)
    ping = emulator.settings().connect_base + "api/Job/Ping"
    assert http.get(ping).status_code == 503
    assert post_import(emulator, http).status_code == 200
    emulator.faults.remove(fault)
    assert http.get(ping).status_code == 200


def test_token_endpoint_faults(emulator, http):
    emulator.faults.add(service="token", status=503, retry_after=30)
    settings = emulator.settings()
    response = http.post(
        settings.token_endpoint,
        data={
            "grant_type": "client_credentials",
            "client_id": settings.client_id,
            "client_secret": emulator.client_secret,
        },
    )
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "30"


def test_rate_based_faults_are_deterministic():
    def statuses(seed: int) -> list[int]:
        with NorceEmulator(clock=ManualClock(), seed=seed) as emulator:
            emulator.faults.add(route="Job/Ping", status=500, rate=0.5)
            with httpx.Client(
                transport=emulator.transport(),
                headers={"Authorization": f"Bearer {emulator.issue_token()}"},
            ) as http:
                url = emulator.settings().connect_base + "Job/Ping"
                return [http.get(url).status_code for _ in range(20)]

    assert statuses(11) == statuses(11)
    assert set(statuses(11)) == {200, 500}


def test_latency_on_the_emulator_clock(emulator, http):
    emulator.faults.add(route="Job/Ping", latency=30)
    before = emulator.clock.now()
    assert http.get(emulator.settings().connect_base + "Job/Ping").status_code == 200
    assert (emulator.clock.now() - before).total_seconds() == 30


def test_real_latency_sleeps_on_the_wall_clock(emulator, http):
    emulator.faults.add(route="Job/Ping", latency=0.01, real_latency=True, times=1)
    before = emulator.clock.now()
    assert http.get(emulator.settings().connect_base + "Job/Ping").status_code == 200
    assert emulator.clock.now() == before


def test_dropped_connections_raise_transport_errors(emulator, http):
    emulator.faults.add(route="Product/*", drop="disconnect", times=1)
    emulator.faults.add(route="Job/*", drop="connect", times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        post_import(emulator, http)
    with pytest.raises(httpx.ConnectError):
        http.get(emulator.settings().connect_base + "Job/Ping")
    assert emulator.jobs == []
    assert post_import(emulator, http).status_code == 200


@pytest.mark.anyio
async def test_faults_through_the_async_transport(emulator):
    emulator.faults.add(route="Job/Ping", drop="disconnect", times=1)
    emulator.faults.add(route="Job/Ping", status=429, retry_after=1, times=1)
    emulator.faults.add(route="Job/Ping", latency=5, times=1)
    async with httpx.AsyncClient(
        transport=emulator.transport(),
        headers={"Authorization": f"Bearer {emulator.issue_token()}"},
    ) as client:
        url = emulator.settings().connect_base + "Job/Ping"
        with pytest.raises(httpx.RemoteProtocolError):
            await client.get(url)
        assert (await client.get(url)).status_code == 429
        before = emulator.clock.now()
        assert (await client.get(url)).status_code == 200
        assert (emulator.clock.now() - before).total_seconds() == 5


def test_invalid_fault_definitions_are_rejected(emulator):
    with pytest.raises(ValueError, match="needs a status"):
        emulator.faults.add(route="*")
    with pytest.raises(ValueError, match="HTTP status"):
        emulator.faults.add(status=42)
    with pytest.raises(ValueError, match="between 0 and 1"):
        emulator.faults.job(failure_rate=2)
