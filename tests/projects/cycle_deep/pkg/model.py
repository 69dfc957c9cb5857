import torch.nn as nn

from pkg.common import HIDDEN, LAYER_COUNT

WIDTH = 16


class CycleNet(nn.Module):
    def __init__(self, depth=LAYER_COUNT):
        super().__init__()
        layers = []
        for _ in range(depth):
            layers.append(nn.Linear(HIDDEN, HIDDEN))
            layers.append(nn.Sigmoid())
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)
