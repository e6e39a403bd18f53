"""Shared helpers of the order tests: payload files and canonical JSON text."""

from __future__ import annotations

import json
from pathlib import Path

import orjson


PAYLOADS = Path(__file__).parent / "payloads"


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def compact(text: bytes | str) -> bytes:
    """``text`` without insignificant whitespace, strings in orjson's canonical escaping.

    Numbers, key order and everything else stay byte for byte as written: this is what
    "byte-compatible" means for the round trips (an encoder cannot know whether the
    sender wrote ``\\u2013`` or the dash itself).
    """
    source = text.decode() if isinstance(text, bytes) else text
    out: list[str] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch == '"':
            j = i + 1
            while source[j] != '"':
                j += 2 if source[j] == "\\" else 1
            out.append(orjson.dumps(json.loads(source[i : j + 1])).decode())
            i = j + 1
        elif ch in " \t\r\n":
            i += 1
        else:
            out.append(ch)
            i += 1
    return "".join(out).encode()
