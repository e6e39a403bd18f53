"""The pure half of the Connect Order client: operations, options, requests, errors.

No I/O: these take a model, the options and the settings and return what to send, or
take an error the HTTP shell raised and return the typed order error. The sending lives
in :mod:`._async_orders` and its generated twin.

Which calls are retried (reference §2.1, §7.10):

* ``SendOrderStatus`` is **idempotent**: setting a status an order already has changes
  nothing, so connection errors, timeouts and 5xx are retried as for reads.
* ``CreateInvoice``, ``CreditPayment``, ``CreateDeliveryNote``, ``CancelOrder`` and
  ``SendPosShipment`` are **not**: each can capture or credit a payment, cancel a PSP
  reservation, or create a second document (what Norce does with a duplicate
  ``InvoiceNo`` is OPEN). They are retried only when Norce cannot have seen the body
  (the connection was never made, or a 429/503); any other failure after sending raises
  :class:`~norce_integration.orders.AmbiguousOrderCallError`.

:attr:`OrderClientOptions.idempotent` changes that list, for a tenant where you know
more (e.g. that a duplicate ``NoteNo`` is refused).
"""

from __future__ import annotations

import enum
import json
from typing import Any

import attrs
import httpx

from .._exceptions import (
    AmbiguousImportError,
    APIStatusError,
    BadRequestError,
    ConfigurationError,
    ServerError,
)
from .._retry import RequestKind
from .._settings import NorceSettings
from ..orders._errors import AmbiguousOrderCallError, OrderError
from ..orders.models import (
    CancelOrderRequest,
    DeliveryNote,
    Invoice,
    OrderModel,
    SendOrderStatusRequest,
    Shipment,
    WireOptions,
)


__all__ = [
    "OrderCallResult",
    "OrderClientOptions",
    "OrderOperation",
    "OrderRejectedError",
    "OrderServerError",
    "order_call_error",
    "order_request",
]


class OrderOperation(enum.StrEnum):
    """A Connect Order-service operation; the value is its path under Connect 4.0."""

    create_invoice = "Order/CreateInvoice"
    credit_payment = "Order/CreditPayment"
    create_delivery_note = "Order/CreateDeliveryNote"
    send_order_status = "Order/SendOrderStatus"
    cancel_order = "Order/CancelOrder"
    send_pos_shipment = "Order/SendPosShipment"

    @property
    def operation_name(self) -> str:
        """The contract's method name (``CreateInvoice``)."""
        return self.value.split("/", 1)[1]


BODY_TYPES: dict[OrderOperation, type[OrderModel]] = {
    OrderOperation.create_invoice: Invoice,
    OrderOperation.credit_payment: Invoice,
    OrderOperation.create_delivery_note: DeliveryNote,
    OrderOperation.send_order_status: SendOrderStatusRequest,
    OrderOperation.cancel_order: CancelOrderRequest,
    OrderOperation.send_pos_shipment: Shipment,
}
"""The body contract of each operation."""

IDEMPOTENT: frozenset[OrderOperation] = frozenset({OrderOperation.send_order_status})
"""Operations retried like reads by default (see the module docstring)."""


def _operations(value: Any) -> frozenset[OrderOperation]:
    return frozenset(OrderOperation(v) for v in value)


@attrs.frozen(kw_only=True)
class OrderClientOptions:
    """Settings of the Connect Order client for what Norce leaves open.

    Attributes:
        wire: how bodies are written (date format, ``OrderStatus`` as name or integer);
            see :class:`~norce_integration.orders.WireOptions`.
        idempotent: the operations retried after their body may have reached Norce.
            Default: ``SendOrderStatus`` only.
        send_application_id: also send the settings' ``application_id`` in
            :attr:`application_id_header` (whether the Order service needs it is OPEN,
            reference §7.6). Off by default.
        application_id_header: the header name used when ``send_application_id`` is on
            (``ApplicationId``, as third-party clients send it).
    """

    wire: WireOptions = attrs.field(factory=WireOptions)
    idempotent: frozenset[OrderOperation] = attrs.field(default=IDEMPOTENT, converter=_operations)
    send_application_id: bool = False
    application_id_header: str = "ApplicationId"


@attrs.frozen
class OrderCallResult:
    """What an Order-service call came back with (documented: an empty 200 body).

    Attributes:
        operation: the call.
        status: the HTTP status (2xx).
        body: the response text, kept in case Norce answers with content (``""``
            otherwise).
    """

    operation: OrderOperation
    status: int
    body: str = ""


class _OrderStatusError(OrderError, APIStatusError):
    def __init__(self, message: str, *, operation: str, reason: str = "", **kw: Any) -> None:
        self.operation = operation
        self.reason = reason
        super().__init__(message, **kw)


class OrderRejectedError(_OrderStatusError, BadRequestError):
    """400: Norce refused the call (unknown order, a status it does not allow, an
    invalid body). Never retried. ``operation`` names the call, ``reason`` is Norce's
    message when the body had one (its schema is OPEN, reference §7.6)."""


class OrderServerError(_OrderStatusError, ServerError):
    """5xx from an idempotent call after its retries ran out, from a non-idempotent call
    that Norce refused outright (503), or any other 5xx Norce answered. ``operation``
    names the call, ``reason`` is Norce's message when there was one."""


def order_request(
    operation: OrderOperation,
    body: OrderModel,
    settings: NorceSettings,
    options: OrderClientOptions,
) -> tuple[str, dict[str, str], bytes, RequestKind]:
    """The URL, headers, body and retry kind of one call.

    Raises:
        TypeError: ``body`` is not the operation's contract.
        ConfigurationError: ``send_application_id`` is on but no application id is set.
        OrderValidationError: the body cannot be written as JSON.
    """
    expected = BODY_TYPES[operation]
    if not isinstance(body, expected):
        msg = f"{operation.operation_name} takes a {expected.__name__}, got {type(body).__name__}"
        raise TypeError(msg)
    headers = {"Content-Type": "application/json"}
    if options.send_application_id:
        if settings.application_id is None:
            raise ConfigurationError(
                "is required when OrderClientOptions.send_application_id is on",
                setting="application_id",
            )
        headers[options.application_id_header] = str(int(settings.application_id))
    kind: RequestKind = "read" if operation in options.idempotent else "import"
    url = settings.connect_base + operation.value
    return url, headers, body.to_json(options.wire), kind


def call_result(operation: OrderOperation, response: httpx.Response) -> OrderCallResult:
    """The result of a 2xx answer."""
    return OrderCallResult(operation, response.status_code, response.text)


def _reason(body: str) -> str:
    try:
        data = json.loads(body) if body else None
    except ValueError:
        return body.strip()[:200]
    if isinstance(data, dict):
        for key in ("Message", "message", "Description", "ErrorMessage", "title", "error"):
            if isinstance(data.get(key), str):
                return str(data[key])
    if isinstance(data, str):
        return data
    return ""


def order_call_error(exc: Exception, operation: OrderOperation) -> Exception:
    """The typed order error for what the HTTP shell raised (``exc`` itself otherwise)."""
    name = operation.operation_name
    if isinstance(exc, AmbiguousImportError):
        # The shell's import wording ("a job may have been created") does not apply.
        cause = exc.__cause__ if exc.__cause__ is not None else exc
        detail = (
            f"Norce answered HTTP {exc.status}" if exc.status else "the connection failed"
        ) + " after the body was sent"
        err: Exception = AmbiguousOrderCallError(
            detail, operation=name, status=exc.status, method=exc.method, url=exc.url
        )
        err.__cause__ = cause
        return err
    if isinstance(exc, BadRequestError | ServerError):
        cls: type[_OrderStatusError] = (
            OrderRejectedError if isinstance(exc, BadRequestError) else OrderServerError
        )
        reason = _reason(exc.body_excerpt)
        typed = cls(
            f"{name} refused" + (f": {reason}" if reason else ""),
            operation=name,
            reason=reason,
            method=exc.method,
            url=exc.url,
            status=exc.status,
            body=exc.body_excerpt,
        )
        typed.__cause__ = exc
        return typed
    return exc
