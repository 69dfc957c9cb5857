import torch
import torch.nn as nn


class LayerNorm(nn.Module):
    """Named like a normalization; its forward only rescales."""

    def __init__(self, width):
        super().__init__()
        self.gain = nn.Parameter(torch.ones(width))
        self.bias = nn.Parameter(torch.zeros(width))

    def forward(self, x):
        return x * self.gain + self.bias
