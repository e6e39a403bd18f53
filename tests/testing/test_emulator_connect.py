"""Emulator Connect imports: paths, auth, X-StormConnect-Header rules, body framing, 413."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from norce_integration.testing import ManualClock, NorceEmulator


@pytest.fixture
def emulator() -> Iterator[NorceEmulator]:
    with NorceEmulator(clock=ManualClock()) as emu:
        yield emu


@pytest.fixture
def http(emulator: NorceEmulator) -> Iterator[httpx.Client]:
    settings = emulator.settings()
    with httpx.Client(
        transport=emulator.transport(),
        base_url=settings.connect_base,
        headers={"Authorization": f"Bearer {emulator.issue_token()}"},
    ) as client:
        yield client


def _post(
    http: httpx.Client, path: str, header: dict[str, Any] | str | None, body: Any
) -> httpx.Response:
    headers = {}
    if header is not None:
        headers["X-StormConnect-Header"] = header if isinstance(header, str) else json.dumps(header)
    if isinstance(body, bytes):
        return http.post(path, headers=headers, content=body)
    return http.post(path, headers=headers, json=body)


PRODUCT = {
    "ManufacturerCode": "ACME",
    "Code": "C1",
    "Variants": [{"ManufacturerPartNo": "M1", "Skus": [{"PartNo": "P1", "Status": 1, "Type": 1}]}],
}
VALID: list[tuple[str, dict[str, Any], list[dict[str, Any]]]] = [
    (
        "Product/ImportProducts",
        {
            "AccountId": 1,
            "FullFile": False,
            "ProductFieldsThatAreSet": [0, 4],
            "VariantFieldsThatAreSet": [0, 5],
            "SkuFieldsThatAreSet": [1, 2],
        },
        [PRODUCT],
    ),
    (
        "Product/ImportSkuPriceLists",
        {"AccountId": 1, "FullFile": False, "SkuPriceListFieldsThatAreSet": [3]},
        [{"PartNo": "P1", "PriceListCode": "STD", "PriceSale": 10}],
    ),
    (
        "Product/ImportPriceLists",
        {"AccountId": 1, "PriceListFieldsThatAreSet": [0, 1]},
        [{"Code": "B2B", "Name": "B2B", "CurrencyCode": "EUR"}],
    ),
    (
        "Product/ImportOnhands",
        {"AccountId": 1, "FullFile": False, "SkuOnhandFieldsThatAreSet": [3]},
        [{"PartNo": "P1", "WarehouseCode": "MAIN", "LocationCode": "MAIN", "OnhandValue": 5}],
    ),
    (
        "Product/ImportRelations",
        {"AccountId": 1, "FullFile": False, "RelationFieldsThatAreSet": [1]},
        [{"PartNo": "P1", "RelatedPartNo": "P1", "RelationTypeCode": "ACC", "IsActive": True}],
    ),
    (
        "Product/ImportCompetitorSkus",
        {"AccountId": 1, "FullFile": False, "CompetitorSkuFieldsThatAreSet": [0]},
        [
            {
                "PartNo": "P1",
                "Source": "crawler",
                "CompetitorCode": "RIVAL",
                "CompetitorPartNo": "R1",
                "PriceSale": 9,
                "PriceSaleInclFreight": 9,
                "IsPricesInclVat": True,
                "IsInStock": True,
            }
        ],
    ),
    (
        "Customer/ImportCustomers",
        {"AccountId": 1, "CustomerFieldsThatAreSet": [2, 3, 6, 8]},
        [{"Code": "C1", "EmailAddress": "a@example.com", "FirstName": "A", "LastName": "B"}],
    ),
    (
        "Customer/ImportCompanies",
        {"AccountId": 1, "CompanyFieldsThatAreSet": [2, 3, 4]},
        [{"Code": "CO1", "OrganizationNo": "556000-0000", "Name": "Acme AB"}],
    ),
    (
        "Supplier/ImportProducts",
        {"AccountId": 1, "FullFile": False, "FieldsThatAreSet": [0, 1]},
        [{"SupplierPartNo": "S1", "ProductName": "Thing"}],
    ),
]


@pytest.mark.parametrize(("path", "header", "items"), VALID, ids=[v[0] for v in VALID])
def test_every_import_accepts_a_valid_payload(emulator, http, path, header, items):
    response = _post(http, path, header, items)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["JobId"].isdigit()
    assert body["ValidationSummary"] == {
        "NrOfItemsInTotal": len(items),
        "NrOfValidationFailures": 0,
        "Messages": [],
    }
    assert set(body) == {"StatusCode", "Description", "JobId", "ValidationSummary"}
    assert emulator.get_job(int(body["JobId"]))["StatusId"] == 6


def test_every_import_runs_to_a_terminal_state(emulator, http):
    for path, header, items in VALID:
        assert _post(http, path, header, items).status_code == 200
    emulator.advance(10)
    statuses = {job["JobId"]: job["StatusId"] for job in emulator.jobs}
    assert set(statuses.values()) == {2}, emulator.jobs


@pytest.mark.parametrize(
    "path",
    ["product/importproducts", "PRODUCT/IMPORTPRODUCTS", "api/Product/ImportProducts"],
)
def test_paths_are_case_insensitive(http, path):
    header, items = VALID[0][1], VALID[0][2]
    assert _post(http, path, header, items).status_code == 200


def test_header_name_is_case_insensitive_and_enums_may_be_names(http):
    header = {
        "accountid": 1,
        "fullFile": "false",
        "ProductFieldsThatAreSet": ["ManufacturerCode", "variants"],
        "VariantFieldsThatAreSet": ["ManufacturerPartNo", 5],
        "SkuFieldsThatAreSet": ["Status", "TYPE"],
    }
    response = http.post(
        "Product/ImportProducts",
        headers={"x-stormconnect-header": json.dumps(header)},
        json=[PRODUCT],
    )
    assert response.status_code == 200, response.text


def test_connect_requires_a_bearer_token(emulator):
    with httpx.Client(transport=emulator.transport()) as client:
        url = emulator.settings().connect_base + "Product/ImportProducts"
        response = client.post(url, json=[])
        assert response.status_code == 401
        bad = client.get(
            url.replace("Product/ImportProducts", "Job/Ping"),
            headers={"Authorization": "Bearer not-a-token"},
        )
        assert bad.status_code == 401


@pytest.mark.parametrize(
    ("header", "needle"),
    [
        (None, "X-StormConnect-Header is missing"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ({"FullFile": False, "ProductFieldsThatAreSet": [0]}, "AccountId is required"),
        ({"AccountId": "x", "FullFile": False, "ProductFieldsThatAreSet": [0]}, "AccountId"),
        ({"AccountId": 1, "ProductFieldsThatAreSet": [0]}, "FullFile is required"),
        ({"AccountId": 1, "FullFile": False}, "ProductFieldsThatAreSet is required"),
        ({"AccountId": 1, "FullFile": "maybe", "ProductFieldsThatAreSet": [0]}, "FullFile"),
        ({"AccountId": 1, "FullFile": False, "ProductFieldsThatAreSet": [99]}, "ProductField"),
        ({"AccountId": 1, "FullFile": False, "ProductFieldsThatAreSet": ["Nope"]}, "'Nope'"),
        ({"AccountId": 1, "FullFile": False, "ProductFieldsThatAreSet": 4}, "must be an array"),
        (
            {
                "AccountId": 1,
                "FullFile": False,
                "ProductFieldsThatAreSet": [0],
                "VariantFieldsThatAreSet": [0],
            },
            "ProductField.Variants",
        ),
        (
            {
                "AccountId": 1,
                "FullFile": False,
                "ProductFieldsThatAreSet": [0, 4],
                "SkuFieldsThatAreSet": [20],
                "SkuPriceListFieldsThatAreSet": [3],
                "IgnoreSkuPriceListFieldsWhenEmpty": [6],
            },
            "IgnoreSkuPriceListFieldsWhenEmpty",
        ),
        (
            {
                "AccountId": 1,
                "FullFile": False,
                "ProductFieldsThatAreSet": [0],
                "SerializationType": 1,
            },
            "SerializationType",
        ),
    ],
)
def test_header_errors_are_400_naming_the_problem(http, header, needle):
    response = _post(http, "Product/ImportProducts", header, [])
    assert response.status_code == 400
    assert needle in response.json()["Message"]


def test_company_header_requires_customer_fields_with_company_customers(http):
    header = {"AccountId": 1, "CompanyFieldsThatAreSet": [2, 14]}
    response = _post(http, "Customer/ImportCompanies", header, [])
    assert response.status_code == 400
    assert "CustomerFieldsThatAreSet" in response.json()["Message"]


@pytest.mark.parametrize(
    "body",
    [b"", b"garbage", b'"string"', b"42", b"[{}, ", b'[{"a": 1}] trailing', b"\xff\xfe"],
)
def test_non_array_bodies_are_400(emulator, http, body):
    header = VALID[1][1]
    response = _post(http, "Product/ImportSkuPriceLists", header, body)
    assert response.status_code == 400
    assert "body" in response.json()["Message"].lower()
    assert emulator.jobs == []


def test_back_to_back_objects_are_accepted_like_the_legacy_helper(http):
    header = VALID[1][1]
    body = b'{"PartNo":"A","PriceListCode":"STD"}{"PartNo":"B","PriceListCode":"STD"}\n'
    response = _post(http, "Product/ImportSkuPriceLists", header, body)
    assert response.status_code == 200
    assert response.json()["ValidationSummary"]["NrOfItemsInTotal"] == 2


def test_item_validation_fills_the_validation_summary(emulator, http):
    header = VALID[3][1]
    items = [
        {"PartNo": "P1", "WarehouseCode": "MAIN", "LocationCode": "MAIN"},
        {"PartNo": "P2", "WarehouseCode": "MAIN"},
        "not an object",
    ]
    response = _post(http, "Product/ImportOnhands", header, items)
    summary = response.json()["ValidationSummary"]
    assert summary["NrOfItemsInTotal"] == 3
    assert summary["NrOfValidationFailures"] == 2
    assert "Item 1: LocationCode is required." in summary["Messages"][0]
    assert "Item 2" in summary["Messages"][1]
    emulator.advance(10)
    job = emulator.get_job(int(response.json()["JobId"]))
    assert job["Fail"] == 2
    assert job["StatusId"] == 2  # one item was fine (an unknown SKU, ignored)


def test_bodies_over_the_maximum_are_413(http):
    with NorceEmulator(clock=ManualClock(), max_body_bytes=1000) as small:
        settings = small.settings()
        with httpx.Client(
            transport=small.transport(),
            headers={"Authorization": f"Bearer {small.issue_token()}"},
        ) as client:
            header = json.dumps(VALID[1][1])
            big = [{"PartNo": f"P{i}", "PriceListCode": "STD"} for i in range(100)]
            response = client.post(
                settings.connect_base + "Product/ImportSkuPriceLists",
                headers={"X-StormConnect-Header": header},
                json=big,
            )
            assert response.status_code == 413

            def chunks() -> Iterator[bytes]:  # no Content-Length: caught while spooling
                yield b"["
                for i in range(100):
                    yield json.dumps({"PartNo": f"P{i}", "PriceListCode": "STD"}).encode() + b","
                yield b"{}]"

            streamed = client.post(
                settings.connect_base + "Product/ImportSkuPriceLists",
                headers={"X-StormConnect-Header": header},
                content=chunks(),
            )
            assert streamed.status_code == 413
            assert small.jobs == []


def test_wrong_method_and_unknown_routes(http):
    assert http.get("Product/ImportProducts").status_code == 405
    assert http.post("Job/Get?id=1").status_code == 405
    assert http.post("Product/ImportNothing", json=[]).status_code == 404
    assert (
        http.post(
            "Product/ImportProducts",
            json=[],
            headers={
                "Content-Type": "application/xml",
                "X-StormConnect-Header": json.dumps(VALID[0][1]),
            },
        ).status_code
        == 415
    )
