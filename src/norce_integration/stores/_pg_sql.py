"""PostgreSQL's side of the stores, without I/O: migrations, every statement's text,
column lists, chunk sizes and row conversions.

Statements are templates: ``{s}`` stands for the quoted schema and ``{now}`` for the
current time (the server's ``statement_timestamp()``, or a ``%(now)s`` parameter when a
store has a manual clock); the store substitutes both once per template.
"""

# ruff: noqa: S608 - every statement is fixed text with placeholders; only {s}/{now} vary

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final, TypeVar

from ._models import DeadLetter, InboxItem, JobObservation, SpoolEntry, TrackedJob, TrackedStatus
from ._rows import inbox_from_row, job_from_row


T = TypeVar("T")

DEFAULT_SCHEMA: Final = "norce_integration"
DSN_ENV: Final = "NORCE_STORE_DSN"
SCHEMA_ENV: Final = "NORCE_STORE_SCHEMA"
INSTALL_HINT: Final = "pip install 'norce-integration[postgres]'"
SCHEMA_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")

MIGRATIONS: Final[tuple[tuple[str, ...], ...]] = (
    # 1: everything the SDK keeps today (the same tables as SqliteStore's migration 1).
    (
        """CREATE TABLE {s}.watermarks (
            kind TEXT NOT NULL, account_id BIGINT NOT NULL, source TEXT NOT NULL,
            value TEXT COLLATE "C" NOT NULL, version BIGINT NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (kind, account_id, source))""",
        """CREATE TABLE {s}.jobs (
            job_id BIGINT PRIMARY KEY, kind TEXT NOT NULL, is_full BOOLEAN NOT NULL,
            account_id BIGINT NOT NULL, submitted_at TIMESTAMPTZ NOT NULL,
            item_count BIGINT NOT NULL, payload_digest TEXT NOT NULL,
            payload_size BIGINT NOT NULL, header TEXT NOT NULL, status TEXT NOT NULL,
            status_id INTEGER, totals BIGINT, inserts BIGINT, updates BIGINT, fail BIGINT,
            started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, last_updated TIMESTAMPTZ,
            polls BIGINT NOT NULL DEFAULT 0, rerun_of BIGINT, superseded_by BIGINT)""",
        "CREATE INDEX jobs_by_kind ON {s}.jobs (kind, account_id, submitted_at)",
        "CREATE INDEX jobs_by_status ON {s}.jobs (status, submitted_at)",
        """CREATE TABLE {s}.job_history (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            job_id BIGINT NOT NULL REFERENCES {s}.jobs (job_id) ON DELETE CASCADE,
            seen_at TIMESTAMPTZ NOT NULL, status TEXT NOT NULL, status_id INTEGER,
            last_updated TIMESTAMPTZ, source TEXT NOT NULL, note TEXT NOT NULL)""",
        "CREATE INDEX job_history_by_job ON {s}.job_history (job_id, seq)",
        """CREATE TABLE {s}.full_imports (
            kind TEXT NOT NULL, account_id BIGINT NOT NULL, job_id BIGINT NOT NULL,
            finished_at TIMESTAMPTZ NOT NULL, item_count BIGINT NOT NULL,
            PRIMARY KEY (kind, account_id))""",
        # Keys compare with the "C" collation: byte order, so index probes cost a memcmp
        # instead of a locale-aware comparison, and Python's sort order is index order.
        """CREATE TABLE {s}.item_versions (
            kind TEXT COLLATE "C" NOT NULL, item_key TEXT COLLATE "C" NOT NULL,
            fingerprint TEXT NOT NULL, version TEXT, PRIMARY KEY (kind, item_key))""",
        """CREATE TABLE {s}.inbox (
            item_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            dedup_key TEXT COLLATE "C" NOT NULL UNIQUE, event_type TEXT NOT NULL,
            payload BYTEA NOT NULL,
            received_at TIMESTAMPTZ NOT NULL, status TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, lease_owner TEXT,
            lease_expires_at TIMESTAMPTZ, available_at TIMESTAMPTZ NOT NULL,
            done_at TIMESTAMPTZ, last_error TEXT)""",
        # Claims scan open items in id order; done items (the bulk, until purged) are
        # outside this partial index, so a long history does not slow claims down.
        "CREATE INDEX inbox_open ON {s}.inbox (item_id) WHERE status <> 'done'",
        "CREATE INDEX inbox_done ON {s}.inbox (done_at) WHERE status = 'done'",
        """CREATE TABLE {s}.dedup_keys (
            dedup_key TEXT COLLATE "C" PRIMARY KEY, expires_at TIMESTAMPTZ NOT NULL)""",
        "CREATE INDEX dedup_keys_by_expiry ON {s}.dedup_keys (expires_at)",
        """CREATE TABLE {s}.dead_letters (
            letter_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, source TEXT NOT NULL,
            letter_key TEXT, payload BYTEA NOT NULL, error TEXT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL, attempts INTEGER NOT NULL)""",
        "CREATE INDEX dead_letters_by_source ON {s}.dead_letters (source, letter_id)",
        """CREATE TABLE {s}.spool (
            job_id BIGINT PRIMARY KEY, path TEXT NOT NULL, size BIGINT NOT NULL,
            created_at TIMESTAMPTZ NOT NULL, kind TEXT NOT NULL, header TEXT NOT NULL,
            digest TEXT NOT NULL)""",
        """CREATE TABLE {s}.locks (
            kind TEXT NOT NULL, account_id BIGINT NOT NULL, owner TEXT NOT NULL,
            acquired_at TIMESTAMPTZ NOT NULL, expires_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (kind, account_id))""",
    ),
    # 2: a small key/value table (run journals, generation counters).
    (
        """CREATE TABLE {s}.kv (
            namespace TEXT COLLATE "C" NOT NULL, kv_key TEXT COLLATE "C" NOT NULL,
            value TEXT NOT NULL, PRIMARY KEY (namespace, kv_key))""",
    ),
)
"""Ordered migrations; migration ``n`` (1-based) brings the schema to version ``n``.
``{s}`` stands for the quoted schema name. Append only: never edit a released migration."""

TABLES: Final = (
    "watermarks",
    "job_history",
    "jobs",
    "full_imports",
    "item_versions",
    "inbox",
    "dedup_keys",
    "dead_letters",
    "spool",
    "locks",
    "kv",
)
"""Every table of the current schema (children before parents)."""

# Bulk writes send keys as one text[] parameter per statement; 20k keys keep a statement well
# under a megabyte and the server's per-statement work short.
KEY_CHUNK: Final = 20_000
# Fingerprint checks: statements of 1 000 keys, up to 16 in flight (see
# get_item_versions); measured on 200k keys, smaller statements overlap the server's
# probes with this process's decoding best (~1.3x one 10k-key statement).
PROBE_CHUNK: Final = 1_000
PROBE_DEPTH: Final = 16

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


def utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC)


def utc_opt(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.astimezone(dt.UTC)


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """Naive datetimes are UTC (as in the record types)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def job(row: Sequence[Any], history: tuple[JobObservation, ...] = ()) -> TrackedJob:
    return job_from_row(row, history, when=utc, when_opt=utc_opt)


def inbox(row: Sequence[Any]) -> InboxItem:
    return inbox_from_row(row, when=utc, when_opt=utc_opt)


def letter(r: Sequence[Any]) -> DeadLetter:
    return DeadLetter(r[0], r[1], r[2], bytes(r[3]), r[4], utc(r[5]), r[6])


def spool(r: Sequence[Any]) -> SpoolEntry:
    return SpoolEntry(r[0], r[1], r[2], utc(r[3]), r[4], r[5], r[6])


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def list_jobs_sql(
    *,
    kind: str | None,
    account_id: int | None,
    statuses: Iterable[TrackedStatus] | None,
    submitted_before: dt.datetime | None,
    submitted_after: dt.datetime | None,
    limit: int | None,
) -> tuple[str, list[Any]] | None:
    """The ``list_jobs`` statement and its parameters; ``None`` when ``statuses`` is
    empty: nothing can match."""
    where: list[str] = []
    params: list[Any] = []
    if kind is not None:
        where.append("kind = %s")
        params.append(kind)
    if account_id is not None:
        where.append("account_id = %s")
        params.append(account_id)
    if statuses is not None:
        values = [TrackedStatus(s).value for s in statuses]
        if not values:
            return None
        where.append("status = ANY(%s)")
        params.append(values)
    if submitted_before is not None:
        where.append("submitted_at < %s")
        params.append(aware(submitted_before))
    if submitted_after is not None:
        where.append("submitted_at > %s")
        params.append(aware(submitted_after))
    sql = f"SELECT {JOB_COLUMNS} FROM {{s}}.jobs"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY submitted_at DESC, job_id DESC"
    if limit is not None:
        sql += " LIMIT %s"
        params.append(int(limit))
    return sql, params


# ---------------------------------------------------------------------- schema
MIGRATION_LOCK: Final = "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))"
CREATE_SCHEMA: Final = "CREATE SCHEMA IF NOT EXISTS {s}"
CREATE_SCHEMA_VERSION: Final = (
    "CREATE TABLE IF NOT EXISTS {s}.schema_version (version INTEGER PRIMARY KEY, "
    "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
)
SCHEMA_VERSION: Final = "SELECT MAX(version) FROM {s}.schema_version"
INSERT_SCHEMA_VERSION: Final = "INSERT INTO {s}.schema_version (version) VALUES (%s)"
SET_UTC: Final = "SET TIME ZONE 'UTC'"
RELAXED_COMMIT: Final = "SET LOCAL synchronous_commit TO off"

# ---------------------------------------------------------------------- watermarks
GET_WATERMARK: Final = (
    "SELECT value, version, updated_at FROM {s}.watermarks "
    "WHERE kind = %s AND account_id = %s AND source = %s"
)
FIRST_WATERMARK: Final = (
    "INSERT INTO {s}.watermarks (kind, account_id, source, value, version, updated_at) "
    "VALUES (%(kind)s, %(account)s, %(source)s, %(new)s, 1, {now}) "
    "ON CONFLICT (kind, account_id, source) DO NOTHING"
)
NEXT_WATERMARK: Final = (
    "UPDATE {s}.watermarks SET value = %(new)s, version = version + 1, "
    "updated_at = {now} WHERE kind = %(kind)s AND account_id = %(account)s "
    "AND source = %(source)s AND value = %(expected)s AND (%(back)s OR %(new)s >= value)"
)

# ---------------------------------------------------------------------- tracked jobs
INSERT_HISTORY: Final = (
    "INSERT INTO {s}.job_history (job_id, seen_at, status, status_id, last_updated, source, "
    "note) VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
INSERT_JOB: Final = (
    f"INSERT INTO {{s}}.jobs ({JOB_COLUMNS}) VALUES ("
    + ", ".join(["%s"] * 21)
    + ") ON CONFLICT (job_id) DO NOTHING"
)
LOCK_JOB_STATUS: Final = "SELECT status FROM {s}.jobs WHERE job_id = %s FOR UPDATE"
UPDATE_JOB: Final = (
    "UPDATE {s}.jobs SET status = %(status)s, "
    "status_id = CASE WHEN %(changeable)s THEN COALESCE(%(status_id)s, status_id) "
    "ELSE status_id END, "
    "totals = COALESCE(%(totals)s, totals), inserts = COALESCE(%(inserts)s, inserts), "
    "updates = COALESCE(%(updates)s, updates), fail = COALESCE(%(fail)s, fail), "
    "started_at = COALESCE(%(started_at)s, started_at), "
    "finished_at = COALESCE(finished_at, %(finished_at)s), "
    "last_updated = COALESCE(%(last_updated)s, last_updated), "
    "polls = polls + %(add_polls)s WHERE job_id = %(job_id)s"
)
GET_JOB: Final = f"SELECT {JOB_COLUMNS} FROM {{s}}.jobs WHERE job_id = %s"
# One statement, so the job and its history come from one snapshot.
GET_JOB_WITH_HISTORY: Final = (
    "SELECT "
    + ", ".join(f"j.{c.strip()}" for c in JOB_COLUMNS.split(","))
    + ", h.seen_at, h.status, h.status_id, h.last_updated, h.source, h.note "
    "FROM {s}.jobs j LEFT JOIN {s}.job_history h ON h.job_id = j.job_id "
    "WHERE j.job_id = %s ORDER BY h.seq"
)
# One statement: the jobs marked and their history entries cannot diverge.
MARK_SUPERSEDED: Final = (
    "WITH marked AS (UPDATE {s}.jobs SET status = %(superseded)s, superseded_by = %(by)s "
    "WHERE kind = %(kind)s AND account_id = %(account)s AND submitted_at < %(before)s "
    "AND job_id <> %(by)s AND status = ANY(%(statuses)s) RETURNING job_id), "
    "logged AS (INSERT INTO {s}.job_history (job_id, seen_at, status, status_id, "
    "last_updated, source, note) SELECT job_id, {now}, %(superseded)s, NULL, NULL, "
    "'local', %(note)s FROM marked ORDER BY job_id) "
    "SELECT job_id FROM marked ORDER BY job_id"
)

# ---------------------------------------------------------------------- full imports
GET_FULL_IMPORT: Final = (
    "SELECT job_id, finished_at, item_count FROM {s}.full_imports "
    "WHERE kind = %s AND account_id = %s"
)
SET_FULL_IMPORT: Final = (
    "INSERT INTO {s}.full_imports (kind, account_id, job_id, finished_at, item_count) "
    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (kind, account_id) DO UPDATE SET "
    "job_id = excluded.job_id, finished_at = excluded.finished_at, "
    "item_count = excluded.item_count WHERE excluded.finished_at >= full_imports.finished_at"
)

# ---------------------------------------------------------------------- item versions
GET_VERSIONS: Final = (
    "SELECT v.item_key, v.fingerprint, v.version FROM unnest(%b::text[]) AS k(key) "
    "CROSS JOIN LATERAL (SELECT item_key, fingerprint, version FROM {s}.item_versions "
    'WHERE kind = %s AND item_key = k.key COLLATE "C" OFFSET 0) AS v'
)
PUT_VERSIONS: Final = (
    "INSERT INTO {s}.item_versions (kind, item_key, fingerprint, version) "
    "SELECT %s, k, f, v FROM unnest(%b::text[], %b::text[], %b::text[]) AS t(k, f, v) "
    "ON CONFLICT (kind, item_key) DO UPDATE SET fingerprint = excluded.fingerprint, "
    "version = excluded.version WHERE (item_versions.fingerprint, item_versions.version) "
    "IS DISTINCT FROM (excluded.fingerprint, excluded.version)"
)
DELETE_VERSIONS: Final = "DELETE FROM {s}.item_versions WHERE kind = %s AND item_key = ANY(%b)"
COUNT_VERSIONS: Final = "SELECT COUNT(*) FROM {s}.item_versions WHERE kind = %s"

# ---------------------------------------------------------------------- webhook inbox
INBOX_APPEND: Final = (
    "INSERT INTO {s}.inbox (dedup_key, event_type, payload, received_at, status, "
    "available_at) VALUES (%(key)s, %(type)s, %(payload)s, {now}, 'pending', {now}) "
    "ON CONFLICT (dedup_key) DO NOTHING"
)
# The dedup check and the append in one statement: the key is (re)armed only when its
# window ended, and the item is inserted only when the key was (or no key is checked).
INBOX_WRITE: Final = (
    "WITH fresh AS (INSERT INTO {s}.dedup_keys (dedup_key, expires_at) "
    "SELECT %(dedup)s::text, {now} + %(window)s * interval '1 second' "
    "WHERE %(dedup)s::text IS NOT NULL ON CONFLICT (dedup_key) DO UPDATE "
    "SET expires_at = excluded.expires_at WHERE dedup_keys.expires_at <= {now} "
    "RETURNING 1) "
    "INSERT INTO {s}.inbox (dedup_key, event_type, payload, received_at, status, "
    "available_at) SELECT %(key)s, %(type)s, %(payload)s, {now}, 'pending', {now} "
    "WHERE %(dedup)s::text IS NULL OR EXISTS (SELECT 1 FROM fresh) "
    "ON CONFLICT (dedup_key) DO NOTHING RETURNING item_id"
)
PUT_LETTER_NOW: Final = (
    "INSERT INTO {s}.dead_letters (source, letter_key, payload, error, created_at, "
    "attempts) VALUES (%(source)s, %(key)s, %(payload)s, %(error)s, {now}, 0) "
    "RETURNING letter_id"
)
INBOX_CLAIM: Final = (
    "WITH picked AS (SELECT item_id FROM {s}.inbox WHERE status <> 'done' AND "
    "((status = 'pending' AND available_at <= {now}) OR "
    "(status = 'leased' AND lease_expires_at <= {now})) "
    "ORDER BY item_id LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
    "UPDATE {s}.inbox AS i SET status = 'leased', lease_owner = %(owner)s, "
    "lease_expires_at = {now} + %(lease)s * interval '1 second', "
    "attempts = i.attempts + 1 FROM picked WHERE i.item_id = picked.item_id "
    "RETURNING i.item_id, i.dedup_key, i.event_type, i.payload, i.received_at, "
    "i.status, i.attempts, i.lease_owner, i.lease_expires_at, i.available_at, "
    "i.last_error"
)
INBOX_ACK: Final = (
    "UPDATE {s}.inbox SET status = 'done', done_at = {now}, lease_owner = NULL, "
    "lease_expires_at = NULL WHERE item_id = ANY(%(ids)s) AND status = 'leased' "
    "AND lease_owner = %(owner)s AND lease_expires_at > {now}"
)
INBOX_RELEASE: Final = (
    "UPDATE {s}.inbox AS i SET status = 'pending', lease_owner = NULL, "
    "lease_expires_at = NULL, available_at = {now} + r.delay * interval '1 second', "
    "last_error = COALESCE(r.error, i.last_error) "
    "FROM unnest(%(ids)s::bigint[], %(errors)s::text[], %(delays)s::float8[]) "
    "AS r(item_id, error, delay) WHERE i.item_id = r.item_id AND i.status = 'leased' "
    "AND i.lease_owner = %(owner)s AND i.lease_expires_at > {now}"
)
INBOX_RENEW: Final = (
    "UPDATE {s}.inbox SET lease_expires_at = {now} + %(lease)s * interval '1 second' "
    "WHERE item_id = ANY(%(ids)s) AND status = 'leased' AND lease_owner = %(owner)s "
    "AND lease_expires_at > {now}"
)
INBOX_COUNTS: Final = "SELECT status, COUNT(*) FROM {s}.inbox GROUP BY status"
INBOX_OLDEST_PENDING: Final = "SELECT MIN(received_at) FROM {s}.inbox WHERE status = 'pending'"
INBOX_RECLAIM: Final = (
    "UPDATE {s}.inbox SET status = 'pending', lease_owner = NULL, "
    "lease_expires_at = NULL, available_at = {now} "
    "WHERE status = 'leased' AND lease_expires_at <= {now}"
)
INBOX_GET: Final = f"SELECT {INBOX_COLUMNS} FROM {{s}}.inbox WHERE item_id = %s"
INBOX_PURGE: Final = "DELETE FROM {s}.inbox WHERE status = 'done' AND done_at < %s"

# ---------------------------------------------------------------------- dedup keys
DEDUP_ADD: Final = (
    "INSERT INTO {s}.dedup_keys (dedup_key, expires_at) "
    "VALUES (%(key)s, {now} + %(window)s * interval '1 second') "
    "ON CONFLICT (dedup_key) DO UPDATE SET expires_at = excluded.expires_at "
    "WHERE dedup_keys.expires_at <= {now}"
)
DEDUP_EXPIRE: Final = (
    "UPDATE {s}.dedup_keys SET expires_at = {now} "
    "WHERE dedup_key = ANY(%(keys)s) AND expires_at > {now}"
)
DEDUP_PURGE: Final = "DELETE FROM {s}.dedup_keys WHERE expires_at <= {now}"

# ---------------------------------------------------------------------- dead letters
PUT_LETTER: Final = (
    "INSERT INTO {s}.dead_letters (source, letter_key, payload, error, created_at, "
    "attempts) VALUES (%(source)s, %(key)s, %(payload)s, %(error)s, {now}, %(attempts)s) "
    "RETURNING letter_id"
)
LIST_LETTERS: Final = f"SELECT {LETTER_COLUMNS} FROM {{s}}.dead_letters"
GET_LETTER: Final = f"{LIST_LETTERS} WHERE letter_id = %s"
DELETE_LETTER: Final = "DELETE FROM {s}.dead_letters WHERE letter_id = %s"

# ---------------------------------------------------------------------- payload spool index
PUT_SPOOL: Final = (
    f"INSERT INTO {{s}}.spool ({SPOOL_COLUMNS}) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (job_id) DO UPDATE SET "
    "path = excluded.path, size = excluded.size, created_at = excluded.created_at, "
    "kind = excluded.kind, header = excluded.header, digest = excluded.digest"
)
GET_SPOOL: Final = f"SELECT {SPOOL_COLUMNS} FROM {{s}}.spool WHERE job_id = %s"
LIST_SPOOL: Final = f"SELECT {SPOOL_COLUMNS} FROM {{s}}.spool ORDER BY created_at, job_id"
DELETE_SPOOL: Final = "DELETE FROM {s}.spool WHERE job_id = %s"

# ---------------------------------------------------------------------- in-flight locks
# One upsert; racing hosts cannot both win. The same owner extending a live lock keeps
# its original acquisition time.
ACQUIRE_LOCK: Final = (
    "INSERT INTO {s}.locks (kind, account_id, owner, acquired_at, expires_at) "
    "VALUES (%(kind)s, %(account)s, %(owner)s, {now}, "
    "{now} + %(ttl)s * interval '1 second') "
    "ON CONFLICT (kind, account_id) DO UPDATE SET owner = excluded.owner, "
    "acquired_at = CASE WHEN locks.owner = excluded.owner "
    "AND locks.expires_at > {now} THEN locks.acquired_at "
    "ELSE excluded.acquired_at END, expires_at = excluded.expires_at "
    "WHERE locks.owner = excluded.owner OR locks.expires_at <= {now}"
)
RELEASE_LOCK: Final = "DELETE FROM {s}.locks WHERE kind = %s AND account_id = %s AND owner = %s"
LOCK_HOLDER: Final = (
    "SELECT owner, acquired_at, expires_at FROM {s}.locks "
    "WHERE kind = %(kind)s AND account_id = %(account)s AND expires_at > {now}"
)

# ---------------------------------------------------------------------- key/value
KV_GET: Final = "SELECT value FROM {s}.kv WHERE namespace = %s AND kv_key = %s"
KV_PUT: Final = (
    "INSERT INTO {s}.kv (namespace, kv_key, value) VALUES (%s, %s, %s) "
    "ON CONFLICT (namespace, kv_key) DO UPDATE SET value = excluded.value"
)
# Compare-and-set in one statement each: insert when absent, update or delete when equal.
KV_CREATE: Final = (
    "INSERT INTO {s}.kv (namespace, kv_key, value) VALUES (%s, %s, %s) "
    "ON CONFLICT (namespace, kv_key) DO NOTHING"
)
KV_REPLACE: Final = (
    "UPDATE {s}.kv SET value = %s WHERE namespace = %s AND kv_key = %s AND value = %s"
)
KV_DELETE_IF: Final = "DELETE FROM {s}.kv WHERE namespace = %s AND kv_key = %s AND value = %s"
KV_ABSENT: Final = "SELECT NOT EXISTS (SELECT 1 FROM {s}.kv WHERE namespace = %s AND kv_key = %s)"
KV_DELETE: Final = "DELETE FROM {s}.kv WHERE namespace = %s AND kv_key = %s"
KV_LIST: Final = (
    "SELECT kv_key, value FROM {s}.kv WHERE namespace = %s AND left(kv_key, %s) = %s "
    "ORDER BY kv_key"
)


def kv_compare_and_set(expected: str | None, new: str | None) -> tuple[str, tuple[int, ...]]:
    """The one statement of a key/value compare-and-set and the order of its parameters.

    The parameters are indexes into ``(namespace, key, expected, new)``; the statement
    applied the change iff it reports a row (``KV_ABSENT``: iff it returns true).
    """
    if expected is None:
        return (KV_ABSENT, (0, 1)) if new is None else (KV_CREATE, (0, 1, 3))
    if new is None:
        return KV_DELETE_IF, (0, 1, 2)
    return KV_REPLACE, (3, 0, 1, 2)


def latest_releases(
    releases: Iterable[tuple[int, str | None, float]],
) -> tuple[list[int], list[str | None], list[float]]:
    """``inbox_release_many`` parameters: sorted ids, the last error and delay of each."""
    latest = {item_id: (error, max(0.0, delay)) for item_id, error, delay in releases}
    ids = sorted(latest)
    return ids, [latest[i][0] for i in ids], [float(latest[i][1]) for i in ids]


def counts_by_status(rows: Iterable[Sequence[Any]]) -> dict[str, int]:
    """Items per inbox status value, zero for the absent ones."""
    counts = {"pending": 0, "leased": 0, "done": 0}
    counts.update({str(status): int(count) for status, count in rows})
    return counts
