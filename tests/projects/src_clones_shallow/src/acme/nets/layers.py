import copy

import torch.nn as nn


def get_clones(module, n):
    return nn.ModuleList([copy.deepcopy(module) for _ in range(n)])
