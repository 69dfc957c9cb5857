import torch
import torch.nn as nn


class QuadraticBlock(nn.Module):
    """QRes-style: a product of two squashed projections plus one of them."""

    def __init__(self, width):
        super().__init__()
        self.a = nn.Linear(width, width)
        self.b = nn.Linear(width, width)

    def forward(self, x):
        x1 = torch.sigmoid(self.a(x))
        x2 = torch.sigmoid(self.b(x))
        return x1 * x2 + x1
