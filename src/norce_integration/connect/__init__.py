"""Norce Connect 4.0: the import client and its contracts (:mod:`.models`)."""

from __future__ import annotations

from . import models
from ._async_orders import AsyncOrderResource
from ._async_resource import AsyncConnectResource
from ._body import ImportBody, InvalidItemError, json_default, to_wire
from ._core import SubmittedImport, header_value
from ._orders_core import (
    OrderCallResult,
    OrderClientOptions,
    OrderOperation,
    OrderRejectedError,
    OrderServerError,
)
from ._rules import check_header
from ._sync_orders import OrderResource
from ._sync_resource import ConnectResource


__all__ = [
    "AsyncConnectResource",
    "AsyncOrderResource",
    "ConnectResource",
    "ImportBody",
    "InvalidItemError",
    "OrderCallResult",
    "OrderClientOptions",
    "OrderOperation",
    "OrderRejectedError",
    "OrderResource",
    "OrderServerError",
    "SubmittedImport",
    "check_header",
    "header_value",
    "json_default",
    "models",
    "to_wire",
]
