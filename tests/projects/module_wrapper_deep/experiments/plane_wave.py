from models.pinn import PINN


def run():
    return PINN([1, 64, 64, 64, 64, 64, 64, 64, 64, 1])
