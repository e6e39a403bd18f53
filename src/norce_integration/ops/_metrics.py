"""``/metrics``: the store's figures in the Prometheus text format, read at scrape time.

The app reads the store when Prometheus scrapes and hands the reading to
:class:`StoreCollector`, a custom ``prometheus_client`` collector that turns it into
metric families. Nothing is counted in process memory, so every console replica and
every restart reports the same numbers: the store's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Final

import attrs
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ..stores import DeadLetter, TrackedJob
from ._core import lead_time


__all__ = [
    "CONTENT_TYPE",
    "LEAD_TIME_BUCKETS",
    "MetricsReading",
    "StoreCollector",
    "render",
]

CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"
LEAD_TIME_BUCKETS: Final = (5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0)
"""Seconds, submit → finish (Connect jobs take seconds to hours)."""
WEBHOOK_PREFIX: Final = "webhook"
"""Dead letters of the event handler have sources ``webhook:failed``, ``webhook:...``."""


@attrs.frozen(kw_only=True)
class MetricsReading:
    """What one scrape read from the store.

    Attributes:
        jobs: every tracked job (without history).
        inbox_counts: inbox items per status (``None``: the store did not say).
        dead_letters: every dead letter.
    """

    jobs: Sequence[TrackedJob]
    inbox_counts: Mapping[str, int] | None
    dead_letters: Sequence[DeadLetter]


def _histogram(values: Iterable[float]) -> tuple[list[tuple[str, float]], float]:
    counts = [0] * (len(LEAD_TIME_BUCKETS) + 1)
    total = 0.0
    for value in values:
        total += value
        for index, bound in enumerate(LEAD_TIME_BUCKETS):
            if value <= bound:
                counts[index] += 1
                break
        else:
            counts[-1] += 1
    buckets: list[tuple[str, float]] = []
    running = 0
    for bound, count in zip((*LEAD_TIME_BUCKETS, float("inf")), counts, strict=True):
        running += count
        buckets.append(("+Inf" if bound == float("inf") else repr(bound), float(running)))
    return buckets, total


class StoreCollector(Collector):
    """Yields the metric families of one :class:`MetricsReading`.

    Families (all prefixed ``norce_``): ``jobs`` (gauge, by kind, mode, status),
    ``job_lead_time_seconds`` (histogram of finished jobs, by kind and mode),
    ``import_items`` (counter: items sent in tracked jobs, by kind and mode),
    ``import_failed_records`` (counter: ``JobDto.Fail`` summed, by kind),
    ``inbox_items`` (gauge, by status), ``dead_letters`` (gauge, by source),
    ``events_processed`` / ``events_failed`` (gauges: done inbox items still kept,
    webhook dead letters).
    """

    def __init__(self, reading: MetricsReading) -> None:
        self.reading = reading

    def collect(self) -> Iterator[Metric]:
        """The families, computed from the reading."""
        jobs = self.reading.jobs
        by_status = GaugeMetricFamily(
            "norce_jobs", "Tracked Connect jobs in the store.", labels=["kind", "mode", "status"]
        )
        modes = Counter((j.kind, "full" if j.full else "delta", j.status.value) for j in jobs)
        for (kind, mode, status), count in sorted(modes.items()):
            by_status.add_metric([kind, mode, status], count)
        yield by_status

        lead = HistogramMetricFamily(
            "norce_job_lead_time_seconds",
            "Seconds from submission to the end of finished Connect jobs.",
            labels=["kind", "mode"],
        )
        samples: dict[tuple[str, str], list[float]] = {}
        for job in jobs:
            seconds = lead_time(job)
            if seconds is not None:
                samples.setdefault((job.kind, "full" if job.full else "delta"), []).append(seconds)
        for (kind, mode), values in sorted(samples.items()):
            buckets, total = _histogram(values)
            lead.add_metric([kind, mode], buckets, total)
        yield lead

        items = CounterMetricFamily(
            "norce_import_items", "Items sent in tracked import jobs.", labels=["kind", "mode"]
        )
        failed_records = CounterMetricFamily(
            "norce_import_failed_records",
            "Records Norce reported as failed (JobDto.Fail), summed over tracked jobs.",
            labels=["kind"],
        )
        sent: Counter[tuple[str, str]] = Counter()
        fails: Counter[str] = Counter()
        for job in jobs:
            sent[(job.kind, "full" if job.full else "delta")] += job.item_count
            fails[job.kind] += job.fail or 0
        for (kind, mode), count in sorted(sent.items()):
            items.add_metric([kind, mode], count)
        for kind, count in sorted(fails.items()):
            failed_records.add_metric([kind], count)
        yield items
        yield failed_records

        if self.reading.inbox_counts is not None:
            inbox = GaugeMetricFamily(
                "norce_inbox_items", "Webhook inbox items by status.", labels=["status"]
            )
            for status, count in sorted(self.reading.inbox_counts.items()):
                inbox.add_metric([status], count)
            yield inbox
            processed = GaugeMetricFamily(
                "norce_events_processed",
                "Events processed (done inbox items still kept by the store).",
            )
            processed.add_metric([], self.reading.inbox_counts.get("done", 0))
            yield processed

        letters = GaugeMetricFamily(
            "norce_dead_letters", "Dead letters waiting for an operator.", labels=["source"]
        )
        by_source = Counter(letter.source for letter in self.reading.dead_letters)
        for source, count in sorted(by_source.items()):
            letters.add_metric([source], count)
        yield letters
        failed = GaugeMetricFamily(
            "norce_events_failed", "Events set aside as dead letters (webhook sources)."
        )
        failed.add_metric(
            [],
            sum(count for source, count in by_source.items() if source.startswith(WEBHOOK_PREFIX)),
        )
        yield failed


def render(reading: MetricsReading) -> bytes:
    """The Prometheus text exposition of ``reading``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(reading))
    return generate_latest(registry)
