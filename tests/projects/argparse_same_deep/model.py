import argparse

import torch.nn as nn


class PolicyNet(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        layers = []
        for h in hidden:
            layers += [nn.LazyLinear(h), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--hidden", default="128,128,128,128,128,128,128,128")
    args = parser.parse_args()
    policy = PolicyNet([int(h) for h in args.hidden.split(",")])
