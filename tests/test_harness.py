"""runtime/harness.py: what a check leaves behind, and the modules it runs in eval mode."""

from __future__ import annotations

import random

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("hypothesis")

from torch import nn  # noqa: E402

import gradcheck_kit as gk  # noqa: E402
from gradcheck_kit.runtime.harness import stochastic_modules_off  # noqa: E402


def meddling(depth: int) -> nn.Module:
    """A factory that changes every piece of global state it can reach."""
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.set_anomaly_enabled(True)
    torch.set_default_dtype(torch.float64)
    random.seed(1234)
    return nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2)).float()


def test_a_check_restores_the_global_state_a_factory_changes():
    random.seed(7)
    expected = random.random()
    random.seed(7)
    torch.manual_seed(3)
    torch_expected = torch.rand(2)
    torch.manual_seed(3)
    report = gk.check_gradients(meddling, input_shape=(4, 8), depths=(1, 2), max_examples=3, seed=0)
    assert report.passed, report.summary()
    assert not torch.are_deterministic_algorithms_enabled()
    assert not torch.is_deterministic_algorithms_warn_only_enabled()
    assert not torch.is_anomaly_enabled()
    assert torch.get_default_dtype() == torch.float32
    assert random.random() == expected
    assert torch.equal(torch.rand(2), torch_expected)


class Custom(nn.Module):
    pass


class DropPath(nn.Module):
    pass


def test_stochastic_modules_run_in_eval_mode_and_come_back():
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), DropPath(), Custom(), nn.BatchNorm1d(4))
    model[2].train(False)  # one already in eval mode stays there
    with stochastic_modules_off(model) as count:
        assert count == 2
        assert not model[1].training and not model[2].training
        assert model[3].training and model[4].training  # BatchNorm keeps its batch statistics
    assert model[1].training and not model[2].training


class SparseEmbedding(nn.Module):
    def __init__(self, depth: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 16, sparse=True)
        self.head = nn.Linear(16, 4)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(ids))


class ComplexWeights(nn.Module):
    def __init__(self, depth: int) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(8, 8, dtype=torch.cfloat) / 8**0.5)
        self.head = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head((x.to(torch.cfloat) @ self.w).abs())


def test_sparse_embedding_gradients_are_measured():
    report = gk.check_gradients(
        SparseEmbedding,
        input_shape=(4, 8),
        input_dtype=torch.long,
        vocab_size=50,
        depths=(1, 1),
        max_examples=2,
        seed=0,
        raise_on_failure=False,
    )
    assert report.passed, report.summary()
    embed = report.layers[0]
    assert embed.type == "Embedding" and embed.param_grad_rms and embed.param_grad_rms > 0


def test_complex_parameters_keep_their_dtype_and_are_measured():
    report = gk.check_gradients(
        ComplexWeights,
        input_shape=(4, 8),
        depths=(1, 1),
        max_examples=2,
        seed=0,
        raise_on_failure=False,
    )
    assert report.failure is None, report.summary()
    assert report.layers and report.layers[0].param_grad_rms
