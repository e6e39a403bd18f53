"""Hypothesis strategies for the order contracts: every field filled, UNSET or null."""

from __future__ import annotations

import datetime as dt
import functools
import types
import typing
import uuid
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import strategies as st

from norce_integration._types import UNSET
from norce_integration.orders import _codec as codec
from norce_integration.orders.models import MODELS, OrderModel


# Offsets in whole minutes (what ISO text and /Date(ms±hhmm)/ both carry).
_ZONES = st.one_of(
    st.none(),
    st.just(dt.UTC),
    st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
        lambda m: dt.timezone(dt.timedelta(minutes=m))
    ),
)

_LEAVES: dict[Any, st.SearchStrategy[Any]] = {
    Decimal: st.decimals(allow_nan=False, allow_infinity=False),
    dt.datetime: st.datetimes(
        min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=_ZONES
    ),
    uuid.UUID: st.uuids(),
    str: st.text(max_size=8),
    int: st.integers(min_value=-(2**31), max_value=2**31 - 1),
    bool: st.booleans(),
}

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _open_int(cls: type[codec.OpenIntEnum]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(list(cls)),
        st.integers(min_value=100, max_value=10_000).map(cls),
        # Unknown names stay strings (but a name or digits would parse as a member).
        st.text(min_size=1, max_size=8).filter(lambda t: isinstance(cls.parse(t), str)),
    )


def _for(tp: Any) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if any(isinstance(a, type) and issubclass(a, codec.OpenIntEnum) for a in args):
            (enum_cls,) = [
                a for a in args if isinstance(a, type) and issubclass(a, codec.OpenIntEnum)
            ]
            rest = [a for a in args if a is not str and a is not enum_cls]
            return st.one_of(_open_int(enum_cls), *(_for(a) for a in rest))
        return st.one_of([_for(a) for a in args])
    if origin is typing.Literal:
        return st.sampled_from(typing.get_args(tp))
    if tp is type(None):
        return st.none()
    if origin is list:
        (inner,) = typing.get_args(tp)
        return st.lists(_for(inner), max_size=2)
    if isinstance(tp, type) and issubclass(tp, codec.OpenStrEnum):
        return st.one_of(st.sampled_from(list(tp)), st.text(max_size=8).map(tp))
    if isinstance(tp, type) and issubclass(tp, OrderModel):
        return models(tp)
    return _LEAVES[tp]


def _extras(cls: type[OrderModel]) -> st.SearchStrategy[dict[str, Any]]:
    known = {k.casefold() for k in codec._plan(cls).lookup}
    keys = st.text(min_size=1, max_size=6).filter(lambda k: k.casefold() not in known)
    return st.dictionaries(keys, JSON, max_size=2)


@functools.cache
def models(cls: type[OrderModel]) -> st.SearchStrategy[Any]:
    """Instances of ``cls``: each field UNSET or drawn from its type; random extras."""
    hints = typing.get_type_hints(cls)
    fields = {
        a.name: st.one_of(st.just(UNSET), _for(hints[a.name]))
        for a in attrs.fields(cls)
        if a.init and a.name != "extra"
    }
    return st.builds(cls, extra=_extras(cls), **fields)


ALL_MODELS = MODELS
