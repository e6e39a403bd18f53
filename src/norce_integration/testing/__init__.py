"""A faithful Norce Commerce emulator for testing integrations (like stripe-mock or moto).

:class:`NorceEmulator` implements, from Norce's documentation: the OAuth2 token endpoint;
Connect 4.0 imports (``X-StormConnect-Header`` validation, ``...FieldsThatAreSet``,
``CreateOnly``, ``FullFile`` scopes) and the Job service (Queued → Initialized →
Succeeded/Failed/ValidationFailed on the emulator clock, ``JobDto`` and job log);
Query 2.0 (OData: ``$filter``, ``$select``, ``$expand``, ``$orderby``, ``$top``,
``$skip``, 500-row pages); Event webhooks (static headers, the documented retry schedule,
fired by imports, simulated Admin changes and orders); and deterministic fault injection.

In-process::

    from norce_integration.testing import ManualClock, NorceEmulator

    with NorceEmulator(clock=ManualClock()) as emulator:
        with httpx.Client(transport=emulator.transport()) as http:
            ...                                   # call emulator.settings() URLs
        emulator.advance(5)                       # jobs finish, webhooks go out

Served (real sockets)::

    with emulator.serve(port=0) as server:
        settings = server.settings()

Everything the reference marks UNCONFIRMED (e.g. the on-hand entity set name
``ProductSkuOnHands``, ``Job/List``, ``JobDto.Inserts``/``Insert``) is emulated as a
documented guess; see each class's docstring.
"""

from __future__ import annotations

from ._clock import Clock, ManualClock, SystemClock
from ._core import EmulatorRequest, EmulatorResponse
from ._emulator import NorceEmulator, TokenRateLimit
from ._events import EVENT_TYPES, RETRY_DELAYS, DeliveryAttempt, PendingDelivery, Subscription
from ._faults import EventFault, Faults, JobFault, RouteFault
from ._jobs import JobTimings
from ._run import run_server
from ._server import EmulatorASGIApp, EmulatorServer
from ._transport import EmulatorTransport


__all__ = [
    "EVENT_TYPES",
    "RETRY_DELAYS",
    "Clock",
    "DeliveryAttempt",
    "EmulatorASGIApp",
    "EmulatorRequest",
    "EmulatorResponse",
    "EmulatorServer",
    "EmulatorTransport",
    "EventFault",
    "Faults",
    "JobFault",
    "JobTimings",
    "ManualClock",
    "NorceEmulator",
    "PendingDelivery",
    "RouteFault",
    "Subscription",
    "SystemClock",
    "TokenRateLimit",
    "run_server",
]
