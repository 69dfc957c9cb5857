import torch.nn as nn


class SquashStack(nn.Module):
    def __init__(self, width, depth):
        super().__init__()
        blocks = []
        for _ in range(depth):
            blocks += [nn.Linear(width, width), nn.Sigmoid()]
        self.blocks = nn.Sequential(*blocks)
        self.out = nn.Linear(width, 1)

    def forward(self, x):
        return self.out(self.blocks(x))
