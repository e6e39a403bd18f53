"""Sans-IO request and response types shared by the transport and the ASGI app."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import attrs
import orjson

from ._spool import BodySpool


__all__ = ["EmulatorRequest", "EmulatorResponse", "dumps", "error", "json_response"]

JSON_TYPE = "application/json; charset=utf-8"


@attrs.frozen
class EmulatorRequest:
    """One HTTP request, independent of how it arrived.

    Attributes:
        method: HTTP method, upper case.
        path: the decoded URL path, starting with ``/``.
        query: the raw (percent-encoded) query string without ``?``.
        headers: header names in lower case; repeated headers joined with ``", "``.
        body: the body as byte chunks (read lazily, only by routes that need it) or an
            already spooled body. The emulator takes ownership of a spool.
        base_url: ``scheme://host[:port]`` the client used (for absolute links).
        client: the client address, if known.
    """

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: Iterable[bytes] | BodySpool = ()
    base_url: str = "http://norce-emulator.local"
    client: str | None = None


@attrs.frozen
class EmulatorResponse:
    """What to send back, plus instructions for the shell.

    Attributes:
        status: HTTP status.
        headers: response headers.
        body: response body.
        delay: seconds of injected latency the shell waits before responding.
        real_delay: wait on the wall clock instead of the emulator clock.
        drop: drop the connection instead of responding (``"disconnect"``/``"connect"``).
        action: admin work the shell completes with its own I/O style (``"advance"``
            or ``"run_due"``), then it sends :meth:`NorceEmulator.admin_status`.
        action_seconds: seconds for ``"advance"``.
    """

    status: int
    headers: dict[str, str] = attrs.field(factory=dict)
    body: bytes = b""
    delay: float = 0.0
    real_delay: bool = False
    drop: Literal["disconnect", "connect"] | None = None
    action: Literal["advance", "run_due"] | None = None
    action_seconds: float = 0.0


def _default(o: Any) -> Any:
    if isinstance(o, Decimal):
        return orjson.Fragment(format(o, "f")) if o.is_finite() else None
    if isinstance(o, datetime):
        o = o.replace(tzinfo=UTC) if o.tzinfo is None else o.astimezone(UTC)
        return o.isoformat().replace("+00:00", "Z")
    if isinstance(o, frozenset | set):
        return sorted(o)
    raise TypeError(f"cannot serialise {type(o).__name__}")


def dumps(obj: Any) -> bytes:
    """JSON with exact decimals and UTC ``Z`` datetimes."""
    return orjson.dumps(obj, default=_default, option=orjson.OPT_PASSTHROUGH_DATETIME)


def json_response(
    status: int, obj: Any, headers: Mapping[str, str] | None = None
) -> EmulatorResponse:
    """A JSON response."""
    all_headers = {"Content-Type": JSON_TYPE}
    if headers:
        all_headers.update(headers)
    return EmulatorResponse(status, all_headers, dumps(obj))


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> EmulatorResponse:
    """A Connect-style error ``{"Message": ...}`` (ASP.NET Web API shape; the real
    error body of Connect is UNCONFIRMED)."""
    return json_response(status, {"Message": message}, headers)
