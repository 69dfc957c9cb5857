"""GCK004 unclipped-recurrent-training: its positives and its traps (issue #9)."""

from __future__ import annotations

import ast
import textwrap

import pytest

from gradcheck_kit import lint_source
from gradcheck_kit.config import Config
from gradcheck_kit.lint.rules import RULES

HEADER = "import torch\nimport torch.nn as nn\n"
MODEL = """
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(8, 16, batch_first=True)
        self.fc = nn.Linear(16, 1)

    def forward(self, x):
        return self.fc(self.rnn(x)[0])
"""


def findings(src: str, header: str = HEADER + MODEL) -> list[tuple[int, str | None, str]]:
    """(line of the step, symbol, the step's source line) for each GCK004 finding."""
    text = header + textwrap.dedent(src)
    lines = text.splitlines()
    out = lint_source(text, "train.py", Config(select=("GCK004",)))
    return [(f.line, f.symbol, lines[f.line - 1].strip()) for f in out if f.code == "GCK004"]


def flagged(src: str, header: str = HEADER + MODEL) -> list[str]:
    return [line for _, _, line in findings(src, header)]


LOOP = """
def train(model, loader):
    optimizer = torch.optim.Adam(model.parameters())
    for x, y in loader:
        optimizer.zero_grad()
        loss = (model(x) - y).pow(2).mean()
        loss.backward()
        {between}
        optimizer.step()
"""


def loop(between: str = "pass") -> str:
    return LOOP.format(between=between)


# --- positives -------------------------------------------------------------------------------


def test_plain_training_loop_is_flagged() -> None:
    assert findings(loop()) == [(20, "train", "optimizer.step()")]


def test_message_names_the_model_the_cause_and_the_fix() -> None:
    (finding,) = lint_source(HEADER + MODEL + loop(), "t.py", Config(select=("GCK004",)))
    assert finding.name == "unclipped-recurrent-training"
    assert "nn.LSTM" in finding.message
    assert "inf/NaN" in finding.message and "Pascanu" in finding.message
    assert "clip_grad_norm_(model.parameters(), 1.0)" in finding.message
    labels = {r.message for r in finding.related}
    assert labels == {"backward pass this step applies", "nn.LSTM (recurrent model)"}
    assert (finding.column, finding.end_line) == (9, finding.line)


def test_on_by_default() -> None:
    assert RULES["GCK004"].default
    codes = [f.code for f in lint_source(HEADER + MODEL + loop(), "t.py")]
    assert "GCK004" in codes


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("import torch\nimport torch.nn as nn\nm = nn.GRU(4, 4)\n", "nn.GRU"),
        ("import torch\nfrom torch import nn\nm = nn.RNN(4, 4)\n", "nn.RNN"),
        ("import torch\nfrom torch.nn import LSTM\nm = LSTM(4, 4)\n", "nn.LSTM"),
        ("import torch\nfrom torch.nn import LSTM as Rec\nm = Rec(4, 4)\n", "nn.LSTM"),
        ("import torch\nimport torch.nn\nm = torch.nn.GRUCell(4, 4)\n", "nn.GRUCell"),
        ("import torch\nimport torch.nn as tnn\nm = tnn.LSTMCell(4, 4)\n", "nn.LSTMCell"),
        ("import torch\nfrom torch.nn import *\nm = RNNCell(4, 4)\n", "nn.RNNCell"),
        ("import torch\nfrom torch import nn\nCELLS = {'gru': nn.GRU}\n", "nn.GRU"),
        ("import torch\nfrom torch import nn\ncell = getattr(nn, 'LSTM')\n", "nn.LSTM"),
        ("import torch\nimport torch.nn as nn\nclass M(nn.LSTM): pass\n", "nn.LSTM"),
    ],
)
def test_recurrent_names_resolved_through_imports(header: str, name: str) -> None:
    (finding,) = lint_source(header + loop(), "t.py", Config(select=("GCK004",)))
    assert name in finding.message


def test_several_recurrent_classes_are_named() -> None:
    header = HEADER + "enc = nn.GRU(4, 4)\ndec = nn.LSTM(4, 4)\n"
    (finding,) = lint_source(header + loop(), "t.py", Config(select=("GCK004",)))
    assert "(nn.LSTM, nn.GRU)" in finding.message


def test_gradient_accumulation_with_amp() -> None:
    src = """
    def train(model, loader, opt, accum=4):
        scaler = torch.cuda.amp.GradScaler()
        for i, (x, y) in enumerate(loader):
            with torch.autocast("cuda"):
                loss = model(x).mean() / accum
            scaler.scale(loss).backward()
            if (i + 1) % accum == 0:
                scaler.step(opt)
                scaler.update()
                opt.zero_grad()
    """
    assert flagged(src) == ["scaler.step(opt)"]
    (finding,) = lint_source(HEADER + MODEL + textwrap.dedent(src), "t.py")
    assert "scaler.unscale_(optimizer)" in finding.message


def test_module_level_script() -> None:
    src = """
    model = Net()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for x, y in data:
        loss = model(x).sum()
        loss.backward()
        opt.step()
        opt.zero_grad()
    """
    assert findings(src) == [(18, None, "opt.step()")]


def test_method_with_optimizer_attribute() -> None:
    src = """
    class Trainer:
        def __init__(self, model):
            self.model = model
            self.adam = torch.optim.Adam(model.parameters())

        def fit(self, loader):
            for x in loader:
                self.model(x).sum().backward()
                self.adam.step()
    """
    assert findings(src) == [(21, "Trainer.fit", "self.adam.step()")]


@pytest.mark.parametrize(
    "receiver",
    ["opt", "optim", "optimizer_g", "g_optim", "optD", "self.optimizer", "optimizers[0]"],
)
def test_optimizer_names(receiver: str) -> None:
    src = f"""
    def step(model, x, {receiver.split(".")[-1].split("[")[0]}):
        model(x).sum().backward()
        {receiver}.step()
    """
    assert flagged(src) == [f"{receiver}.step()"]


def test_lightning_manual_optimization() -> None:
    src = """
    import lightning as L

    class GAN(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            opt_g, opt_d = self.optimizers()
            loss_d = self.d_loss(batch)
            self.manual_backward(loss_d)
            opt_d.step()
            loss_g = self.g_loss(batch)
            self.manual_backward(loss_g)
            opt_g.step()
    """
    assert flagged(src) == ["opt_d.step()", "opt_g.step()"]


def test_self_optimizers_call() -> None:
    src = """
    class M:
        def training_step(self, batch):
            self.manual_backward(self.loss(batch))
            self.optimizers().step()
    """
    assert flagged(src) == ["self.optimizers().step()"]


def test_accelerate_backward_without_clip() -> None:
    src = """
    def train(accelerator, model, loader, optimizer):
        for batch in loader:
            accelerator.backward(model(batch).loss)
            optimizer.step()
    """
    assert flagged(src) == ["optimizer.step()"]


def test_clipping_in_another_function_does_not_cover_this_step() -> None:
    src = """
    def finetune(model, loader, optimizer):
        for x in loader:
            model(x).sum().backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()

    def pretrain(model, loader, optimizer):
        for x in loader:
            model(x).sum().backward()
            optimizer.step()
    """
    assert findings(src) == [(22, "pretrain", "optimizer.step()")]


def test_clip_before_the_backward_does_not_count() -> None:
    assert flagged(
        """
        def train(model, x, optimizer):
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            model(x).sum().backward()
            optimizer.step()
        """
    ) == ["optimizer.step()"]


def test_noqa() -> None:
    assert flagged(loop().replace("optimizer.step()", "optimizer.step()  # noqa: GCK004")) == []


def test_prefilter_needs_backward_and_a_recurrent_name() -> None:
    from gradcheck_kit.lint.rules import may_fire

    gck004 = RULES["GCK004"]
    assert may_fire(gck004, HEADER + MODEL + loop())
    assert not may_fire(gck004, HEADER + loop())
    assert not may_fire(gck004, HEADER + MODEL)


# --- traps: not flagged ----------------------------------------------------------------------

CLIPPED = {
    "clip-norm": "torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)",
    "clip-norm-alias": "nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)",
    "clip-value": "torch.nn.utils.clip_grad_value_(model.parameters(), 0.1)",
    "accelerator": "accelerator.clip_grad_norm_(model.parameters(), 1.0)",
    "lightning": "self.clip_gradients(optimizer, gradient_clip_val=0.5)",
    "fabric": "fabric.clip_gradients(model, optimizer, max_norm=1.0)",
    "timm-dispatch": "dispatch_clip_grad(model.parameters(), 1.0, mode='norm')",
    "clamp-by-hand": "for p in model.parameters():\n            p.grad.data.clamp_(-1, 1)",
    "conditional-clip": "if clip > 0:\n            nn.utils.clip_grad_norm_(model.parameters(), clip)",
}


@pytest.mark.parametrize("name", sorted(CLIPPED))
def test_clipping_between_backward_and_step(name: str) -> None:
    assert flagged(loop(CLIPPED[name])) == []


def test_imported_clip_function_alias() -> None:
    header = HEADER + "from torch.nn.utils import clip_grad_norm_ as clip\n" + MODEL
    assert flagged(loop("clip(model.parameters(), 1.0)"), header) == []


def test_clipping_in_a_helper_called_between() -> None:
    src = """
    def clip_all(model):
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)

    class T:
        def _after_backward(self):
            clip_all(self.model)

        def fit(self, loader, optimizer):
            for x in loader:
                self.model(x).sum().backward()
                self._after_backward()
                optimizer.step()
    """
    assert flagged(src) == []


def test_amp_with_unscale_and_clip() -> None:
    src = """
    def train(model, loader, optimizer, scaler):
        for x in loader:
            scaler.scale(model(x).sum()).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            scaler.step(optimizer)
            scaler.update()
    """
    assert flagged(src) == []


def test_accumulation_with_clip_inside_the_step_block() -> None:
    src = """
    def train(model, loader, optimizer, accum):
        for i, x in enumerate(loader):
            model(x).sum().backward()
            if (i + 1) % accum == 0:
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                optimizer.zero_grad()
    """
    assert flagged(src) == []


def test_lightning_trainer_with_gradient_clip_val() -> None:
    src = """
    import lightning.pytorch as pl

    class M(pl.LightningModule):
        def training_step(self, batch, batch_idx):
            self.manual_backward(self(batch).sum())
            self.optimizers().step()

    trainer = pl.Trainer(gradient_clip_val=1.0)
    """
    assert flagged(src) == []


def test_lightning_trainer_without_clipping_is_not_clipping() -> None:
    src = """
    import lightning.pytorch as pl

    class M(pl.LightningModule):
        def training_step(self, batch, batch_idx):
            self.manual_backward(self(batch).sum())
            self.optimizers().step()

    trainer = pl.Trainer(gradient_clip_val=None)
    """
    assert flagged(src) == ["self.optimizers().step()"]


@pytest.mark.parametrize(
    "usage",
    [
        "from transformers import Trainer\ntrainer = Trainer(model=Net())\n",
        "from transformers import TrainingArguments\nargs = TrainingArguments('out')\n",
        "import transformers\nargs = transformers.TrainingArguments('o', max_grad_norm=0.5)\n",
        "config = {'max_grad_norm': 1.0}\n",
    ],
)
def test_hugging_face_trainer(usage: str) -> None:
    assert flagged(loop() + usage) == []


def test_gradient_hook_that_clamps() -> None:
    src = """
    for p in Net().parameters():
        p.register_hook(lambda g: g.clamp(-1, 1))
    """
    assert flagged(loop() + src) == []


def test_no_recurrent_model_in_the_file() -> None:
    assert flagged(loop(), HEADER) == []


def test_cnn_training_loop() -> None:
    header = HEADER + "model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten())\n"
    assert flagged(loop(), header) == []


def test_recurrent_name_in_text_only() -> None:
    header = HEADER + '"""An LSTM baseline (nn.LSTM) lives elsewhere."""\n# nn.GRU\nLSTM = 3\n'
    assert flagged(loop(), header) == []


def test_isinstance_check_is_not_a_use() -> None:
    header = HEADER + (
        "def init(m):\n"
        "    if isinstance(m, (nn.LSTM, nn.GRU)):\n"
        "        nn.init.orthogonal_(m.weight_hh_l0)\n"
    )
    assert flagged(loop(), header) == []


def test_scheduler_step_only() -> None:
    src = """
    def train(model, loader, optimizer, scheduler, lr_sched, opt_scheduler):
        for x in loader:
            model(x).sum().backward()
            scheduler.step()
            lr_sched.step()
            opt_scheduler.step()
    """
    assert flagged(src) == []


def test_receiver_bound_to_a_lr_scheduler() -> None:
    src = """
    def train(model, loader, optimizer):
        opt_lr = torch.optim.lr_scheduler.StepLR(optimizer, 10)
        for x in loader:
            model(x).sum().backward()
            opt_lr.step()
    """
    assert flagged(src) == []


@pytest.mark.parametrize(
    "step",
    ["env.step(action)", "self.step()", "model_engine.step()", "ema.step()", "scaler.step()"],
)
def test_other_steps(step: str) -> None:
    src = f"""
    def train(model, x, env, action, model_engine, ema, scaler):
        model(x).sum().backward()
        {step}
    """
    assert flagged(src) == []


def test_step_before_backward() -> None:
    src = """
    def train(model, x, optimizer):
        optimizer.zero_grad()
        optimizer.step()
        model(x).sum().backward()
    """
    assert flagged(src) == []


def test_step_in_a_different_function_than_the_backward() -> None:
    src = """
    class T:
        def backward(self, loss):
            loss.backward()

        def step(self):
            self.optimizer.step()
    """
    assert flagged(src) == []


def test_closure_step() -> None:
    src = """
    def train(model, x, optimizer):
        def closure():
            optimizer.zero_grad()
            loss = model(x).sum()
            loss.backward()
            return loss
        optimizer.step(closure)
    """
    assert flagged(src) == []


def test_one_finding_per_backward_two_optimizers() -> None:
    src = """
    def train(model, x, opt_a, opt_b):
        model(x).sum().backward()
        opt_a.step()
        opt_b.step()
    """
    assert flagged(src) == ["opt_a.step()"]


def test_backward_definition_is_not_a_call() -> None:
    src = """
    class Fn(torch.autograd.Function):
        @staticmethod
        def backward(ctx, grad):
            return grad

    def update(optimizer):
        optimizer.step()
    """
    assert flagged(src) == []


def test_each_rule_runs_only_where_its_own_prefilter_matches() -> None:
    from gradcheck_kit.lint.rules import may_fire

    gck004, gck001 = RULES["GCK004"], RULES["GCK001"]
    model_only = "import torch.nn as nn\nnet = nn.Sequential(*[nn.Tanh()] * 8)\n"
    assert may_fire(gck001, model_only) and not may_fire(gck004, model_only)
    # a user-declared saturating class widens the interpreter's rules, not the syntactic GCK004
    custom = "from mylib import HardSwishy\n"
    assert may_fire(gck001, custom, ("mylib.HardSwishy",))
    assert not may_fire(gck004, custom, ("mylib.HardSwishy",))


def test_training_file_without_model_code_still_gets_gck004() -> None:
    # only GCK004's prefilter matches (no saturating token): the file is parsed for it alone
    source = textwrap.dedent(
        """
        import torch
        model = torch.nn.LSTM(8, 8)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for x in data:
            out, _ = model(x)
            out.sum().backward()
            opt.step()
        """
    )
    assert [f.code for f in lint_source(source)] == ["GCK004"]


def test_screen_reads_code_not_comments_or_docstrings() -> None:
    # the text prefilter matches (backward, LSTM), but only a docstring and a comment say them
    source = '"""Calls loss.backward() on an LSTM."""\nimport torch\n# nn.LSTM, backward\nx = 1\n'
    from gradcheck_kit.lint.rules import may_fire
    from gradcheck_kit.lint.rules.gck004_unclipped_recurrent_training import trains_recurrent

    assert may_fire(RULES["GCK004"], source)
    assert not trains_recurrent(ast.parse(source))
    assert trains_recurrent(ast.parse("import torch\nm = torch.nn.GRU(2, 2)\nl.backward()\n"))
