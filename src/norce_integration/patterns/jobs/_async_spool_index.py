"""The payload spool's index in a store: one source for the async and blocking twins.

:class:`~norce_integration.patterns.PayloadSpool` owns the files; this class keeps the
store's index (job id → path, size, time, header, digest) in step with them, awaiting an
:class:`~norce_integration.stores.AsyncStore` (the generated twin calls a ``Store``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..._exceptions import StoreError
from ...stores import AsyncStore, SpoolEntry


if TYPE_CHECKING:
    from ._spool import PayloadSpool, SpoolWriter

__all__ = ["AsyncSpoolIndex"]

log = logging.getLogger("norce_integration.patterns._payload_spool")


class AsyncSpoolIndex:
    """A :class:`PayloadSpool` and the store holding its index.

    Args:
        spool: the files.
        store: the index.
    """

    def __init__(self, spool: PayloadSpool, store: AsyncStore) -> None:
        self.spool = spool
        self.store = store

    async def adopt(
        self,
        source: SpoolWriter | str | os.PathLike[str],
        *,
        job_id: int,
        kind: str,
        header: str,
        digest: str = "",
    ) -> SpoolEntry:
        """See :meth:`PayloadSpool.adopt`.

        Raises:
            StoreError: the file cannot be moved or the index cannot be written.
        """
        entry = self.spool.place(source, job_id=job_id, kind=kind, header=header, digest=digest)
        await self.store.put_spool_entry(entry)
        await self.prune()
        return entry

    async def get(self, job_id: int) -> SpoolEntry | None:
        """See :meth:`PayloadSpool.get`."""
        entry = await self.store.get_spool_entry(job_id)
        if entry is None:
            return None
        if not self.spool.present(entry):
            await self.store.delete_spool_entry(job_id)
            return None
        return entry

    async def read(self, job_id: int) -> Iterator[bytes]:
        """See :meth:`PayloadSpool.read`.

        Raises:
            StoreError: no payload is spooled for the job, or the file is damaged.
        """
        entry = await self.get(job_id)
        if entry is None:
            msg = f"no spooled payload for job {job_id}"
            raise StoreError(msg)
        return self.spool.open(entry)

    async def digest(self, job_id: int) -> str:
        """See :meth:`PayloadSpool.digest`.

        Raises:
            StoreError: no payload, or the file is damaged.
        """
        return self.spool.digest_of(await self.read(job_id))

    async def copy(self, from_job: int, to_job: int, *, header: str | None = None) -> SpoolEntry:
        """See :meth:`PayloadSpool.copy`.

        Raises:
            StoreError: no payload for ``from_job`` or the copy failed.
        """
        entry = await self.get(from_job)
        if entry is None:
            msg = f"no spooled payload for job {from_job}"
            raise StoreError(msg)
        return await self.adopt(
            self.spool.duplicate(entry),
            job_id=to_job,
            kind=entry.kind,
            header=entry.header if header is None else header,
            digest=entry.digest,
        )

    async def delete(self, job_id: int) -> bool:
        """See :meth:`PayloadSpool.delete`."""
        entry = await self.store.get_spool_entry(job_id)
        if entry is None:
            return False
        self.spool.remove(entry)
        return await self.store.delete_spool_entry(job_id)

    async def total_bytes(self) -> int:
        """See :meth:`PayloadSpool.total_bytes`."""
        return sum(e.size for e in await self.store.list_spool_entries())

    async def prune(self) -> list[int]:
        """See :meth:`PayloadSpool.prune`."""
        dropped = self.spool.expired(await self.store.list_spool_entries())
        for job_id in dropped:
            await self.delete(job_id)
        self.spool.sweep()
        if dropped:
            log.info("payload spool: removed %d payload(s): %s", len(dropped), dropped)
        return dropped
