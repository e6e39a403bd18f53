"""``norce-integration events serve | dead-letters list | dead-letters replay``."""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
from collections.abc import Sequence
from typing import Any

import click
import uvicorn

from .._exceptions import ConfigurationError
from ..patterns import EventHandler, WebhookAuth
from ._app import EXIT_ERROR, Runtime, main, runtime_options
from ._config import WEBHOOK_SECRET_VAR, Config, instantiate
from ._ui import console, print_json, table


__all__ = ["events_group"]

_HANDLER_OPTIONS = (
    "batch_size",
    "lease",
    "max_attempts",
    "retry_base",
    "retry_cap",
    "poll_interval",
    "dedup_window",
    "dedup_until",
    "unknown_events",
    "allow_networks",
    "trusted_proxy_hops",
    "max_body_size",
    "ack_timeout",
    "inbox_retention",
)
_KNOWN = {*_HANDLER_OPTIONS, "targets", "auth_header", "auth_secret", "host", "port", "workers"}


def _targets(config: Config) -> list[Any]:
    entries = config.events.get("targets", [])
    if not isinstance(entries, list):
        raise ConfigurationError("must be a list", setting="[events] targets")
    targets: list[Any] = []
    for number, entry in enumerate(entries):
        where = f"[events] targets[{number}]"
        if isinstance(entry, str):
            targets.append(instantiate(entry, where, {}))
        elif isinstance(entry, dict) and isinstance(entry.get("adapter"), str):
            args = entry.get("args", {})
            if not isinstance(args, dict):
                raise ConfigurationError("args must be a table", setting=where)
            targets.append(instantiate(entry["adapter"], where, args))
        else:
            msg = "must be 'package.module:Class' or {adapter = ..., args = {...}}"
            raise ConfigurationError(msg, setting=where)
    return targets


def _auth(config: Config) -> WebhookAuth | None:
    header = config.events.get("auth_header")
    secret = os.environ.get(WEBHOOK_SECRET_VAR) or config.events.get("auth_secret")
    if not header:
        return None
    if not secret:
        msg = f"[events] auth_header is set but no secret: export {WEBHOOK_SECRET_VAR}"
        raise ConfigurationError(msg, setting=WEBHOOK_SECRET_VAR)
    try:
        return WebhookAuth(str(header), str(secret))
    except ValueError as exc:
        raise ConfigurationError(str(exc), setting="[events] auth_header") from None


def build_handler(
    rt: Runtime, *, require_targets: bool = True, must_exist: bool = False
) -> EventHandler:
    """The event handler of ``[events]``: targets, auth and worker options.

    Raises:
        ConfigurationError: unknown keys, bad targets, or none when required.
    """
    config = rt.config()
    unknown = sorted(set(config.events) - _KNOWN)
    if unknown:
        msg = f"unknown key(s) {', '.join(unknown)} in {config.label}"
        raise ConfigurationError(msg, setting="[events]")
    targets = _targets(config)
    if require_targets and not targets:
        msg = "no targets: list your TargetAdapter classes in [events] targets of --config"
        raise ConfigurationError(msg, setting="[events] targets")
    options = {k: config.events[k] for k in _HANDLER_OPTIONS if k in config.events}
    handler = EventHandler(
        rt.norce(),
        rt.store(must_exist=must_exist),
        targets=targets,
        tracker=rt.tracker(must_exist=must_exist),
        auth=_auth(config),
        **options,
    )
    rt.on_close(handler.close)
    return handler


@main.group("events")
def events_group() -> None:
    """Norce webhooks: serve the receiver and workers; inspect and replay dead letters."""


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except BaseException:
        sock.close()
        raise
    return sock


@events_group.command("serve")
@click.option("--host", help="Interface [default: [events] host, else 127.0.0.1].")
@click.option(
    "--port", type=click.IntRange(0, 65535), help="Port [default: [events] port, else 8000]."
)
@click.option(
    "--workers", type=click.IntRange(0), help="Worker threads [default: [events] workers, else 1]."
)
@click.option(
    "--stop-after",
    type=click.FloatRange(min=0, min_open=True),
    help="Stop after this many seconds (a supervisor restarts it).",
)
@click.option("--log-level", default="warning", show_default=True, help="uvicorn's log level.")
@runtime_options
def events_serve(  # noqa: PLR0917 - click passes options by keyword
    rt: Runtime,
    host: str | None,
    port: int | None,
    workers: int | None,
    stop_after: float | None,
    log_level: str,
) -> None:
    """Receive Norce webhooks (ASGI receiver) and process them (worker threads).

    Configure Norce Admin → Events to post each event type to
    http://HOST:PORT/<EventType> with the [events] auth_header and the secret in
    NORCE_WEBHOOK_SECRET. Receivers and workers may run in several processes sharing
    one store (PostgresStore across machines).
    """
    config = rt.config()
    handler = build_handler(rt)
    host = host or str(config.events.get("host", "127.0.0.1"))
    port = port if port is not None else int(config.events.get("port", 8000))
    count = workers if workers is not None else int(config.events.get("workers", 1))
    sock = _bind(host, port)
    server = uvicorn.Server(uvicorn.Config(handler.app, lifespan="on", log_level=log_level))
    stop = threading.Event()
    threads = [
        threading.Thread(target=handler.run, args=(stop,), name=f"norce-events-{n}", daemon=True)
        for n in range(count)
    ]
    timer: threading.Timer | None = None
    if stop_after is not None:

        def finish() -> None:
            server.should_exit = True

        timer = threading.Timer(stop_after, finish)
        timer.daemon = True
    bound = sock.getsockname()[1]
    out = console()
    out.print(f"Receiving Norce webhooks on http://{host}:{bound}/<EventType>", markup=False)
    out.print(f"{count} worker(s); state in {handler.store!r}", markup=False)
    out.file.flush()
    for thread in threads:
        thread.start()
    if timer is not None:
        timer.start()
    try:
        server.run(sockets=[sock])
    finally:
        if timer is not None:
            timer.cancel()
        stop.set()
        for thread in threads:
            thread.join(30)
        sock.close()
    out.print("Stopped.", markup=False)


@events_group.group("dead-letters")
def dead_letters_group() -> None:
    """Events that could not be processed: list them, replay them."""


def _when(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@dead_letters_group.command("list")
@click.option(
    "--source", help="Only this source (webhook:failed, webhook:malformed, webhook:unhandled)."
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@runtime_options
def dead_letters_list(rt: Runtime, source: str | None, limit: int, as_json: bool) -> None:
    """Dead letters, oldest first (reads only the store)."""
    letters = rt.store(must_exist=True).list_dead_letters(source=source, limit=limit)
    if as_json:
        print_json(letters)
        return
    console().print(
        table(
            f"{len(letters)} dead letter(s)",
            ("id", "source", "key", "attempts", "created", "error", "payload"),
            (
                (
                    d.letter_id,
                    d.source,
                    d.key,
                    d.attempts,
                    _when(d.created_at),
                    d.error,
                    d.payload[:120].decode("utf-8", "replace"),
                )
                for d in letters
            ),
        )
    )


@dead_letters_group.command("replay")
@click.argument("letter_ids", nargs=-1, type=int)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@runtime_options
def dead_letters_replay(
    rt: Runtime, letter_ids: Sequence[int], replay_all: bool, as_json: bool
) -> None:
    """Put dead letters back into the inbox (`events serve` workers process them).

    Letters that would fail the same way (malformed, or no target takes them) are kept.
    Exits 1 when some could not be replayed.
    """
    if bool(letter_ids) == replay_all:
        raise click.UsageError("give dead-letter ids or --all (not both)")
    handler = build_handler(rt, require_targets=False, must_exist=True)
    report = handler.replay("all" if replay_all else list(letter_ids))
    if as_json:
        print_json(report)
    else:
        out = console()
        out.print(f"replayed: {', '.join(map(str, report.replayed)) or 'none'}", markup=False)
        for letter, reason in report.failed.items():
            out.print(f"kept {letter}: {reason}", markup=False)
    if report.failed:
        raise click.exceptions.Exit(EXIT_ERROR)
