"""The ``norce-integration`` CLI, through click's runner, against a served emulator."""

from __future__ import annotations

import datetime as dt
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from norce_integration.cli import main
from norce_integration.stores import SqliteStore
from norce_integration.testing import EmulatorServer, NorceEmulator, SystemClock

from .adapters import write_rows


HOOK_HEADER = "X-Hook-Secret"
HOOK_SECRET = "hook-secret"


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


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(
    tmp_path: Path,
    server: EmulatorServer | None,
    *,
    secret: str | None = None,
    base_url: str | None = None,
) -> Path:
    base = base_url or (server.base_url if server else "http://127.0.0.1:9")
    secret = secret or (server.emulator.client_secret if server else "x")
    text = f"""
[norce]
connect_url = "{base}/commerce/connect/4.0/"
query_url = "{base}/commerce/query/2.0/"
token_url = "{base}/identity/1.0/connect/token"
client_id = "norce-emulator"
client_secret = "{secret}"
application_id = 1042
account_id = 1
retry = {{ max_attempts = 1, deadline = 5 }}

[store]
path = "{tmp_path / "state.sqlite"}"

[tracking]
first_delay = 0.02
interval = 0.02
factor = 1
jitter = 0
timeout = 30
payload_dir = "{tmp_path / "payloads"}"

[import]
work_dir = "{tmp_path / "work"}"

[sources.prices]
adapter = "tests.cli.adapters:Prices"
kind = "sku_price_lists"
args = {{ path = "{tmp_path / "rows.csv"}" }}

[sources.prices.header]
SkuPriceListFieldsThatAreSet = ["PriceSale"]

[sources.products]
adapter = "tests.cli.adapters:Products"
kind = "products"
args = {{ path = "{tmp_path / "rows.csv"}" }}

[sources.products.header]
ProductFieldsThatAreSet = ["Code", "Variants"]
VariantFieldsThatAreSet = ["Skus"]
SkuFieldsThatAreSet = ["Status", "Type"]

[events]
targets = [{{ adapter = "tests.cli.adapters:JsonlTarget", args = {{ path = "{tmp_path / "target.jsonl"}" }} }}]
auth_header = "{HOOK_HEADER}"
auth_secret = "{HOOK_SECRET}"
poll_interval = 0.05
"""
    path = tmp_path / "norce.toml"
    path.write_text(text)
    old = dt.datetime(2024, 12, 1, tzinfo=dt.UTC)
    write_rows(tmp_path / "rows.csv", [(f"P{i:03d}", f"{100 + i}.00", old) for i in range(20)])
    return path


def run(runner: CliRunner, *args: str | Path) -> Result:
    return runner.invoke(main, [str(a) for a in args])


def assert_one_line_error(result: Result, *needles: str, exit_code: int | None = None) -> None:
    assert result.exit_code != 0, result.output
    if exit_code is not None:
        assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    # One line explains the failure; the SDK's log lines (warnings) may precede it.
    *logs, last = result.stderr.strip().splitlines()
    assert last.startswith("Error: "), result.stderr
    assert all(line.startswith(("WARNING: ", "ERROR: ")) for line in logs), result.stderr
    for needle in needles:
        assert needle in last, last


def import_full(runner: CliRunner, config: Path, source: str, *extra: str) -> Result:
    result = run(runner, "import", "full", "--config", config, "--source", source, *extra)
    assert result.exit_code == 0, result.output
    return result


# ---------------------------------------------------------------------------- basics


def test_help_lists_every_command(runner: CliRunner) -> None:
    result = run(runner, "--help")
    assert result.exit_code == 0
    for command in ("demo", "emulator", "import", "jobs", "events", "state"):
        assert command in result.output
    for group, commands in {
        "import": ("full", "delta", "plan"),
        "jobs": ("list", "show", "watch", "rerun"),
        "events": ("serve", "dead-letters"),
        "state": ("show", "reset-watermark"),
    }.items():
        sub = run(runner, group, "--help")
        assert sub.exit_code == 0
        for command in commands:
            assert command in sub.output
    assert run(runner, "--version").exit_code == 0


def test_main_is_the_console_script_entry_point() -> None:
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "norce-integration"]
    assert script.value == "norce_integration.cli:main"
    assert script.load() is main


# ---------------------------------------------------------------------------- demo


def test_demo_runs_the_whole_story(runner: CliRunner, tmp_path: Path) -> None:
    result = run(runner, "demo", "--output-dir", tmp_path / "out")
    assert result.exit_code == 0, result.output
    for text in (
        "Full imports",
        "delta imports",
        "Nightly full import",
        "Query lookups",
        "Summary",
    ):
        assert text in result.output
    assert "cache hits" in result.output
    # The demo leaves its state behind and says how to open it in the console.
    assert "norce-integration ops serve --store" in result.output
    served = result.output.split("ops serve --store", 1)[1].split()[0]
    assert Path(served).is_file()
    index = (tmp_path / "out" / "search-index.jsonl").read_text().splitlines()
    assert index
    assert all(json.loads(line)["op"] in ("upsert", "delete") for line in index)


def test_demo_json_is_valid_with_the_expected_counts(runner: CliRunner, tmp_path: Path) -> None:
    result = run(runner, "demo", "--json", "--output-dir", tmp_path)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["ok"] is True
    assert summary["catalogue_rows"] == 3000
    assert summary["jobs"] == 7
    # Orders end to end: pushed by Norce, created once in the ERP, answered back.
    assert (summary["orders_placed"], summary["orders_in_erp"]) == (3, 3)
    assert summary["order_answers_sent"] == 9  # status, delivery note, invoice each
    assert summary["orders_invoiced"] == 3
    assert [(i["mode"], i["items"]) for i in summary["imports"]] == [
        ("full", 3000),
        ("full", 3000),
        ("full", 3000),
        ("delta", summary["changed_rows"]),
        ("delta", summary["changed_rows"]),
        ("delta", summary["changed_rows"]),
        ("full", 2995),
    ]
    assert {i["status"] for i in summary["imports"]} == {"succeeded"}
    assert summary["deactivated_skus"] == summary["discontinued"] == 5
    assert summary["inactive_in_index"] == 5
    assert summary["events_processed"] == summary["webhooks_delivered"] > summary["changed_rows"]
    assert summary["jobs_resolved_by_event"] == 4  # the jobs after the subscription
    assert summary["cache_hits"] >= 25
    assert summary["dead_letters"] == 0
    assert summary["duration_seconds"] < 60


def test_demo_reruns_from_scratch_in_the_same_directory(runner: CliRunner, tmp_path: Path) -> None:
    first = json.loads(run(runner, "demo", "--json", "--output-dir", tmp_path).stdout)
    second = json.loads(run(runner, "demo", "--json", "--output-dir", tmp_path).stdout)
    ignore = {"duration_seconds"}
    assert {k: v for k, v in first.items() if k not in ignore} == {
        k: v for k, v in second.items() if k not in ignore
    }


def test_demo_reports_an_unwritable_output_dir_in_one_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run(runner, "demo", "--output-dir", blocker / "out")
    assert_one_line_error(result, exit_code=1)


# ---------------------------------------------------------------------------- emulator


def test_emulator_prints_urls_and_credentials(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_run_server(
        host: str, port: int, client_id: str, client_secret: str, **kw: Any
    ) -> None:
        calls.append({"host": host, "port": port, "client_id": client_id, **kw})
        emulator = NorceEmulator(client_id=client_id, client_secret=client_secret)
        kw["on_ready"](EmulatorServer(emulator, host, port))

    monkeypatch.setattr("norce_integration.cli._emulator_cmd.run_server", fake_run_server)
    result = run(
        runner,
        "emulator",
        "--port",
        "9123",
        "--client-id",
        "me",
        "--client-secret",
        "pw",
        "--speed",
        "60",
    )
    assert result.exit_code == 0, result.output
    assert calls[0]["port"] == 9123
    assert calls[0]["speed"] == 60.0
    assert "http://127.0.0.1:9123/commerce/connect/4.0/" in result.output
    assert "export NORCE_CLIENT_ID=me" in result.output
    assert "export NORCE_CLIENT_SECRET=pw" in result.output


def test_emulator_port_in_use_is_one_line_and_debug_shows_the_traceback(
    runner: CliRunner,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = str(taken.getsockname()[1])
        result = run(runner, "emulator", "--port", port)
        assert_one_line_error(result, "OSError", exit_code=1)
        debug = run(runner, "--debug", "emulator", "--port", port)
        assert debug.exit_code == 1
        assert "Traceback" in debug.stderr
        assert debug.stderr.strip().splitlines()[-1].startswith("Error: OSError")


@pytest.mark.subprocess
def test_emulator_serves_until_interrupted() -> None:
    port = closed_port()
    code = "from norce_integration.cli import main; main()"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "emulator", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                info = httpx.get(f"http://127.0.0.1:{port}/_emulator/info", timeout=1).json()
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert info["client_id"] == "norce-emulator"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert f"http://127.0.0.1:{port}/commerce/query/2.0/" in out
    assert "client secret   emulator-secret" in out
    assert "Traceback" not in err


# ---------------------------------------------------------------------------- import


def test_import_full_then_delta(runner: CliRunner, tmp_path: Path, served: EmulatorServer) -> None:
    config = write_config(tmp_path, served)
    result = import_full(runner, config, "products")
    assert "succeeded" in result.output
    result = import_full(runner, config, "prices", "--json")
    data = json.loads(result.stdout)
    assert data["status"] == "succeeded"
    assert data["item_count"] == 20
    assert data["mode"] == "full"

    now = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    old = dt.datetime(2024, 12, 1, tzinfo=dt.UTC)
    rows = [(f"P{i:03d}", f"{100 + i}.00", old) for i in range(20)]
    rows[3] = ("P003", "99.00", now)
    write_rows(tmp_path / "rows.csv", rows)
    result = run(runner, "import", "delta", "--config", config, "--source", "prices", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["status"] == "succeeded"
    assert data["item_count"] == 1
    assert data["mode"] == "delta"
    row = served.emulator.table("Products", "ProductSkuPriceLists").rows
    assert any(
        key[0] == "P003" and str(value["PriceSale"]) == "99.00" for key, value in row.items()
    )


def test_import_with_an_adapter_declaring_its_spec(
    runner: CliRunner, tmp_path: Path, served: EmulatorServer
) -> None:
    config = write_config(tmp_path, served)
    import_full(runner, config, "products")
    text = config.read_text()
    own = tmp_path / "own-spec.toml"
    own.write_text(
        text[: text.index("[sources.prices]")]
        + f'[source]\nargs = {{ path = "{tmp_path / "rows.csv"}" }}\n'
    )
    result = run(
        runner, "import", "full", "--config", own, "--adapter", "tests.cli.adapters:SpecPrices"
    )
    assert result.exit_code == 0, result.output
    assert "spec-prices (sku_price_lists, account 1)" in result.output
    with SqliteStore(tmp_path / "state.sqlite") as store:
        assert store.get_last_full_import("sku_price_lists", 1) is not None


def test_import_plan_sends_nothing(
    runner: CliRunner, tmp_path: Path, served: EmulatorServer
) -> None:
    config = write_config(tmp_path, served)
    result = run(runner, "import", "plan", "--full", "--config", config, "--source", "products")
    assert result.exit_code == 0, result.output
    assert "items to send" in result.output
    assert "FullFile" in result.output
    result = run(runner, "import", "plan", "--config", config, "--source", "prices", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["mode"] == "delta"
    assert plan["item_count"] == 20
    assert plan["refusals"] == []
    assert served.emulator.jobs == []
    # A dry run on a first run reads an empty store and creates none on disk.
    assert not (tmp_path / "state.sqlite").exists()
    with SqliteStore(tmp_path / "state.sqlite") as store:
        assert store.list_jobs() == []
        assert store.get_watermark("sku_price_lists", 1, "prices") is None


def test_import_plan_shows_refusals_and_exits_1(
    runner: CliRunner, tmp_path: Path, served: EmulatorServer
) -> None:
    config = write_config(tmp_path, served)
    old = dt.datetime(2024, 12, 1, tzinfo=dt.UTC)
    write_rows(tmp_path / "rows.csv", [("P001", "bad", old), ("P002", "10.00", old)])
    result = run(runner, "import", "plan", "--full", "--config", config, "--source", "prices")
    assert result.exit_code == 1
    assert "REFUSED" in result.output
    assert "mapping-errors" in result.output
    assert served.emulator.jobs == []


def test_import_refused_is_one_line(
    runner: CliRunner, tmp_path: Path, served: EmulatorServer
) -> None:
    config = write_config(tmp_path, served)
    old = dt.datetime(2024, 12, 1, tzinfo=dt.UTC)
    write_rows(tmp_path / "rows.csv", [("P001", "bad", old)])
    result = run(runner, "import", "full", "--config", config, "--source", "prices")
    assert_one_line_error(result, "ImportRefusedError", exit_code=1)
    assert served.emulator.jobs == []


def test_bad_config_is_one_line_and_debug_shows_the_traceback(
    runner: CliRunner, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.toml"
    result = run(runner, "import", "full", "--config", missing)
    assert_one_line_error(result, "ConfigurationError", "no such file", exit_code=2)
    result = run(runner, "import", "full", "--config", missing, "--debug")
    assert result.exit_code == 2
    assert "Traceback" in result.stderr

    broken = tmp_path / "broken.toml"
    broken.write_text("[norce\nslug = ")
    assert_one_line_error(
        run(runner, "jobs", "list", "--config", broken), "not valid TOML", exit_code=2
    )

    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[norc]\nslug = 'x'\n")
    assert_one_line_error(run(runner, "state", "show", "--config", unknown), "norc", exit_code=2)


def test_missing_credentials_name_the_variable(runner: CliRunner, tmp_path: Path) -> None:
    result = run(runner, "import", "full", "--adapter", "tests.cli.adapters:SpecPrices")
    assert_one_line_error(result, "NORCE_CLIENT_ID", exit_code=2)


def test_bad_settings_from_the_file_say_where(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[norce]\nslug = "Not A Slug"\nclient_id = "a"\nclient_secret = "b"\n')
    result = run(
        runner, "import", "full", "--config", config, "--adapter", "tests.cli.adapters:SpecPrices"
    )
    assert_one_line_error(result, "NORCE_SLUG", "c.toml", exit_code=2)
    assert "b" not in result.stderr.split("c.toml")[-1]


def test_unknown_adapter_module_is_one_line(
    runner: CliRunner, tmp_path: Path, served: EmulatorServer
) -> None:
    config = write_config(tmp_path, served)
    result = run(
        runner,
        "import",
        "full",
        "--config",
        config,
        "--source",
        "prices",
        "--adapter",
        "nope.nothing:X",
    )
    assert_one_line_error(result, "cannot import 'nope.nothing'", exit_code=2)
    result = run(runner, "import", "full", "--config", config)
    assert_one_line_error(result, "several sources", exit_code=2)


def test_auth_failure_is_one_line(
    runner: CliRunner, tmp_path: Path, served: EmulatorServer
) -> None:
    config = write_config(tmp_path, served, secret="wrong-secret")
    result = run(runner, "import", "full", "--config", config, "--source", "products")
    assert_one_line_error(result, "AuthenticationError", "401", exit_code=1)
    assert "wrong-secret" not in result.output


def test_unreachable_host_is_one_line(runner: CliRunner, tmp_path: Path) -> None:
    config = write_config(tmp_path, None, base_url=f"http://127.0.0.1:{closed_port()}")
    result = run(runner, "import", "full", "--config", config, "--source", "products")
    assert_one_line_error(result, "APIConnectionError", exit_code=1)


def test_jobs_watch_against_an_unreachable_host_is_one_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    config = write_config(tmp_path, None, base_url=f"http://127.0.0.1:{closed_port()}")
    SqliteStore(tmp_path / "state.sqlite").close()  # an existing (empty) store
    result = run(runner, "jobs", "watch", "4242", "--timeout", "600", "--config", config)
    assert_one_line_error(result, "APIConnectionError", exit_code=1)


def test_store_dsn_without_postgres_store_is_a_clear_error(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import norce_integration.stores as stores

    monkeypatch.delattr(stores, "PostgresStore", raising=False)
    result = run(runner, "jobs", "list", "--store-dsn", "postgresql://localhost/x")
    assert_one_line_error(result, "PostgresStore is not available", exit_code=2)
    result = run(
        runner, "jobs", "list", "--store", tmp_path / "s.sqlite", "--store-dsn", "postgresql://x"
    )
    assert_one_line_error(result, "not both", exit_code=2)


# ---------------------------------------------------------------------------- jobs


def test_jobs_list_show_watch_rerun(
    runner: CliRunner, tmp_path: Path, served: EmulatorServer
) -> None:
    config = write_config(tmp_path, served)
    import_full(runner, config, "products")
    import_full(runner, config, "prices", "--no-wait")

    listed = run(runner, "jobs", "list", "--config", config, "--json")
    assert listed.exit_code == 0, listed.output
    jobs = json.loads(listed.stdout)
    assert [j["kind"] for j in jobs] == ["sku_price_lists", "products"]
    price_job, product_job = jobs[0]["job_id"], jobs[1]["job_id"]
    assert jobs[0]["status"] == "submitted"

    unresolved = run(runner, "jobs", "list", "--config", config, "--unresolved")
    assert str(price_job) in unresolved.output
    assert str(product_job) not in unresolved.output

    watched = run(runner, "jobs", "watch", "--config", config)
    assert watched.exit_code == 0, watched.output
    assert str(price_job) in watched.output
    assert "succeeded" in watched.output
    assert "No unresolved jobs." in run(runner, "jobs", "watch", "--config", config).output

    shown = run(runner, "jobs", "show", str(product_job), "--config", config, "--log")
    assert shown.exit_code == 0, shown.output
    assert "history" in shown.output
    assert "job log" in shown.output
    assert "Import finished" in shown.output

    refused = run(runner, "jobs", "rerun", str(product_job), "--config", config)
    assert_one_line_error(refused, "rerun-full-import", exit_code=1)
    rerun = run(runner, "jobs", "rerun", str(product_job), "--force", "--config", config, "--json")
    assert rerun.exit_code == 0, rerun.output
    data = json.loads(rerun.stdout)
    assert data["job"]["rerun_of"] == product_job
    assert data["result"]["status"] == "succeeded"
    assert len(served.emulator.jobs) == 3


def test_jobs_watch_with_rejected_credentials_is_one_line(
    runner: CliRunner, tmp_path: Path, served: EmulatorServer
) -> None:
    config = write_config(tmp_path, served, secret="wrong-secret")
    SqliteStore(tmp_path / "state.sqlite").close()  # an existing (empty) store
    result = run(runner, "jobs", "watch", "4242", "--config", config)
    assert_one_line_error(result, "AuthenticationError", exit_code=1)


def test_dead_letters_list_with_a_broken_store_is_one_line(
    runner: CliRunner, tmp_path: Path
) -> None:
    not_a_database = tmp_path / "state.sqlite"
    not_a_database.write_text("this is not SQLite " * 100)
    result = run(runner, "events", "dead-letters", "list", "--store", not_a_database)
    assert_one_line_error(result, "StoreError", exit_code=1)


def test_jobs_show_unknown_job_is_one_line(runner: CliRunner, tmp_path: Path) -> None:
    SqliteStore(tmp_path / "s.sqlite").close()  # an existing (empty) store
    result = run(runner, "jobs", "show", "4242", "--store", tmp_path / "s.sqlite")
    assert_one_line_error(result, "ImportJobError", "4242", exit_code=1)


# ---------------------------------------------------------------------------- state


def test_state_show_and_reset_watermark(
    runner: CliRunner, tmp_path: Path, served: EmulatorServer
) -> None:
    config = write_config(tmp_path, served)
    import_full(runner, config, "products")
    shown = run(runner, "state", "show", "--config", config, "--json")
    assert shown.exit_code == 0, shown.output
    state = {s["source"]: s for s in json.loads(shown.stdout)["sources"]}
    assert state["products"]["last_full_import"]["item_count"] == 20
    assert state["products"]["watermark"] is not None
    assert state["prices"]["watermark"] is None
    assert "products" in run(runner, "state", "show", "--config", config).output

    reset = run(
        runner,
        "state",
        "reset-watermark",
        "--config",
        config,
        "--source",
        "products",
        "--to",
        "2024-06-01T00:00:00Z",
        "--yes",
    )
    assert reset.exit_code == 0, reset.output
    with SqliteStore(tmp_path / "state.sqlite") as store:
        mark = store.get_watermark("products", 1, "products")
        assert mark is not None
        assert mark.value == "2024-06-01T00:00:00.000000Z"

    aborted = runner.invoke(
        main,
        ["state", "reset-watermark", "--config", str(config), "--source", "products"],
        input="n\n",
    )
    assert aborted.exit_code == 1


def test_state_reset_watermark_needs_a_source(runner: CliRunner, tmp_path: Path) -> None:
    SqliteStore(tmp_path / "s.sqlite").close()  # an existing (empty) store
    result = run(runner, "state", "reset-watermark", "--store", tmp_path / "s.sqlite", "--yes")
    assert_one_line_error(result, "no source configured", exit_code=2)


# ---------------------------------------------------------------------------- events


def test_events_serve_receives_and_processes_webhooks(
    runner: CliRunner, tmp_path: Path, served: EmulatorServer
) -> None:
    config = write_config(tmp_path, served)
    import_full(runner, config, "products")
    port = closed_port()
    box: dict[str, Result] = {}
    args = ["events", "serve", "--config", str(config), "--port", str(port), "--stop-after", "4"]
    thread = threading.Thread(target=lambda: box.update(result=runner.invoke(main, args)))
    thread.start()
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    # Norce (the served emulator) posts to the receiver; the worker looks the SKU up.
    emulator = served.emulator
    emulator.subscribe(
        "SkuChangedNotification",
        f"http://127.0.0.1:{port}/SkuChangedNotification",
        headers={HOOK_HEADER: HOOK_SECRET},
    )
    emulator.set_sku_status("P007", "Inactive")
    rejected = httpx.post(f"http://127.0.0.1:{port}/SkuChangedNotification", json={"PartNo": "P1"})
    assert rejected.status_code == 401
    thread.join(20)
    result = box["result"]
    assert result.exit_code == 0, result.output
    assert "Receiving Norce webhooks" in result.output
    assert "Stopped." in result.output
    lines = [json.loads(line) for line in (tmp_path / "target.jsonl").read_text().splitlines()]
    assert {"part_no": "P007", "status": 3} in lines or any(
        line.get("part_no") == "P007" for line in lines
    )


def test_events_serve_without_targets_is_one_line(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[norce]\nslug = "demo"\nclient_id = "a"\nclient_secret = "b"\n')
    result = run(runner, "events", "serve", "--config", config, "--store", tmp_path / "s.sqlite")
    assert_one_line_error(result, "no targets", exit_code=2)


def test_dead_letters_list_and_replay(
    runner: CliRunner, tmp_path: Path, served: EmulatorServer
) -> None:
    config = write_config(tmp_path, served)
    body = json.dumps(
        {
            "ClientId": 1042,
            "ApplicationId": 1042,
            "PartNo": "P001",
            "EntityChanged": "tClientProductSku",
        }
    )
    with SqliteStore(tmp_path / "state.sqlite") as store:
        good = store.put_dead_letter(
            "webhook:failed", body.encode(), "target down", key="SkuChangedNotification", attempts=8
        )
        bad = store.put_dead_letter("webhook:unhandled", b"{}", "unknown", key="NoSuchEvent")

    listed = run(runner, "events", "dead-letters", "list", "--config", config, "--json")
    assert listed.exit_code == 0, listed.output
    assert [d["letter_id"] for d in json.loads(listed.stdout)] == [good, bad]
    assert "target down" in run(runner, "events", "dead-letters", "list", "--config", config).output

    usage = run(runner, "events", "dead-letters", "replay", "--config", config)
    assert usage.exit_code == 2

    replayed = run(runner, "events", "dead-letters", "replay", str(good), "--config", config)
    assert replayed.exit_code == 0, replayed.output
    assert f"replayed: {good}" in replayed.output
    kept = run(runner, "events", "dead-letters", "replay", "--all", "--config", config)
    assert kept.exit_code == 1
    assert f"kept {bad}" in kept.output
    with SqliteStore(tmp_path / "state.sqlite") as store:
        assert [d.letter_id for d in store.list_dead_letters()] == [bad]


@pytest.mark.parametrize(
    "args",
    [
        ["jobs", "list"],
        ["jobs", "show", "1"],
        ["jobs", "watch", "1"],
        ["jobs", "rerun", "1"],
        ["state", "show"],
        ["state", "reset-watermark", "--yes"],
        ["events", "dead-letters", "list"],
        ["events", "dead-letters", "replay", "--all"],
    ],
    ids=lambda args: " ".join(args[:3]),
)
def test_commands_that_only_read_state_refuse_a_missing_store(
    runner: CliRunner, tmp_path: Path, args: list[str]
) -> None:
    typo = tmp_path / "typo" / "state.sqlite"
    config = write_config(tmp_path, None)
    result = runner.invoke(main, [*args, "--config", str(config), "--store", str(typo)])
    assert_one_line_error(result, "no such store", str(typo), exit_code=1)
    assert not typo.parent.exists(), "nothing is created"
