import torch.nn as nn

from ..blocks import sigmoid_block
from ..config import N_LAYERS


class DeepMLP(nn.Module):
    def __init__(self, n_layers=N_LAYERS):
        super().__init__()
        self.net = nn.Sequential(*[sigmoid_block(64) for _ in range(n_layers)])

    def forward(self, x):
        return self.net(x)
