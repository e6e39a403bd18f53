"""The event handler on every kind of store: SqliteStore, PostgresStore and a store that
offers the Store protocol and nothing else (the handler needs no private member)."""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from norce_integration.patterns.events._sync_inbox import StoreInbox
from norce_integration.stores import SqliteStore, Store

from ._event_support import Env, Target, sku_body


# The blocking EventHandler, driven from async tests (the emulator delivers through
# httpx.ASGITransport) that read its blocking store directly. The handler's receiver
# writes through its writer thread; the asyncio path is checked without this mark in
# test_event_async.py.
pytestmark = [
    pytest.mark.anyio,
    pytest.mark.blocking_allowed("the blocking EventHandler and Store driven from an async test"),
]

PG_DSN = os.environ.get("NORCE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


class ProtocolOnly:
    """Forwards the Store protocol's methods, and nothing else, to a SqliteStore."""

    def __init__(self, inner: SqliteStore) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or not hasattr(Store, name):
            raise AttributeError(name)
        return getattr(self._inner, name)


def _postgres(clock: Clock) -> tuple[Any, Any]:
    psycopg = pytest.importorskip("psycopg")
    from norce_integration.stores import PostgresStore

    try:
        admin = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL unreachable at NORCE_TEST_PG_DSN: {exc}")
        pytest.skip(f"PostgreSQL unreachable (set NORCE_TEST_PG_DSN): {exc}")
    schema = f"norce_test_events_{os.getpid()}_{secrets.token_hex(3)}"
    store = PostgresStore(PG_DSN, schema=schema, clock=clock)

    def drop() -> None:
        store.close()
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()

    return store, drop


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        "protocol-only",
    ]
)
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Env, Any, Clock, str]]:
    clock = Clock()
    environment = Env(str(tmp_path / "unused.sqlite"), clock=clock)
    drop = None
    if request.param == "postgres":
        store, drop = _postgres(clock)
    elif request.param == "protocol-only":
        store = ProtocolOnly(SqliteStore(tmp_path / "inner.sqlite", clock=clock))
    else:
        store = environment.store
    try:
        yield environment, store, clock, request.param
    finally:
        environment.close()
        if drop is not None:
            drop()
        elif isinstance(store, ProtocolOnly):
            store._inner.close()


async def post(handler: Any, body: bytes) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=handler.app), base_url="http://receiver.test"
    ) as client:
        response = await client.post(
            "/hooks/SkuChangedNotification",
            content=body,
            headers={"X-Norce-Webhook-Secret": "wh-secret-NEVER-in-logs"},
        )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_receive_dedup_process_and_rearm_on_every_store(env, caplog):
    environment, store, _, kind = env
    caplog.set_level(logging.WARNING)
    handler = environment.handler(store=store)
    target = Target()
    handler.add_target(target)
    backend = handler._writer.backend
    assert isinstance(backend, StoreInbox)
    assert backend.store is store
    environment.import_skus(["P1", "P2"])
    environment.emulator.advance(10)
    assert (await post(handler, sku_body("P1")))["status"] == "accepted"
    assert (await post(handler, sku_body("P1")))["status"] == "duplicate"
    assert (await post(handler, sku_body("P2")))["status"] == "accepted"
    report = handler.run_once()
    assert (report.claimed, report.sent) == (2, 2)
    again = (await post(handler, sku_body("P1")))["status"]
    assert again == "accepted", kind  # re-armed when the first copy was claimed
    report = handler.run_once()
    assert (report.claimed, report.sent, report.skipped_unchanged) == (1, 0, 1)
    assert "has no atomic dedup" not in caplog.text


async def test_failures_dead_letters_and_replay_on_every_store(env):
    environment, store, _, _ = env
    handler = environment.handler(store=store, max_attempts=2)
    target = Target()
    target.fail = lambda batch: True
    handler.add_target(target)
    environment.import_skus(["P1"])
    environment.emulator.advance(10)
    await post(handler, sku_body("P1"))
    assert handler.run_once().retried == 1
    assert handler.run_once().dead_lettered == 1
    [letter] = handler.dead_letters()
    assert letter.source == "webhook:failed"
    target.fail = None
    assert handler.replay("all").replayed == (letter.letter_id,)
    assert handler.run_once().sent == 1


async def test_expired_leases_are_reclaimed_on_every_store(env):
    environment, store, clock, _ = env
    dead = environment.handler(store=store, lease=30)
    dead.add_target(Target())
    environment.import_skus(["P1"])
    environment.emulator.advance(10)
    await post(dead, sku_body("P1"))
    assert len(dead._claim()) == 1
    alive = environment.handler(store=store, lease=30)
    target = Target()
    alive.add_target(target)
    assert alive.run_once().claimed == 0
    clock.offset += 31
    assert alive.run_once().sent == 1
