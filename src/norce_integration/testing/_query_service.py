"""The emulator's Query 2.0 service: authentication and the lock around :func:`handle_query`.

The OData contract itself (``application-id``, read-only, envelopes, 500-row pages,
``$filter``/``$select``/``$expand``/``$orderby``/``$top``/``$skip``) is the pure
:func:`~._query.handle_query` over the emulator's tables (:mod:`._tables`).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from ._core import EmulatorRequest, EmulatorResponse, json_response
from ._query import handle_query
from ._tables import Table
from ._token import TokenService


if TYPE_CHECKING:
    from ._emulator import NorceEmulator


__all__ = ["QUERY_PREFIX", "QueryService"]

QUERY_PREFIX = "/commerce/query/2.0/"


class QueryService:
    """``/commerce/query/2.0/...`` over the emulator's data (one per :class:`NorceEmulator`).

    Reads the page size and the data from the owning emulator at call time.
    """

    def __init__(self, owner: NorceEmulator, lock: threading.RLock, token: TokenService) -> None:
        self._owner = owner
        self._lock = lock
        self._token = token

    def handle(self, request: EmulatorRequest, method: str, route: str) -> EmulatorResponse:
        """Answer ``/commerce/query/2.0/{route}``."""
        if not self._token.authorized(request.headers):
            return json_response(
                401,
                {"error": {"code": "Unauthorized", "message": "A valid bearer token is required."}},
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        with self._lock:
            result = handle_query(
                self._owner.data.tables,
                method,
                route,
                request.query,
                request.headers,
                base_url=request.base_url.rstrip("/") + QUERY_PREFIX,
                page_size=self._owner.page_size,
            )
        return EmulatorResponse(result.status, dict(result.headers), result.body)

    def table(self, namespace: str, name: str) -> Table:
        """The Query table ``namespace/name``.

        Raises:
            KeyError: no such entity set.
        """
        table = self._owner.data.tables.get(namespace, name)
        if table is None:
            raise KeyError(f"{namespace}/{name}")
        return table
