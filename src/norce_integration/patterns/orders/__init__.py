"""Orders, ERP → Norce: the status publisher.

:class:`AsyncOrderPublisher` (source ``_async_publisher.py``) and its generated blocking
twin :class:`OrderPublisher` send ERP-side order events (:class:`OrderEvent`: statuses,
delivery notes, invoices, credits, cancels) to Norce's Connect Order service: in order
per order, never an older status after a newer one, and never twice what Norce
accepted, across crashes. The decisions are the pure code of ``_core.py``.
"""

from __future__ import annotations

from ._async_publisher import AsyncOrderPublisher, PublishReport
from ._core import STATUS_RANK, OrderEvent, StreamState
from ._sync_publisher import OrderPublisher


__all__ = [
    "STATUS_RANK",
    "AsyncOrderPublisher",
    "OrderEvent",
    "OrderPublisher",
    "PublishReport",
    "StreamState",
]
