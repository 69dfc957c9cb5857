import torch.nn as nn


class Net(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        width = cfg["model"]["width"]
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(cfg["model"]["depth"]))
        self.act = nn.Sigmoid()

    def forward(self, x):
        for layer in self.layers:
            x = self.act(layer(x))
        return x
