"""The examples as pytest tests, through gradcheck-kit's pytest plugin.

Run with ``pytest examples/`` (the project's own suite lives in ``tests/``). The ``gradcheck``
fixture takes the arguments of ``gradcheck_kit.check_gradients`` and fails the test with the
per-layer gradient profile of the smallest failing example. The bad examples are marked
``xfail``: their failure is the point.
"""

import deep_sigmoid_mlp
import normalized_mlp
import pytest
import recurrent
import relu_init
import transformer
import yolo_backbone

pytestmark = pytest.mark.gradcheck(max_examples=12, seed=0)


@pytest.mark.parametrize(
    "factory",
    [normalized_mlp.make_batchnorm, normalized_mlp.make_layernorm, normalized_mlp.make_residual],
)
def test_normalized_and_residual_mlps_keep_their_gradient(gradcheck, factory):
    gradcheck(factory, depths=(2, 32))


def test_he_init_relu(gradcheck):
    gradcheck(relu_init.make_he_init, depths=(2, 32))


def test_lstm_over_time(gradcheck):
    gradcheck(recurrent.make_lstm, depths=(2, 32))


def test_yolo_style_backbone(gradcheck):
    gradcheck(yolo_backbone.make_backbone, depths=(1, 6))


def test_prenorm_transformer(gradcheck):
    gradcheck(
        transformer.make_encoder,
        depths=(1, 12),
        input_shape=(8, 16),
        input_dtype="long",
        vocab_size=1000,
    )


@pytest.mark.xfail(reason="the textbook vanishing gradient", strict=True)
def test_deep_sigmoid_mlp(gradcheck):
    gradcheck(deep_sigmoid_mlp.make_model, depths=(2, 32))


@pytest.mark.xfail(reason="PyTorch's default init shrinks ReLU stacks x0.41 per layer", strict=True)
def test_default_init_relu(gradcheck):
    gradcheck(relu_init.make_default_init, depths=(2, 32))


@pytest.mark.xfail(reason="a tanh RNN vanishes over time steps", strict=True)
def test_tanh_rnn_over_time(gradcheck):
    gradcheck(recurrent.make_rnn, depths=(2, 32))
