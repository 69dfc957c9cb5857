import torch.nn as nn

from .utils import get_activation

__all__ = ["FNN"]


class FNN(nn.Module):
    """Layer sizes and the activation's name come from the caller."""

    def __init__(self, layers, activation):
        super().__init__()
        self.linears = nn.ModuleList(
            [nn.Linear(layers[i], layers[i + 1]) for i in range(len(layers) - 1)]
        )
        self.act = get_activation(activation)

    def forward(self, x):
        for linear in self.linears[:-1]:
            x = self.act(linear(x))
        return self.linears[-1](x)
