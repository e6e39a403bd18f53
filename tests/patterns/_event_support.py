"""Shared helpers of the event handler tests (``test_event_*.py``).

The emulator delivers its webhooks into the handler's ASGI app through
``httpx.ASGITransport`` (asynchronous delivery: ``await emulator.aadvance(...)``); the
handler's Query lookups go to the same emulator through a counting transport.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import httpx

from norce_integration import Norce
from norce_integration.patterns import Deletion, EventHandler, WebhookAuth
from norce_integration.stores import SqliteStore
from norce_integration.testing import ManualClock, NorceEmulator


HOOK = "http://receiver.test/hooks"
SECRET_HEADER = "X-Norce-Webhook-Secret"
SECRET = "wh-secret-NEVER-in-logs"
AUTH = WebhookAuth(SECRET_HEADER, SECRET)
GOOD = {SECRET_HEADER: SECRET}
PRODUCT_HEADER = {
    "AccountId": 1,
    "FullFile": False,
    "ProductFieldsThatAreSet": [0, 4],
    "VariantFieldsThatAreSet": [0, 5],
    "SkuFieldsThatAreSet": [1, 2, 5],
}


class CountingTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Wraps the emulator transport; counts Query requests and Job/Get polls."""

    def __init__(self, emulator: NorceEmulator) -> None:
        self.inner = emulator.transport()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return self.inner.handle_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return await self.inner.handle_async_request(request)

    @property
    def query_requests(self) -> int:
        return sum(1 for p in self.paths if "/query/" in p.lower())

    @property
    def job_polls(self) -> int:
        return sum(1 for p in self.paths if p.lower().endswith("job/get"))

    def reset(self) -> None:
        self.paths.clear()


class Target:
    """A recording target adapter (sync); ``fail`` decides whether a batch fails."""

    def __init__(
        self,
        event_types: Sequence[str] = ("SkuChangedNotification",),
        select: Sequence[str] = ("PartNo", "EanCode", "StatusId"),
        name: str = "search",
    ) -> None:
        self.event_types = tuple(event_types)
        self.select = tuple(select)
        self.name = name
        self.batches: list[list[Any]] = []
        self.fail: Any = None  # callable(batch) -> bool, or None

    def map(self, entity: Any) -> Any:
        return entity

    def send(self, batch: Sequence[Any]) -> None:
        if self.fail is not None and self.fail(batch):
            raise RuntimeError(f"target down for {len(batch)} items")
        self.batches.append(list(batch))

    @property
    def items(self) -> list[Any]:
        return [item for batch in self.batches for item in batch]

    @property
    def upserts(self) -> list[Any]:
        return [i for i in self.items if not isinstance(i, Deletion)]

    @property
    def deletions(self) -> list[Deletion]:
        return [i for i in self.items if isinstance(i, Deletion)]

    def part_nos(self) -> list[str]:
        return [getattr(i, "part_no", None) or i.get("PartNo") for i in self.upserts]


class Env:
    """An emulator, a store, a client and handlers wired together (sync handler)."""

    def __init__(self, store_path: str, *, clock: Any = None) -> None:
        self.emulator = NorceEmulator(clock=ManualClock(), token_lifetime=10**7)
        self.counter = CountingTransport(self.emulator)
        self.norce = Norce(self.emulator.settings(), transport=self.counter)
        self._store_path = store_path
        self._clock = clock
        self._store: SqliteStore | None = None
        self.handlers: list[EventHandler] = []
        self._http = httpx.Client(
            transport=self.emulator.transport(),
            base_url=self.emulator.settings().connect_base,
            headers={"Authorization": f"Bearer {self.emulator.issue_token()}"},
        )

    @property
    def store(self) -> SqliteStore:
        """The blocking store, opened on first use (the async tests never open it)."""
        if self._store is None:
            path, clock = self._store_path, self._clock
            self._store = SqliteStore(path) if clock is None else SqliteStore(path, clock=clock)
        return self._store

    def handler(self, **kwargs: Any) -> EventHandler:
        kwargs.setdefault("auth", AUTH)
        kwargs.setdefault("retry_base", 0.0)
        handler = EventHandler(self.norce, kwargs.pop("store", self.store), **kwargs)
        self.handlers.append(handler)
        return handler

    def deliver_to(self, handler: EventHandler, *event_types: str, **sub: Any) -> None:
        """Subscribe event types to the handler's app (delivery through ASGITransport)."""
        self.emulator.delivery_transport = httpx.ASGITransport(app=handler.app)
        headers = {**GOOD, **sub.pop("headers", {})}
        for event_type in event_types:
            self.emulator.subscribe(event_type, f"{HOOK}/{event_type}", headers=headers, **sub)

    def import_skus(self, part_nos: Iterable[str], **sku: Any) -> int:
        items = [
            {
                "ManufacturerCode": "ACME",
                "Variants": [
                    {
                        "ManufacturerPartNo": f"M-{p}",
                        "Skus": [{"PartNo": p, "Status": 1, "Type": 1, **sku}],
                    }
                ],
            }
            for p in part_nos
        ]
        response = self._http.post(
            "Product/ImportProducts",
            headers={"X-StormConnect-Header": json.dumps(PRODUCT_HEADER)},
            json=items,
        )
        assert response.status_code == 200, response.text
        return int(response.json()["JobId"])

    def sku_row(self, part_no: str) -> dict[str, Any]:
        row = self.emulator.table("Products", "ProductSkus").get(part_no)
        assert row is not None
        return row

    def close(self) -> None:
        for handler in self.handlers:
            handler.close()
        self._http.close()
        self.norce.close()
        if self._store is not None:
            self._store.close()
        self.emulator.close()


def sku_body(part_no: str, entity: str = "tClientProductSku", **extra: Any) -> bytes:
    return json.dumps(
        {
            "ClientId": 1042,
            "ApplicationId": 1042,
            "PartNo": part_no,
            "EntityChanged": entity,
            **extra,
        }
    ).encode()


async def asgi_call(
    app: Any,
    *,
    method: str = "POST",
    path: str = "/hooks/SkuChangedNotification",
    headers: Sequence[tuple[bytes, bytes]] = (),
    body: bytes = b"",
    chunks: Iterable[bytes] | None = None,
    client: tuple[str, int] | None = ("127.0.0.1", 50000),
    root_path: str = "",
    query_string: bytes = b"",
) -> tuple[int, dict[str, str], bytes, int]:
    """Call an ASGI app directly; returns status, headers, body and receive() calls."""
    parts = list(chunks) if chunks is not None else [body]
    received = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        if received <= len(parts):
            return {
                "type": "http.request",
                "body": parts[received - 1],
                "more_body": received < len(parts),
            }
        return {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("latin-1", "replace"),
        "root_path": root_path,
        "query_string": query_string,
        "headers": list(headers),
        "client": client,
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body_out = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    out_headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in start["headers"]}
    return start["status"], out_headers, body_out, received


def auth_headers(extra: Sequence[tuple[bytes, bytes]] = ()) -> list[tuple[bytes, bytes]]:
    return [(SECRET_HEADER.lower().encode(), SECRET.encode()), *extra]
