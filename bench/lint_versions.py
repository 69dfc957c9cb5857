"""Two versions of the linter, timed side by side on the same trees: is a refactor slower?

Each round lints every tree once with version A and once with version B (the order alternates
from round to round, so drift on a shared machine falls on both), as a user runs it: a fresh
``python -m gradcheck_kit lint`` process, interpreter start-up included.

* ``cold``: ``--no-cache`` - everything parsed and interpreted.
* ``warm``: a cache directory filled by a first run - every file a cache hit.

Prints the median seconds of each and the ratio B/A (above 1.00: B is slower). Usage::

    python bench/lint_versions.py A_DIR B_DIR TREE [TREE ...] [--rounds 7] [--jobs 1]

where A_DIR and B_DIR are checkouts (``git worktree add``) put first on ``PYTHONPATH``. Both
are byte-compiled first and run with bytecode on, as an installed package is
(``PYTHONDONTWRITEBYTECODE`` would make every run compile every module: a benchmark of the
compiler, which grows with the number of files, not of the linter).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def lint_once(version: Path, tree: Path, extra: list[str], jobs: int) -> float:
    env = dict(os.environ, PYTHONPATH=str(version))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    command = [sys.executable, "-m", "gradcheck_kit", "lint", "--format", "json", "--exit-zero"]
    command += ["--jobs", str(jobs), *extra, "."]
    start = time.perf_counter()
    subprocess.run(command, cwd=tree, env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("trees", type=Path, nargs="+")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args(argv)
    versions = {"A": args.a.resolve(), "B": args.b.resolve()}
    for version in versions.values():
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(version / "gradcheck_kit")], check=True
        )
    with tempfile.TemporaryDirectory() as scratch:
        caches = {
            (name, tree): ["--cache-dir", str(Path(scratch) / f"{name}{i}")]
            for name in versions
            for i, tree in enumerate(args.trees)
        }
        for (name, tree), extra in caches.items():  # fill the caches for the warm runs
            lint_once(versions[name], tree.resolve(), extra, args.jobs)
        times: dict[tuple[str, str, Path], list[float]] = {}
        for round_ in range(args.rounds):
            order = list(versions) if round_ % 2 == 0 else list(reversed(versions))
            for tree in args.trees:
                for mode in ("cold", "warm"):
                    for name in order:
                        extra = ["--no-cache"] if mode == "cold" else caches[name, tree]
                        seconds = lint_once(versions[name], tree.resolve(), extra, args.jobs)
                        times.setdefault((name, mode, tree), []).append(seconds)
    print(f"A = {versions['A']}\nB = {versions['B']}\n{args.rounds} rounds, --jobs {args.jobs}")
    print(f"{'tree':<28} {'mode':<5} {'A median s':>10} {'B median s':>10} {'B/A':>6}")
    for tree in args.trees:
        for mode in ("cold", "warm"):
            a = statistics.median(times["A", mode, tree])
            b = statistics.median(times["B", mode, tree])
            print(f"{tree.name:<28} {mode:<5} {a:>10.3f} {b:>10.3f} {b / a:>6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
