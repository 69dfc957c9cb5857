import torch
import torch.nn as nn


class FNN(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        self.linears = nn.ModuleList(
            nn.Linear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1)
        )

    def forward(self, x):
        for linear in self.linears[:-1]:
            x = torch.sigmoid(linear(x))
        return self.linears[-1](x)
