# GENERATED FILE: do not edit. The blocking twin of
# src/norce_integration/_async_client.py, made by `python scripts/gen_sync.py`.
# Edit the async source and run that command again.
"""The root client, written once for asyncio: :class:`AsyncNorce`.

``python scripts/gen_sync.py`` generates the blocking :class:`Norce` from it into
``_sync_client.py``; both are exported from :mod:`norce_integration`.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import httpx

from ._settings import NorceSettings
from ._sync_closing import Closing
from ._sync_http import HTTP


if TYPE_CHECKING:
    from .connect._sync_resource import ConnectResource
    from .query import QueryCache
    from .query._sync_resource import QueryResource

__all__ = ["Norce"]


class Norce(Closing):
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
        http_client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        query_cache: QueryCache | None = None,
    ) -> None:
        self.settings = settings
        self._http = HTTP(settings, client=http_client, transport=transport)
        self._query_cache = query_cache

    @cached_property
    def connect(self) -> ConnectResource:
        """Connect 4.0 imports and the Job service."""
        from .connect._sync_resource import ConnectResource  # noqa: PLC0415

        return ConnectResource(self._http)

    @property
    def query_cache(self) -> QueryCache | None:
        """The Query read-through cache given at construction, if any."""
        return self._query_cache

    @cached_property
    def query(self) -> QueryResource:
        """Query 2.0 (OData) reads, batched lookups and the cache."""
        from .query._sync_resource import QueryResource  # noqa: PLC0415

        return QueryResource(self._http, cache=self._query_cache)

    def close(self) -> None:
        """Close the HTTP connections this client opened."""
        self._http.close()
