"""State the SDK keeps: the :class:`Store` protocol, its record types, :class:`SqliteStore`
(one file, the embedded default) and :class:`PostgresStore` (many processes on many
machines sharing one state; needs ``pip install 'norce-integration[postgres]'``, imported
only when a store is created).
"""

from __future__ import annotations

from ._async_postgres import AsyncPostgresStore
from ._async_protocol import AsyncStore
from ._postgres import PostgresStore
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
    Store,
    TrackedJob,
    TrackedStatus,
    Watermark,
    sortable_watermark,
)
from ._sqlite import SqliteStore


__all__ = [
    "FINAL_STATUSES",
    "AsyncPostgresStore",
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
