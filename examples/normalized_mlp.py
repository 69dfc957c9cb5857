"""The same deep sigmoid/tanh MLPs, fixed three ways (good).

* BatchNorm before each sigmoid re-centres and re-scales the pre-activations;
* LayerNorm does the same per example;
* residual connections give the gradient an identity path around every tanh.

The linter has nothing to report here, and the runtime checker measures a flat gradient profile.
"""

import torch
import torch.nn as nn


class BatchNormSigmoidMLP(nn.Module):
    def __init__(self, in_features: int = 64, width: int = 64, depth: int = 8):
        super().__init__()
        layers = [nn.Linear(in_features, width)]
        for _ in range(depth):
            layers += [nn.BatchNorm1d(width), nn.Sigmoid(), nn.Linear(width, width)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class LayerNormTanhMLP(nn.Module):
    def __init__(self, in_features: int = 64, width: int = 64, depth: int = 8):
        super().__init__()
        self.inp = nn.Linear(in_features, width)
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(depth))

    def forward(self, x):
        x = self.inp(x)
        for layer, norm in zip(self.layers, self.norms):
            x = torch.tanh(norm(layer(x)))
        return x


class ResidualTanhMLP(nn.Module):
    def __init__(self, in_features: int = 64, width: int = 64, depth: int = 8):
        super().__init__()
        self.inp = nn.Linear(in_features, width)
        self.blocks = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))

    def forward(self, x):
        x = self.inp(x)
        for block in self.blocks:
            x = x + torch.tanh(block(x))
        return x


def make_batchnorm(depth: int) -> nn.Module:
    return BatchNormSigmoidMLP(depth=depth)


def make_layernorm(depth: int) -> nn.Module:
    return LayerNormTanhMLP(depth=depth)


def make_residual(depth: int) -> nn.Module:
    return ResidualTanhMLP(depth=depth)
