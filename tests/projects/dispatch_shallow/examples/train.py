import lab

net = lab.nets.FNN([2] + [50] * 3 + [1], "sigmoid")
