from net import Solver

solver = Solver([2] + [50] * 8 + [1])
