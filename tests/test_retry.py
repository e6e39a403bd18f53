from __future__ import annotations

import email.utils

import pytest
from hypothesis import given
from hypothesis import strategies as st

from norce_integration import RetryPolicy
from norce_integration._exceptions import (
    APIConnectionError,
    APITimeoutError,
    BadRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
    ServiceUnavailableError,
    error_for_status,
)
from norce_integration._retry import parse_retry_after, should_retry


NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("0", 0.0),
        ("3", 3.0),
        ("2.5", 2.5),
        (" 7 ", 7.0),
        ("-5", 0.0),
        ("nan", None),
        ("inf", None),
        ("soon", None),
        ("1e400", None),
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
        (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),
        ("Wed, 99 Foo 2024 99:99:99 GMT", None),
    ],
)
def test_parse_retry_after_table(header, expected):
    assert parse_retry_after(header, now=NOW) == expected


@given(st.text(max_size=40))
def test_parse_retry_after_never_negative_or_raises(text):
    value = parse_retry_after(text, now=NOW)
    assert value is None or value >= 0


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (404, NotFoundError),
        (429, RateLimitError),
        (500, ServerError),
        (502, ServerError),
        (503, ServiceUnavailableError),
        (504, ServerError),
    ],
)
def test_status_to_error_table(status, cls):
    assert error_for_status(status) is cls


def _status(cls, status):
    return cls("x", status=status)


@pytest.mark.parametrize(
    ("exc", "kind", "sent", "expected"),
    [
        (APIConnectionError("x"), "read", False, True),
        (APIConnectionError("x"), "import", False, True),
        (APIConnectionError("x"), "import", True, False),
        (APITimeoutError("x"), "import", False, False),
        (APITimeoutError("x"), "read", False, True),
        (_status(RateLimitError, 429), "import", True, True),
        (_status(ServiceUnavailableError, 503), "import", True, True),
        (_status(ServerError, 500), "read", False, True),
        (_status(ServerError, 502), "import", True, False),
        (_status(ServerError, 500), "token", False, True),
        (_status(BadRequestError, 400), "read", False, False),
        (_status(NotFoundError, 404), "read", False, False),
        (ValueError("x"), "read", False, False),
    ],
)
def test_retry_predicate_table(exc, kind, sent, expected):
    assert should_retry(exc, kind, body_sent=sent) is expected


@given(attempt=st.integers(1, 50), retry_after=st.none() | st.floats(0, 1e6))
def test_backoff_bounded(attempt, retry_after):
    policy = RetryPolicy(initial_wait=0.5, max_wait=10, jitter=1.0, retry_after_cap=60)
    wait = policy.backoff(attempt, retry_after)
    assert 0 <= wait <= 61
    if retry_after is not None:
        assert wait >= min(retry_after, 60)
