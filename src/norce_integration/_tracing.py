"""Optional OpenTelemetry spans (``pip install 'norce-integration[otel]'``), off by default.

:func:`span` is a no-op context manager until :func:`enable_tracing` is called; then it
opens a span on the ``norce_integration`` tracer of ``opentelemetry-api``. The API alone
records nothing: the application installs an SDK and an exporter, as OpenTelemetry
intends for libraries. Attributes named like a secret are never attached.

The patterns open ``norce.submit`` (Connect import POSTs, in the job tracker),
``norce.track`` (waiting for a job), ``norce.lookup`` (the event handler's batched Query
lookups) and ``norce.deliver`` (each batch sent to a target). Public names:
:mod:`norce_integration.ops` (``enable_tracing``, ``disable_tracing``, ``span``).
"""

from __future__ import annotations

import contextlib
import importlib
import re
from collections.abc import Iterator
from typing import Any


__all__ = ["disable_tracing", "enable_tracing", "is_secret_name", "span", "tracing_enabled"]

_SECRET_NAME = re.compile(
    r"pass(word|wd|phrase)?|secret|token|api[-_]?key|auth(orization)?|credential|"
    r"private[-_]?key|signature|cookie|session|bearer|client[-_]?secret|pwd",
    re.IGNORECASE,
)


def is_secret_name(name: str) -> bool:
    """Whether a field named ``name`` probably holds a secret."""
    return bool(_SECRET_NAME.search(name))


_state: dict[str, Any] = {"tracer": None}


def enable_tracing(tracer_provider: Any | None = None) -> None:
    """Open spans from now on (on ``tracer_provider``, else the global provider).

    Raises:
        ImportError: ``opentelemetry-api`` is not installed.
    """
    try:
        trace = importlib.import_module("opentelemetry.trace")
    except ImportError:
        msg = "tracing needs opentelemetry-api: pip install 'norce-integration[otel]'"
        raise ImportError(msg) from None
    _state["tracer"] = trace.get_tracer("norce_integration", tracer_provider=tracer_provider)


def disable_tracing() -> None:
    """Stop opening spans (the default)."""
    _state["tracer"] = None


def tracing_enabled() -> bool:
    """Whether :func:`span` opens real spans."""
    return _state["tracer"] is not None


@contextlib.contextmanager
def span(name: str, **attributes: str | int | float | bool | None) -> Iterator[Any | None]:
    """A span named ``norce.<name>`` (``submit``, ``track``, ``lookup``, ``deliver``, ...).

    Yields the span, or ``None`` while tracing is off. ``None`` attributes and attributes
    named like a secret are left out. An exception leaving the block is recorded on the
    span (OpenTelemetry's default) and re-raised.
    """
    tracer = _state["tracer"]
    if tracer is None:
        yield None
        return
    clean = {
        key: value
        for key, value in attributes.items()
        if value is not None and not is_secret_name(key)
    }
    with tracer.start_as_current_span(f"norce.{name}", attributes=clean) as current:
        yield current
