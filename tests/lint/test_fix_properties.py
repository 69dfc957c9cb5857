"""Property: on generated training steps (plain or AMP, accumulation, nested loops, the clip
missing, before the backward, after the step or in place, the optimizer built here or passed
in), every GCK004/GCK007 fix applies, the result parses, the finding it fixes is gone and no new
GCK007 appears; a fixed file is stable (a second ``--fix`` finds nothing more to fix)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcheck_kit.lint.engine import lint_source
from gradcheck_kit.lint.fixes import apply_fixes, parses

QUICK = settings(
    max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)
LONG = settings(
    max_examples=500, deadline=None, database=None, suppress_health_check=list(HealthCheck)
)

CLIPS = ("torch.nn.utils.clip_grad_norm_", "nn.utils.clip_grad_norm_", "clip_grad_norm_")


@st.composite
def training_step(draw: st.DrawFn) -> str:
    clip = draw(st.sampled_from(CLIPS))
    amp = draw(st.booleans())
    accumulate = draw(st.booleans())
    built = draw(st.booleans())  # the optimizer is built here (else passed in)
    where = draw(st.sampled_from(["none", "before", "after", "right"]))
    unscaled = amp and draw(st.booleans())
    nested = draw(st.booleans())
    opt = draw(st.sampled_from(["opt", "optimizer", "self.optimizer"]))
    model = "self.model" if opt.startswith("self.") else draw(st.sampled_from(["model", "net"]))
    lines = [
        "import torch",
        "import torch.nn as nn",
        "from torch.nn.utils import clip_grad_norm_",
        "",
        "",
    ]
    method = opt.startswith("self.")
    if method:
        lines += ["class Trainer:", "    def __init__(self, model):", "        self.model = model"]
        lines += [f"        self.optimizer = torch.optim.Adam({model}.parameters())", ""]
        lines += ["    def fit(self, loader, accum=2):"]
        pad = "        "
    else:
        params = f"{model}, loader" + ("" if built else f", {opt}") + ", accum=2"
        lines += [f"def fit({params}):"]
        pad = "    "
        if built:
            lines += [f"{pad}{opt} = torch.optim.SGD({model}.parameters(), lr=0.1)"]
    lines += [f"{pad}rnn = nn.LSTM(4, 8)"]
    if amp:
        lines += [f'{pad}scaler = torch.amp.GradScaler("cuda")']
    if nested:
        lines += [f"{pad}for epoch in range(3):"]
        pad += "    "
    lines += [f"{pad}for i, (x, y) in enumerate(loader):"]
    pad += "    "
    call = f"{clip}({model}.parameters(), 1.0)"
    if where == "before":
        lines += [f"{pad}{call}"]
    lines += [f"{pad}loss = ({model}(x) - y).pow(2).mean()"]
    lines += [f"{pad}scaler.scale(loss).backward()" if amp else f"{pad}loss.backward()"]
    inner = pad
    if accumulate:
        lines += [f"{pad}if (i + 1) % accum == 0:"]
        inner = pad + "    "
    if unscaled:
        lines += [f"{inner}scaler.unscale_({opt})"]
    if where == "right":
        lines += [f"{inner}{call}"]
    if amp:
        lines += [f"{inner}scaler.step({opt})", f"{inner}scaler.update()"]
    else:
        lines += [f"{inner}{opt}.step()"]
    lines += [f"{inner}{opt}.zero_grad()"]
    if where == "after":
        lines += [f"{pad}{call}"]
    return "\n".join(lines) + "\n"


def count(text: str, code: str) -> int:
    return sum(f.code == code for f in lint_source(text, "train.py"))


def check_fixes(text: str) -> None:
    for code in ("GCK004", "GCK007"):
        findings = [f for f in lint_source(text, "train.py") if f.code == code]
        fixes = [f.fix for f in findings if f.fix is not None]
        if not fixes:
            continue
        before7 = count(text, "GCK007")
        out, applied = apply_fixes(text, fixes)
        assert applied
        assert parses(out) is None, out
        left = [f for f in lint_source(out, "train.py") if f.code == code]
        assert len(left) <= len(findings) - len(applied), out
        assert count(out, "GCK007") <= before7 - (len(applied) if code == "GCK007" else 0), out
        # idempotent: what is left has no fix that the first pass would have applied
        again = [f.fix for f in left if f.fix is not None]
        if again:
            second, _ = apply_fixes(out, again)
            assert parses(second) is None


@QUICK
@given(training_step())
def test_training_step_fixes_quick(text: str) -> None:
    check_fixes(text)


@pytest.mark.slow
@LONG
@given(training_step())
def test_training_step_fixes_long(text: str) -> None:
    check_fixes(text)
