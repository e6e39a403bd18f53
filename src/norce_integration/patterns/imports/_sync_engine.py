# GENERATED FILE: do not edit. The blocking twin of
# src/norce_integration/patterns/imports/_async_engine.py, made by `python scripts/gen_sync.py`.
# Edit the async source and run that command again.
"""The run engine both import patterns share, written once for asyncio (``_sync_engine.py``
is generated from it): extraction loops, submission, waiting, recovery of an interrupted
run, and settling (what success changes in the store). The decisions are the pure code
of :mod:`._core`; this module only reads and writes the store, local files and Connect.

A run's life, and what a ``kill -9`` at each step leaves behind:

1. lock (kind, account) → a dead holder on this host is taken over by the next run;
2. recover this source's journal (an earlier run that was interrupted after its POST):
   wait for its jobs, then settle it exactly as that run would have;
3. extract and map into the local spool → nothing sent, no journal: the next run
   starts afresh and deletes the orphaned spool;
4. ``Job/List`` → journal ``submitting`` (with the highest job id listed, the *floor*,
   and the sha256 of each group's exact body) → POST → job id recorded by the tracker
   (with that digest) → journal names the job. A run killed in between is proven by
   step 2 of the next one: a tracked job with the group's digest submitted after the
   journal is adopted; a complete ``Job/List`` with no unexplained job above the floor
   proves the POST never created one (the run is rolled back, its watermark untouched,
   and sent again); anything else is *held* (:class:`RunHeldError`) until an operator
   runs ``jobs adopt`` or ``import resolve``. Connect echoes no nonce of ours, so
   nothing else can prove a job is a run's;
5. wait → settle (watermark, item versions, last full import, supersede) → clear the
   journal. The watermark moves only here, after Norce reported success.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs

from ..._concurrency import sleep
from ..._exceptions import (
    AmbiguousImportError,
    APIError,
    ConfigurationError,
    ImportRefusedError,
)
from ..._sync_client import Norce
from ...connect import ImportBody, header_value
from ...connect.models import Job
from ...stores import (
    FullImportRecord,
    ItemVersion,
    Store,
    TrackedJob,
    TrackedStatus,
    sortable_watermark,
)
from ..jobs import JobResult, JobTracker
from ._adapters import AdapterContext, SourceAdapter, SourceSpec, overrides
from ._core import (
    BATCH,
    GENERATION_NAMESPACE,
    JOB_LIST_PAGE,
    JOB_LIST_PAGES,
    LEGACY_SUFFIX,
    PREFETCH_BATCH,
    RUN_NAMESPACE,
    SUPERSEDED_BY_FULL,
    Adopt,
    Encoded,
    Extraction,
    Held,
    ImportResult,
    ImportStatus,
    ItemEncoder,
    Journal,
    NotSent,
    Progress,
    ProgressHook,
    Refusal,
    SmallBatchWarning,
    adopt_job,
    after_failed_submit,
    after_not_sent,
    blocking_journal,
    candidate_verdict,
    held_error,
    held_journal,
    in_flight_refusals,
    job_floor,
    listing_complete,
    lock_refusal,
    lost_job_verdict,
    moves_forward,
    newer_wins,
    next_generation,
    outcome,
    parse_generation,
    recovery_refusal,
    refresh_due,
    report,
    settles_ok,
    small_batch_text,
    state_key,
    unfinished,
    utc,
    validation_warning,
    with_job,
)
from ._spool import (
    ItemSpool,
    cleanup_orphans,
    file_exists,
    holder_is_dead,
    lock_owner,
    meta_entries,
    remove_file,
    spool_prefix,
)


__all__ = [
    "CandidateSet",
    "Engine",
    "RunLock",
    "Slots",
    "SpoolSink",
    "store_of",
]

log = logging.getLogger("norce_integration.patterns")


class ItemSink(Protocol):
    """Where accepted items of an extraction go."""

    def add(self, item: Encoded) -> None:
        """Take one item."""


class SpoolSink:
    """Accepted items straight to a spool file (full imports)."""

    def __init__(self, spool: ItemSpool) -> None:
        self.spool = spool

    def add(self, item: Encoded) -> None:
        """Append the item to the spool."""
        self.spool.add(item)


# ---------------------------------------------------------------------------- state


class Slots:
    """A source's run journal and item-version generation in the store's key/value table.

    A value still in a pre-key/value watermark row (``source#run``,
    ``source#generation``) is read once, moved into the table, and blanked.
    """

    def __init__(self, store: Store, spec: SourceSpec) -> None:
        self.store = store
        self.spec = spec
        self.key = state_key(spec)

    def get(self, namespace: str) -> str | None:
        """The slot's value (``None`` when unset)."""
        value = self.store.kv_get(namespace, self.key)
        if value is not None:
            return value or None
        kind, account = self.spec.kind.value, self.spec.account_id
        source = self.spec.name + LEGACY_SUFFIX[namespace]
        mark = self.store.get_watermark(kind, account, source)
        if mark is None or not mark.value:
            return None
        self.store.kv_compare_and_set(namespace, self.key, None, mark.value)
        self.store.compare_and_set_watermark(
            kind, account, source, expected=mark.value, new="", allow_backwards=True
        )
        value = self.store.kv_get(namespace, self.key)
        return value or None

    def put(self, namespace: str, value: str) -> None:
        """Set the slot (the lock is held: one writer)."""
        self.get(namespace)  # moves a legacy row first, so it never comes back
        self.store.kv_put(namespace, self.key, value)

    def delete(self, namespace: str) -> None:
        """Clear the slot."""
        self.get(namespace)
        self.store.kv_delete(namespace, self.key)

    def journal(self) -> Journal | None:
        """The pending journal of this source, if any."""
        text = self.get(RUN_NAMESPACE)
        if text is None:
            return None
        try:
            return Journal.loads(text)
        except (ValueError, TypeError):
            log.exception("discarding an unreadable run journal of %s", self.spec.name)
            return None

    def generation(self) -> int:
        """The current item-version generation."""
        return parse_generation(self.get(GENERATION_NAMESPACE))


class VersionBook:
    """The item versions of one source in the store: batched reads and writes.

    Entries carry the generation they were written in; only the current generation
    counts. A successful full import writes every item it sent under a new generation
    and then moves the generation, so entries of items it deactivated (absent from the
    payload) stop counting and such an item is sent again when it reappears.
    """

    def __init__(self, store: Store, spec: SourceSpec, generation: int) -> None:
        self.store = store
        self.namespace = state_key(spec)
        self.generation = generation

    @property
    def prefix(self) -> str:
        """The fingerprint prefix of the current generation."""
        return f"{self.generation}:"

    def raw(self, keys: Sequence[str]) -> dict[str, ItemVersion]:
        """Stored entries as they are (callers check :attr:`prefix`)."""
        return self.store.get_item_versions(self.namespace, keys)

    def put(self, entries: Iterable[tuple[str, str | None, str]], generation: int) -> int:
        """Write ``(key, version, fingerprint)`` entries in batches; returns how many."""
        prefix = f"{generation}:"
        batch: dict[str, ItemVersion] = {}
        written = 0
        for key, version, fingerprint in entries:
            batch[key] = ItemVersion(prefix + fingerprint, version)
            if len(batch) >= 5000:
                self.store.put_item_versions(self.namespace, batch)
                written += len(batch)
                batch = {}
        if batch:
            self.store.put_item_versions(self.namespace, batch)
            written += len(batch)
        return written


@attrs.define
class CandidateSet:
    """Delta candidates: de-duplicated by key (newest version wins), checked against the
    versions already sent. Memory holds only candidates, never every extracted record.

    ``entries``: ``key → (version, line)``; the spool holds the lines.
    """

    book: VersionBook
    spool: ItemSpool
    skip_unchanged: bool = True
    entries: dict[str, tuple[str | None, int]] = attrs.field(factory=dict)
    pending: list[Encoded] = attrs.field(factory=list)
    duplicates: int = 0
    skipped_stale: int = 0
    skipped_unchanged: int = 0

    def add(self, item: Encoded) -> None:
        """Queue one encoded record; checked in batches against the store."""
        self.pending.append(item)
        if len(self.pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        """Check the queued records against the store and keep the candidates."""
        pending, self.pending = self.pending, []
        if not pending:
            return
        entries = self.entries
        prefix = self.book.prefix
        stored = self.book.raw([p.key for p in pending if p.key not in entries])
        for item in pending:
            current = entries.get(item.key)
            if current is not None:
                self.duplicates += 1
                if newer_wins(item.version, current[0]):
                    entries[item.key] = (item.version, self.spool.add(item))
                continue
            seen = stored.get(item.key)
            verdict = candidate_verdict(
                item.version,
                item.fingerprint,
                seen.version if seen is not None else None,
                seen.fingerprint if seen is not None else None,
                prefix=prefix,
                skip_unchanged=self.skip_unchanged,
            )
            if verdict == "stale":
                self.skipped_stale += 1
            elif verdict == "unchanged":
                self.skipped_unchanged += 1
            else:
                entries[item.key] = (item.version, self.spool.add(item))

    def lines(self) -> set[int]:
        """Spool lines of the winners."""
        self.flush()
        return {line for _, line in self.entries.values()}


class RunLock:
    """The in-flight lock of (kind, account): one import at a time, across processes.

    Held from before the extraction until the run's jobs are final. It expires after
    ``ttl`` seconds unless refreshed (a run refreshes it as it goes); a holder that
    died on this host is taken over at once.
    """

    def __init__(
        self,
        store: Store,
        spec: SourceSpec,
        run_id: str,
        *,
        ttl: float,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.kind = spec.kind.value
        self.account_id = spec.account_id
        self.owner = lock_owner(run_id)
        self.ttl = ttl
        self.clock = clock
        self.held = False
        self._refreshed = 0.0

    def _try(self) -> bool:
        if self.store.acquire_lock(self.kind, self.account_id, self.owner, ttl=self.ttl):
            self.held = True
            self._refreshed = self.clock()
            return True
        return False

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            ImportRefusedError: rule ``in-flight``, naming the holder.
        """
        if self._try():
            return
        holder = self.store.lock_holder(self.kind, self.account_id)
        if holder is not None and holder_is_dead(holder.owner):
            log.warning(
                "taking over the %s lock of account %d from %s, which no longer runs",
                self.kind,
                self.account_id,
                holder.owner,
            )
            self.store.release_lock(self.kind, self.account_id, holder.owner)
            if self._try():
                return
            holder = self.store.lock_holder(self.kind, self.account_id)
        if holder is None:  # it lapsed between the two calls: try once more
            if self._try():
                return
            holder = self.store.lock_holder(self.kind, self.account_id)
        raise lock_refusal(self.kind, self.account_id, holder)

    def refresh(self, *, force: bool = False) -> None:
        """Extend the lock when a third of its life has passed (or ``force``)."""
        if not self.held:
            return
        now = self.clock()
        if refresh_due(now, self._refreshed, self.ttl, force=force):
            if not self.store.acquire_lock(self.kind, self.account_id, self.owner, ttl=self.ttl):
                log.error("lost the %s in-flight lock of account %d", self.kind, self.account_id)
            self._refreshed = now

    def release(self) -> None:
        """Release the lock (no error if it was lost)."""
        if self.held:
            self.held = False
            try:
                self.store.release_lock(self.kind, self.account_id, self.owner)
            except Exception:
                log.exception("could not release the %s in-flight lock", self.kind)


def store_of(store: Store | None, tracker: JobTracker | None) -> Store:
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


# ---------------------------------------------------------------------------- engine


class Engine:
    """The I/O of one pattern instance around the pure rules of :mod:`._core`.

    Args:
        spec: the source.
        norce: the client.
        tracker: the job tracker (its store is the state store).
        clock: seconds since the epoch.
        work_dir: directory for spool files.
        compress_spool: gzip the spool.
        progress: the progress hook.
        progress_every: records between extraction progress reports.
        lock_ttl: seconds the in-flight lock lives without a refresh.
        record_versions: record item versions/fingerprints after success.
        track_timeout: local wait limit per job (default: the tracker's).
        recovery_grace: seconds to wait before a second ``Job/List`` confirms that a
            killed run's POST created no job (a body Norce received in full just before
            the kill may take a moment to become a job).
        sleep: how to wait that long (default: the event loop's / ``time``'s sleep).
    """

    def __init__(
        self,
        spec: SourceSpec,
        norce: Norce,
        tracker: JobTracker,
        *,
        clock: Callable[[], float],
        work_dir: Path,
        compress_spool: bool,
        progress: ProgressHook | None,
        progress_every: int,
        lock_ttl: float,
        record_versions: bool,
        track_timeout: float | None,
        recovery_grace: float = 2.0,
        sleep: Callable[[float], Any] | None = None,
    ) -> None:
        self.spec = spec
        self.recovery_grace = recovery_grace
        self.sleep = sleep
        self.norce = norce
        self.tracker = tracker
        self.store = tracker.store
        self.slots = Slots(self.store, spec)
        self.clock = clock
        self.work_dir = work_dir
        self.compress_spool = compress_spool
        self.progress_hook = progress
        self.progress_every = max(1, progress_every)
        self.lock_ttl = lock_ttl
        self.record_versions = record_versions
        self.track_timeout = track_timeout

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
        return header_value(self.spec.header_for(full=full), self.spec.kind)

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

    def encoder(self, adapter: Any, *, full: bool, scoped: bool) -> ItemEncoder:
        """The item encoder for this adapter (its own ``key``/``version`` if it has them)."""
        return ItemEncoder(
            self.spec,
            key_fn=adapter.key if overrides(adapter, "key", SourceAdapter) else None,
            version_fn=(adapter.version if overrides(adapter, "version", SourceAdapter) else None),
            full=full,
            scoped=scoped,
        )

    def book(self) -> VersionBook:
        """The source's item versions at the current generation."""
        return VersionBook(self.store, self.spec, self.slots.generation())

    def watermark(self) -> tuple[str | None, float | None]:
        """The delta watermark and when it last moved (``None, None``: never)."""
        mark = self.store.get_watermark(self.kind, self.spec.account_id, self.spec.name)
        if mark is None:
            return None, None
        return mark.value, mark.updated_at.timestamp()

    def in_flight(self, *, include_lock: bool, exclude: Iterable[int] = ()) -> list[Refusal]:
        """``in-flight`` findings from the store (lock holder, unfinished jobs)."""
        holder = self.store.lock_holder(self.kind, self.spec.account_id) if include_lock else None
        out = in_flight_refusals(self.spec, holder, self.unfinished(exclude))
        if include_lock:  # a plan: list held runs too
            for refusal in self.journal_refusals(full=False, include_own=True):
                out.append((refusal.rule, str(refusal).split(": ", 1)[-1]))
        return out

    def unfinished(self, exclude: Iterable[int] = ()) -> list[TrackedJob]:
        """Unfinished jobs of (kind, account) in the store, except ``exclude``."""
        jobs = self.store.unresolved_jobs(kind=self.kind, account_id=self.spec.account_id)
        return unfinished(jobs, exclude)

    def cleanup_orphans(self) -> None:
        """Delete spool files of this source that no pending run references (lock held)."""
        journal = self.slots.journal()
        keep = [journal.spool, journal.versions] if journal is not None else []
        cleanup_orphans(self.work_dir, spool_prefix(self.spec), keep)

    # --------------------------------------------------------------- extraction

    def extract(
        self,
        records: Callable[[], Iterable[Any]],
        adapter: Any,
        extraction: Extraction,
        sink: ItemSink,
        *,
        run_id: str,
        lock: RunLock | None,
    ) -> None:
        """Iterate the source, map every record, hand accepted items to ``sink``.

        An exception from the source itself (not from ``map``) is stored in
        ``extraction.failure`` and ends the loop: the extraction did not finish.
        """
        every = self.progress_every
        prefetch = adapter.prefetch if overrides(adapter, "prefetch", SourceAdapter) else None
        batch: list[Any] = []
        index = 0
        iterator: Iterator[Any] | None = None

        def process(record: Any) -> None:
            nonlocal index
            try:
                item = adapter.map(record)
            except Exception as exc:  # noqa: BLE001 - integrator code: a mapping error
                extraction.failed(index, record, exc)
            else:
                encoded = extraction.mapped(index, record, item)
                if encoded is not None:
                    sink.add(encoded)
            index += 1

        def flush() -> None:
            if prefetch is not None and batch:
                prefetch(list(batch))
            for record in batch:
                process(record)
            batch.clear()

        try:
            iterator = records().__iter__()
            while True:
                try:
                    record = iterator.__next__()
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
                    self.progress("extract", extraction.extracted, None, run_id)
                    if lock is not None:
                        lock.refresh()
            flush()
        except Exception as exc:  # noqa: BLE001 - the source failed: refuse, never send
            extraction.failure = exc
        finally:
            # Close the source's async generator now, not at garbage collection (a
            # plain iterator has no ``aclose``: nothing to do).
            closer = getattr(iterator, "close", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    closer()
        self.progress("extract", extraction.extracted, extraction.extracted, run_id, "done")

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
        digests: Sequence[str] = (),
        watermark_before: str | None = None,
        until: str | None = None,
    ) -> Journal:
        """Write the journal before the first POST (after reading the job-id floor)."""
        floor = self.job_floor(run_id)
        journal = Journal(
            run_id=run_id,
            mode=mode,
            phase="submitting",
            started_at=started_at,
            submit_at=self.now(),
            groups=tuple(groups),
            digests=tuple(digests),
            floor=floor,
            header=header,
            watermark_before=watermark_before,
            until=until,
            versions=versions,
            spool=spool,
            generation=generation,
            record_versions=self.record_versions,
        )
        self.slots.put(RUN_NAMESPACE, journal.dumps())
        return journal

    def job_floor(self, run_id: str) -> int | None:
        """The highest job id ``Job/List`` shows now (``None``: it could not be read)."""
        try:
            return job_floor(self.norce.connect.list_jobs(take=JOB_LIST_PAGE))
        except APIError as exc:
            log.warning(
                "run %s: Job/List failed before the POST (%s); if this run is killed before "
                "its job id is stored, it will be held for an operator",
                run_id,
                exc,
            )
            return None

    def digests(self, groups: Sequence[Callable[[], Iterable[bytes]]]) -> list[str]:
        """sha256 of each group's exact body, as :meth:`submit` will stream it."""
        out: list[str] = []
        for make_items in groups:
            body = ImportBody(make_items(), kind=self.kind, framing="encoded")
            for number, _ in enumerate(body):
                if number % 16 == 15:
                    sleep(0)  # a large body: let the loop breathe
            out.append(body.digest)
        return out

    def _write(self, journal: Journal) -> Journal:
        self.slots.put(RUN_NAMESPACE, journal.dumps())
        return journal

    def discard(self, journal: Journal) -> None:
        """Forget a run that cannot succeed; its files go too."""
        self.slots.delete(RUN_NAMESPACE)
        remove_file(journal.spool)
        if journal.versions != journal.spool:
            remove_file(journal.versions)

    # --------------------------------------------------------------- submit, wait, recover

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
        notes: list[str] = []
        tracker = self.tracker
        spool = tracker.spool
        account = self.spec.account_id
        connect = self.norce.connect
        for number, (make_items, count) in enumerate(zip(groups, journal.groups, strict=True)):
            try:
                if spool is None:
                    submitted = connect.submit_encoded(self.spec.kind, make_items(), journal.header)
                    job = tracker.track(submitted, full=full, account_id=account)
                else:
                    with spool.writer() as tee:
                        submitted = connect.submit_encoded(
                            self.spec.kind, make_items(), journal.header, tee=tee
                        )
                    job = tracker.track(submitted, full=full, account_id=account, payload_path=tee)
            except APIError as exc:
                after = after_failed_submit(
                    journal, ambiguous=isinstance(exc, AmbiguousImportError)
                )
                if after is None:
                    self.discard(journal)
                elif after is not journal:
                    self._write(after)
                raise
            journal = self._write(with_job(journal, job.job_id))
            text = validation_warning(submitted.job_id, submitted.response.validation_summary)
            if text is not None:
                log.warning("%s", text)
                notes.append(text)
            self.progress(
                "submit", number + 1, len(groups), run_id, f"job {job.job_id}: {count} items"
            )
            if lock is not None:
                lock.refresh(force=True)
        return journal, notes

    def wait(self, journal: Journal, run_id: str, lock: RunLock | None) -> list[JobResult]:
        """Wait for every job of the journal (failures are returned, not raised).

        Raises:
            APIError: ``Job/Get`` failed in a way retrying cannot fix.
        """
        results: list[JobResult] = []
        for number, job_id in enumerate(journal.jobs):
            if lock is not None:
                lock.refresh(force=True)
            result = self.tracker.wait(job_id, timeout=self.track_timeout, raise_on_failure=False)
            results.append(result)
            self.progress(
                "track", number + 1, len(journal.jobs), run_id, f"job {job_id}: {result.status}"
            )
        return results

    def recover(self, run_id: str, *, refuse_if_running: bool) -> ImportResult | None:
        """Finish this source's interrupted run, if there is one.

        Raises:
            ImportRefusedError: its jobs still run and ``refuse_if_running``.
            APIError: polling failed for good.
        """
        journal = self.slots.journal()
        if journal is None:
            return None
        self.progress("recover", 0, len(journal.groups), run_id, f"run {journal.run_id}")
        started = self.now()
        if journal.phase == "held":
            raise held_error(self.slots.key, journal)
        notes: list[str] = []
        if journal.open_group is not None:
            prior = journal
            journal, note = self.prove(journal)
            if journal is None:
                self.discard(prior)
                return self.result(
                    run_id=prior.run_id,
                    mode=prior.mode,
                    status=ImportStatus.FAILED,
                    started=started,
                    watermark=(self.watermark())[0],
                    warnings=[note],
                )
            notes.append(note)
        if not journal.jobs:
            self.discard(journal)
            return self.result(
                run_id=journal.run_id,
                mode=journal.mode,
                status=ImportStatus.FAILED,
                started=started,
                warnings=["interrupted before any job was recorded"],
            )
        results = self.wait(journal, run_id, None)
        common: dict[str, Any] = {
            "run_id": journal.run_id,
            "mode": journal.mode,
            "started": started,
            "jobs": results,
            "job_ids": journal.jobs,
            "item_count": sum(journal.groups),
            "warnings": notes,
        }
        status = outcome(results)
        if status is not None:
            if refuse_if_running:
                raise recovery_refusal(self.spec, journal, results)
            return self.result(status=status, **common)
        status, superseded, watermark = self.settle(journal, results)
        self.progress("recover", len(journal.groups), len(journal.groups), run_id, str(status))
        return self.result(status=status, watermark=watermark, superseded=superseded, **common)

    def list_above(self, floor: int | None) -> tuple[list[Job] | None, bool, str]:
        """``Job/List`` pages down to ``floor``: ``(jobs, complete, error)``."""
        pages: list[list[int]] = []
        jobs: list[Job] = []
        try:
            for number in range(JOB_LIST_PAGES):
                page = self.norce.connect.list_jobs(skip=number * JOB_LIST_PAGE, take=JOB_LIST_PAGE)
                ids = [j.job_id for j in page]
                pages.append(ids)
                jobs.extend(page)
                if len(page) < JOB_LIST_PAGE or (floor is not None and min(ids) <= floor):
                    break
        except APIError as exc:
            return None, False, f"{type(exc).__name__}: {exc}"
        complete = floor is not None and listing_complete(pages, floor, JOB_LIST_PAGE)
        return jobs, complete, ""

    def prove(self, journal: Journal) -> tuple[Journal | None, str]:
        """Decide the open group of a killed run without guessing (see
        :func:`lost_job_verdict`): adopt its job, roll it back, or hold it.

        Returns:
            The journal after the verdict (``None``: discarded, nothing was sent) and a
            note for the result.

        Raises:
            RunHeldError: the outcome cannot be proven (the journal is held when the
                evidence is final).
        """
        verdict = self._verdict(journal)
        if isinstance(verdict, NotSent) and self.recovery_grace > 0:
            # A body Norce received in full just before the kill may still become a job.
            self._pause(self.recovery_grace)
            verdict = self._verdict(journal)
        if isinstance(verdict, Adopt):
            group = journal.open_group
            assert group is not None
            log.warning(
                "run %s: adopted job %d (tracked with the payload digest of group %d, "
                "submitted after the journal was written)",
                journal.run_id,
                verdict.job_id,
                group + 1,
            )
            after = self._write(adopt_job(journal, verdict.job_id))
            return after, f"adopted job {verdict.job_id}"
        if isinstance(verdict, NotSent):
            log.warning(
                "run %s of %s: its POST never created a job (%s); rolled back, the "
                "watermark did not move and the next run sends its records again",
                journal.run_id,
                self.spec.name,
                verdict.reason,
            )
            after_journal = after_not_sent(journal)
            if after_journal is not None:
                self._write(after_journal)
            return after_journal, f"not sent: {verdict.reason}"
        assert isinstance(verdict, Held)
        if verdict.final:
            journal = self._write(held_journal(journal, verdict))
            log.error("%s", held_error(self.slots.key, journal))
        raise held_error(self.slots.key, journal, verdict.reason)

    def _verdict(self, journal: Journal) -> Adopt | NotSent | Held:
        tracked = self.store.list_jobs(
            kind=self.kind,
            account_id=self.spec.account_id,
            submitted_after=utc(journal.submit_at - 60.0),
        )
        listed, complete, error = self.list_above(journal.floor)
        return lost_job_verdict(
            journal, tracked, listed, complete=complete, now=self.now(), list_error=error
        )

    def _pause(self, seconds: float) -> None:
        if self.sleep is None:
            sleep(seconds)
        else:
            self.sleep(seconds)

    def other_journals(self, *, full: bool) -> None:
        """Refuse while another source's run of this kind and account is held (or, for
        a full import, has a group whose job may exist unknown to the store).

        Raises:
            RunHeldError: a held run.
            ImportRefusedError: rule ``in-flight``.
        """
        refusals = self.journal_refusals(full=full, include_own=False)
        if refusals:
            raise refusals[0]

    def journal_refusals(self, *, full: bool, include_own: bool) -> list[ImportRefusedError]:
        """The refusals journals of this kind and account impose (see
        :func:`blocking_journal`)."""
        prefix = f"{self.kind}:{self.spec.account_id}:"
        out: list[ImportRefusedError] = []
        for key, text in (self.store.kv_list(RUN_NAMESPACE, prefix)).items():
            if (key == self.slots.key and not include_own) or not text:
                continue
            try:
                journal = Journal.loads(text)
            except (ValueError, TypeError):
                continue
            refusal = blocking_journal(key, journal, full=full)
            if refusal is not None:
                out.append(refusal)
        return out

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
        ok = settles_ok(journal, results)
        superseded: tuple[int, ...] = ()
        if ok and journal.full:
            superseded, watermark = self._finalize_full(journal, results)
        elif ok:
            watermark = self._finalize_delta(journal)
        else:
            watermark = (self.watermark())[0]
        self.discard(journal)
        return (ImportStatus.SUCCEEDED if ok else ImportStatus.FAILED), superseded, watermark

    def advance_watermark(self, new: str, *, expected: str | None) -> str | None:
        """Move the delta watermark to ``new`` if that is forward; returns the value after.

        Compare-and-set on ``expected`` (what the run read); if another writer moved it in
        between, retry from the current value, still never backwards.
        """
        kind, account, source = self.kind, self.spec.account_id, self.spec.name
        current = expected
        for _ in range(3):
            if not moves_forward(current, new):
                return current
            if self.store.compare_and_set_watermark(
                kind, account, source, expected=current, new=new
            ):
                return new
            current = (self.watermark())[0]
        return current

    def _versions(self, journal: Journal, book: VersionBook, generation: int) -> None:
        if not journal.record_versions:
            return
        path = journal.versions
        if path and file_exists(path):
            written = book.put(meta_entries(path), generation)
            log.debug("recorded %d item versions of %s", written, self.spec.name)
        elif path:
            # Another machine ran it, or the file was cleaned: without the versions the
            # next run re-sends (at least once), never skips wrongly.
            log.warning("the item-version file %s is gone; versions not recorded", path)

    def _finalize_full(
        self, journal: Journal, results: Sequence[JobResult]
    ) -> tuple[tuple[int, ...], str | None]:
        book = self.book()
        generation = next_generation(book.generation, journal.generation)
        self._versions(journal, book, generation)
        # Bumped even without versions: older entries then stop counting (safe).
        self.slots.put(GENERATION_NAMESPACE, sortable_watermark(generation))
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
        watermark = self.advance_watermark(start, expected=(self.watermark())[0])
        return tuple(sorted(superseded)), watermark

    def _finalize_delta(self, journal: Journal) -> str | None:
        book = self.book()
        self._versions(journal, book, book.generation)
        if journal.until is None:
            return (self.watermark())[0]
        return self.advance_watermark(journal.until, expected=journal.watermark_before)

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

    def small_batch(self, items: int, since_last: float | None, run_id: str) -> str | None:
        """Apply the small-batch rule; returns the warning text when it warns.

        Raises:
            ImportRefusedError: rule ``small-batch`` with ``small_batch="refuse"``.
        """
        text = small_batch_text(self.spec, items, since_last)
        if text is None:
            return None
        if self.spec.small_batch == "refuse":
            raise ImportRefusedError(
                text + "; the records wait for the next run", rule="small-batch"
            )
        log.warning("%s (run %s)", text, run_id)
        warnings.warn(text, SmallBatchWarning, stacklevel=3)
        return text
