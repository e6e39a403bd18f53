"""`NorceEmulator`: Norce Commerce (token, Connect, Query, Event) in one process.

The emulator is one sans-IO function, :meth:`NorceEmulator.handle`, from an
:class:`EmulatorRequest` to an :class:`EmulatorResponse`, shared by two thin shells: an
httpx transport (:meth:`NorceEmulator.transport`, sync and async) and an ASGI app
(:attr:`NorceEmulator.asgi_app`, served by :meth:`NorceEmulator.serve` or the CLI).

Time is the emulator's clock. Nothing runs in the background in-process: on every request,
and on :meth:`~NorceEmulator.advance` / :meth:`~NorceEmulator.run_due`, everything due by
the clock is processed (job transitions, webhook attempts), each at its own due time.

Routes (all paths case-insensitive), each owned by one part:

* ``POST /identity/1.0/connect/token`` — OAuth2 client credentials (:mod:`._token`).
* ``POST /commerce/connect/4.0/{Product|Customer|Supplier}/Import...`` — the nine imports,
  and ``GET /commerce/connect/4.0/[api/]Job/{Get?id=|GetLog?id=|List|Ping}`` — the Job
  service (:mod:`._connect_service`).
* ``POST /commerce/connect/4.0/Order/{CreateInvoice|...|SendOrderStatus}`` — the Order
  service; orders are pushed to the Order Receiver (:mod:`._orders`).
* ``GET /commerce/query/2.0/{Namespace}/{EntitySet}...`` — Query 2.0, OData
  (:mod:`._query_service` over :mod:`._query`).
* ``/_emulator/...`` — the emulator's own admin API (no auth; :mod:`._admin`).

Webhook subscriptions, delivery and the due-work pump are :mod:`._delivery`; simulated
Admin changes and checkouts :mod:`._back_office`; fault injection :mod:`._faults`. This
class composes them: it holds the configuration and the one lock, routes each request to
the part that owns its path, and keeps the public API.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal

import attrs
import httpx

from .._settings import NorceSettings
from ._admin import acomplete_action, complete_action, handle_admin
from ._back_office import BackOffice
from ._clock import Clock, ManualClock, SystemClock, iso_utc
from ._connect_service import ConnectService
from ._core import EmulatorRequest, EmulatorResponse, error
from ._data import EmulatorData
from ._delivery import DeliveryService
from ._events import RETRY_DELAYS, DeliveryAttempt, EventBus, PendingDelivery, Subscription
from ._faults import Faults, fault_response
from ._jobs import JobTimings
from ._orders import OrderPushPolicy, OrderService, OrderServiceRules
from ._query_service import QUERY_PREFIX, QueryService
from ._server import EmulatorASGIApp, EmulatorServer, serve_in_thread
from ._spool import BodySpool
from ._tables import Table
from ._token import TokenRateLimit, TokenService
from ._transport import EmulatorTransport


__all__ = ["NorceEmulator", "TokenRateLimit"]

DEFAULT_BASE_URL = "http://norce-emulator.local"
CONNECT_PREFIX = "/commerce/connect/4.0/"
TOKEN_PATH = "/identity/1.0/connect/token"  # noqa: S105 - a path, not a secret
ADMIN_PREFIX = "/_emulator"


class NorceEmulator:
    """An in-process Norce Commerce: token endpoint, Connect, Query 2.0 and Event webhooks.

    Use it in tests through :meth:`transport` (httpx, sync and async) or serve it over
    HTTP with :meth:`serve` / ``norce-integration emulator``. A fresh emulator holds seed
    data: currencies SEK, EUR, NOK, DKK, USD; price lists ``STD`` (SEK, primary), ``EUR``,
    ``NOK``; categories ``root``, ``clothing``, ``shoes``, ``accessories``; warehouse
    ``MAIN`` with location ``MAIN``.

    Args:
        client_id: OAuth2 client id the token endpoint accepts.
        client_secret: its secret.
        application_id: the application id (events' ``ApplicationId``, settings).
        account_id: the default system account id (``AccountId``) for settings. Imports
            may use any positive account id; FullFile product scopes are per account.
        norce_client_id: Norce's numeric client (tenant) id, events' ``ClientId``.
        base_url: the scheme and host the in-process transport pretends to be.
        clock: a :class:`ManualClock` (tests) or :class:`SystemClock` (default).
        seed: seeds fault injection and generated GUIDs.
        token_lifetime: seconds a token lives (``expires_in``), on the emulator clock.
        token_rate_limit: True or a :class:`TokenRateLimit` to enforce the token
            endpoint's limit (429 with ``Retry-After``); off by default.
        job_timings: how long jobs stay Queued and Initialized.
        max_body_bytes: larger request bodies get 413 (Norce's limit is UNCONFIRMED).
        spool_memory_bytes: bodies larger than this are spooled to a temporary file.
        default_culture: culture of ``DefaultName``/``ErpName``.
        auto_create_warehouses: on-hands for unknown warehouses/locations create them
            (default) or are ignored with a warning.
        delivery_transport: transport for webhook deliveries: an ``httpx.BaseTransport``
            enables synchronous delivery, an ``httpx.AsyncBaseTransport`` (e.g.
            ``httpx.ASGITransport``) asynchronous delivery (:meth:`arun_due`,
            :meth:`aadvance`, async clients); ``httpx.MockTransport`` does both. None: the
            network (both).
        delivery_timeout: seconds before a delivery counts as a timeout (documented: 5).
        retry_delays: seconds between delivery attempts (documented schedule).
        auto_deliver: deliver due webhooks after every request through the transport or
            the ASGI app (otherwise only on :meth:`run_due`/:meth:`advance`).
        page_size: Query server page size (documented: 500).
    """

    def __init__(
        self,
        *,
        client_id: str = "norce-emulator",
        client_secret: str = "emulator-secret",  # noqa: S107 - a fake tenant's well-known secret
        application_id: int = 1042,
        account_id: int = 1,
        norce_client_id: int = 1042,
        base_url: str = DEFAULT_BASE_URL,
        clock: Clock | None = None,
        seed: int | None = 0,
        token_lifetime: float = 3600.0,
        token_rate_limit: bool | TokenRateLimit = False,
        job_timings: JobTimings | None = None,
        max_body_bytes: int = 512 * 1024**2,
        spool_memory_bytes: int = 8 * 1024**2,
        default_culture: str = "sv-SE",
        auto_create_warehouses: bool = True,
        delivery_transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
        delivery_timeout: float = 5.0,
        retry_delays: Sequence[float] = RETRY_DELAYS,
        auto_deliver: bool = True,
        page_size: int = 500,
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret are required")
        self.client_id = client_id
        self._client_secret = client_secret
        self.application_id = application_id
        self.account_id = account_id
        self.norce_client_id = norce_client_id
        self.base_url = base_url.rstrip("/")
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.token_lifetime = token_lifetime
        self.token_rate_limit: TokenRateLimit | None = (
            TokenRateLimit() if token_rate_limit is True else token_rate_limit or None
        )
        self.job_timings = job_timings or JobTimings()
        self.max_body_bytes = max_body_bytes
        self.spool_memory_bytes = spool_memory_bytes
        self.delivery_transport = delivery_transport
        self.delivery_timeout = delivery_timeout
        self.auto_deliver = auto_deliver
        self.page_size = page_size
        self.faults = Faults(seed)
        self.events = EventBus(self.faults, tuple(retry_delays))
        self.data = EmulatorData(
            client_id=norce_client_id,
            application_id=application_id,
            default_culture=default_culture,
            seed=seed,
            auto_create_warehouses=auto_create_warehouses,
            now=self.clock.now(),
        )
        self._lock = threading.RLock()
        self.orders = OrderService(self, self._lock)
        self._token_service = TokenService(self, self._lock)
        self._connect = ConnectService(self, self._lock, self._token_service)
        self._query = QueryService(self, self._lock, self._token_service)
        self._delivery = DeliveryService(self, self._lock, self._connect)
        self._back_office = BackOffice(self, self._lock)
        self._closed = False
        self._asgi: Any = None

    # -- lifecycle ------------------------------------------------------------------

    def close(self) -> None:
        """Release spooled bodies of unfinished jobs. Idempotent."""
        with self._lock:
            self._closed = True
            self._connect.close()

    def __enter__(self) -> NorceEmulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"NorceEmulator(base_url={self.base_url!r}, clock={self.clock!r})"

    # -- shells ---------------------------------------------------------------------

    def transport(self) -> EmulatorTransport:
        """An httpx transport for both ``httpx.Client`` and ``httpx.AsyncClient``."""
        return EmulatorTransport(self)

    @property
    def asgi_app(self) -> Callable[..., Any]:
        """The emulator as an ASGI 3 application (with a lifespan that pumps due work)."""
        if self._asgi is None:
            self._asgi = EmulatorASGIApp(self)
        return self._asgi  # type: ignore[no-any-return]

    @contextlib.contextmanager
    def serve(
        self, host: str = "127.0.0.1", port: int = 0, *, log_level: str = "warning"
    ) -> Iterator[EmulatorServer]:
        """Serve the emulator with uvicorn in a background thread.

        Example:
            >>> with NorceEmulator().serve() as server:  # doctest: +SKIP
            ...     settings = server.settings()

        Yields:
            The running server; ``server.base_url`` and ``server.settings()``.

        Raises:
            OSError: the address cannot be bound.
        """
        with serve_in_thread(self, host=host, port=port, log_level=log_level) as server:
            yield server

    def settings(self, base_url: str | None = None, **overrides: Any) -> NorceSettings:
        """:class:`NorceSettings` pointing at this emulator with its credentials.

        Args:
            base_url: ``scheme://host[:port]`` (default: the in-process base URL).
            **overrides: any other :class:`NorceSettings` field.
        """
        base = (base_url or self.base_url).rstrip("/")
        values: dict[str, Any] = {
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "application_id": self.application_id,
            "account_id": self.account_id,
            "connect_url": base + CONNECT_PREFIX,
            "query_url": base + QUERY_PREFIX,
            "token_url": base + TOKEN_PATH,
        }
        values.update(overrides)
        return NorceSettings(**values)

    @property
    def client_secret(self) -> str:
        """The OAuth2 secret (a fake tenant's; shown by the CLI, never logged)."""
        return self._client_secret

    # -- the core -------------------------------------------------------------------

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        """Answer one request (the sans-IO core shared by every shell).

        Takes ownership of a spooled body: it is handed to a job or closed.
        """
        try:
            return self._handle(request)
        finally:
            body = request.body
            if isinstance(body, BodySpool) and not body.owned:
                body.close()

    def _handle(self, request: EmulatorRequest) -> EmulatorResponse:
        with self._lock:
            self._connect.process_due_locked()
        method = request.method.upper()
        path = request.path if request.path.startswith("/") else "/" + request.path
        low = path.lower()
        if low == ADMIN_PREFIX or low.startswith(ADMIN_PREFIX + "/"):
            return handle_admin(self, request, method, path[len(ADMIN_PREFIX) :].strip("/"))
        if low == TOKEN_PATH:
            service, route = "token", "token"
        elif low.startswith(CONNECT_PREFIX):
            service = "connect"
            route = path[len(CONNECT_PREFIX) :].strip("/")
            if route.lower().startswith("api/"):
                route = route[4:]
        elif low.startswith(QUERY_PREFIX):
            service, route = "query", path[len(QUERY_PREFIX) :]
        else:
            return error(404, f"No emulated Norce service at {path}.")
        fault = self.faults.for_request(service, method, route, path)
        if fault is not None and (fault.drop or fault.status):
            return fault_response(fault, service)
        if service == "token":
            response = self._token_service.handle(request, method)
        elif service == "connect":
            response = self._connect.handle(request, method, route)
        else:
            response = self._query.handle(request, method, route)
        if fault is not None:
            response = attrs.evolve(response, delay=fault.latency, real_delay=fault.real_latency)
        return response

    # -- token ----------------------------------------------------------------------

    def issue_token(self) -> str:
        """Issue a bearer token directly (for tests that skip the token endpoint)."""
        return self._token_service.issue()

    # -- Connect jobs ---------------------------------------------------------------

    def process_due_jobs(self) -> None:
        """Run every job transition due by now (no webhook delivery)."""
        with self._lock:
            self._connect.process_due_locked()

    def get_job(self, job_id: int) -> dict[str, Any]:
        """The ``JobDto`` of a job (after processing what is due).

        Raises:
            KeyError: no such job.
        """
        return self._connect.dto(job_id)

    def job_log(self, job_id: int) -> list[dict[str, Any]]:
        """The ``JobLogDto[]`` of a job.

        Raises:
            KeyError: no such job.
        """
        return self._connect.log_dto(job_id)

    @property
    def jobs(self) -> list[dict[str, Any]]:
        """``JobDto`` of every job, oldest first."""
        return self._connect.dtos()

    @property
    def job_history(self) -> list[dict[str, Any]]:
        """Every job's life, oldest first, for checks a ``JobDto`` cannot answer:
        ``JobId``, ``Import`` (``Service/Method``), ``AccountId``, ``FullFile``,
        ``Totals``, ``StatusId``, ``Created`` (when the import was accepted) and
        ``Stop`` (when it ended; ``None`` while it runs), as aware datetimes."""
        return self._connect.history()

    def release_job(self, job_id: int) -> None:
        """Let a stalled job go on: it finishes ``running`` seconds from now.

        Raises:
            KeyError: no such job.
        """
        self._connect.release(job_id)

    # -- Query ----------------------------------------------------------------------

    def table(self, namespace: str, name: str) -> Table:
        """The Query table ``namespace/name`` (rows are live; do not mutate).

        Raises:
            KeyError: no such entity set.
        """
        return self._query.table(namespace, name)

    # -- the clock and the pump -----------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move a :class:`ManualClock` forward, running everything due on the way at its
        own time: job transitions and webhook attempts (synchronously).

        Raises:
            TypeError: the clock is not a :class:`ManualClock`.
            ValueError: ``seconds`` is negative.
        """
        self._delivery.advance(seconds)

    async def aadvance(self, seconds: float) -> None:
        """:meth:`advance` with asynchronous webhook delivery (e.g. ``httpx.ASGITransport``).

        Raises:
            TypeError: the clock is not a :class:`ManualClock`.
            ValueError: ``seconds`` is negative.
        """
        await self._delivery.aadvance(seconds)

    def run_due(self) -> None:
        """Process every job transition and webhook attempt due now (sync delivery)."""
        self._delivery.run_due()

    async def arun_due(self) -> None:
        """Process everything due now, delivering webhooks asynchronously."""
        await self._delivery.arun_due()

    def delay(self, response: EmulatorResponse) -> None:
        """Wait out injected latency: wall clock, or emulator clock (a ManualClock just
        advances)."""
        if response.delay <= 0:
            return
        if response.real_delay:
            time.sleep(response.delay)
        else:
            self.clock.sleep(response.delay)

    async def adelay(self, response: EmulatorResponse) -> None:
        """:meth:`delay` without blocking the event loop."""
        if response.delay <= 0:
            return
        if response.real_delay:
            await asyncio.sleep(response.delay)
        elif isinstance(self.clock, ManualClock):
            self.clock.sleep(response.delay)
        else:
            await asyncio.sleep(self.clock.real_seconds(response.delay))

    def _after_request_sync(self) -> None:
        self._delivery.after_request_sync()

    async def _after_request_async(self) -> None:
        await self._delivery.after_request_async()

    # -- admin ----------------------------------------------------------------------

    def complete_action(self, response: EmulatorResponse) -> EmulatorResponse:
        """Finish an admin action synchronously (shell helper)."""
        return complete_action(self, response)

    async def acomplete_action(self, response: EmulatorResponse) -> EmulatorResponse:
        """Finish an admin action asynchronously (shell helper)."""
        return await acomplete_action(self, response)

    def admin_status(self) -> dict[str, Any]:
        """Clock and queue figures (admin endpoint)."""
        with self._lock:
            return {
                "now": iso_utc(self.clock.now()),
                "active_jobs": self._connect.active_count,
                "pending_deliveries": len(self.events.pending),
                "deliveries": len(self.events.deliveries),
                "dead_letters": len(self.events.dead),
                "pending_order_pushes": len(self.orders.pending),
                "escalated_orders": len(self.orders.escalated),
            }

    # -- events ---------------------------------------------------------------------

    def subscribe(
        self,
        event_type: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        enabled: bool = True,
        entities: Sequence[str] | None = None,
    ) -> Subscription:
        """Configure the webhook of ``event_type`` (as in Norce Admin → Events).

        Args:
            event_type: a documented event type, e.g. ``SkuChangedNotification``.
            url: the receiver URL.
            headers: static headers sent with every delivery.
            enabled: ON/OFF; while OFF nothing is tracked.
            entities: only these ``EntityChanged`` tables trigger it (Event Settings);
                None means all.

        Raises:
            ValueError: unknown event type or not an http(s) URL.
        """
        return self._delivery.subscribe(
            event_type, url, headers=headers, enabled=enabled, entities=entities
        )

    def unsubscribe(self, event_type: str) -> None:
        """Remove the webhook of ``event_type``.

        Raises:
            ValueError: unknown event type.
        """
        self._delivery.unsubscribe(event_type)

    @property
    def subscriptions(self) -> dict[str, Subscription]:
        """Current subscriptions by event type."""
        return self._delivery.subscriptions()

    @property
    def deliveries(self) -> list[DeliveryAttempt]:
        """Every delivery attempt so far, in order."""
        return self._delivery.deliveries()

    @property
    def pending_deliveries(self) -> list[PendingDelivery]:
        """Deliveries waiting for their next attempt."""
        return self._delivery.pending()

    @property
    def dead_letters(self) -> list[PendingDelivery]:
        """Events whose last retry failed (never redelivered)."""
        return self._delivery.dead_letters()

    # -- simulated back-office changes ---------------------------------------------

    def set_sku_price(
        self,
        part_no: str,
        price_sale: Decimal | float | str,
        *,
        price_list_code: str | None = None,
        quantity_break: int = 1,
    ) -> dict[str, Any]:
        """Change a SKU's sale price as an Admin user would.

        Fires ``SkuPriceChangedNotification`` and ``SkuChangedNotification``
        (``tClientProductSkuPriceList``).

        Raises:
            KeyError: unknown SKU or price list.
            ValueError: not a price.
        """
        return self._back_office.set_sku_price(
            part_no, price_sale, price_list_code=price_list_code, quantity_break=quantity_break
        )

    def set_sku_onhand(
        self,
        part_no: str,
        onhand_value: Decimal | float | int | str,
        *,
        warehouse_code: str = "MAIN",
        location_code: str = "MAIN",
        minimum_value: Decimal | float | int | str | None = None,
    ) -> dict[str, Any]:
        """Change a SKU's stock; fires ``SkuChangedNotification``
        (``tClientProductSkuOnHand``) and, when the value reaches the row's
        ``MinimumValue``, ``SkuOnHandBreakPointNotification``.

        Raises:
            KeyError: unknown SKU.
            ValueError: not a number.
        """
        return self._back_office.set_sku_onhand(
            part_no,
            onhand_value,
            warehouse_code=warehouse_code,
            location_code=location_code,
            minimum_value=minimum_value,
        )

    def set_sku_name(self, part_no: str, name: str, *, culture_code: str | None = None) -> None:
        """Rename the product (variant) of a SKU in one culture (default culture: its
        ``DefaultName``). Fires ``SkuChangedNotification`` (``tClientProductSkuCulture``).

        Raises:
            KeyError: unknown SKU.
        """
        self._back_office.set_sku_name(part_no, name, culture_code=culture_code)

    def set_sku_status(self, part_no: str, status: int | str) -> None:
        """Change a SKU's status (id or name, e.g. ``"Inactive"``); fires
        ``SkuChangedNotification`` (``tClientProductSku``).

        Raises:
            KeyError: unknown SKU.
            ValueError: unknown status.
        """
        self._back_office.set_sku_status(part_no, status)

    def update_customer(self, customer_id: int, **fields: Any) -> dict[str, Any]:
        """Change a customer's fields (PascalCase names: ``FirstName``, ``EmailAddress``,
        ``IsActive``...) as an Admin user would; fires ``CustomerChangedNotification``
        (``tClientCustomer``).

        Raises:
            KeyError: unknown customer.
            ValueError: a field that the Query row does not have or that is a key.
        """
        return self._back_office.update_customer(customer_id, **fields)

    def add_category(
        self, code: str, name: str, *, parent_code: str | None = None
    ) -> dict[str, Any]:
        """Create or rename a category (Admin data; imports only link to categories)."""
        return self._back_office.add_category(code, name, parent_code=parent_code)

    # -- simulated orders -----------------------------------------------------------

    def create_order(
        self,
        items: Sequence[Mapping[str, Any] | tuple[str, int]],
        *,
        customer_id: int | None = None,
        company_id: int | None = None,
        order_no: str | None = None,
        source: str = "WEB",
        currency_code: str = "SEK",
        application_id: int | None = None,
    ) -> dict[str, Any]:
        """Simulate a checkout: an order in ``Orders/Orders`` (StatusId 0 Created) and an
        ``OrderReceivedEvent``.

        Args:
            items: ``(PartNo, quantity)`` pairs or mappings with ``PartNo``, ``Quantity``
                and optionally ``PriceSale`` (default: the SKU's primary list price).
            customer_id: buyer customer id.
            company_id: buyer company id.
            order_no: the ERP order number (default: generated).
            source: ``WEB`` for Norce checkout, else a marketplace/POS name.
            currency_code: order currency.
            application_id: defaults to the emulator's application.

        Returns:
            The order row.

        Raises:
            KeyError: unknown SKU, customer or currency.
        """
        return self._back_office.create_order(
            items,
            customer_id=customer_id,
            company_id=company_id,
            order_no=order_no,
            source=source,
            currency_code=currency_code,
            application_id=application_id,
        )

    def confirm_order(self, order_id: int) -> dict[str, Any]:
        """ERP confirmation: StatusId 2 and ``OrderConfirmedEvent`` (once per order).

        Raises:
            KeyError: unknown order.
        """
        return self._back_office.order_event(order_id, 2, "OrderConfirmedEvent")

    def ship_order(self, order_id: int, *, partial: bool = False) -> dict[str, Any]:
        """Delivery: StatusId 4 and ``OrderDeliveredEvent`` (or 8 and
        ``OrderPartlyDeliveredEvent`` when ``partial``).

        Raises:
            KeyError: unknown order.
        """
        if partial:
            return self._back_office.order_event(order_id, 8, "OrderPartlyDeliveredEvent")
        return self._back_office.order_event(order_id, 4, "OrderDeliveredEvent")

    def ready_for_pickup(self, order_id: int, drop_point_code: str | None = None) -> dict[str, Any]:
        """StatusId 11 and ``OrderReadyForPickupEvent``.

        Raises:
            KeyError: unknown order.
        """
        return self._back_office.order_event(
            order_id, 11, "OrderReadyForPickupEvent", DropPointCode=drop_point_code
        )

    def cancel_order(self, order_id: int) -> dict[str, Any]:
        """Cancellation: StatusId 6 and ``OrderCancelledEvent``.

        Raises:
            KeyError: unknown order.
        """
        return self._back_office.order_event(order_id, 6, "OrderCancelledEvent")

    # -- the Order Receiver ---------------------------------------------------------

    def set_order_receiver(
        self,
        url: str | None,
        *,
        username: str | None = None,
        password: str | None = None,
        endpoint_type: Literal["REST", "REST (Legacy)"] = "REST",
        policy: OrderPushPolicy | None = None,
        rules: OrderServiceRules | None = None,
    ) -> None:
        """Configure the ERP integration (Admin → Client settings → ERP integration).

        Args:
            url: the Order Receiver's URL; None is "No Integration" (nothing pushed).
            username: HTTP Basic user.
            password: HTTP Basic password.
            endpoint_type: ``"REST"`` (post to ``url``) or ``"REST (Legacy)"`` (post to
                ``url/CreateOrder``, INFERRED).
            policy: retry schedule, timeout, and whether ``Failed`` is retried (OPEN in
                Norce's docs; see :class:`~._orders.OrderPushPolicy`).
            rules: how strict the emulated Order service is
                (:class:`~._orders.OrderServiceRules`).

        Raises:
            ValueError: not an http(s) URL or an unknown endpoint type.
        """
        self.orders.set_receiver(
            url,
            username=username,
            password=password,
            endpoint_type=endpoint_type,
            policy=policy,
            rules=rules,
        )

    def place_order(
        self,
        items: Sequence[Mapping[str, Any] | tuple[str, int]],
        *,
        customer_id: int | None = None,
        source: str = "WEB",
        currency_code: str = "SEK",
        payment_code: int = 1,
        payment_method_code: str = "CARD",
        delivery_method_code: str = "STANDARD",
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A checkout: :meth:`create_order`, then the ``OrderRequest`` is pushed to the
        Order Receiver (on :meth:`run_due`/:meth:`arun_due`/:meth:`advance`, with the
        push policy's retries). Until the receiver answers, ``OrderNo`` is the basket id.

        Args:
            items: ``(PartNo, quantity)`` pairs or mappings (as :meth:`create_order`).
            customer_id: buyer customer id.
            source: ``WEB`` for Norce checkout.
            currency_code: order currency.
            payment_code: the payment's ``PaymentCode``.
            payment_method_code: the payment's ``PaymentMethodCode``.
            delivery_method_code: ``ShippingAdvice.DeliveryMethodCode``.
            extra: more ``OrderRequest`` members (PascalCase), e.g. unknown fields.

        Returns:
            The order row, plus ``ClientOrderRef`` and the pushed ``OrderRequest``.

        Raises:
            KeyError: unknown SKU, customer or currency.
        """
        return self._back_office.place_order(
            items,
            customer_id=customer_id,
            source=source,
            currency_code=currency_code,
            payment_code=payment_code,
            payment_method_code=payment_method_code,
            delivery_method_code=delivery_method_code,
            extra=extra,
        )
