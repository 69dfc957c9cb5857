"""The call-site index (``lint/callindex.py``) and what a pre-commit run pays for it.

Three measurements, medians of ``--rounds``, side by side in one process:

1. ``index``: building the index of TREE in this process - cold (no saved index: every file
   read and regexed), warm (the saved index: a ``stat`` per file and loading it) and warm with
   one file changed.
2. ``pre-commit``: ``python -m gradcheck_kit lint FILE`` (a fresh process, as pre-commit runs
   it) on one model file of a copy of TREE whose text changed since the last run (so the file
   is linted; its class looks up call sites), with a warm cache directory, by version A and
   version B (checkouts put first on ``PYTHONPATH``; B/A above 1.00: B is slower).
3. ``scaling``: a generated project of 1x, 4x and 16x ``--copies`` packages (each: a model
   file whose depth is a parameter, a ``train.py`` that builds it, two helpers), linted cold
   (``--no-cache``, every file) and one model file alone (warm cache, the file changed), by
   version B: seconds per file should stay flat.

Usage::

    python bench/callsite_index.py A_DIR B_DIR [--tree /tmp/corpus/transformers]
        [--file transformers/models/bert/modeling_bert.py] [--rounds 5] [--copies 25]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODEL = """import torch.nn as nn

from .helpers import make_layer


class SigmoidNet{i}(nn.Module):
    def __init__(self, width, depth):
        super().__init__()
        layers = []
        for _ in range(depth):
            layers += [make_layer(width), nn.Sigmoid()]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)
"""
HELPERS = """import torch.nn as nn


def make_layer(width):
    return nn.Linear(width, width)
"""
TRAIN = """import argparse

from pkg{i}.model import SigmoidNet{i}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=1e-3)
    args = parser.parse_args()
    return SigmoidNet{i}(64, depth=3 + {i} % 6), args.lr
"""


def _run(version: Path, cwd: Path, args: list[str]) -> float:
    env = dict(os.environ, PYTHONPATH=str(version))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    command = [sys.executable, "-m", "gradcheck_kit", "lint", "--format", "json", "--exit-zero"]
    start = time.perf_counter()
    subprocess.run([*command, *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def _change(path: Path, round_: int) -> None:
    """New text (a trailing comment) and a new modification time: a cache miss."""
    text = path.read_text(encoding="utf-8").split("\n# bench round")[0]
    path.write_text(f"{text}\n# bench round {round_}\n", encoding="utf-8")


_MAIN_INDEX = """
import sys, time
from gradcheck_kit.lint import callsites
start = time.perf_counter()
callsites._index(sys.argv[1])
print(time.perf_counter() - start)
"""


def bench_index(versions: dict[str, Path], tree: Path, rounds: int) -> None:
    """B's index cold, warm and warm with one file changed; A's (main's ``callsites._index``,
    rebuilt in memory on every run) in a subprocess, alternating with B's rounds."""
    sys.path.insert(0, str(versions["B"]))
    from gradcheck_kit.lint import callindex

    root = str(tree.resolve())
    times: dict[str, list[float]] = {
        "A (every run)": [],
        "B cold": [],
        "B warm": [],
        "B warm, 1 file changed": [],
    }
    env = dict(os.environ, PYTHONPATH=str(versions["A"]))
    for _ in range(rounds):
        out = subprocess.run(
            [sys.executable, "-c", _MAIN_INDEX, root], env=env, capture_output=True, check=True
        )
        times["A (every run)"].append(float(out.stdout))
        with tempfile.TemporaryDirectory() as scratch:
            callindex.use_directory(scratch)
            for mode in list(times)[1:]:
                if mode == "B warm, 1 file changed":  # a saved entry with another stamp
                    saved = next(Path(scratch).glob("callindex-*.json"))
                    data = json.loads(saved.read_text())
                    next(iter(data["files"].values()))[1] -= 1
                    saved.write_text(json.dumps(data))
                callindex.forget()
                start = time.perf_counter()
                found = callindex.index(root)
                found.files_naming("Module")
                times[mode].append(time.perf_counter() - start)
    print(f"\n## index of {tree} ({len(found.entries)} files), {rounds} rounds")
    cold = statistics.median(times["B cold"])
    for mode, values in times.items():
        median = statistics.median(values)
        print(f"{mode:<24} {median:8.3f} s  {median / cold:6.3f}x B cold")


def bench_precommit(versions: dict[str, Path], tree: Path, file: str, rounds: int) -> None:
    """A and B on the file in a copy of the tree; "alone": B on a copy of the file outside any
    project (no imports resolved, no call sites: what the file itself costs)."""
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / tree.name
        shutil.copytree(tree, copy, symlinks=True)
        alone = Path(scratch) / "alone" / Path(file).name
        alone.parent.mkdir()
        shutil.copy(copy / file, alone)
        runs = {
            "A": (versions["A"], copy, copy / file),
            "B": (versions["B"], copy, copy / file),
            "B, the file alone": (versions["B"], alone.parent, alone),
        }
        caches = {name: Path(scratch) / f"cache-{i}" for i, name in enumerate(runs)}
        times: dict[str, list[float]] = {name: [] for name in runs}
        for name, (version, cwd, target) in runs.items():  # fill each cache and saved index
            _run(version, cwd, ["--cache-dir", str(caches[name]), str(target)])
        for round_ in range(rounds):
            order = list(runs) if round_ % 2 == 0 else list(reversed(runs))
            for name in order:
                version, cwd, target = runs[name]
                _change(target, round_ * 3 + order.index(name))
                args = ["--cache-dir", str(caches[name]), str(target)]
                times[name].append(_run(version, cwd, args))
    print(f"\n## pre-commit: one changed file ({file}) of {tree.name}, warm cache, {rounds} rounds")
    a = statistics.median(times["A"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:<20} median {median:7.3f} s   x A {median / a:5.2f}")


def _generate(root: Path, copies: int) -> str:
    (root / "pyproject.toml").write_text("[project]\nname = 'gen'\n")
    for i in range(copies):
        pkg = root / f"pkg{i}"
        pkg.mkdir()
        (pkg / "__init__.py").write_text("")
        (pkg / "model.py").write_text(MODEL.format(i=i))
        (pkg / "helpers.py").write_text(HELPERS)
        (pkg / "train.py").write_text(TRAIN.format(i=i))
    return "pkg0/model.py"


def bench_scaling(version: Path, copies: int, rounds: int) -> None:
    print(f"\n## scaling: generated project, {copies} packages of 4 files per 1x, {rounds} rounds")
    print(f"{'size':<5} {'files':>6} {'cold s':>8} {'ms/file':>8} {'1 file s':>9} {'x 1x':>6}")
    base: float | None = None
    for factor in (1, 4, 16):
        with tempfile.TemporaryDirectory() as scratch:
            root = Path(scratch) / "gen"
            root.mkdir()
            file = _generate(root, copies * factor)
            cache = Path(scratch) / "cache"
            cold = [_run(version, root, ["--no-cache", "--jobs", "1", "."]) for _ in range(rounds)]
            _run(version, root, ["--cache-dir", str(cache), "."])
            single = []
            for round_ in range(rounds):
                _change(root / file, round_)
                single.append(_run(version, root, ["--cache-dir", str(cache), file]))
        files = copies * factor * 4
        per_file = statistics.median(cold) / files
        base = base or per_file
        print(
            f"{factor:>2}x   {files:>6} {statistics.median(cold):>8.2f} {per_file * 1000:>8.2f} "
            f"{statistics.median(single):>9.3f} {per_file / base:>6.2f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    parser.add_argument("--tree", type=Path, default=Path("/tmp/corpus/transformers"))
    parser.add_argument("--file", default="transformers/models/bert/modeling_bert.py")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--copies", type=int, default=25)
    parser.add_argument("--only", choices=("index", "pre-commit", "scaling"))
    args = parser.parse_args(argv)
    versions = {"A": args.a.resolve(), "B": args.b.resolve()}
    for version in versions.values():
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", str(version / "gradcheck_kit")], check=True
        )
    print(f"A = {versions['A']}\nB = {versions['B']}")
    if args.only in (None, "index"):
        bench_index(versions, args.tree, args.rounds)
    if args.only in (None, "pre-commit"):
        bench_precommit(versions, args.tree, args.file, args.rounds)
    if args.only in (None, "scaling"):
        bench_scaling(versions["B"], args.copies, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
