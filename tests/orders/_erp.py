"""Fake ERP targets for the receiver tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

from norce_integration.orders import ErpRejectedOrderError, ErpUnavailableError, OrderRequest


class MemoryErp:
    """An async ERP target in memory; ``down`` makes it unavailable, ``refuse`` rejects."""

    def __init__(self) -> None:
        self.orders: dict[str, str] = {}
        self.creates: list[str] = []
        self.finds: list[str] = []
        self.down = False
        self.refuse: str | None = None
        self.crash: Exception | None = None

    async def create_order(self, order: OrderRequest, *, key: str) -> str | None:
        self.creates.append(key)
        if self.down:
            raise ErpUnavailableError("ERP maintenance window")
        if self.refuse:
            raise ErpRejectedOrderError(self.refuse)
        if self.crash is not None:
            raise self.crash
        number = f"SO-{len(self.orders) + 1:04d}"
        self.orders[key] = number
        return number

    async def find_order(self, order: OrderRequest, *, key: str) -> str | None:
        self.finds.append(key)
        return self.orders.get(key)


class FileErp:
    """A blocking ERP target that appends orders to a JSON-lines file (fsynced), so a
    separate process can check what it holds after being killed."""

    def __init__(self, path: Path, *, die_after_create: bool = False) -> None:
        self.path = path
        self.die_after_create = die_after_create

    def _orders(self) -> dict[str, str]:
        if not self.path.exists():
            return {}
        lines = self.path.read_text().splitlines()
        return {d["key"]: d["erp"] for d in map(json.loads, lines)}

    def create_order(self, order: OrderRequest, *, key: str) -> str | None:
        number = f"SO-{len(self._orders()) + 1:04d}"
        with self.path.open("a") as fh:
            fh.write(json.dumps({"key": key, "erp": number}) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        if self.die_after_create:
            os.kill(os.getpid(), 9)  # the ERP has the order; the receiver never learns it
        return number

    def find_order(self, order: OrderRequest, *, key: str) -> str | None:
        return self._orders().get(key)

    def count(self) -> int:
        return len(self.path.read_text().splitlines()) if self.path.exists() else 0


class CliErp(FileErp):
    """A :class:`FileErp` the CLI can build without arguments (path from the environment)."""

    def __init__(self) -> None:
        super().__init__(Path(os.environ["ORDERS_TEST_ERP_FILE"]))


class DownErp:
    """A blocking ERP that is always down."""

    def create_order(self, order: OrderRequest, *, key: str) -> str | None:
        raise ErpUnavailableError("down")

    def find_order(self, order: OrderRequest, *, key: str) -> str | None:
        return None
