"""A worker killed with SIGKILL mid-batch loses nothing: after its lease expires another
worker takes its claims, and every event reaches the target at least once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from norce_integration.stores import InboxStatus

from ._event_support import Env, Target


HERE = Path(__file__).parent

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_worker_killed_mid_batch_loses_nothing(tmp_path):
    clock = Clock()
    store_path = tmp_path / "state.sqlite"
    sent_log = tmp_path / "sent.log"
    env = Env(str(store_path), clock=clock)
    try:
        receiver = env.handler()
        receiver.add_target(Target())
        env.deliver_to(receiver, "SkuChangedNotification")
        part_nos = [f"K-{i:03d}" for i in range(50)]
        env.import_skus(part_nos)
        # Deliveries go through httpx.ASGITransport, which needs an event loop.
        asyncio.run(env.emulator.aadvance(10))
        with env.emulator.serve() as server:
            child = subprocess.Popen(
                [
                    sys.executable,
                    str(HERE / "event_crash_worker.py"),
                    server.base_url,
                    str(store_path),
                    str(sent_log),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                assert child.stdout is not None
                line = child.stdout.readline()
                assert line.strip() == "HANGING", line + (
                    child.stderr.read() if child.stderr else ""
                )
                os.kill(child.pid, signal.SIGKILL)
                assert child.wait(10) == -signal.SIGKILL
            finally:
                if child.poll() is None:
                    child.kill()
                    child.wait(10)
                for pipe in (child.stdout, child.stderr):
                    if pipe is not None:
                        pipe.close()
        sent_by_child = sent_log.read_text().split()
        assert len(sent_by_child) == 10
        leased = [env.store.inbox_get(i) for i in range(1, 51)]
        assert all(item is not None and item.status is InboxStatus.LEASED for item in leased)

        worker = env.handler()
        target = Target(select=("PartNo",))  # the same target as the child's
        worker.add_target(target)
        assert worker.run_once().claimed == 0  # the dead worker's lease still runs
        clock.offset += 61
        report = worker.run_once()
        assert report.claimed == 50
        # What the child sent (and recorded) is not sent again; the rest is.
        assert (report.sent, report.skipped_unchanged) == (40, 10)
        assert sorted(set(sent_by_child) | set(target.part_nos())) == part_nos
        assert all(env.store.inbox_get(i).status is InboxStatus.DONE for i in range(1, 51))
    finally:
        env.close()
