import argparse

from model import MLP


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--hidden", type=str, default="64,64,64,64,64,64,64")
    parser.add_argument("--in-dim", type=int, default=3)
    args = parser.parse_args()
    sizes = list(map(int, args.hidden.split(",")))
    sizes.insert(0, args.in_dim)
    sizes.append(1)
    return MLP(sizes)


if __name__ == "__main__":
    main()
