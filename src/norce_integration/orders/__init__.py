"""Orders: the Order Receiver contracts and the Connect Order service contracts.

:mod:`.models` holds the typed contracts (``OrderRequest``, ``OrderResponse``,
``Invoice``, ``DeliveryNote``, ``SendOrderStatusRequest``, ...). What Norce leaves
open is a setting or a tolerant behaviour, never a silent guess:

* date format on the wire: both ISO 8601 and ``/Date(ms)/`` are parsed; what is written
  is :attr:`WireOptions.date_format` (default ISO 8601);
* ``OrderStatus`` names or integers: :attr:`WireOptions.order_status` (default names);
* unknown fields and enum values are kept and written back;
* the docs' casing of a few fields is accepted, the contract casing is written.
"""

from __future__ import annotations

from . import models
from ._errors import AmbiguousOrderCallError, FieldError, OrderError, OrderValidationError
from .models import (
    OrderRequest,
    OrderResponse,
    OrderStatus,
    OrderType,
    WireOptions,
)


__all__ = [
    "AmbiguousOrderCallError",
    "FieldError",
    "OrderError",
    "OrderRequest",
    "OrderResponse",
    "OrderStatus",
    "OrderType",
    "OrderValidationError",
    "WireOptions",
    "models",
]
