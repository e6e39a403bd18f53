"""``norce-integration import full | delta | plan | runs | resolve``: run a configured source
adapter; see and resolve interrupted runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from .._exceptions import ConfigurationError
from ..patterns import DeltaImport, FullImport, ImportResult, ImportStatus, SourceSpec
from ..patterns.imports import ImportRuns
from ._app import EXIT_ERROR, EXIT_TIMED_OUT, Runtime, main, runtime_options
from ._config import SourceConfig, import_options, instantiate, source_spec
from ._ui import ImportProgress, console, plan_table, print_json, result_table, table


__all__ = ["import_group"]


@main.group("import")
def import_group() -> None:
    """Import a source into Norce: full, delta, or plan (a dry run that sends nothing);
    runs and resolve show and settle interrupted runs.

    The source is a SourceAdapter given as package.module:Class (--adapter or the
    config file's [source] adapter); settings come from --config and NORCE_* variables.
    """


def source_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--source`` and ``--adapter``."""
    fn = click.option(
        "--adapter",
        metavar="MODULE:CLASS",
        help="The source adapter (overrides the config file's adapter).",
    )(fn)
    return click.option(
        "--source",
        "source_name",
        metavar="NAME",
        help="Which [sources.NAME] of the config file (needed when there are several).",
    )(fn)


def load_source(
    rt: Runtime, source_name: str | None, adapter_ref: str | None
) -> tuple[SourceSpec, Any]:
    """The spec and the adapter instance of the chosen source.

    Raises:
        ConfigurationError: no adapter, or the spec cannot be built.
    """
    config = rt.config()
    settings = rt.settings()
    source = config.source(source_name)
    if source is None:
        source = SourceConfig(
            name="",
            adapter=None,
            kind=None,
            account_id=None,
            header={},
            args={},
            options={},
            where="[source]",
        )
    reference = adapter_ref or source.adapter
    if not reference:
        msg = (
            "no source adapter: pass --adapter package.module:Class "
            "or set [source] adapter in --config"
        )
        raise ConfigurationError(msg, setting="--adapter")
    setting = "--adapter" if adapter_ref else f"{source.where}.adapter"
    adapter = instantiate(reference, setting, source.args)
    if not callable(getattr(adapter, "fetch_all", None)) or not callable(
        getattr(adapter, "map", None)
    ):
        msg = f"{reference} is not a SourceAdapter (it needs fetch_all, fetch_changed and map)"
        raise ConfigurationError(msg, setting=setting)
    return source_spec(source, adapter, settings.account_id), adapter


def _finish(result: ImportResult, as_json: bool) -> None:
    if as_json:
        print_json(result)
    else:
        console().print(result_table(result))
    if result.status is ImportStatus.FAILED:
        raise click.exceptions.Exit(EXIT_ERROR)
    if result.status is ImportStatus.TIMED_OUT_LOCALLY:
        raise click.exceptions.Exit(EXIT_TIMED_OUT)


@import_group.command("full")
@source_options
@click.option(
    "--allow-shrink", is_flag=True, help="Skip the shrink guard (the source really shrank)."
)
@click.option("--no-wait", is_flag=True, help="Return once the jobs are submitted.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@runtime_options
def import_full(  # noqa: PLR0917 - click passes options by keyword
    rt: Runtime,
    source_name: str | None,
    adapter: str | None,
    allow_shrink: bool,
    no_wait: bool,
    as_json: bool,
) -> None:
    """Full import: everything the source has, FullFile=true (Norce deactivates the rest).

    Guarded: refused when the extraction failed, mappings failed, or the item count
    shrank below [import] min_ratio of the last good full import.
    """
    spec, source = load_source(rt, source_name, adapter)
    options = import_options(rt.config(), full=True)
    if as_json:
        result = FullImport(rt.norce(), spec, source, tracker=rt.tracker(), **options).run(
            allow_shrink=allow_shrink, wait=not no_wait
        )
    else:
        with ImportProgress(console(), "full", spec.name) as bar:
            run = FullImport(
                rt.norce(), spec, source, tracker=rt.tracker(), progress=bar, **options
            )
            result = run.run(allow_shrink=allow_shrink, wait=not no_wait)
    _finish(result, as_json)


@import_group.command("delta")
@source_options
@click.option(
    "--mode",
    type=click.Choice(["watermark", "fingerprint"]),
    help="Change tracking [default: [import] delta_mode, else watermark].",
)
@click.option("--no-wait", is_flag=True, help="Return once the job is submitted.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@runtime_options
def import_delta(  # noqa: PLR0917 - click passes options by keyword
    rt: Runtime,
    source_name: str | None,
    adapter: str | None,
    mode: str | None,
    no_wait: bool,
    as_json: bool,
) -> None:
    """Delta import: what changed since the last successful run, as one job.

    Run it on a schedule (cron, a timer); the watermark moves only after Norce reports
    the job succeeded.
    """
    spec, source = load_source(rt, source_name, adapter)
    options = import_options(rt.config(), full=False)
    if mode is not None:
        options["mode"] = mode
    if as_json:
        result = DeltaImport(rt.norce(), spec, source, tracker=rt.tracker(), **options).run(
            wait=not no_wait
        )
    else:
        with ImportProgress(console(), "delta", spec.name) as bar:
            run = DeltaImport(
                rt.norce(), spec, source, tracker=rt.tracker(), progress=bar, **options
            )
            result = run.run(wait=not no_wait)
    _finish(result, as_json)


@import_group.command("plan")
@source_options
@click.option("--full", "full", is_flag=True, help="Plan a full import (default: a delta).")
@click.option(
    "--samples", default=3, show_default=True, type=click.IntRange(0), help="Items to show."
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@runtime_options
def import_plan(  # noqa: PLR0917 - click passes options by keyword
    rt: Runtime,
    source_name: str | None,
    adapter: str | None,
    full: bool,
    samples: int,
    as_json: bool,
) -> None:
    """Dry run: extract and map, show what would be sent and what would refuse it.

    Nothing is sent to Connect and no state changes (lookups the adapter makes still
    read Query). Exits 1 when the run would be refused.
    """
    spec, source = load_source(rt, source_name, adapter)
    norce, store = rt.norce(), rt.store(missing_as_empty=True)
    if full:
        options = import_options(rt.config(), full=True)
        plan = FullImport(norce, spec, source, store=store, **options).plan(samples=samples)
    else:
        options = import_options(rt.config(), full=False)
        plan = DeltaImport(norce, spec, source, store=store, **options).plan(samples=samples)
    if as_json:
        print_json(plan)
    else:
        console().print(plan_table(plan))
    if plan.refusals:
        raise click.exceptions.Exit(EXIT_ERROR)


@import_group.command("runs")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@runtime_options
def import_runs(rt: Runtime, as_json: bool) -> None:
    """Import runs not settled yet (interrupted, unwaited or held); reads only the store."""
    found = ImportRuns(rt.store(must_exist=True)).list()
    if as_json:
        print_json(found)
        return
    out = console()
    out.print(
        table(
            f"{len(found)} pending run(s)",
            ("run", "kind", "account", "source", "mode", "phase", "jobs", "candidates"),
            [
                (
                    r.run_id,
                    r.kind,
                    r.account_id,
                    r.source,
                    r.mode,
                    r.phase,
                    ", ".join(str(j) for j in r.jobs) or "-",
                    ", ".join(str(j) for j in r.candidates) or "-",
                )
                for r in found
            ],
        )
    )
    for r in found:
        if r.held:
            out.print(f"run {r.run_id} is held: {r.held}", markup=False)


@import_group.command("resolve")
@click.argument("run_id", metavar="RUN")
@click.option(
    "--sent/--not-sent",
    "sent",
    default=None,
    help=(
        "--not-sent: no Connect job was created, the run is rolled back and its records "
        "are sent again. --sent: a job was created but cannot be named; the run settles "
        "as failed and its records are sent again (a full import waits until no job it "
        "may own still runs)."
    ),
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@runtime_options
def import_resolve(rt: Runtime, run_id: str, sent: bool | None, as_json: bool) -> None:
    """Resolve the held (or interrupted) import run RUN without a job id.

    A run killed before its job id was stored, whose outcome the SDK could not prove,
    holds every import of its kind (RunHeldError). If Norce has the run's job, adopt it
    instead: norce-integration jobs adopt RUN JOB_ID. The watermark never moves here.
    """
    if sent is None:
        msg = "say what happened: --sent or --not-sent"
        raise ConfigurationError(msg, setting="--sent/--not-sent")
    store = rt.store(must_exist=True)
    run = ImportRuns(store).get(run_id)
    norce = rt.norce() if sent and run.mode == "full" else None
    after = ImportRuns(store, norce).resolve(run_id, sent=sent)
    if as_json:
        print_json({"run_id": run_id, "sent": sent, "pending": after})
        return
    state = "rolled back" if after is None else f"{after.phase}, settled by the next run"
    console().print(
        f"run {run_id} of {run.source} resolved as {'sent' if sent else 'not sent'}: {state}; "
        f"the next {run.mode} import sends its records again",
        markup=False,
    )
