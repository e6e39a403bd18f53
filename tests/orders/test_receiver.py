"""The Order Receiver: auth, validation, journal before answer, dedup, retries, dead letters."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from norce_integration import ConfigurationError
from norce_integration.orders import (
    AsyncOrderReceiver,
    OrderReceiver,
    OrderReceiverApp,
    OrderRecord,
    OrderRequest,
    OrderResponse,
    ReceiverSettings,
)
from norce_integration.orders._receiver_core import claim
from norce_integration.stores import AsyncSqliteStore, SqliteStore
from norce_integration.testing import ManualClock, NorceEmulator

from ._erp import FileErp, MemoryErp
from ._helpers import payload
from .conftest import seed_skus
from .test_properties import _bodies


USER, PASSWORD = "norce", "pw-Secret-1"
URL = "http://receiver.test/"


def auth(user: str = USER, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def order_body(ref: str = "900123", **extra: Any) -> bytes:
    data = json.loads(payload("order_request_b2c.json"))
    data["ClientOrderRef"] = ref
    data.update(extra)
    return json.dumps(data).encode()


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def erp() -> MemoryErp:
    return MemoryErp()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[AsyncSqliteStore]:
    async with AsyncSqliteStore(tmp_path / "orders.sqlite") as s:
        yield s


def make(store, erp, clock, **settings: Any) -> AsyncOrderReceiver:
    values: dict[str, Any] = {"username": USER, "password": PASSWORD, "retry_delays": (10, 20)}
    values.update(settings)
    return AsyncOrderReceiver(store, erp, ReceiverSettings(**values), clock=clock)


@pytest.fixture
def receiver(store, erp, clock) -> AsyncOrderReceiver:
    return make(store, erp, clock)


@pytest.fixture
async def http(receiver) -> AsyncIterator[httpx.AsyncClient]:
    app = OrderReceiverApp(receiver, background=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=URL) as c:
        yield c


async def journal(store: AsyncSqliteStore) -> dict[str, str]:
    return {
        **await store.kv_list("orders.receiver"),
        **await store.kv_list("orders.receiver.pending"),
    }


pytestmark = pytest.mark.anyio


async def test_first_push_creates_the_erp_order_and_answers_its_number(http, erp, store):
    answer = await http.post("/", content=order_body(), headers=auth())
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    response = OrderResponse.from_json(answer.content)
    assert response.is_ok
    assert response.erp_order_no == "SO-0001"
    assert response.has_erp_order_no is True
    assert len(erp.orders) == 1
    (record,) = [
        OrderRecord.from_text(v) for v in (await store.kv_list("orders.receiver")).values()
    ]
    assert record.state == "created"
    assert await store.kv_list("orders.receiver.pending") == {}


async def test_a_push_retried_5_times_creates_one_erp_order(http, erp):
    answers = [await http.post("/", content=order_body(), headers=auth()) for _ in range(6)]
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1  # the same OrderResponse, byte for byte
    assert erp.creates == [erp.creates[0]]
    assert len(erp.orders) == 1


async def test_legacy_path_is_accepted_and_other_paths_are_404(http):
    assert (
        await http.post("/CreateOrder", content=order_body(), headers=auth())
    ).status_code == 200
    assert (await http.post("/other", content=order_body(), headers=auth())).status_code == 404
    assert (await http.get("/", headers=auth())).status_code == 405


@pytest.mark.parametrize(
    "headers",
    [
        {},
        auth(password="wrong"),
        auth(user="other"),
        {"Authorization": "Bearer " + PASSWORD},
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic " + base64.b64encode(USER.encode()).decode()},
    ],
)
async def test_wrong_credentials_get_401_and_nothing_is_stored(http, store, erp, headers):
    answer = await http.post("/", content=order_body(), headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Basic")
    assert PASSWORD not in answer.text
    assert await journal(store) == {}
    assert erp.creates == []


def test_credentials_are_required_and_never_shown():
    with pytest.raises(ConfigurationError, match="username"):
        ReceiverSettings()
    settings = ReceiverSettings(username=USER, password=PASSWORD)
    assert PASSWORD not in repr(settings)
    assert ReceiverSettings(allow_anonymous=True).allow_anonymous


@pytest.mark.parametrize(
    ("body", "status", "path"),
    [
        (b"{not json", 400, "$"),
        (b"[]", 400, "$"),
        (order_body(Items=[{"Quantity": "three"}]), 400, "$.Items[0].Quantity"),
        (order_body(DoHold="yes"), 400, "$.DoHold"),
        (order_body(ClientOrderRef=None), 422, "$.ClientOrderRef"),
        (order_body(ClientOrderRef=""), 422, "$.ClientOrderRef"),
        (order_body(ClientOrderRef=17), 400, "$.ClientOrderRef"),
    ],
)
async def test_bad_bodies_get_4xx_naming_the_field_and_nothing_is_stored(
    http, store, body, status, path
):
    answer = await http.post("/", content=body, headers=auth())
    assert answer.status_code == status
    data = answer.json()
    assert data["StatusCode"] == "Failed"
    assert data["Errors"][0]["Path"] == path
    assert path in data["Description"]
    assert await journal(store) == {}


async def test_xml_and_oversized_bodies_are_refused(store, erp, clock):
    receiver = make(store, erp, clock, max_body_bytes=1000)
    app = OrderReceiverApp(receiver, background=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=URL) as c:
        xml = await c.post(
            "/", content=b"<OrderRequest/>", headers={**auth(), "Content-Type": "text/xml"}
        )
        assert xml.status_code == 415
        big = await c.post("/", content=order_body(), headers=auth())
        assert big.status_code == 413
    assert await journal(store) == {}


FUZZED = _bodies(1000)  # built at import, outside any event loop: it takes a while


@pytest.fixture
def fuzzed() -> list[bytes]:
    return FUZZED


def test_1000_fuzzed_bodies_get_4xx_never_5xx(tmp_path, fuzzed):
    # The blocking twin runs the same generated protocol code as the asyncio receiver.
    settings = ReceiverSettings(username=USER, password=PASSWORD)
    statuses: dict[int, int] = {}
    with SqliteStore(tmp_path / "fuzz.sqlite") as store:
        receiver = OrderReceiver(store, FileErp(tmp_path / "erp.jsonl"), settings)
        for body in fuzzed:
            answer = receiver.receive(body, authorization=auth()["Authorization"])
            statuses[answer.status] = statuses.get(answer.status, 0) + 1
            assert answer.status < 500, body[:200]
            if answer.status >= 400:
                assert orjson.loads(answer.body)["Errors"][0]["Path"].startswith("$")
    assert sum(n for s, n in statuses.items() if 400 <= s < 500) > 500
    assert statuses.get(200, 0) > 10


async def test_1000_fuzzed_bodies_through_the_asgi_app_get_4xx_never_5xx(http, fuzzed):
    rejected = 0
    for body in fuzzed:
        answer = await http.post("/", content=body, headers=auth())
        assert answer.status_code < 500, body[:200]
        if answer.status_code >= 400:
            rejected += 1
            assert answer.json()["Errors"][0]["Path"].startswith("$")
        # A refused body never touches the store, so httpx's in-process transport never
        # yields: let the loop run, as a server does between requests.
        await asyncio.sleep(0)
    assert rejected > 500


async def test_dedup_is_per_application_by_default(http, erp):
    first = order_body(Header={"ApplicationKey": "6f1b0c3e-7a2d-4c55-9a0e-1f2e3d4c5b6a"})
    second = order_body(Header={"ApplicationKey": "00000000-0000-0000-0000-000000000002"})
    await http.post("/", content=first, headers=auth())
    await http.post("/", content=second, headers=auth())
    assert len(erp.orders) == 2


async def test_dedup_on_client_order_ref_alone_is_a_setting(store, erp, clock):
    receiver = make(store, erp, clock, dedup_scope="client_order_ref")
    first = order_body(Header={"ApplicationKey": "6f1b0c3e-7a2d-4c55-9a0e-1f2e3d4c5b6a"})
    second = order_body(Header={"ApplicationKey": "00000000-0000-0000-0000-000000000002"})
    await receiver.receive(first, authorization=auth()["Authorization"])
    await receiver.receive(second, authorization=auth()["Authorization"])
    assert list(erp.orders) == ["900123"]


async def test_erp_down_is_accepted_and_queued_by_default(http, receiver, erp, clock):
    erp.down = True
    answer = await http.post("/", content=order_body(), headers=auth())
    assert answer.status_code == 200
    response = OrderResponse.from_json(answer.content)
    assert response.is_ok
    assert response.has_erp_order_no is False
    assert "queued" in (response.description or "")
    erp.down = False
    assert await receiver.process_due() == 0  # not due yet
    clock.now += 10
    assert await receiver.process_due() == 1
    (record,) = await receiver.list()
    assert record.state == "created"
    assert record.erp_order_no == "SO-0001"
    again = await http.post("/", content=order_body(), headers=auth())
    assert again.content == answer.content  # the OK Norce got is never changed
    assert len(erp.creates) == 2


async def test_erp_down_answers_failed_when_so_configured(store, erp, clock):
    receiver = make(store, erp, clock, when_unavailable="failed")
    app = OrderReceiverApp(receiver, background=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=URL) as c:
        erp.down = True
        answer = await c.post("/", content=order_body(), headers=auth())
        assert answer.status_code == 503
        assert OrderResponse.from_json(answer.content).status_code == "Failed"
        erp.down = False
        answer = await c.post("/", content=order_body(), headers=auth())
        assert answer.status_code == 200
        assert OrderResponse.from_json(answer.content).erp_order_no == "SO-0001"
    assert len(erp.orders) == 1


async def test_failed_http_status_is_a_setting(store, erp, clock):
    receiver = make(store, erp, clock, when_unavailable="failed", failed_http_status=200)
    erp.down = True
    answer = await receiver.receive(order_body(), authorization=auth()["Authorization"])
    assert answer.status == 200
    assert b'"Failed"' in answer.body


async def test_dead_letter_after_the_limit_and_replay(receiver, erp, clock):
    erp.down = True
    await receiver.receive(order_body(), authorization=auth()["Authorization"])
    for _ in range(3):
        clock.now += 60
        await receiver.process_due()
    (record,) = await receiver.list()
    assert record.state == "dead"
    assert record.attempts == 3  # the first attempt and two retries
    assert await receiver.list("dead") == [record]
    clock.now += 3600
    assert await receiver.process_due() == 0  # dead orders are not retried
    erp.down = False
    replayed = await receiver.replay(record.key)
    assert replayed.state == "received"
    assert await receiver.process_due() == 1
    assert (await receiver.get(record.key)).state == "created"  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="only dead or rejected"):
        await receiver.replay(record.key)
    with pytest.raises(KeyError):
        await receiver.replay("nope")


async def test_rejected_orders_answer_failed_every_time_and_are_not_retried(receiver, erp, clock):
    erp.refuse = "customer blocked"
    first = await receiver.receive(order_body(), authorization=auth()["Authorization"])
    second = await receiver.receive(order_body(), authorization=auth()["Authorization"])
    assert first.status == 503
    assert first.body == second.body
    assert b"customer blocked" in first.body
    clock.now += 3600
    assert await receiver.process_due() == 0
    assert len(erp.creates) == 1


async def test_an_unexpected_target_error_makes_the_next_attempt_look_first(receiver, erp, clock):
    erp.crash = ConnectionResetError("lost the ERP mid-call")
    await receiver.receive(order_body(), authorization=auth()["Authorization"])
    erp.crash = None
    erp.orders["6f1b0c3e-7a2d-4c55-9a0e-1f2e3d4c5b6a/900123"] = "SO-0042"  # it did get there
    clock.now += 10
    await receiver.process_due()
    (record,) = await receiver.list()
    assert record.state == "created"
    assert record.erp_order_no == "SO-0042"
    assert len(erp.creates) == 1
    assert len(erp.finds) == 1


async def test_a_receiver_that_died_mid_call_is_taken_over_after_its_lease(store, erp, clock):
    key = "6f1b0c3e-7a2d-4c55-9a0e-1f2e3d4c5b6a/900123"
    dead = make(store, erp, clock)
    record = await dead._store_push(key, OrderRequest.from_json(order_body()))
    claimed = claim(record, clock(), "dead-host", dead.settings)
    assert claimed is not None
    await store.kv_put("orders.receiver", key, claimed.to_text())
    erp.orders[key] = "SO-0007"  # the dead receiver's call reached the ERP
    alive = make(store, erp, clock)
    answer = await alive.receive(order_body(), authorization=auth()["Authorization"])
    assert OrderResponse.from_json(answer.body).is_ok  # queued: the lease is still held
    assert erp.creates == []
    clock.now += dead.settings.lease_seconds + 1
    await alive.process_due()
    assert (await alive.get(key)).erp_order_no == "SO-0007"  # type: ignore[union-attr]
    assert erp.creates == []


async def test_a_slow_erp_is_answered_within_the_budget_and_finishes_later(store, clock):
    class SlowErp(MemoryErp):
        async def create_order(self, order: OrderRequest, *, key: str) -> str | None:
            await asyncio.sleep(0.3)
            return await super().create_order(order, key=key)

    erp = SlowErp()
    receiver = make(store, erp, clock, answer_within=0.05)
    answer = await receiver.receive(order_body(), authorization=auth()["Authorization"])
    assert OrderResponse.from_json(answer.body).has_erp_order_no is False
    await receiver.drain()
    (record,) = await receiver.list()
    assert record.state == "created"
    again = await receiver.receive(order_body(), authorization=auth()["Authorization"])
    assert again.body == answer.body
    assert len(erp.creates) == 1


async def test_background_worker_runs_under_the_lifespan(store, erp, clock):
    receiver = make(store, erp, clock, retry_delays=(0,))
    app = OrderReceiverApp(receiver, poll_interval=0.01)
    erp.down = True
    await receiver.receive(order_body(), authorization=auth()["Authorization"])
    erp.down = False
    await app.start()
    for _ in range(200):
        if erp.orders:
            break
        await asyncio.sleep(0.01)
    await app.stop()
    assert (await receiver.list())[0].state == "created"


async def test_norce_pushes_through_the_emulator_end_to_end(store, erp, clock):
    receiver = make(store, erp, clock)
    app = OrderReceiverApp(receiver, background=False)
    with NorceEmulator(
        clock=ManualClock(), delivery_transport=httpx.MockTransport(lambda r: httpx.Response(200))
    ) as emulator:
        seed_skus(emulator, "P1")
        emulator.delivery_transport = httpx.ASGITransport(app=app)
        emulator.set_order_receiver(URL, username=USER, password=PASSWORD)
        order = emulator.place_order([("P1", 2)])
        await emulator.arun_due()
        state = emulator.orders.state(order["Id"])
    assert state["push"] == "accepted"
    assert state["OrderNo"] == "SO-0001"
    assert list(erp.orders.values()) == ["SO-0001"]


async def test_norce_retrying_5_times_through_the_emulator_creates_one_order(store, erp, clock):
    receiver = make(store, erp, clock, when_unavailable="failed")
    app = OrderReceiverApp(receiver, background=False)
    with NorceEmulator(
        clock=ManualClock(), delivery_transport=httpx.MockTransport(lambda r: httpx.Response(200))
    ) as emulator:
        seed_skus(emulator, "P1")
        emulator.delivery_transport = httpx.ASGITransport(app=app)
        emulator.set_order_receiver(URL, username=USER, password=PASSWORD)
        erp.down = True
        order = emulator.place_order([("P1", 1)])
        await emulator.aadvance(5 + 10 + 15 + 30)  # the first push and 4 retries
        erp.down = False
        await emulator.aadvance(60)  # the 5th retry
        pushes = [p for p in emulator.orders.pushes if p.order_id == order["Id"]]
        state = emulator.orders.state(order["Id"])
    assert [p.outcome for p in pushes] == ["failed"] * 5 + ["accepted"]
    assert state["OrderNo"] == "SO-0001"
    assert len(erp.orders) == 1


def test_blocking_receiver_with_a_blocking_target(tmp_path):
    erp = FileErp(tmp_path / "erp.jsonl")
    with SqliteStore(tmp_path / "s.sqlite") as store:
        receiver = OrderReceiver(store, erp, ReceiverSettings(username=USER, password=PASSWORD))
        for _ in range(3):
            answer = receiver.receive(order_body(), authorization=auth()["Authorization"])
            assert OrderResponse.from_json(answer.body).erp_order_no == "SO-0001"
        assert [r.state for r in receiver.list()] == ["created"]
    assert erp.count() == 1


KILLED = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    sys.path[:0] = [{tests!r}]
    from orders._erp import FileErp
    from norce_integration.orders import OrderReceiver, ReceiverSettings
    from norce_integration.stores import SqliteStore

    store = SqliteStore({db!r})
    erp = FileErp(Path({erp!r}), die_after_create=True)
    receiver = OrderReceiver(store, erp, ReceiverSettings(username="u", password="p"))
    receiver.receive(sys.stdin.buffer.read(), authorization={auth!r})
    print("not killed")
    """
)


@pytest.mark.blocking_allowed("drives a subprocess and reads its SQLite file afterwards")
def test_a_receiver_killed_after_storing_and_before_answering_creates_no_second_order(tmp_path):
    db, erp_file = tmp_path / "s.sqlite", tmp_path / "erp.jsonl"
    header = "Basic " + base64.b64encode(b"u:p").decode()
    tests = str(Path(__file__).resolve().parent.parent)
    script = KILLED.format(tests=tests, db=str(db), erp=str(erp_file), auth=header)
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=order_body(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == -9, done.stderr.decode()[-2000:]
    erp = FileErp(erp_file)
    assert erp.count() == 1  # the ERP took it; the receiver died before answering
    later = time.time() + 3600  # Norce retries; the dead receiver's lease has run out
    settings = ReceiverSettings(username="u", password="p")
    with SqliteStore(db) as store:
        receiver = OrderReceiver(store, erp, settings, clock=lambda: later)
        (record,) = receiver.list()
        assert record.state == "processing"
        answer = receiver.receive(order_body(), authorization=header)
    response = OrderResponse.from_json(answer.body)
    assert response.is_ok
    assert response.erp_order_no == "SO-0001"
    assert erp.count() == 1


async def test_journal_records_round_trip(receiver):
    await receiver.receive(order_body(), authorization=auth()["Authorization"])
    (record,) = await receiver.list()
    assert OrderRecord.from_text(record.to_text()) == record
    assert orjson.loads(record.body)["ClientOrderRef"] == "900123"
    assert PASSWORD not in record.to_text()
