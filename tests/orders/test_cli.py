"""``norce-integration orders serve | list | replay`` (the group the lead registers)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from norce_integration.cli._app import NorceCLI
from norce_integration.cli._orders_cmd import _ServeApp, orders_group
from norce_integration.orders import (
    AsyncOrderReceiver,
    OrderReceiver,
    OrderReceiverApp,
    OrderResponse,
    ReceiverSettings,
)
from norce_integration.stores import AsyncSqliteStore, SqliteStore

from ._erp import DownErp, FileErp, MemoryErp
from .test_receiver import order_body


HEADER = "Basic " + base64.b64encode(b"u:p").decode()

# As the lead registers it: main.add_command(orders_group).
cli = NorceCLI("norce-integration")
cli.add_command(orders_group)


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["orders", *args])


def _dead_orders(db: Path, *refs: str) -> None:
    settings = ReceiverSettings(username="u", password="p", retry_delays=())
    with SqliteStore(db) as store:
        receiver = OrderReceiver(store, DownErp(), settings)
        for ref in refs:
            receiver.receive(order_body(ref), authorization=HEADER)


def test_list_shows_the_journal_and_the_dead_letters(tmp_path):
    db = tmp_path / "s.sqlite"
    _dead_orders(db, "1001", "1002")
    result = run("list", "--store", str(db), "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["client_order_ref"] for r in rows] == ["1001", "1002"]
    assert {r["state"] for r in rows} == {"dead"}
    table = run("list", "--store", str(db), "--state", "dead")
    assert table.exit_code == 0
    assert "1001" in table.output
    assert "2 order(s)" in table.output


def test_list_refuses_a_missing_store(tmp_path):
    result = run("list", "--store", str(tmp_path / "nope.sqlite"))
    assert result.exit_code != 0
    assert not (tmp_path / "nope.sqlite").exists()


def test_replay_with_a_target_creates_the_orders_once(tmp_path, monkeypatch):
    db, erp_file = tmp_path / "s.sqlite", tmp_path / "erp.jsonl"
    _dead_orders(db, "1001", "1002")
    monkeypatch.setenv("ORDERS_TEST_ERP_FILE", str(erp_file))
    args = ["replay", "--store", str(db), "--all-dead", "--target", "tests.orders._erp:CliErp"]
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "now created" in result.output
    assert FileErp(erp_file).count() == 2
    again = run("replay", "--store", str(db), "--all-dead")
    assert again.exit_code != 0  # nothing dead any more


def test_replay_without_a_target_only_queues(tmp_path):
    db = tmp_path / "s.sqlite"
    _dead_orders(db, "1001")
    with SqliteStore(db) as store:
        key = OrderReceiver(store, DownErp(), ReceiverSettings(allow_anonymous=True)).list()[0].key
    result = run("replay", "--store", str(db), key)
    assert result.exit_code == 0, result.output
    assert "queued" in result.output
    unknown = run("replay", "--store", str(db), "nope")
    assert unknown.exit_code != 0
    assert "no order" in unknown.output


def test_serve_needs_credentials_and_a_target(tmp_path, monkeypatch):
    monkeypatch.delenv("NORCE_ORDER_RECEIVER_USERNAME", raising=False)
    result = run("serve", "--store", str(tmp_path / "s.sqlite"))
    assert result.exit_code != 0
    assert "NORCE_ORDER_RECEIVER_USERNAME" in result.output
    monkeypatch.setenv("NORCE_ORDER_RECEIVER_USERNAME", "u")
    monkeypatch.setenv("NORCE_ORDER_RECEIVER_PASSWORD", "p")
    result = run("serve", "--store", str(tmp_path / "s.sqlite"))
    assert result.exit_code != 0
    assert "--target" in result.output


@pytest.mark.anyio
async def test_serve_app_opens_the_store_on_the_loop_and_answers(tmp_path):
    erp = MemoryErp()
    settings = ReceiverSettings(username="u", password="p")

    async def open_store() -> Any:
        return AsyncSqliteStore(tmp_path / "s.sqlite")

    serve = _ServeApp(
        open_store,
        lambda store: OrderReceiverApp(AsyncOrderReceiver(store, erp, settings)),
    )
    sent: list[dict[str, Any]] = []
    inbox = [{"type": "lifespan.startup"}]

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message["type"] == "lifespan.startup.complete":
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=serve), base_url="http://r.test"
            ) as client:
                answer = await client.post(
                    "/", content=order_body(), headers={"Authorization": HEADER}
                )
                assert OrderResponse.from_json(answer.content).erp_order_no == "SO-0001"
            inbox.append({"type": "lifespan.shutdown"})

    await serve({"type": "lifespan"}, receive, send)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert len(erp.orders) == 1
