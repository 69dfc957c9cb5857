"""Project-wide lint on real multi-file PyTorch projects (issue 18): precision and recall.

Reads the labels in ``bench/project_corpus.toml`` (one ``[[project]]`` per repository, one
``[[project.stack]]`` per saturating stack or lookalike), lints each project directory found
under ``--root`` as a user would (``gradcheck-kit lint DIR --format json``, GCK001/GCK002, in
a subprocess, no cache, one job), in structural mode (``--max-saturating-depth 3``) and in the
default (predicted) mode, and prints per-project TP/FP/FN and P/R/F1, overall and for the
stacks whose depth or activation is decided in another file (``cross_file = true``).

Counting: a finding is matched to a label by file (path inside the project) and by the
finding's ``symbol`` (the class or function that builds the stack; a label with
``symbol = ""`` matches any symbol in its file). A matched ``expected = "yes"`` label is a
TP (once), an unmatched one a FN; a finding on an ``expected = "no"`` label, or on no label
at all, is a FP; ``expected = "skip"`` labels are never counted. Projects missing under
``--root`` are skipped. Exits 0.

Rebuilding ``--root`` (no project source is kept in this repository): for each
``repo = "owner/name"`` in the toml, bring the snapshot with the session's ``fetch`` tool
(``github:owner/name``); it lands as a bare git dir in ``/work/.mirror/owner+name/repo``.
Check that ``git --git-dir=/work/.mirror/owner+name/repo rev-parse HEAD`` equals the
label's ``commit``, then extract the tree into ``ROOT/owner+name``::

    g=/work/.mirror/owner+name/repo; out=ROOT/owner+name; mkdir -p "$out"
    git --git-dir="$g" archive HEAD | tar -x -C "$out"

A real checkout has ``.git``; an extracted tree has no project-root marker. The linter then
takes the folder it is asked to lint as the project's root (``lint DIR``), so the corpus is
measured both ways: as extracted, and with ``--add-marker`` (an empty ``.git`` folder added to
each project directory that has none of ``pyproject.toml``, ``setup.cfg``, ``.git``). Before
the folder fallback (commit 01dc3f4) an unmarked tree lost every call site in other files and
notebooks: 4 TP became FN and 1 GCK002 FP appeared on this corpus.

Snapshots may lack large blobs (data, images), which makes ``git archive`` stop; then
extract the text files one by one (what the labels were made on)::

    git --git-dir="$g" ls-tree -r -l HEAD | while read -r mode type sha size path; do
      case "$path" in *.py|*.ipynb|*.yaml|*.yml|*.json|*.toml|*.cfg|*.ini|*.sh|*.md|*.txt) ;;
        *) continue;; esac
      [ "$type" = blob ] && [ "$size" -lt 3000000 ] || continue
      mkdir -p "$out/$(dirname "$path")"
      git --git-dir="$g" cat-file blob "$sha" > "$out/$path" 2>/dev/null || rm -f "$out/$path"
    done

A second, independent corpus (20 other projects, never used while fixing the linter) is
labelled in ``bench/project_corpus2.toml``: pass it with ``--labels bench/project_corpus2.toml``.

Usage: ``python bench/project_corpus.py --root DIR [--labels FILE] [--mode structural|default|both]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import tomllib

HERE = Path(__file__).resolve().parent
MODES = {"structural": ["--max-saturating-depth", "3"], "default": []}
ROOT_MARKERS = ("pyproject.toml", "setup.cfg", ".git")


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, other: Score) -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn

    def prf(self) -> tuple[float, float, float]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        return p, r, f


def lint(project_dir: Path, mode: str) -> list[dict]:
    """Findings (GCK001/GCK002) of one project linted as a whole."""
    cmd = [sys.executable, "-m", "gradcheck_kit", "lint", str(project_dir), "--format", "json"]
    cmd += ["--no-cache", "--jobs", "1", "--exit-zero", "--select", "GCK001,GCK002", "--quiet"]
    cmd += MODES[mode]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(HERE.parent), env.get("PYTHONPATH")) if p)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=False)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        print(f"  lint failed on {project_dir.name}: {proc.stderr.strip()[-300:]}", file=sys.stderr)
        return []
    return report.get("findings", [])


def relpath(finding: dict, project_dir: Path) -> str:
    path = Path(finding["path"])
    if not path.is_absolute():
        path = Path.cwd() / path
    try:
        return path.resolve().relative_to(project_dir.resolve()).as_posix()
    except ValueError:
        return finding["path"]


def score_project(
    project: dict, findings: list[dict], project_dir: Path, cross_only: bool
) -> Score:
    stacks = [s for s in project["stack"] if not cross_only or s.get("cross_file")]
    score = Score()
    hit: set[int] = set()
    for finding in findings:
        rel = relpath(finding, project_dir)
        sym = finding.get("symbol") or ""
        where = f"{finding['code']} {rel}:{finding.get('line')} {sym}"
        matches = [
            i
            for i, s in enumerate(project["stack"])
            if s["file"] == rel and (not s.get("symbol") or s["symbol"] == sym)
        ]
        if not matches:
            if not cross_only:
                score.fp += 1
                score.notes.append(f"FP (no label) {where}")
            continue
        label = project["stack"][matches[0]]
        if cross_only and not label.get("cross_file"):
            continue
        if label["expected"] == "yes":
            if matches[0] not in hit:
                hit.add(matches[0])
                score.tp += 1
                score.notes.append(
                    f"TP {where} depth={finding.get('depth')} (label {label['depth']})"
                )
        elif label["expected"] == "no":
            score.fp += 1
            score.notes.append(f"FP {where} (label depth {label['depth']})")
    for i, s in enumerate(project["stack"]):
        if s["expected"] == "yes" and i not in hit and s in stacks:
            score.fn += 1
            score.notes.append(f"FN {s['file']} {s['symbol']} depth {s['depth']}: {s['evidence']}")
    return score


def fmt(score: Score) -> str:
    p, r, f = score.prf()
    return f"TP {score.tp:2d}  FP {score.fp:2d}  FN {score.fn:2d}  P {p:.2f}  R {r:.2f}  F1 {f:.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, type=Path, help="one subdir per repo: owner+name")
    parser.add_argument("--labels", type=Path, default=HERE / "project_corpus.toml")
    parser.add_argument("--mode", choices=["structural", "default", "both"], default="both")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each TP/FP/FN")
    parser.add_argument(
        "--add-marker",
        action="store_true",
        help="add an empty .git to project folders with no root marker (as a checkout has)",
    )
    args = parser.parse_args(argv)

    projects = tomllib.loads(args.labels.read_text())["project"]
    modes = list(MODES) if args.mode == "both" else [args.mode]
    present = [(p, args.root / p["repo"].replace("/", "+")) for p in projects]
    missing = [p["repo"] for p, d in present if not d.is_dir()]
    present = [(p, d) for p, d in present if d.is_dir()]
    for _, project_dir in present:
        # a checkout has .git; an extracted tree has no marker, the folder named is its root
        if args.add_marker and not any((project_dir / m).exists() for m in ROOT_MARKERS):
            (project_dir / ".git").mkdir()
            print(f"added an empty .git root marker to {project_dir}")
    if missing:
        print(f"skipped (not under {args.root}): {', '.join(missing)}")

    for mode in modes:
        total, cross = Score(), Score()
        print(f"\n## {mode} mode ({' '.join(MODES[mode]) or 'predicted'})\n")
        print(f"{'project':58s} {'yes':>3s} {'no':>3s}  score")
        for project, project_dir in present:
            findings = lint(project_dir, mode)
            s = score_project(project, findings, project_dir, cross_only=False)
            c = score_project(project, findings, project_dir, cross_only=True)
            total.add(s)
            cross.add(c)
            yes = sum(x["expected"] == "yes" for x in project["stack"])
            no = sum(x["expected"] == "no" for x in project["stack"])
            print(f"{project['repo']:58s} {yes:3d} {no:3d}  {fmt(s)}")
            if args.verbose:
                for note in s.notes:
                    print(f"    {note}")
        print(f"\n{'overall':66s} {fmt(total)}")
        print(f"{'cross-file evidence only':66s} {fmt(cross)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
