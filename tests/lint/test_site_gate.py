"""The call-site gate (:mod:`gradcheck_kit.lint.interp.site_gate`): a class's callers in other
files are parsed only where their arguments can change what the linter finds, and a skipped
lookup still keys the cache on the callers (an edit that starts passing ``"tanh"`` re-lints)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradcheck_kit.config import Config
from gradcheck_kit.lint import callsites
from gradcheck_kit.lint.engine import lint_paths
from tests.lint.written import write_project

STRUCTURAL = Config(max_saturating_depth=3)


def _codes(root: Path, path: str, cache: Path | None = None) -> list[tuple[str, str, int]]:
    result = lint_paths([root], STRUCTURAL, cache_dir=cache)
    assert not result.errors
    return [(f.code, Path(f.path).name, f.line) for f in result.findings if f.path.endswith(path)]


def _looked_up(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The class names whose call sites the linter looks up from now on."""
    names: list[str] = []
    real = callsites.call_sites

    def spy(project, name):  # type: ignore[no-untyped-def]
        names.append(name)
        return real(project, name)

    monkeypatch.setattr(callsites, "call_sites", spy)
    return names


# Each model keeps its saturating layers out of its default instance; only a call site in
# train.py (a depth, a flag) builds them. The gate must let each through.
HIDDEN = {
    "zero default depth": (
        """
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self, width=8, depth=0):
                super().__init__()
                layers = []
                for _ in range(depth):
                    layers += [nn.Linear(width, width), nn.Tanh()]
                self.body = nn.Sequential(*layers)

            def forward(self, x):
                return self.body(x)
        """,
        "Net(16, depth=8)",
    ),
    "flag off by default": (
        """
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self, width=8, squash=False):
                super().__init__()
                layers = []
                for _ in range(6):
                    layers.append(nn.Linear(width, width))
                    if squash:
                        layers.append(nn.Sigmoid())
                self.body = nn.Sequential(*layers)

            def forward(self, x):
                return self.body(x)
        """,
        "Net(16, squash=True)",
    ),
    "block class named by the model": (
        """
        import torch.nn as nn

        class Block(nn.Module):
            def __init__(self, width):
                super().__init__()
                self.fc = nn.Linear(width, width)
                self.act = nn.Tanh()

            def forward(self, x):
                return self.act(self.fc(x))

        class Net(nn.Module):
            def __init__(self, width=8, depth=0):
                super().__init__()
                self.blocks = nn.ModuleList([Block(width) for _ in range(depth)])

            def forward(self, x):
                for block in self.blocks:
                    x = block(x)
                return x
        """,
        "Net(16, depth=8)",
    ),
}


@pytest.mark.parametrize("case", sorted(HIDDEN))
def test_call_sites_that_build_hidden_saturating_layers_are_read(tmp_path: Path, case: str) -> None:
    model, call = HIDDEN[case]
    root = write_project(
        tmp_path,
        {
            "lab/__init__.py": "",
            "lab/model.py": model,
            "train.py": f"from lab.model import Net\n\nnet = {call}\n",
        },
    )
    assert [code for code, _, _ in _codes(root, "model.py")] == ["GCK001"]


# A ReLU stack in a file that mentions a sigmoid elsewhere (so the file is interpreted).
RELU_NET = """
    import torch
    import torch.nn as nn

    def gate(x):
        return torch.sigmoid(x)

    class Net(nn.Module):
        def __init__(self, width=8, depth=2, act=nn.ReLU):
            super().__init__()
            layers = []
            for _ in range(depth):
                layers += [nn.Linear(width, width), act()]
            self.body = nn.Sequential(*layers)

        def forward(self, x):
            return self.body(x)
    """


def test_a_class_no_argument_can_saturate_is_not_looked_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A ReLU stack whose callers pass only depths: their calls cannot make a finding, so they
    are not parsed (timm's ``DropPath`` has a hundred callers)."""
    files = {"lab/__init__.py": "", "lab/model.py": RELU_NET}
    files |= {
        f"run{i}.py": f"from lab.model import Net\n\nnet = Net(16, depth={i})\n" for i in range(5)
    }
    root = write_project(tmp_path, files)
    looked = _looked_up(monkeypatch)
    assert _codes(root, "model.py") == []
    assert "Net" not in looked


def test_a_caller_passing_an_activation_opens_the_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same ReLU stack, called with ``act=nn.Tanh`` and a depth: looked up, and found."""
    files = {"lab/__init__.py": "", "lab/model.py": RELU_NET}
    files["train.py"] = (
        "import torch.nn as nn\nfrom lab.model import Net\n\nnet = Net(16, depth=8, act=nn.Tanh)\n"
    )
    root = write_project(tmp_path, files)
    looked = _looked_up(monkeypatch)
    assert [code for code, _, _ in _codes(root, "model.py")] == ["GCK001"]
    assert "Net" in looked


def test_a_wrapper_in_the_same_file_passes_the_activation_on(tmp_path: Path) -> None:
    """``Solver(sizes, "tanh")`` in train.py; ``Solver`` builds ``DNN(sizes, act)`` in the
    model's own file, whose default is ReLU and whose code names no saturating word (the table
    is in another module): the gate follows the wrapper's callers."""
    model = """
        import torch.nn as nn

        from lab.acts import pick

        class DNN(nn.Module):
            def __init__(self, sizes=(2, 8, 1), act="relu"):
                super().__init__()
                layers = []
                for a, b in zip(sizes[:-2], sizes[1:-1]):
                    layers += [nn.Linear(a, b), pick(act)]
                layers.append(nn.Linear(sizes[-2], sizes[-1]))
                self.body = nn.Sequential(*layers)

            def forward(self, x):
                return self.body(x)

        class Solver:
            def __init__(self, sizes, act):
                self.net = DNN(sizes, act)
        """
    acts = """
        import torch.nn as nn

        def pick(name):
            if name == "tanh":
                return nn.Tanh()
            return nn.ReLU()
        """
    root = write_project(
        tmp_path,
        {
            "lab/__init__.py": "",
            "lab/acts.py": acts,
            "lab/model.py": model,
            "train.py": (
                "from lab.model import Solver\n\n"
                'solver = Solver([2, 50, 50, 50, 50, 50, 1], "tanh")\n'
            ),
        },
    )
    assert [code for code, _, _ in _codes(root, "model.py")] == ["GCK001"]


def test_a_wrapper_in_another_file_passes_the_activation_on(tmp_path: Path) -> None:
    """``Solver`` in solver.py builds ``Net(16, depth, act)`` from its own parameters; train.py
    calls ``Solver(8, nn.Tanh)``: the gate reads the wrapper's callers in the text."""
    solver = """
        from lab.model import Net

        LEARNING_RATE = 1e-3

        class Solver:
            def __init__(self, depth, act):
                self.net = Net(16, depth, act)
        """
    root = write_project(
        tmp_path,
        {
            "lab/__init__.py": "",
            "lab/model.py": RELU_NET,
            "lab/solver.py": solver,
            "train.py": (
                "import torch.nn as nn\nfrom lab.solver import Solver\n\n"
                "solver = Solver(8, nn.Tanh)\n"
            ),
        },
    )
    assert [code for code, _, _ in _codes(root, "model.py")] == ["GCK001"]


def test_a_skipped_lookup_still_keys_the_cache_on_the_callers(tmp_path: Path) -> None:
    """A caller edited to pass ``act=nn.Tanh`` re-lints the model file, whose lookup was
    skipped before the edit."""
    files = {"lab/__init__.py": "", "lab/model.py": RELU_NET}
    files["train.py"] = "from lab.model import Net\n\nnet = Net(16, depth=8)\n"
    root = write_project(tmp_path, files)
    cache = tmp_path / ".cache"
    assert _codes(root, "model.py", cache) == []
    (root / "train.py").write_text(
        "import torch.nn as nn\nfrom lab.model import Net\n\nnet = Net(16, depth=8, act=nn.Tanh)\n"
    )
    assert [code for code, _, _ in _codes(root, "model.py", cache)] == ["GCK001"]
