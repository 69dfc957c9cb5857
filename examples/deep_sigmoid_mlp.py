"""A deep sigmoid MLP: the textbook vanishing gradient (bad).

Every layer multiplies the backward signal by sigmoid'(x) <= 0.25, and nothing resets the
scale, so the gradient reaching the first layer shrinks geometrically with depth. The linter
flags it (GCK001) from the source alone; the runtime checker confirms it on the real model.
"""

import torch.nn as nn


class DeepSigmoidMLP(nn.Module):
    def __init__(self, in_features: int = 64, width: int = 64, depth: int = 8, classes: int = 10):
        super().__init__()
        layers = [nn.Linear(in_features, width), nn.Sigmoid()]
        for _ in range(depth - 1):
            layers += [nn.Linear(width, width), nn.Sigmoid()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, classes)

    def forward(self, x):
        return self.head(self.body(x))


def make_model(depth: int) -> nn.Module:
    return DeepSigmoidMLP(depth=depth)
