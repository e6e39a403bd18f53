"""The in-process shell: an httpx transport for ``httpx.Client`` and ``httpx.AsyncClient``.

Unlike ``httpx.MockTransport``, which reads the whole body first, it hands the request
stream to the emulator chunk by chunk (sync) or spools it chunk by chunk (async), so a
large import body exists once, in the emulator's spool.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Iterable, Iterator
from typing import TYPE_CHECKING

import httpx

from ._core import EmulatorRequest, EmulatorResponse, error
from ._spool import BodySpool, BodyTooLargeError


if TYPE_CHECKING:
    from ._emulator import NorceEmulator


__all__ = ["EmulatorTransport"]


def _chunks(stream: Iterable[bytes]) -> Iterator[bytes]:
    yield from stream


class EmulatorTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Routes httpx requests into a :class:`NorceEmulator` without a socket.

    Works with both clients::

        with httpx.Client(transport=emulator.transport()) as client: ...
        async with httpx.AsyncClient(transport=emulator.transport()) as client: ...

    A dropped-connection fault raises ``httpx.RemoteProtocolError`` (``disconnect``) or
    ``httpx.ConnectError`` (``connect``), as a real socket would.
    """

    def __init__(self, emulator: NorceEmulator) -> None:
        self.emulator = emulator

    @staticmethod
    def _request(request: httpx.Request, body: Iterable[bytes] | BodySpool) -> EmulatorRequest:
        url = request.url
        return EmulatorRequest(
            method=request.method,
            path=url.path,
            query=url.query.decode("ascii", "replace"),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            base_url=f"{url.scheme}://{url.netloc.decode('ascii')}",
        )

    @staticmethod
    def _response(request: httpx.Request, response: EmulatorResponse) -> httpx.Response:
        if response.drop == "connect":
            raise httpx.ConnectError("[Errno 111] Connection refused (injected)", request=request)
        if response.drop:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response (injected).", request=request
            )
        return httpx.Response(
            response.status,
            headers=list(response.headers.items()),
            content=response.body,
            request=request,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Handle a request from a sync client."""
        emulator = self.emulator
        stream = request.stream
        assert isinstance(stream, Iterable)
        response = emulator.handle(self._request(request, _chunks(stream)))
        if response.action is not None:
            response = emulator.complete_action(response)
        emulator.delay(response)
        try:
            return self._response(request, response)
        finally:
            emulator._after_request_sync()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Handle a request from an async client."""
        emulator = self.emulator
        stream = request.stream
        assert isinstance(stream, AsyncIterable)
        spool = BodySpool(
            max_bytes=emulator.max_body_bytes, memory_bytes=emulator.spool_memory_bytes
        )
        try:
            async for chunk in stream:
                spool.write(chunk)
        except BodyTooLargeError as exc:
            spool.close()
            return self._response(request, error(413, f"{exc}."))
        except BaseException:
            spool.close()
            raise
        response = emulator.handle(self._request(request, spool))
        # The answer crosses the "network": the client goes on in a later step of the
        # loop, as with a real server (the emulator's work and the client's parsing are
        # never one long callback).
        await asyncio.sleep(0)
        if response.action is not None:
            response = await emulator.acomplete_action(response)
        await emulator.adelay(response)
        try:
            return self._response(request, response)
        finally:
            await emulator._after_request_async()
