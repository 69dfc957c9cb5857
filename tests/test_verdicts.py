"""runtime/verdict.py on small real torch models: each mechanism that fooled the checker on real
architectures (input scale against a normalization, zero-init weights, dropped paths, fused
recurrences, parameters owned by the root), and the messages and numbers it prints."""

from __future__ import annotations

import json
import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("hypothesis")

from torch import nn  # noqa: E402

import gradcheck_kit as gk  # noqa: E402
from gradcheck_kit import theory  # noqa: E402
from gradcheck_kit.report.gradients import FailureKind, GradientReport  # noqa: E402
from gradcheck_kit.runtime.check import run_example  # noqa: E402
from gradcheck_kit.runtime.strategies import Example  # noqa: E402
from gradcheck_kit.strategies import InputSpec  # noqa: E402


def check(factory, **kwargs):
    opts = {"seed": 0, "raise_on_failure": False, "max_examples": 4, **kwargs}
    return gk.check_gradients(factory, **opts)


def example(depth: int, shape, scale: float = 1.0, seed: int = 0) -> Example:
    return Example(
        depth, InputSpec(tuple(shape), scale, "normal", seed), seed, "cpu", torch.float32
    )


# --------------------------------------------------------------------------- models


class ConvBN(nn.Module):
    """A plain (no residual) conv + BN + ReLU stack: normalized, healthy at any input scale."""

    def __init__(self, depth: int, width: int = 16) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, width, 3, padding=1, bias=False)]
        for _ in range(depth):
            layers += [nn.BatchNorm2d(width), nn.ReLU(), nn.Conv2d(width, width, 3, padding=1)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, 10)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).mean((2, 3)))


class Block(nn.Module):
    def __init__(self, width: int, zero: bool) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, width)
        self.bn = nn.BatchNorm1d(width)
        self.fc2 = nn.Linear(width, width)
        self.bn2 = nn.BatchNorm1d(width)
        if zero:
            nn.init.zeros_(self.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.bn2(self.fc2(torch.relu(self.bn(self.fc1(x))))))


class ResMLP(nn.Module):
    def __init__(self, depth: int, zero: bool = True, width: int = 32) -> None:
        super().__init__()
        self.inp = nn.Linear(8, width)
        self.blocks = nn.Sequential(*(Block(width, zero) for _ in range(depth)))
        self.head = nn.Linear(width, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.inp(x)))


class TinyViT(nn.Module):
    """Root-owned class token and position embedding, Pre-LN blocks, zero-initialised head."""

    def __init__(self, depth: int, width: int = 32) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, width, 4, 4)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        self.pos = nn.Parameter(torch.randn(1, 17, width) * 0.02)
        layer = nn.TransformerEncoderLayer(
            width, 4, 2 * width, dropout=0.1, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, 10)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], 1) + self.pos
        return self.head(self.norm(self.encoder(x))[:, 0])


class DropPath(nn.Module):
    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.rand(x.shape[0], 1, device=x.device) >= self.p
        return x * keep / (1 - self.p)


class DropPathNet(nn.Module):
    """Residual branches that DropPath drops whole, with p = 0.9: most examples drop some."""

    def __init__(self, depth: int, width: int = 32) -> None:
        super().__init__()
        self.inp = nn.Linear(8, width)
        self.branches = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.GELU())
            for _ in range(depth)
        )
        self.drop = DropPath(0.9)
        self.head = nn.Linear(width, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)
        for branch in self.branches:
            h = h + self.drop(branch(h))
        return self.head(h)


class Detached(nn.Module):
    def __init__(self, depth: int) -> None:
        super().__init__()
        self.a = nn.Linear(8, 32)
        self.b = nn.Linear(32, 32)
        self.head = nn.Linear(32, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.b(torch.relu(self.a(x)).detach())))


class Saddle(nn.Module):
    """Two consecutive all-zero weights (and zero bias): no update ever moves them."""

    def __init__(self, depth: int) -> None:
        super().__init__()
        self.a = nn.Linear(8, 32)
        self.b = nn.Linear(32, 32)
        self.c = nn.Linear(32, 32)
        self.head = nn.Linear(32, 4)
        for lin in (self.b, self.c):
            nn.init.zeros_(lin.weight)
            nn.init.zeros_(lin.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.a(x))
        return self.head(torch.relu(self.c(torch.relu(self.b(h)))))


class ManyToOne(nn.Module):
    def __init__(
        self, cell: type[nn.RNNBase], batch_first: bool, bidirectional: bool, layers: int
    ) -> None:
        super().__init__()
        self.rnn = cell(
            8, 32, num_layers=layers, batch_first=batch_first, bidirectional=bidirectional
        )
        self.head = nn.Linear(32 * (2 if bidirectional else 1), 4)
        self.batch_first = batch_first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1] if self.batch_first else out[-1])


class PackedRNN(nn.Module):
    def __init__(self, depth: int) -> None:
        super().__init__()
        self.rnn = nn.RNN(8, 32, batch_first=True)
        self.head = nn.Linear(32, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lengths = torch.tensor([x.shape[1]] + [x.shape[1] - 3] * (x.shape[0] - 1))
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True)
        _, h = self.rnn(packed)
        return self.head(h[-1])


class LanguageModel(nn.Module):
    def __init__(self, depth: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 32)
        self.lstm = nn.LSTM(32, 32, num_layers=depth, batch_first=True)
        self.head = nn.Linear(32, 50)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.lstm(self.embed(ids))[0])


def relu_mlp(depth: int, weight_var: float) -> nn.Module:
    layers: list[nn.Module] = [nn.Linear(16, 64), nn.ReLU()]
    for _ in range(depth):
        layers += [nn.Linear(64, 64), nn.ReLU()]
    model = nn.Sequential(*layers, nn.Linear(64, 4))
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=math.sqrt(weight_var / m.in_features))
            nn.init.zeros_(m.bias)
    return model


# --------------------------------------------------------------------------- exploding


@pytest.mark.parametrize("exponent", [-2, -1, 0, 1, 2])
def test_a_normalized_net_passes_at_every_input_scale(exponent):
    outcome = run_example(ConvBN, example(6, (8, 3, 16, 16), scale=10.0**exponent))
    assert not outcome.failed, outcome.message
    # the raw ratio follows the scale (what fooled the old verdict); the scale-free one does not
    free = run_example(ConvBN, example(6, (8, 3, 16, 16))).scale_free_ratio
    assert outcome.scale_free_ratio == pytest.approx(free, rel=0.05)


def test_the_raw_ratio_of_a_normalized_net_follows_the_input_scale():
    small = run_example(ConvBN, example(6, (8, 3, 16, 16), scale=1e-3))
    unit = run_example(ConvBN, example(6, (8, 3, 16, 16), scale=1.0))
    assert small.ratio / unit.ratio == pytest.approx(1e3, rel=0.1)
    assert small.limits is not None and small.amplification > small.limits[1]
    assert not small.failed
    assert small.notes and "scale of the earliest activation" in small.notes[0]


@pytest.mark.parametrize("exponent", [-2, 0, 2])
def test_relu_with_weight_variance_2_5_explodes_at_every_input_scale(exponent):
    outcome = run_example(lambda d: relu_mlp(d, 2.5), example(40, (8, 16), scale=10.0**exponent))
    assert outcome.kind == FailureKind.EXPLODING, outcome.message
    assert "scale-free" not in outcome.message


def test_chaotic_tanh_explodes():
    def chaotic(depth: int) -> nn.Module:
        model = relu_mlp(depth, 6.0)
        return nn.Sequential(*(nn.Tanh() if isinstance(m, nn.ReLU) else m for m in model))

    report = check(chaotic, input_shape=(8, 16), depths=(16, 64), max_examples=6)
    assert report.failure is not None and report.failure.kind == FailureKind.EXPLODING


def test_batchnorm_rescues_a_sigmoid_stack_at_every_input_scale():
    """BatchNorm before each sigmoid divides the gradient by the small spread of the sigmoid's
    outputs, undoing its 1/4 (why Ioffe & Szegedy could train sigmoid nets with it): measured
    flat, at every input scale."""

    def bn_sigmoid(depth: int) -> nn.Module:
        layers: list[nn.Module] = [nn.Linear(16, 64)]
        for _ in range(depth):
            layers += [nn.BatchNorm1d(64), nn.Sigmoid(), nn.Linear(64, 64)]
        return nn.Sequential(*layers, nn.Linear(64, 4))

    for scale in (0.01, 1.0, 100.0):
        outcome = run_example(bn_sigmoid, example(12, (16, 16), scale=scale))
        assert not outcome.failed, (scale, outcome.message)
        assert outcome.scale_free_ratio is not None
        assert 0.3 < outcome.scale_free_ratio < 30


# --------------------------------------------------------------------------- dead


def test_zero_init_residual_branches_are_not_dead():
    report = check(ResMLP, input_shape=(16, 8), depths=(2, 8))
    assert report.passed, report.summary()
    assert any("zero by design" in note for note in report.notes)
    assert any("bn2.weight" in note for note in report.notes)


def test_the_same_net_without_zero_init_needs_no_note():
    report = check(lambda d: ResMLP(d, zero=False), input_shape=(16, 8), depths=(2, 8))
    assert report.passed, report.summary()
    assert not any("zero by design" in note for note in report.notes)


def test_a_vit_with_a_zero_head_and_a_root_class_token_passes():
    report = check(TinyViT, input_shape=(4, 3, 16, 16), depths=(1, 4))
    assert report.passed, report.summary()
    assert any("head.weight" in note for note in report.notes)
    # the root (which owns the class token) is measured, but the ratio ends at the head's input:
    # with the root as its end it would compare against the image, which has no gradient
    assert any(layer.type == "TinyViT" for layer in report.layers)
    assert report.ratio is not None and 1e-2 < report.ratio < 1e2


def test_dropped_paths_are_not_dead():
    report = check(DropPathNet, input_shape=(4, 8), depths=(2, 8), max_examples=8)
    assert report.passed, report.summary()


def test_dead_relus_stay_dead_and_say_why():
    def dead(depth: int) -> nn.Module:
        model = relu_mlp(depth, 2.0)
        nn.init.constant_(model[2 * (depth // 2)].bias, -1e4)
        return model

    report = check(dead, input_shape=(8, 16), depths=(4, 8))
    assert report.failure is not None and report.failure.kind == FailureKind.DEAD
    assert "inactive" in report.failure.message


def test_a_detached_path_is_dead():
    report = check(Detached, input_shape=(8, 8), depths=(1, 1))
    assert report.failure is not None and report.failure.kind == FailureKind.DEAD
    assert "cut" in report.failure.message and "'a'" in report.failure.message


def test_zero_weights_no_step_revives_are_dead():
    report = check(Saddle, input_shape=(8, 8), depths=(1, 1))
    assert report.failure is not None and report.failure.kind == FailureKind.DEAD
    assert "stay zero" in report.failure.message
    assert "b.weight" in report.failure.message


# --------------------------------------------------------------------------- through time


@pytest.mark.parametrize(
    ("cell", "batch_first", "bidirectional", "layers"),
    [
        (nn.RNN, True, False, 1),
        (nn.RNN, False, False, 1),
        (nn.RNN, True, True, 1),
        (nn.RNN, True, False, 3),
        (nn.GRU, False, True, 2),
    ],
)
def test_a_long_many_to_one_rnn_vanishes_through_time(cell, batch_first, bidirectional, layers):
    shape = (4, 128, 8) if batch_first else (128, 4, 8)
    report = check(
        lambda d: ManyToOne(cell, batch_first, bidirectional, layers),
        input_shape=shape,
        depths=(1, 1),
        max_examples=2,
    )
    if cell is nn.GRU:  # gated: its update gate keeps ~half the signal per step at init
        assert report.sequences and len(report.sequences[0].steps) == 128
        return
    assert report.failure is not None, report.summary()
    assert report.failure.kind == FailureKind.VANISHING
    assert "through time" in report.failure.message
    assert len(report.sequences) == 1 and len(report.sequences[0].steps) == 128


def test_a_packed_sequence_is_measured_per_step():
    outcome = run_example(PackedRNN, example(1, (4, 64, 8)))
    (seq,) = outcome.sequences
    assert len(seq.steps) == 64
    assert outcome.kind == FailureKind.VANISHING


def test_an_lstm_language_model_passes_through_time():
    report = check(
        LanguageModel,
        input_shape=(4, 32),
        input_dtype=torch.long,
        vocab_size=50,
        depths=(1, 4),
    )
    assert report.passed, report.summary()
    (seq,) = report.sequences
    assert seq.ratio is not None and seq.ratio > 0.05


def test_the_per_step_profile_survives_json():
    report = check(PackedRNN, input_shape=(4, 32, 8), depths=(1, 1), max_examples=1)
    data = json.loads(json.dumps(report.to_dict()))
    again = GradientReport.from_dict(data)
    assert again.sequences == report.sequences
    assert again.failure is not None and again.failure.kind is FailureKind.VANISHING
    assert "through time" in report.summary()


# --------------------------------------------------------------------------- honest numbers


def test_the_per_layer_figure_is_the_ratios_own_root():
    def tanh_mlp(depth: int) -> nn.Module:
        layers: list[nn.Module] = [nn.Linear(16, 32), nn.Tanh()]
        for _ in range(depth - 1):
            layers += [nn.Linear(32, 32), nn.Tanh()]
        return nn.Sequential(*layers, nn.Linear(32, 4))

    outcome = run_example(tanh_mlp, example(16, (8, 16)))
    assert outcome.kind == FailureKind.VANISHING
    figure = float(outcome.message.split("about x")[1].split()[0])
    assert figure == pytest.approx(outcome.ratio ** (1 / 16), rel=1e-2)
    assert "over 16 layers" in outcome.message
    # and it is the per-layer gain mean-field theory predicts for tanh at PyTorch's default init
    assert figure == pytest.approx(theory.layer_gain("tanh", fan_in=32).gain, rel=0.06)


def test_an_inferred_input_is_reported():
    report = gk.check_gradients(ConvBN, depths=(1, 2), max_examples=2, seed=0)
    assert any("inferred" in note and "input_shape" in note for note in report.notes)


def test_an_inferred_input_is_named_in_the_error_it_causes():
    class Strided(nn.Module):
        def __init__(self, depth: int) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            assert x.shape[-1] == 224, "this model wants 224x224 images"
            return self.conv(x)

    report = gk.check_gradients(
        Strided, depths=(1, 1), max_examples=1, seed=0, raise_on_failure=False
    )
    assert report.failure is not None and report.failure.kind == FailureKind.ERROR
    assert "was inferred" in report.failure.message


def test_the_users_batch_is_used_exactly():
    report = check(ConvBN, input_shape=(5, 3, 8, 8), depths=(1, 3), max_examples=6)
    assert report.example is not None and report.example["inputs"]["shape"][0] == 5


def test_batchnorm_over_too_few_values_gets_a_note():
    def bn_mlp(depth: int) -> nn.Module:
        return nn.Sequential(nn.Linear(16, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 4))

    report = check(bn_mlp, input_shape=(4, 16), depths=(1, 1), max_examples=1)
    assert any("batch statistics over 4 value" in note for note in report.notes)
    report = check(bn_mlp, input_shape=(16, 16), depths=(1, 1), max_examples=1)
    assert not any("batch statistics" in note for note in report.notes)


def test_failure_kinds_are_strings_in_json():
    assert FailureKind.DEAD == "dead" and f"{FailureKind.DEAD}" == "dead"
    assert json.dumps({"kind": FailureKind.VANISHING}) == '{"kind": "vanishing"}'
