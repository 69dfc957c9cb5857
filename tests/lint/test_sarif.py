"""``--format sarif``: valid SARIF 2.1.0 (the OASIS schema, tests/data/), as code scanning reads it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gradcheck_kit.cli import main
from gradcheck_kit.lint.docs import rule_infos
from gradcheck_kit.lint.engine import lint_paths
from gradcheck_kit.lint.rules import RULES
from gradcheck_kit.report.sarif import FINGERPRINT_KEY, lint_to_sarif_dict

SCHEMA = json.loads((Path(__file__).parent.parent / "data" / "sarif-schema-2.1.0.json").read_text())

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


def validate(log: dict[str, Any]) -> None:
    validator = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def sarif(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, cwd: Path
) -> dict[str, Any]:
    monkeypatch.chdir(cwd)
    main(["lint", "--no-cache", "--format", "sarif", *args])
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def test_schema_itself_is_the_oasis_one() -> None:
    assert SCHEMA["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    jsonschema.validators.validator_for(SCHEMA).check_schema(SCHEMA)


def test_findings_errors_and_rules_validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "bad net.py").write_text(BAD)  # a space: the URI is percent-encoded
    (tmp_path / "broken.py").write_text("def f(:\n  pass\n")
    log = sarif(["."], capsys, monkeypatch, tmp_path)
    validate(log)
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "gradcheck-kit"
    assert [r["id"] for r in driver["rules"]] == sorted(RULES)
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"] == RULES[rule["id"]].summary
        assert rule["fullDescription"]["text"]
        assert rule["help"]["text"]
    gck001 = driver["rules"][0]  # its page's sections, as code scanning shows them
    assert gck001["fullDescription"]["text"].startswith("Flags a run of saturating activations")
    assert "Why is this bad?" in gck001["help"]["markdown"]
    assert not gck001["help"]["markdown"].startswith("# GCK001")
    assert len(gck001["help"]["text"]) > len(gck001["fullDescription"]["text"])

    (result,) = run["results"]
    assert result["ruleId"] == "GCK001"
    assert driver["rules"][result["ruleIndex"]]["id"] == "GCK001"
    assert result["level"] == "warning"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "models/bad%20net.py", "uriBaseId": "%SRCROOT%"}
    assert location["region"] == {"startLine": 4, "startColumn": 22, "endLine": 8, "endColumn": 34}
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == tmp_path.resolve().as_uri() + "/"
    related = result["relatedLocations"]
    assert [r["physicalLocation"]["region"]["startLine"] for r in related] == [4, 5, 6, 7, 8]
    assert [r["id"] for r in related] == [1, 2, 3, 4, 5]
    assert "tanh" in related[2]["message"]["text"]
    assert result["properties"]["depth"] == 5

    invocation = run["invocations"][0]
    assert invocation["executionSuccessful"] is False
    (note,) = invocation["toolExecutionNotifications"]
    assert note["level"] == "error" and "syntax error" in note["message"]["text"]
    assert note["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "broken.py"


def test_clean_run_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ok.py").write_text("x = 1\n")
    log = sarif(["."], capsys, monkeypatch, tmp_path)
    validate(log)
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["invocations"][0]["executionSuccessful"] is True


def test_files_outside_the_working_directory_get_absolute_uris(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "bad.py").write_text(BAD)
    log = sarif([str(tmp_path / "b")], capsys, monkeypatch, tmp_path / "a")
    validate(log)
    artifact = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact == {"uri": (tmp_path / "b" / "bad.py").resolve().as_uri()}


def fingerprints(path: Path) -> list[str]:
    result = lint_paths([path])
    log = lint_to_sarif_dict(result, rule_infos(), base=path.parent)
    return [r["partialFingerprints"][FINGERPRINT_KEY] for r in log["runs"][0]["results"]]


def test_fingerprints_survive_unrelated_edits_and_tell_findings_apart(tmp_path: Path) -> None:
    model = tmp_path / "model.py"
    two = BAD + "\nhead = nn.Sequential(*[nn.Tanh() for _ in range(16)])\n"
    model.write_text(two)
    before = fingerprints(model)
    assert len(before) == 2 and len(set(before)) == 2
    # Unrelated edits: lines inserted above, a comment, reformatting elsewhere.
    model.write_text('"""Docs."""\n\nimport os\n\n# a comment\n' + two.replace("(4, 4)", "(4,4)"))
    assert fingerprints(model) == before
    # A related edit (the second stack's activation changes) changes that fingerprint only.
    model.write_text(two.replace("nn.Tanh() for", "nn.Sigmoid() for"))
    after = fingerprints(model)
    assert after[0] == before[0] and after[1] != before[1]


def test_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.py").write_text(BAD)
    out = tmp_path / "report.sarif"
    args = ["lint", "--no-cache", "--format", "sarif", "--output-file", str(out), str(tmp_path)]
    assert main(args) == 1
    validate(json.loads(out.read_text()))
    assert capsys.readouterr().out == ""
