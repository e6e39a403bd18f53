"""Where SQLite work runs: :class:`SqliteRunner` (the calling thread) and
:class:`AsyncSqliteRunner` (one dedicated thread per store, awaited from asyncio).

A runner owns the connections, opens and configures them (WAL, ``busy_timeout``,
``synchronous = FULL``, page cache), migrates at open, and runs an operation (a function
of :mod:`._sqlite_ops` taking the connection first) in a read or a ``BEGIN IMMEDIATE``
write transaction, turning every ``sqlite3`` error into a
:class:`~norce_integration.StoreError`. The two runners have the same methods, so the
store's async source and its generated twin differ only in ``await``.

Concurrency model:

* **Threads** (:class:`SqliteRunner`): one connection per thread (SQLite connections
  must not run two transactions at once); all are closed by ``close``. An in-memory
  database has a single connection guarded by a lock, because every connection to
  ``":memory:"`` would otherwise be a different database.
* **asyncio** (:class:`AsyncSqliteRunner`): one connection on one worker thread, as
  aiosqlite does; the event loop only queues a call and awaits its future, so no
  ``sqlite3`` call ever runs on the loop's thread.
* **Processes**: WAL journal (readers never block the writer), ``busy_timeout`` so a
  writer waits for another instead of failing, and ``BEGIN IMMEDIATE`` for every
  read-modify-write, so the write lock is taken before the read and two processes can
  never both see the same "free" row.
* **Waiting for a lock**: SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25, 25,
  25, 50, 50, 100 ms in turn, so a writer that found the lock taken sleeps on for up to
  tens of milliseconds after it was freed; with a webhook group commit waiting, that is
  the acknowledgement's latency whenever a worker process writes. So SQLite waits only
  :data:`SQLITE_WAIT_MS` itself, and the runner retries a busy transaction from the start
  in steps of at most a millisecond until ``busy_timeout`` (a transaction that failed busy
  was rolled back, so running it again is safe).
* **Checkpoints**: with ``checkpoint_interval``, a background thread runs
  ``wal_checkpoint(PASSIVE)`` on its own connection (automatic checkpoints are off), so
  no commit stalls behind a checkpoint's fsync.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Concatenate, Final, ParamSpec, TypeVar

import attrs

from .._exceptions import StoreError


__all__ = ["AsyncSqliteRunner", "SqliteOptions", "SqliteRunner"]

P = ParamSpec("P")
T = TypeVar("T")

Op = Callable[Concatenate[sqlite3.Connection, P], T]


@attrs.frozen
class SqliteOptions:
    """How to open the file (the store's constructor arguments)."""

    path: str
    busy_timeout: float = 30.0
    cache_mb: float = 64.0
    checkpoint_interval: float | None = 1.0

    @property
    def memory(self) -> bool:
        return self.path == ":memory:" or self.path.startswith("file::memory:")

    @property
    def checkpoints(self) -> float | None:
        return None if self.memory else self.checkpoint_interval


def _connect(options: SqliteOptions) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(
            options.path,
            timeout=options.busy_timeout,
            isolation_level=None,  # we issue BEGIN ourselves
            check_same_thread=False,  # close() may run on another thread
            uri=options.path.startswith("file:"),
        )
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {options.path}: {exc}") from exc
    try:
        conn.execute(f"PRAGMA busy_timeout = {_sqlite_wait_ms(options)}")
        if not options.memory:
            _wal(conn, options.busy_timeout)
            # FULL: a committed job id or acknowledged webhook must survive a power
            # loss, not only a process crash; commits here are few and small.
            conn.execute("PRAGMA synchronous = FULL")
            if options.checkpoints is not None:
                conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute("PRAGMA foreign_keys = ON")
        # Random-order fingerprint checks over a million keys miss SQLite's default
        # 2 MB page cache on most lookups (~180k checks/s); 64 MB keeps the B-tree
        # resident (~400k checks/s). Pages are allocated only as they are used.
        conn.execute(f"PRAGMA cache_size = {-int(options.cache_mb * 1024)}")
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(f"cannot configure {options.path}: {exc}") from exc
    return conn


SQLITE_WAIT_MS: Final = 2
"""Milliseconds SQLite's busy handler waits before the runner's retry loop takes over."""
_MAX_PAUSE: Final = 0.001


def _sqlite_wait_ms(options: SqliteOptions) -> int:
    return max(0, min(int(options.busy_timeout * 1000), SQLITE_WAIT_MS))


def _busy(exc: BaseException | None) -> bool:
    """Whether a ``sqlite3`` error says another connection holds a lock."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(exc) or "busy" in str(exc)


def _patiently(mode: Mode[T], conn: sqlite3.Connection, path: str, call: Call[T], wait: float) -> T:
    """``mode(conn, path, call)``, run again while it fails busy, for up to ``wait`` s."""
    deadline = time.monotonic() + wait
    pause = 0.0001
    while True:
        try:
            return mode(conn, path, call)
        except StoreError as exc:
            if not _busy(exc.__cause__) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, _MAX_PAUSE)


def _wal(conn: sqlite3.Connection, busy_timeout: float) -> None:
    """Switch to WAL; a fresh file being set up by another connection is retried, because
    the switch reports "locked" at once instead of waiting ``busy_timeout``."""
    deadline = time.monotonic() + busy_timeout
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.005)
        else:
            return


def _prepare(options: SqliteOptions) -> None:
    if not options.memory:
        try:
            Path(options.path).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            msg = f"cannot create the directory of {options.path}: {exc}"
            raise StoreError(msg) from exc


Call = Callable[[sqlite3.Connection], T]
Mode = Callable[[sqlite3.Connection, str, Call[T]], T]


def _read(conn: sqlite3.Connection, path: str, call: Call[T]) -> T:
    try:
        return call(conn)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: {exc}") from exc


def _write(conn: sqlite3.Connection, path: str, call: Call[T]) -> T:
    """One ``BEGIN IMMEDIATE`` transaction: the write lock is held from the first read."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot start a transaction: {exc}") from exc
    try:
        result = call(conn)
    except BaseException as exc:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            raise StoreError(f"{path}: {exc}") from exc
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise StoreError(f"{path}: commit failed: {exc}") from exc
    return result


def _setup(conn: sqlite3.Connection, path: str, call: Call[None]) -> None:
    try:
        _write(conn, path, call)
    except StoreError as exc:
        if isinstance(exc.__cause__, sqlite3.Error):
            raise StoreError(f"cannot migrate {path}: {exc.__cause__}") from exc.__cause__
        raise


class SqliteRunner:
    """Runs operations on the calling thread, on that thread's own connection.

    Args:
        options: how to open the file.
        name: the store's name in error messages (``"SqliteStore('x.sqlite')"``).
        setup: run once at open in a write transaction (the migration), with ``args``.

    Raises:
        StoreError: the file cannot be opened or set up.
    """

    def __init__(
        self,
        options: SqliteOptions,
        name: str,
        setup: Callable[..., None],
        *args: object,
    ) -> None:
        self.options = options
        self._name = name
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._registry = threading.Lock()
        # Serialises use of the single in-memory connection; file databases need no lock
        # because each thread has its own connection.
        self._guard: threading.RLock | None = threading.RLock() if options.memory else None
        self._closed = False
        self._checkpointer: _Checkpointer | None = None
        _prepare(options)
        self._wait = options.busy_timeout
        with self._lock():
            _patiently(
                _setup, self._conn(), options.path, lambda conn: setup(conn, *args), self._wait
            )

    def read(self, fn: Op[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(connection, *args)`` outside a write transaction."""
        with self._lock():
            call: Call[T] = lambda conn: fn(conn, *args, **kwargs)  # noqa: E731
            return _patiently(_read, self._conn(), self.options.path, call, self._wait)

    def write(self, fn: Op[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(connection, *args)`` in one ``BEGIN IMMEDIATE`` transaction."""
        with self._lock():
            call: Call[T] = lambda conn: fn(conn, *args, **kwargs)  # noqa: E731
            return _patiently(_write, self._conn(), self.options.path, call, self._wait)

    def close(self) -> None:
        """Close every connection, in every thread, and stop the checkpointer."""
        with self._registry:
            self._closed = True
            connections, self._connections = self._connections, []
            checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.stop()
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _lock(self) -> contextlib.AbstractContextManager[object]:
        return self._guard if self._guard is not None else contextlib.nullcontext()

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            msg = f"{self._name} is closed"
            raise StoreError(msg)
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None and self.options.memory and self._connections:
            conn = self._connections[0]
        if conn is None:
            conn = self._register(_connect(self.options))
            self._local.conn = conn
        return conn

    def _register(self, conn: sqlite3.Connection) -> sqlite3.Connection:
        with self._registry:
            if self._closed:  # closed by another thread meanwhile
                conn.close()
                msg = f"{self._name} is closed"
                raise StoreError(msg)
            self._connections.append(conn)
            interval = self.options.checkpoints
            if interval is not None and self._checkpointer is None:
                self._checkpointer = _Checkpointer(self.options, interval)
        return conn


class AsyncSqliteRunner:
    """Runs operations on one dedicated thread and connection; callers await the result.

    The constructor does no I/O on the calling thread: opening, configuring and the
    setup are the thread's first job, and their failure is raised by every later call.
    Calls run one at a time in the order they were made.

    Args:
        options: how to open the file.
        name: the store's name in error messages.
        setup: run once at open in a write transaction (the migration), with ``args``.
    """

    def __init__(
        self,
        options: SqliteOptions,
        name: str,
        setup: Callable[..., None],
        *args: object,
    ) -> None:
        self.options = options
        self._name = name
        self._conn: sqlite3.Connection | None = None
        self._checkpointer: _Checkpointer | None = None
        self._closed = False
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="norce-sqlite"
        )
        self._opened = self._executor.submit(self._open, lambda conn: setup(conn, *args))

    async def read(self, fn: Op[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(connection, *args)`` outside a write transaction, on the store's thread."""
        return await self._submit(_read, lambda conn: fn(conn, *args, **kwargs))

    async def write(self, fn: Op[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(connection, *args)`` in one ``BEGIN IMMEDIATE`` transaction, on the thread."""
        return await self._submit(_write, lambda conn: fn(conn, *args, **kwargs))

    async def aclose(self) -> None:
        """Close the connection, stop the checkpointer and the thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(RuntimeError):
            await asyncio.wrap_future(self._executor.submit(self._close))
        self._executor.shutdown(wait=False)

    async def _submit(self, mode: Mode[T], call: Call[T]) -> T:
        if self._closed:
            msg = f"{self._name} is closed"
            raise StoreError(msg)
        try:
            future = self._executor.submit(self._call, mode, call)
        except RuntimeError:  # shut down
            msg = f"{self._name} is closed"
            raise StoreError(msg) from None
        return await asyncio.wrap_future(future)

    def _open(self, setup: Call[None]) -> None:
        _prepare(self.options)
        conn = _connect(self.options)
        try:
            _patiently(_setup, conn, self.options.path, setup, self.options.busy_timeout)
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        interval = self.options.checkpoints
        if interval is not None:
            self._checkpointer = _Checkpointer(self.options, interval)

    def _call(self, mode: Mode[T], call: Call[T]) -> T:
        self._opened.result()  # done (it ran first on this thread); raises its failure
        if self._conn is None:
            msg = f"{self._name} is closed"
            raise StoreError(msg)
        return _patiently(mode, self._conn, self.options.path, call, self.options.busy_timeout)

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.stop()
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()


class _Checkpointer:
    """Runs ``wal_checkpoint(PASSIVE)`` on its own thread and connection.

    PASSIVE never blocks writers or readers; it copies what it can and fsyncs the
    database file off the committing threads. Holds no reference to the store, so a store
    that is dropped without closing does not keep it alive (the thread is a daemon).
    """

    def __init__(self, options: SqliteOptions, interval: float) -> None:
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run,
            args=(options.path, interval, options.busy_timeout, self._stopped),
            name="norce-sqlite-checkpoint",
            daemon=True,
        )
        self._thread.start()

    @staticmethod
    def _run(path: str, interval: float, busy_timeout: float, stopped: threading.Event) -> None:
        try:
            conn = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
        except sqlite3.Error:
            return
        try:
            while not stopped.wait(interval):
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            conn.close()

    def stop(self) -> None:
        self._stopped.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)
