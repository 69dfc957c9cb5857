"""What the interpreter reads of helper code that picks things at run time: a package that loads
a backend submodule by a computed name (deepxde's ``dde.nn.FNN``, ``bkd.tanh``), relative
imports of a package evaluated from its ``__init__``, and ``isinstance`` on a constant."""

from __future__ import annotations

import textwrap
from pathlib import Path

from gradcheck_kit import lint_source
from gradcheck_kit.config import Config
from gradcheck_kit.lint.engine import lint_paths
from tests.lint.written import write_project


def _found(root: Path) -> list[tuple[str, str, int | None]]:
    result = lint_paths([root], Config())
    assert result.errors == []
    return [(Path(f.path).name, f.code, f.depth) for f in result.findings]


STACK = """
    import torch.nn as nn

    from lab import acts


    class Net(nn.Module):
        def __init__(self, width=32, depth=8):
            super().__init__()
            layers = []
            for _ in range(depth):
                layers += [nn.Linear(width, width), acts.ACTS["sigmoid"]()]
            self.body = nn.Sequential(*layers)

        def forward(self, x):
            return self.body(x)
    """


def test_a_relative_import_is_read_from_the_package_that_makes_it(tmp_path: Path) -> None:
    """``from .table import ACTS`` in ``lab/acts.py``, the first name read of that module: it is
    ``lab/table.py``'s, not that of a ``table`` next to the file being linted."""
    root = write_project(
        tmp_path,
        {
            "lab/__init__.py": "",
            "lab/table.py": 'import torch.nn as nn\n\nACTS = {"sigmoid": nn.Sigmoid}\n',
            "lab/acts.py": "from .table import ACTS\n",
            "models/__init__.py": "",
            "models/table.py": 'import torch.nn as nn\n\nACTS = {"sigmoid": nn.ReLU}\n',
            "models/net.py": STACK,
        },
    )
    assert _found(root) == [("net.py", "GCK001", 8)]


def test_isinstance_of_a_constant_picks_the_branch() -> None:
    """``isinstance(name, str)`` in an activation helper is decided for a string, a function or
    a module; an unknown value stays undecided."""
    source = textwrap.dedent(
        """
        import torch.nn as nn

        def get(name):
            if isinstance(name, str):
                return {"tanh": nn.Tanh, "relu": nn.ReLU}[name]()
            if isinstance(name, (list, tuple)):
                return nn.Identity()
            return name

        class Net(nn.Module):
            def __init__(self, width=32, depth=8):
                super().__init__()
                layers = []
                for _ in range(depth):
                    layers += [nn.Linear(width, width), get("tanh")]
                self.body = nn.Sequential(*layers)

            def forward(self, x):
                return self.body(x)
        """
    )
    findings = lint_source(source, "net.py", Config(max_saturating_depth=3))
    assert [(f.code, f.depth) for f in findings] == [("GCK001", 8)]


def test_a_dispatching_package_with_no_torch_backend_reads_any(tmp_path: Path) -> None:
    """Without a submodule named like ``torch``, every submodule may be the one loaded."""
    dispatch = """
        import importlib

        _module = importlib.import_module(".%s" % "numeric", __name__)
        globals().update(vars(_module))
        """
    root = write_project(
        tmp_path,
        {
            "lab/__init__.py": "",
            "lab/ops/__init__.py": dispatch,
            "lab/ops/numeric.py": "import torch\n\n\ndef sigmoid(x):\n    return torch.sigmoid(x)\n",
            "lab/net.py": """
                import torch.nn as nn

                from lab import ops


                class Net(nn.Module):
                    def __init__(self, width=32):
                        super().__init__()
                        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(8))

                    def forward(self, x):
                        for layer in self.layers:
                            x = ops.sigmoid(layer(x))
                        return x
                """,
        },
    )
    assert _found(root) == [("net.py", "GCK001", 8)]
