"""The served shell: the emulator as an ASGI app, run by uvicorn on a real socket.

The ASGI app spools each request body while receiving it, runs the sans-IO core in a
worker thread (so a large import does not block the event loop), and, through the ASGI
lifespan, pumps due work (jobs and webhook deliveries) every ``pump_interval`` seconds
so a served emulator behaves like a live tenant on a real or sped-up clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import attrs
import uvicorn

from .._settings import NorceSettings
from ._core import EmulatorRequest, EmulatorResponse, error
from ._spool import BodySpool, BodyTooLargeError


if TYPE_CHECKING:
    from ._emulator import NorceEmulator


__all__ = ["EmulatorASGIApp", "EmulatorServer", "bind", "serve_in_thread"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class EmulatorASGIApp:
    """ASGI 3 application around a :class:`NorceEmulator`.

    Args:
        emulator: the emulator to serve.
        pump_interval: real seconds between background runs of due work (lifespan only).
    """

    def __init__(self, emulator: NorceEmulator, *, pump_interval: float = 0.05) -> None:
        self.emulator = emulator
        self.pump_interval = pump_interval
        self._pump: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._pump = asyncio.create_task(self._run_pump())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._pump is not None:
                    self._pump.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await self._pump
                    self._pump = None
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _run_pump(self) -> None:
        emulator = self.emulator
        while True:
            await asyncio.sleep(self.pump_interval)
            # A large job takes seconds to apply: do it off the event loop.
            await anyio.to_thread.run_sync(emulator.process_due_jobs)
            await emulator.arun_due()

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        emulator = self.emulator
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope.get("headers", []):
            name = raw_name.decode("latin-1").lower()
            value = raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        server = scope.get("server") or ("127.0.0.1", 80)
        host = headers.get("host") or f"{server[0]}:{server[1]}"
        base_url = f"{scope.get('scheme', 'http')}://{host}"
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > emulator.max_body_bytes:
            await self._send(send, error(413, "Request body too large."))
            return
        spool = BodySpool(
            max_bytes=emulator.max_body_bytes, memory_bytes=emulator.spool_memory_bytes
        )
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    spool.close()
                    return
                spool.write(message.get("body", b""))
                if not message.get("more_body", False):
                    break
        except BodyTooLargeError as exc:
            spool.close()
            await self._send(send, error(413, f"{exc}."))
            return
        except BaseException:
            spool.close()
            raise
        client = scope.get("client")
        request = EmulatorRequest(
            method=scope["method"],
            path=scope["path"],
            query=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=spool,
            base_url=base_url,
            client=client[0] if client else None,
        )
        response = await anyio.to_thread.run_sync(emulator.handle, request)
        if response.action is not None:
            response = await emulator.acomplete_action(response)
        await emulator.adelay(response)
        if response.drop:
            # Start a response and stop: the server closes the connection mid-response,
            # which a client sees as a dropped connection.
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"1")],
                }
            )
            return
        await self._send(send, response, head=scope["method"] == "HEAD")
        if self._pump is None:
            await emulator._after_request_async()

    @staticmethod
    async def _send(send: Send, response: EmulatorResponse, *, head: bool = False) -> None:
        headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()
        ]
        headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else response.body})


@attrs.frozen
class EmulatorServer:
    """A running emulator server.

    Attributes:
        emulator: the emulator being served.
        host: bound host.
        port: bound port.
    """

    emulator: NorceEmulator
    host: str
    port: int

    @property
    def base_url(self) -> str:
        """``http://host:port``."""
        return f"http://{self.host}:{self.port}"

    def settings(self, **overrides: Any) -> NorceSettings:
        """:class:`NorceSettings` for this server (credentials included)."""
        return self.emulator.settings(base_url=self.base_url, **overrides)

    def describe(self) -> str:
        """Human-readable URLs and credentials (what the CLI prints)."""
        settings = self.settings()
        return "\n".join(
            [
                f"Norce emulator listening on {self.base_url}",
                f"  token URL       {settings.token_endpoint}",
                f"  Connect URL     {settings.connect_base}",
                f"  Query URL       {settings.query_base}",
                f"  admin API       {self.base_url}/_emulator/",
                f"  client id       {settings.client_id}",
                f"  client secret   {self.emulator.client_secret}",
                f"  application id  {settings.application_id}",
                f"  account id      {settings.account_id}",
            ]
        )

    def __str__(self) -> str:
        return self.base_url


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


@contextlib.contextmanager
def serve_in_thread(
    emulator: NorceEmulator,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "warning",
    startup_timeout: float = 10.0,
) -> Iterator[EmulatorServer]:
    """Run uvicorn for ``emulator`` in a daemon thread until the block exits.

    Raises:
        OSError: the address cannot be bound.
        RuntimeError: the server did not start in time.
    """
    sock = bind(host, port)
    bound_port = int(sock.getsockname()[1])
    config = uvicorn.Config(emulator.asgi_app, lifespan="on", log_level=log_level)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="norce-emulator", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulator server did not start")
            time.sleep(0.01)
        yield EmulatorServer(emulator, host, bound_port)
    finally:
        server.should_exit = True
        thread.join(startup_timeout)
        sock.close()
