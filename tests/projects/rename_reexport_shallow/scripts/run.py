import lab
from lab import Net as Model


def build():
    return Model(32, depth=3)


backup = lab.Net(32, depth=2)
