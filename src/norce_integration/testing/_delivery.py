"""The emulator's event delivery: webhook subscriptions, and the pump that runs due work.

Nothing runs in the background in-process. The pump (:meth:`DeliveryService.run_due`,
:meth:`~DeliveryService.advance` and their async twins) takes everything due by the
emulator clock, one due time at a time: job transitions (:mod:`._connect_service`),
webhook attempts (:class:`~._events.EventBus`) and Order Receiver pushes
(:mod:`._orders`). One generator (:meth:`DeliveryService._flow`) holds the schedule; a
sync and an async driver post what it yields, through the emulator's
``delivery_transport``.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import httpx

from ._clock import ManualClock
from ._connect_service import ConnectService
from ._events import (
    AttemptResult,
    DeliveryAttempt,
    PendingDelivery,
    Subscription,
    post_async,
    post_sync,
)
from ._orders import PendingPush, PushResult, post_push_async, post_push_sync


if TYPE_CHECKING:
    from ._emulator import NorceEmulator


__all__ = ["DeliveryService"]


DeliveryFlow = Generator[
    list[PendingDelivery | PendingPush], list[AttemptResult | PushResult], None
]


class _NonClosingTransport(httpx.BaseTransport):
    """Lends a caller's transport to a short-lived client without closing it."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._inner.handle_request(request)


class _NonClosingAsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._inner.handle_async_request(request)


class DeliveryService:
    """Subscriptions, delivery and the due-work pump (one per :class:`NorceEmulator`).

    Reads the clock, the event bus, the order service and ``delivery_transport``,
    ``delivery_timeout`` and ``auto_deliver`` from the owning emulator at call time, so
    changing them takes effect at once.
    """

    def __init__(
        self, owner: NorceEmulator, lock: threading.RLock, connect: ConnectService
    ) -> None:
        self._owner = owner
        self._lock = lock
        self._connect = connect

    # -- subscriptions --------------------------------------------------------------

    def subscribe(
        self,
        event_type: str,
        url: str,
        *,
        headers: Mapping[str, str] | None,
        enabled: bool,
        entities: Sequence[str] | None,
    ) -> Subscription:
        with self._lock:
            return self._owner.events.subscribe(
                event_type,
                url,
                headers=headers,
                enabled=enabled,
                entities=None if entities is None else frozenset(entities),
            )

    def unsubscribe(self, event_type: str) -> None:
        with self._lock:
            self._owner.events.unsubscribe(event_type)

    def subscriptions(self) -> dict[str, Subscription]:
        with self._lock:
            return dict(self._owner.events.subscriptions)

    def deliveries(self) -> list[DeliveryAttempt]:
        with self._lock:
            return list(self._owner.events.deliveries)

    def pending(self) -> list[PendingDelivery]:
        with self._lock:
            return self._owner.events.pending

    def dead_letters(self) -> list[PendingDelivery]:
        with self._lock:
            return list(self._owner.events.dead)

    # -- the pump -------------------------------------------------------------------

    def run_due(self) -> None:
        """Everything due now, delivered synchronously."""
        self._drive_sync(self._flow(None, deliver=self._can_deliver_sync()))

    async def arun_due(self) -> None:
        """Everything due now, delivered asynchronously."""
        await self._drive_async(self._flow(None, deliver=self._can_deliver_async()))

    def advance(self, seconds: float) -> None:
        """Move the ManualClock ``seconds`` on, running what falls due on the way."""
        until = self._until(seconds)
        self._drive_sync(self._flow(until, deliver=self._can_deliver_sync()))

    async def aadvance(self, seconds: float) -> None:
        """:meth:`advance`, delivering asynchronously."""
        until = self._until(seconds)
        await self._drive_async(self._flow(until, deliver=self._can_deliver_async()))

    def after_request_sync(self) -> None:
        """The transport's hook after each request: deliver if ``auto_deliver``."""
        if self._owner.auto_deliver and self._can_deliver_sync():
            self.run_due()

    async def after_request_async(self) -> None:
        """The async transport's and the ASGI app's hook after each request."""
        if self._owner.auto_deliver and self._can_deliver_async():
            await self.arun_due()

    def _can_deliver_sync(self) -> bool:
        t = self._owner.delivery_transport
        return t is None or isinstance(t, httpx.BaseTransport)

    def _can_deliver_async(self) -> bool:
        t = self._owner.delivery_transport
        return t is None or isinstance(t, httpx.AsyncBaseTransport)

    def _until(self, seconds: float) -> datetime:
        clock = self._owner.clock
        if not isinstance(clock, ManualClock):
            raise TypeError("advance() needs a ManualClock; a SystemClock moves by itself")
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        return clock.now() + timedelta(seconds=seconds)

    def _flow(self, until: datetime | None, *, deliver: bool) -> DeliveryFlow:
        """Drive jobs and deliveries up to ``until`` (None: now), one due time at a time.

        Yields batches of deliveries to post and receives their results, so sync and
        async drivers share the schedule logic.
        """
        owner, connect = self._owner, self._connect
        events, orders = owner.events, owner.orders
        while True:
            with self._lock:
                connect.process_due_locked()
                now = owner.clock.now()
                batch: list[PendingDelivery | PendingPush] = []
                if deliver:
                    batch = [*events.take_due(now), *orders.take_due(now)]
            if batch:
                results = yield batch
                with self._lock:
                    for pending, result in zip(batch, results, strict=True):
                        if isinstance(pending, PendingPush):
                            assert isinstance(result, PushResult)
                            orders.record(pending, result, now)
                        else:
                            assert isinstance(result, AttemptResult)
                            events.record(pending, result, now)
                continue
            if until is None:
                return
            with self._lock:
                dues = [
                    d
                    for d in (
                        connect.next_due_locked(),
                        events.next_due() if deliver else None,
                        orders.next_due() if deliver else None,
                    )
                    if d
                ]
                upcoming = min(dues) if dues else None
                clock = owner.clock
                now = clock.now()
                if upcoming is None or upcoming > until:
                    if now < until:
                        assert isinstance(clock, ManualClock)
                        clock.set(until)
                        continue
                    return
                if upcoming <= now:
                    return  # nothing runnable (cannot happen; guards against a spin)
                assert isinstance(clock, ManualClock)
                clock.set(upcoming)

    def _sync_client(self) -> httpx.Client:
        t = self._owner.delivery_transport
        transport = _NonClosingTransport(t) if isinstance(t, httpx.BaseTransport) else None
        return httpx.Client(
            transport=transport, timeout=self._owner.delivery_timeout, follow_redirects=True
        )

    def _async_client(self) -> httpx.AsyncClient:
        t = self._owner.delivery_transport
        transport = (
            _NonClosingAsyncTransport(t) if isinstance(t, httpx.AsyncBaseTransport) else None
        )
        return httpx.AsyncClient(
            transport=transport, timeout=self._owner.delivery_timeout, follow_redirects=True
        )

    def _drive_sync(self, flow: DeliveryFlow) -> None:
        client: httpx.Client | None = None
        try:
            batch = next(flow)
            while True:
                if client is None:
                    client = self._sync_client()
                results: list[AttemptResult | PushResult] = [
                    post_push_sync(client, p)
                    if isinstance(p, PendingPush)
                    else post_sync(client, p)
                    for p in batch
                ]
                batch = flow.send(results)
        except StopIteration:
            pass
        finally:
            flow.close()
            if client is not None:
                client.close()

    async def _drive_async(self, flow: DeliveryFlow) -> None:
        client: httpx.AsyncClient | None = None
        try:
            batch = next(flow)
            while True:
                if client is None:
                    client = self._async_client()
                results: list[AttemptResult | PushResult] = [
                    await post_push_async(client, p)
                    if isinstance(p, PendingPush)
                    else await post_async(client, p)
                    for p in batch
                ]
                batch = flow.send(results)
        except StopIteration:
            pass
        finally:
            flow.close()
            if client is not None:
                await client.aclose()
