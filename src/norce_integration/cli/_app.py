"""The ``norce-integration`` command group, its shared options and its error handling.

Errors the operator can fix (bad configuration, an unreachable host, rejected
credentials, a refused import) end as one line on stderr and a non-zero exit code;
``--debug`` (or ``NORCE_DEBUG=1``) prints the traceback first.

Exit codes: 0 success; 1 an error or a failed job; 2 bad usage or configuration;
3 a job was still running when the local wait ended; 130 interrupted.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import click

from .. import __version__
from .._exceptions import ConfigurationError, NorceError
from .._settings import NorceSettings
from .._sync_client import Norce
from ..patterns import JobTracker
from ..stores import Store
from ._config import Config, load_config, open_store, payload_spool, settings_from, tracker_options


__all__ = [
    "EXIT_CONFIG",
    "EXIT_ERROR",
    "EXIT_TIMED_OUT",
    "ConfigFailure",
    "Failure",
    "NorceCLI",
    "Runtime",
    "main",
    "runtime_options",
]

EXIT_ERROR = 1
EXIT_CONFIG = 2
EXIT_TIMED_OUT = 3
EXIT_INTERRUPTED = 130
_DEBUG_KEY = "norce_integration.debug"

F = TypeVar("F", bound=Callable[..., Any])


class Failure(click.ClickException):
    """An error shown as one line (``Error: ...``), exit code 1."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(message.split()))


class ConfigFailure(Failure):
    """A configuration error, exit code 2."""

    exit_code = EXIT_CONFIG


def _debug(ctx: click.Context) -> bool:
    env = os.environ.get("NORCE_DEBUG", "").strip().lower()
    return bool(ctx.find_root().meta.get(_DEBUG_KEY)) or env in ("1", "true", "yes")


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.find_root().meta[_DEBUG_KEY] = True
        _LOG_HANDLER.setLevel(logging.DEBUG)
        logging.getLogger(_LOGGER).setLevel(logging.DEBUG)
    return value


class _StderrHandler(logging.Handler):
    """Writes the SDK's log records to the *current* ``sys.stderr`` (one line each)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # noqa: BLE001 - logging must never raise
            self.handleError(record)


_LOGGER = "norce_integration"
_LOG_HANDLER = _StderrHandler(logging.WARNING)
_LOG_HANDLER.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))


def debug_option(fn: F) -> F:
    """``--debug``: show tracebacks and debug logs (accepted on every command)."""
    return click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_debug,
        help="Show tracebacks and debug logging (or set NORCE_DEBUG=1).",
    )(fn)


def describe(exc: BaseException) -> str:
    """One line naming the error: ``AuthenticationError: HTTP 401: ...``."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{type(exc).__name__}: {exc.strerror}{where}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


class NorceCLI(click.Group):
    """A group that turns the SDK's errors into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        # The CLI is an application: it shows the SDK's warnings (retries, alerts) while a
        # command runs, and removes its handler afterwards (the library installs none).
        logger = logging.getLogger(_LOGGER)
        level = logger.level
        if _debug(ctx):
            _LOG_HANDLER.setLevel(logging.DEBUG)
            logger.setLevel(logging.DEBUG)
        else:
            _LOG_HANDLER.setLevel(logging.WARNING)
        logger.addHandler(_LOG_HANDLER)
        try:
            return self._invoke(ctx)
        finally:
            logger.removeHandler(_LOG_HANDLER)
            logger.setLevel(level)

    def _invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort, click.ClickException):
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
        except ConfigurationError as exc:
            self._traceback(ctx, exc)
            raise ConfigFailure(describe(exc)) from None
        except (NorceError, OSError) as exc:
            self._traceback(ctx, exc)
            raise Failure(describe(exc)) from None
        except Exception as exc:  # noqa: BLE001 - an unexpected error: still one line
            self._traceback(ctx, exc)
            hint = "" if _debug(ctx) else " (run with --debug for the traceback)"
            raise Failure(f"unexpected {describe(exc)}{hint}") from None

    @staticmethod
    def _traceback(ctx: click.Context, exc: BaseException) -> None:
        if _debug(ctx):
            traceback.print_exception(exc, file=sys.stderr)


@click.group(cls=NorceCLI, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="norce-integration")
@debug_option
def main() -> None:
    """Norce Commerce integrations: imports, jobs, events and an emulator.

    Start with `norce-integration demo` (no Norce account needed), then
    `norce-integration emulator` to try your own adapters against a local Norce.
    """


# ---------------------------------------------------------------------------- runtime


@attrs.define
class Runtime:
    """What a command needs, built on first use and closed when the command ends."""

    config_path: str | None = None
    store_path: str | None = None
    store_dsn: str | None = None
    _config: Config | None = None
    _store: Store | None = None
    _norce: Norce | None = None
    _closers: list[Callable[[], None]] = attrs.field(factory=list)

    def config(self) -> Config:
        """The configuration file (empty without ``--config``)."""
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    def settings(self) -> NorceSettings:
        """Norce settings from the file and ``NORCE_*`` variables."""
        return settings_from(self.config())

    def norce(self) -> Norce:
        """The client (one per command)."""
        if self._norce is None:
            self._norce = Norce(self.settings())
            self._closers.append(self._norce.close)
        return self._norce

    def store(self, *, must_exist: bool = False, missing_as_empty: bool = False) -> Store:
        """The state store (``must_exist``: for commands that only read state;
        ``missing_as_empty``: for dry runs, see :func:`open_store`)."""
        if self._store is None:
            self._store = open_store(
                self.config(),
                path=self.store_path,
                dsn=self.store_dsn,
                must_exist=must_exist,
                missing_as_empty=missing_as_empty,
            )
            self._closers.append(self._store.close)
        return self._store

    def tracker(self, *, must_exist: bool = False) -> JobTracker:
        """A job tracker on the store, configured by ``[tracking]``."""
        return JobTracker(
            self.norce(),
            self.store(must_exist=must_exist),
            spool=payload_spool(self.config()),
            **tracker_options(self.config()),
        )

    def on_close(self, closer: Callable[[], None]) -> None:
        """Call ``closer`` when the command ends (before what was opened earlier)."""
        self._closers.append(closer)

    def close(self) -> None:
        """Close what was opened, newest first."""
        while self._closers:
            self._closers.pop()()


def runtime_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--config``, ``--store``, ``--store-dsn`` and ``--debug``; pass ``rt: Runtime``."""

    @click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        envvar="NORCE_CONFIG",
        help="TOML configuration file (or NORCE_CONFIG).",
    )
    @click.option(
        "--store",
        "store_path",
        type=click.Path(dir_okay=False),
        help="SQLite state file [default: [store] path, else ./norce-state.sqlite].",
    )
    @click.option(
        "--store-dsn",
        envvar="NORCE_STORE_DSN",
        help="PostgreSQL DSN for a shared PostgresStore (or NORCE_STORE_DSN).",
    )
    @debug_option
    @functools.wraps(fn)
    def wrapper(
        config_path: str | None, store_path: str | None, store_dsn: str | None, **kwargs: Any
    ) -> Any:
        rt = Runtime(config_path=config_path, store_path=store_path, store_dsn=store_dsn)
        click.get_current_context().call_on_close(rt.close)
        return fn(rt, **kwargs)

    return wrapper
