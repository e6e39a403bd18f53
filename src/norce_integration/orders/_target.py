"""The adapter protocols integrators implement to put orders into their ERP."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from .models import OrderRequest


__all__ = ["AsyncOrderTarget", "OrderTarget"]


@runtime_checkable
class OrderTarget(Protocol):
    """Creates Norce's orders in the ERP (blocking flavour).

    The receiver calls :meth:`create_order` once per order in the normal case. After a
    crash or an unexpected error mid-call it cannot know whether the ERP took the order,
    so it first calls :meth:`find_order`; only if that returns ``None`` is the order
    created again. Return ``None`` from ``find_order`` only when the ERP has no order
    with this key, or make ``create_order`` itself idempotent on ``key``.

    Raise :class:`~norce_integration.orders.ErpUnavailableError` when the ERP cannot
    take the order now, :class:`~norce_integration.orders.ErpRejectedOrderError` when it
    never will.
    """

    def create_order(self, order: OrderRequest, *, key: str) -> str | None:
        """Create ``order`` in the ERP; return the ERP order number (or None).

        Args:
            order: the order Norce pushed.
            key: the receiver's de-duplication key; store it with the ERP order (e.g.
                as its external reference) so :meth:`find_order` can look it up.
        """
        ...

    def find_order(self, order: OrderRequest, *, key: str) -> str | None:
        """The ERP order number of ``order`` if the ERP already has it, else None
        (return ``""`` for an order that exists without a number)."""
        ...


@runtime_checkable
class AsyncOrderTarget(Protocol):
    """:class:`OrderTarget` for asyncio: the same methods, as coroutines."""

    async def create_order(self, order: OrderRequest, *, key: str) -> str | None:
        """See :meth:`OrderTarget.create_order`."""
        ...

    async def find_order(self, order: OrderRequest, *, key: str) -> str | None:
        """See :meth:`OrderTarget.find_order`."""
        ...
