"""Source adapters and lookups (kept as a public module; they live in
:mod:`norce_integration.patterns.imports`)."""

from __future__ import annotations

from .imports import (
    AdapterContext,
    AsyncLookupHelper,
    AsyncQueryLookup,
    AsyncSourceAdapter,
    LookupHelper,
    QueryLookup,
    SmallBatchPolicy,
    SourceAdapter,
    SourceSpec,
    Version,
    item_key,
)


__all__ = [
    "AdapterContext",
    "AsyncLookupHelper",
    "AsyncQueryLookup",
    "AsyncSourceAdapter",
    "LookupHelper",
    "QueryLookup",
    "SmallBatchPolicy",
    "SourceAdapter",
    "SourceSpec",
    "Version",
    "item_key",
]
