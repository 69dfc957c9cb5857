"""The probe's batched measurement (one autograd.grad call at the gradient edges, norms taken
together) gives the numbers the per-layer tensor hooks and ``backward()`` give."""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")

import runtime_models as rm  # noqa: E402
from torch import nn  # noqa: E402

from gradcheck_kit.runtime import probe as probe_module  # noqa: E402
from gradcheck_kit.runtime.check import probe_loss  # noqa: E402
from gradcheck_kit.runtime.probe import Probe, floating_tensors  # noqa: E402

needs_edges = pytest.mark.skipif(
    probe_module._gradient_edge is None, reason="this torch has no gradient edges"
)

FIELDS = (
    "name",
    "type_name",
    "width",
    "activation",
    "activation_rms",
    "grad_rms",
    "input_grad_rms",
    "input_activation_rms",
    "param_grad_rms",
    "saturation",
)


class InplaceRelu(nn.Module):
    """Linear outputs changed in place afterwards: the gradient measured is the one flowing into
    the Linear's output (before the ReLU), as a hook registered there sees it."""

    def __init__(self, depth: int) -> None:
        super().__init__()
        self.inp = nn.Linear(rm.IN, 16)
        self.body = nn.ModuleList(nn.Linear(16, 16) for _ in range(depth))
        self.head = nn.Linear(16, 3)

    def forward(self, x: Any) -> Any:
        h = torch.relu_(self.inp(x))
        for layer in self.body:
            h = layer(h)
            h.mul_(0.5).relu_()
        return self.head(h)


class SharedAndTuple(nn.Module):
    """One module called twice (two layers), a module with a tuple output, a parameter of the
    top module itself, a frozen layer and a layer whose output is discarded."""

    def __init__(self, depth: int) -> None:
        super().__init__()
        self.shared = nn.Linear(rm.IN, rm.IN)
        self.lstm = nn.LSTM(rm.IN, 8, batch_first=True)
        self.frozen = nn.Linear(8, 8).requires_grad_(False)
        self.unused = nn.Linear(8, 8)
        self.scale = nn.Parameter(torch.tensor(1.5))
        self.head = nn.Linear(8, 2)

    def forward(self, x: Any) -> Any:
        h = self.shared(self.shared(x))
        seq, (last, _) = self.lstm(h.unsqueeze(1))
        self.unused(last[0])
        return self.head(self.frozen(seq[:, -1]) * self.scale)


def measure(
    model: nn.Module, x: Any, *, saturation: bool, edges: bool | None
) -> list[dict[str, Any]]:
    with Probe(model, saturation=saturation, edges=edges) as probe:
        output = model(x)
        probe.stop_forward()
        probe.watch_last_input()
        probe.backward(probe_loss(list(floating_tensors(output)), seed=5))
        layers = probe.collect()
    return [{f: getattr(layer, f) for f in FIELDS} for layer in layers]


@needs_edges
@pytest.mark.parametrize("saturation", [False, True])
@pytest.mark.parametrize(
    "factory",
    [rm.he_relu, rm.residual_tanh, rm.layernorm_tanh, rm.sigmoid_mlp, InplaceRelu, SharedAndTuple],
)
def test_batched_norms_equal_the_per_layer_hooks(factory: Any, saturation: bool) -> None:
    runs = []
    for edges in (True, False):
        torch.manual_seed(3)
        model = factory(4)
        x = torch.randn(8, rm.IN)
        runs.append(measure(model, x, saturation=saturation, edges=edges))
    batched, hooked = runs
    assert [layer["name"] for layer in batched] == [layer["name"] for layer in hooked]
    for a, b in zip(batched, hooked, strict=True):
        for f in FIELDS:
            assert a[f] == b[f], (a["name"], f, a[f], b[f])  # on the CPU: the same numbers
    assert any(layer["grad_rms"] for layer in batched)


@needs_edges
def test_tiny_gradients_are_not_read_as_zero() -> None:
    """Norms accumulate in float64 in the batched path too: an RMS of 1e-25 is not 0."""

    class Tiny(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.b = nn.Linear(4, 4)

        def forward(self, x: Any) -> Any:
            return self.b(self.a(x)) * 1e-25

    torch.manual_seed(0)
    layers = measure(Tiny(), torch.randn(3, 4), saturation=False, edges=True)
    assert layers[-1]["grad_rms"] == pytest.approx(1e-25, rel=0.5)
    assert layers[0]["grad_rms"] > 0.0


def test_edge_mode_leaves_parameter_grads_alone() -> None:
    """One autograd.grad call: the gradients are measured, not accumulated into .grad."""
    torch.manual_seed(0)
    model = rm.he_relu(3)
    with Probe(model) as probe:
        out = model(torch.randn(4, rm.IN))
        probe.backward(out.sum())
        layers = probe.collect()
    assert all(layer.param_grad_rms for layer in layers)
    if probe_module._gradient_edge is not None:
        assert all(p.grad is None for p in model.parameters())


def test_norms_match_vector_norm_in_float64() -> None:
    tensors = [torch.randn(5, 7) * 1e-30, torch.randn(3), torch.randn(2, 2, 2) * 1e20]
    got = [float(n) for n in probe_module._norms(tensors)]
    want = [float(torch.linalg.vector_norm(t, dtype=torch.float64)) for t in tensors]
    assert got == want


def test_read_keeps_order_across_dtypes() -> None:
    values = [1.5, 2.25, 0.1, 3.0, 1e-30]
    dtypes = [torch.float64, torch.float32, torch.float32, torch.float64, torch.float64]
    scalars = [torch.tensor(v, dtype=d) for v, d in zip(values, dtypes, strict=True)]
    want = [float(s) for s in scalars]
    assert probe_module._read(scalars) == want
    assert probe_module._stacked(scalars) == want  # the path for accelerators
    assert probe_module._stacked(scalars[1:3]) == want[1:3]
    assert probe_module._read([]) == []


def test_width_lookup_matches_getattr() -> None:
    class Wrapped(nn.Module):
        """A __getattr__ of its own (as wrappers forwarding to an inner module have)."""

        def __init__(self) -> None:
            super().__init__()
            self.inner = nn.Linear(3, 7)

        def __getattr__(self, name: str) -> Any:
            try:
                return super().__getattr__(name)
            except AttributeError:
                return getattr(self.inner, name)

    class WithProperty(nn.Module):
        @property
        def hidden_size(self) -> int:
            return 11

    out = torch.zeros(2, 5)
    assert probe_module._width(Wrapped(), out) == 7
    assert probe_module._width(WithProperty(), out) == 11
    assert probe_module._width(nn.LayerNorm((4, 3)), out) == 12
    assert probe_module._width(nn.Linear(2, 9), out) == 9
    assert probe_module._width(nn.PReLU(), out) == 5


def test_own_parameters_match_parameters_recurse_false() -> None:
    lin = nn.Linear(3, 4)
    lin.again = lin.weight  # the same parameter under a second name: listed once
    lin.register_parameter("missing", None)

    class Custom(nn.Linear):
        def named_parameters(self, *args: Any, **kwargs: Any) -> Any:
            return iter([("only", self.weight)])

    custom = Custom(2, 2)
    for module in (lin, nn.ReLU(), nn.LayerNorm(4), custom, nn.LSTM(2, 3)):
        got = probe_module._own_parameters(module)
        want = list(module.parameters(recurse=False))
        assert len(got) == len(want) and all(a is b for a, b in zip(got, want, strict=True))


class CountingMode(torch.overrides.TorchFunctionMode):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_function__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.calls += 1
        return func(*args, **(kwargs or {}))


class OwnMode(nn.Module):
    """Enters a torch function mode of its own around part of its forward: inside it the
    saturation mode is not the innermost one, and stays on."""

    def __init__(self, depth: int) -> None:
        super().__init__()
        self.a = nn.Linear(rm.IN, 16)
        self.b = nn.Linear(16, 16)
        self.head = nn.Linear(16, 2)
        self.mode = CountingMode()

    def forward(self, x: Any) -> Any:
        h = torch.tanh(self.a(x))
        with self.mode:
            h = torch.sigmoid(self.b(h))
        return self.head(h)


@pytest.mark.parametrize("factory", [rm.layernorm_tanh, rm.residual_tanh, OwnMode])
def test_saturation_mode_off_in_the_hook_changes_no_number(factory: Any, monkeypatch: Any) -> None:
    """The detailed run takes the saturation mode off while the probe's hook measures; the
    numbers (saturation included) are those of a run that leaves it on."""
    runs = []
    for off in (True, False):
        if not off:
            monkeypatch.setattr(probe_module, "_current_mode", None)
        torch.manual_seed(3)
        model = factory(4)
        runs.append(measure(model, torch.randn(8, rm.IN), saturation=True, edges=None))
    assert runs[0] == runs[1]
    assert sum(layer["saturation"] is not None for layer in runs[0]) >= 2
