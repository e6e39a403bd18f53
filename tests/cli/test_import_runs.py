"""``import runs``, ``import resolve`` and ``jobs adopt``: an operator resolves a held run.

The held run is made in this process: a delta whose POST reaches Norce and whose process
"dies" (a ``BaseException`` nothing catches) before it reads the answer, so nothing of
the job is in the store; the next import cannot prove whose the job is and holds.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from norce_integration import Norce
from norce_integration.connect.models import SkuPriceListField, SkuPriceListHeader
from norce_integration.patterns import DeltaImport, FullImport, SourceSpec
from norce_integration.stores import SqliteStore
from norce_integration.testing import EmulatorServer, NorceEmulator, SystemClock

from .adapters import Prices, write_rows
from .test_cli import assert_one_line_error, import_full, run, write_config


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("NORCE_"):
            monkeypatch.delenv(name)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def served() -> Any:
    emulator = NorceEmulator(clock=SystemClock(speed=500))
    with emulator, emulator.serve(port=0) as server:
        yield server


class Killed(BaseException):
    """Stands for SIGKILL: nothing in the SDK catches it."""


def spec() -> SourceSpec:
    return SourceSpec(
        name="prices",
        kind="sku_price_lists",
        header=SkuPriceListHeader(
            account_id=1,
            full_file=False,
            sku_price_list_fields_that_are_set=[SkuPriceListField.PriceSale],
        ),
        account_id=1,
    )


def killed_after_norce_answered(tmp_path: Path, server: EmulatorServer, *, full: bool) -> int:
    """Run an import of the ``prices`` source that dies once Norce accepted its POST;
    returns the job Norce created."""
    before = len(server.emulator.jobs)
    settings = server.emulator.settings(base_url=server.base_url)
    with Norce(settings) as norce, SqliteStore(tmp_path / "state.sqlite") as store:
        submit = norce.connect.submit_encoded

        def submit_encoded(*args: Any, **kwargs: Any) -> Any:
            submit(*args, **kwargs)
            raise Killed

        norce.connect.submit_encoded = submit_encoded  # type: ignore[method-assign]
        adapter = Prices(str(tmp_path / "rows.csv"))
        common: dict[str, Any] = {"store": store, "work_dir": tmp_path / "work"}
        importer: Any = (
            FullImport(norce, spec(), adapter, **common)
            if full
            else DeltaImport(norce, spec(), adapter, **common)
        )
        with pytest.raises(Killed):
            importer.run()
    jobs = server.emulator.jobs[before:]
    assert len(jobs) == 1
    return int(jobs[0]["JobId"])


def change_prices(tmp_path: Path, price: str) -> None:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    write_rows(tmp_path / "rows.csv", [(f"P{i:03d}", price, now) for i in range(20)])


def held_run(runner: CliRunner, config: Path, job_id: int) -> str:
    """The next delta refuses, naming the run and the commands; returns the run id."""
    refused = run(runner, "import", "delta", "--config", config, "--source", "prices")
    assert_one_line_error(refused, "held", "jobs adopt", "import resolve", exit_code=1)
    listed = run(runner, "import", "runs", "--config", config, "--json")
    assert listed.exit_code == 0, listed.output
    [pending] = json.loads(listed.stdout)
    assert pending["phase"] == "held"
    assert pending["source"] == "prices"
    assert pending["candidates"] == [job_id]
    run_id = str(pending["run_id"])
    assert f"jobs adopt {run_id} {job_id}" in refused.stderr
    table = run(runner, "import", "runs", "--config", config)
    assert run_id in table.output
    assert "held" in table.output
    return run_id


def watermark(tmp_path: Path) -> str | None:
    with SqliteStore(tmp_path / "state.sqlite") as store:
        mark = store.get_watermark("sku_price_lists", 1, "prices")
        return None if mark is None else mark.value


@pytest.fixture
def config(tmp_path: Path, served: EmulatorServer, runner: CliRunner) -> Path:
    path = write_config(tmp_path, served)
    import_full(runner, path, "products")
    return path


def test_jobs_adopt_settles_a_held_delta_by_its_job(
    runner: CliRunner, tmp_path: Path, served: EmulatorServer, config: Path
) -> None:
    change_prices(tmp_path, "55.00")
    job_id = killed_after_norce_answered(tmp_path, served, full=False)
    run_id = held_run(runner, config, job_id)
    assert watermark(tmp_path) is None

    adopted = run(runner, "jobs", "adopt", run_id, str(job_id), "--config", config, "--json")
    assert adopted.exit_code == 0, adopted.output
    assert json.loads(adopted.stdout)["jobs"] == [job_id]
    result = run(runner, "import", "delta", "--config", config, "--source", "prices", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["recovered"]["status"] == "succeeded"
    assert data["recovered"]["job_ids"] == [job_id]
    assert data["status"] == "empty"  # the adopted job carried the change
    assert watermark(tmp_path) is not None
    jobs = run(runner, "jobs", "list", "--config", config, "--json")
    assert job_id in [j["job_id"] for j in json.loads(jobs.stdout)]
    assert json.loads(run(runner, "import", "runs", "--config", config, "--json").stdout) == []


def test_import_resolve_not_sent_rolls_back_and_the_next_run_sends_again(
    runner: CliRunner, tmp_path: Path, served: EmulatorServer, config: Path
) -> None:
    change_prices(tmp_path, "66.00")
    job_id = killed_after_norce_answered(tmp_path, served, full=False)
    run_id = held_run(runner, config, job_id)

    resolved = run(runner, "import", "resolve", run_id, "--not-sent", "--config", config)
    assert resolved.exit_code == 0, resolved.output
    assert "rolled back" in resolved.output
    assert watermark(tmp_path) is None
    before = len(served.emulator.jobs)
    result = run(runner, "import", "delta", "--config", config, "--source", "prices", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "succeeded"
    assert data["item_count"] == 20  # sent again: nothing of the window is lost
    assert len(served.emulator.jobs) == before + 1
    assert watermark(tmp_path) is not None


def test_import_resolve_sent_settles_a_held_full_import_once_its_job_ended(
    runner: CliRunner, tmp_path: Path, served: EmulatorServer, config: Path
) -> None:
    import_full(runner, config, "prices")
    change_prices(tmp_path, "77.00")
    job_id = killed_after_norce_answered(tmp_path, served, full=True)
    refused = run(runner, "import", "full", "--config", config, "--source", "prices")
    assert_one_line_error(refused, "held", f"{job_id}", exit_code=1)
    [pending] = json.loads(run(runner, "import", "runs", "--config", config, "--json").stdout)
    run_id = pending["run_id"]

    resolved = run(runner, "import", "resolve", run_id, "--sent", "--config", config, "--json")
    assert resolved.exit_code == 0, resolved.output
    assert json.loads(resolved.stdout) == {"run_id": run_id, "sent": True, "pending": None}
    result = import_full(runner, config, "prices", "--json")
    assert json.loads(result.stdout)["status"] == "succeeded"


def test_resolve_and_adopt_refuse_bad_input_in_one_line(
    runner: CliRunner, tmp_path: Path, served: EmulatorServer, config: Path
) -> None:
    change_prices(tmp_path, "88.00")
    job_id = killed_after_norce_answered(tmp_path, served, full=False)
    run_id = held_run(runner, config, job_id)

    no_flag = run(runner, "import", "resolve", run_id, "--config", config)
    assert_one_line_error(no_flag, "--sent or --not-sent", exit_code=2)
    unknown = run(runner, "import", "resolve", "nosuchrun", "--not-sent", "--config", config)
    assert_one_line_error(unknown, "no pending import run 'nosuchrun'", exit_code=2)
    older = run(runner, "jobs", "adopt", run_id, str(job_id - 1), "--config", config)
    assert_one_line_error(older, "adopt", "existed before the run's POST", exit_code=1)
    missing = run(runner, "jobs", "adopt", run_id, "999999", "--config", config)
    assert_one_line_error(missing, exit_code=1)
    # Nothing changed: the run is still held.
    [pending] = json.loads(run(runner, "import", "runs", "--config", config, "--json").stdout)
    assert pending["phase"] == "held"


@pytest.mark.parametrize(
    "args",
    [["import", "runs"], ["import", "resolve", "r1", "--not-sent"], ["jobs", "adopt", "r1", "1"]],
    ids=lambda args: " ".join(args[:2]),
)
def test_run_commands_refuse_a_missing_store(
    runner: CliRunner, tmp_path: Path, args: list[str]
) -> None:
    typo = tmp_path / "typo" / "state.sqlite"
    config = write_config(tmp_path, None)
    result = run(runner, *args, "--config", config, "--store", typo)
    assert_one_line_error(result, "no such store", exit_code=1)
    assert not typo.parent.exists()
