"""Run benchmarks on a base revision and on the work tree, interleaved, in one session.

A refactor must not make anything slower; figures taken on different days on a shared
machine cannot show that. This script exports ``--base`` (any git revision) into a
temporary folder and runs each named benchmark twice per round, once against the base's
``src/`` and benchmark script and once against the work tree's, alternating the order
per round, and prints both outputs one after the other::

    python benchmarks/compare.py --base HEAD~3 bench_job_polling bench_query_cache
    python benchmarks/compare.py --base v0.1.0 bench_events -- --events 5000

Arguments after ``--`` go to every benchmark. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent


def export(revision: str, into: Path) -> Path:
    """Write the tree of ``revision`` into ``into`` (git archive, nothing else touched)."""
    archive = into / "base.tar"
    with archive.open("wb") as out:
        subprocess.run(
            ["git", "archive", "--format=tar", revision],
            cwd=ROOT,
            stdout=out,
            check=True,
        )
    tree = into / "base"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    return tree


def run(tree: Path, name: str, extra: list[str]) -> tuple[float, str]:
    script = tree / "benchmarks" / f"{name}.py"
    if not script.exists():
        return 0.0, f"({script} does not exist at this revision)\n"
    env = dict(os.environ, PYTHONPATH=str(tree / "src"))
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(script), *extra],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    text = proc.stdout + (
        f"[exit {proc.returncode}]\n{proc.stderr[-2000:]}" if proc.returncode else ""
    )
    return elapsed, text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="git revision to compare against")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("benchmarks", nargs="+", help="script names, e.g. bench_events")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:cut])
    extra = argv[cut + 1 :]  # for every benchmark
    with tempfile.TemporaryDirectory() as tmp:
        base = export(args.base, Path(tmp))
        for name in args.benchmarks:
            for round_no in range(args.rounds):
                order = [("base", base), ("work tree", ROOT)]
                if round_no % 2:
                    order.reverse()
                for label, tree in order:
                    elapsed, text = run(tree, name, extra)
                    print(
                        f"===== {name} · {label} ({args.base if label == 'base' else 'HEAD+changes'}) · round {round_no + 1} · {elapsed:.1f} s"
                    )
                    print(text, flush=True)


if __name__ == "__main__":
    main()
