"""One test per code shape the linter must understand (issue #2), on real-looking sources."""

from __future__ import annotations

import textwrap

import pytest

from gradcheck_kit import lint_source
from gradcheck_kit.config import Config

#: These tests are about what the linter recognises as a chain: the structural mode (any
#: un-reset run longer than 3), not the gain model (tests/lint/test_predicted.py).
STRUCTURAL = Config(max_saturating_depth=3)

HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"


def found(src: str, **config: object) -> list[tuple[str, int | None]]:
    text = HEADER + textwrap.dedent(src)
    findings = lint_source(text, "model.py", STRUCTURAL.with_overrides(**config))
    return [(f.code, f.depth) for f in findings]


SHAPES = {
    "sequential-literal": (
        """
        net = nn.Sequential(
            nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(),
            nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(),
        )
        """,
        [("GCK001", 5)],
    ),
    "nested-sequentials": (
        """
        block = lambda: nn.Sequential(nn.Linear(8, 8), nn.Sigmoid())
        net = nn.Sequential(nn.Sequential(nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 8), nn.Sigmoid()),
                            nn.Sequential(nn.Linear(8, 8), nn.Sigmoid()), block(), block())
        """,
        [("GCK001", 5)],
    ),
    "ordered-dict": (
        """
        from collections import OrderedDict
        net = nn.Sequential(OrderedDict([
            ("fc1", nn.Linear(8, 8)), ("act1", nn.Tanh()),
            ("fc2", nn.Linear(8, 8)), ("act2", nn.Tanh()),
            ("fc3", nn.Linear(8, 8)), ("act3", nn.Tanh()),
            ("fc4", nn.Linear(8, 8)), ("act4", nn.Tanh()),
        ]))
        """,
        [("GCK001", 4)],
    ),
    "list-plus-equals-in-loop": (
        """
        class MLP(nn.Module):
            def __init__(self, width=32, depth=6):
                super().__init__()
                layers = []
                for _ in range(depth):
                    layers += [nn.Linear(width, width), nn.Sigmoid()]
                self.net = nn.Sequential(*layers)

            def forward(self, x):
                return self.net(x)
        """,
        [("GCK001", 6)],
    ),
    "append-and-extend": (
        """
        def build(depth=5):
            layers = []
            for i in range(depth):
                layers.append(nn.Linear(4, 4))
                layers.extend([nn.Tanh()])
            return nn.Sequential(*layers)
        """,
        [("GCK001", 5)],
    ),
    "list-comprehension": (
        """
        class Net(nn.Module):
            def __init__(self, n=8):
                super().__init__()
                self.body = nn.Sequential(*[nn.Sequential(nn.Linear(4, 4), nn.Tanh()) for _ in range(n)])

            def forward(self, x):
                return self.body(x)
        """,
        [("GCK001", 8)],
    ),
    "generator-expression": (
        """
        net = nn.Sequential(*(nn.Sequential(nn.Linear(4, 4), nn.Sigmoid()) for _ in range(4)))
        """,
        [("GCK001", 4)],
    ),
    "list-repetition": (
        """
        net = nn.Sequential(*[nn.Linear(16, 16), nn.Tanh()] * 5)
        """,
        [("GCK001", 5)],
    ),
    "modulelist-iterated-in-forward": (
        """
        class Net(nn.Module):
            def __init__(self, depth=10):
                super().__init__()
                self.layers = nn.ModuleList([nn.Linear(16, 16) for _ in range(depth)])

            def forward(self, x):
                for layer in self.layers:
                    x = torch.sigmoid(layer(x))
                return x
        """,
        [("GCK001", 10)],
    ),
    "add-module-in-loop": (
        """
        class Net(nn.Sequential):
            def __init__(self, depth=5):
                super().__init__()
                for i in range(depth):
                    self.add_module(f"fc{i}", nn.Linear(8, 8))
                    self.add_module(f"act{i}", nn.Tanh())
        """,
        [("GCK001", 5)],
    ),
    "forward-reassignment-chain": (
        """
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(4, 4)
                self.fc2 = nn.Linear(4, 4)
                self.fc3 = nn.Linear(4, 4)
                self.fc4 = nn.Linear(4, 4)

            def forward(self, x):
                h = torch.tanh(self.fc1(x))
                h = torch.tanh(self.fc2(h))
                h = torch.tanh(self.fc3(h))
                return torch.sigmoid(self.fc4(h))
        """,
        [("GCK001", 4)],
    ),
    "helper-function-returning-block": (
        """
        def block(d):
            return nn.Sequential(nn.Linear(d, d), nn.Tanh())

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.net = nn.Sequential(block(8), block(8), block(8), block(8))

            def forward(self, x):
                return self.net(x)
        """,
        [("GCK001", 4)],
    ),
    "user-block-class-in-sequential": (
        """
        class Block(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.fc = nn.Linear(d, d)

            def forward(self, x):
                return torch.tanh(self.fc(x))

        class Net(nn.Module):
            def __init__(self, depth=6):
                super().__init__()
                self.blocks = nn.ModuleList([Block(16) for _ in range(depth)])

            def forward(self, x):
                for block in self.blocks:
                    x = block(x)
                return x
        """,
        [("GCK001", 6)],
    ),
    "encoder-decoder-path": (
        """
        class AutoEncoder(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = nn.Sequential(nn.Linear(8, 4), nn.Sigmoid(), nn.Linear(4, 2), nn.Sigmoid())
                self.decoder = nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Linear(4, 8), nn.Sigmoid())

            def forward(self, x):
                return self.decoder(self.encoder(x))
        """,
        [("GCK001", 4)],
    ),
    "module-level-script": (
        """
        layers = []
        for i in range(6):
            layers.append(nn.Linear(10, 10))
            layers.append(nn.Tanh())
        model = nn.Sequential(*layers)
        """,
        [("GCK001", 6)],
    ),
    "shared-activation-module": (
        """
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fcs = nn.ModuleList([nn.Linear(8, 8) for _ in range(5)])
                self.act = nn.Tanh()

            def forward(self, x):
                for fc in self.fcs:
                    x = self.act(fc(x))
                return x
        """,
        [("GCK001", 5)],
    ),
    "activation-function-attribute": (
        """
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.act = F.tanh
                self.a, self.b, self.c, self.d = (nn.Linear(4, 4) for _ in range(4))

            def forward(self, x):
                x = self.act(self.a(x))
                x = self.act(self.b(x))
                x = self.act(self.c(x))
                return self.act(self.d(x))
        """,
        [("GCK001", 4)],
    ),
    "activation-class-default-argument": (
        """
        class MLP(nn.Module):
            def __init__(self, sizes=(8, 8, 8, 8, 8, 8), activation=nn.Tanh):
                super().__init__()
                layers = []
                for a, b in zip(sizes[:-1], sizes[1:]):
                    layers += [nn.Linear(a, b), activation()]
                self.net = nn.Sequential(*layers)

            def forward(self, x):
                return self.net(x)
        """,
        [("GCK001", 5)],
    ),
    "activation-function-default-argument": (
        """
        class MLP(nn.Module):
            def __init__(self, depth=4, act_fn=torch.tanh):
                super().__init__()
                self.layers = nn.ModuleList(nn.Linear(8, 8) for _ in range(depth))
                self.act_fn = act_fn

            def forward(self, x):
                for layer in self.layers:
                    x = self.act_fn(layer(x))
                return x
        """,
        [("GCK001", 4)],
    ),
    "module-constant": (
        """
        ACT = torch.tanh
        N_LAYERS = 5

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList([nn.Linear(8, 8) for _ in range(N_LAYERS)])

            def forward(self, x):
                for layer in self.layers:
                    x = ACT(layer(x))
                return x
        """,
        [("GCK001", 5)],
    ),
    "dispatch-dict-default-string": (
        """
        ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}

        class Net(nn.Module):
            def __init__(self, depth=4, act="tanh"):
                super().__init__()
                layers = []
                for _ in range(depth):
                    layers += [nn.Linear(8, 8), ACTIVATIONS[act]()]
                self.net = nn.Sequential(*layers)

            def forward(self, x):
                return self.net(x)
        """,
        [("GCK001", 4)],
    ),
    "getattr-by-default-string": (
        """
        class Net(nn.Module):
            def __init__(self, depth=5, activation="Sigmoid"):
                super().__init__()
                act = getattr(nn, activation)
                self.net = nn.Sequential(*[m for _ in range(depth) for m in (nn.Linear(8, 8), act())])

            def forward(self, x):
                return self.net(x)
        """,
        [("GCK001", 5)],
    ),
    "block-receives-activation-instance": (
        """
        class Block(nn.Module):
            def __init__(self, d, act):
                super().__init__()
                self.fc = nn.Linear(d, d)
                self.act = act

            def forward(self, x):
                return self.act(self.fc(x))

        net = nn.Sequential(*[Block(8, nn.Tanh()) for _ in range(4)])
        """,
        [("GCK001", 4)],
    ),
    "len-of-default-tuple": (
        """
        class MLP(nn.Module):
            def __init__(self, sizes=(4, 8, 8, 8, 8, 8)):
                super().__init__()
                self.layers = nn.ModuleList(nn.Linear(sizes[i], sizes[i + 1]) for i in range(len(sizes) - 1))

            def forward(self, x):
                for layer in self.layers:
                    x = torch.sigmoid(layer(x))
                return x
        """,
        [("GCK001", 5)],
    ),
    "instantiation-with-literal-depth": (
        """
        class MLP(nn.Module):
            def __init__(self, depth=2):
                super().__init__()
                self.net = nn.Sequential(*[nn.Sequential(nn.Linear(8, 8), nn.Tanh()) for _ in range(depth)])

            def forward(self, x):
                return self.net(x)

        small = MLP()
        big = MLP(depth=12)
        """,
        [("GCK001", 12)],
    ),
    "instantiation-without-default": (
        """
        class MLP(nn.Module):
            def __init__(self, depth):
                super().__init__()
                self.net = nn.Sequential(*[nn.Sequential(nn.Linear(8, 8), nn.Tanh()) for _ in range(depth)])

            def forward(self, x):
                return self.net(x)

        model = MLP(7)
        """,
        [("GCK001", 7)],
    ),
    "unknown-count-parameter": (
        """
        class MLP(nn.Module):
            def __init__(self, n_layers):
                super().__init__()
                self.layers = nn.ModuleList([nn.Linear(8, 8) for _ in range(n_layers)])

            def forward(self, x):
                for layer in self.layers:
                    x = torch.tanh(layer(x))
                return x
        """,
        [("GCK002", None)],
    ),
    "unknown-count-config-attribute": (
        """
        class Net(nn.Module):
            def __init__(self, config):
                super().__init__()
                self.blocks = nn.Sequential(*[
                    nn.Sequential(nn.Linear(config.hidden, config.hidden), nn.Sigmoid())
                    for _ in range(config.num_layers)
                ])

            def forward(self, x):
                return self.blocks(x)
        """,
        [("GCK002", None)],
    ),
    "tensor-methods": (
        """
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.l = nn.ModuleList(nn.Linear(4, 4) for _ in range(4))

            def forward(self, x):
                x = self.l[0](x).tanh()
                x = self.l[1](x).sigmoid()
                x = self.l[2](x).tanh_()
                x = self.l[3](x)
                x.sigmoid_()
                return x.sigmoid()
        """,
        [("GCK001", 4)],
    ),
    "dropout-pool-flatten-do-not-reset": (
        """
        net = nn.Sequential(
            nn.Conv2d(3, 8, 3), nn.Tanh(), nn.MaxPool2d(2), nn.Dropout(0.1),
            nn.Conv2d(8, 8, 3), nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
            nn.Linear(8, 8), nn.Tanh(), nn.Dropout(), nn.Linear(8, 1), nn.Sigmoid(),
        )
        """,
        [("GCK001", 4)],
    ),
    "forward-order-not-declaration-order": (
        """
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.norm = nn.LayerNorm(8)
                self.a = nn.Linear(8, 8)
                self.b = nn.Linear(8, 8)
                self.c = nn.Linear(8, 8)
                self.d = nn.Linear(8, 8)

            def forward(self, x):
                x = self.norm(x)
                x = torch.tanh(self.a(x))
                x = torch.tanh(self.b(x))
                x = torch.tanh(self.c(x))
                return torch.tanh(self.d(x))
        """,
        [("GCK001", 4)],
    ),
}


@pytest.mark.parametrize("name", sorted(SHAPES))
def test_code_shape(name: str) -> None:
    src, expected = SHAPES[name]
    assert found(src) == expected


ALIASES = {
    "import-torch-nn-as": "import torch.nn as tnn\nACT = tnn.Tanh",
    "from-import-as": "from torch.nn import Tanh as Act\nACT = Act",
    "from-torch-import-nn": "from torch import nn as _n\nACT = _n.Tanh",
    "fully-qualified": "import torch.nn\nACT = torch.nn.Tanh",
    "special-expit": "from torch import special\nACT = lambda: special.expit",
    "star-import": "from torch.nn import *\nACT = Tanh",
}


@pytest.mark.parametrize("name", sorted(ALIASES))
def test_names_resolved_through_imports(name: str) -> None:
    src = ALIASES[name] + "\n"
    if "expit" in src:
        src += (
            "def f(x):\n    return special.expit(special.expit(special.expit(special.expit(x))))\n"
        )
        src += "class M(torch.nn.Module):\n    def forward(self, x):\n        return f(x)\n"
    else:
        src += "model = torch.nn.Sequential(*[ACT() for _ in range(4)])\n"
    assert [(f.code, f.depth) for f in lint_source("import torch\n" + src, config=STRUCTURAL)] == [
        ("GCK001", 4)
    ]


def test_text_matching_is_not_resolution() -> None:
    src = """
    class Tanh:  # not torch's
        pass
    model = [Tanh(), Tanh(), Tanh(), Tanh(), Tanh()]
    """
    assert lint_source(textwrap.dedent(src)) == []


def test_depth_source_names_the_parameter() -> None:
    src, _ = SHAPES["list-plus-equals-in-loop"]
    (finding,) = lint_source(HEADER + textwrap.dedent(src), "m.py", STRUCTURAL)
    assert finding.depth_source == "parameter 'depth' (default 6)"
    assert "parameter 'depth' (default 6)" in finding.message
    assert finding.symbol == "MLP"


def test_python2_file_is_an_error_entry(tmp_path) -> None:
    from gradcheck_kit import lint_paths

    (tmp_path / "old.py").write_text('print "hello"\nimport torch\nx = torch.tanh\n')
    (tmp_path / "new.py").write_text(HEADER + textwrap.dedent(SHAPES["list-repetition"][0]))
    result = lint_paths([tmp_path], config=STRUCTURAL)
    assert [e.path.endswith("old.py") for e in result.errors] == [True]
    assert "syntax error" in result.errors[0].message
    assert [f.code for f in result.findings] == ["GCK001"]


def test_while_loop_with_a_folding_condition() -> None:
    src = """
    layers, i = [], 0
    while i < 5:
        layers += [nn.Linear(4, 4), nn.Tanh()]
        i += 1
    model = nn.Sequential(*layers)
    """
    assert found(src) == [("GCK001", 5)]


def test_models_moved_compiled_or_wrapped_are_the_same_model() -> None:
    src = """
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(4, 1), nn.Sigmoid())

        def forward(self, x):
            return self.net(x)

    net = torch.compile(Net().to("cpu").train())
    criterion = nn.BCEWithLogitsLoss()

    def step(x, y):
        return criterion(net(x), y)
    """
    assert found(src) == [("GCK005", None)]


def test_subclass_configures_its_base_through_super_init() -> None:
    src = """
    class Base(nn.Module):
        def __init__(self, depth=2, act=nn.ReLU):
            super().__init__()
            self.layers = nn.ModuleList()
            for _ in range(depth):
                self.layers.append(nn.Sequential(nn.Linear(8, 8), act()))

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    class Deep(Base):
        def __init__(self):
            super(Deep, self).__init__(depth=8, act=nn.Sigmoid)
    """
    assert found(src) == [("GCK001", 8)]


def test_dicts_filled_with_computed_keys() -> None:
    """``layers[f"fc{i}"] = ...`` into an OrderedDict or a ModuleDict keeps every entry, in order."""
    src = """
    from collections import OrderedDict

    class A(nn.Module):
        def __init__(self, sizes=(64, 64, 64, 64, 64)):
            super().__init__()
            layers = OrderedDict()
            for i in range(len(sizes) - 1):
                layers[f"fc{i}"] = nn.Linear(sizes[i], sizes[i + 1])
                layers[f"act{i}"] = nn.Sigmoid()
            self.net = nn.Sequential(layers)

        def forward(self, x):
            return self.net(x)

    class B(nn.Module):
        def __init__(self, hidden_sizes=[256, 128, 64, 32, 16], activation=nn.Tanh()):
            super().__init__()
            self.layers = nn.ModuleDict()
            for i, h in enumerate(hidden_sizes):
                self.layers[f"l{i}"] = nn.Linear(10, h)
            self.activation = activation

        def forward(self, x):
            for layer in self.layers.values():
                x = self.activation(layer(x))
            return x
    """
    assert found(src) == [("GCK001", 4), ("GCK001", 5)]


def test_ordered_dict_of_pairs_appended_in_a_loop() -> None:
    """``Sequential(OrderedDict(pairs))`` where the ``(name, module)`` pairs are appended in a
    loop, after an input pair (real PINN notebooks): every module counts, loop included; the
    depth from the call (4 + the input activation = 5) and from a parameter (8 - 1)."""
    src = """
    from collections import OrderedDict

    class NN(nn.Module):
        def __init__(self, hidden, depth, act=nn.Tanh):
            super().__init__()
            layers = [('input', nn.Linear(2, hidden))]
            layers.append(('input_activation', act()))
            for i in range(depth):
                layers.append(('hidden_%d' % i, nn.Linear(hidden, hidden)))
                layers.append(('activation_%d' % i, act()))
            layers.append(('output', nn.Linear(hidden, 1)))
            self.layers = nn.Sequential(OrderedDict(layers))

        def forward(self, x):
            return self.layers(x)

    model = NN(20, depth=4)

    class DNN(nn.Module):
        def __init__(self, sizes=(2, 50, 50, 50, 50, 50, 50, 50, 50, 1)):
            super().__init__()
            pairs = []
            for i in range(len(sizes) - 2):
                pairs.append(("layer_%d" % i, nn.Linear(sizes[i], sizes[i + 1])))
                pairs.append(("activation_%d" % i, nn.Sigmoid()))
            pairs.append(("out", nn.Linear(sizes[-2], sizes[-1])))
            self.layers = nn.Sequential(OrderedDict(pairs))

        def forward(self, x):
            return self.layers(x)
    """
    assert found(src, max_saturating_depth=3) == [("GCK001", 5), ("GCK001", 8)]


def test_a_third_party_sequential_runs_its_modules_in_order() -> None:
    """torchmeta's ``MetaSequential`` (a package the linter cannot read) is a Sequential: SIREN's
    FCBlock with tanh is 9 deep; an unknown class with another name stays unknown."""
    src = """
    from torchmeta.modules import MetaSequential
    from othermeta import MetaBlock

    class FCBlock(nn.Module):
        def __init__(self, hidden=20, layers=8, wrap=MetaSequential):
            super().__init__()
            net = [wrap(nn.Linear(2, hidden), nn.Tanh())]
            for _ in range(layers):
                net.append(wrap(nn.Linear(hidden, hidden), nn.Tanh()))
            net.append(wrap(nn.Linear(hidden, 1)))
            self.net = wrap(*net)

        def forward(self, x):
            return self.net(x)

    class Other(FCBlock):
        def __init__(self):
            super().__init__(wrap=MetaBlock)
    """
    assert found(src, max_saturating_depth=3) == [("GCK001", 9)]


def test_each_instance_keeps_its_own_init() -> None:
    """Two instances of one class built with different inits (a parameter, or a call site's
    argument): each layer's init is its instance's, not the last one built (which made the
    exploding ``std=1.0`` instance read ``std=0.001`` and be reported as vanishing)."""
    src = """
    class MLP(nn.Module):
        def __init__(self, std, width=128, depth=12):
            super().__init__()
            layers = []
            for _ in range(depth):
                layers += [nn.Linear(width, width), nn.Tanh()]
            self.net = nn.Sequential(*layers)
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, std=std)

        def forward(self, x):
            return self.net(x)

    exploding = MLP(std=1.0)
    tiny = MLP(std=0.001)
    """
    assert found(src) == [("GCK006", 12)]


def test_a_sequential_subclass_with_its_own_forward() -> None:
    """A project's Sequential subclass (torchmeta's ``MetaSequential``, vendored) built from a
    loop's blocks (``MetaSequential(*net)``), whose forward walks ``self._modules.items()`` and
    checks ``isinstance(module, nn.Module)`` before calling each: the modules run in order."""
    src = """
    class MetaModule(nn.Module):
        pass

    class MetaSequential(nn.Sequential, MetaModule):
        def forward(self, input, params=None):
            for name, module in self._modules.items():
                if isinstance(module, nn.Module):
                    input = module(input)
                else:
                    raise TypeError(name)
            return input

    class FCBlock(nn.Module):
        def __init__(self, hidden=20, layers=8):
            super().__init__()
            net = [MetaSequential(nn.Linear(2, hidden), nn.Tanh())]
            for _ in range(layers):
                net.append(MetaSequential(nn.Linear(hidden, hidden), nn.Tanh()))
            self.net = MetaSequential(*net)

        def forward(self, x):
            return self.net(x)
    """
    assert ("GCK001", 9) in found(src, max_saturating_depth=3)


def test_names_through_torch_nn_modules_submodules() -> None:
    src = """
    import torch.nn.modules.activation as A
    from torch.nn.modules.container import Sequential
    from torch.nn.modules.linear import Linear

    net = Sequential(*[m for _ in range(4) for m in (Linear(2, 2), A.Tanh())])
    """
    assert found(src) == [("GCK001", 4)]


#: forwards of user activation classes -> the saturating function they compute (None: another
#: function, or one the linter does not read: not an activation to count)
USER_ACTIVATIONS: dict[str, str | None] = {
    "1 / (1 + torch.exp(-x))": "sigmoid",
    "torch.exp(x) / (1 + torch.exp(x))": "sigmoid",
    "(torch.exp(x) - torch.exp(-x)) / (torch.exp(x) + torch.exp(-x))": "tanh",
    "2 * torch.sigmoid(2 * x) - 1": "tanh",
    "(1 - (-2 * x).exp()) / (1 + (-2 * x).exp())": "tanh",
    "x.tanh()": "tanh",
    "torch.tanh(x)": "tanh",
    "x / (1 + x.abs())": "softsign",
    "x * torch.sigmoid(x)": None,  # SiLU
    "F.softplus(x)": None,
    "torch.log(1 + torch.exp(x))": None,  # softplus, written out
    "x.clamp(-1, 1)": None,
    "torch.sin(x)": None,
}


def _user_activation_model(body: str, how: str) -> str:
    """A class ``Squash`` whose forward returns ``body``, stacked 8 deep, chosen from a dict
    or passed as a class. (The comment passes the text prefilter: no saturating name appears.)"""
    choose = "ACTS[act]()" if how == "dict" else "act()"
    default = '"squash"' if how == "dict" else "Squash"
    return f"""
    # tanh
    class Squash(nn.Module):
        def forward(self, x):
            return {body}

    ACTS = {{"squash": Squash, "relu": nn.ReLU}}

    class Net(nn.Module):
        def __init__(self, width=32, depth=8, act={default}):
            super().__init__()
            layers = []
            for _ in range(depth):
                layers += [nn.Linear(width, width), {choose}]
            self.net = nn.Sequential(*layers)

        def forward(self, x):
            return self.net(x)
    """


@pytest.mark.parametrize("how", ["dict", "class"])
@pytest.mark.parametrize("body", sorted(USER_ACTIVATIONS))
def test_user_activation_classes_by_what_their_forward_computes(body: str, how: str) -> None:
    src = _user_activation_model(body, how)
    text = HEADER + textwrap.dedent(src)
    findings = lint_source(text, "model.py", STRUCTURAL)
    expected = USER_ACTIVATIONS[body]
    if expected is None:
        assert findings == []
        return
    assert [(f.code, f.depth) for f in findings] == [("GCK001", 8)]
    assert f"({expected})" in findings[0].message


@pytest.mark.parametrize("body", sorted(USER_ACTIVATIONS))
def test_the_labels_of_user_activations_are_what_torch_computes(body: str) -> None:
    """The table's labels, measured: each forward against torch's own function."""
    torch = pytest.importorskip("torch")
    functional = pytest.importorskip("torch.nn.functional")
    x = torch.linspace(-8.0, 8.0, 401, dtype=torch.float64)
    value = eval(body, {"torch": torch, "F": functional, "x": x})  # the test's own literals
    targets = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "softsign": functional.softsign}
    matches = [name for name, f in targets.items() if torch.allclose(value, f(x))]
    assert matches == ([USER_ACTIVATIONS[body]] if USER_ACTIVATIONS[body] else [])


_REGISTERED_IN_A_LOOP = """
class Net(nn.Module):
    def __init__(self, width=32, depth=DEPTH):
        super().__init__()
        self.n = depth
        for i in range(depth):
            REGISTER
    def forward(self, x):
        for i in range(FORWARD):
            x = CALL
        return x
"""
_BLOCK = "nn.Sequential(nn.Linear(width, width), nn.Tanh())"


@pytest.mark.parametrize(
    ("depth", "register", "forward", "call", "expected"),
    [
        # the activation inside the registered modules, names made by an f-string or ``%``
        ("8", f'self.add_module(f"layer{{i}}", {_BLOCK})', "self.n", 'getattr(self, f"layer{i}")(x)', [("GCK001", 8)]),
        ("8", f'setattr(self, "fc%d" % i, {_BLOCK})', "self.n", 'getattr(self, "fc%d" % i)(x)', [("GCK001", 8)]),
        ("3", f'self.add_module(f"layer{{i}}", {_BLOCK})', "self.n", 'getattr(self, f"layer{i}")(x)', []),
        # more than the loops unroll: the module registered under the name's pattern
        ("100", f'self.add_module(f"layer{{i}}", {_BLOCK})', "self.n // 2", 'getattr(self, f"layer{i}")(x)', [("GCK001", 50)]),
        ("None", f'self.add_module(f"layer{{i}}", {_BLOCK})', "self.n", 'getattr(self, f"layer{i}")(x)', [("GCK002", None)]),
        # the activation in forward, the affine layers registered
        ("8", 'setattr(self, f"fc{i}", nn.Linear(width, width))', "self.n", 'torch.tanh(getattr(self, f"fc{i}")(x))', [("GCK001", 8)]),
        # a residual block: no chain
        ("8", f'self.add_module(f"layer{{i}}", {_BLOCK})', "self.n", 'x + getattr(self, f"layer{i}")(x)', []),
    ],
)  # fmt: skip
def test_modules_registered_under_computed_names_in_a_loop(
    depth: str, register: str, forward: str, call: str, expected: list[tuple[str, int | None]]
) -> None:
    src = (
        _REGISTERED_IN_A_LOOP.replace("DEPTH", depth)
        .replace("REGISTER", register)
        .replace("FORWARD", forward)
        .replace("CALL", call)
    )
    assert found(src) == expected


_GUARDED = """
class Net(nn.Module):
    def __init__(self, width, flag, depth=8):
        super().__init__()
        layers = []
        for i in range(depth):
            layers.append(nn.Linear(width, width))
            BODY
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)
"""


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # an ``if`` the linter cannot decide: both ways count, the deepest reachable is reported
        ("if i % 2 == 0 or flag:\n                layers.append(nn.Tanh())", [("GCK001", 8)]),
        ("if flag:\n                layers.append(nn.Tanh())", [("GCK001", 8)]),
        ("if i < depth - 1 or flag:\n                layers.append(nn.Tanh())", [("GCK001", 8)]),
        # decided: the condition folds
        ("if i % 2 == 0:\n                layers.append(nn.Tanh())", [("GCK001", 4)]),
        ("if i < 3:\n                layers.append(nn.Tanh())", []),
        # a normalization every other layer, whatever the flag: no run deeper than 2
        (
            "if i % 2 == 0 or flag:\n                layers.append(nn.LayerNorm(width))\n"
            "            layers.append(nn.Tanh())",
            [],
        ),
        # either arm appends a tanh
        (
            "if flag:\n                layers.append(nn.Tanh())\n            else:\n"
            "                layers.append(nn.Sigmoid())",
            [("GCK001", 8)],
        ),
    ],
)
def test_appends_guarded_by_an_undecidable_if_count_both_ways(
    body: str, expected: list[tuple[str, int | None]]
) -> None:
    assert found(_GUARDED.replace("BODY", body)) == expected


def test_a_guarded_sigmoid_stack_is_flagged_in_the_predicted_mode() -> None:
    src = _GUARDED.replace(
        "BODY", "if i % 2 == 0 or flag:\n                layers.append(nn.Sigmoid())"
    )
    findings = lint_source(HEADER + textwrap.dedent(src), "model.py", Config())
    assert [(f.code, f.depth) for f in findings] == [("GCK001", 8)]


def test_an_undecidable_if_in_forward_counts_its_deepest_arm() -> None:
    src = """
    class Net(nn.Module):
        def __init__(self, flag, width=16, depth=6):
            super().__init__()
            self.flag = flag
            self.fcs = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))

        def forward(self, x):
            for fc in self.fcs:
                x = fc(x)
                if self.flag:
                    x = torch.tanh(x)
            return x
    """
    assert found(src) == [("GCK001", 6)]


@pytest.mark.parametrize("how", ["function", "lambda"])
@pytest.mark.parametrize("body", sorted(USER_ACTIVATIONS))
def test_user_activation_functions_by_what_they_compute(body: str, how: str) -> None:
    """The same forms as a plain function applied in ``forward``, or a lambda default."""
    define = f"def squash(x):\n    return {body}\n" if how == "function" else ""
    default = "squash" if how == "function" else f"lambda x: {body}"
    src = f"""
# tanh
{define}
class Net(nn.Module):
    def __init__(self, width=32, depth=8, act={default}):
        super().__init__()
        self.act = act
        self.fcs = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))

    def forward(self, x):
        for fc in self.fcs:
            x = self.act(fc(x))
        return x
"""
    findings = lint_source(HEADER + src, "model.py", STRUCTURAL)
    expected = USER_ACTIVATIONS[body]
    if expected is None:
        assert findings == []
        return
    assert [(f.code, f.depth) for f in findings] == [("GCK001", 8)]
    assert f"({expected})" in findings[0].message
