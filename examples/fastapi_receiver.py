"""A FastAPI app that mounts the Norce webhook receiver and runs the event workers.

    export NORCE_SLUG=... NORCE_CLIENT_ID=... NORCE_CLIENT_SECRET=... NORCE_APPLICATION_ID=...
    export NORCE_WEBHOOK_SECRET=...        # the static header value set in Norce Admin
    uvicorn examples.fastapi_receiver:app  # or: python examples/fastapi_receiver.py

    python examples/fastapi_receiver.py --check   # in-process, against the emulator

In Norce Admin → Events, point each event type at
``https://your-host/hooks/norce/<EventType>`` with the header
``X-Norce-Webhook-Secret: <secret>``.

The receiver only stores each event durably and answers 200 (Norce allows 5 s); a
worker task, started and stopped by the app's lifespan, looks the entities up in Query
and sends them to the target. Everything runs on the server's event loop: the
``AsyncEventHandler`` awaits an ``AsyncSqliteStore`` (SQLite on its own connection
thread), so a commit never stalls a request. Run more workers (or more processes with a
shared ``AsyncPostgresStore``) when one is not enough.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from norce_integration import AsyncNorce, NorceSettings
from norce_integration.connect.models import (
    Product,
    ProductField,
    ProductHeader,
    Sku,
    SkuField,
    SkuStatus,
    SkuType,
    Variant,
    VariantField,
)
from norce_integration.patterns import (
    AsyncEventHandler,
    AsyncTargetAdapter,
    Deletion,
    WebhookAuth,
)
from norce_integration.query import ProductSku
from norce_integration.stores import AsyncSqliteStore
from norce_integration.testing import ManualClock, NorceEmulator


log = logging.getLogger("fastapi_receiver")
HEADER = "X-Norce-Webhook-Secret"


class StorefrontCache(AsyncTargetAdapter):
    """The target: a storefront's product cache (here a dict; in real life Redis, a CDN
    purge, a search index...)."""

    name = "storefront-cache"
    event_types = ("SkuChangedNotification",)
    select = ("PartNo", "ErpName", "StatusId", "Updated")

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}

    def map(self, entity: ProductSku) -> dict[str, Any]:
        return {"sku": entity.part_no, "name": entity.erp_name, "active": entity.status_id == 1}

    async def send(self, batch: Sequence[Any]) -> None:
        for item in batch:
            if isinstance(item, Deletion):
                self.documents.pop(str(item.key), None)
            else:
                self.documents[item["sku"]] = item
        log.info("storefront cache: %d documents", len(self.documents))


def create_app(handler: AsyncEventHandler, *, workers: int = 1) -> FastAPI:
    """The web app: your routes, plus the receiver mounted at ``/hooks/norce``."""
    stop = asyncio.Event()

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(handler.run(stop), name=f"norce-worker-{n}") for n in range(workers)
        ]
        yield
        stop.set()  # each worker finishes the batch in hand
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        await handler.aclose()
        await handler.store.aclose()

    app = FastAPI(title="Norce webhooks", lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"ok": True, "dead_letters": len(await handler.dead_letters(limit=100))}

    app.mount("/hooks/norce", handler.app)
    return app


def from_environment() -> FastAPI:
    """The production wiring: settings and the secret from the environment."""
    norce = AsyncNorce(NorceSettings.from_env())
    store = AsyncSqliteStore(os.environ.get("NORCE_STATE", "norce-state.sqlite"))
    handler = AsyncEventHandler(
        norce,
        store,
        targets=[StorefrontCache()],
        auth=WebhookAuth(HEADER, os.environ["NORCE_WEBHOOK_SECRET"]),
    )
    return create_app(handler)


def __getattr__(name: str) -> Any:
    # `uvicorn examples.fastapi_receiver:app` builds the app on first access only, so
    # importing this module (tests, --check) needs no environment.
    if name == "app":
        return from_environment()
    raise AttributeError(name)


async def check() -> dict[str, dict[str, Any]]:
    """Everything in-process: the emulator posts webhooks into the FastAPI app."""
    with tempfile.TemporaryDirectory() as tmp, NorceEmulator(clock=ManualClock()) as emulator:
        norce = AsyncNorce(emulator.settings(), transport=emulator.transport())
        store = AsyncSqliteStore(Path(tmp) / "state.sqlite")
        target = StorefrontCache()
        handler = AsyncEventHandler(
            norce, store, targets=[target], auth=WebhookAuth(HEADER, "s3cret")
        )
        app = create_app(handler, workers=0)  # the check drives the worker itself

        # Norce's webhooks go to the app through httpx's ASGI transport.
        emulator.delivery_transport = httpx.ASGITransport(app=app)
        emulator.subscribe(
            "SkuChangedNotification",
            "http://storefront.local/hooks/norce/SkuChangedNotification",
            headers={HEADER: "s3cret"},
        )
        await _seed(norce, emulator)
        emulator.set_sku_status("FA-2", "Inactive")
        await emulator.arun_due()

        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://storefront.local"
        ) as client:
            health = (await client.get("/health")).json()
        while (await handler.run_once()).claimed:
            pass
        await handler.aclose()
        await norce.aclose()
        await store.aclose()
        print(f"health: {health}")
        for sku, document in sorted(target.documents.items()):
            print(f"{sku}: {document}")
        return target.documents


async def _seed(norce: AsyncNorce, emulator: NorceEmulator) -> None:
    """Create three SKUs through Connect (as an ERP's product import would)."""
    header = ProductHeader(
        account_id=1,
        full_file=False,
        product_fields_that_are_set=[ProductField.Code, ProductField.Variants],
        variant_fields_that_are_set=[VariantField.Skus],
        sku_fields_that_are_set=[SkuField.Status, SkuField.Type],
    )
    sku = functools.partial(Sku, status=SkuStatus.Active, type=SkuType.ErpStandard)
    products = [
        Product(
            manufacturer_code="ACME",
            code=p,
            variants=[Variant(manufacturer_part_no=p, skus=[sku(part_no=p)])],
        )
        for p in ("FA-1", "FA-2", "FA-3")
    ]
    await norce.connect.import_products(products, header)
    emulator.advance(10)  # the job runs; the emulator queues one webhook per new SKU


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="run in-process against the emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.check:
        asyncio.run(check())
        return
    uvicorn.run(from_environment(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
