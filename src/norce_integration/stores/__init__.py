"""State the SDK keeps: the :class:`AsyncStore`/:class:`Store` protocol, its record types,
:class:`AsyncSqliteStore`/:class:`SqliteStore` (one file, the embedded default) and
:class:`AsyncPostgresStore`/:class:`PostgresStore` (many processes on many machines sharing
one state; needs ``pip install 'norce-integration[postgres]'``, imported only when a store
is created).
"""

from __future__ import annotations

from ._async_postgres import AsyncPostgresStore
from ._async_protocol import AsyncStore
from ._async_sqlite import AsyncSqliteStore
from ._models import (
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
    sortable_watermark,
)
from ._sync_postgres import PostgresStore
from ._sync_protocol import Store
from ._sync_sqlite import SqliteStore


__all__ = [
    "FINAL_STATUSES",
    "AsyncPostgresStore",
    "AsyncSqliteStore",
    "AsyncStore",
    "DeadLetter",
    "FullImportRecord",
    "InFlightLock",
    "InboxItem",
    "InboxStatus",
    "ItemVersion",
    "JobObservation",
    "PostgresStore",
    "SpoolEntry",
    "SqliteStore",
    "Store",
    "TrackedJob",
    "TrackedStatus",
    "Watermark",
    "sortable_watermark",
]
