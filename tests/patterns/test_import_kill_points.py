"""kill -9 at every step of a delta and a full import, on SQLite and PostgreSQL (issue 17).

Each test runs one good import in this process (the baseline: a confirmed success and
its watermark), changes every record, then runs the same import in a child process that
SIGKILLs itself at one step, and finally runs the import again here (resolving a held run
the way an operator would). Afterwards:

* no record changed in the killed run's window is missing at the emulator;
* the watermark was never ahead of a confirmed success (after the kill it is still the
  baseline's; afterwards it is the window end of a run whose job succeeded);
* no two full jobs of the kind overlapped in the emulator's job history (the second full
  import was never submitted while the first might still run);
* the killed payload was never applied twice by mistake and no state is left over.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import secrets
import signal
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from norce_integration import Norce
from norce_integration._exceptions import RunHeldError
from norce_integration.patterns import (
    DeltaImport,
    FullImport,
    ImportStatus,
    JobTracker,
    PollSchedule,
)
from norce_integration.patterns.imports import ImportRuns
from norce_integration.stores import SqliteStore, Store
from norce_integration.testing import JobTimings, NorceEmulator

from ._import_child import Prices
from ._import_env import ACCOUNT, price_spec, product_header, product_item, run_child


PG_DSN = os.environ.get("NORCE_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
KIND = "sku_price_lists"
SOURCE = "erp-prices"
ROWS = 40
KILL_POINTS = [
    "before-extract",
    "extract",
    "journal",
    "answered",
    "tracked",
    "submit",
    "track",
    "settle",
    "watermark",
]
FAST = PollSchedule(first_delay=0.05, interval=0.05, factor=1.0, max_interval=0.1, jitter=0.0)
SENT = {"answered", "tracked", "submit", "track", "settle", "watermark"}
"""Kill points after which the killed run's job exists in Norce."""


@pytest.fixture
def served() -> Iterator[tuple[NorceEmulator, str]]:
    # Jobs queue and run long enough that a second full import submitted at once would
    # overlap the first.
    emulator = NorceEmulator(job_timings=JobTimings(queued=0.4, running=0.6))
    try:
        with emulator.serve() as server:
            yield emulator, server.base_url
    finally:
        emulator.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """How the parent and the child open the same store."""
    if request.param == "sqlite":
        path = tmp_path / "state.sqlite"
        yield {"store": path, "schema": "", "open": lambda: SqliteStore(path)}
        return
    psycopg = pytest.importorskip("psycopg")
    from norce_integration.stores import PostgresStore

    try:
        admin = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL unreachable at NORCE_TEST_PG_DSN: {exc}")
        pytest.skip(f"PostgreSQL unreachable (set NORCE_TEST_PG_DSN): {exc}")
    schema = f"norce_test_kill_{os.getpid()}_{secrets.token_hex(3)}"
    try:
        yield {
            "store": PG_DSN,
            "schema": schema,
            "open": lambda: PostgresStore(PG_DSN, schema=schema),
        }
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


def seed(emulator: NorceEmulator) -> None:
    with Norce(emulator.settings(), transport=emulator.transport()) as norce:
        sent = norce.connect.submit(
            "products", [product_item(f"S{i:04d}") for i in range(ROWS)], product_header(99)
        )
    deadline = time.monotonic() + 10
    while emulator.get_job(sent.job_id)["StatusId"] != 2:
        assert time.monotonic() < deadline
        time.sleep(0.02)


def rows(price: str, mod: dt.datetime) -> list[dict[str, Any]]:
    return [{"sku": f"S{i:04d}", "list": "STD", "price": price, "mod": mod} for i in range(ROWS)]


def importer(mode: str, norce: Norce, store: Store, work: Path, data: list[dict[str, Any]]) -> Any:
    """The import the child runs (the same adapter: the same keys and versions)."""
    tracker = JobTracker(norce, store, schedule=FAST, check_interval=0.05)
    cls = DeltaImport if mode == "delta" else FullImport
    return cls(norce, price_spec(), Prices(data), tracker=tracker, work_dir=work)


def prices(emulator: NorceEmulator) -> dict[str, tuple[bool, Decimal]]:
    return {
        key[0]: (bool(row["IsActive"]), Decimal(str(row["PriceSale"])))
        for key, row in emulator.table("Products", "ProductSkuPriceLists").rows.items()
    }


def price_jobs(emulator: NorceEmulator) -> list[dict[str, Any]]:
    return [j for j in emulator.job_history if j["Import"] == "Product/ImportSkuPriceLists"]


def assert_no_full_jobs_overlap(emulator: NorceEmulator) -> None:
    fulls = sorted((j for j in price_jobs(emulator) if j["FullFile"]), key=lambda j: j["Created"])
    for before, after in itertools.pairwise(fulls):
        assert before["Stop"] is not None, f"job {before['JobId']} never ended"
        assert before["Stop"] <= after["Created"], (
            f"full jobs {before['JobId']} and {after['JobId']} of {KIND} overlapped"
        )


def watermark(store: Store) -> str | None:
    mark = store.get_watermark(KIND, ACCOUNT, SOURCE)
    return None if mark is None else mark.value


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize("mode", ["delta", "full"])
@pytest.mark.parametrize("kill", KILL_POINTS)
def test_a_killed_import_loses_nothing_and_never_runs_two_fulls(
    served: tuple[NorceEmulator, str],
    state: dict[str, Any],
    tmp_path: Path,
    kill: str,
    mode: str,
) -> None:
    emulator, base_url = served
    seed(emulator)
    work = tmp_path / "work"
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    settings = emulator.settings(base_url=base_url)

    # 1. The baseline: a confirmed success at price 100.
    with Norce(settings) as norce, state["open"]() as store:
        baseline = importer(mode, norce, store, work, rows("100", t0)).run()
        assert baseline.status is ImportStatus.SUCCEEDED
        confirmed = watermark(store)
        assert confirmed is not None
    jobs_before = len(price_jobs(emulator))

    # 2. Every record changes to 200; the run that sends the change is killed.
    t1 = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    child = run_child(
        base_url,
        state["store"],
        work,
        mode=mode,
        kill=kill,
        rows=ROWS,
        t0=t1,
        price="200",
        schema=state["schema"],
    )
    assert child.returncode == -signal.SIGKILL, child.stdout + child.stderr
    killed_jobs = price_jobs(emulator)[jobs_before:]
    assert len(killed_jobs) == (1 if kill in SENT else 0)
    with state["open"]() as store:
        # Never ahead of a confirmed success: the kill moved nothing.
        assert watermark(store) == confirmed

    # 3. The next run (here), as an operator would run it.
    with Norce(settings) as norce, state["open"]() as store:
        run = importer(mode, norce, store, work, rows("200", t1))
        if kill == "answered":
            # Norce has the job; nothing proves it is this run's: held, not guessed.
            with pytest.raises(RunHeldError) as held:
                run.run()
            error = held.value
            assert error.rule == "held"
            assert f"jobs adopt {error.run_id} {killed_jobs[0]['JobId']}" in str(error)
            assert "import resolve" in str(error)
            assert error.candidates == (killed_jobs[0]["JobId"],)
            # The kind stays held: no second import (and never a second full) meanwhile.
            with pytest.raises(RunHeldError):
                importer(mode, norce, store, work, rows("200", t1)).run()
            assert len(price_jobs(emulator)) == jobs_before + 1
            assert watermark(store) == confirmed
            # The operator looks in Norce and adopts the job.
            runs = ImportRuns(store, norce)
            [pending] = runs.list()
            assert pending.phase == "held"
            assert pending.run_id == error.run_id
            runs.adopt(error.run_id, killed_jobs[0]["JobId"])
        result = run.run()
        recovered = result.recovered
        if kill in SENT:
            # The killed run's job is waited for and settled; its payload is not re-sent.
            assert recovered is not None
            assert recovered.status is ImportStatus.SUCCEEDED
            assert recovered.job_ids == (killed_jobs[0]["JobId"],)
            assert recovered.watermark is not None
            assert recovered.watermark > confirmed
        elif kill == "journal":
            # Provably never sent: rolled back with the watermark untouched, sent again.
            assert recovered is not None
            assert recovered.status is ImportStatus.FAILED
            assert recovered.watermark == confirmed
            assert any("not sent" in w for w in recovered.warnings)
        else:
            assert recovered is None
        assert result.succeeded, result
        if mode == "delta":
            expected_new = 1  # the killed run's job, or (nothing reached Norce) this run's
            assert result.status is (ImportStatus.EMPTY if kill in SENT else ImportStatus.SUCCEEDED)
        else:
            expected_new = 2 if kill in SENT else 1  # a full import always sends
        assert len(price_jobs(emulator)) == jobs_before + expected_new
        final = watermark(store)
        assert final is not None
        assert final > confirmed
        assert final == result.watermark
        assert store.unresolved_jobs() == []
        assert ImportRuns(store).list() == []
        assert store.lock_holder(KIND, ACCOUNT) is None

    # No record of the window is missing; all jobs succeeded; fulls never overlapped.
    assert prices(emulator) == {f"S{i:04d}": (True, Decimal(200)) for i in range(ROWS)}
    assert all(j["StatusId"] == 2 for j in price_jobs(emulator))
    assert_no_full_jobs_overlap(emulator)
    assert not list(work.glob("*"))
