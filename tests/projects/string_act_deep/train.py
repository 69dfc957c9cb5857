from pkg import FNN

net = FNN([2] + [50] * 8 + [1], "sigmoid")
