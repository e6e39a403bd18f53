"""Connect job tracking: record, wait for, resume, inspect and re-run Connect jobs.

:class:`AsyncJobTracker` is the source (``_async_tracker.py``); :class:`JobTracker` is its
generated blocking twin. The decisions (status rules, poll schedule, stall and lead-time
alerts, re-run rules) are the pure code of ``_core.py``.
"""

from __future__ import annotations

from ._async_tracker import AsyncJobTracker
from ._core import PollSchedule
from ._models import (
    AlertKind,
    AsyncFullImportGuard,
    FullImportGuard,
    JobAlert,
    JobDetails,
    JobResult,
    TrackingMode,
)
from ._monitor import JobMetrics, JobMonitor, LoggingMonitor, Meter
from ._spool import PayloadSpool, SpoolWriter
from ._sync_tracker import JobTracker


__all__ = [
    "AlertKind",
    "AsyncJobTracker",
    "AsyncFullImportGuard",
    "FullImportGuard",
    "JobAlert",
    "JobDetails",
    "JobMetrics",
    "JobMonitor",
    "JobResult",
    "JobTracker",
    "LoggingMonitor",
    "Meter",
    "PayloadSpool",
    "PollSchedule",
    "SpoolWriter",
    "TrackingMode",
]
