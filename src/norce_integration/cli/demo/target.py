"""The demo's target: a product search index, kept as a JSON Lines file.

This is what an integration's target side looks like. A target adapter declares which
events it takes and which Query fields it needs; the :class:`EventHandler` does the
rest (receiving webhooks, coalescing, looking entities up, ordering, retries) and calls:

* ``map(entity)`` with each looked-up entity (here a
  :class:`~norce_integration.query.ProductSku` holding only the selected fields);
* ``send(batch)`` with the mapped documents and :class:`Deletion` markers for entities
  Query no longer has. Raising in ``send`` retries the whole batch later.

The file gets one line per change: ``{"op": "upsert", "doc": {...}}`` or
``{"op": "delete", "id": "..."}``, the way a search engine's bulk API takes them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...patterns import Deletion, TargetAdapter
from ...query import ProductSku


__all__ = ["SearchIndexTarget"]


class SearchIndexTarget(TargetAdapter):
    """Writes SKU documents for a storefront search index to a JSONL file."""

    name = "search-index"  # stable: the versions sent are recorded under this name
    event_types = ("SkuChangedNotification",)
    select = ("PartNo", "ErpName", "EanCode", "StatusId", "Updated")
    max_batch = 200

    def __init__(self, path: Path) -> None:
        self.path = path
        self.upserts = 0
        self.deletes = 0

    def map(self, entity: ProductSku) -> dict[str, Any]:
        return {
            "id": entity.part_no,
            "title": entity.erp_name,
            "ean": entity.ean_code,
            "active": entity.status_id == 1,
            "updated": entity.updated.isoformat() if entity.updated else None,
        }

    def send(self, batch: Sequence[Any]) -> None:
        lines: list[str] = []
        for item in batch:
            if isinstance(item, Deletion):
                lines.append(json.dumps({"op": "delete", "id": str(item.key)}))
                self.deletes += 1
            else:
                lines.append(json.dumps({"op": "upsert", "doc": item}, ensure_ascii=False))
                self.upserts += 1
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")

    def documents(self) -> dict[str, dict[str, Any]]:
        """The index as it stands: the last upsert of every id not deleted since."""
        index: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return index
        for line in self.path.read_text(encoding="utf-8").splitlines():
            change = json.loads(line)
            if change["op"] == "delete":
                index.pop(change["id"], None)
            else:
                index[change["doc"]["id"]] = change["doc"]
        return index
