"""A scheduled runner: a delta import every N seconds, a full import every night.

    python examples/scheduled_runner.py --emulator --once     # one delta, then exit (CI)
    python examples/scheduled_runner.py --interval 300        # NORCE_* from the environment

No scheduler library: a loop that sleeps on a ``threading.Event`` (so SIGTERM and
Ctrl+C stop it between runs, never in the middle of one). Each run is a
``DeltaImport.run()``: it resumes an interrupted run first, refuses to start while
another import of the same kind is in flight, and moves the watermark only after Norce
reports success, so a crash or a restart at any point loses nothing.

Prefer cron (``norce-integration import delta --config ...``) or APScheduler when you
already run one; the rules are in the SDK either way.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from csv_source import PRICES, CsvPrices, create_skus, write_csv

from norce_integration import ImportRefusedError, Norce, NorceError, NorceSettings
from norce_integration.patterns import (
    DeltaImport,
    FullImport,
    ImportStatus,
    JobTracker,
    PollSchedule,
)
from norce_integration.stores import SqliteStore
from norce_integration.testing import ManualClock, NorceEmulator


log = logging.getLogger("scheduled_runner")


def run_forever(
    delta: DeltaImport,
    full: FullImport,
    *,
    interval: float,
    full_at: dt.time,
    stop: threading.Event,
    once: bool = False,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> int:
    """Run deltas every ``interval`` seconds and a full import once a day after ``full_at``.

    Returns the number of failed runs (the process's exit code in ``--once`` mode).
    """
    failures = 0
    last_full: dt.date | None = None
    while not stop.is_set():
        started = time.monotonic()
        today = now().date()
        try:
            if last_full != today and now().time() >= full_at and not once:
                result = full.run()
                last_full = today
            else:
                result = delta.run()
            log.info(
                "%s %s: %s, %d items, jobs %s",
                result.mode,
                result.source,
                result.status,
                result.item_count,
                list(result.job_ids),
            )
            if result.status in (ImportStatus.FAILED, ImportStatus.TIMED_OUT_LOCALLY):
                failures += 1
        except ImportRefusedError as exc:
            # A safety rule said no (another run in flight, too soon, too many mapping
            # errors...). Nothing was sent; the next tick tries again.
            log.warning("refused: %s", exc)
            failures += 1
        except NorceError as exc:
            log.error("run failed: %s", exc)
            failures += 1
        if once:
            break
        stop.wait(max(0.0, interval - (time.monotonic() - started)))
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Delta imports on a schedule.")
    parser.add_argument("--interval", type=float, default=300.0, help="seconds between deltas")
    parser.add_argument("--full-at", default="02:00", help="UTC time of the nightly full import")
    parser.add_argument("--once", action="store_true", help="run one delta and exit")
    parser.add_argument("--emulator", action="store_true", help="use an in-process emulator")
    parser.add_argument("--csv", type=Path, default=Path("prices.csv"), help="the ERP export")
    parser.add_argument("--state", type=Path, default=Path("norce-state.sqlite"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    full_at = dt.time.fromisoformat(args.full_at)

    if not args.emulator:
        with Norce(NorceSettings.from_env()) as norce, SqliteStore(args.state) as store:
            tracker = JobTracker(norce, store)
            adapter = CsvPrices(args.csv)
            delta = DeltaImport(norce, PRICES, adapter, tracker=tracker)
            full = FullImport(norce, PRICES, adapter, tracker=tracker)
            return run_forever(
                delta, full, interval=args.interval, full_at=full_at, stop=stop, once=args.once
            )

    # --emulator: the same loop against an in-process Norce with simulated time.
    with tempfile.TemporaryDirectory() as tmp, NorceEmulator(clock=ManualClock()) as emulator:
        work = Path(tmp)

        def clock() -> float:
            return emulator.clock.now().timestamp()

        with (
            Norce(emulator.settings(), transport=emulator.transport()) as norce,
            SqliteStore(work / "state.sqlite", clock=clock) as store,
        ):
            tracker = JobTracker(
                norce,
                store,
                clock=clock,
                sleep=emulator.advance,
                schedule=PollSchedule(first_delay=1, interval=1, factor=1, jitter=0),
            )
            part_nos = [f"RUN-{n:03d}" for n in range(50)]
            create_skus(norce, emulator, part_nos)
            export = work / "prices.csv"
            write_csv(export, [(p, "100.00", emulator.clock.now()) for p in part_nos])
            emulator.advance(60)
            adapter = CsvPrices(export)
            delta = DeltaImport(norce, PRICES, adapter, tracker=tracker, clock=clock, work_dir=work)
            full = FullImport(norce, PRICES, adapter, tracker=tracker, clock=clock, work_dir=work)
            return run_forever(
                delta,
                full,
                interval=args.interval,
                full_at=full_at,
                stop=stop,
                once=args.once,
                now=emulator.clock.now,
            )


if __name__ == "__main__":
    raise SystemExit(main())
