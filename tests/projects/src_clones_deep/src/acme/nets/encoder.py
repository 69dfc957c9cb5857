import torch.nn as nn
from acme.nets.layers import get_clones


class EncoderLayer(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.act = nn.Sigmoid()

    def forward(self, x):
        return self.act(self.fc(x))


class Encoder(nn.Module):
    def __init__(self, width=32):
        super().__init__()
        self.layers = get_clones(EncoderLayer(width), 8)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x
