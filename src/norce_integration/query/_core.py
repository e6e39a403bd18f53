"""The pure half of the Query resources: targets, keys, keyset steps, row matching.

No I/O: :mod:`._async_resource` (and its generated twin) sends the requests; everything
here takes values and returns values. :func:`readable` is the one place that makes a
typed read's ``$select`` carry what the model needs (its key), for every read path.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Generic, TypeVar

import attrs

from ._batch import KeyChunk
from ._odata import Expand, Field, Query, _wire, model_wire_names
from .models import Entity


__all__ = [
    "MAX_PAGE_SIZE",
    "LookupResult",
    "QuerySet",
    "Target",
    "cache_variant",
    "check_page_size",
    "entity_key",
    "keyset_field",
    "keyset_page",
    "match_rows",
    "readable",
    "required_wires",
    "set_of",
    "strip_annotations",
]

log = logging.getLogger("norce_integration.query._resource")

R = TypeVar("R")
K = TypeVar("K", bound=Hashable)

MAX_PAGE_SIZE = 500
"""Norce's page size: ``$top`` above it is clamped by the server (reference §2.8)."""

Target = type[Entity] | tuple[str, str]
"""A typed model, or ``(namespace, entity_set)`` for any other set (rows are dicts)."""


@attrs.frozen
class LookupResult(Generic[K, R]):
    """What a batched lookup found.

    Attributes:
        found: rows by the key they were asked for.
        missing: asked-for keys Norce has no row for.
        requests: HTTP requests this lookup sent (pages included).
        cached: keys answered without a request (from the cache or another caller's load).
    """

    found: dict[K, R]
    missing: frozenset[K]
    requests: int = 0
    cached: int = 0


@attrs.frozen
class QuerySet:
    """One entity set as the resources address it."""

    namespace: str
    entity_set: str
    model: type[Entity] | None
    key_wires: tuple[str, ...]
    kind: str = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        # Rows of one set are cached per row type: typed and untyped reads never mix.
        model = self.model
        kind = "dict" if model is None else f"{model.__module__}.{model.__qualname__}"
        object.__setattr__(self, "kind", kind)

    @property
    def path(self) -> str:
        """``Namespace/EntitySet``."""
        return f"{self.namespace}/{self.entity_set}"


_SETS: dict[Target, QuerySet] = {}


def set_of(target: Target) -> QuerySet:
    """Where ``target`` lives, its model and key (memoised)."""
    found = _SETS.get(target)
    if found is not None:
        return found
    if isinstance(target, tuple):
        namespace, entity_set = target
        made = QuerySet(namespace, entity_set, None, ("Id",))
    else:
        names = model_wire_names(target)
        made = QuerySet(
            target.NAMESPACE, target.ENTITY_SET, target, tuple(names[k] for k in target.KEY)
        )
    # Memoised: the cache-hit path of ``get`` must stay within a few microseconds.
    _SETS[target] = made
    return made


def entity_key(s: QuerySet, key: object) -> tuple[tuple[str, ...], object, object]:
    """(key wire names, key for the URL, key for the cache)."""
    if isinstance(key, Mapping):
        if s.model is not None:
            names = model_wire_names(s.model)
            wired = {names.get(str(k), str(k)): v for k, v in key.items()}
            return s.key_wires, wired, tuple(wired.get(w) for w in s.key_wires)
        wires = tuple(str(k) for k in key)
        return wires, dict(key), tuple(key.values())
    if isinstance(key, tuple) and s.model is None and len(key) > 1:
        msg = f"{s.path}: pass a composite key as a mapping of its wire names"
        raise ValueError(msg)
    # A single key renders unnamed, ``Set(5)``, so untyped sets need no key name.
    return s.key_wires, key, key


def cache_variant(s: QuerySet, select: Sequence[str], expands: Sequence[Expand]) -> str:
    """The cache variant of a read shape (its ``$select``/``$expand``)."""
    if not select and not expands:
        return s.kind + "|"
    shape = ",".join(select) + "|" + ",".join(e.render() for e in expands)
    return f"{s.kind}|{shape}"


_REQUIRED: dict[type[Any], tuple[str, ...]] = {}


def required_wires(model: type[Any]) -> tuple[str, ...]:
    """Wire names of the fields ``model`` cannot be built without (its key)."""
    found = _REQUIRED.get(model)
    if found is None:
        names = model_wire_names(model)
        fields = attrs.fields(model)
        found = tuple(names[a.name] for a in fields if a.default is attrs.NOTHING)
        _REQUIRED[model] = found
    return found


def readable(q: Query[R]) -> Query[R]:
    """``q`` with the fields its model requires added to a ``$select`` that omits them.

    OData answers only the selected fields, so a typed row could not be built without
    its key (issue 18). Untyped queries and queries without ``$select`` are unchanged.
    """
    if q.model is None or not q.selects:
        return q
    missing = [w for w in required_wires(q.model) if w not in q.selects]
    return q.select(*missing) if missing else q


def strip_annotations(value: Any) -> Any:
    """Drop ``@odata.*`` annotations (not data) so strict mode only flags real drift."""
    if isinstance(value, dict):
        return {k: strip_annotations(v) for k, v in value.items() if not k.startswith("@odata.")}
    if isinstance(value, list):
        return [strip_annotations(v) for v in value]
    return value


def keyset_field(q: Query[Any], key: Field[Any] | str | None) -> tuple[str, str | None]:
    """(wire name, attribute name) of the keyset column."""
    if q.offset is not None or q.orders or q.limit is not None:
        msg = "keyset paging sets $orderby and $top itself: drop orderby/top/skip"
        raise ValueError(msg)
    if key is None:
        if len(q.key) != 1:
            msg = f"{q.path} has a composite key: name the keyset column"
            raise ValueError(msg)
        wire = q.key[0]
    else:
        wire = _wire(key)
    attr = None
    if q.model is not None:
        reverse = {w: a for a, w in model_wire_names(q.model).items()}
        if wire not in reverse:
            msg = f"{q.model.__name__} has no field {wire!r}"
            raise ValueError(msg)
        attr = reverse[wire]
    return wire, attr


def keyset_page(q: Query[Any], wire: str, last: object, page_size: int) -> Query[Any]:
    """The query of the keyset page after ``last``."""
    page = q.orderby(wire).top(page_size)
    if q.selects and wire not in q.selects:
        page = page.select(wire)
    if last is not None:
        page = page.filter(Field[Any](wire).gt(last))
    return page


def check_page_size(page_size: int) -> None:
    """Raise ``ValueError`` unless ``1 <= page_size <= 500``."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        msg = f"page_size must be within 1..{MAX_PAGE_SIZE}, got {page_size}"
        raise ValueError(msg)


def match_rows(chunk: KeyChunk[K], rows: list[Any], wire: str, attr: str | None) -> dict[K, Any]:
    """Rows by requested key; strings also match case-insensitively.

    Norce runs on SQL Server, whose usual collations compare strings without case
    (UNCONFIRMED for every tenant): ``PartNo eq 'abc'`` may return ``ABC``.
    """
    by_value: dict[Any, Any] = {}
    for row in rows:
        value = row.get(wire) if isinstance(row, dict) else getattr(row, attr or "", None)
        if value in by_value:
            log.warning("%s is not unique: several rows for %r; keeping the first", wire, value)
            continue
        by_value[value] = row
    found: dict[K, Any] = {}
    folded: dict[str, Any] | None = None
    for key in chunk.keys:
        if key in by_value:
            found[key] = by_value[key]
        elif isinstance(key, str):
            if folded is None:
                folded = {
                    v.casefold(): r for v, r in reversed(by_value.items()) if isinstance(v, str)
                }
            if key.casefold() in folded:
                found[key] = folded[key.casefold()]
    return found
