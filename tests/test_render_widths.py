"""Every rendering at widths 60, 80, 120 and piped (no terminal): numbers and verdicts are never
cut, names fold but are never cut (issue 22 item 4). Real reports of real models, no mocks."""

from __future__ import annotations

import io

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("hypothesis")
from rich.console import Console  # noqa: E402
from torch import nn  # noqa: E402

from gradcheck_kit import check_gradients  # noqa: E402
from gradcheck_kit.report.audit import AuditReport  # noqa: E402
from gradcheck_kit.report.checks import CheckOutcome  # noqa: E402
from gradcheck_kit.report.findings import LintResult  # noqa: E402
from gradcheck_kit.report.gradient_console import gradient_flow_table  # noqa: E402
from gradcheck_kit.report.gradients import fmt  # noqa: E402
from gradcheck_kit.runtime.sweep import sweep  # noqa: E402

WIDTHS = (60, 80, 120)
TEST_ID = "tests/test_models.py::test_deep_sigmoid_mlp_vanishes_at_depth[float32-cpu]"


def sigmoid_mlp(depth: int) -> nn.Module:
    return nn.Sequential(*[m for _ in range(depth) for m in (nn.Linear(16, 16), nn.Sigmoid())])


class ManyToOne(nn.Module):
    def __init__(self, depth: int) -> None:
        super().__init__()
        self.recurrent_encoder = nn.RNN(8, 32, batch_first=True)
        self.head = nn.Linear(32, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.recurrent_encoder(x)
        return self.head(out[:, -1])


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner_bottleneck_projection_convolution = nn.Conv2d(8, 8, 3, padding=1)
        self.inner_normalisation_after_projection = nn.BatchNorm2d(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        conv = self.inner_bottleneck_projection_convolution(x)
        return x + torch.relu(self.inner_normalisation_after_projection(conv))


class ResNetLike(nn.Module):
    def __init__(self, depth: int) -> None:
        super().__init__()
        self.stem_convolution_with_long_name = nn.Conv2d(3, 8, 3, padding=1)
        self.residual_stage_with_a_very_long_descriptive_name = nn.Sequential(
            *[Block() for _ in range(depth)]
        )
        self.classifier_head_linear_projection = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem_convolution_with_long_name(x)
        h = self.residual_stage_with_a_very_long_descriptive_name(h)
        return self.classifier_head_linear_projection(h.mean((2, 3)))


@pytest.fixture(scope="module")
def reports():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        common = {"raise_on_failure": False, "seed": 0}
        mlp = check_gradients(
            sigmoid_mlp, depths=(2, 8), input_shape=(4, 16), max_examples=6, **common
        )
        rnn = check_gradients(
            ManyToOne, depths=(1, 1), input_shape=(2, 64, 8), max_examples=2, **common
        )
        res = check_gradients(
            ResNetLike, depths=(2, 3), input_shape=(2, 3, 6, 6), max_examples=2, **common
        )
    finally:
        torch.set_num_threads(before)
    assert not mlp.passed and not rnn.passed and res.passed
    assert rnn.sequences, "the RNN fails through time"
    return mlp, rnn, res


def render(obj: object, width: int) -> str:
    console = Console(file=io.StringIO(), width=width, force_terminal=False)
    console.print(obj)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert all(len(line) <= width for line in text.splitlines())
    return text


def folded_in(word: str, text: str) -> bool:
    """``word`` is in ``text``, whole or folded: pieces at the same column of following lines."""
    lines = text.splitlines()

    def rest_at(i: int, x: int, rest: str) -> bool:
        if i >= len(lines):
            return False
        line = lines[i]
        for k in range(len(rest), 0, -1):
            if line.startswith(rest[:k], x) and (k == len(rest) or rest_at(i + 1, x, rest[k:])):
                return True
        return False

    return any(rest_at(i, x, word) for i, line in enumerate(lines) for x in range(len(line)))


def assert_layers(report, text: str) -> None:
    failure = report.failure
    layers = failure.layers if failure and failure.layers else report.layers
    for layer in layers:
        assert fmt(layer.grad_rms) in text
        assert fmt(layer.param_grad_rms) in text
        assert folded_in(layer.name, text), layer.name
    assert "…" not in text


@pytest.mark.parametrize("width", WIDTHS)
def test_gradient_reports(reports, width: int) -> None:
    for report in reports:
        text = render(report, width)
        assert_layers(report, text)
        for seq in report.sequences:
            assert folded_in(seq.name, text)
            for *_, value in seq.buckets(16):
                assert fmt(value) in text
        if report.failure is not None:
            assert report.failure.kind in text
        for note in report.notes:
            for word in note.split():
                assert word in text


@pytest.mark.parametrize("width", WIDTHS)
def test_gradient_flow_summary(reports, width: int) -> None:
    entries = [(f"{TEST_ID}{i}", r) for i, r in enumerate(reports)]
    for compact in (True, False):
        text = render(gradient_flow_table(entries, compact=compact), width)
        for i, report in enumerate(reports):
            assert folded_in(f"{TEST_ID}{i}", text)
            assert folded_in(report.target, text)
            ratio = report.failure.ratio if report.failure else report.ratio
            assert fmt(ratio) in text
            if report.failure is not None:
                assert f"{report.failure.kind} at depth {report.failure.depth}" in text
        assert "…" not in text


@pytest.mark.parametrize("width", WIDTHS)
def test_audit_report(reports, width: int) -> None:
    checks = [
        CheckOutcome(
            target=f"models/deep_networks_zoo.py:make_{r.target.split(':')[1]}",
            report=r,
            model=r.target.split(":")[1],
        )
        for r in reports
    ]
    audit = AuditReport(lint=LintResult(findings=[], errors=[], files_checked=1), checks=checks)
    text = render(audit, width)
    for check in checks:
        assert folded_in(check.target, text)
        assert check.verdict in text
        report = check.report
        value = report.failure.ratio if report.failure else report.ratio
        assert f"{value:.2e}" in text
    for report in reports:
        if not report.passed:
            assert_layers(report, text)


@pytest.mark.parametrize("width", WIDTHS)
def test_sweep_report(width: int) -> None:
    torch.set_num_threads(1)
    report = sweep(sigmoid_mlp, depths=[2, 4, 6], seeds=2, input_shape=(4, 16))
    text = render(report, width)
    for curve in report.curves:
        for p in curve.points:
            for value in (p.median, p.low, p.high):
                assert fmt(value) in text
    assert "┃ min..max of 2 seeds" in text
    assert "…" not in text
    if report.theory is not None:
        assert f"{report.theory.predicted:.4g}" in text


def test_plural() -> None:
    from gradcheck_kit.report.console import LintSummary

    text = render(LintSummary(LintResult(findings=[], errors=[], files_checked=1)), 80)
    assert "1 file checked" in text


LONG = (
    "models/a_very_long_module_path/deep_networks_zoo.py:make_a_deep_sigmoid_mlp_with_a_long_name"
)


@pytest.mark.parametrize("width", WIDTHS)
def test_long_targets_are_never_cut(reports, width: int) -> None:
    """A verdict panel names its model in the title where it fits, else on its first line."""
    from dataclasses import replace

    for report in reports:
        text = render(replace(report, target=LONG), width)
        assert folded_in(LONG, text), text[:400]
        assert "…" not in text
    swept = sweep(sigmoid_mlp, depths=[2, 4, 6], seeds=1, input_shape=(4, 16), name=LONG)
    assert folded_in(LONG, render(swept, width))
