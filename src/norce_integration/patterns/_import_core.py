"""What :class:`FullImport` and :class:`DeltaImport` share (no network I/O here).

* results: :class:`ImportResult`, :class:`ImportPlan`, :class:`MappingError`,
  :class:`Progress`;
* the per-record pipeline: map → wire dict → validate → key, version, canonical JSON,
  fingerprint (:class:`ItemEncoder`);
* the local item spool (:class:`ItemSpool`): extracted items go to disk as JSON lines,
  never to memory, so a full import is complete and checked before its POST starts;
* item versions of a source in the store (:class:`VersionBook`), with a generation that
  a successful full import bumps so entries of items it deactivated stop counting;
* the in-flight lock (:class:`RunLock`) and the run journal (:class:`Journal`), which
  together make a killed run recoverable: the journal is written before the POST and
  names the job ids as soon as Norce returns them;
* the safety rules as plain functions (mapping errors, shrink guard, scope packing).

Where state lives (every piece in the :class:`~norce_integration.stores.Store`, so
processes sharing a store share it):

==============================  =====================================================
delta watermark                 watermark ``(kind, account, source)``
run journal                     watermark ``(kind, account, source + "#run")``, JSON
item-version generation         watermark ``(kind, account, source + "#generation")``
item versions / fingerprints    item versions, kind ``"<kind>:<account>:<source>"``,
                                fingerprint ``"<generation>:<blake2b-128 hex>"``
last good full import           full imports ``(kind, account)``
in-flight lock                  locks ``(kind, account)``
==============================  =====================================================
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import gzip
import hashlib
import json
import logging
import os
import reprlib
import socket
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from hashlib import blake2b
from pathlib import Path
from typing import IO, Any, Final

import attrs
import orjson

from .._convert import fast_unstructure_fn
from .._exceptions import ConfigurationError, ImportRefusedError
from ..connect._body import InvalidItemError, _default, _to_wire
from ..connect.models import IMPORT_SPECS, ImportKind, Job
from ..stores._protocol import (
    FullImportRecord,
    ItemVersion,
    Store,
    TrackedJob,
    TrackedStatus,
    sortable_watermark,
)
from .adapters import KEY_SEPARATOR, SourceSpec, Version, key_function
from .job_tracker import JobResult


__all__ = [
    "ImportPlan",
    "ImportResult",
    "ImportStatus",
    "MappingError",
    "Progress",
    "ProgressHook",
]

log = logging.getLogger("norce_integration.patterns")

CHUNK_SIZE: Final = 64 * 1024
"""Body chunk size, as in ``connect._body``."""
BATCH: Final = 8192
"""Records per store round trip (item-version reads and writes)."""
ERROR_SAMPLE: Final = 1000
"""Mapping errors kept in a result (all are counted)."""

PENDING_STATUSES: Final = (
    TrackedStatus.SUBMITTED,
    TrackedStatus.QUEUED,
    TrackedStatus.VALIDATING,
    TrackedStatus.RUNNING,
    TrackedStatus.UNKNOWN,
    TrackedStatus.TIMED_OUT_LOCALLY,
)
SUPERSEDED_BY_FULL: Final = (
    TrackedStatus.FAILED,
    TrackedStatus.VALIDATION_FAILED,
    *PENDING_STATUSES,
)


def utc(ts: float) -> dt.datetime:
    """Seconds since the epoch → aware UTC datetime."""
    return dt.datetime.fromtimestamp(ts, dt.UTC)


def parse_watermark(value: str) -> dt.datetime:
    """Decode a datetime watermark written by :func:`sortable_watermark`.

    Raises:
        ConfigurationError: the stored watermark is not a datetime.
    """
    try:
        return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    except ValueError:
        msg = f"the stored watermark {value!r} is not a datetime watermark of this SDK"
        raise ConfigurationError(msg, setting="watermark") from None


# ---------------------------------------------------------------------------- results


class ImportStatus(enum.StrEnum):
    """How an import run ended."""

    SUCCEEDED = "succeeded"
    """Every job succeeded; state was updated (watermark, versions, last full import)."""
    FAILED = "failed"
    """A job failed or failed validation; the watermark did not move."""
    SUBMITTED = "submitted"
    """Submitted without waiting (``wait=False``); the next run or ``resume()`` finishes it."""
    TIMED_OUT_LOCALLY = "timed_out_locally"
    """We stopped waiting; the job may still run. The next run or ``resume()`` checks it."""
    EMPTY = "empty"
    """Nothing to send (no change); the watermark moved if the extraction was clean."""


@attrs.frozen
class MappingError:
    """A record that could not be turned into a valid Connect item.

    Attributes:
        index: the record's position in the extraction (0-based).
        key: the record's key, when it could be determined.
        reason: why (the exception's type and message, or the rule broken).
        record: a short ``repr`` of the record.
    """

    index: int
    key: str | None
    reason: str
    record: str = ""

    def __str__(self) -> str:
        key = f" (key {self.key!r})" if self.key is not None else ""
        return f"record #{self.index}{key}: {self.reason}"


@attrs.frozen
class Progress:
    """One progress report (the CLI draws bars from these).

    Attributes:
        phase: ``recover``, ``extract``, ``check``, ``submit``, ``track``, ``finalize``
            or ``done``.
        done: units done in this phase (records, items, jobs).
        total: units in this phase, when known.
        kind: import kind.
        source: source name.
        run_id: the run.
        message: a short human description.
    """

    phase: str
    done: int
    total: int | None
    kind: str
    source: str
    run_id: str
    message: str = ""


ProgressHook = Callable[[Progress], None]
"""Called with every :class:`Progress`; exceptions it raises are logged and ignored,
except ``BaseException`` subclasses that are not ``Exception`` (``KeyboardInterrupt``)."""


@attrs.frozen(kw_only=True)
class ImportResult:
    """How an import run went.

    Attributes:
        kind: import kind.
        source: source name.
        account_id: system account.
        mode: ``"full"``, ``"delta"`` or ``"fingerprint"``.
        run_id: the run's id.
        status: see :class:`ImportStatus`.
        jobs: the tracked outcome of each job (empty when nothing was sent).
        job_ids: the Connect job ids, in submission order.
        extracted: records read from the source.
        item_count: items sent.
        duplicates: records dropped because a newer record of the same key won.
        skipped_stale: records older than what was already sent for their key.
        skipped_unchanged: records whose content was already sent unchanged.
        mapping_errors: up to 1000 mapping errors (see ``mapping_error_count``).
        mapping_error_count: all mapping errors.
        started_at: when the run started.
        finished_at: when it ended.
        window: ``(since, until)`` of a delta (``since`` ``None`` on a first run).
        watermark: the watermark after the run.
        superseded: earlier jobs this full import superseded (never retried).
        recovered: the result of an earlier, interrupted run this run finished first.
        warnings: what the run warned about (small batches, sync validation, ...).
    """

    kind: str
    source: str
    account_id: int
    mode: str
    run_id: str
    status: ImportStatus
    jobs: tuple[JobResult, ...] = ()
    job_ids: tuple[int, ...] = ()
    extracted: int = 0
    item_count: int = 0
    duplicates: int = 0
    skipped_stale: int = 0
    skipped_unchanged: int = 0
    mapping_errors: tuple[MappingError, ...] = ()
    mapping_error_count: int = 0
    started_at: dt.datetime
    finished_at: dt.datetime
    window: tuple[dt.datetime | None, dt.datetime] | None = None
    watermark: str | None = None
    superseded: tuple[int, ...] = ()
    recovered: ImportResult | None = None
    warnings: tuple[str, ...] = ()

    @property
    def succeeded(self) -> bool:
        """True when every job succeeded (or there was nothing to send)."""
        return self.status in (ImportStatus.SUCCEEDED, ImportStatus.EMPTY)

    @property
    def duration(self) -> float:
        """Seconds from the start of the run to its end."""
        return max(0.0, (self.finished_at - self.started_at).total_seconds())

    @property
    def lead_time(self) -> float | None:
        """Seconds from the first submission to the last job's finish (``None`` if none)."""
        starts = [j.submitted_at for j in self.jobs]
        ends = [j.finished_at for j in self.jobs if j.finished_at is not None]
        if not starts or len(ends) != len(self.jobs):
            return None
        return max(0.0, (max(ends) - min(starts)).total_seconds())

    def _sum(self, name: str) -> int | None:
        values = [getattr(j, name) for j in self.jobs]
        if not values or any(v is None for v in values):
            return None
        return int(sum(values))

    @property
    def totals(self) -> int | None:
        """Sum of ``JobDto.Totals`` (``None`` unless every job reported it)."""
        return self._sum("totals")

    @property
    def inserts(self) -> int | None:
        """Sum of ``JobDto.Inserts``."""
        return self._sum("inserts")

    @property
    def updates(self) -> int | None:
        """Sum of ``JobDto.Updates``."""
        return self._sum("updates")

    @property
    def fail(self) -> int | None:
        """Sum of ``JobDto.Fail``."""
        return self._sum("fail")


@attrs.frozen(kw_only=True)
class ImportPlan:
    """What a run would send, computed without calling Connect or changing state.

    Attributes:
        kind: import kind.
        source: source name.
        account_id: system account.
        mode: ``"full"``, ``"delta"`` or ``"fingerprint"``.
        header: the ``X-StormConnect-Header`` value that would be sent (one line of JSON).
        extracted: records read.
        item_count: items that would be sent.
        duplicates: records a newer record of the same key would replace.
        skipped_stale: records older than what was already sent.
        skipped_unchanged: records already sent unchanged.
        mapping_errors: up to 1000 mapping errors.
        mapping_error_count: all mapping errors.
        samples: the first items that would be sent, as wire dicts.
        scope_groups: items per scope value (split full imports), ``{}`` otherwise.
        jobs: items per job that would be submitted.
        window: ``(since, until)`` of a delta.
        refusals: ``(rule, message)`` of every rule that would refuse the run.
        last_full_count: items of the last good full import (the shrink guard's base).
    """

    kind: str
    source: str
    account_id: int
    mode: str
    header: str
    extracted: int = 0
    item_count: int = 0
    duplicates: int = 0
    skipped_stale: int = 0
    skipped_unchanged: int = 0
    mapping_errors: tuple[MappingError, ...] = ()
    mapping_error_count: int = 0
    samples: tuple[dict[str, Any], ...] = ()
    scope_groups: dict[str, int] = attrs.field(factory=dict)
    jobs: tuple[int, ...] = ()
    window: tuple[dt.datetime | None, dt.datetime] | None = None
    refusals: tuple[tuple[str, str], ...] = ()
    last_full_count: int | None = None

    @property
    def would_submit(self) -> bool:
        """True when a run would submit at least one job."""
        return not self.refusals and bool(self.jobs)


# ---------------------------------------------------------------------------- encoding


_REQUIRED: dict[ImportKind, tuple[str, ...]] = {
    ImportKind.sku_price_lists: ("PartNo", "PriceListCode"),
    ImportKind.price_lists: ("Code",),
    ImportKind.onhands: ("PartNo", "WarehouseCode", "LocationCode"),
    ImportKind.relations: ("PartNo", "RelatedPartNo", "RelationTypeCode"),
    ImportKind.competitor_skus: ("PartNo", "CompetitorCode", "CompetitorPartNo"),
    ImportKind.supplier_products: ("SupplierPartNo",),
}

_repr = reprlib.Repr()
_repr.maxstring = 80
_repr.maxother = 120
_repr.maxdict = 8
_repr.maxlist = 6


def record_repr(record: Any) -> str:
    """A short ``repr`` of a source record for error reports."""
    try:
        return _repr.repr(record)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the mapping error
        return f"<{type(record).__name__}>"


class Encoded:
    """One mapped, validated item ready for the spool (a plain slotted class: one is
    made per record, so construction cost matters)."""

    __slots__ = ("data", "fingerprint", "key", "scope", "version")

    def __init__(
        self, key: str, version: str | None, fingerprint: str, scope: str | None, data: bytes
    ) -> None:
        self.key = key
        self.version = version
        self.fingerprint = fingerprint
        self.scope = scope
        self.data = data


class ItemEncoder:
    """Turns mapped items into :class:`Encoded` (pure; one per run).

    Args:
        spec: the source spec.
        key_fn: the adapter's ``key`` when it overrides the default, else ``None``.
        version_fn: the adapter's ``version`` when overridden, else ``None``.
        full: a full import (``FullFile=true`` requires products' ``Code``).
        scoped: compute each item's scope value (split full imports).
    """

    def __init__(
        self,
        spec: SourceSpec,
        *,
        key_fn: Callable[[Any], str | None] | None,
        version_fn: Callable[[Any], Version | None] | None,
        full: bool,
        scoped: bool,
    ) -> None:
        self.kind = spec.kind
        self.item_type = IMPORT_SPECS[spec.kind].item_type
        self.unstructure = fast_unstructure_fn(self.item_type)
        self.key_fn = key_fn
        self.item_key = key_function(spec.kind)
        self.version_fn = version_fn
        required = _REQUIRED.get(spec.kind, ())
        if full and spec.kind is ImportKind.products:
            # FullFile=true makes the variant-cluster Code mandatory (reference §6.1).
            required = ("Code",)
        self.required = required
        self.scope_key = spec.scope_key if scoped else ()
        self.scoped = scoped

    def error(self, index: int, record: Any, exc: BaseException | str) -> MappingError:
        """A :class:`MappingError` for ``record`` (key included when it can be had)."""
        key: str | None = None
        if self.key_fn is not None:
            with contextlib.suppress(Exception):
                key = self.key_fn(record)
        reason = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
        return MappingError(index, key, reason, record_repr(record))

    def encode(self, index: int, record: Any, item: Any) -> Encoded | MappingError:
        """Validate and encode one mapped item; a problem becomes a :class:`MappingError`."""
        if type(item) is self.item_type:
            wire = self.unstructure(item)  # the common case, without the generic dispatch
        else:
            try:
                wire = _to_wire(item, self.item_type, index, self.kind.value)
            except InvalidItemError as exc:
                return self.error(index, record, str(exc))
        for name in self.required:
            value = wire.get(name)
            if value is None or value == "":
                return self.error(index, record, f"{name} is required")
        version: str | None = None
        try:
            key = self.key_fn(record) if self.key_fn is not None else self.item_key(wire)
            if self.version_fn is not None:
                raw = self.version_fn(record)
                if raw is not None:
                    version = sortable_watermark(raw)
        except Exception as exc:  # noqa: BLE001 - integrator code: a mapping error
            return self.error(index, record, exc)
        if not key:
            return self.error(index, record, "the item has no key (override key())")
        try:
            data = orjson.dumps(wire, default=_default, option=orjson.OPT_SORT_KEYS)
        except TypeError as exc:
            return self.error(index, record, str(exc.__cause__ or exc))
        scope: str | None = None
        if self.scoped:
            parts = [wire.get(name) for name in self.scope_key]
            if any(p is None or p == "" for p in parts):
                return self.error(
                    index, record, f"scope key {'+'.join(self.scope_key)} is required to split"
                )
            scope = KEY_SEPARATOR.join(str(p) for p in parts)
        if type(key) is not str:
            key = str(key)
        return Encoded(key, version, blake2b(data, digest_size=16).hexdigest(), scope, data)


def fingerprint_of(wire: Mapping[str, Any]) -> str:
    """The fingerprint of a wire dict: blake2b-128 of its sorted-key compact JSON."""
    data = orjson.dumps(wire, default=_default, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(data, digest_size=16).hexdigest()


# ---------------------------------------------------------------------------- spool


SPOOL_PREFIX: Final = "norce-import-"


def spool_prefix(spec: SourceSpec) -> str:
    """File-name prefix of this source's spool files (orphans are found by it)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in spec.name)
    return f"{SPOOL_PREFIX}{spec.kind.value}-{spec.account_id}-{safe}-"


class ItemSpool:
    """Items of one run on local disk: ``<meta JSON>\\t<item JSON>\\n`` per line.

    ``meta`` is ``[key, version, fingerprint, scope]``. orjson escapes control
    characters inside strings, so neither part holds a raw tab or newline.

    Args:
        directory: where the file goes.
        prefix: file-name prefix.
        compress: gzip (level 1) instead of plain lines: about 4x less disk, more CPU.
    """

    def __init__(self, directory: Path, prefix: str, *, compress: bool = False) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        suffix = ".jsonl.gz" if compress else ".jsonl"
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
        self.path = Path(name)
        self.compress = compress
        raw: IO[bytes] = os.fdopen(fd, "wb", buffering=1 << 20)
        self._file: IO[bytes] | gzip.GzipFile = (
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) if compress else raw
        )
        self._raw = raw
        self._pending: list[bytes] = []
        self.count = 0
        self.closed = False

    def add(self, item: Encoded) -> int:
        """Append one item; returns its line number."""
        self._pending.append(
            orjson.dumps([item.key, item.version, item.fingerprint, item.scope])
            + b"\t"
            + item.data
            + b"\n"
        )
        if len(self._pending) >= 512:
            self._file.write(b"".join(self._pending))
            self._pending.clear()
        line = self.count
        self.count += 1
        return line

    def close(self) -> None:
        """Flush and close (the file stays for reading)."""
        if self.closed:
            return
        self.closed = True
        try:
            if self._pending:
                self._file.write(b"".join(self._pending))
                self._pending.clear()
            self._file.close()
        finally:
            self._raw.close()

    def delete(self) -> None:
        """Close and remove the file."""
        with contextlib.suppress(OSError):
            self.close()
        remove_file(self.path)


def remove_file(path: str | Path | None) -> None:
    """Delete a file if it exists."""
    if path:
        with contextlib.suppress(OSError):
            Path(path).unlink()


def read_lines(path: str | Path) -> Iterator[bytes]:
    """Lines of a spool file (plain or gzip), without the newline."""
    p = Path(path)
    opener: Callable[[], IO[bytes] | gzip.GzipFile]
    if p.suffix == ".gz":
        opener = lambda: gzip.open(p, "rb")  # noqa: E731, SIM115
    else:
        opener = lambda: open(p, "rb", buffering=1 << 20)  # noqa: E731, SIM115
    with opener() as f:
        for line in f:
            yield line.rstrip(b"\n")


def split_line(line: bytes) -> tuple[bytes, bytes]:
    """``(meta, item)`` of a spool line (``item`` is empty for meta-only lines)."""
    meta, _, item = line.partition(b"\t")
    return meta, item


def body_chunks(items: Iterable[bytes]) -> Iterator[bytes]:
    """A JSON array body from encoded items, in ~64 KiB chunks."""
    buf = bytearray(b"[")
    first = True
    for item in items:
        if first:
            first = False
        else:
            buf += b","
        buf += item
        if len(buf) >= CHUNK_SIZE:
            yield bytes(buf)
            buf.clear()
    buf += b"]"
    yield bytes(buf)


def tee_chunks(chunks: Iterable[bytes], tee: Callable[[bytes], None]) -> Iterator[bytes]:
    """Pass chunks through, handing each to ``tee`` (the payload spool)."""
    for chunk in chunks:
        tee(chunk)
        yield chunk


def cleanup_orphans(directory: Path, prefix: str, keep: Iterable[str | None]) -> int:
    """Delete this source's spool files not referenced by ``keep`` (after a crash).

    Only called while holding the source's in-flight lock, so no live run owns them.
    """
    keep_set = {str(Path(k)) for k in keep if k}
    removed = 0
    with contextlib.suppress(OSError):
        for path in directory.glob(prefix + "*"):
            if str(path) not in keep_set:
                remove_file(path)
                removed += 1
    return removed


# ---------------------------------------------------------------------------- state slots


def slot_value(store: Store, spec: SourceSpec, suffix: str) -> str | None:
    """The value of an auxiliary slot of this source (``None`` when unset or empty)."""
    mark = store.get_watermark(spec.kind.value, spec.account_id, spec.name + suffix)
    return mark.value if mark is not None and mark.value else None


def set_slot(store: Store, spec: SourceSpec, suffix: str, value: str) -> None:
    """Set an auxiliary slot (compare-and-set on what was read; the lock is held).

    Raises:
        StoreError: the store failed, or another writer raced us (a second try failed).
    """
    source = spec.name + suffix
    for _ in range(3):
        mark = store.get_watermark(spec.kind.value, spec.account_id, source)
        expected = mark.value if mark is not None else None
        if store.compare_and_set_watermark(
            spec.kind.value,
            spec.account_id,
            source,
            expected=expected,
            new=value,
            allow_backwards=True,
        ):
            return
    from .._exceptions import StoreError  # noqa: PLC0415

    raise StoreError(f"could not update {source!r}: concurrent writers")


def advance_watermark(
    store: Store, spec: SourceSpec, new: str, *, expected: str | None
) -> str | None:
    """Move the delta watermark to ``new`` if that is forward; returns the value after.

    Compare-and-set on ``expected`` (what the run read); if another writer moved it in
    between, retry from the current value, still never backwards.
    """
    kind, account, source = spec.kind.value, spec.account_id, spec.name
    current = expected
    for _ in range(3):
        if current is not None and new <= current:
            return current
        if store.compare_and_set_watermark(kind, account, source, expected=current, new=new):
            return new
        mark = store.get_watermark(kind, account, source)
        current = mark.value if mark is not None else None
    return current


# ---------------------------------------------------------------------------- versions


class VersionBook:
    """The item versions of one source in the store: batched reads and writes.

    Entries carry the generation they were written in; only the current generation
    counts. A successful full import writes every item it sent under a new generation
    and then moves the generation slot, so entries of items it deactivated (absent from
    the payload) stop counting and such an item is sent again when it reappears.
    """

    GENERATION: Final = "#generation"

    def __init__(self, store: Store, spec: SourceSpec) -> None:
        self.store = store
        self.spec = spec
        self.namespace = f"{spec.kind.value}:{spec.account_id}:{spec.name}"
        raw = slot_value(store, spec, self.GENERATION)
        self.generation = int(raw) if raw else 0

    @property
    def prefix(self) -> str:
        """The fingerprint prefix of the current generation."""
        return f"{self.generation}:"

    def raw(self, keys: Sequence[str]) -> dict[str, ItemVersion]:
        """Stored entries as they are (callers check :attr:`prefix`): the hot path."""
        return self.store.get_item_versions(self.namespace, keys)

    def lookup(self, keys: Sequence[str]) -> dict[str, tuple[str, str | None]]:
        """``key → (fingerprint, version)`` for keys with a current-generation entry."""
        prefix = self.prefix
        cut = len(prefix)
        return {
            key: (v.fingerprint[cut:], v.version)
            for key, v in self.raw(keys).items()
            if v.fingerprint.startswith(prefix)
        }

    def put(
        self, entries: Iterable[tuple[str, str | None, str]], *, generation: int | None = None
    ) -> int:
        """Write ``(key, version, fingerprint)`` entries in batches; returns how many."""
        gen = self.generation if generation is None else generation
        prefix = f"{gen}:"
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

    def set_generation(self, generation: int) -> None:
        """Make ``generation`` current (after its entries were written)."""
        set_slot(self.store, self.spec, self.GENERATION, sortable_watermark(generation))
        self.generation = generation


def meta_entries(path: str | Path) -> Iterator[tuple[str, str | None, str]]:
    """``(key, version, fingerprint)`` of every line of a spool or sent file."""
    for line in read_lines(path):
        meta, _ = split_line(line)
        key, version, fingerprint, _scope = orjson.loads(meta)
        yield key, version, fingerprint


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
        # Entries of older generations do not count: compare with the prefixed value.
        prefix = self.book.prefix
        stored = self.book.raw([p.key for p in pending if p.key not in entries])
        skip_unchanged = self.skip_unchanged
        for item in pending:
            key = item.key
            current = entries.get(key)
            if current is not None:
                self.duplicates += 1
                if _not_older(item.version, current[0]):
                    entries[key] = (item.version, self.spool.add(item))
                continue
            seen = stored.get(key)
            if seen is not None and seen.fingerprint.startswith(prefix):
                version = seen.version
                new = item.version
                if new is not None and version is not None and new < version:
                    self.skipped_stale += 1
                    continue
                if (
                    skip_unchanged
                    and seen.fingerprint == prefix + item.fingerprint
                    and (new is None or version is None or new <= version)
                ):
                    self.skipped_unchanged += 1
                    continue
            entries[key] = (item.version, self.spool.add(item))

    def lines(self) -> set[int]:
        """Spool lines of the winners."""
        self.flush()
        return {line for _, line in self.entries.values()}


def _not_older(new: str | None, old: str | None) -> bool:
    """Newest wins; with an unknown version the later record wins."""
    return new is None or old is None or new >= old


# ---------------------------------------------------------------------------- rules


def check_mapping_errors(
    errors: int, extracted: int, *, max_count: int | None, max_ratio: float | None
) -> str | None:
    """The refusal message when mapping errors exceed a limit, else ``None``."""
    if errors == 0:
        return None
    if max_count is not None and errors > max_count:
        return (
            f"{errors} of {extracted} records could not be mapped (more than the allowed "
            f"{max_count}); nothing was submitted"
        )
    if max_ratio is not None and extracted and errors / extracted > max_ratio:
        return (
            f"{errors} of {extracted} records ({errors / extracted:.1%}) could not be mapped "
            f"(more than the allowed {max_ratio:.1%}); nothing was submitted"
        )
    return None


def check_shrink(
    count: int, last: FullImportRecord | None, min_ratio: float
) -> tuple[str, str] | None:
    """``(rule, message)`` when a full import of ``count`` items is suspiciously small."""
    if last is None:
        if count == 0:
            return (
                "empty-full-import",
                (
                    "the extraction yielded no items and there is no earlier full import to "
                    "compare with; an empty FullFile import deactivates everything"
                ),
            )
        return None
    floor = min_ratio * last.item_count
    if count < floor:
        message = (
            f"{count} items is below {min_ratio:.0%} of the last successful full import "
            f"({last.item_count} items, job {last.job_id}, {last.finished_at:%Y-%m-%d %H:%M}Z); "
            "a FullFile import deactivates what it does not contain. Pass allow_shrink=True "
            "if the source really shrank"
        )
        return ("shrink-guard", message)
    return None


def pack_scopes(counts: Mapping[str, int], max_items: int | None) -> list[list[str]]:
    """Pack scope groups into jobs of at most ``max_items`` items, never cutting a group.

    Groups keep their first-seen order; a group larger than ``max_items`` goes alone.
    Without a limit every group is its own job.
    """
    jobs: list[list[str]] = []
    current: list[str] = []
    size = 0
    for scope, n in counts.items():
        if max_items is None:
            jobs.append([scope])
            continue
        if current and size + n > max_items:
            jobs.append(current)
            current, size = [], 0
        current.append(scope)
        size += n
    if current:
        jobs.append(current)
    return jobs


# ---------------------------------------------------------------------------- lock


def new_run_id() -> str:
    """A short unique run id."""
    return uuid.uuid4().hex[:12]


def lock_owner(run_id: str) -> str:
    """``host:pid:run`` (lets a later run on the same host see a dead holder)."""
    return f"{socket.gethostname()}:{os.getpid()}:{run_id}"


def holder_is_dead(owner: str) -> bool:
    """True when ``owner`` names a process on this host that no longer exists."""
    try:
        host, pid_text, _ = owner.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != socket.gethostname() or pid == os.getpid() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class RunLock:
    """The in-flight lock of (kind, account): one import at a time, across processes.

    Held from before the extraction until the run's jobs are final. It expires after
    ``ttl`` seconds unless refreshed (a run refreshes it as it goes); a holder that
    died on this host is taken over at once.

    Args:
        store: the store.
        spec: the source.
        run_id: this run.
        ttl: seconds the lock lives without a refresh.
        clock: seconds (for refresh pacing only; expiry uses the store's clock).
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

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            ImportRefusedError: rule ``in-flight``, naming the holder.
        """
        if self.store.acquire_lock(self.kind, self.account_id, self.owner, ttl=self.ttl):
            self._took()
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
            if self.store.acquire_lock(self.kind, self.account_id, self.owner, ttl=self.ttl):
                self._took()
                return
            holder = self.store.lock_holder(self.kind, self.account_id)
        if holder is None:  # it lapsed between the two calls: try once more
            if self.store.acquire_lock(self.kind, self.account_id, self.owner, ttl=self.ttl):
                self._took()
                return
            holder = self.store.lock_holder(self.kind, self.account_id)
        who = (
            f"{holder.owner} since {holder.acquired_at:%Y-%m-%d %H:%M:%S}Z "
            f"(expires {holder.expires_at:%H:%M:%S}Z)"
            if holder is not None
            else "another run"
        )
        msg = (
            f"another {self.kind} import of account {self.account_id} is in flight: held by "
            f"{who}; one import per kind and account at a time"
        )
        raise ImportRefusedError(msg, rule="in-flight")

    def _took(self) -> None:
        self.held = True
        self._refreshed = self.clock()

    def refresh(self, *, force: bool = False) -> None:
        """Extend the lock when a third of its life has passed (or ``force``)."""
        if not self.held:
            return
        now = self.clock()
        if force or now - self._refreshed >= self.ttl / 3:
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


def in_flight_jobs(store: Store, spec: SourceSpec, exclude: Iterable[int] = ()) -> list[TrackedJob]:
    """Unfinished jobs of (kind, account) in the store, except ``exclude``."""
    skip = set(exclude)
    return [
        j
        for j in store.unresolved_jobs(kind=spec.kind.value, account_id=spec.account_id)
        if j.job_id not in skip
    ]


def in_flight_message(spec: SourceSpec, jobs: Sequence[TrackedJob]) -> str:
    """The ``in-flight`` refusal for unfinished jobs."""
    ids = ", ".join(f"{j.job_id} ({j.status})" for j in jobs[:10])
    return (
        f"{spec.kind.value} job(s) of account {spec.account_id} are still unfinished: {ids}. "
        "A new import could be applied before or after them; wait for them "
        "(JobTracker.resume) first"
    )


# ---------------------------------------------------------------------------- journal


JOURNAL_SLOT: Final = "#run"


@attrs.frozen(kw_only=True)
class Journal:
    """The record of a run that is submitting or has submitted, kept until it settles.

    Attributes:
        run_id: the run.
        mode: ``"full"``, ``"delta"`` or ``"fingerprint"``.
        phase: ``"submitting"`` (before/while POSTing) or ``"submitted"`` (every job id
            is known).
        started_at: when the run (and, for a full import, its extraction) started.
        submit_at: when the first POST started.
        groups: items per job, in submission order.
        jobs: job ids known so far, in submission order.
        header: the header value sent.
        watermark_before: the delta watermark the run read.
        until: the watermark to set on success (``None``: do not move it).
        versions: the file of item versions to record on success.
        spool: the spool file (deleted when the run settles).
        generation: the item-version generation the run read.
        record_versions: whether to record item versions on success.
    """

    run_id: str
    mode: str
    phase: str
    started_at: float
    submit_at: float
    groups: tuple[int, ...]
    jobs: tuple[int, ...] = ()
    header: str = ""
    watermark_before: str | None = None
    until: str | None = None
    versions: str | None = None
    spool: str | None = None
    generation: int = 0
    record_versions: bool = True

    @property
    def full(self) -> bool:
        """True for a full import."""
        return self.mode == "full"

    @property
    def complete(self) -> bool:
        """True when every planned job was submitted."""
        return self.phase == "submitted" and len(self.jobs) == len(self.groups)

    def dumps(self) -> str:
        """JSON text for the slot."""
        data = attrs.asdict(self)
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @classmethod
    def loads(cls, text: str) -> Journal:
        """Parse the slot's JSON text."""
        data = json.loads(text)
        data["groups"] = tuple(data.get("groups", ()))
        data["jobs"] = tuple(data.get("jobs", ()))
        return cls(**data)

    @classmethod
    def read(cls, store: Store, spec: SourceSpec) -> Journal | None:
        """The pending journal of this source, if any."""
        text = slot_value(store, spec, JOURNAL_SLOT)
        if text is None:
            return None
        try:
            return cls.loads(text)
        except (ValueError, TypeError):
            log.exception("discarding an unreadable run journal of %s", spec.name)
            return None

    def write(self, store: Store, spec: SourceSpec) -> None:
        """Save it."""
        set_slot(store, spec, JOURNAL_SLOT, self.dumps())

    @staticmethod
    def clear(store: Store, spec: SourceSpec) -> None:
        """Remove it (the run settled)."""
        if slot_value(store, spec, JOURNAL_SLOT) is not None:
            set_slot(store, spec, JOURNAL_SLOT, "")


def match_lost_jobs(
    journal: Journal, tracked: Iterable[TrackedJob], listed: Iterable[Job]
) -> list[int]:
    """Job ids for the groups a killed run submitted but never recorded.

    A kill between Norce's answer and the store write (microseconds) leaves a job the
    journal does not name. Candidates: jobs of this kind and account submitted after
    the journal's ``submit_at`` with the group's item count (from the store), or, failing
    that, jobs Norce lists (``Job/List``) that the store does not track, created after
    ``submit_at`` with that many items. Only an unambiguous match is adopted.
    """
    missing = list(journal.groups[len(journal.jobs) :])
    if not missing:
        return []
    known = set(journal.jobs)
    after = journal.submit_at - 5.0
    found: list[int] = []
    tracked_list = sorted(tracked, key=lambda j: (j.submitted_at, j.job_id))
    tracked_ids = {j.job_id for j in tracked_list}
    listed_list = sorted(listed, key=lambda j: j.job_id)
    for count in missing:
        options = [
            j.job_id
            for j in tracked_list
            if j.job_id not in known
            and j.job_id not in found
            and j.submitted_at.timestamp() >= after
            and j.item_count == count
        ]
        if not options:
            options = [
                j.job_id
                for j in listed_list
                if j.job_id not in tracked_ids
                and j.job_id not in known
                and j.job_id not in found
                and j.totals == count
                and (j.start is None or j.start.timestamp() >= after)
            ]
        if len(options) != 1:
            break
        found.append(options[0])
    return found


def report(hook: ProgressHook | None, progress: Progress) -> None:
    """Call the progress hook; its errors are logged, never raised."""
    if hook is None:
        return
    try:
        hook(progress)
    except Exception:
        log.exception("the progress hook failed")
