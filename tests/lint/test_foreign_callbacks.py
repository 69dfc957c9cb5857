"""This file's blocks applied by another module's container (torchmeta's ``MetaSequential``,
vendored in the project as SIREN does): the steps of this file's code that the other module's
forward calls back are not charged to the budget for other modules' code, so a deep stack of
them is read whole."""

from __future__ import annotations

import textwrap
from pathlib import Path

from gradcheck_kit.config import Config
from gradcheck_kit.lint.engine import lint_paths

LIBRARY = textwrap.dedent(
    """
    from collections import OrderedDict

    import torch.nn as nn


    def get_subdict(params, key):
        if params is None:
            return None
        return OrderedDict((k[len(key) + 1 :], v) for k, v in params.items() if k.startswith(key))


    class MetaModule(nn.Module):
        pass


    class MetaSequential(nn.Sequential, MetaModule):
        def forward(self, input, params=None):
            for name, module in self._modules.items():
                if isinstance(module, MetaModule):
                    input = module(input, params=get_subdict(params, name))
                elif isinstance(module, nn.Module):
                    input = module(input)
            return input
    """
)

MODEL = textwrap.dedent(
    """
    from collections import OrderedDict

    import torch.nn as nn

    from metalib.modules import MetaModule, MetaSequential, get_subdict


    class BatchLinear(nn.Linear, MetaModule):
        def forward(self, input, params=None):
            if params is None:
                params = OrderedDict(self.named_parameters())
            bias = params.get("bias", None)
            weight = params["weight"]
            output = input.matmul(weight.permute(*[i for i in range(len(weight.shape) - 2)], -1, -2))
            output += bias.unsqueeze(-2)
            return output


    class FCBlock(MetaModule):
        def __init__(self, hidden_layers=8, width=20):
            super().__init__()
            nl = nn.Tanh()
            net = [MetaSequential(BatchLinear(2, width), nl)]
            for _ in range(hidden_layers):
                net.append(MetaSequential(BatchLinear(width, width), nl))
            net.append(MetaSequential(BatchLinear(width, 1)))
            self.net = MetaSequential(*net)

        def forward(self, coords, params=None):
            return self.net(coords, params=get_subdict(params, "net"))


    class PINNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = FCBlock(hidden_layers=8, width=20)

        def forward(self, coords):
            return self.net(coords)
    """
)


def test_blocks_called_back_by_another_module_are_read(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'lab'\n")
    (tmp_path / "metalib").mkdir()
    (tmp_path / "metalib" / "__init__.py").write_text("")
    (tmp_path / "metalib" / "modules.py").write_text(LIBRARY)
    (tmp_path / "model.py").write_text(MODEL)
    result = lint_paths([tmp_path], Config(max_saturating_depth=3))
    assert result.errors == []
    assert [(Path(f.path).name, f.code, f.depth) for f in result.findings] == [
        ("model.py", "GCK001", 9)
    ]
