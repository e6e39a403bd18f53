"""Issue 18: every typed read whose ``$select`` leaves out the key still works.

OData answers only the selected fields, so each read path adds what the model requires
(its key) to ``$select``. Checked against the emulator, for every entity set the SDK
models, sync and async.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import pytest

from norce_integration import AsyncNorce, Norce, RetryPolicy
from norce_integration.connect import models as m
from norce_integration.query import (
    Category,
    ClientPriceList,
    Currency,
    Customer,
    Entity,
    Order,
    Product,
    ProductSku,
    ProductSkuPriceList,
    f,
    query,
)
from norce_integration.query._core import readable, required_wires
from norce_integration.query._odata import model_wire_names
from norce_integration.testing import ManualClock, NorceEmulator


# (model, a non-key field to select alone, the keyset column)
SETS: list[tuple[type[Entity], str, str]] = [
    (ProductSku, "EanCode", "PartNo"),
    (ProductSkuPriceList, "PriceSale", "PartNo"),
    (Product, "DefaultName", "Id"),
    (Customer, "EmailAddress", "Id"),
    (Order, "OrderNo", "Id"),
    (Category, "Code", "Id"),
    (ClientPriceList, "Name", "PriceListId"),
    (Currency, "Code", "Id"),
]
IDS = [model.__name__ for model, _, _ in SETS]

PRODUCT_HEADER = m.ProductHeader(
    account_id=1,
    full_file=False,
    product_fields_that_are_set=[m.ProductField.Variants, m.ProductField.Cultures],
    product_culture_fields_that_are_set=[m.ProductCultureField.Name],
    variant_fields_that_are_set=[m.VariantField.Skus],
    sku_fields_that_are_set=[
        m.SkuField.Status,
        m.SkuField.Type,
        m.SkuField.EanCode,
        m.SkuField.StandardPrice,
    ],
    sku_price_list_fields_that_are_set=[m.SkuPriceListField.PriceSale],
)
CUSTOMER_HEADER = m.CustomerHeader(
    account_id=1,
    customer_fields_that_are_set=[
        m.CustomerField.Code,
        m.CustomerField.EmailAddress,
        m.CustomerField.FirstName,
        m.CustomerField.LastName,
    ],
)


def _products() -> list[m.Product]:
    return [
        m.Product(
            manufacturer_code="ACME",
            cultures=[m.ProductCulture(culture_code="sv-SE", name=f"Product {i}")],
            variants=[
                m.Variant(
                    manufacturer_part_no=f"MPN-{i}",
                    skus=[
                        m.Sku(
                            part_no=f"SKU-{i}",
                            status=m.SkuStatus.Active,
                            type=m.SkuType.ErpStandard,
                            ean_code=f"7350000000{i:03d}",
                            standard_price=m.SkuPriceList(
                                part_no=f"SKU-{i}",
                                price_list_code="STD",
                                price_sale=Decimal("10.00"),
                                currency_code="SEK",
                            ),
                        )
                    ],
                )
            ],
        )
        for i in range(3)
    ]


@pytest.fixture(scope="module")
def emulator():
    with NorceEmulator(clock=ManualClock()) as emu:
        settings = attrs.evolve(emu.settings(), retry=RetryPolicy.no_wait())
        with Norce(settings, transport=emu.transport()) as norce:
            norce.connect.submit("products", _products(), PRODUCT_HEADER)
            customers = [
                m.Customer(
                    code=f"C{i}", email_address=f"c{i}@example.com", first_name="A", last_name="B"
                )
                for i in range(2)
            ]
            norce.connect.submit("customers", customers, CUSTOMER_HEADER)
            emu.advance(60)
        emu.create_order([("SKU-0", 1)])
        yield emu


@pytest.fixture
def norce(emulator):
    settings = attrs.evolve(emulator.settings(), retry=RetryPolicy.no_wait())
    with Norce(settings, transport=emulator.transport()) as client:
        yield client


def _key_of(row: Entity) -> object:
    values = tuple(getattr(row, name) for name in type(row).KEY)
    return values[0] if len(values) == 1 else values


def _some_rows(norce: Norce, model: type[Entity]) -> list[Any]:
    rows = list(norce.query.iterate(query(model)))
    assert rows, f"the emulator holds no {model.__name__}"
    return rows


@pytest.mark.parametrize(("model", "field", "column"), SETS, ids=IDS)
def test_every_sync_read_path(norce, model, field, column):
    rows = _some_rows(norce, model)
    keys = [_key_of(row) for row in rows]
    q = query(model).select(field)
    assert [_key_of(r) for r in norce.query.iterate(q)] == keys
    assert [_key_of(r) for page in norce.query.pages(q) for r in page] == keys
    assert sorted(map(str, (_key_of(r) for r in norce.query.keyset(q, column)))) == sorted(
        map(str, keys)
    )
    got = norce.query.get(model, keys[0], select=[field])
    assert _key_of(got) == keys[0]
    assert getattr(got, _attr(model, field)) == getattr(rows[0], _attr(model, field))
    by = model.KEY[0]
    wanted = [getattr(r, by) for r in rows]
    found = norce.query.lookup_many(
        model, f(getattr(attrs.fields(model), by)), wanted, select=[field]
    )
    assert set(found.found) == set(wanted)
    assert not found.missing


@pytest.mark.parametrize(("model", "field", "column"), SETS, ids=IDS)
def test_lookup_by_another_field_with_a_select_without_the_key(norce, model, field, column):
    rows = [r for r in _some_rows(norce, model) if getattr(r, _attr(model, field)) is not None]
    if not rows:
        pytest.skip(f"no {model.__name__} has {field}")
    values = [getattr(rows[0], _attr(model, field))]
    found = norce.query.lookup_many(model, field, values, select=[field])
    assert _key_of(found.found[values[0]]) == _key_of(rows[0])


def test_cached_get_with_select_keeps_the_key(emulator):
    from norce_integration.query import QueryCache

    settings = attrs.evolve(emulator.settings(), retry=RetryPolicy.no_wait())
    cache = QueryCache()
    with Norce(settings, transport=emulator.transport(), query_cache=cache) as norce:
        first = norce.query.get(ProductSku, "SKU-1", select=["EanCode"])
        second = norce.query.get(ProductSku, "SKU-1", select=["EanCode"])
    assert first == second
    assert first.part_no == "SKU-1"
    assert cache.stats.hits == 1


@pytest.mark.anyio
@pytest.mark.parametrize(("model", "field", "column"), SETS, ids=IDS)
async def test_every_async_read_path(emulator, model, field, column):
    settings = attrs.evolve(emulator.settings(), retry=RetryPolicy.no_wait())
    async with AsyncNorce(settings, transport=emulator.transport()) as norce:
        rows = [r async for r in norce.query.iterate(query(model))]
        keys = [_key_of(r) for r in rows]
        q = query(model).select(field)
        assert [_key_of(r) async for r in norce.query.iterate(q)] == keys
        assert [_key_of(r) async for page in norce.query.pages(q) for r in page] == keys
        keyset = [_key_of(r) async for r in norce.query.keyset(q, column)]
        assert sorted(map(str, keyset)) == sorted(map(str, keys))
        got = await norce.query.get(model, keys[0], select=[field])
        assert _key_of(got) == keys[0]
        by = model.KEY[0]
        wanted = [getattr(r, by) for r in rows]
        found = await norce.query.lookup_many(model, by_field(model, by), wanted, select=[field])
        assert set(found.found) == set(wanted)


def by_field(model: type[Entity], attr: str) -> Any:
    return f(getattr(attrs.fields(model), attr))


def _attr(model: type[Entity], wire: str) -> str:
    return {w: a for a, w in model_wire_names(model).items()}[wire]


# --- the one pure rule -------------------------------------------------------------------


@pytest.mark.parametrize("model", [s[0] for s in SETS], ids=IDS)
def test_required_wires_are_the_key(model):
    names = model_wire_names(model)
    assert set(required_wires(model)) == {names[k] for k in model.KEY}


def test_readable_adds_only_what_is_missing():
    q = query(ProductSku).select("EanCode")
    assert readable(q).selects == ("EanCode", "PartNo")
    assert readable(query(ProductSku)).selects == ()  # no $select: every field comes
    assert readable(query(ProductSku).select("PartNo")).selects == ("PartNo",)
    untyped = query(("Products", "ProductSkus")).select("EanCode")
    assert readable(untyped).selects == ("EanCode",)
    composite = readable(query(ProductSkuPriceList).select("PriceSale"))
    assert composite.selects == ("PriceSale", "PartNo", "PriceListId", "QtyBreak")
