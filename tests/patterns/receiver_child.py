"""Child process of the receiver SIGKILL test: serve a handler's webhook app.

Usage: ``python receiver_child.py API STORE_PATH PORT`` with API ``sync``
(``EventHandler`` and its writer thread) or ``async`` (``AsyncEventHandler`` on an
``AsyncSqliteStore``). Serves on 127.0.0.1:PORT until it is killed.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import uvicorn

from norce_integration import AsyncNorce, Norce, NorceSettings
from norce_integration.patterns import AsyncEventHandler, EventHandler, WebhookAuth
from norce_integration.stores import AsyncSqliteStore, SqliteStore


SETTINGS = NorceSettings(
    client_id="crash",
    client_secret="crash",
    application_id=1042,
    query_url="http://127.0.0.1:9/commerce/query/2.0/",
    connect_url="http://127.0.0.1:9/commerce/connect/4.0/",
    token_url="http://127.0.0.1:9/identity/1.0/connect/token",
)
AUTH = WebhookAuth("X-Norce-Webhook-Secret", "crash-secret")


def main() -> None:
    api, store_path, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    app: Any
    if api == "async":
        async_handler = AsyncEventHandler(
            AsyncNorce(SETTINGS), AsyncSqliteStore(store_path), auth=AUTH
        )

        @async_handler.on("SkuChangedNotification")
        async def _route_async(batch: Sequence[Any]) -> None:
            return None

        app = async_handler.app
    else:
        handler = EventHandler(Norce(SETTINGS), SqliteStore(store_path), auth=AUTH)

        @handler.on("SkuChangedNotification")
        def _route(batch: Sequence[Any]) -> None:
            return None

        app = handler.app
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


if __name__ == "__main__":
    main()
