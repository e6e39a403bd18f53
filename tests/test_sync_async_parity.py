"""Sync and async twins expose the same methods with the same signatures."""

from __future__ import annotations

import importlib
import inspect

import pytest


PAIRS = [
    ("norce_integration._client", "Norce", "AsyncNorce"),
    ("norce_integration._http", "SyncHTTP", "AsyncHTTP"),
    ("norce_integration.connect._resource", "ConnectResource", "AsyncConnectResource"),
    ("norce_integration.query._resource", "QueryResource", "AsyncQueryResource"),
    ("norce_integration.patterns.job_tracker", "JobTracker", "AsyncJobTracker"),
    ("norce_integration.patterns.full_import", "FullImport", "AsyncFullImport"),
    ("norce_integration.patterns.delta_import", "DeltaImport", "AsyncDeltaImport"),
    ("norce_integration.patterns.event_handler", "EventHandler", "AsyncEventHandler"),
]

SYNC_IN_BOTH = {"json", "add_target", "on"}

RENAMED = {"close": "aclose", "__enter__": "__aenter__", "__exit__": "__aexit__"}


def _public(cls: type) -> dict[str, object]:
    names = {}
    for name, value in vars(cls).items():
        if name.startswith("_") and name not in RENAMED and name not in RENAMED.values():
            continue
        names[RENAMED.get(name, name)] = value
    return names


def _params(fn: object) -> list[tuple[str, object, object]]:
    target = fn.fget if isinstance(fn, property) else fn
    if hasattr(target, "func"):  # cached_property
        target = target.func
    sig = inspect.signature(target)
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


@pytest.mark.parametrize(("module", "sync_name", "async_name"), PAIRS)
def test_twins_match(module, sync_name, async_name):
    mod = importlib.import_module(module)
    sync_cls, async_cls = getattr(mod, sync_name), getattr(mod, async_name)
    sync_members, async_members = _public(sync_cls), _public(async_cls)
    assert list(sync_members) == list(async_members), "same names in the same order"
    for name, sync_member in sync_members.items():
        async_member = async_members[name]
        if callable(sync_member) and not isinstance(sync_member, type):
            assert not inspect.iscoroutinefunction(sync_member), name
            if name == "__init__":
                continue
            if name in SYNC_IN_BOTH:
                # No I/O: the same plain method on both twins.
                assert not inspect.iscoroutinefunction(async_member), name
                assert _params(sync_member) == _params(async_member), name
                continue
            if inspect.isgeneratorfunction(sync_member):
                assert inspect.isasyncgenfunction(async_member), name
            else:
                assert inspect.iscoroutinefunction(async_member), name
            assert _params(sync_member) == _params(async_member), name
