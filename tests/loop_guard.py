"""A pytest plugin that fails any test whose event loop is held or blocked.

Issue 13: async code never blocks the loop. Every test is checked, in three ways:

* asyncio runs in debug mode (anyio's ``anyio_backend`` options in ``conftest.py``), so
  never-awaited coroutines and calls from the wrong thread are reported;
* on the loops of the async tests, a callback (a task step included) that holds the
  loop for more than :data:`HOLD_LIMIT` seconds of the loop thread's CPU time is an
  offence. CPU time, not wall time: on a shared two-core machine another process can
  stall the loop's thread without this code holding anything, and a wait on a lock or a
  socket is caught by the next check instead. Time the garbage collector spends in the
  callback is not counted either: a collection of the whole test session's heap lands
  in whichever callback allocates when it runs. Under coverage's line tracer the limit
  is :data:`COVERAGE_FACTOR` times larger, since tracing slows every line alike. An
  offence names the task it was a step of;
* a blocking ``sqlite3`` or ``psycopg`` call made on a thread whose event loop is running
  is an offence, wherever it comes from.

Offences fail the test at teardown with where they happened. A test that blocks on
purpose says so with ``@pytest.mark.blocking_allowed(reason)``.
"""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Iterator
from typing import Any

import pytest


HOLD_LIMIT = 0.05
"""Seconds of CPU time one callback may hold the loop."""

COVERAGE_FACTOR = 3.0
"""How much slower Python runs under coverage's line tracer (measured here: 2-3x). The
limit is for the code's own work, so a traced run allows ``HOLD_LIMIT`` times this."""


def _limit() -> float:
    """The hold limit for this run: :data:`HOLD_LIMIT`, scaled while coverage traces."""
    traced = sys.gettrace() is not None
    return HOLD_LIMIT * COVERAGE_FACTOR if traced else HOLD_LIMIT


_offences: list[str] = []
_lock = threading.Lock()
_guarded_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def _where() -> str:
    frames = [
        f"{frame.filename.rsplit('/src/', 1)[-1]}:{frame.lineno} in {frame.name}"
        for frame in traceback.extract_stack()[:-3]
        if "norce_integration" in frame.filename or "/tests/" in frame.filename
    ]
    return " <- ".join(reversed(frames[-4:])) or "outside the project"


def _record(message: str) -> None:
    with _lock:
        if len(_offences) < 20:
            _offences.append(message)


def _on_loop_thread() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _guarded(what: str, method: Callable[..., Any]) -> Callable[..., Any]:
    def check(*args: Any, **kwargs: Any) -> Any:
        if _on_loop_thread():
            _record(f"blocking {what} on the event loop's thread at {_where()}")
        return method(*args, **kwargs)

    check.__name__ = getattr(method, "__name__", what)
    check.__doc__ = getattr(method, "__doc__", None)
    return check


class _GuardedConnection(sqlite3.Connection):
    """``sqlite3.Connection`` that reports use on a thread running an event loop."""

    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        if _on_loop_thread():
            _record(f"blocking sqlite3 cursor() on the event loop's thread at {_where()}")
        return super().cursor(*args, **kwargs)

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        if _on_loop_thread():
            _record(f"blocking sqlite3 execute() on the event loop's thread at {_where()}")
        return super().execute(*args, **kwargs)

    def executemany(self, *args: Any, **kwargs: Any) -> Any:
        if _on_loop_thread():
            _record(f"blocking sqlite3 executemany() on the event loop's thread at {_where()}")
        return super().executemany(*args, **kwargs)

    def executescript(self, *args: Any, **kwargs: Any) -> Any:
        if _on_loop_thread():
            _record(f"blocking sqlite3 executescript() on the event loop's thread at {_where()}")
        return super().executescript(*args, **kwargs)

    def commit(self) -> None:
        if _on_loop_thread():
            _record(f"blocking sqlite3 commit() on the event loop's thread at {_where()}")
        super().commit()


_real_connect = sqlite3.connect


def _connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
    kwargs.setdefault("factory", _GuardedConnection)
    if _on_loop_thread():
        _record(f"blocking sqlite3.connect() on the event loop's thread at {_where()}")
    return _real_connect(*args, **kwargs)


class _GcClock(threading.local):
    """CPU seconds this thread spent in the garbage collector (``gc.callbacks``)."""

    seconds = 0.0
    started = 0.0


_gc = _GcClock()


def _gc_timer(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _gc.started = time.thread_time()
    elif _gc.started:
        _gc.seconds += time.thread_time() - _gc.started
        _gc.started = 0.0


def _task_of(handle: asyncio.Handle) -> str:
    """Which task's step it was, and where that task waits now (to find the culprit)."""
    task = getattr(getattr(handle, "_callback", None), "__self__", None)
    if not isinstance(task, asyncio.Task):
        return ""
    coro = task.get_coro()
    name = getattr(coro, "__qualname__", repr(coro))
    frames = task.get_stack(limit=1)
    where = f" at {frames[0].f_code.co_filename}:{frames[0].f_lineno}" if frames else ""
    return f" (task {name}{where})"


def _hold_check(run: Callable[[asyncio.Handle], None]) -> Callable[[asyncio.Handle], None]:
    def _run(handle: asyncio.Handle) -> None:
        loop = asyncio.get_running_loop()
        if loop not in _guarded_loops:
            run(handle)
            return
        started, collected = time.thread_time(), _gc.seconds
        run(handle)
        # The collector's pauses are not the callback's work: a full collection of a
        # test session's heap lands in whichever callback allocates at that moment.
        held = time.thread_time() - started - (_gc.seconds - collected)
        if held > _limit():
            _record(
                f"a callback held the event loop for {held * 1000:.0f} ms of CPU: {handle!r}"
                f"{_task_of(handle)}"
            )

    return _run


def _install() -> None:
    gc.callbacks.append(_gc_timer)
    sqlite3.connect = _connect  # type: ignore[assignment]
    handle_run = asyncio.events.Handle._run
    asyncio.events.Handle._run = _hold_check(handle_run)  # type: ignore[method-assign]
    try:
        import psycopg
        import psycopg_pool
    except ImportError:  # pragma: no cover - the postgres extra is installed in CI
        return
    for cls, names in (
        (psycopg.Connection, ("execute", "commit", "rollback", "cursor", "connect")),
        (psycopg.Cursor, ("execute", "executemany", "copy")),
        (psycopg_pool.ConnectionPool, ("getconn", "connection", "wait", "open")),
    ):
        for name in names:
            original = getattr(cls, name)
            if isinstance(vars(cls).get(name), classmethod):
                wrapped = _guarded(f"psycopg {cls.__name__}.{name}()", original)
                setattr(cls, name, staticmethod(wrapped))
            else:
                setattr(cls, name, _guarded(f"psycopg {cls.__name__}.{name}()", original))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "blocking_allowed(reason): the test blocks its event loop on purpose"
    )
    _install()


def loop_factory() -> asyncio.AbstractEventLoop:
    """The event loop every anyio test runs on: debug mode, slow callbacks logged."""
    loop = asyncio.new_event_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = HOLD_LIMIT
    _guarded_loops.add(loop)
    return loop


@pytest.fixture(autouse=True)
def _loop_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    with _lock:
        _offences.clear()
    yield
    with _lock:
        found = list(_offences)
        _offences.clear()
    if found and request.node.get_closest_marker("blocking_allowed") is None:
        pytest.fail("the event loop was blocked:\n  " + "\n  ".join(found), pytrace=False)
