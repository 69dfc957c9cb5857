import torch.nn as nn

from lab.layers import SmoothUnit


class Tower(nn.Module):
    """Stacks the package's units; no activation is named in this file."""

    def __init__(self, width=32, depth=2):
        super().__init__()
        self.units = nn.Sequential(*[SmoothUnit(width) for _ in range(depth)])

    def forward(self, x):
        return self.units(x)
