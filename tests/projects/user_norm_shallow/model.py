import torch
import torch.nn as nn
from norms import LayerNorm


class Tower(nn.Module):
    def __init__(self, width=16, depth=8):
        super().__init__()
        self.fcs = nn.ModuleList([nn.Linear(width, width) for _ in range(depth)])
        self.norms = nn.ModuleList([LayerNorm(width) for _ in range(depth)])

    def forward(self, x):
        for fc, norm in zip(self.fcs, self.norms):
            x = torch.sigmoid(norm(fc(x)))
        return x
