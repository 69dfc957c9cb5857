import torch.nn as nn


class Network(nn.Module):
    def __init__(self, n_neurons, n_layers):
        super().__init__()
        self.hidden = nn.ModuleList([nn.Linear(n_neurons, n_neurons) for _ in range(n_layers)])
        self.activation = nn.Sigmoid()

    def forward(self, x):
        for linear in self.hidden:
            x = self.activation(linear(x))
        return x


class Solver:
    def __init__(self, n_neurons=64, n_layers=2):
        self.net = Network(n_neurons, n_layers)
