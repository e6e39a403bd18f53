"""Property tests: every order contract round-trips; malformed input only raises the typed error."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from norce_integration import NorceError
from norce_integration._convert import converter
from norce_integration.orders import OrderValidationError, WireOptions
from norce_integration.orders.models import (
    Invoice,
    OrderModel,
    OrderRequest,
    OrderResponse,
    OrderStatus,
    OrderType,
    SendOrderStatusRequest,
)

from ._helpers import payload
from .strategies import ALL_MODELS, models


WCF = WireOptions(date_format="wcf")
NAMES = WireOptions(order_status="int", order_type="name")


@pytest.mark.parametrize("cls", ALL_MODELS, ids=lambda c: c.__name__)
@given(data=st.data())
def test_every_model_round_trips(cls: type[OrderModel], data: st.DataObject) -> None:
    model = data.draw(models(cls))
    wire = model.to_json()
    again = cls.from_json(wire)
    assert again == model
    # Parsed models write back exactly what they read, for every option set.
    assert again.to_json() == wire
    for options in (WCF, NAMES):
        text = model.to_json(options)
        assert cls.from_json(text).to_json(options) == text
    assert converter.unstructure(model) == model.to_dict()
    assert converter.structure(json.loads(wire, parse_float=Decimal), cls) == model


@given(st.datetimes(timezones=st.just(dt.UTC)), st.integers(-1439, 1439))
def test_wcf_dates_keep_the_instant_to_the_millisecond(when: dt.datetime, minutes: int) -> None:
    when = when.replace(microsecond=when.microsecond // 1000 * 1000)
    local = when.astimezone(dt.timezone(dt.timedelta(minutes=minutes)))
    text = Invoice(invoice_date=local).to_json(WCF)
    parsed = Invoice.from_json(text).invoice_date
    assert parsed == when
    assert isinstance(parsed, dt.datetime)
    assert parsed.utcoffset() == local.utcoffset()


@given(st.integers(min_value=-(2**31), max_value=2**31 - 1))
def test_any_order_status_integer_is_kept(value: int) -> None:
    parsed = SendOrderStatusRequest.from_json(b'{"OrderStatus":%d}' % value)
    assert parsed.order_status == value
    assert isinstance(parsed.order_status, OrderStatus)
    expected = parsed.order_status.name if 0 <= value <= 20 else value
    assert json.loads(parsed.to_json())["OrderStatus"] == expected


@given(st.text(min_size=1, max_size=20))
def test_any_order_type_name_is_kept(name: str) -> None:
    order = OrderRequest.from_dict({"OrderType": name})
    assert isinstance(order.order_type, OrderType | str)
    OrderRequest.from_json(order.to_json())  # never raises


# ------------------------------------------------------------------------------ fuzzing

VALID = [
    payload("order_request_b2c.json"),
    payload("order_request_b2b_extended.json"),
    payload("order_response_docs.json"),
]


def _mutate(rng: random.Random, value: Any, json_values: list[Any]) -> Any:
    """Replace, delete or retype one random node of a parsed document."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        copy = dict(value)
        roll = rng.random()
        if roll < 0.1:
            del copy[key]
        elif roll < 0.2:
            copy[key.lower()] = copy.pop(key)
        else:
            copy[key] = _mutate(rng, copy[key], json_values)
        return copy
    if isinstance(value, list) and value and rng.random() < 0.8:
        copy = list(value)
        index = rng.randrange(len(copy))
        copy[index] = _mutate(rng, copy[index], json_values)
        return copy
    return rng.choice(json_values)


def _bodies(count: int) -> list[bytes]:
    rng = random.Random(16)
    json_values: list[Any] = [
        None,
        True,
        False,
        0,
        -1,
        2**31,
        2**63,
        1.5,
        "",
        "x",
        "2024-13-45",
        "/Date(x)/",
        "/Date(99999999999999999)/",
        "00000000-0000-0000-0000-00000000000g",
        [],
        {},
        [None],
        {"": None},
        [[[]]],
        "\ud800",
        10**400,
    ]
    documents = [json.loads(raw) for raw in VALID]
    bodies: list[bytes] = []
    while len(bodies) < count:
        kind = len(bodies) % 5
        if kind == 0:
            bodies.append(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))))
        elif kind == 1:
            raw = rng.choice(VALID)
            cut = rng.randrange(len(raw))
            bodies.append(raw[:cut] + bytes([rng.randrange(256)]) + raw[cut + 1 :])
        elif kind == 2:
            depth = rng.choice([10, 1000, 100_000])
            bodies.append(b'{"Items":' + b"[" * depth + b"]" * depth + b"}")
        else:
            doc = rng.choice(documents)
            for _ in range(rng.randrange(1, 4)):
                doc = _mutate(rng, doc, json_values)
            try:
                bodies.append(json.dumps(doc).encode("utf-8", "surrogatepass"))
            except (ValueError, TypeError):
                bodies.append(b'{"SellTo": "NaN"}')
    bodies.extend([b"", b"null", b"[]", b'"x"', b"NaN", b'{"Items": NaN}', b"\xff\xfe", b"{" * 5])
    return bodies


def _read(cls: type[OrderModel], body: bytes) -> OrderModel | OrderValidationError:
    try:
        return cls.from_json(body)
    except OrderValidationError as exc:
        return exc


@pytest.mark.parametrize("cls", [OrderRequest, OrderResponse])
def test_fuzzed_bodies_only_raise_the_typed_error(cls: type[OrderModel]) -> None:
    bodies = _bodies(1000)
    assert len(bodies) >= 1000
    outcomes = {"ok": 0, "rejected": 0}
    for body in bodies:
        result = _read(cls, body)
        if isinstance(result, OrderValidationError):
            assert isinstance(result, NorceError)
            assert result.errors
            assert all(e.path.startswith("$") for e in result.errors)
            outcomes["rejected"] += 1
            continue
        outcomes["ok"] += 1
        # e.g. a lone surrogate kept in a string: typed as well
        with contextlib.suppress(OrderValidationError):
            result.to_json()
    assert outcomes["ok"] > 10
    assert outcomes["rejected"] > 500


def test_error_names_every_wrong_field_by_json_path() -> None:
    body = {
        "ClientOrderRef": 5,
        "Items": [{}, {}, {"Quantity": "3", "UnitPrice": "1.0", "LineNo": True}],
        "Header": {"ApplicationKey": "not-a-guid"},
        "SubmitDate": "yesterday",
        "Payments": {"Amount": 1},
        "DoHold": None,
        "Weird key": 1,
    }
    with pytest.raises(OrderValidationError) as info:
        OrderRequest.from_dict(body)
    paths = [e.path for e in info.value.errors]
    assert paths == [
        "$.ClientOrderRef",
        "$.Items[2].Quantity",
        "$.Items[2].UnitPrice",
        "$.Items[2].LineNo",
        "$.Header.ApplicationKey",
        "$.SubmitDate",
        "$.Payments",
        "$.DoHold",
    ]
    assert info.value.path == "$.ClientOrderRef"
    assert "$.Items[2].Quantity: expected an integer, got a string" in str(info.value)
    with pytest.raises(OrderValidationError) as top:
        OrderRequest.from_json(b"[1]")
    assert top.value.path == "$"
    with pytest.raises(OrderValidationError, match="int32"):
        OrderRequest.from_json(b'{"Items":[{"Quantity":2147483648}]}')
    with pytest.raises(OrderValidationError, match=r'\$\["a b"\]'):
        OrderRequest.from_dict({"a b": 1}, strict=True)
