"""Shared pieces of the import-pattern tests: an emulator environment and small adapters.

Not a conftest (the tracker tests own ``tests/patterns``' fixtures); tests import what
they need from here.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from norce_integration import AsyncNorce, Norce
from norce_integration.connect.models import (
    Product,
    ProductField,
    ProductHeader,
    Sku,
    SkuField,
    SkuOnhand,
    SkuOnhandField,
    SkuOnhandHeader,
    SkuPriceList,
    SkuPriceListField,
    SkuPriceListHeader,
    SkuStatus,
    SkuType,
    Variant,
    VariantField,
)
from norce_integration.patterns import (
    AsyncJobTracker,
    AsyncSourceAdapter,
    JobTracker,
    PayloadSpool,
    PollSchedule,
    SourceAdapter,
    SourceSpec,
)
from norce_integration.stores import AsyncSqliteStore, SqliteStore
from norce_integration.testing import ManualClock, NorceEmulator


ACCOUNT = 1
SEED_ACCOUNT = 99  # creates the SKUs, so product full imports of ACCOUNT leave them alone
T0 = dt.datetime(2025, 1, 1, 6, 0, tzinfo=dt.UTC)

PRICE_HEADER = SkuPriceListHeader(
    account_id=ACCOUNT,
    full_file=False,
    sku_price_list_fields_that_are_set=[SkuPriceListField.PriceSale],
)
ONHAND_HEADER = SkuOnhandHeader(
    account_id=ACCOUNT,
    full_file=False,
    sku_onhand_fields_that_are_set=[SkuOnhandField.OnhandValue],
)


def product_header(account: int = ACCOUNT) -> ProductHeader:
    return ProductHeader(
        account_id=account,
        full_file=False,
        product_fields_that_are_set=[ProductField.Code, ProductField.Variants],
        variant_fields_that_are_set=[VariantField.Skus],
        sku_fields_that_are_set=[SkuField.Status, SkuField.Type],
    )


def price_spec(name: str = "erp-prices", **overrides: Any) -> SourceSpec:
    return SourceSpec(
        name=name, kind="sku_price_lists", header=PRICE_HEADER, account_id=ACCOUNT, **overrides
    )


def price_rows(
    n: int, *, lists: tuple[str, ...] = ("STD",), price: str = "100", mod: dt.datetime = T0
) -> list[dict[str, Any]]:
    return [
        {"sku": f"S{i:04d}", "list": lists[i % len(lists)], "price": price, "mod": mod}
        for i in range(n)
    ]


@attrs.define
class Env:
    """An in-process emulator on a manual clock, a client, a file store and a tracker."""

    emulator: NorceEmulator
    norce: Norce
    store: SqliteStore
    tracker: JobTracker
    work_dir: Path
    spool: PayloadSpool | None = None

    def now(self) -> float:
        return self.emulator.clock.now().timestamp()

    def advance(self, seconds: float) -> None:
        self.emulator.advance(seconds)

    def close(self) -> None:
        self.norce.close()
        self.store.close()
        self.emulator.close()

    # --- data helpers

    def seed_skus(self, part_nos: list[str], *, account: int = SEED_ACCOUNT) -> None:
        """Create SKUs (one product each, cluster ``CL-<part>``) and wait for the job."""
        items = [product_item(p) for p in part_nos]
        sent = self.norce.connect.submit("products", items, product_header(account))
        self.advance(10)
        assert self.emulator.get_job(sent.job_id)["StatusId"] == 2

    def prices(self) -> dict[tuple[str, str], tuple[bool, Decimal]]:
        """``(part_no, list code) → (IsActive, PriceSale)`` of every price row."""
        codes = {
            key[0]: row.get("Agreement")
            for key, row in self.emulator.table("Application", "ClientPriceLists").rows.items()
        }
        out: dict[tuple[str, str], tuple[bool, Decimal]] = {
            (str(key[0]), str(codes[key[1]])): (
                bool(row["IsActive"]),
                Decimal(str(row["PriceSale"])),
            )
            for key, row in self.emulator.table("Products", "ProductSkuPriceLists").rows.items()
        }
        return out

    def sku_status(self) -> dict[str, int]:
        return {
            key[0]: row["StatusId"]
            for key, row in self.emulator.table("Products", "ProductSkus").rows.items()
        }

    def import_jobs(self) -> list[dict[str, Any]]:
        return self.emulator.jobs


def product_item(part_no: str, *, code: str | None = None) -> Product:
    return Product(
        manufacturer_code="ACME",
        code=code or f"CL-{part_no}",
        variants=[
            Variant(
                manufacturer_part_no=f"MPN-{part_no}",
                skus=[Sku(part_no=part_no, status=SkuStatus.Active, type=SkuType.ErpStandard)],
            )
        ],
    )


def make_env(tmp_path: Path, *, spool: bool = False) -> Env:
    emulator = NorceEmulator(clock=ManualClock(dt.datetime(2025, 1, 1, 8, 0, tzinfo=dt.UTC)))

    def clock() -> float:
        return emulator.clock.now().timestamp()

    norce = Norce(emulator.settings(), transport=emulator.transport())
    store = SqliteStore(tmp_path / "state.sqlite", clock=clock)
    payloads = PayloadSpool(tmp_path / "payloads", clock=clock) if spool else None
    tracker = JobTracker(
        norce,
        store,
        sleep=emulator.advance,
        clock=clock,
        spool=payloads,
        schedule=PollSchedule(first_delay=1.0, interval=1.0, factor=1.0, jitter=0.0),
    )
    work = tmp_path / "work"
    return Env(emulator, norce, store, tracker, work, payloads)


@attrs.define
class AsyncEnv:
    emulator: NorceEmulator
    norce: AsyncNorce
    store: AsyncSqliteStore
    tracker: AsyncJobTracker
    work_dir: Path

    def now(self) -> float:
        return self.emulator.clock.now().timestamp()

    async def aclose(self) -> None:
        await self.norce.aclose()
        await self.store.aclose()
        self.emulator.close()


def make_async_env(tmp_path: Path) -> AsyncEnv:
    emulator = NorceEmulator(clock=ManualClock(dt.datetime(2025, 1, 1, 8, 0, tzinfo=dt.UTC)))

    def clock() -> float:
        return emulator.clock.now().timestamp()

    async def sleep(seconds: float) -> None:
        emulator.advance(seconds)

    norce = AsyncNorce(emulator.settings(), transport=emulator.transport())
    store = AsyncSqliteStore(tmp_path / "state.sqlite", clock=clock)
    tracker = AsyncJobTracker(
        norce,
        store,
        sleep=sleep,
        clock=clock,
        schedule=PollSchedule(first_delay=1.0, interval=1.0, factor=1.0, jitter=0.0),
    )
    return AsyncEnv(emulator, norce, store, tracker, tmp_path / "work")


# ---------------------------------------------------------------------------- adapters


class Prices(SourceAdapter[dict[str, Any]]):
    """Price rows ``{sku, list, price, mod}``; can fail mid-extraction or on some rows."""

    def __init__(
        self,
        rows: list[dict[str, Any]],
        *,
        fail_after: int | None = None,
        bad: frozenset[str] = frozenset(),
    ) -> None:
        self.rows = rows
        self.fail_after = fail_after
        self.bad = bad
        self.windows: list[tuple[dt.datetime | None, dt.datetime]] = []

    def _stream(self, rows: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for number, row in enumerate(rows):
            if self.fail_after is not None and number >= self.fail_after:
                raise ConnectionError("ERP connection reset")
            yield row

    def fetch_all(self) -> Iterator[dict[str, Any]]:
        return self._stream(self.rows)

    def fetch_changed(
        self, since: dt.datetime | None, until: dt.datetime
    ) -> Iterator[dict[str, Any]]:
        self.windows.append((since, until))
        return self._stream(
            [r for r in self.rows if (since is None or r["mod"] >= since) and r["mod"] < until]
        )

    def map(self, record: dict[str, Any]) -> SkuPriceList:
        if record["sku"] in self.bad:
            raise ValueError(f"no price list mapping for {record['list']!r}")
        return SkuPriceList(
            part_no=record["sku"],
            price_list_code=record["list"],
            price_sale=Decimal(record["price"]),
        )

    def key(self, record: dict[str, Any]) -> str:
        return f"{record['sku']}@{record['list']}"

    def version(self, record: dict[str, Any]) -> dt.datetime:
        return record["mod"]  # type: ignore[no-any-return]


class AsyncPrices(AsyncSourceAdapter[dict[str, Any]]):
    """The async twin of :class:`Prices`."""

    def __init__(self, rows: list[dict[str, Any]], *, fail_after: int | None = None) -> None:
        self.rows = rows
        self.fail_after = fail_after

    async def _stream(self, rows: list[dict[str, Any]]) -> AsyncIterator[dict[str, Any]]:
        for number, row in enumerate(rows):
            if self.fail_after is not None and number >= self.fail_after:
                raise ConnectionError("ERP connection reset")
            yield row

    def fetch_all(self) -> AsyncIterator[dict[str, Any]]:
        return self._stream(self.rows)

    def fetch_changed(
        self, since: dt.datetime | None, until: dt.datetime
    ) -> AsyncIterator[dict[str, Any]]:
        return self._stream(
            [r for r in self.rows if (since is None or r["mod"] >= since) and r["mod"] < until]
        )

    async def map(self, record: dict[str, Any]) -> SkuPriceList:
        return SkuPriceList(
            part_no=record["sku"],
            price_list_code=record["list"],
            price_sale=Decimal(record["price"]),
        )

    def version(self, record: dict[str, Any]) -> dt.datetime:
        return record["mod"]  # type: ignore[no-any-return]


class Onhands(SourceAdapter[tuple[str, str, str, int]]):
    """On-hand rows ``(part_no, warehouse, location, qty)``."""

    def __init__(self, rows: list[tuple[str, str, str, int]]) -> None:
        self.rows = rows

    def fetch_all(self) -> Iterator[tuple[str, str, str, int]]:
        yield from self.rows

    def fetch_changed(
        self, since: dt.datetime | None, until: dt.datetime
    ) -> Iterator[tuple[str, str, str, int]]:
        raise NotImplementedError

    def map(self, record: tuple[str, str, str, int]) -> SkuOnhand:
        part_no, warehouse, location, qty = record
        return SkuOnhand(
            part_no=part_no,
            warehouse_code=warehouse,
            location_code=location,
            onhand_value=Decimal(qty),
        )


class Products(SourceAdapter[tuple[str, str]]):
    """Products ``(part_no, cluster code)``."""

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        self.rows = rows

    def fetch_all(self) -> Iterator[tuple[str, str]]:
        yield from self.rows

    def fetch_changed(
        self, since: dt.datetime | None, until: dt.datetime
    ) -> Iterator[tuple[str, str]]:
        raise NotImplementedError

    def map(self, record: tuple[str, str]) -> Product:
        return product_item(record[0], code=record[1])


# ---------------------------------------------------------------------------- kill tests


CHILD = Path(__file__).with_name("_import_child.py")


def run_child(
    base_url: str,
    store: Path | str,
    work: Path,
    *,
    mode: str,
    kill: str,
    rows: int,
    t0: dt.datetime,
    price: str = "100",
    schema: str = "",
) -> subprocess.CompletedProcess[str]:
    """Run :mod:`_import_child` in a fresh interpreter (it SIGKILLs itself at ``kill``).

    ``store``: a SQLite path, or a PostgreSQL DSN (with ``schema``).
    """
    config = {
        "base_url": base_url,
        "store": str(store),
        "schema": schema,
        "work": str(work),
        "mode": mode,
        "kill": kill,
        "rows": rows,
        "t0": t0.isoformat(),
        "price": price,
    }
    return subprocess.run(
        [sys.executable, str(CHILD), json.dumps(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
