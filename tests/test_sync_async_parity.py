"""Every blocking class and its async twin expose the same methods with the same signatures.

Two sets of pairs are checked: every class of every generated module (``_sync_*.py``
against its ``_async_*.py`` source, found on disk, so a new pair is covered the day it is
written), and the public pairs by their public names, so a re-export pointing at the wrong
class is caught too.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

import norce_integration


PUBLIC_PAIRS = [
    ("norce_integration", "Norce", "AsyncNorce"),
    ("norce_integration.patterns", "JobTracker", "AsyncJobTracker"),
    ("norce_integration.patterns", "FullImport", "AsyncFullImport"),
    ("norce_integration.patterns", "DeltaImport", "AsyncDeltaImport"),
    ("norce_integration.patterns", "EventHandler", "AsyncEventHandler"),
    ("norce_integration.stores", "SqliteStore", "AsyncSqliteStore"),
    ("norce_integration.stores", "PostgresStore", "AsyncPostgresStore"),
    ("norce_integration.stores", "Store", "AsyncStore"),
    ("norce_integration.patterns", "QueryLookup", "AsyncQueryLookup"),
]

# Plain methods (no I/O) that both twins share as they are.
SYNC_IN_BOTH = {"json", "add_target", "on", "settings", "stats"}

RENAMED = {"close": "aclose", "__enter__": "__aenter__", "__exit__": "__aexit__"}

SRC = Path(norce_integration.__file__).parent


def _module_name(path: Path) -> str:
    relative = path.relative_to(SRC.parent).with_suffix("")
    return ".".join(relative.parts)


def _file(cls: type) -> Path | None:
    """Where ``cls`` is written: by its functions' code, since the package re-labels the
    ``__module__`` of some classes with its public name."""
    for value in vars(cls).values():
        code = getattr(getattr(value, "__func__", value), "__code__", None)
        if code is not None:
            return Path(code.co_filename)
    try:
        return Path(inspect.getfile(cls))
    except TypeError:  # a built-in class
        return None


def _generated_pairs() -> list[tuple[str, str, str, str]]:
    pairs = []
    for source in sorted(SRC.rglob("_async_*.py")):
        twin = source.with_name("_sync_" + source.name.removeprefix("_async_"))
        async_module = importlib.import_module(_module_name(source))
        for name, value in vars(async_module).items():
            if not inspect.isclass(value) or _file(value) != source:
                continue
            sync_name = name.removeprefix("Async") if name.startswith("Async") else name
            pairs.append((_module_name(twin), sync_name, _module_name(source), name))
    return pairs


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
    if isinstance(target, staticmethod | classmethod):
        target = target.__func__
    sig = inspect.signature(target)
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


def _check(sync_cls: type, async_cls: type) -> None:
    sync_members, async_members = _public(sync_cls), _public(async_cls)
    assert list(sync_members) == list(async_members), "same names in the same order"
    for name, sync_member in sync_members.items():
        async_member = async_members[name]
        if not callable(sync_member) or isinstance(sync_member, type):
            continue
        assert not inspect.iscoroutinefunction(sync_member), name
        assert not inspect.isasyncgenfunction(sync_member), name
        if name == "__init__":
            assert _params(sync_member) == _params(async_member), name
            continue
        if name in SYNC_IN_BOTH or not (
            inspect.iscoroutinefunction(async_member) or inspect.isasyncgenfunction(async_member)
        ):
            # No I/O: the same plain method on both twins.
            assert not inspect.iscoroutinefunction(async_member), name
        elif inspect.isgeneratorfunction(sync_member):
            assert inspect.isasyncgenfunction(async_member), name
        else:
            assert inspect.iscoroutinefunction(async_member), name
        assert _params(sync_member) == _params(async_member), name


GENERATED = _generated_pairs()


def test_there_are_generated_pairs() -> None:
    assert len(GENERATED) >= len(PUBLIC_PAIRS)


@pytest.mark.parametrize(
    ("sync_module", "sync_name", "async_module", "async_name"),
    GENERATED,
    ids=[f"{pair[2].rsplit('.', 1)[-1]}.{pair[3]}" for pair in GENERATED],
)
def test_generated_twins_match(
    sync_module: str, sync_name: str, async_module: str, async_name: str
) -> None:
    sync_cls = getattr(importlib.import_module(sync_module), sync_name)
    async_cls = getattr(importlib.import_module(async_module), async_name)
    _check(sync_cls, async_cls)


@pytest.mark.parametrize(("module", "sync_name", "async_name"), PUBLIC_PAIRS)
def test_public_twins_match(module: str, sync_name: str, async_name: str) -> None:
    mod = importlib.import_module(module)
    sync_cls, async_cls = getattr(mod, sync_name), getattr(mod, async_name)
    # By file, not ``__module__``: the package re-labels some classes with its public name.
    sync_file, async_file = _file(sync_cls), _file(async_cls)
    assert sync_file is not None, sync_name
    assert async_file is not None, async_name
    assert sync_file.name.startswith("_sync_"), "the sync twin is generated"
    assert async_file.name.startswith("_async_"), "from the async source"
    _check(sync_cls, async_cls)
