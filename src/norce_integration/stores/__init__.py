"""State the SDK keeps: the :class:`Store` protocol, its record types, and :class:`SqliteStore`.

``PostgresStore`` (many processes on many machines sharing one state) implements the same
protocol.
"""

from __future__ import annotations

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
    "DeadLetter",
    "FullImportRecord",
    "InFlightLock",
    "InboxItem",
    "InboxStatus",
    "ItemVersion",
    "JobObservation",
    "SpoolEntry",
    "SqliteStore",
    "Store",
    "TrackedJob",
    "TrackedStatus",
    "Watermark",
    "sortable_watermark",
]
