import torch
import torch.nn as nn


class GatedUnit(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)

    def forward(self, x):
        return torch.sigmoid(self.fc(x))
