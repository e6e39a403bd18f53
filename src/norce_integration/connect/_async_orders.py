"""Connect 4.0 Order service: the ERP's answers to Norce (the asyncio source).

``python scripts/gen_sync.py`` writes the blocking :class:`OrderResource` from this
module into ``_sync_orders.py``. Each call is synchronous at Norce (no job id; the
documented answer is an empty 200): build (pure, :mod:`._orders_core`) → send → map the
error (pure). Which calls are retried is said in :mod:`._orders_core`.
"""

from __future__ import annotations

import attrs

from .._async_http import AsyncHTTP
from .._exceptions import APIError
from ..orders.models import (
    CancelOrderRequest,
    DeliveryNote,
    Invoice,
    OrderModel,
    SendOrderStatusRequest,
    Shipment,
)
from ._orders_core import (
    OrderCallResult,
    OrderClientOptions,
    OrderOperation,
    call_result,
    order_call_error,
    order_request,
)


__all__ = ["AsyncOrderResource"]


class AsyncOrderResource:
    """``connect.orders`` of :class:`AsyncNorce` (and of :class:`Norce`).

    Every method raises:

    * :class:`~norce_integration.connect.OrderRejectedError` (a ``BadRequestError``) for
      a 400: unknown order, a status Norce does not allow, an invalid body;
    * :class:`~norce_integration.connect.OrderServerError` (a ``ServerError``) for a 5xx
      that was not ambiguous;
    * :class:`~norce_integration.orders.AmbiguousOrderCallError` when a non-idempotent
      call failed after its body was sent (Norce may have applied it);
    * any other :class:`~norce_integration.APIError` of the HTTP core (401, 403, a
      connection error after the retries, ...);
    * ``TypeError`` when the body is not the operation's contract.

    Args:
        http: the client's HTTP shell.
        options: what Norce leaves open (:class:`OrderClientOptions`).
    """

    def __init__(self, http: AsyncHTTP, options: OrderClientOptions | None = None) -> None:
        self._http = http
        self.options = options or OrderClientOptions()

    def with_options(self, **changes: object) -> AsyncOrderResource:
        """A client sharing this one's connections, with some options changed.

        Example:
            >>> orders = norce.connect.orders.with_options(  # doctest: +SKIP
            ...     send_application_id=True
            ... )
        """
        return type(self)(self._http, attrs.evolve(self.options, **changes))  # type: ignore[arg-type]

    async def call(self, operation: OrderOperation | str, body: OrderModel) -> OrderCallResult:
        """POST ``body`` to ``operation``; the typed methods below are shortcuts.

        Raises:
            OrderRejectedError: 400 (see the class for every error).
            OrderServerError: a 5xx that was not ambiguous.
            AmbiguousOrderCallError: a non-idempotent call failed after sending.
        """
        op = OrderOperation(operation)
        url, headers, content, kind = order_request(op, body, self._http.settings, self.options)
        try:
            response = await self._http.request(
                "POST", url, kind=kind, headers=headers, content=content
            )
        except APIError as exc:
            err = order_call_error(exc, op)
            if err is exc:
                raise
            raise err from err.__cause__
        return call_result(op, response)

    async def create_invoice(self, invoice: Invoice) -> OrderCallResult:
        """``Order/CreateInvoice``: an invoice from the ERP; captures the payment if
        applicable. Not idempotent (``InvoiceNo`` "must be unique")."""
        return await self.call(OrderOperation.create_invoice, invoice)

    async def credit_payment(self, credit: Invoice) -> OrderCallResult:
        """``Order/CreditPayment``: a (partial) credit of an order's payment; name the
        credited invoice in ``credited_invoice_no``. Not idempotent."""
        return await self.call(OrderOperation.credit_payment, credit)

    async def create_delivery_note(self, note: DeliveryNote) -> OrderCallResult:
        """``Order/CreateDeliveryNote``: what was shipped, with parcels for tracking.
        Not idempotent (duplicate handling is OPEN)."""
        return await self.call(OrderOperation.create_delivery_note, note)

    async def send_order_status(self, request: SendOrderStatusRequest) -> OrderCallResult:
        """``Order/SendOrderStatus``: update the order's status. Idempotent: retried."""
        return await self.call(OrderOperation.send_order_status, request)

    async def cancel_order(self, request: CancelOrderRequest) -> OrderCallResult:
        """``Order/CancelOrder``: cancel the order and the given payments. Not idempotent
        (a payment cancel is a PSP call)."""
        return await self.call(OrderOperation.cancel_order, request)

    async def send_pos_shipment(self, shipment: Shipment) -> OrderCallResult:
        """``Order/SendPosShipment``: a shipment request to the POS adapter. Not
        idempotent."""
        return await self.call(OrderOperation.send_pos_shipment, shipment)
