import torch.nn as nn
from blocks import QuadraticBlock


class QRes(nn.Module):
    """A binary classifier: QRes blocks, then a sigmoid output."""

    def __init__(self, width=16, depth=7):
        super().__init__()
        self.blocks = nn.Sequential(*[QuadraticBlock(width) for _ in range(depth)])
        self.head = nn.Sequential(nn.Linear(width, 1), nn.Sigmoid())

    def forward(self, x):
        return self.head(self.blocks(x))
