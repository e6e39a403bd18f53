"""Source adapters: the integrator's side of an import, and the spec that says what it owns.

A source adapter reads one source system (an ERP table, a PIM export, a file) and turns
each record into the Connect item of one import kind. The SDK calls it; it never calls
Connect itself. Subclass :class:`SourceAdapter` (blocking) or :class:`AsyncSourceAdapter`
(asyncio) and implement the three abstract members; the rest have defaults::

    class ErpPrices(SourceAdapter[dict[str, Any]]):
        def fetch_all(self):                     # every record, streamed
            yield from erp.cursor("SELECT * FROM prices")

        def fetch_changed(self, since, until):   # records changed in [since, until)
            yield from erp.cursor("... WHERE modified >= ? AND modified < ?", since, until)

        def map(self, record):                   # one record -> one Connect item
            return SkuPriceList(part_no=record["sku"], price_list_code=record["list"], ...)

        def version(self, record):               # optional: refuse older data
            return record["modified"]

A :class:`SourceSpec` declares the import: kind, the header whose ``…FieldsThatAreSet``
lists are the fields this source owns, its system account, and batching limits. State
(watermarks, item versions, the last good full import) is keyed by kind, account and the
spec's ``name``, so several sources can feed the same kind with different fields.

Mapping often needs Norce's own keys and codes. A bound adapter reaches a
:class:`LookupHelper` as ``self.lookup``: cached, batched lookups through the Query
client (categories by code, price lists by code, SKUs by part number, anything else by
entity set and field). Warm it for a batch of records in :meth:`SourceAdapter.prefetch`
so mapping makes one Query request per batch, not one per record.
"""

from __future__ import annotations

import datetime as dt
from abc import abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, Literal, Protocol, TypeVar

import attrs

from ..._exceptions import ConfigurationError
from ...connect import check_header
from ...connect.models import IMPORT_SPECS, Header, ImportKind
from ._async_lookup import AsyncLookupHelper
from ._sync_lookup import LookupHelper


__all__ = [
    "AdapterContext",
    "AsyncSourceAdapter",
    "SmallBatchPolicy",
    "SourceAdapter",
    "SourceSpec",
    "Version",
    "item_key",
]

R = TypeVar("R")

Version = dt.datetime | int | str
"""A source version: a modification time, a row version (non-negative int) or a sortable
string. Versions of one source must be of one type; they are compared after
:func:`~norce_integration.stores.sortable_watermark` encoding."""

SmallBatchPolicy = Literal["warn", "refuse", "ignore"]
"""What a delta run does with too few items too soon after the previous run."""


# ---------------------------------------------------------------------------- the spec


def _kind(value: ImportKind | str) -> ImportKind:
    return ImportKind(value)


@attrs.frozen(kw_only=True)
class SourceSpec:
    """What one source imports into Norce, as whom, and how often.

    Example:
        >>> spec = SourceSpec(  # doctest: +SKIP
        ...     name="erp-prices",
        ...     kind="sku_price_lists",
        ...     header=SkuPriceListHeader(
        ...         account_id=17,
        ...         full_file=False,
        ...         sku_price_list_fields_that_are_set=[SkuPriceListField.PriceSale],
        ...     ),
        ...     account_id=17,
        ...     min_interval=300,
        ...     min_items=50,
        ... )

    Attributes:
        name: the source's name; with kind and account it keys the state (watermark,
            item versions). Renaming a source starts its state afresh.
        kind: the import kind (``"products"``, ``"sku_price_lists"``, ...).
        header: the header model of that kind. Its ``…FieldsThatAreSet`` lists are what
            this source owns; ``full_file`` is set by the pattern (true for a full
            import, false for a delta) on a copy.
        account_id: the system account (``AccountId``) of this source; must equal
            ``header.account_id`` (each source imports as its own system user).
        max_items_per_job: the most items one job of a split full import may carry;
            scope groups are packed into jobs up to this size and never cut (a group
            larger than it goes alone). Deltas are always one job.
        min_interval: seconds that must pass between delta runs (counted from the last
            successful run); an earlier run is refused (rule ``min-interval``).
        min_items: a delta with fewer items than this, less than
            ``small_batch_window`` seconds after the previous run, is a "small batch".
        small_batch_window: see ``min_items``.
        small_batch: ``"warn"`` (log and ``warnings.warn``, then send), ``"refuse"``
            (rule ``small-batch``; nothing sent, the records wait for the next run) or
            ``"ignore"``.

    Raises:
        ConfigurationError: the header is not the kind's header model, the account ids
            differ, or a limit is out of range.
        HeaderRuleError: the header breaks a Norce rule.
    """

    name: str
    kind: ImportKind = attrs.field(converter=_kind)
    header: Header
    account_id: int
    max_items_per_job: int | None = None
    min_interval: float = 0.0
    min_items: int = 0
    small_batch_window: float = 900.0
    small_batch: SmallBatchPolicy = "warn"

    def __attrs_post_init__(self) -> None:
        if not self.name or any(c in self.name for c in "#\n\t"):
            raise ConfigurationError(
                f"must be a non-empty name without '#', tabs or newlines, got {self.name!r}",
                setting="name",
            )
        expected = IMPORT_SPECS[self.kind].header_type
        if type(self.header) is not expected:
            raise ConfigurationError(
                f"a {self.kind.value} source needs a {expected.__name__}, "
                f"got {type(self.header).__name__}",
                setting="header",
            )
        if self.header.account_id != self.account_id:
            raise ConfigurationError(
                f"the header's AccountId ({self.header.account_id}) differs from the "
                f"source's account_id ({self.account_id}); each source imports as its own "
                "system account",
                setting="account_id",
            )
        if self.max_items_per_job is not None and self.max_items_per_job < 1:
            raise ConfigurationError("must be at least 1", setting="max_items_per_job")
        for setting in ("min_interval", "min_items", "small_batch_window"):
            if getattr(self, setting) < 0:
                raise ConfigurationError("must not be negative", setting=setting)
        if self.small_batch not in ("warn", "refuse", "ignore"):
            raise ConfigurationError(
                f"must be 'warn', 'refuse' or 'ignore', got {self.small_batch!r}",
                setting="small_batch",
            )
        check_header(self.header, self.kind)

    @property
    def has_full_file(self) -> bool:
        """Whether the kind's header has ``FullFile``."""
        return IMPORT_SPECS[self.kind].has_full_file

    @property
    def scope_key(self) -> tuple[str, ...]:
        """Wire names a full import of this kind may be split along (empty: never)."""
        return IMPORT_SPECS[self.kind].scope_key

    def header_for(self, *, full: bool) -> Header:
        """A copy of the header with ``FullFile`` set for a full import or a delta.

        Kinds without ``FullFile`` (price lists, customers, companies) get the header
        unchanged.
        """
        if not self.has_full_file:
            return self.header
        return attrs.evolve(self.header, full_file=full)  # type: ignore[call-arg]


# ---------------------------------------------------------------------------- keys


_KEY_FIELDS: dict[ImportKind, tuple[tuple[str, ...], ...]] = {
    # Alternatives in order of preference; the first whose fields are all set wins.
    ImportKind.products: (("Code",), ("ManufacturerCode", "#PartNo")),
    ImportKind.sku_price_lists: (("PartNo", "PriceListCode", "QuantityBreak"),),
    ImportKind.price_lists: (("Code",),),
    ImportKind.onhands: (("PartNo", "WarehouseCode", "LocationCode"),),
    ImportKind.relations: (("PartNo", "RelatedPartNo", "RelationTypeCode"),),
    ImportKind.competitor_skus: (("PartNo", "CompetitorCode", "CompetitorPartNo"),),
    ImportKind.customers: (("Code",), ("EmailAddress",), ("Id",)),
    ImportKind.companies: (("Code",), ("OrganizationNo",), ("Id",)),
    ImportKind.supplier_products: (("SupplierPartNo",),),
}

KEY_SEPARATOR = "\x1f"
"""Joins the parts of a composite key (unit separator: never in a code)."""


def _first_part_no(wire: Any) -> Any:
    for variant in wire.get("Variants") or ():
        for sku in (variant or {}).get("Skus") or ():
            part_no = (sku or {}).get("PartNo")
            if part_no:
                return part_no
    return None


def _key_of(alternatives: tuple[tuple[str, ...], ...], wire: Any) -> str | None:
    for alternative in alternatives:
        parts: list[str] = []
        for name in alternative:
            value = _first_part_no(wire) if name == "#PartNo" else wire.get(name)
            if value is None or value == "":
                if name == "QuantityBreak":
                    parts.append("")
                    continue
                break
            parts.append(str(value))
        else:
            return KEY_SEPARATOR.join(parts)
    return None


def key_function(kind: ImportKind | str) -> Callable[[Any], str | None]:
    """:func:`item_key` specialised for one kind (no per-item dispatch: a hot path)."""
    alternatives = _KEY_FIELDS[ImportKind(kind)]
    if len(alternatives) == 1 and len(alternatives[0]) == 1:
        (name,) = alternatives[0]

        def single(wire: Any) -> str | None:
            value = wire.get(name)
            return None if value is None or value == "" else str(value)

        return single
    if alternatives == _KEY_FIELDS[ImportKind.sku_price_lists]:

        def price(wire: Any) -> str | None:
            part_no, code = wire.get("PartNo"), wire.get("PriceListCode")
            if not part_no or not code:
                return None
            qty = wire.get("QuantityBreak")
            return f"{part_no}{KEY_SEPARATOR}{code}{KEY_SEPARATOR}{'' if qty is None else qty}"

        return price
    return lambda wire: _key_of(alternatives, wire)


def item_key(kind: ImportKind | str, wire: Any) -> str | None:
    """The natural key of a wire-shaped item, or ``None`` if it has none.

    Products: ``Code`` (the variant cluster), else manufacturer code and first part
    number. Prices: part number, price list and quantity break. On-hands: part number,
    warehouse and location. Relations, competitor SKUs: their three key fields.
    Customers and companies: code, else e-mail / organisation number, else id. Parts of
    a composite key are joined with :data:`KEY_SEPARATOR`; a missing quantity break
    counts as empty.
    """
    return _key_of(_KEY_FIELDS[ImportKind(kind)], wire)


# ---------------------------------------------------------------------------- adapters


@attrs.frozen(kw_only=True)
class AdapterContext:
    """What a pattern tells the adapter before a run (``adapter.context``).

    Attributes:
        spec: the source spec being imported.
        mode: ``"full"``, ``"delta"``, ``"fingerprint"`` or ``"plan"``.
        run_id: this run's id (also in log lines and the store's lock owner).
        started_at: when the run started (UTC).
        lookup: the lookup helper (a :class:`LookupHelper` or :class:`AsyncLookupHelper`).
    """

    spec: SourceSpec
    mode: str
    run_id: str
    started_at: dt.datetime
    lookup: Any = None


class SourceAdapter(Protocol[R]):
    """A source system, read for one import kind (blocking). Subclass it.

    Required: :meth:`fetch_all`, :meth:`fetch_changed`, :meth:`map` (a subclass that
    forgets one cannot be instantiated). Optional, with defaults: :meth:`key`,
    :meth:`version`, :meth:`prefetch`, :meth:`bind`.

    Everything the adapter yields is streamed: return generators, not lists, so memory
    does not grow with the size of the source.
    """

    context: AdapterContext | None = None

    @abstractmethod
    def fetch_all(self) -> Iterable[R]:
        """Yield every record of the source (a full import, or fingerprint deltas).

        Raise if the extraction cannot finish: a full import whose extraction did not
        finish cleanly is refused, never sent.
        """

    @abstractmethod
    def fetch_changed(self, since: dt.datetime | None, until: dt.datetime) -> Iterable[R]:
        """Yield records changed in ``[since, until)`` (UTC; ``since`` is ``None`` on the
        first run: everything up to ``until``).

        A source without change tracking may raise ``NotImplementedError`` and run its
        deltas in fingerprint mode.
        """

    @abstractmethod
    def map(self, record: R) -> Any:
        """Turn one record into the Connect item (a model of the kind, or a wire-shaped
        mapping). Raise to report a mapping error for this record (with its key)."""

    def key(self, record: R) -> str | None:
        """The record's key for de-duplication and item versions.

        Default ``None``: the natural key of the mapped item (:func:`item_key`).
        """
        return None

    def version(self, record: R) -> Version | None:
        """The record's version (source modification time or row version), if known.

        A record whose version is older than the one already sent for its key is never
        sent (late or retried runs cannot overwrite newer data). Default ``None``.
        """
        return None

    def prefetch(self, records: Sequence[R]) -> None:
        """Called before a batch of records is mapped: warm lookups here (default: nothing)."""
        return

    def bind(self, context: AdapterContext) -> None:
        """Receive the run's context (default: stored as ``self.context``)."""
        self.context = context

    @property
    def lookup(self) -> LookupHelper:
        """The lookup helper of the current run.

        Raises:
            ConfigurationError: the adapter is not bound to a run.
        """
        context = self.context
        if context is None or context.lookup is None:
            raise ConfigurationError("the adapter is not bound to an import run", setting="lookup")
        helper: LookupHelper = context.lookup
        return helper


class AsyncSourceAdapter(Protocol[R]):
    """The asyncio twin of :class:`SourceAdapter`. Subclass it.

    ``fetch_all`` and ``fetch_changed`` are async generators; ``map`` and ``prefetch``
    are coroutines (so mapping can await lookups); ``key`` and ``version`` are plain.
    """

    context: AdapterContext | None = None

    @abstractmethod
    def fetch_all(self) -> AsyncIterator[R]:
        """See :meth:`SourceAdapter.fetch_all` (an async generator)."""

    @abstractmethod
    def fetch_changed(self, since: dt.datetime | None, until: dt.datetime) -> AsyncIterator[R]:
        """See :meth:`SourceAdapter.fetch_changed` (an async generator)."""

    @abstractmethod
    async def map(self, record: R) -> Any:
        """See :meth:`SourceAdapter.map`."""

    def key(self, record: R) -> str | None:
        """See :meth:`SourceAdapter.key`."""
        return None

    def version(self, record: R) -> Version | None:
        """See :meth:`SourceAdapter.version`."""
        return None

    async def prefetch(self, records: Sequence[R]) -> None:
        """See :meth:`SourceAdapter.prefetch`."""
        return

    def bind(self, context: AdapterContext) -> None:
        """See :meth:`SourceAdapter.bind`."""
        self.context = context

    @property
    def lookup(self) -> AsyncLookupHelper:
        """The async lookup helper of the current run.

        Raises:
            ConfigurationError: the adapter is not bound to a run.
        """
        context = self.context
        if context is None or context.lookup is None:
            raise ConfigurationError("the adapter is not bound to an import run", setting="lookup")
        helper: AsyncLookupHelper = context.lookup
        return helper


def overrides(adapter: object, name: str, base: type[Any]) -> bool:
    """True when ``adapter`` defines ``name`` other than ``base``'s default."""
    method = getattr(type(adapter), name, None)
    return method is not None and method is not getattr(base, name, None)
