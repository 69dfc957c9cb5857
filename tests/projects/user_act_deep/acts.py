import torch
import torch.nn as nn


class Logistic(nn.Module):
    """The logistic function, written out."""

    def forward(self, x):
        return 1 / (1 + torch.exp(-x))


class Smooth(nn.Module):
    def forward(self, x):
        e, inv = torch.exp(x), torch.exp(-x)
        return (e - inv) / (e + inv)


class Swish(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


ACTIVATIONS = {"logistic": Logistic, "smooth": Smooth, "swish": Swish}
