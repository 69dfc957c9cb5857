import argparse

from model import GateNet


def get_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-layers", type=int, default="8")  # argparse applies type=
    parser.add_argument("--width", type=int, default=64)
    return parser.parse_args()


def main(args):
    return GateNet(args.width, n_layers=args.n_layers)


if __name__ == "__main__":
    main(get_args())
