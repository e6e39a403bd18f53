"""Connect import jobs on the emulator clock (``norce-connect.md`` §4).

A job is created Queued (6) when the import request is accepted, becomes Initialized (1)
after ``JobTimings.queued`` seconds, and ends ``JobTimings.running`` (+ per item) seconds
later as Succeeded (2), Failed (3) or ValidationFailed (4). The mapping of Norce's Admin
states onto these ids is UNCONFIRMED (reference §4.3); the emulator follows the design
assumption there. Items are applied at the end, from the spooled body.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import attrs

from ._clock import format_net_datetime, format_timespan
from ._contracts import ImportSpec, ParsedHeader
from ._data import LogEntry
from ._spool import BodySpool


__all__ = [
    "FAILED",
    "INITIALIZED",
    "QUEUED",
    "SUCCEEDED",
    "STATUS_NAMES",
    "TERMINAL",
    "VALIDATING",
    "VALIDATION_FAILED",
    "Job",
    "JobTimings",
]

INITIALIZED = 1
SUCCEEDED = 2
FAILED = 3
VALIDATION_FAILED = 4
VALIDATING = 5
QUEUED = 6
TERMINAL = frozenset({SUCCEEDED, FAILED, VALIDATION_FAILED})
STATUS_NAMES = {
    "initialized": INITIALIZED,
    "succeeded": SUCCEEDED,
    "failed": FAILED,
    "validationfailed": VALIDATION_FAILED,
    "validating": VALIDATING,
    "queued": QUEUED,
}


@attrs.frozen
class JobTimings:
    """How long emulated jobs take, in emulator seconds.

    Attributes:
        queued: time in Queued (6) before a worker picks the job up.
        running: time in Initialized (1) before the job ends.
        per_item: extra running time per item (large imports take longer).
    """

    queued: float = 1.0
    running: float = 2.0
    per_item: float = 0.0

    def run_seconds(self, items: int) -> float:
        """Running time of a job with ``items`` items."""
        return self.running + self.per_item * items


@attrs.define(eq=False)
class Job:
    """One import job and everything ``Job/Get`` and ``Job/GetLog`` report about it.

    Outcome faults are decided when the job is created (seeded, deterministic).
    """

    job_id: int
    spec: ImportSpec
    header: ParsedHeader
    spool: BodySpool | None
    totals: int
    sync_failures: int
    created: datetime
    start_due: datetime
    run_seconds: float
    outcome: str = "process"  # "process" | "fail" | "validation_fail"
    stalled: bool = False
    status: int = QUEUED
    start: datetime | None = None
    stop: datetime | None = None
    last_updated: datetime | None = None
    finish_due: datetime | None = None
    inserts: int = 0
    updates: int = 0
    fail: int = 0
    log: list[LogEntry] = attrs.field(factory=list)

    @property
    def storage_name(self) -> str:
        """Where Norce would keep the payload (format UNCONFIRMED; informative only)."""
        day = self.created.strftime("%Y/%m/%d")
        kind = f"{self.spec.service}/{self.spec.method}".lower()
        return f"connect/{kind}/{day}/{self.job_id}.json"

    @property
    def is_finished(self) -> bool:
        """True in the terminal states 2, 3 and 4."""
        return self.status in TERMINAL

    def next_due(self) -> datetime | None:
        """When this job next changes state by itself (None: finished or stalled)."""
        if self.status == QUEUED:
            return self.start_due
        if self.status == INITIALIZED and not self.stalled:
            return self.finish_due
        return None

    def to_dto(self) -> dict[str, Any]:
        """``JobDto``. Emits both ``Inserts`` (contract) and ``Insert`` (docs): which one
        Connect really sends is UNCONFIRMED (reference §7)."""
        start = self.start or self.created
        last = self.last_updated or self.created
        run = (self.stop - start) if self.stop is not None else max(last - start, timedelta(0))
        return {
            "JobId": self.job_id,
            "StatusId": self.status,
            "StorageName": self.storage_name,
            "Totals": self.totals,
            "Inserts": self.inserts,
            "Insert": self.inserts,
            "Updates": self.updates,
            "Fail": self.fail,
            "Start": format_net_datetime(start),
            "Stop": None if self.stop is None else format_net_datetime(self.stop),
            "LastUpdated": format_net_datetime(last),
            "IsFinished": self.is_finished,
            "RunTime": format_timespan(run),
        }

    def log_dto(self) -> list[dict[str, Any]]:
        """``JobLogDto[]``."""
        return [
            {
                "SeverityId": entry.severity,
                "Message": entry.message,
                "TimeStamp": format_net_datetime(entry.time),
                "ImportedRow": entry.imported_row,
            }
            for entry in self.log
        ]

    def close(self) -> None:
        """Release the spooled body."""
        if self.spool is not None:
            self.spool.close()
            self.spool = None
