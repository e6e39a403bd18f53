"""The run engine both import patterns share: extraction loops, submission, waiting,
recovery of an interrupted run, and settling (what success changes in the store).

:class:`Engine` holds the configuration and every decision; it touches the store and
local files but never the network. :class:`SyncShell` and :class:`AsyncShell` do the
I/O around it (adapter iteration, POSTs, job waits) and are twins, method for method.

A run's life, and what a ``kill -9`` at each step leaves behind:

1. lock (kind, account) → a dead holder on this host is taken over by the next run;
2. recover this source's journal (an earlier run that was interrupted after its POST):
   wait for its jobs, then settle it exactly as that run would have;
3. extract and map into the local spool → nothing sent, no journal: the next run
   starts afresh and deletes the orphaned spool;
4. journal ``submitting`` → POST → job id recorded by the tracker → journal names the
   job → a killed run is found by step 2 of the next one, which resumes the job and
   never submits the payload again;
5. wait → settle (watermark, item versions, last full import, supersede) → clear the
   journal. The watermark moves only here, after Norce reported success.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import tempfile
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

from .._client import AsyncNorce, Norce
from .._exceptions import AmbiguousImportError, APIError, ConfigurationError, ImportRefusedError
from ..connect._resource import SubmittedImport, _header_value
from ..connect.models import Job, JobResponse
from ..stores._protocol import FullImportRecord, Store, TrackedStatus, sortable_watermark
from ._import_core import (
    ERROR_SAMPLE,
    SUPERSEDED_BY_FULL,
    Encoded,
    ImportResult,
    ImportStatus,
    ItemEncoder,
    Journal,
    MappingError,
    Progress,
    ProgressHook,
    RunLock,
    VersionBook,
    advance_watermark,
    body_chunks,
    cleanup_orphans,
    in_flight_jobs,
    in_flight_message,
    match_lost_jobs,
    meta_entries,
    read_lines,
    remove_file,
    report,
    split_line,
    spool_prefix,
    tee_chunks,
    utc,
)
from .adapters import AdapterContext, SourceSpec, _overrides
from .job_tracker import AsyncJobTracker, JobResult, JobTracker, asubmit_payload, submit_payload


__all__ = ["AsyncShell", "Engine", "Extraction", "SmallBatchWarning", "SyncShell"]

log = logging.getLogger("norce_integration.patterns")

PREFETCH_BATCH = 500


class SmallBatchWarning(UserWarning):
    """A delta run sent only a handful of items soon after the previous one.

    Norce's guidance: many items per call, on a schedule. Raise ``min_interval`` or
    lower the schedule's frequency; ``SourceSpec(small_batch="refuse")`` makes the SDK
    hold such batches back until enough changes accumulate.
    """


# ---------------------------------------------------------------------------- extraction


@attrs.define
class Extraction:
    """Counts and errors of one extraction; every record goes through :meth:`mapped` or
    :meth:`failed`, accepted items to ``sink``."""

    encoder: ItemEncoder
    sink: Callable[[Encoded], Any]
    extracted: int = 0
    errors: list[MappingError] = attrs.field(factory=list)
    error_count: int = 0
    scope_counts: dict[str, int] = attrs.field(factory=dict)
    accepted: int = 0
    failure: BaseException | None = None

    def mapped(self, index: int, record: Any, item: Any) -> None:
        """A record mapped to ``item``: validate, encode, hand to the sink."""
        encoded = self.encoder.encode(index, record, item)
        if isinstance(encoded, MappingError):
            self._error(encoded)
            return
        if encoded.scope is not None:
            self.scope_counts[encoded.scope] = self.scope_counts.get(encoded.scope, 0) + 1
        self.accepted += 1
        self.sink(encoded)

    def failed(self, index: int, record: Any, exc: BaseException) -> None:
        """``map`` raised for this record."""
        self._error(self.encoder.error(index, record, exc))

    def _error(self, error: MappingError) -> None:
        self.error_count += 1
        if len(self.errors) < ERROR_SAMPLE:
            self.errors.append(error)
        if self.error_count <= 20:
            log.warning("mapping error: %s", error)


# ---------------------------------------------------------------------------- engine


class Engine:
    """Configuration and decisions of one pattern instance (no network I/O).

    Args:
        spec: the source.
        store: the state store.
        clock: seconds since the epoch.
        work_dir: directory for spool files.
        compress_spool: gzip the spool.
        progress: the progress hook.
        progress_every: records between extraction progress reports.
        lock_ttl: seconds the in-flight lock lives without a refresh.
        record_versions: record item versions/fingerprints after success.
    """

    def __init__(
        self,
        spec: SourceSpec,
        store: Store,
        *,
        clock: Callable[[], float],
        work_dir: Path,
        compress_spool: bool,
        progress: ProgressHook | None,
        progress_every: int,
        lock_ttl: float,
        record_versions: bool,
    ) -> None:
        self.spec = spec
        self.store = store
        self.clock = clock
        self.work_dir = work_dir
        self.compress_spool = compress_spool
        self.progress_hook = progress
        self.progress_every = max(1, progress_every)
        self.lock_ttl = lock_ttl
        self.record_versions = record_versions

    @property
    def kind(self) -> str:
        """The import kind's value."""
        return self.spec.kind.value

    def now(self) -> float:
        """The clock."""
        return float(self.clock())

    def progress(
        self, phase: str, done: int, total: int | None, run_id: str, message: str = ""
    ) -> None:
        """Report progress to the hook."""
        report(
            self.progress_hook,
            Progress(phase, done, total, self.kind, self.spec.name, run_id, message),
        )

    def lock(self, run_id: str) -> RunLock:
        """A new (not yet acquired) in-flight lock for a run."""
        return RunLock(self.store, self.spec, run_id, ttl=self.lock_ttl, clock=self.clock)

    def header_value(self, *, full: bool) -> str:
        """The ``X-StormConnect-Header`` value for a full import or a delta."""
        return _header_value(self.spec.header_for(full=full), self.spec.kind)

    def bind(self, adapter: Any, mode: str, run_id: str, lookup: Any) -> None:
        """Hand the run's context to the adapter (if it takes one)."""
        bind = getattr(adapter, "bind", None)
        if callable(bind):
            bind(
                AdapterContext(
                    spec=self.spec,
                    mode=mode,
                    run_id=run_id,
                    started_at=utc(self.now()),
                    lookup=lookup,
                )
            )

    def encoder(self, adapter: Any, base: type[Any], *, full: bool, scoped: bool) -> ItemEncoder:
        """The item encoder for this adapter (its own ``key``/``version`` if it has them)."""
        return ItemEncoder(
            self.spec,
            key_fn=adapter.key if _overrides(adapter, "key", base) else None,
            version_fn=adapter.version if _overrides(adapter, "version", base) else None,
            full=full,
            scoped=scoped,
        )

    # --------------------------------------------------------------- journal

    def start_journal(
        self,
        *,
        run_id: str,
        mode: str,
        started_at: float,
        groups: Sequence[int],
        header: str,
        versions: str | None,
        spool: str | None,
        generation: int,
        watermark_before: str | None = None,
        until: str | None = None,
    ) -> Journal:
        """Write the journal before the first POST."""
        journal = Journal(
            run_id=run_id,
            mode=mode,
            phase="submitting",
            started_at=started_at,
            submit_at=self.now(),
            groups=tuple(groups),
            header=header,
            watermark_before=watermark_before,
            until=until,
            versions=versions,
            spool=spool,
            generation=generation,
            record_versions=self.record_versions,
        )
        journal.write(self.store, self.spec)
        return journal

    def add_job(self, journal: Journal, job_id: int) -> Journal:
        """Name a job in the journal as soon as it is tracked."""
        journal = attrs.evolve(journal, jobs=(*journal.jobs, job_id))
        if len(journal.jobs) == len(journal.groups):
            journal = attrs.evolve(journal, phase="submitted")
        journal.write(self.store, self.spec)
        return journal

    def abort_journal(self, journal: Journal, exc: BaseException) -> Journal | None:
        """After a POST failed: keep what may exist, drop what cannot."""
        if isinstance(exc, AmbiguousImportError):
            # A job may exist: keep ``submitting`` so the next run looks for it.
            return journal
        if not journal.jobs:
            self.discard(journal)
            return None
        journal = attrs.evolve(journal, phase="aborted")
        journal.write(self.store, self.spec)
        return journal

    def discard(self, journal: Journal) -> None:
        """Forget a run that cannot succeed; its files go too."""
        Journal.clear(self.store, self.spec)
        remove_file(journal.spool)
        if journal.versions != journal.spool:
            remove_file(journal.versions)

    # --------------------------------------------------------------- settling

    def settle(
        self, journal: Journal, results: Sequence[JobResult]
    ) -> tuple[ImportStatus, tuple[int, ...], str | None]:
        """Apply a run's outcome once every job is final: ``(status, superseded, watermark)``.

        Success of every job of a complete run: a full import records item versions
        under a new generation, supersedes earlier failed or pending jobs of the kind,
        records itself as the last good full import and moves the delta watermark to
        its extraction start; a delta records the versions it sent and moves the
        watermark to its window's end. Anything else changes nothing but the journal.
        """
        ok = journal.complete and bool(results) and all(r.succeeded for r in results)
        superseded: tuple[int, ...] = ()
        if ok and journal.full:
            superseded, watermark = self._finalize_full(journal, results)
        elif ok:
            watermark = self._finalize_delta(journal)
        else:
            watermark = self.current_watermark()
        self.discard(journal)
        return (ImportStatus.SUCCEEDED if ok else ImportStatus.FAILED), superseded, watermark

    def current_watermark(self) -> str | None:
        """The delta watermark now."""
        mark = self.store.get_watermark(self.kind, self.spec.account_id, self.spec.name)
        return mark.value if mark is not None else None

    def _versions(self, journal: Journal, generation: int) -> None:
        if not journal.record_versions:
            return
        path = journal.versions
        if path and Path(path).exists():
            written = VersionBook(self.store, self.spec).put(
                meta_entries(path), generation=generation
            )
            log.debug("recorded %d item versions of %s", written, self.spec.name)
        elif path:
            # Another machine ran it, or the file was cleaned: without the versions the
            # next run re-sends (at least once), never skips wrongly.
            log.warning("the item-version file %s is gone; versions not recorded", path)

    def _finalize_full(
        self, journal: Journal, results: Sequence[JobResult]
    ) -> tuple[tuple[int, ...], str | None]:
        book = VersionBook(self.store, self.spec)
        generation = max(book.generation, journal.generation) + 1
        self._versions(journal, generation)
        # Bumped even without versions: older entries then stop counting (safe).
        book.set_generation(generation)
        kind, account = self.kind, self.spec.account_id
        first = min(r.submitted_at for r in results)
        last = journal.jobs[-1]
        self.store.mark_superseded(
            kind, account, by_job_id=last, submitted_before=first, statuses=SUPERSEDED_BY_FULL
        )
        finished = max((r.finished_at for r in results if r.finished_at is not None), default=None)
        self.store.set_last_full_import(
            FullImportRecord(
                kind, account, last, finished or utc(self.now()), int(sum(journal.groups))
            )
        )
        mine = set(journal.jobs)
        superseded = tuple(
            j.job_id
            for j in self.store.list_jobs(
                kind=kind, account_id=account, statuses=[TrackedStatus.SUPERSEDED]
            )
            if j.superseded_by in mine
        )
        if superseded:
            log.info(
                "full import %s of %s superseded jobs %s; they are never retried",
                journal.jobs,
                kind,
                sorted(superseded),
            )
        start = sortable_watermark(utc(journal.started_at))
        watermark = advance_watermark(
            self.store, self.spec, start, expected=self.current_watermark()
        )
        return tuple(sorted(superseded)), watermark

    def _finalize_delta(self, journal: Journal) -> str | None:
        self._versions(journal, VersionBook(self.store, self.spec).generation)
        if journal.until is None:
            return self.current_watermark()
        return advance_watermark(
            self.store, self.spec, journal.until, expected=journal.watermark_before
        )

    # --------------------------------------------------------------- results

    def result(
        self,
        *,
        run_id: str,
        mode: str,
        status: ImportStatus,
        started: float,
        jobs: Sequence[JobResult] = (),
        job_ids: Sequence[int] = (),
        extraction: Extraction | None = None,
        item_count: int = 0,
        duplicates: int = 0,
        skipped_stale: int = 0,
        skipped_unchanged: int = 0,
        window: tuple[dt.datetime | None, dt.datetime] | None = None,
        watermark: str | None = None,
        superseded: Sequence[int] = (),
        recovered: ImportResult | None = None,
        warnings: Sequence[str] = (),
    ) -> ImportResult:
        """Build an :class:`ImportResult`."""
        return ImportResult(
            kind=self.kind,
            source=self.spec.name,
            account_id=self.spec.account_id,
            mode=mode,
            run_id=run_id,
            status=status,
            jobs=tuple(jobs),
            job_ids=tuple(job_ids),
            extracted=extraction.extracted if extraction is not None else 0,
            item_count=item_count,
            duplicates=duplicates,
            skipped_stale=skipped_stale,
            skipped_unchanged=skipped_unchanged,
            mapping_errors=tuple(extraction.errors) if extraction is not None else (),
            mapping_error_count=extraction.error_count if extraction is not None else 0,
            started_at=utc(started),
            finished_at=utc(self.now()),
            window=window,
            watermark=watermark,
            superseded=tuple(superseded),
            recovered=recovered,
            warnings=tuple(warnings),
        )

    def outcome(self, results: Sequence[JobResult]) -> ImportStatus | None:
        """``TIMED_OUT_LOCALLY`` if a job is not final yet, else ``None`` (settle it)."""
        if any(r.status is TrackedStatus.TIMED_OUT_LOCALLY for r in results):
            return ImportStatus.TIMED_OUT_LOCALLY
        if any(not r.status.is_final for r in results):
            return ImportStatus.TIMED_OUT_LOCALLY
        return None

    def recovery_refusal(
        self, journal: Journal, results: Sequence[JobResult]
    ) -> ImportRefusedError:
        """The ``in-flight`` refusal when an interrupted run's jobs are still running."""
        running = [r.job_id for r in results if not r.status.is_final]
        msg = (
            f"run {journal.run_id} of {self.spec.name} submitted job(s) {running} that are "
            "still running; this run waits for them to finish first"
        )
        return ImportRefusedError(msg, rule="in-flight")

    def sync_warnings(self, submitted: SubmittedImport) -> list[str]:
        """Warnings from Norce's synchronous validation of a payload."""
        summary = submitted.response.validation_summary
        if summary is None or not summary.nr_of_validation_failures:
            return []
        text = (
            f"job {submitted.job_id}: Norce's validation rejected "
            f"{summary.nr_of_validation_failures} of {summary.nr_of_items_in_total} items"
        )
        messages = list(summary.messages or [])[:5]
        if messages:
            text += ": " + "; ".join(messages)
        log.warning("%s", text)
        return [text]

    def small_batch_text(self, items: int, since_last: float | None) -> str | None:
        """The small-batch finding for a delta of ``items`` items, if it is one."""
        spec = self.spec
        if (
            spec.small_batch == "ignore"
            or items == 0
            or items >= spec.min_items
            or since_last is None
            or since_last >= spec.small_batch_window
        ):
            return None
        return (
            f"{spec.name}: a delta of {items} item(s) only {since_last:.0f}s after the previous "
            f"run (fewer than min_items={spec.min_items} within small_batch_window="
            f"{spec.small_batch_window:.0f}s). Norce wants many items per call on a schedule, "
            "not one call per change"
        )

    def small_batch(self, items: int, since_last: float | None, run_id: str) -> str | None:
        """Apply the small-batch rule; returns the warning text when it warns.

        Raises:
            ImportRefusedError: rule ``small-batch`` with ``small_batch="refuse"``.
        """
        text = self.small_batch_text(items, since_last)
        if text is None:
            return None
        if self.spec.small_batch == "refuse":
            raise ImportRefusedError(
                text + "; the records wait for the next run", rule="small-batch"
            )
        log.warning("%s (run %s)", text, run_id)
        warnings.warn(text, SmallBatchWarning, stacklevel=3)
        return text


def refuse(refusals: Sequence[tuple[str, str]], failure: BaseException | None = None) -> None:
    """Raise the first refusal (the source's exception as the cause of a partial one).

    Raises:
        ImportRefusedError: there is a refusal.
    """
    if refusals:
        rule, message = refusals[0]
        exc = ImportRefusedError(message, rule=rule)
        if rule == "partial-extraction" and failure is not None:
            raise exc from failure
        raise exc


def work_dir_of(work_dir: str | os.PathLike[str] | None) -> Path:
    """The spool directory (default: ``<temp>/norce-integration``)."""
    if work_dir is None:
        return Path(tempfile.gettempdir()) / "norce-integration"
    return Path(work_dir)


def store_of(store: Store | None, tracker: JobTracker | AsyncJobTracker | None) -> Store:
    """The store a pattern uses: the tracker's, or the one given.

    Raises:
        ConfigurationError: neither given, or they differ.
    """
    if tracker is not None:
        if store is not None and store is not tracker.store:
            raise ConfigurationError("must be the tracker's store", setting="store")
        return tracker.store
    if store is None:
        raise ConfigurationError("give a store or a tracker", setting="store")
    return store


def in_flight(store: Store, spec: SourceSpec, *, include_lock: bool) -> list[tuple[str, str]]:
    """``in-flight`` findings from the store (lock holder, unfinished jobs)."""
    out: list[tuple[str, str]] = []
    if include_lock:
        holder = store.lock_holder(spec.kind.value, spec.account_id)
        if holder is not None:
            message = (
                f"the {spec.kind.value} lock of account {spec.account_id} is held by {holder.owner}"
            )
            out.append(("in-flight", message))
    busy = in_flight_jobs(store, spec)
    if busy:
        out.append(("in-flight", in_flight_message(spec, busy)))
    return out


def cleanup_source_orphans(engine: Engine) -> None:
    """Delete spool files of this source that no pending run references (lock held)."""
    journal = Journal.read(engine.store, engine.spec)
    keep = [journal.spool, journal.versions] if journal is not None else []
    cleanup_orphans(engine.work_dir, spool_prefix(engine.spec), keep)


def _lines_of(path: str | Path) -> Iterator[bytes]:
    for line in read_lines(path):
        yield split_line(line)[1]


def group_items(path: str | Path) -> Callable[[], Iterable[bytes]]:
    """A factory of the item JSON of every line of a spool file."""
    return lambda: _lines_of(path)


def adopted_submission(
    journal: Journal, job_id: int, count: int, engine: Engine
) -> SubmittedImport:
    """What a lost submission must have been (to track a job found after a kill)."""
    return SubmittedImport(
        engine.spec.kind, JobResponse(job_id=job_id), count, 0, "", journal.header
    )


# ---------------------------------------------------------------------------- sync shell


class SyncShell:
    """The blocking I/O around an :class:`Engine`."""

    def __init__(self, engine: Engine, norce: Norce, tracker: JobTracker) -> None:
        self.engine = engine
        self.norce = norce
        self.tracker = tracker

    def extract(
        self,
        records: Callable[[], Iterable[Any]],
        adapter: Any,
        base: type[Any],
        extraction: Extraction,
        *,
        run_id: str,
        lock: RunLock | None,
    ) -> None:
        """Iterate the source, map every record, feed the extraction.

        An exception from the source itself (not from ``map``) is stored in
        ``extraction.failure`` and ends the loop: the extraction did not finish.
        """
        engine = self.engine
        every = engine.progress_every
        prefetch = adapter.prefetch if _overrides(adapter, "prefetch", base) else None
        batch: list[Any] = []
        index = 0

        def process(record: Any) -> None:
            nonlocal index
            try:
                item = adapter.map(record)
            except Exception as exc:  # noqa: BLE001 - integrator code: a mapping error
                extraction.failed(index, record, exc)
            else:
                extraction.mapped(index, record, item)
            index += 1

        def flush() -> None:
            if prefetch is not None and batch:
                prefetch(list(batch))
            for record in batch:
                process(record)
            batch.clear()

        try:
            iterator = iter(records())
            while True:
                try:
                    record = next(iterator)
                except StopIteration:
                    break
                extraction.extracted += 1
                if prefetch is None:
                    process(record)
                else:
                    batch.append(record)
                    if len(batch) >= PREFETCH_BATCH:
                        flush()
                if extraction.extracted % every == 0:
                    engine.progress("extract", extraction.extracted, None, run_id)
                    if lock is not None:
                        lock.refresh()
            flush()
        except Exception as exc:  # noqa: BLE001 - the source failed: refuse, never send
            extraction.failure = exc
        engine.progress("extract", extraction.extracted, extraction.extracted, run_id, "done")

    def submit(
        self,
        journal: Journal,
        groups: Sequence[Callable[[], Iterable[bytes]]],
        *,
        full: bool,
        run_id: str,
        lock: RunLock | None,
    ) -> tuple[Journal, list[str]]:
        """POST each group as one job and track it; the journal names each job at once.

        Raises:
            APIError: a POST failed (the journal keeps what may exist).
        """
        engine = self.engine
        notes: list[str] = []
        tracker = self.tracker
        spool = tracker.spool
        account = engine.spec.account_id
        for number, (make_items, count) in enumerate(zip(groups, journal.groups, strict=True)):
            chunks = body_chunks(make_items())
            try:
                if spool is None:
                    submitted = submit_payload(
                        self.norce, engine.spec.kind, journal.header, chunks, item_count=count
                    )
                    job = tracker.track(submitted, full=full, account_id=account)
                else:
                    with spool.writer() as tee:
                        submitted = submit_payload(
                            self.norce,
                            engine.spec.kind,
                            journal.header,
                            tee_chunks(chunks, tee),
                            item_count=count,
                        )
                    job = tracker.track(submitted, full=full, account_id=account, payload_path=tee)
            except APIError as exc:
                engine.abort_journal(journal, exc)
                raise
            journal = engine.add_job(journal, job.job_id)
            notes.extend(engine.sync_warnings(submitted))
            engine.progress(
                "submit", number + 1, len(groups), run_id, f"job {job.job_id}: {count} items"
            )
            if lock is not None:
                lock.refresh(force=True)
        return journal, notes

    def wait(
        self, journal: Journal, run_id: str, job_timeout: float | None, lock: RunLock | None
    ) -> list[JobResult]:
        """Wait for every job of the journal (failures are returned, not raised).

        Raises:
            APIError: ``Job/Get`` failed in a way retrying cannot fix.
        """
        results: list[JobResult] = []
        for number, job_id in enumerate(journal.jobs):
            if lock is not None:
                lock.refresh(force=True)
            result = self.tracker.wait(job_id, timeout=job_timeout, raise_on_failure=False)
            results.append(result)
            self.engine.progress(
                "track", number + 1, len(journal.jobs), run_id, f"job {job_id}: {result.status}"
            )
        return results

    def recover(
        self, run_id: str, job_timeout: float | None, *, refuse_if_running: bool
    ) -> ImportResult | None:
        """Finish this source's interrupted run, if there is one.

        Raises:
            ImportRefusedError: its jobs still run and ``refuse_if_running``.
            APIError: polling failed for good.
        """
        engine = self.engine
        journal = Journal.read(engine.store, engine.spec)
        if journal is None:
            return None
        engine.progress("recover", 0, len(journal.groups), run_id, f"run {journal.run_id}")
        started = engine.now()
        if journal.phase == "submitting":
            try:
                listed: list[Job] = self.norce.connect.list_jobs()
            except APIError as exc:
                log.warning("Job/List failed while recovering run %s: %s", journal.run_id, exc)
                listed = []
            journal = self._adopt(journal, listed)
        if not journal.jobs:
            log.warning(
                "run %s of %s was interrupted before Norce returned a job id; nothing to "
                "resume (if a job was created, it is not known to this store)",
                journal.run_id,
                engine.spec.name,
            )
            engine.discard(journal)
            return engine.result(
                run_id=journal.run_id,
                mode=journal.mode,
                status=ImportStatus.FAILED,
                started=started,
                warnings=["interrupted before any job was recorded"],
            )
        results = self.wait(journal, run_id, job_timeout, None)
        status = engine.outcome(results)
        if status is not None:
            if refuse_if_running:
                raise engine.recovery_refusal(journal, results)
            return engine.result(
                run_id=journal.run_id,
                mode=journal.mode,
                status=status,
                started=started,
                jobs=results,
                job_ids=journal.jobs,
                item_count=sum(journal.groups),
            )
        status, superseded, watermark = engine.settle(journal, results)
        engine.progress("recover", len(journal.groups), len(journal.groups), run_id, str(status))
        return engine.result(
            run_id=journal.run_id,
            mode=journal.mode,
            status=status,
            started=started,
            jobs=results,
            job_ids=journal.jobs,
            item_count=sum(journal.groups),
            watermark=watermark,
            superseded=superseded,
        )

    def _adopt(self, journal: Journal, listed: Sequence[Job]) -> Journal:
        engine = self.engine
        tracked = engine.store.list_jobs(
            kind=engine.kind,
            account_id=engine.spec.account_id,
            submitted_after=utc(journal.submit_at - 5.0),
        )
        for job_id in match_lost_jobs(journal, tracked, listed):
            count = journal.groups[len(journal.jobs)]
            if engine.store.get_job(job_id, with_history=False) is None:
                self.tracker.track(
                    adopted_submission(journal, job_id, count, engine),
                    full=journal.full,
                    account_id=engine.spec.account_id,
                )
            log.warning(
                "run %s: adopted job %d, found after the run was killed", journal.run_id, job_id
            )
            journal = engine.add_job(journal, job_id)
        return journal


# ---------------------------------------------------------------------------- async shell


class AsyncShell:
    """The asyncio I/O around an :class:`Engine`; the twin of :class:`SyncShell`."""

    def __init__(self, engine: Engine, norce: AsyncNorce, tracker: AsyncJobTracker) -> None:
        self.engine = engine
        self.norce = norce
        self.tracker = tracker

    async def extract(
        self,
        records: Callable[[], AsyncIterator[Any]],
        adapter: Any,
        base: type[Any],
        extraction: Extraction,
        *,
        run_id: str,
        lock: RunLock | None,
    ) -> None:
        """See :meth:`SyncShell.extract`."""
        engine = self.engine
        every = engine.progress_every
        prefetch: Callable[[list[Any]], Awaitable[None]] | None = (
            adapter.prefetch if _overrides(adapter, "prefetch", base) else None
        )
        batch: list[Any] = []
        index = 0
        iterator: AsyncIterator[Any] | None = None

        async def process(record: Any) -> None:
            nonlocal index
            try:
                item = await adapter.map(record)
            except Exception as exc:  # noqa: BLE001 - integrator code: a mapping error
                extraction.failed(index, record, exc)
            else:
                extraction.mapped(index, record, item)
            index += 1

        async def flush() -> None:
            if prefetch is not None and batch:
                await prefetch(list(batch))
            for record in batch:
                await process(record)
            batch.clear()

        try:
            iterator = records().__aiter__()
            while True:
                try:
                    record = await iterator.__anext__()
                except StopAsyncIteration:
                    break
                extraction.extracted += 1
                if prefetch is None:
                    await process(record)
                else:
                    batch.append(record)
                    if len(batch) >= PREFETCH_BATCH:
                        await flush()
                if extraction.extracted % every == 0:
                    engine.progress("extract", extraction.extracted, None, run_id)
                    if lock is not None:
                        lock.refresh()
            await flush()
        except Exception as exc:  # noqa: BLE001 - the source failed: refuse, never send
            extraction.failure = exc
        finally:
            # Close the source's async generator now, not at garbage collection.
            closer = getattr(iterator, "aclose", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer()
        engine.progress("extract", extraction.extracted, extraction.extracted, run_id, "done")

    async def submit(
        self,
        journal: Journal,
        groups: Sequence[Callable[[], Iterable[bytes]]],
        *,
        full: bool,
        run_id: str,
        lock: RunLock | None,
    ) -> tuple[Journal, list[str]]:
        """See :meth:`SyncShell.submit`.

        Raises:
            APIError: a POST failed (the journal keeps what may exist).
        """
        engine = self.engine
        notes: list[str] = []
        tracker = self.tracker
        spool = tracker.spool
        account = engine.spec.account_id
        for number, (make_items, count) in enumerate(zip(groups, journal.groups, strict=True)):
            chunks = body_chunks(make_items())
            try:
                if spool is None:
                    submitted = await asubmit_payload(
                        self.norce, engine.spec.kind, journal.header, chunks, item_count=count
                    )
                    job = await tracker.track(submitted, full=full, account_id=account)
                else:
                    with spool.writer() as tee:
                        submitted = await asubmit_payload(
                            self.norce,
                            engine.spec.kind,
                            journal.header,
                            tee_chunks(chunks, tee),
                            item_count=count,
                        )
                    job = await tracker.track(
                        submitted, full=full, account_id=account, payload_path=tee
                    )
            except APIError as exc:
                engine.abort_journal(journal, exc)
                raise
            journal = engine.add_job(journal, job.job_id)
            notes.extend(engine.sync_warnings(submitted))
            engine.progress(
                "submit", number + 1, len(groups), run_id, f"job {job.job_id}: {count} items"
            )
            if lock is not None:
                lock.refresh(force=True)
        return journal, notes

    async def wait(
        self, journal: Journal, run_id: str, job_timeout: float | None, lock: RunLock | None
    ) -> list[JobResult]:
        """See :meth:`SyncShell.wait`.

        Raises:
            APIError: ``Job/Get`` failed in a way retrying cannot fix.
        """
        results: list[JobResult] = []
        for number, job_id in enumerate(journal.jobs):
            if lock is not None:
                lock.refresh(force=True)
            result = await self.tracker.wait(job_id, timeout=job_timeout, raise_on_failure=False)
            results.append(result)
            self.engine.progress(
                "track", number + 1, len(journal.jobs), run_id, f"job {job_id}: {result.status}"
            )
        return results

    async def recover(
        self, run_id: str, job_timeout: float | None, *, refuse_if_running: bool
    ) -> ImportResult | None:
        """See :meth:`SyncShell.recover`.

        Raises:
            ImportRefusedError: its jobs still run and ``refuse_if_running``.
            APIError: polling failed for good.
        """
        engine = self.engine
        journal = Journal.read(engine.store, engine.spec)
        if journal is None:
            return None
        engine.progress("recover", 0, len(journal.groups), run_id, f"run {journal.run_id}")
        started = engine.now()
        if journal.phase == "submitting":
            try:
                listed: list[Job] = await self.norce.connect.list_jobs()
            except APIError as exc:
                log.warning("Job/List failed while recovering run %s: %s", journal.run_id, exc)
                listed = []
            journal = await self._adopt(journal, listed)
        if not journal.jobs:
            log.warning(
                "run %s of %s was interrupted before Norce returned a job id; nothing to "
                "resume (if a job was created, it is not known to this store)",
                journal.run_id,
                engine.spec.name,
            )
            engine.discard(journal)
            return engine.result(
                run_id=journal.run_id,
                mode=journal.mode,
                status=ImportStatus.FAILED,
                started=started,
                warnings=["interrupted before any job was recorded"],
            )
        results = await self.wait(journal, run_id, job_timeout, None)
        status = engine.outcome(results)
        if status is not None:
            if refuse_if_running:
                raise engine.recovery_refusal(journal, results)
            return engine.result(
                run_id=journal.run_id,
                mode=journal.mode,
                status=status,
                started=started,
                jobs=results,
                job_ids=journal.jobs,
                item_count=sum(journal.groups),
            )
        status, superseded, watermark = engine.settle(journal, results)
        engine.progress("recover", len(journal.groups), len(journal.groups), run_id, str(status))
        return engine.result(
            run_id=journal.run_id,
            mode=journal.mode,
            status=status,
            started=started,
            jobs=results,
            job_ids=journal.jobs,
            item_count=sum(journal.groups),
            watermark=watermark,
            superseded=superseded,
        )

    async def _adopt(self, journal: Journal, listed: Sequence[Job]) -> Journal:
        engine = self.engine
        tracked = engine.store.list_jobs(
            kind=engine.kind,
            account_id=engine.spec.account_id,
            submitted_after=utc(journal.submit_at - 5.0),
        )
        for job_id in match_lost_jobs(journal, tracked, listed):
            count = journal.groups[len(journal.jobs)]
            if engine.store.get_job(job_id, with_history=False) is None:
                await self.tracker.track(
                    adopted_submission(journal, job_id, count, engine),
                    full=journal.full,
                    account_id=engine.spec.account_id,
                )
            log.warning(
                "run %s: adopted job %d, found after the run was killed", journal.run_id, job_id
            )
            journal = engine.add_job(journal, job_id)
        return journal
