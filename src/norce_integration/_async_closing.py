"""``async with`` for classes that close with ``aclose``, written once; the blocking
``Closing`` (``with`` and ``close``) is generated from it."""

from __future__ import annotations

from types import TracebackType
from typing import Self


__all__ = ["AsyncClosing"]


class AsyncClosing:
    """Mixin: ``async with obj:`` returns ``obj`` and closes it with ``aclose`` at the end."""

    async def aclose(self) -> None:
        """Release what the object holds (subclasses define it)."""
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
