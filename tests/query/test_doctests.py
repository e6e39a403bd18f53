"""The query package's docstring examples run (issue 18: they are how users start)."""

from __future__ import annotations

import doctest
import importlib

import pytest


MODULES = [
    "norce_integration.query",
    "norce_integration.query._odata",
    "norce_integration.query._cache",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted > 0, "the module has examples"
    assert result.failed == 0
