"""``norce-integration state show | reset-watermark``: what the store knows per source."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from .._exceptions import ConfigurationError, StoreError
from ..patterns import SourceSpec
from ..stores import Store, sortable_watermark
from ._app import Runtime, main, runtime_options
from ._config import Config, SourceConfig, instantiate, settings_from, source_spec
from ._ui import console, print_json, table


__all__ = ["state_group"]

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _account(config: Config) -> int | None:
    try:
        return settings_from(config).account_id
    except ConfigurationError:
        # `state` reads the store only; a missing secret must not stop it.
        raw = config.norce.get("account_id")
        return int(raw) if isinstance(raw, int) else None


def _spec(config: Config, source: SourceConfig) -> SourceSpec:
    adapter = None
    if source.kind is None and source.adapter:
        adapter = instantiate(source.adapter, f"{source.where}.adapter", source.args)
    return source_spec(source, adapter, _account(config))


def _source_state(store: Store, spec: SourceSpec) -> dict[str, Any]:
    kind, account = spec.kind.value, spec.account_id
    mark = store.get_watermark(kind, account, spec.name)
    last = store.get_last_full_import(kind, account)
    lock = store.lock_holder(kind, account)
    unresolved = store.unresolved_jobs(kind=kind, account_id=account)
    return {
        "source": spec.name,
        "kind": kind,
        "account_id": account,
        "watermark": mark.value if mark else None,
        "watermark_updated_at": mark.updated_at if mark else None,
        "last_full_import": (
            {"job_id": last.job_id, "finished_at": last.finished_at, "item_count": last.item_count}
            if last
            else None
        ),
        "in_flight_lock": lock.owner if lock else None,
        "unresolved_jobs": [j.job_id for j in unresolved],
    }


@main.group("state")
def state_group() -> None:
    """The state store: watermarks, last full imports, locks, unresolved jobs."""


@state_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@runtime_options
def state_show(rt: Runtime, as_json: bool) -> None:
    """Per configured source: watermark, last good full import, lock, unresolved jobs.

    Also the store's unresolved jobs and dead letters. Reads the store only.
    """
    config, store = rt.config(), rt.store(must_exist=True)
    sources = [_source_state(store, _spec(config, s)) for s in config.sources.values()]
    unresolved = store.unresolved_jobs()
    letters = store.list_dead_letters()
    data = {
        "store": repr(store),
        "sources": sources,
        "unresolved_jobs": [j.job_id for j in unresolved],
        "dead_letters": len(letters),
    }
    if as_json:
        print_json(data)
        return
    out = console()
    out.print(f"Store: {store!r}", markup=False)
    if sources:
        out.print(
            table(
                "sources",
                (
                    "source",
                    "kind",
                    "account",
                    "watermark",
                    "last full import",
                    "lock",
                    "unresolved",
                ),
                (
                    (
                        s["source"],
                        s["kind"],
                        s["account_id"],
                        s["watermark"] or "-",
                        (
                            f"job {s['last_full_import']['job_id']}, "
                            f"{s['last_full_import']['item_count']} items"
                            if s["last_full_import"]
                            else "-"
                        ),
                        s["in_flight_lock"] or "-",
                        ", ".join(map(str, s["unresolved_jobs"])) or "-",
                    )
                    for s in sources
                ),
            )
        )
    else:
        out.print("No sources configured (pass --config to see watermarks).", markup=False)
    out.print(
        f"Unresolved jobs: {', '.join(str(j.job_id) for j in unresolved) or 'none'}; "
        f"dead letters: {len(letters)}",
        markup=False,
    )


def _parse_when(value: str) -> dt.datetime:
    try:
        when = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO 8601 time: {value!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


@state_group.command("reset-watermark")
@click.option("--source", "source_name", metavar="NAME", help="Which configured source.")
@click.option(
    "--to",
    "to",
    metavar="TIME",
    help="ISO 8601 time the next delta starts from [default: the beginning: everything].",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@runtime_options
def state_reset_watermark(rt: Runtime, source_name: str | None, to: str | None, yes: bool) -> None:
    """Move a source's delta watermark, backwards if need be.

    The next delta then re-reads everything changed since TIME (minus the overlap).
    Re-sending is safe: Norce imports are upserts, and records older than what was
    sent are still skipped.
    """
    config, store = rt.config(), rt.store(must_exist=True)
    source = config.source(source_name)
    if source is None:
        msg = "no source configured: pass --config with a [source] table"
        raise ConfigurationError(msg, setting="--source")
    spec = _spec(config, source)
    when = _parse_when(to) if to else EPOCH
    new = sortable_watermark(when)
    kind, account = spec.kind.value, spec.account_id
    current = store.get_watermark(kind, account, spec.name)
    old = current.value if current else None
    if not yes:
        click.confirm(
            f"Move the watermark of {spec.name} from {old or 'unset'} to {new}?", abort=True
        )
    if not store.compare_and_set_watermark(
        kind, account, spec.name, expected=old, new=new, allow_backwards=True
    ):
        raise StoreError(f"the watermark of {spec.name} changed meanwhile (a delta ran); try again")
    console().print(f"{spec.name}: watermark {old or 'unset'} → {new}", markup=False)
