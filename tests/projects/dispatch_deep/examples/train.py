import lab

net = lab.nets.FNN([2] + [50] * 8 + [1], "sigmoid")
