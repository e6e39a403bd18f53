"""Terminal output: rich consoles, progress bars for imports, tables, JSON."""

from __future__ import annotations

import datetime as dt
import enum
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from ..patterns import ImportPlan, ImportResult
from ..patterns import Progress as ImportProgressReport


__all__ = [
    "ImportProgress",
    "console",
    "error_console",
    "jsonable",
    "plan_table",
    "print_json",
    "result_table",
    "table",
]

_PHASES = {
    "recover": "finishing an earlier run",
    "extract": "extracting",
    "check": "checking",
    "submit": "submitting",
    "track": "tracking the job",
    "finalize": "finalizing",
    "done": "done",
}


def console() -> Console:
    """A console on the current ``sys.stdout`` (click's test runner swaps it)."""
    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def error_console() -> Console:
    """A console on the current ``sys.stderr``."""
    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def jsonable(value: Any) -> Any:
    """Plain JSON types for attrs records, enums, datetimes, decimals, paths, bytes."""
    if attrs.has(type(value)):
        return {k: jsonable(v) for k, v in attrs.asdict(value, recurse=False).items()}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON on stdout (nothing else goes there)."""
    sys.stdout.write(json.dumps(jsonable(value), indent=2, ensure_ascii=False) + "\n")


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    """A simple rich table."""
    out = Table(
        title=title,
        title_justify="left",
        show_edge=False,
        pad_edge=False,
        show_header=any(columns),
    )
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*("" if v is None else str(v) for v in row))
    return out


class ImportProgress:
    """A rich progress bar fed by an import's progress hook.

    Example:
        with ImportProgress(console, "full", "erp-prices", expected=3000) as bar:
            FullImport(..., progress=bar).run()
    """

    def __init__(
        self, out: Console, mode: str, source: str, *, expected: int | None = None
    ) -> None:
        self.mode = mode
        self.source = source
        self.expected = expected
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=out,
            transient=False,
        )
        self._task: TaskID | None = None
        self._extracted = 0

    def __enter__(self) -> ImportProgress:
        self._progress.start()
        self._task = self._progress.add_task(self._label("starting"), total=self.expected)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def _label(self, phase: str, message: str = "") -> str:
        text = f"{self.mode} {self.source}: {_PHASES.get(phase, phase)}"
        return f"{text} ({message})" if message else text

    def __call__(self, report: ImportProgressReport) -> None:
        """The progress hook."""
        if self._task is None:
            return
        if report.phase == "extract":
            self._extracted = report.done
            total = report.total if report.total is not None else self.expected
            total = max(total or 0, report.done) or None
        elif report.phase == "done":
            # Keep the bar full at the extracted count: the last thing worth reading.
            done = self._extracted or 1
            message = report.message
            self._progress.update(
                self._task, description=self._label("done", message), completed=done, total=done
            )
            return
        else:
            total = report.total
        self._progress.update(
            self._task,
            description=self._label(report.phase, report.message),
            completed=report.done,
            total=total,
        )


def result_rows(result: ImportResult) -> list[tuple[str, Any]]:
    """The figures of an import result, as (name, value) rows."""
    rows: list[tuple[str, Any]] = [
        ("source", f"{result.source} ({result.kind}, account {result.account_id})"),
        ("mode", result.mode),
        ("status", str(result.status)),
        ("jobs", ", ".join(str(j) for j in result.job_ids) or "-"),
        ("extracted", result.extracted),
        ("items sent", result.item_count),
    ]
    if result.mode != "full":
        rows += [
            ("skipped (unchanged)", result.skipped_unchanged),
            ("skipped (stale)", result.skipped_stale),
            ("duplicates", result.duplicates),
        ]
    if result.inserts is not None:
        rows += [
            ("inserts / updates / fail", f"{result.inserts} / {result.updates} / {result.fail}")
        ]
    rows.append(("mapping errors", result.mapping_error_count))
    if result.superseded:
        rows.append(("superseded", ", ".join(str(j) for j in result.superseded)))
    if result.watermark:
        rows.append(("watermark", result.watermark))
    rows.append(("duration", f"{result.duration:.1f}s"))
    rows += [("warning", w) for w in result.warnings]
    rows += [("mapping error", str(e)) for e in result.mapping_errors[:5]]
    return rows


def result_table(result: ImportResult) -> Table:
    """An import result as a two-column table."""
    return table(None, ("", ""), result_rows(result))


def plan_table(plan: ImportPlan) -> Table:
    """An import plan as a two-column table."""
    rows: list[tuple[str, Any]] = [
        ("source", f"{plan.source} ({plan.kind}, account {plan.account_id})"),
        ("mode", plan.mode),
        ("header", plan.header),
        ("extracted", plan.extracted),
        ("items to send", plan.item_count),
        ("jobs", ", ".join(f"{n} items" for n in plan.jobs) or "none"),
    ]
    if plan.window is not None:
        since, until = plan.window
        rows.append(
            ("window", f"{since.isoformat() if since else 'beginning'} .. {until.isoformat()}")
        )
    if plan.mode != "full":
        rows += [
            ("skipped (unchanged)", plan.skipped_unchanged),
            ("skipped (stale)", plan.skipped_stale),
        ]
    if plan.last_full_count is not None:
        rows.append(("last full import", f"{plan.last_full_count} items"))
    rows.append(("mapping errors", plan.mapping_error_count))
    rows += [("mapping error", str(e)) for e in plan.mapping_errors[:5]]
    rows += [("REFUSED", f"{rule}: {message}") for rule, message in plan.refusals]
    rows += [("sample", json.dumps(jsonable(s), ensure_ascii=False)) for s in plan.samples]
    return table(None, ("", ""), rows)
