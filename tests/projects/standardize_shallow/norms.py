import torch
import torch.nn as nn


class Standardize(nn.Module):
    def __init__(self, width, eps=1e-5):
        super().__init__()
        self.eps = eps

    def forward(self, x):
        var, mean = torch.var_mean(x, dim=-1, keepdim=True)
        return (x - mean) * torch.rsqrt(var + self.eps)
