"""Orders: Norce's Order Receiver (Norce → ERP) and the order contracts.

:mod:`.models` holds the typed contracts (``OrderRequest``, ``OrderResponse``,
``Invoice``, ``DeliveryNote``, ``SendOrderStatusRequest``, ...); the Connect Order
client that sends the ERP's answers is ``norce.connect.orders``
(:mod:`norce_integration.connect`). The receiver is :class:`OrderReceiverApp` (ASGI)
around :class:`AsyncOrderReceiver` / :class:`OrderReceiver`, which journals each order
in the store before answering and hands it to your :class:`OrderTarget`.

What Norce leaves open is a setting or a tolerant behaviour, never a silent guess:

* date format on the wire: both ISO 8601 and ``/Date(ms)/`` are parsed; what is written
  is :attr:`WireOptions.date_format` (default ISO 8601);
* ``OrderStatus`` names or integers: :attr:`WireOptions.order_status` (default names);
* unknown fields and enum values are kept and written back;
* the docs' casing of a few fields is accepted, the contract casing is written;
* the receiver's answer when the ERP is down, its timeout budget, the HTTP status of a
  ``Failed`` answer and the de-duplication scope: :class:`ReceiverSettings`.
"""

from __future__ import annotations

from . import models
from ._asgi import OrderReceiverApp
from ._async_receiver import AsyncOrderReceiver
from ._errors import (
    AmbiguousOrderCallError,
    ErpRejectedOrderError,
    ErpUnavailableError,
    FieldError,
    OrderError,
    OrderValidationError,
)
from ._receiver_core import OrderRecord, ReceiverAnswer, ReceiverSettings
from ._sync_receiver import OrderReceiver
from ._target import AsyncOrderTarget, OrderTarget
from .models import (
    OrderRequest,
    OrderResponse,
    OrderStatus,
    OrderType,
    WireOptions,
)


__all__ = [
    "AmbiguousOrderCallError",
    "AsyncOrderReceiver",
    "AsyncOrderTarget",
    "ErpRejectedOrderError",
    "ErpUnavailableError",
    "FieldError",
    "OrderError",
    "OrderReceiver",
    "OrderReceiverApp",
    "OrderRecord",
    "OrderRequest",
    "OrderResponse",
    "OrderStatus",
    "OrderTarget",
    "OrderType",
    "OrderValidationError",
    "ReceiverAnswer",
    "ReceiverSettings",
    "WireOptions",
    "models",
]
