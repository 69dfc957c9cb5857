import torch.nn as nn


class MLP(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        mods = []
        for i in range(len(sizes) - 2):
            mods += [nn.Linear(sizes[i], sizes[i + 1]), nn.Sigmoid()]
        mods.append(nn.Linear(sizes[-2], sizes[-1]))
        self.network = nn.Sequential(*mods)

    def forward(self, x):
        return self.network(x)
