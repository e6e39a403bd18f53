"""FullImport end to end against the in-process emulator (manual clock).

Every safety rule is proved by what the emulator saw: a refused import never reaches it,
and a split import deactivates only rows of its own scope.
"""

from __future__ import annotations

import datetime as dt
import gzip
import signal
import tracemalloc
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
import pytest

from norce_integration import ImportRefusedError, Norce
from norce_integration.connect.models import (
    PriceList,
    PriceListField,
    PriceListHeader,
    RelationHeader,
    SkuOnhand,
    SkuPriceList,
)
from norce_integration.patterns import (
    AsyncFullImport,
    FullImport,
    ImportStatus,
    JobTracker,
    PollSchedule,
    Progress,
    SourceAdapter,
    SourceSpec,
)
from norce_integration.stores import FullImportRecord, SqliteStore, TrackedStatus
from norce_integration.testing import JobTimings, NorceEmulator

from ._import_env import (
    ACCOUNT,
    ONHAND_HEADER,
    PRICE_HEADER,
    AsyncPrices,
    Env,
    Onhands,
    Prices,
    Products,
    make_async_env,
    make_env,
    price_rows,
    price_spec,
    product_header,
    run_child,
)


@pytest.fixture
def env(tmp_path: Any) -> Iterator[Env]:
    environment = make_env(tmp_path, spool=True)
    try:
        yield environment
    finally:
        environment.close()


def full(env: Env, adapter: Any, spec: SourceSpec | None = None, **options: Any) -> FullImport:
    return FullImport(
        env.norce,
        spec or price_spec(),
        adapter,
        tracker=env.tracker,
        clock=env.now,
        work_dir=env.work_dir,
        **options,
    )


def seeded(env: Env, n: int) -> None:
    env.seed_skus([f"S{i:04d}" for i in range(n)])


# ---------------------------------------------------------------------------- happy path


def test_full_import_submits_one_fullfile_job_and_records_success(env: Env) -> None:
    seeded(env, 10)
    before = env.now()
    importer = full(env, Prices(price_rows(10)))

    result = importer.run()

    assert result.status is ImportStatus.SUCCEEDED
    assert result.succeeded
    assert len(result.job_ids) == 1
    assert result.item_count == result.extracted == 10
    assert result.totals == 10
    assert result.fail == 0
    assert result.lead_time is not None
    assert result.lead_time > 0
    assert result.duration >= result.lead_time
    job = env.store.get_job(result.job_ids[0])
    assert job is not None
    assert job.full
    assert '"FullFile":true' in job.header
    # The last good full import, the item versions, the watermark at the extraction start.
    last = env.store.get_last_full_import("sku_price_lists", ACCOUNT)
    assert last is not None
    assert last.item_count == 10
    assert last.job_id == result.job_ids[0]
    assert env.store.count_item_versions(f"sku_price_lists:{ACCOUNT}:erp-prices") == 10
    mark = env.store.get_watermark("sku_price_lists", ACCOUNT, "erp-prices")
    assert mark is not None
    assert dt.datetime.strptime(mark.value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=dt.UTC
    ).timestamp() == pytest.approx(before)
    assert all(active for active, _ in env.prices().values())
    # Nothing is left behind: no lock, no journal, no spool files.
    assert env.store.lock_holder("sku_price_lists", ACCOUNT) is None
    assert not list(env.work_dir.glob("*"))


def test_progress_hook_reports_every_phase(env: Env) -> None:
    seeded(env, 30)
    seen: list[Progress] = []
    importer = full(env, Prices(price_rows(30)), progress=seen.append, progress_every=10)

    importer.run()

    phases = [p.phase for p in seen]
    assert phases[:3] == ["extract", "extract", "extract"]
    assert [p.done for p in seen if p.phase == "extract"] == [10, 20, 30, 30]
    for phase in ("check", "submit", "track", "done"):
        assert phase in phases
    assert all(p.kind == "sku_price_lists" and p.source == "erp-prices" for p in seen)
    assert len({p.run_id for p in seen}) == 1


def test_a_failing_progress_hook_does_not_break_the_run(env: Env) -> None:
    seeded(env, 3)

    def hook(_: Progress) -> None:
        raise RuntimeError("the CLI's bar broke")

    assert full(env, Prices(price_rows(3)), progress=hook).run().succeeded


# ---------------------------------------------------------------------------- refusals


def test_partial_extraction_is_refused_and_nothing_is_sent(env: Env) -> None:
    seeded(env, 10)
    importer = full(env, Prices(price_rows(10), fail_after=6))

    with pytest.raises(ImportRefusedError) as caught:
        importer.run()

    assert caught.value.rule == "partial-extraction"
    assert isinstance(caught.value.__cause__, ConnectionError)
    assert "after 6 records" in str(caught.value)
    assert [j for j in env.import_jobs() if j["Totals"] != 10] == []  # only the seed job
    assert len(env.import_jobs()) == 1
    assert env.store.lock_holder("sku_price_lists", ACCOUNT) is None
    assert env.store.get_watermark("sku_price_lists", ACCOUNT, "erp-prices") is None
    assert not list(env.work_dir.glob("*"))


def test_a_source_that_fails_before_yielding_is_partial_too(env: Env) -> None:
    class Broken(Prices):
        def fetch_all(self) -> Iterator[dict[str, Any]]:
            raise TimeoutError("ERP down")

    with pytest.raises(ImportRefusedError, match="partial-extraction"):
        full(env, Broken([])).run()
    assert env.import_jobs() == []


def test_mapping_errors_above_the_limit_refuse_with_key_and_reason(env: Env) -> None:
    seeded(env, 10)
    adapter = Prices(price_rows(10), bad=frozenset({"S0003", "S0007"}))

    with pytest.raises(ImportRefusedError) as caught:
        full(env, adapter).run()

    assert caught.value.rule == "mapping-errors"
    assert "2 of 10 records" in str(caught.value)
    assert "S0003@STD" in str(caught.value)
    assert len(env.import_jobs()) == 1  # the seed only

    plan = full(env, adapter).plan()
    assert plan.mapping_error_count == 2
    assert [(e.index, e.key) for e in plan.mapping_errors] == [(3, "S0003@STD"), (7, "S0007@STD")]
    assert "ValueError: no price list mapping" in plan.mapping_errors[0].reason
    assert "S0003" in plan.mapping_errors[0].record
    assert plan.refusals[0][0] == "mapping-errors"


def test_mapping_errors_within_the_limits_are_reported_and_the_rest_is_sent(env: Env) -> None:
    seeded(env, 10)
    adapter = Prices(price_rows(10), bad=frozenset({"S0003"}))

    result = full(env, adapter, max_mapping_errors=None, max_mapping_error_ratio=0.2).run()

    assert result.succeeded
    assert result.item_count == 9
    assert result.mapping_error_count == 1
    assert result.mapping_errors[0].key == "S0003@STD"

    with pytest.raises(ImportRefusedError, match="mapping-errors"):
        full(
            env,
            Prices(price_rows(10), bad=frozenset({"S0001", "S0002", "S0003"})),
            max_mapping_errors=None,
            max_mapping_error_ratio=0.2,
        ).run(allow_shrink=True)


def test_invalid_items_are_mapping_errors(env: Env) -> None:
    class Wrong(Prices):
        def map(self, record: dict[str, Any]) -> Any:
            if record["sku"] == "S0001":
                return PriceList(code="X")  # the wrong model for this kind
            if record["sku"] == "S0002":
                return {"PartNo": "S0002", "PriceListCode": ""}  # an empty key field
            return super().map(record)

    plan = full(env, Wrong(price_rows(4))).plan()

    reasons = {e.index: e.reason for e in plan.mapping_errors}
    assert "expected SkuPriceList or a mapping, got PriceList" in reasons[1]
    assert reasons[2] == "PriceListCode is required"


def test_shrink_guard_refuses_a_short_payload_and_allow_shrink_overrides(env: Env) -> None:
    seeded(env, 10)
    assert full(env, Prices(price_rows(10))).run().succeeded
    env.advance(3600)

    with pytest.raises(ImportRefusedError) as caught:
        full(env, Prices(price_rows(7))).run()

    assert caught.value.rule == "shrink-guard"
    assert "7 items is below 80% of the last successful full import (10 items" in str(caught.value)
    assert len(env.import_jobs()) == 2  # seed + the first full import
    assert all(active for active, _ in env.prices().values())
    assert full(env, Prices(price_rows(7))).plan().refusals[0][0] == "shrink-guard"

    result = full(env, Prices(price_rows(7))).run(allow_shrink=True)

    assert result.succeeded
    prices = env.prices()
    assert [k for k, (active, _) in prices.items() if not active] == [
        ("S0007", "STD"),
        ("S0008", "STD"),
        ("S0009", "STD"),
    ]
    last = env.store.get_last_full_import("sku_price_lists", ACCOUNT)
    assert last is not None
    assert last.item_count == 7


def test_min_ratio_is_configurable(env: Env) -> None:
    seeded(env, 10)
    full(env, Prices(price_rows(10))).run()
    assert full(env, Prices(price_rows(6)), min_ratio=0.5).run().succeeded


def test_an_empty_first_full_import_is_refused(env: Env) -> None:
    with pytest.raises(ImportRefusedError, match="empty-full-import"):
        full(env, Prices([])).run()
    assert env.import_jobs() == []


def test_kinds_without_fullfile_are_refused_unless_allowed(env: Env) -> None:
    class Lists(SourceAdapter[str]):
        def fetch_all(self) -> Iterator[str]:
            yield from ["PL-A", "PL-B"]

        def fetch_changed(self, since: Any, until: Any) -> Iterator[str]:
            raise NotImplementedError

        def map(self, record: str) -> PriceList:
            return PriceList(code=record, currency_code="SEK")

    spec = SourceSpec(
        name="pim-lists",
        kind="price_lists",
        header=PriceListHeader(
            account_id=ACCOUNT, price_list_fields_that_are_set=[PriceListField.Name]
        ),
        account_id=ACCOUNT,
    )
    with pytest.raises(ImportRefusedError, match="no-full-file"):
        full(env, Lists(), spec).run()

    result = full(env, Lists(), spec, allow_without_full_file=True).run()

    assert result.succeeded
    job = env.store.get_job(result.job_ids[0])
    assert job is not None
    assert "FullFile" not in job.header
    last = env.store.get_last_full_import("price_lists", ACCOUNT)
    assert last is not None
    assert last.item_count == 2


def test_in_flight_lock_refuses_and_names_the_holder(env: Env) -> None:
    seeded(env, 3)
    assert env.store.acquire_lock("sku_price_lists", ACCOUNT, "etl-02:4242:abc", ttl=600)

    with pytest.raises(ImportRefusedError) as caught:
        full(env, Prices(price_rows(3))).run()

    assert caught.value.rule == "in-flight"
    assert "etl-02:4242:abc" in str(caught.value)
    assert len(env.import_jobs()) == 1
    # Another kind or another account is not blocked.
    assert env.store.lock_holder("sku_price_lists", ACCOUNT) is not None


def test_an_unfinished_job_of_the_kind_refuses_a_full_import(env: Env) -> None:
    seeded(env, 3)
    other = env.tracker.submit(
        "sku_price_lists", [SkuPriceList(part_no="S0000", price_list_code="STD")], PRICE_HEADER
    )

    with pytest.raises(ImportRefusedError) as caught:
        full(env, Prices(price_rows(3))).run()

    assert caught.value.rule == "in-flight"
    assert str(other.job_id) in str(caught.value)
    env.tracker.wait(other.job_id)
    assert full(env, Prices(price_rows(3))).run().succeeded


# ---------------------------------------------------------------------------- supersede


def test_success_supersedes_earlier_failed_and_pending_jobs(env: Env) -> None:
    seeded(env, 5)
    env.emulator.faults.job("*ImportSkuPriceLists*", failure_rate=1.0, times=1)
    failed = env.tracker.submit(
        "sku_price_lists", [SkuPriceList(part_no="S0001", price_list_code="STD")], PRICE_HEADER
    )
    assert env.tracker.wait(failed.job_id, raise_on_failure=False).status is TrackedStatus.FAILED
    env.advance(60)

    result = full(env, Prices(price_rows(5))).run()

    assert result.succeeded
    assert failed.job_id in result.superseded
    job = env.store.get_job(failed.job_id)
    assert job is not None
    assert job.status is TrackedStatus.SUPERSEDED
    assert job.superseded_by == result.job_ids[-1]
    with pytest.raises(ImportRefusedError, match="rerun-superseded-job"):
        env.tracker.rerun(failed.job_id)


def test_a_failed_full_import_supersedes_nothing_and_keeps_the_watermark(env: Env) -> None:
    seeded(env, 5)
    env.emulator.faults.job("*ImportSkuPriceLists*", failure_rate=1.0, times=1)

    result = full(env, Prices(price_rows(5))).run()

    assert result.status is ImportStatus.FAILED
    assert result.jobs[0].status is TrackedStatus.FAILED
    assert env.store.get_last_full_import("sku_price_lists", ACCOUNT) is None
    assert env.store.get_watermark("sku_price_lists", ACCOUNT, "erp-prices") is None
    assert env.store.count_item_versions(f"sku_price_lists:{ACCOUNT}:erp-prices") == 0


# ---------------------------------------------------------------------------- splitting


def _payload_items(env: Env, job_id: int) -> list[dict[str, Any]]:
    assert env.spool is not None
    return orjson.loads(b"".join(env.spool.read(job_id)))  # type: ignore[no-any-return]


def test_prices_split_by_price_list_deactivate_only_their_own_list(env: Env) -> None:
    seeded(env, 12)

    def rows(price: str, drop: set[tuple[int, str]]) -> list[dict[str, Any]]:
        return [
            {"sku": f"S{i:04d}", "list": code, "price": price, "mod": None}
            for code in ("STD", "EUR")
            for i in range(12)
            if (i, code) not in drop
        ]

    # Earlier state: every SKU priced in STD and EUR.
    assert full(env, Prices(rows("100", set()))).run().succeeded
    assert len(env.prices()) == 24
    env.advance(3600)
    # Now the source drops S0010 from STD and S0011 from EUR.
    rows_now = rows("90", {(10, "STD"), (11, "EUR")})

    result = full(env, Prices(rows_now), split_by_scope=True).run()

    assert result.succeeded
    assert len(result.job_ids) == 2
    payloads = [_payload_items(env, job_id) for job_id in result.job_ids]
    assert [{i["PriceListCode"] for i in p} for p in payloads] == [{"STD"}, {"EUR"}]
    assert all(
        '"FullFile":true' in (env.store.get_job(j) or _missing()).header for j in result.job_ids
    )
    prices = env.prices()
    inactive = sorted(k for k, (active, _) in prices.items() if not active)
    assert inactive == [("S0010", "STD"), ("S0011", "EUR")]
    assert all(price == Decimal(90) for (active, price) in prices.values() if active)
    last = env.store.get_last_full_import("sku_price_lists", ACCOUNT)
    assert last is not None
    assert last.item_count == 22


def _missing() -> Any:
    raise AssertionError("job not tracked")


def test_scope_groups_are_packed_up_to_the_job_limit_and_never_cut(env: Env) -> None:
    seeded(env, 9)
    rows = price_rows(9, lists=("STD", "EUR", "NOK"))
    spec = price_spec(max_items_per_job=6)

    plan = full(env, Prices(rows), spec, split_by_scope=True).plan()

    assert plan.scope_groups == {"STD": 3, "EUR": 3, "NOK": 3}
    assert plan.jobs == (6, 3)
    result = full(env, Prices(rows), spec, split_by_scope=True).run()
    assert [len(_payload_items(env, j)) for j in result.job_ids] == [6, 3]
    assert [{i["PriceListCode"] for i in _payload_items(env, j)} for j in result.job_ids] == [
        {"STD", "EUR"},
        {"NOK"},
    ]


def test_onhands_split_by_warehouse_and_location(env: Env) -> None:
    seeded(env, 4)
    spec = SourceSpec(name="wms", kind="onhands", header=ONHAND_HEADER, account_id=ACCOUNT)
    first = [
        (f"S{i:04d}", wh, loc, 5)
        for i in range(4)
        for wh, loc in (("MAIN", "MAIN"), ("MAIN", "B2"))
    ]
    assert full(env, Onhands(first), spec).run().succeeded
    env.advance(3600)
    second = [r for r in first if r[:3] != ("S0003", "MAIN", "B2")]

    result = full(env, Onhands(second), spec, split_by_scope=True, min_ratio=0.5).run()

    assert len(result.job_ids) == 2
    assert [
        {(i["WarehouseCode"], i["LocationCode"]) for i in _payload_items(env, j)}
        for j in result.job_ids
    ] == [{("MAIN", "MAIN")}, {("MAIN", "B2")}]
    table = env.emulator.table("Products", "ProductSkuOnHands").rows
    inactive = [key[0] for key, row in table.items() if not row["IsActive"]]
    assert inactive == ["S0003"]
    assert sum(1 for row in table.values() if row["IsActive"]) == 7


def test_products_are_one_job_and_a_split_by_code_is_refused(env: Env) -> None:
    spec = SourceSpec(
        name="pim-products", kind="products", header=product_header(), account_id=ACCOUNT
    )
    rows = [(f"P{i}", f"CL-{i // 2}") for i in range(6)]
    assert full(env, Products(rows), spec).run().succeeded
    env.advance(3600)

    with pytest.raises(ImportRefusedError) as caught:
        full(env, Products(rows[:5]), spec, split_by_scope=True).run()
    assert caught.value.rule == "unsafe-split"
    assert len(env.import_jobs()) == 1

    # One job: exactly the SKU missing from the payload is deactivated.
    result = full(env, Products(rows[:5]), spec).run()
    assert len(result.job_ids) == 1
    assert env.sku_status() == {"P0": 1, "P1": 1, "P2": 1, "P3": 1, "P4": 1, "P5": 5}

    # An operator who trusts per-cluster scoping gets jobs grouped by Code, never cut.
    plan = full(
        env,
        Products(rows),
        spec,
        split_by_scope=True,
        trust_product_cluster_scope=True,
    ).plan()
    assert plan.scope_groups == {"CL-0": 2, "CL-1": 2, "CL-2": 2}
    assert plan.refusals == ()
    assert plan.jobs == (2, 2, 2)


def test_kinds_without_a_scope_key_are_never_split(env: Env) -> None:
    spec = SourceSpec(
        name="relations",
        kind="relations",
        header=RelationHeader(account_id=ACCOUNT),
        account_id=ACCOUNT,
    )
    with pytest.raises(ImportRefusedError, match="unsafe-split"):
        full(env, Prices([]), spec, split_by_scope=True).run()


def test_full_file_products_need_a_code(env: Env) -> None:
    spec = SourceSpec(
        name="pim-products", kind="products", header=product_header(), account_id=ACCOUNT
    )

    class NoCode(Products):
        def map(self, record: tuple[str, str]) -> Any:
            item = super().map(record)
            item.code = None
            return item

    plan = full(env, NoCode([("P1", "CL-1")]), spec).plan()

    assert plan.mapping_errors[0].reason == "Code is required"


# ---------------------------------------------------------------------------- plan


def test_plan_sends_nothing_and_changes_nothing(env: Env) -> None:
    seeded(env, 10)
    full(env, Prices(price_rows(10))).run()
    jobs_before = len(env.import_jobs())
    versions_before = env.store.count_item_versions(f"sku_price_lists:{ACCOUNT}:erp-prices")

    plan = full(env, Prices(price_rows(4, lists=("STD", "EUR"))), split_by_scope=True).plan(
        samples=2
    )

    assert len(env.import_jobs()) == jobs_before
    assert env.store.count_item_versions(f"sku_price_lists:{ACCOUNT}:erp-prices") == versions_before
    assert plan.mode == "full"
    assert orjson.loads(plan.header) == {
        "AccountId": ACCOUNT,
        "FullFile": True,
        "SkuPriceListFieldsThatAreSet": [3],
    }
    assert plan.samples == (
        {"PartNo": "S0000", "PriceListCode": "STD", "PriceSale": 100},
        {"PartNo": "S0001", "PriceListCode": "EUR", "PriceSale": 100},
    )
    assert plan.item_count == 4
    assert plan.scope_groups == {"STD": 2, "EUR": 2}
    assert plan.last_full_count == 10
    assert plan.refusals[0][0] == "shrink-guard"
    assert not plan.would_submit
    assert env.store.lock_holder("sku_price_lists", ACCOUNT) is None
    assert not list(env.work_dir.glob("*"))


def test_plan_with_allow_shrink_would_submit(env: Env) -> None:
    plan = full(env, Prices(price_rows(3))).plan()
    assert plan.would_submit
    assert plan.jobs == (3,)


def test_plan_reports_an_in_flight_lock(env: Env) -> None:
    env.store.acquire_lock("sku_price_lists", ACCOUNT, "other:1:x", ttl=60)
    plan = full(env, Prices(price_rows(3))).plan()
    assert ("in-flight", f"the sku_price_lists lock of account {ACCOUNT} is held by other:1:x") in (
        plan.refusals
    )


# ---------------------------------------------------------------------------- re-run guard


def test_rerun_of_a_full_job_goes_through_the_full_import_rules(env: Env) -> None:
    seeded(env, 10)
    importer = full(env, Prices(price_rows(10)))
    first = importer.run().job_ids[0]

    # The latest good full import may be re-run (nothing newer, nothing in flight).
    again = env.tracker.rerun(first)
    env.tracker.wait(again.job_id)

    # A lock (another import running) refuses it.
    env.store.acquire_lock("sku_price_lists", ACCOUNT, "etl-02:1:x", ttl=60)
    with pytest.raises(ImportRefusedError, match="in-flight"):
        env.tracker.rerun(first)
    env.store.release_lock("sku_price_lists", ACCOUNT, "etl-02:1:x")

    # A newer success makes the old payload stale.
    with pytest.raises(ImportRefusedError, match="stale-rerun"):
        env.tracker.rerun(first)

    # A much larger last full import makes it a shrink.
    env.store.set_last_full_import(
        FullImportRecord(
            "sku_price_lists", ACCOUNT, 99999, dt.datetime(2030, 1, 1, tzinfo=dt.UTC), 100
        )
    )
    with pytest.raises(ImportRefusedError, match="shrink-guard"):
        env.tracker.rerun(again.job_id)


def test_rerun_of_a_full_job_of_an_unregistered_kind_is_refused(env: Env) -> None:
    import attrs

    seeded(env, 3)
    full(env, Prices(price_rows(3))).run()  # registers the guard for prices only
    sent = env.tracker.submit(
        "onhands",
        [SkuOnhand(part_no="S0001", warehouse_code="MAIN", location_code="MAIN")],
        attrs.evolve(ONHAND_HEADER, full_file=True),
    )
    env.tracker.wait(sent.job_id)

    with pytest.raises(ImportRefusedError, match="rerun-full-import"):
        env.tracker.rerun(sent.job_id)


# ---------------------------------------------------------------------------- memory


@pytest.mark.slow
def test_extraction_streams_to_disk_not_memory(env: Env) -> None:
    class Many(SourceAdapter[int]):
        def __init__(self, n: int) -> None:
            self.n = n

        def fetch_all(self) -> Iterator[int]:
            return iter(range(self.n))

        def fetch_changed(self, since: Any, until: Any) -> Iterator[int]:
            raise NotImplementedError

        def map(self, record: int) -> SkuPriceList:
            return SkuPriceList(
                part_no=f"SKU-{record:08d}", price_list_code="STD", price_sale=Decimal("199.00")
            )

    def peak(n: int) -> int:
        tracemalloc.start()
        try:
            plan = full(env, Many(n), compress_spool=True).plan(samples=0)
            assert plan.item_count == n
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(5_000), peak(60_000)
    # Twelve times the items, about the same memory: nothing is held per item.
    assert large < small + 2 * 1024 * 1024


def test_spool_compression_round_trips(env: Env) -> None:
    seeded(env, 5)
    result = full(env, Prices(price_rows(5)), compress_spool=True).run()
    assert result.succeeded
    assert env.spool is not None
    body = b"".join(env.spool.read(result.job_ids[0]))
    assert [i["PartNo"] for i in orjson.loads(body)] == [f"S{i:04d}" for i in range(5)]
    assert gzip.decompress(gzip.compress(body)) == body


# ---------------------------------------------------------------------------- async


@pytest.mark.anyio
async def test_async_full_import_twin(tmp_path: Any) -> None:
    aenv = make_async_env(tmp_path)
    try:
        importer = AsyncFullImport(
            aenv.norce,
            price_spec(),
            AsyncPrices(price_rows(6, lists=("STD", "EUR"))),
            tracker=aenv.tracker,
            clock=aenv.now,
            work_dir=aenv.work_dir,
            split_by_scope=True,
        )
        plan = await importer.plan()
        assert plan.jobs == (3, 3)
        result = await importer.run()
        assert result.succeeded
        assert len(result.job_ids) == 2
        assert await aenv.store.get_last_full_import("sku_price_lists", ACCOUNT) is not None

        broken = AsyncFullImport(
            aenv.norce,
            price_spec(),
            AsyncPrices(price_rows(6), fail_after=2),
            tracker=aenv.tracker,
            clock=aenv.now,
            work_dir=aenv.work_dir,
        )
        with pytest.raises(ImportRefusedError, match="partial-extraction"):
            await broken.run()
        assert await importer.resume() is None
    finally:
        await aenv.aclose()


@pytest.mark.anyio
async def test_async_rerun_of_a_full_job_awaits_the_full_import_rules(tmp_path: Any) -> None:
    """AsyncJobTracker.rerun awaits the async full import's guard (it reads the store)."""
    aenv = make_async_env(tmp_path)
    try:
        importer = AsyncFullImport(
            aenv.norce,
            price_spec(),
            AsyncPrices(price_rows(6)),
            tracker=aenv.tracker,
            clock=aenv.now,
            work_dir=aenv.work_dir,
        )
        first = (await importer.run()).job_ids[0]
        await aenv.store.acquire_lock("sku_price_lists", ACCOUNT, "etl-02:1:x", ttl=60)
        with pytest.raises(ImportRefusedError, match="in-flight"):
            await aenv.tracker.rerun(first)
    finally:
        await aenv.aclose()


# ---------------------------------------------------------------------------- kill -9


@pytest.fixture
def served() -> Iterator[tuple[NorceEmulator, str]]:
    emulator = NorceEmulator(job_timings=JobTimings(queued=0.1, running=0.2))
    try:
        with emulator.serve() as server:
            yield emulator, server.base_url
    finally:
        emulator.close()


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize("kill", ["extract", "submit", "track"])
def test_a_full_import_killed_at_any_step_leaves_consistent_state(
    served: tuple[NorceEmulator, str], tmp_path: Any, kill: str
) -> None:
    emulator, base_url = served
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    store_path, work = tmp_path / "state.sqlite", tmp_path / "work"

    child = run_child(base_url, store_path, work, mode="full", kill=kill, rows=30, t0=t0)

    assert child.returncode == -signal.SIGKILL, child.stderr
    assert len(emulator.jobs) == (0 if kill == "extract" else 1)
    schedule = PollSchedule(first_delay=0.05, interval=0.05, factor=1.0, jitter=0.0)
    with SqliteStore(store_path) as store:
        assert store.get_last_full_import("sku_price_lists", ACCOUNT) is None
        assert store.get_watermark("sku_price_lists", ACCOUNT, "erp-prices") is None
        with Norce(emulator.settings(base_url=base_url)) as norce:
            tracker = JobTracker(norce, store, schedule=schedule, check_interval=0.05)
            rows = [
                {"sku": f"S{i:04d}", "list": "STD", "price": "100", "mod": t0} for i in range(30)
            ]
            importer = FullImport(norce, price_spec(), Prices(rows), tracker=tracker, work_dir=work)

            resumed = importer.resume()

            if kill == "extract":
                assert resumed is None
            else:
                # The killed run's job is waited for and settled; nothing is re-sent.
                assert resumed is not None
                assert resumed.status is ImportStatus.SUCCEEDED
                assert len(emulator.jobs) == 1
                last = store.get_last_full_import("sku_price_lists", ACCOUNT)
                assert last is not None
                assert last.item_count == 30
                assert last.job_id == resumed.job_ids[0]
                assert store.get_watermark("sku_price_lists", ACCOUNT, "erp-prices") is not None

            result = importer.run()

        assert result.succeeded
        assert result.recovered is None
        assert len(emulator.jobs) == (1 if kill == "extract" else 2)
        assert store.unresolved_jobs() == []
    assert not list(work.glob("*"))
