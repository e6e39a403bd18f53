"""Job tracking cost: ``Job/Get`` calls per 10-minute job. Prints figures, asserts nothing.

Against the emulator on a manual clock (a 10-minute job takes milliseconds):

* the :class:`~norce_integration.patterns.JobTracker` polling with its default schedule
  (first delay 10 s, backoff x2 from 15 s, 2-minute cap, 10 % jitter): polls per job,
  mean and worst over several jitter seeds (target: ≤ 12);
* the tracker in event mode, resolved by ``JobCompletedEvent`` delivered by the
  emulator's webhook (target: 0 polls);
* a naive poller calling ``Job/Get`` every second, measured in the same run, and the
  ratio between the two.

Run: ``.venv/bin/python benchmarks/bench_job_polling.py``
"""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from norce_integration import Norce, RetryPolicy
from norce_integration.event import JobCompletedEvent, parse_event
from norce_integration.patterns import JobAlert, JobResult, JobTracker
from norce_integration.stores import SqliteStore
from norce_integration.testing import JobTimings, ManualClock, NorceEmulator


JOB_SECONDS = 600.0  # queued 60 s + running 540 s
SEEDS = 20
PRICE = b'[{"PartNo":"SKU-1","PriceListCode":"STD","PriceSale":10}]'
HEADER = {"AccountId": 1, "FullFile": False, "SkuPriceListFieldsThatAreSet": [3]}


class Counter(httpx.BaseTransport):
    """Counts ``Job/Get`` calls on the way to the emulator."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.job_gets = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/Job/Get"):
            self.job_gets += 1
        return self.inner.handle_request(request)


class Quiet:
    """A monitor that keeps nothing (the benchmark reads the results it returns)."""

    def on_alert(self, alert: JobAlert) -> None:
        pass

    def on_result(self, result: JobResult) -> None:
        pass


class Setup:
    def __init__(self, directory: Path, name: str) -> None:
        self.clock = ManualClock(dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
        self.emulator = NorceEmulator(
            clock=self.clock, job_timings=JobTimings(queued=60, running=540)
        )
        self.wire = Counter(self.emulator.transport())
        settings = self.emulator.settings(
            retry=RetryPolicy(sleep=self.emulator.advance, clock=self.now)
        )
        self.norce = Norce(settings, transport=self.wire)
        self.store = SqliteStore(directory / f"{name}.sqlite", clock=self.now)

    def now(self) -> float:
        return self.clock.now().timestamp()

    def submit(self) -> int:
        submitted = self.norce.connect.submit_body(
            "sku_price_lists", [PRICE], json.dumps(HEADER), item_count=1
        )
        assert submitted.response.job_id is not None
        return submitted.response.job_id

    def close(self) -> None:
        self.norce.close()
        self.store.close()
        self.emulator.close()


def tracker_polls(directory: Path) -> list[int]:
    setup = Setup(directory, "poll")
    try:
        polls: list[int] = []
        for seed in range(SEEDS):
            tracker = JobTracker(
                setup.norce,
                setup.store,
                sleep=setup.emulator.advance,
                clock=setup.now,
                rng=random.Random(seed),
                monitor=Quiet(),
            )
            job_id = setup.submit()  # wait() adopts the untracked job id
            before = setup.wire.job_gets
            result = tracker.wait(job_id)
            assert result.succeeded, result
            polls.append(setup.wire.job_gets - before)
        return polls
    finally:
        setup.close()


def event_polls(directory: Path) -> int:
    setup = Setup(directory, "event")
    try:
        tracker = JobTracker(
            setup.norce,
            setup.store,
            mode="event",
            event_grace=JOB_SECONDS * 2,
            sleep=setup.emulator.advance,
            clock=setup.now,
            monitor=Quiet(),
        )

        def receive(request: httpx.Request) -> httpx.Response:
            event = parse_event("JobCompletedEvent", request.content)
            assert isinstance(event, JobCompletedEvent)
            tracker.on_job_completed(event)
            return httpx.Response(200)

        setup.emulator.delivery_transport = httpx.MockTransport(receive)
        setup.emulator.subscribe("JobCompletedEvent", "https://receiver.example/norce")
        job_id = setup.submit()
        before = setup.wire.job_gets
        result = tracker.wait(job_id)
        assert result.succeeded, result
        assert result.resolved_by == "event", result
        return setup.wire.job_gets - before
    finally:
        setup.close()


def naive_polls(directory: Path) -> int:
    setup = Setup(directory, "naive")
    try:
        job_id = setup.submit()
        before = setup.wire.job_gets
        while True:
            setup.emulator.advance(1.0)
            if setup.norce.connect.get_job(job_id).status.is_terminal:
                return setup.wire.job_gets - before
    finally:
        setup.close()


def main() -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        polls = tracker_polls(directory)
        with_event = event_polls(directory)
        naive = naive_polls(directory)
    mean = statistics.mean(polls)
    print(f"emulated job length:              {JOB_SECONDS:.0f} s (queued 60 s, running 540 s)")
    print(
        f"JobTracker polls per job:         mean {mean:.1f}, max {max(polls)} "
        f"over {SEEDS} jitter seeds (target <= 12)"
    )
    print(f"JobTracker with JobCompletedEvent: {with_event} polls (target 0)")
    print(f"naive 1-second poller:            {naive} polls")
    print(f"ratio naive / tracker:            {naive / mean:.0f}x fewer Job/Get calls")
    print(f"wall time of this run:            {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
