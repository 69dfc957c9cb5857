from pkg import FNN

net = FNN([2] + [50] * 3 + [1], "sigmoid")
