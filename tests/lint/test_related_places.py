"""Issue 18 item 4: a finding whose depth came from another project file carries that place
(the call site, the option default, the dataclass field, the config key, the module constant)
as a related location with its own path - in JSON, in SARIF (in that file's artifact), through
the cache and whatever the working directory."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from gradcheck_kit.cli import main
from gradcheck_kit.lint.provenance import Provenance, cite, key_place, node_place
from tests.lint.test_sarif import validate

PROJECTS = Path(__file__).resolve().parent.parent / "projects"

#: project -> the places in other files each positive fixture's finding must name:
#: (path relative to the project, line, cell or None, what the label says)
PLACES: dict[str, list[tuple[str, int, int | None, str]]] = {
    "callsite_deep": [
        ("scripts/train.py", 11, None, "nets.SigmoidMLP(64, depth=8): the call that sets")
    ],
    "argparse_deep": [
        ("train.py", 8, None, "--n-layers default 8"),
        ("train.py", 14, None, "GateNet(args.width, n_layers=args.n_layers): the call"),
    ],
    "dataclass_deep": [
        ("lab/config.py", 7, None, "TrainConfig.sizes default [16, 16"),
        ("run.py", 6, None, "Encoder(cfg.sizes): the call that sets the depth"),
    ],
    "config_json_deep": [("configs/model.json", 2, None, "n_layers = 8 (model.n_layers)")],
    "config_yaml_deep": [("conf/model/mlp.yaml", 2, None, "n_layers = 8 (model.n_layers)")],
    "config_toml_deep": [("settings/config.toml", 2, None, "sizes = [16, 16")],
    "cycle_deep": [("pkg/common.py", 3, None, "LAYER_COUNT = 8")],
    "reexport_deep": [("mlpkg/config.py", 1, None, "N_LAYERS = 8")],
    "notebook_caller_deep": [("notebooks/analysis.ipynb", 2, 3, "Net(WIDTH, depth=8): the call")],
}


def _copy(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(PROJECTS / name, target)
    return target


def _run(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, cwd: Path
) -> Any:
    monkeypatch.chdir(cwd)
    main(["lint", "--max-saturating-depth", "3", *args])
    return json.loads(capsys.readouterr().out)


def _elsewhere(finding: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in finding["related"] if r["path"] is not None]


@pytest.mark.parametrize("name", sorted(PLACES))
def test_json_names_each_place_in_its_own_file(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _copy(name, tmp_path)
    data = _run(["--no-cache", "--format", "json", "."], capsys, monkeypatch, project)
    (finding,) = [f for f in data["findings"] if f["code"] in ("GCK001", "GCK002")]
    places = _elsewhere(finding)
    for path, line, cell, label in PLACES[name]:
        hits = [
            r
            for r in places
            if r["path"] == path
            and r["line"] == line
            and r["cell"] == cell
            and label in r["message"]
        ]
        assert hits, (path, line, label, places)
        (hit,) = hits[:1]
        assert (project / path).is_file()
        if path.endswith(".py"):  # the span is the place's own text in that file
            text = (project / path).read_text().splitlines()[line - 1]
            assert 1 <= hit["column"] < hit["end_column"] <= len(text) + 1
    # the finding's own activations stay in its own file
    assert any(r["path"] is None for r in finding["related"])


def test_paths_follow_the_finding_path_and_survive_the_cache(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _copy("argparse_deep", tmp_path)
    cache = ["--cache-dir", str(tmp_path / "cache"), "--format", "json"]
    inside = _run([*cache, "model.py"], capsys, monkeypatch, project)
    outside = _run([*cache, "argparse_deep/model.py"], capsys, monkeypatch, tmp_path)  # cached
    absolute = _run([*cache, str(project / "model.py")], capsys, monkeypatch, tmp_path / "cache")
    first, second, third = (d["findings"][0] for d in (inside, outside, absolute))
    assert {r["path"] for r in _elsewhere(first)} == {"train.py"}
    assert {r["path"] for r in _elsewhere(second)} == {"argparse_deep/train.py"}
    assert {r["path"] for r in _elsewhere(third)} == {str(project / "train.py")}
    strip = [{k: v for k, v in r.items() if k != "path"} for r in first["related"]]
    assert strip == [{k: v for k, v in r.items() if k != "path"} for r in second["related"]]


def test_sarif_puts_each_place_in_its_own_artifact(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _copy("callsite_deep", tmp_path)
    log = _run(["--no-cache", "--format", "sarif", "."], capsys, monkeypatch, project)
    validate(log)
    (result,) = log["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "nets/mlp.py"
    by_uri = {
        r["physicalLocation"]["artifactLocation"]["uri"]: r for r in result["relatedLocations"]
    }
    call = by_uri["scripts/train.py"]
    assert call["physicalLocation"]["region"]["startLine"] == 11
    assert "the call that sets the depth" in call["message"]["text"]
    assert call["physicalLocation"]["artifactLocation"]["uriBaseId"] == "%SRCROOT%"


def test_sarif_place_in_a_notebook_points_at_the_raw_json_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _copy("notebook_caller_deep", tmp_path)
    log = _run(["--no-cache", "--format", "sarif", "."], capsys, monkeypatch, project)
    validate(log)
    (result,) = log["runs"][0]["results"]
    (call,) = [
        r
        for r in result["relatedLocations"]
        if r["physicalLocation"]["artifactLocation"]["uri"] == "notebooks/analysis.ipynb"
    ]
    raw = (project / "notebooks/analysis.ipynb").read_text().splitlines()
    line = call["physicalLocation"]["region"]["startLine"]
    assert "Net(WIDTH, depth=8)" in raw[line - 1]
    assert call["message"]["text"].startswith("cell 3, line 2: ")


def test_provenance_keeps_its_places_through_cite_and_pickle(tmp_path: Path) -> None:
    import ast
    import pickle

    source = tmp_path / "train.py"
    source.write_text("net = Net(depth=8)\n")
    call = ast.parse(source.read_text()).body[0].value  # type: ignore[attr-defined]
    place = node_place(str(source), call, "Net(depth=8)")
    assert (place.line, place.column, place.end_line, place.end_column) == (1, 7, 1, 19)
    inner = cite("Net(depth=8) at train.py:1", place=place)
    outer = cite(f"parameter 'depth' (default 8 from {inner})", inner)
    assert isinstance(outer, Provenance) and outer.places == (place,)
    assert pickle.loads(pickle.dumps(outer)).places == (place,)
    assert type(cite("plain", "no places")) is str
    config = tmp_path / "c.yaml"
    config.write_text("model:\n  n_layers: 8\n")
    found = key_place(str(config), "n_layers", "n_layers = 8")
    assert (found.line, found.column, found.end_column) == (2, 3, 14)
    assert key_place(str(tmp_path / "gone.yaml"), "n", "n").line == 1  # vanished: no crash
