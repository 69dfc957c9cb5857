def sigmoid(x):
    return x


def relu(x):
    return x
