"""Wire codec of the order contracts: strict parsing, unknown keys kept, exact round trips.

The order contracts are read from Norce (the Order Receiver gets an ``OrderRequest``)
as well as written, and Norce's live payloads carry fields the public contracts lack.
So, unlike the import models, every order model:

* keeps unknown keys (``extra``) and the order keys arrived in, and writes both back:
  parse → serialise gives the same keys, in the same order, with the same values
  (``Decimal`` exact, dates in their original text when the output format matches);
* parses strictly per the contract (an ``int`` is a JSON integer in the int32 range,
  a ``bool`` a JSON boolean, ...) and reports every wrong field with its JSON path in
  one :class:`~norce_integration.orders.OrderValidationError`;
* accepts known keys case-insensitively and through documented aliases (the docs'
  casing), and emits the contract's casing.

The hooks are registered on the one converter of :mod:`norce_integration._convert`, so
``converter.structure(data, OrderRequest)`` and ``converter.unstructure(model)`` work as
for every other model (with the default :class:`WireOptions`).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, ClassVar, Final, Literal, Self, TypeVar, get_args, get_origin

import attrs
import orjson

from .._convert import WIRE_NAME, WriteModel, converter, strict_converter, wire_names
from .._types import UNSET
from ._errors import FieldError, OrderValidationError


__all__ = [
    "ALIASES",
    "OpenIntEnum",
    "OpenStrEnum",
    "OrderModel",
    "WireOptions",
    "register",
]

T = TypeVar("T")
M = TypeVar("M", bound="OrderModel")

ALIASES: Final = "norce_order_aliases"
"""Field metadata key: other wire names accepted when parsing (e.g. the docs' casing)."""

ENUM_OPTIONS: dict[type[Any], str] = {}
"""Open integer enum → the :class:`WireOptions` attribute choosing name or integer."""

_INT32 = 2**31
_MAX_PSEUDO_MEMBERS = 64
_MAX_ERRORS = 100


# ------------------------------------------------------------------------------ options


@attrs.frozen(kw_only=True)
class WireOptions:
    """How order contracts are written (parsing always accepts every form).

    Attributes:
        date_format: ``"iso"`` (ISO 8601, the default) or ``"wcf"`` (``/Date(ms)/``,
            WCF's ``DataContractJsonSerializer`` form). Norce does not document which it
            uses (OPEN QUESTION); both are parsed. A date parsed from the wire is written
            back in its original text when it is already in the chosen format.
        order_status: ``"name"`` (``"Confirmed"``, the default: the docs send names) or
            ``"int"`` (``2``). Whether Norce accepts integers is an OPEN QUESTION.
        order_type: ``"int"`` (the default: the docs document integers) or ``"name"``.
    """

    date_format: Literal["iso", "wcf"] = "iso"
    order_status: Literal["name", "int"] = "name"
    order_type: Literal["int", "name"] = "int"


DEFAULT_OPTIONS: Final = WireOptions()


# ------------------------------------------------------------------------------ enums


class OpenIntEnum(enum.IntEnum):
    """An integer enum that keeps values it does not know.

    An unknown integer becomes a pseudo-member named ``UNKNOWN_<n>``; an unknown *name*
    cannot be a member, so the parsers keep it as a plain ``str`` (which is why such
    fields are typed ``OrderStatus | str``). Names are matched case-insensitively.
    """

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, int) or isinstance(value, bool):
            return None
        pseudo = int.__new__(cls, value)
        pseudo._name_ = f"UNKNOWN_{value}"
        pseudo._value_ = value
        # Bounded: values come from the network and must not grow the class without limit.
        if len(cls._value2member_map_) >= _MAX_PSEUDO_MEMBERS + len(cls.__members__):
            return pseudo
        return cls._value2member_map_.setdefault(value, pseudo)

    @classmethod
    def parse(cls, value: object) -> Self | str:
        """A member from an integer, its digits or a name; an unknown name stays a ``str``.

        Raises:
            TypeError: ``value`` is neither an integer nor a string.
            ValueError: the integer is outside the int32 range.
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            if not -_INT32 <= value < _INT32:
                msg = f"{value} is outside the int32 range"
                raise ValueError(msg)
            return cls(value)
        if isinstance(value, str):
            text = value.strip()
            if re.fullmatch(r"-?[0-9]{1,10}", text):
                return cls.parse(int(text))
            folded = text.casefold()
            for name, member in cls.__members__.items():
                if name.casefold() == folded:
                    return member
            return value
        msg = f"expected a {cls.__name__} integer or name, got {_json_type(value)}"
        raise TypeError(msg)


class OpenStrEnum(enum.StrEnum):
    """A string enum that keeps values it does not know (as pseudo-members).

    A known value is matched case-insensitively (``"physical"`` is ``Physical``); any
    other string becomes a pseudo-member whose value is that exact string, so it is
    written back unchanged.
    """

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        folded = value.casefold()
        for member in cls.__members__.values():
            if member.value.casefold() == folded:
                return member
        pseudo = str.__new__(cls, value)
        pseudo._name_ = value
        pseudo._value_ = value
        if len(cls._value2member_map_) >= _MAX_PSEUDO_MEMBERS + len(cls.__members__):
            return pseudo
        return cls._value2member_map_.setdefault(value, pseudo)

    @property
    def is_known(self) -> bool:
        """Whether this is a value the contract documents (not a pseudo-member)."""
        return self._name_ in type(self).__members__


# ------------------------------------------------------------------------------ dates


class _WireDateTime(dt.datetime):
    """A datetime that remembers the text it was parsed from, to write it back unchanged."""

    __slots__ = ("_wire_format", "_wire_text")
    _wire_format: str
    _wire_text: str

    def __repr__(self) -> str:
        return "datetime." + dt.datetime.__repr__(self).replace(type(self).__name__, "datetime", 1)


_WCF_DATE = re.compile(r"/Date\((-?[0-9]{1,15})(?:([+-])([0-9]{2})([0-9]{2}))?\)/")


def parse_datetime(value: object) -> dt.datetime:
    """Parse ISO 8601 or WCF ``/Date(ms[±hhmm])/``.

    ISO text without an offset gives a naive datetime (Norce does not document the
    zone: nothing is assumed). ``/Date(ms)/`` is milliseconds since the epoch (UTC);
    with an offset the result carries it.

    Raises:
        TypeError: not a string.
        ValueError: not a date in either form.
    """
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        msg = f"expected a date string, got {_json_type(value)}"
        raise TypeError(msg)
    match = _WCF_DATE.fullmatch(value)
    fmt: str
    if match:
        ms, sign, hh, mm = match.groups()
        instant = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(milliseconds=int(ms))
        if sign:
            offset = dt.timedelta(hours=int(hh), minutes=int(mm))
            if offset >= dt.timedelta(hours=24):
                msg = f"bad UTC offset in {value!r}"
                raise ValueError(msg)
            instant = instant.astimezone(dt.timezone(-offset if sign == "-" else offset))
        parsed, fmt = instant, "wcf"
    else:
        text = value
        # .NET writes 7 fractional digits; Python keeps 6 (the text is kept anyway).
        text = re.sub(r"(\.[0-9]{6})[0-9]+", r"\1", text)
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.,+\-Z]*)?", text):
            msg = f"not an ISO 8601 or /Date(ms)/ date: {value!r}"
            raise ValueError(msg)
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            msg = f"not an ISO 8601 or /Date(ms)/ date: {value!r}"
            raise ValueError(msg) from None
        fmt = "iso"
    result = _WireDateTime(
        parsed.year,
        parsed.month,
        parsed.day,
        parsed.hour,
        parsed.minute,
        parsed.second,
        parsed.microsecond,
        parsed.tzinfo,
        fold=parsed.fold,
    )
    result._wire_text = value
    result._wire_format = fmt
    return result


def format_datetime(value: dt.datetime, date_format: Literal["iso", "wcf"]) -> str:
    """Write a datetime as ISO 8601 or ``/Date(ms[±hhmm])/``; parsed text is kept as is."""
    if getattr(value, "_wire_format", None) == date_format:
        text = getattr(value, "_wire_text", None)
        if isinstance(text, str):
            return text
    if date_format == "wcf":
        offset = value.utcoffset()
        aware = value if offset is not None else value.replace(tzinfo=dt.UTC)
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        ms = (aware - epoch) // dt.timedelta(milliseconds=1)
        if not offset:
            return f"/Date({ms})/"
        minutes = int(offset.total_seconds()) // 60
        sign = "-" if minutes < 0 else "+"
        hours, mins = divmod(abs(minutes), 60)
        return f"/Date({ms}{sign}{hours:02d}{mins:02d})/"
    if value.tzinfo is not None and value.utcoffset() == dt.timedelta(0):
        return dt.datetime.isoformat(value.replace(tzinfo=None)) + "Z"
    return dt.datetime.isoformat(value)


# ------------------------------------------------------------------------------ leaves


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


class _Invalid(Exception):
    """A leaf value is wrong; the message is for the user."""


def _p_str(value: object) -> str:
    if isinstance(value, str):
        return value
    raise _Invalid(f"expected a string, got {_json_type(value)}")


def _p_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise _Invalid(f"expected a boolean, got {_json_type(value)}")


def _p_int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        if -_INT32 <= value < _INT32:
            return value
        raise _Invalid(f"{value} is outside the int32 range")
    raise _Invalid(f"expected an integer, got {_json_type(value)}")


def _p_decimal(value: object) -> Decimal:
    if isinstance(value, Decimal):
        if value.is_finite():
            return value
        raise _Invalid("expected a finite number")
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, float):
        result = Decimal(repr(value))
        if result.is_finite():
            return result
        raise _Invalid("expected a finite number")
    raise _Invalid(f"expected a number, got {_json_type(value)}")


def _p_datetime(value: object) -> dt.datetime:
    try:
        return parse_datetime(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise _Invalid(str(exc)) from None


def _p_uuid(value: object) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    if isinstance(value, str) and re.fullmatch(r"\{?[0-9A-Fa-f-]{32,36}\}?", value):
        try:
            return uuid.UUID(value)
        except ValueError:
            pass
    got = repr(value) if isinstance(value, str) else _json_type(value)
    raise _Invalid(f"expected a GUID string, got {got}")


def _p_str_or_int(value: object) -> str | int:
    if isinstance(value, str):
        return value
    return _p_int(value)


def _p_open_int(cls: type[OpenIntEnum]) -> Callable[[object], Any]:
    def parse(value: object) -> Any:
        try:
            return cls.parse(value)
        except (TypeError, ValueError) as exc:
            raise _Invalid(str(exc)) from None

    return parse


def _p_open_str(cls: type[OpenStrEnum]) -> Callable[[object], Any]:
    def parse(value: object) -> Any:
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            return cls(value)
        raise _Invalid(f"expected a string, got {_json_type(value)}")

    return parse


_LEAF_PARSERS: dict[Any, Callable[[object], Any]] = {
    str: _p_str,
    bool: _p_bool,
    int: _p_int,
    Decimal: _p_decimal,
    dt.datetime: _p_datetime,
    uuid.UUID: _p_uuid,
}


# ------------------------------------------------------------------------------ plans

# A parser walks a value and appends errors; it returns the parsed value or _BAD.
_BAD: Final = object()


class _Errors(list[FieldError]):
    """The errors found so far, and whether unknown keys are errors too."""

    def __init__(self, *, strict: bool = False) -> None:
        super().__init__()
        self.strict = strict


Parser = Callable[[object, str, _Errors], Any]
Writer = Callable[[Any, WireOptions], Any]


def _split(tp: Any) -> tuple[list[Any], bool]:
    """The non-None, non-UNSET members of a field type, and whether None is allowed."""
    if get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if not _is_unset(a)]
        nullable = type(None) in args
        return [a for a in args if a is not type(None)], nullable
    return [tp], False


def _is_unset(tp: Any) -> bool:
    return get_origin(tp) is Literal and get_args(tp) == (UNSET,)


def _leaf(parse: Callable[[object], Any]) -> Parser:
    def parser(value: object, path: str, errors: _Errors) -> Any:
        try:
            return parse(value)
        except _Invalid as exc:
            errors.append(FieldError(path, str(exc)))
            return _BAD

    return parser


def _parser_for(options: list[Any]) -> Parser:
    if len(options) == 2 and str in options:
        (other,) = [o for o in options if o is not str]
        if other is int:
            return _leaf(_p_str_or_int)
        if isinstance(other, type) and issubclass(other, OpenIntEnum):
            return _leaf(_p_open_int(other))
    if len(options) != 1:  # pragma: no cover - a contract typing error
        msg = f"unsupported union {options}"
        raise TypeError(msg)
    (tp,) = options
    if get_origin(tp) is list:
        (inner,) = get_args(tp)
        return _list_parser(_parser_for([inner]))
    if isinstance(tp, type) and issubclass(tp, OpenIntEnum):
        return _leaf(_p_open_int(tp))
    if isinstance(tp, type) and issubclass(tp, OpenStrEnum):
        return _leaf(_p_open_str(tp))
    if isinstance(tp, type) and issubclass(tp, OrderModel):
        return _model_parser(tp)
    return _leaf(_LEAF_PARSERS[tp])


def _list_parser(item: Parser) -> Parser:
    def parser(value: object, path: str, errors: _Errors) -> Any:
        if not isinstance(value, list):
            errors.append(FieldError(path, f"expected an array, got {_json_type(value)}"))
            return _BAD
        result = []
        bad = False
        for index, element in enumerate(value):
            if element is None:
                errors.append(FieldError(f"{path}[{index}]", "null is not allowed here"))
                bad = True
                continue
            parsed = item(element, f"{path}[{index}]", errors)
            bad = bad or parsed is _BAD
            result.append(parsed)
            if len(errors) >= _MAX_ERRORS:
                return _BAD
        return _BAD if bad else result

    return parser


def _model_parser(cls: type[OrderModel]) -> Parser:
    def parser(value: object, path: str, errors: _Errors) -> Any:
        return _plan(cls).parse(value, path, errors)

    return parser


def _writer_for(options: list[Any]) -> Writer:
    kinds = [o for o in options if o is not str] or options
    tp = kinds[0]
    if get_origin(tp) is list:
        (inner,) = get_args(tp)
        item = _writer_for([inner])
        return lambda v, o: [item(x, o) for x in v]
    if isinstance(tp, type) and issubclass(tp, OpenIntEnum):
        option = ENUM_OPTIONS.get(tp)
        return lambda v, o: _write_open_int(v, getattr(o, option) if option else "int")
    if isinstance(tp, type) and issubclass(tp, OpenStrEnum):
        return lambda v, o: str(v)
    if isinstance(tp, type) and issubclass(tp, OrderModel):
        return lambda v, o: _plan(type(v)).write(v, o)
    if tp is dt.datetime:
        return lambda v, o: format_datetime(v, o.date_format)
    if tp is uuid.UUID:
        return lambda v, o: str(v)
    return lambda v, o: v


def _write_open_int(value: Any, style: str) -> Any:
    if isinstance(value, OpenIntEnum):
        if style == "name" and value._name_ in type(value).__members__:
            return value._name_
        return int(value)
    return value  # an unknown name (str) or a plain int: written as it came


@attrs.frozen
class _Field:
    name: str
    wire: str
    nullable: bool
    parse: Parser
    write: Writer


class _Plan:
    """How one model class is read and written (built once per class, lazily)."""

    def __init__(self, cls: type[OrderModel]) -> None:
        self.cls = cls
        hints = typing.get_type_hints(cls)
        names = wire_names(cls)
        self.fields: list[_Field] = []
        self.lookup: dict[str, _Field] = {}
        for a in attrs.fields(cls):
            if a.name in _RESERVED:
                continue
            options, nullable = _split(hints[a.name])
            field = _Field(
                a.name, names[a.name], nullable, _parser_for(options), _writer_for(options)
            )
            self.fields.append(field)
            for key in (field.wire, *a.metadata.get(ALIASES, ())):
                self.lookup[key.casefold()] = field
        self.by_wire = {f.wire: f for f in self.fields}

    def parse(self, value: object, path: str, errors: _Errors) -> Any:
        if not isinstance(value, Mapping):
            errors.append(FieldError(path, f"expected an object, got {_json_type(value)}"))
            return _BAD
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        order: list[str] = []
        seen: dict[str, str] = {}
        bad = False
        for key, raw in value.items():
            if not isinstance(key, str):
                errors.append(FieldError(path, f"object keys must be strings, got {key!r}"))
                bad = True
                continue
            field = self.lookup.get(key.casefold())
            where = (
                f"{path}.{key}"
                if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key)
                else f"{path}[{json.dumps(key)}]"
            )
            if field is None:
                if errors.strict:
                    errors.append(FieldError(where, "unknown field"))
                    bad = True
                extra[key] = raw
                order.append(key)
                continue
            if field.name in seen:
                errors.append(FieldError(where, f"duplicate of {seen[field.name]}"))
                bad = True
                continue
            seen[field.name] = key
            order.append(field.wire)
            if raw is None:
                if field.nullable:
                    kwargs[field.name] = None
                else:
                    errors.append(FieldError(where, "null is not allowed here"))
                    bad = True
                continue
            parsed = field.parse(raw, where, errors)
            if parsed is _BAD:
                bad = True
            else:
                kwargs[field.name] = parsed
            if len(errors) >= _MAX_ERRORS:
                return _BAD
        if bad:
            return _BAD
        obj = self.cls(**kwargs, extra=extra)
        object.__setattr__(obj, "_key_order", tuple(order))
        return obj

    def write(self, obj: Any, options: WireOptions) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field in self.fields:
            v = getattr(obj, field.name)
            if v is UNSET:
                continue
            values[field.wire] = None if v is None else field.write(v, options)
        extra: Mapping[str, Any] = obj.extra
        out: dict[str, Any] = {}
        for key in getattr(obj, "_key_order", ()):
            if key in values:
                out[key] = values.pop(key)
            elif key in extra and key not in self.by_wire:
                out[key] = extra[key]
        out.update(values)
        for key, v in extra.items():
            if key not in out and key not in self.by_wire:
                out[key] = v
        return out


_RESERVED: Final = frozenset({"extra", "_key_order"})
_PLANS: dict[type[Any], _Plan] = {}


def _plan(cls: type[OrderModel]) -> _Plan:
    plan = _PLANS.get(cls)
    if plan is None:
        plan = _PLANS[cls] = _Plan(cls)
    return plan


# ------------------------------------------------------------------------------ base


class _WireNumber(Decimal):
    """A JSON number with a fraction or exponent, as exact ``Decimal``, keeping its text.

    ``1.0e-7`` is written back as ``1.0e-7``, not ``1.0E-7``.
    """

    __slots__ = ("_wire_text",)
    _wire_text: str

    def __repr__(self) -> str:
        return f"Decimal('{self}')"


def _parse_float(text: str) -> Decimal:
    number = _WireNumber(text)
    number._wire_text = text
    return number


def _parse_int(text: str) -> int | Decimal:
    # orjson cannot write integers beyond 64 bits; keep those as exact Decimals.
    return int(text) if len(text) < 19 else _parse_float(text)


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        if not obj.is_finite():
            msg = "not a finite number"
            raise TypeError(msg)
        text = getattr(obj, "_wire_text", None)
        return orjson.Fragment((text if isinstance(text, str) else str(obj)).encode())
    if isinstance(obj, int):  # beyond orjson's 64 bits
        return orjson.Fragment(str(obj).encode())
    msg = f"{type(obj).__name__} is not JSON serialisable"
    raise TypeError(msg)


def _reject_constant(name: str) -> Any:
    msg = f"{name} is not valid JSON"
    raise ValueError(msg)


def loads(data: bytes | str) -> Any:
    """Parse JSON the way the order contracts need: floats as exact ``Decimal``.

    Raises:
        OrderValidationError: not JSON (path ``$``).
    """
    try:
        return json.loads(
            data, parse_float=_parse_float, parse_int=_parse_int, parse_constant=_reject_constant
        )
    except (ValueError, TypeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise OrderValidationError(
            "JSON document", [FieldError("$", f"not valid JSON: {reason}")]
        ) from None


@attrs.define(kw_only=True)
class OrderModel(WriteModel):
    """Base of every order contract.

    Attributes:
        extra: Keys the contract does not know, with their raw JSON values, written back
            unchanged (Norce's contracts are extensible data objects, and live payloads
            carry fields the public contracts lack).
    """

    extra: dict[str, Any] = attrs.field(factory=dict, metadata={WIRE_NAME: "__extra__"})
    _key_order: tuple[str, ...] = attrs.field(
        default=(), init=False, eq=False, repr=False, metadata={WIRE_NAME: "__order__"}
    )

    WIRE_FORMAT: ClassVar[str] = "json"

    @classmethod
    def from_dict(cls, data: object, *, strict: bool = False) -> Self:
        """Read a contract from wire-shaped data (a JSON object already parsed).

        Args:
            data: The JSON object (numbers as ``int``/``Decimal``/``float``).
            strict: Reject unknown keys instead of keeping them (drift tests).

        Raises:
            OrderValidationError: a field is wrong; ``.path`` says which.
        """
        errors = _Errors(strict=strict)
        result = _plan(cls).parse(data, "$", errors)
        if result is _BAD or errors:
            raise OrderValidationError(cls.__name__, errors)
        assert isinstance(result, cls)
        return result

    @classmethod
    def from_json(cls, data: bytes | str, *, strict: bool = False) -> Self:
        """Read a contract from JSON text.

        Raises:
            OrderValidationError: not JSON, or a field is wrong; ``.path`` says which.
        """
        try:
            parsed = loads(data)
        except OrderValidationError as exc:
            raise OrderValidationError(cls.__name__, exc.errors) from None
        return cls.from_dict(parsed, strict=strict)

    def to_dict(self, options: WireOptions = DEFAULT_OPTIONS) -> dict[str, Any]:
        """The wire-shaped data: contract casing, ``UNSET`` omitted, ``extra`` kept."""
        return _plan(type(self)).write(self, options)

    def to_json(self, options: WireOptions = DEFAULT_OPTIONS) -> bytes:
        """Compact JSON bytes (``Decimal`` written exactly).

        Raises:
            OrderValidationError: a value cannot be written as JSON (e.g. something
                that is not JSON in ``extra``, or a string with a lone surrogate).
        """
        data = self.to_dict(options)
        try:
            try:
                return orjson.dumps(data, default=_default)
            except orjson.JSONEncodeError:
                # orjson stops at integers beyond 64 bits (only possible in ``extra``).
                return orjson.dumps(_fragment_big_ints(data), default=_default)
        except (orjson.JSONEncodeError, TypeError, ValueError, RecursionError) as exc:
            raise OrderValidationError(
                type(self).__name__, [FieldError("$", f"cannot be written as JSON: {exc}")]
            ) from None


def _fragment_big_ints(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _fragment_big_ints(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_fragment_big_ints(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return orjson.Fragment(str(value).encode())
    return value


# ------------------------------------------------------------------------------ hooks


def register(*classes: type[OrderModel]) -> None:
    """Install the order hooks for ``classes`` on the one converter (and the strict one).

    ``converter.structure`` then raises :class:`OrderValidationError` on bad data.
    """
    for cls in classes:
        for conv, strict in ((converter, False), (strict_converter(), True)):
            conv.register_structure_hook(cls, _structure_hook(strict))
            conv.register_unstructure_hook(cls, _unstructure)


def _structure_hook(strict: bool) -> Callable[[Any, type[Any]], Any]:
    def hook(data: Any, cls: type[Any]) -> Any:
        return cls.from_dict(data, strict=strict)

    return hook


def _unstructure(obj: OrderModel) -> dict[str, Any]:
    return obj.to_dict()
