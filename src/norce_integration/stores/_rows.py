"""Row → record conversions shared by SqliteStore and PostgresStore.

Both stores select the same columns in the same order; only how a time is stored differs
(epoch seconds in SQLite, ``timestamptz`` in PostgreSQL), so each passes its converters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from ._models import InboxItem, InboxStatus, JobObservation, TrackedJob, TrackedStatus


__all__ = ["inbox_from_row", "job_from_row"]


def job_from_row(
    row: Sequence[Any],
    history: tuple[JobObservation, ...] = (),
    *,
    when: Callable[[Any], dt.datetime],
    when_opt: Callable[[Any], dt.datetime | None],
) -> TrackedJob:
    """A ``tracked_jobs`` row (columns in the order both stores select) → record."""
    return TrackedJob(
        job_id=row[0],
        kind=row[1],
        full=bool(row[2]),
        account_id=row[3],
        submitted_at=when(row[4]),
        item_count=row[5],
        payload_digest=row[6],
        payload_size=row[7],
        header=row[8],
        status=TrackedStatus(row[9]),
        status_id=row[10],
        totals=row[11],
        inserts=row[12],
        updates=row[13],
        fail=row[14],
        started_at=when_opt(row[15]),
        finished_at=when_opt(row[16]),
        last_updated=when_opt(row[17]),
        polls=row[18],
        rerun_of=row[19],
        superseded_by=row[20],
        history=history,
    )


def inbox_from_row(
    row: Sequence[Any],
    *,
    when: Callable[[Any], dt.datetime],
    when_opt: Callable[[Any], dt.datetime | None],
) -> InboxItem:
    """An ``inbox`` row (columns in the order both stores select) → record."""
    return InboxItem(
        item_id=row[0],
        dedup_key=row[1],
        event_type=row[2],
        payload=bytes(row[3]),
        received_at=when(row[4]),
        status=InboxStatus(row[5]),
        attempts=row[6],
        lease_owner=row[7],
        lease_expires_at=when_opt(row[8]),
        available_at=when_opt(row[9]),
        last_error=row[10],
    )
