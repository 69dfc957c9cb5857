import torch.nn as nn
from acts import ACTIVATIONS


class Tower(nn.Module):
    # act: "logistic" (a sigmoid), "smooth" or "swish"
    def __init__(self, width=16, depth=8, act="swish"):
        super().__init__()
        layers = []
        for _ in range(depth):
            layers += [nn.Linear(width, width), ACTIVATIONS[act]()]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)
