"""The event handler's view of the store's webhook inbox: durable appends with dedup,
group commit, batched acks and releases.

Why not just ``Store.inbox_append``: the receiver must (1) drop a redelivery within the
dedup window, (2) never drop an event it answered 503 for, and (3) acknowledge within
Norce's 5 s budget at thousands of events per second. (1) and (2) need the dedup check
and the append in *one* transaction, or a failure between the two would make Norce's
retry look like a duplicate and lose the event. (3) needs many appends per commit: an
fsync per event caps a disk at a few thousand commits per second and makes every request
wait for its own fsync.

One backend, :class:`StoreInbox`, on the store contract: ``Store.inbox_write`` does the
dedup check and the append of a whole group in one transaction (dead letters too),
``dedup_expire`` re-arms keys when a worker claims their events, and
``inbox_ack_many``/``inbox_release_many`` settle a batch in one statement each.

Inbox rows are keyed ``{dedup key}#{unique suffix}``: the inbox's own unique constraint
must not refuse a legitimate repeat of an identical body after the window (Norce bodies
carry only ids, so the same change twice has the same body), so the windowed dedup lives
in the dedup-key table and the inbox key only has to be unique.

Writes go through an :class:`InboxWriter`, which takes whatever requests are queued and
writes them in one transaction: :class:`ThreadWriter` (a writer thread; the event loop
never blocks on the store) or :class:`LoopWriter` (in the loop's thread; faster, blocks
the loop during commits). Requests queue while a commit runs, so the group grows with
the load and each request waits for at most about two commits.
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

from .._exceptions import StoreError
from ..stores import Store


__all__ = [
    "DedupUntil",
    "InboxWriter",
    "LoopWriter",
    "ThreadWriter",
    "WriterKind",
    "dedup_of",
    "inbox_backend",
    "make_writer",
    "new_inbox_key",
]

log = logging.getLogger(__name__)

DedupUntil = Literal["claimed", "window"]
"""How long a redelivery is dropped (see :class:`~norce_integration.patterns.EventHandler`)."""

_PROCESS_TOKEN: Final = secrets.token_hex(5)
_COUNTER = itertools.count(1)
_SEPARATOR: Final = "#"


def new_inbox_key(dedup: str) -> str:
    """``{dedup}#{suffix}``: unique across processes (random token) and within (counter)."""
    return f"{dedup}{_SEPARATOR}{_PROCESS_TOKEN}{next(_COUNTER):x}"


def dedup_of(inbox_key: str) -> str:
    """The dedup key an inbox key was made from."""
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
    """What the writer and the workers need from a store."""

    store: Store
    atomic: bool

    def write(self, ops: Sequence[Op]) -> list[bool | int]:
        """Apply ``ops`` in one transaction: ``True``/``False`` per append (stored or
        duplicate), the letter id per dead letter.

        Raises:
            StoreError: the transaction failed; nothing was written.
        """
        ...

    def rearm(self, dedups: Sequence[str]) -> None:
        """End the dedup window of these keys now (their events are being processed)."""
        ...

    def ack_many(self, item_ids: Sequence[int], owner: str) -> int:
        """Mark leased items done; returns how many were still held by ``owner``."""
        ...

    def release_many(self, releases: Sequence[tuple[int, str | None, float]], owner: str) -> int:
        """Give leased items back: ``(item_id, error, delay)``; returns how many."""
        ...


class StoreInbox:
    """The inbox operations of the store contract, as the writer and the workers use
    them: ``inbox_write`` (dedup check and append atomic, a group in one commit, dead
    letters in the same transaction), ``dedup_expire``, ``inbox_ack_many`` and
    ``inbox_release_many``. Every :class:`~norce_integration.stores.Store` has them."""

    atomic = True

    def __init__(self, store: Store, *, window: float) -> None:
        self.store = store
        self._window = window

    def write(self, ops: Sequence[Op]) -> list[bool | int]:
        entries, letters = split_ops(ops)
        stored, letter_ids = self.store.inbox_write(entries, window=self._window, letters=letters)
        return merge_results(ops, stored, letter_ids)

    def rearm(self, dedups: Sequence[str]) -> None:
        if dedups and self._window > 0:
            self.store.dedup_expire(list(dict.fromkeys(dedups)))

    def ack_many(self, item_ids: Sequence[int], owner: str) -> int:
        return self.store.inbox_ack_many(list(item_ids), owner) if item_ids else 0

    def release_many(self, releases: Sequence[tuple[int, str | None, float]], owner: str) -> int:
        return self.store.inbox_release_many(list(releases), owner) if releases else 0


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


def inbox_backend(store: Store, *, window: float, dedup_until: DedupUntil) -> InboxBackend:
    """The inbox of ``store``, through the store contract (``dedup_until`` is honoured by
    the workers, which end a key's window when they claim its event)."""
    del dedup_until
    return StoreInbox(store, window=window)


# ---------------------------------------------------------------------------- writers

WriterKind = Literal["thread", "loop"]
"""Where the receiver's group commits run (see :func:`make_writer`)."""


class InboxWriter(Protocol):
    """Writes the receiver's operations in groups and answers each request."""

    backend: InboxBackend

    async def write(self, op: Op, wait: float) -> bool | int:
        """Queue ``op`` and wait until its group committed.

        Raises:
            StoreError: the transaction failed, or the writer is closed.
            TimeoutError: not committed within ``wait`` seconds.
        """
        ...

    def close(self) -> None:
        """Write what is queued, then stop. Idempotent."""
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
        """See :meth:`InboxWriter.close`."""
        self._closed = True


def make_writer(kind: str, backend: InboxBackend, *, group_commit: bool) -> InboxWriter:
    """The receiver's writer: ``"thread"`` (default) or ``"loop"``.

    Raises:
        ValueError: an unknown kind.
    """
    size = 512 if group_commit else 1
    if kind == "thread":
        return ThreadWriter(backend, max_group=size)
    if kind == "loop":
        return LoopWriter(backend, max_group=size)
    msg = f"writer must be 'thread' or 'loop', got {kind!r}"
    raise ValueError(msg)


def _as_store_error(exc: BaseException) -> StoreError:
    if isinstance(exc, StoreError):
        return exc
    if isinstance(exc, sqlite3.Error):
        return StoreError(f"the event inbox write failed: {exc}")
    return StoreError(f"the event inbox write failed: {type(exc).__name__}: {exc}")
