"""The end-to-end demo, as plain code: ``norce-integration demo`` runs :func:`run_demo`.

Read it top to bottom; it is the whole life of an integration on the embedded emulator:

1. **Full imports.** The ERP catalogue (CSV) goes to Norce as three full imports:
   products, prices and stock, each its own source with the fields it owns. Each import
   is a Connect job, tracked to the end.
2. **Webhooks.** Norce (the emulator) is told to post ``SkuChangedNotification`` and
   ``JobCompletedEvent`` to the receiver: the :class:`EventHandler`'s ASGI app.
3. **Delta imports.** The ERP changes some rows; each source sends only what changed
   since its watermark.
4. **Back office.** A merchandiser changes things in Norce Admin (simulated).
5. **Nightly full import.** The ERP discontinued some products; the full import does
   not contain them, so Norce deactivates them: the integration heals itself.
6. **Events to the target.** Norce delivers the webhooks; the worker looks each changed
   SKU up in Query (batched, cached) and writes it to the search index (a JSONL file).
7. **Query lookups.** A storefront-style read: by key (answered from the cache) and an
   OData query.

Nothing waits in real time: the emulator runs on a :class:`ManualClock`, and the job
tracker's ``sleep`` advances it, so a poll interval of a second costs nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

import attrs
import httpx

from ..._sync_client import Norce
from ...patterns import (
    DeltaImport,
    EventBatchReport,
    EventHandler,
    FullImport,
    ImportResult,
    JobTracker,
    PollSchedule,
    Progress,
    WebhookAuth,
)
from ...query import ProductSku, ProductSkuPriceList, f, query
from ...stores import SqliteStore
from ...testing import ManualClock, NorceEmulator
from .catalogue import (
    CatalogueRow,
    CatalogueSource,
    PriceSource,
    ProductSource,
    StockSource,
    read_catalogue,
    write_catalogue,
)
from .orders import run_orders
from .target import SearchIndexTarget


__all__ = [
    "DemoPaths",
    "DemoSummary",
    "JobLine",
    "Reporter",
    "SilentReporter",
    "bundled_catalogue",
    "run_demo",
]

ACCOUNT_ID = 1  # the system account the ERP imports as
RECEIVER_URL = "http://receiver.demo/hooks"  # any URL: delivery goes to the app in-process
WEBHOOK_HEADER = "X-Norce-Webhook-Secret"
WEBHOOK_SECRET = "demo-webhook-secret"  # noqa: S105 - the demo's own, in-process only
EVENT_TYPES = ("SkuChangedNotification", "JobCompletedEvent")


def bundled_catalogue() -> list[CatalogueRow]:
    """The rows of the sample ERP export shipped with the package (3,000 SKUs)."""
    data = resources.files("norce_integration.cli") / "data" / "catalogue.csv"
    with resources.as_file(data) as path:
        return list(read_catalogue(path))


# ---------------------------------------------------------------------------- reporting


class Reporter(Protocol):
    """What the demo tells as it goes (the CLI draws it with rich; tests stay silent)."""

    def step(self, title: str) -> None:
        """A new step of the story."""

    def note(self, text: str) -> None:
        """A line under the current step."""

    def start_import(self, mode: str, source: str, expected: int) -> None:
        """An import of ``source`` is about to run (``expected`` records)."""

    def progress(self, report: Progress) -> None:
        """The import's progress hook."""

    def finish_import(self, result: ImportResult) -> None:
        """The import ended."""


class SilentReporter:
    """Tells nothing."""

    def step(self, title: str) -> None:
        """Ignore."""

    def note(self, text: str) -> None:
        """Ignore."""

    def start_import(self, mode: str, source: str, expected: int) -> None:
        """Ignore."""

    def progress(self, report: Progress) -> None:
        """Ignore."""

    def finish_import(self, result: ImportResult) -> None:
        """Ignore."""


# ---------------------------------------------------------------------------- results


@attrs.frozen
class JobLine:
    """One import of the demo (a row of the summary table)."""

    source: str
    kind: str
    mode: str
    status: str
    items: int
    job_ids: tuple[int, ...]
    skipped_unchanged: int = 0


@attrs.frozen(kw_only=True)
class DemoSummary:
    """What the demo did; ``norce-integration demo --json`` prints :meth:`to_json`."""

    imports: tuple[JobLine, ...]
    catalogue_rows: int
    changed_rows: int
    discontinued: int
    deactivated_skus: int
    webhooks_delivered: int
    events_processed: int
    jobs_resolved_by_event: int
    dead_letters: int
    entities_looked_up: int
    query_requests: int
    cache_hits: int
    cache_misses: int
    target_upserts: int
    target_deletes: int
    skipped_unchanged: int
    index_documents: int
    inactive_in_index: int
    expensive_skus: int
    orders_placed: int
    orders_in_erp: int
    order_answers_sent: int
    orders_invoiced: int
    http_requests: dict[str, int]
    emulator_seconds: float
    duration_seconds: float
    output_dir: str
    target_file: str
    state_file: str

    @property
    def ok(self) -> bool:
        """True when every import succeeded and every event was processed."""
        return (
            all(line.status in ("succeeded", "empty") for line in self.imports)
            and self.events_processed > 0
            and self.dead_letters == 0
            and self.orders_placed > 0
            and self.orders_invoiced == self.orders_in_erp == self.orders_placed
        )

    def to_json(self) -> dict[str, Any]:
        """Plain JSON types only."""
        data = attrs.asdict(self, recurse=True)
        data["imports"] = [
            attrs.asdict(line) | {"job_ids": list(line.job_ids)} for line in self.imports
        ]
        data["jobs"] = sum(len(line.job_ids) for line in self.imports)
        data["ok"] = self.ok
        return data


# ---------------------------------------------------------------------------- files


@attrs.frozen
class DemoPaths:
    """Where the demo writes: the ERP export, the state store, the target, spool files."""

    root: Path

    @property
    def catalogue(self) -> Path:
        """The ERP's export (a copy of the bundled sample, then changed by the demo)."""
        return self.root / "erp" / "catalogue.csv"

    @property
    def state(self) -> Path:
        """The SQLite store: jobs, watermarks, item versions, webhook inbox."""
        return self.root / "norce-state.sqlite"

    @property
    def target(self) -> Path:
        """The search index the events end in."""
        return self.root / "search-index.jsonl"

    @property
    def work(self) -> Path:
        """Spool files of import runs (deleted after each run)."""
        return self.root / "work"

    def reset(self) -> None:
        """Remove what an earlier run left: the demo always starts from scratch."""
        for path in (self.catalogue, self.target):
            path.unlink(missing_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.state}{suffix}").unlink(missing_ok=True)
        shutil.rmtree(self.work, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)


class _CountingTransport(httpx.BaseTransport):
    """Counts the requests to each Norce service (for the summary), then forwards them."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.counts = {"token": 0, "connect": 0, "query": 0}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.lower()
        service = "token" if "/identity/" in path else "query" if "/query/" in path else "connect"
        self.counts[service] += 1
        return self.inner.handle_request(request)


# ---------------------------------------------------------------------------- the story


def run_demo(
    output_dir: Path,
    *,
    reporter: Reporter | None = None,
    catalogue: Path | None = None,
) -> DemoSummary:
    """Run the whole story on a fresh emulator; write everything under ``output_dir``.

    Args:
        output_dir: where the ERP export, the state store and the target file go (files
            of an earlier run there are replaced).
        reporter: receives the narrative and the import progress.
        catalogue: the ERP export to start from (default: the bundled sample).

    Returns:
        The figures of the run.

    Raises:
        NorceError: an import was refused or a call to the emulator failed.
        OSError: ``output_dir`` cannot be written.
    """
    tell = reporter or SilentReporter()
    started = time.perf_counter()
    paths = DemoPaths(output_dir)
    paths.reset()

    # The ERP: its export file, which the demo changes later as the ERP's users would.
    rows = list(read_catalogue(catalogue)) if catalogue else bundled_catalogue()
    write_catalogue(paths.catalogue, rows)

    # Norce: the emulator on a manual clock, and one client, store and job tracker.
    emulator = NorceEmulator(clock=ManualClock(), account_id=ACCOUNT_ID)
    began = emulator.clock.now()

    def now() -> float:
        return emulator.clock.now().timestamp()

    counter = _CountingTransport(emulator.transport())
    norce = Norce(emulator.settings(), transport=counter)
    store = SqliteStore(paths.state, clock=now)
    tracker = JobTracker(
        norce,
        store,
        clock=now,
        sleep=emulator.advance,  # waiting for a job moves the emulator's clock instead
        schedule=PollSchedule(first_delay=1.0, interval=1.0, factor=1.0, jitter=0.0),
    )
    sources: list[CatalogueSource] = [
        ProductSource(paths.catalogue),
        PriceSource(paths.catalogue),
        StockSource(paths.catalogue),
    ]
    # The target side: the search index, fed by the event handler (receiver + worker).
    target = SearchIndexTarget(paths.target)
    handler = EventHandler(
        norce,
        store,
        targets=[target],
        tracker=tracker,  # JobCompletedEvent resolves tracked jobs
        auth=WebhookAuth(WEBHOOK_HEADER, WEBHOOK_SECRET),
    )
    lines: list[JobLine] = []

    def full_import(adapter: CatalogueSource, expected: int) -> None:
        spec = adapter.spec(ACCOUNT_ID)
        tell.start_import("full", spec.name, expected)
        run = FullImport(
            norce,
            spec,
            adapter,
            tracker=tracker,
            clock=now,
            work_dir=paths.work,
            progress=tell.progress,
            progress_every=250,
        )
        result = run.run()
        tell.finish_import(result)
        lines.append(_line(result))

    def delta_import(adapter: CatalogueSource, expected: int) -> None:
        spec = adapter.spec(ACCOUNT_ID)
        tell.start_import("delta", spec.name, expected)
        run = DeltaImport(
            norce,
            spec,
            adapter,
            tracker=tracker,
            clock=now,
            work_dir=paths.work,
            progress=tell.progress,
        )
        result = run.run()
        tell.finish_import(result)
        lines.append(_line(result))

    try:
        # 1. Full imports: everything, FullFile=true, one tracked job each.
        tell.step(f"Full imports of the ERP catalogue ({len(rows):,} SKUs)")
        for adapter in sources:
            full_import(adapter, len(rows))

        # 2. Webhooks: Norce posts to the receiver. In-process, the emulator delivers
        #    through httpx's ASGI transport straight into the handler's app.
        tell.step("Webhook subscriptions → the receiver (EventHandler's ASGI app)")
        emulator.delivery_transport = httpx.ASGITransport(app=handler.app)
        for event_type in EVENT_TYPES:
            emulator.subscribe(
                event_type,
                f"{RECEIVER_URL}/{event_type}",
                headers={WEBHOOK_HEADER: WEBHOOK_SECRET},
            )
            tell.note(f"{event_type} → {RECEIVER_URL}/{event_type}")
        events = _EventTally()

        def deliver_and_process() -> None:
            # Norce posts the webhooks that are due; the worker drains the inbox. (The
            # ASGI transport is async. The CLI owns its process, so it runs a loop here;
            # inside a running loop, a notebook or an app, `await emulator.arun_due()`.)
            before = len(emulator.deliveries)
            asyncio.run(emulator.arun_due())
            tally = events.add(len(emulator.deliveries) - before, _drain(handler.run_once))
            tell.note(
                f"events: {_n(tally.delivered, 'webhook')} → {_n(tally.sent, 'document')} "
                f"to {paths.target.name} ({tally.unchanged} unchanged, "
                f"{_n(tally.jobs, 'job')} resolved by JobCompletedEvent)"
            )

        # 3. The ERP changes some rows; delta imports send only those.
        emulator.advance(3600)
        changed = _erp_changes(rows, emulator.clock.now())
        write_catalogue(paths.catalogue, rows)
        emulator.advance(300)
        tell.step(f"The ERP changed {len(changed)} rows: delta imports")
        for adapter in sources:
            delta_import(adapter, len(changed))
        deliver_and_process()

        # 4. Norce Admin: a merchandiser sets euro prices. The ERP owns only the STD
        #    price list (its header says so), so nothing it sends ever overwrites them.
        tell.step("Back office: changes made in Norce Admin (simulated)")
        emulator.advance(600)
        for row in rows[10:12]:
            emulator.set_sku_price(
                row.part_no, (row.price / 11).quantize(row.price), price_list_code="EUR"
            )
        tell.note(f"EUR prices set for {rows[10].part_no} and {rows[11].part_no}")
        deliver_and_process()

        # 5. Nightly full import: discontinued products are gone from the export, so
        #    Norce deactivates them (FullFile=true). The shrink guard allows a small drop.
        emulator.advance(6 * 3600)
        discontinued = rows[-5:]
        del rows[-5:]
        write_catalogue(paths.catalogue, rows)
        tell.step(f"Nightly full import: the ERP discontinued {len(discontinued)} products")
        full_import(sources[0], len(rows))
        deactivated = sum(1 for row in discontinued if _sku_status(emulator, row.part_no) != 1)
        tell.note(f"{deactivated} SKUs deactivated by Norce (absent from the full import)")
        deliver_and_process()

        # 6. Query: reads by key come from the cache the handler keeps warm; an OData
        #    query filters on the server, 500 rows a page.
        tell.step("Query lookups")
        part_nos = [row.part_no for row in changed[:25]]
        found = handler.query.lookup_many(ProductSku, "PartNo", part_nos, select=target.select)
        price = attrs.fields(ProductSkuPriceList)
        active = f(price.is_active).eq(True)  # noqa: FBT003 - an OData literal
        pricey = query(ProductSkuPriceList).filter(f(price.price_sale).gt(Decimal(2000)), active)
        key = (f(price.part_no), f(price.price_list_id), f(price.qty_break))
        expensive = sum(1 for _ in norce.query.iterate(pricey.select(*key)))
        stats = handler.query.cache.stats if handler.query.cache is not None else None
        tell.note(
            f"{len(found.found)} SKUs by key ({found.cached} from the cache, "
            f"{found.requests} requests); {expensive} active prices above 2,000 SEK"
        )
        # 7. Orders: a shopper checks out; Norce pushes the order to the Order Receiver,
        #    which stores it, creates it in the ERP and answers; the ERP's answers
        #    (confirmed, delivery note, invoice) go back through the status publisher.
        tell.step("Orders: Norce → the Order Receiver → the ERP → back to Norce")
        chapter = run_orders(
            emulator,
            norce,
            paths.state,
            handler.app,
            [row.part_no for row in rows[:3]],
            run=asyncio.run,
        )
        tell.note(
            f"{_n(chapter.placed, 'order')} pushed by Norce, {chapter.in_erp} created in the "
            f"ERP; {chapter.sent_to_norce} answers sent back (status, delivery note, "
            f"invoice); {chapter.invoiced} invoiced in Norce"
        )
        index = target.documents()
        return DemoSummary(
            imports=tuple(lines),
            catalogue_rows=len(rows) + len(discontinued),
            changed_rows=len(changed),
            discontinued=len(discontinued),
            deactivated_skus=deactivated,
            webhooks_delivered=events.delivered,
            events_processed=events.processed,
            jobs_resolved_by_event=events.jobs,
            dead_letters=len(store.list_dead_letters()),
            entities_looked_up=events.entities + len(part_nos),
            query_requests=counter.counts["query"],
            cache_hits=stats.hits if stats else 0,
            cache_misses=stats.misses if stats else 0,
            target_upserts=target.upserts,
            target_deletes=target.deletes,
            skipped_unchanged=events.unchanged,
            index_documents=len(index),
            inactive_in_index=sum(1 for doc in index.values() if not doc["active"]),
            expensive_skus=expensive,
            orders_placed=chapter.placed,
            orders_in_erp=chapter.in_erp,
            order_answers_sent=chapter.sent_to_norce,
            orders_invoiced=chapter.invoiced,
            http_requests=dict(counter.counts),
            emulator_seconds=(emulator.clock.now() - began).total_seconds(),
            duration_seconds=round(time.perf_counter() - started, 3),
            output_dir=str(paths.root),
            target_file=str(paths.target),
            state_file=str(paths.state),
        )
    finally:
        handler.close()
        norce.close()
        store.close()
        emulator.close()


# ---------------------------------------------------------------------------- helpers


def _line(result: ImportResult) -> JobLine:
    return JobLine(
        source=result.source,
        kind=result.kind,
        mode=result.mode,
        status=str(result.status),
        items=result.item_count,
        job_ids=result.job_ids,
        skipped_unchanged=result.skipped_unchanged,
    )


def _erp_changes(rows: list[CatalogueRow], when: dt.datetime) -> list[CatalogueRow]:
    """What the ERP's users did in the last hour: new prices, stock counts, a rename.

    Deterministic (every 50th row a price, every 40th a stock count, every 300th a new
    name), stamped ``when``. Changes ``rows`` in place and returns the changed rows.
    """
    changed: dict[int, CatalogueRow] = {}
    for number, row in enumerate(rows):
        new = row
        if number % 50 == 7:
            new = attrs.evolve(new, price=(new.price * 9 / 10).quantize(new.price))
        if number % 40 == 3:
            new = attrs.evolve(new, stock=new.stock + 24)
        if number % 300 == 11:
            new = attrs.evolve(new, name=f"{new.name} (2025)")
        if new is not row:
            changed[number] = attrs.evolve(new, updated_at=when)
    for number, row in changed.items():
        rows[number] = row
    return list(changed.values())


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _sku_status(emulator: NorceEmulator, part_no: str) -> int | None:
    row = emulator.table("Products", "ProductSkus").get(part_no)
    return None if row is None else int(row["StatusId"])


@attrs.define
class _EventTally:
    """Running totals of the event handler's batch reports."""

    delivered: int = 0
    processed: int = 0
    entities: int = 0
    sent: int = 0
    unchanged: int = 0
    jobs: int = 0

    def add(self, delivered: int, reports: Iterator[EventBatchReport]) -> _EventTally:
        """Add one round; returns the round's own figures."""
        round_ = _EventTally(delivered=delivered)
        for report in reports:
            round_.processed += report.acked
            round_.entities += report.entities
            round_.sent += report.sent + report.deleted
            round_.unchanged += report.skipped_unchanged
            round_.jobs += report.jobs_resolved
        for name in ("delivered", "processed", "entities", "sent", "unchanged", "jobs"):
            setattr(self, name, getattr(self, name) + getattr(round_, name))
        return round_


def _drain(run_once: Callable[[], EventBatchReport]) -> Iterator[EventBatchReport]:
    """Run a worker until the inbox is empty."""
    while True:
        report = run_once()
        if report.claimed == 0:
            return
        yield report
