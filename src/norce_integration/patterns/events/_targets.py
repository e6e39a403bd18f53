"""What events are delivered to: the target adapter protocols integrators implement, and
the adapters that wrap a function registered with ``on``."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Collection, Sequence
from typing import Any, Protocol, runtime_checkable


__all__ = ["AsyncFunctionTarget", "AsyncTargetAdapter", "FunctionTarget", "TargetAdapter"]


@runtime_checkable
class TargetAdapter(Protocol):
    """Where events go: declare what you need, map an entity, send a batch (blocking).

    Subclass it (the abstract members must then be defined) or write any class with
    these members. Optional attributes, read when present:

    * ``name`` (str): identifies the target in the store; default: the class name. Keep
      it stable — the versions sent are recorded under it.
    * ``lookup`` (bool, default ``True``): ``False`` sends the events themselves, no
      Query lookup.
    * ``version_field`` (str | None, default ``"Updated"``): the entity's modification
      time; ``None`` turns the ordering check off (unchanged entities are still skipped).
    * ``max_batch`` (int | None): the most items per ``send`` call.

    Example:
        >>> class Search(TargetAdapter):
        ...     event_types = ("SkuChangedNotification",)
        ...     select = ("PartNo", "EanCode", "StatusId")
        ...
        ...     def map(self, sku):
        ...         return {"id": sku.part_no, "ean": sku.ean_code}
        ...
        ...     def send(self, batch):
        ...         upserts = [d for d in batch if not isinstance(d, Deletion)]
        ...         deletes = [d.key for d in batch if isinstance(d, Deletion)]
    """

    @property
    @abstractmethod
    def event_types(self) -> Collection[str]:
        """The event types this target takes (any letter case)."""

    @property
    @abstractmethod
    def select(self) -> Sequence[str]:
        """The Query fields (wire names, ``"EanCode"``) it needs; empty: all fields.

        The key and ``Updated`` are added when needed.
        """

    @abstractmethod
    def map(self, entity: Any) -> Any:
        """Turn a looked-up entity (or an event, for events without an entity) into the
        target's shape. An exception fails only this entity's events."""

    @abstractmethod
    def send(self, batch: Sequence[Any]) -> None:
        """Deliver a batch: mapped entities and :class:`Deletion` markers.

        Raise to have every event behind the batch retried later (with backoff).
        """


@runtime_checkable
class AsyncTargetAdapter(Protocol):
    """The async twin of :class:`TargetAdapter`: ``send`` is a coroutine, ``map`` is not."""

    @property
    @abstractmethod
    def event_types(self) -> Collection[str]:
        """The event types this target takes (any letter case)."""

    @property
    @abstractmethod
    def select(self) -> Sequence[str]:
        """The Query fields (wire names) it needs; empty: all fields."""

    @abstractmethod
    def map(self, entity: Any) -> Any:
        """Turn a looked-up entity (or an event) into the target's shape."""

    @abstractmethod
    async def send(self, batch: Sequence[Any]) -> None:
        """Deliver a batch: mapped entities and :class:`Deletion` markers."""


class FunctionTarget:
    """A function registered with ``EventHandler.on``: receives the entities as-is."""

    def __init__(
        self,
        fn: Callable[[Sequence[Any]], Any],
        *,
        event_types: Sequence[str],
        select: Sequence[str],
        name: str,
        lookup: bool,
        version_field: str | None,
        max_batch: int | None,
    ) -> None:
        self.fn = fn
        self.event_types = tuple(event_types)
        self.select = tuple(select)
        self.name = name
        self.lookup = lookup
        self.version_field = version_field
        self.max_batch = max_batch

    def map(self, entity: Any) -> Any:
        return entity

    def send(self, batch: Sequence[Any]) -> None:
        self.fn(batch)


class AsyncFunctionTarget(FunctionTarget):
    """A coroutine function registered with ``AsyncEventHandler.on``."""

    async def send(self, batch: Sequence[Any]) -> None:  # type: ignore[override]
        await self.fn(batch)
