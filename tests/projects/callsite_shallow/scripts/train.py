from nets import SigmoidMLP as Net


def main(width):
    return Net(width, depth=3)
