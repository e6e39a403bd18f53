"""The console's pure core: overview rows, alerts, filters, plots, redaction."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from norce_integration.ops import _core, _svg
from norce_integration.ops._core import (
    REDACTED,
    ConsoleOptions,
    EventSample,
    Snapshot,
    SourceRef,
    build_overview,
    events_per_minute,
    lead_time_limits,
    parse_job_filter,
    percentile,
    redact_payload,
    redact_text,
)
from norce_integration.stores import (
    DeadLetter,
    FullImportRecord,
    InFlightLock,
    TrackedJob,
    TrackedStatus,
    Watermark,
)


NOW = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)


def job(
    job_id: int,
    *,
    kind: str = "products",
    full: bool = False,
    account: int = 1,
    status: TrackedStatus = TrackedStatus.SUCCEEDED,
    submitted: float = -3600,
    lead: float | None = 30,
    items: int = 10,
) -> TrackedJob:
    at = NOW + dt.timedelta(seconds=submitted)
    finished = None if lead is None else at + dt.timedelta(seconds=lead)
    return TrackedJob(
        job_id=job_id,
        kind=kind,
        full=full,
        account_id=account,
        submitted_at=at,
        item_count=items,
        status=status,
        finished_at=finished,
    )


def test_percentile_interpolates() -> None:
    assert percentile([10, 20, 30, 40, 50], 0.5) == 30
    assert percentile([10, 20], 0.9) == pytest.approx(19)
    assert percentile([7], 0.9) == 7
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)
    with pytest.raises(ValueError, match="q must"):
        percentile([1], 0)


@given(st.lists(st.floats(0, 1e6), min_size=1), st.floats(0.01, 1.0))
def test_percentile_is_within_the_values(values: list[float], q: float) -> None:
    assert min(values) - 1e-6 <= percentile(values, q) <= max(values) + 1e-6


def test_lead_time_limits_use_the_percentile_times_the_factor_per_kind_and_mode() -> None:
    jobs = [job(i, lead=10 * i) for i in range(1, 11)]  # 10..100 s
    jobs += [job(100 + i, full=True, lead=1000) for i in range(5)]
    jobs += [job(200, kind="onhands", lead=5)]
    options = ConsoleOptions(lead_time_factor=2.0, lead_time_floor=1.0, lead_time_default=None)
    limits = lead_time_limits(jobs, options)
    assert limits[("products", False)] == pytest.approx(
        percentile([10.0 * i for i in range(1, 11)], 0.9) * 2
    )
    assert limits[("products", True)] == pytest.approx(2000)
    assert limits[("onhands", False)] is None  # one run: no baseline, no default
    floor = lead_time_limits(jobs, ConsoleOptions(lead_time_floor=500.0))
    assert floor[("products", False)] == 500.0


def test_failed_runs_do_not_count_towards_the_baseline() -> None:
    jobs = [job(i, lead=10) for i in range(5)] + [job(9, lead=10_000, status=TrackedStatus.FAILED)]
    limits = lead_time_limits(jobs, ConsoleOptions(lead_time_floor=0))
    assert limits[("products", False)] == pytest.approx(20)


def snapshot(**kw: object) -> Snapshot:
    recent = [job(i, lead=20, submitted=-7200 + i) for i in range(1, 8)]
    base = {
        "now": NOW,
        "recent_jobs": recent,
        "sources": [SourceRef("products", 1, "erp")],
    }
    base.update(kw)
    return Snapshot(**base)  # type: ignore[arg-type]


def test_overview_row_per_source_with_full_import_watermark_delta_and_lock() -> None:
    delta = job(50, submitted=-60, lead=None, status=TrackedStatus.RUNNING)
    full = FullImportRecord("products", 1, 40, NOW - dt.timedelta(hours=2), 5000)
    lock = InFlightLock(
        "products", 1, "host:1", NOW - dt.timedelta(minutes=1), NOW + dt.timedelta(minutes=9)
    )
    mark = Watermark("products", 1, "erp", "2025-03-01T11:00:00.000000Z", 3, NOW)
    snap = snapshot(
        recent_jobs=[delta, job(40, full=True), job(30)],
        unresolved_jobs=[delta],
        full_imports={("products", 1): full},
        locks={("products", 1): lock},
        watermarks={("products", 1, "erp"): mark},
        sources=_core.source_rows(
            [SourceRef("products", 1, "erp")], [delta, job(7, kind="onhands", account=2)]
        ),
    )
    view = build_overview(snap, ConsoleOptions())
    first, second = view.rows
    assert first.source == SourceRef("onhands", 2)
    assert second.source == SourceRef("products", 1, "erp")
    assert second.last_full == full
    assert second.watermark == mark
    assert second.last_delta == delta
    assert second.last_delta_lead_time == 60
    assert second.lock == lock
    assert second.running == 1


def test_alerts_failed_long_running_dead_letters_backlog_and_age() -> None:
    failed = job(60, status=TrackedStatus.VALIDATION_FAILED)
    long = job(61, submitted=-3600, lead=None, status=TrackedStatus.RUNNING)
    short = job(62, submitted=-30, lead=None, status=TrackedStatus.QUEUED)
    letter = DeadLetter(1, "webhook:failed", "SkuChangedNotification", b"{}", "boom", NOW)
    snap = snapshot(
        failed_jobs=[failed],
        unresolved_jobs=[long, short],
        dead_letters=[letter],
        inbox_counts={"pending": 900, "leased": 100, "done": 5},
        oldest_pending_at=NOW - dt.timedelta(hours=1),
    )
    view = build_overview(snap, ConsoleOptions())
    kinds = [(a.kind, a.job_id) for a in view.alerts]
    assert kinds == [
        ("failed-job", 60),
        ("dead-letters", None),
        ("long-lead-time", 61),
        ("inbox-backlog", None),
        ("inbox-age", None),
    ]
    assert view.alerts[0].severity == "error"
    assert view.alerts[0].link == "/jobs/60"
    assert "1 h 0 min" in view.alerts[2].message
    assert view.inbox.backlog == 1000
    assert view.inbox.oldest_pending_age == 3600


def test_no_alert_below_thresholds_and_stale_lock_alerts() -> None:
    lock = InFlightLock(
        "products", 1, "host:1", NOW - dt.timedelta(hours=2), NOW - dt.timedelta(hours=1)
    )
    snap = snapshot(
        inbox_counts={"pending": 10}, oldest_pending_at=NOW, locks={("products", 1): lock}
    )
    view = build_overview(snap, ConsoleOptions())
    assert [a.kind for a in view.alerts] == ["stale-lock"]


def test_long_lead_time_uses_the_default_without_a_baseline() -> None:
    running = job(70, kind="onhands", submitted=-7200, lead=None, status=TrackedStatus.SUBMITTED)
    snap = snapshot(unresolved_jobs=[running])
    assert [
        a.kind for a in build_overview(snap, ConsoleOptions(lead_time_default=3600)).alerts
    ] == ["long-lead-time"]
    assert build_overview(snap, ConsoleOptions(lead_time_default=None)).alerts == ()


def test_job_filter_parses_and_explains() -> None:
    flt, problems = parse_job_filter(
        {
            "kind": "products",
            "status": "failed",
            "account": "3",
            "mode": "full",
            "since": "24h",
            "until": "2025-03-01T11:00",
            "limit": "5000",
        },
        NOW,
    )
    assert problems == []
    assert flt.kind == "products"
    assert flt.status is TrackedStatus.FAILED
    assert flt.account_id == 3
    assert flt.since == NOW - dt.timedelta(hours=24)
    assert flt.until == dt.datetime(2025, 3, 1, 11, 0, tzinfo=dt.UTC)
    assert flt.limit == 1000
    assert flt.keep(job(1, full=True))
    assert not flt.keep(job(2, full=False))
    assert flt.query()["status"] == "failed"
    bad, problems = parse_job_filter(
        {"status": "nope", "account": "x", "since": "soon", "mode": "m"}, NOW
    )
    assert bad == _core.JobFilter()
    assert len(problems) == 4


def test_events_per_minute_between_samples_ignores_resets() -> None:
    samples = [EventSample(0, 100, 50, 0), EventSample(60, 160, 80, 1), EventSample(120, 10, 5, 0)]
    assert events_per_minute(samples) == [(60, 60.0, 30.0), (120, 0.0, 0.0)]
    assert events_per_minute(samples[:1]) == []


def test_series_for_plots() -> None:
    jobs = [
        job(3, lead=30),
        job(2, lead=None, status=TrackedStatus.RUNNING),
        job(1, lead=10, kind="onhands"),
    ]
    assert _core.lead_time_series(jobs, runs=5) == {
        "onhands": [(1, 10.0, "succeeded")],
        "products": [(3, 30.0, "succeeded")],
    }
    assert _core.items_series(jobs, runs=2) == [
        (2, "products", False, 10),
        (3, "products", False, 10),
    ]


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("password=abc123 next", "abc123"),
        ('{"apiKey": "k-999"}', "k-999"),
        ("Authorization: Bearer eyJ.abc.def", "eyJ.abc.def"),
        ("client_secret='s3'", "s3"),
        ("failed (api_key=zz9)", "zz9"),
        ("token: t0k", "t0k"),
    ],
)
def test_redact_text(text: str, secret: str) -> None:
    out = redact_text(text)
    assert secret not in out
    assert REDACTED in out


def test_redact_payload_masks_secret_fields_at_any_depth() -> None:
    payload = json.dumps(
        {
            "PartNo": "P1",
            "Password": "pw1",
            "nested": [{"x-api-key": "k2", "note": "token=t3"}],
            "Authorization": {"scheme": "Basic"},
        }
    ).encode()
    out = redact_payload(payload)
    for secret in ("pw1", "k2", "t3", "Basic"):
        assert secret not in out
    assert '"PartNo": "P1"' in out
    assert redact_payload(b"\xff\xfe\x00") == "<3 bytes of binary data>"
    assert "s9" not in redact_payload(b"user=a&password=s9")
    assert redact_payload(b"x" * 100, limit=10).endswith("(90 more characters)")


def test_format_seconds() -> None:
    assert _core.format_seconds(None) == _core.NONE
    assert _core.format_seconds(2.5) == "2.5 s"
    assert _core.format_seconds(42) == "42 s"
    assert _core.format_seconds(185) == "3 min 5 s"
    assert _core.format_seconds(7440) == "2 h 4 min"
    assert _core.format_seconds(3 * 86400 + 7200) == "3 d 2 h"


def test_options_validate_the_percentile() -> None:
    with pytest.raises(ValueError, match="percentile"):
        ConsoleOptions(lead_time_percentile=1.5)


def test_svg_plots_escape_labels_and_scale() -> None:
    assert _svg.nice_max(0) == 1
    assert _svg.nice_max(7) == 10
    assert _svg.nice_max(120) == 200
    assert _svg.nice_max(0.3) == pytest.approx(0.5)
    svg = _svg.line_chart({"<kind>": [(0, 1.0, "a&b"), (1, 3.0, "c")]}, title="t", unit="s")
    assert svg.startswith("<svg")
    assert svg.endswith("</svg>")
    assert "<kind>" not in svg
    assert "&lt;kind&gt;" in svg
    assert "a&amp;b" in svg
    assert "<polyline" in svg
    bars = _svg.bar_chart(
        [("job 1", 5, "products"), ("job 2", 10, "onhands")], title="t", unit="items"
    )
    assert bars.count("<rect") == 4  # 2 bars + 2 legend swatches
    assert "no data yet" in _svg.line_chart({}, title="t", unit="s")
    assert "no data yet" in _svg.bar_chart([], title="t", unit="s")
