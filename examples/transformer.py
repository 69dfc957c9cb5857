"""A small pre-norm transformer encoder over token ids (good).

Every sub-layer sits on a residual path behind a LayerNorm (``norm_first=True``), the layout of
GPT-2 and most modern encoders: the residual stream carries the gradient from the head to the
embedding at any depth. ``depth`` is the number of encoder layers; inputs are token ids.
"""

import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, depth: int = 4, vocab: int = 1000, d_model: int = 64, heads: int = 4):
        super().__init__()
        self.embed = nn.Embedding(vocab, d_model)
        layer = nn.TransformerEncoderLayer(
            d_model,
            heads,
            dim_feedforward=4 * d_model,
            dropout=0.0,
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab)

    def forward(self, tokens):
        return self.head(self.norm(self.encoder(self.embed(tokens))))


def make_encoder(depth: int) -> nn.Module:
    return Encoder(depth=depth)
