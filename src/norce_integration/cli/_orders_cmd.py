"""``norce-integration orders serve | list | replay``: the Order Receiver from the shell.

Credentials come from the environment only (``NORCE_ORDER_RECEIVER_USERNAME`` and
``NORCE_ORDER_RECEIVER_PASSWORD``), so they never show in a process list. The journal
lives in the state store (``--store`` / ``--store-dsn``), shared by every receiver.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import click

from .._exceptions import ConfigurationError
from ..orders import (
    AsyncOrderReceiver,
    OrderReceiver,
    OrderReceiverApp,
    OrderRecord,
    OrderTarget,
    ReceiverSettings,
)
from ._app import Runtime, runtime_options
from ._config import Config, instantiate
from ._serve import StoreApp, async_store_opener
from ._ui import console, print_json, table


__all__ = ["orders_group"]

USERNAME_VAR = "NORCE_ORDER_RECEIVER_USERNAME"
PASSWORD_VAR = "NORCE_ORDER_RECEIVER_PASSWORD"  # noqa: S105 - a variable name

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@click.group("orders")
def orders_group() -> None:
    """Norce's Order Receiver: serve it, list the order journal, replay dead orders."""


def _settings(**options: Any) -> ReceiverSettings:
    username = os.environ.get(USERNAME_VAR)
    password = os.environ.get(PASSWORD_VAR)
    anonymous = bool(options.pop("allow_anonymous", False))
    if not anonymous and (not username or password is None):
        msg = (
            f"export {USERNAME_VAR} and {PASSWORD_VAR}: the basic-auth credentials "
            "configured in Norce Admin (Client settings, ERP integration)"
        )
        raise ConfigurationError(msg, setting=USERNAME_VAR)
    values = {k: v for k, v in options.items() if v is not None}
    try:
        return ReceiverSettings(
            username=username, password=password, allow_anonymous=anonymous, **values
        )
    except ValueError as exc:
        raise ConfigurationError(str(exc), setting="--retry-delays") from None


def _store_opener(
    config: Config, path: str | None, dsn: str | None
) -> Callable[[], Awaitable[Any]]:
    """How to open the asyncio store on the server's loop (see :func:`async_store_opener`)."""
    return async_store_opener(config, path, dsn)


_ServeApp = StoreApp


_RECEIVER_OPTIONS = [
    click.option(
        "--when-unavailable",
        type=click.Choice(["accept", "failed"]),
        help="Answer when the ERP is down: accept and queue (default) or Failed.",
    ),
    click.option(
        "--answer-within",
        type=click.FloatRange(min=0),
        help="Seconds to wait for the ERP before answering Norce [default: 2].",
    ),
    click.option(
        "--failed-status",
        "failed_http_status",
        type=click.IntRange(200, 599),
        help="HTTP status of a Failed answer [default: 503].",
    ),
    click.option(
        "--dedup-scope",
        type=click.Choice(["application", "client_order_ref"]),
        help="De-duplicate on ApplicationKey+ClientOrderRef (default) or ClientOrderRef.",
    ),
    click.option(
        "--retry-delays",
        help="Comma-separated seconds between background attempts [default: 10,30,...,3600].",
    ),
    click.option(
        "--allow-anonymous",
        is_flag=True,
        help="Accept calls without credentials (local development only).",
    ),
]


def _receiver_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_RECEIVER_OPTIONS):
        fn = option(fn)
    return fn


def _parse_delays(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        msg = f"must be comma-separated seconds, got {text!r}"
        raise ConfigurationError(msg, setting="--retry-delays") from None


def _target(reference: str | None, *, required: bool) -> Any:
    if reference is None:
        if required:
            msg = "give --target package.module:Class (your OrderTarget)"
            raise ConfigurationError(msg, setting="--target")
        return None
    return instantiate(reference, "--target", {})


@orders_group.command("serve")
@click.option("--target", "target_ref", help="Your OrderTarget: package.module:Class.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface.")
@click.option("--port", type=click.IntRange(0, 65535), default=8010, show_default=True)
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Seconds between background retry passes.",
)
@click.option("--log-level", default="warning", show_default=True, help="uvicorn's log level.")
@_receiver_options
@runtime_options
def orders_serve(  # noqa: PLR0917 - click passes options by keyword
    rt: Runtime,
    target_ref: str | None,
    host: str,
    port: int,
    poll_interval: float,
    log_level: str,
    retry_delays: str | None,
    **options: Any,
) -> None:
    """Serve the Order Receiver Norce pushes orders to (and retry queued orders).

    Configure Norce Admin → Client settings → ERP integration: endpoint type REST,
    URL http://HOST:PORT/ (REST (Legacy) posts to /CreateOrder, also accepted), and the
    username and password exported as NORCE_ORDER_RECEIVER_USERNAME/_PASSWORD.
    """
    settings = _settings(retry_delays=_parse_delays(retry_delays), **options)
    target = _target(target_ref, required=True)
    opener = _store_opener(rt.config(), rt.store_path, rt.store_dsn)

    def build(store: Any) -> OrderReceiverApp:
        receiver = AsyncOrderReceiver(store, target, settings)
        return OrderReceiverApp(receiver, poll_interval=poll_interval)

    out = console()
    out.print(f"Receiving Norce orders on http://{host}:{port}/", markup=False)
    out.file.flush()
    import uvicorn  # noqa: PLC0415 - only the server needs it

    uvicorn.run(_ServeApp(opener, build), host=host, port=port, log_level=log_level, lifespan="on")


class _NoTarget:
    """``list`` and ``replay`` never call the ERP."""

    def create_order(self, order: Any, *, key: str) -> str | None:
        raise AssertionError("not used")  # pragma: no cover

    def find_order(self, order: Any, *, key: str) -> str | None:
        raise AssertionError("not used")  # pragma: no cover


def _journal(rt: Runtime, target: OrderTarget | None = None) -> OrderReceiver:
    settings = ReceiverSettings(allow_anonymous=True)  # operators never authenticate here
    return OrderReceiver(rt.store(must_exist=True), target or _NoTarget(), settings)


def _when(value: float | None) -> str:
    if value is None:
        return ""
    return dt.datetime.fromtimestamp(value, dt.UTC).isoformat(timespec="seconds")


def _row(record: OrderRecord) -> dict[str, Any]:
    return {
        "key": record.key,
        "client_order_ref": record.client_order_ref,
        "state": record.state,
        "erp_order_no": record.erp_order_no,
        "attempts": record.attempts,
        "pushes": record.pushes,
        "received_at": _when(record.received_at),
        "next_attempt_at": _when(record.next_attempt_at),
        "description": record.description,
    }


@orders_group.command("list")
@click.option(
    "--state",
    type=click.Choice(["received", "processing", "created", "rejected", "dead"]),
    help="Only orders in this state.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@runtime_options
def orders_list(rt: Runtime, state: str | None, as_json: bool) -> None:
    """The order journal, oldest first (``--state dead``: the dead letters)."""
    records = _journal(rt).list(state)
    rows = [_row(r) for r in records]
    if as_json:
        print_json(rows)
        return
    columns = ["client_order_ref", "state", "erp_order_no", "attempts", "pushes", "received_at"]
    columns.append("description")
    out = console()
    out.print(table(None, columns, [[str(r[c] or "") for c in columns] for r in rows]))
    out.print(f"{len(rows)} order(s)", markup=False)


@orders_group.command("replay")
@click.argument("keys", nargs=-1)
@click.option("--all-dead", is_flag=True, help="Replay every dead order.")
@click.option(
    "--target",
    "target_ref",
    help="Process now with this OrderTarget (else a running `orders serve` picks them up).",
)
@runtime_options
def orders_replay(
    rt: Runtime, keys: tuple[str, ...], all_dead: bool, target_ref: str | None
) -> None:
    """Send dead or rejected orders (by journal key) back to the queue."""
    target = _target(target_ref, required=False)
    receiver = _journal(rt, target)
    chosen = list(keys) + ([r.key for r in receiver.list("dead")] if all_dead else [])
    if not chosen:
        raise click.UsageError("give journal KEYS (see `orders list`) or --all-dead")
    out = console()
    for key in chosen:
        try:
            receiver.replay(key)
        except KeyError:
            raise click.ClickException(f"no order {key!r} in the journal") from None
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        if target is not None:
            record = receiver.process(key)
            state = record.state if record is not None else "unknown"
            out.print(f"{key}: replayed, now {state}", markup=False)
        else:
            out.print(f"{key}: queued for the running receiver", markup=False)
