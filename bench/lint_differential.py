"""Differential test for refactors of the linter: the same inputs, linted by two versions of
gradcheck-kit, must give byte-identical JSON.

Three steps, each a subcommand:

``build CORPUS [--programs N] [--wheel W ...] [--tree NAME=DIR ...]``
    Writes the inputs once, so both versions read the same files. Corpus parts (one folder
    each): ``fixtures`` (every string literal in ``tests/`` that parses and builds a layer),
    ``examples`` (a copy of ``examples/``), ``rule_pages`` (every Python block of
    ``rules/*.md``), ``fuzz`` (N programs from the fuzz tests' generators, seeded),
    and one folder per unpacked wheel (``pip download --no-deps NAME``) or named tree (for
    example ``torch_nn=.../site-packages/torch/nn``). Nothing is imported from the trees.

``run CORPUS OUT [--python PY] [--pythonpath DIR]``
    Lints every part with ``gradcheck-kit lint --format json --no-cache --exit-zero`` from
    inside the part's folder, with ``DIR`` first on ``PYTHONPATH`` (the version under test),
    and writes ``OUT/<part>.json`` plus ``OUT/<part>.stderr``; then again with bounds so tight
    that every saturating run is reported (``OUT/<part>.sensitive.json``).

``compare A B``
    Compares two ``run`` outputs part by part: counts of files and findings, and the first
    differing finding of each part. Exits 1 when any part differs.

A refactor runs ``run`` with a checkout of the commit before it (``git worktree add``) and with
the working tree, then ``compare``.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import random
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Each part is linted twice: as a user would, and with bounds so tight that every saturating
# run the interpreter finds is reported (real libraries have few findings at the defaults, and a
# refactor must not change what the interpreter sees in them either).
MODES = {"": [], ".sensitive": ["--vanish-bound", "0.999", "--explode-bound", "1.001"]}


def _fixtures(out: Path) -> int:
    """String literals of the test suite that parse and mention a torch layer or Module."""
    out.mkdir(parents=True, exist_ok=True)
    seen: set[str] = set()
    for path in sorted((ROOT / "tests").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            text = textwrap.dedent(node.value)
            if "nn." not in text and "Module" not in text and "torch" not in text:
                continue
            if text in seen:
                continue
            try:
                ast.parse(text)
            except (SyntaxError, ValueError):
                continue
            seen.add(text)
            (out / f"fixture_{len(seen):05d}.py").write_text(text, encoding="utf-8")
    return len(seen)


def _rule_pages(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    for page in sorted((ROOT / "rules").glob("GCK*.md")):
        blocks = page.read_text(encoding="utf-8").split("```python")[1:]
        for i, block in enumerate(blocks):
            code = block.split("```", 1)[0]
            (out / f"{page.stem}_{i:02d}.py").write_text(code.lstrip("\n"), encoding="utf-8")
            count += 1
    return count


def _fuzz(out: Path, programs: int) -> int:
    """Programs from tests/lint/test_fuzz.py's generators, drawn with a fixed seed."""
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT / "tests" / "lint"))
    import test_fuzz
    from hypothesis import HealthCheck, given, seed, settings
    from hypothesis import strategies as st

    drawn: list[str] = []
    strategies = [test_fuzz.model_source()]
    try:
        import hypothesmith

        strategies.append(hypothesmith.from_grammar().map(test_fuzz._with_header))
    except ImportError:
        pass

    @seed(20261207)
    @settings(
        max_examples=programs,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(st.one_of(*strategies))
    def collect(source: str) -> None:
        drawn.append(source)

    collect()
    for i, source in enumerate(drawn):
        (out / f"program_{i:05d}.py").write_text(source, encoding="utf-8")
    return len(drawn)


def build(corpus: Path, programs: int, wheels: list[Path], trees: list[str]) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    print(f"fixtures: {_fixtures(corpus / 'fixtures')} files")
    shutil.copytree(ROOT / "examples", corpus / "examples", dirs_exist_ok=True)
    print(f"rule_pages: {_rule_pages(corpus / 'rule_pages')} files")
    print(f"fuzz: {_fuzz(corpus / 'fuzz', programs)} files")
    for wheel in wheels:
        name = wheel.name.split("-")[0]
        with zipfile.ZipFile(wheel) as archive:
            members = [m for m in archive.namelist() if m.endswith(".py")]
            archive.extractall(corpus / name, members)
        print(f"{name}: {len(members)} files")
    for tree in trees:
        name, _, src = tree.partition("=")
        shutil.copytree(src, corpus / name, dirs_exist_ok=True, ignore=_not_python)
        print(f"{name}: {sum(1 for _ in (corpus / name).rglob('*.py'))} files")


def _not_python(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if not n.endswith(".py") and not (Path(folder) / n).is_dir()]


def run(corpus: Path, out: Path, python: str, pythonpath: str | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + os.pathsep + env.get("PYTHONPATH", "")
    parts = sorted(p for p in corpus.iterdir() if p.is_dir())
    for part, (mode, extra) in ((p, m) for p in parts for m in MODES.items()):
        command = [python, "-m", "gradcheck_kit", "lint", "--format", "json", "--no-cache"]
        command += ["--exit-zero", *extra, "."]
        done = subprocess.run(command, cwd=part, env=env, capture_output=True, text=True)
        name = part.name + mode
        (out / f"{name}.json").write_text(done.stdout, encoding="utf-8")
        (out / f"{name}.stderr").write_text(done.stderr, encoding="utf-8")
        try:
            data = json.loads(done.stdout)
            print(
                f"{name}: rc {done.returncode}, {data['files_checked']} files, "
                f"{len(data['findings'])} findings, {len(data['errors'])} errors"
            )
        except (json.JSONDecodeError, KeyError):
            print(f"{name}: rc {done.returncode}, no JSON: {done.stderr[-300:]}")


def compare(a: Path, b: Path) -> int:
    differ = 0
    for left in sorted(a.glob("*.json")):
        right = b / left.name
        if not right.exists():
            print(f"{left.stem}: missing in {b}")
            differ += 1
            continue
        x, y = left.read_bytes(), right.read_bytes()
        if x == y:
            data = json.loads(x)
            print(
                f"{left.stem}: identical ({data['files_checked']} files, "
                f"{len(data['findings'])} findings, {len(data['errors'])} errors)"
            )
            continue
        differ += 1
        dx, dy = json.loads(x), json.loads(y)
        print(f"{left.stem}: DIFFERS")
        for key in ("files_checked", "findings", "errors"):
            if dx.get(key) != dy.get(key):
                one, two = dx.get(key), dy.get(key)
                if isinstance(one, list) and isinstance(two, list):
                    print(f"  {key}: {len(one)} vs {len(two)}")
                    for i, (p, q) in enumerate(zip(one, two, strict=False)):
                        if p != q:
                            print(f"  first difference at {i}:\n    {p}\n    {q}")
                            break
                else:
                    print(f"  {key}: {one} vs {two}")
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="step", required=True)
    b = sub.add_parser("build")
    b.add_argument("corpus", type=Path)
    b.add_argument("--programs", type=int, default=3000)
    b.add_argument("--wheel", type=Path, action="append", default=[])
    b.add_argument("--tree", action="append", default=[])
    r = sub.add_parser("run")
    r.add_argument("corpus", type=Path)
    r.add_argument("out", type=Path)
    r.add_argument("--python", default=sys.executable)
    r.add_argument("--pythonpath")
    c = sub.add_parser("compare")
    c.add_argument("a", type=Path)
    c.add_argument("b", type=Path)
    args = parser.parse_args(argv)
    if args.step == "build":
        random.seed(0)
        build(args.corpus, args.programs, args.wheel, args.tree)
        return 0
    if args.step == "run":
        run(args.corpus, args.out, args.python, args.pythonpath)
        return 0
    return compare(args.a, args.b)


if __name__ == "__main__":
    sys.exit(main())
