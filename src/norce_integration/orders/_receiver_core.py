"""The pure half of the Order Receiver: settings, auth, the order journal's state machine.

No I/O: these take values (a header, a record, the time) and return values. The shell
(:mod:`._async_receiver`, its generated twin, and the ASGI app in :mod:`._asgi`) reads
and writes the store and calls the :class:`~norce_integration.orders.OrderTarget`.

A pushed order's life in the journal (one kv record per de-duplication key)::

    received ──claim──▶ processing ──ERP took it──▶ created      (final)
       ▲                   │  ├──────ERP refused──▶ rejected     (final)
       └──retry later──────┘  └──limit reached────▶ dead         (replayable)

``processing`` carries a lease. A record found ``processing`` after its lease ran out
belongs to a receiver that died mid-call: whether the ERP took the order is unknown,
so the next attempt asks the target (:meth:`OrderTarget.find_order`) before creating.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any, Literal

import attrs
import orjson

from .._exceptions import ConfigurationError
from ._errors import FieldError
from .models import OrderRequest, OrderResponse


__all__ = [
    "FINAL_STATES",
    "OrderRecord",
    "ReceiverAnswer",
    "ReceiverSettings",
    "RecordState",
    "after_failure",
    "after_rejection",
    "after_success",
    "answer_for",
    "basic_auth_ok",
    "claim",
    "dedup_key",
    "depth_error",
    "check_order",
    "invalid_answer",
    "must_check",
    "new_record",
    "replayed",
    "unauthorized_answer",
    "with_answer",
]

RecordState = Literal["received", "processing", "created", "rejected", "dead"]
FINAL_STATES: frozenset[str] = frozenset({"created", "rejected"})
"""States after which the ERP is never called again for the order."""

DEFAULT_RETRY_DELAYS: tuple[float, ...] = (
    10, 30, 60, 120, 300, 600, 900, 1800, 3600, 3600, 3600, 3600,
)  # fmt: skip
"""Background retry schedule: 12 retries over about 4 h, then the order is dead."""


def _delays(value: Any) -> tuple[float, ...]:
    delays = tuple(float(v) for v in value)
    if any(d < 0 for d in delays):
        msg = "retry delays must not be negative"
        raise ValueError(msg)
    return delays


@attrs.frozen(kw_only=True)
class ReceiverSettings:
    """How the Order Receiver behaves; what Norce leaves open is a setting.

    Attributes:
        username: HTTP Basic user Norce is configured with (Admin → Client settings →
            ERP integration).
        password: its password (never in a repr, log line or error).
        allow_anonymous: accept calls without credentials (local development only).
        when_unavailable: what Norce is told when the ERP cannot take the order now:
            ``"accept"`` (the default, Norce's documented best practice "store the
            message in a queue and return an 'OK' to Norce immediately") answers ``OK``
            without an ERP order number and retries in the background; ``"failed"``
            answers ``Failed`` with a description so Norce retries the push.
        answer_within: seconds the receiver waits for the ERP before answering
            (Norce's own timeout is OPEN; its webhooks allow 5 s). The ERP call goes on
            in the background.
        failed_http_status: the HTTP status sent with a ``Failed`` answer. Whether Norce
            looks at the status or the body is OPEN; 503 with a ``Failed`` body makes
            either reading retry. Use 200 for a body-only contract.
        retry_delays: seconds between background attempts; after the last one fails
            the order is dead (listed and replayable from the CLI).
        lease_seconds: how long one attempt may hold an order before another receiver
            treats it as crashed (must exceed the ERP's slowest answer).
        dedup_scope: ``"application"`` (the default) de-duplicates on
            ``Header.ApplicationKey`` + ``ClientOrderRef`` (several applications may
            share one ERP); ``"client_order_ref"`` on ``ClientOrderRef`` alone.
        max_body_bytes: larger bodies get 413.
        namespace: the store's kv namespace of the journal.
    """

    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    allow_anonymous: bool = False
    when_unavailable: Literal["accept", "failed"] = "accept"
    answer_within: float = 2.0
    failed_http_status: int = 503
    retry_delays: tuple[float, ...] = attrs.field(default=DEFAULT_RETRY_DELAYS, converter=_delays)
    lease_seconds: float = 300.0
    dedup_scope: Literal["application", "client_order_ref"] = "application"
    max_body_bytes: int = 5 * 1024 * 1024
    namespace: str = "orders.receiver"

    def __attrs_post_init__(self) -> None:
        if not self.allow_anonymous and (not self.username or self.password is None):
            raise ConfigurationError(
                "the Order Receiver needs the basic-auth username and password Norce is "
                "configured with (or allow_anonymous=True for local development)",
                setting="ReceiverSettings.username/password",
            )
        if self.when_unavailable not in ("accept", "failed"):
            raise ConfigurationError(
                "must be 'accept' or 'failed'", setting="ReceiverSettings.when_unavailable"
            )
        if self.dedup_scope not in ("application", "client_order_ref"):
            raise ConfigurationError(
                "must be 'application' or 'client_order_ref'",
                setting="ReceiverSettings.dedup_scope",
            )

    @property
    def pending_namespace(self) -> str:
        """The kv namespace of the index of orders not final yet."""
        return self.namespace + ".pending"

    @property
    def max_attempts(self) -> int:
        """ERP attempts before an order is dead (the first plus one per retry delay)."""
        return len(self.retry_delays) + 1


def basic_auth_ok(header: str | None, settings: ReceiverSettings) -> bool:
    """Whether an ``Authorization`` header carries the configured basic credentials.

    The credentials are compared in constant time (one ``hmac.compare_digest`` over the
    whole ``user:password``), so timing reveals neither part.
    """
    if settings.allow_anonymous:
        return True
    expected = f"{settings.username}:{settings.password}".encode()
    given = b""
    if header is not None:
        scheme, _, value = header.strip().partition(" ")
        if scheme.lower() == "basic":
            try:
                given = base64.b64decode(value.strip(), validate=True)
            except (binascii.Error, ValueError):
                given = b""
    return hmac.compare_digest(given, expected) and bool(given)


# --------------------------------------------------------------------------- records


@attrs.frozen(kw_only=True)
class OrderRecord:
    """One order in the journal (stored as one JSON value under its key).

    Attributes:
        key: the de-duplication key (``ClientOrderRef``, with the application key).
        client_order_ref: Norce's basket id.
        body: the ``OrderRequest`` JSON as stored (unknown fields kept).
        digest: sha256 of ``body``.
        state: ``received``, ``processing``, ``created``, ``rejected`` or ``dead``.
        received_at: when the first push arrived (epoch seconds).
        updated_at: last change.
        pushes: pushes received for this key (Norce's retries included).
        attempts: ERP attempts so far.
        next_attempt_at: when a ``received`` order is due for its next attempt.
        lease_until: a ``processing`` record's lease.
        lease_owner: which receiver holds it.
        uncertain: the last attempt may have reached the ERP (a crash or an unexpected
            error): the next one asks :meth:`OrderTarget.find_order` first.
        erp_order_no: the ERP's order number once ``created`` (may stay None).
        description: why the ERP refused the order, or the last error.
        answer: the ``OrderResponse`` JSON given to Norce once it was told ``OK``;
            every later push of the order gets exactly this answer.
    """

    key: str
    client_order_ref: str
    body: str = attrs.field(repr=False)
    digest: str
    state: RecordState = "received"
    received_at: float
    updated_at: float
    pushes: int = 1
    attempts: int = 0
    next_attempt_at: float | None = None
    lease_until: float | None = None
    lease_owner: str | None = None
    uncertain: bool = False
    erp_order_no: str | None = None
    description: str | None = None
    answer: str | None = attrs.field(default=None, repr=False)

    def to_text(self) -> str:
        """The stored JSON text."""
        return orjson.dumps(attrs.asdict(self)).decode()

    @classmethod
    def from_text(cls, text: str) -> OrderRecord:
        """Read a stored record.

        Raises:
            ValueError: not a record.
        """
        try:
            data = orjson.loads(text)
            return cls(**data)
        except (orjson.JSONDecodeError, TypeError) as exc:
            msg = f"not an order journal record: {exc}"
            raise ValueError(msg) from None

    @property
    def final(self) -> bool:
        """Whether the ERP will never be called again for this order."""
        return self.state in FINAL_STATES

    def order(self) -> OrderRequest:
        """The stored order."""
        return OrderRequest.from_json(self.body)


def dedup_key(order: OrderRequest, settings: ReceiverSettings) -> str:
    """The journal key of an order (callers checked ``client_order_ref``)."""
    ref = str(order.client_order_ref)
    header = order.header
    app = getattr(header, "application_key", None) if header else None
    if settings.dedup_scope == "application" and app:
        return f"{app}/{ref}"
    return ref


def new_record(key: str, order: OrderRequest, now: float) -> OrderRecord:
    """The record of a first push (due for its first attempt now)."""
    body = order.to_json().decode()
    return OrderRecord(
        key=key,
        client_order_ref=str(order.client_order_ref),
        body=body,
        digest=hashlib.sha256(body.encode()).hexdigest(),
        received_at=now,
        updated_at=now,
        next_attempt_at=now,
    )


def claim(
    record: OrderRecord, now: float, owner: str, settings: ReceiverSettings, *, force: bool = False
) -> OrderRecord | None:
    """The record leased to ``owner`` for one ERP attempt, or None if it is not claimable.

    Claimable: ``received`` and due (or ``force``: a push is waiting for the answer), or
    ``processing`` with an expired lease (its holder died; the outcome is uncertain), or
    ``dead`` when ``force``d: Norce pushing a dead order again gets one more attempt
    (background retries never touch it; it stays dead if that attempt fails too).
    The claimed record is marked uncertain: if this attempt dies mid-call, the next one
    asks the ERP first. Whether *this* attempt must ask first is :func:`must_check`.
    """
    if record.state == "received":
        due = record.next_attempt_at is None or record.next_attempt_at <= now
        if not (due or force):
            return None
    elif record.state == "processing":
        if record.lease_until is not None and record.lease_until > now:
            return None
    elif record.state != "dead" or not force:
        return None
    return attrs.evolve(
        record,
        state="processing",
        lease_until=now + settings.lease_seconds,
        lease_owner=owner,
        uncertain=True,
        next_attempt_at=None,
        updated_at=now,
    )


def must_check(record: OrderRecord) -> bool:
    """Whether the attempt on ``record`` (as it was before the claim) must first ask the
    ERP whether it already has the order: an earlier attempt may have reached it."""
    return record.uncertain or record.state == "processing"


def after_success(record: OrderRecord, erp_order_no: str | None, now: float) -> OrderRecord:
    """The ERP has the order (created now, or found after an uncertain attempt)."""
    return attrs.evolve(
        record,
        state="created",
        attempts=record.attempts + 1,
        erp_order_no=erp_order_no or None,
        lease_until=None,
        lease_owner=None,
        uncertain=False,
        description=None,
        updated_at=now,
    )


def after_rejection(record: OrderRecord, description: str, now: float) -> OrderRecord:
    """The ERP refused the order for good (``ErpRejectedOrderError``)."""
    return attrs.evolve(
        record,
        state="rejected",
        attempts=record.attempts + 1,
        lease_until=None,
        lease_owner=None,
        uncertain=False,
        description=description,
        updated_at=now,
    )


def after_failure(
    record: OrderRecord,
    error: str,
    now: float,
    settings: ReceiverSettings,
    *,
    uncertain: bool,
) -> OrderRecord:
    """The ERP could not take the order now: retry later, or dead after the limit."""
    attempts = record.attempts + 1
    if attempts >= settings.max_attempts:
        return attrs.evolve(
            record,
            state="dead",
            attempts=attempts,
            lease_until=None,
            lease_owner=None,
            uncertain=uncertain,
            next_attempt_at=None,
            description=error,
            updated_at=now,
        )
    return attrs.evolve(
        record,
        state="received",
        attempts=attempts,
        lease_until=None,
        lease_owner=None,
        uncertain=uncertain,
        next_attempt_at=now + settings.retry_delays[attempts - 1],
        description=error,
        updated_at=now,
    )


def replayed(record: OrderRecord, now: float) -> OrderRecord:
    """A dead (or rejected) order sent back to the queue: attempts start over.

    An uncertain record stays uncertain, so the ERP is asked before creating.
    """
    return attrs.evolve(
        record,
        state="received",
        attempts=0,
        next_attempt_at=now,
        lease_until=None,
        lease_owner=None,
        description=None,
        updated_at=now,
    )


def with_answer(record: OrderRecord, answer: bytes, now: float) -> OrderRecord:
    """The record after Norce was told ``answer`` (an ``OK``: from now on, the answer)."""
    return attrs.evolve(record, answer=answer.decode(), updated_at=now)


# --------------------------------------------------------------------------- answers


@attrs.frozen
class ReceiverAnswer:
    """An HTTP answer to Norce.

    Attributes:
        status: HTTP status.
        body: JSON bytes (an ``OrderResponse``; errors add ``Errors``).
        headers: extra headers (``WWW-Authenticate`` on a 401).
        final: an ``OK`` that must be stored and repeated for every later push.
    """

    status: int
    body: bytes
    headers: dict[str, str] = attrs.field(factory=dict)
    final: bool = False


def answer_for(record: OrderRecord, settings: ReceiverSettings) -> ReceiverAnswer:
    """What Norce is told about an order in the journal (a stored answer wins)."""
    if record.answer is not None:
        return ReceiverAnswer(200, record.answer.encode(), final=True)
    if record.state == "created":
        return ReceiverAnswer(200, OrderResponse.ok(record.erp_order_no).to_json(), final=True)
    if record.state == "rejected":
        reason = record.description or "the ERP refused the order"
        response = OrderResponse.failed(f"Order {record.client_order_ref} refused: {reason}")
        return ReceiverAnswer(settings.failed_http_status, response.to_json())
    if settings.when_unavailable == "accept":
        response = OrderResponse.ok(
            description=f"Order {record.client_order_ref} received; queued for the ERP."
        )
        return ReceiverAnswer(200, response.to_json(), final=True)
    response = OrderResponse.failed(
        f"Order {record.client_order_ref} received but the ERP cannot take it now; "
        "it is queued and retried."
    )
    return ReceiverAnswer(settings.failed_http_status, response.to_json())


def invalid_answer(status: int, errors: tuple[FieldError, ...], model: str) -> ReceiverAnswer:
    """A 4xx naming every wrong field (``Errors``: ``Path`` and ``Message`` each)."""
    shown = "; ".join(str(e) for e in errors[:5])
    body = {
        "StatusCode": "Failed",
        "Description": f"invalid {model}: {shown}",
        "HasErpOrderNo": False,
        "ErpOrderNo": None,
        "Errors": [{"Path": e.path, "Message": e.message} for e in errors[:100]],
    }
    return ReceiverAnswer(status, orjson.dumps(body))


def unauthorized_answer() -> ReceiverAnswer:
    """401: wrong or missing credentials (nothing was stored)."""
    body = {
        "StatusCode": "Failed",
        "Description": "authentication required",
        "HasErpOrderNo": False,
    }
    return ReceiverAnswer(
        401, orjson.dumps(body), {"WWW-Authenticate": 'Basic realm="Order Receiver"'}
    )


def depth_error(body: bytes) -> FieldError | None:
    """A body nested deeper than 1024 levels (no order is): refused before the exact
    parser sees it, because a Python parser takes ~50 ms to reject 100,000 levels while
    orjson (C, depth-limited) takes well under 1 ms."""
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if "depth" in str(exc) or "recursion" in str(exc).lower():
            return FieldError("$", "nested too deeply (more than 1024 levels)")
    return None


def check_order(order: OrderRequest) -> tuple[FieldError, ...]:
    """What the receiver needs beyond the contract: a ``ClientOrderRef`` to key on."""
    ref = order.client_order_ref
    if not isinstance(ref, str) or not ref.strip():
        return (FieldError("$.ClientOrderRef", "required: the order's basket id"),)
    if len(ref) > 200:
        return (FieldError("$.ClientOrderRef", "longer than 200 characters"),)
    return ()
