"""The pure core of the import patterns (``patterns/imports/_core.py``), tested directly,
and the move of pre-key/value state (``source#run``, ``source#generation`` watermark rows)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from norce_integration.patterns import FullImport, ImportStatus, JobResult
from norce_integration.patterns.imports._core import (
    GENERATION_NAMESPACE,
    RUN_NAMESPACE,
    Journal,
    after_failed_submit,
    candidate_verdict,
    delta_window,
    moves_forward,
    next_generation,
    owner_process,
    pack_scopes,
    refresh_due,
    settles_ok,
    state_key,
    with_job,
)
from norce_integration.stores import sortable_watermark

from ._import_env import ACCOUNT, Env, Prices, make_env, price_rows, price_spec


# ---------------------------------------------------------------------------- journal


def _journal(groups: tuple[int, ...]) -> Journal:
    return Journal(
        run_id="r1",
        mode="full",
        phase="submitting",
        started_at=1.0,
        submit_at=2.0,
        groups=groups,
        header="{}",
    )


class JournalMachine(RuleBasedStateMachine):
    """A run's journal from ``submitting`` through tracked jobs, failures and a kill
    (a round trip through its stored text)."""

    def __init__(self) -> None:
        super().__init__()
        self.journal: Journal | None = None
        self.next_job = 100

    @precondition(lambda self: self.journal is None)
    @rule(groups=st.lists(st.integers(1, 50), min_size=1, max_size=4))
    def start(self, groups: list[int]) -> None:
        self.journal = _journal(tuple(groups))

    @precondition(
        lambda self: (
            self.journal is not None
            and self.journal.phase == "submitting"
            and len(self.journal.jobs) < len(self.journal.groups)
        )
    )
    @rule()
    def job_tracked(self) -> None:
        assert self.journal is not None
        before = self.journal
        self.journal = with_job(before, self.next_job)
        assert self.journal.jobs == (*before.jobs, self.next_job)
        self.next_job += 1

    @precondition(lambda self: self.journal is not None and self.journal.phase == "submitting")
    @rule(ambiguous=st.booleans())
    def post_failed(self, ambiguous: bool) -> None:
        assert self.journal is not None
        before = self.journal
        after = after_failed_submit(before, ambiguous=ambiguous)
        if ambiguous:
            # A job may exist: the next run must look for it.
            assert after is before
        elif not before.jobs:
            assert after is None
        else:
            assert after is not None
            assert after.phase == "aborted"
            assert after.jobs == before.jobs
            assert not after.complete
        self.journal = after

    @precondition(lambda self: self.journal is not None)
    @rule()
    def killed_and_read_back(self) -> None:
        assert self.journal is not None
        self.journal = Journal.loads(self.journal.dumps())

    @invariant()
    def complete_only_when_every_job_is_known(self) -> None:
        journal = self.journal
        if journal is None:
            return
        assert journal.complete == (
            journal.phase == "submitted" and len(journal.jobs) == len(journal.groups)
        )
        assert len(journal.jobs) <= len(journal.groups)
        if len(journal.jobs) == len(journal.groups) and journal.phase != "aborted":
            assert journal.phase == "submitted"
        if not journal.complete:
            # An incomplete run never moves state, whatever its jobs did.
            assert not settles_ok(journal, [_result()] * len(journal.jobs))


def _result(*, succeeded: bool = True) -> JobResult:
    # settles_ok reads only ``succeeded``.
    return cast("JobResult", type("R", (), {"succeeded": succeeded})())


TestJournalMachine = JournalMachine.TestCase
TestJournalMachine.settings = settings(max_examples=100, stateful_step_count=12, deadline=None)


def test_a_complete_run_settles_only_when_every_job_succeeded() -> None:
    journal = with_job(with_job(_journal((3, 4)), 1), 2)
    assert journal.complete
    assert settles_ok(journal, [_result(), _result()])
    assert not settles_ok(journal, [_result(), _result(succeeded=False)])
    assert not settles_ok(journal, [])


# ---------------------------------------------------------------------------- planning


@given(st.dictionaries(st.text(min_size=1, max_size=3), st.integers(1, 40)), st.integers(1, 60))
def test_scope_packing_never_cuts_a_group_and_respects_the_limit(
    counts: dict[str, int], limit: int
) -> None:
    jobs = pack_scopes(counts, limit)
    assert [s for job in jobs for s in job] == list(counts)
    for job in jobs:
        size = sum(counts[s] for s in job)
        assert size <= limit or len(job) == 1


@given(st.integers(0, 10**12), st.integers(0, 10**12))
def test_the_watermark_only_moves_forward(current: int, new: int) -> None:
    # Stored versions compare as text: the encoding must keep the numeric order.
    assert moves_forward(sortable_watermark(current), sortable_watermark(new)) == (new > current)
    assert moves_forward(None, sortable_watermark(new))


def test_delta_windows_overlap_lag_and_stop_at_the_watermark() -> None:
    now = dt.datetime(2025, 1, 1, 12, tzinfo=dt.UTC).timestamp()
    first = delta_window(None, now, fingerprint=False, lag=60, overlap=120, initial_since=None)
    assert first is not None
    assert first.since is None
    assert first.until == dt.datetime(2025, 1, 1, 11, 59, tzinfo=dt.UTC)
    later = delta_window(
        first.new_watermark, now + 600, fingerprint=False, lag=60, overlap=120, initial_since=None
    )
    assert later is not None
    assert later.since == first.until - dt.timedelta(seconds=120)
    assert (
        delta_window(
            first.new_watermark, now, fingerprint=False, lag=60, overlap=0, initial_since=None
        )
        is None
    )
    everything = delta_window(
        first.new_watermark, now, fingerprint=True, lag=0, overlap=0, initial_since=None
    )
    assert everything is not None
    assert everything.window is None


def test_candidates_skip_stale_and_unchanged_of_the_current_generation_only() -> None:
    def verdict(version: str | None, seen: tuple[str | None, str] | None) -> str:
        return candidate_verdict(
            version,
            "fp",
            seen[0] if seen else None,
            seen[1] if seen else None,
            prefix="3:",
            skip_unchanged=True,
        )

    assert verdict("5", None) == "send"
    assert verdict("4", ("5", "3:other")) == "stale"
    assert verdict("5", ("5", "3:fp")) == "unchanged"
    assert verdict("6", ("5", "3:fp")) == "send"
    assert verdict("4", ("5", "2:fp")) == "send"  # an older generation does not count


def test_generations_and_lock_rules() -> None:
    assert next_generation(3, 1) == 4
    assert next_generation(1, 5) == 6
    assert owner_process("host:42:run", "host", 7) == 42
    assert owner_process("host:7:run", "host", 7) is None
    assert owner_process("other:42:run", "host", 7) is None
    assert owner_process("garbage", "host", 7) is None
    assert refresh_due(10.0, 0.0, 30.0, force=False)
    assert not refresh_due(5.0, 0.0, 30.0, force=False)
    assert refresh_due(5.0, 0.0, 30.0, force=True)


# ---------------------------------------------------------------------------- legacy state


@pytest.fixture
def env(tmp_path: Any) -> Iterator[Env]:
    environment = make_env(tmp_path)
    try:
        yield environment
    finally:
        environment.close()


def _full(env: Env, rows: int) -> FullImport:
    return FullImport(
        env.norce,
        price_spec(),
        Prices(price_rows(rows)),
        tracker=env.tracker,
        clock=env.now,
        work_dir=env.work_dir,
    )


def _legacy(env: Env, suffix: str, value: str) -> None:
    assert env.store.compare_and_set_watermark(
        "sku_price_lists", ACCOUNT, "erp-prices" + suffix, expected=None, new=value
    )


def test_a_generation_in_an_old_watermark_row_is_read_once_and_moved(env: Env) -> None:
    env.seed_skus([f"S{i:04d}" for i in range(4)])
    _legacy(env, "#generation", sortable_watermark(7))
    result = _full(env, 4).run()
    assert result.succeeded
    key = state_key(price_spec())
    assert env.store.kv_get(GENERATION_NAMESPACE, key) == sortable_watermark(8)
    row = env.store.get_watermark("sku_price_lists", ACCOUNT, "erp-prices#generation")
    assert row is not None
    assert row.value == ""


def test_a_journal_in_an_old_watermark_row_is_resumed(env: Env) -> None:
    env.seed_skus([f"S{i:04d}" for i in range(4)])
    sent = _full(env, 4).run(wait=False)
    assert sent.status is ImportStatus.SUBMITTED
    key = state_key(price_spec())
    text = env.store.kv_get(RUN_NAMESPACE, key)
    assert text is not None
    # What a state file written before the key/value table holds.
    assert env.store.kv_delete(RUN_NAMESPACE, key)
    _legacy(env, "#run", text)
    resumed = _full(env, 4).resume()
    assert resumed is not None
    assert resumed.status is ImportStatus.SUCCEEDED
    assert resumed.job_ids == sent.job_ids
    assert env.store.kv_get(RUN_NAMESPACE, key) is None
    row = env.store.get_watermark("sku_price_lists", ACCOUNT, "erp-prices#run")
    assert row is not None
    assert row.value == ""
    assert _full(env, 4).resume() is None
