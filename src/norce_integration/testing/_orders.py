"""The emulator's orders: pushes to the Order Receiver and the Connect Order service.

Two halves, as in Norce (reference ``norce-orders.md`` §1, §2):

* **Push.** :meth:`OrderService.place` queues an ``OrderRequest`` for the configured
  receiver (Admin → Client settings → ERP integration: endpoint type, URL, basic-auth
  user and password). A push is a ``POST`` of the JSON body with HTTP Basic auth. It
  counts as accepted when the receiver answers 2xx with ``StatusCode: "OK"``; a non-2xx,
  a timeout, a connection failure or (by default) ``StatusCode: "Failed"`` schedules a
  retry. After the last retry the order is *escalated* (Norce alerts its support) and
  never pushed again. Norce documents none of the numbers (OPEN §7.1): the schedule,
  the timeout and whether ``Failed`` is retried are :class:`OrderPushPolicy` settings;
  the defaults borrow the webhook schedule (16 retries over about 22 h) and its 5 s
  timeout. ``REST (Legacy)`` posts to ``{url}/CreateOrder`` (INFERRED from the WCF
  contract), ``REST`` to the URL as is. An accepted answer's ``ErpOrderNo`` becomes the
  order's ``OrderNo`` in Query.
* **Order service.** ``POST /commerce/connect/4.0/Order/{CreateInvoice|CreditPayment|
  CreateDeliveryNote|SendOrderStatus|CancelOrder|SendPosShipment}`` with Norce's
  documented answers: an empty 200, or 400 ``{"Message": ...}`` naming the field or the
  unknown order (the error body is UNCONFIRMED). Orders are matched by
  ``ClientOrderRef`` (the basket id, Query ``QuotationId``) and ``ErpOrderNo`` (Query
  ``OrderNo``). Status changes are checked by :func:`transition_error` (Norce publishes
  no transition table: the emulator's rule is a documented guess, switch it off with
  ``OrderServiceRules(check_transitions=False)``). The status events documented for
  webhooks fire as for the Admin simulation methods (``Confirmed`` →
  ``OrderConfirmedEvent`` once, ``Delivered``/``PartlyDelivered``, ``ReadyForPickup``,
  ``Cancelled``).

The order's state afterwards is in Query (``Orders/Orders``: ``StatusId``, ``OrderNo``)
and, in full, at the admin endpoint ``GET /_emulator/orders/{Id}`` or
:meth:`OrderService.state`.

Decisions (:func:`transition_error`, :func:`push_outcome`, the handlers' validation)
are pure; :func:`post_push_sync` / :func:`post_push_async` do the HTTP.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import attrs
import httpx
import orjson

from ._clock import iso_utc
from ._core import EmulatorRequest, EmulatorResponse, dumps, error, json_response
from ._events import RETRY_DELAYS
from ._spool import BodySpool, BodyTooLargeError, spool_body


if TYPE_CHECKING:
    from ._emulator import NorceEmulator


__all__ = [
    "ORDER_STATUSES",
    "OrderPushPolicy",
    "OrderReceiverConfig",
    "OrderService",
    "OrderServiceRules",
    "PendingPush",
    "PushAttempt",
    "PushResult",
    "post_push_async",
    "post_push_sync",
    "push_outcome",
    "transition_error",
]

ORDER_STATUSES: dict[str, int] = {
    "Created": 0,
    "Allocation": 1,
    "Confirmed": 2,
    "BackOrder": 3,
    "Delivered": 4,
    "Invoiced": 5,
    "Cancelled": 6,
    "CreditControl": 7,
    "PartlyDelivered": 8,
    "Acknowledged": 9,
    "ErpConfirmed": 10,
    "ReadyForPickup": 11,
    "PickedUp": 12,
    "NotPickedUp": 13,
    "OnHold": 14,
    "WaitingForCancel": 15,
    "WaitingForOnHoldRemoved": 16,
    "CancelError": 17,
    "AcknowledgementError": 18,
    "ReadyForReservation": 19,
    "Reserved": 20,
}
"""Contract ``OrderStatus`` names and integers (reference §2.4)."""
_STATUS_NAMES = {v: k for k, v in ORDER_STATUSES.items()}
_FOLDED = {k.casefold(): v for k, v in ORDER_STATUSES.items()}

# How far along an order is. A status may move to one of equal or higher rank, never
# lower; Cancelled is final; an order can be cancelled until it is delivered.
_RANK: dict[int, int] = {
    0: 0,  # Created
    1: 1, 3: 1, 7: 1, 14: 1, 16: 1, 18: 1, 19: 1, 20: 1,  # in ERP handling / on hold
    9: 2, 10: 2,  # Acknowledged, ErpConfirmed
    2: 3,  # Confirmed
    15: 3, 17: 3,  # WaitingForCancel, CancelError
    8: 4,  # PartlyDelivered
    11: 5,  # ReadyForPickup
    4: 6, 12: 6, 13: 6,  # Delivered, PickedUp, NotPickedUp
    5: 7,  # Invoiced
}  # fmt: skip
_CANCELLED = 6
_DELIVERED_RANK = 6


def status_name(status: int) -> str:
    """The contract name of an ``OrderStatus`` integer (``UNKNOWN_<n>`` otherwise)."""
    return _STATUS_NAMES.get(status, f"UNKNOWN_{status}")


def transition_error(current: int, new: int) -> str | None:
    """Why an order may not go from ``current`` to ``new`` (None: allowed).

    Norce publishes no transition table; this is the emulator's rule (UNCONFIRMED):
    a repeated status is allowed (idempotent); Cancelled is final; Cancelled is
    reachable until the order is delivered; otherwise the status never goes back.
    """
    if new == current:
        return None
    if current == _CANCELLED:
        return f"the order is Cancelled; it cannot become {status_name(new)}"
    if new == _CANCELLED:
        if _RANK.get(current, 0) >= _DELIVERED_RANK:
            return f"the order is {status_name(current)}; it can no longer be cancelled"
        return None
    if _RANK.get(new, 0) < _RANK.get(current, 0):
        return f"the order is {status_name(current)}; it cannot go back to {status_name(new)}"
    return None


# --------------------------------------------------------------------------- settings


@attrs.frozen(kw_only=True)
class OrderPushPolicy:
    """How the emulator pushes orders (every number is OPEN in Norce's docs, §7.1).

    Attributes:
        retry_delays: seconds between attempts; after the last retry fails the order is
            escalated (default: the webhook schedule, INFERRED).
        timeout: seconds before an attempt counts as a timeout (default 5, INFERRED from
            webhooks).
        retry_failed: whether a 2xx answer with ``StatusCode: "Failed"`` is retried
            (default True) or escalated at once.
    """

    retry_delays: tuple[float, ...] = attrs.field(default=RETRY_DELAYS, converter=tuple)
    timeout: float = 5.0
    retry_failed: bool = True


@attrs.frozen(kw_only=True)
class OrderServiceRules:
    """How strict the emulated Order service is where Norce's docs are silent.

    Attributes:
        check_transitions: refuse status changes :func:`transition_error` forbids (400).
        duplicate_documents: a second ``CreateInvoice`` with the same ``InvoiceNo`` or
            ``CreateDeliveryNote`` with the same ``NoteNo`` on an order: ``"reject"``
            (400, the default) or ``"ignore"`` (200, nothing changes). OPEN §7.10.
        integer_status: accept ``OrderStatus`` as an integer as well as a name (OPEN
            §7.7; default True).
    """

    check_transitions: bool = True
    duplicate_documents: Literal["reject", "ignore"] = "reject"
    integer_status: bool = True


@attrs.frozen(kw_only=True)
class OrderReceiverConfig:
    """The ERP-integration settings of the client (Admin → Client settings).

    Attributes:
        url: the ERP endpoint URL.
        username: HTTP Basic user (None: no ``Authorization`` header).
        password: HTTP Basic password (never shown in a repr).
        endpoint_type: ``"REST"`` (posts to ``url``) or ``"REST (Legacy)"`` (posts to
            ``url + "/CreateOrder"``, INFERRED).
    """

    url: str
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    endpoint_type: Literal["REST", "REST (Legacy)"] = "REST"

    @property
    def target(self) -> str:
        """Where pushes go."""
        if self.endpoint_type == "REST (Legacy)":
            return self.url.rstrip("/") + "/CreateOrder"
        return self.url

    def headers(self) -> dict[str, str]:
        """The request headers of a push."""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.username is not None:
            raw = f"{self.username}:{self.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")
        return headers

    def to_json(self) -> dict[str, Any]:
        """JSON for the admin endpoint (the password is not shown)."""
        return {
            "url": self.url,
            "username": self.username,
            "password_set": self.password is not None,
            "endpoint_type": self.endpoint_type,
            "target": self.target,
        }


# --------------------------------------------------------------------------- pushes

PushOutcome = Literal["accepted", "failed", "timeout", "error"]


@attrs.define(eq=False)
class PendingPush:
    """An order waiting for its next push attempt."""

    order_id: int
    client_order_ref: str
    body: bytes
    url: str
    headers: dict[str, str] = attrs.field(repr=False)
    attempt: int
    due: datetime
    timeout: float = 5.0


@attrs.frozen
class PushResult:
    """What one push came back with."""

    outcome: PushOutcome
    status_code: int | None = None
    response: Any = None
    error: str | None = None


@attrs.frozen
class PushAttempt:
    """One line of the push log (``emulator.orders.pushes``)."""

    order_id: int
    client_order_ref: str
    url: str
    attempt: int
    time: datetime
    outcome: PushOutcome
    status_code: int | None
    response: Any
    error: str | None
    next_attempt: datetime | None
    escalated: bool

    def to_json(self) -> dict[str, Any]:
        """JSON for the admin endpoint."""
        return {
            "order_id": self.order_id,
            "client_order_ref": self.client_order_ref,
            "url": self.url,
            "attempt": self.attempt,
            "time": iso_utc(self.time),
            "outcome": self.outcome,
            "status_code": self.status_code,
            "response": self.response,
            "error": self.error,
            "next_attempt": None if self.next_attempt is None else iso_utc(self.next_attempt),
            "escalated": self.escalated,
        }


def push_outcome(status: int, body: bytes) -> PushResult:
    """Classify a receiver's answer (pure): 2xx with ``StatusCode`` OK is accepted."""
    try:
        data = orjson.loads(body) if body.strip() else None
    except orjson.JSONDecodeError:
        data = None
    if not 200 <= status < 300:
        return PushResult("failed", status, data)
    code = data.get("StatusCode") if isinstance(data, dict) else None
    if isinstance(code, str) and code.strip().casefold() == "ok":
        return PushResult("accepted", status, data)
    return PushResult("failed", status, data, "StatusCode is not OK")


def post_push_sync(client: httpx.Client, pending: PendingPush) -> PushResult:
    """POST one push with a sync client; never raises for HTTP/transport failures."""
    try:
        response = client.post(
            pending.url, content=pending.body, headers=pending.headers, timeout=pending.timeout
        )
    except httpx.TimeoutException as exc:
        return PushResult("timeout", error=f"{type(exc).__name__}: {exc}")
    except httpx.HTTPError as exc:
        return PushResult("error", error=f"{type(exc).__name__}: {exc}")
    return push_outcome(response.status_code, response.content)


async def post_push_async(client: httpx.AsyncClient, pending: PendingPush) -> PushResult:
    """POST one push with an async client; never raises for HTTP/transport failures."""
    try:
        response = await client.post(
            pending.url, content=pending.body, headers=pending.headers, timeout=pending.timeout
        )
    except httpx.TimeoutException as exc:
        return PushResult("timeout", error=f"{type(exc).__name__}: {exc}")
    except httpx.HTTPError as exc:
        return PushResult("error", error=f"{type(exc).__name__}: {exc}")
    return push_outcome(response.status_code, response.content)


# --------------------------------------------------------------------------- validation


class _Bad(Exception):
    """A request body field is wrong: answered 400 with the message."""


def _loads(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body or b"null", parse_float=Decimal)
    except ValueError as exc:
        raise _Bad(f"The body is not valid JSON: {exc}.") from None
    if not isinstance(data, dict):
        raise _Bad("The body must be a JSON object.")
    return data


def _get(data: Mapping[str, Any], name: str) -> Any:
    """A member by name, case-insensitively (.NET binding)."""
    if name in data:
        return data[name]
    folded = name.casefold()
    for key, value in data.items():
        if isinstance(key, str) and key.casefold() == folded:
            return value
    return None


def _int(data: Mapping[str, Any], name: str, *, required: bool = False) -> int | None:
    value = _get(data, name)
    if value is None:
        if required:
            raise _Bad(f"{name} is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not -(2**31) <= value < 2**31:
        raise _Bad(f"{name} must be an int32 integer.")
    return value


def _str(data: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = _get(data, name)
    if value is None or value == "":
        if required:
            raise _Bad(f"{name} is required.")
        return None
    if not isinstance(value, str):
        raise _Bad(f"{name} must be a string.")
    return value


def _status(value: Any, rules: OrderServiceRules, name: str = "OrderStatus") -> int:
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit() and rules.integer_status:
            value = int(text)
        elif text.casefold() in _FOLDED:
            return _FOLDED[text.casefold()]
        else:
            raise _Bad(f"{name} {value!r} is not an OrderStatus.")
    if isinstance(value, int) and not isinstance(value, bool) and rules.integer_status:
        if value in _STATUS_NAMES:
            return value
        raise _Bad(f"{name} {value} is not an OrderStatus.")
    raise _Bad(f"{name} must be an OrderStatus name.")


def _date(data: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = _str(data, name, required=required)
    if value is None:
        return None
    text = value.strip()
    if text.startswith("/Date(") or (len(text) >= 10 and text[4] == "-" and text[7] == "-"):
        return text
    raise _Bad(f"{name} must be a date.")


def _list(data: Mapping[str, Any], name: str) -> list[Any]:
    value = _get(data, name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Bad(f"{name} must be an array.")
    return value


# --------------------------------------------------------------------------- the service

_OPERATIONS = (
    "createinvoice",
    "creditpayment",
    "createdeliverynote",
    "sendorderstatus",
    "cancelorder",
    "sendposshipment",
)
_BODY_LIMIT = 16 * 1024 * 1024


class OrderService:
    """The emulator's orders (one per :class:`NorceEmulator`; ``emulator.orders``).

    Not thread-safe by itself: it takes the emulator's lock.

    Attributes:
        receiver: the configured Order Receiver (None: "No Integration", nothing pushed).
        policy: the push policy.
        rules: the Order service's rules.
        pushes: every push attempt so far, in order.
        escalated: orders whose last push failed (never pushed again).
        shipments: POS shipments received (``SendPosShipment`` bodies).
    """

    def __init__(self, emulator: NorceEmulator, lock: threading.RLock) -> None:
        self._emu = emulator
        self._lock = lock
        self.receiver: OrderReceiverConfig | None = None
        self.policy = OrderPushPolicy()
        self.rules = OrderServiceRules()
        self.pushes: list[PushAttempt] = []
        self.escalated: list[PendingPush] = []
        self.shipments: list[dict[str, Any]] = []
        self._queue: list[PendingPush] = []
        self._docs: dict[int, dict[str, Any]] = {}
        self._seq = itertools.count(1)

    # -- configuration ---------------------------------------------------------------

    def set_receiver(
        self,
        url: str | None,
        *,
        username: str | None = None,
        password: str | None = None,
        endpoint_type: Literal["REST", "REST (Legacy)"] = "REST",
        policy: OrderPushPolicy | None = None,
        rules: OrderServiceRules | None = None,
    ) -> OrderReceiverConfig | None:
        """Configure the ERP integration (``url=None``: "No Integration").

        Raises:
            ValueError: not an http(s) URL, or an unknown endpoint type.
        """
        if endpoint_type not in ("REST", "REST (Legacy)"):
            raise ValueError(
                f"endpoint_type must be 'REST' or 'REST (Legacy)', got {endpoint_type!r}"
            )
        with self._lock:
            if policy is not None:
                self.policy = policy
            if rules is not None:
                self.rules = rules
            if url is None:
                self.receiver = None
                return None
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"the order receiver URL must be http(s), got {url!r}")
            self.receiver = OrderReceiverConfig(
                url=url, username=username, password=password, endpoint_type=endpoint_type
            )
            return self.receiver

    # -- placing and pushing ----------------------------------------------------------

    def place(
        self,
        order: dict[str, Any],
        *,
        payment_code: int = 1,
        payment_method_code: str = "CARD",
        delivery_method_code: str = "STANDARD",
        application_key: uuid.UUID | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Queue the push of an order created by :meth:`NorceEmulator.create_order`.

        Returns:
            The ``OrderRequest`` JSON that is pushed.
        """
        with self._lock:
            request = self.order_request(
                order["Id"],
                payment_code=payment_code,
                payment_method_code=payment_method_code,
                delivery_method_code=delivery_method_code,
                application_key=application_key,
            )
            if extra:
                request.update(extra)
            self._docs.setdefault(order["Id"], self._empty_docs())
            self._docs[order["Id"]]["order_request"] = request
            receiver = self.receiver
            if receiver is not None:
                self._queue.append(
                    PendingPush(
                        order_id=order["Id"],
                        client_order_ref=request["ClientOrderRef"],
                        body=dumps(request),
                        url=receiver.target,
                        headers=receiver.headers(),
                        attempt=1,
                        due=self._emu.clock.now(),
                        timeout=self.policy.timeout,
                    )
                )
                self._docs[order["Id"]]["push"] = "pending"
            else:
                self._docs[order["Id"]]["push"] = "no integration"
            return request

    def order_request(
        self,
        order_id: int,
        *,
        payment_code: int = 1,
        payment_method_code: str = "CARD",
        delivery_method_code: str = "STANDARD",
        application_key: uuid.UUID | None = None,
    ) -> dict[str, Any]:
        """The ``OrderRequest`` JSON of an emulator order (contract casing, §1.4)."""
        data = self._emu.data
        row = data.orders.get(order_id)
        if row is None:
            raise KeyError(f"order {order_id} does not exist")
        meta = data.order_meta[order_id]
        currency = next(
            (c["Code"] for c in data.currencies.rows.values() if c["Id"] == row["CurrencyId"]),
            "SEK",
        )
        items: list[dict[str, Any]] = []
        total = Decimal(0)
        for line_no, line in enumerate(data.items_by_order.get(order_id, []), start=1):
            price = Decimal(line["PriceSale"])
            vat_rate = Decimal(line["VatRate"])
            unit_vat = (price * vat_rate / 100).quantize(Decimal("0.01"))
            qty = Decimal(line["QtyOrdered"])
            total += (price + unit_vat) * qty
            items.append(
                {
                    "LineNo": line_no,
                    "Type": "ErpStandard",
                    "TypeGroup": "Physical",
                    "PartNo": line["PartNo"],
                    "Description": line["ProductName"],
                    "Quantity": int(qty),
                    "UnitPrice": price,
                    "UnitPriceOriginal": price,
                    "Discount": Decimal(0),
                    "UnitVat": unit_vat,
                    "VatRate": vat_rate,
                    "Quantity2": qty,
                }
            )
        person = {
            "CustomerCode": None,
            "FirstName": meta.get("FirstName"),
            "LastName": meta.get("LastName"),
            "CellPhone": meta.get("CellPhone"),
            "Email": meta.get("Email"),
        }
        customer = {"Company": None, "Person": person}
        key = application_key or uuid.UUID(int=row["ApplicationId"])
        return {
            "SellTo": customer,
            "BillTo": customer,
            "ShipTo": customer,
            "DoHold": False,
            "ClientOrderRef": meta["ClientOrderRef"],
            "ErpOrderNo": None,
            "SubmitDate": row["OrderDate"],
            "CurrencyCode": currency,
            "Payments": [
                {
                    "PaymentCode": payment_code,
                    "PaymentMethodCode": payment_method_code,
                    "PaymentRef": f"PSP-{row['QuotationId']}",
                    "Amount": total,
                    "CurrencyCode": currency,
                }
            ],
            "ShippingAdvice": {
                "DeliveryMethodCode": delivery_method_code,
                "DoSMSNotify": False,
                "IsFeeChargedOnce": False,
                "IsComplete": False,
            },
            "Items": items,
            "Header": {"ApplicationKey": str(key)},
            "OrderType": 1,
            "Source": row["Source"],
        }

    def next_due(self) -> datetime | None:
        """When the next push attempt is due."""
        return min((p.due for p in self._queue), default=None)

    def take_due(self, now: datetime) -> list[PendingPush]:
        """Remove and return the pushes due by ``now``, earliest first."""
        due = sorted((p for p in self._queue if p.due <= now), key=lambda p: p.due)
        self._queue = [p for p in self._queue if p.due > now]
        return due

    @property
    def pending(self) -> list[PendingPush]:
        """Pushes waiting for an attempt, earliest first."""
        return sorted(self._queue, key=lambda p: p.due)

    def record(self, pending: PendingPush, result: PushResult, now: datetime) -> None:
        """Log an attempt; schedule the retry, escalate, or take the answer."""
        next_attempt: datetime | None = None
        escalated = False
        docs = self._docs.setdefault(pending.order_id, self._empty_docs())
        if result.outcome == "accepted":
            docs["push"] = "accepted"
            docs["order_response"] = result.response
            erp = result.response.get("ErpOrderNo") if isinstance(result.response, dict) else None
            row = self._emu.data.orders.get(pending.order_id)
            if isinstance(erp, str) and erp and row is not None:
                row["OrderNo"] = erp
                row["Updated"] = now
        else:
            retry_index = pending.attempt - 1
            answered_failed = result.status_code is not None and 200 <= result.status_code < 300
            retry = not answered_failed or self.policy.retry_failed
            if retry and retry_index < len(self.policy.retry_delays):
                next_attempt = now + timedelta(seconds=self.policy.retry_delays[retry_index])
                self._queue.append(
                    attrs.evolve(pending, attempt=pending.attempt + 1, due=next_attempt)
                )
                docs["push"] = "retrying"
            else:
                escalated = True
                docs["push"] = "escalated"
                self.escalated.append(pending)
        self.pushes.append(
            PushAttempt(
                order_id=pending.order_id,
                client_order_ref=pending.client_order_ref,
                url=pending.url,
                attempt=pending.attempt,
                time=now,
                outcome=result.outcome,
                status_code=result.status_code,
                response=result.response,
                error=result.error,
                next_attempt=next_attempt,
                escalated=escalated,
            )
        )

    # -- state -----------------------------------------------------------------------

    @staticmethod
    def _empty_docs() -> dict[str, Any]:
        return {
            "push": None,
            "order_request": None,
            "order_response": None,
            "status_history": [],
            "invoices": [],
            "credits": [],
            "delivery_notes": [],
            "cancellations": [],
            "infos": {},
        }

    def state(self, order_id: int) -> dict[str, Any]:
        """Everything the emulator knows about an order (the admin endpoint's answer).

        Raises:
            KeyError: unknown order.
        """
        with self._lock:
            row = self._emu.data.orders.get(order_id)
            if row is None:
                raise KeyError(f"order {order_id} does not exist")
            meta = self._emu.data.order_meta[order_id]
            docs = self._docs.get(order_id) or self._empty_docs()
            return {
                "Id": order_id,
                "ClientOrderRef": meta["ClientOrderRef"],
                "OrderNo": row["OrderNo"],
                "StatusId": row["StatusId"],
                "Status": status_name(row["StatusId"]),
                **{k: v for k, v in docs.items() if k != "order_request"},
                "pushes": [p.to_json() for p in self.pushes if p.order_id == order_id],
            }

    def find(self, client_order_ref: int | str | None, erp_order_no: str | None) -> int | None:
        """The id of the order with this basket id and/or ERP order number."""
        data = self._emu.data
        ref = None if client_order_ref in (None, 0, "") else str(client_order_ref)
        for order_id, meta in data.order_meta.items():
            row = data.orders.get(order_id)
            if row is None:
                continue
            if ref is not None and meta["ClientOrderRef"] != ref:
                continue
            if ref is None and (erp_order_no is None or row["OrderNo"] != erp_order_no):
                continue
            return order_id
        return None

    # -- the Connect Order service -----------------------------------------------------

    def handles(self, route: str) -> bool:
        """Whether ``route`` (after ``/commerce/connect/4.0/``) is an Order-service path."""
        low = route.lower()
        return low.startswith("order/")

    def handle_connect(self, request: EmulatorRequest, method: str, route: str) -> EmulatorResponse:
        """Answer ``Order/{Operation}`` (the caller checked the bearer token)."""
        operation = route.split("/", 1)[1].strip("/").lower()
        if operation not in _OPERATIONS:
            return error(404, f"No Connect method at {route!r}.")
        if method != "POST":
            return error(405, f"{route} only accepts POST.", {"Allow": "POST"})
        content_type = request.headers.get("content-type", "").lower()
        if content_type and "json" not in content_type:
            return error(
                415, "The emulator accepts JSON bodies only (Content-Type: application/json)."
            )
        try:
            spool = spool_body(request.body, max_bytes=_BODY_LIMIT)
            try:
                raw = spool.read_all(_BODY_LIMIT)
            finally:
                if not isinstance(request.body, BodySpool):
                    spool.close()
        except BodyTooLargeError as exc:
            return error(413, f"{exc}.")
        handlers: dict[str, Callable[[dict[str, Any]], None]] = {
            "createinvoice": self._create_invoice,
            "creditpayment": self._credit_payment,
            "createdeliverynote": self._create_delivery_note,
            "sendorderstatus": self._send_order_status,
            "cancelorder": self._cancel_order,
            "sendposshipment": self._send_pos_shipment,
        }
        try:
            body = _loads(raw)
            with self._lock:
                handlers[operation](body)
        except _Bad as exc:
            return error(400, str(exc))
        return EmulatorResponse(200)

    def _order(self, body: Mapping[str, Any], *, erp_required: bool = False) -> int:
        ref = _int(body, "ClientOrderRef")
        erp = _str(body, "ErpOrderNo", required=erp_required)
        if ref is None and erp is None:
            raise _Bad("ClientOrderRef or ErpOrderNo is required.")
        order_id = self.find(ref, erp)
        if order_id is None:
            raise _Bad(f"Order not found (ClientOrderRef {ref}, ErpOrderNo {erp!r}).")
        return order_id

    def _check(self, current: int, status: int) -> None:
        if self.rules.check_transitions and (reason := transition_error(current, status)):
            raise _Bad(f"Invalid status change: {reason}.")

    def _set_status(self, order_id: int, status: int, source: str) -> None:
        row = self._emu.data.orders.get(order_id)
        assert row is not None
        current = row["StatusId"]
        self._check(current, status)
        emu = self._emu
        if status == current:
            return  # repeated (an idempotent retry): no second event, no history line
        docs = self._docs.setdefault(order_id, self._empty_docs())
        docs["status_history"].append(
            {"from": status_name(current), "to": status_name(status), "by": source,
             "time": iso_utc(self._emu.clock.now())}
        )  # fmt: skip
        if status == 2:
            emu.confirm_order(order_id)
        elif status in (4, 8):
            emu.ship_order(order_id, partial=status == 8)
        elif status == 11:
            emu.ready_for_pickup(order_id)
        elif status == _CANCELLED:
            emu.cancel_order(order_id)
        else:
            now = emu.clock.now()
            row["StatusId"] = status
            row["Updated"] = now
            for line in emu.data.items_by_order.get(order_id, []):
                line["StatusId"] = status

    def _send_order_status(self, body: dict[str, Any]) -> None:
        raw_status = _get(body, "OrderStatus")
        if raw_status is None:
            raise _Bad("OrderStatus is required.")
        status = _status(raw_status, self.rules)
        infos = _list(body, "Infos")
        for index, info in enumerate(infos):
            if not isinstance(info, dict) or _str(info, "Code") is None:
                raise _Bad(f"Infos[{index}].Code is required.")
        for index, item in enumerate(_list(body, "ItemStatuses")):
            if not isinstance(item, dict):
                raise _Bad(f"ItemStatuses[{index}] must be an object.")
            if _get(item, "ItemStatus") is not None:
                _status(_get(item, "ItemStatus"), self.rules, f"ItemStatuses[{index}].ItemStatus")
        order_id = self._order(body)
        erp = _str(body, "ErpOrderNo")
        row = self._emu.data.orders.get(order_id)
        assert row is not None
        self._check(row["StatusId"], status)
        if erp is not None and row["OrderNo"] != erp:
            # "An acknowledgement ... adds the ERP order number for traceability."
            row["OrderNo"] = erp
        self._set_status(order_id, status, "SendOrderStatus")
        docs = self._docs.setdefault(order_id, self._empty_docs())
        for info in infos:
            docs["infos"][_str(info, "Code")] = _get(info, "Value")

    def _create_invoice(self, body: dict[str, Any]) -> None:
        invoice_no = _str(body, "InvoiceNo") or _str(body, "InoviceNo")
        _date(body, "InvoiceDate")
        _str(body, "CurrencyCode")
        order_id = self._order(body)
        if invoice_no is None and _int(body, "ClientOrderRef") is None:
            raise _Bad("Either InvoiceNo or ClientOrderRef must be provided.")
        docs = self._docs.setdefault(order_id, self._empty_docs())
        if invoice_no is not None and any(i["InvoiceNo"] == invoice_no for i in docs["invoices"]):
            if self.rules.duplicate_documents == "reject":
                raise _Bad(f"InvoiceNo {invoice_no!r} already exists on this order.")
            return
        last = _get(body, "IsLastInvoiceForOrder")
        if last is not None and not isinstance(last, bool):
            raise _Bad("IsLastInvoiceForOrder must be a boolean.")
        if last is None or last:  # "Null is considered as true."
            self._set_status(order_id, 5, "CreateInvoice")
        docs["invoices"].append({"InvoiceNo": invoice_no, "body": body})

    def _credit_payment(self, body: dict[str, Any]) -> None:
        credited = _str(body, "CreditedInvoiceNo", required=True)
        order_id = self._order(body)
        docs = self._docs.setdefault(order_id, self._empty_docs())
        if not any(i["InvoiceNo"] == credited for i in docs["invoices"]):
            raise _Bad(f"CreditedInvoiceNo {credited!r} is not an invoice of this order.")
        docs["credits"].append({"CreditedInvoiceNo": credited, "body": body})

    def _create_delivery_note(self, body: dict[str, Any]) -> None:
        order_no = _str(body, "OrderNo", required=True)
        note_no = _str(body, "NoteNo", required=True)
        _date(body, "DeliveryDate", required=True)
        raw_status = _get(body, "StatusId")
        status = 4 if raw_status is None else _status(raw_status, self.rules, "StatusId")
        for name in ("DeliveryNoteItems", "DeliveryNotePackages"):
            for index, entry in enumerate(_list(body, name)):
                if not isinstance(entry, dict):
                    raise _Bad(f"{name}[{index}] must be an object.")
        order_id = self.find(None, order_no)
        if order_id is None:
            raise _Bad(f"Order not found (OrderNo {order_no!r}).")
        docs = self._docs.setdefault(order_id, self._empty_docs())
        if any(n["NoteNo"] == note_no for n in docs["delivery_notes"]):
            if self.rules.duplicate_documents == "reject":
                raise _Bad(f"NoteNo {note_no!r} already exists on this order.")
            return
        self._set_status(order_id, status, "CreateDeliveryNote")
        docs["delivery_notes"].append({"NoteNo": note_no, "body": body})

    def _cancel_order(self, body: dict[str, Any]) -> None:
        _int(body, "ClientOrderRef", required=True)
        _str(body, "ErpOrderNo", required=True)
        payments = _list(body, "Payments")
        for index, payment in enumerate(payments):
            if not isinstance(payment, dict) or _str(payment, "PaymentRef") is None:
                raise _Bad(f"Payments[{index}].PaymentRef is required.")
        order_id = self._order(body)
        self._set_status(order_id, _CANCELLED, "CancelOrder")
        docs = self._docs.setdefault(order_id, self._empty_docs())
        docs["cancellations"].append({"payments": [_get(p, "PaymentRef") for p in payments]})

    def _send_pos_shipment(self, body: dict[str, Any]) -> None:
        key = _str(body, "ApplicationKey", required=True)
        try:
            uuid.UUID(str(key))
        except ValueError:
            raise _Bad("ApplicationKey must be a GUID.") from None
        items = _list(body, "Items")
        if _str(body, "DeliveryNoteNo") is None and not (_str(body, "InvoiceNo") and items):
            raise _Bad("Either DeliveryNoteNo or InvoiceNo and Items must be provided.")
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise _Bad(f"Items[{index}] must be an object.")
            _int(item, "LineNo", required=True)
            _str(item, "PartNo", required=True)
            _int(item, "Quantity", required=True)
        self.shipments.append(body)

    # -- admin -----------------------------------------------------------------------

    @staticmethod
    def is_admin_route(method: str, parts: Sequence[str]) -> bool:
        """Whether ``/_emulator/{parts}`` is one of :meth:`handle_admin`'s endpoints."""
        head = parts[0].lower() if parts else ""
        if head in ("order-receiver", "order-pushes"):
            return True
        if head != "orders" or len(parts) != 2:
            return False
        return (method == "POST" and parts[1] == "place") or (
            method == "GET" and parts[1].isdigit()
        )

    def handle_admin(
        self, method: str, parts: Sequence[str], body: Mapping[str, Any]
    ) -> EmulatorResponse | None:
        """The order admin endpoints; None when ``parts`` is not one of them.

        * ``GET /_emulator/order-receiver``; ``PUT`` it ``{"url", "username",
          "password", "endpoint_type"}`` (``url: null`` = No Integration).
        * ``POST /_emulator/orders/place`` ``{"items": [{"PartNo", "Quantity"}], ...}``.
        * ``GET /_emulator/orders/{Id}`` — :meth:`state`.
        * ``GET /_emulator/order-pushes`` (``/pending``, ``/escalated``).
        """
        head = parts[0].lower() if parts else ""
        if head == "order-receiver":
            if method == "GET":
                return json_response(
                    200, None if self.receiver is None else self.receiver.to_json()
                )
            if method == "PUT":
                config = self.set_receiver(
                    body.get("url"),
                    username=body.get("username"),
                    password=body.get("password"),
                    endpoint_type=body.get("endpoint_type", "REST"),
                )
                return json_response(200, None if config is None else config.to_json())
            return None
        if head == "order-pushes" and method == "GET":
            kind = parts[1] if len(parts) > 1 else ""
            if kind == "pending":
                return json_response(200, [_pending(p) for p in self.pending])
            if kind == "escalated":
                return json_response(200, [_pending(p) for p in self.escalated])
            return json_response(200, [p.to_json() for p in self.pushes])
        if head == "orders" and len(parts) == 2 and parts[1] == "place" and method == "POST":
            items = [(str(i["PartNo"]), int(i.get("Quantity", 1))) for i in body.get("items", [])]
            order = self._emu.place_order(
                items, customer_id=body.get("customer_id"), source=body.get("source", "WEB")
            )
            return json_response(200, order)
        if head == "orders" and len(parts) == 2 and method == "GET" and parts[1].isdigit():
            return json_response(200, self.state(int(parts[1])))
        return None


def _pending(pending: PendingPush) -> dict[str, Any]:
    return {
        "order_id": pending.order_id,
        "client_order_ref": pending.client_order_ref,
        "url": pending.url,
        "attempt": pending.attempt,
        "due": iso_utc(pending.due),
    }
