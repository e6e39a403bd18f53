"""Full imports: :class:`FullImport` (blocking) and its twin :class:`AsyncFullImport`.

A full import sends everything a source has with ``FullFile=true``: Norce deactivates
what the payload does not contain, so the integration heals itself. That is also why a
full import is the most dangerous thing this SDK does; a payload that is accidentally
short deactivates real data. So, before the POST starts:

* the whole extraction is streamed through the adapter's ``map`` into a local spool file
  (memory stays flat) and every item is validated;
* an extraction that did not finish is refused (rule ``partial-extraction``);
* more mapping errors than allowed are refused (``mapping-errors``): each unmapped
  record is an item Norce would deactivate;
* an item count below ``min_ratio`` of the last successful full import is refused
  (``shrink-guard``; ``allow_shrink=True`` overrides), and so is an empty first full
  import (``empty-full-import``);
* another import of the same kind and account in flight refuses it (``in-flight``).

Only then are the spooled items streamed to Connect: one job, or, with
``split_by_scope=True``, one job per group of the kind's scope key (price list for
prices, warehouse + location for on-hands). Never any other split: each job would
deactivate the rows of the others.

On success of every job: earlier failed or pending jobs of the kind and account are
marked superseded (never retried), the run is recorded as the last good full import
(time and item count), item versions are recorded under a new generation, and the
source's delta watermark moves to the extraction's start.

Kinds without ``FullFile`` (price lists, customers, companies) are refused (rule
``no-full-file``) unless ``allow_without_full_file=True``: then a "full import" sends
everything as an ordinary import. Nothing is deactivated, but the guards, the
superseding and the watermark reset apply as above.

Products: the emulator, like Norce's integration-pattern page, deactivates every SKU of
the account that a product FullFile import does not contain, whatever its variant
cluster; the current Connect reference scopes it per cluster (``Code``). Splitting a
product full import by ``Code`` is only safe under the per-cluster reading, so it is
refused (``unsafe-split``) unless ``trust_product_cluster_scope=True``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import orjson

from .._client import AsyncNorce, Norce
from .._exceptions import ConfigurationError, ImportRefusedError
from ..connect.models import ImportKind
from ..stores._protocol import Store, TrackedJob, TrackedStatus
from ._engine import (
    AsyncShell,
    Engine,
    Extraction,
    SyncShell,
    cleanup_source_orphans,
    group_items,
    in_flight,
    refuse,
    store_of,
    work_dir_of,
)
from ._import_core import (
    ImportPlan,
    ImportResult,
    ImportStatus,
    ItemSpool,
    Journal,
    ProgressHook,
    VersionBook,
    check_mapping_errors,
    check_shrink,
    in_flight_jobs,
    in_flight_message,
    new_run_id,
    pack_scopes,
    read_lines,
    remove_file,
    split_line,
    spool_prefix,
)
from .adapters import (
    AsyncLookupHelper,
    AsyncQueryLookup,
    AsyncSourceAdapter,
    LookupHelper,
    QueryLookup,
    SourceAdapter,
    SourceSpec,
)
from .job_tracker import AsyncJobTracker, FullImportGuard, JobTracker


__all__ = ["AsyncFullImport", "FullImport"]

_MODE = "full"
_OPEN_FILES = 128


# ---------------------------------------------------------------------------- guard registry


class _GuardSet:
    """The tracker's ``full_import_guard``: dispatches a re-run to the full import that
    owns the job's kind and account (after any guard the tracker had before)."""

    def __init__(self, previous: FullImportGuard | None) -> None:
        self.previous = previous
        self.owners: dict[tuple[str, int], _FullCore] = {}

    def __call__(self, job: TrackedJob) -> None:
        if self.previous is not None:
            self.previous(job)
        owner = self.owners.get((job.kind, job.account_id))
        if owner is None:
            msg = (
                f"job {job.job_id} is a {job.kind} full import of account {job.account_id}, and "
                "no FullImport of that kind and account is registered with this tracker to check "
                "it; pass force=True to re-run it anyway"
            )
            raise ImportRefusedError(msg, rule="rerun-full-import")
        owner.check_rerun(job)


def _register_guard(tracker: JobTracker | AsyncJobTracker, core: _FullCore) -> None:
    current = tracker.full_import_guard
    if not isinstance(current, _GuardSet):
        current = _GuardSet(current)
        tracker.full_import_guard = current
    current.owners[(core.spec.kind.value, core.spec.account_id)] = core


# ---------------------------------------------------------------------------- core


class _FullCore:
    """Everything both full-import twins decide (no network I/O)."""

    def __init__(
        self,
        spec: SourceSpec,
        store: Store,
        engine: Engine,
        *,
        min_ratio: float,
        max_mapping_errors: int | None,
        max_mapping_error_ratio: float | None,
        split_by_scope: bool,
        trust_product_cluster_scope: bool,
        allow_without_full_file: bool,
        track_timeout: float | None,
    ) -> None:
        if not 0.0 <= min_ratio <= 1.0:
            raise ConfigurationError(f"must be within 0..1, got {min_ratio}", setting="min_ratio")
        self.spec = spec
        self.store = store
        self.engine = engine
        self.min_ratio = min_ratio
        self.max_mapping_errors = max_mapping_errors
        self.max_mapping_error_ratio = max_mapping_error_ratio
        self.split_by_scope = split_by_scope
        self.trust_product_cluster_scope = trust_product_cluster_scope
        self.allow_without_full_file = allow_without_full_file
        self.track_timeout = track_timeout

    # --------------------------------------------------------------- rules

    def config_refusals(self) -> list[tuple[str, str]]:
        """Refusals that follow from the configuration alone."""
        spec = self.spec
        out: list[tuple[str, str]] = []
        if not spec.has_full_file and not self.allow_without_full_file:
            out.append(
                (
                    "no-full-file",
                    (
                        f"{spec.kind.value} imports have no FullFile: a full import would "
                        "deactivate nothing. Pass allow_without_full_file=True to send "
                        "everything as an ordinary import"
                    ),
                )
            )
        if self.split_by_scope:
            if not spec.scope_key:
                out.append(
                    (
                        "unsafe-split",
                        (
                            f"a {spec.kind.value} full import has no scope key and must stay "
                            "one job: split, each job would deactivate the others' rows"
                        ),
                    )
                )
            elif spec.kind is ImportKind.products and not self.trust_product_cluster_scope:
                out.append(
                    (
                        "unsafe-split",
                        (
                            "product FullFile may deactivate every SKU of the account that is "
                            "not in the job (Norce's integration-pattern page; the emulator "
                            "does so), so jobs split by Code would deactivate each other's "
                            "SKUs. Send one job, or pass trust_product_cluster_scope=True if "
                            "your tenant scopes FullFile per variant cluster"
                        ),
                    )
                )
        return out

    def check_config(self) -> None:
        """Raise the first configuration refusal.

        Raises:
            ImportRefusedError: see :meth:`config_refusals`.
        """
        for rule, message in self.config_refusals():
            raise ImportRefusedError(message, rule=rule)

    @property
    def scoped(self) -> bool:
        return self.split_by_scope and bool(self.spec.scope_key)

    def full_header(self) -> str:
        return self.engine.header_value(full=self.spec.has_full_file)

    def extraction_refusals(
        self, extraction: Extraction, count: int, *, allow_shrink: bool
    ) -> list[tuple[str, str]]:
        """Refusals after the extraction (in the order they are raised)."""
        out: list[tuple[str, str]] = []
        if extraction.failure is not None:
            exc = extraction.failure
            out.append(
                (
                    "partial-extraction",
                    (
                        f"the extraction did not finish ({type(exc).__name__}: {exc}) after "
                        f"{extraction.extracted} records; a partial FullFile import would "
                        "deactivate the rest, so nothing was submitted"
                    ),
                )
            )
        message = check_mapping_errors(
            extraction.error_count,
            extraction.extracted,
            max_count=self.max_mapping_errors,
            max_ratio=self.max_mapping_error_ratio,
        )
        if message is not None:
            sample = "; ".join(str(e) for e in extraction.errors[:3])
            out.append(("mapping-errors", f"{message} (first: {sample})"))
        if not allow_shrink:
            last = self.store.get_last_full_import(self.spec.kind.value, self.spec.account_id)
            shrink = check_shrink(count, last, self.min_ratio)
            if shrink is not None:
                out.append(shrink)
        return out

    def check_rerun(self, job: TrackedJob) -> None:
        """The tracker's guard for re-running a full job of this kind and account.

        Raises:
            ImportRefusedError: ``in-flight`` (an import of the kind is running),
                ``shrink-guard`` (the job carried fewer items than ``min_ratio`` of the
                last good full import), or ``stale-rerun`` (a later job of the kind
                succeeded: re-running would overwrite newer data).
        """
        spec = self.spec
        holder = self.store.lock_holder(spec.kind.value, spec.account_id)
        if holder is not None:
            msg = f"an import of {spec.kind.value} is running (lock held by {holder.owner})"
            raise ImportRefusedError(msg, rule="in-flight")
        busy = in_flight_jobs(self.store, spec, exclude=[job.job_id])
        if busy:
            raise ImportRefusedError(in_flight_message(spec, busy), rule="in-flight")
        if Journal.read(self.store, spec) is not None:
            msg = f"a run of {spec.name} is not settled yet; resume it first"
            raise ImportRefusedError(msg, rule="in-flight")
        last = self.store.get_last_full_import(spec.kind.value, spec.account_id)
        shrink = check_shrink(job.item_count, last, self.min_ratio)
        if shrink is not None and shrink[0] == "shrink-guard":
            raise ImportRefusedError(f"re-running job {job.job_id}: {shrink[1]}", rule=shrink[0])
        newer = [
            j.job_id
            for j in self.store.list_jobs(
                kind=spec.kind.value,
                account_id=spec.account_id,
                statuses=[TrackedStatus.SUCCEEDED],
                submitted_after=job.submitted_at,
            )
            if j.job_id != job.job_id
        ]
        if newer:
            msg = (
                f"job(s) {sorted(newer)} of {spec.kind.value} succeeded after job {job.job_id} "
                "was submitted; re-running its payload would overwrite newer data"
            )
            raise ImportRefusedError(msg, rule="stale-rerun")

    # --------------------------------------------------------------- spool and groups

    def new_spool(self, run_id: str) -> ItemSpool:
        return ItemSpool(
            self.engine.work_dir,
            spool_prefix(self.spec) + run_id + "-",
            compress=self.engine.compress_spool,
        )

    def groups(
        self, spool: ItemSpool, extraction: Extraction, run_id: str
    ) -> tuple[list[int], list[Callable[[], Iterable[bytes]]], list[Path]]:
        """Job sizes and item sources: the whole spool, or one file per packed scope job."""
        if not self.scoped:
            return [spool.count], [group_items(spool.path)], []
        packed = pack_scopes(extraction.scope_counts, self.spec.max_items_per_job)
        job_of = {scope: n for n, scopes in enumerate(packed) for scope in scopes}
        sizes = [sum(extraction.scope_counts[s] for s in scopes) for scopes in packed]
        paths = [
            self.engine.work_dir / f"{spool_prefix(self.spec)}{run_id}-job{n:05d}.jsonl"
            for n in range(len(packed))
        ]
        # One pass per batch of open files: few scopes (price lists, warehouses) → one pass.
        for first in range(0, len(paths), _OPEN_FILES):
            batch = range(first, min(first + _OPEN_FILES, len(paths)))
            with contextlib.ExitStack() as stack:
                files: dict[int, IO[bytes]] = {
                    n: stack.enter_context(open(paths[n], "wb", buffering=1 << 20)) for n in batch
                }
                for line in read_lines(spool.path):
                    meta, _ = split_line(line)
                    n = job_of[orjson.loads(meta)[3]]
                    target = files.get(n)
                    if target is not None:
                        target.write(line + b"\n")
        return sizes, [group_items(p) for p in paths], paths

    def plan(
        self, extraction: Extraction, spool: ItemSpool, samples: int, *, allow_shrink: bool
    ) -> ImportPlan:
        refusals = [
            *self.config_refusals(),
            *in_flight(self.store, self.spec, include_lock=True),
            *self.extraction_refusals(extraction, spool.count, allow_shrink=allow_shrink),
        ]
        items: list[dict[str, Any]] = []
        if samples > 0:
            for line in read_lines(spool.path):
                items.append(orjson.loads(split_line(line)[1]))
                if len(items) >= samples:
                    break
        if self.scoped:
            packed = pack_scopes(extraction.scope_counts, self.spec.max_items_per_job)
            jobs = tuple(sum(extraction.scope_counts[s] for s in scopes) for scopes in packed)
        else:
            jobs = (spool.count,) if spool.count else ()
        last = self.store.get_last_full_import(self.spec.kind.value, self.spec.account_id)
        return ImportPlan(
            kind=self.spec.kind.value,
            source=self.spec.name,
            account_id=self.spec.account_id,
            mode=_MODE,
            header=self.full_header(),
            extracted=extraction.extracted,
            item_count=spool.count,
            mapping_errors=tuple(extraction.errors),
            mapping_error_count=extraction.error_count,
            samples=tuple(items),
            scope_groups=dict(extraction.scope_counts),
            jobs=jobs,
            refusals=tuple(refusals),
            last_full_count=last.item_count if last is not None else None,
        )

    def cleanup(
        self, spool: ItemSpool | None, journal: Journal | None, extra: Sequence[Path]
    ) -> None:
        for path in extra:
            remove_file(path)
        if spool is not None:
            keep = journal is not None and journal.spool == str(spool.path)
            if not keep:
                spool.delete()

    def restore_last_full(self, before: Any, journal: Journal) -> None:
        """A split run failed part-way: the tracker recorded a successful scope job as
        the last full import; put the previous record's count back (shrink guard base)."""
        now = self.store.get_last_full_import(self.spec.kind.value, self.spec.account_id)
        if before is None or now is None or now.job_id not in journal.jobs:
            return
        from ..stores._protocol import FullImportRecord  # noqa: PLC0415

        self.store.set_last_full_import(
            FullImportRecord(
                before.kind,
                before.account_id,
                before.job_id,
                max(now.finished_at, before.finished_at),
                before.item_count,
            )
        )


# ---------------------------------------------------------------------------- sync


class FullImport:
    """Full imports of one source (blocking). See the module docs for the rules.

    Example:
        >>> store = SqliteStore("state.db")  # doctest: +SKIP
        >>> full = FullImport(norce, spec, ErpPrices(), store=store)  # doctest: +SKIP
        >>> result = full.run()  # doctest: +SKIP
        >>> result.status, result.job_ids  # doctest: +SKIP

    Args:
        norce: the client.
        spec: the source.
        adapter: the source adapter.
        store: the state store (default: the tracker's).
        tracker: the job tracker (default: a new one on ``store``). The full import
            registers itself as the tracker's ``full_import_guard``, so
            ``tracker.rerun()`` of a full job of this kind and account is refused
            while an import of the kind runs (``in-flight``), when the job carried
            fewer items than ``min_ratio`` of the last good full import
            (``shrink-guard``), and when a later job of the kind succeeded
            (``stale-rerun``).
        lookup: the lookup helper bound to the adapter (default: ``QueryLookup(norce.query)``).
        min_ratio: the shrink guard: refuse fewer items than this fraction of the last
            successful full import.
        max_mapping_errors: refuse more mapping errors than this (``None``: no count
            limit). Default 0: every unmapped record would be deactivated.
        max_mapping_error_ratio: refuse a higher share of mapping errors (``None``: no
            ratio limit).
        split_by_scope: one job per group of the kind's scope key (packed up to
            ``spec.max_items_per_job``).
        trust_product_cluster_scope: allow splitting products by ``Code`` (see module
            docs).
        allow_without_full_file: allow kinds without ``FullFile`` (sent as ordinary imports).
        record_versions: record item versions and fingerprints after success (deltas
            then skip unchanged and stale records).
        work_dir: directory for spool files (default: the temp dir).
        compress_spool: gzip the spool (less disk, more CPU).
        progress: called with every :class:`Progress`.
        progress_every: records between extraction progress reports.
        lock_ttl: seconds the in-flight lock lives without a refresh.
        track_timeout: local wait limit per job (default: the tracker's).
        clock: seconds since the epoch.

    Raises:
        ConfigurationError: an option is invalid, or store and tracker disagree.
    """

    def __init__(
        self,
        norce: Norce,
        spec: SourceSpec,
        adapter: SourceAdapter[Any],
        *,
        store: Store | None = None,
        tracker: JobTracker | None = None,
        lookup: LookupHelper | None = None,
        min_ratio: float = 0.8,
        max_mapping_errors: int | None = 0,
        max_mapping_error_ratio: float | None = None,
        split_by_scope: bool = False,
        trust_product_cluster_scope: bool = False,
        allow_without_full_file: bool = False,
        record_versions: bool = True,
        work_dir: str | os.PathLike[str] | None = None,
        compress_spool: bool = False,
        progress: ProgressHook | None = None,
        progress_every: int = 10_000,
        lock_ttl: float = 900.0,
        track_timeout: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        import time  # noqa: PLC0415

        store = store_of(store, tracker)
        self.norce = norce
        self.spec = spec
        self.adapter = adapter
        self.tracker = tracker if tracker is not None else JobTracker(norce, store)
        self.store = store
        self.lookup: LookupHelper = lookup if lookup is not None else QueryLookup(norce.query)
        engine = Engine(
            spec,
            store,
            clock=clock or time.time,
            work_dir=work_dir_of(work_dir),
            compress_spool=compress_spool,
            progress=progress,
            progress_every=progress_every,
            lock_ttl=lock_ttl,
            record_versions=record_versions,
        )
        self._core = _FullCore(
            spec,
            store,
            engine,
            min_ratio=min_ratio,
            max_mapping_errors=max_mapping_errors,
            max_mapping_error_ratio=max_mapping_error_ratio,
            split_by_scope=split_by_scope,
            trust_product_cluster_scope=trust_product_cluster_scope,
            allow_without_full_file=allow_without_full_file,
            track_timeout=track_timeout,
        )
        self._shell = SyncShell(engine, norce, self.tracker)
        _register_guard(self.tracker, self._core)

    def run(self, *, allow_shrink: bool = False, wait: bool = True) -> ImportResult:
        """Extract, check, submit and track a full import.

        Args:
            allow_shrink: skip the shrink guard (the source really shrank).
            wait: track the jobs to the end; ``False`` returns once they are submitted
                (status ``submitted``: a later run or :meth:`resume` settles them).

        Returns:
            The result (``succeeded``, ``failed``, ``submitted`` or ``timed_out_locally``).

        Raises:
            ImportRefusedError: a safety rule refused; ``rule`` is one of
                ``no-full-file``, ``unsafe-split``, ``in-flight``, ``partial-extraction``,
                ``mapping-errors``, ``shrink-guard``, ``empty-full-import``.
            APIError: a POST or a poll failed for good (a submitted job stays tracked).
            StoreError: the store failed.
        """
        core, engine, shell = self._core, self._core.engine, self._shell
        core.check_config()
        run_id = new_run_id()
        started = engine.now()
        lock = engine.lock(run_id)
        lock.acquire()
        spool: ItemSpool | None = None
        journal: Journal | None = None
        extra: list[Path] = []
        try:
            recovered = shell.recover(run_id, core.track_timeout, refuse_if_running=True)
            refuse(in_flight(self.store, self.spec, include_lock=False))
            cleanup_source_orphans(engine)
            extraction_start = engine.now()
            engine.bind(self.adapter, _MODE, run_id, self.lookup)
            spool = core.new_spool(run_id)
            encoder = engine.encoder(self.adapter, SourceAdapter, full=True, scoped=core.scoped)
            extraction = Extraction(encoder, spool.add)
            shell.extract(
                self.adapter.fetch_all,
                self.adapter,
                SourceAdapter,
                extraction,
                run_id=run_id,
                lock=lock,
            )
            spool.close()
            engine.progress("check", spool.count, spool.count, run_id)
            refuse(
                core.extraction_refusals(extraction, spool.count, allow_shrink=allow_shrink),
                extraction.failure,
            )
            sizes, groups, extra = core.groups(spool, extraction, run_id)
            before = self.store.get_last_full_import(self.spec.kind.value, self.spec.account_id)
            journal = engine.start_journal(
                run_id=run_id,
                mode=_MODE,
                started_at=extraction_start,
                groups=sizes,
                header=core.full_header(),
                versions=str(spool.path),
                spool=str(spool.path),
                generation=VersionBook(self.store, self.spec).generation,
            )
            journal, notes = shell.submit(journal, groups, full=True, run_id=run_id, lock=lock)
            for path in extra:
                remove_file(path)
            extra = []
            common: dict[str, Any] = {
                "run_id": run_id,
                "mode": _MODE,
                "started": started,
                "job_ids": journal.jobs,
                "extraction": extraction,
                "item_count": spool.count,
                "recovered": recovered,
                "warnings": notes,
            }
            if not wait:
                return engine.result(status=ImportStatus.SUBMITTED, **common)
            results = shell.wait(journal, run_id, core.track_timeout, lock)
            status = engine.outcome(results)
            if status is not None:
                return engine.result(status=status, jobs=results, **common)
            status, superseded, watermark = engine.settle(journal, results)
            if status is ImportStatus.FAILED and len(journal.jobs) > 1:
                core.restore_last_full(before, journal)
            journal = None
            engine.progress("done", 1, 1, run_id, str(status))
            return engine.result(
                status=status, jobs=results, watermark=watermark, superseded=superseded, **common
            )
        finally:
            core.cleanup(spool, journal, extra)
            lock.release()

    def plan(self, *, samples: int = 5, allow_shrink: bool = False) -> ImportPlan:
        """What :meth:`run` would send, without calling Connect or changing state.

        The source is extracted and mapped (into a spool that is deleted afterwards);
        every rule that would refuse the run is listed in ``refusals``.

        Raises:
            StoreError: the store failed.
        """
        core, engine = self._core, self._core.engine
        run_id = new_run_id()
        engine.bind(self.adapter, "plan", run_id, self.lookup)
        spool = core.new_spool(run_id)
        try:
            encoder = engine.encoder(self.adapter, SourceAdapter, full=True, scoped=core.scoped)
            extraction = Extraction(encoder, spool.add)
            self._shell.extract(
                self.adapter.fetch_all,
                self.adapter,
                SourceAdapter,
                extraction,
                run_id=run_id,
                lock=None,
            )
            spool.close()
            return core.plan(extraction, spool, samples, allow_shrink=allow_shrink)
        finally:
            spool.delete()

    def resume(self) -> ImportResult | None:
        """Settle this source's interrupted or unwaited run, if any (waiting for its jobs).

        Returns:
            Its result, or ``None`` when there was nothing to resume.

        Raises:
            ImportRefusedError: rule ``in-flight``: another run holds the lock.
            APIError: polling failed for good.
            StoreError: the store failed.
        """
        engine = self._core.engine
        run_id = new_run_id()
        lock = engine.lock(run_id)
        lock.acquire()
        try:
            return self._shell.recover(run_id, self._core.track_timeout, refuse_if_running=False)
        finally:
            lock.release()


# ---------------------------------------------------------------------------- async


class AsyncFullImport:
    """The asyncio twin of :class:`FullImport` (same options; ``run``, ``plan`` and
    ``resume`` are awaited; the adapter is an :class:`AsyncSourceAdapter`).

    Args:
        norce: the async client.
        spec: the source.
        adapter: the async source adapter.
        store: the state store (default: the tracker's).
        tracker: the async job tracker (default: a new one on ``store``).
        lookup: the async lookup helper (default: ``AsyncQueryLookup(norce.query)``).
        min_ratio: see :class:`FullImport`.
        max_mapping_errors: see :class:`FullImport`.
        max_mapping_error_ratio: see :class:`FullImport`.
        split_by_scope: see :class:`FullImport`.
        trust_product_cluster_scope: see :class:`FullImport`.
        allow_without_full_file: see :class:`FullImport`.
        record_versions: see :class:`FullImport`.
        work_dir: see :class:`FullImport`.
        compress_spool: see :class:`FullImport`.
        progress: see :class:`FullImport`.
        progress_every: see :class:`FullImport`.
        lock_ttl: see :class:`FullImport`.
        track_timeout: see :class:`FullImport`.
        clock: see :class:`FullImport`.

    Raises:
        ConfigurationError: an option is invalid, or store and tracker disagree.
    """

    def __init__(
        self,
        norce: AsyncNorce,
        spec: SourceSpec,
        adapter: AsyncSourceAdapter[Any],
        *,
        store: Store | None = None,
        tracker: AsyncJobTracker | None = None,
        lookup: AsyncLookupHelper | None = None,
        min_ratio: float = 0.8,
        max_mapping_errors: int | None = 0,
        max_mapping_error_ratio: float | None = None,
        split_by_scope: bool = False,
        trust_product_cluster_scope: bool = False,
        allow_without_full_file: bool = False,
        record_versions: bool = True,
        work_dir: str | os.PathLike[str] | None = None,
        compress_spool: bool = False,
        progress: ProgressHook | None = None,
        progress_every: int = 10_000,
        lock_ttl: float = 900.0,
        track_timeout: float | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        import time  # noqa: PLC0415

        store = store_of(store, tracker)
        self.norce = norce
        self.spec = spec
        self.adapter = adapter
        self.tracker = tracker if tracker is not None else AsyncJobTracker(norce, store)
        self.store = store
        self.lookup: AsyncLookupHelper = (
            lookup if lookup is not None else AsyncQueryLookup(norce.query)
        )
        engine = Engine(
            spec,
            store,
            clock=clock or time.time,
            work_dir=work_dir_of(work_dir),
            compress_spool=compress_spool,
            progress=progress,
            progress_every=progress_every,
            lock_ttl=lock_ttl,
            record_versions=record_versions,
        )
        self._core = _FullCore(
            spec,
            store,
            engine,
            min_ratio=min_ratio,
            max_mapping_errors=max_mapping_errors,
            max_mapping_error_ratio=max_mapping_error_ratio,
            split_by_scope=split_by_scope,
            trust_product_cluster_scope=trust_product_cluster_scope,
            allow_without_full_file=allow_without_full_file,
            track_timeout=track_timeout,
        )
        self._shell = AsyncShell(engine, norce, self.tracker)
        _register_guard(self.tracker, self._core)

    async def run(self, *, allow_shrink: bool = False, wait: bool = True) -> ImportResult:
        """Async twin of :meth:`FullImport.run`.

        Raises:
            ImportRefusedError: a safety rule refused (see :meth:`FullImport.run`).
            APIError: a POST or a poll failed for good.
            StoreError: the store failed.
        """
        core, engine, shell = self._core, self._core.engine, self._shell
        core.check_config()
        run_id = new_run_id()
        started = engine.now()
        lock = engine.lock(run_id)
        lock.acquire()
        spool: ItemSpool | None = None
        journal: Journal | None = None
        extra: list[Path] = []
        try:
            recovered = await shell.recover(run_id, core.track_timeout, refuse_if_running=True)
            refuse(in_flight(self.store, self.spec, include_lock=False))
            cleanup_source_orphans(engine)
            extraction_start = engine.now()
            engine.bind(self.adapter, _MODE, run_id, self.lookup)
            spool = core.new_spool(run_id)
            encoder = engine.encoder(
                self.adapter, AsyncSourceAdapter, full=True, scoped=core.scoped
            )
            extraction = Extraction(encoder, spool.add)
            await shell.extract(
                self.adapter.fetch_all,
                self.adapter,
                AsyncSourceAdapter,
                extraction,
                run_id=run_id,
                lock=lock,
            )
            spool.close()
            engine.progress("check", spool.count, spool.count, run_id)
            refuse(
                core.extraction_refusals(extraction, spool.count, allow_shrink=allow_shrink),
                extraction.failure,
            )
            sizes, groups, extra = core.groups(spool, extraction, run_id)
            before = self.store.get_last_full_import(self.spec.kind.value, self.spec.account_id)
            journal = engine.start_journal(
                run_id=run_id,
                mode=_MODE,
                started_at=extraction_start,
                groups=sizes,
                header=core.full_header(),
                versions=str(spool.path),
                spool=str(spool.path),
                generation=VersionBook(self.store, self.spec).generation,
            )
            journal, notes = await shell.submit(
                journal, groups, full=True, run_id=run_id, lock=lock
            )
            for path in extra:
                remove_file(path)
            extra = []
            common: dict[str, Any] = {
                "run_id": run_id,
                "mode": _MODE,
                "started": started,
                "job_ids": journal.jobs,
                "extraction": extraction,
                "item_count": spool.count,
                "recovered": recovered,
                "warnings": notes,
            }
            if not wait:
                return engine.result(status=ImportStatus.SUBMITTED, **common)
            results = await shell.wait(journal, run_id, core.track_timeout, lock)
            status = engine.outcome(results)
            if status is not None:
                return engine.result(status=status, jobs=results, **common)
            status, superseded, watermark = engine.settle(journal, results)
            if status is ImportStatus.FAILED and len(journal.jobs) > 1:
                core.restore_last_full(before, journal)
            journal = None
            engine.progress("done", 1, 1, run_id, str(status))
            return engine.result(
                status=status, jobs=results, watermark=watermark, superseded=superseded, **common
            )
        finally:
            core.cleanup(spool, journal, extra)
            lock.release()

    async def plan(self, *, samples: int = 5, allow_shrink: bool = False) -> ImportPlan:
        """Async twin of :meth:`FullImport.plan`.

        Raises:
            StoreError: the store failed.
        """
        core, engine = self._core, self._core.engine
        run_id = new_run_id()
        engine.bind(self.adapter, "plan", run_id, self.lookup)
        spool = core.new_spool(run_id)
        try:
            encoder = engine.encoder(
                self.adapter, AsyncSourceAdapter, full=True, scoped=core.scoped
            )
            extraction = Extraction(encoder, spool.add)
            await self._shell.extract(
                self.adapter.fetch_all,
                self.adapter,
                AsyncSourceAdapter,
                extraction,
                run_id=run_id,
                lock=None,
            )
            spool.close()
            return core.plan(extraction, spool, samples, allow_shrink=allow_shrink)
        finally:
            spool.delete()

    async def resume(self) -> ImportResult | None:
        """Async twin of :meth:`FullImport.resume`.

        Raises:
            ImportRefusedError: rule ``in-flight``: another run holds the lock.
            APIError: polling failed for good.
            StoreError: the store failed.
        """
        engine = self._core.engine
        run_id = new_run_id()
        lock = engine.lock(run_id)
        lock.acquire()
        try:
            return await self._shell.recover(
                run_id, self._core.track_timeout, refuse_if_running=False
            )
        finally:
            lock.release()
