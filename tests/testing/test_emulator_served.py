"""Emulator served by uvicorn on a real loopback socket."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from norce_integration.testing import JobTimings, ManualClock, NorceEmulator, SystemClock


HEADER = {
    "AccountId": 1,
    "FullFile": False,
    "ProductFieldsThatAreSet": [0, 4],
    "VariantFieldsThatAreSet": [0, 5],
    "SkuFieldsThatAreSet": [1, 2],
}
ITEMS = [
    {
        "ManufacturerCode": "ACME",
        "Variants": [
            {"ManufacturerPartNo": f"M{i}", "Skus": [{"PartNo": f"P{i}", "Status": 1, "Type": 1}]}
        ],
    }
    for i in range(3)
]


def _token(client: httpx.Client, emulator: NorceEmulator, token_url: str) -> str:
    response = client.post(
        token_url,
        data={
            "grant_type": "client_credentials",
            "client_id": emulator.client_id,
            "client_secret": emulator.client_secret,
            "scope": "prod",
        },
    )
    assert response.status_code == 200
    return str(response.json()["access_token"])


def test_token_import_job_and_query_over_a_socket():
    with NorceEmulator(clock=ManualClock()) as emulator, emulator.serve(port=0) as server:
        settings = server.settings()
        assert settings.connect_base == f"{server.base_url}/commerce/connect/4.0/"
        assert server.base_url.startswith("http://127.0.0.1:")
        with httpx.Client(timeout=10) as client:
            token = _token(client, emulator, settings.token_endpoint)
            auth = {"Authorization": f"Bearer {token}"}
            body = json.dumps(ITEMS).encode()

            def chunked() -> object:  # streamed without Content-Length
                for i in range(0, len(body), 50):
                    yield body[i : i + 50]

            response = client.post(
                settings.connect_base + "Product/ImportProducts",
                headers={**auth, "X-StormConnect-Header": json.dumps(HEADER)},
                content=chunked(),
            )
            assert response.status_code == 200, response.text
            job_id = response.json()["JobId"]
            job = client.get(settings.connect_base + "Job/Get", params={"id": job_id}, headers=auth)
            assert job.json()["StatusId"] == 6
            advanced = client.post(
                f"{server.base_url}/_emulator/clock/advance", json={"seconds": 5}
            )
            assert advanced.status_code == 200
            job = client.get(
                settings.connect_base + "api/Job/Get", params={"id": job_id}, headers=auth
            ).json()
            assert job["StatusId"] == 2
            assert job["Inserts"] == 6
            first = client.get(
                settings.query_base + "Products/ProductSkus",
                params={"$top": "2", "$select": "PartNo"},
                headers={**auth, "application-id": "1042"},
            ).json()
            assert first["value"] == [{"PartNo": "P0"}, {"PartNo": "P1"}]
            assert first["@odata.context"].startswith(settings.query_base)


def test_dropped_connection_closes_the_socket():
    with (
        NorceEmulator(clock=ManualClock()) as emulator,
        emulator.serve(port=0, log_level="critical") as server,
    ):
        emulator.faults.add(route="Job/Ping", drop="disconnect", times=1)
        settings = server.settings()
        with httpx.Client(
            timeout=10, headers={"Authorization": f"Bearer {emulator.issue_token()}"}
        ) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                client.get(settings.connect_base + "Job/Ping")
            assert client.get(settings.connect_base + "Job/Ping").status_code == 200


def test_served_emulator_pumps_jobs_and_webhooks_on_a_real_clock():
    received: list[dict[str, object]] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(json.loads(request.content))
        return httpx.Response(200)

    with (
        NorceEmulator(
            clock=SystemClock(speed=100),
            job_timings=JobTimings(queued=1, running=1),
            delivery_transport=httpx.MockTransport(receiver),
        ) as emulator,
        emulator.serve(port=0) as server,
    ):
        emulator.subscribe("JobCompletedEvent", "http://receiver.test/jobs")
        settings = server.settings()
        with httpx.Client(timeout=10) as client:
            token = _token(client, emulator, settings.token_endpoint)
            response = client.post(
                settings.connect_base + "Product/ImportProducts",
                headers={
                    "Authorization": f"Bearer {token}",
                    "X-StormConnect-Header": json.dumps(HEADER),
                },
                json=ITEMS,
            )
            job_id = int(response.json()["JobId"])
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.02)  # the lifespan pump runs due work without any request
        assert received == [
            {"ClientId": 1042, "ApplicationId": 1042, "JobId": job_id, "StatusId": 2}
        ]
        assert str(server) == server.base_url
        assert "client secret" in server.describe()
