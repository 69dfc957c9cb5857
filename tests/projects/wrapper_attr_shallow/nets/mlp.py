import torch.nn as nn


class MLP(nn.Module):
    def __init__(self, width, depth, act):
        super().__init__()
        layers = []
        for _ in range(depth):
            layers += [nn.Linear(width, width), getattr(nn, act)()]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)
