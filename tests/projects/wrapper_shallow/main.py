from net import Solver

solver = Solver([2] + [50] * 3 + [1])
