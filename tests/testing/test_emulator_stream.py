"""Emulator body handling: streaming JSON reader, spooling, chunk-by-chunk transports."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from norce_integration.testing import ManualClock, NorceEmulator
from norce_integration.testing._spool import BodyFormatError, iter_json_items


HEADER = json.dumps({"AccountId": 1, "FullFile": False, "SkuPriceListFieldsThatAreSet": [3]})

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
items = st.lists(st.dictionaries(st.text(max_size=8), json_values, max_size=5), max_size=12)


def _encode(value: Any) -> str:
    return json.dumps(value, default=lambda d: float(d) if d == d.to_integral_value() else str(d))


def _split(data: bytes, sizes: list[int]) -> Iterator[bytes]:
    position = 0
    for size in itertools.cycle(sizes):
        if position >= len(data):
            return
        yield data[position : position + size]
        position += size


@given(items=items, sizes=st.lists(st.integers(min_value=1, max_value=17), min_size=1, max_size=5))
def test_reader_matches_json_loads_for_any_chunking(items, sizes):
    text = json.dumps(json.loads(_encode(items)), ensure_ascii=False, indent=1)
    expected = json.loads(text, parse_float=Decimal)
    assert list(iter_json_items(_split(text.encode(), sizes))) == expected
    concatenated = "".join(json.dumps(json.loads(_encode(i)), ensure_ascii=False) for i in items)
    if items:
        got = list(iter_json_items(_split(concatenated.encode(), sizes)))
        assert got == [
            json.loads(json.dumps(json.loads(_encode(i))), parse_float=Decimal) for i in items
        ]


@pytest.mark.parametrize("chunk", [1000, 4096, 65536, 262144, 300000])
@pytest.mark.parametrize("framing", ["array", "objects"])
def test_reader_handles_multi_megabyte_bodies(chunk, framing):
    rows = [{"PartNo": f"P{i:06d}", "Price": Decimal(i) / 4} for i in range(40_000)]
    texts = [json.dumps({"PartNo": r["PartNo"], "Price": float(r["Price"])}) for r in rows]
    data = ("[" + ",".join(texts) + "]" if framing == "array" else "\n".join(texts)).encode()
    assert len(data) > 4 * 262144
    got = list(iter_json_items(_split(data, [chunk])))
    assert got == rows


def test_reader_refuses_oversized_items():
    body = b'[{"a": "' + b"x" * 5000 + b'"}]'
    with pytest.raises(BodyFormatError, match="larger than"):
        list(iter_json_items(_split(body, [100]), max_item_chars=1000))


def _endless() -> Iterator[bytes]:
    yield b"["
    for i in itertools.count():
        yield json.dumps({"PartNo": f"P{i}", "PriceListCode": "STD"}).encode() + b","


async def _aendless() -> AsyncIterator[bytes]:
    for chunk in _endless():
        yield chunk


def test_sync_transport_streams_chunk_by_chunk():
    # An endless body ends in 413: the transport never reads a body whole before handling.
    with (
        NorceEmulator(clock=ManualClock(), max_body_bytes=100_000) as emulator,
        httpx.Client(
            transport=emulator.transport(),
            headers={"Authorization": f"Bearer {emulator.issue_token()}"},
        ) as client,
    ):
        response = client.post(
            emulator.settings().connect_base + "Product/ImportSkuPriceLists",
            headers={"X-StormConnect-Header": HEADER},
            content=_endless(),
        )
        assert response.status_code == 413


@pytest.mark.anyio
async def test_async_transport_streams_chunk_by_chunk():
    with NorceEmulator(clock=ManualClock(), max_body_bytes=100_000) as emulator:
        async with httpx.AsyncClient(
            transport=emulator.transport(),
            headers={"Authorization": f"Bearer {emulator.issue_token()}"},
        ) as client:
            response = await client.post(
                emulator.settings().connect_base + "Product/ImportSkuPriceLists",
                headers={"X-StormConnect-Header": HEADER},
                content=_aendless(),
            )
            assert response.status_code == 413


def test_large_bodies_are_spooled_to_disk_and_released():
    with (
        NorceEmulator(clock=ManualClock(), spool_memory_bytes=4096) as emulator,
        httpx.Client(
            transport=emulator.transport(),
            headers={"Authorization": f"Bearer {emulator.issue_token()}"},
        ) as client,
    ):
        rows = ({"PartNo": f"P{i}", "PriceListCode": "STD"} for i in range(5000))

        def body() -> Iterator[bytes]:
            yield b"["
            for index, row in enumerate(rows):
                yield (b"," if index else b"") + json.dumps(row).encode()
            yield b"]"

        url = emulator.settings().connect_base + "Product/ImportSkuPriceLists"
        first = client.post(url, headers={"X-StormConnect-Header": HEADER}, content=body())
        assert first.json()["ValidationSummary"]["NrOfItemsInTotal"] == 5000
        job = emulator._connect.job(int(first.json()["JobId"]))
        assert job.spool is not None
        assert job.spool.size > 4096
        assert job.spool._file._rolled  # type: ignore[attr-defined]
        emulator.advance(10)
        assert job.spool is None  # closed once processed
        assert emulator.get_job(job.job_id)["Totals"] == 5000
        # A stalled job keeps its (on-disk) spool until the emulator is closed; closing
        # releases it (an unclosed temporary file would fail this warnings-as-errors run).
        emulator.faults.job(stall=True)
        rows = ({"PartNo": f"S{i}", "PriceListCode": "STD"} for i in range(2000))
        stalled = client.post(url, headers={"X-StormConnect-Header": HEADER}, content=body())
        kept = emulator._connect.job(int(stalled.json()["JobId"])).spool
        emulator.advance(3600)
        assert kept is not None
        assert not kept.closed
    assert kept.closed
