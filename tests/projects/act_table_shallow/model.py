import torch.nn as nn
from utils import get_activation


class Policy(nn.Module):
    def __init__(self, width=64, depth=3, activation="sigmoid"):
        super().__init__()
        layers = []
        for _ in range(depth):
            layers += [nn.Linear(width, width), get_activation(activation)]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)
