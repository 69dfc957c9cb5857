"""A zoo of real architectures at random init, written out here (no torchvision, timm or
downloads), each initialised the way its own library does it, small enough for a CPU test.

They reproduce the mechanisms that fool a gradient-flow checker: BatchNorm and LayerNorm that
rescale whatever comes in, zero-initialised residual branches and heads (a zero gradient that is
not a dead layer), LayerScale 1e-6 and per-sample stochastic depth, parameters owned by the root
module (ViT's class token), dense concatenation, gradients through time in recurrent nets, and
the broken cases (saturating stacks, chaotic init, dead units, a detached path).

``ZOO`` maps a name to a :class:`ZooEntry`: ``(factory, input_shape, depths, expected,
vocab_size)``; ``expected`` is ``"pass"`` or the failure kind a correct checker reports.
Used by ``tests/test_zoo.py`` and ``bench/zoo.py``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

Factory = Callable[[int], nn.Module]


class ZooEntry(NamedTuple):
    factory: Factory
    input_shape: tuple[int, ...]  # batch-first
    depths: tuple[int, int]  # inclusive
    expected: str  # "pass" | "vanishing" | "exploding" | "nonfinite" | "dead" | "error"
    vocab_size: int | None = None  # set: the input is token ids from range(vocab_size)


IMAGE = (16, 3, 32, 32)  # BatchNorm nets: the checker keeps batches >= 16 for them
IMAGE_LN = (8, 3, 32, 32)  # LayerNorm nets
CLASSES = 10


def _spread(depth: int, stages: int) -> list[int]:
    """``depth`` blocks over ``stages`` stages, at least one each, the extra ones first."""
    if depth < stages:
        raise ValueError(f"need depth >= {stages} (one block per stage), got {depth}")
    base, extra = divmod(depth, stages)
    return [base + (i < extra) for i in range(stages)]


# --------------------------------------------------------------------------- ResNet (torchvision)


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


def _conv1x1(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(
        self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = _conv1x1(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = _conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    """torchvision's ResNet (v1.5: the stride on the 3x3 conv), ``width`` stem channels
    (torchvision: 64)."""

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        layers: list[int],
        width: int = 16,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        stages = [
            self._stage(block, width * 2**i, n, stride=1 if i == 0 else 2)
            for i, n in enumerate(layers)
        ]
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(width * 8 * block.expansion, CLASSES)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    nn.init.zeros_(m.bn2.weight)

    def _stage(
        self, block: type[BasicBlock | Bottleneck], planes: int, blocks: int, stride: int
    ) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                _conv1x1(self.inplanes, planes * block.expansion, stride),
                nn.BatchNorm2d(planes * block.expansion),
            )
        layers: list[nn.Module] = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet_bottleneck(depth: int) -> nn.Module:
    """ResNet-50 style; ``depth`` bottleneck blocks over 4 stages (ResNet-50: 16)."""
    return ResNet(Bottleneck, _spread(depth, 4), width=8)


def resnet_bottleneck_zero_init(depth: int) -> nn.Module:
    """As above with ``zero_init_residual=True``: every branch's last BN scale is 0, so the
    gradient into that branch is exactly zero at init while the identity path carries it."""
    return ResNet(Bottleneck, _spread(depth, 4), width=8, zero_init_residual=True)


def resnet_basic_zero_init(depth: int) -> nn.Module:
    """ResNet-18 style (``depth`` basic blocks; ResNet-18: 8), ``zero_init_residual=True``."""
    return ResNet(BasicBlock, _spread(depth, 4), width=16, zero_init_residual=True)


# --------------------------------------------------------------------------- ViT (torchvision)


class MLPBlock(nn.Sequential):
    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim)
        )
        self.append(nn.Dropout(dropout))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.normal_(m.bias, std=1e-6)


class EncoderBlock(nn.Module):
    def __init__(self, heads: int, dim: int, mlp_dim: int, dropout: float) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.ln_2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = MLPBlock(dim, mlp_dim, dropout)

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        x = self.ln_1(inp)
        x, _ = self.self_attention(x, x, x, need_weights=False)
        x = self.dropout(x) + inp
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    """Owns ``pos_embedding`` directly, as torchvision's does."""

    def __init__(
        self, seq_length: int, depth: int, heads: int, dim: int, mlp_dim: int, dropout: float
    ) -> None:
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, seq_length, dim).normal_(std=0.02))
        self.dropout = nn.Dropout(dropout)
        self.layers = nn.Sequential(
            *(EncoderBlock(heads, dim, mlp_dim, dropout) for _ in range(depth))
        )
        self.ln = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln(self.layers(self.dropout(x + self.pos_embedding)))


class VisionTransformer(nn.Module):
    """torchvision's VisionTransformer: the root owns ``class_token``, the encoder
    ``pos_embedding``; the head is all zeros. Dropout 0.1 as in the ViT paper (torchvision's
    default is 0)."""

    def __init__(
        self,
        depth: int,
        image_size: int = 32,
        patch_size: int = 4,
        dim: int = 32,
        heads: int = 4,
        mlp_dim: int = 64,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.patch_size, self.dim = patch_size, dim
        self.conv_proj = proj = nn.Conv2d(3, dim, patch_size, stride=patch_size)
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        seq_length = (image_size // patch_size) ** 2 + 1
        self.encoder = Encoder(seq_length, depth, heads, dim, mlp_dim, dropout)
        head = nn.Linear(dim, CLASSES)
        self.heads = nn.Sequential(OrderedDict(head=head))
        nn.init.trunc_normal_(proj.weight, std=math.sqrt(1 / (3 * patch_size * patch_size)))
        if proj.bias is not None:
            nn.init.zeros_(proj.bias)
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        x = self.conv_proj(x).reshape(n, self.dim, -1).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1)
        return self.heads(self.encoder(x)[:, 0])


def vit(depth: int) -> nn.Module:
    return VisionTransformer(depth)


# --------------------------------------------------------------------------- ConvNeXt (torchvision)


class LayerNorm2d(nn.LayerNorm):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Permute(nn.Module):
    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.permute(x, self.dims)


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth, "row" mode: drops the branch for whole samples."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        noise = torch.empty([x.shape[0]] + [1] * (x.ndim - 1), dtype=x.dtype, device=x.device)
        return x * noise.bernoulli_(keep).div_(keep)


class CNBlock(nn.Module):
    """Owns ``layer_scale`` (1e-6 at init) directly, as torchvision's does."""

    def __init__(self, dim: int, layer_scale: float, drop: float) -> None:
        super().__init__()
        self.block = nn.Sequential(
            nn.Conv2d(dim, dim, 7, padding=3, groups=dim),
            Permute([0, 2, 3, 1]),
            nn.LayerNorm(dim, eps=1e-6),
            nn.Linear(dim, 4 * dim),
            nn.GELU(),
            nn.Linear(4 * dim, dim),
            Permute([0, 3, 1, 2]),
        )
        self.layer_scale = nn.Parameter(torch.ones(dim, 1, 1) * layer_scale)
        self.stochastic_depth = StochasticDepth(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.stochastic_depth(self.layer_scale * self.block(x)) + x


class ConvNeXt(nn.Module):
    def __init__(
        self,
        blocks: list[int],
        dims: tuple[int, ...] = (16, 32, 64, 128),
        drop_path: float = 0.2,
        layer_scale: float = 1e-6,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Sequential(nn.Conv2d(3, dims[0], 4, stride=4), LayerNorm2d(dims[0], eps=1e-6))
        ]
        total, index = sum(blocks), 0
        for i, n in enumerate(blocks):
            stage = []
            for _ in range(n):  # drop probability rises linearly from 0 to drop_path
                stage.append(CNBlock(dims[i], layer_scale, drop_path * index / max(1, total - 1)))
                index += 1
            layers.append(nn.Sequential(*stage))
            if i + 1 < len(blocks):
                layers.append(
                    nn.Sequential(
                        LayerNorm2d(dims[i], eps=1e-6), nn.Conv2d(dims[i], dims[i + 1], 2, stride=2)
                    )
                )
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            LayerNorm2d(dims[-1], eps=1e-6), nn.Flatten(1), nn.Linear(dims[-1], CLASSES)
        )
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.avgpool(self.features(x)))


def convnext(depth: int) -> nn.Module:
    """``depth`` blocks over 4 stages (ConvNeXt-T: 18), drop path rising to 0.2."""
    return ConvNeXt(_spread(depth, 4))


def convnext_drop_half(depth: int) -> nn.Module:
    """Drop path rising to 0.5, as ConvNeXt-B's: on a small batch, whole branches are dropped
    for every sample, so their layers get exactly zero gradient in that step (not dead)."""
    return ConvNeXt(_spread(depth, 4), drop_path=0.5)


# --------------------------------------------------------------------------- EfficientNet-Lite


class SqueezeExcitation(nn.Module):
    """EfficientNet's SE: SiLU inside, a sigmoid gate. (With a ReLU inside and 4 squeeze units,
    every unit is off for the whole batch in ~1% of blocks at init: a truly dead layer.)"""

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = nn.SiLU()
        self.scale_activation = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = self.fc2(self.activation(self.fc1(self.avgpool(x))))
        return x * self.scale_activation(scale)


def _conv_bn(
    cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1, act: bool = True
) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    """Inverted residual: expand 1x1, depthwise kxk, squeeze-excitation, project 1x1."""

    def __init__(self, cin: int, cout: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        mid = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers.append(_conv_bn(cin, mid, 1))
        layers += [
            _conv_bn(mid, mid, kernel, stride, groups=mid),
            SqueezeExcitation(mid, max(1, cin // 4)),
            _conv_bn(mid, cout, 1, act=False),
        ]
        self.block = nn.Sequential(*layers)
        self.use_res = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return out + x if self.use_res else out


class EfficientNetLite(nn.Module):
    # (expand ratio, kernel, stride, channels) of each stage's first block
    STAGES = ((1, 3, 1, 16), (6, 3, 2, 24), (6, 5, 2, 40), (6, 3, 2, 64))

    def __init__(self, blocks: list[int], stem: int = 16, last: int = 128) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv_bn(3, stem, 3, stride=2)]
        cin = stem
        for (expand, kernel, stride, cout), n in zip(self.STAGES, blocks, strict=True):
            for j in range(n):
                layers.append(MBConv(cin, cout, expand, kernel, stride if j == 0 else 1))
                cin = cout
        layers.append(_conv_bn(cin, last, 1))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, CLASSES))
        for m in self.modules():  # torchvision's EfficientNet init
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def efficientnet_lite(depth: int) -> nn.Module:
    """``depth`` MBConv blocks over 4 stages: ReLU6 (as EfficientNet-Lite) but with EfficientNet's
    squeeze-excitation, which Lite drops."""
    return EfficientNetLite(_spread(depth, 4))


# --------------------------------------------------------------------------- DenseNet (torchvision)


class DenseLayer(nn.Module):
    def __init__(self, cin: int, growth: int, bn_size: int) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        x = self.conv1(self.relu1(self.norm1(torch.cat(features, 1))))
        return self.conv2(self.relu2(self.norm2(x)))


class DenseBlock(nn.ModuleDict):
    def __init__(self, layers: int, cin: int, growth: int, bn_size: int) -> None:
        super().__init__()
        for i in range(layers):
            self.add_module(f"denselayer{i + 1}", DenseLayer(cin + i * growth, growth, bn_size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return torch.cat(features, 1)


class DenseNet(nn.Module):
    def __init__(
        self, blocks: list[int], growth: int = 8, init: int = 16, bn_size: int = 4
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Conv2d(3, init, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(init),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        ]
        channels = init
        for i, n in enumerate(blocks):
            layers.append(DenseBlock(n, channels, growth, bn_size))
            channels += n * growth
            if i + 1 < len(blocks):  # transition: BN-ReLU-conv1x1 halving, avgpool
                layers += [
                    nn.BatchNorm2d(channels),
                    nn.ReLU(inplace=True),
                    nn.Conv2d(channels, channels // 2, 1, bias=False),
                    nn.AvgPool2d(2, stride=2),
                ]
                channels //= 2
        layers += [nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, CLASSES)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


def densenet(depth: int) -> nn.Module:
    """``depth`` dense layers over 3 blocks."""
    return DenseNet(_spread(depth, 3))


# --------------------------------------------------------------------------- transformer encoders

SEQ, FEATURES, D_MODEL = 16, 16, 32


class Encoders(nn.Module):
    """Linear input projection, ``nn.TransformerEncoder`` (batch first), a per-token head."""

    def __init__(self, depth: int, norm_first: bool) -> None:
        super().__init__()
        self.proj = nn.Linear(FEATURES, D_MODEL)
        layer = nn.TransformerEncoderLayer(
            D_MODEL, 4, dim_feedforward=2 * D_MODEL, batch_first=True, norm_first=norm_first
        )
        final = nn.LayerNorm(D_MODEL) if norm_first else None
        self.encoder = nn.TransformerEncoder(layer, depth, norm=final, enable_nested_tensor=False)
        self.head = nn.Linear(D_MODEL, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(self.proj(x)))


def pre_ln_encoder(depth: int) -> nn.Module:
    return Encoders(depth, norm_first=True)


def post_ln_encoder(depth: int) -> nn.Module:
    return Encoders(depth, norm_first=False)


# --------------------------------------------------------------------------- recurrent nets

VOCAB, TOKENS, HIDDEN = 100, 32, 32


class LSTMLanguageModel(nn.Module):
    """pytorch/examples word_language_model: embedding, LSTM, a decoder over every step."""

    def __init__(self, layers: int, dropout: float = 0.2) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(VOCAB, HIDDEN)
        self.rnn = nn.LSTM(
            HIDDEN, HIDDEN, layers, dropout=dropout if layers > 1 else 0.0, batch_first=True
        )
        self.decoder = nn.Linear(HIDDEN, VOCAB)
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.drop(self.encoder(ids)))
        return self.decoder(self.drop(out))


def lstm_lm(depth: int) -> nn.Module:
    return LSTMLanguageModel(depth)


class GRUTagger(nn.Module):
    """Bidirectional GRU tagger: a tag for every token (PyTorch default init)."""

    def __init__(self, layers: int, tags: int = 12) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, HIDDEN)
        self.rnn = nn.GRU(HIDDEN, HIDDEN, layers, batch_first=True, bidirectional=True)
        self.head = nn.Linear(2 * HIDDEN, tags)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(self.embed(ids))[0])


def gru_tagger(depth: int) -> nn.Module:
    return GRUTagger(depth)


STEPS = 128


class ManyToOne(nn.Module):
    """tanh ``nn.RNN`` over a long sequence, logits from the last step only: the gradient
    reaching the early steps decays through time (x ~0.6 a step at PyTorch's default init)."""

    def __init__(self, layers: int, batch_first: bool = True, bidirectional: bool = False) -> None:
        super().__init__()
        self.batch_first = batch_first
        self.rnn = nn.RNN(
            FEATURES, HIDDEN, layers, batch_first=batch_first, bidirectional=bidirectional
        )
        self.head = nn.Linear(HIDDEN * (2 if bidirectional else 1), CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (batch, time, features)
        if not self.batch_first:
            out = self.rnn(x.transpose(0, 1))[0][-1]
        else:
            out = self.rnn(x)[0][:, -1]
        return self.head(out)


def rnn_many_to_one(depth: int) -> nn.Module:
    return ManyToOne(depth)


def rnn_many_to_one_time_first(depth: int) -> nn.Module:
    return ManyToOne(depth, batch_first=False)


def rnn_many_to_one_bidirectional(depth: int) -> nn.Module:
    return ManyToOne(depth, bidirectional=True)


# --------------------------------------------------------------------------- MLPs

IN, WIDTH = 32, 64


def _mlp(depth: int, act: Callable[[], nn.Module], width: int = WIDTH) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Linear(IN, width), act()]
    for _ in range(depth - 1):
        layers += [nn.Linear(width, width), act()]
    layers.append(nn.Linear(width, CLASSES))
    return nn.Sequential(*layers)


def _init_linear(model: nn.Module, weight_var: float) -> nn.Module:
    """Weights N(0, weight_var / fan_in), biases zero."""
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=math.sqrt(weight_var / m.in_features))
            nn.init.zeros_(m.bias)
    return model


def he_relu_mlp(depth: int) -> nn.Module:
    return _init_linear(_mlp(depth, nn.ReLU), 2.0)


def sigmoid_mlp(depth: int) -> nn.Module:
    return _mlp(depth, nn.Sigmoid)


def tanh_mlp(depth: int) -> nn.Module:
    return _mlp(depth, nn.Tanh)


def softsign_mlp(depth: int) -> nn.Module:
    return _mlp(depth, nn.Softsign)


def hardsigmoid_mlp(depth: int) -> nn.Module:
    return _mlp(depth, nn.Hardsigmoid)


def chaotic_tanh_mlp(depth: int) -> nn.Module:
    """Weight variance 4/fan_in: the chaotic phase of a tanh net, x ~1.2 a layer backwards (the
    forward pass stays bounded, so it takes depth ~70 to cross the limit at every input scale)."""
    return _init_linear(_mlp(depth, nn.Tanh, width=128), 4.0)


def exploding_relu_mlp(depth: int) -> nn.Module:
    """Weight variance 2.5/fan_in: x sqrt(1.25) a layer, forward and backward."""
    return _init_linear(_mlp(depth, nn.ReLU, width=128), 2.5)


def dead_relu_mlp(depth: int) -> nn.Module:
    """He-initialised, but the middle layer's bias is -100: every unit after it is off."""
    model = he_relu_mlp(depth)
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    nn.init.constant_(linears[len(linears) // 2].bias, -100.0)
    return model


class Detached(nn.Module):
    """A He-ReLU MLP whose forward detaches the activations halfway: nothing before it learns."""

    def __init__(self, depth: int) -> None:
        super().__init__()
        self.net = _mlp(depth, nn.ReLU)
        _init_linear(self.net, 2.0)
        self.cut = 2 * max(1, depth // 2)  # index of the first Linear after the cut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.net):
            x = layer(x.detach() if i == self.cut else x)
        return x


def detached_mlp(depth: int) -> nn.Module:
    return Detached(depth)


# --------------------------------------------------------------------------- Hugging Face transformers


class TokensToHidden(nn.Module):
    """A transformers model as ``forward(ids) -> last hidden state`` (a floating tensor)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=ids).last_hidden_state  # type: ignore[no-any-return]


def bert(depth: int) -> nn.Module:
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=depth,
        num_attention_heads=4,
        intermediate_size=2 * HIDDEN,
        max_position_embeddings=TOKENS,
    )
    return TokensToHidden(BertModel(config, add_pooling_layer=False))


def gpt2(depth: int) -> nn.Module:
    from transformers import GPT2Config, GPT2Model

    config = GPT2Config(
        vocab_size=VOCAB,
        n_positions=TOKENS,
        n_embd=HIDDEN,
        n_layer=depth,
        n_head=4,
        bos_token_id=0,
        eos_token_id=0,
    )
    return TokensToHidden(GPT2Model(config))


def distilbert(depth: int) -> nn.Module:
    from transformers import DistilBertConfig, DistilBertModel

    config = DistilBertConfig(
        vocab_size=VOCAB,
        max_position_embeddings=TOKENS,
        dim=HIDDEN,
        n_layers=depth,
        n_heads=4,
        hidden_dim=2 * HIDDEN,
    )
    return TokensToHidden(DistilBertModel(config))


# --------------------------------------------------------------------------- the registry

SEQUENCE = (8, SEQ, FEATURES)
LONG_SEQUENCE = (8, STEPS, FEATURES)
VECTORS = (16, IN)

ZOO: dict[str, ZooEntry] = {
    # healthy
    "resnet_bottleneck": ZooEntry(resnet_bottleneck, IMAGE, (4, 16), "pass"),
    "resnet_bottleneck_zero_init": ZooEntry(resnet_bottleneck_zero_init, IMAGE, (4, 16), "pass"),
    "resnet_basic_zero_init": ZooEntry(resnet_basic_zero_init, IMAGE, (4, 12), "pass"),
    "vit": ZooEntry(vit, IMAGE_LN, (2, 12), "pass"),
    "convnext": ZooEntry(convnext, IMAGE_LN, (4, 18), "pass"),
    "convnext_drop_half": ZooEntry(convnext_drop_half, (2, 3, 32, 32), (8, 18), "pass"),
    "efficientnet_lite": ZooEntry(efficientnet_lite, IMAGE, (4, 16), "pass"),
    "densenet": ZooEntry(densenet, IMAGE, (3, 24), "pass"),
    "pre_ln_encoder": ZooEntry(pre_ln_encoder, SEQUENCE, (2, 12), "pass"),
    "post_ln_encoder": ZooEntry(post_ln_encoder, SEQUENCE, (2, 12), "pass"),
    "lstm_lm": ZooEntry(lstm_lm, (8, TOKENS), (1, 4), "pass", VOCAB),
    "gru_tagger": ZooEntry(gru_tagger, (8, TOKENS), (1, 3), "pass", VOCAB),
    "he_relu_mlp": ZooEntry(he_relu_mlp, VECTORS, (2, 48), "pass"),
    # broken
    "sigmoid_mlp": ZooEntry(sigmoid_mlp, VECTORS, (16, 32), "vanishing"),
    "tanh_mlp": ZooEntry(tanh_mlp, VECTORS, (16, 32), "vanishing"),
    "softsign_mlp": ZooEntry(softsign_mlp, VECTORS, (16, 32), "vanishing"),
    "hardsigmoid_mlp": ZooEntry(hardsigmoid_mlp, VECTORS, (16, 32), "vanishing"),
    "rnn_many_to_one": ZooEntry(rnn_many_to_one, LONG_SEQUENCE, (1, 1), "vanishing"),
    "rnn_many_to_one_time_first": ZooEntry(
        rnn_many_to_one_time_first, LONG_SEQUENCE, (1, 1), "vanishing"
    ),
    "rnn_many_to_one_bidirectional": ZooEntry(
        rnn_many_to_one_bidirectional, LONG_SEQUENCE, (1, 1), "vanishing"
    ),
    "rnn_many_to_one_stacked": ZooEntry(rnn_many_to_one, LONG_SEQUENCE, (2, 3), "vanishing"),
    "chaotic_tanh_mlp": ZooEntry(chaotic_tanh_mlp, VECTORS, (72, 96), "exploding"),
    "exploding_relu_mlp": ZooEntry(exploding_relu_mlp, VECTORS, (48, 64), "exploding"),
    "dead_relu_mlp": ZooEntry(dead_relu_mlp, VECTORS, (4, 16), "dead"),
    "detached_mlp": ZooEntry(detached_mlp, VECTORS, (4, 16), "dead"),
}

HEALTHY = tuple(name for name, entry in ZOO.items() if entry.expected == "pass")
BROKEN = tuple(name for name, entry in ZOO.items() if entry.expected != "pass")

#: A BatchNorm or LayerNorm right after the stem: the function (nearly) ignores the input scale,
#: so the verdict must not depend on it either.
NORMALIZED = (
    "resnet_bottleneck",
    "resnet_bottleneck_zero_init",
    "resnet_basic_zero_init",
    "convnext",
    "efficientnet_lite",
    "densenet",
)

#: Nets with BatchNorm: the checker keeps their batch >= 16 (``inputs=`` must do the same).
BATCHNORM = frozenset(
    {
        "resnet_bottleneck",
        "resnet_bottleneck_zero_init",
        "resnet_basic_zero_init",
        "efficientnet_lite",
        "densenet",
    }
)

#: Tiny configs of real transformers models (random init by their own ``_init_weights``); the
#: factories import ``transformers`` when called.
TRANSFORMERS_ZOO: dict[str, ZooEntry] = {
    "bert": ZooEntry(bert, (8, TOKENS), (1, 6), "pass", VOCAB),
    "gpt2": ZooEntry(gpt2, (8, TOKENS), (1, 6), "pass", VOCAB),
    "distilbert": ZooEntry(distilbert, (8, TOKENS), (1, 6), "pass", VOCAB),
}
