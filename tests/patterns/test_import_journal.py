"""The journal protocol of issue 17: proving a killed run's POST (adopt / not sent /
held) without guessing, in the pure core and in-process against the emulator.

The real kill -9 tests (a subprocess per kill point, SQLite and PostgreSQL) are in
``test_import_kill_points.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from norce_integration import ImportRefusedError
from norce_integration._exceptions import NotFoundError, RunHeldError
from norce_integration.connect.models import Job, JobStatus
from norce_integration.patterns import DeltaImport, FullImport, ImportStatus
from norce_integration.patterns.imports import ImportRuns
from norce_integration.patterns.imports._core import (
    RUN_NAMESPACE,
    Adopt,
    Held,
    Journal,
    NotSent,
    adopt_job,
    after_not_sent,
    blocking_journal,
    listing_complete,
    lost_job_verdict,
    state_key,
)
from norce_integration.stores import TrackedJob

from ._import_env import ACCOUNT, Env, Prices, make_env, price_rows, price_spec


DIGEST = "d" * 64


def journal(**changes: Any) -> Journal:
    base: dict[str, Any] = {
        "run_id": "r1",
        "mode": "delta",
        "phase": "submitting",
        "started_at": 1000.0,
        "submit_at": 1000.0,
        "groups": (40,),
        "digests": (DIGEST,),
        "floor": 10,
    }
    base.update(changes)
    return Journal(**base)


def tracked(job_id: int, at: float, digest: str = DIGEST, count: int = 40) -> TrackedJob:
    return TrackedJob(
        job_id=job_id,
        kind="sku_price_lists",
        full=False,
        account_id=ACCOUNT,
        submitted_at=dt.datetime.fromtimestamp(at, dt.UTC),
        item_count=count,
        payload_digest=digest,
    )


def listed(job_id: int, totals: int | None = 40, status: int = 6) -> Job:
    return Job(job_id=job_id, status=JobStatus(status), totals=totals)


# ---------------------------------------------------------------------------- pure


def test_an_earlier_job_of_the_kind_with_the_same_count_is_never_adopted() -> None:
    # Issue 17, hole 1: the previous delta's job (same kind, same item count, tracked a
    # second before the journal) was taken for the killed run's.
    earlier = tracked(10, 999.0, digest="e" * 64)
    same_payload_but_before = tracked(9, 999.5)
    verdict = lost_job_verdict(
        journal(), [earlier, same_payload_but_before], [listed(10)], complete=True, now=2000.0
    )
    assert isinstance(verdict, NotSent)


def test_a_tracked_job_with_the_exact_digest_inside_the_window_is_adopted() -> None:
    verdict = lost_job_verdict(
        journal(), [tracked(11, 1000.5)], [listed(11), listed(10)], complete=True, now=2000.0
    )
    assert verdict == Adopt(11)


def test_a_tracked_job_with_another_digest_is_not_the_runs() -> None:
    verdict = lost_job_verdict(
        journal(),
        [tracked(11, 1000.5, digest="f" * 64)],
        [listed(11), listed(10)],
        complete=True,
        now=2000.0,
    )
    assert isinstance(verdict, NotSent)  # job 11 is explained: another payload


def test_an_untracked_listed_job_that_may_be_the_runs_holds() -> None:
    verdict = lost_job_verdict(journal(), [], [listed(11), listed(10)], complete=True, now=2e3)
    assert isinstance(verdict, Held)
    assert verdict.candidates == (11,)
    assert verdict.final


@pytest.mark.parametrize("totals", [None, 0, 40])
def test_unknown_or_matching_totals_are_candidates(totals: int | None) -> None:
    verdict = lost_job_verdict(journal(), [], [listed(12, totals)], complete=True, now=2e3)
    assert isinstance(verdict, Held)


def test_a_listed_job_with_another_count_is_not_a_candidate() -> None:
    verdict = lost_job_verdict(journal(), [], [listed(12, 7), listed(10)], complete=True, now=2e3)
    assert isinstance(verdict, NotSent)


def test_no_floor_or_an_incomplete_list_or_no_list_holds() -> None:
    no_floor = lost_job_verdict(journal(floor=None), [], [], complete=False, now=2e3)
    assert isinstance(no_floor, Held)
    assert no_floor.final
    incomplete = lost_job_verdict(journal(), [], [listed(99, 7)], complete=False, now=2e3)
    assert isinstance(incomplete, Held)
    failed = lost_job_verdict(journal(), [], None, complete=False, now=2e3, list_error="503")
    assert isinstance(failed, Held)
    assert not failed.final  # the next run asks again
    assert "503" in failed.reason


def test_two_tracked_jobs_with_the_digest_hold() -> None:
    verdict = lost_job_verdict(
        journal(), [tracked(11, 1001.0), tracked(12, 1002.0)], [], complete=True, now=2e3
    )
    assert isinstance(verdict, Held)
    assert verdict.candidates == (11, 12)


@given(st.lists(st.integers(1, 10_000), unique=True, max_size=350), st.integers(0, 10_000))
def test_listing_complete_is_sound_for_a_newest_first_list(ids: list[int], floor: int) -> None:
    ordered = sorted(ids, reverse=True)
    pages = [ordered[i : i + 100] for i in range(0, len(ordered), 100)] or [[]]
    read: list[list[int]] = []
    for page in pages:
        read.append(page)
        if len(page) < 100 or min(page) <= floor:
            break
    if listing_complete(read, floor, 100):
        seen = {i for page in read for i in page}
        assert {i for i in ids if i > floor} <= seen


def test_listing_complete_refuses_a_server_that_ignores_paging() -> None:
    page = list(range(300, 200, -1))
    assert not listing_complete([page, page], 150, 100)
    assert listing_complete([page, list(range(200, 140, -1))], 150, 100)
    assert not listing_complete([list(range(101, 201))], 150, 100)  # oldest first, full page


def test_journal_transitions_and_an_old_journal_loads() -> None:
    split = journal(mode="full", groups=(10, 20), digests=("a", "b"))
    adopted = adopt_job(split, 11)
    assert adopted.jobs == (11,)
    assert adopted.phase == "aborted"  # group 2 was never sent
    assert adopt_job(journal(), 11).phase == "submitted"
    assert after_not_sent(journal()) is None
    partial = after_not_sent(journal(groups=(10, 20), jobs=(11,)))
    assert partial is not None
    assert partial.phase == "aborted"
    old = '{"run_id":"r0","mode":"delta","phase":"submitting","started_at":1,"submit_at":1,"groups":[5]}'
    loaded = Journal.loads(old)
    assert loaded.floor is None
    assert loaded.digests == ()
    assert Journal.loads(journal().dumps()) == journal()


def test_another_sources_journal_blocks_as_documented() -> None:
    key = f"sku_price_lists:{ACCOUNT}:other"
    held = journal(phase="held", held="why", candidates=(11,))
    error = blocking_journal(key, held, full=False)
    assert isinstance(error, RunHeldError)
    assert error.source == "other"
    assert "jobs adopt r1 11" in str(error)
    in_doubt = journal()
    assert blocking_journal(key, in_doubt, full=False) is None
    refusal = blocking_journal(key, in_doubt, full=True)
    assert refusal is not None
    assert refusal.rule == "in-flight"
    assert blocking_journal(key, journal(phase="submitted", jobs=(11,)), full=True) is None


# ---------------------------------------------------------------------------- in-process


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    e = make_env(tmp_path)
    yield e
    e.close()


class Killed(BaseException):
    """Stands for SIGKILL."""


def kill_after_post(env: Env) -> None:
    submit = env.norce.connect.submit_encoded

    def submit_encoded(*args: Any, **kwargs: Any) -> Any:
        submit(*args, **kwargs)
        raise Killed

    env.norce.connect.submit_encoded = submit_encoded  # type: ignore[method-assign]


def kill_before_post(env: Env) -> None:
    def submit_encoded(*args: Any, **kwargs: Any) -> Any:
        raise Killed

    env.norce.connect.submit_encoded = submit_encoded  # type: ignore[method-assign]


def delta(env: Env, rows: list[dict[str, Any]], name: str = "erp-prices") -> DeltaImport:
    return DeltaImport(
        env.norce,
        price_spec(name),
        Prices(rows),
        tracker=env.tracker,
        work_dir=env.work_dir,
        clock=env.now,
        sleep=env.advance,
    )


def full(env: Env, rows: list[dict[str, Any]], name: str = "erp-prices") -> FullImport:
    return FullImport(
        env.norce,
        price_spec(name),
        Prices(rows),
        tracker=env.tracker,
        work_dir=env.work_dir,
        clock=env.now,
        sleep=env.advance,
    )


def test_a_delta_killed_before_its_post_after_an_earlier_delta_is_sent_again(env: Env) -> None:
    env.seed_skus([f"S{i:04d}" for i in range(30)])
    assert delta(env, price_rows(30)).run().status is ImportStatus.SUCCEEDED
    confirmed = env.store.get_watermark("sku_price_lists", ACCOUNT, "erp-prices")
    assert confirmed is not None
    env.advance(60)
    changed = price_rows(30, price="200", mod=env.emulator.clock.now() - dt.timedelta(seconds=5))
    killed = delta(env, changed)
    kill_before_post(env)
    with pytest.raises(Killed):
        killed.run()
    del env.norce.connect.submit_encoded
    jobs = len(env.import_jobs())

    result = delta(env, changed).run()

    assert result.recovered is not None
    assert result.recovered.status is ImportStatus.FAILED
    assert result.recovered.watermark == confirmed.value
    assert result.status is ImportStatus.SUCCEEDED
    assert result.item_count == 30  # the window was sent again: nothing lost
    assert len(env.import_jobs()) == jobs + 1
    assert set(env.prices().values()) == {(True, 200)}


def test_a_job_list_outage_refuses_without_holding_and_the_next_run_proves(env: Env) -> None:
    env.seed_skus([f"S{i:04d}" for i in range(5)])
    killed = delta(env, price_rows(5))
    kill_before_post(env)
    with pytest.raises(Killed):
        killed.run()
    del env.norce.connect.submit_encoded
    real = env.norce.connect.list_jobs

    def broken(**kwargs: Any) -> Any:
        raise NotFoundError("Job/List is not served", status=404)

    env.norce.connect.list_jobs = broken  # type: ignore[method-assign]
    with pytest.raises(RunHeldError, match="Job/List could not be read"):
        delta(env, price_rows(5)).run()
    stored = env.store.kv_get(RUN_NAMESPACE, state_key(price_spec()))
    assert stored is not None
    assert Journal.loads(stored).phase == "submitting"  # not held for good
    env.norce.connect.list_jobs = real  # type: ignore[method-assign]
    result = delta(env, price_rows(5)).run()
    assert result.status is ImportStatus.SUCCEEDED


def test_a_held_run_refuses_every_import_of_the_kind_and_plan_lists_it(env: Env) -> None:
    env.seed_skus([f"S{i:04d}" for i in range(5)])
    killed = delta(env, price_rows(5), name="erp-a")
    kill_after_post(env)
    with pytest.raises(Killed):
        killed.run()
    del env.norce.connect.submit_encoded
    with pytest.raises(RunHeldError) as held:
        delta(env, price_rows(5), name="erp-a").run()
    # Another source of the same kind and account: refused too, full or delta.
    with pytest.raises(RunHeldError):
        delta(env, price_rows(5), name="erp-b").run()
    with pytest.raises(RunHeldError):
        full(env, price_rows(5), name="erp-b").run()
    plan = full(env, price_rows(5), name="erp-b").plan()
    assert "held" in {rule for rule, _ in plan.refusals}
    # Resolved: the job is adopted and settled; the kind runs again.
    runs = ImportRuns(env.store, env.norce, tracker=env.tracker)
    job_id = held.value.candidates[0]
    runs.adopt(held.value.run_id, job_id)
    result = delta(env, price_rows(5), name="erp-a").run()
    assert result.recovered is not None
    assert result.recovered.job_ids == (job_id,)
    assert full(env, price_rows(5), name="erp-b").run().status is ImportStatus.SUCCEEDED


def test_a_full_import_never_starts_beside_another_sources_run_in_doubt(env: Env) -> None:
    env.seed_skus([f"S{i:04d}" for i in range(5)])
    killed = full(env, price_rows(5), name="erp-a")
    kill_after_post(env)
    with pytest.raises(Killed):
        killed.run()
    del env.norce.connect.submit_encoded
    jobs = len(env.import_jobs())
    with pytest.raises(ImportRefusedError, match="in-flight") as refused:
        full(env, price_rows(5), name="erp-b").run()
    assert not isinstance(refused.value, RunHeldError)
    assert len(env.import_jobs()) == jobs  # no second full import


def test_resolve_sent_of_a_full_import_waits_for_a_job_it_may_own(env: Env) -> None:
    env.seed_skus([f"S{i:04d}" for i in range(5)])
    killed = full(env, price_rows(5))
    kill_after_post(env)
    with pytest.raises(Killed):
        killed.run()
    del env.norce.connect.submit_encoded
    with pytest.raises(RunHeldError) as held:
        full(env, price_rows(5)).run()
    runs = ImportRuns(env.store, env.norce)
    with pytest.raises(ImportRefusedError, match="unfinished job"):
        runs.resolve(held.value.run_id, sent=True)
    env.advance(30)  # the job ends
    assert runs.resolve(held.value.run_id, sent=True) is None
    assert runs.list() == []
    assert full(env, price_rows(5)).run().status is ImportStatus.SUCCEEDED


def test_adopt_checks_the_job_against_the_run(env: Env) -> None:
    env.seed_skus([f"S{i:04d}" for i in range(5)])
    killed = delta(env, price_rows(5))
    kill_after_post(env)
    with pytest.raises(Killed):
        killed.run()
    del env.norce.connect.submit_encoded
    with pytest.raises(RunHeldError) as held:
        delta(env, price_rows(5)).run()
    runs = ImportRuns(env.store, env.norce)
    seed_job = env.import_jobs()[0]["JobId"]
    with pytest.raises(ImportRefusedError, match="existed before the run's POST"):
        runs.adopt(held.value.run_id, seed_job)
    with pytest.raises(NotFoundError):
        runs.adopt(held.value.run_id, 999_999)
    assert runs.get(held.value.run_id).phase == "held"
