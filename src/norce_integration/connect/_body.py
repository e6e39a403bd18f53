"""Streaming JSON-array bodies for Connect imports (pure: no I/O).

Items are serialised one at a time and yielded in ~64 KiB chunks, so memory does not
grow with the number of items. Attrs models go through the one converter; mappings are
taken as already wire-shaped. ``Decimal`` is written as an exact JSON number. The same
body also frames already-encoded items and passes a spooled body through unchanged, so
every import POST is counted and digested by this one implementation.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any, Literal

import attrs
import orjson

from .._convert import WriteModel, fast_unstructure_fn
from .._exceptions import NorceError


__all__ = ["ImportBody", "InvalidItemError", "encode_item"]

CHUNK_SIZE = 64 * 1024
BATCH_SIZE = 128


class InvalidItemError(NorceError, TypeError):
    """An import item could not be serialised; names the item's position and why."""

    def __init__(self, message: str, *, index: int, kind: str = "") -> None:
        self.index = index
        self.kind = kind
        where = f"{kind} item #{index}" if kind else f"item #{index}"
        super().__init__(f"{where}: {message}")


def json_default(obj: Any) -> Any:
    """``orjson``'s ``default`` for Connect bodies: a finite ``Decimal`` as its exact digits.

    Raises:
        TypeError: a non-finite ``Decimal`` or a type Connect has no form for.
    """
    if isinstance(obj, Decimal):
        if not obj.is_finite():
            msg = f"{obj} is not a finite number"
            raise TypeError(msg)
        return orjson.Fragment(str(obj).encode())
    msg = f"cannot serialise {type(obj).__name__}"
    raise TypeError(msg)


def _reason(exc: TypeError) -> str:
    # orjson replaces the message of an error raised in ``default``; the cause has ours.
    return str(exc.__cause__ or exc)


def to_wire(item: Any, item_type: type[Any] | None, index: int, kind: str) -> Any:
    """One import item → its wire-shaped ``dict`` (fast generated path for models).

    Args:
        item: a model instance of the import's kind, or a ``dict`` already in wire shape.
        item_type: the import's model class (``None``: any model).
        index: the item's position, named in an error.
        kind: the import kind, named in an error.

    Raises:
        InvalidItemError: the item is not of the import's type or cannot be encoded.
    """
    cls = type(item)
    if cls is dict:
        return item
    # Hot path: the item is exactly the import's model class (no ABC checks per item).
    if cls is item_type:
        return fast_unstructure_fn(cls)(item)
    if isinstance(item, Mapping):
        return dict(item)
    if attrs.has(cls) and issubclass(cls, WriteModel):
        if item_type is not None and not isinstance(item, item_type):
            raise InvalidItemError(
                f"expected {item_type.__name__} or a mapping, got {cls.__name__}",
                index=index,
                kind=kind,
            )
        return fast_unstructure_fn(cls)(item)
    expected = item_type.__name__ if item_type is not None else "a model"
    raise InvalidItemError(
        f"expected {expected} or a mapping, got {cls.__name__}", index=index, kind=kind
    )


def encode_item(item: Any, item_type: type[Any] | None, *, index: int, kind: str = "") -> bytes:
    """One item → compact JSON bytes.

    Raises:
        InvalidItemError: the item is of the wrong type or holds an unserialisable value.
    """
    data = to_wire(item, item_type, index, kind)
    try:
        return orjson.dumps(data, default=json_default)
    except TypeError as exc:
        raise InvalidItemError(_reason(exc), index=index, kind=kind) from None


Framing = Literal["items", "encoded", "raw"]


@attrs.define
class ImportBody:
    """A streamed ``[item, item, ...]`` body that counts and digests what it emits.

    Iterate it once (sync or async). ``count``, ``size`` and ``digest`` (sha256 hex of
    the exact bytes sent) are final once iteration ends. Items are converted one by one
    and serialised in small batches (one ``orjson`` call per batch), so memory holds at
    most one batch and one chunk, whatever the number of items.

    ``framing`` says what ``items`` are: ``"items"`` models or mappings to encode,
    ``"encoded"`` one JSON value as bytes each (written between ``[``, ``,`` and ``]``),
    ``"raw"`` chunks of a whole body, sent as they are. ``tee`` receives every chunk.
    """

    items: Iterable[Any] | AsyncIterable[Any]
    item_type: type[Any] | None = None
    kind: str = ""
    framing: Framing = "items"
    tee: Callable[[bytes], None] | None = attrs.field(default=None, repr=False)
    count: int = 0
    size: int = 0
    _hash: Any = attrs.field(factory=hashlib.sha256, repr=False)
    done: bool = False
    _pending: list[Any] = attrs.field(factory=list, repr=False)
    _buf: bytearray = attrs.field(factory=lambda: bytearray(b"["), repr=False)

    def __attrs_post_init__(self) -> None:
        if self.framing == "raw":
            self._buf.clear()

    @property
    def digest(self) -> str:
        """sha256 hex digest of the bytes emitted so far."""
        return str(self._hash.hexdigest())

    def _emit(self) -> bytes:
        out = bytes(self._buf)
        self._hash.update(out)
        self.size += len(out)
        self._buf.clear()
        if self.tee is not None:
            self.tee(out)
        return out

    def _flush_pending(self) -> None:
        pending = self._pending
        if not pending:
            return
        first = self.count - len(pending)
        try:
            encoded = orjson.dumps(pending, default=json_default)
        except TypeError:
            # Find the culprit so the error names the item.
            for offset, data in enumerate(pending):
                try:
                    orjson.dumps(data, default=json_default)
                except TypeError as exc:
                    raise InvalidItemError(
                        _reason(exc), index=first + offset, kind=self.kind
                    ) from None
            raise  # pragma: no cover - the batch failed, so one item must fail
        if first:
            self._buf += b","
        self._buf += memoryview(encoded)[1:-1]
        pending.clear()

    def _add(self, item: Any) -> bool:
        """Queue one item; True when a chunk is ready to emit."""
        if self.framing != "items":
            if self.framing == "encoded":
                if self.count:
                    self._buf += b","
                self.count += 1
            self._buf += item
            return len(self._buf) >= CHUNK_SIZE
        self._pending.append(to_wire(item, self.item_type, self.count, self.kind))
        self.count += 1
        if len(self._pending) >= BATCH_SIZE:
            self._flush_pending()
            return len(self._buf) >= CHUNK_SIZE
        return False

    def _finish(self) -> bytes:
        self._flush_pending()
        if self.framing != "raw":
            self._buf += b"]"
        self.done = True
        return self._emit()

    def __iter__(self) -> Iterator[bytes]:
        if isinstance(self.items, AsyncIterable):
            msg = "an async iterable of items needs the async client"
            raise TypeError(msg)
        for item in self.items:
            if self._add(item):
                yield self._emit()
        yield self._finish()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        if isinstance(self.items, AsyncIterable):
            async for item in self.items:
                if self._add(item):
                    yield self._emit()
        else:
            for item in self.items:
                if self._add(item):
                    yield self._emit()
        yield self._finish()
