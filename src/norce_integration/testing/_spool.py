"""Request bodies: spooled to memory or disk, then read back item by item.

A Connect import can carry a million items. The emulator keeps exactly one copy of the
payload, in a :class:`BodySpool` (memory up to a threshold, then a temporary file), and
reads it back with :func:`iter_json_items`, a streaming reader that decodes one item at a
time with :meth:`json.JSONDecoder.raw_decode` over a sliding text buffer. Nothing here
calls ``json.loads`` on a whole body.
"""

from __future__ import annotations

import codecs
import json
import re
import tempfile
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import IO, Any


__all__ = [
    "BodyFormatError",
    "BodySpool",
    "BodyTooLargeError",
    "iter_json_items",
    "spool_body",
]

READ_SIZE = 256 * 1024
_WS = re.compile(r"[ \t\n\r]*")


class BodyTooLargeError(Exception):
    """The body is larger than the configured maximum (HTTP 413)."""


class BodyFormatError(ValueError):
    """The body is not a JSON array or back-to-back JSON objects (HTTP 400)."""


class BodySpool:
    """One request body, held once: in memory up to ``memory_bytes``, on disk beyond.

    Args:
        max_bytes: refuse bodies larger than this (``None``: no limit).
        memory_bytes: keep up to this many bytes in memory before rolling to a file.

    The spool must be closed (:meth:`close`) once its job has been processed; the
    emulator closes every open spool in :meth:`NorceEmulator.close`.
    """

    def __init__(self, *, max_bytes: int | None = None, memory_bytes: int = 8 * 1024**2) -> None:
        self.max_bytes = max_bytes
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=memory_bytes, mode="w+b")  # noqa: SIM115 - lives as long as the job
        self.size = 0
        self.closed = False
        # Set when a job takes the spool over; otherwise the request handler closes it.
        self.owned = False

    def write(self, chunk: bytes) -> None:
        """Append ``chunk``.

        Raises:
            BodyTooLargeError: the body grew past ``max_bytes``.
        """
        if not chunk:
            return
        self.size += len(chunk)
        if self.max_bytes is not None and self.size > self.max_bytes:
            raise BodyTooLargeError(f"request body is larger than {self.max_bytes} bytes")
        self._file.write(chunk)

    def chunks(self, size: int = READ_SIZE) -> Iterator[bytes]:
        """Read the whole body again from the start, ``size`` bytes at a time."""
        self._file.seek(0)
        while True:
            block = self._file.read(size)
            if not block:
                return
            yield block

    def read_all(self, limit: int) -> bytes:
        """Return the body as bytes (small bodies only: token forms, admin JSON).

        Raises:
            BodyTooLargeError: the body is larger than ``limit``.
        """
        if self.size > limit:
            raise BodyTooLargeError(f"request body is larger than {limit} bytes")
        self._file.seek(0)
        return self._file.read()

    def close(self) -> None:
        """Release memory or the temporary file; idempotent."""
        if not self.closed:
            self.closed = True
            self._file.close()

    def __enter__(self) -> BodySpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[bytes]:
        return self.chunks()


def spool_body(
    body: Iterable[bytes] | BodySpool,
    *,
    max_bytes: int | None,
    memory_bytes: int = 8 * 1024**2,
) -> BodySpool:
    """Return ``body`` as a :class:`BodySpool`, consuming an iterator chunk by chunk.

    A body that is already spooled (async shells spool while awaiting) is returned as is,
    so it is never copied twice.

    Raises:
        BodyTooLargeError: the body is larger than ``max_bytes``; the partial spool is
            closed.
    """
    if isinstance(body, BodySpool):
        if max_bytes is not None and body.size > max_bytes:
            raise BodyTooLargeError(f"request body is larger than {max_bytes} bytes")
        return body
    spool = BodySpool(max_bytes=max_bytes, memory_bytes=memory_bytes)
    try:
        for chunk in body:
            spool.write(chunk)
    except BaseException:
        spool.close()
        raise
    return spool


def iter_json_items(
    chunks: Iterable[bytes], *, max_item_chars: int = 64 * 1024**2
) -> Iterator[Any]:
    """Yield the items of a JSON array, or of back-to-back JSON objects, one at a time.

    The legacy .NET helper (``EnumeratorStream``) writes items back to back with no
    brackets or separators; current docs send an array. Both are accepted (whether the
    real server still accepts the concatenated form is UNCONFIRMED). Numbers with a
    fraction decode as :class:`~decimal.Decimal` so money round-trips exactly.

    Memory stays proportional to one item: the text buffer is trimmed as items are
    consumed, and a partial item is retried only after the buffer has doubled, so large
    items cost amortised linear time.

    Args:
        chunks: the body, as byte chunks of any size.
        max_item_chars: refuse a single item larger than this.

    Raises:
        BodyFormatError: the body is empty, malformed, or not an array/objects.
    """
    decoder = json.JSONDecoder(parse_float=Decimal)
    text = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
    source = iter(chunks)
    buf = ""
    pos = 0
    eof = False
    consumed = 0  # characters dropped from the front of buf, for error offsets

    def more(min_len: int) -> bool:
        """Read until ``len(buf) >= min_len`` (old coordinates) or EOF; False if no data."""
        nonlocal buf, pos, eof, consumed
        if eof:
            return False
        # Drop what was consumed, so the buffer holds about one item at a time.
        parts = [buf[pos:]]
        have = len(parts[0])
        target = min_len - pos
        consumed += pos
        pos = 0
        got_any = False
        while have < target:
            try:
                chunk = next(source)
            except StopIteration:
                eof = True
                chunk = b""
            try:
                piece = text.decode(chunk, final=eof)
            except UnicodeDecodeError as exc:
                raise BodyFormatError(f"body is not valid UTF-8: {exc.reason}") from None
            parts.append(piece)
            have += len(piece)
            got_any = got_any or bool(piece)
            if eof:
                break
        buf = "".join(parts)
        return got_any

    def skip_ws() -> bool:
        """Advance past whitespace; return False at the end of the body."""
        nonlocal pos
        while True:
            m = _WS.match(buf, pos)
            assert m is not None
            pos = m.end()
            if pos < len(buf):
                return True
            if not more(len(buf) + READ_SIZE) and pos >= len(buf):
                return False

    def fail(what: str) -> BodyFormatError:
        return BodyFormatError(f"{what} at character {consumed + pos}")

    def decode_value(index: int) -> Any:
        nonlocal pos
        while True:
            try:
                value, end = decoder.raw_decode(buf, pos)
            except json.JSONDecodeError as exc:
                pending = len(buf) - pos
                if eof:
                    raise BodyFormatError(
                        f"item {index} is not valid JSON: {exc.msg}"
                        f" (character {consumed + exc.pos})"
                    ) from None
                if pending > max_item_chars:
                    raise BodyFormatError(
                        f"item {index} is larger than {max_item_chars} characters or malformed"
                    ) from None
                more(len(buf) + max(pending, READ_SIZE))
                continue
            # A number may continue in the next chunk; objects and strings end themselves.
            if end == len(buf) and not eof and isinstance(value, int | float | Decimal):
                more(len(buf) + READ_SIZE)
                continue
            if end - pos > max_item_chars:
                raise BodyFormatError(f"item {index} is larger than {max_item_chars} characters")
            pos = end
            return value

    if not skip_ws():
        raise BodyFormatError("body is empty; expected a JSON array of items")
    first = buf[pos]
    if first == "[":
        pos += 1
        index = 0
        if not skip_ws():
            raise fail("unterminated JSON array")
        if buf[pos] == "]":
            pos += 1
        else:
            while True:
                yield decode_value(index)
                index += 1
                if not skip_ws():
                    raise fail("unterminated JSON array")
                sep = buf[pos]
                pos += 1
                if sep == "]":
                    break
                if sep != ",":
                    raise fail(f"expected ',' or ']' after item {index - 1}, got {sep!r}")
                if not skip_ws():
                    raise fail("unterminated JSON array")
        if skip_ws():
            raise fail("unexpected data after the JSON array")
        return
    if first == "{":
        index = 0
        while True:
            if buf[pos] != "{":
                raise fail(f"expected a JSON object for item {index}, got {buf[pos]!r}")
            yield decode_value(index)
            index += 1
            if not skip_ws():
                return
    raise fail(f"expected a JSON array (or back-to-back objects), got {first!r}")
