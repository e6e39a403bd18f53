"""In-memory tables shared by the emulator core (writes) and its Query service (reads).

A :class:`Table` is one OData entity set (``Products/ProductSkus``) or, when it is not
added to :class:`Tables`, the entity type behind a navigation property that has no set
of its own (order items). Rows are plain dicts with PascalCase properties, keyed by the
tuple of their key properties.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs


__all__ = [
    "Navigation",
    "Row",
    "Table",
    "Tables",
]

Row = dict[str, Any]
"""One entity: PascalCase property -> JSON-ready value (``datetime`` and ``Decimal`` allowed)."""

Navigation = Callable[[Row], list[Row] | Row | None]
"""Resolves a navigation property of a row: a list (collection), a row (single) or None."""


@attrs.define(eq=False)
class Table:
    """One entity set and its rows.

    Attributes:
        namespace: Query namespace, e.g. ``"Products"``.
        name: Entity set name, e.g. ``"ProductSkus"``.
        key: Key property names, e.g. ``("PartNo",)``.
        rows: Key tuple -> row. Rows are stored as given (not copied).
        navigations: Navigation property -> resolver (collection or single).
        properties: Optional declared properties, name -> Edm type (``"Edm.String"``) or
            ``""`` to infer it from the data. Declare them when rows may omit null
            properties, so filters on those names are not rejected as unknown.
        nav_tables: Optional navigation property -> table describing its target entity
            type; enables nested ``$select``/``$filter``/``$expand`` validation and
            two-level expands. Without it, nested options are accepted unchecked and
            cannot expand further.
        entity_type: CSDL entity type name; derived from ``name`` when empty.
    """

    namespace: str
    name: str
    key: tuple[str, ...]
    rows: dict[tuple[Any, ...], Row] = attrs.field(factory=dict)
    navigations: dict[str, Navigation] = attrs.field(factory=dict)
    properties: dict[str, str] = attrs.field(factory=dict)
    nav_tables: dict[str, Table] = attrs.field(factory=dict)
    entity_type: str = ""

    def key_of(self, row: Row) -> tuple[Any, ...]:
        """Return the key tuple of ``row``.

        Raises:
            ValueError: A key property is missing or null.
        """
        try:
            key = tuple(row[k] for k in self.key)
        except KeyError as exc:
            raise ValueError(f"{self.name} row lacks key property {exc.args[0]!r}") from None
        if any(v is None for v in key):
            raise ValueError(f"{self.name} row has a null key: {key!r}")
        return key

    def upsert(self, row: Row) -> None:
        """Insert ``row`` or replace the stored row with the same key (callers merge).

        Raises:
            ValueError: A key property is missing or null.
        """
        self.rows[self.key_of(row)] = row

    def get(self, key: tuple[Any, ...] | Any) -> Row | None:
        """Return the row with ``key`` (a tuple, or a bare value for one-property keys)."""
        return self.rows.get(key if isinstance(key, tuple) else (key,))

    def delete(self, key: tuple[Any, ...] | Any) -> None:
        """Remove the row with ``key`` if present."""
        self.rows.pop(key if isinstance(key, tuple) else (key,), None)

    def type_name(self) -> str:
        """Return the CSDL entity type name (``ProductSkus`` -> ``ProductSku``)."""
        if self.entity_type:
            return self.entity_type
        name = self.name
        if name.endswith("ies"):
            return name[:-3] + "y"
        if name.endswith("s") and not name.endswith("ss"):
            return name[:-1]
        return name


@attrs.define
class Tables:
    """Registry of entity sets, looked up case-insensitively like Norce's URLs."""

    _by_name: dict[tuple[str, str], Table] = attrs.field(factory=dict, init=False)

    def add(self, table: Table) -> Table:
        """Register ``table`` and return it.

        Raises:
            ValueError: Another table is already registered under the same name.
        """
        ident = (table.namespace.lower(), table.name.lower())
        existing = self._by_name.get(ident)
        if existing is not None and existing is not table:
            raise ValueError(f"table {table.namespace}/{table.name} is already registered")
        self._by_name[ident] = table
        return table

    def get(self, namespace: str, name: str) -> Table | None:
        """Return the table ``namespace/name`` (case-insensitive) or None."""
        return self._by_name.get((namespace.lower(), name.lower()))

    def namespaces(self) -> list[str]:
        """Return the namespaces that hold tables, as first registered."""
        return list(dict.fromkeys(t.namespace for t in self._by_name.values()))

    def in_namespace(self, ns: str) -> list[Table]:
        """Return the tables of namespace ``ns`` (case-insensitive)."""
        low = ns.lower()
        return [t for t in self._by_name.values() if t.namespace.lower() == low]

    def __iter__(self) -> Iterator[Table]:
        return iter(list(self._by_name.values()))
