import argparse

import nets

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=1e-3)


def main():
    args = parser.parse_args()
    model = nets.SigmoidMLP(64, depth=8)
    return model, args.lr


small = nets.SigmoidMLP(64, 2)  # a probe model: shallower, not the one that decides
