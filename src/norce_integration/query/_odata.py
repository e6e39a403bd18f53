"""OData v4 query building for Norce Query 2.0 (pure: no I/O).

Field names come from the models, so a misspelt field is a mypy error instead of a 400
from Norce::

    P = attrs.fields(ProductSku)          # typed by mypy's attrs plugin
    q = (
        query(ProductSku)
        .filter((f(P.part_no) == "100011") | f(P.updated).ge(since))
        .select(f(P.part_no), f(P.ean_code))
        .orderby(f(P.part_no).desc())
        .top(100)
    )
    q.to_query_string()   # "$filter=PartNo%20eq%20'100011'%20or%20Updated%20ge%20..."

``f(attrs.fields(M).x)`` is checked by mypy (``attrs.fields(M)`` has one declared
attribute per field); ``field(M, "x")`` is the dynamic spelling, checked when called.
Raw OData stays possible wherever a ``Filter`` or a field is taken: pass a ``str``
(``raw()`` for filters that are combined with others).

Literals (reference §2.9): strings are quoted with ``'`` doubled; integers and decimals
are bare (decimals never use an exponent); booleans are ``true``/``false``; datetimes are
unquoted ISO 8601 in UTC with ``Z`` (``Updated ge 2025-06-11T00:00:00Z``); GUIDs are
unquoted; ``None`` is ``null``. Naive datetimes are refused: the zone would be a guess.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Generic, TypeAlias, TypeVar, cast, overload
from urllib.parse import quote

import attrs

from .._convert import WIRE_NAME, to_pascal, wire_names
from .._numbers import number_text as _number_text
from .models import Entity


__all__ = [
    "Expand",
    "Field",
    "Filter",
    "OrderBy",
    "Query",
    "and_",
    "expand",
    "f",
    "field",
    "literal",
    "not_",
    "or_",
    "query",
    "raw",
]

T = TypeVar("T")
R = TypeVar("R")
E = TypeVar("E", bound=Entity)

Row: TypeAlias = dict[str, Any]
"""An untyped row: the entity's JSON object (numbers with a fraction are ``Decimal``)."""

# Characters left readable in the query string. Everything else (space, ``&``, ``=``,
# ``+``, ``#``, ``%``, ``;``, non-ASCII) is percent-encoded, so a value can never end a
# parameter early. ``'`` ``(`` ``)`` ``$`` ``,`` ``:`` ``*`` ``/`` are legal in a query
# component (RFC 3986) and keep URLs in logs readable.
_SAFE = "$'(),:*/"

# Operator precedence, lowest first (OData ABNF): a sub-expression is parenthesised when
# its precedence is lower than its context needs. ``not`` binds tighter than ``eq``, so
# ``not (A eq 1)`` needs the parentheses; function calls are primary and never need them.
_RAW = 0
_OR = 1
_AND = 2
_CMP = 3
_NOT = 4
_PRIMARY = 5


def encode(text: str) -> str:
    """Percent-encode one query-string component the way this module renders URLs."""
    return quote(text, safe=_SAFE)


# ---------------------------------------------------------------- literals


def literal(value: object) -> str:
    """Render a Python value as an OData v4 literal.

    >>> literal("it's")
    "'it''s'"
    >>> literal(dt.datetime(2025, 6, 11, tzinfo=dt.UTC))
    '2025-06-11T00:00:00Z'

    Raises:
        TypeError: the value has no OData literal form.
        ValueError: a naive datetime, or a non-finite number.
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return literal(value.value)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, str):
        return "'" + str(value).replace("'", "''") + "'"
    if isinstance(value, Decimal):
        if not value.is_finite():
            msg = f"not a finite decimal: {value!r}"
            raise ValueError(msg)
        # "f" never uses an exponent: OData decimals are plain digits.
        return format(value, "f")
    if isinstance(value, float):
        if not math.isfinite(value):
            msg = f"not a finite number: {value!r}"
            raise ValueError(msg)
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            msg = (
                f"naive datetime {value.isoformat()}: pass an aware datetime "
                "(e.g. datetime.now(datetime.UTC)); OData datetimes are sent in UTC"
            )
            raise ValueError(msg)
        utc = value.astimezone(dt.UTC)
        text = utc.strftime("%Y-%m-%dT%H:%M:%S")
        if utc.microsecond:
            text += f".{utc.microsecond:06d}"
        return text + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    msg = f"no OData literal for {type(value).__name__}: {value!r}"
    raise TypeError(msg)


def key_text(value: object) -> str:
    """A canonical text for a key value (cache keys): numbers normalised, so 1 == 1.0."""
    if isinstance(value, Decimal) and value.is_finite():
        return _number_text(value)
    if isinstance(value, int) and not isinstance(value, bool | enum.Enum):
        return _number_text(Decimal(value))
    return literal(value)


# ---------------------------------------------------------------- filters


@attrs.frozen
class Filter:
    """A rendered ``$filter`` expression; combine with ``&``, ``|`` and ``~``.

    Python's ``&``/``|`` bind tighter than ``==``, so parenthesise comparisons:
    ``(f(P.a) == 1) & (f(P.b) == 2)``; or use :func:`and_`, :func:`or_`, :func:`not_`.
    Using a filter as a bool (``and``, ``or``, ``if``) raises ``TypeError``.

    Attributes:
        text: the OData text.
        precedence: how tightly the text binds (internal; decides parentheses).
    """

    text: str
    precedence: int = _PRIMARY

    def __and__(self, other: Filter | str) -> Filter:
        return and_(self, other)

    def __rand__(self, other: str) -> Filter:
        return and_(other, self)

    def __or__(self, other: Filter | str) -> Filter:
        return or_(self, other)

    def __ror__(self, other: str) -> Filter:
        return or_(other, self)

    def __invert__(self) -> Filter:
        return not_(self)

    def __bool__(self) -> bool:
        # ``a == 1 and b == 2`` would silently drop a condition; refuse it.
        msg = "a Filter has no truth value: combine filters with & | ~ (or and_/or_/not_)"
        raise TypeError(msg)

    def __str__(self) -> str:
        return self.text


def raw(text: str) -> Filter:
    """A raw OData filter; parenthesised whenever it is combined with another.

    Raises:
        ValueError: the text is empty.
    """
    if not text.strip():
        msg = "an empty filter"
        raise ValueError(msg)
    return Filter(text, _RAW)


def _as_filter(value: Filter | str) -> Filter:
    item: object = value  # callers without type checking can pass anything
    if isinstance(item, Filter):
        return item
    if isinstance(item, str):
        return raw(item)
    msg = f"expected a Filter or an OData string, got {type(value).__name__}"
    raise TypeError(msg)


def _wrap(item: Filter, needed: int) -> str:
    return f"({item.text})" if item.precedence < needed else item.text


def _join(op: str, precedence: int, items: Sequence[Filter | str]) -> Filter:
    parts = [_as_filter(i) for i in items]
    if not parts:
        msg = f"{op}_ needs at least one filter"
        raise ValueError(msg)
    if len(parts) == 1:
        return parts[0]
    # The left operand may share the precedence (the operator is associative); the
    # right one too, since and/or are associative: "a and (b and c)" == "a and b and c".
    return Filter(f" {op} ".join(_wrap(p, precedence) for p in parts), precedence)


def and_(*filters: Filter | str) -> Filter:
    """All of ``filters`` (``a and b and …``).

    Raises:
        ValueError: no filters were given.
    """
    return _join("and", _AND, filters)


def or_(*filters: Filter | str) -> Filter:
    """Any of ``filters`` (``a or b or …``).

    Raises:
        ValueError: no filters were given.
    """
    return _join("or", _OR, filters)


def not_(item: Filter | str) -> Filter:
    """The negation of ``item``: ``not (…)`` (parentheses unless ``item`` is a call)."""
    return Filter(f"not {_wrap(_as_filter(item), _PRIMARY)}", _NOT)


# ---------------------------------------------------------------- fields


@attrs.frozen
class OrderBy:
    """One ``$orderby`` item."""

    wire: str
    descending: bool = False

    def render(self) -> str:
        """``Name`` or ``Name desc``."""
        return f"{self.wire} desc" if self.descending else self.wire


class Field(Generic[T]):
    """A model field by its wire name; builds filters, selects and orderings.

    Create with :func:`f` (type-checked) or :func:`field` (checked at run time).
    ``T`` is the field's Python type: ``eq``/``gt``/… take a ``T`` (``None`` for null).

    Attributes:
        wire: the PascalCase name Norce uses (``PartNo``, ``PricelistId``).
        name: the Python attribute name, when the field came from a model.

    Raises:
        ValueError: ``wire`` is empty.
    """

    __slots__ = ("name", "wire")

    def __init__(self, wire: str, name: str | None = None) -> None:
        if not wire:
            msg = "a field needs a wire name"
            raise ValueError(msg)
        self.wire = wire
        self.name = name

    def __repr__(self) -> str:
        return f"Field({self.wire!r})"

    def __hash__(self) -> int:
        return hash(("Field", self.wire))

    def _cmp(self, op: str, value: object) -> Filter:
        return Filter(f"{self.wire} {op} {literal(value)}", _CMP)

    # Operators: ``==`` and ``!=`` must accept ``object`` (they override object's), the
    # ordering operators are typed by ``T``.
    def __eq__(self, other: object) -> Filter:  # type: ignore[override]
        return self._cmp("eq", other)

    def __ne__(self, other: object) -> Filter:  # type: ignore[override]
        return self._cmp("ne", other)

    def __lt__(self, other: T) -> Filter:
        return self._cmp("lt", other)

    def __le__(self, other: T) -> Filter:
        return self._cmp("le", other)

    def __gt__(self, other: T) -> Filter:
        return self._cmp("gt", other)

    def __ge__(self, other: T) -> Filter:
        return self._cmp("ge", other)

    def eq(self, value: T | None) -> Filter:
        """``Field eq value`` (``None`` renders ``null``)."""
        return self._cmp("eq", value)

    def ne(self, value: T | None) -> Filter:
        """``Field ne value``."""
        return self._cmp("ne", value)

    def lt(self, value: T) -> Filter:
        """``Field lt value``."""
        return self._cmp("lt", value)

    def le(self, value: T) -> Filter:
        """``Field le value``."""
        return self._cmp("le", value)

    def gt(self, value: T) -> Filter:
        """``Field gt value``."""
        return self._cmp("gt", value)

    def ge(self, value: T) -> Filter:
        """``Field ge value``."""
        return self._cmp("ge", value)

    def is_null(self) -> Filter:
        """``Field eq null``."""
        return self._cmp("eq", None)

    def is_not_null(self) -> Filter:
        """``Field ne null``."""
        return self._cmp("ne", None)

    def contains(self, text: str) -> Filter:
        """``contains(Field,'text')``."""
        return Filter(f"contains({self.wire},{literal(text)})", _PRIMARY)

    def startswith(self, text: str) -> Filter:
        """``startswith(Field,'text')``."""
        return Filter(f"startswith({self.wire},{literal(text)})", _PRIMARY)

    def endswith(self, text: str) -> Filter:
        """``endswith(Field,'text')``."""
        return Filter(f"endswith({self.wire},{literal(text)})", _PRIMARY)

    def in_(self, values: Iterable[T]) -> Filter:
        """``Field in (a,b,…)`` — UNCONFIRMED on Norce (reference §2.8); test first.

        Raises:
            ValueError: ``values`` is empty.
        """
        items = [literal(v) for v in values]
        if not items:
            msg = f"{self.wire} in (): no values"
            raise ValueError(msg)
        return Filter(f"{self.wire} in ({','.join(items)})", _CMP)

    def asc(self) -> OrderBy:
        """Ascending ``$orderby`` item."""
        return OrderBy(self.wire)

    def desc(self) -> OrderBy:
        """Descending ``$orderby`` item."""
        return OrderBy(self.wire, descending=True)


def model_wire_names(model: type[Any]) -> Mapping[str, str]:
    """Attribute name → wire name for an attrs model (the converter's single source)."""
    # ``wire_names`` is ``functools.cache``d: its typeshed signature wants a Hashable.
    return wire_names(cast(Any, model))


def f(attribute: attrs.Attribute[T]) -> Field[T]:
    """The field of a model attribute: ``f(attrs.fields(ProductSku).part_no)``.

    mypy's attrs plugin types ``attrs.fields(Model)`` with one attribute per field, so a
    typo is a type error, and ``T`` follows the field's declared type.
    """
    wire = attribute.metadata.get(WIRE_NAME) or to_pascal(attribute.name)
    return Field(wire, attribute.name)


def field(model: type[Any], name: str) -> Field[Any]:
    """The field ``name`` (attribute name) of ``model``; checked at run time.

    Raises:
        ValueError: ``model`` has no such attribute.
    """
    names = model_wire_names(model)
    if name not in names:
        msg = f"{model.__name__} has no field {name!r}; fields: {', '.join(names)}"
        raise ValueError(msg)
    return Field(names[name], name)


def _wire(item: Field[Any] | str) -> str:
    if isinstance(item, Field):
        return item.wire
    if isinstance(item, str) and item:
        return item
    msg = f"expected a Field or a wire name, got {item!r}"
    raise TypeError(msg)


def _order(item: Field[Any] | OrderBy | str) -> str:
    if isinstance(item, OrderBy):
        return item.render()
    return _wire(item)


def _check_count(name: str, value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        msg = f"{name} must be a non-negative integer, got {value!r}"
        raise ValueError(msg)
    return value


# ---------------------------------------------------------------- $expand


@attrs.frozen
class Expand:
    """One ``$expand`` item with its nested options: ``PriceLists($filter=…;$select=…)``."""

    path: str
    select: tuple[str, ...] = ()
    filter: Filter | None = None
    orderby: tuple[str, ...] = ()
    top: int | None = None
    expand: tuple[Expand, ...] = ()

    def render(self) -> str:
        """The item as OData text (nested options separated by ``;``)."""
        options: list[str] = []
        if self.filter is not None:
            options.append(f"$filter={self.filter.text}")
        if self.select:
            options.append(f"$select={','.join(self.select)}")
        if self.expand:
            options.append(f"$expand={','.join(e.render() for e in self.expand)}")
        if self.orderby:
            options.append(f"$orderby={','.join(self.orderby)}")
        if self.top is not None:
            options.append(f"$top={self.top}")
        return f"{self.path}({';'.join(options)})" if options else self.path


def expand(
    navigation: Field[Any] | str,
    *,
    select: Iterable[Field[Any] | str] = (),
    filter: Filter | str | None = None,
    orderby: Iterable[Field[Any] | OrderBy | str] = (),
    top: int | None = None,
    expand: Iterable[Expand | Field[Any] | str] = (),
) -> Expand:
    """An ``$expand`` item with nested ``$select``/``$filter``/``$orderby``/``$top``.

    Raises:
        ValueError: ``top`` is negative.
        TypeError: an item is not a field, an ordering or a string.
    """
    return Expand(
        path=_wire(navigation),
        select=tuple(_wire(s) for s in select),
        filter=None if filter is None else _as_filter(filter),
        orderby=tuple(_order(o) for o in orderby),
        top=_check_count("top", top),
        expand=tuple(_as_expand(e) for e in expand),
    )


def _as_expand(item: Expand | Field[Any] | str) -> Expand:
    return item if isinstance(item, Expand) else Expand(_wire(item))


# ---------------------------------------------------------------- the builder


@attrs.frozen
class Query(Generic[R]):
    """An immutable OData query over one entity set; every method returns a new query.

    ``R`` is the row type: the model for typed sets, :data:`Row` (a dict) otherwise.

    Attributes:
        namespace: ``Products``, ``Core``, ...
        entity_set: ``ProductSkus``, ``Currencies``, ...
        model: the read model rows are structured into, or ``None`` for dicts.
        key: the entity key's wire names (``("PartNo",)``), used for key lookups.
    """

    namespace: str
    entity_set: str
    model: type[Any] | None = None
    key: tuple[str, ...] = ("Id",)
    filters: tuple[Filter, ...] = ()
    selects: tuple[str, ...] = ()
    expands: tuple[Expand, ...] = ()
    orders: tuple[str, ...] = ()
    limit: int | None = None
    offset: int | None = None

    @property
    def path(self) -> str:
        """``{Namespace}/{EntitySet}``."""
        return f"{self.namespace}/{self.entity_set}"

    def filter(self, *conditions: Filter | str) -> Query[R]:
        """Add conditions; all conditions (old and new) must hold.

        Raises:
            TypeError: a condition is neither a ``Filter`` nor a string.
        """
        return attrs.evolve(self, filters=self.filters + tuple(_as_filter(c) for c in conditions))

    def select(self, *fields: Field[Any] | str) -> Query[R]:
        """Add fields to ``$select`` (duplicates are dropped).

        Raises:
            TypeError: an item is neither a ``Field`` nor a non-empty string.
        """
        merged = dict.fromkeys(self.selects + tuple(_wire(x) for x in fields))
        return attrs.evolve(self, selects=tuple(merged))

    def expand(self, *items: Expand | Field[Any] | str) -> Query[R]:
        """Add navigations to ``$expand`` (see :func:`expand` for nested options).

        Raises:
            TypeError: an item is neither an ``Expand``, a ``Field`` nor a string.
        """
        return attrs.evolve(self, expands=self.expands + tuple(_as_expand(e) for e in items))

    def orderby(self, *items: Field[Any] | OrderBy | str) -> Query[R]:
        """Add ``$orderby`` items (fields sort ascending; ``f(...).desc()`` descending).

        Raises:
            TypeError: an item is neither a ``Field``, an ``OrderBy`` nor a string.
        """
        return attrs.evolve(self, orders=self.orders + tuple(_order(o) for o in items))

    def top(self, count: int | None) -> Query[R]:
        """Set ``$top`` (Norce clamps pages to 500 rows and links the rest).

        Raises:
            ValueError: ``count`` is negative.
        """
        return attrs.evolve(self, limit=_check_count("top", count))

    def skip(self, count: int | None) -> Query[R]:
        """Set ``$skip``. Deep skips fail on large sets: prefer keyset paging.

        Raises:
            ValueError: ``count`` is negative.
        """
        return attrs.evolve(self, offset=_check_count("skip", count))

    def without_paging(self) -> Query[R]:
        """The same query without ``$orderby``, ``$top`` and ``$skip``."""
        return attrs.evolve(self, orders=(), limit=None, offset=None)

    @property
    def filter_text(self) -> str | None:
        """The combined ``$filter`` text, or ``None``."""
        if not self.filters:
            return None
        return and_(*self.filters).text

    def to_params(self) -> dict[str, str]:
        """The query options as a dict, in a stable order (unencoded values)."""
        params: dict[str, str] = {}
        text = self.filter_text
        if text is not None:
            params["$filter"] = text
        if self.selects:
            params["$select"] = ",".join(self.selects)
        if self.expands:
            params["$expand"] = ",".join(e.render() for e in self.expands)
        if self.orders:
            params["$orderby"] = ",".join(self.orders)
        if self.limit is not None:
            params["$top"] = str(self.limit)
        if self.offset is not None:
            params["$skip"] = str(self.offset)
        return params

    def to_query_string(self) -> str:
        """The percent-encoded query string (no leading ``?``)."""
        return render_params(self.to_params())

    def url(self, base: str) -> str:
        """The full URL under ``base`` (the Query base ending in ``/``)."""
        qs = self.to_query_string()
        url = f"{base}{self.path}"
        return f"{url}?{qs}" if qs else url


def render_params(params: Mapping[str, str]) -> str:
    """Encode query options the one way this package does (``%20`` for spaces)."""
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in params.items())


@overload
def query(target: type[E], /) -> Query[E]: ...
@overload
def query(target: tuple[str, str], /) -> Query[Row]: ...
@overload
def query(target: str, entity_set: str, /) -> Query[Row]: ...
def query(target: type[Entity] | tuple[str, str] | str, entity_set: str | None = None, /) -> Any:
    """Start a query: ``query(ProductSku)`` (typed rows) or ``query("Core", "Countries")``.

    A typed model must carry ``NAMESPACE``, ``ENTITY_SET`` and ``KEY`` (see
    :class:`~norce_integration.query.Entity`); any other set is reached by name and yields
    dicts (key ``Id`` unless another is given to the resource call).

    Raises:
        TypeError: ``target`` is neither a model nor names.
    """
    if isinstance(target, str):
        if entity_set is None:
            msg = "query(namespace, entity_set): the entity set is missing"
            raise TypeError(msg)
        return Query(namespace=target, entity_set=entity_set)
    if isinstance(target, tuple):
        namespace, name = target
        return Query(namespace=namespace, entity_set=name)
    return Query(
        namespace=target.NAMESPACE,
        entity_set=target.ENTITY_SET,
        model=target,
        key=tuple(model_wire_names(target)[k] for k in target.KEY),
    )


def key_segment(key_wires: Sequence[str], key: object) -> str:
    """The ``(…)`` key segment: ``('100011')`` or ``(PartNo='A',PriceListId=1,QtyBreak=1)``.

    ``key`` is a scalar (single key), a tuple in key order, or a mapping of wire names.

    Raises:
        ValueError: the key does not match the key fields.
    """
    if isinstance(key, Mapping):
        unknown = set(key) - set(key_wires)
        missing = [w for w in key_wires if w not in key]
        if unknown or missing:
            msg = (
                f"key {dict(key)!r} does not match the key fields {list(key_wires)}"
                f" (missing {missing}, unknown {sorted(map(str, unknown))})"
            )
            raise ValueError(msg)
        values: tuple[object, ...] = tuple(key[w] for w in key_wires)
    elif isinstance(key, tuple):
        values = key
    else:
        values = (key,)
    if len(values) != len(key_wires):
        msg = f"key {key!r} does not match the key fields {list(key_wires)}"
        raise ValueError(msg)
    if any(v is None for v in values):
        msg = f"a key value is None: {key!r}"
        raise ValueError(msg)
    if len(values) == 1:
        return f"({literal(values[0])})"
    return "(" + ",".join(f"{w}={literal(v)}" for w, v in zip(key_wires, values, strict=True)) + ")"
