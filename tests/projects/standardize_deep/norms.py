import torch.nn as nn


class Standardize(nn.Module):
    """Divides by a spread but subtracts no mean: not a normalization."""

    def __init__(self, width):
        super().__init__()
        self.width = width

    def forward(self, x):
        return x / (x.std(dim=-1, keepdim=True) + 1e-6)
