"""Where job alerts, results and metrics go: a monitor protocol and an OpenTelemetry hook.

The SDK has no OpenTelemetry dependency. :class:`Meter` is the shape of an OTel
``Meter`` (``create_histogram``, ``create_counter``); pass
``opentelemetry.metrics.get_meter("my-integration")`` or anything alike.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

from ...stores import TrackedStatus
from ._models import AlertKind, JobAlert, JobResult


__all__ = [
    "Counter",
    "Histogram",
    "JobMetrics",
    "JobMonitor",
    "LoggingMonitor",
    "Meter",
]

log = logging.getLogger("norce_integration.patterns.job_tracker")

Attributes = Mapping[str, str | bool | int | float]


@runtime_checkable
class JobMonitor(Protocol):
    """Receives what the tracker sees. Implementations must not block for long.

    An exception raised here is logged and swallowed: monitoring never breaks tracking.
    """

    def on_alert(self, alert: JobAlert) -> None:
        """A job is stalled, slow, or reported an unknown status (not a failure)."""
        ...

    def on_result(self, result: JobResult) -> None:
        """A wait ended: the job finished, or the local wait timed out."""
        ...


class LoggingMonitor:
    """The default monitor: stdlib logging, no handlers installed.

    Alerts are warnings; successes are info; failures are errors listing the first log
    entries; a local timeout is a warning (the job may still succeed).

    Args:
        logger: where to log; ``norce_integration.patterns.job_tracker`` by default.
        max_entries: how many job log entries a failure message repeats.
    """

    def __init__(self, logger: logging.Logger | None = None, *, max_entries: int = 5) -> None:
        self.logger = logger or log
        self.max_entries = max_entries

    def on_alert(self, alert: JobAlert) -> None:
        """Log the alert as a warning."""
        self.logger.warning(
            "job %d (%s) alert %s: %s", alert.job_id, alert.import_kind, alert.kind, alert.message
        )

    def on_result(self, result: JobResult) -> None:
        """Log the outcome at a level matching it."""
        summary = (
            f"job {result.job_id} ({result.kind}{', full' if result.full else ''}) "
            f"{result.status}: totals={result.totals} inserts={result.inserts} "
            f"updates={result.updates} fail={result.fail} polls={result.polls} "
            f"lead_time={_seconds(result.lead_time)}"
        )
        if result.status is TrackedStatus.SUCCEEDED:
            self.logger.info("%s", summary)
        elif result.status is TrackedStatus.TIMED_OUT_LOCALLY:
            self.logger.warning("%s; the job may still be running", summary)
        elif result.status.is_failure:
            lines = [
                f"  [{e.severity.name}] {e.message}"
                + (f" row={e.imported_row}" if e.imported_row else "")
                for e in result.log[: self.max_entries]
            ]
            more = len(result.log) - self.max_entries
            if more > 0:
                lines.append(f"  ... {more} more")
            self.logger.error("%s\n%s", summary, "\n".join(lines) or "  (no log entries)")
        else:
            self.logger.info("%s", summary)


def _seconds(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f}s"


class Histogram(Protocol):
    """The part of an OTel ``Histogram`` the tracker uses."""

    def record(self, amount: float, attributes: Attributes | None = None) -> None:
        """Record one value."""
        ...


class Counter(Protocol):
    """The part of an OTel ``Counter`` the tracker uses."""

    def add(self, amount: int, attributes: Attributes | None = None) -> None:
        """Add a non-negative amount."""
        ...


class Meter(Protocol):
    """The part of an OTel ``Meter`` the tracker uses."""

    def create_histogram(self, name: str, unit: str = "", description: str = "") -> Histogram:
        """Create a histogram instrument."""
        ...

    def create_counter(self, name: str, unit: str = "", description: str = "") -> Counter:
        """Create a counter instrument."""
        ...


class JobMetrics:
    """Job metrics on any OTel-shaped :class:`Meter`.

    Instruments (attributes ``norce.import.kind``, ``norce.import.full``,
    ``norce.job.status``):

    * ``norce.job.duration`` (histogram, s): Norce's run time of the job;
    * ``norce.job.lead_time`` (histogram, s): submit → finish;
    * ``norce.job.polls`` (histogram): ``Job/Get`` calls per job;
    * ``norce.job.items.inserted`` / ``.updated`` / ``.failed`` (counters);
    * ``norce.job.results`` (counter): finished or timed-out waits by status;
    * ``norce.job.alerts`` (counter, attribute ``norce.alert.kind``).

    Args:
        meter: an OpenTelemetry ``Meter`` or anything with the same two methods.
    """

    def __init__(self, meter: Meter) -> None:
        self.duration = meter.create_histogram(
            "norce.job.duration", unit="s", description="Run time of a Connect job"
        )
        self.lead_time = meter.create_histogram(
            "norce.job.lead_time", unit="s", description="Submit to finish of a Connect job"
        )
        self.polls = meter.create_histogram(
            "norce.job.polls", unit="{poll}", description="Job/Get calls per job"
        )
        self.inserted = meter.create_counter(
            "norce.job.items.inserted", unit="{row}", description="Inserts reported by Norce"
        )
        self.updated = meter.create_counter(
            "norce.job.items.updated", unit="{row}", description="Updates reported by Norce"
        )
        self.failed = meter.create_counter(
            "norce.job.items.failed", unit="{item}", description="Items Norce failed to import"
        )
        self.results = meter.create_counter(
            "norce.job.results", unit="{job}", description="Job waits ended, by status"
        )
        self.alerts = meter.create_counter(
            "norce.job.alerts", unit="{alert}", description="Job alerts raised, by kind"
        )

    def record_result(self, result: JobResult) -> None:
        """Record one finished (or timed-out) job."""
        attributes: dict[str, str | bool | int | float] = {
            "norce.import.kind": result.kind,
            "norce.import.full": result.full,
            "norce.job.status": str(result.status),
        }
        self.results.add(1, attributes)
        self.polls.record(result.polls, attributes)
        if result.duration is not None:
            self.duration.record(result.duration, attributes)
        if result.lead_time is not None:
            self.lead_time.record(result.lead_time, attributes)
        for counter, value in (
            (self.inserted, result.inserts),
            (self.updated, result.updates),
            (self.failed, result.fail),
        ):
            if value:
                counter.add(int(value), attributes)

    def record_alert(self, alert: JobAlert) -> None:
        """Count one alert."""
        kind = alert.kind.value if isinstance(alert.kind, AlertKind) else str(alert.kind)
        self.alerts.add(1, {"norce.import.kind": alert.import_kind, "norce.alert.kind": kind})
