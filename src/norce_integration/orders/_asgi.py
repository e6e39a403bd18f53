"""The Order Receiver as a mountable ASGI 3 application.

It only frames HTTP: the protocol is :meth:`AsyncOrderReceiver.receive`. Mount it
anywhere (``Mount("/norce/orders", app)`` in Starlette, ``app.mount(...)`` in FastAPI)
or serve it alone (``norce-integration orders serve``). Norce posts to the configured
URL ("REST") or to ``{URL}/CreateOrder`` ("REST (Legacy)", INFERRED), so both paths are
accepted by default.

Background retries run in a task started by the ASGI lifespan. Mounted apps do not get
the host's lifespan in every framework: call :meth:`OrderReceiverApp.start` and
:meth:`OrderReceiverApp.stop` from the host's own startup and shutdown then.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any

import orjson

from .._concurrency import AsyncEvent
from .._exceptions import StoreError
from ._async_receiver import AsyncOrderReceiver
from ._receiver_core import ReceiverAnswer


__all__ = ["OrderReceiverApp"]

log = logging.getLogger("norce_integration.orders")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = b"application/json; charset=utf-8"


class OrderReceiverApp:
    """ASGI app answering Norce's order pushes.

    Args:
        receiver: the engine (:class:`AsyncOrderReceiver`).
        paths: accepted paths below the mount point (default ``/`` and ``/CreateOrder``).
        background: run background retries (:meth:`AsyncOrderReceiver.run_worker`) while
            the app lives.
        poll_interval: seconds between background passes.
    """

    def __init__(
        self,
        receiver: AsyncOrderReceiver,
        *,
        paths: Sequence[str] = ("/", "/CreateOrder"),
        background: bool = True,
        poll_interval: float = 1.0,
    ) -> None:
        self.receiver = receiver
        self.paths = frozenset(_norm(p) for p in paths)
        self.background = background
        self.poll_interval = poll_interval
        self._stop = AsyncEvent()
        self._worker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the background retry task (idempotent)."""
        if self.background and self._worker is None:
            self._stop.clear()
            self._worker = asyncio.create_task(
                self.receiver.run_worker(self._stop, poll_interval=self.poll_interval)
            )

    async def stop(self) -> None:
        """Stop the background task and wait for ERP calls still running."""
        self._stop.set()
        if self._worker is not None:
            await self._worker
            self._worker = None
        await self.receiver.drain()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        answer = await self._http(scope, receive)
        headers = [(b"content-type", _JSON), (b"cache-control", b"no-store")]
        headers += [(k.lower().encode(), v.encode()) for k, v in answer.headers.items()]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive) -> ReceiverAnswer:
        path = str(scope.get("path", "/"))
        root = str(scope.get("root_path", ""))
        if root and path.startswith(root):
            path = path[len(root) :]
        if _norm(path) not in self.paths:
            return _plain(404, f"no order receiver at {path}")
        if scope.get("method") != "POST":
            answer = _plain(405, "the order receiver only accepts POST")
            answer.headers["Allow"] = "POST"
            return answer
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        limit = self.receiver.settings.max_body_bytes
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return _plain(413, f"the body is larger than {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return _plain(400, "the client disconnected")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return _plain(413, f"the body is larger than {limit} bytes")
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        try:
            return await self.receiver.receive(
                b"".join(chunks),
                authorization=headers.get("authorization"),
                content_type=headers.get("content-type"),
            )
        except StoreError:
            # Nothing was promised to Norce: it retries the push later.
            log.exception("order receiver: the journal is unavailable")
            return _plain(503, "the order journal is unavailable; retry later")


def _norm(path: str) -> str:
    return "/" + path.strip("/").lower()


def _plain(status: int, description: str) -> ReceiverAnswer:
    body = {"StatusCode": "Failed", "Description": description, "HasErpOrderNo": False}
    return ReceiverAnswer(status, orjson.dumps(body), {})
