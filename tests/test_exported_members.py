"""The public surface cannot drift: every ``__all__`` is sorted, complete and importable."""

from __future__ import annotations

import importlib

import pytest

import norce_integration


PUBLIC_MODULES = [
    "norce_integration",
    "norce_integration.connect",
    "norce_integration.connect.models",
    "norce_integration.query",
    "norce_integration.event",
    "norce_integration.testing",
    "norce_integration.patterns",
    "norce_integration.stores",
]


def _sort_key(name: str) -> tuple[bool, str]:
    # Constants (UPPER_CASE) first, then the rest; each group in plain string order.
    return (not name.isupper(), name)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_is_sorted_unique_and_importable(module_name):
    module = importlib.import_module(module_name)
    names = list(module.__all__)
    assert names == sorted(names, key=_sort_key), f"{module_name}.__all__ is not sorted"
    assert len(names) == len(set(names))
    for name in names:
        assert hasattr(module, name), f"{module_name}.{name} is listed but missing"


def test_root_all_is_complete():
    public = {
        name
        for name, value in vars(norce_integration).items()
        if not name.startswith("_")
        and not isinstance(value, type(norce_integration))
        and name not in {"annotations"}
    }
    assert public == set(norce_integration.__all__)


def test_design_names_are_exported():
    required = {
        "Norce",
        "AsyncNorce",
        "NorceSettings",
        "RetryPolicy",
        "NorceError",
        "FullImport",
        "DeltaImport",
        "JobTracker",
        "EventHandler",
        "SourceAdapter",
        "TargetAdapter",
        "SqliteStore",
        "PostgresStore",
    }
    assert required <= set(norce_integration.__all__)


def test_reexported_classes_report_the_public_module():
    assert norce_integration.RateLimitError.__module__ == "norce_integration"
    assert norce_integration.Norce.__module__ == "norce_integration"
