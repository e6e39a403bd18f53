"""The root clients: :class:`AsyncNorce` (source, :mod:`._async_client`) and the
generated blocking :class:`Norce` (:mod:`._sync_client`)."""

from __future__ import annotations

from ._async_client import AsyncNorce
from ._sync_client import Norce


__all__ = ["AsyncNorce", "Norce"]
