"""Fault script: event workers that fail and are SIGKILLed settle the inbox promptly.

Issue 17's scenario: 10,000 webhooks in the inbox, worker processes whose target fails
20% of its calls, and three workers killed with SIGKILL while they hold batches (each
replaced by a new process). When the failures stop, the script measures how long the
inbox takes to settle (nothing pending or leased), and checks that no event was lost
and none delivered twice to the target by the happy path.

    python benchmarks/fault_event_workers.py                 # 10,000 events, 3 workers
    python benchmarks/fault_event_workers.py --events 2000   # quicker
    python benchmarks/fault_event_workers.py --lease 60 --retry-cap 600   # the old defaults

Prints figures; asserts nothing. The handler's defaults are used (lease 30 s, retry cap
30 s), so the figure shows what an operator gets without tuning.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _settings(base_url: str) -> Any:
    from norce_integration import NorceSettings

    return NorceSettings(
        client_id="norce-emulator",
        client_secret="emulator-secret",
        application_id=1042,
        account_id=1,
        connect_url=f"{base_url}/commerce/connect/4.0/",
        query_url=f"{base_url}/commerce/query/2.0/",
        token_url=f"{base_url}/identity/1.0/connect/token",
    )


class FlakyTarget:
    """Fails 20% of its calls while the ``failing`` file exists; logs what it received."""

    event_types = ("SkuChangedNotification",)
    select = ("PartNo",)
    name = "flaky"
    max_batch = 50

    def __init__(self, failing: Path, log: Path) -> None:
        self.failing = failing
        self.log = log.open("a", encoding="utf-8")
        self.random = random.Random(os.getpid())

    def map(self, entity: Any) -> Any:
        return entity.part_no

    def send(self, batch: Sequence[Any]) -> None:
        if self.failing.exists() and self.random.random() < 0.2:
            raise ConnectionError("target hiccup")
        self.log.write("".join(f"{p}\n" for p in batch))
        self.log.flush()


def worker(base_url: str, store_path: str, failing: str, log: str, lease: str, cap: str) -> None:
    from norce_integration import Norce
    from norce_integration.patterns import EventHandler
    from norce_integration.stores import SqliteStore

    with Norce(_settings(base_url)) as norce, SqliteStore(store_path) as store:
        handler = EventHandler(
            norce,
            store,
            targets=[FlakyTarget(Path(failing), Path(log))],
            poll_interval=0.2,
            **({"lease": float(lease)} if lease else {}),
            **({"retry_cap": float(cap)} if cap else {}),
        )
        handler.run()


def _seed(emulator: Any, part_nos: list[str]) -> None:
    """Create the SKUs through Connect, as an ERP's product import would."""
    from norce_integration import Norce
    from norce_integration.connect import models as m

    header = m.ProductHeader(
        account_id=1,
        full_file=False,
        product_fields_that_are_set=[m.ProductField.Variants],
        variant_fields_that_are_set=[m.VariantField.Skus],
        sku_fields_that_are_set=[m.SkuField.Status, m.SkuField.Type],
    )
    with Norce(emulator.settings(), transport=emulator.transport()) as norce:
        for start in range(0, len(part_nos), 2000):
            items = [
                m.Product(
                    manufacturer_code="ACME",
                    variants=[
                        m.Variant(
                            manufacturer_part_no=f"M-{p}",
                            skus=[
                                m.Sku(
                                    part_no=p, status=m.SkuStatus.Active, type=m.SkuType.ErpStandard
                                )
                            ],
                        )
                    ],
                )
                for p in part_nos[start : start + 2000]
            ]
            norce.connect.import_products(items, header)
            emulator.advance(120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--failing-for", type=float, default=20.0, help="seconds of failures")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--lease", default="", help="worker lease (default: the handler's)")
    parser.add_argument("--retry-cap", default="", help="retry cap (default: the handler's)")
    args = parser.parse_args()

    from norce_integration.event import dedup_key
    from norce_integration.patterns.events._inbox import new_inbox_key
    from norce_integration.stores import SqliteStore
    from norce_integration.testing import ManualClock, NorceEmulator

    tmp = Path(tempfile.mkdtemp(prefix="fault-events-"))
    store_path = tmp / "state.sqlite"
    failing = tmp / "failing"
    failing.touch()
    emulator = NorceEmulator(clock=ManualClock(), token_lifetime=10**7)
    part_nos = [f"F-{i:05d}" for i in range(args.events)]
    _seed(emulator, part_nos)
    with SqliteStore(store_path) as store:
        entries = []
        for part_no in part_nos:
            body = json.dumps(
                {"ClientId": 1042, "PartNo": part_no, "EntityChanged": "tClientProductSku"}
            ).encode()
            dedup = dedup_key("SkuChangedNotification", body)
            entries.append((dedup, new_inbox_key(dedup), "SkuChangedNotification", body))
        for start in range(0, len(entries), 1000):
            store.inbox_write(entries[start : start + 1000], window=0)
    with emulator.serve() as server:
        me = str(Path(__file__).resolve())

        def spawn(n: int) -> subprocess.Popen[bytes]:
            log = tmp / f"sent-{n}.log"
            return subprocess.Popen(
                [
                    sys.executable,
                    me,
                    "--worker",
                    server.base_url,
                    str(store_path),
                    str(failing),
                    str(log),
                    args.lease,
                    args.retry_cap,
                ],
                stdout=subprocess.DEVNULL,
                stderr=(tmp / f"worker-{n}.err").open("wb"),
            )

        started = time.monotonic()
        procs = [spawn(n) for n in range(args.workers)]
        spawned = args.workers
        kill_at = [args.failing_for * (k + 1) / (args.kills + 1) for k in range(args.kills)]
        killed = 0
        while time.monotonic() - started < args.failing_for:
            if killed < args.kills and time.monotonic() - started >= kill_at[killed]:
                victim = procs.pop(0)
                os.kill(victim.pid, signal.SIGKILL)
                victim.wait()
                procs.append(spawn(spawned))
                spawned += 1
                killed += 1
            time.sleep(0.1)
        failing.unlink()
        cleared = time.monotonic()
        with SqliteStore(store_path) as store:
            while time.monotonic() - cleared < args.timeout:
                counts = store.inbox_counts()
                if counts["pending"] == 0 and counts["leased"] == 0:
                    break
                time.sleep(0.2)
            settle = time.monotonic() - cleared
            counts = store.inbox_counts()
            settled = counts["pending"] == 0 and counts["leased"] == 0
            letters = len(store.list_dead_letters())
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    received = Counter(line for log in tmp.glob("sent-*.log") for line in log.read_text().split())
    missing = [p for p in part_nos if p not in received]
    repeats = sum(n - 1 for n in received.values() if n > 1)
    print(f"events:                         {args.events:,}")
    print(f"worker processes:               {args.workers} ({killed} SIGKILLed and replaced)")
    print(f"target failures:                20% of calls for {args.failing_for:.0f} s")
    print(
        f"lease / retry cap:              {args.lease or 'default'} / {args.retry_cap or 'default'}"
    )
    if settled:
        print(f"settled after failures cleared: {settle:.1f} s (goal < 60 s)")
    else:
        print(f"NOT settled {settle:.0f} s after the failures cleared (worker logs: {tmp})")
    print(f"inbox at the end:               {counts}")
    print(f"dead letters:                   {letters}")
    print(f"lost (never delivered):         {len(missing)}")
    print(f"delivered more than once:       {repeats} (at-least-once after a SIGKILL)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:8])
    else:
        main()
