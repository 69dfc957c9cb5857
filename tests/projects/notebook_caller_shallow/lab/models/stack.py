import torch.nn as nn


class SigmoidStack(nn.Module):
    def __init__(self, width, depth):
        super().__init__()
        blocks = []
        for _ in range(depth):
            blocks.append(nn.Linear(width, width))
            blocks.append(nn.Sigmoid())
        self.body = nn.Sequential(*blocks)
        self.head = nn.Linear(width, 1)

    def forward(self, x):
        return self.head(self.body(x))
