import argparse

from builders import get_model

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="mlp")
parser.add_argument("--width", type=int, default=32)
parser.add_argument("--layers", type=int, default=8)
parser.add_argument("--activation", default="Sigmoid")
args = parser.parse_args()
model = get_model("cpu", args)
