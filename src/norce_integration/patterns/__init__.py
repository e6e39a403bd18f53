"""Norce's integration patterns: job tracking today; full and delta imports and the event
handler build on it.

* :class:`JobTracker` / :class:`AsyncJobTracker`: record, wait for (event or polite
  polling), resume, inspect and re-run Connect jobs;
* :class:`JobResult`, :class:`JobDetails`: what a wait and an inspection return;
* :class:`JobMonitor`, :class:`LoggingMonitor`, :class:`JobAlert`, :class:`AlertKind`:
  alerts (stalled, long lead time) and results;
* :class:`Meter`: the OpenTelemetry-shaped metrics hook;
* :class:`PollSchedule`: first delay, backoff, jitter, cap, ``Retry-After``;
* :class:`PayloadSpool`: sent payloads kept for re-runs;
* :class:`FullImport` / :class:`AsyncFullImport`: guarded full imports (``FullFile=true``),
  spooled and checked before the POST, split only along the kind's scope key;
* :class:`DeltaImport` / :class:`AsyncDeltaImport`: scheduled deltas (watermark or
  fingerprint), de-duplicated, never older than what was sent; the watermark moves
  only after success;
* :class:`SourceAdapter` / :class:`AsyncSourceAdapter`, :class:`SourceSpec`: the
  integrator's source and what it owns; :class:`LookupHelper`, :class:`QueryLookup`:
  cached Norce lookups for mapping;
* :class:`ImportResult`, :class:`ImportPlan`, :class:`MappingError`, :class:`Progress`:
  what runs and dry runs report;
* :class:`EventHandler` / :class:`AsyncEventHandler`: the webhook receiver (ASGI) and the
  workers that turn Norce events into Query lookups and target batches;
  :class:`TargetAdapter` / :class:`AsyncTargetAdapter`, :class:`Deletion`,
  :class:`WebhookAuth`, :class:`EventBatchReport`, :class:`EventReplayReport`.
"""

from __future__ import annotations

from .events import (
    AsyncEventHandler,
    AsyncTargetAdapter,
    Deletion,
    EventBatchReport,
    EventHandler,
    EventReplayReport,
    TargetAdapter,
    WebhookAuth,
)
from .imports import (
    AdapterContext,
    AsyncDeltaImport,
    AsyncFullImport,
    AsyncImportRuns,
    AsyncLookupHelper,
    AsyncQueryLookup,
    AsyncSourceAdapter,
    DeltaImport,
    DeltaMode,
    FullImport,
    ImportPlan,
    ImportResult,
    ImportRuns,
    ImportStatus,
    LookupHelper,
    MappingError,
    PendingRun,
    Progress,
    ProgressHook,
    QueryLookup,
    SmallBatchPolicy,
    SmallBatchWarning,
    SourceAdapter,
    SourceSpec,
    item_key,
)
from .jobs import (
    AlertKind,
    AsyncFullImportGuard,
    AsyncJobTracker,
    FullImportGuard,
    JobAlert,
    JobDetails,
    JobMetrics,
    JobMonitor,
    JobResult,
    JobTracker,
    LoggingMonitor,
    Meter,
    PayloadSpool,
    PollSchedule,
    SpoolWriter,
    TrackingMode,
)
from .orders import AsyncOrderPublisher, OrderEvent, OrderPublisher, PublishReport


__all__ = [
    "AdapterContext",
    "AlertKind",
    "AsyncDeltaImport",
    "AsyncEventHandler",
    "AsyncFullImport",
    "AsyncFullImportGuard",
    "AsyncImportRuns",
    "AsyncJobTracker",
    "AsyncLookupHelper",
    "AsyncOrderPublisher",
    "AsyncQueryLookup",
    "AsyncSourceAdapter",
    "AsyncTargetAdapter",
    "Deletion",
    "DeltaImport",
    "DeltaMode",
    "EventBatchReport",
    "EventHandler",
    "EventReplayReport",
    "FullImport",
    "FullImportGuard",
    "ImportPlan",
    "ImportResult",
    "ImportRuns",
    "ImportStatus",
    "JobAlert",
    "JobDetails",
    "JobMetrics",
    "JobMonitor",
    "JobResult",
    "JobTracker",
    "LoggingMonitor",
    "LookupHelper",
    "MappingError",
    "Meter",
    "OrderEvent",
    "OrderPublisher",
    "PayloadSpool",
    "PendingRun",
    "PollSchedule",
    "Progress",
    "ProgressHook",
    "PublishReport",
    "QueryLookup",
    "SmallBatchPolicy",
    "SmallBatchWarning",
    "SourceAdapter",
    "SourceSpec",
    "SpoolWriter",
    "TargetAdapter",
    "TrackingMode",
    "WebhookAuth",
    "item_key",
]
