"""The console in a real headless Chromium (Debian's ``chromium``, driven by Playwright).

Skipped locally without ``/usr/bin/chromium`` or the ``playwright`` package; CI installs
both (``apt-get install chromium``, ``pip install playwright``; never
``playwright install``: browser downloads are not available) and must run these.

``NORCE_OPS_SCREENSHOTS=docs/img`` also writes the documentation's screenshots.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ._support import TOKEN, Demo
from .test_app import app_for


CHROMIUM = os.environ.get("NORCE_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = os.environ.get("NORCE_OPS_SCREENSHOTS")

pytestmark = pytest.mark.browser

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None  # type: ignore[assignment]

# In CI (``CI`` set) a missing browser is a failure, not a skip: the tests must run there.
if (
    sync_playwright is None or not (os.path.exists(CHROMIUM) or shutil.which("chromium"))
) and not os.environ.get("CI"):
    pytestmark = [
        pytest.mark.browser,
        pytest.mark.skip(
            reason=(
                f"browser tests need Playwright for Python (pip install playwright) and "
                f"Chromium at {CHROMIUM} (apt-get install chromium); they run in CI"
            )
        ),
    ]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(demo: Demo) -> Iterator[str]:
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app_for(demo), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the console did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def page(browser: Browser, served: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.goto(f"{served}/?token={TOKEN}")  # signs in, then drops the token from the URL
    assert "token=" not in tab.url
    try:
        yield tab
    finally:
        context.close()


def shot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"ops-{name}.png"), full_page=True)


def count(page: Page, testid: str) -> int:
    return int(page.get_by_test_id(testid).first.inner_text().strip().rstrip("+"))


def test_overview_shows_sources_and_alerts(page: Page, demo: Demo) -> None:
    sources = page.locator("#sources")
    assert "products" in sources.inner_text()
    assert "demo-host:4242" in sources.inner_text()
    alerts = page.locator("ul.alerts")
    text = alerts.inner_text()
    assert f"job {demo.failed_job} (account 1) is failed" in text
    assert f"job {demo.stalled_job} has run" in text
    assert "2 dead letter(s)" in text
    assert page.locator("svg.plot").count() == 2
    assert TOKEN not in page.content()
    shot(page, "overview")


def test_open_a_failed_job_and_its_norce_log(page: Page, demo: Demo) -> None:
    page.locator(f'li.alert[data-kind="failed-job"] a[href$="/jobs/{demo.failed_job}"]').click()
    page.wait_for_url(re.compile(rf"/jobs/{demo.failed_job}$"))
    assert page.get_by_test_id("job-status").inner_text() == "failed"
    log = page.locator("#job-log").inner_text()
    assert "injected a job failure" in log
    assert "poll" in page.locator("#history").inner_text()
    shot(page, "job")


def test_rerun_shows_a_guarded_refusal(page: Page, served: str, demo: Demo) -> None:
    page.goto(f"{served}/jobs/{demo.full_job}")
    page.get_by_test_id("rerun").click()
    message = page.get_by_test_id("action-message").inner_text()
    assert "Re-run refused" in message
    assert "rerun-full-import" in message
    shot(page, "rerun-refused")
    page.goto(f"{served}/jobs/{demo.failed_job}")
    page.get_by_test_id("rerun").click()
    assert "Re-run submitted as job" in page.locator(".notice").inner_text()


def test_replay_a_dead_letter_changes_the_inbox(page: Page, served: str, demo: Demo) -> None:
    page.goto(f"{served}/events")
    assert count(page, "inbox-pending") == 3
    assert count(page, "dead-letters") == 2
    page.locator(f'tr[data-letter="{demo.letters[0]}"] summary').click()
    assert "redacted" in page.locator(f'tr[data-letter="{demo.letters[0]}"] pre').inner_text()
    assert "hunter2" not in page.content()
    shot(page, "events")
    page.get_by_test_id(f"replay-{demo.letters[0]}").click()
    assert "Replayed 1 dead letter(s)" in page.locator(".notice").inner_text()
    assert count(page, "inbox-pending") == 4
    assert count(page, "dead-letters") == 1


def test_metrics_parse_and_hold_the_store_numbers(page: Page, served: str, demo: Demo) -> None:
    page.goto(f"{served}/metrics")
    body = page.locator("body").inner_text()
    families: dict[str, Any] = {f.name: f for f in text_string_to_metric_families(body + "\n")}
    jobs = demo.thread.call(demo.store.list_jobs)
    total = sum(s.value for s in families["norce_jobs"].samples)
    assert total == len(jobs)
    failed = sum(s.value for s in families["norce_jobs"].samples if s.labels["status"] == "failed")
    assert failed == sum(1 for j in jobs if j.status.value == "failed")
    inbox = {s.labels["status"]: s.value for s in families["norce_inbox_items"].samples}
    assert {k: v for k, v in inbox.items() if v} == {"pending": 3}
    letters = sum(s.value for s in families["norce_dead_letters"].samples)
    assert letters == len(demo.thread.call(demo.store.list_dead_letters))


def test_the_console_shows_the_state_the_demo_leaves_behind(
    browser: Browser, tmp_path: Path
) -> None:
    """``./scripts/demo``'s store, opened as its last line says: every import's source, the
    jobs it tracked, an empty inbox."""
    import uvicorn

    from norce_integration.cli.demo.story import run_demo
    from norce_integration.ops import AccessPolicy, SourceRef, create_app
    from norce_integration.stores import AsyncSqliteStore

    # Playwright's sync API runs a loop in this thread: the demo (which runs its own
    # loops) goes to a thread of its own, as the CLI would in a process of its own.
    result: list[Any] = []
    demo_run = threading.Thread(target=lambda: result.append(run_demo(tmp_path / "demo")))
    demo_run.start()
    demo_run.join(120)
    [summary] = result
    assert summary.ok
    app = create_app(
        AsyncSqliteStore(summary.state_file),
        access=AccessPolicy(token=TOKEN),
        sources=[SourceRef("products", 1, "erp-products")],
    )
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the console did not start"
        time.sleep(0.02)
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.set_default_timeout(10_000)
        tab.goto(f"http://127.0.0.1:{port}/?token={TOKEN}")
        sources = tab.locator("#sources").inner_text()
        for kind in ("products", "sku_price_lists", "onhands"):
            assert kind in sources
        assert "erp-products" in sources
        assert count(tab, "inbox-pending") == 0  # the demo's worker drained the inbox
        tab.goto(f"http://127.0.0.1:{port}/jobs")
        jobs = tab.content()
        for line in summary.imports:
            for job_id in line.job_ids:
                assert f"/jobs/{job_id}" in jobs
    finally:
        context.close()
        server.should_exit = True
        thread.join(10)
