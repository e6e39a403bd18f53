# GENERATED FILE: do not edit. The blocking twin of
# src/norce_integration/_async_http.py, made by `python scripts/gen_sync.py`.
# Edit the async source and run that command again.
"""The HTTP shell around httpx (the asyncio source of the generated :class:`HTTP`).

Decisions are pure and live elsewhere (:mod:`._http_core`, :mod:`._retry`); this class
only sends, sleeps and remembers the token. Responsibilities:

* OAuth2 client credentials (reference §1.2): form POST to the token endpoint with
  ``scope`` = environment; the token is cached until shortly before ``expires_in``; one
  refresh at a time (a lock across tasks, or threads in the blocking twin); a 401 on an
  API call triggers one refresh and one retry.
* Retries per :class:`~norce_integration.RetryPolicy` with one predicate
  (``should_retry``), ``Retry-After`` honoured up to a cap, and an overall deadline that
  also shrinks each attempt's timeout, so timeouts never stack.
* Import POSTs are retried only when no second job can appear by surprise: the
  connection was never established, or Norce answered 429/503. Any other failure after
  the body may have been sent raises :class:`AmbiguousImportError`.
* Request bodies are streamed from iterables. They are recorded to a spooled temporary
  file as they are sent, so a retry can replay them even when the source is a one-shot
  generator; memory stays bounded.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

import attrs
import httpx
import tenacity

from ._concurrency import Lock
from ._exceptions import APIStatusError, AuthenticationError
from ._http_core import (
    Token,
    ambiguous_status,
    attempt_timeout,
    other_http_error,
    parse_json,
    request_headers,
    ssl_context,
    status_error,
    stop_condition,
    token_error,
    token_form,
    token_from,
    transport_error,
    wait_for,
)
from ._retry import RequestKind, should_retry
from ._settings import NorceSettings


__all__ = ["HTTP"]

log = logging.getLogger("norce_integration._http")
_SPOOL_MEMORY = 1024 * 1024


class _Spool:
    """Records a streamed body as it is sent so a retry can replay it."""

    def __init__(self) -> None:
        self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY)  # noqa: SIM115
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.file.seek(0, 2)
        self.file.write(chunk)
        self.size += len(chunk)

    def replay(self) -> Iterator[bytes]:
        pos = 0
        while pos < self.size:
            self.file.seek(pos)
            chunk = self.file.read(min(65536, self.size - pos))
            if not chunk:
                return
            pos += len(chunk)
            yield chunk


class _ReplayableBody:
    """A body from a (possibly one-shot) iterable that can be sent more than once."""

    def __init__(self, source: Iterable[bytes]) -> None:
        self._source = iter(source)
        self._spool = _Spool()

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._spool.replay():
            yield chunk
        # A failed attempt may have stopped midway: go on where the source was left.
        for chunk in self._source:
            if chunk:
                self._spool.write(chunk)
                yield chunk

    def close(self) -> None:
        self._spool.file.close()


class HTTP:
    """The HTTP shell. Owns its ``httpx.Client`` unless one is injected."""

    def __init__(
        self,
        settings: NorceSettings,
        *,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self._owns_client = client is None
        self._client = client or httpx.Client(
            transport=transport, follow_redirects=True, verify=ssl_context()
        )
        self._token = Token()
        self._lock = Lock()

    def close(self) -> None:
        """Close the underlying client if this shell created it."""
        if self._owns_client:
            self._client.close()

    def token(self, *, force: bool = False, seen_generation: int | None = None) -> Token:
        """A valid token, fetching one if needed (one fetch at a time).

        Raises:
            AuthenticationError: the token endpoint refused the credentials.
            APIError: the token endpoint could not be reached.
        """
        clock = self.settings.retry.clock
        with self._lock:
            stale = seen_generation is not None and seen_generation == self._token.generation
            if self._token.valid(clock()) and not (force and stale):
                return attrs.evolve(self._token)
            url = self.settings.token_endpoint
            try:
                response = self._send(
                    "POST", url, kind="token", token=None, data=token_form(self.settings)
                )
            except APIStatusError as exc:
                raise token_error(self.settings, exc) from None
            value, expires = token_from(response, clock(), url=url)
            self._token = Token(value, expires, self._token.generation + 1)
            log.debug("fetched a new access token (generation %d)", self._token.generation)
            return attrs.evolve(self._token)

    def request(
        self,
        method: str,
        url: str,
        *,
        kind: RequestKind = "read",
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | Iterable[bytes] | None = None,
    ) -> httpx.Response:
        """Send an authenticated request with retries; return the 2xx response.

        Raises:
            APIStatusError: a non-2xx answer (subclass per status).
            APIConnectionError: the transport failed and retries ran out.
            AmbiguousImportError: an import may have reached Norce; not retried.
        """
        body = content if isinstance(content, bytes | None) else _ReplayableBody(content)
        try:
            token = self.token()
            call: dict[str, Any] = {"kind": kind, "params": params, "headers": headers}
            try:
                return self._send(method, url, token=token.value, content=body, **call)
            except AuthenticationError:
                # The token may have been revoked or expired early: refresh once, retry once.
                token = self.token(force=True, seen_generation=token.generation)
                return self._send(method, url, token=token.value, content=body, **call)
        finally:
            if isinstance(body, _ReplayableBody):
                body.close()

    def json(self, response: httpx.Response) -> Any:
        """Parse a JSON response body (floats → ``Decimal``)."""
        return parse_json(response)

    def _send(
        self,
        method: str,
        url: str,
        *,
        kind: RequestKind,
        token: str | None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        content: _ReplayableBody | bytes | None = None,
        data: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        policy = self.settings.retry
        started = policy.clock()
        retrying = tenacity.Retrying(
            stop=stop_condition(self.settings, started),
            wait=wait_for(self.settings),
            retry=tenacity.retry_if_exception(lambda e: should_retry(e, kind)),
            sleep=policy.sleep,
            before_sleep=_log_retry,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                request = self._client.build_request(
                    method,
                    url,
                    params=params,
                    headers=request_headers(token, headers),
                    content=iter(content) if isinstance(content, _ReplayableBody) else content,
                    data=data,
                    timeout=attempt_timeout(self.settings, policy.remaining(started)),
                )
                try:
                    response = self._client.send(request)
                except httpx.TransportError as exc:
                    raise transport_error(exc, method=method, url=url, kind=kind) from exc
                except httpx.HTTPError as exc:
                    raise other_http_error(exc, method=method, url=url, kind=kind) from exc
                if response.status_code >= 400:
                    raise ambiguous_status(status_error(response, method=method, url=url), kind)
                return response
        raise AssertionError("unreachable")  # pragma: no cover


def _log_retry(state: tenacity.RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning(
        "retrying after attempt %d failed: %s (next in %.2fs)",
        state.attempt_number,
        exc,
        state.upcoming_sleep or 0.0,
    )
