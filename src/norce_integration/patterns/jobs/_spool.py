"""A local spool of sent import payloads, so a finished job can be re-run byte for byte.

Payloads are captured while they stream out (the ``tee=`` callback of
``norce.connect.submit``), gzip-compressed into a temporary file in the spool directory,
and moved to ``<job id>.json.gz`` once Norce returned the job id. The index (job id →
path, size, time, header, digest) lives in the :class:`~norce_integration.stores.Store`,
so any process sharing the store can find a payload. Retention is by age and by total
size, oldest first. The files are handled here (local, blocking I/O); the index
operations have one source in :mod:`._async_spool_index` for both store flavours.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import hashlib
import logging
import os
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

from ..._exceptions import ConfigurationError, StoreError
from ...stores import SpoolEntry, Store
from ._sync_spool_index import SpoolIndex


__all__ = ["PayloadSpool", "SpoolWriter"]

log = logging.getLogger("norce_integration.patterns._payload_spool")

_INCOMING = ".incoming-"
_CHUNK = 64 * 1024


class SpoolWriter:
    """A ``tee=`` target: compresses every body chunk into a temporary spool file.

    Use it as a context manager around the submit: on an exception the file is deleted,
    otherwise it is closed and ready for :meth:`PayloadSpool.adopt`.

    Attributes:
        path: the temporary file.
        size: uncompressed bytes written.
    """

    def __init__(self, directory: Path, *, compresslevel: int = 6) -> None:
        fd, name = tempfile.mkstemp(prefix=_INCOMING, suffix=".json.gz", dir=directory)
        self.path = Path(name)
        self.size = 0
        self._hash = hashlib.sha256()
        self._raw: IO[bytes] = os.fdopen(fd, "wb")
        # mtime=0: the same payload compresses to the same bytes.
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=compresslevel, mtime=0)
        self.closed = False

    @property
    def digest(self) -> str:
        """sha256 hex of the uncompressed bytes written so far."""
        return self._hash.hexdigest()

    def __call__(self, chunk: bytes) -> None:
        """Append one body chunk (the ``tee`` signature)."""
        self._gz.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def close(self) -> None:
        """Finish the gzip stream and flush it to disk."""
        if self.closed:
            return
        self.closed = True
        try:
            self._gz.close()
            self._raw.flush()
            os.fsync(self._raw.fileno())
        finally:
            self._raw.close()

    def discard(self) -> None:
        """Close and delete the file (the submit failed)."""
        with contextlib.suppress(OSError):
            self.close()
        with contextlib.suppress(OSError):
            self.path.unlink()

    def __enter__(self) -> SpoolWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.discard()
        else:
            self.close()


class PayloadSpool:
    """Keeps sent payloads (gzip) for re-runs, within an age and a total-size budget.

    Example:
        >>> spool = PayloadSpool("state/payloads", max_age=dt.timedelta(days=3))  # doctest: +SKIP
        >>> tracker = JobTracker(norce, store, spool=spool)  # doctest: +SKIP

    Args:
        directory: where the files live (created if missing).
        max_age: payloads older than this are deleted (seconds or a timedelta).
        max_bytes: the compressed files together stay under this many bytes; the
            oldest go first.
        store: the store holding the index; a tracker attaches its own when ``None``.
        clock: seconds since the epoch (for ages).
        compresslevel: gzip level 1-9 (6 balances speed and size).

    Raises:
        StoreError: the directory cannot be created.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        max_age: float | dt.timedelta = dt.timedelta(days=7),
        max_bytes: int = 1024**3,
        store: Store | None = None,
        clock: Callable[[], float] = time.time,
        compresslevel: int = 6,
    ) -> None:
        self.directory = Path(directory)
        self.max_age = max_age.total_seconds() if isinstance(max_age, dt.timedelta) else max_age
        self.max_bytes = max_bytes
        self.compresslevel = compresslevel
        self._store = store
        self._clock = clock
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the spool directory {self.directory}: {exc}") from exc

    def __repr__(self) -> str:
        return (
            f"PayloadSpool({str(self.directory)!r}, max_age={self.max_age}, "
            f"max_bytes={self.max_bytes})"
        )

    @property
    def store(self) -> Store:
        """The store holding the index.

        Raises:
            ConfigurationError: no store was given or attached.
        """
        if self._store is None:
            msg = "the payload spool has no store; pass store= or give it to a JobTracker"
            raise ConfigurationError(msg, setting="store")
        return self._store

    def attach(self, store: Store) -> None:
        """Use ``store`` for the index unless one was given already."""
        if self._store is None:
            self._store = store

    def writer(self) -> SpoolWriter:
        """A new :class:`SpoolWriter` (pass it as ``tee=``)."""
        return SpoolWriter(self.directory, compresslevel=self.compresslevel)

    def adopt(
        self,
        source: SpoolWriter | str | os.PathLike[str],
        *,
        job_id: int,
        kind: str,
        header: str,
        digest: str = "",
    ) -> SpoolEntry:
        """Move a written payload into place as the payload of ``job_id`` and index it.

        Raises:
            StoreError: the file cannot be moved or the index cannot be written.
        """
        return self._index.adopt(source, job_id=job_id, kind=kind, header=header, digest=digest)

    def get(self, job_id: int) -> SpoolEntry | None:
        """The entry of ``job_id`` if its file still exists (a stale index row is dropped)."""
        return self._index.get(job_id)

    def read(self, job_id: int) -> Iterator[bytes]:
        """Stream the uncompressed payload of ``job_id`` in 64 KiB chunks.

        Raises:
            StoreError: no payload is spooled for the job, or the file is damaged.
        """
        return self._index.read(job_id)

    def digest(self, job_id: int) -> str:
        """sha256 hex of the uncompressed payload, read back from disk (verifies the file).

        Raises:
            StoreError: no payload, or the file is damaged.
        """
        return self._index.digest(job_id)

    def copy(self, from_job: int, to_job: int, *, header: str | None = None) -> SpoolEntry:
        """Index a copy of ``from_job``'s payload as ``to_job``'s (a re-run sends the same bytes).

        Raises:
            StoreError: no payload for ``from_job`` or the copy failed.
        """
        return self._index.copy(from_job, to_job, header=header)

    def delete(self, job_id: int) -> bool:
        """Delete the payload of ``job_id`` and its index entry."""
        return self._index.delete(job_id)

    def total_bytes(self) -> int:
        """Compressed bytes of all indexed payloads."""
        return self._index.total_bytes()

    def prune(self) -> list[int]:
        """Apply retention: drop payloads older than ``max_age``, then the oldest until the
        total fits ``max_bytes``; also remove abandoned temporary files. Returns the job ids
        whose payloads were deleted.
        """
        return self._index.prune()

    @property
    def _index(self) -> SpoolIndex:
        return SpoolIndex(self, self.store)

    # --- the files (no store): what the index operations of both twins build on

    def place(
        self,
        source: SpoolWriter | str | os.PathLike[str],
        *,
        job_id: int,
        kind: str,
        header: str,
        digest: str = "",
    ) -> SpoolEntry:
        """Move a written payload to ``<job id>.json.gz``; the entry to index for it.

        Raises:
            StoreError: the file cannot be moved.
        """
        if isinstance(source, SpoolWriter):
            source.close()
            digest = digest or source.digest
            path = source.path
        else:
            path = Path(source)
        target = self.directory / f"{int(job_id)}.json.gz"
        try:
            os.replace(path, target)
            size = target.stat().st_size
        except OSError as exc:
            raise StoreError(f"cannot spool the payload of job {job_id}: {exc}") from exc
        return SpoolEntry(
            job_id=int(job_id),
            path=str(target),
            size=size,
            created_at=dt.datetime.fromtimestamp(self._clock(), dt.UTC),
            kind=kind,
            header=header,
            digest=digest,
        )

    @staticmethod
    def present(entry: SpoolEntry) -> bool:
        """Whether the file of ``entry`` still exists."""
        return Path(entry.path).is_file()

    @staticmethod
    def open(entry: SpoolEntry) -> Iterator[bytes]:
        """Stream the uncompressed file of ``entry`` in 64 KiB chunks.

        Raises:
            StoreError: the file is damaged (raised while iterating).
        """
        path = Path(entry.path)
        try:
            with gzip.open(path, "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    yield chunk
        except (OSError, EOFError, zlib.error) as exc:
            raise StoreError(f"the spooled payload {path} is unreadable: {exc}") from exc

    @staticmethod
    def digest_of(chunks: Iterator[bytes]) -> str:
        """sha256 hex of a stream of chunks."""
        digest = hashlib.sha256()
        for chunk in chunks:
            digest.update(chunk)
        return digest.hexdigest()

    def duplicate(self, entry: SpoolEntry) -> str:
        """Copy the file of ``entry`` to a new temporary spool file; its path.

        Raises:
            StoreError: the copy failed.
        """
        fd, name = tempfile.mkstemp(prefix=_INCOMING, suffix=".json.gz", dir=self.directory)
        os.close(fd)
        try:
            with open(entry.path, "rb") as src, open(name, "wb") as dst:
                while chunk := src.read(_CHUNK):
                    dst.write(chunk)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(name)
            raise StoreError(f"cannot copy the payload of job {entry.job_id}: {exc}") from exc
        return name

    @staticmethod
    def remove(entry: SpoolEntry) -> None:
        """Delete the file of ``entry`` (gone already is fine)."""
        with contextlib.suppress(FileNotFoundError):
            Path(entry.path).unlink()

    def expired(self, entries: list[SpoolEntry]) -> list[int]:
        """The job ids retention drops from ``entries`` (oldest first): older than
        ``max_age``, then the oldest until the total fits ``max_bytes``."""
        now = self._clock()
        dropped: list[int] = []
        total = sum(e.size for e in entries)
        for entry in entries:  # oldest first
            too_old = now - entry.created_at.timestamp() > self.max_age
            if too_old or total > self.max_bytes:
                total -= entry.size
                dropped.append(entry.job_id)
        return dropped

    def sweep(self) -> None:
        """Remove abandoned temporary files.

        A crash between submit and adopt leaves an .incoming file: it goes after a day
        (or ``max_age`` if shorter), so an in-progress submit is never touched.
        """
        horizon = min(self.max_age, 86_400.0)
        for stray in self.directory.glob(f"{_INCOMING}*"):
            with contextlib.suppress(OSError):
                if time.time() - stray.stat().st_mtime > horizon:
                    stray.unlink()
