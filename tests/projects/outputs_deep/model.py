import torch.nn as nn
from layers import mlp


class AutoEncoder(nn.Module):
    def __init__(self, width=32):
        super().__init__()
        self.encoder = mlp(width, 5, nn.Sigmoid)
        self.decoder = mlp(width, 3, nn.Sigmoid)

    def forward(self, x):
        encoded = self.encoder(x)
        decoded = self.decoder(encoded)
        return encoded, decoded
