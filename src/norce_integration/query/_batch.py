"""Batched key lookups: split keys into filters that fit a URL (pure: no I/O).

One request per chunk: ``PartNo eq 'a' or PartNo eq 'b' or …`` (or, with ``use_in``,
``PartNo in ('a','b',…)`` — UNCONFIRMED on Norce, reference §2.8). A chunk is bounded by
the encoded URL length (proxies and IIS refuse long URLs; 1800 characters leaves room
under the common 2048 limit) and by 500 keys (Norce's page size), so one page answers it.

Percent-encoding works character by character, so the encoded length of a filter is the
sum of the encoded lengths of its pieces; chunks are cut without rendering URLs twice.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

import attrs

from ._odata import _CMP, _OR, Filter, encode, literal


__all__ = ["MAX_KEYS_PER_CHUNK", "MAX_URL_LENGTH", "KeyChunk", "chunk_keys", "dedupe"]

K = TypeVar("K", bound=Hashable)

MAX_URL_LENGTH = 1800
MAX_KEYS_PER_CHUNK = 500
_FILTER_PARAM = "$filter="


@attrs.frozen
class KeyChunk(Generic[K]):
    """Keys looked up by one request, and the filter that selects them.

    Attributes:
        keys: the keys, in first-seen order.
        filter: ``Field eq a or Field eq b …`` (or ``Field in (a,b,…)``).
        url_length: the length of the final URL, for checks and logs.
    """

    keys: tuple[K, ...]
    filter: Filter
    url_length: int


def dedupe(keys: Iterable[K]) -> list[K]:
    """The keys without repeats, first occurrence first.

    Raises:
        ValueError: a key is ``None`` (a null key cannot be looked up).
    """
    out = list(dict.fromkeys(keys))
    if any(k is None for k in out):
        msg = "a key is None"
        raise ValueError(msg)
    return out


def chunk_keys(
    field_wire: str,
    keys: Iterable[K],
    *,
    base_url_length: int,
    max_url_length: int = MAX_URL_LENGTH,
    max_keys: int = MAX_KEYS_PER_CHUNK,
    use_in: bool = False,
) -> list[KeyChunk[K]]:
    """Split ``keys`` (deduplicated) into chunks whose URLs fit ``max_url_length``.

    Args:
        field_wire: the key field's wire name (``PartNo``).
        keys: the keys; duplicates are dropped.
        base_url_length: length of the request URL *without* ``$filter`` (with its
            ``$select`` and the rest); the filter adds ``?``/``&``, ``$filter=`` and the
            encoded expression.
        max_url_length: the bound on the encoded URL length.
        max_keys: the bound on keys per chunk (at most 500, Norce's page size).
        use_in: render ``Field in (…)`` instead of ``or``-chained ``eq``.

    Returns:
        The chunks; every key is in exactly one.

    Raises:
        ValueError: ``max_keys`` is not in 1..500, a key is ``None``, or one key alone
            does not fit ``max_url_length``.
    """
    if not 1 <= max_keys <= MAX_KEYS_PER_CHUNK:
        msg = f"max_keys must be within 1..{MAX_KEYS_PER_CHUNK}, got {max_keys}"
        raise ValueError(msg)
    unique = dedupe(keys)
    # Fixed cost: the separator before the parameter plus its name.
    fixed = base_url_length + 1 + len(_FILTER_PARAM)
    if use_in:
        head, sep, tail = f"{field_wire} in (", ",", ")"
    else:
        head, sep, tail = "", " or ", ""
    head_len, sep_len, tail_len = len(encode(head)), len(encode(sep)), len(encode(tail))

    def piece(key: K) -> str:
        return literal(key) if use_in else f"{field_wire} eq {literal(key)}"

    chunks: list[KeyChunk[K]] = []
    current: list[K] = []
    texts: list[str] = []
    length = 0

    def flush() -> None:
        text = head + sep.join(texts) + tail
        # eq-chains are "or" expressions: combined with other filters they need parens.
        precedence = _CMP if use_in or len(texts) == 1 else _OR
        chunks.append(KeyChunk(tuple(current), Filter(text, precedence), length))

    for key in unique:
        text = piece(key)
        cost = len(encode(text))
        alone = fixed + head_len + cost + tail_len
        if alone > max_url_length:
            msg = (
                f"the key {key!r} alone makes a {alone}-character URL "
                f"(max_url_length={max_url_length})"
            )
            raise ValueError(msg)
        grown = length + sep_len + cost
        if current and (grown > max_url_length or len(current) >= max_keys):
            flush()
            current, texts = [], []
        if not current:
            length = alone
        else:
            length += sep_len + cost
        current.append(key)
        texts.append(text)
    if current:
        flush()
    return chunks
