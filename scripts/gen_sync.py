"""Generate the blocking twin of every async source module.

The asyncio code is the one people edit. Every module named ``_async_<name>.py`` under
``src/`` has a generated sibling ``_sync_<name>.py``, made by the `unasync` package's
token rewriting plus this project's name table, then import-sorted and formatted by ruff
so the generated file reads like the rest of the code::

    python scripts/gen_sync.py           # regenerate every twin
    python scripts/gen_sync.py --check   # exit 1 if any twin is stale (run by scripts/test)

Rewriting rules, in order:

* ``async``/``await`` disappear, ``async with``/``async for`` become their plain forms
  and ``__aenter__``/``AsyncIterator``/... become their sync names (unasync's defaults);
* every name in :data:`REPLACEMENTS` is swapped (``aclose`` -> ``close``, ...);
* a name ``AsyncXyz`` becomes ``Xyz`` (``AsyncJobTracker`` -> ``JobTracker``,
  ``httpx.AsyncClient`` -> ``httpx.Client``), a module name ``_async_xyz`` becomes
  ``_sync_xyz``;
* a block between ``# unasync: async-only`` and ``# unasync: end`` is dropped, and
  a block between ``# unasync: sync-only`` and ``# unasync: end`` whose lines are
  commented out with ``# `` is uncommented (code only one flavour needs).
"""

from __future__ import annotations

import argparse
import difflib
import io
import re
import shutil
import subprocess
import sys
import tempfile
import tokenize
from pathlib import Path

import unasync


ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
SOURCE_GLOB = "_async_*.py"

# Names whose blocking form is not simply the name without its ``Async`` prefix.
REPLACEMENTS: dict[str, str] = {
    "aclose": "close",
    "aenter": "enter",
    "aexit": "exit",
    "aiter": "iter",
    "anext": "next",
    "async_sleep": "sleep",
    "AsyncExitStack": "ExitStack",
    "asynccontextmanager": "contextmanager",
    "AsyncByteStream": "SyncByteStream",
    "AsyncBaseTransport": "BaseTransport",
    "AsyncHTTPTransport": "HTTPTransport",
    "AsyncMockTransport": "MockTransport",
    "aread": "read",
    "aiter_bytes": "iter_bytes",
    "aiter_raw": "iter_raw",
    "aiter_lines": "iter_lines",
    "aload_many": "load_many",
    "async_wait_event": "wait_event",
    "make_async_writer": "make_writer",
}

_ASYNC_CLASS = re.compile(r"^Async([A-Z]\w*)$")
_ASYNC_MODULE = re.compile(r"^_async_(\w+)$")
_HEADER = (
    "# GENERATED FILE: do not edit. The blocking twin of\n"
    "# {source}, made by `python scripts/gen_sync.py`.\n"
    "# Edit the async source and run that command again.\n"
)
_ASYNC_ONLY = "# unasync: async-only"
_SYNC_ONLY = "# unasync: sync-only"
_END = "# unasync: end"


def _names(text: str) -> set[str]:
    names: set[str] = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.NAME:
            names.add(token.string)
        elif token.type == tokenize.STRING and token.string[:1] in "\"'":
            inner = token.string.strip("\"'")
            if inner.isidentifier():
                names.add(inner)
            else:  # a docstring: the names it mentions (see _docstrings)
                names.update(re.findall(r"\bAsync[A-Z]\w*|\b_async_\w+", inner))
    return names


def replacements_for(text: str) -> dict[str, str]:
    """The name table for one source: the fixed table plus its ``Async*`` names."""
    table = dict(REPLACEMENTS)
    for name in _names(text):
        if name in table:
            continue
        if match := _ASYNC_CLASS.match(name):
            table[name] = match.group(1)
        elif match := _ASYNC_MODULE.match(name):
            table[name] = f"_sync_{match.group(1)}"
    return table


def _blocks(text: str) -> str:
    """Apply the ``# unasync:`` block markers (before rewriting)."""
    out: list[str] = []
    mode: str | None = None
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        marker = line.strip()
        if marker in (_ASYNC_ONLY, _SYNC_ONLY):
            if mode is not None:
                raise SystemExit(f"line {number}: nested unasync block")
            mode = marker
            continue
        if marker == _END:
            if mode is None:
                raise SystemExit(f"line {number}: unasync end without a start")
            mode = None
            continue
        if mode == _ASYNC_ONLY:
            continue
        if mode == _SYNC_ONLY:
            indent = line[: len(line) - len(line.lstrip())]
            body = line.lstrip()
            if body.startswith("# "):
                body = body[2:]
            elif body.rstrip("\n") == "#":
                body = body[1:]
            out.append(indent + body)
            continue
        out.append(line)
    if mode is not None:
        raise SystemExit("unterminated unasync block")
    return "".join(out)


_DOC_KEYWORDS = re.compile(r"\bawait (?=\S)|\basync (?=with\b|for\b|def\b)")


def _docstrings(text: str, table: dict[str, str]) -> str:
    """Rewrite the names (and ``await``/``async with``) in docstrings too: unasync leaves
    string tokens alone, and an ``AsyncStore`` in ``Store``'s documentation misleads.
    Write a docstring that names both twins so that it reads right either way."""
    names = "|".join(map(re.escape, sorted(table, key=len, reverse=True)))
    words = re.compile(r"\b(" + names + r")\b")
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    spans = []
    first = True
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.ENCODING}
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type in skip:
            continue
        # The module docstring is kept as written: it tells how the two files relate.
        is_module_doc, first = first and token.type == tokenize.STRING, False
        if is_module_doc:
            continue
        if token.type == tokenize.STRING and token.string.lstrip("rRuU")[:3] in ('"""', "'''"):
            begin = starts[token.start[0] - 1] + token.start[1]
            end = starts[token.end[0] - 1] + token.end[1]
            spans.append((begin, end))
    out, last = [], 0
    for begin, end in spans:
        doc = words.sub(lambda m: table[m.group(1)], text[begin:end])
        out += [text[last:begin], _DOC_KEYWORDS.sub("", doc)]
        last = end
    out.append(text[last:])
    return "".join(out)


def _ruff(args: list[str], text: str, filename: Path) -> str:
    ruff = shutil.which("ruff") or "ruff"
    proc = subprocess.run(  # noqa: S603 - fixed arguments, our own ruff
        [ruff, *args, "--stdin-filename", str(filename), "-"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if proc.returncode not in (0, 1) or not proc.stdout:
        raise SystemExit(f"ruff {' '.join(args)} failed on {filename}:\n{proc.stderr}")
    return proc.stdout


def target_of(source: Path) -> Path:
    return source.with_name("_sync_" + source.name.removeprefix("_async_"))


def generate(source: Path) -> str:
    """The text of the blocking twin of ``source``."""
    text = source.read_text(encoding="utf-8")
    rule_text = _blocks(text)
    with tempfile.TemporaryDirectory() as tmp:
        src_dir = Path(tmp) / "_async"
        src_dir.mkdir()
        path = src_dir / source.name
        path.write_text(rule_text, encoding="utf-8")
        table = replacements_for(text)
        rule = unasync.Rule("/_async/", "/_sync/", additional_replacements=table)
        unasync.unasync_files([str(path)], rules=[rule])
        out = (Path(tmp) / "_sync" / source.name).read_text(encoding="utf-8")
    out = _docstrings(out, table)
    relative = source.relative_to(ROOT).as_posix()
    out = _HEADER.format(source=relative) + out
    target = target_of(source)
    # C416: ``[x async for x in it]`` becomes ``[x for x in it]``, which ruff writes as
    # ``list(it)`` (its fix is marked unsafe in general, and exact for these lines).
    fixes = ["--select", "I,F401,C416", "--unsafe-fixes"]
    out = _ruff(["check", "--fix", *fixes, "--exit-zero", "--quiet"], out, target)
    return _ruff(["format", "--quiet"], out, target)


def sources() -> list[Path]:
    return sorted(SRC.rglob(SOURCE_GLOB))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a twin is stale")
    args = parser.parse_args(argv)
    stale: list[str] = []
    for source in sources():
        target = target_of(source)
        wanted = generate(source)
        current = target.read_text(encoding="utf-8") if target.exists() else ""
        if wanted == current:
            continue
        name = target.relative_to(ROOT).as_posix()
        if args.check:
            stale.append(name)
            diff = difflib.unified_diff(
                current.splitlines(keepends=True),
                wanted.splitlines(keepends=True),
                fromfile=f"{name} (committed)",
                tofile=f"{name} (generated)",
                n=1,
            )
            sys.stderr.writelines(list(diff)[:40])
        else:
            target.write_text(wanted, encoding="utf-8")
            print(f"wrote {name}")
    orphans = [
        p.relative_to(ROOT).as_posix()
        for p in sorted(SRC.rglob("_sync_*.py"))
        if not p.with_name("_async_" + p.name.removeprefix("_sync_")).exists()
    ]
    if orphans:
        print(f"generated files without an async source: {', '.join(orphans)}", file=sys.stderr)
        return 1
    if stale:
        print(
            f"stale generated files: {', '.join(stale)}; run `python scripts/gen_sync.py`",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
