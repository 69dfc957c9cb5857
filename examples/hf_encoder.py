"""A Hugging Face ``transformers`` BERT encoder built from a config, at random init (no weights
are downloaded): ``num_hidden_layers`` is the depth.

BERT is post-norm (LayerNorm after each residual addition), the layout whose gradient is known to
be harder to keep even at depth than pre-norm's (Xiong et al., 2020). The check needs the
``transformers`` package; without it ``gradcheck-kit audit`` reports it as skipped.
"""

from transformers import BertConfig, BertModel


def make_bert_encoder(depth: int):
    config = BertConfig(
        vocab_size=1000,
        hidden_size=64,
        num_hidden_layers=depth,
        num_attention_heads=4,
        intermediate_size=256,
        max_position_embeddings=64,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    return BertModel(config, add_pooling_layer=False)
