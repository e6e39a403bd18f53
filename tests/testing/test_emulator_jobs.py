"""Emulator Job service: lifecycle on a manual clock, JobDto, log, Job/List, job faults."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from norce_integration.testing import JobTimings, ManualClock, NorceEmulator


HEADER = {"AccountId": 1, "FullFile": False, "SkuPriceListFieldsThatAreSet": [3]}
ROWS = [{"PartNo": f"P{i}", "PriceListCode": "STD", "PriceSale": i} for i in range(3)]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emulator(clock: ManualClock) -> Iterator[NorceEmulator]:
    with NorceEmulator(clock=clock, token_lifetime=10**6) as emu:
        yield emu


@pytest.fixture
def http(emulator: NorceEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=emulator.transport(),
        base_url=emulator.settings().connect_base,
        headers={"Authorization": f"Bearer {emulator.issue_token()}"},
    ) as client:
        yield client


def submit(http: httpx.Client, rows: list[Any] = ROWS, header: dict[str, Any] = HEADER) -> int:
    response = http.post(
        "Product/ImportSkuPriceLists",
        headers={"X-StormConnect-Header": json.dumps(header)},
        json=rows,
    )
    assert response.status_code == 200
    return int(response.json()["JobId"])


def get(http: httpx.Client, job_id: int) -> dict[str, Any]:
    response = http.get("Job/Get", params={"id": job_id})
    assert response.status_code == 200
    return response.json()


def test_lifecycle_queued_initialized_succeeded(emulator, clock, http):
    job_id = submit(http)
    queued = get(http, job_id)
    assert set(queued) == {
        "JobId", "StatusId", "StorageName", "Totals", "Inserts", "Insert", "Updates", "Fail",
        "Start", "Stop", "LastUpdated", "IsFinished", "RunTime",
    }  # fmt: skip
    assert queued["JobId"] == job_id
    assert queued["StatusId"] == 6
    assert queued["IsFinished"] is False
    assert queued["Stop"] is None
    assert queued["Start"] == "2025-01-01T08:00:00"
    assert http.get("Job/GetLog", params={"id": job_id}).json() == []

    emulator.advance(0.5)
    assert get(http, job_id)["StatusId"] == 6
    emulator.advance(0.5)
    running = get(http, job_id)
    assert running["StatusId"] == 1
    assert running["Start"] == "2025-01-01T08:00:01"
    assert running["LastUpdated"] == "2025-01-01T08:00:01"
    log = http.get("Job/GetLog", params={"id": job_id}).json()
    assert log == [
        {
            "SeverityId": 1,
            "Message": "Starting import.",
            "TimeStamp": "2025-01-01T08:00:01",
            "ImportedRow": None,
        }
    ]

    emulator.advance(2)
    done = get(http, job_id)
    assert done["StatusId"] == 2
    assert done["IsFinished"] is True
    assert done["Stop"] == "2025-01-01T08:00:03"
    assert done["RunTime"] == "00:00:02.0000000"
    assert done["Totals"] == 3
    # Rows for unknown SKUs are ignored: nothing inserted, nothing failed.
    assert (done["Inserts"], done["Insert"], done["Updates"], done["Fail"]) == (0, 0, 0, 0)
    log = http.get("Job/GetLog", params={"id": job_id}).json()
    assert log[0]["Message"] == "Starting import."
    assert log[-1]["Message"] == "Import finished."
    assert [e["SeverityId"] for e in log[1:-1]] == [2, 2, 2]


def test_processing_is_lazy_on_the_next_request(clock, http):
    job_id = submit(http)
    clock.advance(60)  # the clock alone: nothing is processed yet ...
    job = get(http, job_id)  # ... until a request arrives
    assert job["StatusId"] == 2
    assert job["Stop"] == "2025-01-01T08:00:03"  # at its own due time


def test_durations_are_configurable():
    clock = ManualClock()
    timings = JobTimings(queued=5, running=10, per_item=1)
    with (
        NorceEmulator(clock=clock, job_timings=timings) as emulator,
        httpx.Client(
            transport=emulator.transport(),
            base_url=emulator.settings().connect_base,
            headers={"Authorization": f"Bearer {emulator.issue_token()}"},
        ) as http,
    ):
        job_id = submit(http)
        emulator.advance(17)
        assert get(http, job_id)["StatusId"] == 1
        emulator.advance(1)
        done = get(http, job_id)
        assert done["StatusId"] == 2
        assert done["RunTime"] == "00:00:13.0000000"


def test_job_routes_with_and_without_api_prefix(emulator, http):
    first = submit(http)
    emulator.advance(10)
    second = submit(http)
    for prefix in ("", "api/", "API/"):
        assert http.get(f"{prefix}Job/Ping").status_code == 200
        assert http.get(f"{prefix}job/get", params={"id": first}).json()["JobId"] == first
        jobs = http.get(f"{prefix}Job/List").json()
        assert [j["JobId"] for j in jobs] == [second, first]  # newest first
    assert [j["JobId"] for j in http.get("Job/List", params={"status": 2}).json()] == [first]
    assert [j["JobId"] for j in http.get("Job/List", params={"status": "Queued"}).json()] == [
        second
    ]
    paged = http.get("Job/List", params={"skip": 1, "take": 1}).json()
    assert [j["JobId"] for j in paged] == [first]
    assert http.get("Job/List", params={"status": "bogus"}).status_code == 400


def test_job_get_errors(http):
    assert http.get("Job/Get").status_code == 400
    assert http.get("Job/Get", params={"id": "abc"}).status_code == 400
    assert http.get("Job/Get", params={"id": 999999}).status_code == 404


def test_items_that_fail_validation_count_as_fail_and_all_failed_is_validation_failed(
    emulator, http
):
    job_id = submit(http, rows=[{"PartNo": "X"}, {"PriceListCode": "STD"}])
    emulator.advance(10)
    job = get(http, job_id)
    assert job["StatusId"] == 4
    assert job["Fail"] == 2
    errors = [
        e for e in http.get("Job/GetLog", params={"id": job_id}).json() if e["SeverityId"] == 3
    ]
    assert len(errors) == 2
    assert "PriceListCode is required" in errors[0]["Message"]
    assert json.loads(errors[0]["ImportedRow"]) == {"PartNo": "X"}


def test_job_failure_fault_writes_nothing(emulator, http):
    emulator.faults.job("Product/ImportSkuPriceLists", failure_rate=1.0)
    product_header = {
        "AccountId": 1,
        "FullFile": False,
        "ProductFieldsThatAreSet": [0, 4],
        "VariantFieldsThatAreSet": [0, 5],
        "SkuFieldsThatAreSet": [1, 2],
    }
    item = {
        "ManufacturerCode": "A",
        "Variants": [
            {"ManufacturerPartNo": "M", "Skus": [{"PartNo": "P0", "Status": 1, "Type": 1}]}
        ],
    }
    ok = http.post(
        "Product/ImportProducts",
        headers={"X-StormConnect-Header": json.dumps(product_header)},
        json=[item],
    )
    failing = submit(http)
    emulator.advance(10)
    assert get(http, int(ok.json()["JobId"]))["StatusId"] == 2
    job = get(http, failing)
    assert job["StatusId"] == 3
    assert job["IsFinished"] is True
    assert emulator.table("Products", "ProductSkuPriceLists").rows == {}
    messages = [e["Message"] for e in http.get("Job/GetLog", params={"id": failing}).json()]
    assert messages[0] == "Starting import."
    assert messages[-1] == "Import finished."


def test_validation_failure_fault(emulator, http):
    emulator.faults.job(validation_failure_rate=1.0, times=1)
    first, second = submit(http), submit(http)
    emulator.advance(10)
    assert get(http, first)["StatusId"] == 4
    assert get(http, first)["Fail"] == 3
    assert get(http, second)["StatusId"] == 2


def test_stalled_job_freezes_until_released(emulator, http):
    emulator.faults.job(stall=True, times=1)
    job_id = submit(http)
    emulator.advance(3600)
    stalled = get(http, job_id)
    assert stalled["StatusId"] == 1
    assert stalled["LastUpdated"] == "2025-01-01T08:00:01"
    assert stalled["IsFinished"] is False
    emulator.release_job(job_id)
    emulator.advance(2)
    assert get(http, job_id)["StatusId"] == 2


def test_slow_jobs_take_longer(emulator, http):
    emulator.faults.job(slow=60)
    job_id = submit(http)
    emulator.advance(30)
    assert get(http, job_id)["StatusId"] == 1
    emulator.advance(40)
    assert get(http, job_id)["RunTime"] == "00:01:02.0000000"


def test_probabilistic_job_faults_are_deterministic_per_seed():
    def outcomes(seed: int) -> list[int]:
        with NorceEmulator(clock=ManualClock(), seed=seed) as emulator:
            emulator.faults.job(failure_rate=0.5)
            with httpx.Client(
                transport=emulator.transport(),
                base_url=emulator.settings().connect_base,
                headers={"Authorization": f"Bearer {emulator.issue_token()}"},
            ) as http:
                ids = [submit(http) for _ in range(12)]
                emulator.advance(10)
                return [get(http, i)["StatusId"] for i in ids]

    first = outcomes(7)
    assert first == outcomes(7)
    assert {2, 3} == set(first)


def test_malformed_nested_values_fail_the_item_not_the_job(emulator, http):
    header = {
        "AccountId": 1,
        "FullFile": False,
        "ProductFieldsThatAreSet": [0, 4, 6],
        "VariantFieldsThatAreSet": [0, 5],
        "SkuFieldsThatAreSet": [1, 2],
    }
    good = {
        "ManufacturerCode": "A",
        "Variants": [
            {"ManufacturerPartNo": "M1", "Skus": [{"PartNo": "P1", "Status": 1, "Type": 1}]}
        ],
    }
    bad = {**good, "Categories": "not-a-list", "Variants": [
        {"ManufacturerPartNo": "M2", "Skus": [{"PartNo": "P2", "Status": "Bogus", "Type": 1}]}
    ]}  # fmt: skip
    response = http.post(
        "Product/ImportProducts",
        headers={"X-StormConnect-Header": json.dumps(header)},
        json=[good, bad],
    )
    emulator.advance(10)
    job = get(http, int(response.json()["JobId"]))
    assert job["StatusId"] == 2
    assert job["Fail"] == 1
    errors = [
        e["Message"]
        for e in http.get("Job/GetLog", params={"id": job["JobId"]}).json()
        if e["SeverityId"] == 3
    ]
    assert len(errors) == 1
    assert errors[0].startswith("Item 1:")


def test_an_emulator_bug_fails_the_job_instead_of_wedging_the_queue(emulator, http, monkeypatch):
    import norce_integration.testing._connect_service as core

    def broken(*_args: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(core, "start_import", broken)
    job_id = submit(http)
    emulator.advance(10)
    job = get(http, job_id)
    assert job["StatusId"] == 3
    log = http.get("Job/GetLog", params={"id": job_id}).json()
    assert "emulator error" in log[1]["Message"]
    assert http.get("Job/Ping").status_code == 200


def test_invalid_status_on_create_creates_nothing(emulator, http):
    header = {
        "AccountId": 1,
        "FullFile": False,
        "ProductFieldsThatAreSet": [0, 4],
        "VariantFieldsThatAreSet": [0, 5],
        "SkuFieldsThatAreSet": [1, 2],
    }
    item = {
        "ManufacturerCode": "A",
        "Variants": [
            {"ManufacturerPartNo": "M", "Skus": [{"PartNo": "P", "Status": "Nope", "Type": 1}]}
        ],
    }
    response = http.post(
        "Product/ImportProducts", headers={"X-StormConnect-Header": json.dumps(header)}, json=[item]
    )
    emulator.advance(10)
    assert get(http, int(response.json()["JobId"]))["StatusId"] == 4
    assert emulator.table("Products", "Products").rows == {}
