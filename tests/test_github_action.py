"""The composite GitHub Action (issue 21, item 4b): ``action.yml`` against the action metadata
schema (SchemaStore's ``github-action.json``, tests/data/) and the rules the runner enforces,
its script ``.github/action/run.sh`` on fixture repositories (no network: the install is skipped
or stubbed), its PR-comment script under node, and the README snippet that uses it."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from gradcheck_kit.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
ACTION: dict[str, Any] = yaml.safe_load((ROOT / "action.yml").read_text(encoding="utf-8"))
RUN_SH = ROOT / ".github" / "action" / "run.sh"
COMMENT_JS = ROOT / ".github" / "action" / "comment.js"
DATA = Path(__file__).parent / "data"
ACTION_SCHEMA = json.loads((DATA / "github-action-schema.json").read_text(encoding="utf-8"))
SARIF_SCHEMA = json.loads((DATA / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
README = (ROOT / "README.md").read_text(encoding="utf-8")

BAD = """\
import torch.nn as nn

net = nn.Sequential(
    nn.Linear(4, 4), nn.Sigmoid(),
    nn.Linear(4, 4), nn.Sigmoid(),
    nn.Linear(4, 4), nn.Tanh(),
    nn.Linear(4, 4), nn.Sigmoid(),
    nn.Linear(4, 4), nn.Sigmoid(),
    nn.Linear(4, 1),
)
"""


def errors(schema: dict[str, Any], data: object) -> list[str]:
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(data)]


# --------------------------------------------------------------------------- action.yml


def test_the_schema_is_schemastores_action_metadata_schema() -> None:
    assert ACTION_SCHEMA["$id"] == "https://json.schemastore.org/github-action.json"
    jsonschema.validators.validator_for(ACTION_SCHEMA).check_schema(ACTION_SCHEMA)
    # it is strict enough to catch what the runner rejects
    assert errors(ACTION_SCHEMA, {"name": "x", "description": "y", "runs": {"using": "composite"}})
    broken = {**ACTION, "runs": {"using": "composite", "steps": [{"run": "echo"}]}}
    assert errors(ACTION_SCHEMA, broken)  # a composite run step without its shell


def test_action_yml_is_valid_action_metadata() -> None:
    assert not errors(ACTION_SCHEMA, ACTION)
    assert ACTION["name"] and ACTION["description"]
    assert ACTION["runs"]["using"] == "composite"
    for name, spec in ACTION["inputs"].items():
        assert spec.get("description"), name
        assert "default" in spec and not spec.get("required"), name  # every input is optional
    assert ACTION["inputs"]["paths"]["default"] == "."
    assert ACTION["inputs"]["mode"]["default"] == "lint"
    assert ACTION["inputs"]["comment"]["default"] == "false"
    assert {"args", "python-version"} <= set(ACTION["inputs"])
    for step in ACTION["runs"]["steps"]:
        if "run" in step:
            assert step.get("shell") == "bash", step  # composite run steps must name their shell
            # inputs reach scripts through env, never spliced into the script (injection)
            assert "${{" not in step["run"], step["name"]
        else:
            assert re.fullmatch(r"[\w-]+/[\w/-]+@v\d+", step["uses"]), step


def test_action_steps_call_the_script_and_the_tools_in_order() -> None:
    steps = ACTION["runs"]["steps"]
    uses = [step.get("uses", "").split("@")[0] for step in steps]
    assert uses[0] == "actions/setup-python"
    assert "github/codeql-action/upload-sarif" in uses and "actions/github-script" in uses
    run = next(step for step in steps if step.get("id") == "run")
    assert run["run"] == 'bash "$GITHUB_ACTION_PATH/.github/action/run.sh"'
    assert run["env"]["GCK_ACTION_PATH"] == "${{ github.action_path }}"
    assert RUN_SH.is_file()
    upload = steps[uses.index("github/codeql-action/upload-sarif")]
    assert upload["with"]["sarif_file"] == "${{ steps.run.outputs.sarif }}"
    comment = steps[uses.index("actions/github-script")]
    assert "inputs.comment == 'true'" in comment["if"]
    assert ".github/action/comment.js" in comment["with"]["script"] and COMMENT_JS.is_file()
    last = steps[-1]  # fails the action with the tool's exit code, after the reports
    assert last["env"]["GCK_EXIT_CODE"] == "${{ steps.run.outputs.exit-code }}"
    assert last["run"] == 'exit "${GCK_EXIT_CODE:-1}"' and "if" not in last


# --------------------------------------------------------------------------- run.sh


def run_script(
    repo: Path, tmp: Path, **env: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, str], str]:
    """run.sh in ``repo`` as the action runs it; (process, GITHUB_OUTPUT values, summary)."""
    summary, outputs = tmp / "summary.md", tmp / "outputs.txt"
    summary.write_text("earlier step\n", encoding="utf-8")
    outputs.write_text("", encoding="utf-8")
    full = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "GCK_PYTHON": sys.executable,
        "GCK_SKIP_INSTALL": "1",
        "GCK_ACTION_PATH": str(ROOT),
        "GCK_OUTPUT_DIR": str(tmp / "out"),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(outputs),
        **env,
    }
    proc = subprocess.run(
        ["bash", str(RUN_SH)], cwd=repo, env=full, capture_output=True, text=True, timeout=300
    )
    values = dict(
        line.split("=", 1) for line in outputs.read_text(encoding="utf-8").splitlines() if line
    )
    return proc, values, summary.read_text(encoding="utf-8")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "my models").mkdir(parents=True)
    (root / "my models" / "deep.py").write_text(BAD, encoding="utf-8")
    (root / "other").mkdir()
    (root / "other" / "ok.py").write_text("x = 1\n", encoding="utf-8")
    return root


def test_lint_mode_writes_sarif_summary_and_the_exit_code(repo: Path, tmp_path: Path) -> None:
    proc, outputs, summary = run_script(repo, tmp_path, GCK_PATHS='"my models" other')
    assert proc.returncode == 0, proc.stderr  # the tool's 1 is the last step's to raise
    assert outputs["exit-code"] == "1"
    assert "GCK001" in proc.stdout and "gradcheck-kit lint exited with 1" in proc.stdout
    sarif = json.loads(Path(outputs["sarif"]).read_text(encoding="utf-8"))
    assert not errors(SARIF_SCHEMA, sarif)
    (result,) = sarif["runs"][0]["results"]
    location = result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "my%20models/deep.py", "uriBaseId": "%SRCROOT%"}
    report = Path(outputs["report"]).read_text(encoding="utf-8")
    assert summary == "earlier step\n" + report  # appended, not overwritten
    assert "### Lint" in report and "1 finding in 2 files checked." in report
    assert "| my models/deep.py:4:" in report


def test_lint_mode_passes_args_and_a_clean_tree_exits_zero(repo: Path, tmp_path: Path) -> None:
    proc, outputs, summary = run_script(repo, tmp_path, GCK_ARGS="--select GCK002 --no-cache")
    assert proc.returncode == 0, proc.stderr
    assert outputs["exit-code"] == "0"
    sarif = json.loads(Path(outputs["sarif"]).read_text(encoding="utf-8"))
    assert sarif["runs"][0]["results"] == []  # the SARIF run gets the args too
    assert "0 findings in 2 files checked." in summary


def test_a_usage_error_is_the_exit_code_and_a_bad_mode_stops_the_step(
    repo: Path, tmp_path: Path
) -> None:
    proc, outputs, _ = run_script(repo, tmp_path, GCK_ARGS="--select NOPE999")
    assert proc.returncode == 0 and outputs["exit-code"] == "2"
    proc, outputs, summary = run_script(repo, tmp_path, GCK_MODE="check")
    assert proc.returncode == 2 and not outputs and summary == "earlier step\n"
    assert "::error title=gradcheck-kit::mode must be lint or audit" in proc.stdout


def test_audit_mode_writes_the_audit_report_and_lints_for_sarif(repo: Path, tmp_path: Path) -> None:
    proc, outputs, summary = run_script(
        repo, tmp_path, GCK_MODE="audit", GCK_ARGS="--no-runtime", GCK_PATHS="."
    )
    assert proc.returncode == 0, proc.stderr
    assert outputs["exit-code"] == "1"
    assert "## gradcheck-kit audit" in summary and "**FAIL**" in summary
    sarif = json.loads(Path(outputs["sarif"]).read_text(encoding="utf-8"))
    assert not errors(SARIF_SCHEMA, sarif)
    assert [r["ruleId"] for r in sarif["runs"][0]["results"]] == ["GCK001"]


def test_install_takes_the_cpu_torch_first_for_audit_only(repo: Path, tmp_path: Path) -> None:
    log = tmp_path / "pip.log"
    pip = tmp_path / "fake-pip"
    pip.write_text(f'#!/usr/bin/env bash\necho "$*" >> {shlex.quote(str(log))}\n')
    pip.chmod(0o755)
    stub = {"GCK_SKIP_INSTALL": "", "GCK_PIP": str(pip), "GCK_ACTION_PATH": "/act ion"}
    proc, outputs, _ = run_script(repo, tmp_path, **stub)
    assert proc.returncode == 0, proc.stderr
    assert log.read_text().splitlines() == ["install --disable-pip-version-check /act ion"]
    log.unlink()
    proc, _, _ = run_script(repo, tmp_path, GCK_MODE="audit", GCK_ARGS="--no-runtime", **stub)
    assert proc.returncode == 0, proc.stderr
    assert log.read_text().splitlines() == [
        "install --disable-pip-version-check torch --index-url https://download.pytorch.org/whl/cpu",
        "install --disable-pip-version-check /act ion[runtime]",
    ]
    failing = tmp_path / "failing-pip"
    failing.write_text("#!/usr/bin/env bash\nexit 1\n")
    failing.chmod(0o755)
    proc, outputs, _ = run_script(repo, tmp_path, GCK_SKIP_INSTALL="", GCK_PIP=str(failing))
    assert proc.returncode == 1 and not outputs  # a failed install fails the step at once


def test_a_long_report_is_cut_to_what_a_job_summary_takes(repo: Path, tmp_path: Path) -> None:
    proc, outputs, summary = run_script(repo, tmp_path, GCK_SUMMARY_LIMIT="100")
    assert proc.returncode == 0, proc.stderr
    report = Path(outputs["report"]).read_text(encoding="utf-8")
    assert len(report) > 100
    assert summary == "earlier step\n" + report[:100] + (
        "\n\n(The report is longer than a job summary can be: cut here.)\n"
    )


def test_the_script_runs_without_github_variables(repo: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.update(
        PYTHONPATH=str(ROOT),
        GCK_PYTHON=sys.executable,
        GCK_SKIP_INSTALL="1",
        GCK_OUTPUT_DIR=str(tmp_path / "o"),
    )
    proc = subprocess.run(
        ["bash", str(RUN_SH)], cwd=repo, env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o" / "gradcheck-kit.sarif").is_file()
    assert (tmp_path / "o" / "gradcheck-kit.md").is_file()


# --------------------------------------------------------------------------- comment.js

FAKE_GITHUB = r"""
const calls = [];
const existing = JSON.parse(process.env.EXISTING);
const github = {
  rest: { issues: {
    listComments: "listComments",
    updateComment: async (args) => { calls.push(["update", args]); },
    createComment: async (args) => { calls.push(["create", args]); },
  } },
  paginate: async (method, args) => { calls.push(["list", args]); return existing; },
};
const context = {
  repo: { owner: "o", repo: "r" },
  payload: process.env.PR ? { pull_request: { number: Number(process.env.PR) } } : {},
};
const core = { info: (text) => calls.push(["info", text]) };
require(process.env.SCRIPT)({ github, context, core }, { report: process.env.REPORT, mode: "lint" })
  .then((result) => console.log(JSON.stringify({ result, calls })));
"""


def node_comment(tmp_path: Path, report: str, existing: list[Any], pr: str = "7") -> Any:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    (tmp_path / "report.md").write_text(report, encoding="utf-8")
    (tmp_path / "fake.js").write_text(FAKE_GITHUB, encoding="utf-8")
    env = {
        **os.environ,
        "EXISTING": json.dumps(existing),
        "PR": pr,
        "SCRIPT": str(COMMENT_JS),
        "REPORT": str(tmp_path / "report.md"),
    }
    proc = subprocess.run(
        [node, str(tmp_path / "fake.js")], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_comment_is_created_then_edited_in_place(tmp_path: Path) -> None:
    out = node_comment(tmp_path, "## report\n", [{"id": 1, "body": "someone else"}])
    assert out["result"] == "created"
    kind, args = out["calls"][-1]
    assert kind == "create" and args["issue_number"] == 7
    assert args["body"] == "<!-- gradcheck-kit lint -->\n## report\n"
    ours = {"id": 5, "body": args["body"]}
    out = node_comment(tmp_path, "## report 2\n", [{"id": 1, "body": None}, ours])
    assert out["result"] == "updated"
    assert out["calls"][-1] == [
        "update",
        {
            "owner": "o",
            "repo": "r",
            "comment_id": 5,
            "body": "<!-- gradcheck-kit lint -->\n## report 2\n",
        },
    ]


def test_comment_is_cut_to_githubs_limit_and_skipped_outside_a_pr(tmp_path: Path) -> None:
    out = node_comment(tmp_path, "x" * 100_000, [])
    body = out["calls"][-1][1]["body"]
    assert len(body) <= 65_000 and body.endswith(
        "(Cut here: the full report is in the job summary.)\n"
    )
    out = node_comment(tmp_path, "## report\n", [], pr="")
    assert out["result"] == "skipped" and [c[0] for c in out["calls"]] == ["info"]


# --------------------------------------------------------------------------- README


def readme_action_steps() -> list[dict[str, Any]]:
    text = README.split("### The GitHub Action\n", 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]
    steps = []
    for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.DOTALL):
        workflow = yaml.safe_load(block)
        jobs = workflow.get("jobs", workflow)
        for job in jobs.values():
            steps += [s for s in job["steps"] if "gradcheck-kit@" in s.get("uses", "")]
    return steps


def test_readme_snippet_uses_the_action_with_its_real_inputs() -> None:
    steps = readme_action_steps()
    assert {s.get("with", {}).get("mode", "lint") for s in steps} == {"lint", "audit"}
    for step in steps:
        ref = step["uses"].split("@", 1)[1]
        assert re.fullmatch(r"[0-9a-f]{40}", ref), ref  # a commit: there is no release yet
        given = step.get("with", {})
        assert set(given) <= set(ACTION["inputs"]), set(given) - set(ACTION["inputs"])
        mode = given.get("mode", "lint")
        assert mode in ("lint", "audit")
        if "comment" in given:
            assert str(given["comment"]).lower() in ("true", "false")
        command = [
            mode,
            *shlex.split(str(given.get("args", ""))),
            *shlex.split(given.get("paths", ".")),
        ]
        build_parser().parse_args(command)  # exits 2 on an unknown flag
