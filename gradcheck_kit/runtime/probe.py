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
so a width-changing output head does not scale it (see :mod:`gradcheck_kit.runtime.verdict`). A
module that owns parameters *and* has children that do (a root owning a class token) is marked
``container``: its output is a child's, so it is never an end of the ratio.

A fused recurrent module (``nn.RNN``/``LSTM``/``GRU``) is one layer, and also a
:class:`RawSequence`: the gradient at every time step of its input, taken at a zero leaf added
to that input (packed sequences included).

The gradients are taken in one ``torch.autograd.grad`` call (:meth:`Probe.backward`) at the
*gradient edges* of the layer outputs, recorded in the forward hook: the same gradients a tensor hook
registered there would see (an output modified in place afterwards, ``ReLU(inplace=True)``,
included), with no Python call per layer during the backward pass. Their norms are then taken
together, and stay on the device until :meth:`Probe.collect`, which reads them all in one
transfer. Where torch has no gradient edges, tensor hooks and ``backward()`` do the same.
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

# torch.autograd.graph.get_gradient_edge: (node, output_nr) of a tensor, which
# torch.autograd.grad takes as an input (torch 2.2+)
_gradient_edge: Callable[[Tensor], Any] | None = getattr(
    torch.autograd.graph, "get_gradient_edge", None
)


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


def tensor_norm(t: Tensor) -> Tensor:
    """The 2-norm, detached, accumulated in float64: a float32 sum of squares reads 0 for any
    RMS below ~1e-19, long before a vanishing gradient's values underflow (and a float16 one
    overflows at 65504). MPS has no float64: float32 there."""
    t = _plain(t.detach())
    wide = torch.float32 if t.device.type == "mps" else torch.float64
    return torch.linalg.vector_norm(t, dtype=wide)  # type: ignore[no-any-return]


def _plain(t: Tensor) -> Tensor:
    """A tensor with the same 2-norm that norms accept: the stored values of a sparse one
    (``nn.Embedding(sparse=True)`` gradients), the magnitudes of a complex one."""
    if t.is_sparse:
        t = t.coalesce().values()
    return t.abs() if t.is_complex() else t


def _norms(tensors: list[Tensor]) -> list[Tensor]:
    """:func:`tensor_norm` of each tensor. On the CPU one ``_foreach_norm`` call, which there runs
    ``vector_norm(t, dtype=float64)`` on each tensor: the same numbers, one dispatch. Elsewhere
    one norm each: CUDA's fused ``_foreach_norm`` sums the squares in the input's precision even
    with ``dtype=float64``, which would bring the false zeros back."""
    if len(tensors) > 1 and all(
        t.device.type == "cpu" and not t.is_sparse and not t.is_complex() for t in tensors
    ):
        try:
            return list(torch._foreach_norm(tensors, 2, dtype=torch.float64))
        except (TypeError, RuntimeError):  # torch 2.2: no dtype argument
            pass
    return [tensor_norm(t) for t in tensors]


#: Outside the detailed mode, the first this many leaf layers record their forward RMS.
FORWARD_ENDS = 8

_WIDTH_ATTRS = ("out_features", "out_channels", "embedding_dim", "num_features", "hidden_size")
_width_lookups: dict[type, tuple[str, ...] | None] = {}


def _width_attrs(cls: type) -> tuple[str, ...] | None:
    """The width attributes a plain ``getattr`` could find on a ``cls`` instance besides its
    ``__dict__`` (class attributes, properties); None when ``cls`` has its own ``__getattr__``.
    ``nn.Module.__getattr__`` only finds parameters, buffers and submodules, never an int, so
    for everything else a missing ``__dict__`` entry means no width there - without the cost of
    raising and catching an AttributeError for each name."""
    if cls not in _width_lookups:
        custom = getattr(cls, "__getattr__", None) is not nn.Module.__getattr__
        _width_lookups[cls] = None if custom else tuple(a for a in _WIDTH_ATTRS if hasattr(cls, a))
    return _width_lookups[cls]


def _width(module: nn.Module, out: Tensor) -> int:
    """Feature count of a layer's output: the number that sets its finite-width noise."""
    on_class = _width_attrs(type(module))
    own = module.__dict__
    for attr in _WIDTH_ATTRS:
        if on_class is not None and attr not in own and attr not in on_class:
            continue  # getattr(module, attr, None) would be None
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
    #: the module also has submodules with parameters (a root owning a class token, an encoder
    #: owning a position embedding): its output is some child's, so it is never an end of the
    #: flow ratio
    container: bool = False
    # filled by collect()
    activation_rms: float | None = None
    grad_rms: float | None = None
    input_grad_rms: float | None = None
    input_activation_rms: float | None = None
    param_grad_rms: float | None = None
    saturation: float | None = None


@dataclasses.dataclass
class RawSequence:
    """The gradient at every time step of a fused recurrent module's input sequence."""

    name: str
    type_name: str
    hidden_size: int
    bidirectional: bool
    steps: list[float] = dataclasses.field(default_factory=list)  # RMS per step, in time order
    # what collect() needs: the zero leaf added to the input, and how its rows map to steps
    leaf: Tensor | None = dataclasses.field(default=None, repr=False)
    time_dim: int = 0
    batch_sizes: list[int] | None = dataclasses.field(default=None, repr=False)


def _step_rms(grad: Tensor, time_dim: int, batch_sizes: list[int] | None) -> list[float]:
    """RMS of ``grad`` at each time step: along ``time_dim``, or over the rows of each step of
    a packed sequence (``batch_sizes[t]`` rows for step t)."""
    squares = grad.detach().to(torch.float32 if grad.device.type == "mps" else torch.float64)
    squares = squares * squares
    if batch_sizes is not None:
        width = max(1, squares[0].numel()) if squares.dim() > 1 else 1
        sums = [chunk.sum() for chunk in torch.split(squares, batch_sizes)]
        counts = [b * width for b in batch_sizes]
        values: list[float] = torch.stack(sums).tolist()
    else:
        dims = [d for d in range(squares.dim()) if d != time_dim]
        values = (squares.sum(dim=dims) if dims else squares).tolist()
        per_step = max(1, squares.numel() // max(1, squares.shape[time_dim]))
        counts = [per_step] * len(values)
    return [math.sqrt(v / c) for v, c in zip(values, counts, strict=True)]


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


# the innermost torch function mode, and a context that takes it off the stack meanwhile
# (private torch helpers, in torch.overrides since 2.0; without them the probe's own calls go
# through the saturation mode, slower but the same numbers)
_current_mode: Callable[[], Any] | None = getattr(
    torch.overrides, "_get_current_function_mode", None
)
_pop_mode = getattr(torch.overrides, "_pop_mode_temporarily", None)
if _pop_mode is None:
    _current_mode = None


def _mode_off() -> Any:
    assert _pop_mode is not None
    return _pop_mode()


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


def _read(scalars: list[Tensor]) -> list[float]:
    """0-d tensors -> Python floats: on the CPU one by one (no transfer; cheaper than a stack),
    elsewhere in one device-to-host transfer."""
    if not scalars:
        return []
    if scalars[0].device.type == "cpu":
        return [t.item() for t in scalars]
    return _stacked(scalars)


def _stacked(scalars: list[Tensor]) -> list[float]:
    """One transfer, stacked by dtype: a stack that has to promote (float32 and float64 mixed)
    costs several times one that does not."""
    groups: dict[torch.dtype, list[int]] = {}
    for i, t in enumerate(scalars):
        groups.setdefault(t.dtype, []).append(i)
    if len(groups) == 1:
        return torch.stack(scalars).tolist()  # type: ignore[no-any-return]
    order = [i for idx in groups.values() for i in idx]
    stacks = [torch.stack([scalars[i] for i in idx]) for idx in groups.values()]
    wide = torch.float32 if stacks[0].device.type == "mps" else torch.float64  # exact
    flat: list[float] = torch.cat([s.to(wide) for s in stacks]).tolist()
    values = [0.0] * len(scalars)
    for i, value in zip(order, flat, strict=True):
        values[i] = value
    return values


_MODULE_PARAMETERS = nn.Module.parameters
_MODULE_NAMED_PARAMETERS = nn.Module.named_parameters


def _own_parameters(module: nn.Module) -> list[nn.Parameter]:
    """``list(module.parameters(recurse=False))``, read straight from ``_parameters`` unless the
    class overrides how its parameters are listed."""
    cls = type(module)
    if cls.parameters is _MODULE_PARAMETERS and cls.named_parameters is _MODULE_NAMED_PARAMETERS:
        found = [p for p in module._parameters.values() if p is not None]
        if len(found) < 2:
            return found
        return list(dict.fromkeys(found))  # ordered, each once (tensors hash by identity)
    return list(module.parameters(recurse=False))


class Probe:
    """Context manager: attach hooks to ``model``, run forward, call :meth:`watch_last_input`,
    run :meth:`backward`, then :meth:`collect`."""

    def __init__(
        self,
        model: nn.Module,
        *,
        saturation: bool = False,
        edges: bool | None = None,
        scale_output: tuple[int, float] | None = None,
        params: bool = True,
    ) -> None:
        """``saturation=True`` is the detailed mode (the reported example): it also records every
        layer's forward RMS and the saturation of activations. The search records only what the
        verdict needs, to stay close to the cost of a bare forward + backward.

        ``edges=False`` measures the gradients with tensor hooks during ``backward()`` instead of
        one ``autograd.grad`` call at the gradient edges (the default where torch has them).

        ``scale_output=(i, c)`` multiplies the output of the i-th layer call by ``c`` before
        anything after it sees it: the verdict uses this to ask whether a ratio is a property
        of the network or of the scale of its earliest activation (see runtime/verdict.py).

        ``params=False`` takes no parameter gradients (edge mode): the backward pass then skips
        every weight-gradient kernel, and the search needs only the activations' gradients.
        Outside ``saturation`` mode only the first :data:`FORWARD_ENDS` leaf layers record their
        forward RMS (the earliest end of the ratio is among them)."""
        self.model = model
        self.layers: list[RawLayer] = []
        self.saturation = saturation
        self._handles: list[Any] = []
        self._names: dict[nn.Module, str] = {}
        self._params: dict[nn.Module, list[nn.Parameter]] = {}
        self._calls: dict[nn.Module, int] = {}
        self._last_inputs: list[Tensor] = []
        self._input_norms: list[Tensor] = []
        self._input_act_norms: list[Tensor] = []
        self._input_numel = 0
        self._mode: _SaturationMode | None = None
        use_edges = _gradient_edge is not None if edges is None else edges
        # edge mode: where each gradient is taken, and the list its norm goes to
        self._edges: list[Any] | None = [] if use_edges else None
        self._sinks: list[list[Tensor]] = []
        self._edge_grads: tuple[Tensor | None, ...] = ()
        self._param_grads: dict[nn.Parameter, Tensor] | None = None
        self._scale_output = scale_output
        self._want_params = params
        self._forward_left = FORWARD_ENDS
        #: after collect(): each measured parameter's gradient (edge mode), for a later step
        self.param_grads: dict[nn.Parameter, Tensor] = {}
        self._containers: set[nn.Module] = set()
        self.sequences: list[RawSequence] = []
        self._leaf_grads: tuple[Tensor | None, ...] = ()

    def __enter__(self) -> Probe:
        for name, module in self.model.named_modules():
            params = _own_parameters(module)
            if params:
                self._names[module] = name or type(module).__name__
                self._params[module] = params
                self._handles.append(
                    module.register_forward_hook(self._on_forward, with_kwargs=True)
                )
                if next(module.children(), None) is not None and any(
                    _own_parameters(sub) for sub in module.modules() if sub is not module
                ):
                    self._containers.add(module)
            if isinstance(module, nn.RNNBase):
                self._names[module] = name or type(module).__name__
                self._handles.append(
                    module.register_forward_pre_hook(self._on_sequence, with_kwargs=True)
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

    def _on_sequence(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]] | None:
        """Before a fused RNN/LSTM/GRU runs: add a zero leaf to its input sequence, whose
        gradient is the gradient at every time step of the input (whether or not the input
        itself requires grad: token embeddings do, raw features do not)."""
        in_args = bool(args)
        value = args[0] if in_args else kwargs.get("input")
        packed = isinstance(value, nn.utils.rnn.PackedSequence)
        data = value.data if packed else value  # type: ignore[union-attr]
        if not isinstance(data, torch.Tensor) or not data.is_floating_point():
            return None
        if not torch.is_grad_enabled():
            return None
        leaf = torch.zeros_like(data, requires_grad=True)
        assert isinstance(module, nn.RNNBase)
        record = RawSequence(
            self._names.get(module) or type(module).__name__,
            type(module).__name__,
            int(module.hidden_size),
            bool(module.bidirectional),
            leaf=leaf,
            time_dim=1 if (module.batch_first and data.dim() == 3) else 0,
            batch_sizes=[int(b) for b in value.batch_sizes] if packed else None,  # type: ignore[union-attr]
        )
        self.sequences.append(record)
        shifted = data + leaf
        new_value: Any = value._replace(data=shifted) if packed else shifted  # type: ignore[union-attr]
        if in_args:
            return (new_value, *args[1:]), kwargs
        return args, {**kwargs, "input": new_value}

    def _on_forward(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any
    ) -> Any:
        mode = self._mode
        if mode is not None and _current_mode is not None and _current_mode() is mode:
            # The saturation mode is there for the model's calls; the probe's own (a dozen a
            # layer: is_floating_point, numel, detach, norm...) would each go through it too,
            # most of the cost of the detailed run. Off while the hook measures, when it is the
            # innermost mode (a mode the model entered itself stays as it is).
            with _mode_off():
                return self._record(module, args, kwargs, output)
        return self._record(module, args, kwargs, output)

    def _scaled(self, output: Any) -> Any:
        """The layer output times the ``scale_output`` factor (floating tensors only)."""
        assert self._scale_output is not None
        factor = self._scale_output[1]
        if isinstance(output, torch.Tensor):
            return output * factor if output.is_floating_point() else output
        if isinstance(output, (tuple, list)) and not hasattr(output, "_fields"):
            return type(output)(self._scaled(item) for item in output)
        return output

    def _record(
        self, module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], output: Any
    ) -> Any:
        replaced = None
        if self._scale_output is not None and self._scale_output[0] == len(self.layers):
            replaced = output = self._scaled(output)
            self._scale_output = None
        if isinstance(output, torch.Tensor):  # the common case, without the generator
            if not output.is_floating_point():
                return replaced
            outs = [output]
        else:
            outs = list(floating_tensors(output))
            if not outs:
                return replaced
        count = self._calls.get(module, 0) + 1
        self._calls[module] = count
        name = self._names.get(module) or type(module).__name__
        if count > 1:
            name = f"{name}#{count}"
        layer = RawLayer(name, type(module).__name__, _width(module, outs[0]), module)
        layer.container = module in self._containers
        # the forward RMS of the first few leaf layers: the earliest end of the ratio is chosen
        # after the pass, and the verdict needs the activation scale there (runtime/verdict.py)
        forward_stats = self.saturation or (self._forward_left > 0 and not layer.container)
        if forward_stats and not layer.container:
            self._forward_left -= 1
        for out in outs:
            if forward_stats:
                layer.out_norms.append(tensor_norm(out))
            layer.out_numel += out.numel()
            if out.requires_grad:
                layer.grad_numel += out.numel()
                self._watch(out, layer.grad_norms)
        self.layers.append(layer)
        if layer.container:  # its inputs are not the head's: the ratio ends at a leaf layer
            return replaced
        if not kwargs and len(args) == 1 and isinstance(args[0], torch.Tensor):
            t = args[0]  # one positional tensor: the common case, without the generator
            wanted = t.is_floating_point() and t.requires_grad and t.grad_fn is not None
            self._last_inputs = [t] if wanted else []
            return replaced
        self._last_inputs = [
            t for t in floating_tensors((args, kwargs)) if t.requires_grad and t.grad_fn is not None
        ]
        return replaced

    def _watch(self, t: Tensor, sink: list[Tensor]) -> None:
        """Measure the gradient that will flow into ``t`` as it is now (a later in-place change
        of ``t`` does not move the measurement): its norm goes to ``sink``."""
        if self._edges is not None:
            assert _gradient_edge is not None
            self._edges.append(_gradient_edge(t))
            self._sinks.append(sink)
        else:
            t.register_hook(self._grad_recorder(sink))  # type: ignore[no-untyped-call]

    @staticmethod
    def _grad_recorder(sink: list[Tensor]) -> Callable[[Tensor | None], None]:
        def record(grad: Tensor | None) -> None:
            # CUDA's fused cells (LSTMCell) call the hook with None for an output no gradient
            # reached (the last step's cell state); on CPU the hook is not called at all
            if grad is not None:
                sink.append(tensor_norm(grad))

        return record

    def watch_last_input(self) -> None:
        """Hook the gradient at the last layer's input (call between forward and backward)."""
        for t in self._last_inputs:
            self._input_numel += t.numel()
            self._input_act_norms.append(tensor_norm(t))
            self._watch(t, self._input_norms)
        self._last_inputs = []

    def backward(self, loss: Tensor) -> None:
        """``loss.backward()``, measuring: in edge mode one ``torch.autograd.grad`` call for the
        watched gradients and the layers' parameters (which then get no ``.grad``)."""
        if self._edges is None:
            loss.backward()  # type: ignore[no-untyped-call]
            return
        params: dict[nn.Parameter, None] = {}
        for layer in self.layers if self._want_params else ():
            for p in self._params[layer.module]:
                if p.requires_grad:
                    params[p] = None
        leaves = [s.leaf for s in self.sequences if s.leaf is not None]
        targets = [*self._edges, *params, *leaves]
        if not targets:  # nothing to measure: still run the pass, for its errors
            loss.backward()  # type: ignore[no-untyped-call]
            return
        grads = torch.autograd.grad(loss, targets, allow_unused=True)
        count, n_params = len(self._edges), len(params)
        # None: no gradient reached it (as a hook that is not called, or called with None)
        self._edge_grads = grads[:count]
        self._param_grads = {
            p: g
            for p, g in zip(params, grads[count : count + n_params], strict=True)
            if g is not None
        }
        self._leaf_grads = grads[count + n_params :]

    def _param_grads_of(self, layer: RawLayer) -> list[Tensor]:
        params = self._params.get(layer.module) or _own_parameters(layer.module)
        if self._param_grads is None:
            return [p.grad for p in params if p.grad is not None]
        found = (self._param_grads.get(p) for p in params)
        return [g for g in found if g is not None]

    def collect(self) -> list[RawLayer]:
        """Turn the recorded norms into RMS numbers (one device-to-host transfer)."""
        # empty unless backward() took gradients at edges
        taken = zip(self._sinks, self._edge_grads, strict=False)
        reached = [(sink, g) for sink, g in taken if g is not None]
        for (sink, _), norm in zip(reached, _norms([g for _, g in reached]), strict=True):
            sink.append(norm)
        self._edge_grads = ()
        param_grads = [self._param_grads_of(layer) for layer in self.layers]
        self.param_grads = self._param_grads or {}
        self._param_grads = None
        flat = [g for grads in param_grads for g in grads]
        if flat and all(
            g.dtype in (torch.float32, torch.float64) and not g.is_sparse for g in flat
        ):
            # one fused kernel for every parameter gradient (float32 norms: read as Python
            # floats, exactly as if widened to float64 first)
            norms = list(torch._foreach_norm(flat))
        else:  # half precision: accumulate in float32 (a float16 norm overflows at 65504)
            norms = [tensor_norm(g) for g in flat]
        pos = 0
        for layer, grads in zip(self.layers, param_grads, strict=True):
            layer.param_norms = norms[pos : pos + len(grads)]
            pos += len(grads)
            layer.param_numel = sum(g.numel() for g in grads)
        pending: list[Tensor] = []
        for layer in self.layers:
            pending += layer.out_norms
            pending += layer.grad_norms
            pending += layer.param_norms
            pending += layer.sat_fracs
        pending += self._input_norms
        pending += self._input_act_norms
        values = _read(pending)
        pos = 0

        def take(count: int) -> list[float]:
            nonlocal pos
            pos += count
            return values[pos - count : pos]

        def rms(norms: list[Tensor], numel: int) -> float | None:
            taken = take(len(norms))
            if not taken or numel == 0:
                return None
            total = taken[0] ** 2 if len(taken) == 1 else sum(v**2 for v in taken)
            return math.sqrt(total / numel)

        for layer in self.layers:
            layer.activation_rms = rms(layer.out_norms, layer.out_numel)
            layer.grad_rms = rms(layer.grad_norms, layer.grad_numel)
            layer.param_grad_rms = rms(layer.param_norms, layer.param_numel)
            fracs = take(len(layer.sat_fracs))
            layer.saturation = sum(fracs) / len(fracs) if fracs else None
        leaves = [layer for layer in self.layers if not layer.container]
        if leaves:
            last = leaves[-1]
            last.input_grad_rms = rms(self._input_norms, self._input_numel)
            last.input_activation_rms = rms(self._input_act_norms, self._input_numel)
        self._collect_sequences()
        return self.layers

    def _collect_sequences(self) -> None:
        with_leaf = [s for s in self.sequences if s.leaf is not None]
        if self._edges is None:  # hook mode: backward() left the gradient on the leaf
            grads: list[Tensor | None] = [s.leaf.grad for s in with_leaf if s.leaf is not None]
        else:
            grads = list(self._leaf_grads)
        for record, grad in zip(with_leaf, grads, strict=False):
            if grad is not None:
                record.steps = _step_rms(grad, record.time_dim, record.batch_sizes)
            record.leaf = None
        self._leaf_grads = ()
        self.sequences = [s for s in self.sequences if s.steps]
