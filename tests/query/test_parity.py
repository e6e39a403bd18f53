"""QueryResource and AsyncQueryResource are twins: same names, order and signatures."""

from __future__ import annotations

import inspect

from norce_integration.query import AsyncQueryResource, QueryResource


def _public(cls: type) -> dict[str, object]:
    return {
        name: value
        for name, value in vars(cls).items()
        if not name.startswith("_") or name == "__init__"
    }


def _params(fn: object) -> list[tuple[str, object, object]]:
    target = fn.fget if isinstance(fn, property) else fn
    return [(p.name, p.kind, p.default) for p in inspect.signature(target).parameters.values()]


def test_same_public_methods_in_the_same_order():
    assert list(_public(QueryResource)) == list(_public(AsyncQueryResource))
    assert list(_public(QueryResource)) == [
        "__init__",
        "cache",
        "pages",
        "iterate",
        "keyset",
        "get",
        "lookup_many",
    ]


def test_same_signatures_and_async_kinds():
    sync_members, async_members = _public(QueryResource), _public(AsyncQueryResource)
    for name, sync_member in sync_members.items():
        async_member = async_members[name]
        if name == "__init__":
            # Only the HTTP shell's type differs.
            assert [p[0] for p in _params(sync_member)] == [p[0] for p in _params(async_member)]
            continue
        assert _params(sync_member) == _params(async_member), name
        if isinstance(sync_member, property):
            assert isinstance(async_member, property), name
        elif inspect.isgeneratorfunction(sync_member):
            assert inspect.isasyncgenfunction(async_member), name
        else:
            assert inspect.iscoroutinefunction(async_member), name
            assert not inspect.iscoroutinefunction(sync_member), name


def test_the_blocking_twin_is_generated_from_the_async_source():
    assert QueryResource.__module__ == "norce_integration.query._sync_resource"
    assert AsyncQueryResource.__module__ == "norce_integration.query._async_resource"


def test_cache_is_the_one_given(norce_settings):
    from norce_integration import AsyncNorce, Norce
    from norce_integration.query import QueryCache

    cache = QueryCache()
    assert Norce(norce_settings, query_cache=cache).query.cache is cache
    assert AsyncNorce(norce_settings, query_cache=cache).query.cache is cache
    assert Norce(norce_settings).query.cache is None
