"""The SDK client against the emulator, in-process and over a real loopback socket."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest

from norce_integration import (
    AsyncNorce,
    AuthenticationError,
    BadRequestError,
    Norce,
    NotFoundError,
    RateLimitError,
    RetryPolicy,
)
from norce_integration.connect import models as m
from norce_integration.query import ProductSku, ProductSkuPriceList, f, query
from norce_integration.testing import ManualClock, NorceEmulator


HEADER = m.ProductHeader(
    account_id=1,
    full_file=False,
    product_fields_that_are_set=[m.ProductField.Variants, m.ProductField.Cultures],
    product_culture_fields_that_are_set=[m.ProductCultureField.Name],
    variant_fields_that_are_set=[m.VariantField.Skus],
    sku_fields_that_are_set=[m.SkuField.Status, m.SkuField.Type, m.SkuField.StandardPrice],
    sku_price_list_fields_that_are_set=[m.SkuPriceListField.PriceSale],
)


def products(n: int, price: str = "100.00"):
    for i in range(n):
        part_no = f"SKU-{i:05d}"
        yield m.Product(
            manufacturer_code="ACME",
            cultures=[m.ProductCulture(culture_code="sv-SE", name=f"Product {i}")],
            variants=[
                m.Variant(
                    manufacturer_part_no=f"MPN-{i:05d}",
                    skus=[
                        m.Sku(
                            part_no=part_no,
                            status=m.SkuStatus.Active,
                            type=m.SkuType.ErpStandard,
                            standard_price=m.SkuPriceList(
                                part_no=part_no,
                                price_list_code="STD",
                                price_sale=Decimal(price),
                                currency_code="SEK",
                            ),
                        )
                    ],
                )
            ],
        )


@pytest.fixture
def emulator():
    with NorceEmulator(clock=ManualClock()) as emu:
        yield emu


def _fast(settings):
    return attrs.evolve(settings, retry=RetryPolicy.no_wait())


def test_import_job_and_query_in_process(emulator):
    with Norce(_fast(emulator.settings()), transport=emulator.transport()) as norce:
        sent = norce.connect.submit("products", products(1200), HEADER)
        assert sent.item_count == 1200
        assert norce.connect.get_job(sent.job_id).status in (
            m.JobStatus.Queued,
            m.JobStatus.Initialized,
        )
        emulator.advance(60)
        job = norce.connect.get_job(sent.job_id)
        assert job.status is m.JobStatus.Succeeded
        assert job.totals == 1200
        assert job.is_finished
        log = norce.connect.get_job_log(sent.job_id)
        assert log[0].message == "Starting import."
        assert log[-1].message == "Import finished."

        # Query sees the data; 1,200 rows arrive over 3 pages of at most 500.
        rows = list(norce.query.iterate(query(ProductSku)))
        assert len(rows) == 1200
        assert rows[0].part_no == "SKU-00000"
        sku = norce.query.get(ProductSku, "SKU-00042")
        assert sku.erp_name is None or isinstance(sku.erp_name, str)
        prices = norce.query.lookup_many(
            ProductSkuPriceList, f(attrs.fields(ProductSkuPriceList).part_no), ["SKU-00001"]
        )
        assert prices.found
        with pytest.raises(NotFoundError):
            norce.query.get(ProductSku, "NOPE")


@pytest.mark.anyio
async def test_async_client_in_process(emulator):
    async def items():
        for p in products(10):
            yield p

    async with AsyncNorce(_fast(emulator.settings()), transport=emulator.transport()) as norce:
        sent = await norce.connect.submit("products", items(), HEADER)
        await emulator.aadvance(60)
        job = await norce.connect.get_job(sent.job_id)
        assert job.status is m.JobStatus.Succeeded
        rows = [row async for row in norce.query.iterate(query(ProductSku))]
        assert {r.part_no for r in rows} == {f"SKU-{i:05d}" for i in range(10)}


def test_served_over_loopback_socket():
    with NorceEmulator() as emulator, emulator.serve(port=0) as server:
        settings = _fast(server.settings())
        assert settings.connect_base.startswith("http://127.0.0.1:")
        with Norce(settings) as norce:
            assert norce.connect.ping()
            sent = norce.connect.submit("products", products(5), HEADER)
            assert sent.job_id > 0
            job = norce.connect.get_job(sent.job_id)
            assert job.job_id == sent.job_id
            assert isinstance(list(norce.query.iterate(query(ProductSku))), list)


def test_wrong_credentials_are_an_authentication_error(emulator):
    settings = attrs.evolve(emulator.settings(), client_secret="wrong")
    with (
        Norce(settings, transport=emulator.transport()) as norce,
        pytest.raises(AuthenticationError) as info,
    ):
        norce.connect.ping()
    assert "wrong" not in str(info.value)


def test_emulator_rejects_a_broken_header_the_sdk_would_refuse(emulator):
    # Sent raw (bypassing the SDK's own header check) the emulator still answers 400.
    with Norce(_fast(emulator.settings()), transport=emulator.transport()) as norce:
        response_error = None
        try:
            norce._http.request(
                "POST",
                norce.settings.connect_base + "Product/ImportProducts",
                kind="import",
                headers={"X-StormConnect-Header": '{"FullFile":false}'},
                content=b"[]",
            )
        except BadRequestError as exc:
            response_error = exc
        assert response_error is not None
        assert "AccountId" in str(response_error)


def test_retry_after_from_the_emulator_is_honoured(emulator):
    waits: list[float] = []
    settings = attrs.evolve(
        emulator.settings(),
        retry=RetryPolicy(sleep=waits.append, jitter=0.0, max_attempts=3),
    )
    emulator.faults.add(route="Job/Get*", status=429, retry_after=7, times=1)
    with Norce(settings, transport=emulator.transport()) as norce:
        sent = norce.connect.submit("products", products(1), HEADER)
        norce.connect.get_job(sent.job_id)
    assert waits == [7.0]
    emulator.faults.add(route="Job/Get*", status=429, retry_after=1, times=5)
    with Norce(settings, transport=emulator.transport()) as norce, pytest.raises(RateLimitError):
        norce.connect.get_job(sent.job_id)


def test_query_cache_is_opt_in_and_serves_repeat_lookups(emulator):
    from norce_integration.query import QueryCache

    with Norce(_fast(emulator.settings()), transport=emulator.transport()) as norce:
        norce.connect.submit("products", products(3), HEADER)
        emulator.advance(60)
        assert norce.query.cache is None
    cache = QueryCache()
    with Norce(
        _fast(emulator.settings()), transport=emulator.transport(), query_cache=cache
    ) as norce:
        norce.query.get(ProductSku, "SKU-00001")
        norce.query.get(ProductSku, "SKU-00001")
        assert cache.stats.hits == 1
