# GENERATED FILE: do not edit. The blocking twin of
# src/norce_integration/patterns/imports/_async_delta.py, made by `python scripts/gen_sync.py`.
# Edit the async source and run that command again.
"""Delta imports: :class:`AsyncDeltaImport`, written once for asyncio; :class:`DeltaImport`
(``_sync_delta.py``) is generated from it.

A delta import sends what changed since the last run, with ``FullFile=false``, as one
job. It is built for schedules (cron, a CLI loop), never for one call per change.

Watermark mode (the default) reads the source's watermark and asks the adapter for
records changed in ``[watermark - overlap, now - lag)``: the overlap re-reads records
that arrived late (at-least-once; Norce imports are upserts), the lag leaves time for
the source's own transactions to commit. Fingerprint mode (``mode="fingerprint"``) is
for sources without change tracking: it extracts everything and sends only items whose
content hash differs from what was last sent for their key.

Either way, the extracted records are:

* de-duplicated by key, the newest version winning;
* checked against the item versions already sent: a record older than what was sent
  for its key is skipped (a late or retried run never overwrites newer data), and
  content already sent unchanged is skipped;
* sent as one job, tracked to the end.

State moves only after Norce reports the job succeeded: then the item versions are
recorded (they are kept in the run's spool until then, named by the run journal, so a
killed run's successor can record them) and the watermark moves forward to the window's
end (compare-and-set, never backwards). After a failure nothing moves and the next run
covers the window again. With mapping errors the watermark stays too (the failed records
are retried next run) unless ``advance_past_errors=True``.

Scheduling rules: a run less than ``spec.min_interval`` seconds after the last
successful one is refused (``min-interval``, naming the wait); a run with fewer than
``spec.min_items`` items within ``spec.small_batch_window`` of the last one warns
(:class:`SmallBatchWarning`) or is refused (``small-batch``), per ``spec.small_batch``.
Only one import per kind and account is ever in flight (``in-flight``).
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal

from ..._exceptions import ConfigurationError
from ..._sync_client import Norce
from ...stores import Store
from ..jobs import JobTracker
from ._adapters import SourceAdapter, SourceSpec
from ._core import (
    Extraction,
    ImportPlan,
    ImportResult,
    ImportStatus,
    Journal,
    ProgressHook,
    Refusal,
    Window,
    delta_window,
    extraction_refusals,
    interval_refusal,
    new_run_id,
    outcome,
    refuse,
    small_batch_text,
)
from ._spool import (
    ItemSpool,
    group_items,
    new_spool,
    remove_file,
    sample_items,
    select_lines,
    spool_prefix,
    work_dir_of,
)
from ._sync_engine import CandidateSet, Engine, RunLock, store_of
from ._sync_lookup import LookupHelper, QueryLookup


__all__ = ["DeltaImport", "DeltaMode"]

DeltaMode = Literal["watermark", "fingerprint"]
"""``"watermark"``: ``fetch_changed(since, until)``; ``"fingerprint"``: ``fetch_all()``
and send only what changed by content."""


class DeltaImport:
    """Delta imports of one source. See the module docs for the rules.

    Example:
        >>> delta = DeltaImport(norce, spec, ErpPrices(), store=store)  # doctest: +SKIP
        >>> result = delta.run()  # doctest: +SKIP

    Args:
        norce: the client.
        spec: the source (its ``min_interval``, ``min_items``, ``small_batch`` apply).
        adapter: the source adapter.
        store: the state store (default: the tracker's).
        tracker: the job tracker (default: a new one on ``store``).
        lookup: the lookup helper bound to the adapter (default: ``QueryLookup(norce.query)``).
        mode: ``"watermark"`` or ``"fingerprint"``.
        overlap: seconds the window reaches back before the watermark (late records).
        lag: seconds the window stays behind now (uncommitted source transactions).
        initial_since: ``since`` of the first run (``None``: everything up to now).
        skip_unchanged: skip records whose content was already sent unchanged.
        max_mapping_errors: refuse more mapping errors than this (``None``: no limit).
        max_mapping_error_ratio: refuse a higher share of mapping errors (default 5%).
        advance_past_errors: move the watermark even when some records could not be
            mapped (they are then only retried when they change again).
        record_versions: record item versions after success (needed for the stale and
            unchanged checks and for fingerprint mode).
        work_dir: directory for spool files (default: the temp dir).
        compress_spool: gzip the spool.
        progress: called with every :class:`Progress`.
        progress_every: records between extraction progress reports.
        lock_ttl: seconds the in-flight lock lives without a refresh.
        track_timeout: local wait limit for the job (default: the tracker's).
        recovery_grace: seconds between the two ``Job/List`` reads that prove a
            killed run's POST created no job.
        sleep: how to wait ``recovery_grace`` (default: asyncio's / ``time``'s sleep).
        clock: seconds since the epoch (the window and the intervals use it).

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
        mode: DeltaMode = "watermark",
        overlap: float = 120.0,
        lag: float = 0.0,
        initial_since: dt.datetime | None = None,
        skip_unchanged: bool = True,
        max_mapping_errors: int | None = None,
        max_mapping_error_ratio: float | None = 0.05,
        advance_past_errors: bool = False,
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
        if mode not in ("watermark", "fingerprint"):
            msg = f"must be 'watermark' or 'fingerprint', got {mode!r}"
            raise ConfigurationError(msg, setting="mode")
        if overlap < 0 or lag < 0:
            raise ConfigurationError("overlap and lag must not be negative", setting="overlap")
        store = store_of(store, tracker)
        self.norce = norce
        self.spec = spec
        self.adapter = adapter
        self.tracker = tracker if tracker is not None else JobTracker(norce, store)
        self.store = store
        self.lookup: LookupHelper = lookup if lookup is not None else QueryLookup(norce.query)
        self._engine = Engine(
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
        self._fingerprint = mode == "fingerprint"
        self._mode = "fingerprint" if self._fingerprint else "delta"
        self._overlap = overlap
        self._lag = lag
        self._initial_since = initial_since
        self._skip_unchanged = skip_unchanged
        self._max_errors = max_mapping_errors
        self._max_error_ratio = max_mapping_error_ratio
        self._advance_past_errors = advance_past_errors

    def run(self, *, wait: bool = True) -> ImportResult:
        """Extract what changed, submit it as one job, track it, then move the watermark.

        Args:
            wait: track the job to the end; ``False`` returns once it is submitted
                (status ``submitted``: a later run or :meth:`resume` settles it).

        Returns:
            The result (``succeeded``, ``failed``, ``empty``, ``submitted`` or
            ``timed_out_locally``).

        Raises:
            ImportRefusedError: a rule refused; ``rule`` is one of ``in-flight``,
                ``min-interval``, ``partial-extraction``, ``mapping-errors``,
                ``small-batch``.
            APIError: the POST or a poll failed for good (a submitted job stays tracked).
            StoreError: the store failed.
        """
        engine = self._engine
        run_id = new_run_id()
        started = engine.now()
        lock = engine.lock(run_id)
        lock.acquire()
        spool: ItemSpool | None = None
        send: Path | None = None
        journal: Journal | None = None
        try:
            recovered = engine.recover(run_id, refuse_if_running=True)
            engine.other_journals(full=False)
            refuse(engine.in_flight(include_lock=False))
            engine.cleanup_orphans()
            before, moved_at = engine.watermark()
            now = engine.now()
            since_last = None if moved_at is None else now - moved_at
            interval = interval_refusal(self.spec, since_last)
            refuse([interval] if interval is not None else [])
            window = self._window(before, now)
            if window is None:
                return engine.result(
                    run_id=run_id,
                    mode=self._mode,
                    status=ImportStatus.EMPTY,
                    started=started,
                    watermark=before,
                    recovered=recovered,
                )
            spool, extraction, candidates = self._extract(run_id, self._mode, window, lock)
            winners = candidates.lines()
            spool.close()
            engine.progress("check", len(winners), extraction.extracted, run_id)
            refuse(self._refusals(extraction), extraction.failure)
            advance = extraction.error_count == 0 or self._advance_past_errors
            common: dict[str, Any] = {
                "run_id": run_id,
                "mode": self._mode,
                "started": started,
                "extraction": extraction,
                "duplicates": candidates.duplicates,
                "skipped_stale": candidates.skipped_stale,
                "skipped_unchanged": candidates.skipped_unchanged,
                "window": window.window,
                "recovered": recovered,
            }
            if not winners:
                watermark = (
                    engine.advance_watermark(window.new_watermark, expected=before)
                    if advance
                    else before
                )
                return engine.result(status=ImportStatus.EMPTY, watermark=watermark, **common)
            note = engine.small_batch(len(winners), since_last, run_id)
            send = select_lines(
                spool.path,
                winners,
                engine.work_dir / f"{spool_prefix(self.spec)}{run_id}-send.jsonl",
            )
            spool.delete()
            spool = None
            journal = engine.start_journal(
                run_id=run_id,
                digests=engine.digests([group_items(send)]),
                mode=self._mode,
                started_at=now,
                groups=[len(winners)],
                header=engine.header_value(full=False),
                versions=str(send),
                spool=str(send),
                generation=candidates.book.generation,
                watermark_before=before,
                until=window.new_watermark if advance else None,
            )
            journal, notes = engine.submit(
                journal, [group_items(send)], full=False, run_id=run_id, lock=lock
            )
            notes = [note, *notes] if note else notes
            common.update(job_ids=journal.jobs, item_count=len(winners), warnings=notes)
            if not wait:
                return engine.result(status=ImportStatus.SUBMITTED, watermark=before, **common)
            results = engine.wait(journal, run_id, lock)
            status = outcome(results)
            if status is not None:
                return engine.result(status=status, jobs=results, watermark=before, **common)
            status, _, watermark = engine.settle(journal, results)
            journal = None
            send = None
            engine.progress("done", 1, 1, run_id, str(status))
            return engine.result(status=status, jobs=results, watermark=watermark, **common)
        finally:
            if spool is not None:
                spool.delete()
            if send is not None and (journal is None or journal.spool != str(send)):
                remove_file(send)
            lock.release()

    def plan(self, *, samples: int = 5) -> ImportPlan:
        """What :meth:`run` would send now, without calling Connect or changing state.

        Raises:
            StoreError: the store failed.
        """
        engine = self._engine
        mark, moved_at = engine.watermark()
        now = engine.now()
        since_last = None if moved_at is None else now - moved_at
        refusals = list(engine.in_flight(include_lock=True))
        interval = interval_refusal(self.spec, since_last)
        if interval is not None:
            refusals.append(interval)
        common: dict[str, Any] = {
            "kind": self.spec.kind.value,
            "source": self.spec.name,
            "account_id": self.spec.account_id,
            "mode": self._mode,
            "header": engine.header_value(full=False),
        }
        window = self._window(mark, now)
        if window is None:
            return ImportPlan(refusals=tuple(refusals), **common)
        spool, extraction, candidates = self._extract(new_run_id(), "plan", window, None)
        try:
            refusals.extend(self._refusals(extraction))
            winners = candidates.lines()
            spool.close()
            text = small_batch_text(self.spec, len(winners), since_last)
            if text is not None and self.spec.small_batch == "refuse":
                refusals.append(("small-batch", text))
            return ImportPlan(
                extracted=extraction.extracted,
                item_count=len(winners),
                duplicates=candidates.duplicates,
                skipped_stale=candidates.skipped_stale,
                skipped_unchanged=candidates.skipped_unchanged,
                mapping_errors=tuple(extraction.errors),
                mapping_error_count=extraction.error_count,
                samples=tuple(sample_items(spool.path, samples, winners)),
                jobs=(len(winners),) if winners else (),
                window=window.window,
                refusals=tuple(refusals),
                **common,
            )
        finally:
            spool.delete()

    def resume(self) -> ImportResult | None:
        """Settle this source's interrupted or unwaited run, if any (waiting for its job).

        Returns:
            Its result, or ``None`` when there was nothing to resume.

        Raises:
            ImportRefusedError: rule ``in-flight``: another run holds the lock.
            APIError: polling failed for good.
            StoreError: the store failed.
        """
        run_id = new_run_id()
        lock = self._engine.lock(run_id)
        lock.acquire()
        try:
            return self._engine.recover(run_id, refuse_if_running=False)
        finally:
            lock.release()

    # --------------------------------------------------------------- internals

    def _window(self, watermark: str | None, now: float) -> Window | None:
        return delta_window(
            watermark,
            now,
            fingerprint=self._fingerprint,
            lag=self._lag,
            overlap=self._overlap,
            initial_since=self._initial_since,
        )

    def _records(self, window: Window) -> Callable[[], Iterable[Any]]:
        if window.fingerprint:
            return self.adapter.fetch_all
        return lambda: self.adapter.fetch_changed(window.since, window.until)

    def _extract(
        self, run_id: str, mode: str, window: Window, lock: RunLock | None
    ) -> tuple[ItemSpool, Extraction, CandidateSet]:
        engine = self._engine
        engine.bind(self.adapter, mode, run_id, self.lookup)
        spool = new_spool(engine.work_dir, self.spec, run_id, compress=engine.compress_spool)
        try:
            candidates = CandidateSet(engine.book(), spool, skip_unchanged=self._skip_unchanged)
            extraction = Extraction(engine.encoder(self.adapter, full=False, scoped=False))
            engine.extract(
                self._records(window),
                self.adapter,
                extraction,
                candidates,
                run_id=run_id,
                lock=lock,
            )
        except BaseException:
            spool.delete()
            raise
        return spool, extraction, candidates

    def _refusals(self, extraction: Extraction) -> list[Refusal]:
        return extraction_refusals(
            failure=extraction.failure,
            extracted=extraction.extracted,
            errors=extraction.errors,
            error_count=extraction.error_count,
            max_count=self._max_errors,
            max_ratio=self._max_error_ratio,
            full=False,
        )
