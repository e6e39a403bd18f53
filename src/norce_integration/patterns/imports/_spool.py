"""Local spool files of the import patterns (plain blocking helpers: local disk only).

Extracted items go to disk as JSON lines, never to memory, so a full import is complete
and checked before its POST starts, and a delta's candidates survive until its job
succeeds. A line is ``<meta JSON>\t<item JSON>``; ``meta`` is ``[key, version,
fingerprint, scope]``.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import socket
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, Final

import orjson

from ._adapters import SourceSpec
from ._core import Encoded, owner_process


OPEN_FILES: Final = 128
"""Job files written at once when a spool is split by scope."""


SPOOL_PREFIX: Final = "norce-import-"


def spool_prefix(spec: SourceSpec) -> str:
    """File-name prefix of this source's spool files (orphans are found by it)."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in spec.name)
    return f"{SPOOL_PREFIX}{spec.kind.value}-{spec.account_id}-{safe}-"


class ItemSpool:
    """Items of one run on local disk: ``<meta JSON>\\t<item JSON>\\n`` per line.

    ``meta`` is ``[key, version, fingerprint, scope]``. orjson escapes control
    characters inside strings, so neither part holds a raw tab or newline.

    Args:
        directory: where the file goes.
        prefix: file-name prefix.
        compress: gzip (level 1) instead of plain lines: about 4x less disk, more CPU.
    """

    def __init__(self, directory: Path, prefix: str, *, compress: bool = False) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        suffix = ".jsonl.gz" if compress else ".jsonl"
        fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
        self.path = Path(name)
        self.compress = compress
        raw: IO[bytes] = os.fdopen(fd, "wb", buffering=1 << 20)
        self._file: IO[bytes] | gzip.GzipFile = (
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1, mtime=0) if compress else raw
        )
        self._raw = raw
        self._pending: list[bytes] = []
        self.count = 0
        self.closed = False

    def add(self, item: Encoded) -> int:
        """Append one item; returns its line number."""
        self._pending.append(
            orjson.dumps([item.key, item.version, item.fingerprint, item.scope])
            + b"\t"
            + item.data
            + b"\n"
        )
        if len(self._pending) >= 512:
            self._file.write(b"".join(self._pending))
            self._pending.clear()
        line = self.count
        self.count += 1
        return line

    def close(self) -> None:
        """Flush and close (the file stays for reading)."""
        if self.closed:
            return
        self.closed = True
        try:
            if self._pending:
                self._file.write(b"".join(self._pending))
                self._pending.clear()
            self._file.close()
        finally:
            self._raw.close()

    def delete(self) -> None:
        """Close and remove the file."""
        with contextlib.suppress(OSError):
            self.close()
        remove_file(self.path)


def file_exists(path: str | Path) -> bool:
    """Whether a local file exists."""
    return Path(path).exists()


def remove_file(path: str | Path | None) -> None:
    """Delete a file if it exists."""
    if path:
        with contextlib.suppress(OSError):
            Path(path).unlink()


def read_lines(path: str | Path) -> Iterator[bytes]:
    """Lines of a spool file (plain or gzip), without the newline."""
    p = Path(path)
    opener: Callable[[], IO[bytes] | gzip.GzipFile]
    if p.suffix == ".gz":
        opener = lambda: gzip.open(p, "rb")  # noqa: E731, SIM115
    else:
        opener = lambda: open(p, "rb", buffering=1 << 20)  # noqa: E731, SIM115
    with opener() as f:
        for line in f:
            yield line.rstrip(b"\n")


def split_line(line: bytes) -> tuple[bytes, bytes]:
    """``(meta, item)`` of a spool line (``item`` is empty for meta-only lines)."""
    meta, _, item = line.partition(b"\t")
    return meta, item


def cleanup_orphans(directory: Path, prefix: str, keep: Iterable[str | None]) -> int:
    """Delete this source's spool files not referenced by ``keep`` (after a crash).

    Only called while holding the source's in-flight lock, so no live run owns them.
    """
    keep_set = {str(Path(k)) for k in keep if k}
    removed = 0
    with contextlib.suppress(OSError):
        for path in directory.glob(prefix + "*"):
            if str(path) not in keep_set:
                remove_file(path)
                removed += 1
    return removed


def meta_entries(path: str | Path) -> Iterator[tuple[str, str | None, str]]:
    """``(key, version, fingerprint)`` of every line of a spool or sent file."""
    for line in read_lines(path):
        meta, _ = split_line(line)
        key, version, fingerprint, _scope = orjson.loads(meta)
        yield key, version, fingerprint


def new_spool(work_dir: Path, spec: SourceSpec, run_id: str, *, compress: bool) -> ItemSpool:
    """A new spool file of one run of this source."""
    return ItemSpool(work_dir, spool_prefix(spec) + run_id + "-", compress=compress)


def item_lines(path: str | Path) -> Iterator[bytes]:
    """The item JSON of every line of a spool file."""
    for line in read_lines(path):
        yield split_line(line)[1]


def group_items(path: str | Path) -> Callable[[], Iterable[bytes]]:
    """A factory of the item JSON of every line of a spool file."""
    return lambda: item_lines(path)


def sample_items(
    path: str | Path, count: int, lines: set[int] | None = None
) -> list[dict[str, Any]]:
    """The first ``count`` items (of ``lines``, if given) of a spool, as wire dicts."""
    items: list[dict[str, Any]] = []
    if count <= 0:
        return items
    for number, line in enumerate(read_lines(path)):
        if lines is None or number in lines:
            items.append(orjson.loads(split_line(line)[1]))
            if len(items) >= count:
                break
    return items


def split_by_scope(
    spool: ItemSpool, packed: Sequence[Sequence[str]], work_dir: Path, prefix: str
) -> list[Path]:
    """Write one file per packed job of scopes; returns their paths in job order."""
    job_of: Mapping[str, int] = {scope: n for n, scopes in enumerate(packed) for scope in scopes}
    paths = [work_dir / f"{prefix}job{n:05d}.jsonl" for n in range(len(packed))]
    # One pass per batch of open files: few scopes (price lists, warehouses) → one pass.
    for first in range(0, len(paths), OPEN_FILES):
        batch = range(first, min(first + OPEN_FILES, len(paths)))
        with contextlib.ExitStack() as stack:
            files: dict[int, IO[bytes]] = {
                n: stack.enter_context(open(paths[n], "wb", buffering=1 << 20)) for n in batch
            }
            for line in read_lines(spool.path):
                meta, _ = split_line(line)
                target = files.get(job_of[orjson.loads(meta)[3]])
                if target is not None:
                    target.write(line + b"\n")
    return paths


def select_lines(source: Path, lines: set[int], target: Path) -> Path:
    """Copy the lines numbered ``lines`` of ``source`` to ``target``."""
    with open(target, "wb", buffering=1 << 20) as out:
        for number, line in enumerate(read_lines(source)):
            if number in lines:
                out.write(line + b"\n")
    return target


# ---------------------------------------------------------------------------- this host


def lock_owner(run_id: str) -> str:
    """``host:pid:run`` (lets a later run on the same host see a dead holder)."""
    return f"{socket.gethostname()}:{os.getpid()}:{run_id}"


def holder_is_dead(owner: str) -> bool:
    """True when ``owner`` names a process on this host that no longer exists."""
    pid = owner_process(owner, socket.gethostname(), os.getpid())
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def work_dir_of(work_dir: str | os.PathLike[str] | None) -> Path:
    """The spool directory (default: ``<temp>/norce-integration``)."""
    if work_dir is None:
        return Path(tempfile.gettempdir()) / "norce-integration"
    return Path(work_dir)
