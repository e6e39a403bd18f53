"""Every error the SDK raises, under one root: :class:`NorceError`.

::

    NorceError
    ├── ConfigurationError              a setting is missing or invalid (names the setting)
    ├── APIError                        talking to Norce failed; .method, .url
    │   ├── APIConnectionError          transport failed before a response    [transient]
    │   │   └── APITimeoutError         timed out                             [transient]
    │   ├── AmbiguousImportError        an import POST failed after its body was sent:
    │   │                               a job may exist; never retried automatically
    │   ├── APIStatusError              non-2xx; .status_code, .body_excerpt
    │   │   ├── BadRequestError         400
    │   │   ├── AuthenticationError     401
    │   │   ├── PermissionDeniedError   403
    │   │   ├── NotFoundError           404
    │   │   ├── MethodNotAllowedError   405
    │   │   ├── ConflictError           409
    │   │   ├── PayloadTooLargeError    413
    │   │   ├── UnprocessableEntityError 422
    │   │   ├── RateLimitError          429; .retry_after                     [transient]
    │   │   └── ServerError             5xx                                   [transient*]
    │   │       └── ServiceUnavailableError 503                               [transient]
    │   └── ResponseValidationError     a 2xx body did not match the contract; .errors
    ├── HeaderRuleError                 an X-StormConnect-Header breaks a rule of Norce (§2.4)
    ├── ImportJobError                  a Connect job ended Failed / ValidationFailed; .job_id,
    │   │                               .status, .log (error and warning entries)
    │   └── ImportJobTimeoutError       we stopped waiting; the job may still run (never "failed")
    ├── ImportRefusedError              a safety rule refused an import (shrink guard, ...)
    │   └── RunHeldError                an interrupted run's outcome cannot be proven; the kind
    │                                   is held until `jobs adopt` / `import resolve` (.run_id)
    ├── EventError
    │   ├── EventParseError             a webhook body is malformed; .event_type, .field
    │   └── WebhookAuthError            the static auth header is missing or wrong
    ├── StoreError                      the state store failed or is unreachable
    └── AdapterError                    integrator code raised; .adapter, .operation

``[transient*]``: 500 is retried for GETs only; 502 and 504 for reads, and never for an
import POST whose body was sent, because a second job could be created by surprise.

No message produced here ever contains a credential: URLs are stripped of query strings
that could carry secrets, and bodies are excerpted after redaction of known secret keys.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar


__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AdapterError",
    "AmbiguousImportError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "EventError",
    "EventParseError",
    "HeaderRuleError",
    "ImportJobError",
    "ImportJobTimeoutError",
    "ImportRefusedError",
    "MethodNotAllowedError",
    "NorceError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "ResponseValidationError",
    "RunHeldError",
    "ServerError",
    "ServiceUnavailableError",
    "StoreError",
    "UnprocessableEntityError",
    "WebhookAuthError",
    "error_for_status",
    "redact",
]

_SECRET_PATTERN = re.compile(
    r"(?i)(\"?(?:client_secret|access_token|password|secret|authorization|token)\"?\s*[:=]\s*)"
    r"(\"[^\"]*\"|[^\s&,}]+)"
)
_BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+")
BODY_EXCERPT = 500


def redact(text: str) -> str:
    """Mask anything that looks like a credential in ``text``."""
    text = _BEARER.sub("Bearer ***", text)
    return _SECRET_PATTERN.sub(lambda m: m.group(1) + "***", text)


class NorceError(Exception):
    """Base of every error raised by norce-integration."""


class ConfigurationError(NorceError):
    """A setting is missing or invalid. ``setting`` names it (e.g. ``NORCE_SLUG``)."""

    def __init__(self, message: str, *, setting: str | None = None) -> None:
        self.setting = setting
        super().__init__(f"{setting}: {message}" if setting else message)


class APIError(NorceError):
    """A call to Norce failed. Carries the method and URL (query string removed)."""

    def __init__(self, message: str, *, method: str = "", url: str = "") -> None:
        self.method = method
        self.url = url.split("?", 1)[0]
        where = f"{method} {self.url}".strip()
        super().__init__(redact(f"{message} ({where})" if where else message))


class APIConnectionError(APIError):
    """The transport failed (DNS, refused, reset, TLS) before a response arrived."""


class APITimeoutError(APIConnectionError):
    """The request timed out."""


class AmbiguousImportError(APIError):
    """An import POST failed after its body was (possibly) sent.

    Norce may have created a job. The SDK does not retry, because a retry could
    create a second job; check ``Job/List`` or re-run deliberately. ``status`` is the
    HTTP status when there was one (500, 502, 504), else ``None``; ``__cause__`` is the
    underlying error.
    """

    def __init__(self, message: str, *, status: int | None = None, **kw: Any) -> None:
        self.status = status
        super().__init__(f"{message}; a job may have been created", **kw)


class APIStatusError(APIError):
    """Norce answered with a non-2xx status."""

    status_code: ClassVar[int | None] = None

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        url: str = "",
        status: int,
        body: str = "",
    ) -> None:
        self.status = status
        self.body_excerpt = redact(body[:BODY_EXCERPT])
        detail = f"HTTP {status}: {message}"
        if self.body_excerpt:
            detail += f" - body: {self.body_excerpt}"
        super().__init__(detail, method=method, url=url)


class BadRequestError(APIStatusError):
    """400: Norce rejected the request (header, body or query)."""

    status_code = 400


class AuthenticationError(APIStatusError):
    """401: credentials or token rejected."""

    status_code = 401


class PermissionDeniedError(APIStatusError):
    """403: the credentials lack access to this application or environment."""

    status_code = 403


class NotFoundError(APIStatusError):
    """404: no such entity, set or route."""

    status_code = 404


class MethodNotAllowedError(APIStatusError):
    """405: e.g. a write to the read-only Query API."""

    status_code = 405


class ConflictError(APIStatusError):
    """409."""

    status_code = 409


class PayloadTooLargeError(APIStatusError):
    """413: the body was larger than the server accepts; split the import."""

    status_code = 413


class UnprocessableEntityError(APIStatusError):
    """422."""

    status_code = 422


class RateLimitError(APIStatusError):
    """429: rate limited. ``retry_after`` is the server's hint in seconds, if any."""

    status_code = 429

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class ServerError(APIStatusError):
    """5xx from Norce."""


class ServiceUnavailableError(ServerError):
    """503."""

    status_code = 503


class ResponseValidationError(APIError):
    """A successful response's body did not match the contract.

    ``errors`` lists what was wrong and where (``$.Totals: expected int``).
    """

    def __init__(self, message: str, *, errors: list[str], body: str = "", **kw: Any) -> None:
        self.errors = errors
        self.body_excerpt = redact(body[:BODY_EXCERPT])
        super().__init__(f"{message}: {'; '.join(errors)}", **kw)


class HeaderRuleError(NorceError):
    """An ``X-StormConnect-Header`` breaks one of Norce's rules; ``rule`` names it."""

    def __init__(self, message: str, *, rule: str) -> None:
        self.rule = rule
        super().__init__(f"{rule}: {message}")


class ImportJobError(NorceError):
    """A Connect job finished as Failed or ValidationFailed.

    ``log`` holds the job's warning and error entries (with the imported rows) when
    they could be fetched.
    """

    def __init__(
        self, message: str, *, job_id: int, status: Any = None, log: list[Any] | None = None
    ) -> None:
        self.job_id = job_id
        self.status = status
        self.log = list(log or [])
        super().__init__(f"job {job_id}: {message}")


class ImportJobTimeoutError(ImportJobError):
    """We stopped waiting for a job. It may still be running and may still succeed."""


class ImportRefusedError(NorceError):
    """A safety rule refused to submit an import; ``rule`` names the rule."""

    def __init__(self, message: str, *, rule: str) -> None:
        self.rule = rule
        super().__init__(f"{rule}: {message}")


class RunHeldError(ImportRefusedError):
    """An interrupted import run cannot be proven sent or not sent: every import of its
    kind and account is refused (rule ``held``) until an operator resolves it.

    Attributes:
        run_id: the held run.
        kind: its import kind.
        account_id: its system account.
        source: its source name.
        candidates: Connect jobs that may be the run's (from ``Job/List``).
    """

    def __init__(
        self,
        message: str,
        *,
        run_id: str,
        kind: str,
        account_id: int,
        source: str,
        candidates: tuple[int, ...] = (),
    ) -> None:
        self.run_id = run_id
        self.kind = kind
        self.account_id = account_id
        self.source = source
        self.candidates = candidates
        super().__init__(message, rule="held")


class EventError(NorceError):
    """Base of webhook and event errors."""


class EventParseError(EventError):
    """A webhook body is malformed. Names the event type and field at fault."""

    def __init__(self, message: str, *, event_type: str = "", field: str = "") -> None:
        self.event_type = event_type
        self.field = field
        where = ", ".join(p for p in (event_type, f"field {field}" if field else "") if p)
        super().__init__(f"{message} ({where})" if where else message)


class WebhookAuthError(EventError):
    """The configured static authentication header is missing or wrong."""


class StoreError(NorceError):
    """The state store failed or cannot be reached."""


class AdapterError(NorceError):
    """Integrator code (a source or target adapter) raised; ``__cause__`` is the original."""

    def __init__(self, message: str, *, adapter: str = "", operation: str = "") -> None:
        self.adapter = adapter
        self.operation = operation
        super().__init__(f"{adapter}.{operation}: {message}" if adapter else message)


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    405: MethodNotAllowedError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
    503: ServiceUnavailableError,
}


def error_for_status(status: int) -> type[APIStatusError]:
    """The error class for an HTTP status (pure; shared by the sync and async shells)."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return APIStatusError
