"""The pure core of the import patterns: values in, values out (no store, file, socket
or clock here).

* results: :class:`ImportResult`, :class:`ImportPlan`, :class:`MappingError`,
  :class:`Progress`;
* the per-record pipeline: map → wire dict → validate → key, version, canonical JSON,
  fingerprint (:class:`ItemEncoder`);
* the guards: partial extraction, mapping errors, suspicious shrink, empty first full
  import, in-flight jobs, unsafe splits, small batches, the minimum interval;
* planning: scope packing, delta windows, watermark arithmetic, delta candidates;
* the run journal (:class:`Journal`) and its transitions, and the in-flight lock's
  refresh pacing.

Where the stateful code keeps things (every piece in the store, so processes sharing a
store share it):

==============================  =====================================================
delta watermark                 watermark ``(kind, account, source)``
run journal                     key/value ``("import-run", "<kind>:<account>:<source>")``
item-version generation         key/value ``("import-generation", same key)``
item versions / fingerprints    item versions, kind ``"<kind>:<account>:<source>"``,
                                fingerprint ``"<generation>:<blake2b-128 hex>"``
last good full import           full imports ``(kind, account)``
in-flight lock                  locks ``(kind, account)``
==============================  =====================================================

Before the key/value table the journal and the generation lived in watermark rows named
``source + "#run"`` and ``source + "#generation"``; such a row is read once and moved.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import hashlib
import itertools
import json
import logging
import reprlib
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from hashlib import blake2b
from typing import Any, Final, Literal

import attrs
import orjson

from ..._convert import fast_unstructure_fn
from ..._exceptions import ConfigurationError, ImportRefusedError, RunHeldError
from ...connect import InvalidItemError, json_default, to_wire
from ...connect.models import IMPORT_SPECS, ImportKind, Job
from ...stores import (
    FullImportRecord,
    InFlightLock,
    TrackedJob,
    TrackedStatus,
    sortable_watermark,
)
from ..jobs import JobResult
from ._adapters import KEY_SEPARATOR, SourceSpec, Version, key_function


__all__ = [
    "ImportPlan",
    "ImportResult",
    "ImportStatus",
    "MappingError",
    "Progress",
    "ProgressHook",
]

log = logging.getLogger("norce_integration.patterns")

BATCH: Final = 8192
"""Records per store round trip (item-version reads and writes)."""
ERROR_SAMPLE: Final = 1000
"""Mapping errors kept in a result (all are counted)."""
PREFETCH_BATCH: Final = 500
"""Records handed to ``adapter.prefetch`` at a time."""
RUN_NAMESPACE: Final = "import-run"
"""Key/value namespace of run journals."""
GENERATION_NAMESPACE: Final = "import-generation"
"""Key/value namespace of item-version generations."""
LEGACY_SUFFIX: Final = {RUN_NAMESPACE: "#run", GENERATION_NAMESPACE: "#generation"}
"""The watermark-row suffix each namespace used before the key/value table."""

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


def state_key(spec: SourceSpec) -> str:
    """The key of a source's journal and generation (and its item-version namespace)."""
    return f"{spec.kind.value}:{spec.account_id}:{spec.name}"


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
                wire = to_wire(item, self.item_type, index, self.kind.value)
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
            data = orjson.dumps(wire, default=json_default, option=orjson.OPT_SORT_KEYS)
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
    data = orjson.dumps(wire, default=json_default, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(data, digest_size=16).hexdigest()


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


def _not_older(new: str | None, old: str | None) -> bool:
    """Newest wins; with an unknown version the later record wins."""
    return new is None or old is None or new >= old


def new_run_id() -> str:
    """A short unique run id."""
    return uuid.uuid4().hex[:12]


def in_flight_message(spec: SourceSpec, jobs: Sequence[TrackedJob]) -> str:
    """The ``in-flight`` refusal for unfinished jobs."""
    ids = ", ".join(f"{j.job_id} ({j.status})" for j in jobs[:10])
    return (
        f"{spec.kind.value} job(s) of account {spec.account_id} are still unfinished: {ids}. "
        "A new import could be applied before or after them; wait for them "
        "(JobTracker.resume) first"
    )


@attrs.frozen(kw_only=True)
class Journal:
    """The record of a run that is submitting or has submitted, kept until it settles.

    Attributes:
        run_id: the run.
        mode: ``"full"``, ``"delta"`` or ``"fingerprint"``.
        phase: ``"submitting"`` (before/while POSTing), ``"submitted"`` (every job id
            is known), ``"aborted"`` (some groups were never sent: settled as failed once
            the known jobs end) or ``"held"`` (whether a POST reached Norce cannot be
            proven: the kind refuses imports until an operator resolves it).
        started_at: when the run (and, for a full import, its extraction) started.
        submit_at: when the journal was written, before the first POST.
        groups: items per job, in submission order.
        jobs: job ids known so far, in submission order.
        header: the header value sent.
        watermark_before: the delta watermark the run read.
        until: the watermark to set on success (``None``: do not move it).
        versions: the file of item versions to record on success.
        spool: the spool file (deleted when the run settles).
        generation: the item-version generation the run read.
        record_versions: whether to record item versions on success.
        digests: sha256 hex of each group's exact body, computed before its POST.
        floor: the highest Connect job id ``Job/List`` showed before the first POST
            (``None``: the list could not be read); every job the run created is above it.
        held: why the run is held (``phase == "held"``).
        candidates: the jobs ``Job/List`` showed that may be the held run's.
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
    digests: tuple[str, ...] = ()
    floor: int | None = None
    held: str = ""
    candidates: tuple[int, ...] = ()

    @property
    def full(self) -> bool:
        """True for a full import."""
        return self.mode == "full"

    @property
    def complete(self) -> bool:
        """True when every planned job was submitted."""
        return self.phase == "submitted" and len(self.jobs) == len(self.groups)

    @property
    def open_group(self) -> int | None:
        """The group whose POST may or may not have reached Norce (``None``: none).

        Groups are POSTed one at a time and each job id is written before the next POST,
        so only the first group without a job id can be in doubt; later ones were never
        sent.
        """
        if self.phase != "submitting" or len(self.jobs) >= len(self.groups):
            return None
        return len(self.jobs)

    def dumps(self) -> str:
        """JSON text for the slot."""
        data = attrs.asdict(self)
        return json.dumps(data, separators=(",", ":"), sort_keys=True)

    @classmethod
    def loads(cls, text: str) -> Journal:
        """Parse the slot's JSON text (journals of earlier versions lack the newer fields)."""
        data = json.loads(text)
        known = {a.name for a in attrs.fields(cls)}
        data = {k: v for k, v in data.items() if k in known}
        for name in ("groups", "jobs", "digests", "candidates"):
            data[name] = tuple(data.get(name, ()))
        return cls(**data)


JOB_LIST_PAGE: Final = 100
"""Jobs asked for per ``Job/List`` page."""
JOB_LIST_PAGES: Final = 20
"""``Job/List`` pages read at most while looking for a killed run's job."""


def job_floor(jobs: Iterable[Job]) -> int:
    """The floor a journal records: the highest job id listed (0: none yet).

    Any listed id is a sound floor (Connect job ids grow; UNCONFIRMED, see the full
    imports guide); the highest is the tightest.
    """
    return max((j.job_id for j in jobs), default=0)


def listing_complete(pages: Sequence[Sequence[int]], floor: int, take: int) -> bool:
    """Whether ``Job/List`` pages (ids, in the order read) show every job above ``floor``.

    True when the list ended (a page shorter than ``take``) without repeating itself,
    or when it runs newest first and reached an id at or below the floor. Anything else
    (a server that ignores paging, a list that never reaches the floor) is not proof.
    """
    seen: set[int] = set()
    flat: list[int] = []
    for page in pages:
        if seen.intersection(page):
            return False  # paging ignored or unstable
        seen.update(page)
        flat.extend(page)
        if len(page) < take:
            return True
    descending = all(a > b for a, b in itertools.pairwise(flat))
    return descending and any(i <= floor for i in flat)


@attrs.frozen
class Adopt:
    """The open group's job is proven: ``job_id`` (tracked in the store with the
    group's exact payload digest, submitted inside the run's window)."""

    job_id: int


@attrs.frozen
class NotSent:
    """The open group's POST provably never created a job."""

    reason: str


@attrs.frozen
class Held:
    """Neither can be proven; ``candidates`` are listed jobs that may be the run's."""

    reason: str
    candidates: tuple[int, ...] = ()
    final: bool = True
    """``False`` when the evidence may still come (``Job/List`` failed this time)."""


LostJobVerdict = Adopt | NotSent | Held


def lost_job_verdict(
    journal: Journal,
    tracked: Iterable[TrackedJob],
    listed: Sequence[Job] | None,
    *,
    complete: bool,
    now: float,
    list_error: str = "",
) -> LostJobVerdict:
    """What became of the open group of a killed run, without guessing.

    ``tracked``: jobs of this kind and account in the store; ``listed``: what
    ``Job/List`` showed (``None``: it failed, ``list_error`` says how); ``complete``:
    whether that listing reaches down to the journal's floor.

    * **adopt** a job the store tracks whose payload digest is the group's exact digest
      and that was submitted inside the run's own window (after the journal was
      written, before now). Connect echoes nothing of ours back (no nonce, no client
      reference), so the digest the tracker stored is the only proof; a job that merely
      has the kind and the item count is never adopted;
    * **not sent** when ``Job/List`` was read completely down to the floor the journal
      recorded before the POST and shows no job above it that the store does not
      already explain;
    * otherwise **held**, naming the jobs that may be the run's.
    """
    group = journal.open_group
    assert group is not None
    digest = journal.digests[group] if group < len(journal.digests) else ""
    count = journal.groups[group]
    known = set(journal.jobs)
    tracked_list = list(tracked)
    if digest:
        matches = sorted(
            j.job_id
            for j in tracked_list
            if j.payload_digest == digest
            and j.job_id not in known
            and journal.submit_at <= j.submitted_at.timestamp() <= now
        )
        if len(matches) == 1:
            return Adopt(matches[0])
        if len(matches) > 1:
            return Held(
                f"{len(matches)} tracked jobs carry the payload of group {group + 1}",
                tuple(matches),
            )
    if listed is None:
        return Held(f"Job/List could not be read ({list_error})", final=False)
    explained = {j.job_id for j in tracked_list}
    if journal.floor is not None:
        above = [j for j in listed if j.job_id > journal.floor and j.job_id not in explained]
    else:
        above = [j for j in listed if j.job_id not in explained]
    # A job whose Totals is another item count is not this group's; an unknown or zero
    # Totals (a job Norce has not counted yet) might be.
    candidates = tuple(
        sorted(j.job_id for j in above if j.totals is None or j.totals in (0, count))
    )
    if journal.floor is None:
        reason = "the job list could not be read before the POST, so there is no floor"
        return Held(reason, candidates)
    if not complete:
        return Held(
            f"Job/List did not reach job {journal.floor} (read before the POST)", candidates
        )
    if candidates:
        ids = ", ".join(str(c) for c in candidates[:10])
        return Held(
            f"Job/List shows job(s) {ids} created after the journal with a matching or "
            "unknown item count, and Connect echoes nothing that would prove whose they are",
            candidates,
        )
    return NotSent(
        f"Job/List shows no job above {journal.floor} (the highest before the POST) with "
        f"{count} items"
    )


def held_journal(journal: Journal, verdict: Held) -> Journal:
    """The journal once the run is held."""
    return attrs.evolve(journal, phase="held", held=verdict.reason, candidates=verdict.candidates)


def after_not_sent(journal: Journal) -> Journal | None:
    """The journal once the open group is known not to have been sent: ``None``
    discards it (no job exists; the run is rolled back), else it is ``aborted``."""
    if not journal.jobs:
        return None
    return attrs.evolve(journal, phase="aborted", held="", candidates=())


def adopt_job(journal: Journal, job_id: int) -> Journal:
    """The journal once ``job_id`` is known to be the open group's job.

    Groups after it were never sent (the next POST waits for the journal to name the
    job), so an incomplete run is ``aborted``: settled as failed once its jobs end.
    """
    journal = attrs.evolve(journal, phase="submitting", held="", candidates=())
    journal = with_job(journal, job_id)
    if journal.phase != "submitted":
        journal = attrs.evolve(journal, phase="aborted")
    return journal


def resolve_command(run_id: str, candidates: Sequence[int]) -> str:
    """The commands that resolve a held run."""
    job = str(candidates[0]) if len(candidates) == 1 else "JOB_ID"
    return (
        f"`norce-integration jobs adopt {run_id} {job}` if that job is this run's, or "
        f"`norce-integration import resolve {run_id} --not-sent` if no job was created "
        f"(`--sent` if one was but cannot be named)"
    )


def held_error(key: str, journal: Journal, reason: str = "") -> RunHeldError:
    """The typed refusal while ``journal`` (of source ``key``) is held."""
    kind, account, source = key.split(":", 2)
    why = reason or journal.held
    candidates = journal.candidates
    msg = (
        f"run {journal.run_id} of {source} ({kind}, account {account}) was interrupted "
        f"after its journal was written and before a job id was recorded; {why}. "
        f"{kind} imports of account {account} are held until it is resolved: "
        f"{resolve_command(journal.run_id, candidates)}"
    )
    return RunHeldError(
        msg,
        run_id=journal.run_id,
        kind=kind,
        account_id=int(account),
        source=source,
        candidates=candidates,
    )


def blocking_journal(key: str, journal: Journal, *, full: bool) -> ImportRefusedError | None:
    """The refusal another source's journal of the same kind and account imposes.

    A held run refuses every import of the kind; a run with a group in doubt (killed,
    not yet recovered by its own source) refuses a full import, whose ``FullFile`` must
    never race a job that may exist.
    """
    if journal.phase == "held":
        return held_error(key, journal)
    if full and journal.open_group is not None:
        source = key.split(":", 2)[2]
        msg = (
            f"run {journal.run_id} of {source} was interrupted before a job id was "
            "recorded, so a job of this kind may be running that no store knows of; run "
            f"that source's import (or resume) first, which proves or holds it"
        )
        return ImportRefusedError(msg, rule="in-flight")
    return None


def report(hook: ProgressHook | None, progress: Progress) -> None:
    """Call the progress hook; its errors are logged, never raised."""
    if hook is None:
        return
    try:
        hook(progress)
    except Exception:
        log.exception("the progress hook failed")


# ---------------------------------------------------------------------------- refusals


Refusal = tuple[str, str]
"""``(rule, message)`` of a guard that refuses a run."""


def refuse(refusals: Sequence[Refusal], failure: BaseException | None = None) -> None:
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


def full_config_refusals(
    spec: SourceSpec,
    *,
    split_by_scope: bool,
    trust_product_cluster_scope: bool,
    allow_without_full_file: bool,
) -> list[Refusal]:
    """Refusals of a full import that follow from its configuration alone."""
    out: list[Refusal] = []
    if not spec.has_full_file and not allow_without_full_file:
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
    if split_by_scope:
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
        elif spec.kind is ImportKind.products and not trust_product_cluster_scope:
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


def extraction_refusals(
    *,
    failure: BaseException | None,
    extracted: int,
    errors: Sequence[MappingError],
    error_count: int,
    max_count: int | None,
    max_ratio: float | None,
    full: bool,
) -> list[Refusal]:
    """``partial-extraction`` and ``mapping-errors`` after an extraction, in that order."""
    out: list[Refusal] = []
    if failure is not None:
        consequence = (
            "a partial FullFile import would deactivate the rest, so nothing was submitted"
            if full
            else "nothing was submitted and the watermark did not move"
        )
        out.append(
            (
                "partial-extraction",
                (
                    f"the extraction did not finish ({type(failure).__name__}: {failure}) "
                    f"after {extracted} records; {consequence}"
                ),
            )
        )
    message = check_mapping_errors(error_count, extracted, max_count=max_count, max_ratio=max_ratio)
    if message is not None:
        sample = "; ".join(str(e) for e in errors[:3])
        out.append(("mapping-errors", f"{message} (first: {sample})"))
    return out


def in_flight_refusals(
    spec: SourceSpec, holder: InFlightLock | None, busy: Sequence[TrackedJob]
) -> list[Refusal]:
    """``in-flight`` findings: the lock's holder, unfinished jobs of the kind and account."""
    out: list[Refusal] = []
    if holder is not None:
        message = (
            f"the {spec.kind.value} lock of account {spec.account_id} is held by {holder.owner}"
        )
        out.append(("in-flight", message))
    if busy:
        out.append(("in-flight", in_flight_message(spec, busy)))
    return out


def unfinished(jobs: Iterable[TrackedJob], exclude: Iterable[int] = ()) -> list[TrackedJob]:
    """The jobs not in ``exclude`` (of the store's unresolved jobs)."""
    skip = set(exclude)
    return [j for j in jobs if j.job_id not in skip]


def rerun_refusal(
    spec: SourceSpec,
    job: TrackedJob,
    *,
    holder: InFlightLock | None,
    busy: Sequence[TrackedJob],
    journal_pending: bool,
    last: FullImportRecord | None,
    min_ratio: float,
    newer: Sequence[int],
) -> ImportRefusedError | None:
    """Whether re-running the full job ``job`` is refused (in the order checked)."""
    if holder is not None:
        msg = f"an import of {spec.kind.value} is running (lock held by {holder.owner})"
        return ImportRefusedError(msg, rule="in-flight")
    if busy:
        return ImportRefusedError(in_flight_message(spec, busy), rule="in-flight")
    if journal_pending:
        msg = f"a run of {spec.name} is not settled yet; resume it first"
        return ImportRefusedError(msg, rule="in-flight")
    shrink = check_shrink(job.item_count, last, min_ratio)
    if shrink is not None and shrink[0] == "shrink-guard":
        return ImportRefusedError(f"re-running job {job.job_id}: {shrink[1]}", rule=shrink[0])
    if newer:
        msg = (
            f"job(s) {sorted(newer)} of {spec.kind.value} succeeded after job {job.job_id} "
            "was submitted; re-running its payload would overwrite newer data"
        )
        return ImportRefusedError(msg, rule="stale-rerun")
    return None


def lock_refusal(kind: str, account_id: int, holder: InFlightLock | None) -> ImportRefusedError:
    """The ``in-flight`` refusal when another run holds the lock."""
    who = (
        f"{holder.owner} since {holder.acquired_at:%Y-%m-%d %H:%M:%S}Z "
        f"(expires {holder.expires_at:%H:%M:%S}Z)"
        if holder is not None
        else "another run"
    )
    msg = (
        f"another {kind} import of account {account_id} is in flight: held by "
        f"{who}; one import per kind and account at a time"
    )
    return ImportRefusedError(msg, rule="in-flight")


def owner_process(owner: str, host: str, pid: int) -> int | None:
    """The pid of a lock ``owner`` (``host:pid:run``) that is another process on ``host``."""
    try:
        owner_host, pid_text, _ = owner.rsplit(":", 2)
        owner_pid = int(pid_text)
    except ValueError:
        return None
    if owner_host != host or owner_pid == pid or owner_pid <= 0:
        return None
    return owner_pid


def refresh_due(now: float, refreshed: float, ttl: float, *, force: bool) -> bool:
    """Whether a held lock is refreshed now: forced, or a third of its life has passed."""
    return force or now - refreshed >= ttl / 3


# ---------------------------------------------------------------------------- deltas


def small_batch_text(spec: SourceSpec, items: int, since_last: float | None) -> str | None:
    """The small-batch finding for a delta of ``items`` items, if it is one."""
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


def interval_refusal(spec: SourceSpec, since_last: float | None) -> Refusal | None:
    """``min-interval`` when the last successful run was ``since_last`` seconds ago."""
    interval = spec.min_interval
    if since_last is None or interval <= 0 or since_last >= interval:
        return None
    return (
        "min-interval",
        (
            f"{spec.name}: the last successful run was {since_last:.0f}s ago and "
            f"min_interval is {interval:.0f}s; wait {interval - since_last:.0f}s more "
            "(deltas run on a schedule and coalesce changes)"
        ),
    )


@attrs.frozen
class Window:
    """What a delta run reads, and the watermark it sets on success."""

    since: dt.datetime | None
    until: dt.datetime
    new_watermark: str
    fingerprint: bool

    @property
    def window(self) -> tuple[dt.datetime | None, dt.datetime] | None:
        """``(since, until)``, or ``None`` in fingerprint mode (everything is read)."""
        return None if self.fingerprint else (self.since, self.until)


def delta_window(
    watermark: str | None,
    now: float,
    *,
    fingerprint: bool,
    lag: float,
    overlap: float,
    initial_since: dt.datetime | None,
) -> Window | None:
    """The run's window, or ``None`` when ``now - lag`` is not past the watermark.

    Raises:
        ConfigurationError: the stored watermark is not a datetime watermark.
    """
    until = utc(now - lag)
    if fingerprint:
        return Window(None, until, sortable_watermark(utc(now)), fingerprint=True)
    current = parse_watermark(watermark) if watermark is not None else None
    if current is not None and until <= current:
        return None
    since = current - dt.timedelta(seconds=overlap) if current is not None else initial_since
    return Window(since, until, sortable_watermark(until), fingerprint=False)


def moves_forward(current: str | None, new: str) -> bool:
    """Whether setting the watermark to ``new`` moves it forward (never backwards)."""
    return current is None or new > current


Verdict = Literal["send", "stale", "unchanged"]


def candidate_verdict(
    version: str | None,
    fingerprint: str,
    seen_version: str | None,
    seen_fingerprint: str | None,
    *,
    prefix: str,
    skip_unchanged: bool,
) -> Verdict:
    """What a delta does with a record given the entry stored for its key.

    ``seen_fingerprint`` is the stored (generation-prefixed) fingerprint, ``None`` when
    nothing is stored; an entry of another generation does not count.
    """
    if seen_fingerprint is None or not seen_fingerprint.startswith(prefix):
        return "send"
    if version is not None and seen_version is not None and version < seen_version:
        return "stale"
    if (
        skip_unchanged
        and seen_fingerprint == prefix + fingerprint
        and (version is None or seen_version is None or version <= seen_version)
    ):
        return "unchanged"
    return "send"


def newer_wins(new: str | None, old: str | None) -> bool:
    """Newest wins; with an unknown version the later record wins."""
    return _not_older(new, old)


# ---------------------------------------------------------------------------- journal rules


def with_job(journal: Journal, job_id: int) -> Journal:
    """The journal once ``job_id`` is tracked (``submitted`` when every job is known)."""
    journal = attrs.evolve(journal, jobs=(*journal.jobs, job_id))
    if len(journal.jobs) == len(journal.groups):
        journal = attrs.evolve(journal, phase="submitted")
    return journal


def after_failed_submit(journal: Journal, *, ambiguous: bool) -> Journal | None:
    """The journal after a POST failed: ``None`` discards it (no job can exist).

    An ambiguous failure (the request may have reached Norce) keeps it as it is, so
    the next run looks for the job; otherwise, with jobs already known, it is
    ``aborted`` (settled as failed once they end).
    """
    if ambiguous:
        return journal
    if not journal.jobs:
        return None
    return attrs.evolve(journal, phase="aborted")


def outcome(results: Sequence[JobResult]) -> ImportStatus | None:
    """``TIMED_OUT_LOCALLY`` if a job is not final yet, else ``None`` (settle it)."""
    if any(r.status is TrackedStatus.TIMED_OUT_LOCALLY or not r.status.is_final for r in results):
        return ImportStatus.TIMED_OUT_LOCALLY
    return None


def settles_ok(journal: Journal, results: Sequence[JobResult]) -> bool:
    """Whether a settled run changes state: complete, and every job succeeded."""
    return journal.complete and bool(results) and all(r.succeeded for r in results)


def recovery_refusal(
    spec: SourceSpec, journal: Journal, results: Sequence[JobResult]
) -> ImportRefusedError:
    """The ``in-flight`` refusal when an interrupted run's jobs are still running."""
    running = [r.job_id for r in results if not r.status.is_final]
    msg = (
        f"run {journal.run_id} of {spec.name} submitted job(s) {running} that are "
        "still running; this run waits for them to finish first"
    )
    return ImportRefusedError(msg, rule="in-flight")


def next_generation(stored: int, journal_generation: int) -> int:
    """The item-version generation a successful full import writes."""
    return max(stored, journal_generation) + 1


def parse_generation(text: str | None) -> int:
    """A stored generation (``None``/empty: 0)."""
    return int(text) if text else 0


def validation_warning(job_id: int | None, summary: Any) -> str | None:
    """The warning for Norce's synchronous validation summary of a payload, if any."""
    if summary is None or not summary.nr_of_validation_failures:
        return None
    text = (
        f"job {job_id}: Norce's validation rejected "
        f"{summary.nr_of_validation_failures} of {summary.nr_of_items_in_total} items"
    )
    messages = list(summary.messages or [])[:5]
    if messages:
        text += ": " + "; ".join(messages)
    return text


# ---------------------------------------------------------------------------- extraction


class SmallBatchWarning(UserWarning):
    """A delta run sent only a handful of items soon after the previous one.

    Norce's guidance: many items per call, on a schedule. Raise ``min_interval`` or
    lower the schedule's frequency; ``SourceSpec(small_batch="refuse")`` makes the SDK
    hold such batches back until enough changes accumulate.
    """


@attrs.define
class Extraction:
    """Counts and errors of one extraction; every record goes through :meth:`mapped` or
    :meth:`failed`."""

    encoder: ItemEncoder
    extracted: int = 0
    errors: list[MappingError] = attrs.field(factory=list)
    error_count: int = 0
    scope_counts: dict[str, int] = attrs.field(factory=dict)
    accepted: int = 0
    failure: BaseException | None = None

    def mapped(self, index: int, record: Any, item: Any) -> Encoded | None:
        """A record mapped to ``item``: validated and encoded (``None``: a mapping error)."""
        encoded = self.encoder.encode(index, record, item)
        if isinstance(encoded, MappingError):
            self._error(encoded)
            return None
        if encoded.scope is not None:
            self.scope_counts[encoded.scope] = self.scope_counts.get(encoded.scope, 0) + 1
        self.accepted += 1
        return encoded

    def failed(self, index: int, record: Any, exc: BaseException) -> None:
        """``map`` raised for this record."""
        self._error(self.encoder.error(index, record, exc))

    def _error(self, error: MappingError) -> None:
        self.error_count += 1
        if len(self.errors) < ERROR_SAMPLE:
            self.errors.append(error)
        if self.error_count <= 20:
            log.warning("mapping error: %s", error)
