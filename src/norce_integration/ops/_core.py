"""The console's pure core: store records in, view models out.

Nothing here reads a store, a socket, a file or the clock: the app reads the store and
the time, builds a :class:`Snapshot` and hands it to these functions, which decide what
an operator sees (overview rows, alerts, job pages, filters, plot series, metrics
figures). That keeps every rule of the console testable with plain values.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import attrs

from .._tracing import is_secret_name
from ..stores import (
    DeadLetter,
    FullImportRecord,
    InFlightLock,
    JobObservation,
    TrackedJob,
    TrackedStatus,
    Watermark,
)


__all__ = [
    "Alert",
    "ConsoleOptions",
    "EventSample",
    "FAILED",
    "InboxView",
    "JobFilter",
    "JobPage",
    "NONE",
    "Overview",
    "OverviewRow",
    "REDACTED",
    "Snapshot",
    "SourceRef",
    "build_overview",
    "events_per_minute",
    "format_seconds",
    "is_secret_name",
    "items_series",
    "job_page",
    "lead_time",
    "lead_time_limits",
    "lead_time_series",
    "parse_job_filter",
    "percentile",
    "redact_payload",
    "redact_text",
    "source_rows",
]

NONE: Final = "\u2013"
"""Shown for a missing value (an en dash)."""
FAILED: Final = (TrackedStatus.FAILED, TrackedStatus.VALIDATION_FAILED)
"""The statuses the overview lists as failed jobs."""


# ---------------------------------------------------------------------------- options


@attrs.frozen(kw_only=True)
class ConsoleOptions:
    """What the console considers worth an alert, and how much history it reads.

    Attributes:
        lead_time_percentile: the percentile of a kind's past lead times that is its
            "usual" lead time (0.9: p90).
        lead_time_factor: a running job alerts once it runs longer than the usual lead
            time times this factor.
        lead_time_min_samples: fewer finished runs of a kind than this: no baseline yet,
            ``lead_time_default`` applies.
        lead_time_default: seconds a job may run before alerting while a kind has no
            baseline (``None``: no alert without a baseline).
        lead_time_floor: the limit is never below this many seconds (fast kinds would
            otherwise alert on every hiccup).
        window: recent jobs (newest first) the overview and the plots read.
        failed_window: failed jobs listed as alerts at most.
        inbox_backlog_alert: pending + leased inbox items from which the backlog alerts.
        inbox_age_alert: seconds the oldest pending event may wait before it alerts.
        plot_runs: runs per kind in the lead-time plot.
        dead_letter_limit: dead letters read for the events page.
    """

    lead_time_percentile: float = attrs.field(default=0.9)
    lead_time_factor: float = 2.0
    lead_time_min_samples: int = 5
    lead_time_default: float | None = 3600.0
    lead_time_floor: float = 60.0
    window: int = 2000
    failed_window: int = 50
    inbox_backlog_alert: int = 1000
    inbox_age_alert: float = 900.0
    plot_runs: int = 50
    dead_letter_limit: int = 200

    @lead_time_percentile.validator
    def _check_percentile(self, _attr: Any, value: float) -> None:
        if not 0.0 < value <= 1.0:
            msg = f"lead_time_percentile must be in (0, 1], got {value}"
            raise ValueError(msg)


@attrs.frozen
class SourceRef:
    """A source the operator wants a row for (from the configuration).

    Attributes:
        kind: import kind.
        account_id: the Norce system account it imports as.
        name: the source's name (its watermark key), if it has one.
    """

    kind: str
    account_id: int
    name: str | None = None


# ---------------------------------------------------------------------------- snapshot


@attrs.frozen(kw_only=True)
class Snapshot:
    """Everything the overview needs, as read from the store at one moment.

    Attributes:
        now: the time of the reading (UTC).
        recent_jobs: the newest jobs, newest first (``ConsoleOptions.window`` at most).
        failed_jobs: failed and validation-failed jobs, newest first.
        unresolved_jobs: jobs not in a final status, oldest first.
        sources: the rows to show: configured sources and (kind, account) pairs seen.
        full_imports: the last good full import per (kind, account).
        locks: the in-flight lock holder per (kind, account).
        watermarks: the watermark per (kind, account, source name).
        inbox_counts: inbox items per status value (``None``: the store did not say).
        oldest_pending_at: when the oldest pending inbox item arrived, if known.
        dead_letters: dead letters (oldest first, possibly limited).
    """

    now: dt.datetime
    recent_jobs: Sequence[TrackedJob] = ()
    failed_jobs: Sequence[TrackedJob] = ()
    unresolved_jobs: Sequence[TrackedJob] = ()
    sources: Sequence[SourceRef] = ()
    full_imports: Mapping[tuple[str, int], FullImportRecord] = attrs.field(factory=dict)
    locks: Mapping[tuple[str, int], InFlightLock] = attrs.field(factory=dict)
    watermarks: Mapping[tuple[str, int, str], Watermark] = attrs.field(factory=dict)
    inbox_counts: Mapping[str, int] | None = None
    oldest_pending_at: dt.datetime | None = None
    dead_letters: Sequence[DeadLetter] = ()


def source_rows(configured: Iterable[SourceRef], jobs: Iterable[TrackedJob]) -> list[SourceRef]:
    """Configured sources first, then every (kind, account) seen in ``jobs`` not yet listed.

    Sorted by kind, account and name so the page does not reshuffle between reloads.
    """
    rows: dict[tuple[str, int, str | None], SourceRef] = {}
    covered: set[tuple[str, int]] = set()
    for ref in configured:
        rows[(ref.kind, ref.account_id, ref.name)] = ref
        covered.add((ref.kind, ref.account_id))
    for job in jobs:
        pair = (job.kind, job.account_id)
        if pair not in covered:
            covered.add(pair)
            rows[(job.kind, job.account_id, None)] = SourceRef(job.kind, job.account_id)
    return sorted(rows.values(), key=lambda r: (r.kind, r.account_id, r.name or ""))


# ---------------------------------------------------------------------------- lead times


def lead_time(job: TrackedJob, now: dt.datetime | None = None) -> float | None:
    """Seconds from submission to finish; to ``now`` for a job still running (if given)."""
    end = job.finished_at
    if end is None:
        if now is None or job.status.is_final:
            return None
        end = now
    return max(0.0, (end - job.submitted_at).total_seconds())


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0 < q <= 1) by linear interpolation between closest ranks.

    Raises:
        ValueError: ``values`` is empty or ``q`` outside (0, 1].
    """
    if not values:
        msg = "percentile of no values"
        raise ValueError(msg)
    if not 0.0 < q <= 1.0:
        msg = f"q must be in (0, 1], got {q}"
        raise ValueError(msg)
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def lead_time_limits(
    jobs: Iterable[TrackedJob], options: ConsoleOptions
) -> dict[tuple[str, bool], float | None]:
    """Per (kind, full): how long a job may run before it alerts.

    The baseline is the ``lead_time_percentile`` of succeeded runs of that kind and mode
    (full imports take longer than deltas), times ``lead_time_factor``, never below
    ``lead_time_floor``; ``lead_time_default`` while fewer than
    ``lead_time_min_samples`` runs finished.
    """
    samples: dict[tuple[str, bool], list[float]] = {}
    for job in jobs:
        key = (job.kind, job.full)
        samples.setdefault(key, [])
        if job.status is TrackedStatus.SUCCEEDED:
            seconds = lead_time(job)
            if seconds is not None:
                samples[key].append(seconds)
    limits: dict[tuple[str, bool], float | None] = {}
    for key, values in samples.items():
        limits[key] = _limit(values, options)
    return limits


def _limit(values: Sequence[float], options: ConsoleOptions) -> float | None:
    if len(values) < options.lead_time_min_samples:
        return options.lead_time_default
    usual = percentile(values, options.lead_time_percentile)
    return max(options.lead_time_floor, usual * options.lead_time_factor)


# ---------------------------------------------------------------------------- overview


@attrs.frozen(kw_only=True)
class Alert:
    """Something an operator should look at.

    Attributes:
        kind: ``failed-job``, ``long-lead-time``, ``dead-letters``, ``inbox-backlog``,
            ``inbox-age`` or ``stale-lock``.
        severity: ``error`` or ``warning``.
        message: one line.
        job_id: the job it is about, if any.
        link: a path below the console's root to look at.
    """

    kind: str
    severity: str
    message: str
    job_id: int | None = None
    link: str = "/"


@attrs.frozen(kw_only=True)
class OverviewRow:
    """One source: its last good full import, watermark, last delta and lock.

    Attributes:
        source: which source.
        last_full: the last good full import of (kind, account).
        watermark: the source's watermark (rows with a name only).
        last_delta: the newest delta job of (kind, account) among the recent jobs.
        last_delta_lead_time: its lead time in seconds (to now while it runs).
        lock: the in-flight lock holder, if one holds it.
        running: unresolved jobs of (kind, account).
        failed: failed jobs of (kind, account) among the failed jobs read.
    """

    source: SourceRef
    last_full: FullImportRecord | None = None
    watermark: Watermark | None = None
    last_delta: TrackedJob | None = None
    last_delta_lead_time: float | None = None
    lock: InFlightLock | None = None
    running: int = 0
    failed: int = 0


@attrs.frozen(kw_only=True)
class InboxView:
    """The webhook inbox at a glance.

    Attributes:
        counts: items per status (``None`` when the store did not say).
        backlog: pending + leased items.
        oldest_pending_age: seconds the oldest pending item has waited, if known.
        dead_letters: dead letters read.
    """

    counts: Mapping[str, int] | None
    backlog: int | None
    oldest_pending_age: float | None
    dead_letters: int


@attrs.frozen(kw_only=True)
class Overview:
    """The overview page.

    Attributes:
        now: when the store was read.
        rows: one per source.
        alerts: errors first, then warnings, newest first within each.
        inbox: the inbox figures.
        limits: the lead-time limit per (kind, full) in force.
    """

    now: dt.datetime
    rows: tuple[OverviewRow, ...]
    alerts: tuple[Alert, ...]
    inbox: InboxView
    limits: Mapping[tuple[str, bool], float | None]


def build_overview(snapshot: Snapshot, options: ConsoleOptions) -> Overview:
    """Turn a store reading into the overview's rows and alerts."""
    now = snapshot.now
    limits = lead_time_limits(snapshot.recent_jobs, options)
    last_delta: dict[tuple[str, int], TrackedJob] = {}
    for job in snapshot.recent_jobs:  # newest first: keep the first delta per pair
        if not job.full:
            last_delta.setdefault((job.kind, job.account_id), job)
    running = Counter((j.kind, j.account_id) for j in snapshot.unresolved_jobs)
    failed = Counter((j.kind, j.account_id) for j in snapshot.failed_jobs)
    rows = []
    for ref in snapshot.sources:
        pair = (ref.kind, ref.account_id)
        delta = last_delta.get(pair)
        rows.append(
            OverviewRow(
                source=ref,
                last_full=snapshot.full_imports.get(pair),
                watermark=(
                    snapshot.watermarks.get((ref.kind, ref.account_id, ref.name))
                    if ref.name is not None
                    else None
                ),
                last_delta=delta,
                last_delta_lead_time=None if delta is None else lead_time(delta, now),
                lock=snapshot.locks.get(pair),
                running=running[pair],
                failed=failed[pair],
            )
        )
    inbox = _inbox_view(snapshot)
    alerts = _alerts(snapshot, options, limits, inbox)
    return Overview(now=now, rows=tuple(rows), alerts=alerts, inbox=inbox, limits=limits)


def _inbox_view(snapshot: Snapshot) -> InboxView:
    counts = snapshot.inbox_counts
    backlog = None if counts is None else counts.get("pending", 0) + counts.get("leased", 0)
    age = None
    if snapshot.oldest_pending_at is not None:
        age = max(0.0, (snapshot.now - snapshot.oldest_pending_at).total_seconds())
    return InboxView(
        counts=counts,
        backlog=backlog,
        oldest_pending_age=age,
        dead_letters=len(snapshot.dead_letters),
    )


def _alerts(
    snapshot: Snapshot,
    options: ConsoleOptions,
    limits: Mapping[tuple[str, bool], float | None],
    inbox: InboxView,
) -> tuple[Alert, ...]:
    errors: list[Alert] = []
    warnings: list[Alert] = []
    for job in snapshot.failed_jobs[: options.failed_window]:
        detail = f", {job.fail} record(s) failed" if job.fail else ""
        errors.append(
            Alert(
                kind="failed-job",
                severity="error",
                message=(
                    f"{_mode(job)} import {job.kind} job {job.job_id} (account "
                    f"{job.account_id}) is {job.status.value}{detail}"
                ),
                job_id=job.job_id,
                link=f"/jobs/{job.job_id}",
            )
        )
    for job in snapshot.unresolved_jobs:
        limit = limits.get((job.kind, job.full), options.lead_time_default)
        seconds = lead_time(job, snapshot.now)
        if limit is None or seconds is None or seconds <= limit:
            continue
        warnings.append(
            Alert(
                kind="long-lead-time",
                severity="warning",
                message=(
                    f"{_mode(job)} import {job.kind} job {job.job_id} has run "
                    f"{format_seconds(seconds)}, longer than its kind's usual "
                    f"{format_seconds(limit)} limit"
                ),
                job_id=job.job_id,
                link=f"/jobs/{job.job_id}",
            )
        )
    warnings.extend(
        Alert(
            kind="stale-lock",
            severity="warning",
            message=(
                f"the in-flight lock of {lock.kind} (account {lock.account_id}) held by "
                f"{lock.owner} has expired"
            ),
        )
        for lock in snapshot.locks.values()
        if lock.expires_at < snapshot.now
    )
    if inbox.dead_letters:
        errors.append(
            Alert(
                kind="dead-letters",
                severity="error",
                message=f"{inbox.dead_letters} dead letter(s) wait for an operator",
                link="/events",
            )
        )
    if inbox.backlog is not None and inbox.backlog >= options.inbox_backlog_alert:
        warnings.append(
            Alert(
                kind="inbox-backlog",
                severity="warning",
                message=f"{inbox.backlog} event(s) wait in the inbox",
                link="/events",
            )
        )
    age = inbox.oldest_pending_age
    if age is not None and age > options.inbox_age_alert:
        warnings.append(
            Alert(
                kind="inbox-age",
                severity="warning",
                message=f"the oldest pending event has waited {format_seconds(age)}",
                link="/events",
            )
        )
    return (*errors, *warnings)


def _mode(job: TrackedJob) -> str:
    return "full" if job.full else "delta"


def format_seconds(seconds: float | None) -> str:
    """``"42 s"``, ``"3 min 5 s"``, ``"2 h 4 min"``, ``"3 d 2 h"``; an en dash for ``None``."""
    if seconds is None:
        return NONE
    total = round(seconds)
    if total < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


# ---------------------------------------------------------------------------- job list


_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@attrs.frozen(kw_only=True)
class JobFilter:
    """The job list's filters (all optional), as parsed from the query string.

    Attributes:
        kind: import kind.
        status: one status.
        account_id: the source's system account.
        mode: ``"full"`` or ``"delta"``.
        since: submitted after this time.
        until: submitted before this time.
        limit: rows at most.
    """

    kind: str | None = None
    status: TrackedStatus | None = None
    account_id: int | None = None
    mode: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    limit: int = 200

    def query(self) -> dict[str, str]:
        """The filters as query-string values (for links that keep them)."""
        out: dict[str, str] = {}
        if self.kind:
            out["kind"] = self.kind
        if self.status:
            out["status"] = self.status.value
        if self.account_id is not None:
            out["account"] = str(self.account_id)
        if self.mode:
            out["mode"] = self.mode
        if self.since:
            out["since"] = self.since.isoformat()
        if self.until:
            out["until"] = self.until.isoformat()
        return out

    def keep(self, job: TrackedJob) -> bool:
        """Whether ``job`` passes the filters the store cannot apply (the mode)."""
        return self.mode is None or (job.full == (self.mode == "full"))


def _when(value: str, now: dt.datetime) -> dt.datetime:
    match = _RELATIVE.match(value)
    if match:
        return now - dt.timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])
    parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def parse_job_filter(
    params: Mapping[str, str], now: dt.datetime, *, max_limit: int = 1000
) -> tuple[JobFilter, list[str]]:
    """Read the job list's filters; bad values are dropped and explained, never fatal.

    Times are ISO 8601 (``2024-05-01T12:00``; UTC when no offset) or relative to now
    (``30m``, ``24h``, ``7d``).
    """
    problems: list[str] = []
    values: dict[str, Any] = {}
    kind = params.get("kind", "").strip()
    if kind:
        values["kind"] = kind
    status = params.get("status", "").strip()
    if status:
        try:
            values["status"] = TrackedStatus(status)
        except ValueError:
            problems.append(f"unknown status {status!r}")
    account = params.get("account", "").strip()
    if account:
        try:
            values["account_id"] = int(account)
        except ValueError:
            problems.append(f"account must be a number, got {account!r}")
    mode = params.get("mode", "").strip()
    if mode:
        if mode in ("full", "delta"):
            values["mode"] = mode
        else:
            problems.append(f"mode must be full or delta, got {mode!r}")
    for name, field in (("since", "since"), ("until", "until")):
        raw = params.get(name, "").strip()
        if raw:
            try:
                values[field] = _when(raw, now)
            except ValueError:
                problems.append(f"{name}: not a time or a duration like 24h: {raw!r}")
    limit = params.get("limit", "").strip()
    if limit:
        try:
            values["limit"] = max(1, min(int(limit), max_limit))
        except ValueError:
            problems.append(f"limit must be a number, got {limit!r}")
    return JobFilter(**values), problems


# ---------------------------------------------------------------------------- job page


@attrs.frozen(kw_only=True)
class JobPage:
    """One job as the job page shows it.

    Attributes:
        job: the tracked job (with history).
        lead_time: seconds from submission to finish (to now while it runs).
        history: every status seen, oldest first.
        log: Norce's job log entries when fetched (``None``: not available).
        log_note: why there is no log, if there is none.
        superseded_by: the full import that superseded it.
        rerun_of: the job it re-ran.
        counts: ``JobDto`` counts by label (``None`` when unknown).
    """

    job: TrackedJob
    lead_time: float | None
    history: tuple[JobObservation, ...]
    log: tuple[Any, ...] | None
    log_note: str
    superseded_by: int | None
    rerun_of: int | None
    counts: tuple[tuple[str, int | None], ...]


def job_page(
    job: TrackedJob,
    now: dt.datetime,
    *,
    log: Sequence[Any] | None = None,
    log_note: str = "",
) -> JobPage:
    """The job page of ``job`` (``log``: Norce's job log entries, when fetched)."""
    return JobPage(
        job=job,
        lead_time=lead_time(job, now),
        history=job.history,
        log=None if log is None else tuple(log),
        log_note=log_note,
        superseded_by=job.superseded_by,
        rerun_of=job.rerun_of,
        counts=(
            ("items sent", job.item_count),
            ("totals", job.totals),
            ("inserts", job.inserts),
            ("updates", job.updates),
            ("fail", job.fail),
        ),
    )


# ---------------------------------------------------------------------------- plots


def lead_time_series(
    jobs: Iterable[TrackedJob], *, runs: int
) -> dict[str, list[tuple[int, float, str]]]:
    """Per kind: (job id, lead time s, status) of its last ``runs`` finished jobs, oldest first."""
    out: dict[str, list[tuple[int, float, str]]] = {}
    for job in jobs:  # newest first
        seconds = lead_time(job)
        if seconds is None:
            continue
        series = out.setdefault(job.kind, [])
        if len(series) < runs:
            series.append((job.job_id, seconds, job.status.value))
    return {kind: series[::-1] for kind, series in sorted(out.items())}


def items_series(jobs: Iterable[TrackedJob], *, runs: int) -> list[tuple[int, str, bool, int]]:
    """(job id, kind, full, items) of the last ``runs`` jobs, oldest first."""
    out = [(j.job_id, j.kind, j.full, j.item_count) for j in jobs]
    return out[:runs][::-1]


@attrs.frozen
class EventSample:
    """Inbox totals at one moment (the console samples them; the store keeps no rate).

    Attributes:
        at: seconds since the epoch.
        received: all inbox items (any status).
        done: done inbox items.
        dead: dead letters.
    """

    at: float
    received: int
    done: int
    dead: int


def events_per_minute(samples: Sequence[EventSample]) -> list[tuple[float, float, float]]:
    """(time, received/min, processed/min) between consecutive samples, oldest first.

    A total that went down (items purged, letters deleted) counts as no events, the way
    Prometheus treats a counter reset, rather than as a negative rate.
    """
    out: list[tuple[float, float, float]] = []
    for before, after in itertools.pairwise(samples):
        span = after.at - before.at
        if span <= 0:
            continue
        received = max(0, after.received - before.received)
        done = max(0, after.done - before.done)
        out.append((after.at, received * 60.0 / span, done * 60.0 / span))
    return out


# ---------------------------------------------------------------------------- redaction


REDACTED: Final = "\u2022\u2022\u2022redacted\u2022\u2022\u2022"
"""What a masked value is shown as."""
# key=value, key: value, "key": "value" in free text (errors, non-JSON payloads).
_SECRET_PAIR = re.compile(
    r"""(?P<key>["']?[\w-]*(?:pass(?:word|wd|phrase)?|secret|token|api[-_]?key|"""
    r"""authorization|credential|private[-_]?key|signature|cookie|session|pwd)[\w-]*["']?)"""
    r"""(?P<sep>\s*[:=]\s*)(?P<value>"[^"]*"|'[^']*'|(?:bearer|basic)\s+\S+|[^\s,;&})\]]+)""",
    re.IGNORECASE,
)


def _redact_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: REDACTED if is_secret_name(str(k)) else _redact_value(v) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_redact_value(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_text(text: str) -> str:
    """``text`` with ``password=…``, ``"token": "…"``, ``Authorization: Bearer …`` masked."""
    return _SECRET_PAIR.sub(lambda m: f"{m.group('key')}{m.group('sep')}{REDACTED}", text)


def redact_payload(payload: bytes, *, limit: int = 64_000) -> str:
    """A payload as text for display, secret-looking fields masked.

    JSON is pretty-printed with every value of a field named like a secret replaced;
    other text gets :func:`redact_text`; binary data is summarised, never shown raw.
    """
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        return f"<{len(payload)} bytes of binary data>"
    try:
        data = json.loads(text)
    except ValueError:
        shown = redact_text(text)
    else:
        shown = json.dumps(_redact_value(data), indent=2, ensure_ascii=False, sort_keys=False)
    if len(shown) > limit:
        shown = shown[:limit] + f"\n… ({len(shown) - limit} more characters)"
    return shown
