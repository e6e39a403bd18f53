"""What the serving commands share (``ops serve``, ``orders serve``): the asyncio store of
``--store`` / ``--store-dsn``, opened on the server's own event loop, and an ASGI app
that opens it at lifespan startup and closes it at shutdown."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from .._exceptions import ConfigurationError, StoreError
from ..stores import AsyncPostgresStore, AsyncSqliteStore
from ._config import DEFAULT_STORE, STORE_DSN_VAR, Config


__all__ = ["StoreApp", "async_store_opener"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def async_store_opener(
    config: Config, path: str | None, dsn: str | None, *, read_only: str | None = None
) -> Callable[[], Awaitable[Any]]:
    """How to open the asyncio store of ``--store``/``--store-dsn`` (on the server's loop).

    Args:
        config: the configuration file.
        path: ``--store``.
        dsn: ``--store-dsn``.
        read_only: for a command that only reads state, what it is (``"the console"``):
            an SQLite file that does not exist is then an error, never a new store.

    Raises:
        ConfigurationError: both a path and a DSN.
        StoreError: ``read_only`` and the SQLite file does not exist.
    """
    dsn = dsn or os.environ.get(STORE_DSN_VAR) or config.store.get("dsn")
    if dsn and path:
        msg = f"give either --store or --store-dsn/{STORE_DSN_VAR}, not both"
        raise ConfigurationError(msg, setting="--store")
    if dsn:
        options = {"schema": config.store["schema"]} if config.store.get("schema") else {}

        async def open_postgres() -> Any:
            try:
                return await AsyncPostgresStore.open(dsn, **options)
            except ImportError as exc:
                msg = f"PostgresStore needs 'norce-integration[postgres]': {exc}"
                raise ConfigurationError(msg, setting="--store-dsn") from None

        return open_postgres
    file = path or str(config.store.get("path") or DEFAULT_STORE)
    if read_only is not None and not os.path.exists(file):
        msg = (
            f"no such store: {file} ({read_only} only reads state and never creates a "
            "store; check --store, [store] path or --store-dsn)"
        )
        raise StoreError(msg)

    async def open_sqlite() -> Any:
        return AsyncSqliteStore(file)

    return open_sqlite


class StoreApp:
    """Opens the store on the server's loop at startup, builds the app on it (and awaits
    its ``start()``, if it has one), and at shutdown awaits its ``stop()`` and closes the
    store. Every other request goes to the built app."""

    def __init__(
        self, open_store: Callable[[], Awaitable[Any]], build: Callable[[Any], Any]
    ) -> None:
        self._open = open_store
        self._build = build
        self._store: Any = None
        self.app: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    try:
                        self._store = await self._open()
                        self.app = self._build(self._store)
                        start = getattr(self.app, "start", None)
                        if start is not None:
                            await start()
                    except Exception as exc:  # noqa: BLE001 - reported to the server
                        await send({"type": "lifespan.startup.failed", "message": str(exc)})
                        return
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    stop = getattr(self.app, "stop", None)
                    if stop is not None:
                        await stop()
                    if self._store is not None:
                        await self._store.aclose()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        assert self.app is not None, "the app starts with the lifespan protocol"
        await self.app(scope, receive, send)
