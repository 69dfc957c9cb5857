"""Hypothesis building blocks for gradient checks, to compose your own ``inputs=`` or
``depths=``.

Input strategies draw a small *recipe* (:class:`InputSpec`: batch size, scale, distribution,
seed), not the tensor itself: drawing thousands of floats element by element would be slow and
would shrink badly. The recipe builds the tensor, seeded, on any device and dtype; it shrinks to
batch 2 (or the smallest batch allowed), scale 1, a normal distribution and seed 0.

Needs the ``runtime`` extra (hypothesis here, torch when a recipe is materialised).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "InputSpec",
    "available_devices",
    "depths",
    "devices",
    "dtypes",
    "float_inputs",
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


def available_devices() -> list[str]:
    """``"cpu"`` and every accelerator torch can use here."""
    import torch

    found = ["cpu"]
    if torch.cuda.is_available():
        found.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


def devices(names: str | Iterable[str] = "auto") -> st.SearchStrategy[str]:
    """Devices to run on: ``"auto"`` is every available one; unavailable names are an error."""
    from gradcheck_kit.runtime.devices import resolve_devices

    return st.sampled_from(resolve_devices(names))


def dtypes(names: Any = None) -> st.SearchStrategy[Any]:
    """Floating dtypes to run in (default float32); names like ``"bfloat16"`` are accepted."""
    from gradcheck_kit.runtime.devices import resolve_dtypes

    return st.sampled_from(resolve_dtypes(names))
