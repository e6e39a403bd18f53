"""norce-integration: the Python SDK for Norce Commerce integrations.

Typed Connect, Query and Event clients (:class:`Norce`, :class:`AsyncNorce`), the
integration patterns Norce publishes, and a faithful emulator in
:mod:`norce_integration.testing`.
"""

from __future__ import annotations

from ._async_client import AsyncNorce
from ._exceptions import (
    AdapterError,
    AmbiguousImportError,
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    EventError,
    EventParseError,
    HeaderRuleError,
    ImportJobError,
    ImportJobTimeoutError,
    ImportRefusedError,
    MethodNotAllowedError,
    NorceError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitError,
    ResponseValidationError,
    RunHeldError,
    ServerError,
    ServiceUnavailableError,
    StoreError,
    UnprocessableEntityError,
    WebhookAuthError,
)
from ._retry import RetryPolicy
from ._settings import NorceSettings
from ._sync_client import Norce
from ._types import UNSET
from .patterns import (
    DeltaImport,
    EventHandler,
    FullImport,
    JobTracker,
    SourceAdapter,
    TargetAdapter,
)
from .stores import PostgresStore, SqliteStore


__version__ = "0.1.0.dev0"

__all__ = [
    "UNSET",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AdapterError",
    "AmbiguousImportError",
    "AsyncNorce",
    "AuthenticationError",
    "BadRequestError",
    "ConfigurationError",
    "ConflictError",
    "DeltaImport",
    "EventError",
    "EventHandler",
    "EventParseError",
    "FullImport",
    "HeaderRuleError",
    "ImportJobError",
    "ImportJobTimeoutError",
    "ImportRefusedError",
    "JobTracker",
    "MethodNotAllowedError",
    "Norce",
    "NorceError",
    "NorceSettings",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "PostgresStore",
    "RateLimitError",
    "ResponseValidationError",
    "RetryPolicy",
    "RunHeldError",
    "ServerError",
    "ServiceUnavailableError",
    "SourceAdapter",
    "SqliteStore",
    "StoreError",
    "TargetAdapter",
    "UnprocessableEntityError",
    "WebhookAuthError",
]

# Tracebacks and reprs read ``norce_integration.RateLimitError``, not the private module.
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type) and _obj.__module__.startswith("norce_integration._"):
        _obj.__module__ = __name__
del _name, _obj
