"""Imports into Norce: full imports (:class:`FullImport` / :class:`AsyncFullImport`), delta
imports (:class:`DeltaImport` / :class:`AsyncDeltaImport`), the integrator's source
adapters and lookups, and the operator's view of pending runs (:class:`ImportRuns` /
:class:`AsyncImportRuns`: adopt a job for a held run, or resolve it).

The ``Async*`` classes are the source (``_async_*.py``); their blocking twins are
generated (``_sync_*.py``). The rules are the pure code of ``_core.py``.
"""

from __future__ import annotations

from ._adapters import (
    AdapterContext,
    AsyncSourceAdapter,
    SmallBatchPolicy,
    SourceAdapter,
    SourceSpec,
    Version,
    item_key,
)
from ._async_delta import AsyncDeltaImport, DeltaMode
from ._async_full import AsyncFullImport
from ._async_lookup import AsyncLookupHelper, AsyncQueryLookup
from ._async_runs import AsyncImportRuns, PendingRun
from ._core import (
    ImportPlan,
    ImportResult,
    ImportStatus,
    MappingError,
    Progress,
    ProgressHook,
    SmallBatchWarning,
)
from ._sync_delta import DeltaImport
from ._sync_full import FullImport
from ._sync_lookup import LookupHelper, QueryLookup
from ._sync_runs import ImportRuns


__all__ = [
    "AdapterContext",
    "AsyncDeltaImport",
    "AsyncFullImport",
    "AsyncImportRuns",
    "AsyncLookupHelper",
    "AsyncQueryLookup",
    "AsyncSourceAdapter",
    "DeltaImport",
    "DeltaMode",
    "FullImport",
    "ImportPlan",
    "ImportResult",
    "ImportRuns",
    "ImportStatus",
    "LookupHelper",
    "MappingError",
    "PendingRun",
    "Progress",
    "ProgressHook",
    "QueryLookup",
    "SmallBatchPolicy",
    "SmallBatchWarning",
    "SourceAdapter",
    "SourceSpec",
    "Version",
    "item_key",
]
