"""Concurrency primitives in matching pairs for the async sources and their twins.

``scripts/gen_sync.py`` rewrites ``AsyncLock`` to ``Lock``, ``AsyncEvent`` to ``Event`` and
``async_sleep`` to ``sleep``, so an async source imports the left-hand name and its
generated blocking twin gets the right-hand one. Add a pair here when a source needs one.
"""

from __future__ import annotations

import asyncio
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


__all__ = ["AsyncEvent", "AsyncLock", "Event", "Lock", "async_sleep", "sleep"]
