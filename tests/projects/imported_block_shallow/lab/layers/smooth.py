import torch
import torch.nn as nn


class SmoothUnit(nn.Module):
    """A linear map squashed into (0, 1)."""

    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)

    def forward(self, x):
        return torch.sigmoid(self.fc(x))
