import torch.nn as nn


class SigmoidNet(nn.Module):
    def __init__(self, cfg, in_dim=2):
        super().__init__()
        blocks = [nn.Linear(in_dim, cfg.hidden)]
        for _ in range(cfg.n_layers):
            blocks += [nn.Sigmoid(), nn.Linear(cfg.hidden, cfg.hidden)]
        self.body = nn.Sequential(*blocks)

    def forward(self, x):
        return self.body(x)
