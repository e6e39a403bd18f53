"""The root client, written once for asyncio: :class:`AsyncNorce`.

``python scripts/gen_sync.py`` generates the blocking :class:`Norce` from it into
``_sync_client.py``; both are exported from :mod:`norce_integration`.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import httpx

from ._async_closing import AsyncClosing
from ._async_http import AsyncHTTP
from ._settings import NorceSettings


if TYPE_CHECKING:
    from .connect._async_resource import AsyncConnectResource
    from .query import QueryCache
    from .query._async_resource import AsyncQueryResource

__all__ = ["AsyncNorce"]


class AsyncNorce(AsyncClosing):
    """Client for one Norce tenant.

    Example:
        >>> with Norce(NorceSettings.from_env()) as norce:  # doctest: +SKIP
        ...     job = norce.connect.import_products(products, header)

    Args:
        settings: where and who.
        http_client: an httpx client of the same kind to share;
            you close it.
        transport: an httpx transport (e.g. ``NorceEmulator().transport()``).
        query_cache: a :class:`~norce_integration.query.QueryCache` for Query lookups
            (off by default, so reads are current unless you opt in).
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
        from .connect._async_resource import AsyncConnectResource  # noqa: PLC0415

        return AsyncConnectResource(self._http)

    @property
    def query_cache(self) -> QueryCache | None:
        """The Query read-through cache given at construction, if any."""
        return self._query_cache

    @cached_property
    def query(self) -> AsyncQueryResource:
        """Query 2.0 (OData) reads, batched lookups and the cache."""
        from .query._async_resource import AsyncQueryResource  # noqa: PLC0415

        return AsyncQueryResource(self._http, cache=self._query_cache)

    async def aclose(self) -> None:
        """Close the HTTP connections this client opened."""
        await self._http.aclose()
