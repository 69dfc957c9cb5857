from pinn import PINN
from settings import DEPTH, WIDTH


def main():
    return PINN(2, 1, WIDTH, DEPTH)
