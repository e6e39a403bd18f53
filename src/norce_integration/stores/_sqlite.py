"""The embedded default store: one SQLite file (stdlib :mod:`sqlite3`).

Concurrency model:

* **Threads**: one connection per thread (SQLite connections must not run two
  transactions at once); all are closed by :meth:`SqliteStore.close`. An in-memory
  database has a single connection guarded by a lock, because every connection to
  ``":memory:"`` would otherwise be a different database.
* **Processes**: WAL journal (readers never block the writer), ``busy_timeout`` so a
  writer waits for another instead of failing, and ``BEGIN IMMEDIATE`` for every
  read-modify-write (claims, compare-and-set, locks), so the write lock is taken before
  the read and two processes can never both see the same "free" row.
* **Schema**: a ``schema_version`` table and ordered migrations, applied in one
  transaction at open. A file written by a newer SDK is refused, never downgraded.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from .._exceptions import StoreError
from ._protocol import (
    FINAL_STATUSES,
    DeadLetter,
    FullImportRecord,
    InboxItem,
    InboxStatus,
    InFlightLock,
    ItemVersion,
    JobObservation,
    SpoolEntry,
    TrackedJob,
    TrackedStatus,
    Watermark,
)
from ._rows import inbox_from_row, job_from_row


__all__ = ["MIGRATIONS", "SqliteStore"]

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    # 1: everything the SDK keeps today.
    (
        """CREATE TABLE watermarks (
            kind TEXT NOT NULL, account_id INTEGER NOT NULL, source TEXT NOT NULL,
            value TEXT NOT NULL, version INTEGER NOT NULL, updated_at REAL NOT NULL,
            PRIMARY KEY (kind, account_id, source)) WITHOUT ROWID""",
        """CREATE TABLE jobs (
            job_id INTEGER PRIMARY KEY, kind TEXT NOT NULL, is_full INTEGER NOT NULL,
            account_id INTEGER NOT NULL, submitted_at REAL NOT NULL,
            item_count INTEGER NOT NULL, payload_digest TEXT NOT NULL,
            payload_size INTEGER NOT NULL, header TEXT NOT NULL, status TEXT NOT NULL,
            status_id INTEGER, totals INTEGER, inserts INTEGER, updates INTEGER,
            fail INTEGER, started_at REAL, finished_at REAL, last_updated REAL,
            polls INTEGER NOT NULL DEFAULT 0, rerun_of INTEGER, superseded_by INTEGER)""",
        "CREATE INDEX jobs_by_kind ON jobs (kind, account_id, submitted_at)",
        "CREATE INDEX jobs_by_status ON jobs (status, submitted_at)",
        """CREATE TABLE job_history (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            job_id INTEGER NOT NULL REFERENCES jobs (job_id) ON DELETE CASCADE,
            seen_at REAL NOT NULL, status TEXT NOT NULL, status_id INTEGER,
            last_updated REAL, source TEXT NOT NULL, note TEXT NOT NULL)""",
        "CREATE INDEX job_history_by_job ON job_history (job_id, seq)",
        """CREATE TABLE full_imports (
            kind TEXT NOT NULL, account_id INTEGER NOT NULL, job_id INTEGER NOT NULL,
            finished_at REAL NOT NULL, item_count INTEGER NOT NULL,
            PRIMARY KEY (kind, account_id)) WITHOUT ROWID""",
        """CREATE TABLE item_versions (
            kind TEXT NOT NULL, item_key TEXT NOT NULL, fingerprint TEXT NOT NULL,
            version TEXT, PRIMARY KEY (kind, item_key)) WITHOUT ROWID""",
        """CREATE TABLE inbox (
            item_id INTEGER PRIMARY KEY AUTOINCREMENT, dedup_key TEXT NOT NULL UNIQUE,
            event_type TEXT NOT NULL, payload BLOB NOT NULL, received_at REAL NOT NULL,
            status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, lease_owner TEXT,
            lease_expires_at REAL, available_at REAL NOT NULL, done_at REAL,
            last_error TEXT)""",
        "CREATE INDEX inbox_claimable ON inbox (status, available_at, item_id)",
        """CREATE TABLE dedup_keys (
            dedup_key TEXT PRIMARY KEY, expires_at REAL NOT NULL) WITHOUT ROWID""",
        "CREATE INDEX dedup_keys_by_expiry ON dedup_keys (expires_at)",
        """CREATE TABLE dead_letters (
            letter_id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL,
            letter_key TEXT, payload BLOB NOT NULL, error TEXT NOT NULL,
            created_at REAL NOT NULL, attempts INTEGER NOT NULL)""",
        "CREATE INDEX dead_letters_by_source ON dead_letters (source, letter_id)",
        """CREATE TABLE spool (
            job_id INTEGER PRIMARY KEY, path TEXT NOT NULL, size INTEGER NOT NULL,
            created_at REAL NOT NULL, kind TEXT NOT NULL, header TEXT NOT NULL,
            digest TEXT NOT NULL)""",
        """CREATE TABLE locks (
            kind TEXT NOT NULL, account_id INTEGER NOT NULL, owner TEXT NOT NULL,
            acquired_at REAL NOT NULL, expires_at REAL NOT NULL,
            PRIMARY KEY (kind, account_id)) WITHOUT ROWID""",
    ),
)
"""Ordered migrations; migration ``n`` (1-based) brings the schema to version ``n``.
Append only: never edit a released migration."""

# Bulk key lookups bind keys in chunks: SQLite builds before 3.32 allow only 999 bound
# parameters, and measured on 1M keys, 500-key IN lists beat both a JSON array
# (json_each) and a temporary table (~500k raw lookups/s vs ~430k and ~35k).
_KEY_CHUNK: Final = 500

_JOB_COLUMNS: Final = (
    "job_id, kind, is_full, account_id, submitted_at, item_count, payload_digest, "
    "payload_size, header, status, status_id, totals, inserts, updates, fail, started_at, "
    "finished_at, last_updated, polls, rerun_of, superseded_by"
)
_INBOX_COLUMNS: Final = (
    "item_id, dedup_key, event_type, payload, received_at, status, attempts, lease_owner, "
    "lease_expires_at, available_at, last_error"
)


def _ts(value: dt.datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def _dt(value: float | None) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromtimestamp(value, dt.UTC)


def _dt_req(value: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, dt.UTC)


def _job(row: Sequence[Any], history: tuple[JobObservation, ...] = ()) -> TrackedJob:
    return job_from_row(row, history, when=_dt_req, when_opt=_dt)


def _inbox(row: Sequence[Any]) -> InboxItem:
    return inbox_from_row(row, when=_dt_req, when_opt=_dt)


def _insert_history(conn: sqlite3.Connection, obs: JobObservation) -> None:
    conn.execute(
        "INSERT INTO job_history (job_id, seen_at, status, status_id, last_updated, source, note)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            obs.job_id,
            _ts(obs.seen_at),
            obs.status.value,
            obs.status_id,
            _ts(obs.last_updated),
            obs.source,
            obs.note,
        ),
    )


@functools.lru_cache(maxsize=64)
def _in_query(prefix: str, count: int) -> str:
    """``prefix`` followed by ``(?, ?, ...)``; cached so full chunks reuse one SQL text."""
    return prefix + "(" + ", ".join("?" * count) + ")"


def _chunks(keys: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


class SqliteStore:
    """The :class:`~norce_integration.stores.Store` on one SQLite file.

    Example:
        >>> store = SqliteStore("state/norce.sqlite")  # doctest: +SKIP
        >>> store.close()  # doctest: +SKIP

    Args:
        path: the database file (created with its parent directory if missing), or
            ``":memory:"`` for a private in-memory database (tests).
        clock: seconds since the epoch; leases, windows and TTLs are measured with it.
        busy_timeout: seconds a writer waits for another process's write lock.
        cache_mb: page cache per connection in MiB (used as needed, not reserved).
        checkpoint_interval: seconds between WAL checkpoints run by a background thread
            (``None``: SQLite's automatic checkpoints on the committing thread). A
            checkpoint fsyncs the database file; on the committing thread it stalls every
            write behind it (~100 ms), which is what a webhook receiver must not do.

    Every method raises :class:`~norce_integration.StoreError` when SQLite fails (a
    locked database past ``busy_timeout``, a full disk, a damaged file) or after
    :meth:`close`; no ``sqlite3`` exception escapes.

    Raises:
        StoreError: the file cannot be opened, or was written by a newer schema.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        clock: Callable[[], float] = time.time,
        busy_timeout: float = 30.0,
        cache_mb: float = 64.0,
        checkpoint_interval: float | None = 1.0,
    ) -> None:
        self.path = os.fspath(path)
        self._cache_mb = cache_mb
        self._memory = self.path == ":memory:" or self.path.startswith("file::memory:")
        self._clock = clock
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._registry = threading.Lock()
        # Serialises use of the single in-memory connection; file databases need no lock
        # because each thread has its own connection.
        self._guard: threading.RLock | None = threading.RLock() if self._memory else None
        self._closed = False
        self._checkpoint_interval = None if self._memory else checkpoint_interval
        self._checkpointer: _Checkpointer | None = None
        if not self._memory:
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create the directory of {self.path}: {exc}") from exc
        with self._lock():
            self._migrate(self._conn())

    # ------------------------------------------------------------------ plumbing

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection this store opened, in every thread."""
        with self._registry:
            self._closed = True
            connections, self._connections = self._connections, []
            checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.stop()
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    @property
    def schema_version(self) -> int:
        """The schema version of the open file."""
        with self._read() as conn:
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def _now(self) -> float:
        return float(self._clock())

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            msg = f"{self!r} is closed"
            raise StoreError(msg)
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None and self._memory and self._connections:
            conn = self._connections[0]
        if conn is None:
            conn = self._open()
            self._local.conn = conn
        return conn

    def _open(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,  # we issue BEGIN ourselves
                check_same_thread=False,  # close() may run on another thread
                uri=self.path.startswith("file:"),
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            if not self._memory:
                conn.execute("PRAGMA journal_mode = WAL")
                # FULL: a committed job id or acknowledged webhook must survive a power
                # loss, not only a process crash; commits here are few and small.
                conn.execute("PRAGMA synchronous = FULL")
                if self._checkpoint_interval is not None:
                    conn.execute("PRAGMA wal_autocheckpoint = 0")
            conn.execute("PRAGMA foreign_keys = ON")
            # Random-order fingerprint checks over a million keys miss SQLite's default
            # 2 MB page cache on most lookups (~180k checks/s); 64 MB keeps the B-tree
            # resident (~400k checks/s). Pages are allocated only as they are used.
            conn.execute(f"PRAGMA cache_size = {-int(self._cache_mb * 1024)}")
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot configure {self.path}: {exc}") from exc
        with self._registry:
            if self._closed:
                conn.close()
                msg = f"{self!r} is closed"
                raise StoreError(msg)
            self._connections.append(conn)
            if self._checkpoint_interval is not None and self._checkpointer is None:
                self._checkpointer = _Checkpointer(
                    self.path, self._checkpoint_interval, self._busy_timeout
                )
        return conn

    def _lock(self) -> contextlib.AbstractContextManager[Any]:
        return self._guard if self._guard is not None else contextlib.nullcontext()

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock():
            try:
                yield self._conn()
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from exc

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: the write lock is held from the first read."""
        with self._lock():
            conn = self._conn()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot start a transaction: {exc}") from exc
            try:
                yield conn
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"{self.path}: {exc}") from exc
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise StoreError(f"{self.path}: commit failed: {exc}") from exc

    def _migrate(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version "
                    "(version INTEGER NOT NULL, applied_at REAL NOT NULL)"
                )
                row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
                current = int(row[0] or 0)
                if current > len(MIGRATIONS):
                    msg = (
                        f"{self.path} has schema version {current}; this SDK knows up to "
                        f"{len(MIGRATIONS)}. Upgrade norce-integration."
                    )
                    raise StoreError(msg)
                for version in range(current + 1, len(MIGRATIONS) + 1):
                    for statement in MIGRATIONS[version - 1]:
                        conn.execute(statement)
                    conn.execute(
                        "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                        (version, self._now()),
                    )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot migrate {self.path}: {exc}") from exc

    # ------------------------------------------------------------------ watermarks

    def get_watermark(self, kind: str, account_id: int, source: str) -> Watermark | None:
        """See :meth:`Store.get_watermark`."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT value, version, updated_at FROM watermarks "
                "WHERE kind = ? AND account_id = ? AND source = ?",
                (kind, account_id, source),
            ).fetchone()
        if row is None:
            return None
        return Watermark(kind, account_id, source, row[0], row[1], _dt_req(row[2]))

    def compare_and_set_watermark(
        self,
        kind: str,
        account_id: int,
        source: str,
        *,
        expected: str | None,
        new: str,
        allow_backwards: bool = False,
    ) -> bool:
        """See :meth:`Store.compare_and_set_watermark`."""
        with self._write() as conn:
            row = conn.execute(
                "SELECT value, version FROM watermarks "
                "WHERE kind = ? AND account_id = ? AND source = ?",
                (kind, account_id, source),
            ).fetchone()
            current: str | None = None if row is None else row[0]
            if current != expected:
                return False
            if current is not None and new < current and not allow_backwards:
                return False
            conn.execute(
                "INSERT INTO watermarks (kind, account_id, source, value, version, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, account_id, source) DO UPDATE "
                "SET value = excluded.value, version = excluded.version, "
                "updated_at = excluded.updated_at",
                (kind, account_id, source, new, (row[1] + 1) if row else 1, self._now()),
            )
            return True

    # ------------------------------------------------------------------ tracked jobs

    def insert_job(self, job: TrackedJob) -> bool:
        """See :meth:`Store.insert_job`."""
        with self._write() as conn:
            cursor = conn.execute(
                f"INSERT INTO jobs ({_JOB_COLUMNS}) "  # noqa: S608 - fixed column list
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (job_id) DO NOTHING",
                (
                    job.job_id,
                    job.kind,
                    int(job.full),
                    job.account_id,
                    _ts(job.submitted_at),
                    job.item_count,
                    job.payload_digest,
                    job.payload_size,
                    job.header,
                    job.status.value,
                    job.status_id,
                    job.totals,
                    job.inserts,
                    job.updates,
                    job.fail,
                    _ts(job.started_at),
                    _ts(job.finished_at),
                    _ts(job.last_updated),
                    job.polls,
                    job.rerun_of,
                    job.superseded_by,
                ),
            )
            if cursor.rowcount == 0:
                return False
            for obs in job.history:
                _insert_history(conn, obs)
            return True

    def record_job_status(
        self,
        job_id: int,
        observation: JobObservation | None = None,
        *,
        totals: int | None = None,
        inserts: int | None = None,
        updates: int | None = None,
        fail: int | None = None,
        started_at: dt.datetime | None = None,
        finished_at: dt.datetime | None = None,
        add_polls: int = 0,
    ) -> TrackedJob | None:
        """See :meth:`Store.record_job_status`."""
        if observation is not None and observation.job_id != job_id:
            msg = f"observation of job {observation.job_id} recorded for job {job_id}"
            raise ValueError(msg)
        with self._write() as conn:
            row = conn.execute("SELECT status FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            current = TrackedStatus(row[0])
            # A final status is sticky: a late poll must not undo what an event settled.
            changeable = observation is not None and current not in FINAL_STATUSES
            status = current
            if observation is not None:
                _insert_history(conn, observation)
                if changeable:
                    status = observation.status
            conn.execute(
                "UPDATE jobs SET status = ?, "
                "status_id = CASE WHEN ? THEN COALESCE(?, status_id) ELSE status_id END, "
                "totals = COALESCE(?, totals), inserts = COALESCE(?, inserts), "
                "updates = COALESCE(?, updates), fail = COALESCE(?, fail), "
                "started_at = COALESCE(?, started_at), "
                "finished_at = COALESCE(finished_at, ?), "
                "last_updated = COALESCE(?, last_updated), polls = polls + ? "
                "WHERE job_id = ?",
                (
                    status.value,
                    int(changeable),
                    None if observation is None else observation.status_id,
                    totals,
                    inserts,
                    updates,
                    fail,
                    _ts(started_at),
                    _ts(finished_at),
                    None if observation is None else _ts(observation.last_updated),
                    add_polls,
                    job_id,
                ),
            )
            return self._load_job(conn, job_id, with_history=True)

    def _load_job(
        self, conn: sqlite3.Connection, job_id: int, *, with_history: bool
    ) -> TrackedJob | None:
        row = conn.execute(
            f"SELECT {_JOB_COLUMNS} FROM jobs WHERE job_id = ?",  # noqa: S608 - fixed columns
            (job_id,),
        ).fetchone()
        if row is None:
            return None
        history: tuple[JobObservation, ...] = ()
        if with_history:
            history = tuple(
                JobObservation(
                    job_id=job_id,
                    seen_at=_dt_req(h[0]),
                    status=TrackedStatus(h[1]),
                    status_id=h[2],
                    last_updated=_dt(h[3]),
                    source=h[4],
                    note=h[5],
                )
                for h in conn.execute(
                    "SELECT seen_at, status, status_id, last_updated, source, note "
                    "FROM job_history WHERE job_id = ? ORDER BY seq",
                    (job_id,),
                )
            )
        return _job(row, history)

    def get_job(self, job_id: int, *, with_history: bool = True) -> TrackedJob | None:
        """See :meth:`Store.get_job`."""
        with self._read() as conn:
            # One read transaction so the job and its history are consistent.
            conn.execute("BEGIN")
            try:
                return self._load_job(conn, job_id, with_history=with_history)
            finally:
                conn.execute("COMMIT")

    def list_jobs(
        self,
        *,
        kind: str | None = None,
        account_id: int | None = None,
        statuses: Iterable[TrackedStatus] | None = None,
        submitted_before: dt.datetime | None = None,
        submitted_after: dt.datetime | None = None,
        limit: int | None = None,
    ) -> list[TrackedJob]:
        """See :meth:`Store.list_jobs`."""
        where: list[str] = []
        params: list[Any] = []
        if kind is not None:
            where.append("kind = ?")
            params.append(kind)
        if account_id is not None:
            where.append("account_id = ?")
            params.append(account_id)
        if statuses is not None:
            values = [TrackedStatus(s).value for s in statuses]
            if not values:
                return []
            where.append(f"status IN ({', '.join('?' for _ in values)})")
            params.extend(values)
        if submitted_before is not None:
            where.append("submitted_at < ?")
            params.append(_ts(submitted_before))
        if submitted_after is not None:
            where.append("submitted_at > ?")
            params.append(_ts(submitted_after))
        sql = f"SELECT {_JOB_COLUMNS} FROM jobs"  # noqa: S608 - fixed columns
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY submitted_at DESC, job_id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._read() as conn:
            return [_job(row) for row in conn.execute(sql, params)]

    def unresolved_jobs(
        self, *, kind: str | None = None, account_id: int | None = None
    ) -> list[TrackedJob]:
        """See :meth:`Store.unresolved_jobs`."""
        open_statuses = [s for s in TrackedStatus if s not in FINAL_STATUSES]
        jobs = self.list_jobs(kind=kind, account_id=account_id, statuses=open_statuses)
        return sorted(jobs, key=lambda j: (j.submitted_at, j.job_id))

    def mark_superseded(
        self,
        kind: str,
        account_id: int,
        *,
        by_job_id: int,
        submitted_before: dt.datetime,
        statuses: Iterable[TrackedStatus] = (
            TrackedStatus.FAILED,
            TrackedStatus.VALIDATION_FAILED,
        ),
    ) -> list[int]:
        """See :meth:`Store.mark_superseded`."""
        values = [TrackedStatus(s).value for s in statuses]
        if not values:
            return []
        marks = ", ".join("?" for _ in values)
        now = self._now()
        with self._write() as conn:
            ids = [
                int(r[0])
                for r in conn.execute(
                    "SELECT job_id FROM jobs WHERE kind = ? AND account_id = ? "  # noqa: S608
                    f"AND submitted_at < ? AND job_id != ? AND status IN ({marks}) "
                    "ORDER BY job_id",
                    (kind, account_id, _ts(submitted_before), by_job_id, *values),
                )
            ]
            for job_id in ids:
                conn.execute(
                    "UPDATE jobs SET status = ?, superseded_by = ? WHERE job_id = ?",
                    (TrackedStatus.SUPERSEDED.value, by_job_id, job_id),
                )
                _insert_history(
                    conn,
                    JobObservation(
                        job_id=job_id,
                        seen_at=_dt_req(now),
                        status=TrackedStatus.SUPERSEDED,
                        source="local",
                        note=f"superseded by successful full import {by_job_id}",
                    ),
                )
            return ids

    # ------------------------------------------------------------------ full imports

    def get_last_full_import(self, kind: str, account_id: int) -> FullImportRecord | None:
        """See :meth:`Store.get_last_full_import`."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT job_id, finished_at, item_count FROM full_imports "
                "WHERE kind = ? AND account_id = ?",
                (kind, account_id),
            ).fetchone()
        if row is None:
            return None
        return FullImportRecord(kind, account_id, row[0], _dt_req(row[1]), row[2])

    def set_last_full_import(self, record: FullImportRecord) -> bool:
        """See :meth:`Store.set_last_full_import`."""
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO full_imports (kind, account_id, job_id, finished_at, item_count) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, account_id) DO UPDATE SET "
                "job_id = excluded.job_id, finished_at = excluded.finished_at, "
                "item_count = excluded.item_count "
                "WHERE excluded.finished_at >= full_imports.finished_at",
                (
                    record.kind,
                    record.account_id,
                    record.job_id,
                    _ts(record.finished_at),
                    record.item_count,
                ),
            )
            return cursor.rowcount > 0

    # ------------------------------------------------------------------ item versions

    def get_item_versions(self, kind: str, keys: Sequence[str]) -> dict[str, ItemVersion]:
        """See :meth:`Store.get_item_versions`.

        Keys are looked up in chunks of 500 per indexed ``IN`` query, inside one read
        transaction so a batch sees one consistent state.
        """
        result: dict[str, ItemVersion] = {}
        if not keys:
            return result
        keys = list(keys)
        with self._read() as conn:
            conn.execute("BEGIN")
            try:
                for chunk in _chunks(keys, _KEY_CHUNK):
                    for key, fingerprint, version in conn.execute(
                        _in_query(
                            "SELECT item_key, fingerprint, version FROM item_versions "
                            "WHERE kind = ? AND item_key IN ",
                            len(chunk),
                        ),
                        (kind, *chunk),
                    ):
                        result[key] = ItemVersion(fingerprint, version)
            finally:
                conn.execute("COMMIT")
        return result

    def put_item_versions(self, kind: str, versions: Mapping[str, ItemVersion]) -> None:
        """See :meth:`Store.put_item_versions`."""
        if not versions:
            return
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO item_versions (kind, item_key, fingerprint, version) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (kind, item_key) DO UPDATE SET "
                "fingerprint = excluded.fingerprint, version = excluded.version",
                ((kind, key, v.fingerprint, v.version) for key, v in versions.items()),
            )

    def delete_item_versions(self, kind: str, keys: Sequence[str]) -> int:
        """See :meth:`Store.delete_item_versions`."""
        if not keys:
            return 0
        deleted = 0
        with self._write() as conn:
            for chunk in _chunks(list(keys), _KEY_CHUNK):
                cursor = conn.execute(
                    _in_query(
                        "DELETE FROM item_versions WHERE kind = ? AND item_key IN ", len(chunk)
                    ),
                    (kind, *chunk),
                )
                deleted += cursor.rowcount
        return deleted

    def count_item_versions(self, kind: str) -> int:
        """See :meth:`Store.count_item_versions`."""
        with self._read() as conn:
            row = conn.execute("SELECT COUNT(*) FROM item_versions WHERE kind = ?", (kind,))
            return int(row.fetchone()[0])

    # ------------------------------------------------------------------ webhook inbox

    def inbox_append(self, dedup_key: str, event_type: str, payload: bytes) -> bool:
        """See :meth:`Store.inbox_append`."""
        now = self._now()
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO inbox (dedup_key, event_type, payload, received_at, status, "
                "available_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING",
                (dedup_key, event_type, bytes(payload), now, InboxStatus.PENDING.value, now),
            )
            return cursor.rowcount > 0

    def inbox_claim(self, owner: str, *, limit: int, lease: float) -> list[InboxItem]:
        """See :meth:`Store.inbox_claim`."""
        if limit <= 0:
            return []
        now = self._now()
        with self._write() as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT item_id FROM inbox WHERE (status = ? AND available_at <= ?) "
                    "OR (status = ? AND lease_expires_at <= ?) ORDER BY item_id LIMIT ?",
                    (InboxStatus.PENDING.value, now, InboxStatus.LEASED.value, now, limit),
                )
            ]
            conn.executemany(
                "UPDATE inbox SET status = ?, lease_owner = ?, lease_expires_at = ?, "
                "attempts = attempts + 1 WHERE item_id = ?",
                ((InboxStatus.LEASED.value, owner, now + lease, i) for i in ids),
            )
            return [
                _inbox(row)
                for i in ids
                for row in conn.execute(
                    f"SELECT {_INBOX_COLUMNS} FROM inbox WHERE item_id = ?",  # noqa: S608
                    (i,),
                )
            ]

    def inbox_ack(self, item_id: int, owner: str) -> bool:
        """See :meth:`Store.inbox_ack`."""
        now = self._now()
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE inbox SET status = ?, done_at = ?, lease_owner = NULL, "
                "lease_expires_at = NULL WHERE item_id = ? AND status = ? AND lease_owner = ? "
                "AND lease_expires_at > ?",
                (InboxStatus.DONE.value, now, item_id, InboxStatus.LEASED.value, owner, now),
            )
            return cursor.rowcount > 0

    def inbox_release(
        self, item_id: int, owner: str, *, error: str | None = None, delay: float = 0.0
    ) -> bool:
        """See :meth:`Store.inbox_release`."""
        now = self._now()
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE inbox SET status = ?, lease_owner = NULL, lease_expires_at = NULL, "
                "available_at = ?, last_error = COALESCE(?, last_error) "
                "WHERE item_id = ? AND status = ? AND lease_owner = ? AND lease_expires_at > ?",
                (
                    InboxStatus.PENDING.value,
                    now + max(0.0, delay),
                    error,
                    item_id,
                    InboxStatus.LEASED.value,
                    owner,
                    now,
                ),
            )
            return cursor.rowcount > 0

    def inbox_reclaim_expired(self) -> int:
        """See :meth:`Store.inbox_reclaim_expired`."""
        now = self._now()
        with self._write() as conn:
            cursor = conn.execute(
                "UPDATE inbox SET status = ?, lease_owner = NULL, lease_expires_at = NULL, "
                "available_at = ? WHERE status = ? AND lease_expires_at <= ?",
                (InboxStatus.PENDING.value, now, InboxStatus.LEASED.value, now),
            )
            return cursor.rowcount

    def inbox_get(self, item_id: int) -> InboxItem | None:
        """See :meth:`Store.inbox_get`."""
        with self._read() as conn:
            row = conn.execute(
                f"SELECT {_INBOX_COLUMNS} FROM inbox WHERE item_id = ?",  # noqa: S608
                (item_id,),
            ).fetchone()
        return None if row is None else _inbox(row)

    def inbox_purge(self, *, done_before: dt.datetime) -> int:
        """See :meth:`Store.inbox_purge`."""
        with self._write() as conn:
            cursor = conn.execute(
                "DELETE FROM inbox WHERE status = ? AND done_at < ?",
                (InboxStatus.DONE.value, _ts(done_before)),
            )
            return cursor.rowcount

    # ------------------------------------------------------------------ dedup keys

    def dedup_add(self, key: str, *, window: float) -> bool:
        """See :meth:`Store.dedup_add`."""
        now = self._now()
        with self._write() as conn:
            # One upsert: a key whose window ended is renewed and counts as new.
            cursor = conn.execute(
                "INSERT INTO dedup_keys (dedup_key, expires_at) VALUES (?, ?) "
                "ON CONFLICT (dedup_key) DO UPDATE SET expires_at = excluded.expires_at "
                "WHERE dedup_keys.expires_at <= ?",
                (key, now + window, now),
            )
            return cursor.rowcount > 0

    def dedup_purge(self) -> int:
        """See :meth:`Store.dedup_purge`."""
        with self._write() as conn:
            cursor = conn.execute("DELETE FROM dedup_keys WHERE expires_at <= ?", (self._now(),))
            return cursor.rowcount

    # ------------------------------------------------------------------ dead letters

    def put_dead_letter(
        self,
        source: str,
        payload: bytes,
        error: str,
        *,
        key: str | None = None,
        attempts: int = 0,
    ) -> int:
        """See :meth:`Store.put_dead_letter`."""
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO dead_letters (source, letter_key, payload, error, created_at, "
                "attempts) VALUES (?, ?, ?, ?, ?, ?)",
                (source, key, bytes(payload), error, self._now(), attempts),
            )
            return int(cursor.lastrowid or 0)

    def list_dead_letters(
        self, *, source: str | None = None, limit: int | None = None
    ) -> list[DeadLetter]:
        """See :meth:`Store.list_dead_letters`."""
        sql = (
            "SELECT letter_id, source, letter_key, payload, error, created_at, attempts "
            "FROM dead_letters"
        )
        params: list[Any] = []
        if source is not None:
            sql += " WHERE source = ?"
            params.append(source)
        sql += " ORDER BY letter_id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._read() as conn:
            return [
                DeadLetter(r[0], r[1], r[2], bytes(r[3]), r[4], _dt_req(r[5]), r[6])
                for r in conn.execute(sql, params)
            ]

    def get_dead_letter(self, letter_id: int) -> DeadLetter | None:
        """See :meth:`Store.get_dead_letter`."""
        with self._read() as conn:
            r = conn.execute(
                "SELECT letter_id, source, letter_key, payload, error, created_at, attempts "
                "FROM dead_letters WHERE letter_id = ?",
                (letter_id,),
            ).fetchone()
        return (
            None
            if r is None
            else DeadLetter(r[0], r[1], r[2], bytes(r[3]), r[4], _dt_req(r[5]), r[6])
        )

    def delete_dead_letter(self, letter_id: int) -> bool:
        """See :meth:`Store.delete_dead_letter`."""
        with self._write() as conn:
            cursor = conn.execute("DELETE FROM dead_letters WHERE letter_id = ?", (letter_id,))
            return cursor.rowcount > 0

    # ------------------------------------------------------------------ payload spool index

    def put_spool_entry(self, entry: SpoolEntry) -> None:
        """See :meth:`Store.put_spool_entry`."""
        with self._write() as conn:
            conn.execute(
                "INSERT INTO spool (job_id, path, size, created_at, kind, header, digest) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_id) DO UPDATE SET "
                "path = excluded.path, size = excluded.size, created_at = excluded.created_at, "
                "kind = excluded.kind, header = excluded.header, digest = excluded.digest",
                (
                    entry.job_id,
                    entry.path,
                    entry.size,
                    _ts(entry.created_at),
                    entry.kind,
                    entry.header,
                    entry.digest,
                ),
            )

    def get_spool_entry(self, job_id: int) -> SpoolEntry | None:
        """See :meth:`Store.get_spool_entry`."""
        with self._read() as conn:
            r = conn.execute(
                "SELECT job_id, path, size, created_at, kind, header, digest FROM spool "
                "WHERE job_id = ?",
                (job_id,),
            ).fetchone()
        return None if r is None else SpoolEntry(r[0], r[1], r[2], _dt_req(r[3]), r[4], r[5], r[6])

    def list_spool_entries(self) -> list[SpoolEntry]:
        """See :meth:`Store.list_spool_entries`."""
        with self._read() as conn:
            return [
                SpoolEntry(r[0], r[1], r[2], _dt_req(r[3]), r[4], r[5], r[6])
                for r in conn.execute(
                    "SELECT job_id, path, size, created_at, kind, header, digest FROM spool "
                    "ORDER BY created_at, job_id"
                )
            ]

    def delete_spool_entry(self, job_id: int) -> bool:
        """See :meth:`Store.delete_spool_entry`."""
        with self._write() as conn:
            return conn.execute("DELETE FROM spool WHERE job_id = ?", (job_id,)).rowcount > 0

    # ------------------------------------------------------------------ in-flight locks

    def acquire_lock(self, kind: str, account_id: int, owner: str, *, ttl: float) -> bool:
        """See :meth:`Store.acquire_lock`."""
        now = self._now()
        with self._write() as conn:
            row = conn.execute(
                "SELECT owner, acquired_at, expires_at FROM locks "
                "WHERE kind = ? AND account_id = ?",
                (kind, account_id),
            ).fetchone()
            if row is not None and row[0] != owner and row[2] > now:
                return False
            # The same owner extending a live lock keeps its original acquisition time.
            acquired = row[1] if row is not None and row[0] == owner and row[2] > now else now
            conn.execute(
                "INSERT INTO locks (kind, account_id, owner, acquired_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, account_id) DO UPDATE SET "
                "owner = excluded.owner, acquired_at = excluded.acquired_at, "
                "expires_at = excluded.expires_at",
                (kind, account_id, owner, acquired, now + ttl),
            )
            return True

    def release_lock(self, kind: str, account_id: int, owner: str) -> bool:
        """See :meth:`Store.release_lock`."""
        with self._write() as conn:
            cursor = conn.execute(
                "DELETE FROM locks WHERE kind = ? AND account_id = ? AND owner = ?",
                (kind, account_id, owner),
            )
            return cursor.rowcount > 0

    def lock_holder(self, kind: str, account_id: int) -> InFlightLock | None:
        """See :meth:`Store.lock_holder`."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT owner, acquired_at, expires_at FROM locks "
                "WHERE kind = ? AND account_id = ? AND expires_at > ?",
                (kind, account_id, self._now()),
            ).fetchone()
        if row is None:
            return None
        return InFlightLock(kind, account_id, row[0], _dt_req(row[1]), _dt_req(row[2]))


class _Checkpointer:
    """Runs ``wal_checkpoint(PASSIVE)`` on its own thread and connection.

    PASSIVE never blocks writers or readers; it copies what it can and fsyncs the
    database file off the committing threads. Holds no reference to the store, so a store
    that is dropped without ``close()`` does not keep it alive (the thread is a daemon).
    """

    def __init__(self, path: str, interval: float, busy_timeout: float) -> None:
        self._stopped = threading.Event()
        self._thread = threading.Thread(
            target=self._run,
            args=(path, interval, busy_timeout, self._stopped),
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
