# GENERATED FILE: do not edit. The blocking twin of
# src/norce_integration/patterns/imports/_async_lookup.py, made by `python scripts/gen_sync.py`.
# Edit the async source and run that command again.
"""Cached Norce lookups for mapping: :class:`AsyncLookupHelper` and :class:`AsyncQueryLookup`,
written once for asyncio; ``_sync_lookup.py`` (``LookupHelper``, ``QueryLookup``) is generated
from this module by ``scripts/gen_sync.py``."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ._lookup_memo import MISSING, LookupMemo, named_targets


if TYPE_CHECKING:
    from ...query import QueryResource


__all__ = ["LookupHelper", "QueryLookup"]


@runtime_checkable
class LookupHelper(Protocol):
    """Cached lookups of Norce keys and codes for mapping.

    Every method answers from a local memo when it can; misses are fetched in one
    batched Query request per chunk of keys (:meth:`many`, :meth:`prefetch`).

    ``target`` is a Query model (``Category``) or ``(namespace, entity_set)``;
    ``key_field`` is the field's wire name (``"Code"``) or a query ``Field``.
    """

    def get(self, target: Any, key_field: Any, key: Hashable) -> Any | None:
        """The row of ``target`` whose ``key_field`` equals ``key``, or ``None``."""
        ...

    def many(self, target: Any, key_field: Any, keys: Iterable[Hashable]) -> dict[Any, Any]:
        """Rows by key for the keys that exist (one request per chunk of misses)."""
        ...

    def prefetch(self, target: Any, key_field: Any, keys: Iterable[Hashable]) -> None:
        """Warm the memo for ``keys`` so later :meth:`get` calls make no request."""
        ...

    def category(self, code: str) -> Any | None:
        """The category (``Application/Categories``) with this code, or ``None``."""
        ...

    def price_list(self, code: str) -> Any | None:
        """The price list (``Application/ClientPriceLists``, code = ``Agreement``)."""
        ...

    def sku(self, part_no: str) -> Any | None:
        """The SKU (``Products/ProductSkus``) with this part number, or ``None``."""
        ...

    def currency(self, code: str) -> Any | None:
        """The currency (``Core/Currencies``) with this code, or ``None``."""
        ...


class QueryLookup:
    """A lookup helper over the Query client (``norce.query``).

    Rows are memoised per (entity set, field, key) for ``ttl`` seconds, misses included,
    and fetched through ``query.lookup_many`` (which also uses the Query client's own
    cache when it has one).

    Args:
        query: the Query resource (``norce.query``).
        ttl: seconds a memoised row stays valid (``None``: for the helper's lifetime).
            Codes and keys change rarely; Norce advises caching application data long.
        max_entries: the most rows (and misses) kept; the oldest go first.
        clock: seconds, for the TTL.
    """

    def __init__(
        self,
        query: QueryResource,
        *,
        ttl: float | None = 3600.0,
        max_entries: int = 200_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.query = query
        self._memo = LookupMemo(ttl, clock, max_entries)

    def get(self, target: Any, key_field: Any, key: Hashable) -> Any | None:
        """The row of ``target`` whose ``key_field`` equals ``key``, or ``None``.

        Raises:
            APIError: the Query request failed.
        """
        row = self._memo.read(target, key_field, key)
        if row is MISSING:
            self.prefetch(target, key_field, [key])
            row = self._memo.read(target, key_field, key)
        return None if row is MISSING else row

    def many(self, target: Any, key_field: Any, keys: Iterable[Hashable]) -> dict[Any, Any]:
        """Rows by key for the keys that exist (one request per chunk of misses).

        Raises:
            APIError: the Query request failed.
        """
        keys = list(keys)
        self.prefetch(target, key_field, keys)
        return self._memo.collect(target, key_field, keys)

    def prefetch(self, target: Any, key_field: Any, keys: Iterable[Hashable]) -> None:
        """Warm the memo for ``keys``.

        Raises:
            APIError: the Query request failed.
        """
        wanted = self._memo.misses(target, key_field, keys)
        if wanted:
            result = self.query.lookup_many(target, key_field, wanted)
            self._memo.store(target, key_field, wanted, dict(result.found))

    def category(self, code: str) -> Any | None:
        """The category with this code, or ``None``."""
        return self.get(*named_targets()["category"], code)

    def price_list(self, code: str) -> Any | None:
        """The price list with this code (``Agreement``), or ``None``."""
        return self.get(*named_targets()["price_list"], code)

    def sku(self, part_no: str) -> Any | None:
        """The SKU with this part number, or ``None``."""
        return self.get(*named_targets()["sku"], part_no)

    def currency(self, code: str) -> Any | None:
        """The currency with this code, or ``None``."""
        return self.get(*named_targets()["currency"], code)

    def clear(self) -> None:
        """Forget every memoised row."""
        self._memo.clear()
