import torch.nn as nn


class SigmoidMLP(nn.Module):
    def __init__(self, width, n_layers):
        super().__init__()
        layers = []
        for _ in range(n_layers):
            layers += [nn.Linear(width, width), nn.Sigmoid()]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)
