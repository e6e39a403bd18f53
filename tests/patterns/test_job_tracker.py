"""JobTracker against the emulator on a manual clock: nothing here waits in real time.

The tracker's ``sleep`` is ``emulator.advance`` and its clock is the emulator's, so a
10-minute job takes 10 emulated minutes and a few milliseconds.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import inspect
import itertools
import logging
import os
import random
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from norce_integration import (
    AsyncNorce,
    ConfigurationError,
    ImportJobError,
    ImportJobTimeoutError,
    ImportRefusedError,
    Norce,
    RetryPolicy,
)
from norce_integration.connect import models as m
from norce_integration.event import JobCompletedEvent, parse_event
from norce_integration.patterns import (
    AlertKind,
    AsyncJobTracker,
    JobAlert,
    JobResult,
    JobTracker,
    LoggingMonitor,
    PayloadSpool,
    PollSchedule,
)
from norce_integration.stores import AsyncSqliteStore, SqliteStore, TrackedJob, TrackedStatus
from norce_integration.testing import JobTimings, ManualClock, NorceEmulator


HERE = Path(__file__).parent
START = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def product(part_no: str = "SKU-1", *, code: str | None = None) -> m.Product:
    # A full product import needs the variant cluster Code (its FullFile scope).
    return m.Product(
        manufacturer_code="ACME",
        code=code,
        cultures=[m.ProductCulture(culture_code="sv-SE", name="Hammare")],
        variants=[
            m.Variant(
                manufacturer_part_no=f"MPN-{part_no}",
                is_dangerous_goods=False,
                skus=[
                    m.Sku(
                        part_no=part_no,
                        status=m.SkuStatus.Active,
                        type=m.SkuType.ErpStandard,
                        standard_price=m.SkuPriceList(
                            part_no=part_no,
                            price_list_code="STD",
                            price_sale=Decimal("199.90"),
                            currency_code="SEK",
                        ),
                        vat_rates=[m.VatRate(sales_area=m.SalesArea.Sweden, rate=Decimal("25.00"))],
                    )
                ],
            )
        ],
    )


def header(*, full: bool = False, account_id: int = 1) -> m.ProductHeader:
    return m.ProductHeader(
        account_id=account_id,
        full_file=full,
        product_fields_that_are_set=[m.ProductField.Variants, m.ProductField.Cultures],
        product_culture_fields_that_are_set=[m.ProductCultureField.Name],
        variant_fields_that_are_set=[m.VariantField.Skus],
        sku_fields_that_are_set=[m.SkuField.Status, m.SkuField.Type, m.SkuField.StandardPrice],
        sku_price_list_fields_that_are_set=[m.SkuPriceListField.PriceSale],
    )


class Recorder(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Wraps the emulator transport and records every request with its emulator time."""

    def __init__(self, emulator: NorceEmulator) -> None:
        self.emulator = emulator
        self.inner = emulator.transport()
        self.calls: list[tuple[str, str, float]] = []

    def _note(self, request: httpx.Request) -> None:
        path = request.url.path.rsplit("/4.0/", 1)[-1]
        self.calls.append((request.method, path, self.emulator.clock.now().timestamp()))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._note(request)
        return self.inner.handle_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self._note(request)
        return await self.inner.handle_async_request(request)

    def count(self, path: str) -> int:
        return sum(1 for _, p, _ in self.calls if p == path)

    def times(self, path: str) -> list[float]:
        return [t for _, p, t in self.calls if p == path]


class Monitor:
    def __init__(self) -> None:
        self.alerts: list[JobAlert] = []
        self.results: list[JobResult] = []

    def on_alert(self, alert: JobAlert) -> None:
        self.alerts.append(alert)

    def on_result(self, result: JobResult) -> None:
        self.results.append(result)


class FakeInstrument:
    def __init__(self, name: str, unit: str) -> None:
        self.name, self.unit = name, unit
        self.values: list[tuple[float, dict[str, Any]]] = []

    def record(self, amount: float, attributes: Any = None) -> None:
        self.values.append((amount, dict(attributes or {})))

    def add(self, amount: int, attributes: Any = None) -> None:
        self.values.append((amount, dict(attributes or {})))


class FakeMeter:
    """The OpenTelemetry Meter shape, recording instead of exporting."""

    def __init__(self) -> None:
        self.instruments: dict[str, FakeInstrument] = {}

    def create_histogram(self, name: str, unit: str = "", description: str = "") -> FakeInstrument:
        return self.instruments.setdefault(name, FakeInstrument(name, unit))

    def create_counter(self, name: str, unit: str = "", description: str = "") -> FakeInstrument:
        return self.instruments.setdefault(name, FakeInstrument(name, unit))

    def values(self, name: str) -> list[float]:
        return [v for v, _ in self.instruments[name].values]


class Env:
    """One emulator, one client, one store, and a tracker factory on the manual clock."""

    def __init__(self, tmp_path: Path, *, timings: JobTimings | None = None) -> None:
        self.tmp_path = tmp_path
        self.clock = ManualClock(START)
        self.emulator = NorceEmulator(
            clock=self.clock, job_timings=timings or JobTimings(queued=5, running=20)
        )
        self.wire = Recorder(self.emulator)
        # max_attempts=1: the tracker, not the HTTP layer, must handle a 429 on Job/Get.
        self.settings = self.emulator.settings(
            retry=RetryPolicy(
                max_attempts=1,
                sleep=self.emulator.advance,
                clock=self.now,
                jitter=0,
            )
        )
        self.norce = Norce(self.settings, transport=self.wire)
        self.store = SqliteStore(tmp_path / "state.sqlite", clock=self.now)
        self.monitor = Monitor()
        self.meter = FakeMeter()
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[], object] | None = None

    def now(self) -> float:
        return self.clock.now().timestamp()

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.emulator.advance(seconds)
        if self.on_sleep is not None:
            self.on_sleep()

    def tracker(self, **kw: Any) -> JobTracker:
        options: dict[str, Any] = {
            "sleep": self.sleep,
            "clock": self.now,
            "rng": random.Random(0),
            "monitor": self.monitor,
            "meter": self.meter,
        }
        options.update(kw)
        return JobTracker(self.norce, self.store, **options)

    def close(self) -> None:
        self.norce.close()
        self.store.close()
        self.emulator.close()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    environment = Env(tmp_path)
    yield environment
    environment.close()


# ---------------------------------------------------------------- outcomes


def test_success_by_polling(env: Env) -> None:
    tracker = env.tracker()
    job = tracker.submit("products", [product()], header())
    assert job.status is TrackedStatus.SUBMITTED
    assert (job.kind, job.full, job.account_id, job.item_count) == ("products", False, 1, 1)
    assert len(job.payload_digest) == 64

    result = tracker.wait(job.job_id)

    assert result.succeeded
    assert result.resolved_by == "poll"
    assert result.totals == 1
    assert result.inserts is not None
    assert result.inserts > 0
    assert result.fail == 0
    assert result.duration == pytest.approx(20, abs=1)
    assert result.lead_time == pytest.approx(25, abs=12)
    assert 1 <= result.polls <= 4
    assert result.polls == env.wire.count("Job/Get")
    # Polite: the first poll waits, nothing polls within the first 9 seconds.
    submitted = job.submitted_at.timestamp()
    assert min(env.wire.times("Job/Get")) - submitted >= 9
    stored = env.store.get_job(job.job_id)
    assert stored is not None
    assert stored.status is TrackedStatus.SUCCEEDED
    assert stored.finished_at is not None
    assert stored.history[0].source == "submit"
    assert stored.history[-1].status is TrackedStatus.SUCCEEDED
    assert env.monitor.results == [result]
    assert env.meter.values("norce.job.polls") == [result.polls]
    assert env.meter.values("norce.job.duration") == [result.duration]
    assert env.meter.values("norce.job.lead_time") == [result.lead_time]
    assert env.meter.values("norce.job.items.inserted") == [result.inserts]
    attributes = env.meter.instruments["norce.job.results"].values[0][1]
    assert attributes == {
        "norce.import.kind": "products",
        "norce.import.full": False,
        "norce.job.status": "succeeded",
    }


def test_failure_fetches_the_log(env: Env) -> None:
    env.emulator.faults.job(failure_rate=1.0)
    tracker = env.tracker()
    job = tracker.submit("products", [product()], header())
    with pytest.raises(ImportJobError) as caught:
        tracker.wait(job.job_id)
    error = caught.value
    assert type(error) is ImportJobError
    assert error.job_id == job.job_id
    assert error.status == m.JobStatus.Failed
    assert error.log
    assert all(e.severity in (m.LogSeverity.Warning, m.LogSeverity.Error) for e in error.log)
    assert "injected a job failure" in str(error)
    assert env.wire.count("Job/GetLog") == 1
    (result,) = env.monitor.results
    assert result.status is TrackedStatus.FAILED
    assert result.errors == list(error.log)
    stored = env.store.get_job(job.job_id)
    assert stored is not None
    assert stored.status is TrackedStatus.FAILED


def test_failure_returned_when_not_raising(env: Env) -> None:
    env.emulator.faults.job(failure_rate=1.0)
    tracker = env.tracker()
    job = tracker.submit("products", [product()], header())
    result = tracker.wait(job.job_id, raise_on_failure=False)
    assert result.status is TrackedStatus.FAILED
    assert result.errors
    assert not result.succeeded


def test_validation_failure(env: Env) -> None:
    env.emulator.faults.job(validation_failure_rate=1.0)
    tracker = env.tracker()
    job = tracker.submit("products", [product()], header())
    with pytest.raises(ImportJobError) as caught:
        tracker.wait(job.job_id)
    assert caught.value.status == m.JobStatus.ValidationFailed
    assert "validation failed" in str(caught.value)
    assert caught.value.log
    stored = env.store.get_job(job.job_id)
    assert stored is not None
    assert stored.status is TrackedStatus.VALIDATION_FAILED


def test_log_fetch_failure_does_not_hide_the_outcome(env: Env) -> None:
    env.emulator.faults.job(failure_rate=1.0)
    env.emulator.faults.add("Job/GetLog", status=500)
    tracker = env.tracker()
    job = tracker.submit("products", [product()], header())
    with pytest.raises(ImportJobError) as caught:
        tracker.wait(job.job_id)
    assert caught.value.log == []


# ---------------------------------------------------------------- alerts and timeouts


def test_stalled_job_is_an_alert_and_a_local_timeout_not_a_failure(env: Env) -> None:
    env.emulator.faults.job(stall=True)
    tracker = env.tracker(stall_after=300, lead_time_alert=None)
    job = tracker.submit("products", [product()], header())

    with pytest.raises(ImportJobTimeoutError) as caught:
        tracker.wait(job.job_id, timeout=1200)

    assert caught.value.job_id == job.job_id
    assert "may still be running" in str(caught.value)
    stalls = [a for a in env.monitor.alerts if a.kind is AlertKind.STALLED]
    assert len(stalls) == 1
    assert stalls[0].seconds is not None
    assert stalls[0].seconds >= 300
    assert env.meter.values("norce.job.alerts") == [1]
    stored = env.store.get_job(job.job_id)
    assert stored is not None
    assert stored.status is TrackedStatus.TIMED_OUT_LOCALLY
    assert stored.status_id == 1  # Norce's last word is kept
    assert env.monitor.results[-1].status is TrackedStatus.TIMED_OUT_LOCALLY
    assert env.monitor.results[-1].resolved_by == "timeout"
    assert [j.job_id for j in tracker.unresolved()] == [job.job_id]

    # The job goes on; a resume (not a resubmission) picks it up.
    env.emulator.release_job(job.job_id)
    (result,) = tracker.resume()
    assert result.succeeded
    assert len(env.emulator.jobs) == 1


def test_timeout_without_raising_returns_the_result(env: Env) -> None:
    env.emulator.faults.job(stall=True)
    tracker = env.tracker()
    job = tracker.submit("products", [product()], header())
    result = tracker.wait(job.job_id, timeout=60, raise_on_failure=False)
    assert result.status is TrackedStatus.TIMED_OUT_LOCALLY
    assert result.lead_time is not None
    assert result.lead_time >= 60


def test_long_lead_time_is_an_alert(env: Env) -> None:
    env.emulator.faults.job(slow=900)
    tracker = env.tracker(lead_time_alert=600, stall_after=None)
    job = tracker.submit("products", [product()], header())
    result = tracker.wait(job.job_id)
    assert result.succeeded
    leads = [a for a in env.monitor.alerts if a.kind is AlertKind.LONG_LEAD_TIME]
    assert len(leads) == 1
    assert leads[0].job_id == job.job_id
    assert "still running" in leads[0].message
    assert result.lead_time is not None
    assert result.lead_time > 600


def test_lead_time_alert_at_finish(env: Env) -> None:
    tracker = env.tracker(lead_time_alert=10, stall_after=None)
    job = tracker.submit("products", [product()], header())
    result = tracker.wait(job.job_id)
    assert result.succeeded
    (alert,) = env.monitor.alerts
    assert alert.kind is AlertKind.LONG_LEAD_TIME


def test_unknown_status_is_watched_and_reported(env: Env) -> None:
    tracker = env.tracker()
    job = tracker.submit("products", [product()], header())
    real = env.norce.connect.get_job
    calls = {"n": 0}

    def odd_status(job_id: int) -> m.Job:
        calls["n"] += 1
        dto = real(job_id)
        return dto if calls["n"] > 1 else m.Job(job_id=job_id, status=m.JobStatus(42))

    env.norce.connect.get_job = odd_status  # type: ignore[method-assign]
    result = tracker.wait(job.job_id)
    assert result.succeeded
    assert [a.kind for a in env.monitor.alerts] == [AlertKind.UNKNOWN_STATUS]


def test_monitor_errors_never_break_tracking(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def on_alert(self, alert: JobAlert) -> None:
            raise RuntimeError("alert sink down")

        def on_result(self, result: JobResult) -> None:
            raise RuntimeError("result sink down")

    tracker = env.tracker(monitor=Broken(), lead_time_alert=1)
    job = tracker.submit("products", [product()], header())
    with caplog.at_level(logging.ERROR):
        assert tracker.wait(job.job_id).succeeded
    assert "monitor failed" in caplog.text


def test_logging_monitor(caplog: pytest.LogCaptureFixture, env: Env) -> None:
    env.emulator.faults.job(failure_rate=1.0, times=1)
    tracker = env.tracker(monitor=LoggingMonitor(), lead_time_alert=1)
    failed = tracker.submit("products", [product()], header())
    ok = tracker.submit("products", [product("SKU-2")], header())
    with caplog.at_level(logging.INFO, logger="norce_integration"):
        tracker.wait(failed.job_id, raise_on_failure=False)
        tracker.wait(ok.job_id)
    text = caplog.text
    assert f"job {failed.job_id} (products) failed" in text
    assert "[Error]" in text
    assert f"job {ok.job_id} (products) succeeded" in text
    assert "long_lead_time" in text


# ---------------------------------------------------------------- polling manners


def test_retry_after_on_job_get_is_honoured(env: Env) -> None:
    env.emulator.faults.add("Job/Get", status=429, retry_after=100, times=1)
    tracker = env.tracker(schedule=PollSchedule(jitter=0))
    job = tracker.submit("products", [product()], header())
    result = tracker.wait(job.job_id)
    assert result.succeeded
    first, second, *_ = env.wire.times("Job/Get")
    assert second - first >= 100  # not the schedule's 15 s
    assert result.polls == env.wire.count("Job/Get") == 2


def test_transient_poll_errors_are_not_failures(env: Env) -> None:
    env.emulator.faults.add("Job/Get", status=503, times=2)
    tracker = env.tracker()
    job = tracker.submit("products", [product()], header())
    assert tracker.wait(job.job_id).succeeded
    assert env.wire.count("Job/Get") >= 3


def test_polls_back_off_to_the_cap(env: Env) -> None:
    env.emulator.faults.job(slow=3600)
    tracker = env.tracker(schedule=PollSchedule(jitter=0), stall_after=None)
    job = tracker.submit("products", [product()], header())
    tracker.wait(job.job_id)
    times = env.wire.times("Job/Get")
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps[:4] == [15, 30, 60, 120]
    assert max(gaps) == 120
    assert len(times) <= 40  # about an hour at 2-minute polls, not 3600 polls


# ---------------------------------------------------------------- events


def _event_receiver(tracker: JobTracker) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        event = parse_event("JobCompletedEvent", request.content)
        assert isinstance(event, JobCompletedEvent)
        tracker.on_job_completed(event)
        return httpx.Response(200)

    return httpx.MockTransport(handle)


def test_event_resolves_the_job_with_zero_polls(tmp_path: Path) -> None:
    env = Env(tmp_path)
    try:
        tracker = env.tracker(mode="event", event_grace=600)
        env.emulator.delivery_transport = _event_receiver(tracker)
        env.emulator.subscribe("JobCompletedEvent", "https://receiver.example/norce")
        job = tracker.submit("products", [product()], header())
        result = tracker.wait(job.job_id)
        assert result.succeeded
        assert result.resolved_by == "event"
        assert result.polls == 0
        assert env.wire.count("Job/Get") == 0
        assert result.totals is None  # the event carries only the status
        assert result.lead_time is not None
        assert result.lead_time < 60
    finally:
        env.close()


def test_event_mode_falls_back_to_polling_after_the_grace(env: Env) -> None:
    tracker = env.tracker(mode="event", event_grace=120)
    job = tracker.submit("products", [product()], header())
    result = tracker.wait(job.job_id)
    assert result.succeeded
    assert result.resolved_by == "poll"
    assert min(env.wire.times("Job/Get")) - job.submitted_at.timestamp() >= 120


def test_event_wins_over_polling(env: Env) -> None:
    tracker = env.tracker()  # poll mode
    job = tracker.submit("products", [product()], header())
    env.on_sleep = lambda: tracker.on_job_completed(job.job_id, 2)
    result = tracker.wait(job.job_id)
    assert result.resolved_by == "event"
    assert env.wire.count("Job/Get") == 0


def test_event_before_wait_and_failed_event_fetches_the_log(env: Env) -> None:
    env.emulator.faults.job(failure_rate=1.0)
    tracker = env.tracker()
    job = tracker.submit("products", [product()], header())
    env.emulator.advance(60)
    updated = tracker.on_job_completed(job.job_id, m.JobStatus.Failed)
    assert updated is not None
    assert updated.status is TrackedStatus.FAILED
    with pytest.raises(ImportJobError) as caught:
        tracker.wait(job.job_id)
    assert caught.value.log
    assert env.wire.count("Job/Get") == 0


def test_counts_after_an_event_cost_one_poll_when_asked(env: Env) -> None:
    tracker = env.tracker(fetch_counts_on_event=True)
    job = tracker.submit("products", [product()], header())
    env.emulator.advance(60)
    tracker.on_job_completed(job.job_id, 2)
    result = tracker.wait(job.job_id)
    assert result.totals == 1
    assert result.polls == 1


def test_event_for_an_untracked_job_is_ignored(env: Env) -> None:
    tracker = env.tracker()
    assert tracker.on_job_completed(99999, 2) is None
    with pytest.raises(TypeError):
        tracker.on_job_completed("nope")


def test_an_event_recorded_by_another_process_resolves_the_wait(env: Env) -> None:
    tracker = env.tracker(mode="event", event_grace=3600, check_interval=5)
    job = tracker.submit("products", [product()], header())
    other = SqliteStore(env.tmp_path / "state.sqlite", clock=env.now)
    receiver = JobTracker(env.norce, other, clock=env.now)

    def deliver_elsewhere() -> None:
        if env.now() - job.submitted_at.timestamp() >= 30:
            receiver.on_job_completed(job.job_id, 2)

    env.on_sleep = deliver_elsewhere
    try:
        result = tracker.wait(job.job_id)
    finally:
        other.close()
    assert result.resolved_by == "event"
    assert env.wire.count("Job/Get") == 0
    assert sum(env.sleeps) <= 40  # noticed within check_interval, not after the grace


# ---------------------------------------------------------------- resume and crash safety


def test_resume_in_a_new_tracker_never_resubmits(env: Env) -> None:
    first = env.tracker()
    a = first.submit("products", [product("A")], header())
    b = first.submit("products", [product("B")], header())
    # "Restart": a new store object and tracker on the same file.
    store = SqliteStore(env.tmp_path / "state.sqlite", clock=env.now)
    try:
        second = JobTracker(env.norce, store, sleep=env.sleep, clock=env.now)
        assert [j.job_id for j in second.unresolved()] == [a.job_id, b.job_id]
        results = second.resume()
        assert [r.job_id for r in results] == [a.job_id, b.job_id]
        assert all(r.succeeded for r in results)
        assert second.unresolved() == []
    finally:
        store.close()
    assert len(env.emulator.jobs) == 2
    assert env.wire.count("Product/ImportProducts") == 2


def test_wait_on_a_finished_job_answers_from_the_store(env: Env) -> None:
    tracker = env.tracker()
    job = tracker.submit("products", [product()], header())
    tracker.wait(job.job_id)
    polls = env.wire.count("Job/Get")
    again = tracker.wait(job.job_id)
    assert again.resolved_by == "poll"  # how the outcome was learned, from the history
    assert again.succeeded
    assert env.wire.count("Job/Get") == polls


def test_wait_adopts_an_untracked_job(env: Env) -> None:
    submitted = env.norce.connect.submit("products", [product()], header())
    tracker = env.tracker()
    result = tracker.wait(submitted.job_id)
    assert result.succeeded
    adopted = env.store.get_job(submitted.job_id)
    assert adopted is not None
    assert adopted.kind == "unknown"


@pytest.mark.subprocess
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_killed_process_loses_no_job_and_nothing_is_resubmitted(tmp_path: Path) -> None:
    clock = ManualClock(dt.datetime.now(dt.UTC))
    emulator = NorceEmulator(clock=clock, job_timings=JobTimings(queued=5, running=20))
    store_path = tmp_path / "state.sqlite"
    with emulator, emulator.serve() as server:
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "crash_helper.py"), server.base_url, str(store_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line.startswith("JOB "):
                proc.kill()
                _, err = proc.communicate(timeout=30)
                pytest.fail(f"helper did not submit: {line!r} {err}")
            job_id = int(line.split()[1])
            # The helper is now waiting for the job, which cannot finish: the manual
            # clock stands still. Kill it the hard way.
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        assert len(emulator.jobs) == 1

        now = lambda: clock.now().timestamp()  # noqa: E731
        store = SqliteStore(store_path, clock=now)
        norce = Norce(emulator.settings(), transport=emulator.transport())
        try:
            tracker = JobTracker(norce, store, sleep=emulator.advance, clock=now)
            (pending,) = tracker.unresolved()
            assert pending.job_id == job_id
            assert pending.item_count == 1
            (result,) = tracker.resume()
        finally:
            norce.close()
            store.close()
        assert result.job_id == job_id
        assert result.succeeded
        assert len(emulator.jobs) == 1  # exactly one import ever reached Norce


# ---------------------------------------------------------------- Norce's full-import rule


def test_successful_full_import_supersedes_earlier_failures(env: Env) -> None:
    env.emulator.faults.job(failure_rate=1.0, times=1)
    tracker = env.tracker()
    failed = tracker.submit("products", [product()], header())
    tracker.wait(failed.job_id, raise_on_failure=False)
    full = tracker.submit("products", [product(code="C1")], header(full=True))
    assert full.full
    result = tracker.wait(full.job_id)
    assert result.succeeded
    old = env.store.get_job(failed.job_id)
    assert old is not None
    assert old.status is TrackedStatus.SUPERSEDED
    assert old.superseded_by == full.job_id
    record = env.store.get_last_full_import("products", 1)
    assert record is not None
    assert (record.job_id, record.item_count) == (full.job_id, 1)


# ---------------------------------------------------------------- spool and rerun


@pytest.fixture
def spool(env: Env) -> PayloadSpool:
    return PayloadSpool(env.tmp_path / "payloads", clock=env.now)


def test_rerun_sends_the_same_bytes_as_a_linked_job(env: Env, spool: PayloadSpool) -> None:
    tracker = env.tracker(spool=spool)
    job = tracker.submit("products", [product()], header())
    tracker.wait(job.job_id)
    entry = spool.get(job.job_id)
    assert entry is not None
    assert entry.digest == job.payload_digest
    assert gzip.decompress(Path(entry.path).read_bytes()).startswith(b'[{"ManufacturerCode"')

    again = tracker.rerun(job.job_id)

    assert again.rerun_of == job.job_id
    assert again.job_id != job.job_id
    assert again.payload_digest == job.payload_digest
    assert again.payload_size == job.payload_size
    assert again.header == job.header
    assert tracker.wait(again.job_id).rerun_of == job.job_id
    assert env.wire.count("Product/ImportProducts") == 2
    assert spool.get(again.job_id) is not None


def test_rerun_refuses_a_full_import_unless_forced_or_guarded(
    env: Env, spool: PayloadSpool
) -> None:
    tracker = env.tracker(spool=spool)
    job = tracker.submit("products", [product(code="C1")], header(full=True))
    tracker.wait(job.job_id)
    with pytest.raises(ImportRefusedError) as caught:
        tracker.rerun(job.job_id)
    assert caught.value.rule == "rerun-full-import"
    assert "deactivates" in str(caught.value)

    seen: list[TrackedJob] = []

    def guard(tracked: TrackedJob) -> None:
        seen.append(tracked)
        raise ImportRefusedError("too few items", rule="full-import-shrink")

    guarded = env.tracker(spool=spool, full_import_guard=guard)
    with pytest.raises(ImportRefusedError) as refused:
        guarded.rerun(job.job_id)
    assert refused.value.rule == "full-import-shrink"
    assert [t.job_id for t in seen] == [job.job_id]

    forced = tracker.rerun(job.job_id, force=True)
    assert forced.full
    assert env.wire.count("Product/ImportProducts") == 2


def test_rerun_other_refusals(env: Env, spool: PayloadSpool) -> None:
    env.emulator.faults.job(stall=True, times=1)
    tracker = env.tracker(spool=spool)
    running = tracker.submit("products", [product()], header())
    with pytest.raises(ImportRefusedError) as unfinished:
        tracker.rerun(running.job_id)
    assert unfinished.value.rule == "rerun-unfinished-job"
    with pytest.raises(ImportRefusedError) as unknown:
        tracker.rerun(4242)
    assert unknown.value.rule == "rerun-unknown-job"

    done = tracker.submit("products", [product()], header())
    tracker.wait(done.job_id)
    spool.delete(done.job_id)
    with pytest.raises(ImportRefusedError) as missing:
        tracker.rerun(done.job_id)
    assert missing.value.rule == "rerun-no-payload"

    no_spool = env.tracker()
    with pytest.raises(ImportRefusedError) as nothing:
        no_spool.rerun(done.job_id)
    assert nothing.value.rule == "rerun-no-payload"


def test_rerun_refuses_a_tampered_payload(env: Env, spool: PayloadSpool) -> None:
    tracker = env.tracker(spool=spool)
    job = tracker.submit("products", [product()], header())
    tracker.wait(job.job_id)
    entry = spool.get(job.job_id)
    assert entry is not None
    Path(entry.path).write_bytes(gzip.compress(b"[]"))
    with pytest.raises(ImportRefusedError) as caught:
        tracker.rerun(job.job_id)
    assert caught.value.rule == "rerun-payload-mismatch"


def test_rerun_of_a_superseded_job_needs_force(env: Env, spool: PayloadSpool) -> None:
    env.emulator.faults.job(failure_rate=1.0, times=1)
    tracker = env.tracker(spool=spool)
    failed = tracker.submit("products", [product()], header())
    tracker.wait(failed.job_id, raise_on_failure=False)
    tracker.wait(tracker.submit("products", [product(code="C1")], header(full=True)).job_id)
    with pytest.raises(ImportRefusedError) as caught:
        tracker.rerun(failed.job_id)
    assert caught.value.rule == "rerun-superseded-job"


def test_spool_retention_by_size_and_age(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = SqliteStore(tmp_path / "s.sqlite", clock=lambda: now[0])
    try:
        spool = PayloadSpool(
            tmp_path / "p", max_age=100, max_bytes=10_000, store=store, clock=lambda: now[0]
        )
        for job_id in range(1, 6):
            with spool.writer() as tee:
                tee(os.urandom(3000))  # incompressible: ~3 KB on disk
            spool.adopt(tee, job_id=job_id, kind="products", header="{}")
            now[0] += 10
        kept = [e.job_id for e in store.list_spool_entries()]
        assert kept == [3, 4, 5]  # oldest dropped to stay under 10 KB
        assert spool.total_bytes() <= 10_000
        assert not (tmp_path / "p" / "1.json.gz").exists()
        now[0] += 85  # ages now 115, 105 and 95 seconds
        assert spool.prune() == [3, 4]
        assert spool.get(5) is not None
    finally:
        store.close()


def test_spool_writer_discards_on_error(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite")
    try:
        spool = PayloadSpool(tmp_path / "p", store=store)

        def failing_submit() -> None:
            with spool.writer() as tee:
                tee(b"[1,")
                raise RuntimeError("submit failed")

        with pytest.raises(RuntimeError):
            failing_submit()
        assert list((tmp_path / "p").iterdir()) == []
    finally:
        store.close()


def test_spool_removes_abandoned_partial_files(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite")
    try:
        spool = PayloadSpool(tmp_path / "p", store=store)
        old = spool.writer()
        old(b"[")
        old.close()
        fresh = spool.writer()  # a submit in progress: must survive
        fresh(b"[")
        fresh.close()
        two_days_ago = old.path.stat().st_mtime - 2 * 86_400
        os.utime(old.path, (two_days_ago, two_days_ago))
        spool.prune()
        assert not old.path.exists()
        assert fresh.path.exists()
        assert fresh.digest == hashlib.sha256(b"[").hexdigest()
        assert fresh.size == 1
    finally:
        store.close()


def test_spool_needs_a_store(tmp_path: Path) -> None:
    spool = PayloadSpool(tmp_path / "p")
    with pytest.raises(ConfigurationError):
        spool.get(1)


def test_payload_path_needs_a_spool(env: Env) -> None:
    tracker = env.tracker()
    submitted = env.norce.connect.submit("products", [product()], header())
    with pytest.raises(ConfigurationError):
        tracker.track(submitted, full=False, account_id=1, payload_path="x.json.gz")
    # The job was recorded before the spool problem surfaced.
    assert env.store.get_job(submitted.job_id) is not None


def test_submit_body_posts_raw_bytes(env: Env) -> None:
    # What a re-run sends: the spooled body and header, unchanged (connect owns the wire).
    body = b'[{"PartNo":"SKU-9","PriceListCode":"STD","PriceSale":12.5}]'
    raw_header = '{"AccountId":1,"FullFile":false,"SkuPriceListFieldsThatAreSet":[3]}'
    submitted = env.norce.connect.submit_body(
        "sku_price_lists", [body[:10], body[10:]], raw_header, item_count=1
    )
    assert submitted.job_id in {j["JobId"] for j in env.emulator.jobs}
    assert submitted.payload_size == len(body)
    assert submitted.header == raw_header


# ---------------------------------------------------------------- inspection


def test_list_and_show(env: Env, spool: PayloadSpool) -> None:
    env.emulator.faults.job(failure_rate=1.0, times=1)
    tracker = env.tracker(spool=spool)
    failed = tracker.submit("products", [product()], header())
    tracker.wait(failed.job_id, raise_on_failure=False)
    env.emulator.advance(3600)
    ok = tracker.submit("products", [product()], header())
    tracker.wait(ok.job_id)
    open_job = tracker.submit("products", [product()], header())

    assert [j.job_id for j in tracker.list()] == [open_job.job_id, ok.job_id, failed.job_id]
    assert [j.job_id for j in tracker.list(status="failed")] == [failed.job_id]
    assert [j.job_id for j in tracker.list(status=["succeeded", TrackedStatus.SUBMITTED])] == [
        open_job.job_id,
        ok.job_id,
    ]
    assert [j.job_id for j in tracker.list(older_than=dt.timedelta(minutes=30))] == [failed.job_id]
    assert [j.job_id for j in tracker.list(newer_than=dt.timedelta(minutes=30))] == [
        open_job.job_id,
        ok.job_id,
    ]
    assert tracker.list(kind="customers") == []
    assert [j.job_id for j in tracker.list(limit=1)] == [open_job.job_id]
    with pytest.raises(ValueError):
        tracker.list(status="exploded")

    details = tracker.show(failed.job_id, fetch_log=True)
    assert details.job.status is TrackedStatus.FAILED
    assert details.job.history[0].status is TrackedStatus.SUBMITTED
    assert details.log is not None
    assert details.log[0].message == "Starting import."
    assert details.spool is not None
    assert tracker.show(ok.job_id).log is None
    with pytest.raises(ImportJobError):
        tracker.show(123456)


def test_tracker_validates_options(env: Env) -> None:
    with pytest.raises(ConfigurationError):
        env.tracker(mode="webhook")
    with pytest.raises(ConfigurationError):
        env.tracker(check_interval=0)
    tracker = env.tracker()
    assert tracker.mode == "poll"
    assert tracker.store is env.store
    assert tracker.spool is None
    with pytest.raises(ConfigurationError):
        tracker.submit("products", [product()], object())


# ---------------------------------------------------------------- async twin


def test_twins_have_the_same_surface() -> None:
    def public(cls: type) -> dict[str, Any]:
        return {k: v for k, v in vars(cls).items() if not k.startswith("_")}

    sync, asyn = public(JobTracker), public(AsyncJobTracker)
    assert list(sync) == list(asyn)
    for name, member in sync.items():
        other = asyn[name]
        if isinstance(member, property):
            continue
        assert not inspect.iscoroutinefunction(member), name
        assert inspect.iscoroutinefunction(other), name
        sync_params = list(inspect.signature(member).parameters)
        assert sync_params == list(inspect.signature(other).parameters), name
    init_sync = inspect.signature(JobTracker.__init__).parameters
    init_async = inspect.signature(AsyncJobTracker.__init__).parameters
    assert list(init_sync) == list(init_async)


class AsyncEnv:
    def __init__(self, env: Env) -> None:
        self.env = env
        self.norce = AsyncNorce(env.settings, transport=env.wire)
        self.store = AsyncSqliteStore(env.tmp_path / "state.sqlite", clock=env.now)

    async def sleep(self, seconds: float) -> None:
        self.env.sleep(seconds)

    def tracker(self, **kw: Any) -> AsyncJobTracker:
        options: dict[str, Any] = {
            "sleep": self.sleep,
            "clock": self.env.now,
            "rng": random.Random(0),
            "monitor": self.env.monitor,
            "meter": self.env.meter,
        }
        options.update(kw)
        return AsyncJobTracker(self.norce, self.store, **options)


@pytest.fixture
async def aenv(env: Env) -> Any:
    environment = AsyncEnv(env)
    yield environment
    await environment.norce.aclose()
    await environment.store.aclose()


@pytest.mark.anyio
async def test_async_success_failure_and_resume(aenv: AsyncEnv) -> None:
    env = aenv.env
    tracker = aenv.tracker()
    job = await tracker.submit("products", [product()], header())
    result = await tracker.wait(job.job_id)
    assert result.succeeded
    assert result.polls == env.wire.count("Job/Get")

    env.emulator.faults.job(failure_rate=1.0, times=1)
    failed = await tracker.submit("products", [product()], header())
    with pytest.raises(ImportJobError) as caught:
        await tracker.wait(failed.job_id)
    assert caught.value.log

    a = await tracker.submit("products", [product("A")], header())
    b = await tracker.submit("products", [product("B")], header())
    assert [j.job_id for j in await tracker.unresolved()] == [a.job_id, b.job_id]
    results = await tracker.resume()
    assert sorted(r.job_id for r in results) == [a.job_id, b.job_id]
    assert all(r.succeeded for r in results)
    assert len(await tracker.list()) == 4
    details = await tracker.show(failed.job_id, fetch_log=True)
    assert details.log


@pytest.mark.anyio
async def test_async_event_stall_and_rerun(aenv: AsyncEnv, spool: PayloadSpool) -> None:
    env = aenv.env
    tracker = aenv.tracker(mode="event", event_grace=600, spool=spool, stall_after=60)
    job = await tracker.submit("products", [product()], header())
    env.emulator.advance(40)
    await tracker.on_job_completed(job.job_id, 2)
    result = await tracker.wait(job.job_id)
    assert (result.resolved_by, result.polls) == ("event", 0)

    again = await tracker.rerun(job.job_id)
    assert again.rerun_of == job.job_id
    full = await tracker.submit("products", [product(code="C1")], header(full=True))
    with pytest.raises(ImportRefusedError):
        await tracker.rerun(full.job_id)

    env.emulator.faults.job(stall=True)
    poller = aenv.tracker(stall_after=60)
    stalled = await poller.submit("products", [product()], header())
    with pytest.raises(ImportJobTimeoutError):
        await poller.wait(stalled.job_id, timeout=600)
    assert any(a.kind is AlertKind.STALLED for a in env.monitor.alerts)


@pytest.mark.anyio
async def test_async_real_event_wait_wakes_on_the_event(env: Env) -> None:
    # No injected sleep: the wait blocks on an asyncio.Event and the event ends it.
    import asyncio

    norce = AsyncNorce(env.settings, transport=env.wire)
    store = AsyncSqliteStore(env.tmp_path / "state.sqlite", clock=env.now)
    try:
        tracker = AsyncJobTracker(
            norce, store, mode="event", event_grace=3600, clock=env.now, monitor=Monitor()
        )
        job = await tracker.submit("products", [product()], header())
        waiter = asyncio.create_task(tracker.wait(job.job_id))
        await asyncio.sleep(0.01)
        await tracker.on_job_completed(job.job_id, 2)
        result = await asyncio.wait_for(waiter, 5)
        assert result.resolved_by == "event"
    finally:
        await norce.aclose()
        await store.aclose()


def test_real_time_wait_wakes_on_the_event(env: Env) -> None:
    import threading

    tracker = JobTracker(
        env.norce, env.store, mode="event", event_grace=3600, clock=env.now, monitor=Monitor()
    )
    job = tracker.submit("products", [product()], header())
    timer = threading.Timer(0.05, tracker.on_job_completed, args=(job.job_id, 2))
    timer.start()
    try:
        result = tracker.wait(job.job_id)
    finally:
        timer.join()
    assert result.resolved_by == "event"
    assert env.wire.count("Job/Get") == 0
