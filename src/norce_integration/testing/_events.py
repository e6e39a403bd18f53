"""Norce Commerce Event webhooks as the emulator sends them (``norce-query-event.md`` §3).

Per event type there is at most one subscription (URL, static headers, on/off). While a
subscription is off, changes are not tracked (nothing is queued), as documented. A
delivery is a ``POST`` of the JSON payload with ``Content-Type: application/json`` and
the static headers, with a 5 s timeout; any non-2xx response or a timeout schedules a
retry after 5 s, 10 s, 15 s, 30 s, 1, 2, 5, 10, 15, 30 min, 1, 2, 3, 4, 5, 6 h; after the
16th retry fails the event is dead and never redelivered. There is no signature and no
event id on the wire (none is documented).

This module is sans-IO: :class:`EventBus` decides what is due and records outcomes;
:func:`post_sync` and :func:`post_async` do the HTTP, with an injectable transport.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import attrs
import httpx
import orjson

from ._clock import iso_utc
from ._faults import Faults


if TYPE_CHECKING:
    from ._data import ChangeSet


__all__ = [
    "EVENT_TYPES",
    "RETRY_DELAYS",
    "AttemptResult",
    "DeliveryAttempt",
    "EventBus",
    "PendingDelivery",
    "Subscription",
    "post_async",
    "post_sync",
]

RETRY_DELAYS: tuple[float, ...] = (
    5, 10, 15, 30,
    60, 120, 300, 600, 900, 1800,
    3600, 7200, 10800, 14400, 18000, 21600,
)  # fmt: skip
"""Seconds between attempts (documented schedule): 16 retries over about 22 hours."""

EVENT_TYPES: tuple[str, ...] = (
    "CustomerChangedNotification",
    "CompanyChangedNotification",
    "InvoiceCaptureCompletedEvent",
    "OrderCancelledEvent",
    "OrderConfirmedEvent",
    "OrderDeliveredEvent",
    "OrderPartlyDeliveredEvent",
    "OrderReadyForPickupEvent",
    "OrderPaymentReceivedEvent",
    "OrderReceivedEvent",
    "SubscriptionFailedEvent",
    "SkuChangedNotification",
    "SkuPriceChangedNotification",
    "SkuOnHandBreakPointNotification",
    "TranslationRequestedNotification",
    "SupplierSkuChangedNotification",
    "SupplierSkuOnHandChangedNotification",
    "SupplierSkuPriceChangedNotification",
    "JobCompletedEvent",
)
_CANONICAL = {name.lower(): name for name in EVENT_TYPES}

Outcome = Literal["delivered", "failed", "timeout", "error"]


def canonical_event_type(name: str) -> str:
    """Return the documented spelling of an event type name (case-insensitive).

    Raises:
        ValueError: not one of the documented event types.
    """
    try:
        return _CANONICAL[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown event type {name!r}") from None


@attrs.define
class Subscription:
    """The Admin setting of one event type.

    Attributes:
        event_type: e.g. ``SkuChangedNotification``.
        url: where Norce POSTs.
        headers: static request headers (e.g. an auth token).
        enabled: ON/OFF; while OFF nothing is tracked.
        entities: the tables (``EntityChanged`` values) that trigger it, as configured on
            Norce's Event Settings tab; None means all.
    """

    event_type: str
    url: str
    headers: dict[str, str] = attrs.field(factory=dict)
    enabled: bool = True
    entities: frozenset[str] | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON for the admin endpoint."""
        return {
            "event_type": self.event_type,
            "url": self.url,
            "headers": dict(self.headers),
            "enabled": self.enabled,
            "entities": None if self.entities is None else sorted(self.entities),
        }


@attrs.define(eq=False)
class PendingDelivery:
    """An event waiting for its next attempt."""

    event_id: int
    event_type: str
    payload: dict[str, Any]
    url: str
    headers: dict[str, str]
    attempt: int
    due: datetime
    duplicate: bool = False


@attrs.frozen
class AttemptResult:
    """What one POST came back with."""

    outcome: Outcome
    status_code: int | None = None
    error: str | None = None


@attrs.frozen
class DeliveryAttempt:
    """One line of the delivery log (``emulator.deliveries``).

    Attributes:
        event_id: the emulator's id of the event (not sent; Norce sends none).
        event_type: the event type.
        url: where it was posted.
        payload: the JSON body.
        attempt: 1 for the first delivery, 2.. for retries.
        time: emulator time of the attempt.
        outcome: ``delivered`` (2xx), ``failed`` (non-2xx), ``timeout`` or ``error``
            (connection failed).
        status_code: the response status, if any.
        error: the transport error, if any.
        duplicate: an extra copy sent by a duplicate-delivery fault.
        next_attempt: when the next retry is due (None: delivered, duplicate or dead).
        dead: this was the last attempt and it failed.
    """

    event_id: int
    event_type: str
    url: str
    payload: dict[str, Any]
    attempt: int
    time: datetime
    outcome: Outcome
    status_code: int | None
    error: str | None
    duplicate: bool
    next_attempt: datetime | None
    dead: bool

    def to_json(self) -> dict[str, Any]:
        """JSON for the admin endpoint."""
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "url": self.url,
            "payload": self.payload,
            "attempt": self.attempt,
            "time": iso_utc(self.time),
            "outcome": self.outcome,
            "status_code": self.status_code,
            "error": self.error,
            "duplicate": self.duplicate,
            "next_attempt": None if self.next_attempt is None else iso_utc(self.next_attempt),
            "dead": self.dead,
        }


class EventBus:
    """Subscriptions, the queue of pending deliveries, and the delivery log.

    Not thread-safe by itself: the emulator calls it under its lock.

    Args:
        faults: duplicate/reorder faults are read from here.
        retry_delays: seconds between attempts (documented schedule by default).
    """

    def __init__(self, faults: Faults, retry_delays: tuple[float, ...] = RETRY_DELAYS) -> None:
        self.faults = faults
        self.retry_delays = retry_delays
        self.subscriptions: dict[str, Subscription] = {}
        self.deliveries: list[DeliveryAttempt] = []
        self.dead: list[PendingDelivery] = []
        self._queue: list[tuple[datetime, int, PendingDelivery]] = []
        self._seq = itertools.count()
        self._event_ids = itertools.count(1)
        self.fired = 0

    def subscribe(
        self,
        event_type: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        enabled: bool = True,
        entities: frozenset[str] | None = None,
    ) -> Subscription:
        """Set the subscription of ``event_type`` (replacing any earlier one).

        Raises:
            ValueError: unknown event type or not an http(s) URL.
        """
        name = canonical_event_type(event_type)
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"subscription URL must be http(s), got {url!r}")
        subscription = Subscription(name, url, dict(headers or {}), enabled, entities)
        self.subscriptions[name] = subscription
        return subscription

    def unsubscribe(self, event_type: str) -> None:
        """Remove the subscription of ``event_type`` (pending deliveries stay queued)."""
        self.subscriptions.pop(canonical_event_type(event_type), None)

    def wants(self, event_type: str, entity: str | None) -> bool:
        """True if an ON subscription would receive this event."""
        subscription = self.subscriptions.get(event_type)
        if subscription is None or not subscription.enabled:
            return False
        return subscription.entities is None or entity is None or entity in subscription.entities

    def fire(self, event_type: str, payload: dict[str, Any], now: datetime) -> bool:
        """Queue an event for delivery now; False if no ON subscription wants it."""
        if not self.wants(event_type, payload.get("EntityChanged")):
            return False
        subscription = self.subscriptions[event_type]
        pending = PendingDelivery(
            event_id=next(self._event_ids),
            event_type=event_type,
            payload=payload,
            url=subscription.url,
            headers=dict(subscription.headers),
            attempt=1,
            due=now,
        )
        self._push(pending)
        self.fired += 1
        return True

    def fire_changes(self, changes: ChangeSet) -> None:
        """Fire the events a change set collected (an import's or an Admin change's)."""
        for event_type, payload in changes.events.values():
            self.fire(event_type, payload, changes.now)

    def _push(self, pending: PendingDelivery) -> None:
        heapq.heappush(self._queue, (pending.due, next(self._seq), pending))

    @property
    def pending(self) -> list[PendingDelivery]:
        """Deliveries waiting for an attempt, earliest first."""
        return [entry[2] for entry in sorted(self._queue)]

    def next_due(self) -> datetime | None:
        """When the next attempt is due."""
        return self._queue[0][0] if self._queue else None

    def take_due(self, now: datetime) -> list[PendingDelivery]:
        """Remove and return the attempts due by ``now``, with faults applied.

        A duplicate-delivery fault adds a copy right after the original; a reorder
        fault shuffles the batch.
        """
        batch: list[PendingDelivery] = []
        while self._queue and self._queue[0][0] <= now:
            pending = heapq.heappop(self._queue)[2]
            batch.append(pending)
            if self.faults.duplicate(self.faults.event_fault(pending.event_type)):
                batch.append(attrs.evolve(pending, duplicate=True))
        if any(
            (fault := self.faults.event_fault(p.event_type)) is not None and fault.reorder
            for p in batch
        ):
            self.faults.shuffle(batch)  # type: ignore[arg-type]
        return batch

    def record(self, pending: PendingDelivery, result: AttemptResult, now: datetime) -> None:
        """Log an attempt and schedule the retry (or declare the event dead)."""
        next_attempt: datetime | None = None
        dead = False
        if result.outcome != "delivered" and not pending.duplicate:
            retry_index = pending.attempt - 1
            if retry_index < len(self.retry_delays):
                next_attempt = now + timedelta(seconds=self.retry_delays[retry_index])
                self._push(attrs.evolve(pending, attempt=pending.attempt + 1, due=next_attempt))
            else:
                dead = True
                self.dead.append(pending)
        self.deliveries.append(
            DeliveryAttempt(
                event_id=pending.event_id,
                event_type=pending.event_type,
                url=pending.url,
                payload=pending.payload,
                attempt=pending.attempt,
                time=now,
                outcome=result.outcome,
                status_code=result.status_code,
                error=result.error,
                duplicate=pending.duplicate,
                next_attempt=next_attempt,
                dead=dead,
            )
        )


def _request_parts(pending: PendingDelivery) -> tuple[bytes, dict[str, str]]:
    headers = dict(pending.headers)
    headers["Content-Type"] = "application/json"
    return orjson.dumps(pending.payload), headers


def _result(response: httpx.Response) -> AttemptResult:
    outcome: Outcome = "delivered" if 200 <= response.status_code < 300 else "failed"
    return AttemptResult(outcome, response.status_code)


def post_sync(client: httpx.Client, pending: PendingDelivery) -> AttemptResult:
    """POST one delivery with a sync client; never raises for HTTP/transport failures."""
    body, headers = _request_parts(pending)
    try:
        response = client.post(pending.url, content=body, headers=headers)
    except httpx.TimeoutException as exc:
        return AttemptResult("timeout", error=f"{type(exc).__name__}: {exc}")
    except httpx.HTTPError as exc:
        return AttemptResult("error", error=f"{type(exc).__name__}: {exc}")
    return _result(response)


async def post_async(client: httpx.AsyncClient, pending: PendingDelivery) -> AttemptResult:
    """POST one delivery with an async client; never raises for HTTP/transport failures."""
    body, headers = _request_parts(pending)
    try:
        response = await client.post(pending.url, content=body, headers=headers)
    except httpx.TimeoutException as exc:
        return AttemptResult("timeout", error=f"{type(exc).__name__}: {exc}")
    except httpx.HTTPError as exc:
        return AttemptResult("error", error=f"{type(exc).__name__}: {exc}")
    return _result(response)
