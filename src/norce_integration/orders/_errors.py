"""Errors of the order contracts and the Connect Order client."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from .._exceptions import AmbiguousImportError, APIError, NorceError


__all__ = [
    "AmbiguousOrderCallError",
    "ErpRejectedOrderError",
    "ErpUnavailableError",
    "FieldError",
    "OrderError",
    "OrderValidationError",
]

_SHOWN = 5


class OrderError(NorceError):
    """Base of the order errors."""


@attrs.frozen
class FieldError:
    """One wrong field: its JSON path (``$.Items[2].Quantity``) and what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class OrderValidationError(OrderError, ValueError):
    """An order payload does not match its contract.

    Raised for malformed JSON, a wrong JSON type, a number out of range, a bad date or
    GUID, and so on: never a raw ``cattrs``, ``json`` or ``ValueError``.

    Attributes:
        model: Name of the contract that was being read (``OrderRequest``).
        errors: Every wrong field found, in document order.
        path: JSON path of the first wrong field (``$.Items[2].Quantity``); ``$`` when
            the document itself is wrong.
    """

    def __init__(self, model: str, errors: Iterable[FieldError]) -> None:
        self.model = model
        self.errors: tuple[FieldError, ...] = tuple(errors) or (FieldError("$", "invalid"),)
        self.path = self.errors[0].path
        shown = "; ".join(str(e) for e in self.errors[:_SHOWN])
        more = len(self.errors) - _SHOWN
        if more > 0:
            shown += f"; and {more} more"
        super().__init__(f"invalid {model}: {shown}")


class AmbiguousOrderCallError(AmbiguousImportError):
    """A non-idempotent Order-service call failed after its body was (possibly) sent.

    Norce may have applied it (an invoice created, a payment credited, a shipment sent
    to the POS). The SDK does not retry: check in Norce, then re-send deliberately.
    ``status`` is the HTTP status when there was one, else ``None``; ``operation`` names
    the call (``CreateInvoice``); ``__cause__`` is the underlying error.
    """

    def __init__(
        self, message: str, *, operation: str, status: int | None = None, **kw: Any
    ) -> None:
        self.status = status
        self.operation = operation
        # Skip AmbiguousImportError's "a job may have been created": orders have no job.
        APIError.__init__(self, f"{operation}: {message}; Norce may have applied it", **kw)


class ErpUnavailableError(OrderError):
    """Raised by an :class:`~norce_integration.orders.OrderTarget`: the ERP cannot take
    the order *now* (down, locked, overloaded). The receiver answers Norce as
    ``ReceiverSettings.when_unavailable`` says and retries in the background.

    Any other exception from a target is treated the same way, except that the next
    attempt first asks :meth:`OrderTarget.find_order` (the ERP may have the order).
    """


class ErpRejectedOrderError(OrderError):
    """Raised by an :class:`~norce_integration.orders.OrderTarget`: the ERP refuses the
    order for good (unknown customer, blocked article, ...). Norce is answered
    ``Failed`` with ``description``; the order is never sent to the ERP again unless it
    is replayed (``norce-integration orders replay``).
    """

    def __init__(self, description: str) -> None:
        self.description = description
        super().__init__(description)
