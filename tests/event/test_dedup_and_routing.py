"""dedup_key, event_type_from, and fuzzing: parse_event only ever raises EventParseError."""

from __future__ import annotations

import contextlib
import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from norce_integration import EventParseError
from norce_integration.event import (
    EventType,
    NorceEvent,
    UnknownEvent,
    dedup_key,
    event_type_from,
    parse_event,
)


BODY = {"ClientId": 1042, "PartNo": "100011", "EntityChanged": "tClientProductSku"}


class TestDedupKey:
    def test_is_sha256_hex_and_stable(self):
        key = dedup_key("SkuChangedNotification", json.dumps(BODY))
        assert len(key) == 64
        assert int(key, 16) >= 0
        assert key == dedup_key("SkuChangedNotification", json.dumps(BODY).encode())

    def test_ignores_key_order_whitespace_and_type_case(self):
        a = dedup_key("SkuChangedNotification", json.dumps(BODY))
        b = dedup_key(
            "skuchangednotification",
            '{ "PartNo":"100011",\n "EntityChanged":"tClientProductSku","ClientId":1042 }',
        )
        assert a == b
        assert dedup_key(EventType.SkuChangedNotification, BODY) == a

    def test_numbers_are_normalised(self):
        base = dedup_key("X", '{"v": 1}')
        assert dedup_key("X", '{"v": 1.0}') == base
        assert dedup_key("X", '{"v": 1.00}') == base
        assert dedup_key("X", {"v": 1.0}) == base
        assert dedup_key("X", {"v": Decimal("1")}) == base
        assert dedup_key("X", '{"v": 10}') == dedup_key("X", '{"v": 1e1}')
        assert dedup_key("X", '{"v": 0}') == dedup_key("X", '{"v": -0.0}')
        assert dedup_key("X", '{"v": 1.5}') != base

    def test_everything_else_is_significant(self):
        base = dedup_key("SkuChangedNotification", BODY)
        assert dedup_key("SkuPriceChangedNotification", BODY) != base
        assert dedup_key("SkuChangedNotification", {**BODY, "PartNo": "100012"}) != base
        assert dedup_key("SkuChangedNotification", {**BODY, "PartNo": "100011 "}) != base
        assert dedup_key("SkuChangedNotification", {**BODY, "ApplicationId": None}) != base
        assert dedup_key("X", '{"v": true}') != dedup_key("X", '{"v": 1}')
        assert dedup_key("X", '{"v": "1"}') != dedup_key("X", '{"v": 1}')

    def test_huge_exponents_stay_cheap(self):
        assert len(dedup_key("X", '{"v": 1e999999999}')) == 64

    def test_malformed_json_raises(self):
        with pytest.raises(EventParseError, match="not valid JSON"):
            dedup_key("X", b"{")
        with pytest.raises(EventParseError, match="UTF-8"):
            dedup_key("X", b"\xff")
        with pytest.raises(EventParseError, match="expected bytes"):
            dedup_key("X", 5)  # type: ignore[arg-type]
        assert len(dedup_key("X", "[1, 2]")) == 64  # any JSON value is fine


class TestEventTypeFrom:
    def test_header_any_case(self):
        assert event_type_from({"X-Norce-Event-Type": "SkuChangedNotification"}) == (
            "SkuChangedNotification"
        )
        assert event_type_from([(b"x-norce-event-type", b"jobcompletedevent")]) == (
            "jobcompletedevent"
        )

    def test_header_wins_over_path(self):
        assert event_type_from({"x-norce-event-type": "A"}, "/hooks/B") == "A"

    def test_query_parameter_then_last_path_segment(self):
        assert event_type_from({}, "/hooks/norce?norceEventType=OrderReceivedEvent") == (
            "OrderReceivedEvent"
        )
        assert event_type_from(None, "/hooks/norce/SkuChangedNotification/") == (
            "SkuChangedNotification"
        )
        assert event_type_from(None, "https://x/hooks/Sku%43hangedNotification?code=1") == (
            "SkuChangedNotification"
        )

    def test_nothing_names_it(self):
        assert event_type_from({"x-norce-event-type": "  "}, "/") is None
        assert event_type_from() is None


# ---------------------------------------------------------------- fuzzing

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)

field_names = st.sampled_from(
    [
        "ClientId",
        "ApplicationId",
        "PartNo",
        "EntityChanged",
        "CustomerId",
        "OrderId",
        "OrderNo",
        "ClientOrderRef",
        "Source",
        "PricelistId",
        "PriceSaleValue",
        "StatusId",
        "JobId",
        "State",
        "CapturedInvoiceId",
        "SupplierId",
        "WarehouseId",
        "LocationId",
        "OnHandValue",
        "MinimumValue",
    ]
)
near_valid = st.dictionaries(field_names | st.text(max_size=8), json_values, max_size=12)
type_names = st.sampled_from([t.value for t in EventType]) | st.text(max_size=30)


def _encode(value: object) -> str:
    return json.dumps(value, default=str)


@given(type_names, near_valid | json_values)
def test_parse_event_on_arbitrary_json_only_raises_event_parse_error(name, value):
    for body in (value, _encode(value), _encode(value).encode()):
        if not isinstance(body, (str, bytes, dict)):
            continue
        error: EventParseError | None = None
        try:
            event = parse_event(name, body)
        except EventParseError as exc:
            error = exc
        if error is None:
            assert isinstance(event, NorceEvent | UnknownEvent)
            assert isinstance(event.entity_key, tuple)
        else:
            known = EventType.lookup(name)
            assert error.event_type == (known.value if known else name.strip())


@given(type_names, st.binary(max_size=200))
def test_parse_event_on_arbitrary_bytes_only_raises_event_parse_error(name, raw):
    with contextlib.suppress(EventParseError):
        parse_event(name, raw)


@given(type_names, json_values)
def test_dedup_key_on_arbitrary_json(name, value):
    key = dedup_key(name, _encode(value))
    assert len(key) == 64
    # Re-serialising with sorted keys and indentation does not change the key, nor does
    # the letter case of an (ASCII, like every Norce name) event type.
    other_case = name.upper() if name.isascii() else name
    reserialised = json.dumps(json.loads(_encode(value)), sort_keys=True, indent=2)
    assert dedup_key(other_case, reserialised) == key
