"""``norce-integration demo``: the whole story on the embedded emulator."""

from __future__ import annotations

import shlex
from pathlib import Path

import click
from rich.console import Console

from ..patterns import ImportResult, Progress
from ._app import EXIT_ERROR, debug_option, main
from ._ui import ImportProgress, console, print_json, table
from .demo import DemoSummary, run_demo


__all__ = ["demo"]


class RichReporter:
    """Tells the demo's story on a rich console, with a progress bar per import."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self.number = 0
        self._bar: ImportProgress | None = None

    def step(self, title: str) -> None:
        self.number += 1
        self.out.print(f"\n[bold]{self.number}. {title}[/bold]")

    def note(self, text: str) -> None:
        self.out.print(f"   {text}", markup=False)

    def start_import(self, mode: str, source: str, expected: int) -> None:
        self._bar = ImportProgress(self.out, mode, source, expected=expected)
        self._bar.__enter__()

    def progress(self, report: Progress) -> None:
        if self._bar is not None:
            self._bar(report)

    def finish_import(self, result: ImportResult) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None
        jobs = ", ".join(str(j) for j in result.job_ids) or "none"
        self.out.print(
            f"   → {result.status}: {result.item_count:,} items, job {jobs}"
            + (
                f", {result.skipped_unchanged} unchanged skipped"
                if result.skipped_unchanged
                else ""
            ),
            markup=False,
        )


def summary_tables(summary: DemoSummary, out: Console) -> None:
    """The demo's closing tables: the jobs, then the figures."""
    out.print()
    out.print(
        table(
            "Import jobs",
            ("source", "kind", "mode", "status", "items", "job"),
            (
                (
                    line.source,
                    line.kind,
                    line.mode,
                    line.status,
                    f"{line.items:,}",
                    line.job_ids[0] if line.job_ids else "-",
                )
                for line in summary.imports
            ),
        )
    )
    out.print()
    http = summary.http_requests
    rows = [
        ("catalogue rows", f"{summary.catalogue_rows:,}"),
        ("rows changed by the ERP", summary.changed_rows),
        (
            "products discontinued → SKUs deactivated",
            f"{summary.discontinued} → {summary.deactivated_skus}",
        ),
        ("jobs (all tracked to the end)", sum(len(line.job_ids) for line in summary.imports)),
        (
            "webhooks delivered / events processed",
            f"{summary.webhooks_delivered} / {summary.events_processed}",
        ),
        ("jobs resolved by JobCompletedEvent", summary.jobs_resolved_by_event),
        ("entities looked up in Query", summary.entities_looked_up),
        ("Query requests", summary.query_requests),
        ("cache hits / misses", f"{summary.cache_hits} / {summary.cache_misses}"),
        (
            "documents sent to the target (unchanged skipped)",
            f"{summary.target_upserts} ({summary.skipped_unchanged})",
        ),
        (
            "search index: documents / inactive",
            f"{summary.index_documents} / {summary.inactive_in_index}",
        ),
        ("dead letters", summary.dead_letters),
        (
            "orders: pushed / in the ERP / invoiced",
            f"{summary.orders_placed} / {summary.orders_in_erp} / {summary.orders_invoiced}",
        ),
        (
            "HTTP requests: token / connect / query",
            f"{http['token']} / {http['connect']} / {http['query']}",
        ),
        ("emulator time elapsed", f"{summary.emulator_seconds / 3600:.1f} h"),
        ("duration", f"{summary.duration_seconds:.1f} s"),
    ]
    out.print(table("Summary", ("", ""), rows))
    out.print(f"\nTarget: {summary.target_file}\nState:  {summary.state_file}", markup=False)
    out.print(
        "\nOpen the state in the operations console (needs the [ops] extra):\n"
        f"  norce-integration ops serve --store {shlex.quote(summary.state_file)}",
        markup=False,
    )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print only the summary, as JSON.")
@click.option(
    "--output-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-output"),
    show_default=True,
    help="Where the ERP export, the state store and the search index are written.",
)
@debug_option
def demo(as_json: bool, output_dir: Path) -> None:
    """Run the end-to-end demo on the embedded emulator (no Norce account needed).

    A sample ERP catalogue (3,000 SKUs) is imported with full imports, changed and
    imported again with delta imports; Norce's webhooks go to the event handler, which
    looks the changed SKUs up in Query and writes them to a search index (JSON Lines).
    The emulator's clock is simulated: the demo takes seconds.
    """
    if as_json:
        summary = run_demo(output_dir)
        print_json(summary.to_json())
    else:
        out = console()
        out.print(
            "[bold]norce-integration demo[/bold]: "
            "an ERP, Norce (the embedded emulator) and a search index"
        )
        out.print(f"Output: {output_dir.resolve()}", markup=False)
        summary = run_demo(output_dir, reporter=RichReporter(out))
        summary_tables(summary, out)
    if not summary.ok:
        raise click.exceptions.Exit(EXIT_ERROR)
