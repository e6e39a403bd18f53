"""Hypothesis strategies for the wire models: any attrs model, every field filled or UNSET.

``st.builds`` alone only fills required arguments; :func:`models` fills *every* field
from its type hint. The leaf strategies are what the wire can carry losslessly: finite
Decimals, tz-aware UTC datetimes with microseconds, non-negative timedeltas. They live in
a table rather than ``st.register_type_strategy`` so importing this module changes
nothing for other tests in the session.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import types
import typing
import uuid
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import strategies as st


__all__ = ["LEAVES", "for_type", "models"]

LEAVES: dict[Any, st.SearchStrategy[Any]] = {
    Decimal: st.decimals(allow_nan=False, allow_infinity=False),
    dt.datetime: st.datetimes(timezones=st.just(dt.UTC)),
    dt.timedelta: st.timedeltas(min_value=dt.timedelta(0), max_value=dt.timedelta(days=30)),
    uuid.UUID: st.uuids(),
    str: st.text(max_size=12),
    int: st.integers(min_value=-(2**31), max_value=2**31 - 1),
    bool: st.booleans(),
    type(None): st.none(),
}


def for_type(tp: Any) -> st.SearchStrategy[Any]:
    """A strategy for one (resolved) field type."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([for_type(arg) for arg in typing.get_args(tp)])
    if origin is typing.Literal:
        return st.sampled_from(typing.get_args(tp))
    if origin is list:
        (inner,) = typing.get_args(tp)
        return st.lists(for_type(inner), max_size=2)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        members = st.sampled_from(list(tp))
        if tp._missing_.__func__ is not enum.Enum._missing_.__func__:
            # Server-sent enums: unknown integers must survive a round trip too.
            return st.one_of(members, st.integers(min_value=100, max_value=10_000).map(tp))
        return members
    if attrs.has(tp):
        return models(tp)
    return LEAVES[tp]


@functools.cache
def models(cls: type[Any]) -> st.SearchStrategy[Any]:
    """Instances of the attrs model ``cls`` with every field drawn from its type."""
    hints = typing.get_type_hints(cls)
    # No contract contains itself, so the strategies can be built eagerly.
    return st.builds(cls, **{a.name: for_type(hints[a.name]) for a in attrs.fields(cls)})
