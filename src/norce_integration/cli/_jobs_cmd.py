"""``norce-integration jobs list | show | watch | rerun | adopt``: the jobs in the state store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import click

from .._exceptions import ImportJobError
from ..patterns import JobResult
from ..patterns.imports import ImportRuns
from ..stores import TrackedJob, TrackedStatus
from ._app import EXIT_ERROR, EXIT_TIMED_OUT, Runtime, main, runtime_options
from ._ui import console, print_json, table


__all__ = ["jobs_group"]

_STATUSES = [s.value for s in TrackedStatus]


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ") if value else "-"


def _counts(job: TrackedJob | JobResult) -> str:
    if job.inserts is None and job.updates is None and job.fail is None:
        return "-"
    return f"{job.inserts or 0}/{job.updates or 0}/{job.fail or 0}"


@main.group("jobs")
def jobs_group() -> None:
    """Connect jobs tracked in the state store: list, show, watch, rerun, adopt."""


@jobs_group.command("list")
@click.option("--kind", help="Only this import kind (products, sku_price_lists, ...).")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(_STATUSES),
    help="Only these statuses (repeatable).",
)
@click.option("--unresolved", is_flag=True, help="Only jobs that are not final yet.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@runtime_options
def jobs_list(  # noqa: PLR0917 - click passes options by keyword
    rt: Runtime,
    kind: str | None,
    statuses: Sequence[str],
    unresolved: bool,
    limit: int,
    as_json: bool,
) -> None:
    """Tracked jobs, newest first (reads only the store)."""
    store = rt.store(must_exist=True)
    if unresolved:
        found = [
            j for j in store.unresolved_jobs(kind=kind) if not statuses or j.status in statuses
        ][:limit]
    else:
        found = store.list_jobs(
            kind=kind,
            statuses=[TrackedStatus(s) for s in statuses] or None,
            limit=limit,
        )
    if as_json:
        print_json(found)
        return
    console().print(
        table(
            f"{len(found)} job(s)",
            (
                "job",
                "kind",
                "full",
                "account",
                "status",
                "items",
                "ins/upd/fail",
                "submitted",
                "finished",
            ),
            (
                (
                    j.job_id,
                    j.kind,
                    "full" if j.full else "delta",
                    j.account_id,
                    j.status.value,
                    j.item_count,
                    _counts(j),
                    _when(j.submitted_at),
                    _when(j.finished_at),
                )
                for j in found
            ),
        )
    )


@jobs_group.command("show")
@click.argument("job_id", type=int)
@click.option("--log", "fetch_log", is_flag=True, help="Also fetch the job log from Norce.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@runtime_options
def jobs_show(rt: Runtime, job_id: int, fetch_log: bool, as_json: bool) -> None:
    """One job: its status history, counts, payload and (with --log) Norce's job log."""
    store = rt.store(must_exist=True)
    job = store.get_job(job_id)
    if job is None:
        raise ImportJobError("is not tracked in this store (see `jobs list`)", job_id=job_id)
    entries = list(rt.norce().connect.get_job_log(job_id)) if fetch_log else None
    if as_json:
        print_json({"job": job, "log": entries})
        return
    out = console()
    rows = [
        ("job", job.job_id),
        ("kind", f"{job.kind} ({'full' if job.full else 'delta'}), account {job.account_id}"),
        ("status", f"{job.status.value} (StatusId {job.status_id})"),
        ("items", job.item_count),
        (
            "totals / inserts / updates / fail",
            f"{job.totals} / {job.inserts} / {job.updates} / {job.fail}",
        ),
        ("submitted", _when(job.submitted_at)),
        ("started", _when(job.started_at)),
        ("finished", _when(job.finished_at)),
        ("polls", job.polls),
        ("payload", f"{job.payload_size} bytes, sha256 {job.payload_digest[:16]}…"),
        ("header", job.header),
    ]
    if job.rerun_of:
        rows.append(("re-run of", job.rerun_of))
    if job.superseded_by:
        rows.append(("superseded by", job.superseded_by))
    out.print(table(None, ("", ""), rows))
    out.print(
        table(
            "history",
            ("seen", "status", "StatusId", "source", "note"),
            (
                (_when(o.seen_at), o.status.value, o.status_id, o.source, o.note)
                for o in job.history
            ),
        )
    )
    if entries is not None:
        out.print(
            table(
                "job log",
                ("time", "severity", "message"),
                ((_when(e.timestamp), e.severity.name, e.message) for e in entries),
            )
        )


def _result_table(results: Sequence[JobResult]) -> None:
    console().print(
        table(
            None,
            ("job", "kind", "status", "ins/upd/fail", "lead time", "resolved by"),
            (
                (
                    r.job_id,
                    r.kind,
                    r.status.value,
                    _counts(r),
                    f"{r.lead_time:.0f}s" if r.lead_time is not None else "-",
                    r.resolved_by,
                )
                for r in results
            ),
        )
    )


def _exit_for(results: Sequence[JobResult]) -> None:
    if any(r.status.is_failure for r in results):
        raise click.exceptions.Exit(EXIT_ERROR)
    if any(r.status is TrackedStatus.TIMED_OUT_LOCALLY for r in results):
        raise click.exceptions.Exit(EXIT_TIMED_OUT)


@jobs_group.command("watch")
@click.argument("job_ids", nargs=-1, type=int)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    help="Seconds to wait per job [default: [tracking] timeout].",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@runtime_options
def jobs_watch(rt: Runtime, job_ids: Sequence[int], timeout: float | None, as_json: bool) -> None:
    """Wait until jobs end (default: every unresolved job in the store).

    Polls Job/Get politely (or sees a JobCompletedEvent recorded by `events serve`).
    Exits 1 if a job failed, 3 if the wait ended first (the job may still run).
    """
    tracker = rt.tracker(must_exist=True)
    ids = list(job_ids) or [j.job_id for j in tracker.unresolved()]
    if ids:
        # The tracker treats a failed poll as "slow, keep waiting"; an unreachable host or
        # rejected credentials must end at once in one line instead (raises APIError).
        rt.norce().connect.ping()
    results: list[JobResult] = []
    out = console()
    for job_id in ids:
        if as_json:
            results.append(tracker.wait(job_id, timeout=timeout, raise_on_failure=False))
            continue
        with out.status(f"waiting for job {job_id}…"):
            results.append(tracker.wait(job_id, timeout=timeout, raise_on_failure=False))
    if as_json:
        print_json(results)
    elif results:
        _result_table(results)
    else:
        out.print("No unresolved jobs.")
    _exit_for(results)


@jobs_group.command("rerun")
@click.argument("job_id", type=int)
@click.option(
    "--force", is_flag=True, help="Re-run a full import, an unfinished or a superseded job."
)
@click.option(
    "--wait/--no-wait", default=True, show_default=True, help="Track the new job to the end."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@runtime_options
def jobs_rerun(rt: Runtime, job_id: int, force: bool, wait: bool, as_json: bool) -> None:
    """Resubmit a finished job's exact payload as a new job (needs [tracking] payload_dir).

    A full import is re-run only with --force: it deactivates whatever its payload lacks.
    """
    tracker = rt.tracker(must_exist=True)
    new = tracker.rerun(job_id, force=force)
    result = tracker.wait(new.job_id, raise_on_failure=False) if wait else None
    if as_json:
        print_json({"job": new, "result": result})
    else:
        console().print(f"job {job_id} re-run as job {new.job_id}", markup=False)
        if result is not None:
            _result_table([result])
    if result is not None:
        _exit_for([result])


@jobs_group.command("adopt")
@click.argument("run_id", metavar="RUN")
@click.argument("job_id", type=int)
@click.option(
    "--force",
    is_flag=True,
    help="Adopt even if the job predates the run, has another item count or is tracked.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@runtime_options
def jobs_adopt(rt: Runtime, run_id: str, job_id: int, force: bool, as_json: bool) -> None:
    """Declare JOB_ID the Connect job of the held (or interrupted) import run RUN.

    Use it when an import was killed before its job id was stored and the SDK could not
    prove which job is the run's (the kind is held: RunHeldError names the run and the
    candidate jobs). Check in Norce that JOB_ID carries that run's payload first. The
    next import of the source (or resume) then waits for the job and settles the run by
    its outcome: the watermark moves only if it succeeded.
    """
    store = rt.store(must_exist=True)
    runs = ImportRuns(store, rt.norce(), tracker=rt.tracker(must_exist=True))
    run = runs.adopt(run_id, job_id, force=force)
    if as_json:
        print_json(run)
        return
    console().print(
        f"run {run.run_id} of {run.source}: job {job_id} adopted ({run.phase}); the next "
        f"{run.mode} import of {run.source} settles it",
        markup=False,
    )
