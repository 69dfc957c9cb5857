import argparse

from model import GateNet

parser = argparse.ArgumentParser()
parser.add_argument("--n_layers", type=int, default=3)
parser.add_argument("--width", type=int, default=64)
args, _ = parser.parse_known_args()
net = GateNet(args.width, args.n_layers)
