"""Connect 4.0: the nine async imports and the Job service (the asyncio source).

``python scripts/gen_sync.py`` writes the blocking :class:`ConnectResource` from this
module into ``_sync_resource.py``. Each method is "build (pure, :mod:`._core`) → send →
parse (pure)". Import bodies are streamed from any iterable by the one
:class:`~._body.ImportBody`; the header goes in ``X-StormConnect-Header`` as one line of
JSON with integer enums, checked against Norce's header rules before anything is sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from functools import cached_property
from typing import Any, TypeAlias, TypeVar

from .._async_http import AsyncHTTP
from ._async_orders import AsyncOrderResource
from ._body import ImportBody
from ._core import SubmittedImport, header_value, import_headers, job_response, structure
from .models import (
    IMPORT_SPECS,
    Company,
    CompetitorSku,
    CompetitorSkuHeader,
    Customer,
    CustomerHeader,
    ImportKind,
    Job,
    JobLogEntry,
    JobResponse,
    PriceList,
    PriceListHeader,
    Product,
    ProductHeader,
    Relation,
    RelationHeader,
    SkuOnhand,
    SkuOnhandHeader,
    SkuPriceList,
    SkuPriceListHeader,
    SupplierProduct,
    SupplierProductHeader,
)


__all__ = ["AsyncConnectResource"]

M = TypeVar("M")
T = TypeVar("T")
Tee = Callable[[bytes], None]
# unasync: async-only
Items: TypeAlias = Iterable[M | Mapping[str, Any]] | AsyncIterable[M | Mapping[str, Any]]
# unasync: end
# unasync: sync-only
# Items: TypeAlias = Iterable[M | Mapping[str, Any]]
# unasync: end


class AsyncConnectResource:
    """``norce.connect``: the nine imports and the Job service."""

    def __init__(self, http: AsyncHTTP) -> None:
        self._http = http

    @cached_property
    def orders(self) -> AsyncOrderResource:
        """The Order service (invoices, credits, delivery notes, statuses, cancels, POS
        shipments): :class:`AsyncOrderResource`."""
        return AsyncOrderResource(self._http)

    async def submit(
        self,
        kind: ImportKind | str,
        items: Items[Any],
        header: Any,
        *,
        tee: Tee | None = None,
    ) -> SubmittedImport:
        """Stream ``items`` to the import of ``kind``; return what was sent and the job id.

        Args:
            kind: which of the nine imports.
            items: item models (or wire-shaped mappings), streamed; never listed in memory.
                The async client also takes an async iterable.
            header: the header model of that import.
            tee: optional callback receiving every body chunk (e.g. a spool for re-runs).

        Raises:
            HeaderRuleError: the header breaks a Norce rule; nothing was sent.
            InvalidItemError: an item is of the wrong type; the request is aborted.
            APIStatusError: Norce refused the import (400, 401, 413, ...).
            AmbiguousImportError: the call failed after the body was sent; a job may exist.
            ResponseValidationError: the answer is not a ``JobResponse`` with a job id.
        """
        spec = IMPORT_SPECS[ImportKind(kind)]
        value = header_value(header, spec.kind)
        body = ImportBody(items, item_type=spec.item_type, kind=spec.kind.value, tee=tee)
        return await self._post(spec.kind, value, body)

    async def submit_encoded(
        self,
        kind: ImportKind | str,
        items: Iterable[bytes],
        header: Any,
        *,
        tee: Tee | None = None,
    ) -> SubmittedImport:
        """Stream already-encoded items to the import of ``kind``.

        Args:
            kind: which of the nine imports.
            items: one JSON value as bytes each (e.g. lines read back from a spool file);
                the JSON array is written around them.
            header: the header model, or the exact ``X-StormConnect-Header`` text.
            tee: optional callback receiving every body chunk.

        Raises:
            As :meth:`submit`.
        """
        spec_kind = ImportKind(kind)
        value = header if isinstance(header, str) else header_value(header, spec_kind)
        body = ImportBody(items, kind=spec_kind.value, framing="encoded", tee=tee)
        return await self._post(spec_kind, value, body)

    async def submit_body(
        self,
        kind: ImportKind | str,
        body: Iterable[bytes],
        header: str,
        *,
        item_count: int = 0,
    ) -> SubmittedImport:
        """POST a whole body exactly as it was first sent (a spooled payload's re-run).

        Args:
            kind: which of the nine imports.
            body: the body's bytes, in chunks, sent unchanged.
            header: the exact ``X-StormConnect-Header`` text.
            item_count: the number of items the body holds (for the record).

        Raises:
            As :meth:`submit`.
        """
        raw = ImportBody(body, kind=ImportKind(kind).value, framing="raw")
        return await self._post(ImportKind(kind), header, raw, item_count)

    async def _post(
        self, kind: ImportKind, value: str, body: ImportBody, count: int | None = None
    ) -> SubmittedImport:
        url = self._http.settings.connect_base + IMPORT_SPECS[kind].path
        response = await self._http.request(
            "POST", url, kind="import", headers=import_headers(value), content=body
        )
        result = job_response(response, self._http.json(response))
        count = body.count if count is None else count
        return SubmittedImport(kind, result, count, body.size, body.digest, value)

    async def import_products(self, items: Items[Product], header: ProductHeader) -> JobResponse:
        """``Product/ImportProducts``. Raises as :meth:`submit`."""
        return (await self.submit(ImportKind.products, items, header)).response

    async def import_sku_price_lists(
        self, items: Items[SkuPriceList], header: SkuPriceListHeader
    ) -> JobResponse:
        """``Product/ImportSkuPriceLists``. Raises as :meth:`submit`."""
        return (await self.submit(ImportKind.sku_price_lists, items, header)).response

    async def import_price_lists(
        self, items: Items[PriceList], header: PriceListHeader
    ) -> JobResponse:
        """``Product/ImportPriceLists``. Raises as :meth:`submit`."""
        return (await self.submit(ImportKind.price_lists, items, header)).response

    async def import_onhands(self, items: Items[SkuOnhand], header: SkuOnhandHeader) -> JobResponse:
        """``Product/ImportOnhands``. Raises as :meth:`submit`."""
        return (await self.submit(ImportKind.onhands, items, header)).response

    async def import_relations(self, items: Items[Relation], header: RelationHeader) -> JobResponse:
        """``Product/ImportRelations``. Raises as :meth:`submit`."""
        return (await self.submit(ImportKind.relations, items, header)).response

    async def import_competitor_skus(
        self, items: Items[CompetitorSku], header: CompetitorSkuHeader
    ) -> JobResponse:
        """``Product/ImportCompetitorSkus``. Raises as :meth:`submit`."""
        return (await self.submit(ImportKind.competitor_skus, items, header)).response

    async def import_customers(self, items: Items[Customer], header: CustomerHeader) -> JobResponse:
        """``Customer/ImportCustomers``. Raises as :meth:`submit`."""
        return (await self.submit(ImportKind.customers, items, header)).response

    async def import_companies(self, items: Items[Company], header: CustomerHeader) -> JobResponse:
        """``Customer/ImportCompanies``. Raises as :meth:`submit`."""
        return (await self.submit(ImportKind.companies, items, header)).response

    async def import_supplier_products(
        self, items: Items[SupplierProduct], header: SupplierProductHeader
    ) -> JobResponse:
        """``Supplier/ImportProducts``. Raises as :meth:`submit`."""
        return (await self.submit(ImportKind.supplier_products, items, header)).response

    async def get_job(self, job_id: int) -> Job:
        """``Job/Get?id=``: the job's ``JobDto``.

        Raises:
            NotFoundError: no such job.
            APIError: the call failed.
        """
        return await self._get("Job/Get", Job, job_id)

    async def get_job_log(self, job_id: int) -> list[JobLogEntry]:
        """``Job/GetLog?id=``: the job's log entries (always at least start and finish).

        Raises:
            NotFoundError: no such job.
            APIError: the call failed.
        """
        return await self._get("Job/GetLog", list[JobLogEntry], job_id)

    async def list_jobs(self, *, skip: int | None = None, take: int | None = None) -> list[Job]:
        """``Job/List`` (path, paging parameters and order UNCONFIRMED by Norce's docs;
        the emulator lists newest first and pages with ``skip``/``take``).

        Args:
            skip: jobs to skip (``None``: not sent).
            take: jobs per page (``None``: not sent, the server's default).

        Raises:
            APIError: the call failed.
        """
        params: dict[str, str] = {}
        if skip is not None:
            params["skip"] = str(int(skip))
        if take is not None:
            params["take"] = str(int(take))
        return await self._get("Job/List", list[Job], params=params or None)

    async def ping(self) -> str:
        """``Job/Ping``: a health check; returns the body text (content UNCONFIRMED).

        Raises:
            APIError: the call failed.
        """
        url = self._http.settings.connect_base + "Job/Ping"
        return (await self._http.request("GET", url)).text

    async def _get(
        self,
        path: str,
        cls: type[T],
        job_id: int | None = None,
        *,
        params: dict[str, str] | None = None,
    ) -> T:
        if job_id is not None:
            params = {"id": str(int(job_id))}
        url = self._http.settings.connect_base + path
        response = await self._http.request("GET", url, params=params)
        return structure(self._http.json(response), cls, response)
