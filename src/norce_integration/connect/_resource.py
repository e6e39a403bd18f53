"""Connect 4.0: the nine async imports and the Job service (sync and async twins).

Each method is "build (pure) → send (I/O) → parse (pure)". Import bodies are streamed
from any iterable; the header goes in ``X-StormConnect-Header`` as one line of JSON with
integer enums, checked against Norce's header rules before anything is sent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from typing import Any, TypeVar

import attrs
import cattrs
import httpx

from .._convert import converter
from .._exceptions import ResponseValidationError
from .._http import AsyncHTTP, SyncHTTP
from ._body import ImportBody
from ._rules import check_header, header_json
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


__all__ = ["AsyncConnectResource", "ConnectResource", "SubmittedImport"]

T = TypeVar("T")
Item = Any
Tee = Callable[[bytes], None]


@attrs.frozen
class SubmittedImport:
    """What was sent and what Norce answered.

    Attributes:
        kind: the import kind.
        response: Norce's ``JobResponse`` (``response.job_id`` is the job to track).
        item_count: items streamed in the body.
        payload_size: body size in bytes.
        payload_digest: sha256 hex of the exact body bytes.
        header: the ``X-StormConnect-Header`` value sent.
    """

    kind: ImportKind
    response: JobResponse
    item_count: int
    payload_size: int
    payload_digest: str
    header: str

    @property
    def job_id(self) -> int:
        """The Connect job id (``submit`` guarantees there is one)."""
        assert self.response.job_id is not None
        return self.response.job_id


def _header_value(header: Any, kind: ImportKind) -> str:
    check_header(header, kind)
    raw = header_json(header)
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        # HTTP header values must be ASCII: escape non-ASCII characters as JSON \u escapes.
        return json.dumps(json.loads(raw), ensure_ascii=True, separators=(",", ":"))


def _structure(data: Any, cls: type[T], response: httpx.Response) -> T:
    try:
        return converter.structure(data, cls)
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        errors = (
            cattrs.transform_error(exc)
            if isinstance(exc, cattrs.BaseValidationError)
            else [str(exc)]
        )
        raise ResponseValidationError(
            f"unexpected {cls.__name__} from Norce",
            errors=errors,
            body=response.text,
            method=response.request.method,
            url=str(response.request.url),
        ) from exc


def _job_response(response: httpx.Response, data: Any) -> JobResponse:
    result = _structure(data, JobResponse, response)
    if result.job_id is None:
        summary = result.validation_summary
        messages = list(summary.messages or []) if summary is not None else []
        raise ResponseValidationError(
            "Norce accepted the import but returned no JobId",
            errors=["$.JobId: missing", *messages],
            body=response.text,
            method=response.request.method,
            url=str(response.request.url),
        )
    return result


def _tee(body: ImportBody, tee: Tee | None) -> Iterable[bytes]:
    for chunk in body:
        if tee is not None:
            tee(chunk)
        yield chunk


async def _atee(body: ImportBody, tee: Tee | None) -> Any:
    async for chunk in body:
        if tee is not None:
            tee(chunk)
        yield chunk


def _import_headers(value: str) -> dict[str, str]:
    return {"X-StormConnect-Header": value, "Content-Type": "application/json"}


class ConnectResource:
    """``Norce(...).connect``: Connect imports and the Job service."""

    def __init__(self, http: SyncHTTP) -> None:
        self._http = http

    def submit(
        self,
        kind: ImportKind | str,
        items: Iterable[Item],
        header: Any,
        *,
        tee: Tee | None = None,
    ) -> SubmittedImport:
        """Stream ``items`` to the import of ``kind``; return what was sent and the job id.

        Args:
            kind: which of the nine imports.
            items: item models (or wire-shaped mappings), streamed; never listed in memory.
            header: the header model of that import.
            tee: optional callback receiving every body chunk (e.g. a spool for re-runs).

        Raises:
            HeaderRuleError: the header breaks a Norce rule; nothing was sent.
            InvalidItemError: an item is of the wrong type; the request is aborted.
            APIStatusError: Norce refused the import (400, 401, 413, ...).
            AmbiguousImportError: the call failed after the body was sent; a job may exist.
        """
        spec = IMPORT_SPECS[ImportKind(kind)]
        value = _header_value(header, spec.kind)
        body = ImportBody(items, item_type=spec.item_type, kind=spec.kind.value)
        url = self._http.settings.connect_base + spec.path
        response = self._http.request(
            "POST", url, kind="import", headers=_import_headers(value), content=_tee(body, tee)
        )
        result = _job_response(response, self._http.json(response))
        return SubmittedImport(spec.kind, result, body.count, body.size, body.digest, value)

    def import_products(
        self, items: Iterable[Product | Mapping[str, Any]], header: ProductHeader
    ) -> JobResponse:
        """``Product/ImportProducts``. Raises as :meth:`submit`."""
        return self.submit(ImportKind.products, items, header).response

    def import_sku_price_lists(
        self, items: Iterable[SkuPriceList | Mapping[str, Any]], header: SkuPriceListHeader
    ) -> JobResponse:
        """``Product/ImportSkuPriceLists``. Raises as :meth:`submit`."""
        return self.submit(ImportKind.sku_price_lists, items, header).response

    def import_price_lists(
        self, items: Iterable[PriceList | Mapping[str, Any]], header: PriceListHeader
    ) -> JobResponse:
        """``Product/ImportPriceLists``. Raises as :meth:`submit`."""
        return self.submit(ImportKind.price_lists, items, header).response

    def import_onhands(
        self, items: Iterable[SkuOnhand | Mapping[str, Any]], header: SkuOnhandHeader
    ) -> JobResponse:
        """``Product/ImportOnhands``. Raises as :meth:`submit`."""
        return self.submit(ImportKind.onhands, items, header).response

    def import_relations(
        self, items: Iterable[Relation | Mapping[str, Any]], header: RelationHeader
    ) -> JobResponse:
        """``Product/ImportRelations``. Raises as :meth:`submit`."""
        return self.submit(ImportKind.relations, items, header).response

    def import_competitor_skus(
        self, items: Iterable[CompetitorSku | Mapping[str, Any]], header: CompetitorSkuHeader
    ) -> JobResponse:
        """``Product/ImportCompetitorSkus``. Raises as :meth:`submit`."""
        return self.submit(ImportKind.competitor_skus, items, header).response

    def import_customers(
        self, items: Iterable[Customer | Mapping[str, Any]], header: CustomerHeader
    ) -> JobResponse:
        """``Customer/ImportCustomers``. Raises as :meth:`submit`."""
        return self.submit(ImportKind.customers, items, header).response

    def import_companies(
        self, items: Iterable[Company | Mapping[str, Any]], header: CustomerHeader
    ) -> JobResponse:
        """``Customer/ImportCompanies``. Raises as :meth:`submit`."""
        return self.submit(ImportKind.companies, items, header).response

    def import_supplier_products(
        self, items: Iterable[SupplierProduct | Mapping[str, Any]], header: SupplierProductHeader
    ) -> JobResponse:
        """``Supplier/ImportProducts``. Raises as :meth:`submit`."""
        return self.submit(ImportKind.supplier_products, items, header).response

    def get_job(self, job_id: int) -> Job:
        """``Job/Get?id=``: the job's ``JobDto``.

        Raises:
            NotFoundError: no such job.
            APIError: the call failed.
        """
        response = self._http.request(
            "GET", self._http.settings.connect_base + "Job/Get", params={"id": str(int(job_id))}
        )
        return _structure(self._http.json(response), Job, response)

    def get_job_log(self, job_id: int) -> list[JobLogEntry]:
        """``Job/GetLog?id=``: the job's log entries (always at least start and finish).

        Raises:
            NotFoundError: no such job.
            APIError: the call failed.
        """
        response = self._http.request(
            "GET",
            self._http.settings.connect_base + "Job/GetLog",
            params={"id": str(int(job_id))},
        )
        return _structure(self._http.json(response), list[JobLogEntry], response)

    def list_jobs(self) -> list[Job]:
        """``Job/List`` (path UNCONFIRMED by Norce's docs).

        Raises:
            APIError: the call failed.
        """
        response = self._http.request("GET", self._http.settings.connect_base + "Job/List")
        return _structure(self._http.json(response), list[Job], response)

    def ping(self) -> str:
        """``Job/Ping``: a health check; returns the body text (content UNCONFIRMED).

        Raises:
            APIError: the call failed.
        """
        response = self._http.request("GET", self._http.settings.connect_base + "Job/Ping")
        return response.text


class AsyncConnectResource:
    """``AsyncNorce(...).connect``: the async twin of :class:`ConnectResource`."""

    def __init__(self, http: AsyncHTTP) -> None:
        self._http = http

    async def submit(
        self,
        kind: ImportKind | str,
        items: Iterable[Item] | AsyncIterable[Item],
        header: Any,
        *,
        tee: Tee | None = None,
    ) -> SubmittedImport:
        """Async twin of :meth:`ConnectResource.submit` (items may be an async iterable)."""
        spec = IMPORT_SPECS[ImportKind(kind)]
        value = _header_value(header, spec.kind)
        body = ImportBody(items, item_type=spec.item_type, kind=spec.kind.value)
        url = self._http.settings.connect_base + spec.path
        response = await self._http.request(
            "POST", url, kind="import", headers=_import_headers(value), content=_atee(body, tee)
        )
        result = _job_response(response, self._http.json(response))
        return SubmittedImport(spec.kind, result, body.count, body.size, body.digest, value)

    async def import_products(
        self,
        items: Iterable[Product | Mapping[str, Any]] | AsyncIterable[Product | Mapping[str, Any]],
        header: ProductHeader,
    ) -> JobResponse:
        """``Product/ImportProducts``. Raises as :meth:`submit`."""
        return (await self.submit(ImportKind.products, items, header)).response

    async def import_sku_price_lists(
        self,
        items: Iterable[SkuPriceList | Mapping[str, Any]]
        | AsyncIterable[SkuPriceList | Mapping[str, Any]],
        header: SkuPriceListHeader,
    ) -> JobResponse:
        """``Product/ImportSkuPriceLists``. Raises as :meth:`submit`."""
        return (await self.submit(ImportKind.sku_price_lists, items, header)).response

    async def import_price_lists(
        self,
        items: Iterable[PriceList | Mapping[str, Any]]
        | AsyncIterable[PriceList | Mapping[str, Any]],
        header: PriceListHeader,
    ) -> JobResponse:
        """``Product/ImportPriceLists``. Raises as :meth:`submit`."""
        return (await self.submit(ImportKind.price_lists, items, header)).response

    async def import_onhands(
        self,
        items: Iterable[SkuOnhand | Mapping[str, Any]]
        | AsyncIterable[SkuOnhand | Mapping[str, Any]],
        header: SkuOnhandHeader,
    ) -> JobResponse:
        """``Product/ImportOnhands``. Raises as :meth:`submit`."""
        return (await self.submit(ImportKind.onhands, items, header)).response

    async def import_relations(
        self,
        items: Iterable[Relation | Mapping[str, Any]] | AsyncIterable[Relation | Mapping[str, Any]],
        header: RelationHeader,
    ) -> JobResponse:
        """``Product/ImportRelations``. Raises as :meth:`submit`."""
        return (await self.submit(ImportKind.relations, items, header)).response

    async def import_competitor_skus(
        self,
        items: Iterable[CompetitorSku | Mapping[str, Any]]
        | AsyncIterable[CompetitorSku | Mapping[str, Any]],
        header: CompetitorSkuHeader,
    ) -> JobResponse:
        """``Product/ImportCompetitorSkus``. Raises as :meth:`submit`."""
        return (await self.submit(ImportKind.competitor_skus, items, header)).response

    async def import_customers(
        self,
        items: Iterable[Customer | Mapping[str, Any]] | AsyncIterable[Customer | Mapping[str, Any]],
        header: CustomerHeader,
    ) -> JobResponse:
        """``Customer/ImportCustomers``. Raises as :meth:`submit`."""
        return (await self.submit(ImportKind.customers, items, header)).response

    async def import_companies(
        self,
        items: Iterable[Company | Mapping[str, Any]] | AsyncIterable[Company | Mapping[str, Any]],
        header: CustomerHeader,
    ) -> JobResponse:
        """``Customer/ImportCompanies``. Raises as :meth:`submit`."""
        return (await self.submit(ImportKind.companies, items, header)).response

    async def import_supplier_products(
        self,
        items: Iterable[SupplierProduct | Mapping[str, Any]]
        | AsyncIterable[SupplierProduct | Mapping[str, Any]],
        header: SupplierProductHeader,
    ) -> JobResponse:
        """``Supplier/ImportProducts``. Raises as :meth:`submit`."""
        return (await self.submit(ImportKind.supplier_products, items, header)).response

    async def get_job(self, job_id: int) -> Job:
        """Async twin of :meth:`ConnectResource.get_job`."""
        response = await self._http.request(
            "GET", self._http.settings.connect_base + "Job/Get", params={"id": str(int(job_id))}
        )
        return _structure(self._http.json(response), Job, response)

    async def get_job_log(self, job_id: int) -> list[JobLogEntry]:
        """Async twin of :meth:`ConnectResource.get_job_log`."""
        response = await self._http.request(
            "GET",
            self._http.settings.connect_base + "Job/GetLog",
            params={"id": str(int(job_id))},
        )
        return _structure(self._http.json(response), list[JobLogEntry], response)

    async def list_jobs(self) -> list[Job]:
        """Async twin of :meth:`ConnectResource.list_jobs`."""
        response = await self._http.request("GET", self._http.settings.connect_base + "Job/List")
        return _structure(self._http.json(response), list[Job], response)

    async def ping(self) -> str:
        """Async twin of :meth:`ConnectResource.ping`."""
        response = await self._http.request("GET", self._http.settings.connect_base + "Job/Ping")
        return response.text
