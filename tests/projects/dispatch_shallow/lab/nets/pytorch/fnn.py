import torch

from .. import activations


class FNN(torch.nn.Module):
    def __init__(self, sizes, activation):
        super().__init__()
        self.activation = activations.get(activation)
        self.linears = torch.nn.ModuleList()
        for i in range(len(sizes) - 1):
            self.linears.append(torch.nn.Linear(sizes[i], sizes[i + 1]))

    def forward(self, x):
        for linear in self.linears[:-1]:
            x = self.activation(linear(x))
        return self.linears[-1](x)
