"""``norce-integration ops serve``: the operations console on the state store."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import click

from .._exceptions import ConfigurationError
from ._app import Runtime, runtime_options
from ._config import Config, payload_spool, tracker_options
from ._serve import StoreApp, async_store_opener


__all__ = ["ops_group", "ops_serve"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

TOKEN_VAR = "NORCE_OPS_TOKEN"  # noqa: S105 - a variable name
BASIC_VAR = "NORCE_OPS_BASIC_AUTH"


@click.group("ops")
def ops_group() -> None:
    """The operations console: jobs, imports, events and dead letters in a browser."""


def _store_opener(
    config: Config, path: str | None, dsn: str | None
) -> Callable[[], Awaitable[Any]]:
    """How to open the asyncio store on the server's loop (see :func:`async_store_opener`)."""
    return async_store_opener(config, path, dsn, read_only="the console")


_ServeApp = StoreApp


def _access(token: str | None, basic_auth: str | None) -> Any:
    from ..ops import AccessPolicy  # noqa: PLC0415 - needs the [ops] extra

    user = password = None
    if basic_auth:
        user, sep, password = basic_auth.partition(":")
        if not sep or not user or not password:
            msg = "must look like USER:PASSWORD"
            raise ConfigurationError(msg, setting=f"--basic-auth/{BASIC_VAR}")
    try:
        return AccessPolicy(token=token or None, basic_user=user, basic_password=password)
    except ValueError as exc:
        raise ConfigurationError(str(exc), setting=f"--token/{TOKEN_VAR}") from None


def _tracker(rt: Runtime, store: Any) -> Any:
    """The async job tracker the console re-runs jobs and fetches Norce's logs through,
    on the console's own async store (opened on the server's loop)."""
    from .._async_client import AsyncNorce  # noqa: PLC0415
    from ..patterns import AsyncJobTracker  # noqa: PLC0415

    config = rt.config()
    norce = AsyncNorce(rt.settings())
    return AsyncJobTracker(
        norce,
        store,
        spool=payload_spool(config),
        **tracker_options(config),
    )


class _ThreadedReplay:
    """The blocking ``EventHandler.replay`` of ``[events]``, run on a worker thread so the
    console's event loop never waits for its store."""

    def __init__(self, handler: Any) -> None:
        self._handler = handler

    async def replay(self, which: Any) -> Any:
        return await asyncio.to_thread(self._handler.replay, which)


def _replayer(rt: Runtime) -> _ThreadedReplay:
    from ._events_cmd import build_handler  # noqa: PLC0415 - only with [events]

    return _ThreadedReplay(build_handler(rt, require_targets=False, must_exist=True))


def _run(app: Any, host: str, port: int, log_level: str) -> None:
    import uvicorn  # noqa: PLC0415

    uvicorn.run(app, host=host, port=port, log_level=log_level, lifespan="on")


@ops_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=int, default=8089, show_default=True, help="Port to bind.")
@click.option(
    "--token",
    envvar=TOKEN_VAR,
    help=f"Access token (or {TOKEN_VAR}); on 127.0.0.1 one is generated when none is given.",
)
@click.option(
    "--basic-auth",
    envvar=BASIC_VAR,
    metavar="USER:PASSWORD",
    help=f"Basic-auth credentials (or {BASIC_VAR}).",
)
@click.option("--log-level", default="warning", show_default=True, help="uvicorn's log level.")
@runtime_options
def ops_serve(  # noqa: PLR0917 - click passes options by keyword
    rt: Runtime,
    host: str,
    port: int,
    token: str | None,
    basic_auth: str | None,
    log_level: str,
) -> None:
    """Serve the operations console (Overview, Jobs, Events, /metrics) on the store.

    Binds 127.0.0.1 by default. Any other address needs --token or --basic-auth.
    Re-runs and Norce's job logs need Norce credentials (NORCE_* or [norce]).
    """
    try:
        from ..ops import ConsoleOptions, SourceRef, check_bind, create_app  # noqa: PLC0415
    except ImportError as exc:
        msg = f"the console needs 'norce-integration[ops]' (Jinja2, prometheus-client): {exc}"
        raise ConfigurationError(msg, setting="ops") from None
    access = _access(token, basic_auth)
    check_bind(host, access)
    generated = False
    if not access.enabled:
        access = _access(secrets.token_urlsafe(24), None)
        generated = True
    config = rt.config()
    opener = _store_opener(config, rt.store_path, rt.store_dsn)
    sources = [
        SourceRef(s.kind, s.account_id, s.name)
        for s in config.sources.values()
        if s.kind and s.account_id is not None
    ]
    try:
        rt.settings()
    except ConfigurationError as exc:
        norce_ok = False
        click.echo(f"note: no Norce connection ({exc}); re-runs and job logs are off.", err=True)
    else:
        norce_ok = True

    # Replays go through the configured event handler, so a letter no target takes is
    # kept (the same rule as ``events dead-letters replay``).
    events = _replayer(rt) if norce_ok and config.events else None

    def build(store: Any) -> Any:
        return create_app(
            store,
            access=access,
            jobs=_tracker(rt, store) if norce_ok else None,
            events=events,
            sources=sources,
            options=ConsoleOptions(),
        )

    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - only a URL
    url = f"http://{shown}:{port}/"
    if generated and access.token is not None:
        click.echo(f"Operations console: {url}?token={access.token}")
        click.echo("(a one-off access token; pass --token or set NORCE_OPS_TOKEN to fix one)")
    else:
        click.echo(f"Operations console: {url}")
    _run(_ServeApp(opener, build), host, port, log_level)
