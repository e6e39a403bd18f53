"""The memo of the lookup helpers (pure: a dict with a time to live and a size cap)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any


MISSING = object()


def wire_of(key_field: Any) -> str:
    """The wire name of a key field given as a name or a query ``Field``."""
    return str(getattr(key_field, "wire", key_field))


class LookupMemo:
    """Key → row (or "known missing") with a time to live and a size cap (oldest entries
    go first); the pure half of the helpers."""

    def __init__(
        self, ttl: float | None, clock: Callable[[], float], max_entries: int = 200_000
    ) -> None:
        self.ttl = ttl
        self.clock = clock
        self.max_entries = max_entries
        self._rows: dict[tuple[Any, str, Hashable], tuple[float, Any]] = {}

    @staticmethod
    def target_key(target: Any) -> Any:
        return target if isinstance(target, tuple) else f"{target.__module__}.{target.__name__}"

    def read(self, target: Any, key_field: Any, key: Hashable) -> Any:
        entry = self._rows.get((self.target_key(target), wire_of(key_field), key))
        if entry is None:
            return MISSING
        stamp, row = entry
        if self.ttl is not None and self.clock() - stamp > self.ttl:
            return MISSING
        return row

    def write(self, target: Any, key_field: Any, key: Hashable, row: Any) -> None:
        rows = self._rows
        entry = (self.target_key(target), wire_of(key_field), key)
        rows.pop(entry, None)  # re-inserted last: insertion order is age order
        rows[entry] = (self.clock(), row)
        while len(rows) > self.max_entries:
            del rows[next(iter(rows))]

    def misses(self, target: Any, key_field: Any, keys: Iterable[Hashable]) -> list[Hashable]:
        seen: set[Hashable] = set()
        out: list[Hashable] = []
        for key in keys:
            if key in seen:
                continue
            seen.add(key)
            if self.read(target, key_field, key) is MISSING:
                out.append(key)
        return out

    def store(
        self, target: Any, key_field: Any, wanted: Sequence[Hashable], found: dict[Any, Any]
    ) -> None:
        for key in wanted:
            # Missing keys are remembered as None: "does this code exist?" is asked often.
            self.write(target, key_field, key, found.get(key))

    def collect(self, target: Any, key_field: Any, keys: Iterable[Hashable]) -> dict[Any, Any]:
        out: dict[Any, Any] = {}
        for key in keys:
            row = self.read(target, key_field, key)
            if row is not MISSING and row is not None:
                out[key] = row
        return out

    def clear(self) -> None:
        self._rows.clear()


def named_targets() -> dict[str, tuple[Any, str]]:
    from ...query import Category, ClientPriceList, Currency, ProductSku  # noqa: PLC0415

    return {
        "category": (Category, "Code"),
        "price_list": (ClientPriceList, "Agreement"),
        "sku": (ProductSku, "PartNo"),
        "currency": (Currency, "Code"),
    }
