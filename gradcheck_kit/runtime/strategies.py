"""Hypothesis strategies for gradient checks: the public building blocks (re-exported by
:mod:`gradcheck_kit.strategies`) and the internal strategy of a whole example.

Input strategies draw a small *recipe* (:class:`InputSpec`: batch size, scale, distribution,
seed), not the tensor itself: drawing thousands of floats element by element would be slow and
would shrink badly. The recipe builds the tensor, seeded, on any device and dtype; it shrinks to
batch 2 (or the smallest batch allowed), scale 1, a normal distribution and seed 0.

An :class:`Example` is everything that decides a run: depth, the input recipe (or the user's
drawn arguments), the weight-init seed, device and dtype. Replaying it gives the same numbers.

Needs the ``runtime`` extra: hypothesis on import, torch when a recipe is materialised or a
model is inspected (imported by those functions, so the public module imports without it).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st

from gradcheck_kit.runtime.devices import (
    available_devices,
    dtype_name,
    resolve_devices,
    resolve_dtypes,
)

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

__all__ = [
    "DISTRIBUTIONS",
    "SCALES",
    "Example",
    "InputSpec",
    "available_devices",
    "depth_strategy",
    "depths",
    "devices",
    "dtypes",
    "example_strategy",
    "float_inputs",
    "infer_input",
    "input_strategy",
    "inverse_width_sum",
    "materialize",
    "token_inputs",
]

#: Input scales tried, simplest first (Hypothesis shrinks towards the first).
SCALES: tuple[float, ...] = (1.0, 0.5, 2.0, 0.1, 10.0)
DISTRIBUTIONS: tuple[str, ...] = ("normal", "uniform")


@dataclass(frozen=True)
class InputSpec:
    """How to build one forward input: ``shape`` is batch-first; ``vocab_size`` set means
    integer token ids drawn uniformly from ``range(vocab_size)``."""

    shape: tuple[int, ...]
    scale: float = 1.0
    distribution: str = "normal"  # "normal" | "uniform" (both unit variance before scaling)
    seed: int = 0
    vocab_size: int | None = None
    dtype: Any = None  # integer dtype for token ids (default torch.long)

    def make(self, device: Any = "cpu", dtype: Any = None) -> torch.Tensor:
        """The tensor, generated on the CPU with its own generator (identical on every device),
        then moved; floating inputs take ``dtype`` (the model's)."""
        import torch

        gen = torch.Generator().manual_seed(self.seed)
        if self.vocab_size is not None:
            ids = torch.randint(0, self.vocab_size, self.shape, generator=gen)
            return ids.to(device=device, dtype=self.dtype or torch.long)
        if self.distribution == "uniform":  # U(-sqrt 3, sqrt 3) has unit variance
            x = (torch.rand(self.shape, generator=gen) * 2 - 1) * (3**0.5)
        else:
            x = torch.randn(self.shape, generator=gen)
        x = x * self.scale
        return x.to(device=device, dtype=dtype or torch.float32)

    def describe(self) -> str:
        shape = "x".join(str(s) for s in self.shape)
        if self.vocab_size is not None:
            return f"token ids {shape} from range({self.vocab_size}), seed {self.seed}"
        return f"{self.distribution} {shape} x{self.scale:g}, seed {self.seed}"

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"shape": list(self.shape), "seed": self.seed}
        if self.vocab_size is not None:
            data["vocab_size"] = self.vocab_size
        else:
            data.update(scale=self.scale, distribution=self.distribution)
        return data


def depths(lo: int = 2, hi: int = 32) -> st.SearchStrategy[int]:
    """Depths from ``lo`` to ``hi`` inclusive; shrinks to the smallest."""
    if lo < 1 or hi < lo:
        raise ValueError(f"depths: need 1 <= lo <= hi, got ({lo}, {hi})")
    return st.integers(lo, hi)


def _batches(shape: Sequence[int], min_batch: int | None) -> st.SearchStrategy[int]:
    if not shape or any(int(s) < 1 for s in shape):
        raise ValueError(f"input shape must be batch-first positive sizes, got {tuple(shape)}")
    batch = int(shape[0])
    # Two samples at least: BatchNorm refuses one, and one sample is the noisiest estimate.
    low = min(batch, 2) if min_batch is None else max(1, min(min_batch, batch))
    return st.integers(low, batch)


def float_inputs(
    shape: Sequence[int],
    *,
    scales: Iterable[float] = SCALES,
    distributions: Iterable[str] = DISTRIBUTIONS,
    min_batch: int | None = None,
) -> st.SearchStrategy[InputSpec]:
    """Float inputs of ``shape`` (batch-first; the batch size is drawn up to ``shape[0]``)."""
    rest = tuple(int(s) for s in shape[1:])
    dists = tuple(distributions)
    for d in dists:
        if d not in DISTRIBUTIONS:
            raise ValueError(f"unknown distribution {d!r} (known: {', '.join(DISTRIBUTIONS)})")
    return st.builds(
        lambda b, scale, dist, seed: InputSpec((b, *rest), scale, dist, seed),
        _batches(shape, min_batch),
        st.sampled_from(tuple(scales)),
        st.sampled_from(dists),
        st.integers(0, 2**31 - 1),
    )


def several_float_inputs(
    shapes: Sequence[Sequence[int]] | Mapping[str, Sequence[int]],
    *,
    scales: Iterable[float] = SCALES,
    distributions: Iterable[str] = DISTRIBUTIONS,
    min_batch: int | None = None,
) -> st.SearchStrategy[Any]:
    """Float inputs for a forward that takes several (``forward(x, t)``: a sequence of shapes;
    ``forward(x=..., t=...)``: a mapping), sharing one drawn batch size, each with its own seed
    and with the scale and distribution drawn once for all."""
    named: dict[str, Sequence[int]] | None = None
    if isinstance(shapes, Mapping):
        named = dict(shapes)
        listed = list(named.values())
    else:
        listed = list(shapes)
    if not listed:
        raise ValueError("several_float_inputs needs at least one shape")
    batch_st = _batches(listed[0], min_batch)
    rests = [tuple(int(s) for s in shape[1:]) for shape in listed]

    def build(b: int, scale: float, dist: str, seeds: list[int]) -> Any:
        specs = [
            InputSpec((b, *rest), scale, dist, seed)
            for rest, seed in zip(rests, seeds, strict=True)
        ]
        if named is not None:
            return dict(zip(named, specs, strict=True))
        return tuple(specs)

    return st.builds(
        build,
        batch_st,
        st.sampled_from(tuple(scales)),
        st.sampled_from(tuple(distributions)),
        st.lists(st.integers(0, 2**31 - 1), min_size=len(rests), max_size=len(rests)),
    )


def token_inputs(
    shape: Sequence[int], vocab_size: int, *, min_batch: int | None = None, dtype: Any = None
) -> st.SearchStrategy[InputSpec]:
    """Integer token ids of ``shape`` (batch-first) drawn from ``range(vocab_size)``."""
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be >= 1, got {vocab_size}")
    rest = tuple(int(s) for s in shape[1:])
    return st.builds(
        lambda b, seed: InputSpec((b, *rest), seed=seed, vocab_size=vocab_size, dtype=dtype),
        _batches(shape, min_batch),
        st.integers(0, 2**31 - 1),
    )


def devices(names: str | Iterable[str] = "auto") -> st.SearchStrategy[str]:
    """Devices to run on: ``"auto"`` is every available one; unavailable names are an error."""
    return st.sampled_from(resolve_devices(names))


def dtypes(names: Any = None) -> st.SearchStrategy[Any]:
    """Floating dtypes to run in (default float32); names like ``"bfloat16"`` are accepted."""
    return st.sampled_from(resolve_dtypes(names))


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
    import torch

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
    import torch

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


def infer_input(model: nn.Module, batch: int = 16) -> tuple[tuple[int, ...], int | None]:
    """A plausible input for a model nobody described: from the first layer with parameters.
    Returns (shape, vocab_size); vocab_size set means token ids."""
    from torch import nn

    norms = tuple(c for c in (nn.LayerNorm, getattr(nn, "RMSNorm", None)) if c is not None)
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
        if isinstance(module, norms):
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
    if isinstance(input_shape, dict) or (
        input_shape and isinstance(next(iter(input_shape)), (list, tuple))
    ):
        if vocab_size is not None or (
            input_dtype is not None and not input_dtype.is_floating_point
        ):
            raise ValueError(
                "several inputs are drawn as floats; for token ids and other inputs pass "
                "inputs= a strategy (see gradcheck_kit.strategies)"
            )
        return several_float_inputs(input_shape, min_batch=min_batch)
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
