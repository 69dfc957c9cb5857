"""The README's CI snippets are what a user copies: each must parse, install what its commands
need, and call gradcheck-kit with flags the CLI accepts."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml

from gradcheck_kit.cli import build_parser

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    return README.split(f"### {title}\n", 1)[1].split("\n### ", 1)[0]


def actions_jobs() -> dict[str, dict]:  # type: ignore[type-arg]
    blocks = re.findall(r"```yaml\n(.*?)```", section("GitHub Actions"), flags=re.DOTALL)
    first = yaml.safe_load(blocks[0])
    jobs = dict(first["jobs"])
    for block in blocks[1:]:  # later blocks are more jobs of the same workflow
        jobs.update(yaml.safe_load("jobs:\n" + block)["jobs"])
    return jobs


def runs(job: dict) -> list[str]:  # type: ignore[type-arg]
    return [step["run"] for step in job["steps"] if "run" in step]


def test_the_readme_opens_with_the_two_commands() -> None:
    lines = [line for line in README.splitlines() if line.startswith("pip install")]
    assert lines[:2] == [
        'pip install -e ".[dev]" && gradcheck-kit audit examples/',
        'pip install -e ".[dev]" && pytest',
    ]


def test_lint_job_installs_the_base_package_and_uses_real_flags() -> None:
    job = actions_jobs()["lint"]
    installs = [r for r in runs(job) if r.startswith("pip install")]
    assert len(installs) == 1 and "[runtime]" not in installs[0]
    commands = [r for r in runs(job) if r.startswith("gradcheck-kit ")]
    assert len(commands) == 2
    for command in commands:
        build_parser().parse_args(shlex.split(command)[1:])  # exits 2 on an unknown flag


def test_audit_job_installs_the_runtime_extra_and_uses_real_flags() -> None:
    job = actions_jobs()["audit"]
    installs = " ".join(r for r in runs(job) if r.startswith("pip install"))
    assert "gradcheck-kit[runtime]" in installs and "torch" in installs
    (command,) = [r for r in runs(job) if r.startswith("gradcheck-kit ")]
    args = build_parser().parse_args(shlex.split(command)[1:])
    assert args.command == "audit" and args.report == "audit.md"
