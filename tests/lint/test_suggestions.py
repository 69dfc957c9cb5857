"""GCK001/GCK002's suggestion (a LayerNorm after each saturating activation) in every code shape
the linter understands: the fix is display-only, its edits apply, the result parses and no
longer triggers either rule; where a width or a name would be a guess, there is no fix. The
rule pages' "Fix" sections are golden before/after pairs of the same suggestion."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from gradcheck_kit.lint.docs import code_blocks
from gradcheck_kit.lint.engine import lint_source
from gradcheck_kit.lint.fixes import applicable, apply_fixes, parses
from gradcheck_kit.report.findings import Finding

STACK_RULES = ("GCK001", "GCK002")
RULES_DIR = Path(__file__).resolve().parents[2] / "rules"

FIXED = {
    "seq_literal": (
        """import torch.nn as nn

model = nn.Sequential(
    nn.Linear(784, 256), nn.Sigmoid(),
    nn.Linear(256, 256), nn.Sigmoid(),
    nn.Linear(256, 256), nn.Sigmoid(),
    nn.Linear(256, 256), nn.Sigmoid(),
    nn.Linear(256, 256), nn.Sigmoid(),
    nn.Linear(256, 10),
)
""",
        "nn.Sigmoid(), nn.LayerNorm(256),",
    ),
    "loop_append": (
        """import torch.nn as nn


def make(depth=16, width=64):
    layers = []
    for _ in range(depth):
        layers.append(nn.Linear(width, width))
        layers.append(nn.Tanh())
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)
""",
        "        layers.append(nn.Tanh())\n        layers.append(nn.LayerNorm(width))\n",
    ),
    "comprehension": (
        """import torch.nn as nn

model = nn.Sequential(*[m for _ in range(16) for m in (nn.Linear(128, 128), nn.Tanh())], nn.Linear(128, 1))
""",
        "(nn.Linear(128, 128), nn.Tanh(), nn.LayerNorm(128))",
    ),
    "modulelist_forward": (
        """import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self, width=128, depth=16):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))

    def forward(self, x):
        for layer in self.layers:
            x = torch.tanh(layer(x))
        return x
""",
        "x = nn.functional.layer_norm(torch.tanh(layer(x)), (layer.out_features,))",
    ),
    "fsigmoid_chain": (
        """import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(32, 64)
        self.fc2 = nn.Linear(64, 64)
        self.fc3 = nn.Linear(64, 64)
        self.fc4 = nn.Linear(64, 64)
        self.fc5 = nn.Linear(64, 64)
        self.head = nn.Linear(64, 1)

    def forward(self, x):
        x = F.sigmoid(self.fc1(x))
        x = F.sigmoid(self.fc2(x))
        x = F.sigmoid(self.fc3(x))
        x = F.sigmoid(self.fc4(x))
        x = F.sigmoid(self.fc5(x))
        return self.head(x)
""",
        "x = F.layer_norm(F.sigmoid(self.fc1(x)), (64,))",
    ),
    "act_attr": (
        """import torch.nn as nn


class Net(nn.Module):
    def __init__(self, depth=16):
        super().__init__()
        self.fcs = nn.ModuleList([nn.Linear(64, 64) for _ in range(depth)])
        self.act = nn.Tanh()
        self.head = nn.Linear(64, 1)

    def forward(self, x):
        for fc in self.fcs:
            x = self.act(fc(x))
        return self.head(x)
""",
        "x = nn.functional.layer_norm(self.act(fc(x)), (64,))",
    ),
    "gck002": (
        """import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, num_layers, width=64):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(num_layers))

    def forward(self, x):
        for layer in self.layers:
            x = torch.sigmoid(layer(x))
        return x
""",
        "x = nn.functional.layer_norm(torch.sigmoid(layer(x)), (layer.out_features,))",
    ),
    "ordered": (
        """from collections import OrderedDict

import torch.nn as nn

model = nn.Sequential(OrderedDict([
    ("fc1", nn.Linear(32, 32)), ("act1", nn.Sigmoid()),
    ("fc2", nn.Linear(32, 32)), ("act2", nn.Sigmoid()),
    ("fc3", nn.Linear(32, 32)), ("act3", nn.Sigmoid()),
    ("fc4", nn.Linear(32, 32)), ("act4", nn.Sigmoid()),
    ("fc5", nn.Linear(32, 32)), ("act5", nn.Sigmoid()),
    ("head", nn.Linear(32, 1)),
]))
""",
        '("act1", nn.Sequential(nn.Sigmoid(), nn.LayerNorm(32)))',
    ),
    "list_times": (
        """import torch.nn as nn

model = nn.Sequential(*([nn.Linear(64, 64), nn.Tanh()] * 16), nn.Linear(64, 1))
""",
        "[nn.Linear(64, 64), nn.Tanh(), nn.LayerNorm(64)] * 16",
    ),
    "block_class": (
        """import torch
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.act = nn.Tanh()

    def forward(self, x):
        return self.act(self.fc(x))


model = nn.Sequential(*[Block(64) for _ in range(16)], nn.Linear(64, 1))
""",
        "return nn.functional.layer_norm(self.act(self.fc(x)), (self.fc.out_features,))",
    ),
    "method_tanh": (
        """import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, depth=16):
        super().__init__()
        self.fcs = nn.ModuleList([nn.Linear(64, 64) for _ in range(depth)])
        self.head = nn.Linear(64, 1)

    def forward(self, x):
        for fc in self.fcs:
            x = fc(x).tanh()
        return self.head(x)
""",
        "x = nn.functional.layer_norm(fc(x).tanh(), (64,))",
    ),
    "onlytorch": (
        """import torch


class Net(torch.nn.Module):
    def __init__(self, depth=16):
        super().__init__()
        self.fcs = torch.nn.ModuleList([torch.nn.Linear(64, 64) for _ in range(depth)])
        self.head = torch.nn.Linear(64, 1)

    def forward(self, x):
        for fc in self.fcs:
            x = torch.sigmoid(fc(x))
        return self.head(x)
""",
        "x = torch.nn.functional.layer_norm(torch.sigmoid(fc(x)), (64,))",
    ),
    "output_sigmoid": (
        """import torch.nn as nn

model = nn.Sequential(
    nn.Linear(16, 16), nn.Sigmoid(),
    nn.Linear(16, 16), nn.Sigmoid(),
    nn.Linear(16, 16), nn.Sigmoid(),
    nn.Linear(16, 16), nn.Sigmoid(),
    nn.Linear(16, 16), nn.Sigmoid(),
    nn.Linear(16, 1), nn.Sigmoid(),
)
""",
        "nn.Linear(16, 1), nn.Sigmoid(),\n)",
    ),
    "config_width": (
        """import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Linear(config.hidden_size, config.hidden_size) for _ in range(config.num_layers)
        )

    def forward(self, x):
        for layer in self.layers:
            x = torch.tanh(layer(x))
        return x
""",
        "x = nn.functional.layer_norm(torch.tanh(layer(x)), (layer.out_features,))",
    ),
    "parenthesized": (
        """import torch.nn as nn

model = nn.Sequential(*[m for _ in range(16) for m in [nn.Linear(8, 8), (nn.Tanh())]], nn.Linear(8, 1))
""",
        "[nn.Linear(8, 8), (nn.Sequential(nn.Tanh(), nn.LayerNorm(8)))]",
    ),
    "trailing_comment": (
        """import torch.nn as nn

model = nn.Sequential(
    *[nn.Sequential(nn.Linear(8, 8), nn.Tanh()  # act
    ) for _ in range(16)],
    nn.Linear(8, 1),
)
""",
        "nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.LayerNorm(8)  # act\n",
    ),
    "module_constant": (
        """import torch
import torch.nn as nn

WIDTH = 32


class Net(nn.Module):
    def __init__(self, depth=16):
        super().__init__()
        self.fcs = nn.ModuleList(nn.Linear(WIDTH, WIDTH) for _ in range(depth))
        self.head = nn.Linear(WIDTH, 1)

    def forward(self, x):
        for fc in self.fcs:
            h = fc(x)
            x = torch.tanh(h)
        return self.head(x)
""",
        "x = nn.functional.layer_norm(torch.tanh(h), (WIDTH,))",
    ),
    "augmented_list": (
        """from torch import nn


class DeepSigmoidMLP(nn.Module):
    def __init__(self, width: int = 32, depth: int = 8):
        super().__init__()
        layers = [nn.Linear(width, width), nn.Sigmoid()]
        for _ in range(depth - 1):
            layers += [nn.Linear(width, width), nn.Sigmoid()]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)
""",
        "layers += [nn.Linear(width, width), nn.Sigmoid(), nn.LayerNorm(width)]",
    ),
}
NO_FIX = {
    "conv": """import torch.nn as nn

model = nn.Sequential(*[m for _ in range(16) for m in (nn.Conv2d(8, 8, 3, padding=1), nn.Tanh())])
""",
    "bare_names": """from torch.nn import Linear, Sequential, Tanh

model = Sequential(*[m for _ in range(16) for m in (Linear(64, 64), Tanh())], Linear(64, 1))
""",
}

MIXED_WIDTHS = """import torch.nn as nn


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.act = nn.Tanh()

    def forward(self, x):
        return self.act(self.fc(x))


model = nn.Sequential(*[Block(64) for _ in range(8)], *[Block(128) for _ in range(8)])
"""


def stack_findings(source: str, path: str = "model.py") -> list[Finding]:
    return [f for f in lint_source(source, path) if f.code in STACK_RULES]


def suggested(source: str) -> str:
    findings = stack_findings(source)
    assert findings, "the shape must trigger GCK001 or GCK002"
    fixes = [f.fix for f in findings if f.fix is not None]
    assert len(fixes) == len(findings), "every finding of the shape has a suggestion"
    out, applied = apply_fixes(source, fixes)
    assert applied == fixes
    return out


@pytest.mark.parametrize("shape", sorted(FIXED))
def test_the_suggestion_repairs_every_shape(shape: str) -> None:
    source, expected = FIXED[shape]
    findings = stack_findings(source)
    for finding in findings:
        assert finding.fix is not None
        assert finding.fix.applicability == "display-only"
        assert not applicable(finding.fix, unsafe=True), "--fix never applies a suggestion"
        assert "LayerNorm" in finding.fix.message
    after = suggested(source)
    assert parses(after) is None
    assert expected in after
    assert stack_findings(after) == [], f"{shape}: the suggestion leaves a finding"


def test_an_unrolled_loop_is_edited_once_at_its_source_position() -> None:
    source = FIXED["loop_append"][0]
    (finding,) = stack_findings(source)
    assert finding.depth == 16
    assert finding.fix is not None
    assert len(finding.fix.edits) == 1
    assert suggested(source).count("nn.LayerNorm(width)") == 1


def test_a_sequential_literal_gets_one_norm_per_activation_and_keeps_its_output() -> None:
    after = suggested(FIXED["seq_literal"][0])
    assert after.count("nn.LayerNorm(256)") == 5
    output = suggested(FIXED["output_sigmoid"][0])
    assert output.count("nn.LayerNorm(16)") == 5  # not after the model's output sigmoid


def test_edits_of_one_fix_never_overlap() -> None:
    for source, _ in FIXED.values():
        for finding in stack_findings(source):
            assert finding.fix is not None
            points = sorted((e.line, e.column, e.end_line, e.end_column) for e in finding.fix.edits)
            for a, b in itertools.pairwise(points):
                assert (a[2], a[3]) < (b[0], b[1])


def test_the_finding_itself_is_unchanged_by_its_fix() -> None:
    source = FIXED["seq_literal"][0]
    (finding,) = stack_findings(source)
    assert (finding.line, finding.column, finding.end_line, finding.end_column) == (4, 26, 8, 38)
    assert finding.message.startswith("5 saturating activations (sigmoid) in a row")


@pytest.mark.parametrize("shape", sorted(NO_FIX))
def test_no_suggestion_where_it_would_be_a_guess(shape: str) -> None:
    findings = stack_findings(NO_FIX[shape])
    assert findings
    assert [f.fix for f in findings] == [None] * len(findings)


def test_a_block_built_at_two_widths_names_its_own_width() -> None:
    after = suggested(MIXED_WIDTHS)
    assert "layer_norm(self.act(self.fc(x)), (self.fc.out_features,))" in after
    assert stack_findings(after) == []


def test_no_suggestion_where_the_width_has_no_name_at_the_activation() -> None:
    source = MIXED_WIDTHS.replace(
        "return self.act(self.fc(x))", "h = self.fc(x)\n        return self.act(h)"
    )
    findings = stack_findings(source)
    assert findings
    assert all(f.fix is None for f in findings)


def test_the_structural_mode_gets_the_same_suggestion() -> None:
    from gradcheck_kit.config import Config

    source = FIXED["comprehension"][0]
    (finding,) = [f for f in lint_source(source, "m.py", Config(max_saturating_depth=3))]
    assert finding.fix is not None
    out, _ = apply_fixes(source, [finding.fix])
    assert not [f for f in lint_source(out, "m.py", Config(max_saturating_depth=3))]


def fix_pairs(code: str) -> list[tuple[str, str]]:
    """The (before, after) pairs of a rule page's "Fix" section, marker lines removed."""
    blocks = [b for b in code_blocks((RULES_DIR / f"{code}.md").read_text("utf-8"))]
    fix = [b.code for b in blocks if b.section == "Fix"]
    assert fix and len(fix) % 2 == 0, f"{code}.md: the Fix section holds before/after pairs"
    pairs = []
    for before, after in zip(fix[::2], fix[1::2], strict=True):
        assert before.startswith("# before\n") and after.startswith("# after\n")
        pairs.append((before.split("\n", 1)[1], after.split("\n", 1)[1]))
    return pairs


@pytest.mark.parametrize("code", STACK_RULES)
def test_the_rule_page_fix_section_is_what_the_suggestion_does(code: str) -> None:
    page = (RULES_DIR / f"{code}.md").read_text("utf-8")
    prose = page.split("## Fix", 1)[1].split("```", 1)[0]
    for words in ("--fix", "never", "--show-fixes", "display-only"):
        assert words in prose, f"{code}.md: the Fix prose does not say {words}"
    for before, after in fix_pairs(code):
        findings = [f for f in lint_source(before, f"rules/{code}.md") if f.code == code]
        assert findings and all(f.fix is not None for f in findings)
        out, _ = apply_fixes(before, [f.fix for f in findings if f.fix is not None])
        assert out == after
        assert code not in {f.code for f in lint_source(after, f"rules/{code}.md")}


SWAP_BASE = """import torch
import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self, depth=12):
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv1d(8, 8, 3, padding=1) for _ in range(depth))
        for conv in self.convs:
            nn.init.kaiming_uniform_(conv.weight, nonlinearity="relu")
        self.act = nn.Sigmoid()
        self.head = nn.Conv1d(8, 1, 1)

    def forward(self, x):
        for conv in self.convs:
            x = APPLY
        return self.head(x)
"""
SWAPPED = {
    "F.sigmoid(conv(x))": "x = F.relu(conv(x))",
    "torch.sigmoid(conv(x))": "x = F.relu(conv(x))",
    "torch.special.expit(conv(x))": "x = F.relu(conv(x))",
    "conv(x).sigmoid()": "x = conv(x).relu()",
    "self.act(conv(x))": "self.act = nn.ReLU()",
}


@pytest.mark.parametrize("apply", sorted(SWAPPED))
def test_without_a_width_the_swap_the_gain_model_backs(apply: str) -> None:
    """A He-initialised convolution stack: no LayerNorm width, and ReLU keeps gain 1 there."""
    source = SWAP_BASE.replace("APPLY", apply)
    (finding,) = stack_findings(source)
    assert finding.fix is not None and finding.fix.applicability == "display-only"
    assert finding.fix.message.startswith("Swap sigmoid for ReLU")
    after = suggested(source)
    assert parses(after) is None
    assert SWAPPED[apply] in after
    assert stack_findings(after) == []


def test_no_swap_where_the_gain_model_says_it_would_vanish_too() -> None:
    default = SWAP_BASE.replace("APPLY", "F.sigmoid(conv(x))").replace(
        '            nn.init.kaiming_uniform_(conv.weight, nonlinearity="relu")\n',
        "            pass\n",
    )
    findings = stack_findings(default)
    assert findings and all(f.fix is None for f in findings)  # ReLU keeps 0.41 there
    inplace = SWAP_BASE.replace("x = APPLY", "x = conv(x)\n            torch.sigmoid_(x)")
    assert all(f.fix is None for f in stack_findings(inplace))


PROJECTS = Path(__file__).resolve().parent.parent / "projects"


def test_a_layer_built_in_another_module_gets_no_edit_here() -> None:
    """The interpreter anchors what another module built at the call in this file that led into
    it (``GatedUnit(width)``): that call is not an activation to edit."""
    path = PROJECTS / "user_block_deep" / "net.py"
    findings = stack_findings(path.read_text("utf-8"), str(path))
    assert findings and all(f.fix is None for f in findings)


def test_an_imported_width_is_quoted_where_it_means_the_same() -> None:
    path = PROJECTS / "cycle_deep" / "pkg" / "model.py"
    source = path.read_text("utf-8")
    (finding,) = stack_findings(source, str(path))
    assert finding.fix is not None
    after, _ = apply_fixes(source, [finding.fix])
    assert (
        "    layers.append(nn.Sigmoid())\n            layers.append(nn.LayerNorm(HIDDEN))\n"
        in after
    )
