import torch
import torch.nn as nn


class DenseNet(nn.Module):
    """The Lightning-Hydra template's model component: its sizes come from the config."""

    def __init__(self, sizes, dropout=0.0):
        super().__init__()
        self.linears = nn.ModuleList(
            nn.Linear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1)
        )
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        for linear in self.linears[:-1]:
            x = self.dropout(torch.sigmoid(linear(x)))
        return self.linears[-1](x)
