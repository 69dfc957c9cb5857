import torch.nn as nn


def sigmoid_block(width):
    return nn.Sequential(nn.Linear(width, width), nn.Sigmoid())
