"""The inbox operations of the store contract, as the receiver's writer and the replay
use them: one object per handler, over the handler's store."""

from __future__ import annotations

from collections.abc import Sequence

from ...stores import AsyncStore
from ._inbox import Op, merge_results, split_ops


__all__ = ["AsyncStoreInbox"]


class AsyncStoreInbox:
    """``AsyncStore.inbox_write`` for a group of receiver operations: the dedup check and
    the append of every event, and the dead letters, in one transaction.

    Args:
        store: the handler's store.
        window: seconds a dedup key is remembered (0: no dedup).
    """

    def __init__(self, store: AsyncStore, *, window: float) -> None:
        self.store = store
        self.window = window

    async def write(self, ops: Sequence[Op]) -> list[bool | int]:
        """Apply ``ops`` in one transaction: ``True``/``False`` per append (stored or a
        duplicate), the letter id per dead letter.

        Raises:
            StoreError: the transaction failed; nothing was written.
        """
        entries, letters = split_ops(ops)
        stored, letter_ids = await self.store.inbox_write(
            entries, window=self.window, letters=letters
        )
        return merge_results(ops, stored, letter_ids)
