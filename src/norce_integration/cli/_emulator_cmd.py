"""``norce-integration emulator``: serve a local Norce (token, Connect, Query, Event)."""

from __future__ import annotations

import click

from ..testing import EmulatorServer, run_server
from ._app import debug_option, main
from ._ui import console


__all__ = ["emulator"]


def _ready(server: EmulatorServer) -> None:
    out = console()
    out.print(server.describe(), markup=False, highlight=False)
    settings = server.settings()
    out.print("\nFor the CLI and NorceSettings.from_env():", markup=False)
    exports = {
        "NORCE_CONNECT_URL": settings.connect_base,
        "NORCE_QUERY_URL": settings.query_base,
        "NORCE_TOKEN_URL": settings.token_endpoint,
        "NORCE_CLIENT_ID": settings.client_id,
        "NORCE_CLIENT_SECRET": server.emulator.client_secret,
        "NORCE_APPLICATION_ID": str(settings.application_id),
        "NORCE_ACCOUNT_ID": str(settings.account_id),
    }
    for name, value in exports.items():
        out.print(f"  export {name}={value}", markup=False, highlight=False)
    out.print("\nPress Ctrl+C to stop.", markup=False)
    out.file.flush()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--client-id", default="norce-emulator", show_default=True)
@click.option("--client-secret", default="emulator-secret", show_default=True)
@click.option("--application-id", default=1042, show_default=True, type=click.IntRange(1))
@click.option("--account-id", default=1, show_default=True, type=click.IntRange(1))
@click.option(
    "--speed",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Emulator seconds per real second (jobs and webhook retries run faster).",
)
@click.option(
    "--manual-clock",
    is_flag=True,
    help="Stop the clock; move it with POST /_emulator/clock/advance {'seconds': N}.",
)
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of faults and GUIDs.")
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug", "trace"]),
    help="uvicorn's log level.",
)
@debug_option
def emulator(  # noqa: PLR0917 - click passes options by keyword
    host: str,
    port: int,
    client_id: str,
    client_secret: str,
    application_id: int,
    account_id: int,
    speed: float,
    manual_clock: bool,
    seed: int,
    log_level: str,
) -> None:
    """Serve the Norce emulator over HTTP until Ctrl+C.

    Prints its URLs and credentials. Point NorceSettings (or the other commands) at it
    with the printed NORCE_* variables; drive it with the admin API under /_emulator/.
    """
    run_server(
        host,
        port,
        client_id,
        client_secret,
        application_id=application_id,
        account_id=account_id,
        speed=speed,
        manual_clock=manual_clock,
        seed=seed,
        log_level=log_level,
        on_ready=_ready,
    )
