"""Delta imports: :class:`DeltaImport` (blocking) and its twin :class:`AsyncDeltaImport`.

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
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import orjson

from .._client import AsyncNorce, Norce
from .._exceptions import ConfigurationError
from ..stores._protocol import Store, Watermark, sortable_watermark
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
    CandidateSet,
    ImportPlan,
    ImportResult,
    ImportStatus,
    ItemSpool,
    Journal,
    ProgressHook,
    VersionBook,
    advance_watermark,
    check_mapping_errors,
    new_run_id,
    parse_watermark,
    read_lines,
    remove_file,
    split_line,
    spool_prefix,
    utc,
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
from .job_tracker import AsyncJobTracker, JobTracker


__all__ = ["AsyncDeltaImport", "DeltaMode", "DeltaImport"]

DeltaMode = Literal["watermark", "fingerprint"]
"""``"watermark"``: ``fetch_changed(since, until)``; ``"fingerprint"``: ``fetch_all()``
and send only what changed by content."""


class _Window:
    """What a run reads: the records to ask for and the watermark to set on success."""

    def __init__(
        self,
        *,
        since: dt.datetime | None,
        until: dt.datetime,
        new_watermark: str,
        fingerprint: bool,
    ) -> None:
        self.since = since
        self.until = until
        self.new_watermark = new_watermark
        self.fingerprint = fingerprint

    @property
    def window(self) -> tuple[dt.datetime | None, dt.datetime] | None:
        return None if self.fingerprint else (self.since, self.until)


class _DeltaCore:
    """Everything both delta twins decide (no network I/O)."""

    def __init__(
        self,
        spec: SourceSpec,
        store: Store,
        engine: Engine,
        *,
        mode: DeltaMode,
        overlap: float,
        lag: float,
        initial_since: dt.datetime | None,
        skip_unchanged: bool,
        max_mapping_errors: int | None,
        max_mapping_error_ratio: float | None,
        advance_past_errors: bool,
        track_timeout: float | None,
    ) -> None:
        if mode not in ("watermark", "fingerprint"):
            msg = f"must be 'watermark' or 'fingerprint', got {mode!r}"
            raise ConfigurationError(msg, setting="mode")
        if overlap < 0 or lag < 0:
            raise ConfigurationError("overlap and lag must not be negative", setting="overlap")
        self.spec = spec
        self.store = store
        self.engine = engine
        self.mode: DeltaMode = mode
        self.overlap = overlap
        self.lag = lag
        self.initial_since = initial_since
        self.skip_unchanged = skip_unchanged
        self.max_mapping_errors = max_mapping_errors
        self.max_mapping_error_ratio = max_mapping_error_ratio
        self.advance_past_errors = advance_past_errors
        self.track_timeout = track_timeout

    @property
    def fingerprint(self) -> bool:
        return self.mode == "fingerprint"

    @property
    def mode_name(self) -> str:
        return "fingerprint" if self.fingerprint else "delta"

    def watermark(self) -> Watermark | None:
        return self.store.get_watermark(self.spec.kind.value, self.spec.account_id, self.spec.name)

    def interval_refusal(self, mark: Watermark | None, now: float) -> tuple[str, str] | None:
        """``min-interval`` when the last successful run was too recent."""
        interval = self.spec.min_interval
        if mark is None or interval <= 0:
            return None
        since = now - mark.updated_at.timestamp()
        if since >= interval:
            return None
        return (
            "min-interval",
            (
                f"{self.spec.name}: the last successful run was {since:.0f}s ago and "
                f"min_interval is {interval:.0f}s; wait {interval - since:.0f}s more "
                "(deltas run on a schedule and coalesce changes)"
            ),
        )

    def window(self, mark: Watermark | None, now: float) -> _Window | None:
        """The run's window, or ``None`` when ``now - lag`` is not past the watermark."""
        until = utc(now - self.lag)
        if self.fingerprint:
            return _Window(
                since=None,
                until=until,
                new_watermark=sortable_watermark(utc(now)),
                fingerprint=True,
            )
        current = parse_watermark(mark.value) if mark is not None else None
        if current is not None and until <= current:
            return None
        since = (
            current - dt.timedelta(seconds=self.overlap)
            if current is not None
            else self.initial_since
        )
        return _Window(
            since=since, until=until, new_watermark=sortable_watermark(until), fingerprint=False
        )

    def header(self) -> str:
        return self.engine.header_value(full=False)

    def new_spool(self, run_id: str) -> ItemSpool:
        return ItemSpool(
            self.engine.work_dir,
            spool_prefix(self.spec) + run_id + "-",
            compress=self.engine.compress_spool,
        )

    def extraction(
        self, adapter: Any, base: type[Any], spool: ItemSpool
    ) -> tuple[Extraction, CandidateSet]:
        book = VersionBook(self.store, self.spec)
        candidates = CandidateSet(book, spool, skip_unchanged=self.skip_unchanged)
        encoder = self.engine.encoder(adapter, base, full=False, scoped=False)
        return Extraction(encoder, candidates.add), candidates

    def extraction_refusals(self, extraction: Extraction) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        if extraction.failure is not None:
            exc = extraction.failure
            out.append(
                (
                    "partial-extraction",
                    (
                        f"the extraction did not finish ({type(exc).__name__}: {exc}) after "
                        f"{extraction.extracted} records; nothing was submitted and the "
                        "watermark did not move"
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
        return out

    def send_file(self, spool: ItemSpool, winners: set[int], run_id: str) -> Path:
        """Copy the winning lines to the file that is sent and recorded on success."""
        path = self.engine.work_dir / f"{spool_prefix(self.spec)}{run_id}-send.jsonl"
        with open(path, "wb", buffering=1 << 20) as out:
            for number, line in enumerate(read_lines(spool.path)):
                if number in winners:
                    out.write(line + b"\n")
        return path

    def since_last(self, mark: Watermark | None, now: float) -> float | None:
        return None if mark is None else now - mark.updated_at.timestamp()

    def plan(
        self,
        *,
        extraction: Extraction | None,
        candidates: CandidateSet | None,
        spool: ItemSpool | None,
        window: _Window | None,
        mark: Watermark | None,
        now: float,
        samples: int,
    ) -> ImportPlan:
        refusals = list(in_flight(self.store, self.spec, include_lock=True))
        interval = self.interval_refusal(mark, now)
        if interval is not None:
            refusals.append(interval)
        winners: set[int] = set()
        items: list[dict[str, Any]] = []
        if extraction is not None and candidates is not None and spool is not None:
            refusals.extend(self.extraction_refusals(extraction))
            winners = candidates.lines()
            spool.close()
            text = self.engine.small_batch_text(len(winners), self.since_last(mark, now))
            if text is not None and self.spec.small_batch == "refuse":
                refusals.append(("small-batch", text))
            if samples > 0:
                for number, line in enumerate(read_lines(spool.path)):
                    if number in winners:
                        items.append(orjson.loads(split_line(line)[1]))
                        if len(items) >= samples:
                            break
        return ImportPlan(
            kind=self.spec.kind.value,
            source=self.spec.name,
            account_id=self.spec.account_id,
            mode=self.mode_name,
            header=self.header(),
            extracted=extraction.extracted if extraction is not None else 0,
            item_count=len(winners),
            duplicates=candidates.duplicates if candidates is not None else 0,
            skipped_stale=candidates.skipped_stale if candidates is not None else 0,
            skipped_unchanged=candidates.skipped_unchanged if candidates is not None else 0,
            mapping_errors=tuple(extraction.errors) if extraction is not None else (),
            mapping_error_count=extraction.error_count if extraction is not None else 0,
            samples=tuple(items),
            jobs=(len(winners),) if winners else (),
            window=window.window if window is not None else None,
            refusals=tuple(refusals),
        )


def _records(adapter: Any, window: _Window) -> Callable[[], Any]:
    if window.fingerprint:
        return adapter.fetch_all  # type: ignore[no-any-return]
    return lambda: adapter.fetch_changed(window.since, window.until)


# ---------------------------------------------------------------------------- sync


class DeltaImport:
    """Delta imports of one source (blocking). See the module docs for the rules.

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
        clock: Callable[[], float] | None = None,
    ) -> None:
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
        self._core = _DeltaCore(
            spec,
            store,
            engine,
            mode=mode,
            overlap=overlap,
            lag=lag,
            initial_since=initial_since,
            skip_unchanged=skip_unchanged,
            max_mapping_errors=max_mapping_errors,
            max_mapping_error_ratio=max_mapping_error_ratio,
            advance_past_errors=advance_past_errors,
            track_timeout=track_timeout,
        )
        self._shell = SyncShell(engine, norce, self.tracker)

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
        core, engine, shell = self._core, self._core.engine, self._shell
        run_id = new_run_id()
        started = engine.now()
        lock = engine.lock(run_id)
        lock.acquire()
        spool: ItemSpool | None = None
        send: Path | None = None
        journal: Journal | None = None
        try:
            recovered = shell.recover(run_id, core.track_timeout, refuse_if_running=True)
            refuse(in_flight(self.store, self.spec, include_lock=False))
            cleanup_source_orphans(engine)
            mark = core.watermark()
            now = engine.now()
            interval = core.interval_refusal(mark, now)
            refuse([interval] if interval is not None else [])
            window = core.window(mark, now)
            before = mark.value if mark is not None else None
            if window is None:
                return engine.result(
                    run_id=run_id,
                    mode=core.mode_name,
                    status=ImportStatus.EMPTY,
                    started=started,
                    watermark=before,
                    recovered=recovered,
                )
            engine.bind(self.adapter, core.mode_name, run_id, self.lookup)
            spool = core.new_spool(run_id)
            extraction, candidates = core.extraction(self.adapter, SourceAdapter, spool)
            shell.extract(
                _records(self.adapter, window),
                self.adapter,
                SourceAdapter,
                extraction,
                run_id=run_id,
                lock=lock,
            )
            winners = candidates.lines()
            spool.close()
            engine.progress("check", len(winners), extraction.extracted, run_id)
            refuse(core.extraction_refusals(extraction), extraction.failure)
            advance = extraction.error_count == 0 or core.advance_past_errors
            common: dict[str, Any] = {
                "run_id": run_id,
                "mode": core.mode_name,
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
                    advance_watermark(self.store, self.spec, window.new_watermark, expected=before)
                    if advance
                    else before
                )
                return engine.result(status=ImportStatus.EMPTY, watermark=watermark, **common)
            note = engine.small_batch(len(winners), core.since_last(mark, now), run_id)
            send = core.send_file(spool, winners, run_id)
            spool.delete()
            spool = None
            journal = engine.start_journal(
                run_id=run_id,
                mode=core.mode_name,
                started_at=now,
                groups=[len(winners)],
                header=core.header(),
                versions=str(send),
                spool=str(send),
                generation=VersionBook(self.store, self.spec).generation,
                watermark_before=before,
                until=window.new_watermark if advance else None,
            )
            journal, notes = shell.submit(
                journal, [group_items(send)], full=False, run_id=run_id, lock=lock
            )
            notes = [note, *notes] if note else notes
            common.update(job_ids=journal.jobs, item_count=len(winners), warnings=notes)
            if not wait:
                return engine.result(status=ImportStatus.SUBMITTED, watermark=before, **common)
            results = shell.wait(journal, run_id, core.track_timeout, lock)
            status = engine.outcome(results)
            if status is not None:
                return engine.result(status=status, jobs=results, watermark=before, **common)
            status, _, watermark = engine.settle(journal, results)
            journal = None
            send = None
            engine.progress("done", 1, 1, run_id, str(status))
            return engine.result(status=status, jobs=results, watermark=watermark, **common)
        finally:
            _cleanup(spool, send, journal)
            lock.release()

    def plan(self, *, samples: int = 5) -> ImportPlan:
        """What :meth:`run` would send now, without calling Connect or changing state.

        Raises:
            StoreError: the store failed.
        """
        core, engine = self._core, self._core.engine
        run_id = new_run_id()
        mark = core.watermark()
        now = engine.now()
        window = core.window(mark, now)
        if window is None:
            return core.plan(
                extraction=None,
                candidates=None,
                spool=None,
                window=None,
                mark=mark,
                now=now,
                samples=samples,
            )
        engine.bind(self.adapter, "plan", run_id, self.lookup)
        spool = core.new_spool(run_id)
        try:
            extraction, candidates = core.extraction(self.adapter, SourceAdapter, spool)
            self._shell.extract(
                _records(self.adapter, window),
                self.adapter,
                SourceAdapter,
                extraction,
                run_id=run_id,
                lock=None,
            )
            return core.plan(
                extraction=extraction,
                candidates=candidates,
                spool=spool,
                window=window,
                mark=mark,
                now=now,
                samples=samples,
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
        engine = self._core.engine
        run_id = new_run_id()
        lock = engine.lock(run_id)
        lock.acquire()
        try:
            return self._shell.recover(run_id, self._core.track_timeout, refuse_if_running=False)
        finally:
            lock.release()


def _cleanup(spool: ItemSpool | None, send: Path | None, journal: Journal | None) -> None:
    if spool is not None:
        spool.delete()
    if send is not None and (journal is None or journal.spool != str(send)):
        remove_file(send)


# ---------------------------------------------------------------------------- async


class AsyncDeltaImport:
    """The asyncio twin of :class:`DeltaImport` (same options; ``run``, ``plan`` and
    ``resume`` are awaited; the adapter is an :class:`AsyncSourceAdapter`).

    Args:
        norce: the async client.
        spec: the source.
        adapter: the async source adapter.
        store: the state store (default: the tracker's).
        tracker: the async job tracker (default: a new one on ``store``).
        lookup: the async lookup helper (default: ``AsyncQueryLookup(norce.query)``).
        mode: see :class:`DeltaImport`.
        overlap: see :class:`DeltaImport`.
        lag: see :class:`DeltaImport`.
        initial_since: see :class:`DeltaImport`.
        skip_unchanged: see :class:`DeltaImport`.
        max_mapping_errors: see :class:`DeltaImport`.
        max_mapping_error_ratio: see :class:`DeltaImport`.
        advance_past_errors: see :class:`DeltaImport`.
        record_versions: see :class:`DeltaImport`.
        work_dir: see :class:`DeltaImport`.
        compress_spool: see :class:`DeltaImport`.
        progress: see :class:`DeltaImport`.
        progress_every: see :class:`DeltaImport`.
        lock_ttl: see :class:`DeltaImport`.
        track_timeout: see :class:`DeltaImport`.
        clock: see :class:`DeltaImport`.

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
        clock: Callable[[], float] | None = None,
    ) -> None:
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
        self._core = _DeltaCore(
            spec,
            store,
            engine,
            mode=mode,
            overlap=overlap,
            lag=lag,
            initial_since=initial_since,
            skip_unchanged=skip_unchanged,
            max_mapping_errors=max_mapping_errors,
            max_mapping_error_ratio=max_mapping_error_ratio,
            advance_past_errors=advance_past_errors,
            track_timeout=track_timeout,
        )
        self._shell = AsyncShell(engine, norce, self.tracker)

    async def run(self, *, wait: bool = True) -> ImportResult:
        """Async twin of :meth:`DeltaImport.run`.

        Raises:
            ImportRefusedError: a rule refused (see :meth:`DeltaImport.run`).
            APIError: the POST or a poll failed for good.
            StoreError: the store failed.
        """
        core, engine, shell = self._core, self._core.engine, self._shell
        run_id = new_run_id()
        started = engine.now()
        lock = engine.lock(run_id)
        lock.acquire()
        spool: ItemSpool | None = None
        send: Path | None = None
        journal: Journal | None = None
        try:
            recovered = await shell.recover(run_id, core.track_timeout, refuse_if_running=True)
            refuse(in_flight(self.store, self.spec, include_lock=False))
            cleanup_source_orphans(engine)
            mark = core.watermark()
            now = engine.now()
            interval = core.interval_refusal(mark, now)
            refuse([interval] if interval is not None else [])
            window = core.window(mark, now)
            before = mark.value if mark is not None else None
            if window is None:
                return engine.result(
                    run_id=run_id,
                    mode=core.mode_name,
                    status=ImportStatus.EMPTY,
                    started=started,
                    watermark=before,
                    recovered=recovered,
                )
            engine.bind(self.adapter, core.mode_name, run_id, self.lookup)
            spool = core.new_spool(run_id)
            extraction, candidates = core.extraction(self.adapter, AsyncSourceAdapter, spool)
            await shell.extract(
                _records(self.adapter, window),
                self.adapter,
                AsyncSourceAdapter,
                extraction,
                run_id=run_id,
                lock=lock,
            )
            winners = candidates.lines()
            spool.close()
            engine.progress("check", len(winners), extraction.extracted, run_id)
            refuse(core.extraction_refusals(extraction), extraction.failure)
            advance = extraction.error_count == 0 or core.advance_past_errors
            common: dict[str, Any] = {
                "run_id": run_id,
                "mode": core.mode_name,
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
                    advance_watermark(self.store, self.spec, window.new_watermark, expected=before)
                    if advance
                    else before
                )
                return engine.result(status=ImportStatus.EMPTY, watermark=watermark, **common)
            note = engine.small_batch(len(winners), core.since_last(mark, now), run_id)
            send = core.send_file(spool, winners, run_id)
            spool.delete()
            spool = None
            journal = engine.start_journal(
                run_id=run_id,
                mode=core.mode_name,
                started_at=now,
                groups=[len(winners)],
                header=core.header(),
                versions=str(send),
                spool=str(send),
                generation=VersionBook(self.store, self.spec).generation,
                watermark_before=before,
                until=window.new_watermark if advance else None,
            )
            journal, notes = await shell.submit(
                journal, [group_items(send)], full=False, run_id=run_id, lock=lock
            )
            notes = [note, *notes] if note else notes
            common.update(job_ids=journal.jobs, item_count=len(winners), warnings=notes)
            if not wait:
                return engine.result(status=ImportStatus.SUBMITTED, watermark=before, **common)
            results = await shell.wait(journal, run_id, core.track_timeout, lock)
            status = engine.outcome(results)
            if status is not None:
                return engine.result(status=status, jobs=results, watermark=before, **common)
            status, _, watermark = engine.settle(journal, results)
            journal = None
            send = None
            engine.progress("done", 1, 1, run_id, str(status))
            return engine.result(status=status, jobs=results, watermark=watermark, **common)
        finally:
            _cleanup(spool, send, journal)
            lock.release()

    async def plan(self, *, samples: int = 5) -> ImportPlan:
        """Async twin of :meth:`DeltaImport.plan`.

        Raises:
            StoreError: the store failed.
        """
        core, engine = self._core, self._core.engine
        run_id = new_run_id()
        mark = core.watermark()
        now = engine.now()
        window = core.window(mark, now)
        if window is None:
            return core.plan(
                extraction=None,
                candidates=None,
                spool=None,
                window=None,
                mark=mark,
                now=now,
                samples=samples,
            )
        engine.bind(self.adapter, "plan", run_id, self.lookup)
        spool = core.new_spool(run_id)
        try:
            extraction, candidates = core.extraction(self.adapter, AsyncSourceAdapter, spool)
            await self._shell.extract(
                _records(self.adapter, window),
                self.adapter,
                AsyncSourceAdapter,
                extraction,
                run_id=run_id,
                lock=None,
            )
            return core.plan(
                extraction=extraction,
                candidates=candidates,
                spool=spool,
                window=window,
                mark=mark,
                now=now,
                samples=samples,
            )
        finally:
            spool.delete()

    async def resume(self) -> ImportResult | None:
        """Async twin of :meth:`DeltaImport.resume`.

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
