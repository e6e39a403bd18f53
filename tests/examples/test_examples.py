"""The examples run: each script end to end, the FastAPI app in-process, the notebook."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run_example(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.subprocess
def test_csv_source() -> None:
    result = run_example("csv_source.py")
    assert result.returncode == 0, result.stderr
    assert "full import: succeeded, 100 items" in result.stdout
    assert "delta import: succeeded, 3 items" in result.stdout
    assert "delta import again: empty, 0 items" in result.stdout


@pytest.mark.subprocess
def test_sql_source() -> None:
    result = run_example("sql_source.py")
    assert result.returncode == 0, result.stderr
    assert "full import: succeeded, 250 items" in result.stdout
    assert "delta import: succeeded, 5 items" in result.stdout


@pytest.mark.subprocess
def test_scheduled_runner_once() -> None:
    result = run_example("scheduled_runner.py", "--emulator", "--once", "--interval", "1")
    assert result.returncode == 0, result.stderr
    assert "delta erp-prices-csv: succeeded, 50 items" in result.stderr


@pytest.mark.subprocess
def test_fastapi_receiver_check() -> None:
    result = run_example("fastapi_receiver.py", "--check")
    assert result.returncode == 0, result.stderr
    assert "FA-2: {'sku': 'FA-2', 'name': None, 'active': False}" in result.stdout


def test_fastapi_receiver_in_process() -> None:
    module = load("fastapi_receiver")
    documents = asyncio.run(module.check())
    assert sorted(documents) == ["FA-1", "FA-2", "FA-3"]
    assert documents["FA-2"]["active"] is False
    assert documents["FA-1"]["active"] is True


def test_notebook_is_committed_without_outputs() -> None:
    notebook = json.loads((EXAMPLES / "notebook.ipynb").read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == []
            assert cell["execution_count"] is None


@pytest.mark.subprocess
def test_notebook_runs_with_the_sync_api_inside_the_kernels_event_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")
    import nbclient  # the tests group: nbclient, nbformat, ipykernel
    import nbformat

    notebook = nbformat.read(EXAMPLES / "notebook.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(EXAMPLES)}},
    )
    client.execute()
    texts = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.outputs:
            assert output.output_type != "error", output
            texts.append(output.get("text") or output.get("data", {}).get("text/plain", ""))
    text = "\n".join(texts)
    assert "this kernel runs an event loop: True" in text
    assert "job 1001 status: Succeeded" in text
    assert "succeeded inserts: 40" in text
    assert "NB-002 Inactive" in text
