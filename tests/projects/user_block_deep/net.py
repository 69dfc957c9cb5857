import torch.nn as nn
from blocks import GatedUnit


class SigmoidTower(nn.Module):
    def __init__(self, width=16, depth=8):
        super().__init__()
        self.units = nn.ModuleList([GatedUnit(width) for _ in range(depth)])

    def forward(self, x):
        for unit in self.units:
            x = unit(x)
        return x
