"""The emulator's admin HTTP API under ``/_emulator`` (no authentication; JSON in and out).

It mirrors the Python API so a served emulator (``norce-integration emulator``) can be
driven from any language. Keys are snake_case; entity fields are Norce's PascalCase.

* ``GET /`` or ``/info`` — URLs, ids, clock and queue figures.
* ``POST /clock/advance`` ``{"seconds": 30}`` — move a ManualClock (runs what falls due).
* ``POST /run-due`` — process everything due now.
* ``GET /jobs`` — every ``JobDto``; ``POST /jobs/{id}/release`` — release a stalled job.
* ``GET /subscriptions``; ``PUT /subscriptions/{EventType}``
  ``{"url", "headers", "enabled", "entities"}``; ``DELETE /subscriptions/{EventType}``.
* ``GET /deliveries`` (``?event_type=``), ``/deliveries/pending``, ``/deliveries/dead``.
* ``POST /skus/{PartNo}/price`` ``{"price_sale", "price_list_code", "quantity_break"}``.
* ``POST /skus/{PartNo}/onhand``
  ``{"onhand_value", "warehouse_code", "location_code", "minimum_value"}``.
* ``POST /skus/{PartNo}/name`` ``{"name", "culture_code"}``;
  ``POST /skus/{PartNo}/status`` ``{"status"}``.
* ``PATCH /customers/{Id}`` ``{"FirstName": ...}`` (PascalCase row fields).
* ``POST /categories`` ``{"code", "name", "parent_code"}``.
* ``POST /orders`` ``{"items": [{"PartNo", "Quantity"}], "customer_id", "order_no", ...}``;
  ``POST /orders/{Id}/{confirm|ship|ship-partial|ready-for-pickup|cancel}``.
* ``POST /faults`` (route fault: :meth:`Faults.add` arguments), ``POST /faults/jobs``
  (:meth:`Faults.job`), ``POST /faults/events`` (:meth:`Faults.events`),
  ``DELETE /faults`` (clear all).
* The Order Receiver and order pushes: see :meth:`~._orders.OrderService.handle_admin`.

Clock and pump actions (``/clock/advance``, ``/run-due``) are answered in two steps: the
sans-IO core returns an action, and the shell finishes it with :func:`complete_action`
or :func:`acomplete_action` (the async one delivers webhooks without blocking a loop).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import orjson

from ._core import EmulatorRequest, EmulatorResponse, error, json_response
from ._spool import BodySpool, BodyTooLargeError, spool_body


if TYPE_CHECKING:
    from ._emulator import NorceEmulator


__all__ = ["acomplete_action", "complete_action", "handle_admin"]

_LIMIT = 1024 * 1024


def _body(request: EmulatorRequest) -> dict[str, Any]:
    spool = spool_body(request.body, max_bytes=_LIMIT)
    try:
        raw = spool.read_all(_LIMIT)
    finally:
        if not isinstance(request.body, BodySpool):
            spool.close()
    if not raw.strip():
        return {}
    value = orjson.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("the body must be a JSON object")
    return value


def handle_admin(
    emulator: NorceEmulator, request: EmulatorRequest, method: str, rest: str
) -> EmulatorResponse:
    """Answer one admin request (``rest`` = path after ``/_emulator/``)."""
    parts = [p for p in rest.split("/") if p]
    try:
        body = _body(request) if method in ("POST", "PUT", "PATCH") else {}
        if emulator.orders.is_admin_route(method, parts):
            answer = emulator.orders.handle_admin(method, parts, body)
            if answer is not None:
                return answer
        return _route(emulator, request, method, parts, body)
    except BodyTooLargeError as exc:
        return error(413, str(exc))
    except KeyError as exc:
        return error(404, str(exc.args[0]) if exc.args else "not found")
    except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
        return error(400, str(exc))


def complete_action(emulator: NorceEmulator, response: EmulatorResponse) -> EmulatorResponse:
    """Finish a clock or pump action synchronously; answer the admin status."""
    if response.action == "advance":
        try:
            emulator.advance(response.action_seconds)
        except TypeError as exc:
            return error(409, str(exc))
    elif response.action == "run_due":
        emulator.run_due()
    return json_response(200, emulator.admin_status())


async def acomplete_action(emulator: NorceEmulator, response: EmulatorResponse) -> EmulatorResponse:
    """:func:`complete_action`, delivering webhooks asynchronously."""
    if response.action == "advance":
        try:
            await emulator.aadvance(response.action_seconds)
        except TypeError as exc:
            return error(409, str(exc))
    elif response.action == "run_due":
        await emulator.arun_due()
    return json_response(200, emulator.admin_status())


def _route(
    emu: NorceEmulator,
    request: EmulatorRequest,
    method: str,
    parts: list[str],
    body: dict[str, Any],
) -> EmulatorResponse:
    head = parts[0].lower() if parts else "info"
    if head == "info" and method == "GET":
        return json_response(
            200,
            {
                "name": "norce-integration emulator",
                "connect_url": f"{request.base_url}/commerce/connect/4.0/",
                "query_url": f"{request.base_url}/commerce/query/2.0/",
                "token_url": f"{request.base_url}/identity/1.0/connect/token",
                "client_id": emu.client_id,
                "application_id": emu.application_id,
                "account_id": emu.account_id,
                "clock": type(emu.clock).__name__,
                **emu.admin_status(),
            },
        )
    if head == "clock" and parts[1:2] == ["advance"] and method == "POST":
        return EmulatorResponse(200, action="advance", action_seconds=float(body["seconds"]))
    if head == "run-due" and method == "POST":
        return EmulatorResponse(200, action="run_due")
    if head == "jobs":
        if len(parts) == 1 and method == "GET":
            return json_response(200, emu.jobs)
        if len(parts) == 3 and parts[2] == "release" and method == "POST":
            emu.release_job(int(parts[1]))
            return json_response(200, emu.get_job(int(parts[1])))
    if head == "subscriptions":
        return _subscriptions(emu, method, parts, body)
    if head == "deliveries" and method == "GET":
        kind = parts[1] if len(parts) > 1 else ""
        if kind == "pending":
            return json_response(200, [_pending(p) for p in emu.pending_deliveries])
        if kind == "dead":
            return json_response(200, [_pending(p) for p in emu.dead_letters])
        wanted = parse_qs(request.query).get("event_type", [None])[0]
        return json_response(
            200,
            [d.to_json() for d in emu.deliveries if wanted is None or d.event_type == wanted],
        )
    if head == "skus" and len(parts) == 3 and method == "POST":
        return _sku_change(emu, parts[1], parts[2].lower(), body)
    if head == "customers" and len(parts) == 2 and method in ("PATCH", "POST"):
        return json_response(200, emu.update_customer(int(parts[1]), **body))
    if head == "categories" and method == "POST":
        return json_response(
            200, emu.add_category(body["code"], body["name"], parent_code=body.get("parent_code"))
        )
    if head == "orders" and method == "POST":
        return _orders(emu, parts, body)
    if head == "faults":
        return _faults(emu, method, parts, body)
    return error(404, f"No admin endpoint {method} /_emulator/{'/'.join(parts)}.")


def _pending(p: Any) -> dict[str, Any]:
    return {
        "event_id": p.event_id,
        "event_type": p.event_type,
        "url": p.url,
        "payload": p.payload,
        "attempt": p.attempt,
        "due": p.due,
    }


def _subscriptions(
    emu: NorceEmulator, method: str, parts: list[str], body: dict[str, Any]
) -> EmulatorResponse:
    if len(parts) == 1 and method == "GET":
        return json_response(200, [s.to_json() for s in emu.subscriptions.values()])
    if len(parts) == 2 and method in ("PUT", "POST"):
        subscription = emu.subscribe(
            parts[1],
            body["url"],
            headers=body.get("headers") or {},
            enabled=bool(body.get("enabled", True)),
            entities=body.get("entities"),
        )
        return json_response(200, subscription.to_json())
    if len(parts) == 2 and method == "DELETE":
        emu.unsubscribe(parts[1])
        return json_response(200, {"deleted": parts[1]})
    return error(405, "Use GET /subscriptions, PUT or DELETE /subscriptions/{EventType}.")


def _sku_change(
    emu: NorceEmulator, part_no: str, what: str, body: dict[str, Any]
) -> EmulatorResponse:
    if what == "price":
        return json_response(
            200,
            emu.set_sku_price(
                part_no,
                body["price_sale"],
                price_list_code=body.get("price_list_code"),
                quantity_break=int(body.get("quantity_break", 1)),
            ),
        )
    if what == "onhand":
        return json_response(
            200,
            emu.set_sku_onhand(
                part_no,
                body["onhand_value"],
                warehouse_code=body.get("warehouse_code", "MAIN"),
                location_code=body.get("location_code", "MAIN"),
                minimum_value=body.get("minimum_value"),
            ),
        )
    if what == "name":
        emu.set_sku_name(part_no, body["name"], culture_code=body.get("culture_code"))
        return json_response(200, {"PartNo": part_no, "name": body["name"]})
    if what == "status":
        emu.set_sku_status(part_no, body["status"])
        return json_response(200, {"PartNo": part_no, "status": body["status"]})
    return error(404, f"No SKU change {what!r}; use price, onhand, name or status.")


def _orders(emu: NorceEmulator, parts: list[str], body: dict[str, Any]) -> EmulatorResponse:
    if len(parts) == 1:
        return json_response(
            200,
            emu.create_order(
                body["items"],
                customer_id=body.get("customer_id"),
                company_id=body.get("company_id"),
                order_no=body.get("order_no"),
                source=body.get("source", "WEB"),
                currency_code=body.get("currency_code", "SEK"),
            ),
        )
    if len(parts) == 3:
        order_id, action = int(parts[1]), parts[2].lower()
        if action == "confirm":
            return json_response(200, emu.confirm_order(order_id))
        if action in ("ship", "ship-partial"):
            return json_response(200, emu.ship_order(order_id, partial=action == "ship-partial"))
        if action == "ready-for-pickup":
            return json_response(200, emu.ready_for_pickup(order_id, body.get("drop_point_code")))
        if action == "cancel":
            return json_response(200, emu.cancel_order(order_id))
    return error(404, "Use POST /orders or /orders/{Id}/{confirm|ship|ship-partial|cancel}.")


def _faults(
    emu: NorceEmulator, method: str, parts: list[str], body: dict[str, Any]
) -> EmulatorResponse:
    if method == "DELETE" and len(parts) == 1:
        emu.faults.clear()
        return json_response(200, {"cleared": True})
    if method != "POST":
        return error(405, "Use POST /faults, /faults/jobs, /faults/events or DELETE /faults.")
    kind = parts[1].lower() if len(parts) > 1 else "routes"
    if kind == "routes":
        fault = emu.faults.add(**body)
        return json_response(200, {"route": fault.route, "status": fault.status})
    if kind == "jobs":
        emu.faults.job(**body)
        return json_response(200, {"added": "job fault"})
    if kind == "events":
        emu.faults.events(**body)
        return json_response(200, {"added": "event fault"})
    return error(404, f"No fault kind {kind!r}.")
