import torch


class PINN(torch.nn.Module):
    def __init__(self, f_in, f_out, width, depth):
        super().__init__()
        self.depth = depth
        arch = [f_in] + [width] * (depth - 1) + [f_out]
        self.layers = torch.nn.ModuleList(
            [torch.nn.Linear(arch[d], arch[d + 1]) for d in range(depth)]
        )
        self.activation = torch.nn.Sigmoid()

    def forward(self, z):
        for d in range(0, self.depth - 1):
            z = self.activation(self.layers[d](z))
        return self.layers[-1](z)
