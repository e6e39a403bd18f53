"""The pure half of the order status publisher: events, per-order stream state, decisions.

No I/O. The publisher (:mod:`._async_publisher`) loads a stream's state from the store,
asks :func:`decide` what to do with each event, carries it out and stores the result.

Guarantees, per order (one *stream*, keyed by the source's order reference):

* **in order**: events are sent in ``sequence`` order, one at a time;
* **never older after newer**: an event whose ``sequence`` is not above the last one
  Norce accepted is never sent; a status that would move the order back (by the rank
  in :data:`STATUS_RANK`) is skipped unless ``allow_backwards``;
* **resumable without sending twice**: before a call the stream records it as *in
  flight*; after Norce accepted it, as sent. A stream found with a call in flight (the
  publisher died mid-call) resends it only when the call is idempotent
  (``SendOrderStatus``); any other call is *held* until an operator says whether Norce
  applied it (:meth:`AsyncOrderPublisher.release`). An ambiguous failure reported by
  the client (:class:`~norce_integration.orders.AmbiguousOrderCallError`) holds the
  stream the same way.
"""

from __future__ import annotations

from typing import Any, Literal

import attrs
import orjson

from ...orders.models import (
    CancelOrderRequest,
    DeliveryNote,
    Invoice,
    OrderModel,
    OrderStatus,
    SendOrderStatusRequest,
    Shipment,
)


__all__ = [
    "STATUS_RANK",
    "Decision",
    "OrderEvent",
    "StreamState",
    "decide",
    "status_of",
]

STATUS_RANK: dict[int, int] = {
    0: 0,
    1: 1, 3: 1, 7: 1, 14: 1, 16: 1, 18: 1, 19: 1, 20: 1,
    9: 2, 10: 2,
    2: 3, 15: 3, 17: 3,
    8: 4,
    11: 5,
    4: 6, 12: 6, 13: 6,
    5: 7,
    6: 8,
}  # fmt: skip
"""How far along each ``OrderStatus`` is (INFERRED; Norce publishes no transition table):
an order does not go back to a lower rank. Cancelled (6) ranks last: nothing follows it."""

Operation = Literal[
    "send_order_status",
    "create_delivery_note",
    "create_invoice",
    "credit_payment",
    "cancel_order",
    "send_pos_shipment",
]


@attrs.frozen(kw_only=True)
class OrderEvent:
    """One ERP-side change of an order, to send to Norce's Order service.

    Attributes:
        order_ref: the order's stream key (e.g. the ``ClientOrderRef`` as text); every
            event of one order uses the same.
        sequence: strictly increasing per order (the ERP's change number, or a
            timestamp in ms): it orders the stream and says what is older.
        body: the call's contract: ``SendOrderStatusRequest``, ``DeliveryNote``,
            ``Invoice`` (an invoice, or a credit when ``credit``), ``CancelOrderRequest``
            or ``Shipment``.
        credit: send an ``Invoice`` body to ``CreditPayment`` instead of
            ``CreateInvoice``.
        event_id: the source's id of the event (for logs and reports).
    """

    order_ref: str
    sequence: int
    body: OrderModel
    credit: bool = False
    event_id: str | None = None

    def __attrs_post_init__(self) -> None:
        operation_of(self)  # a wrong body type fails here, not mid-run

    @property
    def operation(self) -> Operation:
        """The client method this event is sent with."""
        return operation_of(self)


def operation_of(event: OrderEvent) -> Operation:
    """The ``connect.orders`` method of an event.

    Raises:
        TypeError: the body is not an Order-service contract.
    """
    body = event.body
    if isinstance(body, SendOrderStatusRequest):
        return "send_order_status"
    if isinstance(body, DeliveryNote):
        return "create_delivery_note"
    if isinstance(body, Invoice):
        return "credit_payment" if event.credit else "create_invoice"
    if isinstance(body, CancelOrderRequest):
        return "cancel_order"
    if isinstance(body, Shipment):
        return "send_pos_shipment"
    msg = f"an OrderEvent body must be an Order-service request, got {type(body).__name__}"
    raise TypeError(msg)


def status_of(event: OrderEvent) -> int | None:
    """The ``OrderStatus`` integer the event sets, if it sets one."""
    body = event.body
    if isinstance(body, SendOrderStatusRequest):
        status = body.order_status
        return int(status) if isinstance(status, OrderStatus) else None
    if isinstance(body, DeliveryNote):
        return body.status_id if isinstance(body.status_id, int) else 4
    if isinstance(body, CancelOrderRequest):
        return 6
    return None


@attrs.frozen(kw_only=True)
class StreamState:
    """What the publisher remembers about one order (stored as JSON in the kv table).

    Attributes:
        last_sequence: the newest sequence Norce accepted (or that was skipped for good).
        last_status: the ``OrderStatus`` integer last set.
        inflight: the sequence of a call that may be under way.
        inflight_operation: its operation.
        held: why the stream waits for an operator (None: it flows).
        sent: calls Norce accepted.
    """

    last_sequence: int | None = None
    last_status: int | None = None
    inflight: int | None = None
    inflight_operation: str | None = None
    held: str | None = None
    sent: int = 0

    def to_text(self) -> str:
        return orjson.dumps(attrs.asdict(self)).decode()

    @classmethod
    def from_text(cls, text: str | None) -> StreamState:
        if text is None:
            return cls()
        data: dict[str, Any] = orjson.loads(text)
        return cls(**data)


Decision = Literal["send", "skip_old", "skip_backwards", "hold", "held"]


def decide(
    state: StreamState,
    event: OrderEvent,
    *,
    idempotent: frozenset[str],
    allow_backwards: bool = False,
) -> Decision:
    """What to do with ``event`` given the stream's ``state``.

    ``send``: send it now. ``skip_old``: already accepted or older than what was.
    ``skip_backwards``: a status that would move the order back. ``hold``: a call was in
    flight when the publisher stopped and it is not idempotent: hold the stream.
    ``held``: the stream is held already.
    """
    if state.held is not None:
        return "held"
    if state.last_sequence is not None and event.sequence <= state.last_sequence:
        return "skip_old"
    if state.inflight is not None and state.inflight_operation not in idempotent:
        return "hold"
    status = status_of(event)
    if (
        not allow_backwards
        and status is not None
        and state.last_status is not None
        and STATUS_RANK.get(status, 0) < STATUS_RANK.get(state.last_status, 0)
    ):
        return "skip_backwards"
    return "send"


def in_flight(state: StreamState, event: OrderEvent) -> StreamState:
    """The state to store before the call."""
    return attrs.evolve(state, inflight=event.sequence, inflight_operation=event.operation)


def accepted(state: StreamState, event: OrderEvent) -> StreamState:
    """The state after Norce accepted the call."""
    status = status_of(event)
    return attrs.evolve(
        state,
        last_sequence=event.sequence,
        last_status=state.last_status if status is None else status,
        inflight=None,
        inflight_operation=None,
        sent=state.sent + 1,
    )


def skipped(state: StreamState, event: OrderEvent) -> StreamState:
    """The state after an event is passed over for good (refused by Norce, or backwards)."""
    return attrs.evolve(state, last_sequence=event.sequence, inflight=None, inflight_operation=None)


def not_applied(state: StreamState) -> StreamState:
    """The state after a call that certainly did not reach Norce (retry next pass)."""
    return attrs.evolve(state, inflight=None, inflight_operation=None)


def hold(state: StreamState, reason: str) -> StreamState:
    """The stream waits for an operator."""
    return attrs.evolve(state, held=reason)


def released(state: StreamState, *, applied: bool) -> StreamState:
    """The operator's answer: Norce did (``applied``) or did not apply the held call."""
    if applied and state.inflight is not None:
        return attrs.evolve(
            state,
            last_sequence=state.inflight,
            inflight=None,
            inflight_operation=None,
            held=None,
            sent=state.sent + 1,
        )
    return attrs.evolve(state, inflight=None, inflight_operation=None, held=None)
