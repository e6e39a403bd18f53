"""The root clients: :class:`Norce` (blocking) and :class:`AsyncNorce` (asyncio).

Twins with the same attributes in the same order; a parity test keeps them so.
"""

from __future__ import annotations

from functools import cached_property
from types import TracebackType
from typing import TYPE_CHECKING

import httpx

from ._http import AsyncHTTP, SyncHTTP
from ._settings import NorceSettings


if TYPE_CHECKING:
    from .connect import AsyncConnectResource, ConnectResource
    from .query import AsyncQueryResource, QueryCache, QueryResource

__all__ = ["AsyncNorce", "Norce"]


class Norce:
    """Blocking client for one Norce tenant.

    Example:
        >>> with Norce(NorceSettings.from_env()) as norce:  # doctest: +SKIP
        ...     job = norce.connect.import_products(products, header)

    Args:
        settings: where and who.
        http_client: an ``httpx.Client`` to share (you close it).
        transport: an httpx transport (e.g. ``NorceEmulator().transport()``).
        query_cache: a :class:`~norce_integration.query.QueryCache` for Query lookups
            (off by default, so reads are current unless you opt in).
    """

    def __init__(
        self,
        settings: NorceSettings,
        *,
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        query_cache: QueryCache | None = None,
    ) -> None:
        self.settings = settings
        self._http = SyncHTTP(settings, client=http_client, transport=transport)
        self._query_cache = query_cache

    @cached_property
    def connect(self) -> ConnectResource:
        """Connect 4.0 imports and the Job service."""
        from .connect import ConnectResource  # noqa: PLC0415

        return ConnectResource(self._http)

    @property
    def query_cache(self) -> QueryCache | None:
        """The Query read-through cache given at construction, if any."""
        return self._query_cache

    @cached_property
    def query(self) -> QueryResource:
        """Query 2.0 (OData) reads, batched lookups and the cache."""
        from .query import QueryResource  # noqa: PLC0415

        return QueryResource(self._http, cache=self._query_cache)

    def close(self) -> None:
        """Close the HTTP connections this client opened."""
        self._http.close()

    def __enter__(self) -> Norce:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncNorce:
    """Asyncio client for one Norce tenant; the twin of :class:`Norce`.

    Args:
        settings: where and who.
        http_client: an ``httpx.AsyncClient`` to share (you close it).
        transport: an async httpx transport (e.g. ``NorceEmulator().transport()``).
        query_cache: a :class:`~norce_integration.query.QueryCache` for Query lookups
            (off by default).
    """

    def __init__(
        self,
        settings: NorceSettings,
        *,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        query_cache: QueryCache | None = None,
    ) -> None:
        self.settings = settings
        self._http = AsyncHTTP(settings, client=http_client, transport=transport)
        self._query_cache = query_cache

    @cached_property
    def connect(self) -> AsyncConnectResource:
        """Connect 4.0 imports and the Job service."""
        from .connect import AsyncConnectResource  # noqa: PLC0415

        return AsyncConnectResource(self._http)

    @property
    def query_cache(self) -> QueryCache | None:
        """The Query read-through cache given at construction, if any."""
        return self._query_cache

    @cached_property
    def query(self) -> AsyncQueryResource:
        """Query 2.0 (OData) reads, batched lookups and the cache."""
        from .query import AsyncQueryResource  # noqa: PLC0415

        return AsyncQueryResource(self._http, cache=self._query_cache)

    async def aclose(self) -> None:
        """Close the HTTP connections this client opened."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncNorce:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
