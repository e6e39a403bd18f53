"""DeltaImport end to end against the in-process emulator (manual clock)."""

from __future__ import annotations

import datetime as dt
import signal
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from norce_integration import ImportRefusedError, Norce
from norce_integration.patterns import (
    AsyncDeltaImport,
    DeltaImport,
    FullImport,
    ImportStatus,
    JobTracker,
    PollSchedule,
    Progress,
    SmallBatchWarning,
)
from norce_integration.stores import SqliteStore, TrackedStatus, sortable_watermark
from norce_integration.testing import JobTimings, NorceEmulator

from ._import_env import (
    ACCOUNT,
    AsyncPrices,
    Env,
    Prices,
    make_async_env,
    make_env,
    price_rows,
    price_spec,
    product_header,
    product_item,
    run_child,
)


NS = f"sku_price_lists:{ACCOUNT}:erp-prices"


@pytest.fixture
def env(tmp_path: Any) -> Iterator[Env]:
    environment = make_env(tmp_path)
    try:
        yield environment
    finally:
        environment.close()


def delta(env: Env, adapter: Any, **options: Any) -> DeltaImport:
    spec = options.pop("spec", None) or price_spec()
    return DeltaImport(
        env.norce,
        spec,
        adapter,
        tracker=env.tracker,
        clock=env.now,
        work_dir=env.work_dir,
        **options,
    )


def utc(env: Env, offset: float = 0.0) -> dt.datetime:
    return env.emulator.clock.now() + dt.timedelta(seconds=offset)


def watermark(env: Env) -> str | None:
    mark = env.store.get_watermark("sku_price_lists", ACCOUNT, "erp-prices")
    return mark.value if mark is not None else None


def seeded(env: Env, n: int) -> None:
    env.seed_skus([f"S{i:04d}" for i in range(n)])


# ---------------------------------------------------------------------------- window


def test_first_run_sends_everything_and_moves_the_watermark_to_the_window_end(env: Env) -> None:
    seeded(env, 5)
    adapter = Prices(price_rows(5, mod=utc(env, -3600)))
    importer = delta(env, adapter, lag=30)
    now = utc(env)

    result = importer.run()

    assert result.status is ImportStatus.SUCCEEDED
    assert result.mode == "delta"
    assert result.item_count == 5
    assert adapter.windows == [(None, now - dt.timedelta(seconds=30))]
    assert result.window == (None, now - dt.timedelta(seconds=30))
    assert watermark(env) == sortable_watermark(now - dt.timedelta(seconds=30))
    assert result.watermark == watermark(env)
    job = env.store.get_job(result.job_ids[0])
    assert job is not None
    assert not job.full
    assert '"FullFile":false' in job.header
    assert env.store.count_item_versions(NS) == 5


def test_next_window_starts_overlap_before_the_watermark(env: Env) -> None:
    seeded(env, 5)
    adapter = Prices(price_rows(5, mod=utc(env, -3600)))
    importer = delta(env, adapter, overlap=120, lag=10)
    importer.run()
    first_until = adapter.windows[0][1]
    env.advance(600)

    importer.run()

    since, until = adapter.windows[1]
    assert since == first_until - dt.timedelta(seconds=120)
    assert until == utc(env, -10)


def test_a_window_with_no_changes_is_empty_and_still_advances(env: Env) -> None:
    seeded(env, 3)
    importer = delta(env, Prices(price_rows(3, mod=utc(env, -3600))))
    importer.run()
    before = watermark(env)
    jobs = len(env.import_jobs())
    env.advance(600)

    result = importer.run()

    assert result.status is ImportStatus.EMPTY
    assert result.succeeded
    assert result.skipped_unchanged == 0
    assert len(env.import_jobs()) == jobs
    assert watermark(env) is not None
    assert watermark(env) > (before or "")  # type: ignore[operator]


def test_overlap_re_reads_are_skipped_when_unchanged(env: Env) -> None:
    seeded(env, 3)
    rows = price_rows(3, mod=utc(env, -3600))
    importer = delta(env, Prices(rows), overlap=7200)
    importer.run()
    env.advance(600)

    result = importer.run()

    assert result.status is ImportStatus.EMPTY
    assert result.extracted == 3
    assert result.skipped_unchanged == 3


# ---------------------------------------------------------------------------- watermark on success


def test_a_failed_job_leaves_the_watermark_and_the_next_run_covers_the_window_again(
    env: Env,
) -> None:
    seeded(env, 4)
    adapter = Prices(price_rows(4, mod=utc(env, -3600)))
    importer = delta(env, adapter)
    importer.run()
    first = watermark(env)
    env.advance(600)
    adapter.rows.append({"sku": "S0001", "list": "STD", "price": "120", "mod": utc(env, -60)})
    env.emulator.faults.job("*ImportSkuPriceLists*", failure_rate=1.0, times=1)

    failed = importer.run()

    assert failed.status is ImportStatus.FAILED
    assert failed.jobs[0].status is TrackedStatus.FAILED
    assert watermark(env) == first
    assert failed.watermark == first
    assert env.prices()[("S0001", "STD")] == (True, Decimal(100))
    env.advance(600)

    retried = importer.run()

    assert retried.succeeded
    assert adapter.windows[2][0] == adapter.windows[1][0]  # the same window start again
    assert retried.item_count == 1
    assert env.prices()[("S0001", "STD")] == (True, Decimal(120))
    assert watermark(env) is not None
    assert watermark(env) > (first or "")  # type: ignore[operator]


def test_a_partial_extraction_sends_nothing_and_keeps_the_watermark(env: Env) -> None:
    seeded(env, 4)
    importer = delta(env, Prices(price_rows(4, mod=utc(env, -60)), fail_after=2))

    with pytest.raises(ImportRefusedError, match="partial-extraction"):
        importer.run()

    assert len(env.import_jobs()) == 1  # the seed
    assert watermark(env) is None
    assert env.store.lock_holder("sku_price_lists", ACCOUNT) is None


def test_mapping_errors_keep_the_watermark_unless_told_otherwise(env: Env) -> None:
    seeded(env, 30)
    rows = price_rows(30, mod=utc(env, -60))
    importer = delta(env, Prices(rows, bad=frozenset({"S0004"})))

    result = importer.run()

    assert result.succeeded
    assert result.item_count == 29
    assert result.mapping_errors[0].key == "S0004@STD"
    assert watermark(env) is None  # S0004 is retried by the next run
    env.advance(600)

    again = importer.run()
    assert again.item_count == 0
    assert again.skipped_unchanged == 29
    assert watermark(env) is None

    env.advance(600)
    lenient = delta(env, Prices(rows, bad=frozenset({"S0004"})), advance_past_errors=True)
    assert lenient.run().status is ImportStatus.EMPTY
    assert watermark(env) is not None

    env.advance(600)
    strict = delta(env, Prices(rows, bad=frozenset({"S0001", "S0002"})), overlap=1e6)
    with pytest.raises(ImportRefusedError, match=r"mapping-errors: 2 of 30 records \(6.7%\)"):
        strict.run()


# ---------------------------------------------------------------------------- versions


def test_duplicates_in_a_run_keep_the_newest_version(env: Env) -> None:
    seeded(env, 2)
    rows = [
        {"sku": "S0000", "list": "STD", "price": "130", "mod": utc(env, -100)},
        {"sku": "S0000", "list": "STD", "price": "110", "mod": utc(env, -300)},
        {"sku": "S0001", "list": "STD", "price": "50", "mod": utc(env, -300)},
    ]

    result = delta(env, Prices(rows)).run()

    assert result.item_count == 2
    assert result.duplicates == 1
    assert env.prices()[("S0000", "STD")] == (True, Decimal(130))


def test_a_late_record_older_than_what_was_sent_is_skipped(env: Env) -> None:
    seeded(env, 2)
    newer = {"sku": "S0000", "list": "STD", "price": "130", "mod": utc(env, -100)}
    importer = delta(env, Prices([newer]))
    importer.run()
    env.advance(600)
    # A late-arriving change with an older version shows up inside the overlap window.
    late = {"sku": "S0000", "list": "STD", "price": "90", "mod": utc(env, -1000)}
    stale = delta(env, Prices([late]), overlap=3600)

    result = stale.run()

    assert result.skipped_stale == 1
    assert result.item_count == 0
    assert env.prices()[("S0000", "STD")] == (True, Decimal(130))
    assert len(env.import_jobs()) == 2  # seed + the first delta


def test_a_retried_run_does_not_overwrite_newer_data_sent_by_a_full_import(env: Env) -> None:
    seeded(env, 2)
    rows = [{"sku": "S0000", "list": "STD", "price": "150", "mod": utc(env, -10)}]
    FullImport(
        env.norce,
        price_spec(),
        Prices(rows),
        tracker=env.tracker,
        clock=env.now,
        work_dir=env.work_dir,
    ).run()
    env.advance(60)
    old = [{"sku": "S0000", "list": "STD", "price": "80", "mod": utc(env, -3600)}]

    result = delta(env, Prices(old), overlap=7200).run()

    assert result.skipped_stale == 1
    assert env.prices()[("S0000", "STD")] == (True, Decimal(150))


# ---------------------------------------------------------------------------- serialisation


def test_one_import_per_kind_and_account_is_in_flight(env: Env) -> None:
    seeded(env, 4)
    other = DeltaImport(
        env.norce,
        price_spec("pim-prices"),
        Prices(price_rows(2, mod=utc(env, -60))),
        tracker=env.tracker,
        clock=env.now,
        work_dir=env.work_dir,
    )
    submitted = other.run(wait=False)
    assert submitted.status is ImportStatus.SUBMITTED
    importer = delta(env, Prices(price_rows(4, mod=utc(env, -60))))

    with pytest.raises(ImportRefusedError) as caught:
        importer.run()

    assert caught.value.rule == "in-flight"
    assert str(submitted.job_ids[0]) in str(caught.value)
    assert len(env.import_jobs()) == 2  # seed + the other source's job

    settled = other.resume()
    assert settled is not None
    assert settled.status is ImportStatus.SUCCEEDED
    assert importer.run().succeeded

    env.store.acquire_lock("sku_price_lists", ACCOUNT, "etl-07:99:zz", ttl=6000)
    env.advance(600)
    with pytest.raises(ImportRefusedError, match=r"in-flight.*etl-07:99:zz"):
        importer.run()


def test_wait_false_then_resume_settles_state_after_success(env: Env) -> None:
    seeded(env, 3)
    importer = delta(env, Prices(price_rows(3, mod=utc(env, -60))))

    submitted = importer.run(wait=False)

    assert submitted.status is ImportStatus.SUBMITTED
    assert watermark(env) is None
    assert env.store.count_item_versions(NS) == 0
    env.advance(10)
    settled = importer.resume()
    assert settled is not None
    assert settled.status is ImportStatus.SUCCEEDED
    assert settled.job_ids == submitted.job_ids
    assert watermark(env) == sortable_watermark(submitted.window[1])  # type: ignore[index]
    assert env.store.count_item_versions(NS) == 3
    assert importer.resume() is None


def test_the_next_run_settles_an_unwaited_one_first(env: Env) -> None:
    seeded(env, 3)
    importer = delta(env, Prices(price_rows(3, mod=utc(env, -60))))
    submitted = importer.run(wait=False)
    env.advance(600)

    result = importer.run()

    assert result.recovered is not None
    assert result.recovered.job_ids == submitted.job_ids
    assert result.recovered.status is ImportStatus.SUCCEEDED
    assert result.status is ImportStatus.EMPTY
    assert len(env.import_jobs()) == 2  # no second submission of the same payload


# ---------------------------------------------------------------------------- fingerprints


def test_fingerprint_mode_sends_only_what_changed(env: Env) -> None:
    seeded(env, 50)
    rows = price_rows(50, mod=None)  # type: ignore[arg-type]
    adapter = Prices(rows)
    importer = delta(env, adapter, mode="fingerprint")

    first = importer.run()
    assert first.mode == "fingerprint"
    assert first.item_count == 50
    env.advance(600)
    for i in (3, 17, 42):
        rows[i] = {**rows[i], "price": "77"}

    second = importer.run()

    assert second.item_count == 3
    assert second.skipped_unchanged == 47
    assert adapter.windows == []  # fingerprint mode never asks for changes
    prices = env.prices()
    assert {k for k, (_, price) in prices.items() if price == Decimal(77)} == {
        ("S0003", "STD"),
        ("S0017", "STD"),
        ("S0042", "STD"),
    }


def test_an_item_a_full_import_deactivated_is_sent_again_when_it_reappears(env: Env) -> None:
    seeded(env, 10)
    rows = price_rows(10, mod=None)  # type: ignore[arg-type]
    fingerprints = delta(env, Prices(rows), mode="fingerprint")
    fingerprints.run()
    env.advance(600)
    # The full import lacks S0009: Norce deactivates that price row.
    FullImport(
        env.norce,
        price_spec(),
        Prices(rows[:9]),
        tracker=env.tracker,
        clock=env.now,
        work_dir=env.work_dir,
    ).run()
    assert env.prices()[("S0009", "STD")][0] is False
    env.advance(600)

    # It comes back unchanged: its old fingerprint no longer counts.
    result = fingerprints.run()

    assert result.item_count == 1
    assert result.skipped_unchanged == 9
    assert env.emulator.get_job(result.job_ids[0])["Totals"] == 1


# ---------------------------------------------------------------------------- schedule rules


def test_min_interval_refuses_with_the_remaining_wait(env: Env) -> None:
    seeded(env, 3)
    importer = delta(
        env, Prices(price_rows(3, mod=utc(env, -60))), spec=price_spec(min_interval=300)
    )
    importer.run()
    env.advance(100)

    with pytest.raises(ImportRefusedError) as caught:
        importer.run()

    assert caught.value.rule == "min-interval"
    assert "wait" in str(caught.value)
    # Counted from the last success (when the watermark moved), not from the run's start.
    assert "was 100s ago and min_interval is 300s; wait 200s more" in str(caught.value)
    assert importer.plan().refusals[0][0] == "min-interval"
    env.advance(200)
    assert importer.run().succeeded


def test_a_handful_of_items_soon_after_the_last_run_warns(env: Env) -> None:
    seeded(env, 20)
    rows = price_rows(20, mod=utc(env, -600))
    importer = delta(env, Prices(rows), spec=price_spec(min_items=10, small_batch_window=900))
    importer.run()  # a first run is never "small"
    env.advance(60)
    rows.append({"sku": "S0002", "list": "STD", "price": "99", "mod": utc(env, -10)})

    with pytest.warns(SmallBatchWarning, match=r"delta of 1 item\(s\) only 60s after"):
        result = importer.run()

    assert result.succeeded
    assert result.item_count == 1
    assert "min_items=10" in result.warnings[0]


def test_small_batches_can_be_refused_until_changes_accumulate(env: Env) -> None:
    seeded(env, 20)
    rows = price_rows(20, mod=utc(env, -600))
    spec = price_spec(min_items=3, small_batch_window=900, small_batch="refuse")
    importer = delta(env, Prices(rows), spec=spec)
    importer.run()
    jobs = len(env.import_jobs())
    env.advance(60)
    rows.append({"sku": "S0002", "list": "STD", "price": "99", "mod": utc(env, -10)})

    with pytest.raises(ImportRefusedError, match="small-batch"):
        importer.run()
    assert len(env.import_jobs()) == jobs
    assert importer.plan().refusals[0][0] == "small-batch"

    env.advance(60)
    rows.extend(
        {"sku": f"S00{n}", "list": "STD", "price": "98", "mod": utc(env, -5)} for n in (10, 11)
    )
    result = importer.run()
    assert result.item_count == 3  # the held-back change went with the next ones


# ---------------------------------------------------------------------------- plan, progress


def test_plan_sends_nothing_and_changes_nothing(env: Env) -> None:
    seeded(env, 4)
    importer = delta(env, Prices(price_rows(4, mod=utc(env, -60))), lag=5)

    plan = importer.plan(samples=1)

    assert env.import_jobs()[1:] == []
    assert watermark(env) is None
    assert env.store.count_item_versions(NS) == 0
    assert plan.mode == "delta"
    assert plan.item_count == 4
    assert plan.jobs == (4,)
    assert plan.samples == ({"PartNo": "S0000", "PriceListCode": "STD", "PriceSale": 100},)
    assert plan.window == (None, utc(env, -5))
    assert plan.header == '{"AccountId":1,"FullFile":false,"SkuPriceListFieldsThatAreSet":[3]}'
    assert plan.would_submit
    assert not list(env.work_dir.glob("*"))


def test_progress_hook_is_called(env: Env) -> None:
    seeded(env, 3)
    seen: list[Progress] = []
    delta(env, Prices(price_rows(3, mod=utc(env, -60))), progress=seen.append).run()
    assert [p.phase for p in seen] == ["extract", "check", "submit", "track", "done"]


# ---------------------------------------------------------------------------- async


@pytest.mark.anyio
async def test_async_delta_import_twin(tmp_path: Any) -> None:
    aenv = make_async_env(tmp_path)
    try:
        start = aenv.emulator.clock.now()
        rows = price_rows(4, mod=start - dt.timedelta(hours=1))
        importer = AsyncDeltaImport(
            aenv.norce,
            price_spec(),
            AsyncPrices(rows),
            tracker=aenv.tracker,
            clock=aenv.now,
            work_dir=aenv.work_dir,
        )
        plan = await importer.plan()
        assert plan.item_count == 4
        result = await importer.run()
        assert result.succeeded
        assert result.item_count == 4
        aenv.emulator.advance(600)
        rows.append({"sku": "S0001", "list": "STD", "price": "5", "mod": aenv.emulator.clock.now()})
        aenv.emulator.advance(1)
        again = await importer.run()
        assert again.item_count == 1
        assert await importer.resume() is None

        broken = AsyncDeltaImport(
            aenv.norce,
            price_spec(),
            AsyncPrices(rows, fail_after=1),
            tracker=aenv.tracker,
            clock=aenv.now,
            work_dir=aenv.work_dir,
            overlap=1e6,
        )
        aenv.emulator.advance(600)
        with pytest.raises(ImportRefusedError, match="partial-extraction"):
            await broken.run()
    finally:
        await aenv.aclose()


# ---------------------------------------------------------------------------- kill -9


FAST = PollSchedule(first_delay=0.05, interval=0.05, factor=1.0, max_interval=0.1, jitter=0.0)


@pytest.fixture
def served() -> Iterator[tuple[NorceEmulator, str]]:
    emulator = NorceEmulator(job_timings=JobTimings(queued=0.1, running=0.2))
    try:
        with emulator.serve() as server:
            yield emulator, server.base_url
    finally:
        emulator.close()


def seed_served(emulator: NorceEmulator, n: int) -> None:
    with Norce(emulator.settings(), transport=emulator.transport()) as norce:
        sent = norce.connect.submit(
            "products", [product_item(f"S{i:04d}") for i in range(n)], product_header(99)
        )
        deadline = time.monotonic() + 10
        while emulator.get_job(sent.job_id)["StatusId"] != 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)


def served_prices(emulator: NorceEmulator) -> dict[str, tuple[bool, Decimal]]:
    return {
        key[0]: (bool(row["IsActive"]), Decimal(str(row["PriceSale"])))
        for key, row in emulator.table("Products", "ProductSkuPriceLists").rows.items()
    }


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize("kill", ["extract", "tracked", "submit", "track"])
def test_a_delta_run_killed_at_any_step_is_finished_by_the_next_run(
    served: tuple[NorceEmulator, str], tmp_path: Any, kill: str, caplog: pytest.LogCaptureFixture
) -> None:
    emulator, base_url = served
    seed_served(emulator, 40)
    seed_jobs = len(emulator.jobs)
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    store_path, work = tmp_path / "state.sqlite", tmp_path / "work"

    child = run_child(base_url, store_path, work, mode="delta", kill=kill, rows=40, t0=t0)

    assert child.returncode == -signal.SIGKILL, child.stderr
    submitted = len(emulator.jobs) - seed_jobs
    assert submitted == (0 if kill == "extract" else 1)
    with SqliteStore(store_path) as store:
        # Nothing moved before success: no watermark, no item versions.
        assert store.get_watermark("sku_price_lists", ACCOUNT, "erp-prices") is None
        assert store.count_item_versions(NS) == 0
        with Norce(emulator.settings(base_url=base_url)) as norce:
            tracker = JobTracker(norce, store, schedule=FAST, check_interval=0.05)
            importer = DeltaImport(
                norce,
                price_spec(),
                Prices([{**r, "list": "STD"} for r in _child_rows(40, t0)]),
                tracker=tracker,
                work_dir=work,
            )

            result = importer.run()

        if kill == "extract":
            assert result.recovered is None
            assert result.status is ImportStatus.SUCCEEDED
            assert result.item_count == 40
        else:
            # The killed run's job is resumed, never submitted again.
            assert result.recovered is not None
            assert result.recovered.status is ImportStatus.SUCCEEDED
            assert len(result.recovered.job_ids) == 1
            assert result.status is ImportStatus.EMPTY
        if kill == "tracked":
            # Killed between the store write and the journal: found again by count and time.
            assert "adopted job" in caplog.text
        assert len(emulator.jobs) - seed_jobs == 1
        assert store.get_watermark("sku_price_lists", ACCOUNT, "erp-prices") is not None
        assert store.count_item_versions(NS) == 40
        assert store.unresolved_jobs() == []
        assert store.lock_holder("sku_price_lists", ACCOUNT) is None
    prices = served_prices(emulator)
    assert len(prices) == 40
    assert set(prices.values()) == {(True, Decimal(100))}
    assert not list(work.glob("*"))  # the killed run's spool was cleaned up


def _child_rows(n: int, t0: dt.datetime) -> list[dict[str, Any]]:
    return [{"sku": f"S{i:04d}", "price": "100", "mod": t0} for i in range(n)]
