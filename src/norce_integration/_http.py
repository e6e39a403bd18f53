"""The HTTP core: one sync and one async shell around httpx.

Both shells share the pure parts (status → error mapping, retry decisions, backoff,
token expiry) and differ only in how they send and sleep. Responsibilities:

* OAuth2 client credentials (reference §1.2): form POST to the token endpoint with
  ``scope`` = environment; the token is cached until shortly before ``expires_in``; one
  refresh at a time (a lock across threads, an ``asyncio.Lock`` across tasks); a 401 on
  an API call triggers one refresh and one retry.
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

import asyncio
import json
import logging
import tempfile
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import IO, Any, TypeAlias

import attrs
import httpx
import tenacity

from ._exceptions import (
    AmbiguousImportError,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    ConfigurationError,
    RateLimitError,
    ResponseValidationError,
    ServerError,
    ServiceUnavailableError,
    error_for_status,
)
from ._retry import RequestKind, parse_retry_after, should_retry
from ._settings import NorceSettings


__all__ = ["AsyncHTTP", "Content", "SyncHTTP"]

log = logging.getLogger(__name__)

Content: TypeAlias = bytes | Iterable[bytes] | AsyncIterable[bytes] | None
_SPOOL_MEMORY = 1024 * 1024
_USER_AGENT = "norce-integration/0.1"


# ---------------------------------------------------------------- pure helpers


def _error_message(response: httpx.Response, text: str) -> str:
    """A short human message: the OData/OAuth error text when there is one."""
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return str(err["message"])
        if isinstance(err, str):
            desc = data.get("error_description")
            return f"{err}: {desc}" if isinstance(desc, str) else err
        for key in ("Message", "message", "Description", "title"):
            if isinstance(data.get(key), str):
                return str(data[key])
    return response.reason_phrase or "request failed"


def status_error(response: httpx.Response, *, method: str, url: str) -> APIStatusError:
    """Map a non-2xx response to its typed error (pure; shared by both shells)."""
    try:
        text = response.text
    except (httpx.HTTPError, UnicodeDecodeError, RuntimeError):
        text = ""
    cls = error_for_status(response.status_code)
    kwargs: dict[str, Any] = {
        "method": method,
        "url": url,
        "status": response.status_code,
        "body": text,
    }
    message = _error_message(response, text)
    if cls is RateLimitError:
        return RateLimitError(
            message, retry_after=parse_retry_after(response.headers.get("Retry-After")), **kwargs
        )
    return cls(message, **kwargs)


def transport_error(
    exc: httpx.TransportError, *, method: str, url: str, kind: RequestKind
) -> APIError:
    """Wrap an httpx transport error; import POSTs that may have reached Norce are ambiguous."""
    never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    if kind == "import" and not never_sent:
        return AmbiguousImportError(
            f"the connection failed after the import was sent ({type(exc).__name__})",
            method=method,
            url=url,
        )
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"timed out ({type(exc).__name__})", method=method, url=url)
    return APIConnectionError(f"connection failed ({type(exc).__name__})", method=method, url=url)


def other_http_error(exc: httpx.HTTPError, *, method: str, url: str, kind: RequestKind) -> APIError:
    """Wrap the rest of httpx's errors (decoding, redirects, streams): never retried."""
    if kind == "import":
        return AmbiguousImportError(
            f"the import response could not be read ({type(exc).__name__})",
            method=method,
            url=url,
        )
    return APIError(
        f"the response could not be read ({type(exc).__name__})", method=method, url=url
    )


def ambiguous_status(exc: APIStatusError, kind: RequestKind) -> APIError:
    """An import POST answered 500/502/504 may still have created a job."""
    if (
        kind == "import"
        and isinstance(exc, ServerError)
        and not isinstance(exc, ServiceUnavailableError)
    ):
        err = AmbiguousImportError(
            f"Norce answered HTTP {exc.status} to the import",
            method=exc.method,
            url=exc.url,
            status=exc.status,
        )
        err.__cause__ = exc
        return err
    return exc


def parse_json(response: httpx.Response, *, method: str = "", url: str = "") -> Any:
    """Parse a JSON body; floats become ``Decimal`` so money stays exact."""
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError as exc:
        raise ResponseValidationError(
            "the response is not valid JSON",
            errors=[str(exc)],
            body=response.text[:500],
            method=method or response.request.method,
            url=url or str(response.request.url),
        ) from exc


@attrs.define
class _Token:
    value: str | None = attrs.field(default=None, repr=False)
    expires_at: float = 0.0
    generation: int = 0

    def valid(self, now: float) -> bool:
        return self.value is not None and now < self.expires_at


def _token_from(response: httpx.Response, now: float, *, url: str) -> tuple[str, float]:
    data = parse_json(response, method="POST", url=url)
    if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
        raise ResponseValidationError(
            "the token response has no access_token", errors=["$.access_token"], url=url
        )
    lifetime = data.get("expires_in", 3600)
    try:
        seconds = float(lifetime)
    except (TypeError, ValueError):
        seconds = 3600.0
    # Refresh a little early: 60 s or 10 % of the lifetime, whichever is smaller.
    skew = min(60.0, seconds * 0.1)
    return str(data["access_token"]), now + max(0.0, seconds - skew)


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

    def close(self) -> None:
        self.file.close()


class _ReplayableBody:
    """A body from a (possibly one-shot) iterable that can be sent more than once."""

    def __init__(self, source: Iterable[bytes]) -> None:
        self._source = iter(source)
        self._spool = _Spool()
        self._exhausted = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self._spool.replay()
        while not self._exhausted:
            try:
                chunk = next(self._source)
            except StopIteration:
                self._exhausted = True
                return
            if chunk:
                self._spool.write(chunk)
                yield chunk

    def close(self) -> None:
        self._spool.close()


class _AsyncReplayableBody:
    """Async twin of :class:`_ReplayableBody`."""

    def __init__(self, source: AsyncIterable[bytes] | Iterable[bytes]) -> None:
        self._source: AsyncIterator[bytes] | Iterator[bytes]
        if isinstance(source, AsyncIterable):
            self._source = aiter(source)
        else:
            self._source = iter(source)
        self._spool = _Spool()
        self._exhausted = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._spool.replay():
            yield chunk
        while not self._exhausted:
            try:
                if isinstance(self._source, AsyncIterator):
                    chunk = await anext(self._source)
                else:
                    chunk = next(self._source)
            except (StopIteration, StopAsyncIteration):
                self._exhausted = True
                return
            if chunk:
                self._spool.write(chunk)
                yield chunk

    def close(self) -> None:
        self._spool.close()


def _retry_after(exc: BaseException) -> float | None:
    return exc.retry_after if isinstance(exc, RateLimitError) else None


def _timeout(settings: NorceSettings, remaining: float) -> httpx.Timeout:
    read = max(0.001, min(settings.timeout, remaining))
    return httpx.Timeout(read, connect=max(0.001, min(settings.connect_timeout, remaining)))


class _Base:
    """State and pure decisions shared by both shells."""

    settings: NorceSettings

    def _stop(self, started: float) -> tenacity.stop.stop_base:
        policy = self.settings.retry

        def out_of_time(state: tenacity.RetryCallState) -> bool:
            upcoming = float(state.upcoming_sleep or 0.0)
            return policy.remaining(started) - upcoming <= 0

        return tenacity.stop_after_attempt(policy.max_attempts) | _CallableStop(out_of_time)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return self.settings.retry.backoff(state.attempt_number, _retry_after(exc) if exc else None)

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        log.warning(
            "retrying after attempt %d failed: %s (next in %.2fs)",
            state.attempt_number,
            exc,
            state.upcoming_sleep or 0.0,
        )

    def _headers(self, token: str, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        headers["User-Agent"] = _USER_AGENT
        if extra:
            headers.update(extra)
        return headers

    def _token_form(self) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_id": self.settings.client_id,
            "client_secret": self.settings.client_secret,
            "scope": self.settings.scope,
        }

    def _check_token_error(self, exc: APIStatusError) -> APIError:
        if exc.status in (400, 401, 403):
            err = AuthenticationError(
                "the token endpoint rejected the client credentials "
                f"(client_id={self.settings.client_id!r}, scope={self.settings.scope!r})",
                method="POST",
                url=self.settings.token_endpoint,
                status=exc.status,
                body=exc.body_excerpt,
            )
            err.__cause__ = None
            return err
        return exc


class _CallableStop(tenacity.stop.stop_base):
    """A tenacity stop condition from a function (the deadline check needs a closure)."""

    def __init__(self, fn: Callable[[tenacity.RetryCallState], bool]) -> None:
        self.fn = fn

    def __call__(self, retry_state: tenacity.RetryCallState) -> bool:
        return self.fn(retry_state)


class SyncHTTP(_Base):
    """Blocking shell. Owns its ``httpx.Client`` unless one is injected."""

    def __init__(
        self,
        settings: NorceSettings,
        *,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self._owns_client = client is None
        self._client = client or httpx.Client(transport=transport, follow_redirects=True)
        self._token = _Token()
        self._lock = threading.Lock()

    def close(self) -> None:
        """Close the underlying client if this shell created it."""
        if self._owns_client:
            self._client.close()

    # --- token

    def token(self, *, force: bool = False, seen_generation: int | None = None) -> _Token:
        """A valid token, fetching one if needed (one fetch at a time across threads)."""
        clock = self.settings.retry.clock
        with self._lock:
            stale = seen_generation is not None and seen_generation == self._token.generation
            if self._token.valid(clock()) and not (force and stale):
                return attrs.evolve(self._token)
            url = self.settings.token_endpoint
            try:
                response = self._send_with_retries(
                    "POST", url, kind="token", token=None, data=self._token_form()
                )
            except APIStatusError as exc:
                raise self._check_token_error(exc) from None
            value, expires = _token_from(response, clock(), url=url)
            self._token = _Token(value, expires, self._token.generation + 1)
            log.debug("fetched a new access token (generation %d)", self._token.generation)
            return attrs.evolve(self._token)

    # --- requests

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
        body: _ReplayableBody | bytes | None
        if isinstance(content, bytes) or content is None:
            body = content
        else:
            body = _ReplayableBody(content)
        try:
            token = self.token()
            try:
                return self._send_with_retries(
                    method,
                    url,
                    kind=kind,
                    token=token.value,
                    params=params,
                    headers=headers,
                    content=body,
                )
            except AuthenticationError:
                # The token may have been revoked or expired early: refresh once, retry once.
                token = self.token(force=True, seen_generation=token.generation)
                return self._send_with_retries(
                    method,
                    url,
                    kind=kind,
                    token=token.value,
                    params=params,
                    headers=headers,
                    content=body,
                )
        finally:
            if isinstance(body, _ReplayableBody):
                body.close()

    def json(self, response: httpx.Response) -> Any:
        """Parse a JSON response body (floats → ``Decimal``)."""
        return parse_json(response)

    def _send_with_retries(
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
            stop=self._stop(started),
            wait=self._wait,
            retry=tenacity.retry_if_exception(lambda e: should_retry(e, kind)),
            sleep=policy.sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                request = self._client.build_request(
                    method,
                    url,
                    params=params,
                    headers=self._headers(token, headers) if token else {"User-Agent": _USER_AGENT},
                    content=iter(content) if isinstance(content, _ReplayableBody) else content,
                    data=data,
                    timeout=_timeout(self.settings, policy.remaining(started)),
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


class AsyncHTTP(_Base):
    """Asyncio shell. Owns its ``httpx.AsyncClient`` unless one is injected."""

    def __init__(
        self,
        settings: NorceSettings,
        *,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(transport=transport, follow_redirects=True)
        self._token = _Token()
        self._lock: asyncio.Lock | None = None

    async def aclose(self) -> None:
        """Close the underlying client if this shell created it."""
        if self._owns_client:
            await self._client.aclose()

    async def token(self, *, force: bool = False, seen_generation: int | None = None) -> _Token:
        """A valid token, fetching one if needed (one fetch at a time across tasks)."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        clock = self.settings.retry.clock
        async with self._lock:
            stale = seen_generation is not None and seen_generation == self._token.generation
            if self._token.valid(clock()) and not (force and stale):
                return attrs.evolve(self._token)
            url = self.settings.token_endpoint
            try:
                response = await self._send_with_retries(
                    "POST", url, kind="token", token=None, data=self._token_form()
                )
            except APIStatusError as exc:
                raise self._check_token_error(exc) from None
            value, expires = _token_from(response, clock(), url=url)
            self._token = _Token(value, expires, self._token.generation + 1)
            log.debug("fetched a new access token (generation %d)", self._token.generation)
            return attrs.evolve(self._token)

    async def request(
        self,
        method: str,
        url: str,
        *,
        kind: RequestKind = "read",
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | Iterable[bytes] | AsyncIterable[bytes] | None = None,
    ) -> httpx.Response:
        """Send an authenticated request with retries; return the 2xx response.

        Raises:
            APIStatusError: a non-2xx answer (subclass per status).
            APIConnectionError: the transport failed and retries ran out.
            AmbiguousImportError: an import may have reached Norce; not retried.
        """
        body: _AsyncReplayableBody | bytes | None
        if isinstance(content, bytes) or content is None:
            body = content
        else:
            body = _AsyncReplayableBody(content)
        try:
            token = await self.token()
            try:
                return await self._send_with_retries(
                    method,
                    url,
                    kind=kind,
                    token=token.value,
                    params=params,
                    headers=headers,
                    content=body,
                )
            except AuthenticationError:
                token = await self.token(force=True, seen_generation=token.generation)
                return await self._send_with_retries(
                    method,
                    url,
                    kind=kind,
                    token=token.value,
                    params=params,
                    headers=headers,
                    content=body,
                )
        finally:
            if isinstance(body, _AsyncReplayableBody):
                body.close()

    def json(self, response: httpx.Response) -> Any:
        """Parse a JSON response body (floats → ``Decimal``)."""
        return parse_json(response)

    async def _send_with_retries(
        self,
        method: str,
        url: str,
        *,
        kind: RequestKind,
        token: str | None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        content: _AsyncReplayableBody | bytes | None = None,
        data: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        policy = self.settings.retry
        started = policy.clock()
        retrying = tenacity.AsyncRetrying(
            stop=self._stop(started),
            wait=self._wait,
            retry=tenacity.retry_if_exception(lambda e: should_retry(e, kind)),
            sleep=policy.async_sleep or asyncio.sleep,
            before_sleep=self._log_retry,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                request = self._client.build_request(
                    method,
                    url,
                    params=params,
                    headers=self._headers(token, headers) if token else {"User-Agent": _USER_AGENT},
                    content=aiter(content)
                    if isinstance(content, _AsyncReplayableBody)
                    else content,
                    data=data,
                    timeout=_timeout(self.settings, policy.remaining(started)),
                )
                try:
                    response = await self._client.send(request)
                except httpx.TransportError as exc:
                    raise transport_error(exc, method=method, url=url, kind=kind) from exc
                except httpx.HTTPError as exc:
                    raise other_http_error(exc, method=method, url=url, kind=kind) from exc
                if response.status_code >= 400:
                    raise ambiguous_status(status_error(response, method=method, url=url), kind)
                return response
        raise AssertionError("unreachable")  # pragma: no cover


def _is_stream(content: object) -> bool:
    return (
        content is not None
        and not isinstance(content, bytes | bytearray | str)
        and isinstance(content, Iterable)
    )


def require_application_id(settings: NorceSettings) -> int:
    """The application id Query needs; a clear error when it is not configured."""
    if settings.application_id is None:
        raise ConfigurationError(
            "is required for Query calls (sent as the application-id header)",
            setting="application_id",
        )
    return int(settings.application_id)
