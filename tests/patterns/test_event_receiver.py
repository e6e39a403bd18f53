"""The webhook receiver (``EventHandler.app``): auth, networks, methods, bodies, dedup,
unknown types, store failures, mounting; fuzzed bodies and headers never give a 5xx."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import Mount

from norce_integration import ConfigurationError, StoreError
from norce_integration.event import dedup_key
from norce_integration.patterns import EventHandler, WebhookAuth
from norce_integration.patterns.events._receiver import client_address, fast_dedup_key
from norce_integration.stores import InboxStatus, SqliteStore

from ._event_support import (
    AUTH,
    GOOD,
    SECRET,
    SECRET_HEADER,
    Env,
    Target,
    asgi_call,
    auth_headers,
    sku_body,
)


# The blocking EventHandler, driven from async tests (the emulator delivers through
# httpx.ASGITransport) that read its blocking store directly. The handler's receiver
# writes through its writer thread; the asyncio path is checked without this mark in
# test_event_async.py.
pytestmark = [
    pytest.mark.anyio,
    pytest.mark.blocking_allowed("the blocking EventHandler and Store driven from an async test"),
]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    environment = Env(str(tmp_path / "state.sqlite"))
    yield environment
    environment.close()


@pytest.fixture
def handler(env: Env) -> EventHandler:
    handler = env.handler()
    handler.add_target(Target())
    return handler


def inbox(env: Env) -> list[Any]:
    items = []
    item_id = 1
    while (item := env.store.inbox_get(item_id)) is not None:
        items.append(item)
        item_id += 1
    return items


async def post(
    handler: EventHandler,
    body: bytes,
    *,
    event_type: str = "SkuChangedNotification",
    headers: dict[str, str] | None = None,
    path: str | None = None,
) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=handler.app), base_url="http://receiver.test"
    ) as client:
        return await client.post(
            path or f"/hooks/{event_type}",
            content=body,
            headers=GOOD if headers is None else headers,
        )


# ---------------------------------------------------------------------------- auth


async def test_valid_event_is_stored_before_the_2xx(env, handler):
    response = await post(handler, sku_body("P1"))
    assert response.status_code == 200
    assert response.json() == {"status": "accepted"}
    [item] = inbox(env)
    assert item.event_type == "SkuChangedNotification"
    assert item.payload == sku_body("P1")
    assert item.status is InboxStatus.PENDING


@pytest.mark.parametrize(
    "headers",
    [{}, {SECRET_HEADER: "guess-1234"}, {SECRET_HEADER: SECRET + "x"}, {"X-Other": SECRET}],
    ids=["missing", "wrong", "longer", "other-header"],
)
async def test_without_valid_auth_401_and_nothing_stored(env, handler, headers, caplog):
    caplog.set_level(logging.DEBUG)
    response = await post(handler, sku_body("P1"), headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert inbox(env) == []
    assert env.store.list_dead_letters() == []
    assert SECRET not in caplog.text
    assert "guess-1234" not in caplog.text
    assert "guess-1234" not in response.text
    assert SECRET not in response.text


async def test_auth_uses_constant_time_compare(handler, monkeypatch):
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert (await post(handler, sku_body("P1"), headers={SECRET_HEADER: "nope"})).status_code == 401
    assert (await post(handler, sku_body("P2"))).status_code == 200
    assert calls == [(b"nope", SECRET.encode()), (SECRET.encode(), SECRET.encode())]


async def test_secret_rotation_accepts_every_configured_value(env):
    handler = env.handler(auth=WebhookAuth(SECRET_HEADER, ["old-secret", "new-secret"]))
    handler.add_target(Target())
    for value in ("old-secret", "new-secret"):
        response = await post(handler, sku_body(value), headers={SECRET_HEADER: value})
        assert response.status_code == 200
    response = await post(handler, sku_body("x"), headers={SECRET_HEADER: "older"})
    assert response.status_code == 401


def test_the_secret_never_appears_in_reprs(handler):
    for text in (repr(AUTH), repr(handler), repr(handler.app), str(AUTH)):
        assert SECRET not in text
    assert "***" in repr(AUTH)


def test_webhook_auth_rejects_bad_configuration():
    for header, value in [("", "x"), ("X-A", ""), ("X-A", []), ("X-A", "ünï€")]:
        with pytest.raises(ValueError):
            WebhookAuth(header, value)


def test_unauthenticated_receiver_is_logged(env, caplog):
    caplog.set_level(logging.WARNING)
    handler = env.handler(auth=None)
    handler.add_target(Target())
    assert handler.app is handler.app
    assert "without authentication" in caplog.text


# ---------------------------------------------------------------------------- networks


def test_client_address_counts_trusted_proxy_hops():
    ip = ipaddress.ip_address
    assert client_address("10.0.0.1", [], 0) == ip("10.0.0.1")
    assert client_address("10.0.0.1", ["203.0.113.9"], 1) == ip("203.0.113.9")
    # A client-written entry on the left is never trusted.
    assert client_address("10.0.0.1", ["1.2.3.4, 203.0.113.9"], 1) == ip("203.0.113.9")
    assert client_address("10.0.0.2", ["203.0.113.9", "10.0.0.1"], 2) == ip("203.0.113.9")
    assert client_address("10.0.0.1", [], 1) is None  # did not pass our proxy
    assert client_address("10.0.0.1", ["[2001:db8::1]:443"], 1) == ip("2001:db8::1")
    assert client_address("10.0.0.1", ["198.51.100.7:8080"], 1) == ip("198.51.100.7")
    assert client_address("::ffff:192.0.2.1", [], 0) == ip("192.0.2.1")
    assert client_address("10.0.0.1", ["garbage"], 1) is None
    assert client_address(None, [], 0) is None


async def test_allow_list_refuses_other_sources_with_403(env):
    handler = env.handler(allow_networks=["203.0.113.0/24", "2001:db8::/32"])
    handler.add_target(Target())
    status, *_ = await asgi_call(
        handler.app, headers=auth_headers(), body=sku_body("P1"), client=("203.0.113.50", 1)
    )
    assert status == 200
    status, *_ = await asgi_call(
        handler.app, headers=auth_headers(), body=sku_body("P2"), client=("198.51.100.1", 1)
    )
    assert status == 403
    status, *_ = await asgi_call(
        handler.app, headers=auth_headers(), body=sku_body("P3"), client=None
    )
    assert status == 403
    assert [i.payload for i in inbox(env)] == [sku_body("P1")]


async def test_allow_list_behind_a_trusted_proxy(env):
    handler = env.handler(allow_networks=["203.0.113.0/24"], trusted_proxy_hops=1)
    handler.add_target(Target())
    proxied = auth_headers([(b"x-forwarded-for", b"203.0.113.9")])
    status, *_ = await asgi_call(
        handler.app, headers=proxied, body=sku_body("P1"), client=("10.0.0.1", 1)
    )
    assert status == 200
    spoofed = auth_headers([(b"x-forwarded-for", b"203.0.113.9, 198.51.100.7")])
    status, *_ = await asgi_call(
        handler.app, headers=spoofed, body=sku_body("P2"), client=("10.0.0.1", 1)
    )
    assert status == 403


def test_receiver_options_are_validated(env):
    with pytest.raises(ConfigurationError):
        env.handler(trusted_proxy_hops=-1)
    with pytest.raises(ConfigurationError):
        env.handler(max_body_size=0)
    with pytest.raises(ConfigurationError):
        env.handler(unknown_events="maybe")
    with pytest.raises(ConfigurationError, match="not a network"):
        env.handler(allow_networks=["not a network"])


# ---------------------------------------------------------------------------- method, type, body


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH", "HEAD"])
async def test_wrong_method_is_405(env, handler, method):
    status, headers, _, _ = await asgi_call(handler.app, method=method, headers=auth_headers())
    assert status == 405
    assert headers["allow"] == "POST"
    assert inbox(env) == []


async def test_event_type_from_header_path_or_query_any_case(env, handler):
    body = sku_body("P1")
    assert (await post(handler, body, path="/hooks/skuchangednotification")).status_code == 200
    headers = {**GOOD, "x-norce-event-type": "SKUCHANGEDNOTIFICATION"}
    assert (await post(handler, sku_body("P2"), path="/hooks", headers=headers)).status_code == 200
    response = await post(
        handler, sku_body("P3"), path="/hooks?norceEventType=SkuChangedNotification"
    )
    assert response.status_code == 200
    assert [i.event_type for i in inbox(env)] == ["SkuChangedNotification"] * 3


async def test_missing_event_type_is_400_and_kept(env, handler):
    status, _, body, _ = await asgi_call(handler.app, path="/", headers=auth_headers(), body=b"{}")
    assert status == 400
    assert json.loads(body)["error"] == "missing_event_type"
    [letter] = handler.dead_letters()
    assert letter.source == "webhook:malformed"


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        (b"{not json", None, "not valid JSON"),
        (b"[1, 2]", None, "JSON object"),
        (b'{"ClientId": 1042, "EntityChanged": "tClientProductSku"}', "PartNo", "missing"),
        (b'{"ClientId": "x", "PartNo": "P1", "EntityChanged": "t"}', "ClientId", "integer"),
        (b"\xff\xfe", None, "UTF-8"),
        (b"", None, "JSON"),
    ],
)
async def test_malformed_body_is_400_naming_the_problem_and_kept(
    env, handler, body, field, fragment
):
    response = await post(handler, body)
    assert response.status_code == 400
    data = response.json()
    assert data["error"] == "malformed_event"
    assert fragment in data["detail"]
    assert data.get("field") == field
    assert data["event_type"] == "SkuChangedNotification"
    assert inbox(env) == []
    [letter] = handler.dead_letters()
    assert (letter.source, letter.key, letter.payload) == (
        "webhook:malformed",
        "SkuChangedNotification",
        body,
    )
    assert fragment in letter.error


async def test_oversize_body_refused_by_content_length_without_reading(env):
    handler = env.handler(max_body_size=100)
    handler.add_target(Target())
    headers = auth_headers([(b"content-length", b"1000000")])
    status, _, body, received = await asgi_call(handler.app, headers=headers, body=b"x" * 1000)
    assert status == 400
    assert json.loads(body) == {
        "error": "body_too_large",
        "detail": "the body is larger than 100 bytes",
        "event_type": "SkuChangedNotification",
        "limit": 100,
    }
    assert received == 0
    assert handler.dead_letters()[0].payload == b""


async def test_oversize_streamed_body_stops_reading_at_the_limit(env):
    handler = env.handler(max_body_size=100)
    handler.add_target(Target())
    chunks = [b"y" * 60] * 1000  # 60 kB that would never end up in memory
    status, _, body, received = await asgi_call(handler.app, headers=auth_headers(), chunks=chunks)
    assert status == 400
    assert json.loads(body)["error"] == "body_too_large"
    assert received == 2  # 120 bytes read, then it stopped
    [letter] = handler.dead_letters()
    assert letter.payload == b"y" * 100


async def test_client_disconnect_stores_nothing(env, handler):
    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    sent: list[Any] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/hooks/SkuChangedNotification",
        "headers": auth_headers(),
        "client": ("127.0.0.1", 1),
        "query_string": b"",
    }
    await handler.app(scope, receive, send)
    assert sent == []
    assert inbox(env) == []


# ---------------------------------------------------------------------------- unknown types


async def test_unknown_type_is_acknowledged_and_recorded(env, handler):
    body = b'{"ClientId": 1042, "OrderNo": "A-1"}'
    response = await post(handler, body, event_type="ExportDeliveredEvent")
    assert response.status_code == 200
    assert response.json() == {"status": "recorded"}
    assert inbox(env) == []
    [letter] = handler.dead_letters()
    assert (letter.source, letter.key, letter.payload) == (
        "webhook:unhandled",
        "ExportDeliveredEvent",
        body,
    )


async def test_known_type_without_a_handler_is_recorded_not_processed(env, handler):
    body = b'{"ClientId": 1042, "CustomerId": 5, "EntityChanged": "tClientCustomer"}'
    response = await post(handler, body, event_type="CustomerChangedNotification")
    assert response.json() == {"status": "recorded"}
    assert inbox(env) == []
    assert (
        handler.dead_letters()[0].error == "no handler for event type CustomerChangedNotification"
    )


async def test_unknown_types_can_be_rejected_with_404(env):
    handler = env.handler(unknown_events="reject")
    handler.add_target(Target())
    response = await post(handler, b'{"ClientId": 1}', event_type="ExportDeliveredEvent")
    assert response.status_code == 404
    assert response.json()["error"] == "unhandled_event_type"
    assert handler.dead_letters() == []


# ---------------------------------------------------------------------------- dedup


async def test_redelivery_is_acknowledged_but_stored_once(env, handler):
    first = await post(handler, sku_body("P1"))
    # A proxy may re-serialise the body: key order and spacing do not matter.
    again = await post(
        handler,
        b'{"EntityChanged":"tClientProductSku","PartNo":"P1","ApplicationId":1042,"ClientId":1042}',
    )
    assert (first.json(), again.json()) == ({"status": "accepted"}, {"status": "duplicate"})
    assert again.status_code == 200
    assert len(inbox(env)) == 1


async def test_emulator_double_deliveries_are_stored_once(env, handler):
    env.deliver_to(handler, "SkuChangedNotification")
    env.emulator.faults.events(duplicate_rate=1.0)
    env.import_skus(["P1", "P2"])
    await env.emulator.aadvance(10)
    deliveries = env.emulator.deliveries
    assert len(deliveries) == 4
    assert all(d.status_code == 200 for d in deliveries)
    assert sorted(json.loads(i.payload)["PartNo"] for i in inbox(env)) == ["P1", "P2"]


async def test_dedup_window_zero_stores_every_delivery(env):
    handler = env.handler(dedup_window=0)
    handler.add_target(Target())
    for _ in range(3):
        assert (await post(handler, sku_body("P1"))).json() == {"status": "accepted"}
    assert len(inbox(env)) == 3


async def test_window_mode_drops_redeliveries_until_the_window_ends(tmp_path):
    now = [1_000_000.0]
    env = Env(str(tmp_path / "s.sqlite"), clock=lambda: now[0])
    try:
        handler = env.handler(dedup_window=60, dedup_until="window")
        handler.add_target(Target())
        env.import_skus(["P1"])
        env.emulator.advance(10)
        assert (await post(handler, sku_body("P1"))).json()["status"] == "accepted"
        handler.run_once()
        # Processed, but inside the window: still a duplicate.
        assert (await post(handler, sku_body("P1"))).json()["status"] == "duplicate"
        now[0] += 61
        assert (await post(handler, sku_body("P1"))).json()["status"] == "accepted"
    finally:
        env.close()


# ---------------------------------------------------------------------------- store failures


class FailingStore(SqliteStore):
    """A SqliteStore whose writes fail while ``broken`` is set."""

    broken = False

    def inbox_write(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.broken:
            raise StoreError("disk on fire")
        return super().inbox_write(*args, **kwargs)


async def test_store_failure_is_503_and_norce_retries_until_stored(tmp_path, caplog):
    env = Env(str(tmp_path / "unused.sqlite"))
    store = FailingStore(tmp_path / "s.sqlite")
    try:
        handler = env.handler(store=store)
        handler.add_target(Target())
        env.deliver_to(handler, "SkuChangedNotification")
        env.import_skus(["P1"])
        store.broken = True
        await env.emulator.aadvance(10)
        first = env.emulator.deliveries[-1]
        assert (first.status_code, first.next_attempt is not None) == (503, True)
        store.broken = False
        await env.emulator.aadvance(30)
        assert [d.status_code for d in env.emulator.deliveries][-1] == 200
        assert all(d.status_code == 503 for d in env.emulator.deliveries[:-1])
        assert store.inbox_get(1) is not None
        assert "503" in caplog.text
    finally:
        env.close()
        store.close()


async def test_a_slow_store_answers_503_within_the_ack_timeout(env, monkeypatch):
    handler = env.handler(ack_timeout=0.05)
    handler.add_target(Target())
    backend = handler._writer.backend
    release = threading.Event()
    real_write = backend.write

    def slow_write(ops):  # type: ignore[no-untyped-def]
        release.wait(5)
        return real_write(ops)

    monkeypatch.setattr(backend, "write", slow_write)
    response = await post(handler, sku_body("P1"))
    assert response.status_code == 503
    release.set()


async def test_a_closed_handler_answers_503(env, handler):
    handler.close()
    assert (await post(handler, sku_body("P1"))).status_code == 503


async def test_unexpected_errors_become_503_not_500(env, handler, monkeypatch):
    def boom(*_a: Any) -> Any:
        raise RuntimeError("bug")

    monkeypatch.setattr("norce_integration.patterns.events._receiver.fast_dedup_key", boom)
    assert (await post(handler, sku_body("P1"))).status_code == 503


# ---------------------------------------------------------------------------- mounting


async def test_mounted_in_starlette_with_lifespan(env, handler):
    app = Starlette(routes=[Mount("/hooks/norce", app=handler.app)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://receiver.test"
    ) as client:
        response = await client.post(
            "/hooks/norce/SkuChangedNotification", content=sku_body("P1"), headers=GOOD
        )
        assert response.status_code == 200
        response = await client.post("/hooks/norce/", content=sku_body("P2"), headers=GOOD)
        assert response.json()["error"] == "missing_event_type"
    assert len(inbox(env)) == 1


async def test_lifespan_shutdown_flushes_the_writer(env, handler):
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    await handler.app({"type": "lifespan"}, receive, send)
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert handler._writer._closed


# ---------------------------------------------------------------------------- fuzzing

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
_bodies = st.one_of(
    st.binary(max_size=300),
    _json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {"ClientId": _json_values, "PartNo": _json_values, "EntityChanged": _json_values},
        optional={"ApplicationId": _json_values},
    ).map(lambda v: json.dumps(v).encode()),
    st.builds(lambda n: b"[" * n + b"]" * n, st.integers(0, 5000)),
)
_header_names = st.sampled_from(
    [
        b"x-norce-event-type",
        b"content-length",
        b"x-forwarded-for",
        b"content-type",
        SECRET_HEADER.lower().encode(),
    ]
) | st.binary(min_size=1, max_size=20)


def test_fuzzed_bodies_and_headers_never_cause_a_5xx(tmp_path):
    env = Env(str(tmp_path / "fuzz.sqlite"))
    try:
        handler = env.handler(max_body_size=4096, allow_networks=["0.0.0.0/0", "::/0"])
        handler.add_target(Target())
        handler.add_target(Target(("JobCompletedEvent", "OrderReceivedEvent"), (), name="other"))

        @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(
            body=_bodies,
            event_type=st.sampled_from(
                [
                    "SkuChangedNotification",
                    "skuchangednotification",
                    "JobCompletedEvent",
                    "OrderReceivedEvent",
                    "Nope",
                    "",
                    "%00",
                    "a/b",
                ]
            )
            | st.text(max_size=30),
            headers=st.lists(st.tuples(_header_names, st.binary(max_size=40)), max_size=5),
            with_auth=st.booleans(),
            method=st.sampled_from(["POST", "POST", "POST", "GET"]),
        )
        def check(
            body: bytes,
            event_type: str,
            headers: list[tuple[bytes, bytes]],
            with_auth: bool,
            method: str,
        ) -> None:
            all_headers = auth_headers(headers) if with_auth else headers
            path = "/hooks/" + event_type
            status, out_headers, payload, _ = asyncio.run(
                asgi_call(handler.app, method=method, path=path, headers=all_headers, body=body)
            )
            assert status < 500, payload
            assert out_headers["content-type"] == "application/json"
            json.loads(payload)

        check()
    finally:
        env.close()


_flat_values = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.text(max_size=12)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3)
)


@settings(max_examples=300, deadline=None)
@given(
    data=st.dictionaries(st.text(max_size=8), _flat_values, max_size=6)
    | st.dictionaries(st.text(max_size=4), st.lists(st.integers(), max_size=2), max_size=2),
    event_type=st.sampled_from(["SkuChangedNotification", " skuchangednotification ", "Ünknown"]),
)
def test_the_fast_dedup_key_equals_the_event_packages(data, event_type):
    assert fast_dedup_key(event_type, data) == dedup_key(event_type, data)


def test_the_fast_dedup_key_matches_a_reserialised_body():
    a = json.loads(sku_body("P1"))
    b = json.loads(
        b'{"EntityChanged":"tClientProductSku","PartNo":"P1","ClientId":1042,"ApplicationId":1042}'
    )
    assert fast_dedup_key("SkuChangedNotification", a) == fast_dedup_key(
        "skuchangednotification", b
    )
