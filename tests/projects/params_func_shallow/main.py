from parameters import params
from pinn import PINN


def main():
    f_in, f_out, width, depth = params()
    return PINN(f_in, f_out, width, depth)
