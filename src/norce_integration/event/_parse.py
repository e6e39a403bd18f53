"""Webhook parsing (pure): body + event type → typed event; dedup keys; type routing.

Norce's webhook carries no event id and no event-type header of its own (reference
§3.3): the receiver learns the type from a static ``x-norce-event-type`` header it
configured, or from the URL path; duplicates are recognised by content.

Parsing is strict about what the contract says and lenient about what it does not:
wrong types, out-of-range integers, ``true`` where a number belongs and missing
required fields raise :class:`~norce_integration.EventParseError` naming the field and
event type; unknown extra fields are ignored; unknown event types become
:class:`UnknownEvent`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, TypeAlias
from urllib.parse import parse_qs, unquote, urlsplit

import attrs

from .._convert import WIRE_NAME, to_pascal
from .._exceptions import EventParseError
from .._numbers import number_text as _number_text
from .models import (
    EVENT_CLASSES,
    KIND,
    EntityChanged,
    Event,
    EventType,
    InvoiceCaptureState,
    JobStatus,
    NorceEvent,
    UnknownEvent,
)


__all__ = ["EVENT_TYPE_HEADER", "Body", "dedup_key", "event_type_from", "parse_event"]

EVENT_TYPE_HEADER = "x-norce-event-type"
"""The static header Norce's compatibility kit configures per event type (§3.3)."""
_QUERY_PARAM = "norceEventType"

Body: TypeAlias = bytes | bytearray | memoryview | str | Mapping[str, Any]
"""A webhook body: raw bytes/text of JSON, or an already parsed JSON object."""

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; Python's parser would accept them.
    msg = f"{name} is not a JSON number"
    raise ValueError(msg)


def _decode(body: object, event_type: str) -> tuple[str, bytes]:
    """The text of a raw body and its bytes (``object``: callers may pass anything)."""
    if isinstance(body, bytes | bytearray | memoryview):
        raw = bytes(body)
        try:
            return raw.decode("utf-8-sig"), raw
        except UnicodeDecodeError as exc:
            msg = f"the body is not UTF-8 ({exc.reason} at byte {exc.start})"
            raise EventParseError(msg, event_type=event_type) from None
    if isinstance(body, str):
        try:
            return body, body.encode("utf-8")
        except UnicodeEncodeError:
            msg = "the body holds an unpaired surrogate"
            raise EventParseError(msg, event_type=event_type) from None
    msg = f"expected bytes, str or a mapping, got {type(body).__name__}"
    raise EventParseError(msg, event_type=event_type)


def load_body(body: Body, event_type: str) -> tuple[dict[str, Any], bytes | None]:
    """The JSON object in ``body`` and the bytes it came from (``None`` for a mapping).

    Raises:
        EventParseError: the body is not UTF-8 JSON holding an object with string keys.
    """
    if isinstance(body, Mapping):
        data = dict(body)
        if not all(isinstance(k, str) for k in data):
            raise EventParseError("an object key is not a string", event_type=event_type)
        return data, None
    text, raw = _decode(body, event_type)
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        msg = f"the body is not valid JSON ({type(exc).__name__}: {str(exc)[:120]})"
        raise EventParseError(msg, event_type=event_type) from None
    if not isinstance(data, dict):
        msg = f"the body must be a JSON object, got {_json_type(data)}"
        raise EventParseError(msg, event_type=event_type)
    return data, raw


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


# ---------------------------------------------------------------- field checks


def _integer(value: object, bounds: tuple[int, int], kind: str) -> int:
    # bool is an int in Python but not in JSON; 5.0 is a number but not an integer.
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"expected an integer ({kind}), got {_json_type(value)} {_short(value)}"
        raise ValueError(msg)
    low, high = bounds
    if not low <= value <= high:
        msg = f"{value} is outside the {kind} range"
        raise ValueError(msg)
    return int(value)


def _decimal(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        msg = f"expected a number, got {_json_type(value)} {_short(value)}"
        raise ValueError(msg)
    try:
        number = value if isinstance(value, Decimal) else Decimal(repr(value))
    except InvalidOperation:
        msg = f"not a number: {_short(value)}"
        raise ValueError(msg) from None
    if not number.is_finite():
        msg = f"not a finite number: {_short(value)}"
        raise ValueError(msg)
    return number


def _string(value: object) -> str:
    if not isinstance(value, str):
        msg = f"expected a string, got {_json_type(value)} {_short(value)}"
        raise ValueError(msg)
    return str(value)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _convert(kind: str, value: object) -> object:
    if kind == "int32":
        return _integer(value, _INT32, "int32")
    if kind == "int64":
        return _integer(value, _INT64, "int64")
    if kind == "str":
        return _string(value)
    if kind == "decimal":
        return _decimal(value)
    if kind == "entity_changed":
        return EntityChanged(_string(value))
    if kind == "capture_state":
        return InvoiceCaptureState(_string(value))
    if kind == "job_status":
        return JobStatus(_integer(value, _INT32, "int32"))
    msg = f"unknown field kind {kind!r}"  # a bug in the models, not in the body
    raise AssertionError(msg)


@attrs.frozen
class _Spec:
    attr: str
    wire: str
    kind: str
    required: bool


def _specs(cls: type[NorceEvent]) -> tuple[_Spec, ...]:
    return tuple(
        _Spec(
            attr=a.name,
            wire=a.metadata.get(WIRE_NAME) or to_pascal(a.name),
            kind=a.metadata[KIND],
            required=a.default is attrs.NOTHING,
        )
        for a in attrs.fields(cls)
    )


_SPECS: dict[EventType, tuple[_Spec, ...]] = {t: _specs(c) for t, c in EVENT_CLASSES.items()}


# ---------------------------------------------------------------- public functions


def parse_event(event_type: str | EventType, body: Body) -> Event:
    """Parse a webhook body into its typed event.

    Args:
        event_type: the type name in any letter case (``SkuChangedNotification``,
            ``skuchangednotification``); see :func:`event_type_from`.
        body: the request body (bytes or text of a JSON object) or a parsed mapping.

    Returns:
        The typed event; an :class:`UnknownEvent` (type name and body kept) for types
        this SDK does not know.

    Raises:
        EventParseError: the event type is empty, the body is not a JSON object, a
            required field is missing or null, or a field has the wrong type or range.
            ``.event_type`` and ``.field`` (the wire name) say where.
    """
    name = str(event_type).strip()
    if not name:
        raise EventParseError("the event type is empty")
    known = EventType.lookup(name)
    data, raw = load_body(body, known.value if known else name)
    if known is None:
        if raw is None:
            raw = _canonical_bytes(data, name)
        return UnknownEvent(event_type=name, body=data, raw=raw)
    kwargs: dict[str, Any] = {}
    for spec in _SPECS[known]:
        if spec.kind == "extra":
            wires = {s.wire for s in _SPECS[known]}
            kwargs[spec.attr] = {k: v for k, v in data.items() if k not in wires}
            continue
        value = data.get(spec.wire)
        if value is None:
            if spec.required:
                state = "null" if spec.wire in data else "missing"
                raise EventParseError(
                    f"required field is {state}", event_type=known.value, field=spec.wire
                )
            kwargs[spec.attr] = None
            continue
        try:
            kwargs[spec.attr] = _convert(spec.kind, value)
        except ValueError as exc:
            raise EventParseError(str(exc), event_type=known.value, field=spec.wire) from None
    event: Event = EVENT_CLASSES[known](**kwargs)  # type: ignore[assignment]
    return event


def _canonical(value: Any, depth: int = 0) -> str:
    """Canonical JSON text: sorted keys, no spaces, numbers normalised."""
    if depth > 500:
        msg = "nested too deeply"
        raise ValueError(msg)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float | Decimal):
        try:
            number = value if isinstance(value, Decimal) else Decimal(repr(value))
        except InvalidOperation:
            number = Decimal(str(value))
        if not number.is_finite():
            return json.dumps(str(number))
        return _number_text(number)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=True)
    if isinstance(value, Mapping):
        items = sorted((str(k), v) for k, v in value.items())
        inner = ",".join(
            f"{json.dumps(k, ensure_ascii=True)}:{_canonical(v, depth + 1)}" for k, v in items
        )
        return "{" + inner + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_canonical(v, depth + 1) for v in value) + "]"
    msg = f"not JSON data: {type(value).__name__}"
    raise ValueError(msg)


def _canonical_bytes(data: Mapping[str, Any], event_type: str) -> bytes:
    try:
        return _canonical(data).encode("ascii")
    except (ValueError, RecursionError) as exc:
        raise EventParseError(f"the body is not JSON data: {exc}", event_type=event_type) from None


def dedup_key(event_type: str | EventType, body: Body) -> str:
    """A stable key for recognising a redelivered webhook: a sha256 hex digest.

    It hashes the lower-cased event type and the body's canonical JSON: keys sorted, no
    whitespace, strings as JSON escapes, and numbers normalised so ``1``, ``1.0`` and
    ``1.00`` are the same (a body re-serialised by a proxy or parsed to floats still
    matches). Everything else — string case, ``null`` versus absent — is significant.

    Raises:
        EventParseError: the body is not valid JSON (any JSON value is accepted).
    """
    name = str(event_type).strip()
    if isinstance(body, Mapping):
        canonical = _canonical_bytes(body, name)
    else:
        text, _ = _decode(body, name)
        try:
            data = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
            canonical = _canonical(data).encode("ascii")
        except (ValueError, RecursionError) as exc:
            raise EventParseError(
                f"the body is not valid JSON ({type(exc).__name__})", event_type=name
            ) from None
    digest = hashlib.sha256()
    digest.update(name.lower().encode("utf-8", "surrogatepass"))
    digest.update(b"\n")
    digest.update(canonical)
    return digest.hexdigest()


Headers: TypeAlias = Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]]
"""A header mapping (any case) or ASGI-style ``(name, value)`` pairs (bytes allowed)."""


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def event_type_from(headers: Headers | None = None, path: str | None = None) -> str | None:
    """The event type of a webhook request, or ``None`` when nothing names it.

    Looked up in order: the ``x-norce-event-type`` header (any case), the
    ``norceEventType`` query parameter of ``path``, then the last segment of ``path``
    (``/hooks/norce/SkuChangedNotification``). The name is returned as found; parse
    it with :func:`parse_event` (which ignores letter case).
    """
    if headers is not None:
        pairs: Iterable[tuple[str | bytes, str | bytes]] = (
            headers.items() if isinstance(headers, Mapping) else headers
        )
        for key, value in pairs:
            if _text(key).strip().lower() == EVENT_TYPE_HEADER:
                name = _text(value).strip()
                if name:
                    return name
    if path:
        parts = urlsplit(path)
        values = parse_qs(parts.query).get(_QUERY_PARAM)
        if values and values[0].strip():
            return values[0].strip()
        segments = [s for s in parts.path.split("/") if s.strip()]
        if segments:
            return unquote(segments[-1]).strip() or None
    return None
