# GENERATED FILE: do not edit. The blocking twin of
# src/norce_integration/patterns/jobs/_async_spool_index.py, made by `python scripts/gen_sync.py`.
# Edit the async source and run that command again.
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
from ...stores import SpoolEntry, Store


if TYPE_CHECKING:
    from ._spool import PayloadSpool, SpoolWriter

__all__ = ["SpoolIndex"]

log = logging.getLogger("norce_integration.patterns._payload_spool")


class SpoolIndex:
    """A :class:`PayloadSpool` and the store holding its index.

    Args:
        spool: the files.
        store: the index.
    """

    def __init__(self, spool: PayloadSpool, store: Store) -> None:
        self.spool = spool
        self.store = store

    def adopt(
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
        self.store.put_spool_entry(entry)
        self.prune()
        return entry

    def get(self, job_id: int) -> SpoolEntry | None:
        """See :meth:`PayloadSpool.get`."""
        entry = self.store.get_spool_entry(job_id)
        if entry is None:
            return None
        if not self.spool.present(entry):
            self.store.delete_spool_entry(job_id)
            return None
        return entry

    def read(self, job_id: int) -> Iterator[bytes]:
        """See :meth:`PayloadSpool.read`.

        Raises:
            StoreError: no payload is spooled for the job, or the file is damaged.
        """
        entry = self.get(job_id)
        if entry is None:
            msg = f"no spooled payload for job {job_id}"
            raise StoreError(msg)
        return self.spool.open(entry)

    def digest(self, job_id: int) -> str:
        """See :meth:`PayloadSpool.digest`.

        Raises:
            StoreError: no payload, or the file is damaged.
        """
        return self.spool.digest_of(self.read(job_id))

    def copy(self, from_job: int, to_job: int, *, header: str | None = None) -> SpoolEntry:
        """See :meth:`PayloadSpool.copy`.

        Raises:
            StoreError: no payload for ``from_job`` or the copy failed.
        """
        entry = self.get(from_job)
        if entry is None:
            msg = f"no spooled payload for job {from_job}"
            raise StoreError(msg)
        return self.adopt(
            self.spool.duplicate(entry),
            job_id=to_job,
            kind=entry.kind,
            header=entry.header if header is None else header,
            digest=entry.digest,
        )

    def delete(self, job_id: int) -> bool:
        """See :meth:`PayloadSpool.delete`."""
        entry = self.store.get_spool_entry(job_id)
        if entry is None:
            return False
        self.spool.remove(entry)
        return self.store.delete_spool_entry(job_id)

    def total_bytes(self) -> int:
        """See :meth:`PayloadSpool.total_bytes`."""
        return sum(e.size for e in self.store.list_spool_entries())

    def prune(self) -> list[int]:
        """See :meth:`PayloadSpool.prune`."""
        dropped = self.spool.expired(self.store.list_spool_entries())
        for job_id in dropped:
            self.delete(job_id)
        self.spool.sweep()
        if dropped:
            log.info("payload spool: removed %d payload(s): %s", len(dropped), dropped)
        return dropped
