"""A PINN as research code writes it: the network, and a plain (non-Module) solver class that
builds it from the layer sizes its caller passes."""

from collections import OrderedDict

import torch


class DNN(torch.nn.Module):
    def __init__(self, layers, activation):
        super().__init__()
        depth = len(layers) - 1
        act = torch.nn.Sigmoid if activation == "sigmoid" else torch.nn.ReLU
        pairs = []
        for i in range(depth - 1):
            pairs.append(("layer_%d" % i, torch.nn.Linear(layers[i], layers[i + 1])))
            pairs.append(("activation_%d" % i, act()))
        pairs.append(("layer_%d" % (depth - 1), torch.nn.Linear(layers[-2], layers[-1])))
        self.layers = torch.nn.Sequential(OrderedDict(pairs))

    def forward(self, x):
        return self.layers(x)


class Solver:
    def __init__(self, layers, activation="sigmoid", lr=1e-3):
        self.dnn = DNN(layers, activation)
        self.lr = lr
