"""Streaming JSON-array bodies for Connect imports (pure: no I/O).

Items are serialised one at a time and yielded in ~64 KiB chunks, so memory does not
grow with the number of items. Attrs models go through the one converter; mappings are
taken as already wire-shaped. ``Decimal`` is written as an exact JSON number.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

import attrs
import orjson

from .._convert import converter
from .._exceptions import NorceError


__all__ = ["ImportBody", "InvalidItemError", "encode_item"]

CHUNK_SIZE = 64 * 1024


class InvalidItemError(NorceError, TypeError):
    """An import item could not be serialised; names the item's position and why."""

    def __init__(self, message: str, *, index: int, kind: str = "") -> None:
        self.index = index
        self.kind = kind
        where = f"{kind} item #{index}" if kind else f"item #{index}"
        super().__init__(f"{where}: {message}")


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        if not obj.is_finite():
            msg = f"{obj} is not a finite number"
            raise TypeError(msg)
        return orjson.Fragment(str(obj).encode())
    msg = f"cannot serialise {type(obj).__name__}"
    raise TypeError(msg)


def encode_item(item: Any, item_type: type[Any] | None, *, index: int, kind: str = "") -> bytes:
    """One item → compact JSON bytes.

    Raises:
        InvalidItemError: the item is of the wrong type or holds an unserialisable value.
    """
    if isinstance(item, Mapping):
        data: Any = item
    elif attrs.has(type(item)):
        if item_type is not None and not isinstance(item, item_type):
            raise InvalidItemError(
                f"expected {item_type.__name__} or a mapping, got {type(item).__name__}",
                index=index,
                kind=kind,
            )
        data = converter.unstructure(item)
    else:
        expected = item_type.__name__ if item_type is not None else "a model"
        raise InvalidItemError(
            f"expected {expected} or a mapping, got {type(item).__name__}", index=index, kind=kind
        )
    try:
        return orjson.dumps(data, default=_default)
    except TypeError as exc:
        raise InvalidItemError(str(exc), index=index, kind=kind) from None


@attrs.define
class ImportBody:
    """A streamed ``[item, item, ...]`` body that counts and digests what it emits.

    Iterate it once (sync or async). ``count``, ``size`` and ``digest`` (sha256 hex of
    the exact bytes sent) are final once iteration ends.
    """

    items: Iterable[Any] | AsyncIterable[Any]
    item_type: type[Any] | None = None
    kind: str = ""
    count: int = 0
    size: int = 0
    _hash: Any = attrs.field(factory=hashlib.sha256, repr=False)
    done: bool = False

    @property
    def digest(self) -> str:
        """sha256 hex digest of the bytes emitted so far."""
        return str(self._hash.hexdigest())

    def _emit(self, chunk: bytearray) -> bytes:
        out = bytes(chunk)
        self._hash.update(out)
        self.size += len(out)
        chunk.clear()
        return out

    def _add(self, buf: bytearray, item: Any) -> None:
        encoded = encode_item(item, self.item_type, index=self.count, kind=self.kind)
        if self.count:
            buf += b","
        buf += encoded
        self.count += 1

    def __iter__(self) -> Iterator[bytes]:
        if isinstance(self.items, AsyncIterable):
            msg = "an async iterable of items needs the async client"
            raise TypeError(msg)
        buf = bytearray(b"[")
        for item in self.items:
            self._add(buf, item)
            if len(buf) >= CHUNK_SIZE:
                yield self._emit(buf)
        buf += b"]"
        self.done = True
        yield self._emit(buf)

    async def __aiter__(self) -> AsyncIterator[bytes]:
        buf = bytearray(b"[")
        if isinstance(self.items, AsyncIterable):
            async for item in self.items:
                self._add(buf, item)
                if len(buf) >= CHUNK_SIZE:
                    yield self._emit(buf)
        else:
            for item in self.items:
                self._add(buf, item)
                if len(buf) >= CHUNK_SIZE:
                    yield self._emit(buf)
        buf += b"]"
        self.done = True
        yield self._emit(buf)
