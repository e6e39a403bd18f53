"""The HTTP core: :class:`AsyncHTTP` (source, :mod:`._async_http`), its generated blocking
twin :class:`HTTP` (:mod:`._sync_http`) and the pure parts (:mod:`._http_core`)."""

from __future__ import annotations

from ._async_http import AsyncHTTP
from ._http_core import require_application_id
from ._sync_http import HTTP


SyncHTTP = HTTP

__all__ = ["HTTP", "AsyncHTTP", "SyncHTTP", "require_application_id"]
