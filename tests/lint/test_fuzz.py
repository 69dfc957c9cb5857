"""Property-based fuzzing of the linter with hypothesmith (programs from the Python grammar and
from libcst's node strategies) and with generated model code that drives the abstract
interpreter: the linter never raises, its JSON always parses, and it is deterministic (same input,
same findings, for any --jobs).

The default run is a quick profile (a few examples each); ``pytest -m slow`` runs the long one.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcheck_kit.config import Config
from gradcheck_kit.lint import engine
from gradcheck_kit.lint.engine import INTERNAL_ERROR, lint_paths, lint_text
from gradcheck_kit.report.findings import LintResult
from gradcheck_kit.report.formats import lint_to_json
from gradcheck_kit.report.sarif import lint_to_sarif

hypothesmith = pytest.importorskip("hypothesmith")

QUICK = settings(
    max_examples=6,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
LONG = settings(
    max_examples=600,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)

# The prefilter skips files that mention no layer; this header makes every program go through
# libcst, the extractor and every rule.
HEADER = "import torch\nimport torch.nn as nn\nfrom torch.nn import Sequential, Tanh, Sigmoid\n"

# ---------------------------------------------------------------- generated model code

SATURATING = ["nn.Tanh()", "nn.Sigmoid()", "nn.Hardtanh()", "nn.Softsign()", "Tanh()"]
OTHER = [
    "nn.Linear(d, d)",
    "nn.ReLU()",
    "nn.LayerNorm(d)",
    "nn.BatchNorm1d(d)",
    "nn.Dropout(0.1)",
    "nn.Identity()",
    "nn.Conv1d(d, d, 3)",
    "nn.GELU()",
    "Block(d)",
    "make(n)",
    "None",
    "x",
]
COUNTS = ["0", "1", "3", "n", "n_layers", "-2", "10**9", "len(sizes)", "int(2.5)", "2**64", "k"]

layer = st.sampled_from(SATURATING + OTHER)
count = st.sampled_from(COUNTS)


@st.composite
def layer_list(draw: st.DrawFn, depth: int = 0) -> str:
    """An expression that evaluates to a list of layers, in one of the shapes the extractor
    knows (and some it does not)."""
    kind = draw(st.integers(0, 6 if depth < 2 else 3))
    items = ", ".join(draw(st.lists(layer, max_size=5)))
    if kind == 0:
        return f"[{items}]"
    if kind == 1:
        return f"[{items}] * {draw(count)}"
    if kind == 2:
        return f"[{draw(layer)} for _ in range({draw(count)})]"
    if kind == 3:
        return f"[m for i in range({draw(count)}) for m in ({items or 'x'},)]"
    inner = draw(layer_list(depth + 1))
    if kind == 4:
        return f"{inner} + {draw(layer_list(depth + 1))}"
    if kind == 5:
        return f"[nn.Sequential(*{inner})] * {draw(count)}"
    return f"list(reversed({inner}))"


@st.composite
def statement(draw: st.DrawFn, indent: str = "        ") -> str:
    kind = draw(st.integers(0, 9))
    lst = draw(layer_list())
    if kind == 0:
        return f"{indent}self.net = nn.Sequential(*{lst})\n"
    if kind == 1:
        return f"{indent}self.layers = nn.ModuleList({lst})\n"
    if kind == 2:
        return (
            f"{indent}layers = []\n{indent}for i in range({draw(count)}):\n"
            f"{indent}    layers.append({draw(layer)})\n"
            f"{indent}    layers += {lst}\n{indent}self.net = nn.Sequential(*layers)\n"
        )
    if kind == 3:
        return (
            f"{indent}i = 0\n{indent}while i < {draw(count)}:\n"
            f"{indent}    self.add_module(str(i), {draw(layer)})\n{indent}    i += 1\n"
        )
    if kind == 4:
        return f"{indent}if {draw(count)} > 2:\n{indent}    self.net = nn.Sequential(*{lst})\n"
    if kind == 5:
        return f"{indent}self.net = nn.Sequential(*{lst}, *self.net)\n"
    if kind == 6:
        return f"{indent}n = n * {draw(count)}\n{indent}self.k = {draw(count)} ** n\n"
    if kind == 7:
        return f"{indent}self.block = Block(n - 1) if n else None\n"
    if kind == 8:
        return f"{indent}for layer in {lst}:\n{indent}    setattr(self, 'l' + str(layer), layer)\n"
    return f"{indent}del x\n"


@st.composite
def forward_body(draw: st.DrawFn) -> str:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return "        return self.net(x)\n"
    if kind == 1:
        return "        for layer in self.layers:\n            x = layer(x)\n        return x\n"
    if kind == 2:
        return "        for layer in self.layers:\n            x = x + layer(x)\n        return x\n"
    if kind == 3:
        return "        return torch.tanh(self.net(x)) + x\n"
    if kind == 4:
        return "        return self.forward(x)\n"
    return "        y = self.block(x)\n        return torch.sigmoid(y) * torch.tanh(x)\n"


@st.composite
def model_source(draw: st.DrawFn) -> str:
    """A module with helpers, a recursive Block and a model class built from the pieces."""
    body = "".join(draw(st.lists(statement(), min_size=1, max_size=4)))
    init_default = draw(count)
    return (
        HEADER
        + f"k = {draw(count)}\nsizes = [8] * {draw(count)}\n\n"
        + f"def make(n):\n    return nn.Sequential(*{draw(layer_list())})\n\n\n"
        + "class Block(nn.Module):\n"
        + "    def __init__(self, d=8, n=2):\n        super().__init__()\n"
        + f"        self.net = nn.Sequential(*{draw(layer_list())})\n"
        + "        self.block = Block(d, n) if n > 100 else None\n\n"
        + "    def forward(self, x):\n        return self.net(x)\n\n\n"
        + f"class Model(nn.Module):\n    def __init__(self, d=8, n_layers={init_default}, n=3):\n"
        + "        super().__init__()\n"
        + "        x = None\n"
        + body
        + "\n    def forward(self, x):\n"
        + draw(forward_body())
        + f"\n\nmodel = Model(n_layers={draw(count)})\n"
    )


# ---------------------------------------------------------------- the properties


def assert_lints_cleanly(source: str) -> None:
    """Never raises, never an internal error; JSON and SARIF parse; the same twice."""
    config = Config()
    with engine.linting():
        findings, error = lint_text(source, "fuzz.py", config)
        again = lint_text(source, "fuzz.py", config)
    assert error is None or not error.message.startswith(INTERNAL_ERROR), error.message
    assert again == (findings, error)
    result = LintResult(files_checked=1, findings=list(findings))
    if error is not None:
        result.errors.append(error)
    data = json.loads(lint_to_json(result))
    assert len(data["findings"]) == len(findings)
    sarif = json.loads(lint_to_sarif(result, []))
    assert sarif["version"] == "2.1.0"
    for finding in findings:
        assert finding.line >= 1 and finding.column >= 1


def _with_header(code: str) -> str:
    return HEADER + code


@QUICK
@given(hypothesmith.from_grammar().map(_with_header))
def test_grammar_programs_quick(source: str) -> None:
    assert_lints_cleanly(source)


@QUICK
@given(hypothesmith.from_node().map(_with_header))
def test_libcst_node_programs_quick(source: str) -> None:
    assert_lints_cleanly(source)


@QUICK
@given(model_source())
def test_generated_models_quick(source: str) -> None:
    assert_lints_cleanly(source)


@pytest.mark.slow
@LONG
@given(hypothesmith.from_grammar().map(_with_header))
def test_grammar_programs_long(source: str) -> None:
    assert_lints_cleanly(source)


@pytest.mark.slow
@LONG
@given(hypothesmith.from_node().map(_with_header))
def test_libcst_node_programs_long(source: str) -> None:
    assert_lints_cleanly(source)


@pytest.mark.slow
@settings(LONG, max_examples=2000)
@given(model_source())
def test_generated_models_long(source: str) -> None:
    assert_lints_cleanly(source)


# ---------------------------------------------------------------- any --jobs, same result


def _lint_tree(sources: list[str], jobs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for i, source in enumerate(sources):
            (root / f"m{i}.py").write_text(source, encoding="utf-8")
        old = engine._MIN_BYTES_FOR_POOL, engine._MIN_FILES_PER_WORKER
        engine._MIN_BYTES_FOR_POOL, engine._MIN_FILES_PER_WORKER = 0, 1  # pool even if small
        try:
            result = lint_paths([root], Config(), jobs=jobs)
        finally:
            engine._MIN_BYTES_FOR_POOL, engine._MIN_FILES_PER_WORKER = old
        text = lint_to_json(result).replace(str(root), "<root>")
    return json.loads(text)


# hypothesmith's strategies record a target() each, so at most one of them per example
programs = st.tuples(
    hypothesmith.from_node().map(_with_header), st.lists(model_source(), min_size=1, max_size=5)
).map(lambda drawn: [drawn[0], *drawn[1]])


@settings(QUICK, max_examples=2)
@given(programs)
def test_same_findings_for_any_jobs_quick(sources: list[str]) -> None:
    serial = _lint_tree(sources, jobs=1)
    assert _lint_tree(sources, jobs=2) == serial
    assert _lint_tree(sources, jobs=3) == serial


@pytest.mark.slow
@settings(LONG, max_examples=60)
@given(programs)
def test_same_findings_for_any_jobs_long(sources: list[str]) -> None:
    serial = _lint_tree(sources, jobs=1)
    assert _lint_tree(sources, jobs=2) == serial
    assert _lint_tree(sources, jobs=4) == serial
