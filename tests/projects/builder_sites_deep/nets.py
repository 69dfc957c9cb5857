import torch.nn as nn


def make_mlp(in_dim, out_dim, hidden, depth, act=nn.Sigmoid):
    """A builder: the caller chooses the depth."""
    layers = [nn.Linear(in_dim, hidden), act()]
    for _ in range(depth - 1):
        layers += [nn.Linear(hidden, hidden), act()]
    layers.append(nn.Linear(hidden, out_dim))
    return nn.Sequential(*layers)
