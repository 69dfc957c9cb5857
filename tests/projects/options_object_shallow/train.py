import argparse

from model import TanhMLP


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=64)
    parser.add_argument("--depth", type=int, default=3)
    args = parser.parse_args()
    return TanhMLP(args)


if __name__ == "__main__":
    main()
