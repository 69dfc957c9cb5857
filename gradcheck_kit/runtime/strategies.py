"""Internal: the whole example one property run needs, as one Hypothesis strategy.

An :class:`Example` is everything that decides a run: depth, the input recipe (or the user's
drawn arguments), the weight-init seed, device and dtype. Replaying it gives the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from hypothesis import strategies as st
from torch import nn

from gradcheck_kit.runtime.devices import dtype_name
from gradcheck_kit.strategies import InputSpec, depths, float_inputs, token_inputs


@dataclass(frozen=True)
class Example:
    depth: int
    inputs: Any  # InputSpec, or whatever the user's inputs strategy drew
    init_seed: int
    device: str
    dtype: torch.dtype

    def with_target(self, device: str, dtype: torch.dtype) -> Example:
        return Example(self.depth, self.inputs, self.init_seed, device, dtype)

    def materialized(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The forward's (args, kwargs) for this example, on its device and dtype."""
        return materialize(self.inputs, self.device, self.dtype)

    def describe_input(self) -> str:
        if isinstance(self.inputs, InputSpec):
            return self.inputs.describe()
        return _describe_value(self.inputs)

    def to_dict(self) -> dict[str, Any]:
        if isinstance(self.inputs, InputSpec):
            inputs: Any = self.inputs.to_dict()
        else:
            inputs = _describe_value(self.inputs)
        return {
            "depth": self.depth,
            "init_seed": self.init_seed,
            "device": self.device,
            "dtype": dtype_name(self.dtype),
            "inputs": inputs,
        }


def _describe_value(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor {tuple(value.shape)} {dtype_name(value.dtype)}"
    if isinstance(value, InputSpec):
        return value.describe()
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_describe_value(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_describe_value(v)}" for k, v in value.items()) + "}"
    return repr(value)


def materialize(
    value: Any, device: str, dtype: torch.dtype
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The forward's (args, kwargs): a dict means keyword arguments, a tuple or list positional
    ones, anything else one positional argument. Floating tensors take the run's dtype."""

    def convert(v: Any) -> Any:
        if isinstance(v, InputSpec):
            return v.make(device, dtype)
        if isinstance(v, torch.Tensor):
            if v.is_floating_point():
                return v.detach().to(device=device, dtype=dtype)
            return v.to(device=device)
        if isinstance(v, (list, tuple)) and not hasattr(v, "_fields"):
            return type(v)(convert(x) for x in v)
        if isinstance(v, dict):
            return {k: convert(x) for k, x in v.items()}
        return v

    if isinstance(value, dict):
        return (), {str(k): convert(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return tuple(convert(v) for v in value), {}
    return (convert(value),), {}


def depth_strategy(spec: Any) -> tuple[st.SearchStrategy[int], tuple[int, int] | None]:
    if isinstance(spec, st.SearchStrategy):
        return spec, None
    if isinstance(spec, int):
        return depths(spec, spec), (spec, spec)
    try:
        lo, hi = (int(v) for v in spec)
    except (TypeError, ValueError):
        raise ValueError(
            f"depths must be (lo, hi) or a Hypothesis strategy of ints, got {spec!r}"
        ) from None
    return depths(lo, hi), (lo, hi)


_NORMS = tuple(c for c in (nn.LayerNorm, getattr(nn, "RMSNorm", None)) if c is not None)


def infer_input(model: nn.Module, batch: int = 16) -> tuple[tuple[int, ...], int | None]:
    """A plausible input for a model nobody described: from the first layer with parameters.
    Returns (shape, vocab_size); vocab_size set means token ids."""
    for module in model.modules():
        if isinstance(module, nn.Embedding):
            return (batch, 16), module.num_embeddings
        if isinstance(module, nn.EmbeddingBag):
            return (batch, 16), module.num_embeddings
        if isinstance(module, nn.MultiheadAttention):  # attention wants a sequence
            return (batch, 16, module.embed_dim), None
        if isinstance(module, nn.Linear):
            return (batch, module.in_features), None
        if isinstance(module, nn.Bilinear):
            break
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            dims = {nn.Conv1d: 1, nn.Conv2d: 2, nn.Conv3d: 3}[type(module)]
            side = {1: 64, 2: 32, 3: 8}[dims]  # 32: what a net that downsamples 5x needs
            return (batch, module.in_channels, *([side] * dims)), None
        if isinstance(module, (nn.RNN, nn.LSTM, nn.GRU)):
            if module.batch_first:
                return (batch, 8, module.input_size), None
            raise ValueError(
                "cannot infer the input of a sequence-first recurrent model: pass input_shape "
                "(the first dimension is drawn as the batch) or inputs="
            )
        if isinstance(module, _NORMS):
            shape = tuple(module.normalized_shape)
            return (batch, *shape), None
        if isinstance(module, (nn.BatchNorm1d,)):
            return (batch, module.num_features), None
    raise ValueError(
        "cannot infer the model's input: pass input_shape=(batch, features, ...) "
        "(CLI: --input-shape 16,64), or inputs= a Hypothesis strategy of the forward's arguments"
    )


def input_strategy(
    inputs: Any,
    input_shape: Any,
    input_dtype: torch.dtype | None,
    vocab_size: int | None,
    min_batch: int | None = None,
) -> st.SearchStrategy[Any]:
    if inputs is not None:
        if not isinstance(inputs, st.SearchStrategy):
            raise ValueError("inputs must be a Hypothesis strategy (see gradcheck_kit.strategies)")
        return inputs
    shape = tuple(int(s) for s in input_shape)
    tokens = input_dtype is not None and not input_dtype.is_floating_point
    if tokens or vocab_size is not None:
        if vocab_size is None:
            raise ValueError(
                f"input_dtype={input_dtype} means token ids: pass vocab_size "
                "(CLI: --vocab-size N) so they are drawn from range(vocab_size)"
            )
        return token_inputs(shape, vocab_size, dtype=input_dtype, min_batch=min_batch)
    return float_inputs(shape, min_batch=min_batch)


def example_strategy(
    depth: st.SearchStrategy[int],
    inputs: st.SearchStrategy[Any],
    devices: list[str],
    dtypes: list[torch.dtype],
) -> st.SearchStrategy[Example]:
    return st.builds(
        Example,
        depth,
        inputs,
        st.integers(0, 2**31 - 1),
        st.sampled_from(devices),
        st.sampled_from(dtypes),
    )


def inverse_width_sum(widths: list[int | None]) -> float:
    return math.fsum(1.0 / w for w in widths if w)
