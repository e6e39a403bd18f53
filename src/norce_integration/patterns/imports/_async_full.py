"""Full imports: :class:`AsyncFullImport`, written once for asyncio; :class:`FullImport`
(``_sync_full.py``) is generated from it.

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

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..._async_client import AsyncNorce
from ..._exceptions import ConfigurationError, ImportRefusedError
from ...stores import AsyncStore, FullImportRecord, TrackedJob, TrackedStatus
from ..jobs import AsyncFullImportGuard, AsyncJobTracker
from ._adapters import AsyncSourceAdapter, SourceSpec
from ._async_engine import AsyncEngine, AsyncSpoolSink, store_of
from ._async_lookup import AsyncLookupHelper, AsyncQueryLookup
from ._core import (
    Extraction,
    ImportPlan,
    ImportResult,
    ImportStatus,
    Journal,
    ProgressHook,
    Refusal,
    check_shrink,
    extraction_refusals,
    full_config_refusals,
    new_run_id,
    outcome,
    pack_scopes,
    refuse,
    rerun_refusal,
)
from ._spool import (
    ItemSpool,
    group_items,
    new_spool,
    remove_file,
    sample_items,
    split_by_scope,
    spool_prefix,
    work_dir_of,
)


__all__ = ["AsyncFullImport"]

_MODE = "full"


class _AsyncGuardSet:
    """The tracker's ``full_import_guard``: dispatches a re-run to the full import that
    owns the job's kind and account (after any guard the tracker had before)."""

    def __init__(self, previous: AsyncFullImportGuard | None) -> None:
        self.previous = previous
        self.owners: dict[tuple[str, int], AsyncFullImport] = {}

    async def __call__(self, job: TrackedJob) -> None:
        if self.previous is not None:
            # unasync: async-only
            checked = self.previous(job)
            if checked is not None:
                await checked
            # unasync: end
            # unasync: sync-only
            # self.previous(job)
            # unasync: end
        owner = self.owners.get((job.kind, job.account_id))
        if owner is None:
            msg = (
                f"job {job.job_id} is a {job.kind} full import of account {job.account_id}, and "
                "no FullImport of that kind and account is registered with this tracker to check "
                "it; pass force=True to re-run it anyway"
            )
            raise ImportRefusedError(msg, rule="rerun-full-import")
        await owner._check_rerun(job)


class AsyncFullImport:
    """Full imports of one source. See the module docs for the rules.

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
        recovery_grace: seconds between the two ``Job/List`` reads that prove a
            killed run's POST created no job.
        sleep: how to wait ``recovery_grace`` (default: asyncio's / ``time``'s sleep).
        clock: seconds since the epoch.

    Raises:
        ConfigurationError: an option is invalid, or store and tracker disagree.
    """

    def __init__(
        self,
        norce: AsyncNorce,
        spec: SourceSpec,
        adapter: AsyncSourceAdapter[Any],
        *,
        store: AsyncStore | None = None,
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
        recovery_grace: float = 2.0,
        sleep: Callable[[float], Any] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if not 0.0 <= min_ratio <= 1.0:
            raise ConfigurationError(f"must be within 0..1, got {min_ratio}", setting="min_ratio")
        store = store_of(store, tracker)
        self.norce = norce
        self.spec = spec
        self.adapter = adapter
        self.tracker = tracker if tracker is not None else AsyncJobTracker(norce, store)
        self.store = store
        self.lookup: AsyncLookupHelper = (
            lookup if lookup is not None else AsyncQueryLookup(norce.query)
        )
        self._engine = AsyncEngine(
            spec,
            norce,
            self.tracker,
            clock=clock or time.time,
            work_dir=work_dir_of(work_dir),
            compress_spool=compress_spool,
            progress=progress,
            progress_every=progress_every,
            lock_ttl=lock_ttl,
            record_versions=record_versions,
            track_timeout=track_timeout,
            recovery_grace=recovery_grace,
            sleep=sleep,
        )
        self._min_ratio = min_ratio
        self._max_errors = max_mapping_errors
        self._max_error_ratio = max_mapping_error_ratio
        self._config = full_config_refusals(
            spec,
            split_by_scope=split_by_scope,
            trust_product_cluster_scope=trust_product_cluster_scope,
            allow_without_full_file=allow_without_full_file,
        )
        self._scoped = split_by_scope and bool(spec.scope_key)
        current = self.tracker.full_import_guard
        guards = current if isinstance(current, _AsyncGuardSet) else _AsyncGuardSet(current)
        # The guard reads the store: AsyncJobTracker.rerun awaits it.
        self.tracker.full_import_guard = guards
        guards.owners[(spec.kind.value, spec.account_id)] = self

    async def run(self, *, allow_shrink: bool = False, wait: bool = True) -> ImportResult:
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
        engine = self._engine
        refuse(self._config)
        run_id = new_run_id()
        started = engine.now()
        lock = engine.lock(run_id)
        await lock.acquire()
        spool: ItemSpool | None = None
        journal: Journal | None = None
        extra: list[Path] = []
        try:
            recovered = await engine.recover(run_id, refuse_if_running=True)
            await engine.other_journals(full=True)
            refuse(await engine.in_flight(include_lock=False))
            await engine.cleanup_orphans()
            extraction_start = engine.now()
            spool, extraction = await self._extract(run_id, _MODE, lock)
            engine.progress("check", spool.count, spool.count, run_id)
            refuse(
                await self._refusals(extraction, spool.count, allow_shrink=allow_shrink),
                extraction.failure,
            )
            sizes, groups, extra = self._groups(spool, extraction, run_id)
            kind, account = self.spec.kind.value, self.spec.account_id
            before = await self.store.get_last_full_import(kind, account)
            journal = await engine.start_journal(
                run_id=run_id,
                digests=await engine.digests(groups),
                mode=_MODE,
                started_at=extraction_start,
                groups=sizes,
                header=engine.header_value(full=self.spec.has_full_file),
                versions=str(spool.path),
                spool=str(spool.path),
                generation=await engine.slots.generation(),
            )
            journal, notes = await engine.submit(
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
            results = await engine.wait(journal, run_id, lock)
            status = outcome(results)
            if status is not None:
                return engine.result(status=status, jobs=results, **common)
            status, superseded, watermark = await engine.settle(journal, results)
            if status is ImportStatus.FAILED and len(journal.jobs) > 1:
                await self._restore_last_full(before, journal)
            journal = None
            engine.progress("done", 1, 1, run_id, str(status))
            return engine.result(
                status=status, jobs=results, watermark=watermark, superseded=superseded, **common
            )
        finally:
            for path in extra:
                remove_file(path)
            if spool is not None and (journal is None or journal.spool != str(spool.path)):
                spool.delete()
            await lock.release()

    async def plan(self, *, samples: int = 5, allow_shrink: bool = False) -> ImportPlan:
        """What :meth:`run` would send, without calling Connect or changing state.

        The source is extracted and mapped (into a spool that is deleted afterwards);
        every rule that would refuse the run is listed in ``refusals``.

        Raises:
            StoreError: the store failed.
        """
        engine = self._engine
        spool, extraction = await self._extract(new_run_id(), "plan", None)
        try:
            refusals = [
                *self._config,
                *await engine.in_flight(include_lock=True),
                *await self._refusals(extraction, spool.count, allow_shrink=allow_shrink),
            ]
            if self._scoped:
                counts = extraction.scope_counts
                packed = pack_scopes(counts, self.spec.max_items_per_job)
                jobs = tuple(sum(counts[s] for s in scopes) for scopes in packed)
            else:
                jobs = (spool.count,) if spool.count else ()
            last = await self.store.get_last_full_import(self.spec.kind.value, self.spec.account_id)
            return ImportPlan(
                kind=self.spec.kind.value,
                source=self.spec.name,
                account_id=self.spec.account_id,
                mode=_MODE,
                header=engine.header_value(full=self.spec.has_full_file),
                extracted=extraction.extracted,
                item_count=spool.count,
                mapping_errors=tuple(extraction.errors),
                mapping_error_count=extraction.error_count,
                samples=tuple(sample_items(spool.path, samples)),
                scope_groups=dict(extraction.scope_counts),
                jobs=jobs,
                refusals=tuple(refusals),
                last_full_count=last.item_count if last is not None else None,
            )
        finally:
            spool.delete()

    async def resume(self) -> ImportResult | None:
        """Settle this source's interrupted or unwaited run, if any (waiting for its jobs).

        Returns:
            Its result, or ``None`` when there was nothing to resume.

        Raises:
            ImportRefusedError: rule ``in-flight``: another run holds the lock.
            APIError: polling failed for good.
            StoreError: the store failed.
        """
        run_id = new_run_id()
        lock = self._engine.lock(run_id)
        await lock.acquire()
        try:
            return await self._engine.recover(run_id, refuse_if_running=False)
        finally:
            await lock.release()

    # --------------------------------------------------------------- internals

    async def _extract(self, run_id: str, mode: str, lock: Any) -> tuple[ItemSpool, Extraction]:
        engine = self._engine
        engine.bind(self.adapter, mode, run_id, self.lookup)
        spool = new_spool(engine.work_dir, self.spec, run_id, compress=engine.compress_spool)
        try:
            extraction = Extraction(engine.encoder(self.adapter, full=True, scoped=self._scoped))
            await engine.extract(
                self.adapter.fetch_all,
                self.adapter,
                extraction,
                AsyncSpoolSink(spool),
                run_id=run_id,
                lock=lock,
            )
            spool.close()
        except BaseException:
            spool.delete()
            raise
        return spool, extraction

    async def _refusals(
        self, extraction: Extraction, count: int, *, allow_shrink: bool
    ) -> list[Refusal]:
        out = extraction_refusals(
            failure=extraction.failure,
            extracted=extraction.extracted,
            errors=extraction.errors,
            error_count=extraction.error_count,
            max_count=self._max_errors,
            max_ratio=self._max_error_ratio,
            full=True,
        )
        if not allow_shrink:
            last = await self.store.get_last_full_import(self.spec.kind.value, self.spec.account_id)
            shrink = check_shrink(count, last, self._min_ratio)
            if shrink is not None:
                out.append(shrink)
        return out

    def _groups(
        self, spool: ItemSpool, extraction: Extraction, run_id: str
    ) -> tuple[list[int], list[Callable[[], Iterable[bytes]]], list[Path]]:
        """Job sizes and item sources: the whole spool, or one file per packed scope job."""
        if not self._scoped:
            return [spool.count], [group_items(spool.path)], []
        counts = extraction.scope_counts
        packed = pack_scopes(counts, self.spec.max_items_per_job)
        sizes = [sum(counts[s] for s in scopes) for scopes in packed]
        prefix = f"{spool_prefix(self.spec)}{run_id}-"
        paths = split_by_scope(spool, packed, self._engine.work_dir, prefix)
        return sizes, [group_items(p) for p in paths], paths

    async def _restore_last_full(self, before: FullImportRecord | None, journal: Journal) -> None:
        """A split run failed part-way: the tracker recorded a successful scope job as
        the last full import; put the previous record's count back (shrink guard base)."""
        kind, account = self.spec.kind.value, self.spec.account_id
        now = await self.store.get_last_full_import(kind, account)
        if before is None or now is None or now.job_id not in journal.jobs:
            return
        await self.store.set_last_full_import(
            FullImportRecord(
                before.kind,
                before.account_id,
                before.job_id,
                max(now.finished_at, before.finished_at),
                before.item_count,
            )
        )

    async def _check_rerun(self, job: TrackedJob) -> None:
        """The tracker's guard for re-running a full job of this kind and account.

        Raises:
            ImportRefusedError: ``in-flight`` (an import of the kind is running),
                ``shrink-guard`` (the job carried fewer items than ``min_ratio`` of the
                last good full import), or ``stale-rerun`` (a later job of the kind
                succeeded: re-running would overwrite newer data).
        """
        spec, store = self.spec, self.store
        kind, account = spec.kind.value, spec.account_id
        newer = [
            j.job_id
            for j in await store.list_jobs(
                kind=kind,
                account_id=account,
                statuses=[TrackedStatus.SUCCEEDED],
                submitted_after=job.submitted_at,
            )
            if j.job_id != job.job_id
        ]
        refusal = rerun_refusal(
            spec,
            job,
            holder=await store.lock_holder(kind, account),
            busy=await self._engine.unfinished([job.job_id]),
            journal_pending=await self._engine.slots.journal() is not None,
            last=await store.get_last_full_import(kind, account),
            min_ratio=self._min_ratio,
            newer=newer,
        )
        if refusal is not None:
            raise refusal
