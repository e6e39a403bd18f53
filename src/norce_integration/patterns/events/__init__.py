"""Norce events to a target system: :class:`EventHandler` and its twin :class:`AsyncEventHandler`.

:class:`AsyncEventHandler` is written once (``_async_handler.py``); the blocking
:class:`EventHandler` is generated from it (``_sync_handler.py``). The decisions both
make live in ``_core.py`` and do no I/O; the receiver (``_receiver.py``) and the inbox
writers (``_inbox.py``) are asyncio-only by nature (ASGI).

The pattern Norce documents (reference §3.9): a webhook carries ids, the integration
looks the entity up in Query, maps it and sends it on. The handler splits that in two so
nothing is lost and Norce's 5 s budget is never at risk:

1. **Receive** — :attr:`EventHandler.app`, an ASGI application: checks the static auth
   header (constant time) and optionally the source network, validates the body, writes
   it to the store's inbox (deduplicated, group-committed) and only then answers 2xx.
   No Query call on this path. See ``_receiver.py`` for every status code.
2. **Process** — :meth:`EventHandler.run_once` / :meth:`EventHandler.run`: claim a batch
   of inbox items under a lease, coalesce events per entity (twenty
   ``SkuChangedNotification`` for one ``PartNo`` are one lookup), evict those entities
   from the Query cache, look them up in batches (``lookup_many``, selecting only what
   each target needs), and hand each target its batch: mapped entities, and
   :class:`Deletion` markers for entities Query no longer has. Events that name no Query
   entity (``OrderReceivedEvent``, ``CompanyChangedNotification``…) are passed as they
   came. ``JobCompletedEvent`` resolves the job in the :class:`JobTracker`.

Failures are retried with exponential backoff (attempts are counted on the inbox item);
after ``max_attempts`` the event becomes a dead letter, listed by :meth:`dead_letters`
and put back by :meth:`replay`. A worker killed while holding a batch loses nothing: its
lease expires and another worker claims the items again. Delivery to targets is
at-least-once; a target never receives an entity older than the one it last received
(see ``_core.py`` for the ordering rules).
"""

from __future__ import annotations

from ._async_handler import AsyncEventHandler
from ._core import Deletion, EventBatchReport, EventReplayReport
from ._receiver import WebhookAuth
from ._sync_handler import EventHandler
from ._targets import AsyncTargetAdapter, TargetAdapter


__all__ = [
    "AsyncEventHandler",
    "AsyncTargetAdapter",
    "Deletion",
    "EventBatchReport",
    "EventHandler",
    "EventReplayReport",
    "TargetAdapter",
    "WebhookAuth",
]
