import torch.nn as nn

ACTS = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "relu": nn.ReLU}


def get_activation(name):
    return ACTS[name]()
