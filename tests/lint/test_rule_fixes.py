"""The fixes of GCK003, GCK004, GCK006 and GCK007 (issue 21): on each code shape the linter
understands, the fix is unsafe, applies, parses, and the re-linted file has no finding of its
rule (nor a new GCK007); where the edit would not be exact, no fix is offered."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gradcheck_kit.config import Config
from gradcheck_kit.lint.docs import code_blocks
from gradcheck_kit.lint.engine import lint_source
from gradcheck_kit.lint.fixes import apply_fixes, parses
from gradcheck_kit.report.findings import Finding


def found(text: str, code: str, config: Config | None = None) -> list[Finding]:
    return [f for f in lint_source(text, "m.py", config) if f.code == code]


def fixed(src: str, code: str, config: Config | None = None) -> str:
    """Lint, apply every fix of ``code`` until none is left (as ``--fix`` does), and check the
    result: it parses and ``code`` is gone."""
    text = textwrap.dedent(src)
    before = found(text, code, config)
    assert before, f"no {code} finding to fix"
    assert all(f.fix is not None and f.fix.applicability == "unsafe" for f in before)
    clips_before = len(found(text, "GCK007", config))
    for _ in range(3):
        fixes = [f.fix for f in found(text, code, config) if f.fix is not None]
        if not fixes:
            break
        text, applied = apply_fixes(text, fixes)
        assert applied
    assert parses(text) is None, text
    assert found(text, code, config) == [], text
    assert len(found(text, "GCK007", config)) <= clips_before, text
    return text


def no_fix(src: str, code: str, config: Config | None = None) -> None:
    findings = found(textwrap.dedent(src), code, config)
    assert findings, f"no {code} finding"
    assert [f.fix for f in findings] == [None] * len(findings)


# --- GCK006 -----------------------------------------------------------------------------------


def mlp(init: str, act: str = "nn.Tanh()", depth: int = 12, header: str = "") -> str:
    header = header or "import torch\nimport torch.nn as nn\n"
    return header + textwrap.dedent(
        f"""
        class MLP(nn.Module):
            def __init__(self, width=256, depth={depth}):
                super().__init__()
                layers = []
                for _ in range(depth):
                    layers += [nn.Linear(width, width), {act}]
                self.net = nn.Sequential(*layers)
                self.head = nn.Linear(width, 1)
                for m in self.modules():
                    if isinstance(m, nn.Linear):
                        {init}

            def forward(self, x):
                return self.head(self.net(x))
        """
    )


INIT_CASES = {
    "normal-tanh": (
        mlp("nn.init.normal_(m.weight, mean=0.0, std=1.0)"),
        'nn.init.xavier_normal_(m.weight, gain=nn.init.calculate_gain("tanh"))',
    ),
    "torch-alias": (
        mlp("torch.nn.init.normal_(m.weight, 0.0, 1.0)"),
        'torch.nn.init.xavier_normal_(m.weight, gain=torch.nn.init.calculate_gain("tanh"))',
    ),
    "init-alias": (
        mlp(
            "init.uniform_(m.weight, -1.0, 1.0)",
            header="import torch.nn as nn\nfrom torch.nn import init\n",
        ),
        'init.xavier_uniform_(m.weight, gain=init.calculate_gain("tanh"))',
    ),
    "relu-method": (
        mlp("m.weight.data.normal_(0, 1)", act="nn.ReLU()"),
        'nn.init.kaiming_normal_(m.weight.data, nonlinearity="relu")',
    ),
    "relu-uniform": (
        mlp("nn.init.uniform_(m.weight, -1.0, 1.0)", act="nn.ReLU()"),
        'nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")',
    ),
    "ones-relu": (
        mlp("nn.init.ones_(m.weight)", act="nn.ReLU()"),
        'nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")',
    ),
    # He's init on tanh crosses the bound from 145 layers, tanh's gain 5/3 from 78: Xavier's
    # gain 1 keeps a stack that deep under it
    "kaiming-on-tanh": (
        mlp("nn.init.kaiming_normal_(m.weight, nonlinearity='relu')", depth=200),
        "nn.init.xavier_normal_(m.weight)",
    ),
    "linear-stack": (
        mlp("nn.init.kaiming_uniform_(m.weight)", act="nn.Identity()", depth=40),
        'nn.init.xavier_uniform_(m.weight, gain=nn.init.calculate_gain("linear"))',
    ),
    "bare-function": (
        mlp(
            "normal_(m.weight, std=1.0)",
            header="import torch.nn as nn\nfrom torch.nn.init import normal_\n",
        ),
        'nn.init.xavier_normal_(m.weight, gain=nn.init.calculate_gain("tanh"))',
    ),
    "very-deep-tanh": (
        mlp("nn.init.normal_(m.weight, std=1.0)", depth=120),
        "nn.init.xavier_normal_(m.weight)",
    ),
}


@pytest.mark.parametrize("name", sorted(INIT_CASES))
def test_gck006_fix(name: str) -> None:
    src, expected = INIT_CASES[name]
    assert expected in fixed(src, "GCK006")


def test_gck006_structural_mode_picks_an_init_that_no_longer_amplifies() -> None:
    out = fixed(mlp("nn.init.normal_(m.weight, std=1.0)"), "GCK006", Config(max_saturating_depth=3))
    assert "nn.init.xavier_normal_(m.weight)" in out


def test_gck006_fixes_every_init_call_of_the_stack_at_once() -> None:
    src = """
    import torch.nn as nn


    class Net(nn.Module):
        def __init__(self, width=256):
            super().__init__()
            self.l1 = nn.Linear(width, width)
            self.l2 = nn.Linear(width, width)
            self.l3 = nn.Linear(width, width)
            self.l4 = nn.Linear(width, width)
            self.head = nn.Linear(width, 1)
            nn.init.normal_(self.l1.weight, std=1.0)
            nn.init.normal_(self.l2.weight, std=1.0)
            nn.init.normal_(self.l3.weight, std=1.0)
            nn.init.normal_(self.l4.weight, std=1.0)

        def forward(self, x):
            x = self.l1(x).tanh()
            x = self.l2(x).tanh()
            x = self.l3(x).tanh()
            x = self.l4(x).tanh()
            return self.head(x)
    """
    [finding] = found(textwrap.dedent(src), "GCK006", Config(max_saturating_depth=3))
    assert finding.fix is not None and len(finding.fix.edits) == 4
    out = fixed(src, "GCK006", Config(max_saturating_depth=3))
    assert out.count("nn.init.xavier_normal_(self.l") == 4


def test_gck006_no_fix_without_an_init_namespace() -> None:
    src = """
    from torch.nn import Linear, Module, Sequential, Tanh


    class MLP(Module):
        def __init__(self, width=256, depth=12):
            super().__init__()
            layers = []
            for _ in range(depth):
                layers += [Linear(width, width), Tanh()]
            self.net = Sequential(*layers)
            self.head = Linear(width, 1)
            for m in self.modules():
                if isinstance(m, Linear):
                    m.weight.data.normal_(0, 1)

        def forward(self, x):
            return self.head(self.net(x))
    """
    no_fix(src, "GCK006")  # a tensor method, and nothing names torch.nn.init: no import added
    with_nn = "from torch import nn\n" + textwrap.dedent(src)
    assert "nn.init.xavier_normal_(m.weight.data" in fixed(with_nn, "GCK006")


# --- GCK003 -----------------------------------------------------------------------------------

RNN_CASES = {
    "keyword": (
        'enc = nn.RNN(input_size=32, hidden_size=128, num_layers=2, nonlinearity="tanh")\n',
        "enc = nn.GRU(input_size=32, hidden_size=128, num_layers=2)\n",
    ),
    "default": (
        "enc = nn.RNN(32, 128, batch_first=True)\n",
        "enc = nn.GRU(32, 128, batch_first=True)\n",
    ),
    "positional": (
        'enc = nn.RNN(32, 128, 2, "tanh", True, True)\n',
        "enc = nn.GRU(32, 128, 2, True, True)\n",
    ),
    "first-keyword": (
        'enc = nn.RNN(nonlinearity="tanh", input_size=8, hidden_size=8)\n',
        "enc = nn.GRU(input_size=8, hidden_size=8)\n",
    ),
    "multi-line": (
        "enc = torch.nn.RNN(\n"
        "    input_size=32,\n"
        "    hidden_size=128,\n"
        '    nonlinearity="tanh",  # the default\n'
        "    batch_first=True,\n"
        ")\n",
        "enc = torch.nn.GRU(\n    input_size=32,\n    hidden_size=128,\n    batch_first=True,\n)\n",
    ),
    "trailing-comma-last": (
        'enc = nn.RNN(\n    32,\n    128,\n    nonlinearity="tanh",\n)\n',
        "enc = nn.GRU(\n    32,\n    128,\n)\n",
    ),
    "cell": (
        "cell = nn.RNNCell(8, 16)  # a cell\n",
        "cell = nn.GRUCell(8, 16)  # a cell\n",
    ),
    "cell-nonlinearity": (
        "cell = nn.RNNCell(8, 16, True, 'tanh')\n",
        "cell = nn.GRUCell(8, 16, True)\n",
    ),
}


@pytest.mark.parametrize("name", sorted(RNN_CASES))
def test_gck003_fix(name: str) -> None:
    src, expected = RNN_CASES[name]
    header = "import torch\nimport torch.nn as nn\n"
    assert fixed(header + src, "GCK003") == header + expected


def test_gck003_fix_in_a_module_and_under_an_alias() -> None:
    src = """
    import torch
    from torch import nn as tnn


    class Encoder(tnn.Module):
        def __init__(self, d=32):
            super().__init__()
            self.rnn = tnn.RNN(d, d, batch_first=True, nonlinearity="tanh")

        def forward(self, x):
            out, h = self.rnn(x)
            return out[:, -1]
    """
    out = fixed(src, "GCK003")
    assert "self.rnn = tnn.GRU(d, d, batch_first=True)" in out


@pytest.mark.parametrize(
    "src",
    [
        "from torch.nn import RNN\n\nenc = RNN(8, 16)\n",  # the bare name would need an import
        "import torch.nn as nn\n\nCFG = {}\nenc = nn.RNN(8, 16, **CFG)\n",
        'import torch.nn as nn\n\nenc = getattr(nn, "RNN")(8, 16)\n',
        """
import torch
from torch import nn


class ElmanCell(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.W = nn.Linear(d, d)
        self.U = nn.Linear(d, d, bias=False)

    def forward(self, x):
        h = torch.zeros(x.size(0), x.size(2))
        for x_t in x.unbind(1):
            h = torch.tanh(self.W(x_t) + self.U(h))
        return h
""",
    ],
    ids=["bare-name", "kwargs", "getattr", "hand-written"],
)
def test_gck003_no_fix(src: str) -> None:
    no_fix(src, "GCK003")


# --- GCK004 -----------------------------------------------------------------------------------

MODEL = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(8, 16, batch_first=True)
        self.fc = nn.Linear(16, 1)

    def forward(self, x):
        return self.fc(self.rnn(x)[0])
"""

CLIP = "torch.nn.utils.clip_grad_norm_"

UNCLIPPED = {
    "plain": (
        """
        def train(model, loader):
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            for x, y in loader:
                optimizer.zero_grad()
                loss = (model(x) - y).pow(2).mean()
                loss.backward()
                optimizer.step()
        """,
        f"        loss.backward()\n        {CLIP}(model.parameters(), max_norm=1.0)\n"
        "        optimizer.step()",
    ),
    "nested-loops-and-accumulation": (
        """
        def train(net, loader, epochs, accum=4):
            opt = torch.optim.SGD(net.parameters(), lr=0.1)
            for epoch in range(epochs):
                for i, (x, y) in enumerate(loader):
                    loss = (net(x) - y).pow(2).mean() / accum
                    loss.backward()
                    if (i + 1) % accum == 0:
                        opt.step()
                        opt.zero_grad()
        """,
        f"            if (i + 1) % accum == 0:\n                {CLIP}(net.parameters(), "
        "max_norm=1.0)\n                opt.step()",
    ),
    "amp": (
        """
        def train(model, loader):
            opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
            scaler = torch.amp.GradScaler("cuda")
            for x, y in loader:
                with torch.autocast("cuda"):
                    loss = (model(x) - y).pow(2).mean()
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                opt.zero_grad()
        """,
        f"        scaler.scale(loss).backward()\n        scaler.unscale_(opt)\n        {CLIP}"
        "(model.parameters(), max_norm=1.0)\n        scaler.step(opt)",
    ),
    "amp-already-unscaled": (
        """
        def train(model, loader):
            opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
            scaler = torch.amp.GradScaler("cuda")
            for x, y in loader:
                scaler.scale((model(x) - y).pow(2).mean()).backward()
                scaler.unscale_(opt)
                scaler.step(opt)
                scaler.update()
        """,
        f"        scaler.unscale_(opt)\n        {CLIP}(model.parameters(), max_norm=1.0)\n"
        "        scaler.step(opt)",
    ),
    "trainer-class": (
        """
        class Trainer:
            def __init__(self, model):
                self.model = model
                self.optimizer = torch.optim.Adam(self.model.parameters())

            def train_step(self, x, y):
                self.optimizer.zero_grad()
                loss = (self.model(x) - y).pow(2).mean()
                loss.backward()
                self.optimizer.step()
                return loss.item()
        """,
        f"        {CLIP}(self.model.parameters(), max_norm=1.0)\n        self.optimizer.step()",
    ),
    "trainer-keeps-the-model": (
        """
        class Trainer:
            def __init__(self, model):
                self.model = model
                self.adam = torch.optim.Adam(model.parameters())

            def fit(self, loader):
                for x in loader:
                    self.model(x).sum().backward()
                    self.adam.step()
        """,
        f"            {CLIP}(self.model.parameters(), max_norm=1.0)\n            self.adam.step()",
    ),
    "gan": (
        """
        def train(gen, disc, loader):
            opt_g = torch.optim.Adam(gen.parameters())
            opt_d = torch.optim.Adam(disc.parameters())
            for x in loader:
                d_loss = disc(x).mean() - disc(gen(x)).mean()
                d_loss.backward()
                opt_d.step()
                g_loss = -disc(gen(x)).mean()
                g_loss.backward()
                opt_g.step()
        """,
        f"        {CLIP}(disc.parameters(), max_norm=1.0)\n        opt_d.step()",
    ),
    "optimizer-passed-in": (
        """
        def train_epoch(model, loader, optimizer):
            for x, y in loader:
                optimizer.zero_grad()
                (model(x) - y).pow(2).mean().backward()
                optimizer.step()
        """,
        f"        {CLIP}(model.parameters(), max_norm=1.0)\n        optimizer.step()",
    ),
    "lightning-manual": (
        """
        import lightning as L


        class Seq(L.LightningModule):
            def __init__(self):
                super().__init__()
                self.automatic_optimization = False
                self.rnn = nn.GRU(4, 8, batch_first=True)

            def training_step(self, batch, batch_idx):
                opt = self.optimizers()
                opt.zero_grad()
                loss = self.rnn(batch)[0].mean()
                self.manual_backward(loss)
                opt.step()
        """,
        "        self.clip_gradients(opt, gradient_clip_val=1.0, "
        'gradient_clip_algorithm="norm")\n        opt.step()',
    ),
    "accelerate": (
        """
        from accelerate import Accelerator


        def train(model, loader):
            accelerator = Accelerator()
            optimizer = torch.optim.AdamW(model.parameters())
            model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
            for x, y in loader:
                accelerator.backward((model(x) - y).pow(2).mean())
                optimizer.step()
                optimizer.zero_grad()
        """,
        "        accelerator.clip_grad_norm_(model.parameters(), max_norm=1.0)\n"
        "        optimizer.step()",
    ),
}


@pytest.mark.parametrize("name", sorted(UNCLIPPED))
def test_gck004_fix(name: str) -> None:
    src, expected = UNCLIPPED[name]
    out = fixed(MODEL + textwrap.dedent(src), "GCK004")
    assert expected in out, out


@pytest.mark.parametrize(
    ("header", "clip"),
    [
        ("import torch.nn as nn\nimport torch.optim as optim\n", "nn.utils.clip_grad_norm_"),
        ("from torch import nn, optim\n", "nn.utils.clip_grad_norm_"),
        (
            "from torch import nn, optim\nimport torch.nn.utils as U\n",
            "nn.utils.clip_grad_norm_",
        ),
        (
            "from torch.nn import LSTM\nfrom torch import optim\n"
            "from torch.nn.utils import clip_grad_norm_ as clip\n",
            "clip",
        ),
    ],
)
def test_gck004_fix_names_torch_as_the_file_does(header: str, clip: str) -> None:
    src = header + textwrap.dedent(
        """
        rnn = LSTM(8, 8)
        opt = optim.SGD(rnn.parameters(), lr=0.1)


        def step(x):
            loss = rnn(x)[0].sum()
            loss.backward()
            opt.step()
        """
    )
    if "import LSTM" not in header:
        src = src.replace("rnn = LSTM", "rnn = nn.LSTM")
    out = fixed(src, "GCK004")
    assert f"    {clip}(rnn.parameters(), max_norm=1.0)\n    opt.step()" in out


@pytest.mark.parametrize(
    "src",
    [
        # one line holds the backward and the step
        """
        def train(model, loader):
            optimizer = torch.optim.Adam(model.parameters())
            for x, y in loader:
                loss = (model(x) - y).pow(2).mean()
                loss.backward(); optimizer.step()
        """,
        # the step is the body of a one-line if
        """
        def train(model, loader, ready):
            optimizer = torch.optim.Adam(model.parameters())
            for x, y in loader:
                (model(x) - y).pow(2).mean().backward()
                if ready: optimizer.step()
        """,
        # no model the fix can name: the optimizer and its parameters come from elsewhere
        """
        def train(thing, loader, optimizer):
            for x, y in loader:
                (thing(x) - y).pow(2).mean().backward()
                optimizer.step()
        """,
        # the optimizer optimizes a model this function cannot see
        """
        def build():
            encoder = Net()
            optimizer = torch.optim.Adam(encoder.parameters())
            return optimizer


        def train(loader, optimizer):
            for x in loader:
                Net()(x).mean().backward()
                optimizer.step()
        """,
    ],
    ids=["same-line", "one-line-if", "no-model", "model-out-of-scope"],
)
def test_gck004_no_fix(src: str) -> None:
    no_fix(MODEL + textwrap.dedent(src), "GCK004")


def test_gck004_no_fix_when_nothing_names_torch() -> None:
    src = """
    from torch.nn import LSTM
    from torch.optim import Adam

    model = LSTM(8, 8)
    opt = Adam(model.parameters())


    def step(x):
        model(x)[0].sum().backward()
        opt.step()
    """
    no_fix(src, "GCK004")


# --- GCK007 -----------------------------------------------------------------------------------

INEFFECTIVE = {
    "before-backward": (
        """
        import torch
        from torch.nn.utils import clip_grad_norm_


        def train(model, loader, optimizer):
            for data, target in loader:
                optimizer.zero_grad()
                clip_grad_norm_(model.parameters(), 0.25)  # bound the update
                loss = torch.nn.functional.cross_entropy(model(data), target)
                loss.backward()
                optimizer.step()
        """,
        "        loss.backward()\n        clip_grad_norm_(model.parameters(), 0.25)  # bound the "
        "update\n        optimizer.step()",
    ),
    "after-step": (
        """
        import torch


        def train(model, loader, optimizer):
            for x, y in loader:
                optimizer.zero_grad()
                torch.nn.functional.mse_loss(model(x), y).backward()
                optimizer.step()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        """,
        "backward()\n        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"
        "        optimizer.step()\n",
    ),
    "after-step-accumulation": (
        """
        import torch


        def train(model, loader, optimizer, scheduler, accumulation_steps=4):
            for i, batch in enumerate(loader):
                loss = model(**batch).loss / accumulation_steps
                loss.backward()
                if (i + 1) % accumulation_steps == 0:
                    optimizer.step()
                    scheduler.step()
                    optimizer.zero_grad()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        """,
        "            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"
        "            optimizer.step()\n            scheduler.step()\n            optimizer.zero_grad()"
        "\n",
    ),
    "scaled": (
        """
        import torch


        def train(model, loader, optimizer, scaler):
            for x, y in loader:
                optimizer.zero_grad()
                with torch.autocast("cuda"):
                    loss = torch.nn.functional.mse_loss(model(x), y)
                scaler.scale(loss).backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                scaler.step(optimizer)
                scaler.update()
        """,
        "        scaler.scale(loss).backward()\n        scaler.unscale_(optimizer)\n"
        "        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n",
    ),
    "scaled-attribute-scaler": (
        """
        import torch


        class Trainer:
            def step(self, model, loss):
                self.scaler.scale(loss).backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                self.scaler.step(self.optimizer)
                self.scaler.update()
        """,
        "        self.scaler.unscale_(self.optimizer)\n        torch.nn.utils.clip_grad_norm_(",
    ),
    "assigned-after-step": (
        """
        import torch


        def train(model, loader, optimizer, log):
            for x, y in loader:
                optimizer.zero_grad()
                torch.nn.functional.mse_loss(model(x), y).backward()
                optimizer.step()
                grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                log(grad_norm)
        """,
        "backward()\n        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)\n"
        "        optimizer.step()\n        log(grad_norm)\n",
    ),
    "scaled-through-a-name": (
        """
        import torch
        from torch.cuda.amp import GradScaler, autocast


        def train(model, loader, optim):
            scaler = GradScaler()
            for x, y in loader:
                with autocast():
                    loss = torch.nn.functional.cross_entropy(model(x), y)
                scaled = scaler.scale(loss)
                scaled.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                scaler.step(optim)
                scaler.update()
                optim.zero_grad()
        """,
        "        scaled.backward()\n        scaler.unscale_(optim)\n        torch.nn.utils.clip_grad",
    ),
    "lightning": (
        """
        import lightning as L
        import torch


        class Lit(L.LightningModule):
            def training_step(self, batch, batch_idx):
                loss = self(batch).mean()
                torch.nn.utils.clip_grad_norm_(self.parameters(), 1.0)  # keep it bounded
                return loss

            def configure_optimizers(self):
                return torch.optim.Adam(self.parameters())
        """,
        "        loss = self(batch).mean()\n        return loss\n\n"
        "    def on_before_optimizer_step(self, optimizer):\n"
        "        torch.nn.utils.clip_grad_norm_(self.parameters(), 1.0)  # keep it bounded\n\n"
        "    def configure_optimizers(self):",
    ),
    "before-backward-with-amp": (
        """
        import torch


        def train(model, loader, opt):
            scaler = torch.amp.GradScaler("cuda")
            for x, y in loader:
                opt.zero_grad()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                scaler.scale(torch.nn.functional.mse_loss(model(x), y)).backward()
                scaler.step(opt)
                scaler.update()
        """,
        "backward()\n        scaler.unscale_(opt)\n        torch.nn.utils.clip_grad_norm_(model"
        ".parameters(), 1.0)\n        scaler.step(opt)\n",
    ),
}


@pytest.mark.parametrize("name", sorted(INEFFECTIVE))
def test_gck007_fix(name: str) -> None:
    src, expected = INEFFECTIVE[name]
    out = fixed(src, "GCK007")
    assert expected in out, out
    assert out.count("clip_grad_norm_(") == textwrap.dedent(src).count("clip_grad_norm_(")


@pytest.mark.parametrize(
    "src",
    [
        # Lightning's automatic optimization, a clip that reads a local of training_step:
        # it cannot move to the hook
        """
        import lightning as L
        import torch


        class Lit(L.LightningModule):
            def training_step(self, batch, batch_idx):
                loss = self(batch).mean()
                max_norm = self.hparams.max_norm
                torch.nn.utils.clip_grad_norm_(self.parameters(), max_norm)
                return loss

            def configure_optimizers(self):
                return torch.optim.Adam(self.parameters())
        """,
        # ... or the class has its hook already
        """
        import lightning as L
        import torch


        class Lit(L.LightningModule):
            def training_step(self, batch, batch_idx):
                loss = self(batch).mean()
                torch.nn.utils.clip_grad_norm_(self.parameters(), 1.0)
                return loss

            def on_before_optimizer_step(self, optimizer):
                self.log("lr", 0.1)

            def configure_optimizers(self):
                return torch.optim.Adam(self.parameters())
        """,
        # the clip's value is used: moving the assignment could break its readers
        """
        import torch


        def train(model, loader, optimizer, log):
            for x, y in loader:
                optimizer.zero_grad()
                norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                log(norm)
                torch.nn.functional.mse_loss(model(x), y).backward()
                optimizer.step()
        """,
        # scaled gradients clipped every micro-step, the scaler steps in another block:
        # an unscale_ there would run twice per step
        """
        import torch


        def train(model, loader, optimizer, scaler, accum=4):
            for i, (x, y) in enumerate(loader):
                scaler.scale(torch.nn.functional.mse_loss(model(x), y)).backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                if (i + 1) % accum == 0:
                    scaler.step(optimizer)
                    scaler.update()
        """,
    ],
    ids=["lightning-local", "lightning-hook-taken", "assigned", "scaled-accumulation"],
)
def test_gck007_no_fix(src: str) -> None:
    no_fix(src, "GCK007")


# --- the rule pages' "Fix" sections -----------------------------------------------------------

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
FIXED_PAGES = ("GCK003", "GCK004", "GCK006", "GCK007")


def fix_pairs(code: str) -> list[tuple[int, str, str]]:
    """(line, before, after) of each pair of blocks under the page's "Fix", markers removed."""
    blocks = [b for b in code_blocks((RULES_DIR / f"{code}.md").read_text("utf-8"))]
    fix = [b for b in blocks if b.section == "Fix"]
    assert fix and len(fix) % 2 == 0, f"{code}: the Fix section has no before/after pairs"
    pairs = []
    for before, after in zip(fix[::2], fix[1::2], strict=True):
        assert before.code.startswith("# before\n") and after.code.startswith("# after\n")
        pairs.append((before.line, before.code.split("\n", 1)[1], after.code.split("\n", 1)[1]))
    return pairs


PAIRS = [(code, *pair) for code in FIXED_PAGES for pair in fix_pairs(code)]


@pytest.mark.parametrize(
    ("code", "line", "before", "after"), PAIRS, ids=[f"{c}:{n}" for c, n, _, _ in PAIRS]
)
def test_fix_section_pair(code: str, line: int, before: str, after: str) -> None:
    findings = found(before, code)
    assert findings, f"rules/{code}.md:{line}: 'before' has no {code} finding"
    fixes = [f.fix for f in findings if f.fix is not None]
    assert len(fixes) == len(findings), f"rules/{code}.md:{line}: a finding has no fix"
    out, applied = apply_fixes(before, fixes)
    assert len(applied) == len(fixes)
    assert out == after, f"rules/{code}.md:{line}: the fix does not give 'after'"
    assert found(after, code) == []
    # the marker line kept: the same edits one line down
    marked, _ = apply_fixes(
        "# before\n" + before, [f.fix for f in found("# before\n" + before, code) if f.fix]
    )
    assert marked == "# before\n" + after


def test_gck006_message_names_the_init_its_fix_writes() -> None:
    [finding] = found(mlp("nn.init.normal_(m.weight, std=1.0)"), "GCK006")
    assert finding.fix is not None
    assert f"Use a variance-preserving init: {finding.fix.edits[0].content}" in finding.message


def test_calculate_gain_is_read_as_its_number() -> None:
    """``xavier_normal_(w, gain=nn.init.calculate_gain("tanh"))`` is s_w^2 = 25/9: per layer
    ~1.1x, so 12 layers are not reported and 100 are (crossed from depth 79), with plain
    Xavier as the advice - not GCK001's "vanishes" of an init left unread."""
    init = 'nn.init.xavier_normal_(m.weight, gain=nn.init.calculate_gain("tanh"))'
    assert lint_source(mlp(init), "m.py") == []
    [finding] = lint_source(mlp(init, depth=100), "m.py")
    assert finding.code == "GCK006" and "crossed from depth 79" in finding.message
    assert "nn.init.xavier_normal_(m.weight), or add normalization" in finding.message
