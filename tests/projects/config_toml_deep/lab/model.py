import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, sizes, act=nn.Sigmoid):
        super().__init__()
        layers = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):  # noqa: RUF007 (as model code writes it)
            layers += [nn.Linear(n_in, n_out), act()]
        self.net = nn.Sequential(*layers)
        self.head = nn.Linear(sizes[-1], 10)

    def forward(self, x):
        return self.head(self.net(x))
