"""The token service: OAuth2 client credentials, bearer tokens and the rate limit."""

from __future__ import annotations

import base64
import binascii
import math
import secrets
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import attrs

from ._core import EmulatorRequest, EmulatorResponse, json_response
from ._spool import BodyTooLargeError, spool_body


if TYPE_CHECKING:
    from ._emulator import NorceEmulator


@attrs.frozen
class TokenRateLimit:
    """The token endpoint's documented limit: 3 requests/minute plus a burst of 20.

    Modelled as a token bucket per OAuth client id holding ``per_minute + burst``
    requests and refilling ``per_minute`` per minute of emulator time. (Norce limits
    per IP; in-process calls have no IP, so the emulator keys on the client id.)
    """

    per_minute: float = 3.0
    burst: int = 20


class TokenService:
    """``POST /identity/1.0/connect/token`` and the bearer tokens it issued.

    Reads its configuration (credentials, lifetime, rate limit, clock) from the owning
    emulator at call time, so changing those attributes takes effect at once.
    """

    def __init__(self, owner: NorceEmulator, lock: threading.RLock) -> None:
        self._owner = owner
        self._lock = lock
        self._tokens: dict[str, tuple[str, datetime]] = {}
        self._buckets: dict[str, tuple[float, datetime]] = {}

    def handle(self, request: EmulatorRequest, method: str) -> EmulatorResponse:
        if method != "POST":
            return json_response(405, {"error": "invalid_request"}, {"Allow": "POST"})
        try:
            with spool_body(request.body, max_bytes=64 * 1024) as spool:
                raw = spool.read_all(64 * 1024)
        except BodyTooLargeError:
            return json_response(413, {"error": "invalid_request"})
        content_type = request.headers.get("content-type", "")
        if raw and "application/x-www-form-urlencoded" not in content_type.lower():
            return json_response(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "the body must be application/x-www-form-urlencoded",
                },
            )
        form = {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic ") and client_id is None:
            # Credentials belong in the body per Norce's docs; Basic is accepted too.
            try:
                decoded = base64.b64decode(basic[6:].strip()).decode()
                client_id, _, client_secret = decoded.partition(":")
            except (binascii.Error, UnicodeDecodeError):
                client_id = client_secret = None
        now = self._owner.clock.now()
        with self._lock:
            if self._owner.token_rate_limit is not None:
                wait = self._take_token_slot(client_id or request.client or "?", now)
                if wait is not None:
                    return json_response(
                        429,
                        {"error": "too_many_requests"},
                        {"Retry-After": str(max(1, math.ceil(wait)))},
                    )
            if client_id != self._owner.client_id or not secrets.compare_digest(
                (client_secret or "").encode(), self._owner.client_secret.encode()
            ):
                return json_response(
                    401,
                    {"error": "invalid_client"},
                    {"WWW-Authenticate": 'Basic realm="token"'},
                )
            grant = form.get("grant_type")
            if grant is None:
                return json_response(
                    400, {"error": "invalid_request", "error_description": "grant_type is missing"}
                )
            if grant != "client_credentials":
                return json_response(400, {"error": "unsupported_grant_type"})
            token = secrets.token_urlsafe(32)
            expires = now + timedelta(seconds=self._owner.token_lifetime)
            self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}
            self._tokens[token] = (client_id, expires)
        body: dict[str, Any] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": int(self._owner.token_lifetime),
        }
        if form.get("scope"):
            body["scope"] = form["scope"]
        return json_response(200, body, {"Cache-Control": "no-store"})

    def _take_token_slot(self, key: str, now: datetime) -> float | None:
        limit = self._owner.token_rate_limit
        assert limit is not None
        capacity = limit.per_minute + limit.burst
        rate = limit.per_minute / 60.0
        level, stamp = self._buckets.get(key, (float(capacity), now))
        level = min(capacity, level + (now - stamp).total_seconds() * rate)
        if level < 1.0:
            self._buckets[key] = (level, now)
            return (1.0 - level) / rate
        self._buckets[key] = (level - 1.0, now)
        return None

    def authorized(self, headers: Mapping[str, str]) -> bool:
        value = headers.get("authorization", "")
        if not value.lower().startswith("bearer "):
            return False
        token = value[7:].strip()
        with self._lock:
            entry = self._tokens.get(token)
            return entry is not None and entry[1] > self._owner.clock.now()

    def issue(self) -> str:
        """Issue a bearer token directly."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = (
                self._owner.client_id,
                self._owner.clock.now() + timedelta(seconds=self._owner.token_lifetime),
            )
        return token
