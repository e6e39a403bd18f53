"""SQLite's side of the stores, without I/O: schema migrations, statement text, value
conversions and the pure decisions of the group operations.

:mod:`._sqlite_ops` runs these statements on a connection; this module only builds and
decides. Times are stored as epoch seconds (``REAL``).
"""

# ruff: noqa: S608 - every statement is fixed text with ? placeholders; only counts vary

from __future__ import annotations

import datetime as dt
import functools
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, Final, TypeVar

from ._models import (
    DeadLetter,
    InboxItem,
    InboxStatus,
    InFlightLock,
    JobObservation,
    SpoolEntry,
    TrackedJob,
)
from ._rows import inbox_from_row, job_from_row


T = TypeVar("T")

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
    # 2: a small key/value table (run journals, generation counters).
    (
        """CREATE TABLE kv (
            namespace TEXT NOT NULL, kv_key TEXT NOT NULL, value TEXT NOT NULL,
            PRIMARY KEY (namespace, kv_key)) WITHOUT ROWID""",
    ),
    # 3: the inbox's open items in id order, so a claim reads its batch in order and stops
    # (over (status, available_at) it sorted every pending item per claim: 50k pending,
    # 50k rows sorted for 500); finished items by time, for the purge.
    (
        "CREATE INDEX inbox_open ON inbox (item_id) WHERE status <> 'done'",
        "CREATE INDEX inbox_done ON inbox (done_at) WHERE status = 'done'",
        "DROP INDEX inbox_claimable",
    ),
)
"""Ordered migrations; migration ``n`` (1-based) brings the schema to version ``n``.
Append only: never edit a released migration."""

# Bulk key lookups bind keys in chunks: SQLite builds before 3.32 allow only 999 bound
# parameters, and measured on 1M keys, 500-key IN lists beat both a JSON array
# (json_each) and a temporary table (~500k raw lookups/s vs ~430k and ~35k).
KEY_CHUNK: Final = 500
# The inbox's group statements: keys per IN list, rows per multi-row INSERT (6 values).
# SQLite 3.32 raised the default limit of bound parameters from 999 to 32766: a batch of
# a thousand acks is then one statement (every statement is a GIL round trip, see
# ``inbox_write_w``), on older builds a few.
_MANY_PARAMETERS: Final = sqlite3.sqlite_version_info >= (3, 32, 0)
KEYS_PER_STATEMENT: Final = 30_000 if _MANY_PARAMETERS else 900
ROWS_PER_STATEMENT: Final = 5_000 if _MANY_PARAMETERS else 150
RETURNING: Final = sqlite3.sqlite_version_info >= (3, 35, 0)
"""``UPDATE ... RETURNING`` (3.35): a claim in one statement."""
UPDATE_FROM: Final = sqlite3.sqlite_version_info >= (3, 33, 0)
"""``UPDATE ... FROM`` (3.33): a batch of releases in one statement."""

PENDING: Final = InboxStatus.PENDING.value
LEASED: Final = InboxStatus.LEASED.value
DONE: Final = InboxStatus.DONE.value

JOB_COLUMNS: Final = (
    "job_id, kind, is_full, account_id, submitted_at, item_count, payload_digest, "
    "payload_size, header, status, status_id, totals, inserts, updates, fail, started_at, "
    "finished_at, last_updated, polls, rerun_of, superseded_by"
)
INBOX_COLUMNS: Final = (
    "item_id, dedup_key, event_type, payload, received_at, status, attempts, lease_owner, "
    "lease_expires_at, available_at, last_error"
)
LETTER_COLUMNS: Final = "letter_id, source, letter_key, payload, error, created_at, attempts"
SPOOL_COLUMNS: Final = "job_id, path, size, created_at, kind, header, digest"

# ---------------------------------------------------------------------- schema
CREATE_SCHEMA_VERSION: Final = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at REAL NOT NULL)"
)
SCHEMA_VERSION: Final = "SELECT MAX(version) FROM schema_version"
INSERT_SCHEMA_VERSION: Final = "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)"

# ---------------------------------------------------------------------- watermarks
GET_WATERMARK: Final = (
    "SELECT value, version, updated_at FROM watermarks "
    "WHERE kind = ? AND account_id = ? AND source = ?"
)
PUT_WATERMARK: Final = (
    "INSERT INTO watermarks (kind, account_id, source, value, version, updated_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kind, account_id, source) DO UPDATE "
    "SET value = excluded.value, version = excluded.version, updated_at = excluded.updated_at"
)

# ---------------------------------------------------------------------- jobs
INSERT_JOB: Final = (
    f"INSERT INTO jobs ({JOB_COLUMNS}) VALUES ("
    + ", ".join(["?"] * 21)
    + ") ON CONFLICT (job_id) DO NOTHING"
)
INSERT_HISTORY: Final = (
    "INSERT INTO job_history (job_id, seen_at, status, status_id, last_updated, source, note)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
JOB_STATUS: Final = "SELECT status FROM jobs WHERE job_id = ?"
UPDATE_JOB: Final = (
    "UPDATE jobs SET status = ?, "
    "status_id = CASE WHEN ? THEN COALESCE(?, status_id) ELSE status_id END, "
    "totals = COALESCE(?, totals), inserts = COALESCE(?, inserts), "
    "updates = COALESCE(?, updates), fail = COALESCE(?, fail), "
    "started_at = COALESCE(?, started_at), finished_at = COALESCE(finished_at, ?), "
    "last_updated = COALESCE(?, last_updated), polls = polls + ? WHERE job_id = ?"
)
GET_JOB: Final = f"SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = ?"
JOB_HISTORY: Final = (
    "SELECT seen_at, status, status_id, last_updated, source, note "
    "FROM job_history WHERE job_id = ? ORDER BY seq"
)
LIST_JOBS: Final = f"SELECT {JOB_COLUMNS} FROM jobs"
SUPERSEDE: Final = "UPDATE jobs SET status = ?, superseded_by = ? WHERE job_id = ?"

# ---------------------------------------------------------------------- full imports
GET_FULL_IMPORT: Final = (
    "SELECT job_id, finished_at, item_count FROM full_imports WHERE kind = ? AND account_id = ?"
)
SET_FULL_IMPORT: Final = (
    "INSERT INTO full_imports (kind, account_id, job_id, finished_at, item_count) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, account_id) DO UPDATE SET "
    "job_id = excluded.job_id, finished_at = excluded.finished_at, "
    "item_count = excluded.item_count WHERE excluded.finished_at >= full_imports.finished_at"
)

# ---------------------------------------------------------------------- item versions
GET_VERSIONS_IN: Final = (
    "SELECT item_key, fingerprint, version FROM item_versions WHERE kind = ? AND item_key IN "
)
PUT_VERSION: Final = (
    "INSERT INTO item_versions (kind, item_key, fingerprint, version) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (kind, item_key) DO UPDATE SET "
    "fingerprint = excluded.fingerprint, version = excluded.version"
)
DELETE_VERSIONS_IN: Final = "DELETE FROM item_versions WHERE kind = ? AND item_key IN "
COUNT_VERSIONS: Final = "SELECT COUNT(*) FROM item_versions WHERE kind = ?"

# ---------------------------------------------------------------------- inbox
INBOX_APPEND: Final = (
    "INSERT INTO inbox (dedup_key, event_type, payload, received_at, status, available_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (dedup_key) DO NOTHING"
)
INBOX_ROWS: Final = (
    "INSERT INTO inbox (dedup_key, event_type, payload, received_at, status, available_at) VALUES "
)
# Open items in id order (the partial index inbox_open; its condition is written out, so
# the planner can use it): the first ``limit`` claimable ones, without a sort.
# Parameters: now, now, limit.
_CLAIMABLE: Final = (
    "SELECT item_id FROM inbox INDEXED BY inbox_open WHERE status <> 'done' AND "
    "((status = 'pending' AND available_at <= ?) OR "
    "(status = 'leased' AND lease_expires_at <= ?)) ORDER BY item_id LIMIT ?"
)
INBOX_CLAIMABLE: Final = _CLAIMABLE
# The claim in one statement; parameters: owner, lease expiry, now, now, limit.
INBOX_CLAIM: Final = (
    "UPDATE inbox SET status = 'leased', lease_owner = ?, lease_expires_at = ?, "
    f"attempts = attempts + 1 WHERE item_id IN ({_CLAIMABLE}) RETURNING {INBOX_COLUMNS}"
)
INBOX_LEASE_IN: Final = (
    "UPDATE inbox SET status = 'leased', lease_owner = ?, lease_expires_at = ?, "
    "attempts = attempts + 1 WHERE item_id IN "
)
INBOX_GET: Final = f"SELECT {INBOX_COLUMNS} FROM inbox WHERE item_id = ?"
INBOX_GET_IN: Final = f"SELECT {INBOX_COLUMNS} FROM inbox WHERE item_id IN "
# The lease conditions shared by ack, release and renew; parameters: status, owner, now.
_HELD: Final = "status = ? AND lease_owner = ? AND lease_expires_at > ?"
INBOX_ACK: Final = (
    "UPDATE inbox SET status = ?, done_at = ?, lease_owner = NULL, lease_expires_at = NULL "
    f"WHERE item_id = ? AND {_HELD}"
)
INBOX_ACK_IN: Final = (
    "UPDATE inbox SET status = ?, done_at = ?, lease_owner = NULL, lease_expires_at = NULL "
    f"WHERE {_HELD} AND item_id IN "
)
INBOX_RELEASE: Final = (
    "UPDATE inbox SET status = ?, lease_owner = NULL, lease_expires_at = NULL, "
    "available_at = ?, last_error = COALESCE(?, last_error) "
    f"WHERE item_id = ? AND {_HELD}"
)
# A batch of releases; ``{rows}``: ``(?, ?, ?)`` per item (id, available at, error);
# then status, owner, now.
INBOX_RELEASE_FROM: Final = (
    "UPDATE inbox SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL, "
    "available_at = r.available_at, last_error = COALESCE(r.error, inbox.last_error) "
    "FROM (SELECT column1 AS item_id, column2 AS available_at, column3 AS error "
    "FROM (VALUES {rows})) AS r WHERE inbox.item_id = r.item_id AND inbox.status = ? "
    "AND inbox.lease_owner = ? AND inbox.lease_expires_at > ?"
)
INBOX_RENEW_IN: Final = f"UPDATE inbox SET lease_expires_at = ? WHERE {_HELD} AND item_id IN "
INBOX_RECLAIM: Final = (
    "UPDATE inbox SET status = ?, lease_owner = NULL, lease_expires_at = NULL, "
    "available_at = ? WHERE status = ? AND lease_expires_at <= ?"
)
INBOX_PURGE: Final = "DELETE FROM inbox WHERE status = ? AND done_at < ?"
# Purges in slices of PURGE_SLICE rows, one transaction each: one DELETE of a day's
# inbox (or of five minutes of dedup keys at 2,000 events/s) holds the write lock for
# long enough to stall a receiver's group commit. Parameters: the cutoff, the slice.
PURGE_SLICE: Final = 2_000
INBOX_PURGE_SLICE: Final = (
    "DELETE FROM inbox WHERE item_id IN (SELECT item_id FROM inbox INDEXED BY inbox_done "
    "WHERE status = 'done' AND done_at < ? LIMIT ?)"
)
INBOX_COUNTS: Final = "SELECT status, COUNT(*) FROM inbox GROUP BY status"
INBOX_OLDEST_PENDING: Final = "SELECT MIN(received_at) FROM inbox WHERE status = ?"

# ---------------------------------------------------------------------- dedup keys
DEDUP_ADD: Final = (
    # One upsert: a key whose window ended is renewed and counts as new.
    "INSERT INTO dedup_keys (dedup_key, expires_at) VALUES (?, ?) "
    "ON CONFLICT (dedup_key) DO UPDATE SET expires_at = excluded.expires_at "
    "WHERE dedup_keys.expires_at <= ?"
)
DEDUP_LIVE_IN: Final = "SELECT dedup_key FROM dedup_keys WHERE expires_at > ? AND dedup_key IN "
DEDUP_ROWS: Final = "INSERT INTO dedup_keys (dedup_key, expires_at) VALUES "
DEDUP_ROWS_TAIL: Final = " ON CONFLICT (dedup_key) DO UPDATE SET expires_at = excluded.expires_at"
DEDUP_EXPIRE_IN: Final = (
    "UPDATE dedup_keys SET expires_at = ? WHERE expires_at > ? AND dedup_key IN "
)
DEDUP_PURGE: Final = "DELETE FROM dedup_keys WHERE expires_at <= ?"
DEDUP_PURGE_SLICE: Final = (
    "DELETE FROM dedup_keys WHERE dedup_key IN (SELECT dedup_key FROM dedup_keys "
    "WHERE expires_at <= ? LIMIT ?)"
)

# ---------------------------------------------------------------------- dead letters
PUT_LETTER: Final = (
    "INSERT INTO dead_letters (source, letter_key, payload, error, created_at, attempts) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
LIST_LETTERS: Final = f"SELECT {LETTER_COLUMNS} FROM dead_letters"
GET_LETTER: Final = f"{LIST_LETTERS} WHERE letter_id = ?"
DELETE_LETTER: Final = "DELETE FROM dead_letters WHERE letter_id = ?"

# ---------------------------------------------------------------------- spool
PUT_SPOOL: Final = (
    f"INSERT INTO spool ({SPOOL_COLUMNS}) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (job_id) DO UPDATE SET "
    "path = excluded.path, size = excluded.size, created_at = excluded.created_at, "
    "kind = excluded.kind, header = excluded.header, digest = excluded.digest"
)
GET_SPOOL: Final = f"SELECT {SPOOL_COLUMNS} FROM spool WHERE job_id = ?"
LIST_SPOOL: Final = f"SELECT {SPOOL_COLUMNS} FROM spool ORDER BY created_at, job_id"
DELETE_SPOOL: Final = "DELETE FROM spool WHERE job_id = ?"

# ---------------------------------------------------------------------- locks
GET_LOCK: Final = (
    "SELECT owner, acquired_at, expires_at FROM locks WHERE kind = ? AND account_id = ?"
)
LIVE_LOCK: Final = f"{GET_LOCK} AND expires_at > ?"
PUT_LOCK: Final = (
    "INSERT INTO locks (kind, account_id, owner, acquired_at, expires_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, account_id) DO UPDATE SET "
    "owner = excluded.owner, acquired_at = excluded.acquired_at, "
    "expires_at = excluded.expires_at"
)
DELETE_LOCK: Final = "DELETE FROM locks WHERE kind = ? AND account_id = ? AND owner = ?"

# ---------------------------------------------------------------------- key/value
KV_GET: Final = "SELECT value FROM kv WHERE namespace = ? AND kv_key = ?"
KV_PUT: Final = (
    "INSERT INTO kv (namespace, kv_key, value) VALUES (?, ?, ?) "
    "ON CONFLICT (namespace, kv_key) DO UPDATE SET value = excluded.value"
)
KV_DELETE: Final = "DELETE FROM kv WHERE namespace = ? AND kv_key = ?"
KV_LIST: Final = (
    "SELECT kv_key, value FROM kv WHERE namespace = ? AND substr(kv_key, 1, ?) = ? ORDER BY kv_key"
)


# ---------------------------------------------------------------------- builders


@functools.lru_cache(maxsize=64)
def in_query(prefix: str, count: int) -> str:
    """``prefix`` followed by ``(?, ?, ...)``; cached so full chunks reuse one SQL text."""
    return prefix + "(" + ", ".join("?" * count) + ")"


@functools.lru_cache(maxsize=64)
def rows_query(prefix: str, width: int, count: int, tail: str = "") -> str:
    """A multi-row ``INSERT``: ``prefix`` and ``count`` groups of ``width`` placeholders."""
    group = "(" + ", ".join("?" * width) + ")"
    return prefix + ", ".join([group] * count) + tail


def chunks(values: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """``values`` in consecutive slices of at most ``size``."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def list_jobs_where(
    *,
    kind: str | None,
    account_id: int | None,
    statuses: Sequence[str] | None,
    submitted_before: float | None,
    submitted_after: float | None,
    limit: int | None,
) -> tuple[str, list[Any]]:
    """The ``list_jobs`` statement and its parameters (``statuses`` already values)."""
    where: list[str] = []
    params: list[Any] = []
    for clause, value in (
        ("kind = ?", kind),
        ("account_id = ?", account_id),
        ("submitted_at < ?", submitted_before),
        ("submitted_at > ?", submitted_after),
    ):
        if value is not None:
            where.append(clause)
            params.append(value)
    if statuses is not None:
        where.append(f"status IN ({', '.join('?' for _ in statuses)})")
        params.extend(statuses)
    sql = LIST_JOBS
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY submitted_at DESC, job_id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return sql, params


def supersede_candidates(count: int) -> str:
    """Jobs of (kind, account) before a time, other than one job, in ``count`` statuses."""
    marks = ", ".join("?" for _ in range(count))
    return (
        "SELECT job_id FROM jobs WHERE kind = ? AND account_id = ? "
        f"AND submitted_at < ? AND job_id != ? AND status IN ({marks}) ORDER BY job_id"
    )


def list_letters(*, source: str | None, limit: int | None) -> tuple[str, list[Any]]:
    """The ``list_dead_letters`` statement and its parameters."""
    sql = LIST_LETTERS
    params: list[Any] = []
    if source is not None:
        sql += " WHERE source = ?"
        params.append(source)
    sql += " ORDER BY letter_id"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    return sql, params


# ---------------------------------------------------------------------- decisions


def dedup_checked(
    entries: Sequence[tuple[str | None, str, str, bytes]], window: float
) -> list[str]:
    """The distinct dedup keys of ``inbox_write`` entries that need a liveness check."""
    if window <= 0:
        return []
    return list(dict.fromkeys(e[0] for e in entries if e[0] is not None))


def plan_inbox_write(
    entries: Sequence[tuple[str | None, str, str, bytes]],
    live: set[str],
    *,
    now: float,
    window: float,
) -> tuple[list[bool], list[tuple[str, float]], list[tuple[str, str, bytes, float, str, float]]]:
    """What ``inbox_write`` stores, given the dedup keys ``live`` now.

    Returns the per-entry results, the dedup-key rows to upsert and the inbox rows to
    insert. An entry whose key is live, or repeats a key stored earlier in the group,
    stores nothing. ``live`` is updated.
    """
    results: list[bool] = []
    keys: list[tuple[str, float]] = []
    rows: list[tuple[str, str, bytes, float, str, float]] = []
    for dedup, inbox_key, event_type, payload in entries:
        if dedup is not None and window > 0:
            if dedup in live:
                results.append(False)
                continue
            live.add(dedup)
            keys.append((dedup, now + window))
        rows.append((inbox_key, event_type, bytes(payload), now, PENDING, now))
        results.append(True)
    return results, keys, rows


def lock_decision(row: Sequence[Any] | None, owner: str, now: float) -> tuple[bool, float]:
    """Whether ``owner`` may take the lock whose row is ``row``, and its acquisition time.

    The same owner extending a live lock keeps its original acquisition time.
    """
    if row is None or row[2] <= now:
        return True, now
    if row[0] != owner:
        return False, now
    return True, float(row[1])


def counts_by_status(rows: Sequence[tuple[str, int]]) -> dict[str, int]:
    """Items per :class:`InboxStatus` value, zero for the absent ones."""
    counts = dict.fromkeys((s.value for s in InboxStatus), 0)
    counts.update({status: int(count) for status, count in rows})
    return counts


# ---------------------------------------------------------------------- conversions


def ts(value: dt.datetime | None) -> float | None:
    """A record time as stored (epoch seconds; naive means UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.timestamp()


def when(value: float) -> dt.datetime:
    """A stored time as a UTC datetime."""
    return dt.datetime.fromtimestamp(value, dt.UTC)


def when_opt(value: float | None) -> dt.datetime | None:
    """A stored optional time as a UTC datetime."""
    return None if value is None else when(value)


def job(row: Sequence[Any], history: tuple[JobObservation, ...] = ()) -> TrackedJob:
    """A ``jobs`` row (:data:`JOB_COLUMNS`) as a record."""
    return job_from_row(row, history, when=when, when_opt=when_opt)


def job_values(j: TrackedJob) -> tuple[Any, ...]:
    """The :data:`INSERT_JOB` parameters of a job."""
    return (
        j.job_id,
        j.kind,
        int(j.full),
        j.account_id,
        ts(j.submitted_at),
        j.item_count,
        j.payload_digest,
        j.payload_size,
        j.header,
        j.status.value,
        j.status_id,
        j.totals,
        j.inserts,
        j.updates,
        j.fail,
        ts(j.started_at),
        ts(j.finished_at),
        ts(j.last_updated),
        j.polls,
        j.rerun_of,
        j.superseded_by,
    )


def history_values(o: JobObservation) -> tuple[Any, ...]:
    """The :data:`INSERT_HISTORY` parameters of an observation."""
    return (
        o.job_id,
        ts(o.seen_at),
        o.status.value,
        o.status_id,
        ts(o.last_updated),
        o.source,
        o.note,
    )


def observation(job_id: int, h: Sequence[Any]) -> JobObservation:
    """A :data:`JOB_HISTORY` row as a record."""
    return JobObservation(
        job_id=job_id,
        seen_at=when(h[0]),
        status=h[1],
        status_id=h[2],
        last_updated=when_opt(h[3]),
        source=h[4],
        note=h[5],
    )


def inbox(row: Sequence[Any]) -> InboxItem:
    """An ``inbox`` row (:data:`INBOX_COLUMNS`) as a record."""
    return inbox_from_row(row, when=when, when_opt=when_opt)


def letter(r: Sequence[Any]) -> DeadLetter:
    """A ``dead_letters`` row (:data:`LETTER_COLUMNS`) as a record."""
    return DeadLetter(r[0], r[1], r[2], bytes(r[3]), r[4], when(r[5]), r[6])


def spool(r: Sequence[Any]) -> SpoolEntry:
    """A ``spool`` row (:data:`SPOOL_COLUMNS`) as a record."""
    return SpoolEntry(r[0], r[1], r[2], when(r[3]), r[4], r[5], r[6])


def spool_values(e: SpoolEntry) -> tuple[Any, ...]:
    """The :data:`PUT_SPOOL` parameters of an entry."""
    return (e.job_id, e.path, e.size, ts(e.created_at), e.kind, e.header, e.digest)


def lock(kind: str, account_id: int, row: Sequence[Any]) -> InFlightLock:
    """A :data:`GET_LOCK` row as a record."""
    return InFlightLock(kind, account_id, row[0], when(row[1]), when(row[2]))
