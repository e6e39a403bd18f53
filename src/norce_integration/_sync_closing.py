# GENERATED FILE: do not edit. The blocking twin of
# src/norce_integration/_async_closing.py, made by `python scripts/gen_sync.py`.
# Edit the async source and run that command again.
"""``async with`` for classes that close with ``aclose``, written once; the blocking
``Closing`` (``with`` and ``close``) is generated from it."""

from __future__ import annotations

from types import TracebackType
from typing import Self


__all__ = ["Closing"]


class Closing:
    """Mixin: ``with obj:`` returns ``obj`` and closes it with ``close`` at the end."""

    def close(self) -> None:
        """Release what the object holds (subclasses define it)."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
