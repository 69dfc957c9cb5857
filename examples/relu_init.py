"""A plain ReLU MLP at PyTorch's default init versus He (Kaiming) init.

ReLU does not saturate, so this file has nothing for the linter to flag - yet PyTorch's default
``nn.Linear`` init (weights uniform with variance 1/(3 fan_in)) makes the backward signal shrink
by about x0.41 per layer through a ReLU stack, because a ReLU halves the variance and the default
init does not make up for it (He et al., 2015 choose variance 2/fan_in for exactly this). The
runtime checker measures it: see the README's table for the minimal failing depth and the flow
ratio at depth 32 of both variants. He init keeps the per-layer multiplier at ~1.0.
"""

import torch.nn as nn


def relu_mlp(depth: int, width: int = 128, he: bool = False) -> nn.Sequential:
    layers = [nn.Linear(64, width), nn.ReLU()]
    for _ in range(depth - 1):
        layers += [nn.Linear(width, width), nn.ReLU()]
    layers.append(nn.Linear(width, 10))
    model = nn.Sequential(*layers)
    if he:
        for module in model.modules():
            if isinstance(module, nn.Linear):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)
    return model


def make_default_init(depth: int) -> nn.Module:
    return relu_mlp(depth)


def make_he_init(depth: int) -> nn.Module:
    return relu_mlp(depth, he=True)
