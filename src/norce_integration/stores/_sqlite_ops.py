"""The SQL work of each SQLite store operation: one function per operation, taking the
connection (inside the transaction its runner opened) and plain values.

Both :class:`~norce_integration.stores.SqliteStore` and
:class:`~norce_integration.stores.AsyncSqliteStore` call these through their runner
(:mod:`._sqlite_runner`); the statements and decisions come from :mod:`._sqlite_sql`.
Functions named ``*_w`` need a write transaction (``BEGIN IMMEDIATE``), the others read.
"""

# ruff: noqa: PLR0917 - positional parameters: the runner passes them through as *args

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .._exceptions import StoreError
from . import _sqlite_sql as q
from ._models import (
    FINAL_STATUSES,
    DeadLetter,
    FullImportRecord,
    InboxItem,
    InFlightLock,
    ItemVersion,
    JobObservation,
    SpoolEntry,
    TrackedJob,
    TrackedStatus,
    Watermark,
)


Conn = sqlite3.Connection


@contextlib.contextmanager
def _snapshot(conn: Conn) -> Iterator[None]:
    """One read transaction, so several statements see one state."""
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


# ---------------------------------------------------------------------- schema


def migrate_w(conn: Conn, where: str, now: float) -> None:
    """Create or migrate the schema (in the caller's write transaction)."""
    conn.execute(q.CREATE_SCHEMA_VERSION)
    current = schema_version(conn)
    if current > len(q.MIGRATIONS):
        msg = (
            f"{where} has schema version {current}; this SDK knows up to "
            f"{len(q.MIGRATIONS)}. Upgrade norce-integration."
        )
        raise StoreError(msg)
    for version in range(current + 1, len(q.MIGRATIONS) + 1):
        for statement in q.MIGRATIONS[version - 1]:
            conn.execute(statement)
        conn.execute(q.INSERT_SCHEMA_VERSION, (version, now))


def schema_version(conn: Conn) -> int:
    return int(conn.execute(q.SCHEMA_VERSION).fetchone()[0] or 0)


# ---------------------------------------------------------------------- watermarks


def get_watermark(conn: Conn, kind: str, account_id: int, source: str) -> Watermark | None:
    row = conn.execute(q.GET_WATERMARK, (kind, account_id, source)).fetchone()
    if row is None:
        return None
    return Watermark(kind, account_id, source, row[0], row[1], q.when(row[2]))


def compare_and_set_watermark_w(
    conn: Conn,
    kind: str,
    account_id: int,
    source: str,
    expected: str | None,
    new: str,
    allow_backwards: bool,
    now: float,
) -> bool:
    row = conn.execute(q.GET_WATERMARK, (kind, account_id, source)).fetchone()
    current: str | None = None if row is None else row[0]
    if current != expected:
        return False
    if current is not None and new < current and not allow_backwards:
        return False
    version = (row[1] + 1) if row else 1
    conn.execute(q.PUT_WATERMARK, (kind, account_id, source, new, version, now))
    return True


# ---------------------------------------------------------------------- tracked jobs


def insert_job_w(conn: Conn, job: TrackedJob) -> bool:
    if conn.execute(q.INSERT_JOB, q.job_values(job)).rowcount == 0:
        return False
    conn.executemany(q.INSERT_HISTORY, map(q.history_values, job.history))
    return True


def record_job_status_w(
    conn: Conn,
    job_id: int,
    observation: JobObservation | None,
    counts: tuple[int | None, int | None, int | None, int | None],
    started_at: dt.datetime | None,
    finished_at: dt.datetime | None,
    add_polls: int,
) -> TrackedJob | None:
    row = conn.execute(q.JOB_STATUS, (job_id,)).fetchone()
    if row is None:
        return None
    current = TrackedStatus(row[0])
    # A final status is sticky: a late poll must not undo what an event settled.
    changeable = observation is not None and current not in FINAL_STATUSES
    status = current
    if observation is not None:
        conn.execute(q.INSERT_HISTORY, q.history_values(observation))
        if changeable:
            status = observation.status
    conn.execute(
        q.UPDATE_JOB,
        (
            status.value,
            int(changeable),
            None if observation is None else observation.status_id,
            *counts,
            q.ts(started_at),
            q.ts(finished_at),
            None if observation is None else q.ts(observation.last_updated),
            add_polls,
            job_id,
        ),
    )
    return _load_job(conn, job_id, with_history=True)


def _load_job(conn: Conn, job_id: int, *, with_history: bool) -> TrackedJob | None:
    row = conn.execute(q.GET_JOB, (job_id,)).fetchone()
    if row is None:
        return None
    history: tuple[JobObservation, ...] = ()
    if with_history:
        history = tuple(q.observation(job_id, h) for h in conn.execute(q.JOB_HISTORY, (job_id,)))
    return q.job(row, history)


def get_job(conn: Conn, job_id: int, with_history: bool) -> TrackedJob | None:
    with _snapshot(conn):
        return _load_job(conn, job_id, with_history=with_history)


def list_jobs(conn: Conn, sql: str, params: Sequence[Any]) -> list[TrackedJob]:
    return [q.job(row) for row in conn.execute(sql, params)]


def mark_superseded_w(
    conn: Conn,
    kind: str,
    account_id: int,
    by_job_id: int,
    submitted_before: float | None,
    statuses: Sequence[str],
    now: float,
) -> list[int]:
    ids = [
        int(r[0])
        for r in conn.execute(
            q.supersede_candidates(len(statuses)),
            (kind, account_id, submitted_before, by_job_id, *statuses),
        )
    ]
    conn.executemany(q.SUPERSEDE, ((TrackedStatus.SUPERSEDED.value, by_job_id, i) for i in ids))
    conn.executemany(
        q.INSERT_HISTORY,
        (
            q.history_values(
                JobObservation(
                    job_id=i,
                    seen_at=q.when(now),
                    status=TrackedStatus.SUPERSEDED,
                    source="local",
                    note=f"superseded by successful full import {by_job_id}",
                )
            )
            for i in ids
        ),
    )
    return ids


# ---------------------------------------------------------------------- full imports


def get_last_full_import(conn: Conn, kind: str, account_id: int) -> FullImportRecord | None:
    row = conn.execute(q.GET_FULL_IMPORT, (kind, account_id)).fetchone()
    if row is None:
        return None
    return FullImportRecord(kind, account_id, row[0], q.when(row[1]), row[2])


def set_last_full_import_w(conn: Conn, r: FullImportRecord) -> bool:
    values = (r.kind, r.account_id, r.job_id, q.ts(r.finished_at), r.item_count)
    return conn.execute(q.SET_FULL_IMPORT, values).rowcount > 0


# ---------------------------------------------------------------------- item versions


def get_item_versions(conn: Conn, kind: str, keys: Sequence[str]) -> dict[str, ItemVersion]:
    result: dict[str, ItemVersion] = {}
    with _snapshot(conn):
        for chunk in q.chunks(keys, q.KEY_CHUNK):
            for key, fingerprint, version in conn.execute(
                q.in_query(q.GET_VERSIONS_IN, len(chunk)), (kind, *chunk)
            ):
                result[key] = ItemVersion(fingerprint, version)
    return result


def put_item_versions_w(conn: Conn, kind: str, versions: Mapping[str, ItemVersion]) -> None:
    conn.executemany(
        q.PUT_VERSION, ((kind, key, v.fingerprint, v.version) for key, v in versions.items())
    )


def delete_item_versions_w(conn: Conn, kind: str, keys: Sequence[str]) -> int:
    return sum(
        conn.execute(q.in_query(q.DELETE_VERSIONS_IN, len(chunk)), (kind, *chunk)).rowcount
        for chunk in q.chunks(keys, q.KEY_CHUNK)
    )


def count_item_versions(conn: Conn, kind: str) -> int:
    return int(conn.execute(q.COUNT_VERSIONS, (kind,)).fetchone()[0])


# ---------------------------------------------------------------------- webhook inbox


def inbox_append_w(conn: Conn, dedup_key: str, event_type: str, payload: bytes, now: float) -> bool:
    values = (dedup_key, event_type, bytes(payload), now, q.PENDING, now)
    return conn.execute(q.INBOX_APPEND, values).rowcount > 0


def inbox_write_w(
    conn: Conn,
    entries: Sequence[tuple[str | None, str, str, bytes]],
    window: float,
    letters: Sequence[tuple[str, str | None, bytes, str]],
    now: float,
) -> tuple[list[bool], list[int]]:
    # A constant number of statements per group, whatever its size: every statement
    # releases and re-takes the GIL, and re-taking it from a busy event loop can cost the
    # interpreter's switch interval (5 ms) each time.
    live: set[str] = set()
    for names in q.chunks(q.dedup_checked(entries, window), q.KEYS_PER_STATEMENT):
        live.update(
            row[0] for row in conn.execute(q.in_query(q.DEDUP_LIVE_IN, len(names)), (now, *names))
        )
    results, keys, rows = q.plan_inbox_write(entries, live, now=now, window=window)
    # The keys are known absent or expired (checked above, in this transaction).
    for part in q.chunks(keys, q.ROWS_PER_STATEMENT):
        sql = q.rows_query(q.DEDUP_ROWS, 2, len(part), q.DEDUP_ROWS_TAIL)
        conn.execute(sql, [value for row in part for value in row])
    for chunk in q.chunks(rows, q.ROWS_PER_STATEMENT):
        sql = q.rows_query(q.INBOX_ROWS, 6, len(chunk))
        conn.execute(sql, [value for row in chunk for value in row])
    letter_ids = [
        int(conn.execute(q.PUT_LETTER, (s, k, bytes(p), e, now, 0)).lastrowid or 0)
        for s, k, p, e in letters
    ]
    return results, letter_ids


def inbox_claim_w(conn: Conn, owner: str, limit: int, lease: float, now: float) -> list[InboxItem]:
    # One statement (SQLite 3.35+), else three: the write lock is held for as short a
    # time as possible, since the receiver's group commit waits for it.
    if q.RETURNING:
        rows = conn.execute(q.INBOX_CLAIM, (owner, now + lease, now, now, limit)).fetchall()
        return sorted((q.inbox(row) for row in rows), key=lambda item: item.item_id)
    ids = [r[0] for r in conn.execute(q.INBOX_CLAIMABLE, (now, now, limit))]
    items: list[InboxItem] = []
    for chunk in q.chunks(ids, q.KEYS_PER_STATEMENT):
        conn.execute(q.in_query(q.INBOX_LEASE_IN, len(chunk)), (owner, now + lease, *chunk))
        items += map(q.inbox, conn.execute(q.in_query(q.INBOX_GET_IN, len(chunk)), tuple(chunk)))
    return sorted(items, key=lambda item: item.item_id)


def inbox_ack_w(conn: Conn, item_id: int, owner: str, now: float) -> bool:
    values = (q.DONE, now, item_id, q.LEASED, owner, now)
    return conn.execute(q.INBOX_ACK, values).rowcount > 0


def inbox_ack_many_w(conn: Conn, item_ids: Sequence[int], owner: str, now: float) -> int:
    return sum(
        conn.execute(
            q.in_query(q.INBOX_ACK_IN, len(chunk)), (q.DONE, now, q.LEASED, owner, now, *chunk)
        ).rowcount
        for chunk in q.chunks(item_ids, q.KEYS_PER_STATEMENT)
    )


def inbox_release_many_w(
    conn: Conn, releases: Sequence[tuple[int, str | None, float]], owner: str, now: float
) -> int:
    if not q.UPDATE_FROM:
        released = 0
        for item_id, error, delay in releases:
            values = (q.PENDING, now + max(0.0, delay), error, item_id, q.LEASED, owner, now)
            released += conn.execute(q.INBOX_RELEASE, values).rowcount
        return released
    # One statement per chunk; the first release of an id counts, as one by one.
    first: dict[int, tuple[int, float, str | None]] = {}
    for item_id, error, delay in releases:
        first.setdefault(int(item_id), (int(item_id), now + max(0.0, delay), error))
    released = 0
    for chunk in q.chunks(list(first.values()), q.KEYS_PER_STATEMENT // 3):
        sql = q.INBOX_RELEASE_FROM.format(rows=", ".join(["(?, ?, ?)"] * len(chunk)))
        flat = [v for row in chunk for v in row]
        released += conn.execute(sql, (*flat, q.LEASED, owner, now)).rowcount
    return released


def inbox_renew_w(conn: Conn, item_ids: Sequence[int], owner: str, lease: float, now: float) -> int:
    return sum(
        conn.execute(
            q.in_query(q.INBOX_RENEW_IN, len(chunk)), (now + lease, q.LEASED, owner, now, *chunk)
        ).rowcount
        for chunk in q.chunks(item_ids, q.KEYS_PER_STATEMENT)
    )


def inbox_counts(conn: Conn) -> dict[str, int]:
    return q.counts_by_status(conn.execute(q.INBOX_COUNTS).fetchall())


def inbox_oldest_pending(conn: Conn) -> dt.datetime | None:
    return q.when_opt(conn.execute(q.INBOX_OLDEST_PENDING, (q.PENDING,)).fetchone()[0])


def inbox_reclaim_expired_w(conn: Conn, now: float) -> int:
    return conn.execute(q.INBOX_RECLAIM, (q.PENDING, now, q.LEASED, now)).rowcount


def inbox_get(conn: Conn, item_id: int) -> InboxItem | None:
    row = conn.execute(q.INBOX_GET, (item_id,)).fetchone()
    return None if row is None else q.inbox(row)


def inbox_purge_w(conn: Conn, done_before: float | None) -> int:
    return conn.execute(q.INBOX_PURGE, (q.DONE, done_before)).rowcount


def inbox_purge_slice_w(conn: Conn, done_before: float | None, size: int) -> int:
    return conn.execute(q.INBOX_PURGE_SLICE, (done_before, size)).rowcount


# ---------------------------------------------------------------------- dedup keys


def dedup_add_w(conn: Conn, key: str, window: float, now: float) -> bool:
    return conn.execute(q.DEDUP_ADD, (key, now + window, now)).rowcount > 0


def dedup_expire_w(conn: Conn, keys: Sequence[str], now: float) -> int:
    return sum(
        conn.execute(q.in_query(q.DEDUP_EXPIRE_IN, len(chunk)), (now, now, *chunk)).rowcount
        for chunk in q.chunks(list(dict.fromkeys(keys)), q.KEYS_PER_STATEMENT)
    )


def dedup_purge_w(conn: Conn, now: float) -> int:
    return conn.execute(q.DEDUP_PURGE, (now,)).rowcount


def dedup_purge_slice_w(conn: Conn, now: float, size: int) -> int:
    return conn.execute(q.DEDUP_PURGE_SLICE, (now, size)).rowcount


# ---------------------------------------------------------------------- dead letters


def put_dead_letter_w(
    conn: Conn,
    source: str,
    payload: bytes,
    error: str,
    key: str | None,
    attempts: int,
    now: float,
) -> int:
    values = (source, key, bytes(payload), error, now, attempts)
    return int(conn.execute(q.PUT_LETTER, values).lastrowid or 0)


def list_dead_letters(conn: Conn, sql: str, params: Sequence[Any]) -> list[DeadLetter]:
    return [q.letter(r) for r in conn.execute(sql, params)]


def get_dead_letter(conn: Conn, letter_id: int) -> DeadLetter | None:
    row = conn.execute(q.GET_LETTER, (letter_id,)).fetchone()
    return None if row is None else q.letter(row)


def delete_dead_letter_w(conn: Conn, letter_id: int) -> bool:
    return conn.execute(q.DELETE_LETTER, (letter_id,)).rowcount > 0


# ---------------------------------------------------------------------- payload spool index


def put_spool_entry_w(conn: Conn, entry: SpoolEntry) -> None:
    conn.execute(q.PUT_SPOOL, q.spool_values(entry))


def get_spool_entry(conn: Conn, job_id: int) -> SpoolEntry | None:
    row = conn.execute(q.GET_SPOOL, (job_id,)).fetchone()
    return None if row is None else q.spool(row)


def list_spool_entries(conn: Conn) -> list[SpoolEntry]:
    return [q.spool(r) for r in conn.execute(q.LIST_SPOOL)]


def delete_spool_entry_w(conn: Conn, job_id: int) -> bool:
    return conn.execute(q.DELETE_SPOOL, (job_id,)).rowcount > 0


# ---------------------------------------------------------------------- in-flight locks


def acquire_lock_w(
    conn: Conn, kind: str, account_id: int, owner: str, ttl: float, now: float
) -> bool:
    row = conn.execute(q.GET_LOCK, (kind, account_id)).fetchone()
    allowed, acquired = q.lock_decision(row, owner, now)
    if allowed:
        conn.execute(q.PUT_LOCK, (kind, account_id, owner, acquired, now + ttl))
    return allowed


def release_lock_w(conn: Conn, kind: str, account_id: int, owner: str) -> bool:
    return conn.execute(q.DELETE_LOCK, (kind, account_id, owner)).rowcount > 0


def lock_holder(conn: Conn, kind: str, account_id: int, now: float) -> InFlightLock | None:
    row = conn.execute(q.LIVE_LOCK, (kind, account_id, now)).fetchone()
    return None if row is None else q.lock(kind, account_id, row)


# ---------------------------------------------------------------------- key/value


def kv_get(conn: Conn, namespace: str, key: str) -> str | None:
    row = conn.execute(q.KV_GET, (namespace, key)).fetchone()
    return None if row is None else str(row[0])


def kv_put_w(conn: Conn, namespace: str, key: str, value: str) -> None:
    conn.execute(q.KV_PUT, (namespace, key, value))


def kv_compare_and_set_w(
    conn: Conn, namespace: str, key: str, expected: str | None, new: str | None
) -> bool:
    if kv_get(conn, namespace, key) != expected:
        return False
    if new is None:
        conn.execute(q.KV_DELETE, (namespace, key))
    else:
        conn.execute(q.KV_PUT, (namespace, key, new))
    return True


def kv_delete_w(conn: Conn, namespace: str, key: str) -> bool:
    return conn.execute(q.KV_DELETE, (namespace, key)).rowcount > 0


def kv_list(conn: Conn, namespace: str, prefix: str) -> dict[str, str]:
    return dict(conn.execute(q.KV_LIST, (namespace, len(prefix), prefix)).fetchall())
