"""The loop guard (tests/loop_guard.py) sees what it must fail on, and nothing else."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest

from tests import loop_guard


@pytest.mark.anyio
@pytest.mark.blocking_allowed("proves the guard records a blocking sqlite3 call")
async def test_blocking_sqlite_on_the_loop_is_recorded() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("select 1")
    conn.close()
    assert any("sqlite3 execute()" in o for o in loop_guard._offences)
    assert any("sqlite3.connect()" in o for o in loop_guard._offences)


@pytest.mark.anyio
@pytest.mark.blocking_allowed("proves the guard records a callback that holds the loop")
async def test_a_callback_holding_the_loop_is_recorded() -> None:
    started = time.thread_time()
    while time.thread_time() - started < loop_guard._limit() * 1.5:
        pass
    await asyncio.sleep(0)  # end the task step so its time is measured
    assert any("held the event loop" in o for o in loop_guard._offences)


@pytest.mark.anyio
async def test_sqlite_on_another_thread_and_short_steps_are_fine() -> None:
    def work() -> None:
        conn = sqlite3.connect(":memory:")
        conn.execute("select 1")
        conn.close()

    await asyncio.to_thread(work)
    await asyncio.sleep(0.001)
    assert loop_guard._offences == []


def test_sqlite_without_a_loop_is_fine() -> None:
    sqlite3.connect(":memory:").execute("select 1")
    assert loop_guard._offences == []


@pytest.mark.anyio
async def test_async_tests_run_in_debug_mode() -> None:
    assert asyncio.get_running_loop().get_debug()
    assert asyncio.get_running_loop().slow_callback_duration == loop_guard.HOLD_LIMIT
