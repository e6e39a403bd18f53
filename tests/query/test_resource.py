"""QueryResource and AsyncQueryResource over respx: URLs, paging, keys, batching, cache."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import attrs
import httpx
import pytest
import respx

from norce_integration import (
    ConfigurationError,
    NorceSettings,
    NotFoundError,
    ResponseValidationError,
    ServerError,
)
from norce_integration._async_http import AsyncHTTP
from norce_integration._sync_http import HTTP as SyncHTTP
from norce_integration.query import (
    AsyncQueryResource,
    Currency,
    Customer,
    LookupResult,
    Order,
    ProductSku,
    ProductSkuPriceList,
    QueryCache,
    QueryResource,
    expand,
    f,
    query,
)

from ..conftest import QUERY, TOKEN
from .fake_odata import lookup_answer, requested_keys


P = attrs.fields(ProductSku)
PL = attrs.fields(ProductSkuPriceList)
SKUS = QUERY + "Products/ProductSkus"


def page(rows, next_link=None):
    body = {"@odata.context": QUERY + "Products/$metadata#ProductSkus", "value": rows}
    if next_link:
        body["@odata.nextLink"] = next_link
    return httpx.Response(200, json=body)


@pytest.fixture
def mock():
    with respx.mock(assert_all_called=False) as router:
        router.post(TOKEN).respond(json={"access_token": "tok", "expires_in": 3600})
        yield router


@pytest.fixture
def http(norce_settings):
    shell = SyncHTTP(norce_settings)
    yield shell
    shell.close()


@pytest.fixture
def resource(http) -> QueryResource:
    return QueryResource(http)


class TestUrlsAndHeaders:
    @pytest.mark.parametrize(
        ("condition", "encoded"),
        [
            (f(P.part_no) == "it's 100%", "PartNo%20eq%20'it''s%20100%25'"),
            (f(P.status_id) == 5, "StatusId%20eq%205"),
            (f(P.status_id) == None, "StatusId%20eq%20null"),  # noqa: E711
            (f(P.is_blocked) == False, "IsBlocked%20eq%20false"),  # noqa: E712
            (f(PL.price_sale) >= Decimal("10.50"), "PriceSale%20ge%2010.50"),
            (
                f(P.updated) >= dt.datetime(2025, 6, 11, tzinfo=dt.UTC),
                "Updated%20ge%202025-06-11T00:00:00Z",
            ),
            (
                f(P.erp_name) == uuid.UUID("6f1c5e6a-2b3c-4d5e-8f90-123456789abc"),
                "ErpName%20eq%206f1c5e6a-2b3c-4d5e-8f90-123456789abc",
            ),
            (f(P.erp_name).contains("a&b"), "contains(ErpName,'a%26b')"),
            (f(P.erp_name).startswith("é"), "startswith(ErpName,'%C3%A9')"),
        ],
    )
    def test_exact_url_per_literal_kind(self, mock, resource, condition, encoded):
        route = mock.get(url__startswith=SKUS).mock(return_value=page([]))
        list(resource.iterate(query(ProductSku).filter(condition)))
        assert str(route.calls.last.request.url) == f"{SKUS}?$filter={encoded}"

    def test_application_id_header_and_full_options(self, mock, resource):
        route = mock.get(url__startswith=SKUS).mock(return_value=page([]))
        q = (
            query(ProductSku)
            .filter(f(P.part_no).startswith("10"))
            .select(f(P.part_no))
            .expand(expand(f(P.price_lists), filter=f(PL.is_active) == True))  # noqa: E712
            .orderby(f(P.part_no))
            .top(10)
            .skip(20)
        )
        list(resource.iterate(q))
        request = route.calls.last.request
        assert request.headers["application-id"] == "1042"
        assert request.headers["authorization"] == "Bearer tok"
        assert str(request.url) == q.url(QUERY)
        assert request.url.params["$expand"] == "PriceLists($filter=IsActive eq true)"

    def test_missing_application_id_is_a_configuration_error(self, mock, norce_settings):
        settings = attrs.evolve(norce_settings, application_id=None)
        resource = QueryResource(SyncHTTP(settings))
        with pytest.raises(ConfigurationError) as info:
            list(resource.iterate(query(ProductSku)))
        assert info.value.setting == "application_id"

    def test_untyped_sets_return_dicts(self, mock, resource):
        mock.get(QUERY + "Core/Countries").respond(
            json={"value": [{"Id": 1, "Code": "SE", "Rate": 1.25}]}
        )
        rows = list(resource.iterate(query("Core", "Countries")))
        assert rows == [{"Id": 1, "Code": "SE", "Rate": Decimal("1.25")}]


class TestPaging:
    def test_follows_next_links(self, mock, resource):
        first = SKUS + "?$select=PartNo"
        second = SKUS + "?$select=PartNo&$skip=500"
        third = SKUS + "?$select=PartNo&$skip=1000"
        route = mock.get(url__startswith=SKUS).mock(
            side_effect=[
                page([{"PartNo": "a"}, {"PartNo": "b"}], second),
                page([{"PartNo": "c"}], third),
                page([{"PartNo": "d"}]),
            ]
        )
        q = query(ProductSku).select(f(P.part_no))
        assert [s.part_no for s in resource.iterate(q)] == ["a", "b", "c", "d"]
        assert [str(c.request.url) for c in route.calls] == [first, second, third]
        assert all(c.request.headers["application-id"] == "1042" for c in route.calls)

    def test_pages_are_yielded_one_by_one(self, mock, resource):
        mock.get(url__startswith=SKUS).mock(
            side_effect=[page([{"PartNo": "a"}], SKUS + "?$skip=1"), page([{"PartNo": "b"}])]
        )
        pages = list(resource.pages(query(ProductSku)))
        assert [[s.part_no for s in p] for p in pages] == [["a"], ["b"]]

    def test_http_next_link_keeps_https(self, mock, resource):
        route = mock.get(url__startswith=SKUS).mock(
            side_effect=[page([], SKUS.replace("https://", "http://") + "?$skip=500"), page([])]
        )
        list(resource.iterate(query(ProductSku)))
        assert str(route.calls.last.request.url) == SKUS + "?$skip=500"

    def test_relative_next_link(self, mock, resource):
        route = mock.get(url__startswith=SKUS).mock(
            side_effect=[page([], "ProductSkus?$skip=500"), page([])]
        )
        list(resource.iterate(query(ProductSku)))
        assert str(route.calls.last.request.url) == SKUS + "?$skip=500"

    def test_foreign_next_link_is_refused(self, mock, resource):
        mock.get(url__startswith=SKUS).mock(return_value=page([], "https://evil.example/x"))
        with pytest.raises(ResponseValidationError, match="another host"):
            list(resource.iterate(query(ProductSku)))

    def test_repeating_next_link_is_refused(self, mock, resource):
        mock.get(url__startswith=SKUS).mock(return_value=page([], SKUS + "?$skip=500"))
        with pytest.raises(ResponseValidationError, match="repeats"):
            list(resource.iterate(query(ProductSku)))

    def test_not_a_collection(self, mock, resource):
        mock.get(url__startswith=SKUS).respond(json={"PartNo": "a"})
        with pytest.raises(ResponseValidationError, match="OData collection"):
            list(resource.iterate(query(ProductSku)))


class TestKeyset:
    def test_pages_by_key(self, mock, resource):
        products = QUERY + "Products/Products"
        route = mock.get(url__startswith=products).mock(
            side_effect=[
                httpx.Response(200, json={"value": [{"Id": 1}, {"Id": 2}]}),
                httpx.Response(200, json={"value": [{"Id": 5}, {"Id": 9}]}),
                httpx.Response(200, json={"value": [{"Id": 12}]}),
            ]
        )
        from norce_integration.query import Product

        ids = [p.id for p in resource.keyset(query(Product).select("DefaultName"), page_size=2)]
        assert ids == [1, 2, 5, 9, 12]
        assert [str(c.request.url) for c in route.calls] == [
            products + "?$select=DefaultName,Id&$orderby=Id&$top=2",
            products + "?$filter=Id%20gt%202&$select=DefaultName,Id&$orderby=Id&$top=2",
            products + "?$filter=Id%20gt%209&$select=DefaultName,Id&$orderby=Id&$top=2",
        ]

    def test_keeps_the_callers_filter(self, mock, resource):
        route = mock.get(url__startswith=SKUS).mock(side_effect=[page([{"PartNo": "a"}]), page([])])
        q = query(ProductSku).filter(f(P.is_blocked) == False)  # noqa: E712
        assert [s.part_no for s in resource.keyset(q, page_size=1)] == ["a"]
        assert route.calls.last.request.url.params["$filter"] == (
            "IsBlocked eq false and PartNo gt 'a'"
        )

    def test_untyped_with_named_key(self, mock, resource):
        route = mock.get(url__startswith=QUERY + "Core/Countries").mock(
            side_effect=[
                httpx.Response(200, json={"value": [{"Code": "DK"}, {"Code": "SE"}]}),
                httpx.Response(200, json={"value": []}),
            ]
        )
        rows = list(resource.keyset(query("Core", "Countries"), "Code", page_size=2))
        assert [r["Code"] for r in rows] == ["DK", "SE"]
        assert route.calls.last.request.url.params["$filter"] == "Code gt 'SE'"

    def test_refuses_own_paging_and_bad_sizes(self, resource):
        with pytest.raises(ValueError, match="drop orderby"):
            next(resource.keyset(query(ProductSku).top(5)))
        with pytest.raises(ValueError, match="page_size"):
            next(resource.keyset(query(ProductSku), page_size=501))
        with pytest.raises(ValueError, match="composite"):
            next(resource.keyset(query(ProductSkuPriceList)))

    def test_key_that_does_not_advance(self, mock, resource):
        mock.get(url__startswith=SKUS).mock(return_value=page([{"PartNo": "a"}]))
        with pytest.raises(ResponseValidationError, match="cannot advance"):
            list(resource.keyset(query(ProductSku), page_size=1))


class TestGet:
    def test_single_key_returns_bare_object(self, mock, resource):
        route = mock.get(url__startswith=SKUS).respond(
            json={"@odata.context": "x", "PartNo": "100011", "EanCode": "735", "New": 1}
        )
        sku = resource.get(ProductSku, "100011", select=[f(P.part_no), f(P.ean_code)])
        assert sku == ProductSku(part_no="100011", ean_code="735")
        assert str(route.calls.last.request.url) == SKUS + "('100011')?$select=PartNo,EanCode"
        assert route.calls.last.request.headers["application-id"] == "1042"

    def test_expand_on_get(self, mock, resource):
        route = mock.get(url__startswith=SKUS).respond(
            json={"PartNo": "1", "PriceLists": [{"PartNo": "1", "PriceListId": 2, "QtyBreak": 1}]}
        )
        sku = resource.get(
            ProductSku,
            "1",
            expand=[expand(f(P.price_lists), filter=f(PL.is_active) == True)],  # noqa: E712
        )
        assert sku.price_lists == [ProductSkuPriceList(part_no="1", price_list_id=2, qty_break=1)]
        assert str(route.calls.last.request.url) == (
            SKUS + "('1')?$expand=PriceLists($filter%3DIsActive%20eq%20true)"
        )

    def test_composite_key(self, mock, resource):
        url = QUERY + "Products/ProductSkuPriceLists(PartNo='A',PriceListId=1,QtyBreak=1)"
        mock.get(url).respond(
            json={"PartNo": "A", "PriceListId": 1, "QtyBreak": 1, "PriceSale": 99.95}
        )
        row = resource.get(ProductSkuPriceList, ("A", 1, 1))
        assert row.price_sale == Decimal("99.95")
        by_name = resource.get(
            ProductSkuPriceList, {"price_list_id": 1, "part_no": "A", "QtyBreak": 1}
        )
        assert by_name == row

    def test_untyped_keys(self, mock, resource):
        mock.get(QUERY + "Core/Countries(7)").respond(json={"Id": 7})
        mock.get(
            QUERY + "Application/ApplicationCultures(ApplicationId=1,CultureCode='sv-SE')"
        ).respond(json={"ApplicationId": 1})
        assert resource.get(("Core", "Countries"), 7) == {"Id": 7}
        assert resource.get(
            ("Application", "ApplicationCultures"), {"ApplicationId": 1, "CultureCode": "sv-SE"}
        ) == {"ApplicationId": 1}
        with pytest.raises(ValueError, match="mapping"):
            resource.get(("Application", "ApplicationCultures"), (1, "sv-SE"))

    def test_key_characters_are_encoded_in_the_path(self, mock, resource):
        route = mock.get(url__startswith=SKUS).respond(json={"PartNo": "a/b c#d"})
        resource.get(ProductSku, "a/b c#d")
        assert (
            route.calls.last.request.url.raw_path
            == b"/commerce/query/2.0/Products/ProductSkus('a%2Fb%20c%23d')"
        )

    def test_missing_key_is_not_found(self, mock, resource):
        mock.get(url__startswith=SKUS).respond(404, json={"error": {"message": "nope"}})
        with pytest.raises(NotFoundError):
            resource.get(ProductSku, "missing")

    def test_int64_order_id(self, mock, resource):
        mock.get(QUERY + "Orders/Orders(9007199254740993)").respond(
            json={"Id": 9007199254740993, "FreightCost": 49.00, "Items": [{"PartNo": "A"}]}
        )
        order = resource.get(Order, 9007199254740993)
        assert order.id == 9007199254740993
        assert order.freight_cost == Decimal("49.00")
        assert order.items is not None
        assert order.items[0].part_no == "A"


class TestStrictAndValidation:
    def test_unknown_fields_ignored_by_default(self, mock, resource):
        mock.get(url__startswith=QUERY + "Core/Currencies").respond(
            json={"Id": 1, "Code": "SEK", "ExchangeRate": 0.087, "Brand": "new"}
        )
        assert resource.get(Currency, 1).exchange_rate == Decimal("0.087")

    def test_strict_rejects_drift_but_not_annotations(self, mock, http):
        strict = QueryResource(http, strict=True)
        mock.get(QUERY + "Core/Currencies(1)").respond(
            json={"@odata.context": "x", "Id": 1, "Code": "SEK"}
        )
        mock.get(QUERY + "Core/Currencies(2)").respond(json={"Id": 2, "Brand": "new"})
        assert strict.get(Currency, 1).code == "SEK"
        with pytest.raises(ResponseValidationError) as info:
            strict.get(Currency, 2)
        assert "Brand" in str(info.value)

    def test_wrong_types_are_response_validation_errors(self, mock, resource):
        mock.get(QUERY + "Customers/Customers(1)").respond(json={"Id": "one"})
        with pytest.raises(ResponseValidationError, match="Customer did not match") as info:
            resource.get(Customer, 1)
        assert any("$.id" in e for e in info.value.errors), info.value.errors

    def test_rows_must_be_objects(self, mock, resource):
        mock.get(url__startswith=SKUS).respond(json={"value": [1]})
        with pytest.raises(ResponseValidationError, match="JSON object"):
            list(resource.iterate(query(ProductSku)))


class TestRetries:
    def test_get_retries_429_then_5xx(self, mock, resource, sleeper):
        route = mock.get(url__startswith=SKUS).mock(
            side_effect=[
                httpx.Response(429, headers={"Retry-After": "7"}),
                httpx.Response(502),
                httpx.Response(200, json={"PartNo": "A"}),
            ]
        )
        assert resource.get(ProductSku, "A").part_no == "A"
        assert route.call_count == 3
        assert sleeper.waits[0] >= 7

    def test_gives_up_after_the_policy(self, mock, resource):
        mock.get(url__startswith=SKUS).respond(500)
        with pytest.raises(ServerError):
            list(resource.iterate(query(ProductSku)))


class TestLookupMany:
    ROWS = {f"P{i:05d}": {"PartNo": f"P{i:05d}", "EanCode": str(i)} for i in range(3000)}

    def test_chunks_cover_every_key_once(self, mock, resource):
        asked: list[list[str]] = []
        route = mock.get(url__startswith=SKUS).mock(side_effect=lookup_answer(self.ROWS, asked))
        keys = [*self.ROWS, "NOPE-1", "P00001", "NOPE-2"]
        result = resource.lookup_many(ProductSku, f(P.part_no), keys, select=[f(P.ean_code)])
        assert isinstance(result, LookupResult)
        assert set(result.found) == set(self.ROWS)
        assert result.found["P00042"].ean_code == "42"
        assert result.missing == {"NOPE-1", "NOPE-2"}
        flat = [k for chunk in asked for k in chunk]
        assert sorted(flat) == sorted(set(keys))  # each key asked once, duplicates dropped
        assert result.requests == route.call_count == len(asked)
        for call in route.calls:
            assert len(str(call.request.url)) <= 1800
            assert call.request.url.params["$select"] == "EanCode,PartNo"
        # ~ (1800 - base) / len("%20or%20PartNo%20eq%20'P00000'") keys per request
        assert 40 <= len(asked[0]) <= 70

    def test_max_url_length_and_in(self, mock, resource):
        asked: list[list[str]] = []
        route = mock.get(url__startswith=SKUS).mock(side_effect=lookup_answer(self.ROWS, asked))
        keys = list(self.ROWS)[:1000]
        result = resource.lookup_many(
            ProductSku, "PartNo", keys, use_in=True, max_url_length=8000, max_keys=300
        )
        assert len(result.found) == 1000
        assert [len(a) for a in asked] == [300, 300, 300, 100]
        assert route.calls[0].request.url.params["$filter"].startswith("PartNo in ('P00000',")
        assert all(len(str(c.request.url)) <= 8000 for c in route.calls)

    def test_integer_keys_and_untyped_sets(self, mock, resource):
        rows = {i: {"Id": i, "Code": f"C{i}"} for i in range(1, 6)}
        mock.get(url__startswith=QUERY + "Core/Currencies").mock(side_effect=lookup_answer(rows))
        typed = resource.lookup_many(Currency, f(attrs.fields(Currency).id), [1, 2, 9])
        assert {k: v.code for k, v in typed.found.items()} == {1: "C1", 2: "C2"}
        assert typed.missing == {9}
        untyped = resource.lookup_many(("Core", "Currencies"), "Id", [3, 3, 4])
        assert untyped.found == {3: {"Id": 3, "Code": "C3"}, 4: {"Id": 4, "Code": "C4"}}

    def test_case_insensitive_string_match(self, mock, resource):
        mock.get(url__startswith=SKUS).respond(json={"value": [{"PartNo": "ABC"}]})
        result = resource.lookup_many(ProductSku, f(P.part_no), ["abc"])
        assert result.found["abc"].part_no == "ABC"
        assert not result.missing

    def test_unknown_field_and_empty_keys(self, mock, resource):
        with pytest.raises(ValueError, match="no field"):
            resource.lookup_many(ProductSku, "Nope", ["a"])
        assert resource.lookup_many(ProductSku, f(P.part_no), []).found == {}

    def test_non_unique_field_keeps_first_and_follows_pages(self, mock, resource):
        mock.get(url__startswith=SKUS).mock(
            side_effect=[
                page([{"PartNo": "a", "EanCode": "1"}], SKUS + "?$skip=500"),
                page([{"PartNo": "b", "EanCode": "1"}, {"PartNo": "c", "EanCode": "2"}]),
            ]
        )
        result = resource.lookup_many(ProductSku, f(P.ean_code), ["1", "2"])
        assert {k: v.part_no for k, v in result.found.items()} == {"1": "a", "2": "c"}
        assert result.requests == 2


class TestCacheWiring:
    @pytest.fixture
    def cached(self, http):
        return QueryResource(http, cache=QueryCache())

    def test_get_is_cached_per_shape(self, mock, cached):
        route = mock.get(url__startswith=SKUS).respond(json={"PartNo": "A"})
        cached.get(ProductSku, "A")
        cached.get(ProductSku, "A")
        assert route.call_count == 1
        cached.get(ProductSku, "A", select=[f(P.part_no)])
        assert route.call_count == 2
        cached.get(ProductSku, "A", use_cache=False)
        assert route.call_count == 3
        assert cached.cache is not None
        cached.cache.evict("Products", "ProductSkus", "A")
        cached.get(ProductSku, "A")
        assert route.call_count == 4

    def test_not_found_is_not_cached(self, mock, cached):
        route = mock.get(url__startswith=SKUS).respond(404)
        for _ in range(2):
            with pytest.raises(NotFoundError):
                cached.get(ProductSku, "X")
        assert route.call_count == 2

    def test_lookup_many_fetches_only_misses(self, mock, cached):
        rows = {k: {"PartNo": k} for k in "ABCDE"}
        asked: list[list[str]] = []
        mock.get(url__startswith=SKUS).mock(side_effect=lookup_answer(rows, asked))
        first = cached.lookup_many(ProductSku, f(P.part_no), ["A", "B"])
        assert (first.requests, first.cached) == (1, 0)
        second = cached.lookup_many(ProductSku, f(P.part_no), ["A", "B", "C", "Z"])
        assert asked == [["A", "B"], ["C", "Z"]]
        assert set(second.found) == {"A", "B", "C"}
        assert second.missing == {"Z"}
        assert (second.requests, second.cached) == (1, 2)
        # ``get`` and ``lookup_many`` share entries of the same shape.
        cached.get(ProductSku, "C")
        assert len(asked) == 2

    def test_lookup_by_non_key_field_bypasses_cache(self, mock, cached):
        route = mock.get(url__startswith=SKUS).respond(
            json={"value": [{"PartNo": "A", "EanCode": "1"}]}
        )
        cached.lookup_many(ProductSku, f(P.ean_code), ["1"])
        cached.lookup_many(ProductSku, f(P.ean_code), ["1"])
        assert route.call_count == 2

    def test_orders_are_not_cached_by_default(self, mock, cached):
        route = mock.get(QUERY + "Orders/Orders(1)").respond(json={"Id": 1})
        cached.get(Order, 1)
        cached.get(Order, 1)
        assert route.call_count == 2


# ---------------------------------------------------------------- async twin


@pytest.fixture
async def aresource(norce_settings):
    shell = AsyncHTTP(norce_settings)
    yield AsyncQueryResource(shell, cache=QueryCache())
    await shell.aclose()


@pytest.mark.anyio
class TestAsync:
    async def test_paging(self, mock, aresource):
        route = mock.get(url__startswith=SKUS).mock(
            side_effect=[page([{"PartNo": "a"}], SKUS + "?$skip=500"), page([{"PartNo": "b"}])]
        )
        rows = [s.part_no async for s in aresource.iterate(query(ProductSku))]
        assert rows == ["a", "b"]
        assert route.call_count == 2
        route.side_effect = [page([{"PartNo": "a"}], SKUS + "?$skip=1"), page([])]
        pages = [p async for p in aresource.pages(query(ProductSku).top(1))]
        assert [len(p) for p in pages] == [1, 0]

    async def test_keyset(self, mock, aresource):
        route = mock.get(url__startswith=SKUS).mock(
            side_effect=[page([{"PartNo": "a"}, {"PartNo": "b"}]), page([{"PartNo": "c"}])]
        )
        rows = [s.part_no async for s in aresource.keyset(query(ProductSku), page_size=2)]
        assert rows == ["a", "b", "c"]
        assert route.calls.last.request.url.params["$filter"] == "PartNo gt 'b'"

    async def test_get_composite_cached_and_not_found(self, mock, aresource):
        url = QUERY + "Products/ProductSkuPriceLists(PartNo='A',PriceListId=1,QtyBreak=1)"
        route = mock.get(url).respond(json={"PartNo": "A", "PriceListId": 1, "QtyBreak": 1})
        first = await aresource.get(ProductSkuPriceList, ("A", 1, 1))
        second = await aresource.get(ProductSkuPriceList, ("A", 1, Decimal("1")))
        assert first == second
        assert route.call_count == 1
        mock.get(SKUS + "('X')").respond(404)
        with pytest.raises(NotFoundError):
            await aresource.get(ProductSku, "X")

    async def test_lookup_many(self, mock, aresource):
        rows = {f"K{i}": {"PartNo": f"K{i}"} for i in range(500)}
        asked: list[list[str]] = []
        mock.get(url__startswith=SKUS).mock(side_effect=lookup_answer(rows, asked))
        result = await aresource.lookup_many(ProductSku, f(P.part_no), [*rows, "missing"])
        assert len(result.found) == 500
        assert result.missing == {"missing"}
        assert sorted(k for a in asked for k in a) == sorted([*rows, "missing"])
        again = await aresource.lookup_many(ProductSku, f(P.part_no), list(rows))
        assert again.requests == 0
        assert again.cached == 500

    async def test_concurrent_gets_share_one_request(self, mock, aresource):
        import asyncio

        route = mock.get(SKUS + "('A')").respond(json={"PartNo": "A"})
        results = await asyncio.gather(*(aresource.get(ProductSku, "A") for _ in range(5)))
        assert {r.part_no for r in results} == {"A"}
        assert route.call_count == 1

    async def test_retries(self, mock, aresource):
        route = mock.get(url__startswith=QUERY + "Orders/Orders").mock(
            side_effect=[httpx.Response(503), httpx.Response(200, json={"Id": 1})]
        )
        assert (await aresource.get(Order, 1)).id == 1
        assert route.call_count == 2


def test_requested_keys_helper_reads_both_forms():
    request = httpx.Request("GET", SKUS + "?$filter=PartNo%20in%20('a','b''c')")
    assert requested_keys(request) == ("PartNo", ["a", "b'c"])


def test_norce_constructs_the_resources(norce_settings):
    from norce_integration import AsyncNorce, Norce

    with Norce(norce_settings) as norce:
        assert isinstance(norce.query, QueryResource)
    assert isinstance(AsyncNorce(norce_settings).query, AsyncQueryResource)
    assert isinstance(norce_settings, NorceSettings)
