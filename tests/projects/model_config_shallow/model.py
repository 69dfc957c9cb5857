import torch
import torch.nn as nn
import yaml

cfg = yaml.safe_load(open("configs/model.yaml"))  # noqa: SIM115
n_layers = cfg["model"]["n_layers"]


class Net(nn.Module):
    def __init__(self, width=32):
        super().__init__()
        self.hidden = nn.ModuleList([nn.Linear(width, width) for _ in range(n_layers)])
        self.out = nn.Linear(width, 1)

    def forward(self, x):
        for layer in self.hidden:
            x = torch.sigmoid(layer(x))
        return self.out(x)
