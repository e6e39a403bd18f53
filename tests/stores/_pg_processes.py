"""Child processes of ``test_postgres_multiprocess.py`` (spawned: nothing is inherited).

Every child stops by itself: at the parent's stop event, or at its own deadline.

* :func:`receiver_main` — ``EventHandler.app`` under uvicorn on one port, on PostgreSQL.
* :func:`worker_main` — ``EventHandler.run``; its store records every lease it takes and
  gives up, and its target records every event it sends, with the time, to a log file.
* :func:`delta_host_main` — one "host" scheduling the shared delta import.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx


SECRET_HEADER = "X-Norce-Webhook-Secret"
SECRET = "mp-secret"
EVENT = "SkuChangedNotification"
PRODUCT_HEADER = {
    "AccountId": 1,
    "FullFile": False,
    "ProductFieldsThatAreSet": [0, 4, 1],
    "VariantFieldsThatAreSet": [0, 5],
    "SkuFieldsThatAreSet": [1, 2, 5],
}


# ---------------------------------------------------------------------------- workload


def emulator_webhooks(count: int, skus: int) -> list[tuple[str, dict[str, str], bytes]]:
    """``count`` distinct webhooks as the emulator sends them: path, headers, body.

    SKUs are imported, then Admin-style changes (price, stock, status) fire
    ``SkuChangedNotification``; ``skus * 3 >= count`` keeps every (SKU, table) distinct.
    """
    from norce_integration.testing import ManualClock, NorceEmulator

    captured: list[tuple[str, dict[str, str], bytes]] = []

    def capture(request: httpx.Request) -> httpx.Response:
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() in (SECRET_HEADER.lower(), "content-type")
        }
        captured.append((request.url.path, headers, request.content))
        return httpx.Response(200)

    with NorceEmulator(
        clock=ManualClock(), delivery_transport=httpx.MockTransport(capture), token_lifetime=10**7
    ) as emulator:
        part_nos = [f"SKU-{i:05d}" for i in range(skus)]
        items = [
            {
                "ManufacturerCode": "ACME",
                "Code": f"P-{p}",
                "Variants": [
                    {
                        "ManufacturerPartNo": f"M-{p}",
                        "Skus": [{"PartNo": p, "Status": 1, "Type": 1}],
                    }
                ],
            }
            for p in part_nos
        ]
        with httpx.Client(
            transport=emulator.transport(),
            base_url=emulator.settings().connect_base,
            headers={"Authorization": f"Bearer {emulator.issue_token()}"},
        ) as http:
            for start in range(0, len(items), 2000):
                http.post(
                    "Product/ImportProducts",
                    headers={"X-StormConnect-Header": json.dumps(PRODUCT_HEADER)},
                    json=items[start : start + 2000],
                ).raise_for_status()
        emulator.advance(30)
        emulator.subscribe(EVENT, f"http://receiver/hooks/{EVENT}", headers={SECRET_HEADER: SECRET})
        changes = (
            lambda p, i: emulator.set_sku_price(p, 100 + i % 50),
            lambda p, i: emulator.set_sku_onhand(p, 1 + i % 40),
            lambda p, i: emulator.set_sku_status(p, 2),
        )
        i = 0
        while len(captured) < count:
            change = i % len(changes)
            part_no = part_nos[(i // len(changes)) % len(part_nos)]
            changes[change](part_no, i)
            i += 1
            if i % 500 == 0:
                emulator.advance(1)
        emulator.advance(1)
    return captured[:count]


def settings(base_url: str = "http://127.0.0.1:9") -> Any:
    from norce_integration import NorceSettings, RetryPolicy

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


def _stop_when(stop: Any, deadline: float, then: Any) -> threading.Thread:
    """A thread calling ``then()`` once ``stop`` (a multiprocessing event) is set or at
    ``deadline`` (``time.time()``), whichever comes first."""

    def watch() -> None:
        while not stop.is_set() and time.time() < deadline:
            stop.wait(0.1)
        then()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


# ---------------------------------------------------------------------------- targets


class RecordingTarget:
    """Takes ``SkuChangedNotification`` events as they came (no Query lookup) and logs
    ``(event, worker, start, end)`` for each."""

    event_types = (EVENT,)
    lookup = False
    name = "search"

    def __init__(self, worker: str, log: Any) -> None:
        self.worker = worker
        self.log = log

    def map(self, event: Any) -> Any:
        return event

    def send(self, batch: Sequence[Any]) -> None:
        start = time.time()
        time.sleep(0.0002 * len(batch))  # a target takes time; batches of workers interleave
        end = time.time()
        self.log.write(
            "".join(
                json.dumps(
                    {
                        "op": "event",
                        "event": f"{e.part_no}|{e.entity_changed}",
                        "worker": self.worker,
                        "start": start,
                        "end": end,
                    }
                )
                + "\n"
                for e in batch
            )
        )
        self.log.flush()


def _recording_store(dsn: str, schema: str, worker: str, log: Any) -> Any:
    """A PostgresStore that logs every lease taken and given up (``claim``/``done``)."""
    from norce_integration.stores import InboxItem, PostgresStore

    def note(op: str, ids: Sequence[int], t: float) -> None:
        log.write(
            "".join(json.dumps({"op": op, "item": i, "worker": worker, "t": t}) + "\n" for i in ids)
        )
        log.flush()

    class RecordingStore(PostgresStore):
        def inbox_claim(self, owner: str, *, limit: int, lease: float) -> list[InboxItem]:
            items = super().inbox_claim(owner, limit=limit, lease=lease)
            note("claim", [i.item_id for i in items], time.time())
            return items

        def inbox_ack_many(self, item_ids: Sequence[int], owner: str) -> int:
            note("done", list(item_ids), time.time())  # before: the lease ends with it
            return super().inbox_ack_many(item_ids, owner)

        def inbox_release_many(
            self, releases: Sequence[tuple[int, str | None, float]], owner: str
        ) -> int:
            note("done", [r[0] for r in releases], time.time())
            return super().inbox_release_many(releases, owner)

    return RecordingStore(dsn, schema=schema, max_size=4)


# ---------------------------------------------------------------------------- children


def receiver_main(dsn: str, schema: str, port: int, stop: Any, deadline: float) -> None:
    import uvicorn

    from norce_integration import Norce
    from norce_integration.patterns import EventHandler, WebhookAuth
    from norce_integration.stores import PostgresStore

    with (
        Norce(settings()) as norce,
        PostgresStore(dsn, schema=schema, max_size=4) as store,
        EventHandler(
            norce,
            store,
            targets=[RecordingTarget("receiver", None)],
            auth=WebhookAuth(SECRET_HEADER, SECRET),
        ) as handler,
    ):
        server = uvicorn.Server(
            uvicorn.Config(
                handler.app, host="127.0.0.1", port=port, log_level="error", access_log=False
            )
        )

        def shut() -> None:
            server.should_exit = True

        _stop_when(stop, deadline, shut)
        server.run()


def worker_main(
    dsn: str, schema: str, name: str, log_path: str, stop: Any, deadline: float
) -> None:
    from norce_integration import Norce
    from norce_integration.patterns import EventHandler

    halt = threading.Event()
    with (
        open(log_path, "a", encoding="utf-8") as log,
        Norce(settings()) as norce,
        _recording_store(dsn, schema, name, log) as store,
        EventHandler(
            norce,
            store,
            targets=[RecordingTarget(name, log)],
            batch_size=50,
            lease=60.0,
            poll_interval=0.05,
            owner=name,
        ) as handler,
    ):
        _stop_when(stop, deadline, halt.set)
        handler.run(halt)


class Prices:
    """The delta source of the import test: price rows, slow enough to overlap a rival."""

    def __init__(self, rows: list[dict[str, Any]], pause: float) -> None:
        self.rows = rows
        self.pause = pause

    def fetch_all(self) -> Iterator[dict[str, Any]]:
        return self.fetch_changed(None, dt.datetime.max.replace(tzinfo=dt.UTC))

    def fetch_changed(
        self, since: dt.datetime | None, until: dt.datetime
    ) -> Iterator[dict[str, Any]]:
        time.sleep(self.pause)  # the in-flight lock is held from here on
        return iter(
            [r for r in self.rows if (since is None or r["mod"] >= since) and r["mod"] < until]
        )

    def map(self, record: dict[str, Any]) -> Any:
        from norce_integration.connect.models import SkuPriceList

        return SkuPriceList(
            part_no=record["sku"], price_list_code="STD", price_sale=Decimal(record["price"])
        )

    def version(self, record: dict[str, Any]) -> dt.datetime:
        return record["mod"]  # type: ignore[no-any-return]


def delta_host_main(
    base_url: str,
    dsn: str,
    schema: str,
    host: str,
    work_dir: str,
    rounds: list[dict[str, Any]],
    barrier: Any,
    results: Any,
) -> None:
    """Run the same delta import as a rival host, once per round, all hosts in step."""
    from norce_integration import ImportRefusedError, Norce
    from norce_integration.connect.models import SkuPriceListField, SkuPriceListHeader
    from norce_integration.patterns import DeltaImport, JobTracker, PollSchedule, SourceSpec
    from norce_integration.stores import PostgresStore

    spec = SourceSpec(
        name="erp-prices",
        kind="sku_price_lists",
        header=SkuPriceListHeader(
            account_id=1,
            full_file=False,
            sku_price_list_fields_that_are_set=[SkuPriceListField.PriceSale],
        ),
        account_id=1,
    )
    fast = PollSchedule(first_delay=0.1, interval=0.1, factor=1.0, max_interval=0.2, jitter=0.0)
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    with Norce(settings(base_url)) as norce, PostgresStore(dsn, schema=schema) as store:
        tracker = JobTracker(norce, store, schedule=fast, check_interval=0.1)
        for number, round_ in enumerate(rounds):
            rows = [
                {
                    "sku": f"S{i:04d}",
                    "price": round_["price"],
                    "mod": dt.datetime.fromisoformat(round_["mod"]),
                }
                for i in range(round_["rows"])
            ]
            importer = DeltaImport(
                norce,
                spec,
                Prices(rows, pause=round_["pause"]),  # type: ignore[arg-type]
                tracker=tracker,
                work_dir=work_dir,
                initial_since=dt.datetime.fromisoformat(round_["since"]),
            )
            barrier.wait(timeout=60)
            outcome: dict[str, Any] = {"host": host, "round": number, "pid": os.getpid()}
            try:
                result = importer.run()
            except ImportRefusedError as exc:
                outcome.update(outcome="refused", rule=exc.rule, message=str(exc))
            except Exception as exc:
                outcome.update(outcome="error", message=f"{type(exc).__name__}: {exc}")
            else:
                outcome.update(
                    outcome=str(result.status), jobs=list(result.job_ids), ok=result.succeeded
                )
            results.put(outcome)
            barrier.wait(timeout=60)  # the next round starts when both hosts are done
