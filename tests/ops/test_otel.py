"""Optional OpenTelemetry spans: off by default, secret-named attributes never attached."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from norce_integration.ops import disable_tracing, enable_tracing, span, tracing_enabled


class FakeTracer:
    def __init__(self) -> None:
        self.spans: list[tuple[str, dict[str, Any]]] = []

    @contextlib.contextmanager
    def start_as_current_span(self, name: str, attributes: dict[str, Any]) -> Iterator[str]:
        self.spans.append((name, attributes))
        yield name


class FakeProvider:
    def __init__(self) -> None:
        self.tracer = FakeTracer()

    def get_tracer(self, *args: Any, **kwargs: Any) -> FakeTracer:
        return self.tracer


@pytest.fixture(autouse=True)
def _off() -> Iterator[None]:
    yield
    disable_tracing()


def test_off_by_default() -> None:
    assert not tracing_enabled()
    with span("submit", kind="products") as current:
        assert current is None


def test_spans_on_a_provider_without_secrets() -> None:
    pytest.importorskip("opentelemetry.trace")
    provider = FakeProvider()
    enable_tracing(provider)
    assert tracing_enabled()
    with span(
        "submit", kind="products", job_id=7, api_key="k", client_secret="s", note=None
    ) as current:
        assert current == "norce.submit"
    assert provider.tracer.spans == [("norce.submit", {"kind": "products", "job_id": 7})]
