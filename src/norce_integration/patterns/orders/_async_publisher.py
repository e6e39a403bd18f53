"""The order status publisher (the asyncio source of the generated :class:`OrderPublisher`).

ERP-side order events (status changes, delivery notes, invoices, credits, cancels) go
to Norce's Connect Order service in order per order, never older after newer, and a
crash never makes it send twice what Norce accepted (see :mod:`._core`). The journal is
one kv record per order in the store, so publishers on several machines can share it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, Iterable
from typing import TypeAlias

import attrs

from ..._async_client import AsyncNorce
from ..._exceptions import APIError, StoreError
from ...connect import OrderRejectedError
from ...orders import AmbiguousOrderCallError
from ...stores import AsyncStore
from ._core import (
    OrderEvent,
    StreamState,
    accepted,
    decide,
    hold,
    in_flight,
    not_applied,
    released,
    skipped,
)


__all__ = ["AsyncOrderPublisher", "PublishReport"]

log = logging.getLogger("norce_integration.patterns.orders")
# unasync: async-only
Events: TypeAlias = Iterable[OrderEvent] | AsyncIterable[OrderEvent]
# unasync: end
# unasync: sync-only
# Events: TypeAlias = Iterable[OrderEvent]
# unasync: end


@attrs.define
class PublishReport:
    """What one :meth:`AsyncOrderPublisher.publish` pass did (events by outcome).

    Attributes:
        sent: accepted by Norce.
        skipped_old: already accepted, or older than what was (never sent).
        skipped_backwards: statuses that would have moved an order back.
        rejected: refused by Norce (400): logged, never resent.
        deferred: not sent this pass (Norce unreachable, or another publisher holds
            the order): sent on a later pass.
        held: orders whose stream waits for an operator (:meth:`~AsyncOrderPublisher.release`).
    """

    sent: list[OrderEvent] = attrs.field(factory=list)
    skipped_old: list[OrderEvent] = attrs.field(factory=list)
    skipped_backwards: list[OrderEvent] = attrs.field(factory=list)
    rejected: list[OrderEvent] = attrs.field(factory=list)
    deferred: list[OrderEvent] = attrs.field(factory=list)
    held: list[str] = attrs.field(factory=list)


class AsyncOrderPublisher:
    """Sends ERP order events to Norce (``norce.connect.orders``), per order in order.

    Args:
        norce: the client (its ``connect.orders`` options decide what is idempotent).
        store: where the per-order journal lives (kv table).
        namespace: the kv namespace of the journal.
        allow_backwards: send a status that moves an order back (off: skipped).
    """

    def __init__(
        self,
        norce: AsyncNorce,
        store: AsyncStore,
        *,
        namespace: str = "orders.publisher",
        allow_backwards: bool = False,
    ) -> None:
        self.norce = norce
        self.store = store
        self.namespace = namespace
        self.allow_backwards = allow_backwards

    async def publish(self, events: Events) -> PublishReport:
        """Send every event not sent yet; events may repeat across passes (a source that
        re-reads its outbox): what Norce accepted is skipped.

        Raises:
            StoreError: the journal cannot be read or written.
        """
        streams: dict[str, list[OrderEvent]] = {}
        # unasync: async-only
        if isinstance(events, AsyncIterable):
            async for event in events:
                streams.setdefault(event.order_ref, []).append(event)
        else:
            for event in events:
                streams.setdefault(event.order_ref, []).append(event)
        # unasync: end
        # unasync: sync-only
        # for event in events:
        #     streams.setdefault(event.order_ref, []).append(event)
        # unasync: end
        report = PublishReport()
        for order_ref, stream in streams.items():
            stream.sort(key=lambda e: e.sequence)
            await self._publish_stream(order_ref, stream, report)
        return report

    async def _publish_stream(
        self, order_ref: str, stream: list[OrderEvent], report: PublishReport
    ) -> None:
        idempotent = frozenset(op.name for op in self.norce.connect.orders.options.idempotent)
        text = await self.store.kv_get(self.namespace, order_ref)
        state = StreamState.from_text(text)
        for index, event in enumerate(stream):
            decision = decide(
                state, event, idempotent=idempotent, allow_backwards=self.allow_backwards
            )
            if decision == "skip_old":
                report.skipped_old.append(event)
                continue
            if decision == "held":
                log.warning("order %s is held: %s", order_ref, state.held)
                report.held.append(order_ref)
                return
            if decision == "hold":
                reason = (
                    f"{state.inflight_operation} (seq {state.inflight}) was in flight when "
                    "the publisher stopped; check Norce, then release the order"
                )
                if await self._cas(order_ref, text, hold(state, reason)):
                    log.warning("order %s is held: %s", order_ref, reason)
                    report.held.append(order_ref)
                else:
                    report.deferred.extend(stream[index:])
                return
            if decision == "skip_backwards":
                log.warning(
                    "order %s: not sending %s (seq %s): it would move the order back",
                    order_ref, event.operation, event.sequence,
                )  # fmt: skip
                new = skipped(state, event)
                if not await self._cas(order_ref, text, new):
                    report.deferred.extend(stream[index:])
                    return
                text, state = new.to_text(), new
                report.skipped_backwards.append(event)
                continue
            marked = in_flight(state, event)
            if not await self._cas(order_ref, text, marked):
                report.deferred.extend(stream[index:])  # another publisher has it
                return
            text, state = marked.to_text(), marked
            new, outcome = await self._send(state, event)
            if not await self._cas(order_ref, text, new):
                msg = f"the order journal entry {order_ref!r} changed during a call"
                raise StoreError(msg)
            text, state = new.to_text(), new
            if outcome == "sent":
                report.sent.append(event)
            elif outcome == "rejected":
                report.rejected.append(event)
            elif outcome == "held":
                report.held.append(order_ref)
                return
            else:
                report.deferred.extend(stream[index:])
                return

    async def _send(self, state: StreamState, event: OrderEvent) -> tuple[StreamState, str]:
        method = getattr(self.norce.connect.orders, event.operation)
        try:
            await method(event.body)
        except OrderRejectedError as exc:
            log.warning(
                "order %s: Norce refused %s (seq %s): %s",
                event.order_ref, event.operation, event.sequence, exc.reason or exc,
            )  # fmt: skip
            return skipped(state, event), "rejected"
        except AmbiguousOrderCallError as exc:
            log.error("order %s: %s", event.order_ref, exc)
            return hold(state, f"{event.operation} (seq {event.sequence}): {exc}"), "held"
        except APIError as exc:
            log.warning("order %s: %s not sent now: %s", event.order_ref, event.operation, exc)
            return not_applied(state), "deferred"
        return accepted(state, event), "sent"

    async def _cas(self, order_ref: str, expected: str | None, new: StreamState) -> bool:
        return await self.store.kv_compare_and_set(
            self.namespace, order_ref, expected, new.to_text()
        )

    async def state(self, order_ref: str) -> StreamState:
        """What the journal holds for one order."""
        return StreamState.from_text(await self.store.kv_get(self.namespace, order_ref))

    async def held(self) -> dict[str, StreamState]:
        """Every held order and its state."""
        values = await self.store.kv_list(self.namespace)
        states = {k: StreamState.from_text(v) for k, v in values.items()}
        return {k: s for k, s in states.items() if s.held is not None}

    async def release(self, order_ref: str, *, applied: bool) -> StreamState:
        """An operator's answer for a held order: Norce did (``applied=True``: never
        resent) or did not apply the uncertain call (it is sent on the next pass).

        Raises:
            KeyError: the order is not held.
            StoreError: the journal changed meanwhile; try again.
        """
        text = await self.store.kv_get(self.namespace, order_ref)
        state = StreamState.from_text(text)
        if text is None or (state.held is None and state.inflight is None):
            raise KeyError(order_ref)
        new = released(state, applied=applied)
        if not await self._cas(order_ref, text, new):
            raise StoreError(f"the order journal entry {order_ref!r} changed; try again")
        return new
