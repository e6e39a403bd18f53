"""The webhook receiver: an ASGI 3 application that stores Norce events durably and acks.

Norce posts one small JSON body per event, with the static headers configured in Admin,
and retries any non-2xx answer (or no answer within 5 s) for about 22 hours (reference
§3.4). So the hot path is short: check the source network and the static auth header,
read the body with a limit, parse it (no Query calls), hand it to the inbox writer, and
answer once the write committed.

=========================================  ======  =====================================
request                                    status  stored
=========================================  ======  =====================================
not ``POST``                               405     nothing
source address not in the allow-list       403     nothing
auth header missing or wrong               401     nothing
body over ``max_body_size``                400     dead letter (first bytes only)
no event type (header, path, query)        400     dead letter
body not valid JSON / missing field / ...  400     dead letter
unknown or unhandled type, ``"accept"``    200     dead letter ``webhook:unhandled``
unknown or unhandled type, ``"reject"``    404     nothing
redelivery within the dedup window         200     nothing
valid                                      200     inbox
the store failed or was too slow           503     nothing (Norce retries)
=========================================  ======  =====================================

The response body is JSON: ``{"status": "accepted"}``, ``{"status": "duplicate"}``,
``{"status": "recorded"}`` or ``{"error": code, "detail": text, ...}``. Nothing in a
response or a log line contains a header value.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any, Final, Literal

import attrs
import orjson

from ..._exceptions import EventParseError, StoreError
from ...event import EventType, UnknownEvent, dedup_key, event_type_from, parse_event
from ...event import load_body as load_json
from ._inbox import Append, DeadLetterWrite, InboxWriter


__all__ = [
    "SOURCE_MALFORMED",
    "SOURCE_UNHANDLED",
    "IPNetwork",
    "ReceiverConfig",
    "WebhookAuth",
    "WebhookReceiver",
    "client_address",
    "fast_dedup_key",
]

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SOURCE_MALFORMED: Final = "webhook:malformed"
"""Dead-letter source of requests the receiver rejected with 400."""
SOURCE_UNHANDLED: Final = "webhook:unhandled"
"""Dead-letter source of well-formed events no handler takes."""

UnknownPolicy = Literal["accept", "reject"]


def _secret_repr(_: object) -> str:
    return "'***'"


def _header_name(value: str) -> str:
    return str(value).strip().lower()


def _values(value: str | Iterable[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@attrs.frozen
class WebhookAuth:
    """The static header Norce sends with every webhook (configured in Admin → Events).

    Norce signs nothing, so a shared secret in a header is the authentication; it is
    compared in constant time. Give several ``values`` to rotate a secret without
    downtime (configure the new one in Norce, then drop the old one here).

    Example:
        >>> auth = WebhookAuth("X-Norce-Webhook-Secret", "s3cret")
        >>> auth
        WebhookAuth(header='x-norce-webhook-secret', values='***')

    Args:
        header: the header name (any case).
        values: the accepted value, or several.

    Raises:
        ValueError: no header name, no value, or an empty or non-latin-1 value.
    """

    header: str = attrs.field(converter=_header_name)
    values: tuple[str, ...] = attrs.field(converter=_values, repr=_secret_repr)
    _encoded: tuple[bytes, ...] = attrs.field(init=False, repr=False, eq=False)

    def __attrs_post_init__(self) -> None:
        if not self.header:
            msg = "the auth header name is empty"
            raise ValueError(msg)
        if not self.values or any(not v for v in self.values):
            msg = "an auth header value is empty"
            raise ValueError(msg)
        try:
            encoded = tuple(v.encode("latin-1") for v in self.values)
        except UnicodeEncodeError:
            msg = "an auth header value is not latin-1 (HTTP header values are bytes)"
            raise ValueError(msg) from None
        object.__setattr__(self, "_encoded", encoded)

    def matches(self, provided: bytes | None) -> bool:
        """Whether ``provided`` is one of the values; constant time per value."""
        candidate = provided if provided is not None else b""
        ok = False
        for expected in self._encoded:
            # No short-circuit: every value is compared, so timing does not say which.
            ok |= hmac.compare_digest(candidate, expected)
        return ok and provided is not None


def _networks(value: Iterable[str | IPNetwork] | None) -> tuple[IPNetwork, ...] | None:
    if value is None:
        return None
    return tuple(ipaddress.ip_network(n, strict=False) for n in value)


@attrs.frozen(kw_only=True)
class ReceiverConfig:
    """The receiver's settings (built by the event handler from its arguments).

    Attributes:
        auth: the static auth header, or ``None`` (no authentication: logged at start).
        allow_networks: source networks allowed to post (``None``: any).
        trusted_proxy_hops: reverse proxies in front of the receiver whose
            ``X-Forwarded-For`` entries are trusted; 0 uses the socket's peer address.
        max_body_size: bytes; a larger body is rejected without being buffered.
        unknown_events: ``"accept"`` (2xx, recorded as a dead letter) or ``"reject"`` (404).
        ack_timeout: seconds to wait for the inbox write before answering 503.
    """

    auth: WebhookAuth | None = None
    allow_networks: tuple[IPNetwork, ...] | None = attrs.field(default=None, converter=_networks)
    trusted_proxy_hops: int = 0
    max_body_size: int = 64 * 1024
    unknown_events: UnknownPolicy = "accept"
    ack_timeout: float = 4.0

    def __attrs_post_init__(self) -> None:
        if self.trusted_proxy_hops < 0:
            msg = f"trusted_proxy_hops must be >= 0, got {self.trusted_proxy_hops}"
            raise ValueError(msg)
        if self.max_body_size < 1:
            msg = f"max_body_size must be >= 1, got {self.max_body_size}"
            raise ValueError(msg)
        if self.unknown_events not in ("accept", "reject"):
            msg = f"unknown_events must be 'accept' or 'reject', got {self.unknown_events!r}"
            raise ValueError(msg)
        if not self.ack_timeout > 0:
            msg = f"ack_timeout must be > 0, got {self.ack_timeout}"
            raise ValueError(msg)


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = text.strip().strip('"')
    if value.startswith("["):  # "[v6]" or "[v6]:port"
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:  # "v4:port"
        value = value.partition(":")[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted_hops: int
) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The client's address: the socket peer, or ``trusted_hops`` back along the proxies.

    With ``trusted_hops=N`` the request passed N proxies we run; the last one is the
    socket peer, each earlier one appended its peer to ``X-Forwarded-For``. The client
    is therefore the N-th address from the right of ``X-Forwarded-For + [peer]``. A
    request with fewer entries did not come through our proxies: ``None`` (refused by an
    allow-list). Entries further left are whatever the client wrote and never trusted.
    """
    if trusted_hops == 0:
        return None if peer is None else _parse_ip(peer)
    chain = [part for value in forwarded_for for part in value.split(",") if part.strip()]
    chain.append(peer or "")
    if len(chain) < trusted_hops + 1:
        return None
    return _parse_ip(chain[-(trusted_hops + 1)])


def _json(
    status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None
) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    payload = orjson.dumps(body)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode("ascii")),
        *(extra or []),
    ]
    return status, payload, headers


_ACCEPTED: Final = _json(200, {"status": "accepted"})
_DUPLICATE: Final = _json(200, {"status": "duplicate"})
_RECORDED: Final = _json(200, {"status": "recorded"})
_NOT_ALLOWED: Final = _json(
    405, {"error": "method_not_allowed", "detail": "use POST"}, [(b"allow", b"POST")]
)
_UNAUTHORIZED: Final = _json(
    401, {"error": "unauthorized", "detail": "missing or wrong authentication header"}
)
_FORBIDDEN: Final = _json(403, {"error": "forbidden", "detail": "source address not allowed"})


def _unavailable(detail: str) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
    return _json(503, {"error": "store_unavailable", "detail": detail}, [(b"retry-after", b"5")])


class _TooLarge(Exception):
    def __init__(self, head: bytes) -> None:
        super().__init__("too large")
        self.head = head


class _Disconnected(Exception):
    pass


class WebhookReceiver:
    """The ASGI application (``handler.app``). Mount it or run it with uvicorn.

    Args:
        config: what to accept.
        writer: the inbox writer.
        handles: whether a handler (or the job tracker) takes an event type name.
        on_shutdown: called at ASGI lifespan shutdown (flushes the writer).
    """

    def __init__(
        self,
        config: ReceiverConfig,
        writer: InboxWriter,
        handles: Callable[[str], bool],
        *,
        on_shutdown: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        self.writer = writer
        self.handles = handles
        self._on_shutdown = on_shutdown
        self._auth_header = config.auth.header.encode("latin-1") if config.auth else None
        if config.auth is None:
            log.warning(
                "the Norce webhook receiver runs without authentication: configure "
                "auth=WebhookAuth(header, value) and the same static header in Norce Admin"
            )

    def __repr__(self) -> str:
        return (
            f"WebhookReceiver(auth={self.config.auth!r}, networks={self.config.allow_networks!r})"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope.get("type")
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        # websocket and anything else: not ours; the server closes the connection.

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._on_shutdown is not None:
                    # The writer flushes what is queued: acknowledged events are stored.
                    await self._on_shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # ------------------------------------------------------------------ request

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            status, body, headers = await self._handle(scope, receive)
        except _Disconnected:
            return
        except Exception:
            # A bug must not lose an event: 503 makes Norce deliver it again.
            log.exception("the webhook receiver failed on a request")
            status, body, headers = _unavailable("internal error")
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _handle(
        self, scope: Scope, receive: Receive
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        if scope.get("method") != "POST":
            return _NOT_ALLOWED
        config = self.config
        provided: bytes | None = None
        type_header: bytes | None = None
        length_header: bytes | None = None
        forwarded: list[str] = []
        for name, value in scope.get("headers", ()):
            lower = name.lower()
            if lower == self._auth_header:
                provided = value if provided is None else provided + b"," + value
            elif lower == b"x-norce-event-type":
                type_header = value
            elif lower == b"content-length":
                length_header = value
            elif lower == b"x-forwarded-for":
                forwarded.append(value.decode("latin-1"))
        if config.allow_networks is not None:
            peer = scope.get("client")
            address = client_address(
                peer[0] if peer else None, forwarded, config.trusted_proxy_hops
            )
            if address is None or not any(address in net for net in config.allow_networks):
                log.warning("webhook refused: source %s is not in the allow-list", address)
                return _FORBIDDEN
        if config.auth is not None and not config.auth.matches(provided):
            log.warning(
                "webhook refused: %s header %s",
                config.auth.header,
                "missing" if provided is None else "wrong",
            )
            return _UNAUTHORIZED
        name = _event_type(scope, type_header)
        try:
            body = await self._read_body(receive, length_header)
        except _TooLarge as exc:
            detail = f"the body is larger than {config.max_body_size} bytes"
            return await self._reject(
                "body_too_large", detail, name, exc.head, limit=config.max_body_size
            )
        if name is None:
            detail = "no event type: send the x-norce-event-type header or post to .../{EventType}"
            return await self._reject("missing_event_type", detail, None, body)
        try:
            # Decoded once; parsing and the dedup key both work on the decoded object.
            data, _ = load_json(body, name)
            event = parse_event(name, data)
            key = fast_dedup_key(name, data)
        except EventParseError as exc:
            return await self._reject(
                "malformed_event", str(exc), name, body, field=exc.field or None
            )
        known = EventType.lookup(name)
        type_name = known.value if known is not None else name
        if not self.handles(type_name):
            return await self._unhandled(type_name, body, isinstance(event, UnknownEvent))
        return await self._store(Append(key, type_name, body))

    async def _read_body(self, receive: Receive, length_header: bytes | None) -> bytes:
        limit = self.config.max_body_size
        if length_header is not None:
            try:
                declared = int(length_header)
            except ValueError:
                declared = -1
            if declared > limit:
                # Refuse before reading a byte: the declared size is already too large.
                raise _TooLarge(b"")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    chunks.append(chunk)
                    raise _TooLarge(b"".join(chunks)[:limit])
                chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _write(self, op: Append | DeadLetterWrite) -> bool | int:
        return await self.writer.write(op, self.config.ack_timeout)

    async def _store(self, op: Append) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        try:
            stored = await self._write(op)
        except StoreError as exc:
            log.error("webhook not stored (answered 503, Norce retries): %s", exc)
            return _unavailable("the event store failed")
        except TimeoutError:
            log.error(
                "webhook not stored within %.1f s (answered 503, Norce retries)",
                self.config.ack_timeout,
            )
            return _unavailable("the event store is too slow")
        return _ACCEPTED if stored else _DUPLICATE

    async def _unhandled(
        self, type_name: str, body: bytes, unknown: bool
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        what = "unknown event type" if unknown else "no handler for event type"
        if self.config.unknown_events == "reject":
            return _json(404, {"error": "unhandled_event_type", "detail": f"{what} {type_name}"})
        try:
            await self._write(
                DeadLetterWrite(SOURCE_UNHANDLED, type_name, body, f"{what} {type_name}")
            )
        except (StoreError, TimeoutError) as exc:
            # Recording is for inspection; Norce must not retry an event nobody handles.
            log.error("could not record an unhandled %s event: %s", type_name, exc)
        return _RECORDED

    async def _reject(
        self, code: str, detail: str, name: str | None, body: bytes, **extra: Any
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        try:
            await self._write(DeadLetterWrite(SOURCE_MALFORMED, name, body, f"{code}: {detail}"))
        except (StoreError, TimeoutError) as exc:
            # A malformed request never becomes a 5xx: Norce would only resend it.
            log.error("could not keep a rejected webhook (%s) as a dead letter: %s", code, exc)
        payload: dict[str, Any] = {"error": code, "detail": detail}
        if name is not None:
            payload["event_type"] = name
        payload.update({k: v for k, v in extra.items() if v is not None})
        return _json(400, payload)


_FLAT = (str, int, bool, type(None))
_INT_LIMIT: Final = 10**30


def fast_dedup_key(event_type: str, data: dict[str, Any]) -> str:
    """:func:`~norce_integration.event.dedup_key` of a decoded body, faster for flat ones.

    Norce's notification bodies are flat objects of ids and strings. For those, the
    stdlib's C encoder with sorted keys, no spaces and ASCII escapes writes exactly the
    canonical JSON ``dedup_key`` hashes (integers below 10**30 are written the same way),
    so the key is identical; anything else (nested values, fractions) takes
    ``dedup_key`` itself. A property test holds the two equal.

    Raises:
        EventParseError: the body is not JSON data (from ``dedup_key``).
    """
    for value in data.values():
        if not isinstance(value, _FLAT) or (
            isinstance(value, int) and not -_INT_LIMIT < value < _INT_LIMIT
        ):
            return dedup_key(event_type, data)
    try:
        canonical = json.dumps(
            data, sort_keys=True, separators=(",", ":"), ensure_ascii=True
        ).encode("ascii")
    except (TypeError, ValueError):
        return dedup_key(event_type, data)
    digest = hashlib.sha256()
    digest.update(event_type.strip().lower().encode("utf-8", "surrogatepass"))
    digest.update(b"\n")
    digest.update(canonical)
    return digest.hexdigest()


def _event_type(scope: Scope, type_header: bytes | None) -> str | None:
    """The event type: header, else ``norceEventType=``, else the last path segment."""
    if type_header is not None:
        name = type_header.decode("latin-1").strip()
        if name:
            return name
    path = str(scope.get("path") or "/")
    if not scope.get("query_string") and "%" not in path:
        # The common case, without URL parsing: ``.../SkuChangedNotification``.
        root = str(scope.get("root_path") or "")
        if root and path.startswith(root):
            path = path[len(root) :]
        for segment in reversed(path.split("/")):
            if segment.strip():
                return segment.strip()
        return None
    return event_type_from(None, _relative_path(scope))


def _relative_path(scope: Scope) -> str:
    """The path below the mount point, with the query string (``norceEventType=``)."""
    path = str(scope.get("path") or "/")
    root = str(scope.get("root_path") or "")
    if root and path.startswith(root):
        path = path[len(root) :] or "/"
    query = scope.get("query_string") or b""
    if query:
        path += "?" + query.decode("latin-1")
    return path
