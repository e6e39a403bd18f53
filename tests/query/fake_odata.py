"""A tiny OData answerer for respx side effects: just enough ``$filter`` for key lookups."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import httpx


_EQ = re.compile(r"(\w+) eq ('(?:[^']|'')*'|-?\d+(?:\.\d+)?)")
_IN = re.compile(r"(\w+) in \(((?:'(?:[^']|'')*'|[^)'])*)\)")
_ITEM = re.compile(r"'(?:[^']|'')*'|-?\d+(?:\.\d+)?")


def _value(text: str) -> Any:
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    return Decimal(text) if "." in text else int(text)


def requested_keys(request: httpx.Request) -> tuple[str, list[Any]]:
    """(field, keys) of an or-chained eq filter or an ``in`` filter."""
    text = request.url.params["$filter"]
    match = _IN.fullmatch(text)
    if match:
        return match.group(1), [_value(v) for v in _ITEM.findall(match.group(2))]
    pairs = _EQ.findall(text)
    assert " or ".join(f"{f} eq {v}" for f, v in pairs) == text, text
    fields = {f for f, _ in pairs}
    assert len(fields) == 1, fields
    return fields.pop(), [_value(v) for _, v in pairs]


def lookup_answer(
    rows: Mapping[Any, Mapping[str, Any]], log: list[list[Any]] | None = None
) -> Callable[[httpx.Request], httpx.Response]:
    """A side effect answering key lookups from ``rows`` (keyed by the key value)."""

    def answer(request: httpx.Request) -> httpx.Response:
        _, keys = requested_keys(request)
        if log is not None:
            log.append(keys)
        value = [dict(rows[k]) for k in keys if k in rows]
        return httpx.Response(200, json={"value": value})

    return answer
