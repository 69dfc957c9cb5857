from .. import activations


class FNN:
    def __init__(self, sizes, activation):
        self.sizes = sizes
        self.activation = activations.get(activation)

    def __call__(self, x):
        for _ in self.sizes[1:-1]:
            x = self.activation(x)
        return x
