import torch.nn as nn


class TanhMLP(nn.Module):
    """Its sizes come from the parsed options it is given (``args.width``, ``args.depth``)."""

    def __init__(self, args):
        super().__init__()
        layers = []
        for _ in range(args.depth):
            layers += [nn.Linear(args.width, args.width), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)
