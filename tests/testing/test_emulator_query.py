"""Emulator Query: imported data visible through OData, paging, seeds, auth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from norce_integration.testing import ManualClock, NorceEmulator


PRODUCT_HEADER = {
    "AccountId": 1,
    "FullFile": False,
    "ProductFieldsThatAreSet": [0, 3, 4, 5],
    "ProductCultureFieldsThatAreSet": [0],
    "VariantFieldsThatAreSet": [0, 5],
    "SkuFieldsThatAreSet": [1, 2, 5, 20],
    "SkuPriceListFieldsThatAreSet": [3],
}


def product(i: int) -> dict[str, Any]:
    return {
        "ManufacturerCode": "ACME",
        "Code": f"C{i // 2}",
        "Cultures": [{"CultureCode": "sv-SE", "Name": f"Product {i}"}],
        "Variants": [
            {
                "ManufacturerPartNo": f"M{i:05d}",
                "Skus": [
                    {
                        "PartNo": f"P{i:05d}",
                        "Status": 1,
                        "Type": 1,
                        "EanCode": f"73500{i:08d}",
                        "StandardPrice": {"PriceSale": 100 + i},
                    }
                ],
            }
        ],
    }


@pytest.fixture
def emulator() -> Iterator[NorceEmulator]:
    with NorceEmulator(clock=ManualClock(), token_lifetime=10**6) as emu:
        yield emu


@pytest.fixture
def http(emulator: NorceEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(
        transport=emulator.transport(),
        headers={"Authorization": f"Bearer {emulator.issue_token()}"},
    ) as client:
        yield client


def load(emulator: NorceEmulator, http: httpx.Client, count: int) -> None:
    response = http.post(
        emulator.settings().connect_base + "Product/ImportProducts",
        headers={"X-StormConnect-Header": json.dumps(PRODUCT_HEADER)},
        json=[product(i) for i in range(count)],
    )
    assert response.status_code == 200
    emulator.advance(10)


def query(emulator: NorceEmulator, http: httpx.Client, path: str, **params: Any) -> httpx.Response:
    return http.get(
        emulator.settings().query_base + path, params=params, headers={"application-id": "1042"}
    )


def test_query_sees_imported_products_skus_and_prices(emulator, http):
    load(emulator, http, 4)
    skus = query(
        emulator,
        http,
        "Products/ProductSkus",
        **{"$filter": "EanCode eq '7350000000002'", "$expand": "PriceLists($select=PriceSale)"},
    ).json()["value"]
    assert len(skus) == 1
    assert skus[0]["PartNo"] == "P00002"
    assert skus[0]["PriceLists"] == [{"PriceSale": 102}]
    one = query(emulator, http, "Products/ProductSkus('P00003')").json()
    assert one["StatusId"] == 1
    assert one["TypeId"] == 1
    products = query(
        emulator,
        http,
        "Products/Products",
        **{
            "$select": "Id,DefaultName,Code,VariantId",
            "$expand": "Skus($select=PartNo)",
            "$orderby": "Id desc",
        },
    ).json()["value"]
    assert [p["DefaultName"] for p in products] == [f"Product {i}" for i in (3, 2, 1, 0)]
    assert products[0]["Skus"] == [{"PartNo": "P00003"}]
    assert products[0]["VariantId"] == products[1]["VariantId"]  # same cluster code C1
    prices = query(
        emulator,
        http,
        "Products/ProductSkuPriceLists",
        **{
            "$filter": "PriceListId eq 1 and PriceSale gt 101",
            "$select": "PartNo,PriceSale,QtyBreak",
        },
    ).json()["value"]
    assert prices == [
        {"PartNo": "P00002", "PriceSale": 102, "QtyBreak": 1},
        {"PartNo": "P00003", "PriceSale": 103, "QtyBreak": 1},
    ]


def test_1200_skus_page_500_at_a_time_via_next_link(emulator, http):
    load(emulator, http, 1200)
    url: str | None = emulator.settings().query_base + "Products/ProductSkus?$select=PartNo"
    pages: list[int] = []
    seen: list[str] = []
    while url:
        body = http.get(url, headers={"application-id": "1042"}).json()
        pages.append(len(body["value"]))
        seen.extend(row["PartNo"] for row in body["value"])
        url = body.get("@odata.nextLink")
    assert pages == [500, 500, 200]
    assert len(set(seen)) == 1200


def test_updated_filter_supports_delta_reads(emulator, http):
    load(emulator, http, 3)
    emulator.advance(3600)
    emulator.set_sku_status("P00001", "Hidden")
    changed = query(
        emulator, http, "Products/ProductSkus", **{"$filter": "Updated ge 2025-01-01T08:30:00Z"}
    ).json()["value"]
    assert [row["PartNo"] for row in changed] == ["P00001"]
    assert changed[0]["StatusId"] == 4


def test_seed_data_makes_a_fresh_emulator_usable(emulator, http):
    currencies = query(emulator, http, "Core/Currencies").json()["value"]
    assert {c["Code"]: c["Id"] for c in currencies} == {
        "SEK": 1, "EUR": 2, "NOK": 3, "DKK": 4, "USD": 5,
    }  # fmt: skip
    lists = query(emulator, http, "Application/ClientPriceLists").json()["value"]
    assert [(p["Agreement"], p["IsPrimary"]) for p in lists] == [
        ("STD", True), ("EUR", False), ("NOK", False),
    ]  # fmt: skip
    categories = query(emulator, http, "application/categories").json()["value"]
    assert {c["Code"] for c in categories} >= {"clothing", "shoes"}
    warehouses = query(emulator, http, "Application/ClientWarehouses", **{"$expand": "Locations"})
    assert warehouses.json()["value"][0]["Locations"][0]["Code"] == "MAIN"


def test_onhands_customers_and_orders_are_queryable(emulator, http):
    load(emulator, http, 2)
    emulator.set_sku_onhand("P00000", 12)
    onhands = query(emulator, http, "Products/ProductSkuOnHands").json()["value"]
    assert onhands[0]["PartNo"] == "P00000"
    assert onhands[0]["OnHandValue"] == 12
    order = emulator.create_order([("P00000", 2), ("P00001", 1)])
    assert order["Id"] > 2**31  # Orders.Id is int64
    rows = query(
        emulator,
        http,
        "Orders/Orders",
        **{
            "$filter": "ApplicationId eq 1042",
            "$expand": "Items($select=PartNo,QtyOrdered,LineAmount)",
        },
    ).json()["value"]
    assert rows[0]["OrderNo"] == order["OrderNo"]
    assert rows[0]["Items"] == [
        {"PartNo": "P00000", "QtyOrdered": 2, "LineAmount": 200},
        {"PartNo": "P00001", "QtyOrdered": 1, "LineAmount": 101},
    ]


def test_query_needs_a_token_and_an_application_id(emulator, http):
    url = emulator.settings().query_base + "Products/ProductSkus"
    with httpx.Client(transport=emulator.transport()) as anonymous:
        assert anonymous.get(url, headers={"application-id": "1042"}).status_code == 401
    assert http.get(url).status_code == 400
    assert http.get(url, headers={"applicationId": "1042"}).status_code == 200
    assert http.post(url, headers={"application-id": "1042"}, json={}).status_code == 405
    query_case = url.replace("/query/", "/Query/")
    assert http.get(query_case, headers={"application-id": "1042"}).status_code == 200


@pytest.mark.anyio
async def test_async_client_through_the_same_transport(emulator):
    token = emulator.issue_token()
    async with httpx.AsyncClient(
        transport=emulator.transport(), headers={"Authorization": f"Bearer {token}"}
    ) as client:
        response = await client.post(
            emulator.settings().connect_base + "Product/ImportProducts",
            headers={"X-StormConnect-Header": json.dumps(PRODUCT_HEADER)},
            json=[product(i) for i in range(3)],
        )
        assert response.status_code == 200
        await emulator.aadvance(10)
        body = (
            await client.get(
                emulator.settings().query_base + "Products/ProductSkus",
                headers={"application-id": "1042"},
            )
        ).json()
        assert len(body["value"]) == 3


def test_declared_types_make_empty_sets_strict_and_typed(emulator, http):
    unknown = query(emulator, http, "Customers/Customers", **{"$filter": "Nope eq 1"})
    assert unknown.status_code == 400
    metadata = query(emulator, http, "Orders/$metadata").text
    assert '<Property Name="Id" Type="Edm.Int64" Nullable="false"/>' in metadata
    assert '<Property Name="FreightCost" Type="Edm.Decimal"/>' in metadata
