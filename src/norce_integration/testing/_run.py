"""``run_server``: serve a fresh emulator until interrupted (the CLI's entry point)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import uvicorn

from ._clock import ManualClock, SystemClock
from ._emulator import NorceEmulator
from ._server import EmulatorServer, bind


__all__ = ["run_server"]


def run_server(
    host: str = "127.0.0.1",
    port: int = 8765,
    client_id: str = "norce-emulator",
    client_secret: str = "emulator-secret",  # noqa: S107 - a fake tenant's well-known secret
    *,
    application_id: int = 1042,
    account_id: int = 1,
    speed: float = 1.0,
    manual_clock: bool = False,
    seed: int | None = 0,
    log_level: str = "info",
    on_ready: Callable[[EmulatorServer], None] | None = None,
    **emulator_options: Any,
) -> None:
    """Serve a fresh emulator until interrupted (used by ``norce-integration emulator``).

    Args:
        host: interface to bind (loopback by default).
        port: port to bind (0: any free port; see ``on_ready``).
        client_id: OAuth2 client id to accept.
        client_secret: its secret.
        application_id: the application id.
        account_id: the default system account id.
        speed: emulator seconds per real second (webhook retries and jobs run faster).
        manual_clock: use a :class:`ManualClock`, moved via ``POST /_emulator/clock/advance``.
        seed: seed for faults and generated GUIDs.
        log_level: uvicorn log level.
        on_ready: called with the bound server before serving (print URLs here, e.g.
            ``lambda s: print(s.describe())``).
        **emulator_options: further :class:`NorceEmulator` keyword arguments.

    Raises:
        OSError: the address cannot be bound.
    """
    emulator = NorceEmulator(
        client_id=client_id,
        client_secret=client_secret,
        application_id=application_id,
        account_id=account_id,
        clock=ManualClock() if manual_clock else SystemClock(speed),
        seed=seed,
        **emulator_options,
    )
    sock = bind(host, port)
    try:
        if on_ready is not None:
            on_ready(EmulatorServer(emulator, host, int(sock.getsockname()[1])))
        config = uvicorn.Config(emulator.asgi_app, lifespan="on", log_level=log_level)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
        emulator.close()
