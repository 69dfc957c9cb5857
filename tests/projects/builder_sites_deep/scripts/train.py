from nets import make_mlp

model = make_mlp(2, 1, 64, 8)
