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


def test_the_patterns_open_submit_track_lookup_and_deliver_spans(tmp_path: Any) -> None:
    """Spans around the four steps the issue names, on a real run against the emulator."""
    pytest.importorskip("opentelemetry.trace")
    from norce_integration.connect import models as m
    from norce_integration.event import dedup_key
    from norce_integration.patterns import JobTracker, PollSchedule
    from norce_integration.patterns.events._inbox import new_inbox_key
    from tests.patterns._event_support import Env, Target, sku_body

    provider = FakeProvider()
    enable_tracing(provider)
    env = Env(str(tmp_path / "state.sqlite"))
    try:
        fast = PollSchedule(first_delay=0.01, interval=0.01, factor=1.0, jitter=0.0)
        tracker = JobTracker(env.norce, env.store, schedule=fast)
        header = m.ProductHeader(
            account_id=1,
            full_file=False,
            product_fields_that_are_set=[m.ProductField.Variants],
            variant_fields_that_are_set=[m.VariantField.Skus],
            sku_fields_that_are_set=[m.SkuField.Status, m.SkuField.Type],
        )
        item = m.Product(
            manufacturer_code="ACME",
            variants=[
                m.Variant(
                    manufacturer_part_no="M-1",
                    skus=[
                        m.Sku(part_no="P1", status=m.SkuStatus.Active, type=m.SkuType.ErpStandard)
                    ],
                )
            ],
        )
        job = tracker.submit("products", [item], header)
        env.emulator.advance(30)
        tracker.wait(job.job_id)
        handler = env.handler()
        target = Target()
        handler.add_target(target)
        body = sku_body("P1")
        dedup = dedup_key("SkuChangedNotification", body)
        env.store.inbox_write(
            [(dedup, new_inbox_key(dedup), "SkuChangedNotification", body)], window=0
        )
        assert handler.run_once().sent == 1
    finally:
        env.close()
    names = [name for name, _ in provider.tracer.spans]
    assert names == ["norce.submit", "norce.track", "norce.lookup", "norce.deliver"]
    attributes = dict(provider.tracer.spans)
    assert attributes["norce.track"] == {"job_id": job.job_id}
    assert attributes["norce.deliver"] == {"target": "search", "items": 1}
