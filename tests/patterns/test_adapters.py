"""Source adapters, source specs, item keys and the Query-backed lookup helper."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import httpx
import pytest

from norce_integration import AsyncNorce, ConfigurationError, HeaderRuleError, Norce
from norce_integration.connect.models import (
    ProductHeader,
    SkuOnhand,
    SkuPriceList,
    SkuPriceListHeader,
)
from norce_integration.patterns import (
    AdapterContext,
    AsyncDeltaImport,
    AsyncFullImport,
    AsyncLookupHelper,
    AsyncQueryLookup,
    AsyncSourceAdapter,
    DeltaImport,
    FullImport,
    LookupHelper,
    QueryLookup,
    SourceAdapter,
    SourceSpec,
    item_key,
)
from norce_integration.query import Category, ClientPriceList
from norce_integration.testing import ManualClock, NorceEmulator

from ._import_env import ACCOUNT, ONHAND_HEADER, PRICE_HEADER, make_env, price_spec


# ---------------------------------------------------------------------------- protocols


def test_a_subclass_that_forgets_a_required_member_cannot_be_instantiated() -> None:
    class Forgetful(SourceAdapter[int]):
        def fetch_all(self) -> Iterator[int]:
            yield 1

    with pytest.raises(TypeError, match="abstract methods fetch_changed, map"):
        Forgetful()  # type: ignore[abstract]

    class AsyncForgetful(AsyncSourceAdapter[int]):
        async def map(self, record: int) -> Any:
            return record

    with pytest.raises(TypeError, match="fetch_all, fetch_changed"):
        AsyncForgetful()  # type: ignore[abstract]


class Minimal(SourceAdapter[dict[str, str]]):
    def fetch_all(self) -> Iterator[dict[str, str]]:
        yield {"sku": "A", "list": "STD"}

    def fetch_changed(
        self, since: dt.datetime | None, until: dt.datetime
    ) -> Iterator[dict[str, str]]:
        yield from self.fetch_all()

    def map(self, record: dict[str, str]) -> SkuPriceList:
        return SkuPriceList(part_no=record["sku"], price_list_code=record["list"])


def test_optional_members_have_defaults() -> None:
    adapter = Minimal()
    record = {"sku": "A", "list": "STD"}
    assert adapter.key(record) is None
    assert adapter.version(record) is None
    adapter.prefetch([record])
    assert adapter.context is None
    with pytest.raises(ConfigurationError, match="not bound"):
        _ = adapter.lookup


def test_bind_hands_the_context_and_its_lookup_to_the_adapter() -> None:
    adapter = Minimal()
    helper = object()
    context = AdapterContext(
        spec=price_spec(),
        mode="full",
        run_id="r1",
        started_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
        lookup=helper,
    )
    adapter.bind(context)
    assert adapter.context is context
    assert adapter.lookup is helper


# ---------------------------------------------------------------------------- item keys


@pytest.mark.parametrize(
    ("kind", "wire", "key"),
    [
        ("products", {"Code": "CL-1", "ManufacturerCode": "ACME"}, "CL-1"),
        (
            "products",
            {"ManufacturerCode": "ACME", "Variants": [{"Skus": [{"PartNo": "P-1"}]}]},
            "ACME\x1fP-1",
        ),
        ("sku_price_lists", {"PartNo": "A", "PriceListCode": "STD"}, "A\x1fSTD\x1f"),
        (
            "sku_price_lists",
            {"PartNo": "A", "PriceListCode": "STD", "QuantityBreak": 5},
            "A\x1fSTD\x1f5",
        ),
        ("onhands", {"PartNo": "A", "WarehouseCode": "W", "LocationCode": "L"}, "A\x1fW\x1fL"),
        ("price_lists", {"Code": "PL"}, "PL"),
        ("customers", {"EmailAddress": "a@b.se"}, "a@b.se"),
        ("companies", {"Code": "", "OrganizationNo": "556"}, "556"),
        (
            "relations",
            {"PartNo": "A", "RelatedPartNo": "B", "RelationTypeCode": "X"},
            "A\x1fB\x1fX",
        ),
        ("products", {"ManufacturerCode": "ACME"}, None),
    ],
)
def test_item_key_per_kind(kind: str, wire: dict[str, Any], key: str | None) -> None:
    assert item_key(kind, wire) == key


# ---------------------------------------------------------------------------- specs


def test_source_spec_checks_header_kind_and_account() -> None:
    with pytest.raises(ConfigurationError, match="needs a SkuPriceListHeader"):
        SourceSpec(
            name="x",
            kind="sku_price_lists",
            header=ProductHeader(account_id=1, full_file=False, product_fields_that_are_set=[]),
            account_id=1,
        )
    with pytest.raises(ConfigurationError, match="differs from the source's account_id"):
        SourceSpec(name="x", kind="sku_price_lists", header=PRICE_HEADER, account_id=2)
    with pytest.raises(ConfigurationError, match="max_items_per_job"):
        price_spec(max_items_per_job=0)
    with pytest.raises(ConfigurationError, match="min_interval"):
        price_spec(min_interval=-1)
    with pytest.raises(ConfigurationError, match="small_batch"):
        price_spec(small_batch="sometimes")
    with pytest.raises(ConfigurationError, match="name"):
        price_spec("a#b")
    with pytest.raises(HeaderRuleError):
        SourceSpec(
            name="x",
            kind="sku_price_lists",
            header=SkuPriceListHeader(
                account_id=1, full_file=False, sku_price_list_fields_that_are_set=[]
            ),
            account_id=1,
        )


def test_header_for_sets_fullfile_on_a_copy() -> None:
    spec = price_spec()
    full = spec.header_for(full=True)
    assert full.full_file is True  # type: ignore[attr-defined]
    assert spec.header.full_file is False  # type: ignore[attr-defined]
    assert spec.header_for(full=False) == spec.header
    assert spec.scope_key == ("PriceListCode",)
    assert spec.has_full_file
    assert SourceSpec(
        name="oh",
        kind="onhands",
        header=ONHAND_HEADER,
        account_id=ACCOUNT,
    ).scope_key == ("WarehouseCode", "LocationCode")


# ---------------------------------------------------------------------------- lookups


class Counting(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Counts Query requests on their way to the emulator."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.queries: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if "/query/" in request.url.path:
            self.queries.append(str(request.url))
        return self.inner.handle_request(request)  # type: ignore[no-any-return]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "/query/" in request.url.path:
            self.queries.append(str(request.url))
        return await self.inner.handle_async_request(request)  # type: ignore[no-any-return]


def test_query_lookup_memoises_hits_and_misses_and_batches_prefetches() -> None:
    emulator = NorceEmulator(clock=ManualClock())
    transport = Counting(emulator.transport())
    now = [0.0]
    with Norce(emulator.settings(), transport=transport) as norce:
        lookup = QueryLookup(norce.query, ttl=60, clock=lambda: now[0])
        assert isinstance(lookup, LookupHelper)

        shoes = lookup.category("shoes")
        assert isinstance(shoes, Category)
        assert shoes.code == "shoes"
        assert lookup.category("shoes") is shoes
        assert lookup.category("no-such") is None
        assert lookup.category("no-such") is None
        assert len(transport.queries) == 2

        lookup.prefetch(Category, "Code", ["root", "clothing", "accessories", "shoes"])
        assert len(transport.queries) == 3  # one request for the three misses
        found = lookup.many(Category, "Code", ["root", "clothing", "nope"])
        assert set(found) == {"root", "clothing"}
        assert len(transport.queries) == 4  # only "nope" was fetched

        assert lookup.price_list("EUR") is not None
        assert lookup.currency("SEK") is not None
        assert lookup.sku("missing") is None

        now[0] = 120.0  # past the TTL: fetched again
        before = len(transport.queries)
        assert lookup.category("shoes") is not None
        assert len(transport.queries) == before + 1
        lookup.clear()
    emulator.close()


def test_query_lookup_keeps_at_most_max_entries() -> None:
    emulator = NorceEmulator(clock=ManualClock())
    transport = Counting(emulator.transport())
    with Norce(emulator.settings(), transport=transport) as norce:
        lookup = QueryLookup(norce.query, max_entries=2)
        for code in ("root", "shoes", "clothing"):
            assert lookup.category(code) is not None
        assert len(transport.queries) == 3
        lookup.category("clothing")
        lookup.category("shoes")
        assert len(transport.queries) == 3  # the two newest are kept
        lookup.category("root")
        assert len(transport.queries) == 4  # the oldest went first
    emulator.close()


@pytest.mark.anyio
async def test_async_query_lookup() -> None:
    emulator = NorceEmulator(clock=ManualClock())
    transport = Counting(emulator.transport())
    async with AsyncNorce(emulator.settings(), transport=transport) as norce:
        lookup = AsyncQueryLookup(norce.query)
        assert isinstance(lookup, AsyncLookupHelper)
        shoes = await lookup.category("shoes")
        assert shoes is not None
        assert await lookup.category("shoes") is shoes
        assert await lookup.price_list("STD") is not None
        assert await lookup.currency("EUR") is not None
        assert await lookup.sku("nope") is None
        found = await lookup.many(Category, "Code", ["root", "shoes"])
        assert set(found) == {"root", "shoes"}
        await lookup.prefetch(Category, "Code", ["root"])
        lookup.clear()
    emulator.close()


def test_an_adapter_maps_with_lookups_warmed_per_batch(tmp_path: Any) -> None:
    env = make_env(tmp_path)
    transport = Counting(env.emulator.transport())
    norce = Norce(env.emulator.settings(), transport=transport)
    env.seed_skus(["S1", "S2", "S3"])

    class WarehouseStock(SourceAdapter[tuple[str, str]]):
        """Maps ERP price-list codes through Norce, warming the lookups per batch."""

        def __init__(self) -> None:
            self.batches: list[int] = []

        def fetch_all(self) -> Iterator[tuple[str, str]]:
            yield from [("S1", "EUR"), ("S2", "NOK"), ("S3", "XXX")]

        def fetch_changed(self, since: Any, until: Any) -> Iterator[tuple[str, str]]:
            raise NotImplementedError

        def prefetch(self, records: Sequence[tuple[str, str]]) -> None:
            self.batches.append(len(records))
            self.lookup.prefetch(
                ClientPriceList,
                "Agreement",
                [code for _, code in records],
            )

        def map(self, record: tuple[str, str]) -> SkuPriceList:
            part_no, code = record
            if self.lookup.price_list(code) is None:
                raise LookupError(f"price list {code} is not in Norce")
            return SkuPriceList(part_no=part_no, price_list_code=code, price_sale=Decimal(1))

    try:
        adapter = WarehouseStock()
        importer = FullImport(
            norce,
            price_spec(),
            adapter,
            tracker=env.tracker,
            clock=env.now,
            work_dir=env.work_dir,
        )
        plan = importer.plan()
        assert adapter.batches == [3]
        assert len(transport.queries) == 1
        assert plan.item_count == 2
        assert plan.mapping_errors[0].reason == "LookupError: price list XXX is not in Norce"
        assert adapter.context is not None
        assert adapter.context.mode == "plan"
        assert adapter.context.spec.name == "erp-prices"
    finally:
        norce.close()
        env.close()


def test_structural_key_and_version_overrides_are_used(tmp_path: Any) -> None:
    env = make_env(tmp_path)

    class Stock(SourceAdapter[dict[str, Any]]):
        def fetch_all(self) -> Iterator[dict[str, Any]]:
            yield {"id": 7, "sku": "S1", "qty": 3, "rowversion": 41}

        def fetch_changed(self, since: Any, until: Any) -> Iterator[dict[str, Any]]:
            raise NotImplementedError

        def map(self, record: dict[str, Any]) -> SkuOnhand:
            return SkuOnhand(part_no=record["sku"], warehouse_code="MAIN", location_code="MAIN")

        def key(self, record: dict[str, Any]) -> str:
            return f"row-{record['id']}"

        def version(self, record: dict[str, Any]) -> int:
            return int(record["rowversion"])

    try:
        from norce_integration.patterns.imports._core import Extraction
        from norce_integration.patterns.imports._sync_engine import Engine

        spec = SourceSpec(
            name="wms",
            kind="onhands",
            header=ONHAND_HEADER,
            account_id=ACCOUNT,
        )
        engine = Engine(
            spec,
            env.norce,
            env.tracker,
            clock=env.now,
            work_dir=env.work_dir,
            compress_spool=False,
            progress=None,
            progress_every=10,
            lock_ttl=60,
            record_versions=True,
            track_timeout=None,
        )
        adapter = Stock()
        extraction = Extraction(engine.encoder(adapter, full=False, scoped=False))
        record = next(iter(adapter.fetch_all()))
        seen = [extraction.mapped(0, record, adapter.map(record))]
        assert seen[0] is not None
        assert seen[0].key == "row-7"
        assert seen[0].version == "00000000000000000041"
    finally:
        env.close()


# ---------------------------------------------------------------------------- twins


@pytest.mark.parametrize(
    ("sync_cls", "async_cls", "sync_ok"),
    [
        (FullImport, AsyncFullImport, ()),
        (
            DeltaImport,
            AsyncDeltaImport,
            (),
        ),
        (QueryLookup, AsyncQueryLookup, ("clear",)),
    ],
)
def test_sync_and_async_twins_match(
    sync_cls: type, async_cls: type, sync_ok: tuple[str, ...]
) -> None:
    import inspect

    def public(cls: type) -> dict[str, Any]:
        return {k: v for k, v in vars(cls).items() if not k.startswith("_") or k == "__init__"}

    sync_members, async_members = public(sync_cls), public(async_cls)
    assert list(sync_members) == list(async_members)
    for name, member in sync_members.items():
        twin = async_members[name]
        if name == "__init__" or name in sync_ok:
            continue
        assert callable(member)
        assert not inspect.iscoroutinefunction(member), name
        assert inspect.iscoroutinefunction(twin), name
        assert list(inspect.signature(member).parameters) == list(
            inspect.signature(twin).parameters
        ), name
    init_sync = list(inspect.signature(sync_cls.__init__).parameters)
    init_async = list(inspect.signature(async_cls.__init__).parameters)
    assert init_sync == init_async
