"""Connect client: the exact bytes on the wire for every import, and the Job service."""

from __future__ import annotations

import json
import logging
from decimal import Decimal

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st

from norce_integration import (
    AsyncNorce,
    HeaderRuleError,
    Norce,
    NotFoundError,
    ResponseValidationError,
)
from norce_integration._convert import WriteModel, converter, fast_unstructure_fn
from norce_integration.connect import InvalidItemError
from norce_integration.connect import models as m
from norce_integration.connect._body import ImportBody

from ..conftest import CONNECT, SECRET, TOKEN
from ..strategies import models as model_strategy


JOB_RESPONSE = {
    "StatusCode": "0",
    "Description": "Job created",
    "JobId": "4711",
    "ValidationSummary": {"NrOfItemsInTotal": 1, "NrOfValidationFailures": 0, "Messages": []},
}

# (method, path, header, item, expected header JSON, expected body JSON)
CASES = [
    (
        "import_products",
        "Product/ImportProducts",
        m.ProductHeader(
            account_id=7,
            full_file=False,
            product_fields_that_are_set=[m.ProductField.Variants, m.ProductField.Cultures],
            product_culture_fields_that_are_set=[m.ProductCultureField.Name],
            variant_fields_that_are_set=[m.VariantField.Skus],
            sku_fields_that_are_set=[m.SkuField.Status, m.SkuField.StandardPrice],
            sku_price_list_fields_that_are_set=[m.SkuPriceListField.PriceSale],
        ),
        m.Product(
            manufacturer_code="ACME",
            code=None,
            cultures=[m.ProductCulture(culture_code="sv-SE", name="Hammare")],
            variants=[
                m.Variant(
                    manufacturer_part_no="MPN-1",
                    is_dangerous_goods=False,
                    skus=[
                        m.Sku(
                            part_no="SKU-1",
                            status=m.SkuStatus.Active,
                            type=m.SkuType.ErpStandard,
                            standard_price=m.SkuPriceList(
                                part_no="SKU-1",
                                price_list_code="STD",
                                price_sale=Decimal("199.90"),
                                currency_code="SEK",
                            ),
                            vat_rates=[
                                m.VatRate(sales_area=m.SalesArea.Sweden, rate=Decimal("25.00"))
                            ],
                        )
                    ],
                )
            ],
        ),
        '{"AccountId":7,"FullFile":false,"ProductFieldsThatAreSet":[4,5],'
        '"ProductCultureFieldsThatAreSet":[0],"VariantFieldsThatAreSet":[5],'
        '"SkuFieldsThatAreSet":[1,20],"SkuPriceListFieldsThatAreSet":[3]}',
        b'[{"ManufacturerCode":"ACME","Code":null,"Variants":[{"ManufacturerPartNo":"MPN-1",'
        b'"IsDangerousGoods":false,"Skus":[{"PartNo":"SKU-1","Status":1,"Type":1,'
        b'"StandardPrice":{"PartNo":"SKU-1","PriceListCode":"STD","PriceSale":199.90,'
        b'"CurrencyCode":"SEK"},"VatRates":[{"SalesArea":1,"Rate":25.00}]}]}],'
        b'"Cultures":[{"CultureCode":"sv-SE","Name":"Hammare"}]}]',
    ),
    (
        "import_sku_price_lists",
        "Product/ImportSkuPriceLists",
        m.SkuPriceListHeader(
            account_id=7,
            full_file=True,
            sku_price_list_fields_that_are_set=[
                m.SkuPriceListField.PriceSale,
                m.SkuPriceListField.PriceRecommended,
            ],
            ignore_sku_price_list_fields_when_empty=[m.SkuPriceListField.PriceSale],
        ),
        m.SkuPriceList(
            part_no="SKU-1",
            price_list_code="B2B",
            quantity_break=1,
            price_sale=Decimal("10.5"),
            price_recommended=None,
        ),
        '{"AccountId":7,"FullFile":true,"SkuPriceListFieldsThatAreSet":[3,6],'
        '"IgnoreSkuPriceListFieldsWhenEmpty":[3]}',
        b'[{"PartNo":"SKU-1","PriceListCode":"B2B","QuantityBreak":1,"PriceSale":10.5,'
        b'"PriceRecommended":null}]',
    ),
    (
        "import_price_lists",
        "Product/ImportPriceLists",
        m.PriceListHeader(
            account_id=7,
            price_list_fields_that_are_set=[m.PriceListField.Name, m.PriceListField.CurrencyCode],
        ),
        m.PriceList(code="B2B", name="Business", currency_code="SEK"),
        '{"AccountId":7,"PriceListFieldsThatAreSet":[0,1]}',
        b'[{"Code":"B2B","Name":"Business","CurrencyCode":"SEK"}]',
    ),
    (
        "import_onhands",
        "Product/ImportOnhands",
        m.SkuOnhandHeader(
            account_id=7,
            full_file=False,
            sku_onhand_fields_that_are_set=[m.SkuOnhandField.OnhandValue],
        ),
        m.SkuOnhand(
            part_no="SKU-1", warehouse_code="MAIN", location_code="A1", onhand_value=Decimal(12)
        ),
        '{"AccountId":7,"FullFile":false,"SkuOnhandFieldsThatAreSet":[3]}',
        b'[{"PartNo":"SKU-1","WarehouseCode":"MAIN","LocationCode":"A1","OnhandValue":12}]',
    ),
    (
        "import_relations",
        "Product/ImportRelations",
        m.RelationHeader(
            account_id=7,
            full_file=False,
            relation_fields_that_are_set=[m.RelationField.IsActive],
        ),
        m.Relation(
            part_no="SKU-1", related_part_no="SKU-2", relation_type_code="ACC", is_active=True
        ),
        '{"AccountId":7,"FullFile":false,"RelationFieldsThatAreSet":[1]}',
        b'[{"PartNo":"SKU-1","RelatedPartNo":"SKU-2","RelationTypeCode":"ACC","IsActive":true}]',
    ),
    (
        "import_competitor_skus",
        "Product/ImportCompetitorSkus",
        m.CompetitorSkuHeader(
            account_id=7,
            full_file=False,
            competitor_sku_fields_that_are_set=[m.CompetitorSkuField.CompetitorName],
        ),
        m.CompetitorSku(
            part_no="SKU-1",
            source="crawler",
            competitor_code="RIVAL",
            competitor_part_no="R-1",
            price_sale=Decimal("99"),
            price_sale_incl_freight=Decimal("109"),
            is_prices_incl_vat=True,
            is_in_stock=False,
        ),
        '{"AccountId":7,"FullFile":false,"CompetitorSkuFieldsThatAreSet":[0]}',
        b'[{"PartNo":"SKU-1","Source":"crawler","CompetitorCode":"RIVAL","CompetitorPartNo":"R-1",'
        b'"PriceSale":99,"PriceSaleInclFreight":109,"IsPricesInclVat":true,"IsInStock":false}]',
    ),
    (
        "import_customers",
        "Customer/ImportCustomers",
        m.CustomerHeader(
            account_id=7,
            customer_fields_that_are_set=[m.CustomerField.Code, m.CustomerField.FirstName],
        ),
        m.Customer(code="C-1", first_name="Åsa"),
        '{"AccountId":7,"CustomerFieldsThatAreSet":[2,6]}',
        '[{"Code":"C-1","FirstName":"Åsa"}]'.encode(),
    ),
    (
        "import_companies",
        "Customer/ImportCompanies",
        m.CustomerHeader(
            account_id=7,
            company_fields_that_are_set=[m.CompanyField.Code, m.CompanyField.Name],
        ),
        m.Company(code="CO-1", name="Acme AB", organization_no="556000-0000"),
        '{"AccountId":7,"CompanyFieldsThatAreSet":[2,4]}',
        b'[{"Code":"CO-1","OrganizationNo":"556000-0000","Name":"Acme AB"}]',
    ),
    (
        "import_supplier_products",
        "Supplier/ImportProducts",
        m.SupplierProductHeader(
            account_id=7,
            full_file=False,
            fields_that_are_set=[m.SupplierProductField.ProductName],
        ),
        m.SupplierProduct(supplier_part_no="SUP-1", product_name="Widget"),
        '{"AccountId":7,"FullFile":false,"FieldsThatAreSet":[1]}',
        b'[{"SupplierPartNo":"SUP-1","ProductName":"Widget"}]',
    ),
]


@pytest.fixture
def mock():
    with respx.mock(assert_all_called=False) as router:
        router.post(TOKEN).mock(
            return_value=httpx.Response(200, json={"access_token": "tok-9", "expires_in": 3600})
        )
        yield router


@pytest.mark.parametrize(("method", "path", "header", "item", "header_json", "body"), CASES)
def test_every_import_exact_wire_bytes(
    mock, norce_settings, method, path, header, item, header_json, body
):
    route = mock.post(CONNECT + path).mock(return_value=httpx.Response(200, json=JOB_RESPONSE))
    with Norce(norce_settings) as norce:
        result = getattr(norce.connect, method)(iter([item]), header)
    assert result.job_id == 4711
    assert result.validation_summary.nr_of_items_in_total == 1
    sent = route.calls.last.request
    assert str(sent.url) == CONNECT + path
    assert sent.method == "POST"
    assert sent.headers["authorization"] == "Bearer tok-9"
    assert sent.headers["content-type"] == "application/json"
    assert sent.headers["x-stormconnect-header"] == header_json
    assert "\n" not in sent.headers["x-stormconnect-header"]
    assert sent.read() == body
    json.loads(sent.read())  # valid JSON


@pytest.mark.anyio
@pytest.mark.parametrize(("method", "path", "header", "item", "header_json", "body"), CASES)
async def test_every_import_async_same_bytes(
    mock, norce_settings, method, path, header, item, header_json, body
):
    route = mock.post(CONNECT + path).mock(return_value=httpx.Response(200, json=JOB_RESPONSE))

    async def items():
        yield item

    async with AsyncNorce(norce_settings) as norce:
        result = await getattr(norce.connect, method)(items(), header)
    assert result.job_id == 4711
    sent = route.calls.last.request
    assert sent.headers["x-stormconnect-header"] == header_json
    assert sent.read() == body


def test_mappings_are_sent_as_given_and_bodies_stream(mock, norce_settings):
    route = mock.post(CONNECT + "Product/ImportOnhands").mock(
        return_value=httpx.Response(200, json=JOB_RESPONSE)
    )
    header = m.SkuOnhandHeader(
        account_id=7, full_file=False, sku_onhand_fields_that_are_set=[m.SkuOnhandField.OnhandValue]
    )
    produced = []

    def rows():
        for i in range(3000):
            produced.append(i)
            yield {"PartNo": f"P{i}", "WarehouseCode": "W", "LocationCode": "L", "OnhandValue": i}

    chunks = []
    with Norce(norce_settings) as norce:
        sent = norce.connect.submit("onhands", rows(), header, tee=chunks.append)
    body = route.calls.last.request.read()
    assert sent.item_count == 3000
    assert sent.payload_size == len(body)
    assert b"".join(chunks) == body
    assert len(chunks) > 1  # streamed in several chunks, not one buffer
    import hashlib

    assert sent.payload_digest == hashlib.sha256(body).hexdigest()
    assert json.loads(body)[2999]["PartNo"] == "P2999"


def test_header_rules_checked_before_any_request(mock, norce_settings):
    route = mock.post(CONNECT + "Product/ImportProducts")
    header = m.ProductHeader(
        account_id=7,
        full_file=False,
        product_fields_that_are_set=[m.ProductField.Code],
        variant_fields_that_are_set=[m.VariantField.Skus],
    )
    with Norce(norce_settings) as norce, pytest.raises(HeaderRuleError) as info:
        norce.connect.import_products([], header)
    assert route.call_count == 0
    assert info.value.rule


def test_wrong_item_type_names_the_item(mock, norce_settings):
    mock.post(CONNECT + "Product/ImportOnhands").mock(
        return_value=httpx.Response(200, json=JOB_RESPONSE)
    )
    header = m.SkuOnhandHeader(
        account_id=7, full_file=False, sku_onhand_fields_that_are_set=[m.SkuOnhandField.OnhandValue]
    )
    good = m.SkuOnhand(part_no="A", warehouse_code="W", location_code="L")
    with Norce(norce_settings) as norce, pytest.raises(InvalidItemError) as info:
        norce.connect.import_onhands([good, good, m.Customer(code="x")], header)  # type: ignore[list-item]
    assert info.value.index == 2
    assert "SkuOnhand" in str(info.value)
    assert "onhands item #2" in str(info.value)


def test_unserialisable_value_names_the_item():
    body = ImportBody([{"a": 1}, {"b": object()}], kind="onhands")
    with pytest.raises(InvalidItemError, match="item #1"):
        b"".join(body)


def test_non_finite_decimal_rejected():
    item = m.SkuOnhand(
        part_no="A", warehouse_code="W", location_code="L", onhand_value=Decimal("NaN")
    )
    with pytest.raises(InvalidItemError, match="finite"):
        b"".join(ImportBody([item], item_type=m.SkuOnhand))


def test_empty_import_is_an_empty_array():
    assert b"".join(ImportBody([])) == b"[]"


def test_job_service(mock, norce_settings):
    mock.get(CONNECT + "Job/Get", params={"id": "4711"}).mock(
        return_value=httpx.Response(
            200,
            json={
                "JobId": 4711,
                "StatusId": 2,
                "Totals": 100,
                "Inserts": 10,
                "Updates": 90,
                "Fail": 0,
                "Start": "2023-07-31T16:24:37.967",
                "Stop": "2023-07-31T16:24:44.48",
                "LastUpdated": "2023-07-31T16:24:44.48",
                "IsFinished": True,
                "RunTime": "00:00:06.5130000",
            },
        )
    )
    mock.get(CONNECT + "Job/GetLog", params={"id": "4711"}).mock(
        return_value=httpx.Response(
            200,
            json=[
                {
                    "SeverityId": 1,
                    "Message": "Starting import.",
                    "TimeStamp": "2023-07-31T16:24:37.967",
                },
                {
                    "SeverityId": 3,
                    "Message": "bad row",
                    "TimeStamp": "2023-07-31T16:24:40",
                    "ImportedRow": "{}",
                },
                {
                    "SeverityId": 1,
                    "Message": "Import finished.",
                    "TimeStamp": "2023-07-31T16:24:44.48",
                },
            ],
        )
    )
    mock.get(CONNECT + "Job/List").mock(return_value=httpx.Response(200, json=[]))
    mock.get(CONNECT + "Job/Ping").mock(return_value=httpx.Response(200, text="pong"))
    mock.get(CONNECT + "Job/Get", params={"id": "1"}).mock(return_value=httpx.Response(404))
    with Norce(norce_settings) as norce:
        job = norce.connect.get_job(4711)
        assert job.status is m.JobStatus.Succeeded
        assert (job.totals, job.inserts, job.updates, job.fail) == (100, 10, 90, 0)
        assert job.run_time.total_seconds() == pytest.approx(6.513)
        log = norce.connect.get_job_log(4711)
        assert [e.severity for e in log] == [
            m.LogSeverity.Information,
            m.LogSeverity.Error,
            m.LogSeverity.Information,
        ]
        assert norce.connect.list_jobs() == []
        assert norce.connect.ping() == "pong"
        with pytest.raises(NotFoundError):
            norce.connect.get_job(1)


def test_malformed_job_is_a_validation_error_with_path(mock, norce_settings):
    mock.get(CONNECT + "Job/Get").mock(return_value=httpx.Response(200, json={"JobId": "x"}))
    with Norce(norce_settings) as norce, pytest.raises(ResponseValidationError) as info:
        norce.connect.get_job(5)
    assert info.value.errors
    assert "Job" in str(info.value)


def test_no_secret_or_token_in_logs_reprs_or_errors(mock, norce_settings, caplog):
    caplog.set_level(logging.DEBUG)
    mock.post(CONNECT + "Product/ImportOnhands").mock(
        return_value=httpx.Response(400, json={"Message": "bad", "access_token": "tok-9"})
    )
    header = m.SkuOnhandHeader(
        account_id=7, full_file=False, sku_onhand_fields_that_are_set=[m.SkuOnhandField.OnhandValue]
    )
    with Norce(norce_settings) as norce:
        with pytest.raises(Exception) as info:
            norce.connect.import_onhands([], header)
        texts = [str(info.value), repr(info.value), repr(norce.settings), repr(norce), caplog.text]
        texts += [repr(norce._http._token)]
    for text in texts:
        assert SECRET not in text
    assert "tok-9" not in str(info.value)
    assert "tok-9" not in caplog.text
    assert "tok-9" not in texts[-1]


WRITE_MODELS = [
    getattr(m, name)
    for name in m.__all__
    if isinstance(getattr(m, name), type) and issubclass(getattr(m, name), WriteModel)
]


@pytest.mark.parametrize("cls", WRITE_MODELS, ids=lambda c: c.__name__)
@given(data=st.data())
def test_fast_unstructure_matches_the_converter(cls, data):
    import orjson

    from norce_integration.connect._body import json_default

    obj = data.draw(model_strategy(cls))
    fast = fast_unstructure_fn(cls)(obj)
    slow = converter.unstructure(obj)

    # Same JSON (key order aside: JSON objects are unordered), numbers compared exactly.
    def parse(data):
        return json.loads(orjson.dumps(data, default=json_default), parse_float=Decimal)

    assert parse(fast) == parse(slow)


# --- pre-encoded submissions (the patterns' spool re-runs) --------------------------------

ONHAND_HEADER = m.SkuOnhandHeader(
    account_id=7, full_file=False, sku_onhand_fields_that_are_set=[m.SkuOnhandField.OnhandValue]
)
ONHAND_HEADER_JSON = '{"AccountId":7,"FullFile":false,"SkuOnhandFieldsThatAreSet":[3]}'
BAD_PRODUCT_HEADER = m.ProductHeader(  # Skus set without Variants
    account_id=7,
    full_file=False,
    product_fields_that_are_set=[m.ProductField.Code],
    variant_fields_that_are_set=[m.VariantField.Skus],
)
ENCODED = [b'{"PartNo":"A","OnhandValue":1}', b'{"PartNo":"B","OnhandValue":2.50}']


def test_header_value_is_the_exact_header_text():
    from norce_integration.connect import header_value

    assert header_value(ONHAND_HEADER, "onhands") == ONHAND_HEADER_JSON
    named = m.PriceListHeader(account_id=7, price_list_fields_that_are_set=[m.PriceListField.Name])
    assert header_value(named, m.ImportKind.price_lists).isascii()
    with pytest.raises(HeaderRuleError):
        header_value(BAD_PRODUCT_HEADER, "products")


@pytest.mark.parametrize("header", [ONHAND_HEADER, ONHAND_HEADER_JSON], ids=["model", "text"])
def test_submit_encoded_frames_the_items_exactly(mock, norce_settings, header):
    import hashlib

    route = mock.post(CONNECT + "Product/ImportOnhands").mock(
        return_value=httpx.Response(200, json=JOB_RESPONSE)
    )
    chunks: list[bytes] = []
    with Norce(norce_settings) as norce:
        sent = norce.connect.submit_encoded("onhands", iter(ENCODED), header, tee=chunks.append)
    request = route.calls.last.request
    body = b'[{"PartNo":"A","OnhandValue":1},{"PartNo":"B","OnhandValue":2.50}]'
    assert request.read() == body
    assert request.headers["x-stormconnect-header"] == ONHAND_HEADER_JSON
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Bearer tok-9"
    assert b"".join(chunks) == body
    assert (sent.kind, sent.job_id, sent.item_count) == (m.ImportKind.onhands, 4711, 2)
    assert (sent.size, sent.digest) == (len(body), hashlib.sha256(body).hexdigest())
    assert sent.header == ONHAND_HEADER_JSON


def test_submit_encoded_streams_large_bodies_in_chunks(mock, norce_settings):
    route = mock.post(CONNECT + "Product/ImportOnhands").mock(
        return_value=httpx.Response(200, json=JOB_RESPONSE)
    )
    items = (b'{"PartNo":"P%d"}' % i for i in range(20000))
    chunks: list[bytes] = []
    with Norce(norce_settings) as norce:
        sent = norce.connect.submit_encoded("onhands", items, ONHAND_HEADER, tee=chunks.append)
    body = route.calls.last.request.read()
    assert len(chunks) > 1
    assert sent.item_count == 20000
    assert json.loads(body)[19999] == {"PartNo": "P19999"}
    assert sent.size == len(body)


def test_submit_encoded_empty_is_an_empty_array(mock, norce_settings):
    route = mock.post(CONNECT + "Product/ImportOnhands").mock(
        return_value=httpx.Response(200, json=JOB_RESPONSE)
    )
    with Norce(norce_settings) as norce:
        sent = norce.connect.submit_encoded("onhands", [], ONHAND_HEADER)
    assert route.calls.last.request.read() == b"[]"
    assert sent.item_count == 0


def test_submit_body_sends_the_bytes_unchanged(mock, norce_settings):
    import hashlib

    route = mock.post(CONNECT + "Customer/ImportCustomers").mock(
        return_value=httpx.Response(200, json=JOB_RESPONSE)
    )
    parts = [b'[{"Code":"C1"}', b",", b'{"Code":"C2"}]']
    with Norce(norce_settings) as norce:
        sent = norce.connect.submit_body("customers", iter(parts), '{"AccountId":7}', item_count=2)
    request = route.calls.last.request
    assert request.read() == b"".join(parts)
    assert request.headers["x-stormconnect-header"] == '{"AccountId":7}'
    assert sent.item_count == 2
    assert sent.digest == hashlib.sha256(b"".join(parts)).hexdigest()
    assert sent.size == len(b"".join(parts))
    assert sent.payload_digest == sent.digest
    assert sent.payload_size == sent.size


@pytest.mark.anyio
async def test_async_submit_encoded_and_body_match_the_sync_bytes(mock, norce_settings):
    route = mock.post(CONNECT + "Product/ImportOnhands").mock(
        return_value=httpx.Response(200, json=JOB_RESPONSE)
    )
    chunks: list[bytes] = []
    async with AsyncNorce(norce_settings) as norce:
        encoded = await norce.connect.submit_encoded(
            m.ImportKind.onhands, iter(ENCODED), ONHAND_HEADER, tee=chunks.append
        )
        first = route.calls.last.request.read()
        again = await norce.connect.submit_body(
            "onhands", iter(chunks), encoded.header, item_count=encoded.item_count
        )
    assert first == b'[{"PartNo":"A","OnhandValue":1},{"PartNo":"B","OnhandValue":2.50}]'
    assert route.calls.last.request.read() == first
    assert route.calls.last.request.headers["x-stormconnect-header"] == ONHAND_HEADER_JSON
    assert (again.digest, again.size, again.item_count) == (
        encoded.digest,
        encoded.size,
        2,
    )
    assert again.job_id == 4711


def test_submit_encoded_checks_the_header_model_before_sending(mock, norce_settings):
    route = mock.post(CONNECT + "Product/ImportProducts")
    with Norce(norce_settings) as norce, pytest.raises(HeaderRuleError):
        norce.connect.submit_encoded("products", [b"{}"], BAD_PRODUCT_HEADER)
    assert route.call_count == 0


@pytest.mark.parametrize("method", ["submit_encoded", "submit_body"])
@pytest.mark.parametrize("failure", ["read-error", "502"])
def test_failure_after_the_body_is_sent_is_ambiguous(mock, norce_settings, method, failure):
    from norce_integration import AmbiguousImportError

    if failure == "502":
        route = mock.post(CONNECT + "Product/ImportOnhands").mock(return_value=httpx.Response(502))
    else:
        route = mock.post(CONNECT + "Product/ImportOnhands").mock(
            side_effect=httpx.ReadError("reset")
        )
    with Norce(norce_settings) as norce, pytest.raises(AmbiguousImportError):
        getattr(norce.connect, method)("onhands", iter([b"[]"]), ONHAND_HEADER_JSON)
    assert route.call_count == 1  # never retried: a second job must not appear


@pytest.mark.anyio
@pytest.mark.parametrize("method", ["submit_encoded", "submit_body"])
async def test_async_failure_after_the_body_is_sent_is_ambiguous(mock, norce_settings, method):
    from norce_integration import AmbiguousImportError

    route = mock.post(CONNECT + "Product/ImportOnhands").mock(side_effect=httpx.ReadError("reset"))
    async with AsyncNorce(norce_settings) as norce:
        with pytest.raises(AmbiguousImportError):
            await getattr(norce.connect, method)("onhands", iter([b"[]"]), ONHAND_HEADER_JSON)
    assert route.call_count == 1


@pytest.mark.parametrize("method", ["submit_encoded", "submit_body"])
def test_429_before_the_job_is_retried_with_the_same_bytes(mock, norce_settings, method):
    route = mock.post(CONNECT + "Product/ImportOnhands").mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "1"}),
            httpx.Response(200, json=JOB_RESPONSE),
        ]
    )
    body = (chunk for chunk in ENCODED)  # one-shot: the retry replays the spooled bytes
    with Norce(norce_settings) as norce:
        sent = getattr(norce.connect, method)("onhands", body, ONHAND_HEADER_JSON)
    first, second = (call.request.read() for call in route.calls)
    assert first == second
    assert sent.size == len(first)


def test_malformed_job_response_is_a_validation_error(mock, norce_settings):
    mock.post(CONNECT + "Product/ImportOnhands").mock(
        return_value=httpx.Response(200, json={"StatusCode": "0", "Description": "no job"})
    )
    with Norce(norce_settings) as norce, pytest.raises(ResponseValidationError):
        norce.connect.submit_body("onhands", [b"[]"], ONHAND_HEADER_JSON)
