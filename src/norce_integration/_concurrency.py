"""Concurrency primitives in matching pairs for the async sources and their twins.

``scripts/gen_sync.py`` rewrites ``AsyncLock`` to ``Lock``, ``AsyncEvent`` to ``Event``,
``async_sleep`` to ``sleep`` and ``async_wait_event`` to ``wait_event``, so an async
source imports the left-hand name and its generated blocking twin gets the right-hand
one. Add a pair here when a source needs one.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time


AsyncLock = asyncio.Lock
Lock = threading.Lock
AsyncEvent = asyncio.Event
Event = threading.Event


async def async_sleep(seconds: float) -> None:
    """Sleep without holding the event loop."""
    await asyncio.sleep(seconds)


def sleep(seconds: float) -> None:
    """Block the calling thread for ``seconds``."""
    time.sleep(seconds)


async def async_wait_event(event: asyncio.Event, seconds: float) -> bool:
    """Wait until ``event`` is set or ``seconds`` pass; whether it is set."""
    if not event.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)
    return event.is_set()


def wait_event(event: threading.Event, seconds: float) -> bool:
    """Block until ``event`` is set or ``seconds`` pass; whether it is set."""
    return event.wait(seconds)


__all__ = [
    "AsyncEvent",
    "AsyncLock",
    "Event",
    "Lock",
    "async_sleep",
    "async_wait_event",
    "sleep",
    "wait_event",
]
