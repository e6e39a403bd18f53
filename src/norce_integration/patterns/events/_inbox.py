"""The event handler's view of the store's webhook inbox: durable appends with dedup,
group commit, batched acks and releases.

Why not just ``Store.inbox_append``: the receiver must (1) drop a redelivery within the
dedup window, (2) never drop an event it answered 503 for, and (3) acknowledge within
Norce's 5 s budget at thousands of events per second. (1) and (2) need the dedup check
and the append in *one* transaction, or a failure between the two would make Norce's
retry look like a duplicate and lose the event. (3) needs many appends per commit: an
fsync per event caps a disk at a few thousand commits per second and makes every request
wait for its own fsync.

One backend, ``AsyncStoreInbox`` (``_async_inbox.py``; its generated twin ``StoreInbox``),
on the store contract: ``Store.inbox_write`` does the
dedup check and the append of a whole group in one transaction (dead letters too),
``dedup_expire`` re-arms keys when a worker claims their events, and
``inbox_ack_many``/``inbox_release_many`` settle a batch in one statement each.

Inbox rows are keyed ``~{unique prefix}#{dedup key}``: the inbox's own unique constraint
must not refuse a legitimate repeat of an identical body after the window (Norce bodies
carry only ids, so the same change twice has the same body), so the windowed dedup lives
in the dedup-key table and the inbox key only has to be unique. The prefix (a random
token per process, then a zero-padded counter) comes first so that one process's keys
are ascending: a group's keys land on the last page of the inbox's key index instead of
one random page each (a hash first cost one 4 KiB page write per event on SQLite).
Keys written before, ``{dedup key}#{suffix}``, are still read (:func:`dedup_of`).

Writes go through an :class:`InboxWriter`, which takes whatever requests are queued and
writes them in one transaction: :class:`AsyncWriter` (the async handler: a task awaiting
the asyncio store), :class:`ThreadWriter` (the blocking handler's default: a writer
thread, so the event loop never blocks on the store) or :class:`LoopWriter` (blocking
store in the loop's thread; for measurements only, it stalls the loop during commits).
Requests queue while a commit runs, so the group grows with the load and each request
waits for at most about two commits.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import queue
import secrets
import sqlite3
import threading
from collections.abc import Sequence
from typing import Any, Final, Literal, Protocol

import attrs

from ..._exceptions import StoreError


__all__ = [
    "AsyncInboxBackend",
    "AsyncWriter",
    "DedupUntil",
    "InboxBackend",
    "InboxWriter",
    "LoopWriter",
    "ThreadWriter",
    "WriterKind",
    "dedup_of",
    "make_async_writer",
    "make_writer",
    "new_inbox_key",
]

log = logging.getLogger(__name__)

DedupUntil = Literal["claimed", "window"]
"""How long a redelivery is dropped (see :class:`~norce_integration.patterns.EventHandler`)."""

_PROCESS_TOKEN: Final = secrets.token_hex(5)
_COUNTER = itertools.count(1)
_SEPARATOR: Final = "#"
_MARK: Final = "~"


def new_inbox_key(dedup: str) -> str:
    """``~{token}{counter}#{dedup}``: unique across processes (random token) and within
    (counter), ascending within a process."""
    return f"{_MARK}{_PROCESS_TOKEN}{next(_COUNTER):012x}{_SEPARATOR}{dedup}"


def dedup_of(inbox_key: str) -> str:
    """The dedup key an inbox key was made from (either layout; a key without a
    separator, from ``Store.inbox_append``, is its own dedup key)."""
    if inbox_key.startswith(_MARK):
        return inbox_key.partition(_SEPARATOR)[2]
    return inbox_key.partition(_SEPARATOR)[0]


@attrs.frozen
class Append:
    """One received event to store (``force``: skip the dedup check, for replays)."""

    dedup: str
    event_type: str
    payload: bytes
    force: bool = False


@attrs.frozen
class DeadLetterWrite:
    """One rejected request to keep for inspection."""

    source: str
    key: str | None
    payload: bytes
    error: str


Op = Append | DeadLetterWrite


class InboxBackend(Protocol):
    """Where a blocking writer writes (``StoreInbox``, over a ``Store``)."""

    def write(self, ops: Sequence[Op]) -> list[bool | int]:
        """Apply ``ops`` in one transaction: ``True``/``False`` per append (stored or
        duplicate), the letter id per dead letter.

        Raises:
            StoreError: the transaction failed; nothing was written.
        """
        ...


class AsyncInboxBackend(Protocol):
    """Where the asyncio writer writes (``AsyncStoreInbox``, over an ``AsyncStore``)."""

    async def write(self, ops: Sequence[Op]) -> list[bool | int]:
        """See :meth:`InboxBackend.write`."""
        ...


def split_ops(
    ops: Sequence[Op],
) -> tuple[list[tuple[str | None, str, str, bytes]], list[tuple[str, str | None, bytes, str]]]:
    """The ``entries`` and ``letters`` arguments of ``Store.inbox_write`` for ``ops``."""
    entries: list[tuple[str | None, str, str, bytes]] = []
    letters: list[tuple[str, str | None, bytes, str]] = []
    for op in ops:
        if isinstance(op, DeadLetterWrite):
            letters.append((op.source, op.key, op.payload, op.error))
        else:
            dedup = None if op.force else op.dedup
            entries.append((dedup, new_inbox_key(op.dedup), op.event_type, op.payload))
    return entries, letters


def merge_results(
    ops: Sequence[Op], stored: Sequence[bool], letter_ids: Sequence[int]
) -> list[bool | int]:
    """One result per op, in order, from what ``Store.inbox_write`` returned."""
    appended, written = iter(stored), iter(letter_ids)
    return [
        int(next(written)) if isinstance(op, DeadLetterWrite) else bool(next(appended))
        for op in ops
    ]


# ---------------------------------------------------------------------------- writers

WriterKind = Literal["thread", "loop"]
"""Where the receiver's group commits run (see :func:`make_writer`)."""


class InboxWriter(Protocol):
    """Writes the receiver's operations in groups and answers each request."""

    async def write(self, op: Op, wait: float) -> bool | int:
        """Queue ``op`` and wait until its group committed.

        Raises:
            StoreError: the transaction failed, or the writer is closed.
            TimeoutError: not committed within ``wait`` seconds.
        """
        ...

    async def shutdown(self) -> None:
        """Write what is queued, then stop (ASGI lifespan shutdown). Idempotent."""
        ...


class _Request:
    __slots__ = ("abandoned", "future", "loop", "op")

    def __init__(self, op: Op, loop: asyncio.AbstractEventLoop) -> None:
        self.op = op
        self.loop = loop
        self.future: asyncio.Future[bool | int] = loop.create_future()
        self.abandoned = False


def _settle(outcomes: list[tuple[asyncio.Future[bool | int], bool | int | BaseException]]) -> None:
    for future, outcome in outcomes:
        if future.done():
            continue  # timed out meanwhile: the caller already answered 503
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def _expire(request: _Request) -> None:
    request.abandoned = True
    if not request.future.done():
        request.future.set_exception(TimeoutError())


async def _wait(request: _Request, wait: float) -> bool | int:
    # A timer instead of asyncio.wait_for: no extra task per request on the hot path.
    timer = request.loop.call_later(wait, _expire, request)
    try:
        return await request.future
    finally:
        timer.cancel()


_STOP: Final = object()
_CLOSED: Final = "the event inbox writer is closed"


def _outcomes(
    backend: InboxBackend, group: list[_Request]
) -> list[tuple[_Request, bool | int | BaseException]]:
    """Write a group; on failure write its members one by one (one bad op fails alone)."""
    try:
        results: list[bool | int | BaseException] = list(backend.write([r.op for r in group]))
    except Exception as exc:  # noqa: BLE001 - every waiter must be answered
        if len(group) == 1:
            return [(group[0], _as_store_error(exc))]
        return [pair for request in group for pair in _outcomes(backend, [request])]
    return list(zip(group, results, strict=True))


async def _async_outcomes(
    backend: AsyncInboxBackend, group: list[_Request]
) -> list[tuple[_Request, bool | int | BaseException]]:
    """:func:`_outcomes` over an asyncio backend."""
    try:
        results: list[bool | int | BaseException] = list(await backend.write([r.op for r in group]))
    except Exception as exc:  # noqa: BLE001 - every waiter must be answered
        if len(group) == 1:
            return [(group[0], _as_store_error(exc))]
        return [pair for request in group for pair in await _async_outcomes(backend, [request])]
    return list(zip(group, results, strict=True))


class ThreadWriter:
    """One writer thread: takes whatever is queued, commits it as one group, and wakes
    each waiting event loop once per group.

    The event loop never blocks on the store, whatever holds its write lock (a worker
    process, a slow disk). Cost: the thread must win the GIL back from a busy loop after
    each statement (see :class:`StoreInbox`).

    Args:
        backend: where to write.
        max_group: the most requests per transaction (1: a commit per event).
    """

    def __init__(self, backend: InboxBackend, *, max_group: int = 512) -> None:
        self.backend = backend
        self.max_group = max(1, max_group)
        self._queue: queue.SimpleQueue[_Request | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.commits = 0

    async def write(self, op: Op, wait: float) -> bool | int:
        """See :meth:`InboxWriter.write`.

        Raises:
            StoreError: the transaction failed, or the writer is closed.
            TimeoutError: not committed within ``wait`` seconds.
        """
        request = _Request(op, asyncio.get_running_loop())
        with self._lock:
            if self._closed:
                raise StoreError(_CLOSED)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="norce-inbox-writer", daemon=True
                )
                self._thread.start()
            self._queue.put(request)
        return await _wait(request, wait)

    def close(self) -> None:
        """See :meth:`InboxWriter.close`."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            self._queue.put(_STOP)
        if thread is not None:
            thread.join(30.0)

    async def shutdown(self) -> None:
        """See :meth:`InboxWriter.shutdown` (joins the writer thread off the loop)."""
        await asyncio.to_thread(self.close)

    def _take(self) -> tuple[list[_Request], bool]:
        first = self._queue.get()
        if first is _STOP:
            return [], True
        group = [first] if isinstance(first, _Request) else []
        while len(group) < self.max_group:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is _STOP:
                return group, True
            if isinstance(more, _Request):
                group.append(more)
        return group, False

    def _run(self) -> None:
        while True:
            group, stop = self._take()
            # A request whose caller gave up is not written: it answered 503 and Norce
            # delivers the event again.
            live = [r for r in group if not r.abandoned]
            if live:
                outcomes = _outcomes(self.backend, live)
                self.commits += 1
                by_loop: dict[asyncio.AbstractEventLoop, list[Any]] = {}
                for request, outcome in outcomes:
                    by_loop.setdefault(request.loop, []).append((request.future, outcome))
                for loop, settled in by_loop.items():
                    with contextlib.suppress(RuntimeError):  # that loop is closed
                        loop.call_soon_threadsafe(_settle, settled)
            if stop:
                return


class LoopWriter:
    """Group commit in the event loop's own thread: requests that arrive in one loop
    iteration are written by one transaction, scheduled right after it.

    No thread and no GIL hand-offs: measured in-process it wrote 1.4-2x the thread's
    rate. Served by uvicorn on a small machine the HTTP layer dominates and it was no
    faster (``benchmarks/bench_events.py --compare-writers``). The loop is blocked while a
    commit runs, including while it waits for another process's write lock (up to the
    store's busy timeout), so it is not the default.

    Args:
        backend: where to write.
        max_group: the most requests per transaction.
    """

    def __init__(self, backend: InboxBackend, *, max_group: int = 512) -> None:
        self.backend = backend
        self.max_group = max(1, max_group)
        self._pending: list[_Request] = []
        self._scheduled = False
        self._closed = False
        self.commits = 0

    async def write(self, op: Op, wait: float) -> bool | int:
        """See :meth:`InboxWriter.write`.

        Raises:
            StoreError: the transaction failed, or the writer is closed.
            TimeoutError: not committed within ``wait`` seconds.
        """
        if self._closed:
            raise StoreError(_CLOSED)
        request = _Request(op, asyncio.get_running_loop())
        self._pending.append(request)
        if not self._scheduled:
            self._scheduled = True
            request.loop.call_soon(self._flush)
        return await _wait(request, wait)

    def _flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), self.max_group):
            live = [r for r in pending[start : start + self.max_group] if not r.abandoned]
            if live:
                _settle([(r.future, o) for r, o in _outcomes(self.backend, live)])
                self.commits += 1

    def close(self) -> None:
        """Refuse further writes (nothing is ever left queued between loop iterations)."""
        self._closed = True

    async def shutdown(self) -> None:
        """See :meth:`InboxWriter.shutdown`."""
        self.close()


class AsyncWriter:
    """Group commit for :class:`~norce_integration.patterns.AsyncEventHandler`: one task
    in the loop awaits the asyncio store (``AsyncSqliteStore`` runs SQLite on its own
    connection thread, ``AsyncPostgresStore`` talks to the server without a thread), so
    the loop never waits for a commit. Requests that arrive while a group is being
    written form the next group.

    Args:
        backend: where to write.
        max_group: the most requests per transaction (1: a commit per event).
    """

    def __init__(self, backend: AsyncInboxBackend, *, max_group: int = 512) -> None:
        self.backend = backend
        self.max_group = max(1, max_group)
        self._pending: list[_Request] = []
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.commits = 0

    async def write(self, op: Op, wait: float) -> bool | int:
        """See :meth:`InboxWriter.write`.

        Raises:
            StoreError: the transaction failed, or the writer is closed.
            TimeoutError: not committed within ``wait`` seconds.
        """
        if self._closed:
            raise StoreError(_CLOSED)
        request = _Request(op, asyncio.get_running_loop())
        self._pending.append(request)
        if self._task is None or self._task.done():
            self._task = request.loop.create_task(self._drain(), name="norce-inbox-writer")
        return await _wait(request, wait)

    async def _drain(self) -> None:
        while self._pending:
            group = self._pending[: self.max_group]
            del self._pending[: self.max_group]
            # A request whose caller gave up is not written: it answered 503 and Norce
            # delivers the event again.
            live = [r for r in group if not r.abandoned]
            if live:
                _settle([(r.future, o) for r, o in await _async_outcomes(self.backend, live)])
                self.commits += 1

    async def aclose(self) -> None:
        """Write what is queued, then refuse further writes. Idempotent."""
        self._closed = True
        task = self._task
        if task is not None and not task.done():
            await asyncio.shield(task)

    async def shutdown(self) -> None:
        """See :meth:`InboxWriter.shutdown`."""
        await self.aclose()


WRITER_KINDS: Final = ("thread", "loop")


def _group_size(kind: str, group_commit: bool) -> int:
    if kind not in WRITER_KINDS:
        msg = f"writer must be 'thread' or 'loop', got {kind!r}"
        raise ValueError(msg)
    return 512 if group_commit else 1


def make_writer(
    kind: str, backend: InboxBackend, *, group_commit: bool
) -> ThreadWriter | LoopWriter:
    """The receiver's writer over a blocking store: ``"thread"`` (default) or ``"loop"``.

    Raises:
        ValueError: an unknown kind.
    """
    size = _group_size(kind, group_commit)
    if kind == "thread":
        return ThreadWriter(backend, max_group=size)
    return LoopWriter(backend, max_group=size)


def make_async_writer(kind: str, backend: AsyncInboxBackend, *, group_commit: bool) -> AsyncWriter:
    """The receiver's writer over an asyncio store: an :class:`AsyncWriter` for either
    kind (the asyncio store never holds the loop, so there is nothing to choose).

    Raises:
        ValueError: an unknown kind.
    """
    return AsyncWriter(backend, max_group=_group_size(kind, group_commit))


def _as_store_error(exc: BaseException) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, sqlite3.Error):
        return StoreError(f"the event inbox write failed: {exc}")
    return StoreError(f"the event inbox write failed: {type(exc).__name__}: {exc}")
