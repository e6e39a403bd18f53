"""The console's ASGI app on a demo-like store: pages, actions, safety, /metrics."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.routing import Mount

from norce_integration import ConfigurationError
from norce_integration.ops import AccessPolicy, ConsoleOptions, SourceRef, check_bind, create_app
from norce_integration.ops._security import CSRF_COOKIE, SESSION_COOKIE, same_origin
from norce_integration.stores import AsyncSqliteStore, TrackedStatus

from ._support import LETTER_SECRET, TOKEN, Demo


pytestmark = pytest.mark.anyio
AUTH = {"Authorization": f"Bearer {TOKEN}"}
BASE = "http://ops.test"


def app_for(demo: Demo, **kw: Any) -> Any:
    options: dict[str, Any] = {
        "access": AccessPolicy(token=TOKEN),
        "jobs": demo.jobs(),
        "events": demo.events(),
        "sources": [SourceRef("products", 1, "erp")],
        "clock": demo.now,
    }
    options.update(kw)
    return create_app(demo.async_store(), **options)


@pytest.fixture
async def client(demo: Demo) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_for(demo))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        yield c


def text(html: str) -> str:
    html = re.sub(r"<svg.*?</svg>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def signed_in(c: httpx.AsyncClient) -> str:
    """Sign in through ?token=, load a page; return the CSRF token of its forms."""
    r = await c.get("/", params={"token": TOKEN})
    assert r.status_code == 303
    assert r.headers["location"] == "/"
    assert SESSION_COOKIE in c.cookies
    r = await c.get("/events")
    assert r.status_code == 200
    match = re.search(r'name="csrf" value="([^"]+)"', r.text)
    assert match is not None
    assert c.cookies[CSRF_COOKIE] == match.group(1)
    return match.group(1)


# ---------------------------------------------------------------------------- pages


async def test_overview_shows_sources_alerts_inbox_and_plots(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    r = await client.get("/", headers=AUTH)
    assert r.status_code == 200
    page = text(r.text)
    assert "products" in page
    assert "erp" in page
    assert f"job {demo.full_job}" in page  # last good full import
    assert "demo-host:4242" in page  # in-flight lock
    assert f"job {demo.failed_job} (account 1) is failed" in page
    assert f"job {demo.stalled_job} has run 1 h" in page
    assert "2 dead letter(s)" in page
    assert re.search(r'data-testid="inbox-pending">3<', r.text)
    assert r.text.count("<svg") == 2
    assert "Content-Security-Policy" in r.headers
    assert TOKEN not in r.text


async def test_job_list_filters(client: httpx.AsyncClient, demo: Demo) -> None:
    r = await client.get("/jobs", headers=AUTH)
    ids = [int(i) for i in re.findall(r'data-job="(\d+)"', r.text)]
    assert ids == sorted(
        [*demo.succeeded, demo.full_job, demo.superseded_job, demo.failed_job, demo.stalled_job],
        reverse=True,
    )
    r = await client.get("/jobs", params={"status": "failed"}, headers=AUTH)
    assert re.findall(r'data-job="(\d+)"', r.text) == [str(demo.failed_job)]
    r = await client.get("/jobs", params={"mode": "full"}, headers=AUTH)
    assert re.findall(r'data-job="(\d+)"', r.text) == [str(demo.full_job)]
    r = await client.get("/jobs", params={"kind": "onhands"}, headers=AUTH)
    assert re.findall(r'data-job="(\d+)"', r.text) == []
    r = await client.get("/jobs", params={"since": "30m"}, headers=AUTH)
    assert re.findall(r'data-job="(\d+)"', r.text) == []  # the last job is an hour old
    r = await client.get("/jobs", params={"status": "bogus"}, headers=AUTH)
    assert r.status_code == 200
    assert "unknown status" in r.text


async def test_failed_job_page_has_history_counts_and_norce_log(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    r = await client.get(f"/jobs/{demo.failed_job}", headers=AUTH)
    assert r.status_code == 200
    page = text(r.text)
    assert "failed" in page
    assert "injected a job failure" in page  # Norce's job log via the tracker
    assert "Lead time 25 s" in page
    assert re.search(r"totals\s*</th>\s*<td[^>]*>1<", r.text)
    assert 'id="history"' in r.text
    assert "poll" in page
    r = await client.get(f"/jobs/{demo.superseded_job}", headers=AUTH)
    assert f"full import job {demo.full_job}" in text(r.text)
    assert (await client.get("/jobs/999999", headers=AUTH)).status_code == 404
    assert (await client.get("/jobs/abc", headers=AUTH)).status_code == 404


async def test_without_a_tracker_the_job_page_says_where_the_log_is(demo: Demo) -> None:
    transport = httpx.ASGITransport(app=app_for(demo, jobs=None))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        r = await c.get(f"/jobs/{demo.failed_job}", headers=AUTH)
    assert "Norce credentials" in r.text
    assert 'data-testid="rerun"' not in r.text


async def test_rerun_refusal_and_success(client: httpx.AsyncClient, demo: Demo) -> None:
    csrf = await signed_in(client)
    r = await client.post(f"/jobs/{demo.full_job}/rerun", data={"csrf": csrf})
    assert r.status_code == 409
    assert "Re-run refused: rerun-full-import" in text(r.text)
    r = await client.post(f"/jobs/{demo.superseded_job}/rerun", data={"csrf": csrf})
    assert r.status_code == 409
    assert "rerun-superseded-job" in r.text
    r = await client.post(f"/jobs/{demo.failed_job}/rerun", data={"csrf": csrf})
    assert r.status_code == 303
    new_id = int(r.headers["location"].split("?")[0].rsplit("/", 1)[1])
    job = demo.thread.call(demo.store.get_job, new_id)
    assert job is not None
    assert job.rerun_of == demo.failed_job
    r = await client.get(r.headers["location"])
    assert f"Re-run submitted as job {new_id} (a re-run of job {demo.failed_job})" in r.text


async def test_events_page_replay_and_delete(client: httpx.AsyncClient, demo: Demo) -> None:
    csrf = await signed_in(client)
    r = await client.get("/events")
    page = text(r.text)
    assert "search.send: RuntimeError" in page
    assert LETTER_SECRET not in r.text  # neither in the payload nor in the error
    assert re.search(r'data-testid="inbox-pending">3<', r.text)
    first, second = demo.letters
    r = await client.post(f"/events/dead-letters/{first}/replay", data={"csrf": csrf})
    assert r.status_code == 303
    r = await client.get(r.headers["location"])
    assert "Replayed 1 dead letter(s)" in r.text
    assert re.search(r'data-testid="inbox-pending">4<', r.text)
    assert re.search(r'data-testid="dead-letters">1<', r.text)
    r = await client.post(f"/events/dead-letters/{second}/delete", data={"csrf": csrf})
    assert r.status_code == 303
    assert demo.thread.call(demo.store.list_dead_letters) == []
    r = await client.post("/events/dead-letters/all/delete", data={"csrf": csrf})
    assert "Deleted 0" in (await client.get(r.headers["location"])).text


async def test_replay_all_reports_kept_letters(client: httpx.AsyncClient, demo: Demo) -> None:
    csrf = await signed_in(client)
    demo.thread.call(
        demo.store.put_dead_letter,
        "webhook:malformed",
        b"not json",
        "bad",
        key="SkuChangedNotification",
    )
    r = await client.post("/events/dead-letters/all/replay", data={"csrf": csrf})
    assert r.status_code == 409
    assert "Replayed 2 dead letter(s)" in r.text
    assert "still malformed" in r.text


# ---------------------------------------------------------------------------- safety


async def test_wrong_or_missing_token_is_401(demo: Demo) -> None:
    transport = httpx.ASGITransport(app=app_for(demo))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        for path in ("/", "/jobs", f"/jobs/{demo.failed_job}", "/events", "/metrics"):
            assert (await c.get(path)).status_code == 401, path
            r = await c.get(path, headers={"Authorization": "Bearer wrong"})
            assert r.status_code == 401, path
            assert "Bearer" in r.headers["www-authenticate"]
        r = await c.get("/", params={"token": "wrong"})
        assert r.status_code == 401
        assert "Wrong access token" in r.text
        r = await c.post("/login", data={"token": "wrong", "next": "/"})
        assert r.status_code == 401
        r = await c.post(f"/jobs/{demo.failed_job}/rerun", data={"csrf": "x"})
        assert r.status_code == 401
        assert (await c.get("/static/ops.css")).status_code == 200
        assert TOKEN not in (await c.get("/login")).text


async def test_login_form_sets_a_session_that_is_not_the_token(demo: Demo) -> None:
    transport = httpx.ASGITransport(app=app_for(demo))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        r = await c.post("/login", data={"token": TOKEN, "next": "//evil.example/"})
        assert r.status_code == 303
        assert r.headers["location"] == "/"
        assert c.cookies[SESSION_COOKIE] != TOKEN
        assert TOKEN not in r.headers.get("set-cookie", "")
        assert (await c.get("/")).status_code == 200
        r = await c.post("/logout")
        assert (await c.get("/")).status_code == 401


async def test_actions_need_the_csrf_proof(client: httpx.AsyncClient, demo: Demo) -> None:
    csrf = await signed_in(client)
    letter = demo.letters[0]
    r = await client.post(f"/events/dead-letters/{letter}/delete", data={})
    assert r.status_code == 403
    r = await client.post(f"/events/dead-letters/{letter}/delete", data={"csrf": "forged"})
    assert r.status_code == 403
    r = await client.post(
        f"/events/dead-letters/{letter}/delete",
        data={"csrf": csrf},
        headers={"Origin": "https://evil.example"},
    )
    assert r.status_code == 403
    assert len(demo.thread.call(demo.store.list_dead_letters)) == 2
    r = await client.post(
        f"/events/dead-letters/{letter}/delete", data={"csrf": csrf}, headers={"Origin": BASE}
    )
    assert r.status_code == 303


async def test_without_credentials_pages_are_read_only(demo: Demo) -> None:
    transport = httpx.ASGITransport(app=app_for(demo, access=None))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        assert (await c.get("/")).status_code == 200
        r = await c.get("/events")
        assert 'data-testid="replay-' not in r.text
        csrf = c.cookies[CSRF_COOKIE]
        r = await c.post(f"/events/dead-letters/{demo.letters[0]}/replay", data={"csrf": csrf})
        assert r.status_code == 403
        assert "Actions are disabled" in r.text


async def test_basic_auth(demo: Demo) -> None:
    access = AccessPolicy(basic_user="ops", basic_password="pw-NEVER-shown")
    transport = httpx.ASGITransport(app=app_for(demo, access=access))
    good = "Basic " + base64.b64encode(b"ops:pw-NEVER-shown").decode()
    bad = "Basic " + base64.b64encode(b"ops:nope").decode()
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        r = await c.get("/", headers={"Authorization": bad})
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Basic")
        r = await c.get("/", headers={"Authorization": good})
        assert r.status_code == 200
        assert "pw-NEVER-shown" not in r.text
    assert "pw-NEVER-shown" not in repr(access)


def test_binding_beyond_loopback_needs_credentials() -> None:
    check_bind("127.0.0.1", AccessPolicy())
    check_bind("localhost", AccessPolicy())
    check_bind("::1", AccessPolicy())
    with pytest.raises(ConfigurationError, match=r"refusing to serve .* on 0\.0\.0\.0.*--token"):
        check_bind("0.0.0.0", AccessPolicy())
    with pytest.raises(ConfigurationError, match="refusing"):
        check_bind("192.168.1.5", AccessPolicy())
    check_bind("0.0.0.0", AccessPolicy(token="t"))
    check_bind("0.0.0.0", AccessPolicy(basic_user="u", basic_password="p"))
    with pytest.raises(ValueError, match="both"):
        AccessPolicy(basic_user="u")
    assert TOKEN not in repr(AccessPolicy(token=TOKEN))


def test_same_origin() -> None:
    assert same_origin(None, None, "ops.test")
    assert same_origin("http://ops.test", None, "ops.test")
    assert not same_origin("http://evil.test", None, "ops.test")
    assert not same_origin("null", None, "ops.test")
    assert same_origin(None, "http://ops.test/events", "ops.test")
    assert not same_origin(None, "http://evil.test/", "ops.test")


# ---------------------------------------------------------------------------- metrics


async def test_metrics_parse_and_hold_the_store_numbers(
    client: httpx.AsyncClient, demo: Demo
) -> None:
    r = await client.get("/metrics", headers=AUTH)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    jobs = demo.thread.call(demo.store.list_jobs)
    by_status: dict[str, float] = {}
    for sample in families["norce_jobs"].samples:
        by_status[sample.labels["status"]] = (
            by_status.get(sample.labels["status"], 0) + sample.value
        )
    expected: dict[str, float] = {}
    for j in jobs:
        expected[j.status.value] = expected.get(j.status.value, 0) + 1
    assert by_status == expected
    assert by_status[TrackedStatus.SUCCEEDED.value] == 7
    lead = {
        s.name: s
        for s in families["norce_job_lead_time_seconds"].samples
        if s.labels.get("mode") == "delta" and s.name.endswith("_count")
    }
    assert lead["norce_job_lead_time_seconds_count"].value == 8  # finished deltas
    items = sum(
        s.value for s in families["norce_import_items"].samples if s.name.endswith("_total")
    )
    assert items == sum(j.item_count for j in jobs)
    inbox = {s.labels["status"]: s.value for s in families["norce_inbox_items"].samples}
    assert {k: v for k, v in inbox.items() if v} == {"pending": 3}
    letters = {s.labels["source"]: s.value for s in families["norce_dead_letters"].samples}
    assert letters == {"webhook:failed": 2}
    assert families["norce_events_failed"].samples[0].value == 2


# ---------------------------------------------------------------------------- mounting


async def test_mounts_under_a_prefix(demo: Demo) -> None:
    outer = Starlette(routes=[Mount("/ops", app=app_for(demo))])
    transport = httpx.ASGITransport(app=outer)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        r = await c.get("/ops/", headers=AUTH)
        assert r.status_code == 200
        assert 'href="/ops/static/ops.css"' in r.text
        assert f'href="/ops/jobs/{demo.failed_job}"' in r.text
        assert (await c.get("/ops/static/ops.css")).status_code == 200
        r = await c.get("/ops/", params={"token": TOKEN})
        assert r.headers["location"] == "/ops/"


async def test_overview_reads_a_bounded_window(demo: Demo) -> None:
    store = demo.async_store()
    app = create_app(
        store, access=AccessPolicy(token=TOKEN), clock=demo.now, options=ConsoleOptions(window=3)
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        r = await c.get("/", headers=AUTH)
    assert r.status_code == 200
    assert "list_jobs" in store.calls


@pytest.fixture
def sqlite_app(demo: Demo) -> Any:
    # Built outside the event loop: the constructor starts the store's thread.
    store = AsyncSqliteStore(demo.path)
    return store, create_app(store, access=AccessPolicy(token=TOKEN), clock=demo.now)


async def test_on_the_async_sqlite_store(sqlite_app: Any, demo: Demo) -> None:
    store, app = sqlite_app
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
            r = await c.get("/", headers=AUTH)
            assert r.status_code == 200
            assert f"job {demo.failed_job} (account 1) is failed" in text(r.text)
            assert re.search(r'data-testid="inbox-pending">3<', r.text)
            r = await c.get("/metrics", headers=AUTH)
            families = {f.name: f for f in text_string_to_metric_families(r.text)}
            assert sum(s.value for s in families["norce_jobs"].samples) == 10
    finally:
        await store.aclose()


class StubReplayer:
    """Replays through the store's public methods (the console's side of a replay only)."""

    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.calls: list[Any] = []

    async def replay(self, which: Any) -> Any:
        from norce_integration.patterns import EventReplayReport

        self.calls.append(which)
        store = self.demo.async_store()
        letter = await store.get_dead_letter(which)
        await store.inbox_append(f"replay:{which}", letter.key, letter.payload)
        await store.delete_dead_letter(which)
        return EventReplayReport((which,), {})


async def test_replay_button_goes_through_the_event_actions(demo: Demo) -> None:
    replayer = StubReplayer(demo)
    transport = httpx.ASGITransport(app=app_for(demo, events=replayer))
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        csrf = await signed_in(c)
        r = await c.post(f"/events/dead-letters/{demo.letters[1]}/replay", data={"csrf": csrf})
        assert r.status_code == 303
        r = await c.get(r.headers["location"])
    assert replayer.calls == [demo.letters[1]]
    assert "Replayed 1 dead letter(s)" in r.text
    assert re.search(r'data-testid="inbox-pending">4<', r.text)
    assert re.search(r'data-testid="dead-letters">1<', r.text)


async def test_overview_alerts_on_the_age_of_the_oldest_pending_event(demo: Demo) -> None:
    """The store's oldest pending receipt reaches the overview and its alert."""
    from norce_integration.ops import ConsoleOptions

    def later() -> float:  # an hour after the demo's pending events arrived
        return demo.now() + 3600

    quiet = app_for(demo, clock=later, options=ConsoleOptions(inbox_age_alert=7200))
    strict = app_for(demo, clock=later, options=ConsoleOptions(inbox_age_alert=1800))
    pages = []
    for app in (quiet, strict):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
            pages.append(text((await c.get("/", headers=AUTH)).text))
    assert "the oldest pending event has waited" not in pages[0]
    assert "the oldest pending event has waited 1 h" in pages[1]
    assert "the oldest pending event has waited" not in text(
        await _overview(app_for(demo, options=ConsoleOptions(inbox_age_alert=1800)))
    )


async def _overview(app: Any) -> str:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        return (await c.get("/", headers=AUTH)).text
