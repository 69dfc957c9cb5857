import torch
import torch.nn as nn


class GateNet(nn.Module):
    def __init__(self, width, n_layers):
        super().__init__()
        self.hidden = nn.ModuleList([nn.Linear(width, width) for _ in range(n_layers)])
        self.out = nn.Linear(width, 1)

    def forward(self, x):
        for layer in self.hidden:
            x = torch.sigmoid(layer(x))
        return self.out(x)
