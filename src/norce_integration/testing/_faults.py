"""Deterministic fault injection for the emulator.

All randomness comes from one ``random.Random(seed)``, so a failing test replays exactly.
Three kinds of faults:

* route faults (:meth:`Faults.add`): a status (429 with ``Retry-After``, 500, 502, 503,
  ...), added latency, or a dropped connection, for requests whose route matches;
* job faults (:meth:`Faults.job`): jobs that fail, fail validation, run slow, or stall
  (stay Initialized with ``LastUpdated`` frozen until released);
* event faults (:meth:`Faults.events`): duplicated and reordered webhook deliveries.
"""

from __future__ import annotations

import fnmatch
import math
import random
import threading
from typing import Literal

import attrs

from ._core import EmulatorResponse, error, json_response


__all__ = ["EventFault", "Faults", "JobFault", "JobPlan", "RouteFault", "fault_response"]

Service = Literal["token", "connect", "query"]
Drop = Literal["disconnect", "connect"]


def _matches(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value.lower(), pattern.lower())


@attrs.define(eq=False)
class RouteFault:
    """A fault for requests to matching routes.

    Attributes:
        route: glob over the service-relative path (``Product/Import*``,
            ``Job/Get``, ``Products/ProductSkus*``, ``token``), or over the full path if
            it starts with ``/``. Case-insensitive; ``api/`` prefixes are ignored.
        service: only ``"token"``, ``"connect"`` or ``"query"`` requests (None: any).
        method: only this HTTP method (None: any).
        status: respond with this status instead of handling the request.
        retry_after: seconds for a ``Retry-After`` header (429/503).
        latency: seconds added before responding.
        real_latency: sleep on the wall clock instead of the emulator clock.
        drop: ``"disconnect"`` (server closes without a response:
            ``httpx.RemoteProtocolError``) or ``"connect"`` (``httpx.ConnectError``). A
            served emulator closes the socket in both cases.
        times: how many requests it affects (None: unlimited).
        rate: probability per matching request (seeded).
        hits: how many requests it affected so far.
    """

    route: str = "*"
    service: Service | None = None
    method: str | None = None
    status: int | None = None
    retry_after: float | None = None
    latency: float = 0.0
    real_latency: bool = False
    drop: Drop | None = None
    times: int | None = None
    rate: float = 1.0
    hits: int = 0

    def applies(self, service: str, method: str, route: str, path: str) -> bool:
        """True if this fault covers the request (ignores ``times``/``rate``)."""
        if self.service is not None and self.service != service:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        target = path if self.route.startswith("/") else route
        return _matches(self.route, target)

    @property
    def exhausted(self) -> bool:
        """True once it has affected ``times`` requests."""
        return self.times is not None and self.hits >= self.times


@attrs.define(eq=False)
class JobFault:
    """A fault for import jobs whose ``Service/Method`` matches ``route``.

    Attributes:
        route: glob over ``Service/Method`` (``Product/ImportProducts``, ``*``).
        failure_rate: probability that a job ends Failed (3); no data is written.
        validation_failure_rate: probability that a job ends ValidationFailed (4).
        stall: every matching job stalls (stays Initialized, ``LastUpdated`` frozen)
            until :meth:`NorceEmulator.release_job`.
        stall_rate: probability of a stall (when ``stall`` is False).
        slow: extra running seconds.
        times: how many jobs it affects (None: unlimited).
    """

    route: str = "*"
    failure_rate: float = 0.0
    validation_failure_rate: float = 0.0
    stall: bool = False
    stall_rate: float = 0.0
    slow: float = 0.0
    times: int | None = None
    hits: int = 0


@attrs.define(eq=False)
class EventFault:
    """A fault for webhook deliveries of matching event types.

    Attributes:
        event_type: glob over event type names.
        duplicate_rate: probability that a delivery is sent twice.
        reorder: deliveries due together are sent in a shuffled (never original) order.
    """

    event_type: str = "*"
    duplicate_rate: float = 0.0
    reorder: bool = False


@attrs.frozen
class JobPlan:
    """What will happen to a new job."""

    outcome: str = "process"
    stall: bool = False
    slow: float = 0.0


class Faults:
    """The emulator's fault switches (``emulator.faults``).

    Args:
        seed: seed of the generator behind every probabilistic fault.

    Example:
        >>> faults = Faults(seed=1)
        >>> _ = faults.add(route="Product/Import*", status=429, retry_after=2, times=1)
        >>> _ = faults.job(failure_rate=0.5)
    """

    def __init__(self, seed: int | None = 0) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - reproducible test faults, not security
        self.routes: list[RouteFault] = []
        self.jobs: list[JobFault] = []
        self.event_faults: list[EventFault] = []
        self._lock = threading.Lock()

    def add(
        self,
        route: str = "*",
        *,
        status: int | None = None,
        retry_after: float | None = None,
        latency: float = 0.0,
        real_latency: bool = False,
        drop: Drop | None = None,
        times: int | None = None,
        rate: float = 1.0,
        method: str | None = None,
        service: Service | None = None,
    ) -> RouteFault:
        """Add a route fault (see :class:`RouteFault`) and return it.

        Raises:
            ValueError: nothing to inject, or an invalid value.
        """
        if status is None and drop is None and latency <= 0:
            raise ValueError("a route fault needs a status, a drop or a latency")
        if status is not None and not 100 <= status <= 599:
            raise ValueError(f"not an HTTP status: {status}")
        if drop not in (None, "disconnect", "connect"):
            raise ValueError(f"drop must be 'disconnect' or 'connect', got {drop!r}")
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        fault = RouteFault(
            route=route,
            service=service,
            method=method,
            status=status,
            retry_after=retry_after,
            latency=latency,
            real_latency=real_latency,
            drop=drop,
            times=times,
            rate=rate,
        )
        with self._lock:
            self.routes.append(fault)
        return fault

    def job(
        self,
        route: str = "*",
        *,
        failure_rate: float = 0.0,
        validation_failure_rate: float = 0.0,
        stall: bool = False,
        stall_rate: float = 0.0,
        slow: float = 0.0,
        times: int | None = None,
    ) -> JobFault:
        """Add a job fault (see :class:`JobFault`) and return it.

        Raises:
            ValueError: a rate outside 0..1.
        """
        for name, value in (
            ("failure_rate", failure_rate),
            ("validation_failure_rate", validation_failure_rate),
            ("stall_rate", stall_rate),
        ):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        fault = JobFault(
            route=route,
            failure_rate=failure_rate,
            validation_failure_rate=validation_failure_rate,
            stall=stall,
            stall_rate=stall_rate,
            slow=slow,
            times=times,
        )
        with self._lock:
            self.jobs.append(fault)
        return fault

    def events(
        self, event_type: str = "*", *, duplicate_rate: float = 0.0, reorder: bool = False
    ) -> EventFault:
        """Add an event delivery fault (see :class:`EventFault`) and return it.

        Raises:
            ValueError: a rate outside 0..1.
        """
        if not 0.0 <= duplicate_rate <= 1.0:
            raise ValueError("duplicate_rate must be between 0 and 1")
        fault = EventFault(event_type=event_type, duplicate_rate=duplicate_rate, reorder=reorder)
        with self._lock:
            self.event_faults.append(fault)
        return fault

    def remove(self, fault: RouteFault | JobFault | EventFault) -> None:
        """Remove one fault (no error if already gone)."""
        with self._lock:
            for bucket in (self.routes, self.jobs, self.event_faults):
                if fault in bucket:
                    bucket.remove(fault)  # type: ignore[arg-type]

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self.routes.clear()
            self.jobs.clear()
            self.event_faults.clear()

    def _roll(self, rate: float) -> bool:
        return rate >= 1.0 or (rate > 0.0 and self.rng.random() < rate)

    def for_request(self, service: str, method: str, route: str, path: str) -> RouteFault | None:
        """Return the first live fault covering a request, counting the hit."""
        with self._lock:
            for fault in self.routes:
                if fault.exhausted or not fault.applies(service, method, route, path):
                    continue
                if not self._roll(fault.rate):
                    continue
                fault.hits += 1
                return fault
        return None

    def plan_job(self, route: str) -> JobPlan:
        """Decide the fate of a new job of import ``Service/Method``."""
        with self._lock:
            for fault in self.jobs:
                if (fault.times is not None and fault.hits >= fault.times) or not _matches(
                    fault.route, route
                ):
                    continue
                fault.hits += 1
                outcome = "process"
                if self._roll(fault.failure_rate):
                    outcome = "fail"
                elif self._roll(fault.validation_failure_rate):
                    outcome = "validation_fail"
                stall = fault.stall or self._roll(fault.stall_rate)
                return JobPlan(outcome=outcome, stall=stall, slow=fault.slow)
        return JobPlan()

    def event_fault(self, event_type: str) -> EventFault | None:
        """The first event fault for ``event_type``."""
        with self._lock:
            return next((f for f in self.event_faults if _matches(f.event_type, event_type)), None)

    def duplicate(self, fault: EventFault | None) -> bool:
        """Roll for a duplicate delivery."""
        if fault is None:
            return False
        with self._lock:
            return self._roll(fault.duplicate_rate)

    def shuffle(self, items: list[object]) -> None:
        """Shuffle ``items`` in place so that the order always changes (len >= 2)."""
        if len(items) < 2:
            return
        original = list(items)
        with self._lock:
            self.rng.shuffle(items)
        if items == original:
            items.reverse()


def fault_response(fault: RouteFault, service: str) -> EmulatorResponse:
    """What a request hit by ``fault`` (a drop or a status) gets, in ``service``'s error shape."""
    if fault.drop:
        return EmulatorResponse(
            0, drop=fault.drop, delay=fault.latency, real_delay=fault.real_latency
        )
    status = fault.status or 500
    headers: dict[str, str] = {}
    if fault.retry_after is not None:
        headers["Retry-After"] = str(max(0, math.ceil(fault.retry_after)))
    message = f"Injected fault: HTTP {status}."
    if service == "query":
        response = json_response(
            status, {"error": {"code": str(status), "message": message}}, headers
        )
    elif service == "token":
        response = json_response(
            status, {"error": "temporarily_unavailable", "error_description": message}, headers
        )
    else:
        response = error(status, message, headers)
    return attrs.evolve(response, delay=fault.latency, real_delay=fault.real_latency)
