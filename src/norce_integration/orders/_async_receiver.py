"""The Order Receiver's engine (the asyncio source of the generated :class:`OrderReceiver`).

``python scripts/gen_sync.py`` writes the blocking :class:`OrderReceiver` from this
module into ``_sync_receiver.py`` (the CLI's ``list`` and ``replay``, and blocking
targets). The decisions are pure (:mod:`._receiver_core`); this class reads and writes
the journal in the store's kv table and calls the target:

1. authenticate (constant-time) — a failure is 401 and nothing is stored;
2. validate the body against ``OrderRequest`` — 4xx naming the field, never a 5xx;
3. store the order (compare-and-set on its key) **before** anything else, so a push
   Norce repeats, or a receiver that dies, never loses or doubles it;
4. give the ERP up to ``answer_within`` seconds (the call goes on after that), then
   answer from the journal: a stored ``OK`` is repeated byte for byte for every later
   push of the same order.

Background attempts (:meth:`AsyncOrderReceiver.process_due`, run by
:meth:`AsyncOrderReceiver.run_worker` or the ASGI app's lifespan) follow
``ReceiverSettings.retry_delays``; after the last the order is dead until replayed.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable

import attrs

from .._concurrency import AsyncEvent
from .._exceptions import StoreError
from ..stores import AsyncStore
from ._errors import (
    ErpRejectedOrderError,
    ErpUnavailableError,
    FieldError,
    OrderValidationError,
)
from ._receiver_core import (
    OrderRecord,
    ReceiverAnswer,
    ReceiverSettings,
    after_failure,
    after_rejection,
    after_success,
    answer_for,
    basic_auth_ok,
    check_order,
    claim,
    dedup_key,
    depth_error,
    invalid_answer,
    must_check,
    new_record,
    replayed,
    unauthorized_answer,
    with_answer,
)
from ._target import AsyncOrderTarget, OrderTarget
from .models import OrderRequest


__all__ = ["AsyncOrderReceiver"]

log = logging.getLogger("norce_integration.orders")
_CAS_TRIES = 20


class AsyncOrderReceiver:
    """Receives Norce's order pushes, journals them and hands them to an ERP target.

    Args:
        store: where the journal lives (its kv table); shared by every receiver process.
        target: your ERP adapter (:class:`AsyncOrderTarget`; a blocking
            :class:`OrderTarget` runs in a worker thread).
        settings: credentials and behaviour (:class:`ReceiverSettings`).
        clock: wall-clock seconds (the journal is shared across processes).
    """

    def __init__(
        self,
        store: AsyncStore,
        target: AsyncOrderTarget | OrderTarget,
        settings: ReceiverSettings,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.target = target
        self.settings = settings
        self._clock = clock
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # unasync: async-only
        self._tasks: set[asyncio.Task[OrderRecord | None]] = set()
        # unasync: end

    def __repr__(self) -> str:
        return f"{type(self).__name__}(store={self.store!r}, target={self.target!r})"

    # ------------------------------------------------------------------ the push

    async def receive(
        self, body: bytes, *, authorization: str | None, content_type: str | None = None
    ) -> ReceiverAnswer:
        """Answer one push from Norce (the whole protocol; the ASGI app only frames it).

        Raises:
            StoreError: the journal cannot be read or written (the caller answers 5xx:
                nothing was promised to Norce, so Norce retries).
        """
        if not basic_auth_ok(authorization, self.settings):
            log.warning("order push refused: wrong or missing credentials")
            return unauthorized_answer()
        if content_type and "json" not in content_type.lower():
            return invalid_answer(
                415,
                (_field("$", f"Content-Type {content_type!r} is not JSON (XML is not supported)"),),
                "OrderRequest",
            )
        if len(body) > self.settings.max_body_bytes:
            limit = self.settings.max_body_bytes
            return invalid_answer(413, (_field("$", f"larger than {limit} bytes"),), "OrderRequest")
        too_deep = depth_error(body)
        if too_deep is not None:
            return invalid_answer(400, (too_deep,), "OrderRequest")
        try:
            order = OrderRequest.from_json(body)
            order.to_json()  # what is stored: e.g. a lone surrogate cannot be
        except OrderValidationError as exc:
            return invalid_answer(400, exc.errors, "OrderRequest")
        problems = check_order(order)
        if problems:
            return invalid_answer(422, problems, "OrderRequest")
        key = dedup_key(order, self.settings)
        record = await self._store_push(key, order)
        if record.answer is None and not record.final:
            record = await self._attempt_within_budget(key)
        return await self._answer(key, record)

    async def _store_push(self, key: str, order: OrderRequest) -> OrderRecord:
        """The journal record of this push: inserted (durably) if it is the first."""
        ns = self.settings.namespace
        for _ in range(_CAS_TRIES):
            now = self._clock()
            current = await self.store.kv_get(ns, key)
            if current is None:
                record = new_record(key, order, now)
                # The pending index first: an index entry without a record is cleaned
                # up; a record missing from the index would never be retried.
                await self.store.kv_put(self.settings.pending_namespace, key, "")
                if await self.store.kv_compare_and_set(ns, key, None, record.to_text()):
                    log.info("order %s received (key %s)", record.client_order_ref, key)
                    return record
                continue
            record = OrderRecord.from_text(current)
            if record.digest != new_record(key, order, now).digest:
                log.warning(
                    "order %s pushed again with a different body; the first one is kept",
                    record.client_order_ref,
                )
            counted = attrs.evolve(record, pushes=record.pushes + 1)
            if await self.store.kv_compare_and_set(ns, key, current, counted.to_text()):
                return counted
        raise StoreError(f"the order journal entry {key!r} kept changing; try again")

    async def _attempt_within_budget(self, key: str) -> OrderRecord:
        # unasync: async-only
        task = asyncio.ensure_future(self.process(key, force=True))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        done, _ = await asyncio.wait({task}, timeout=self.settings.answer_within)
        if task in done:
            result = task.result()
            if result is not None:
                return result
        # unasync: end
        # unasync: sync-only
        # result = self.process(key, force=True)
        # if result is not None:
        #     return result
        # unasync: end
        record = await self.get(key)
        assert record is not None
        return record

    async def _answer(self, key: str, record: OrderRecord) -> ReceiverAnswer:
        """The answer for ``record``; a first ``OK`` is stored so it is always repeated."""
        ns = self.settings.namespace
        for _ in range(_CAS_TRIES):
            answer = answer_for(record, self.settings)
            if not answer.final or record.answer is not None:
                return answer
            stored = with_answer(record, answer.body, self._clock())
            if await self.store.kv_compare_and_set(ns, key, record.to_text(), stored.to_text()):
                return answer
            fresh = await self.get(key)
            assert fresh is not None
            record = fresh
        raise StoreError(f"the order journal entry {key!r} kept changing; try again")

    # ------------------------------------------------------------------ attempts

    async def process(self, key: str, *, force: bool = False) -> OrderRecord | None:
        """One ERP attempt on the order ``key`` if it is claimable; the record after it.

        Returns None when the key is unknown. An order another receiver is working on,
        or one not due yet (unless ``force``), is returned as it is.

        Raises:
            StoreError: the journal cannot be read or written.
        """
        ns = self.settings.namespace
        text = await self.store.kv_get(ns, key)
        if text is None:
            return None
        before = OrderRecord.from_text(text)
        claimed = claim(before, self._clock(), self.owner, self.settings, force=force)
        if claimed is None:
            return before
        if not await self.store.kv_compare_and_set(ns, key, text, claimed.to_text()):
            return await self.get(key)  # someone else claimed it first
        after = await self._call_target(before, claimed)
        return await self._finish(key, claimed, after)

    async def _call_target(self, before: OrderRecord, claimed: OrderRecord) -> OrderRecord:
        order = claimed.order()
        key = claimed.key
        try:
            erp_order_no: str | None = None
            found = False
            if must_check(before):
                erp_order_no = await self._call("find_order", order, key)
                found = erp_order_no is not None
                if found:
                    log.info("order %s was already in the ERP", claimed.client_order_ref)
            if not found:
                erp_order_no = await self._call("create_order", order, key)
        except ErpRejectedOrderError as exc:
            log.warning("the ERP refused order %s: %s", claimed.client_order_ref, exc)
            return after_rejection(claimed, exc.description, self._clock())
        except ErpUnavailableError as exc:
            log.info("the ERP cannot take order %s now: %s", claimed.client_order_ref, exc)
            return after_failure(claimed, str(exc), self._clock(), self.settings, uncertain=False)
        except Exception as exc:  # an adapter bug or a lost connection: outcome unknown
            log.exception("the order target failed on order %s", claimed.client_order_ref)
            message = f"{type(exc).__name__}: {exc}"
            return after_failure(claimed, message, self._clock(), self.settings, uncertain=True)
        log.info("order %s is in the ERP as %s", claimed.client_order_ref, erp_order_no)
        return after_success(claimed, erp_order_no, self._clock())

    async def _call(self, name: str, order: OrderRequest, key: str) -> str | None:
        method = getattr(self.target, name)
        # unasync: async-only
        if inspect.iscoroutinefunction(method):
            result = await method(order, key=key)
        else:
            # A blocking target must not hold the event loop.
            result = await asyncio.to_thread(method, order, key=key)
        # unasync: end
        # unasync: sync-only
        # result = method(order, key=key)
        # unasync: end
        return None if result is None else str(result)

    async def _finish(self, key: str, claimed: OrderRecord, after: OrderRecord) -> OrderRecord:
        """Store the attempt's outcome (over whatever the record became meanwhile)."""
        ns = self.settings.namespace
        expected = claimed.to_text()
        for _ in range(_CAS_TRIES):
            if await self.store.kv_compare_and_set(ns, key, expected, after.to_text()):
                break
            current = await self.store.kv_get(ns, key)
            if current is None:
                break
            record = OrderRecord.from_text(current)
            if record.final:
                return record  # another attempt (after our lease ran out) finished first
            # Our lease ran out and someone re-claimed it, or an answer was stored:
            # we know what the ERP said, so our outcome wins; keep a stored answer.
            after = attrs.evolve(after, answer=record.answer, pushes=record.pushes)
            expected = current
        else:
            raise StoreError(f"the order journal entry {key!r} kept changing; try again")
        if after.final or after.state == "dead":
            await self.store.kv_delete(self.settings.pending_namespace, key)
        return after

    async def process_due(self) -> int:
        """One background pass: an attempt on every order that is due. Returns how many
        attempts were made.

        Raises:
            StoreError: the journal cannot be read or written.
        """
        made = 0
        pending = await self.store.kv_list(self.settings.pending_namespace)
        for key in pending:
            text = await self.store.kv_get(self.settings.namespace, key)
            record = None if text is None else OrderRecord.from_text(text)
            if record is None or record.final or record.state == "dead":
                await self.store.kv_delete(self.settings.pending_namespace, key)
                continue
            if claim(record, self._clock(), self.owner, self.settings) is None:
                continue
            after = await self.process(key)
            if after is not None and after.attempts > record.attempts:
                made += 1
        return made

    async def run_worker(self, stop: AsyncEvent, *, poll_interval: float = 1.0) -> None:
        """Run :meth:`process_due` every ``poll_interval`` seconds until ``stop`` is set.

        A failing pass (e.g. the store is unreachable) is logged and retried.
        """
        while not stop.is_set():
            try:
                await self.process_due()
            except StoreError:
                log.exception("order receiver: background pass failed")
            # unasync: async-only
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=poll_interval)
            # unasync: end
            # unasync: sync-only
            # stop.wait(poll_interval)
            # unasync: end

    async def drain(self) -> None:
        """Wait for ERP calls that outlived their push's answer (async receivers)."""
        # unasync: async-only
        while self._tasks:
            await asyncio.wait(set(self._tasks))
        # unasync: end

    # ------------------------------------------------------------------ operators

    async def get(self, key: str) -> OrderRecord | None:
        """The journal record of ``key``, or None."""
        text = await self.store.kv_get(self.settings.namespace, key)
        return None if text is None else OrderRecord.from_text(text)

    async def list(self, state: str | None = None) -> list[OrderRecord]:
        """Every journal record (or those in ``state``), oldest first."""
        values = await self.store.kv_list(self.settings.namespace)
        records = [OrderRecord.from_text(v) for v in values.values()]
        if state is not None:
            records = [r for r in records if r.state == state]
        return sorted(records, key=lambda r: (r.received_at, r.key))

    async def replay(self, key: str) -> OrderRecord:
        """Send a dead or rejected order back to the queue (attempts start over).

        Raises:
            KeyError: no such order.
            ValueError: the order is not dead or rejected.
        """
        ns = self.settings.namespace
        for _ in range(_CAS_TRIES):
            text = await self.store.kv_get(ns, key)
            if text is None:
                raise KeyError(key)
            record = OrderRecord.from_text(text)
            if record.state not in ("dead", "rejected"):
                msg = f"order {key!r} is {record.state}; only dead or rejected orders replay"
                raise ValueError(msg)
            again = replayed(record, self._clock())
            await self.store.kv_put(self.settings.pending_namespace, key, "")
            if await self.store.kv_compare_and_set(ns, key, text, again.to_text()):
                return again
        raise StoreError(f"the order journal entry {key!r} kept changing; try again")


def _field(path: str, message: str) -> FieldError:
    return FieldError(path, message)
