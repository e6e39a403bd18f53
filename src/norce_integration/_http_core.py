"""The pure half of the HTTP core: status → error mapping, JSON and token parsing.

No I/O: these take settings, responses and exceptions that the shell
(:mod:`._async_http`, and its generated twin :mod:`._sync_http`) already has and return
values or errors. Retry decisions and ``Retry-After`` parsing live in :mod:`._retry`.
"""

from __future__ import annotations

import functools
import json
import ssl
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

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
from ._retry import RequestKind, parse_retry_after
from ._settings import NorceSettings


USER_AGENT = "norce-integration/0.1"


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
    """Map a non-2xx response to its typed error (pure)."""
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
class Token:
    """A cached access token; ``generation`` counts fetches."""

    value: str | None = attrs.field(default=None, repr=False)
    expires_at: float = 0.0
    generation: int = 0

    def valid(self, now: float) -> bool:
        return self.value is not None and now < self.expires_at


def token_from(response: httpx.Response, now: float, *, url: str) -> tuple[str, float]:
    """The token and its refresh time from a token-endpoint answer."""
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


def _retry_after(exc: BaseException) -> float | None:
    return exc.retry_after if isinstance(exc, RateLimitError) else None


def attempt_timeout(settings: NorceSettings, remaining: float) -> httpx.Timeout:
    """One attempt's timeouts, shrunk to what is left of the deadline."""
    read = max(0.001, min(settings.timeout, remaining))
    return httpx.Timeout(read, connect=max(0.001, min(settings.connect_timeout, remaining)))


def require_application_id(settings: NorceSettings) -> int:
    """The application id Query needs; a clear error when it is not configured."""
    if settings.application_id is None:
        raise ConfigurationError(
            "is required for Query calls (sent as the application-id header)",
            setting="application_id",
        )
    return int(settings.application_id)


def request_headers(token: str | None, extra: Mapping[str, str] | None) -> dict[str, str]:
    """The headers of an API call (``token``) or of the token request (``None``)."""
    if token is None:
        return {"User-Agent": USER_AGENT}
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    headers["User-Agent"] = USER_AGENT
    if extra:
        headers.update(extra)
    return headers


def token_form(settings: NorceSettings) -> dict[str, str]:
    """The client-credentials form posted to the token endpoint."""
    return {
        "grant_type": "client_credentials",
        "client_id": settings.client_id,
        "client_secret": settings.client_secret,
        "scope": settings.scope,
    }


def token_error(settings: NorceSettings, exc: APIStatusError) -> APIError:
    """A refused token request as :class:`AuthenticationError` (naming no secret)."""
    if exc.status in (400, 401, 403):
        err = AuthenticationError(
            "the token endpoint rejected the client credentials "
            f"(client_id={settings.client_id!r}, scope={settings.scope!r})",
            method="POST",
            url=settings.token_endpoint,
            status=exc.status,
            body=exc.body_excerpt,
        )
        err.__cause__ = None
        return err
    return exc


def stop_condition(
    settings: NorceSettings, started: float
) -> Callable[[tenacity.RetryCallState], bool]:
    """Tenacity's stop: out of attempts, or the next wait would pass the deadline."""
    policy = settings.retry

    def stop(state: tenacity.RetryCallState) -> bool:
        upcoming = float(state.upcoming_sleep or 0.0)
        return (
            state.attempt_number >= policy.max_attempts or policy.remaining(started) - upcoming <= 0
        )

    return stop


def wait_for(settings: NorceSettings) -> Callable[[tenacity.RetryCallState], float]:
    """Tenacity's wait: the policy's backoff, honouring a 429's ``Retry-After``."""

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return settings.retry.backoff(state.attempt_number, _retry_after(exc) if exc else None)

    return wait


@functools.cache
def ssl_context() -> ssl.SSLContext:
    """One TLS context for every client: loading the CA bundle costs ~20 ms each time."""
    return httpx.create_ssl_context()
