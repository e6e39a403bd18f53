"""The operations console: every job, import, event and dead letter at a glance.

An ASGI app (:func:`create_app`) reading the integration's state store, served by
``norce-integration ops serve`` or mounted in a FastAPI/Starlette app, with ``/metrics``
in the Prometheus format. Needs ``pip install 'norce-integration[ops]'`` (Jinja2 and
prometheus-client).

* :func:`create_app`, :class:`AccessPolicy`, :func:`check_bind`: the app and its
  safety rules (loopback by default; a token or basic auth otherwise; CSRF on actions);
* :class:`ConsoleOptions`, :class:`SourceRef`: alert thresholds and the sources shown;
* :class:`JobActions`, :class:`EventActions`: what re-runs and replays go through
  (``AsyncJobTracker`` and ``AsyncEventHandler`` fit);
* :func:`span`, :func:`enable_tracing`, :func:`disable_tracing`: optional OpenTelemetry
  spans (``pip install 'norce-integration[otel]'``), off by default;
* :func:`redact_payload`, :func:`redact_text`: how the console masks secret-looking
  fields.
"""

from __future__ import annotations

from .._tracing import disable_tracing, enable_tracing, span, tracing_enabled
from ._app import EventActions, JobActions, create_app
from ._core import ConsoleOptions, SourceRef, redact_payload, redact_text
from ._security import AccessPolicy, check_bind, is_loopback


__all__ = [
    "AccessPolicy",
    "ConsoleOptions",
    "EventActions",
    "JobActions",
    "SourceRef",
    "check_bind",
    "create_app",
    "disable_tracing",
    "enable_tracing",
    "is_loopback",
    "redact_payload",
    "redact_text",
    "span",
    "tracing_enabled",
]
