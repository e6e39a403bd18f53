"""Child process of the import kill tests: run a delta or full import, SIGKILL itself at
a chosen step.

Usage: ``python _import_child.py '<json config>'``. Config keys: ``base_url`` (a served
emulator), ``store`` (SQLite path, or a ``postgresql://`` DSN with ``schema``), ``work``
(spool directory), ``mode`` (``delta`` or ``full``), ``rows`` (price rows S0000.. in list
STD), ``t0`` (their modification time, ISO), ``price`` (their price, default 100) and
``kill``, one of:

* ``before-extract``: when the source is first asked for records;
* ``extract``: in the middle of the extraction;
* ``journal``: the run journal is written, the POST not sent;
* ``answered``: Norce answered the POST, the SDK has not read the answer (nothing of the
  job is in the store);
* ``tracked``: right after the tracker stored the job id, before the journal names it;
* ``submit``: after the journal names the job;
* ``track``: on the first wait while polling;
* ``settle``: the job succeeded, nothing settled yet;
* ``watermark``: settled up to the watermark write (versions, generation, last full
  import written), before the watermark moves;
* ``none``.

The parent test checks what the kill left behind and that the next run finishes it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sys
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from norce_integration import Norce, NorceSettings, RetryPolicy
from norce_integration.connect.models import (
    SkuPriceList,
    SkuPriceListField,
    SkuPriceListHeader,
)
from norce_integration.patterns import (
    DeltaImport,
    FullImport,
    JobTracker,
    PollSchedule,
    Progress,
    SourceAdapter,
    SourceSpec,
)
from norce_integration.stores import PostgresStore, SqliteStore, Store


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def settings(base_url: str) -> NorceSettings:
    return NorceSettings(
        client_id="norce-emulator",
        client_secret="emulator-secret",
        application_id=1042,
        account_id=1,
        connect_url=f"{base_url}/commerce/connect/4.0/",
        query_url=f"{base_url}/commerce/query/2.0/",
        token_url=f"{base_url}/identity/1.0/connect/token",
        retry=RetryPolicy(max_attempts=2, deadline=30.0),
    )


def spec() -> SourceSpec:
    return SourceSpec(
        name="erp-prices",
        kind="sku_price_lists",
        header=SkuPriceListHeader(
            account_id=1,
            full_file=False,
            sku_price_list_fields_that_are_set=[SkuPriceListField.PriceSale],
        ),
        account_id=1,
    )


def open_store(config: dict[str, Any]) -> Store:
    if config["store"].startswith("postgresql://"):
        return PostgresStore(config["store"], schema=config["schema"])
    return SqliteStore(config["store"])


def rows(n: int, t0: dt.datetime, price: str = "100") -> list[dict[str, Any]]:
    return [{"sku": f"S{i:04d}", "price": price, "mod": t0} for i in range(n)]


class Prices(SourceAdapter[dict[str, Any]]):
    """Price rows; with ``kill_after`` the process dies in the middle of the extraction."""

    def __init__(
        self, data: list[dict[str, Any]], kill_after: int | None = None, *, kill_first: bool = False
    ) -> None:
        self.data = data
        self.kill_after = kill_after
        self.kill_first = kill_first

    def _stream(self, data: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        if self.kill_first:
            die()
        for number, row in enumerate(data):
            if self.kill_after is not None and number == self.kill_after:
                die()
            yield row

    def fetch_all(self) -> Iterator[dict[str, Any]]:
        return self._stream(self.data)

    def fetch_changed(
        self, since: dt.datetime | None, until: dt.datetime
    ) -> Iterator[dict[str, Any]]:
        return self._stream(
            [r for r in self.data if (since is None or r["mod"] >= since) and r["mod"] < until]
        )

    def map(self, record: dict[str, Any]) -> SkuPriceList:
        return SkuPriceList(
            part_no=record["sku"], price_list_code="STD", price_sale=Decimal(record["price"])
        )

    def version(self, record: dict[str, Any]) -> dt.datetime:
        return record["mod"]  # type: ignore[no-any-return]


FAST = PollSchedule(first_delay=0.05, interval=0.05, factor=1.0, max_interval=0.1, jitter=0.0)


def tracker_for(norce: Norce, store: Store, kill: str) -> JobTracker:
    def sleep(seconds: float) -> None:
        if kill == "track":
            die()
        import time

        time.sleep(seconds)

    tracker = JobTracker(norce, store, schedule=FAST, check_interval=0.05, sleep=sleep)
    if kill == "tracked":
        original = tracker.track

        def track(*args: Any, **kwargs: Any) -> Any:
            job = original(*args, **kwargs)
            die()
            return job

        tracker.track = track  # type: ignore[method-assign]
    return tracker


def arm(norce: Norce, store: Store, kill: str) -> None:
    """Kill points around the POST and the watermark write."""
    connect = norce.connect
    submit = connect.submit_encoded

    def submit_encoded(*args: Any, **kwargs: Any) -> Any:
        if kill == "journal":
            die()
        answer = submit(*args, **kwargs)
        if kill == "answered":
            die()
        return answer

    connect.submit_encoded = submit_encoded  # type: ignore[method-assign]
    if kill == "watermark":

        def compare_and_set_watermark(*args: Any, **kwargs: Any) -> Any:
            die()

        store.compare_and_set_watermark = compare_and_set_watermark  # type: ignore[method-assign]


def main(config: dict[str, Any]) -> None:
    kill = config["kill"]
    t0 = dt.datetime.fromisoformat(config["t0"])
    data = rows(config["rows"], t0, config.get("price", "100"))
    adapter = Prices(
        data,
        kill_after=config["rows"] // 2 if kill == "extract" else None,
        kill_first=kill == "before-extract",
    )

    def progress(event: Progress) -> None:
        if kill == "submit" and event.phase == "submit":
            die()
        if kill == "settle" and event.phase == "track":
            die()  # the job is final (succeeded): nothing settled yet

    with Norce(settings(config["base_url"])) as norce, open_store(config) as store:
        tracker = tracker_for(norce, store, kill)
        arm(norce, store, kill)
        common: dict[str, Any] = {
            "tracker": tracker,
            "work_dir": config["work"],
            "progress": progress,
            "progress_every": 10,
        }
        if config["mode"] == "delta":
            result = DeltaImport(norce, spec(), adapter, **common).run()
        else:
            result = FullImport(norce, spec(), adapter, **common).run()
        print(json.dumps({"status": str(result.status), "jobs": list(result.job_ids)}))


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
