"""The emulator's Query 2.0 service: routing, headers, envelopes, paging, errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
import pytest

from norce_integration.testing._query import QueryResponse, handle_query
from norce_integration.testing._tables import Table, Tables


BASE = "http://emulator/commerce/query/2.0/"
APP = {"application-id": "1"}
BIG = 1_234


@pytest.fixture
def tables() -> Tables:
    tables = Tables()
    products = tables.add(Table("Products", "Products", ("Id",)))
    skus = tables.add(Table("Products", "ProductSkus", ("PartNo",)))
    prices = tables.add(
        Table("Products", "ProductSkuPriceLists", ("PartNo", "PriceListId", "QtyBreak"))
    )
    products.navigations["Skus"] = lambda r: [
        s for s in skus.rows.values() if s["ProductId"] == r["Id"]
    ]
    products.nav_tables["Skus"] = skus
    skus.navigations["PriceLists"] = lambda r: [
        p for p in prices.rows.values() if p["PartNo"] == r["PartNo"]
    ]
    skus.nav_tables["PriceLists"] = prices
    skus.navigations["Product"] = lambda r: products.get(r["ProductId"])
    skus.nav_tables["Product"] = products

    for pid in range(1, BIG + 1):
        products.upsert(
            {
                "Id": pid,
                "Code": f"P{pid:05d}",
                "IsActive": pid % 3 != 0,
                "Updated": datetime(2025, 1, 1, tzinfo=UTC) + timedelta(hours=pid),
            }
        )
    rows = [
        ("100011", 1, "Shirt", 5),
        ("O'Neil", 1, "Cap", 1),
        ("100013", 2, "Sock", 2),
    ]
    for part, pid, name, status in rows:
        skus.upsert({"PartNo": part, "ProductId": pid, "ErpName": name, "StatusId": status})
        for pl, active in ((1, True), (2, False)):
            prices.upsert(
                {
                    "PartNo": part,
                    "PriceListId": pl,
                    "QtyBreak": 1,
                    "PriceSale": Decimal("12.345678901234567890"),
                    "IsActive": active,
                }
            )

    orders = tables.add(Table("Orders", "Orders", ("Id",), properties={"Id": "Edm.Int64"}))
    items = Table("Orders", "OrderItems", ("Id",))  # reachable only through $expand
    order_items = {9_007_199_254_740_993: [{"Id": 1, "PartNo": "100011"}]}
    orders.navigations["Items"] = lambda r: order_items.get(r["Id"], [])
    orders.nav_tables["Items"] = items
    orders.upsert(
        {
            "Id": 9_007_199_254_740_993,
            "ApplicationId": 1,
            "OrderDate": datetime(2025, 6, 11, 12, 0, tzinfo=timezone(timedelta(hours=2))),
            "FreightCost": Decimal("49.00"),
        }
    )
    orders.upsert({"Id": 2, "ApplicationId": 2, "OrderDate": datetime(2025, 6, 1)})
    tables.add(Table("Core", "Currencies", ("Id",))).upsert({"Id": 1, "Code": "SEK"})
    return tables


def get(
    tables: Tables,
    path: str,
    query: str = "",
    headers: Mapping[str, str] = APP,
    method: str = "GET",
    **kwargs: Any,
) -> QueryResponse:
    return handle_query(tables, method, path, query, headers, base_url=BASE, **kwargs)


def body(response: QueryResponse) -> Any:
    return orjson.loads(response.body)


def q(**options: str) -> str:
    """Encode options the way an HTTP client would."""
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in options.items())


def error_message(response: QueryResponse) -> str:
    err = body(response)["error"]
    assert set(err) == {"code", "message"}
    return str(err["message"])


# --------------------------------------------------------------------------- envelopes


def test_collection_envelope(tables: Tables) -> None:
    r = get(tables, "Products/ProductSkus", q(**{"$orderby": "PartNo"}))
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("application/json")
    data = body(r)
    assert data["@odata.context"] == BASE + "Products/$metadata#ProductSkus"
    assert [s["PartNo"] for s in data["value"]] == ["100011", "100013", "O'Neil"]
    assert "@odata.nextLink" not in data


def test_key_lookup_returns_bare_entity(tables: Tables) -> None:
    data = body(get(tables, "Products/ProductSkus('100011')"))
    assert data == {
        "@odata.context": BASE + "Products/$metadata#ProductSkus/$entity",
        "PartNo": "100011",
        "ProductId": 1,
        "ErpName": "Shirt",
        "StatusId": 5,
    }


def test_key_lookup_with_escaped_quote_and_percent_encoding(tables: Tables) -> None:
    assert body(get(tables, "Products/ProductSkus('O''Neil')"))["ErpName"] == "Cap"
    assert body(get(tables, "Products/ProductSkus(%27O%27%27Neil%27)"))["ErpName"] == "Cap"


def test_composite_key_lookup(tables: Tables) -> None:
    r = get(tables, "Products/ProductSkuPriceLists(PartNo='100013',PriceListId=2,QtyBreak=1)")
    assert r.status == 200
    data = body(r)
    assert (data["PartNo"], data["PriceListId"], data["IsActive"]) == ("100013", 2, False)
    # Name order does not matter.
    r = get(tables, "Products/ProductSkuPriceLists(QtyBreak=1,PartNo='100013',PriceListId=2)")
    assert r.status == 200


def test_key_lookup_with_select_and_expand(tables: Tables) -> None:
    r = get(
        tables,
        "Products/ProductSkus('100011')",
        q(**{"$select": "PartNo", "$expand": "PriceLists($filter=IsActive eq true)"}),
    )
    data = body(r)
    assert data["@odata.context"] == BASE + "Products/$metadata#ProductSkus(PartNo)/$entity"
    assert data["PartNo"] == "100011"
    assert [p["PriceListId"] for p in data["PriceLists"]] == [1]


@pytest.mark.parametrize(
    ("path", "status", "fragment"),
    [
        ("Products/ProductSkus('nope')", 404, "No ProductSku with key ('nope')"),
        ("Products/Products(99999)", 404, "No Product with key (99999)"),
        ("Products/ProductSkuPriceLists(PartNo='100011',PriceListId=1)", 400, "does not match"),
        ("Products/ProductSkuPriceLists('100011')", 400, "name them"),
        ("Products/ProductSkus(Part='100011')", 400, "does not match"),
        ("Products/ProductSkus('100011'", 400, "not closed"),
        ("Products/ProductSkus('100011' eq)", 400, "syntax error at position 9 near 'eq'"),
        ("Products/Nope", 404, "No HTTP resource"),
        ("Nope/ProductSkus", 404, "No HTTP resource"),
        ("", 404, "No HTTP resource"),
        ("Products/ProductSkus/$count", 404, "not supported"),
        ("Products/ProductSkus('100011')/PriceLists", 404, "not supported"),
    ],
)
def test_lookup_and_routing_errors(tables: Tables, path: str, status: int, fragment: str) -> None:
    r = get(tables, path)
    assert r.status == status
    assert fragment in error_message(r)


def test_paths_are_case_insensitive(tables: Tables) -> None:
    data = body(get(tables, "products/productskus('100011')"))
    assert data["@odata.context"] == BASE + "Products/$metadata#ProductSkus/$entity"
    assert get(tables, "/Products/ProductSkus/").status == 200


def test_values_are_serialised_like_norce(tables: Tables) -> None:
    r = get(tables, "Orders/Orders", q(**{"$orderby": "Id desc"}))
    assert b'"FreightCost":49.00' in r.body
    assert b'"Id":9007199254740993' in r.body
    data = orjson.loads(r.body)  # orjson keeps int64 exactly
    first, second = data["value"]
    assert first["Id"] == 9_007_199_254_740_993
    assert first["OrderDate"] == "2025-06-11T10:00:00Z"
    assert second["OrderDate"] == "2025-06-01T00:00:00Z"
    prices = get(tables, "Products/ProductSkuPriceLists", q(**{"$top": "1"}))
    assert b'"PriceSale":12.345678901234567890' in prices.body


def test_orders_are_not_filtered_by_the_application_header(tables: Tables) -> None:
    r = get(tables, "Orders/Orders", headers={"application-id": "2"})
    assert len(body(r)["value"]) == 2
    r = get(tables, "Orders/Orders", q(**{"$filter": "ApplicationId eq 2"}))
    assert [o["Id"] for o in body(r)["value"]] == [2]


def test_expand_to_entity_type_without_a_set(tables: Tables) -> None:
    r = get(tables, "Orders/Orders(9007199254740993)", q(**{"$expand": "Items($select=PartNo)"}))
    assert body(r)["Items"] == [{"PartNo": "100011"}]
    assert get(tables, "Orders/OrderItems").status == 404


# --------------------------------------------------------------------------- options


def test_filter_select_orderby_top_skip(tables: Tables) -> None:
    r = get(
        tables,
        "Products/Products",
        q(
            **{
                "$filter": "IsActive eq true and Updated ge 2025-01-02T00:00:00Z",
                "$select": "Id,Code",
                "$orderby": "Updated desc",
                "$top": "3",
                "$skip": "2",
            }
        ),
    )
    data = body(r)
    assert data["@odata.context"] == BASE + "Products/$metadata#Products(Id,Code)"
    assert data["value"] == [
        {"Id": 1231, "Code": "P01231"},
        {"Id": 1229, "Code": "P01229"},
        {"Id": 1228, "Code": "P01228"},
    ]
    assert "@odata.nextLink" not in data


def test_orderby_multiple_keys(tables: Tables) -> None:
    r = get(
        tables,
        "Products/ProductSkuPriceLists",
        q(**{"$orderby": "IsActive desc,PartNo desc", "$select": "PartNo,PriceListId"}),
    )
    assert [(p["PartNo"], p["PriceListId"]) for p in body(r)["value"]] == [
        ("O'Neil", 1),
        ("100013", 1),
        ("100011", 1),
        ("O'Neil", 2),
        ("100013", 2),
        ("100011", 2),
    ]


def test_two_level_expand_with_nested_filter_and_select(tables: Tables) -> None:
    r = get(
        tables,
        "Products/Products",
        q(
            **{
                "$filter": "Id le 2",
                "$select": "Id",
                "$expand": "Skus($select=PartNo,ErpName;$filter=StatusId ne 2;$orderby=PartNo;"
                "$expand=PriceLists($select=PriceListId,IsActive;$filter=IsActive eq true),"
                "Product($select=Code))",
            }
        ),
    )
    assert r.status == 200, r.body
    assert body(r)["value"] == [
        {
            "Id": 1,
            "Skus": [
                {
                    "PartNo": "100011",
                    "ErpName": "Shirt",
                    "PriceLists": [{"PriceListId": 1, "IsActive": True}],
                    "Product": {"Code": "P00001"},
                },
                {
                    "PartNo": "O'Neil",
                    "ErpName": "Cap",
                    "PriceLists": [{"PriceListId": 1, "IsActive": True}],
                    "Product": {"Code": "P00001"},
                },
            ],
        },
        {"Id": 2, "Skus": []},
    ]


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        (q(**{"$filter": "Code eqq 'x'"}), "syntax error at position 5 near 'eqq'"),
        (q(**{"$filter": "Nope eq 1"}), "Could not find a property named 'Nope'"),
        (q(**{"$select": "Id,Nope"}), "invalid $select: Could not find a property named 'Nope'"),
        (q(**{"$orderby": "Nope"}), "invalid $orderby: Could not find a property named 'Nope'"),
        (q(**{"$expand": "Skus($select=Nope)"}), "property named 'Nope' on type 'ProductSku'"),
        (q(**{"$expand": "Skus($filter=StatusId eqq 1)"}), "invalid $expand: syntax error"),
        (q(**{"$expand": "Code"}), "not a navigation property"),
        (q(**{"$top": "ten"}), "invalid $top"),
        (q(**{"$count": "true"}), "'$count' is not supported"),
        (q(**{"$search": "x"}), "'$search' is not supported"),
        (q(**{"$format": "xml"}), "$format 'xml' is not supported"),
        ("$top=1&$top=2", "specified more than once"),
        (q(**{"$filter": "Id in (1,2)"}), "'in' operator"),
    ],
)
def test_bad_options_are_400(tables: Tables, query: str, fragment: str) -> None:
    r = get(tables, "Products/Products", query, allow_in=False)
    assert r.status == 400
    assert body(r)["error"]["code"] == "BadRequest"
    assert fragment in error_message(r)


def test_in_operator_allowed_by_default(tables: Tables) -> None:
    r = get(tables, "Products/Products", q(**{"$filter": "Id in (1,3)", "$select": "Id"}))
    assert body(r)["value"] == [{"Id": 1}, {"Id": 3}]


def test_custom_options_and_json_format_are_accepted(tables: Tables) -> None:
    r = get(tables, "Core/Currencies", "foo=bar&$format=json")
    assert body(r)["value"] == [{"Id": 1, "Code": "SEK"}]


def test_plus_in_query_string_is_a_space(tables: Tables) -> None:
    r = get(tables, "Core/Currencies", "$filter=Code+eq+'SEK'")
    assert len(body(r)["value"]) == 1


# --------------------------------------------------------------------------- paging


def follow(tables: Tables, path: str, query: str, **kwargs: Any) -> tuple[list[Any], int]:
    """Follow @odata.nextLink until it is gone; return all rows and the page count."""
    seen: list[Any] = []
    pages = 0
    while True:
        r = get(tables, path, query, **kwargs)
        assert r.status == 200, r.body
        data = body(r)
        pages += 1
        assert len(data["value"]) <= kwargs.get("page_size", 500)
        seen.extend(data["value"])
        link = data.get("@odata.nextLink")
        if link is None:
            return seen, pages
        assert link.startswith(BASE)
        parts = urlsplit(link)
        path, query = parts.path.removeprefix(urlsplit(BASE).path), parts.query


def test_page_cap_and_next_link_chain(tables: Tables) -> None:
    rows, pages = follow(tables, "Products/Products", "")
    assert pages == 3
    assert [r["Id"] for r in rows] == list(range(1, BIG + 1))


def test_next_link_carries_the_original_options(tables: Tables) -> None:
    query = q(**{"$filter": "IsActive eq true", "$orderby": "Code desc", "$select": "Id,Code"})
    first = body(get(tables, "Products/Products", query))
    link = first["@odata.nextLink"]
    assert link == (
        BASE + "Products/Products?$filter=IsActive%20eq%20true&$orderby=Code%20desc"
        "&$select=Id,Code&$skip=500"
    )
    rows, pages = follow(tables, "Products/Products", query)
    expected = sorted((i for i in range(1, BIG + 1) if i % 3 != 0), reverse=True)
    assert [r["Id"] for r in rows] == expected
    assert pages == 2
    assert all(set(r) == {"Id", "Code"} for r in rows)


def test_next_link_from_a_skip(tables: Tables) -> None:
    rows, pages = follow(tables, "Products/Products", "$skip=200&$select=Id", page_size=100)
    assert pages == 11
    assert [r["Id"] for r in rows] == list(range(201, BIG + 1))


def test_top_above_page_size_is_clamped(tables: Tables) -> None:
    data = body(get(tables, "Products/Products", "$top=1000"))
    assert len(data["value"]) == 500
    assert "@odata.nextLink" not in data
    data = body(get(tables, "Products/Products", "$top=10&$skip=1230"))
    assert [r["Id"] for r in data["value"]] == [1231, 1232, 1233, 1234]


def test_exact_page_has_no_next_link(tables: Tables) -> None:
    data = body(get(tables, "Products/Products", "$filter=Id%20le%20500"))
    assert len(data["value"]) == 500
    assert "@odata.nextLink" not in data


# --------------------------------------------------------------------------- methods & headers


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "MERGE", "post"])
def test_writes_are_405(tables: Tables, method: str) -> None:
    r = get(tables, "Products/ProductSkus('100011')", method=method)
    assert r.status == 405
    assert r.headers["Allow"] == "GET"
    assert body(r)["error"]["code"] == "MethodNotAllowed"
    assert tables.get("Products", "ProductSkus") is not None


@pytest.mark.parametrize(
    "headers", [{"application-id": "1"}, {"applicationId": "7"}, {"APPLICATION-ID": " 3 "}]
)
def test_application_header_spellings(tables: Tables, headers: dict[str, str]) -> None:
    assert get(tables, "Core/Currencies", headers=headers).status == 200


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({}, "header is required"),
        ({"Accept": "application/json"}, "header is required"),
        ({"application-id": ""}, "header is required"),
        ({"application_id": "1"}, "header is required"),
        ({"applicationId": "shop"}, "must be an integer"),
    ],
)
def test_application_header_required(
    tables: Tables, headers: dict[str, str], fragment: str
) -> None:
    for path in ("Core/Currencies", "Products/ProductSkus('100011')", "Products/$metadata"):
        r = get(tables, path, headers=headers)
        assert r.status == 400
        assert fragment in error_message(r)


def test_head_has_no_body(tables: Tables) -> None:
    r = get(tables, "Core/Currencies", method="HEAD")
    assert (r.status, r.body) == (200, b"")


# --------------------------------------------------------------------------- documents


def test_service_document(tables: Tables) -> None:
    data = body(get(tables, "products"))
    assert data["@odata.context"] == BASE + "Products/$metadata"
    assert [s["name"] for s in data["value"]] == [
        "Products",
        "ProductSkus",
        "ProductSkuPriceLists",
    ]
    assert all(s["kind"] == "EntitySet" and s["url"] == s["name"] for s in data["value"])


def test_metadata_lists_sets_and_keys(tables: Tables) -> None:
    r = get(tables, "Products/$metadata")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("application/xml")
    ns = {
        "edmx": "http://docs.oasis-open.org/odata/ns/edmx",
        "": "http://docs.oasis-open.org/odata/ns/edm",
    }
    root = ET.fromstring(r.body)
    schema = root.find("edmx:DataServices/Schema", ns)
    assert schema is not None
    sets = {
        e.get("Name"): e.get("EntityType") for e in schema.findall("EntityContainer/EntitySet", ns)
    }
    assert sets["ProductSkuPriceLists"] == (
        "Enferno.Storm.Query.Api.DataContexts.ProductModel.ProductSkuPriceList"
    )
    types = {t.get("Name"): t for t in schema.findall("EntityType", ns)}
    keys = [p.get("Name") for p in types["ProductSkuPriceList"].findall("Key/PropertyRef", ns)]
    assert keys == ["PartNo", "PriceListId", "QtyBreak"]
    props = {
        p.get("Name"): p.get("Type") for p in types["ProductSkuPriceList"].findall("Property", ns)
    }
    assert props["PriceSale"] == "Edm.Decimal"
    assert props["IsActive"] == "Edm.Boolean"
    navs = {
        n.get("Name"): n.get("Type") for n in types["ProductSku"].findall("NavigationProperty", ns)
    }
    assert navs["PriceLists"].startswith("Collection(")
    assert navs["Product"] == "Enferno.Storm.Query.Api.DataContexts.ProductModel.Product"
    orders = ET.fromstring(get(tables, "Orders/$metadata").body)
    id_types = [p.get("Type") for p in orders.iter() if p.get("Name") == "Id"]
    assert "Edm.Int64" in id_types
