"""The CLI's configuration: a TOML file, ``NORCE_*`` variables, and command-line options.

Precedence, highest first: command-line options, environment variables, the file,
defaults. Every problem is a :class:`~norce_integration.ConfigurationError` naming the
setting and where it came from, so the CLI can print one line.
"""

from __future__ import annotations

import enum
import importlib
import os
import sys
import tomllib
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from .._convert import structure, wire_names
from .._exceptions import ConfigurationError, NorceError, StoreError
from .._retry import RetryPolicy
from .._settings import NorceSettings
from ..connect.models import IMPORT_SPECS, ImportKind
from ..patterns import PayloadSpool, PollSchedule, SourceSpec
from ..stores import SqliteStore, Store


__all__ = [
    "DEFAULT_STORE",
    "Config",
    "SourceConfig",
    "load_config",
    "load_object",
    "open_store",
    "settings_from",
]

DEFAULT_STORE = "norce-state.sqlite"
STORE_DSN_VAR = "NORCE_STORE_DSN"
WEBHOOK_SECRET_VAR = "NORCE_WEBHOOK_SECRET"  # noqa: S105 - a variable name

# NorceSettings fields the [norce] table may set, and how NORCE_* variables spell them.
_ENV_FIELDS = (
    "slug",
    "region",
    "environment",
    "client_id",
    "client_secret",
    "application_id",
    "account_id",
    "connect_url",
    "query_url",
    "token_url",
)
_NUMBER_FIELDS = ("timeout", "connect_timeout")
_SPEC_OPTIONS = (
    "max_items_per_job",
    "min_interval",
    "min_items",
    "small_batch_window",
    "small_batch",
)
_SECTIONS = ("norce", "store", "source", "sources", "import", "tracking", "events")


@attrs.frozen(kw_only=True)
class SourceConfig:
    """One ``[source]`` (or ``[sources.NAME]``) table: an adapter and what it imports."""

    name: str
    adapter: str | None
    kind: str | None
    account_id: int | None
    header: Mapping[str, Any]
    args: Mapping[str, Any]
    options: Mapping[str, Any]
    where: str


@attrs.frozen(kw_only=True)
class Config:
    """A parsed configuration file (empty when no file was given)."""

    path: Path | None = None
    norce: Mapping[str, Any] = attrs.field(factory=dict)
    store: Mapping[str, Any] = attrs.field(factory=dict)
    sources: Mapping[str, SourceConfig] = attrs.field(factory=dict)
    imports: Mapping[str, Any] = attrs.field(factory=dict)
    tracking: Mapping[str, Any] = attrs.field(factory=dict)
    events: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def label(self) -> str:
        """The file's name for messages."""
        return str(self.path) if self.path else "the configuration"

    def source(self, name: str | None) -> SourceConfig | None:
        """The source called ``name``, or the only one (``None`` when there is none).

        Raises:
            ConfigurationError: ``name`` is unknown, or several sources exist and no name
                was given.
        """
        if name is not None:
            found = self.sources.get(name)
            if found is None:
                known = ", ".join(sorted(self.sources)) or "none"
                msg = f"no source {name!r} in {self.label} (sources: {known})"
                raise ConfigurationError(msg, setting="--source")
            return found
        if len(self.sources) > 1:
            known = ", ".join(sorted(self.sources))
            msg = f"{self.label} defines several sources ({known}): choose one with --source"
            raise ConfigurationError(msg, setting="--source")
        return next(iter(self.sources.values()), None)


def _table(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise ConfigurationError(f"must be a table, got {type(value).__name__}", setting=where)
    return dict(value)


def _source(name: str | None, table: dict[str, Any], where: str) -> SourceConfig:
    known = {"adapter", "name", "kind", "account_id", "header", "args", *_SPEC_OPTIONS}
    unknown = sorted(set(table) - known)
    if unknown:
        msg = f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})"
        raise ConfigurationError(msg, setting=where)
    adapter = table.get("adapter")
    if adapter is not None and not isinstance(adapter, str):
        raise ConfigurationError("must be 'package.module:Class'", setting=f"{where}.adapter")
    account = table.get("account_id")
    if account is not None and (isinstance(account, bool) or not isinstance(account, int)):
        raise ConfigurationError("must be an integer", setting=f"{where}.account_id")
    return SourceConfig(
        name=str(table.get("name") or name or ""),
        adapter=adapter,
        kind=table.get("kind"),
        account_id=account,
        header=_table(table, "header", f"{where}.header"),
        args=_table(table, "args", f"{where}.args"),
        options={k: table[k] for k in _SPEC_OPTIONS if k in table},
        where=where,
    )


def load_config(path: str | os.PathLike[str] | None) -> Config:
    """Read a TOML configuration file (``None``: an empty configuration).

    Raises:
        ConfigurationError: the file is missing, is not TOML, or has unknown tables.
    """
    if path is None:
        return Config()
    file = Path(path)
    try:
        with file.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigurationError(f"no such file: {file}", setting="--config") from None
    except OSError as exc:
        raise ConfigurationError(
            f"cannot read {file}: {exc.strerror}", setting="--config"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{file} is not valid TOML: {exc}", setting="--config") from None
    unknown = sorted(set(data) - set(_SECTIONS))
    if unknown:
        msg = f"unknown table(s) {', '.join(unknown)} in {file} (known: {', '.join(_SECTIONS)})"
        raise ConfigurationError(msg, setting="--config")
    sources: dict[str, SourceConfig] = {}
    if "source" in data:
        single = _source(None, _table(data, "source", "[source]"), "[source]")
        sources[single.name] = single
    for name, table in _table(data, "sources", "[sources]").items():
        where = f"[sources.{name}]"
        if not isinstance(table, dict):
            raise ConfigurationError("must be a table", setting=where)
        sources[name] = _source(name, table, where)
    return Config(
        path=file,
        norce=_table(data, "norce", "[norce]"),
        store=_table(data, "store", "[store]"),
        sources=sources,
        imports=_table(data, "import", "[import]"),
        tracking=_table(data, "tracking", "[tracking]"),
        events=_table(data, "events", "[events]"),
    )


# ---------------------------------------------------------------------------- settings


def settings_from(config: Config, environ: Mapping[str, str] | None = None) -> NorceSettings:
    """:class:`NorceSettings` from the ``[norce]`` table, overridden by ``NORCE_*`` variables.

    Raises:
        ConfigurationError: a setting is missing or invalid (named as the variable, and
            where the file set it).
    """
    env = os.environ if environ is None else environ
    unknown = sorted(set(config.norce) - {*_ENV_FIELDS, *_NUMBER_FIELDS, "retry"})
    if unknown:
        msg = f"unknown setting(s) {', '.join(unknown)} in {config.label}"
        raise ConfigurationError(msg, setting="[norce]")
    merged: dict[str, str] = {
        f"NORCE_{key.upper()}": str(value)
        for key, value in config.norce.items()
        if key in _ENV_FIELDS and value is not None
    }
    from_file = set(merged)
    merged.update({k: v for k, v in env.items() if k.startswith("NORCE_") and v.strip()})
    overrides: dict[str, Any] = {}
    for key in _NUMBER_FIELDS:
        if key in config.norce:
            overrides[key] = config.norce[key]
    if "retry" in config.norce:
        overrides["retry"] = _retry_policy(config.norce["retry"], config.label)
    try:
        return NorceSettings.from_env(merged, **overrides)
    except ConfigurationError as exc:
        variable = exc.setting or ""
        if variable in from_file and variable not in env:
            key = variable.removeprefix("NORCE_").lower()
            raise ConfigurationError(
                f"{str(exc).split(': ', 1)[-1]} (from [norce] {key} in {config.label})",
                setting=variable,
            ) from None
        if variable in ("NORCE_CLIENT_ID", "NORCE_CLIENT_SECRET") and "is not set" in str(exc):
            key = variable.removeprefix("NORCE_").lower()
            raise ConfigurationError(
                f"is not set: export {variable} or set [norce] {key} in a --config file",
                setting=variable,
            ) from None
        raise


def _retry_policy(table: Any, label: str) -> RetryPolicy:
    keys = ("max_attempts", "deadline", "initial_wait", "max_wait", "jitter", "retry_after_cap")
    if not isinstance(table, dict):
        raise ConfigurationError(f"must be a table in {label}", setting="[norce.retry]")
    unknown = sorted(set(table) - set(keys))
    if unknown:
        msg = f"unknown key(s) {', '.join(unknown)} in {label} (known: {', '.join(keys)})"
        raise ConfigurationError(msg, setting="[norce.retry]")
    try:
        return RetryPolicy(**table)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(str(exc), setting="[norce.retry]") from None


# ---------------------------------------------------------------------------- store


def open_store(
    config: Config,
    *,
    path: str | None = None,
    dsn: str | None = None,
    environ: Mapping[str, str] | None = None,
    must_exist: bool = False,
    missing_as_empty: bool = False,
) -> Store:
    """The state store: PostgreSQL when a DSN is given, else an SQLite file.

    Args:
        config: the configuration file.
        path: an SQLite file (``--store``).
        dsn: a PostgreSQL DSN (``--store-dsn``).
        environ: the environment (``NORCE_STORE_DSN``); defaults to ``os.environ``.
        must_exist: for commands that only read state: an SQLite file that does not exist
            is an error instead of a new, empty store (an operator who mistypes a path
            must read "no such store", not "no jobs").
        missing_as_empty: for a dry run: an SQLite file that does not exist is read as an
            empty store held in memory (nothing is created on disk).

    Raises:
        ConfigurationError: both a path and a DSN, or ``PostgresStore`` is unavailable.
        StoreError: the store cannot be opened, or ``must_exist`` and there is none.
    """
    env = os.environ if environ is None else environ
    dsn = dsn or env.get(STORE_DSN_VAR) or config.store.get("dsn")
    if dsn and path:
        msg = f"give either --store or --store-dsn/{STORE_DSN_VAR}, not both"
        raise ConfigurationError(msg, setting="--store")
    if dsn:
        try:
            module = importlib.import_module("norce_integration.stores")
            postgres = module.PostgresStore
        except (ImportError, AttributeError):
            msg = (
                "PostgresStore is not available in this installation: install "
                "'norce-integration[postgres]' (psycopg) or use an SQLite --store file"
            )
            raise ConfigurationError(msg, setting="--store-dsn") from None
        options = {"schema": config.store["schema"]} if config.store.get("schema") else {}
        try:
            store: Store = postgres(dsn, **options)
        except ImportError as exc:
            msg = f"PostgresStore needs 'norce-integration[postgres]': {exc}"
            raise ConfigurationError(msg, setting="--store-dsn") from None
        return store
    file = path or str(config.store.get("path") or DEFAULT_STORE)
    if missing_as_empty and not os.path.exists(file):
        return SqliteStore(":memory:")
    if must_exist and not os.path.exists(file):
        msg = (
            f"no such store: {file} (this command only reads state and never creates a "
            "store; check --store, [store] path or --store-dsn)"
        )
        raise StoreError(msg)
    return SqliteStore(file)


# ---------------------------------------------------------------------------- adapters


def load_object(reference: str, setting: str) -> Any:
    """Import ``package.module:attribute`` (the current directory is importable).

    Raises:
        ConfigurationError: malformed reference, module not importable, no such attribute.
    """
    module_name, sep, attribute = reference.partition(":")
    if not sep or not module_name or not attribute:
        msg = f"must look like 'package.module:Class', got {reference!r}"
        raise ConfigurationError(msg, setting=setting)
    if "" not in sys.path and os.getcwd() not in sys.path:
        # Like `python -m`: the integrator's modules next to the config are importable.
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        msg = f"cannot import {module_name!r}: {exc}"
        raise ConfigurationError(msg, setting=setting) from None
    except Exception as exc:  # noqa: BLE001 - integrator code failed at import time
        msg = f"importing {module_name!r} failed: {type(exc).__name__}: {exc}"
        raise ConfigurationError(msg, setting=setting) from None
    target: Any = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            msg = f"{module_name!r} has no attribute {attribute!r}"
            raise ConfigurationError(msg, setting=setting) from None
    return target


def instantiate(reference: str, setting: str, args: Mapping[str, Any]) -> Any:
    """Load ``reference`` and, if it is a class or factory, call it with ``args``.

    Raises:
        ConfigurationError: loading failed or the constructor rejected the arguments.
    """
    target = load_object(reference, setting)
    if isinstance(target, type) or (callable(target) and not hasattr(target, "map")):
        try:
            return target(**args)
        except NorceError:
            raise
        except Exception as exc:  # noqa: BLE001 - integrator code
            msg = f"{reference}({', '.join(args)}) failed: {type(exc).__name__}: {exc}"
            raise ConfigurationError(msg, setting=setting) from None
    if args:
        msg = f"{reference} is an instance; it takes no args"
        raise ConfigurationError(msg, setting=setting)
    return target


def _enum_of(annotation: Any) -> type[enum.Enum] | None:
    for arg in typing.get_args(annotation) or (annotation,):
        inner = typing.get_args(arg)
        for candidate in inner or (arg,):
            if isinstance(candidate, type) and issubclass(candidate, enum.Enum):
                return candidate
    return None


def build_header(kind: ImportKind, values: Mapping[str, Any], account_id: int, where: str) -> Any:
    """The header model of ``kind`` from a TOML table.

    Keys are Norce's wire names (``SkuPriceListFieldsThatAreSet``) or the attribute
    names (``sku_price_list_fields_that_are_set``); enum values are names
    (``"PriceSale"``) or integers.

    Raises:
        ConfigurationError: an unknown key or enum name.
    """
    header_type = IMPORT_SPECS[kind].header_type
    wires = wire_names(header_type)
    by_key = {**{w.lower(): w for w in wires.values()}, **dict(wires)}
    hints = typing.get_type_hints(header_type)
    attr_of = {w: a for a, w in wires.items()}
    wire: dict[str, Any] = {"AccountId": account_id}
    if "full_file" in wires:
        wire["FullFile"] = False
    for key, value in values.items():
        name = by_key.get(key) or by_key.get(key.lower())
        if name is None:
            msg = f"{header_type.__name__} has no field {key!r}"
            raise ConfigurationError(msg, setting=f"{where}.header")
        enum_type = _enum_of(hints[attr_of[name]])
        wire[name] = value
        if enum_type is not None and isinstance(value, list):
            converted: list[Any] = []
            for item in value:
                if isinstance(item, str):
                    member = enum_type.__members__.get(item)
                    if member is None:
                        msg = f"{item!r} is not a {enum_type.__name__} (in {name})"
                        raise ConfigurationError(msg, setting=f"{where}.header")
                    converted.append(member.value)
                else:
                    converted.append(item)
            wire[name] = converted
    try:
        return structure(wire, header_type)
    except NorceError:
        raise
    except Exception as exc:  # noqa: BLE001 - cattrs reports structure errors as groups
        msg = f"not a valid {header_type.__name__}: {exc}"
        raise ConfigurationError(msg, setting=f"{where}.header") from None


def source_spec(source: SourceConfig, adapter: Any, settings_account: int | None) -> SourceSpec:
    """The :class:`SourceSpec` of a configured source.

    The file's ``kind`` and ``header`` win; otherwise the adapter's ``spec`` (a
    ``SourceSpec`` attribute, or a method taking the account id) is used.

    Raises:
        ConfigurationError: neither gives a spec, or the spec is invalid.
    """
    account = source.account_id if source.account_id is not None else settings_account
    if source.kind is not None:
        try:
            kind = ImportKind(source.kind)
        except ValueError:
            kinds = ", ".join(k.value for k in ImportKind)
            msg = f"unknown import kind {source.kind!r} (one of {kinds})"
            raise ConfigurationError(msg, setting=f"{source.where}.kind") from None
        if account is None:
            msg = "is required: set it in the source table, [norce] or NORCE_ACCOUNT_ID"
            raise ConfigurationError(msg, setting=f"{source.where}.account_id")
        if not source.name:
            raise ConfigurationError("is required", setting=f"{source.where}.name")
        header = build_header(kind, source.header, account, source.where)
        return SourceSpec(
            name=source.name,
            kind=kind,
            header=header,
            account_id=account,
            **dict(source.options),
        )
    spec = getattr(adapter, "spec", None)
    if callable(spec) and not isinstance(spec, SourceSpec):
        if account is None:
            msg = "is required by the adapter's spec(account_id)"
            raise ConfigurationError(msg, setting=f"{source.where}.account_id")
        spec = spec(account)
    if not isinstance(spec, SourceSpec):
        msg = (
            f"set kind and header in {source.where}, or give the adapter a 'spec' "
            "(a SourceSpec, or spec(account_id) returning one)"
        )
        raise ConfigurationError(msg, setting=f"{source.where}.kind")
    if source.options:
        spec = attrs.evolve(spec, **dict(source.options))
    return spec


# ---------------------------------------------------------------------------- tracking


def poll_schedule(config: Config) -> PollSchedule:
    """The ``[tracking]`` poll schedule.

    Raises:
        ConfigurationError: a value is out of range.
    """
    keys = ("first_delay", "interval", "factor", "max_interval", "jitter", "retry_after_cap")
    values = {k: config.tracking[k] for k in keys if k in config.tracking}
    try:
        return PollSchedule(**values)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(str(exc), setting="[tracking]") from None


def tracker_options(config: Config) -> dict[str, Any]:
    """Keyword arguments for :class:`~norce_integration.patterns.JobTracker` from ``[tracking]``.

    Raises:
        ConfigurationError: an unknown key.
    """
    known = {
        "mode",
        "timeout",
        "stall_after",
        "lead_time_alert",
        "event_grace",
        "check_interval",
        "payload_dir",
        "payload_max_age",
        "first_delay",
        "interval",
        "factor",
        "max_interval",
        "jitter",
        "retry_after_cap",
    }
    unknown = sorted(set(config.tracking) - known)
    if unknown:
        msg = f"unknown key(s) {', '.join(unknown)} in {config.label}"
        raise ConfigurationError(msg, setting="[tracking]")
    options: dict[str, Any] = {"schedule": poll_schedule(config)}
    for key in (
        "mode",
        "timeout",
        "stall_after",
        "lead_time_alert",
        "event_grace",
        "check_interval",
    ):
        if key in config.tracking:
            options[key] = config.tracking[key]
    return options


def payload_spool(config: Config) -> PayloadSpool | None:
    """The payload spool of ``[tracking] payload_dir`` (``None``: re-runs disabled)."""
    directory = config.tracking.get("payload_dir")
    if not directory:
        return None
    max_age = float(config.tracking.get("payload_max_age", 7 * 86400))
    return PayloadSpool(directory, max_age=max_age)


def import_options(config: Config, *, full: bool) -> dict[str, Any]:
    """Keyword arguments for ``FullImport``/``DeltaImport`` from ``[import]``.

    Raises:
        ConfigurationError: an unknown key.
    """
    shared = {"work_dir", "compress_spool", "track_timeout", "record_versions", "lock_ttl"}
    full_only = {
        "min_ratio",
        "max_mapping_errors",
        "max_mapping_error_ratio",
        "split_by_scope",
        "trust_product_cluster_scope",
        "allow_without_full_file",
    }
    delta_only = {
        "delta_mode",
        "overlap",
        "lag",
        "skip_unchanged",
        "delta_max_mapping_errors",
        "delta_max_mapping_error_ratio",
        "advance_past_errors",
    }
    unknown = sorted(set(config.imports) - shared - full_only - delta_only)
    if unknown:
        msg = f"unknown key(s) {', '.join(unknown)} in {config.label}"
        raise ConfigurationError(msg, setting="[import]")
    options: dict[str, Any] = {}
    for key, value in config.imports.items():
        if key in shared or (full and key in full_only):
            options[key] = value
        elif not full and key in delta_only:
            name = {"delta_mode": "mode"}.get(key, key.removeprefix("delta_"))
            options[name] = value
    return options
