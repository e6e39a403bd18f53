"""``norce-integration ops serve``: binding rules, the store it opens, what it prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from norce_integration.cli import _ops_cmd
from norce_integration.cli._app import NorceCLI


@pytest.fixture
def cli() -> click.Group:
    # The lead registers `ops` on the real `main`; the tests use a group of the same class.
    group = NorceCLI("norce-integration")
    group.add_command(_ops_cmd.ops_group)
    return group


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, str, int]]:
    calls: list[tuple[Any, str, int]] = []
    monkeypatch.setattr(
        _ops_cmd, "_run", lambda app, host, port, level: calls.append((app, host, port))
    )
    for name in ("NORCE_OPS_TOKEN", "NORCE_OPS_BASIC_AUTH", "NORCE_STORE_DSN", "NORCE_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    return calls


def test_bind_everywhere_without_auth_is_refused(
    cli: click.Group, served: list[Any], tmp_path: Path
) -> None:
    store = tmp_path / "state.sqlite"
    store.write_bytes(b"")
    result = CliRunner().invoke(cli, ["ops", "serve", "--host", "0.0.0.0", "--store", str(store)])
    assert result.exit_code == 2
    assert "refusing to serve the operations console on 0.0.0.0" in result.output
    assert "--token" in result.output
    assert served == []


def test_missing_store_is_an_error(cli: click.Group, served: list[Any], tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["ops", "serve", "--store", str(tmp_path / "nope.sqlite")])
    assert result.exit_code == 1
    assert "no such store" in result.output
    assert served == []


def test_loopback_generates_a_token_and_prints_the_url(
    cli: click.Group, served: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "state.sqlite"
    store.write_bytes(b"")
    monkeypatch.setattr(_ops_cmd, "_store_opener", lambda config, path, dsn: lambda: None)
    result = CliRunner().invoke(cli, ["ops", "serve", "--store", str(store), "--port", "9999"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:9999/?token=" in result.output
    assert "re-runs and job logs are off" in result.output
    (app, host, port) = served[0]
    assert (host, port) == ("127.0.0.1", 9999)
    assert isinstance(app, _ops_cmd._ServeApp)


def test_token_from_the_environment_allows_any_address_and_is_not_printed(
    cli: click.Group, served: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_ops_cmd, "_store_opener", lambda config, path, dsn: lambda: None)
    result = CliRunner().invoke(
        cli,
        ["ops", "serve", "--host", "0.0.0.0", "--store", "x.sqlite"],
        env={"NORCE_OPS_TOKEN": "t-secret-1"},
    )
    assert result.exit_code == 0, result.output
    assert "t-secret-1" not in result.output
    assert served[0][1] == "0.0.0.0"


def test_basic_auth_must_be_user_colon_password(cli: click.Group, served: list[Any]) -> None:
    result = CliRunner().invoke(cli, ["ops", "serve", "--basic-auth", "nocolon"])
    assert result.exit_code == 2
    assert "USER:PASSWORD" in result.output


def test_store_and_dsn_together_are_refused(cli: click.Group, served: list[Any]) -> None:
    result = CliRunner().invoke(
        cli, ["ops", "serve", "--store", "a.sqlite", "--store-dsn", "postgresql://x/y"]
    )
    assert result.exit_code == 2
    assert "not both" in result.output


async def _lifespan(app: Any) -> list[str]:
    sent: list[str] = []
    messages = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> Any:
        return next(messages)

    async def send(message: Any) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan"}, receive, send)
    return sent


@pytest.mark.anyio
async def test_serve_app_opens_the_store_at_startup_and_closes_it() -> None:
    events: list[str] = []

    class Store:
        async def aclose(self) -> None:
            events.append("closed")

    async def opener() -> Any:
        events.append("opened")
        return Store()

    app = _ops_cmd._ServeApp(opener, lambda store: events.append("built") or object())
    assert await _lifespan(app) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert events == ["opened", "built", "closed"]

    async def broken() -> Any:
        raise RuntimeError("no database")

    failing = _ops_cmd._ServeApp(broken, lambda store: None)
    assert await _lifespan(failing) == ["lifespan.startup.failed"]


def test_serve_replays_dead_letters_through_the_configured_handler(
    cli: click.Group, served: list[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``[events]`` configured, the console's *Replay* goes through that handler."""
    from norce_integration.stores import SqliteStore
    from tests.cli.test_cli import write_config

    config = write_config(tmp_path, None)
    SqliteStore(tmp_path / "state.sqlite").close()
    built: dict[str, Any] = {}
    monkeypatch.setattr(_ops_cmd, "_store_opener", lambda config, path, dsn: lambda: None)
    import norce_integration.ops as ops

    monkeypatch.setattr(ops, "create_app", lambda store, **kw: built.update(kw) or object())
    result = CliRunner().invoke(cli, ["ops", "serve", "--config", str(config)])
    assert result.exit_code == 0, result.output
    app = served[0][0]
    app._build(None)
    assert isinstance(built["events"], _ops_cmd._ThreadedReplay)


@pytest.mark.anyio
async def test_threaded_replay_never_blocks_the_loop(tmp_path: Path) -> None:
    """The blocking handler's replay runs on a worker thread (the loop guard checks)."""
    from norce_integration import Norce
    from norce_integration.patterns import EventHandler
    from norce_integration.stores import InboxStatus, SqliteStore
    from norce_integration.testing import NorceEmulator

    def setup() -> tuple[Any, Any, Any, int]:
        emulator = NorceEmulator()
        norce = Norce(emulator.settings(), transport=emulator.transport())
        store = SqliteStore(tmp_path / "state.sqlite")
        handler = EventHandler(norce, store)
        handler.on("SkuChangedNotification")(lambda batch: None)
        body = b'{"ClientId": 1, "PartNo": "P1", "EntityChanged": "tClientProductSku"}'
        letter = store.put_dead_letter("webhook:failed", body, "boom", key="SkuChangedNotification")
        return emulator, norce, handler, letter

    import asyncio

    emulator, norce, handler, letter = await asyncio.to_thread(setup)
    try:
        report = await _ops_cmd._ThreadedReplay(handler).replay([letter])
        assert report.replayed == (letter,)
        counts = await asyncio.to_thread(handler.store.inbox_counts)
        assert counts[InboxStatus.PENDING.value] == 1
    finally:
        await asyncio.to_thread(handler.close)
        await asyncio.to_thread(handler.store.close)
        norce.close()
        emulator.close()
