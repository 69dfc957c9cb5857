"""Real torch models for the runtime-checker tests (imported by tests/test_runtime_*.py and by
the CLI tests as a file target)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

IN, OUT = 16, 4


def _init(model: nn.Module, weight_var: float | None = None, he: bool = False) -> nn.Module:
    for m in model.modules():
        if isinstance(m, nn.Linear):
            if he:
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif weight_var is not None:
                nn.init.normal_(m.weight, std=math.sqrt(weight_var / m.in_features))
                nn.init.zeros_(m.bias)
    return model


def mlp(depth: int, act: type[nn.Module] = nn.Tanh, width: int = 32) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(IN, width), act()]
    for _ in range(depth - 1):
        layers += [nn.Linear(width, width), act()]
    layers.append(nn.Linear(width, OUT))
    return nn.Sequential(*layers)


def sigmoid_mlp(depth: int) -> nn.Module:
    return mlp(depth, nn.Sigmoid)


def tanh_mlp(depth: int) -> nn.Module:
    return mlp(depth, nn.Tanh)


def he_relu(depth: int) -> nn.Module:
    return _init(mlp(depth, nn.ReLU, width=64), he=True)


def exploding_relu(depth: int) -> nn.Module:
    """Weight variance 2.5/n: every layer multiplies the signal by sqrt(1.25) both ways."""
    return _init(mlp(depth, nn.ReLU, width=64), weight_var=2.5)


def big_linear(depth: int) -> nn.Module:
    """A linear stack with weight variance 4/n: x2 per layer."""
    return _init(mlp(depth, nn.Identity), weight_var=4.0)


class ResidualTanh(nn.Module):
    def __init__(self, depth: int, width: int = 32) -> None:
        super().__init__()
        self.inp = nn.Linear(IN, width)
        self.blocks = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        self.head = nn.Linear(width, OUT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)
        for block in self.blocks:
            h = h + torch.tanh(block(h))
        return self.head(h)


def residual_tanh(depth: int) -> nn.Module:
    return ResidualTanh(depth)


def layernorm_tanh(depth: int, width: int = 64) -> nn.Module:
    layers: list[nn.Module] = [nn.Linear(IN, width), nn.LayerNorm(width), nn.Tanh()]
    for _ in range(depth - 1):
        layers += [nn.Linear(width, width), nn.LayerNorm(width), nn.Tanh()]
    layers.append(nn.Linear(width, OUT))
    return nn.Sequential(*layers)


class LogOfNegatives(nn.Module):
    def __init__(self, depth: int) -> None:
        super().__init__()
        self.body = he_relu(depth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(-self.body(x).abs() - 1.0)


class SqrtAtZero(nn.Module):
    """Finite forward, infinite backward: d sqrt(x)/dx at x = 0."""

    def __init__(self, depth: int) -> None:
        super().__init__()
        self.body = he_relu(depth)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sqrt(torch.relu(self.body(x)) * 0.0)


def dead_relu(depth: int) -> nn.Module:
    model = he_relu(depth)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    nn.init.constant_(linears[len(linears) // 2 - 1].bias, -1e4)
    return model


class DictOut(nn.Module):
    def __init__(self, depth: int) -> None:
        super().__init__()
        self.trunk = he_relu(depth)
        self.aux = nn.Linear(OUT, 3)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.trunk(x)
        return {"logits": h, "aux": self.aux(h), "argmax": h.argmax(-1)}


@dataclass
class Output:
    logits: torch.Tensor
    hidden: torch.Tensor


class DataclassOut(nn.Module):
    def __init__(self, depth: int) -> None:
        super().__init__()
        self.trunk = he_relu(depth)

    def forward(self, x: torch.Tensor) -> Output:
        h = self.trunk(x)
        return Output(logits=h, hidden=h * 2)


class TokenModel(nn.Module):
    def __init__(self, depth: int, vocab: int = 50, width: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.Tanh())
            for _ in range(depth)
        )
        self.head = nn.Linear(width, vocab)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.embed(ids)
        for block in self.blocks:
            h = h + block(h)
        return self.head(h)


def token_model(depth: int) -> nn.Module:
    return TokenModel(depth)


def raises(depth: int) -> nn.Module:
    raise RuntimeError(f"cannot build depth {depth}")


def not_a_module(depth: int) -> object:
    return [depth]


class NoParams(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2


def no_params(depth: int) -> nn.Module:
    return NoParams()


class IntegerOut(nn.Module):
    def __init__(self, depth: int) -> None:
        super().__init__()
        self.lin = nn.Linear(IN, OUT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x).argmax(-1)


def integer_out(depth: int) -> nn.Module:
    return IntegerOut(depth)


def sets_default_dtype(depth: int) -> nn.Module:
    torch.set_default_dtype(torch.float64)
    return he_relu(depth).float()
