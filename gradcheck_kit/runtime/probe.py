"""Hooks that measure one forward + backward pass, layer by layer.

A *layer* is a module that owns parameters directly (``parameters(recurse=False)``), taken each
time its forward runs, in the order the forward pass finishes them. A module called twice (shared
weights, a recurrent loop) is two layers, ``name`` and ``name#2``.

Per layer the probe records, as RMS (norm / sqrt(numel)) so that layers of different width
compare:

* ``grad_rms``: the gradient flowing into the layer's output (a tensor hook on each floating
  output that requires grad);
* ``param_grad_rms``: the gradient of the parameters the layer owns;
* ``activation_rms``: the forward output itself (NaN/inf here means the forward pass broke);
* ``saturation``: for the saturating activation applied after the layer, the fraction of units in
  the flat part (|tanh| > 0.99, sigmoid < 0.01 or > 0.99, ...); measured only when asked, as it
  intercepts torch functions.

The last layer also gets ``input_grad_rms``, the gradient at its input: the flow ratio ends there,
so a width-changing output head does not scale it (see :mod:`gradcheck_kit.runtime.check`).

Norms stay on the device until :meth:`Probe.collect`, which reads them all in one transfer.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from gradcheck_kit import catalog

Tensor = torch.Tensor


def floating_tensors(value: Any) -> Iterator[Tensor]:
    """Every floating-point tensor inside a (nested) tuple, list, dict or dataclass output."""
    if isinstance(value, torch.Tensor):
        if value.is_floating_point():
            yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from floating_tensors(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from floating_tensors(item)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from floating_tensors(getattr(value, field.name))


def _norm(t: Tensor) -> Tensor:
    """The 2-norm, detached, accumulated in float64: a float32 sum of squares reads 0 for any
    RMS below ~1e-19, long before a vanishing gradient's values underflow (and a float16 one
    overflows at 65504). MPS has no float64: float32 there."""
    t = t.detach()
    wide = torch.float32 if t.device.type == "mps" else torch.float64
    return torch.linalg.vector_norm(t, dtype=wide)  # type: ignore[no-any-return]


def _width(module: nn.Module, out: Tensor) -> int:
    """Feature count of a layer's output: the number that sets its finite-width noise."""
    for attr in ("out_features", "out_channels", "embedding_dim", "num_features", "hidden_size"):
        value = getattr(module, attr, None)
        if isinstance(value, int) and value > 0:
            return value
    shape = getattr(module, "normalized_shape", None)
    if isinstance(shape, tuple) and shape:
        return math.prod(int(s) for s in shape)
    if out.dim() >= 2:
        return max(1, out.numel() // max(1, out.shape[0]))
    return max(1, out.numel())


@dataclasses.dataclass
class RawLayer:
    """What the probe saw of one layer call (plain Python numbers after :meth:`Probe.collect`)."""

    name: str
    type_name: str
    width: int
    module: nn.Module = dataclasses.field(repr=False)
    out_norms: list[Tensor] = dataclasses.field(default_factory=list, repr=False)
    out_numel: int = 0
    grad_norms: list[Tensor] = dataclasses.field(default_factory=list, repr=False)
    grad_numel: int = 0
    sat_fracs: list[Tensor] = dataclasses.field(default_factory=list, repr=False)
    param_norms: list[Tensor] = dataclasses.field(default_factory=list, repr=False)
    param_numel: int = 0
    activation: str | None = None
    # filled by collect()
    activation_rms: float | None = None
    grad_rms: float | None = None
    input_grad_rms: float | None = None
    input_activation_rms: float | None = None
    param_grad_rms: float | None = None
    saturation: float | None = None


def _saturated(name: str, y: Tensor) -> Tensor:
    """Fraction of units in the flat part of the activation, judged from its output."""
    y = y.detach().float()
    if name == "sigmoid":
        mask = (y < 0.01) | (y > 0.99)
    elif name == "hardsigmoid":
        mask = (y <= 0.0) | (y >= 1.0)
    elif name == "hardtanh":
        mask = y.abs() >= 1.0
    elif name == "softsign":  # derivative (1 - |y|)^2 < 1% once |y| > 0.9
        mask = y.abs() > 0.9
    elif name == "logsigmoid":  # flat for large inputs, where the output nears 0
        mask = y > math.log(0.99)
    else:  # tanh
        mask = y.abs() > 0.99
    return mask.float().mean()


def _saturating_callables() -> dict[Any, str]:
    """torch functions and Tensor methods the catalog lists, resolved to objects."""
    found: dict[Any, str] = {}
    for qualified, act in catalog.SATURATING_FUNCTIONS.items():
        obj: Any = None
        parts = qualified.split(".")
        if parts[0] == "torch":
            obj = torch
            for part in parts[1:]:
                obj = getattr(obj, part, None)
                if obj is None:
                    break
        if obj is not None:
            found[obj] = act.name
    for method, act in catalog.SATURATING_METHODS.items():
        obj = getattr(torch.Tensor, method, None)
        if obj is not None:
            found[obj] = act.name
    return found


class _SaturationMode(TorchFunctionMode):
    """Sees every saturating function call (``nn.Tanh`` calls ``torch.tanh``, so modules too) and
    charges its saturation to the layer that ran last."""

    def __init__(self, probe: Probe) -> None:
        super().__init__()
        self.probe = probe
        self.functions = _saturating_callables()

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        result = func(*args, **(kwargs or {}))
        name = self.functions.get(func)
        if name is not None and self.probe.layers and isinstance(result, torch.Tensor):
            layer = self.probe.layers[-1]
            layer.activation = layer.activation or name
            layer.sat_fracs.append(_saturated(name, result))
        return result


class Probe:
    """Context manager: attach hooks to ``model``, run forward, call :meth:`watch_last_input`,
    run backward, then :meth:`collect`."""

    def __init__(self, model: nn.Module, *, saturation: bool = False) -> None:
        """``saturation=True`` is the detailed mode (the reported example): it also records every
        layer's forward RMS and the saturation of activations. The search records only what the
        verdict needs, to stay close to the cost of a bare forward + backward."""
        self.model = model
        self.layers: list[RawLayer] = []
        self.saturation = saturation
        self._handles: list[Any] = []
        self._names: dict[nn.Module, str] | None = None  # built once, on the first layer
        self._calls: dict[nn.Module, int] = {}
        self._last_inputs: list[Tensor] = []
        self._input_norms: list[Tensor] = []
        self._input_act_norms: list[Tensor] = []
        self._input_numel = 0
        self._mode: _SaturationMode | None = None

    def __enter__(self) -> Probe:
        for module in self.model.modules():
            if any(True for _ in module.parameters(recurse=False)):
                self._handles.append(
                    module.register_forward_hook(self._on_forward, with_kwargs=True)
                )
        if self.saturation:
            self._mode = _SaturationMode(self)
            self._mode.__enter__()  # type: ignore[no-untyped-call]
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_forward()
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def stop_forward(self) -> None:
        """Leave forward-only instrumentation (the saturation mode) before the loss is taken."""
        if self._mode is not None:
            self._mode.__exit__(None, None, None)  # type: ignore[no-untyped-call]
            self._mode = None

    def _on_forward(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any
    ) -> None:
        outs = list(floating_tensors(output))
        if not outs:
            return
        count = self._calls.get(module, 0) + 1
        self._calls[module] = count
        if self._names is None:
            self._names = {m: n or type(m).__name__ for n, m in self.model.named_modules()}
        name = self._names.get(module, type(module).__name__)
        if count > 1:
            name = f"{name}#{count}"
        layer = RawLayer(name, type(module).__name__, _width(module, outs[0]), module)
        # the first layer's forward RMS is the reference for the forward growth
        forward_stats = self.saturation or not self.layers
        for out in outs:
            if forward_stats:
                layer.out_norms.append(_norm(out))
                layer.out_numel += out.numel()
            if out.requires_grad:
                layer.grad_numel += out.numel()
                out.register_hook(self._grad_recorder(layer.grad_norms))  # type: ignore[no-untyped-call]
        self.layers.append(layer)
        self._last_inputs = [
            t for t in floating_tensors((args, kwargs)) if t.requires_grad and t.grad_fn is not None
        ]

    @staticmethod
    def _grad_recorder(sink: list[Tensor]) -> Callable[[Tensor | None], None]:
        def record(grad: Tensor | None) -> None:
            # CUDA's fused cells (LSTMCell) call the hook with None for an output no gradient
            # reached (the last step's cell state); on CPU the hook is not called at all
            if grad is not None:
                sink.append(_norm(grad))

        return record

    def watch_last_input(self) -> None:
        """Hook the gradient at the last layer's input (call between forward and backward)."""
        for t in self._last_inputs:
            self._input_numel += t.numel()
            self._input_act_norms.append(_norm(t))
            t.register_hook(self._grad_recorder(self._input_norms))  # type: ignore[no-untyped-call]
        self._last_inputs = []

    def collect(self) -> list[RawLayer]:
        """Turn the recorded norms into RMS numbers (one device-to-host transfer)."""
        pending: list[Tensor] = []
        param_grads = [
            [p.grad for p in layer.module.parameters(recurse=False) if p.grad is not None]
            for layer in self.layers
        ]
        flat = [g for grads in param_grads for g in grads]
        if flat and all(g.dtype in (torch.float32, torch.float64) for g in flat):
            # one fused kernel for every parameter gradient
            wide = torch.float32 if flat[0].device.type == "mps" else torch.float64
            norms = [n.to(wide) for n in torch._foreach_norm(flat)]
        else:  # half precision: accumulate in float32 (a float16 norm overflows at 65504)
            norms = [_norm(g) for g in flat]
        it_norms = iter(norms)
        for layer, grads in zip(self.layers, param_grads, strict=True):
            layer.param_norms = [next(it_norms) for _ in grads]
            layer.param_numel = sum(g.numel() for g in grads)
            pending += layer.out_norms + layer.grad_norms + layer.param_norms + layer.sat_fracs
        pending += self._input_norms + self._input_act_norms
        values: list[float] = torch.stack(pending).tolist() if pending else []
        it = iter(values)

        def rms(count: int, numel: int) -> float | None:
            if count == 0 or numel == 0:
                return None
            total = sum(next(it) ** 2 for _ in range(count))
            return math.sqrt(total / numel)

        for layer in self.layers:
            layer.activation_rms = rms(len(layer.out_norms), layer.out_numel)
            layer.grad_rms = rms(len(layer.grad_norms), layer.grad_numel)
            layer.param_grad_rms = rms(len(layer.param_norms), layer.param_numel)
            fracs = [next(it) for _ in layer.sat_fracs]
            layer.saturation = sum(fracs) / len(fracs) if fracs else None
        if self.layers:
            last = self.layers[-1]
            last.input_grad_rms = rms(len(self._input_norms), self._input_numel)
            last.input_activation_rms = rms(len(self._input_act_norms), self._input_numel)
        return self.layers
