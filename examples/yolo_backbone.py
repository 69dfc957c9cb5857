"""A YOLO-style backbone: Conv-BatchNorm-SiLU everywhere, residual bottlenecks (good).

The building block of the YOLO family (``Conv`` = Conv2d + BatchNorm2d + SiLU) normalizes every
layer and uses a non-saturating activation, and the bottlenecks add their input back, so the
gradient reaches the stem unattenuated at any depth. ``depth`` is the number of bottlenecks per
stage.
"""

import torch.nn as nn


class Conv(nn.Module):
    def __init__(self, c_in: int, c_out: int, k: int = 3, s: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, s, k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.cv1 = Conv(c, c, 1)
        self.cv2 = Conv(c, c, 3)

    def forward(self, x):
        return x + self.cv2(self.cv1(x))


class Backbone(nn.Module):
    def __init__(self, depth: int = 3, width: int = 16, classes: int = 10):
        super().__init__()
        self.stem = Conv(3, width, 3, 2)
        stages = []
        for i in range(2):
            c = width * 2**i
            stages.append(Conv(c, 2 * c, 3, 2))
            stages.extend(Bottleneck(2 * c) for _ in range(depth))
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, classes)
        )

    def forward(self, x):
        return self.head(self.stages(self.stem(x)))


def make_backbone(depth: int) -> nn.Module:
    return Backbone(depth=depth)
